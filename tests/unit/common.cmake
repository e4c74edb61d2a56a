# Unit tests of common/ beyond test_common (registered in proto.cmake).
kdc_unit_test(test_log ${CMAKE_CURRENT_LIST_DIR}/test_log.c kdc_common)
# The SQLite layer of common/ with the files written before it (an outbox and
# an aggregator database of schema version 1): real SQLite files, no broker.
kdc_unit_test(test_db ${CMAKE_CURRENT_LIST_DIR}/test_db.c kdc_producer kdc_aggregator_core)
# the connection causes (common/mqtt_diag.h is internal to common/)
kdc_unit_test(test_mqtt_diag ${CMAKE_CURRENT_LIST_DIR}/test_mqtt_diag.c kdc_common)
target_include_directories(test_mqtt_diag PRIVATE ${PROJECT_SOURCE_DIR}/common)
