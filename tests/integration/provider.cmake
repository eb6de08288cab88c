# dstack provider tests (issue 4 + reference PEM of issue 5). Scripts run the real openssl
# CLI against dstack-sim; C programs load the provider into their own library context.
if(TARGET dstack_provider)
  dstack_script_test(provider_keys integration/provider_keys.sh LABELS provider TIMEOUT 120)
  dstack_script_test(provider_tls integration/provider_tls.sh LABELS provider TIMEOUT 180)
  dstack_script_test(provider_uri_errors integration/provider_uri_errors.sh LABELS provider TIMEOUT 120)
  dstack_script_test(provider_agent_errors integration/provider_agent_errors.sh LABELS provider TIMEOUT 180)
  dstack_script_test(provider_config integration/provider_config.sh LABELS provider TIMEOUT 120)
  dstack_script_test(provider_refpem integration/provider_refpem.sh LABELS provider TIMEOUT 120)
  dstack_script_test(provider_examples integration/provider_examples.sh LABELS provider TIMEOUT 120)

  dstack_unit_test(test_provider_fork SOURCES unit/test_provider_fork.c
                   SIM "" LABELS provider TIMEOUT 120)
  dstack_unit_test(test_provider_threads SOURCES unit/test_provider_threads.c
                   SIM "" LABELS provider TIMEOUT 120)
  dstack_unit_test(test_provider_store SOURCES unit/test_provider_store.c
                   SIM "" LABELS provider TIMEOUT 120)
  add_dependencies(test_provider_store dstack_provider)
  # The provider in an application's library context, the global one holding only `base`.
  dstack_unit_test(test_provider_libctx SOURCES unit/test_provider_libctx.c
                   SIM "" LABELS provider TIMEOUT 120)
  add_dependencies(test_provider_libctx dstack_provider)
  add_dependencies(test_provider_fork dstack_provider)
  add_dependencies(test_provider_threads dstack_provider)
endif()
# The openssl.cnf section, the ENGINE's controls and dstack-keytool's options: one table.
if(TARGET dstack_provider AND TARGET dstack_engine)
  dstack_script_test(config_frontends integration/config_frontends.sh LABELS provider TIMEOUT 120)
endif()
