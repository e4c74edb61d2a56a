# aggregator daemon core: store (real SQLite files), ingest queue, writer
# (batches through a real database, receipts decoded back), outq (the queue
# to the publisher and its requeue after a reconnect); no broker.
kdc_unit_test(test_store ${CMAKE_CURRENT_LIST_DIR}/test_store.c kdc_aggregator_core)
kdc_unit_test(test_ingest ${CMAKE_CURRENT_LIST_DIR}/test_ingest.c kdc_aggregator_core)
kdc_unit_test(test_writer ${CMAKE_CURRENT_LIST_DIR}/test_writer.c kdc_aggregator_core)
kdc_unit_test(test_outq ${CMAKE_CURRENT_LIST_DIR}/test_outq.c kdc_aggregator_core)
# the ward office's register tools: CSV reader, import, dry run, void, forget
kdc_unit_test(test_register_edit ${CMAKE_CURRENT_LIST_DIR}/test_register_edit.c kdc_aggregator_core)
