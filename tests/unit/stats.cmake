# statistics (aggregator/stats_*.c, ward/profile.c): the ward profile, window
# semantics on hand-made cases, and the property test (incremental folding
# with restarts = rebuild = a straightforward recomputation in the test).
foreach(t test_stats test_stats_prop test_worklist)
  if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/${t}.c)
    kdc_unit_test(${t} ${CMAKE_CURRENT_LIST_DIR}/${t}.c kdc_aggregator_core)
    target_sources(${t} PRIVATE ${CMAKE_CURRENT_LIST_DIR}/stats_testlib.c)
    target_include_directories(${t} PRIVATE ${CMAKE_CURRENT_LIST_DIR})
    target_compile_definitions(${t} PRIVATE KDC_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  endif()
endforeach()
# 2000 streams take about 40 s of CPU here (x3 under the sanitizers)
if(TARGET test_stats_prop)
  set_tests_properties(test_stats_prop PROPERTIES TIMEOUT 600 COST 500)
  # under the sanitizers the same code is checked for memory errors, not for
  # more cases: 400 streams keep that pass within CI's time
  if(KDC_SANITIZE)
    set_property(TEST test_stats_prop APPEND PROPERTY ENVIRONMENT KDC_STATS_STREAMS=400)
  endif()
endif()
