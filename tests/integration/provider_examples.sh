#!/usr/bin/env bash
# The examples/ programs: secp256k1 signing with the Ethereum address, Ed25519 signing —
# run against dstack-sim's development identity; the printed keys equal tests/lib/dev-identity.env.
source "$DSTACK_SOURCE_DIR/tests/integration/provider_lib.sh"

start_sim ex || { fail "simulator"; finish; }
export DSTACK_SIMULATOR_ENDPOINT="$SIM_ENDPOINT" TAPPD_SIMULATOR_ENDPOINT="$SIM_TAPPD"

# Expected address: Keccak-256 of the uncompressed secp256k1 point (via the provider's
# own key export, cross-checked against the compressed key in provider_keys).
out=$("$DSTACK_EXAMPLES_DIR/example-sign_secp256k1" "dstack:$DSTACK_DEV_PATH?alg=secp256k1" 2>&1)
check "sign_secp256k1 runs: $out" test $? -eq 0
assert_contains "sign_secp256k1 verifies" "$out" "verified"
addr=$(echo "$out" | awk '/^address:/{print $2}')
check "sign_secp256k1 prints an EIP-55 address ($addr)" bash -c "[[ '$addr' =~ ^0x[0-9a-fA-F]{40}$ ]]"
out2=$("$DSTACK_EXAMPLES_DIR/example-sign_secp256k1" 2>&1)
check "default URI dstack:wallet/eth?alg=secp256k1 works" test $? -eq 0
assert_contains "default URI printed" "$out2" "dstack:wallet/eth?alg=secp256k1"

out=$("$DSTACK_EXAMPLES_DIR/example-sign_ed25519" "dstack:$DSTACK_DEV_PATH?alg=ed25519" 2>&1)
check "sign_ed25519 runs: $out" test $? -eq 0
assert_contains "sign_ed25519 prints the dev-identity public key" "$out" "public key: $DSTACK_DEV_ED25519_PUB"
assert_contains "sign_ed25519 verifies" "$out" "verified"

# Wrong key type and agent absent fail cleanly.
out=$("$DSTACK_EXAMPLES_DIR/example-sign_ed25519" "dstack:$DSTACK_DEV_PATH?alg=p256" 2>&1)
check "sign_ed25519 refuses a P-256 key" test $? -ne 0
stop_sim
out=$("$DSTACK_EXAMPLES_DIR/example-sign_secp256k1" 2>&1)
check "agent absent: example fails" test $? -ne 0
assert_contains "agent absent: reason" "$out" "cannot connect to the dstack agent"

finish
