# Unit tests of common/ beyond test_common (registered in proto.cmake).
kdc_unit_test(test_log ${CMAKE_CURRENT_LIST_DIR}/test_log.c kdc_common)
