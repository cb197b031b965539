# Included by ctest (TEST_INCLUDE_FILES, tests/CMakeLists.txt) each time it runs: asks rsd_tests for
# its suites and adds one test per suite and runner, so the list is the binary's own and never
# hand-kept. Set by the generated include: RSD_TESTS, RSD_MPIRUN (empty without MPI),
# RSD_MPI_NP_FLAG, RSD_MPI_POSTFLAGS.
#   <suite>          rsd_tests --runner=cpu --test-suite=<suite>                 label cpu
#   <suite>_gpu      rsd_tests --runner=gpu --test-suite=<suite>:gpu             label gpu, 77 = skipped
#   <suite>_mpi_npN  mpirun -np N rsd_tests --runner=mpi --test-suite=<suite>:mpi  label mpi, N = 2, 3
if(NOT EXISTS "${RSD_TESTS}")
  add_test(rsd_tests_not_built "${CMAKE_COMMAND}" -E echo "build rsd_tests first: ${RSD_TESTS} is missing")
  set_tests_properties(rsd_tests_not_built PROPERTIES WILL_FAIL TRUE)
  return()
endif()
execute_process(COMMAND "${RSD_TESTS}" --runner=all --list-test-suites --no-version=1 --force-colors=0
                OUTPUT_VARIABLE listing RESULT_VARIABLE listing_rc)
string(REPLACE "\n" ";" lines "${listing}")
set(suites)
foreach(line IN LISTS lines)
  if(line STREQUAL "" OR line MATCHES "^\\[doctest\\]" OR line MATCHES "^===")
    continue()
  endif()
  list(APPEND suites "${line}")
endforeach()
if(NOT listing_rc EQUAL 0 OR NOT suites)
  add_test(rsd_tests_suite_listing "${CMAKE_COMMAND}" -E echo "rsd_tests --list-test-suites failed: ${listing}")
  set_tests_properties(rsd_tests_suite_listing PROPERTIES WILL_FAIL TRUE)
  return()
endif()

foreach(suite IN LISTS suites)
  if(suite MATCHES "^([a-z0-9_]+):gpu$")
    set(name "${CMAKE_MATCH_1}_gpu")
    add_test(${name} "${RSD_TESTS}" --runner=gpu "--test-suite=${suite}" --force-colors=0)
    set_tests_properties(${name} PROPERTIES LABELS gpu SKIP_RETURN_CODE 77)
  elseif(suite MATCHES "^([a-z0-9_]+):mpi$")
    if(NOT RSD_MPIRUN)
      message(STATUS "rsd: suite ${suite} not run: this build has no MPI")
      continue()
    endif()
    foreach(np 2 3)
      set(name "${CMAKE_MATCH_1}_mpi_np${np}")
      add_test(${name} ${RSD_MPIRUN} ${RSD_MPI_NP_FLAG} ${np} "${RSD_TESTS}" ${RSD_MPI_POSTFLAGS} --runner=mpi
               "--test-suite=${suite}" --no-colors=1)
      set_tests_properties(${name} PROPERTIES LABELS mpi TIMEOUT 120 PROCESSORS ${np})
    endforeach()
  elseif(suite MATCHES "^[a-z0-9_]+$")
    add_test(${suite} "${RSD_TESTS}" "--test-suite=${suite}" --force-colors=0)
    set_tests_properties(${suite} PROPERTIES LABELS cpu)
  else()
    # A case outside every TEST_SUITE, or a suite named otherwise, would never run under ctest.
    add_test(suite_name_${suite} "${CMAKE_COMMAND}" -E echo
             "suite '${suite}' of rsd_tests: name suites [a-z0-9_]+, optionally labelled with on_gpu()/on_mpi()")
    set_tests_properties(suite_name_${suite} PROPERTIES WILL_FAIL TRUE)
  endif()
endforeach()
# Cases outside every suite (doctest's unnamed suite is not listed above) would never run.
add_test(every_case_in_a_suite "${RSD_TESTS}" --runner=all --count "--test-suite-exclude=?*")
set_tests_properties(every_case_in_a_suite PROPERTIES LABELS cpu PASS_REGULAR_EXPRESSION "current filters: 0\n")
