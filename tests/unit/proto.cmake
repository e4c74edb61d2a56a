kdc_unit_test(test_proto ${CMAKE_CURRENT_LIST_DIR}/test_proto.c kdc_proto)
kdc_unit_test(test_common ${CMAKE_CURRENT_LIST_DIR}/test_common.c kdc_common)
