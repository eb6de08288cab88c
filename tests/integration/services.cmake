# Services area (issue 5): dstack-keytool, the ENGINE, unmodified nginx and haproxy, the C
# example server, the systemd drop-ins. Every script starts its own dstack-sim and servers.
dstack_script_test(keytool_cli integration/keytool_cli.sh LABELS services TIMEOUT 180)
dstack_script_test(keytool_doctor integration/keytool_doctor.sh LABELS services TIMEOUT 120)
dstack_script_test(keytool_systemd integration/keytool_systemd.sh LABELS services TIMEOUT 120)
dstack_script_test(keytool_platforms integration/keytool_platforms.sh LABELS services TIMEOUT 120)
dstack_script_test(nginx_provider integration/nginx_provider.sh LABELS services TIMEOUT 180)
dstack_script_test(nginx_engine integration/nginx_engine.sh LABELS services TIMEOUT 180)
dstack_script_test(haproxy_provider integration/haproxy_provider.sh LABELS services TIMEOUT 180)
dstack_script_test(example_tls_server integration/example_tls_server.sh LABELS services TIMEOUT 120)
# The engine's C API (LOAD_CERT_CTRL has no command-line user), against dstack-sim's
# development identity.
dstack_unit_test(engine_ctrl SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/integration/engine_ctrl.c
                 ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_resolve_util.c
                 SIM "" LABELS services TIMEOUT 120)
target_include_directories(engine_ctrl PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/unit)
# Deployment (docs/deployment.md): the dstack app example's entrypoint and the renewal.
dstack_script_test(deploy_dstack_app integration/deploy_dstack_app.sh LABELS services TIMEOUT 180)
