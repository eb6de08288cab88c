# Hostile-agent harness and stress tests (issue "Hardening"): tests/hostile/.
#   hostile_<family>     the battery of hostile_battery.sh, one family of rows per test
#   hostile_fork_stress  fork() from the main thread while 4 threads load keys (debug log on)
#   hostile_timeouts     timeout-ms bounds every concurrent caller; cache hits do not wait
set(_hostile_dir ${CMAKE_CURRENT_LIST_DIR})
if(TARGET dstack_provider AND TARGET dstack_engine AND TARGET dstack-keytool AND TARGET dstack-sim)
  add_executable(hostile-agent ${_hostile_dir}/hostile_agent.c)
  target_link_libraries(hostile-agent PRIVATE dstack_agent_side dstack_static Threads::Threads)
  foreach(family getkey k256 tlskey derivekey legacy evidence info)
    dstack_script_test(hostile_${family} hostile/hostile_battery.sh ARGS ${family}
                       LABELS "hostile;provider;services" TIMEOUT 900)
    set_property(TEST hostile_${family} APPEND PROPERTY ENVIRONMENT
                 DSTACK_HOSTILE_AGENT=$<TARGET_FILE:hostile-agent>)
  endforeach()

  dstack_unit_test(hostile_fork_stress SOURCES ${_hostile_dir}/test_fork_stress.c
                   SIM "--agent-version 0.5.11" LABELS "hostile;provider" TIMEOUT 600)
  target_include_directories(hostile_fork_stress PRIVATE ${PROJECT_SOURCE_DIR}/tests/unit)
  add_dependencies(hostile_fork_stress dstack_provider)

  # Not a test: the preload library of the secure-heap experiment (test_fork_stress.c).
  add_library(hostile_no_secure_heap MODULE ${_hostile_dir}/no_secure_heap.c)
  target_link_libraries(hostile_no_secure_heap PRIVATE PkgConfig::OPENSSL)

  dstack_unit_test(hostile_timeouts SOURCES ${_hostile_dir}/test_timeouts.c
                   LABELS "hostile;provider" TIMEOUT 200)
  target_include_directories(hostile_timeouts PRIVATE ${PROJECT_SOURCE_DIR}/tests/unit)
  add_dependencies(hostile_timeouts dstack_provider)
endif()
