# dstack-sim --agent-version (older agents, protocol.md §0) and the client/provider fallbacks for
# them (architecture.md §4).
dstack_script_test(legacy_sim integration/legacy_sim.sh LABELS "sim;legacy" TIMEOUT 120)
if(TARGET dstack_provider)
  dstack_script_test(legacy_provider integration/legacy_provider.sh LABELS "provider;legacy"
                     TIMEOUT 120)
  dstack_script_test(legacy_v03_p256 integration/legacy_v03_p256.sh LABELS "provider;legacy"
                     TIMEOUT 60)
  dstack_script_test(legacy_keytool integration/legacy_keytool.sh LABELS "services;legacy"
                     TIMEOUT 120)
  dstack_script_test(legacy_ed25519_chain integration/legacy_ed25519_chain.sh
                     LABELS "provider;legacy" TIMEOUT 60)
endif()
