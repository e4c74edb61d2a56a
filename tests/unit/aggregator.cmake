# aggregator daemon core: store (real SQLite files), ingest queue, writer
# (batches through a real database, receipts decoded back); no broker.
kdc_unit_test(test_store ${CMAKE_CURRENT_LIST_DIR}/test_store.c kdc_aggregator_core)
