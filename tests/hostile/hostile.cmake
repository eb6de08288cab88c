# Hostile-agent harness and stress tests (issue "Hardening"): tests/hostile/.
#   hostile_<family>     the battery of hostile_battery.sh, one family of rows per test
set(_hostile_dir ${CMAKE_CURRENT_LIST_DIR})
if(TARGET dstack_provider AND TARGET dstack_engine AND TARGET dstack-keytool AND TARGET dstack-sim)
  add_executable(hostile-agent ${_hostile_dir}/hostile_agent.c)
  target_link_libraries(hostile-agent PRIVATE dstack_static Threads::Threads)
  foreach(family getkey k256 tlskey derivekey legacy evidence info)
    dstack_script_test(hostile_${family} hostile/hostile_battery.sh ARGS ${family}
                       LABELS "hostile;provider;services" TIMEOUT 900)
    set_property(TEST hostile_${family} APPEND PROPERTY ENVIRONMENT
                 DSTACK_HOSTILE_AGENT=$<TARGET_FILE:hostile-agent>)
  endforeach()

endif()
