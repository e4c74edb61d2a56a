# kdc-sim (producers/sim.c and kdc-sim.c) with no broker: determinism by
# seed, the campaign's shape on the decoded outboxes, load mode, usage errors;
# the model itself through sim.h.
kdc_unit_test(test_sim test_sim.c kdc_sim kdc_producer PkgConfig::CJSON)
target_compile_definitions(test_sim PRIVATE KDC_SIM_PATH="$<TARGET_FILE:kdc-sim>"
                           KDC_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
add_dependencies(test_sim kdc-sim)
