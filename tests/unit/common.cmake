# Unit tests of common/ beyond test_common (registered in proto.cmake).
kdc_unit_test(test_log ${CMAKE_CURRENT_LIST_DIR}/test_log.c kdc_common)
# The SQLite layer of common/ with the files written before it (an outbox and
# an aggregator database of schema version 1): real SQLite files, no broker.
kdc_unit_test(test_db ${CMAKE_CURRENT_LIST_DIR}/test_db.c kdc_producer kdc_aggregator_core)
