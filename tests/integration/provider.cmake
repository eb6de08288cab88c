# dstack provider tests (issue 4 + reference PEM of issue 5). Scripts run the real openssl
# CLI against dstack-sim; C programs load the provider into their own library context.
# The whole set runs against the default release (0.6) and again, as <name>_v0511, against
# 0.5.11 (DSTACK_SIM_ARGS, tests/lib/common.sh); legacy_provider covers 0.3 to 0.6.
if(TARGET dstack_provider)
  set(_provider_scripts keys:120 tls:180 uri_errors:120 agent_errors:180 config:120 refpem:120
      examples:120)
  foreach(_entry ${_provider_scripts})
    string(REPLACE ":" ";" _parts ${_entry})
    list(GET _parts 0 _t)
    list(GET _parts 1 _timeout)
    dstack_script_test(provider_${_t} integration/provider_${_t}.sh LABELS provider
                       TIMEOUT ${_timeout})
    dstack_script_test(provider_${_t}_v0511 integration/provider_${_t}.sh
                       LABELS "provider;v0511" TIMEOUT ${_timeout})
    set_property(TEST provider_${_t}_v0511 APPEND PROPERTY ENVIRONMENT
                 "DSTACK_SIM_ARGS=--agent-version 0.5.11")
  endforeach()

  foreach(_t fork threads store libctx)
    # libctx: the provider in an application's library context, the global one holding only
    # `base`.
    dstack_unit_test(test_provider_${_t} SOURCES unit/test_provider_${_t}.c
                     SIM "" LABELS provider TIMEOUT 120)
    add_dependencies(test_provider_${_t} dstack_provider)
    add_test(NAME test_provider_${_t}_v0511
             COMMAND ${DSTACK_RUN_TEST} 120 -- ${PROJECT_SOURCE_DIR}/tests/lib/with-sim.sh
                     --agent-version 0.5.11 -- $<TARGET_FILE:test_provider_${_t}>)
    dstack_test_properties(test_provider_${_t}_v0511 120 "unit;provider;v0511")
  endforeach()
endif()
# The openssl.cnf section, the ENGINE's controls and dstack-keytool's options: one table.
if(TARGET dstack_provider AND TARGET dstack_engine)
  dstack_script_test(config_frontends integration/config_frontends.sh LABELS provider TIMEOUT 120)
endif()
