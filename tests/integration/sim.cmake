# dstack-sim tests (owner: simulator). Every test starts its own simulator.
dstack_unit_test(sim_attest SOURCES ${CMAKE_CURRENT_LIST_DIR}/../unit/test_sim_attest.c
                 SIM "--http 127.0.0.1:0" LABELS sim TIMEOUT 60)
# The same checks with the identity loaded from an appkeys.json (`dstack-sim --write-appkeys`,
# written by with-sim.sh for @DEV_APPKEYS@) and stripped event logs.
dstack_unit_test(sim_attest_appkeys SOURCES ${CMAKE_CURRENT_LIST_DIR}/../unit/test_sim_attest.c
                 SIM "--appkeys @DEV_APPKEYS@ --app-id ${DSTACK_DEV_APP_ID} --stripped-event-log"
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
