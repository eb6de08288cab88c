#!/usr/bin/env bash
# dstack provider: openssl.cnf parameters — kms-root-pubkey good/wrong (always with app-id,
# alone it is refused), app-id match and mismatch, invalid values and unknown names failing
# the provider load with a message naming parameter and value (and the closest valid name),
# the man page listing every reason, and a debug log without key bytes.
source "$DSTACK_SOURCE_DIR/tests/integration/provider_lib.sh"

start_sim cfg || { fail "simulator"; finish; }
URI="dstack:$DSTACK_DEV_PATH?alg=secp256k1&cert=none"

make_cnf "$DSTACK_TMP/root-good.cnf" "kms-root-pubkey = $DSTACK_DEV_KMS_ROOT" \
    "app-id = $DSTACK_DEV_APP_ID"
out=$(ossl_conf "$DSTACK_TMP/root-good.cnf" pkey -in "$URI" -pubout 2>&1)
check "kms-root-pubkey = fixture KMS root loads: $out" test $? -eq 0
out=$(ossl_conf "$DSTACK_TMP/root-good.cnf" pkey -in "dstack:tls/web?cert=none" -pubout 2>&1)
check "kms-root-pubkey: p256 keys verify too: $out" test $? -eq 0

# A valid secp256k1 point that is not the KMS root.
make_cnf "$DSTACK_TMP/root-bad.cnf" "kms-root-pubkey = $DSTACK_DEV_K256_PUB" \
    "app-id = $DSTACK_DEV_APP_ID"
out=$(ossl_conf "$DSTACK_TMP/root-bad.cnf" pkey -in "$URI" -pubout 2>&1)
check "wrong kms-root-pubkey refuses" test $? -ne 0
assert_contains "wrong root: reason" "$out" "dstack key or certificate verification failed"
assert_contains "wrong root: message" "$out" "kms-root-pubkey"
assert_contains "wrong root: names the URI" "$out" "dstack:$DSTACK_DEV_PATH"

# A KMS root vouches for every app on its KMS: without app-id it proves too little, so it is
# refused, and the provider says what to add.
make_cnf "$DSTACK_TMP/root-alone.cnf" "kms-root-pubkey = $DSTACK_DEV_KMS_ROOT"
out=$(ossl_conf "$DSTACK_TMP/root-alone.cnf" pkey -in "$URI" -pubout 2>&1)
check "kms-root-pubkey without app-id refuses" test $? -ne 0
assert_contains "kms-root-pubkey alone: reason" "$out" "invalid dstack provider configuration"
assert_contains "kms-root-pubkey alone: what to do" "$out" "set app-id"

# Another app's id: the KMS-signed chain of the key the agent serves is for another app, so
# it does not verify even if the agent's Info claimed the configured id (the chain is
# checked for the configured app id, never for the one the agent claims).
make_cnf "$DSTACK_TMP/root-other-app.cnf" "kms-root-pubkey = $DSTACK_DEV_KMS_ROOT" \
    "app-id = 00112233445566778899aabbccddeeff00112233"
out=$(ossl_conf "$DSTACK_TMP/root-other-app.cnf" pkey -in "$URI" -pubout 2>&1)
check "kms-root-pubkey with another app's id refuses" test $? -ne 0

# A misspelt name would switch a check off silently: it is refused, with the closest name.
for typo in kms_root_pubkey kms-root-pub-key KMS-Root-Pubkey timeout app_id; do
    make_cnf "$DSTACK_TMP/typo.cnf" "$typo = 00"
    out=$(ossl_conf "$DSTACK_TMP/typo.cnf" pkey -in "$URI" -pubout 2>&1)
    check "[$typo] unknown name refuses" test $? -ne 0
    assert_contains "[$typo] names it" "$out" "unknown parameter $typo (did you mean"
done
make_cnf "$DSTACK_TMP/typo.cnf" "colour = blue"
out=$(ossl_conf "$DSTACK_TMP/typo.cnf" pkey -in "$URI" -pubout 2>&1)
assert_contains "[colour] unknown name, nothing close" "$out" "unknown parameter colour;"
# OpenSSL's own keys of a provider section are not ours to refuse.
make_cnf "$DSTACK_TMP/own.cnf" "identity = dstack" "soft_load = 1"
out=$(ossl_conf "$DSTACK_TMP/own.cnf" pkey -in "$URI" -pubout 2>&1)
check "identity/soft_load accepted: $out" test $? -eq 0

make_cnf "$DSTACK_TMP/app-good.cnf" "app-id = $DSTACK_DEV_APP_ID"
out=$(ossl_conf "$DSTACK_TMP/app-good.cnf" pkey -in "$URI" -pubout 2>&1)
check "matching app-id loads: $out" test $? -eq 0
make_cnf "$DSTACK_TMP/app-bad.cnf" "app-id = 00112233445566778899aabbccddeeff00112233"
out=$(ossl_conf "$DSTACK_TMP/app-bad.cnf" pkey -in "$URI" -pubout 2>&1)
check "app-id mismatch refuses" test $? -ne 0
assert_contains "app-id mismatch: message" "$out" "00112233445566778899aabbccddeeff00112233"
assert_contains "app-id mismatch: agent's app id" "$out" "$DSTACK_DEV_APP_ID"

# Invalid values: the provider refuses to load and says which parameter and value.
bad_values=(
    "timeout-ms = abc" "timeout-ms = 0" "timeout-ms = -5" "timeout-ms = 99999999"
    "timeout-ms = 10ms" "cert = maybe" "ratls = sometimes" "cache = perhaps" "cache = YES"
    "kms-root-pubkey = zz" "kms-root-pubkey = 0421529e"
    "kms-root-pubkey = 0521529e458424ab1f710a3a57ec4dad2fb195ddca572f7469242ba6c7563085b6"
    "app-id = not-hex" "endpoint = relative/dstack.sock" "endpoint = ftp://host/x"
    "tappd-endpoint = tappd.sock"
)
for line in "${bad_values[@]}"; do
    name=${line%% = *}
    value=${line#* = }
    make_cnf "$DSTACK_TMP/bad.cnf" "$line"
    out=$(ossl_conf "$DSTACK_TMP/bad.cnf" pkey -in "$URI" -pubout 2>&1)
    check "[$line] fails" test $? -ne 0
    assert_contains "[$line] names the parameter and value" "$out" "$name = \"$value\" is invalid"
    assert_contains "[$line] reason" "$out" "invalid dstack provider configuration"
done

# The provider reports itself unusable instead of silently dropping the value.
make_cnf "$DSTACK_TMP/bad.cnf" "cache = perhaps"
out=$(ossl_conf "$DSTACK_TMP/bad.cnf" list -providers 2>&1)
assert_contains "bad config: provider status inactive" "$out" "status: inactive"

# (The man page's parameter table is checked against libdstack's table by test_config.)
# The man page lists every reason string of provider/errors.c.
while IFS= read -r reason; do
    check "man page lists reason '$reason'" grep -qF "$reason" \
        "$DSTACK_SOURCE_DIR/docs/provider-dstack.7.md"
done < <(sed -n '/reason_strings\[\] = {/,/^};/p' "$DSTACK_SOURCE_DIR/provider/errors.c" |
    grep -o '"[^"]*"' | tr -d '"')

# Debug log at the highest level: effective config, file:line func(), no key bytes.
log_file="$DSTACK_TMP/debug.log"
DSTACK_PROVIDER_DEBUG="file:$log_file,level:3" ossl_conf "$PROV_CONF" pkey \
    -in "dstack:$DSTACK_DEV_PATH?alg=secp256k1" -pubout -out /dev/null 2>/dev/null
DSTACK_PROVIDER_DEBUG="file:$log_file,level:3" ossl_conf "$PROV_CONF" pkey \
    -in "dstack:$DSTACK_DEV_PATH" -out /dev/null 2>/dev/null
DSTACK_PROVIDER_DEBUG="file:$log_file,level:3" ossl_conf "$PROV_CONF" storeutl -noout \
    "dstack:$DSTACK_DEV_PATH?alg=ed25519&cert=self" >/dev/null 2>&1
check "debug log written" test -s "$log_file"
logtext=$(cat "$log_file")
assert_contains "debug log: effective config" "$logtext" "effective config: endpoint=$SIM_ENDPOINT"
assert_contains "debug log: file:line func()" "$logtext" "objects.c:"
assert_contains "debug log: URI" "$logtext" "dstack:$DSTACK_DEV_PATH"
upper=$(echo "$DSTACK_DEV_SECRET" | tr a-f A-F)
assert_not_contains "debug log has no key bytes (hex)" "$logtext" "$DSTACK_DEV_SECRET"
assert_not_contains "debug log has no key bytes (HEX)" "$logtext" "$upper"
assert_not_contains "debug log has no key bytes (16-byte prefix)" "$logtext" "${DSTACK_DEV_SECRET:0:32}"
b64=$(echo "$DSTACK_DEV_SECRET" | xxd -r -p | openssl base64 -A)
assert_not_contains "debug log has no key bytes (base64)" "$logtext" "${b64:0:40}"
check "debug log has no raw key bytes" python3 -c \
    'import sys; sys.exit(bytes.fromhex(sys.argv[1]) in open(sys.argv[2], "rb").read())' \
    "$DSTACK_DEV_SECRET" "$log_file"

finish
