# dstack-sim tests (owner: simulator). Every test starts its own simulator.
# test_sim_attest against the default release (0.6, stripped quote logs) ...
dstack_unit_test(sim_attest SOURCES ${CMAKE_CURRENT_LIST_DIR}/../unit/test_sim_attest.c
                 SIM "--http 127.0.0.1:0" LABELS sim TIMEOUT 60)
# ... with full quote logs, as the official simulator returns them ...
dstack_unit_test(sim_attest_full SOURCES ${CMAKE_CURRENT_LIST_DIR}/../unit/test_sim_attest.c
                 SIM "--full-event-log" LABELS sim TIMEOUT 60)
# ... on an event-log-V2 boot (app-compose "event_log_version": 2, protocol.md §5.3.1) ...
dstack_unit_test(sim_attest_v2 SOURCES ${CMAKE_CURRENT_LIST_DIR}/../unit/test_sim_attest.c
                 SIM "--compose ${PROJECT_SOURCE_DIR}/tests/lib/compose-v2.json" LABELS sim
                 TIMEOUT 60)
set_property(TEST sim_attest_v2 APPEND PROPERTY ENVIRONMENT DSTACK_TEST_EVENT_LOG_V2=1)
# ... on 0.5.11 (EmitEvent, concurrent emitters) ...
dstack_unit_test(sim_attest_v0511 SOURCES ${CMAKE_CURRENT_LIST_DIR}/../unit/test_sim_attest.c
                 SIM "--agent-version 0.5.11" LABELS sim TIMEOUT 60)
# ... and with the identity loaded from an appkeys.json (`dstack-sim --write-appkeys`, written
# by with-sim.sh for @DEV_APPKEYS@), 0.5.11 with full logs.
dstack_unit_test(sim_attest_appkeys SOURCES ${CMAKE_CURRENT_LIST_DIR}/../unit/test_sim_attest.c
                 SIM "--appkeys @DEV_APPKEYS@ --app-id ${DSTACK_DEV_APP_ID} --agent-version 0.5.11 --full-event-log"
                 LABELS sim TIMEOUT 60)

foreach(t wire certs faults stress cli js)
  dstack_script_test(sim_${t} integration/sim_${t}.sh LABELS sim TIMEOUT 120)
endforeach()
# protocol.md §9 V2 on the wire: the official appkeys.json (upstream data, skipped without).
dstack_script_test(sim_vectors_upstream integration/sim_vectors.sh LABELS "sim;upstream"
                   TIMEOUT 120)
# The JS SDK against the official simulator's appkeys.json (upstream data, skipped without).
dstack_script_test(sim_js_upstream integration/sim_js.sh ARGS appkeys LABELS "sim;upstream"
                   TIMEOUT 120)
