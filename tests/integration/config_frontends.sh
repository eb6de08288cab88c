#!/usr/bin/env bash
# One configuration table, three front ends (architecture.md §5): the provider's openssl.cnf
# section, the ENGINE's control commands and dstack-keytool's options accept and refuse
# exactly the same values with the same words. Among the cases, the three drift bugs of
# issue 10: an uncompressed (04…) KMS root the engine used to take, a timeout keytool used to
# allow up to 3600000 ms, and a relative endpoint only two of the three refused.
source "$DSTACK_SOURCE_DIR/tests/integration/provider_lib.sh"
source "$DSTACK_SOURCE_DIR/tests/integration/services_lib.sh"
require openssl

ROOT04=0479be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8
cases=(
    "kms-root-pubkey|$ROOT04|expected a hex compressed secp256k1 public key"
    "timeout-ms|3600000|expected milliseconds between 1 and 600000"
    "timeout-ms|0|expected milliseconds between 1 and 600000"
    "endpoint|relative/dstack.sock|expected an absolute Unix socket path"
    "tappd-endpoint|tappd.sock|expected an absolute Unix socket path"
    "cert|maybe|expected auto, agent, self or none"
    "ratls|yes|expected auto, attest, quote, both or no"
    "cache|YES|expected yes or no"
    "app-id|xyz|expected a hex app id"
)
for c in "${cases[@]}"; do
    IFS='|' read -r name value why <<<"$c"
    want="$name = \"$value\" is invalid: $why"
    ctrl=$(echo "$name" | tr 'a-z-' 'A-Z_')

    make_cnf "$DSTACK_TMP/p.cnf" "$name = $value"
    out=$(ossl_conf "$DSTACK_TMP/p.cnf" pkey -in dstack:tls/x -pubout 2>&1)
    check "provider refuses $name=$value" test $? -ne 0
    assert_contains "provider: $name=$value" "$out" "$want"

    out=$(OPENSSL_CONF=/dev/null OPENSSL_ENGINES="$DSTACK_ENGINE_DIR" run_foreign openssl engine \
        dstack -pre "$ctrl:$value" 2>&1)
    assert_contains "engine: $ctrl:$value" "$out" "$ctrl: $want"

    out=$("$KEYTOOL" "--$name" "$value" show dstack:tls/x 2>&1)
    assert_eq "keytool exit for --$name $value" 2 $?
    assert_contains "keytool: --$name $value" "$out" "--$want"
done

# Unknown names: the closest valid one, in each front end's spelling.
make_cnf "$DSTACK_TMP/p.cnf" "kms_root_pubkey = $DSTACK_DEV_KMS_ROOT"
out=$(ossl_conf "$DSTACK_TMP/p.cnf" pkey -in dstack:tls/x -pubout 2>&1)
assert_contains "provider: unknown name" "$out" \
    "unknown parameter kms_root_pubkey (did you mean kms-root-pubkey?)"
out=$("$KEYTOOL" --kms_root_pubkey "$DSTACK_DEV_KMS_ROOT" show dstack:tls/x 2>&1)
assert_eq "keytool: unknown option exit" 2 $?
assert_contains "keytool: unknown option" "$out" \
    "unknown option --kms_root_pubkey (did you mean --kms-root-pubkey?)"
out=$(OPENSSL_CONF=/dev/null OPENSSL_ENGINES="$DSTACK_ENGINE_DIR" run_foreign openssl engine \
    dstack -pre "KMS_ROOTPUBKEY:$DSTACK_DEV_KMS_ROOT" 2>&1)
assert_contains "engine: unknown command" "$out" \
    "unknown control command KMS_ROOTPUBKEY (did you mean KMS_ROOT_PUBKEY?)"

# The rule between parameters holds in every front end too.
out=$("$KEYTOOL" --kms-root-pubkey "$DSTACK_DEV_KMS_ROOT" show dstack:tls/x 2>&1)
assert_eq "keytool: kms-root-pubkey without app-id exit" 2 $?
assert_contains "keytool: kms-root-pubkey without app-id" "$out" "set app-id"
finish
