# Unit tests of producers/ (no broker): the outbox on real SQLite files, and
# the producer library offline.
kdc_unit_test(test_outbox test_outbox.c kdc_producer)
kdc_unit_test(test_producer test_producer.c kdc_producer)
kdc_unit_test(test_outbox_home test_outbox_home.c kdc_producer)
kdc_unit_test(test_worklist test_worklist.c kdc_producer)
