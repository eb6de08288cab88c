#!/usr/bin/env bash
# With kms-root-pubkey set, alg=ed25519 loads from an agent before 0.5.6. Such an agent
# ignores `algorithm` (protocol.md §3.3) and its signature chain[0] signs the secp256k1 public key of
# the same 32 bytes, which still leads to the KMS root.
source "$DSTACK_SOURCE_DIR/tests/integration/legacy_lib.sh"

start_agent v04 0.4 || { fail "simulator"; finish; }
make_cnf "$DSTACK_TMP/root.cnf" "kms-root-pubkey = $DSTACK_DEV_KMS_ROOT" \
    "app-id = $DSTACK_DEV_APP_ID"
k=$(ossl_conf "$DSTACK_TMP/root.cnf" pkey -in "dstack:$DSTACK_DEV_PATH?alg=secp256k1" -pubout 2>&1)
assert_contains "0.4 secp256k1 with kms-root-pubkey" "$k" "BEGIN PUBLIC KEY"
ed=$(ossl_conf "$DSTACK_TMP/root.cnf" pkey -in "dstack:$DSTACK_DEV_PATH?alg=ed25519" -pubout -outform DER \
    2>"$DSTACK_TMP/err" | tail -c 32 | xxd -p -c 64)
[ -s "$DSTACK_TMP/err" ] && log "provider: $(cat "$DSTACK_TMP/err")"
assert_eq "0.4 ed25519 with kms-root-pubkey = the dev identity key" "$DSTACK_DEV_ED25519_PUB" "$ed"
finish
