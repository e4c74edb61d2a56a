# statistics (aggregator/stats_*.c, ward/profile.c): the ward profile, window
# semantics on hand-made cases, and the property test (incremental folding
# with restarts = rebuild = a straightforward recomputation in the test).
foreach(t test_stats test_stats_prop test_worklist_publish)
  if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/${t}.c)
    kdc_unit_test(${t} ${CMAKE_CURRENT_LIST_DIR}/${t}.c kdc_aggregator_core)
    target_sources(${t} PRIVATE ${CMAKE_CURRENT_LIST_DIR}/stats_testlib.c)
    if(t STREQUAL test_stats_prop)
      target_sources(${t} PRIVATE ${CMAKE_CURRENT_LIST_DIR}/stats_model.c
                     ${CMAKE_CURRENT_LIST_DIR}/register_model.c
                     ${CMAKE_CURRENT_LIST_DIR}/writer_testlib.c)
    endif()
    target_include_directories(${t} PRIVATE ${CMAKE_CURRENT_LIST_DIR})
    target_compile_definitions(${t} PRIVATE KDC_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  endif()
endforeach()
# the household register and voids through the real writer (writer_testlib.c)
kdc_unit_test(test_register ${CMAKE_CURRENT_LIST_DIR}/test_register.c kdc_aggregator_core)
target_sources(test_register PRIVATE ${CMAKE_CURRENT_LIST_DIR}/stats_testlib.c
               ${CMAKE_CURRENT_LIST_DIR}/writer_testlib.c)
target_include_directories(test_register PRIVATE ${CMAKE_CURRENT_LIST_DIR})
# 2000 streams take about 40 s of CPU here (x3 under the sanitizers), and the
# 200 streams through the writer (KDC_REGISTER_STREAMS) about a minute more
if(TARGET test_stats_prop)
  set_tests_properties(test_stats_prop PROPERTIES TIMEOUT 600 COST 500)
  # under the sanitizers the same code is checked for memory errors, not for
  # more cases: 400 streams keep that pass within CI's time
  if(KDC_SANITIZE)
    set_property(TEST test_stats_prop APPEND PROPERTY ENVIRONMENT KDC_STATS_STREAMS=400
                 KDC_REGISTER_STREAMS=50)
  endif()
endif()
