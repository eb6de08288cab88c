#!/usr/bin/env bash
# dstack provider: the reference-PEM decoder (architecture.md §6). `openssl pkey -in ref.pem` returns
# the derived key — alone, after certificates in a combined file, and through OPENSSL_CONF;
# a wrong description/version or a broken block fails clearly.
source "$DSTACK_SOURCE_DIR/tests/integration/provider_lib.sh"

start_sim ref || { fail "simulator"; finish; }

want=$(echo "$DSTACK_DEV_P256_PKCS8" | xxd -r -p | openssl pkey -inform DER -pubout)
make_ref_pem "dstack:$DSTACK_DEV_PATH" >"$DSTACK_TMP/ref.pem"
check "reference PEM holds no key material" bash -c "! grep -q PRIVATE '$DSTACK_TMP/ref.pem'"

got=$(ossl pkey -in "$DSTACK_TMP/ref.pem" -pubout 2>"$DSTACK_TMP/err")
assert_eq "pkey -in ref.pem = derived key" "$want" "$got"
[ -s "$DSTACK_TMP/err" ] && log "$(cat "$DSTACK_TMP/err")"

got=$(ossl_conf "$PROV_CONF" pkey -in "$DSTACK_TMP/ref.pem" -pubout 2>/dev/null)
assert_eq "ref.pem through OPENSSL_CONF only" "$want" "$got"

# ed25519 and secp256k1 references.
make_ref_pem "dstack:$DSTACK_DEV_PATH?alg=ed25519" >"$DSTACK_TMP/ref-ed.pem"
ed=$(ossl pkey -in "$DSTACK_TMP/ref-ed.pem" -pubout -outform DER 2>/dev/null | tail -c 32 | xxd -p -c 64)
assert_eq "ed25519 reference" "$DSTACK_DEV_ED25519_PUB" "$ed"
make_ref_pem "dstack:$DSTACK_DEV_PATH?alg=secp256k1" >"$DSTACK_TMP/ref-k.pem"
k=$(ossl pkey -in "$DSTACK_TMP/ref-k.pem" -pubout 2>/dev/null |
    openssl ec -pubin -conv_form compressed -outform DER 2>/dev/null | tail -c 33 | xxd -p -c 64)
assert_eq "secp256k1 reference" "$DSTACK_DEV_K256_PUB" "$k"

# haproxy-style combined file: certificate chain first, the reference last.
ossl storeutl -certs "dstack:$DSTACK_DEV_PATH?cert=agent" >"$DSTACK_TMP/combined.pem" 2>/dev/null
cat "$DSTACK_TMP/ref.pem" >>"$DSTACK_TMP/combined.pem"
check "combined file has certificates first" test "$(grep -c 'BEGIN CERT' "$DSTACK_TMP/combined.pem")" -ge 2
got=$(ossl pkey -in "$DSTACK_TMP/combined.pem" -pubout 2>/dev/null)
assert_eq "reference after certificates (combined crt)" "$want" "$got"
leaf=$(openssl x509 -in "$DSTACK_TMP/combined.pem" -noout -pubkey)
assert_eq "combined file: leaf matches the referenced key" "$want" "$leaf"

# Wrong version / description / encoding: a clear error, not "no start line".
make_ref_pem "dstack:$DSTACK_DEV_PATH" "dstack key URI v2" >"$DSTACK_TMP/v2.pem"
out=$(ossl pkey -in "$DSTACK_TMP/v2.pem" -pubout 2>&1)
check "v2 reference refused" test $? -ne 0
assert_contains "v2 reference: message" "$out" 'unsupported DSTACK KEY URI description "dstack key URI v2"'
make_ref_pem "dstack:$DSTACK_DEV_PATH" "pkcs11 key URI v1" >"$DSTACK_TMP/other.pem"
out=$(ossl pkey -in "$DSTACK_TMP/other.pem" -pubout 2>&1)
check "foreign description refused" test $? -ne 0
assert_contains "foreign description: message" "$out" 'unsupported DSTACK KEY URI description'
printf -- '-----BEGIN DSTACK KEY URI-----\nMAMCAQE=\n-----END DSTACK KEY URI-----\n' >"$DSTACK_TMP/junk.pem"
out=$(ossl pkey -in "$DSTACK_TMP/junk.pem" -pubout 2>&1)
check "malformed reference refused" test $? -ne 0
assert_contains "malformed reference: message" "$out" "DSTACK KEY URI block is not DER"
make_ref_pem "dstack:tls/web?alg=rsa" >"$DSTACK_TMP/baduri.pem"
out=$(ossl pkey -in "$DSTACK_TMP/baduri.pem" -pubout 2>&1)
check "reference with a bad URI refused" test $? -ne 0
assert_contains "reference with a bad URI: message" "$out" 'unsupported alg "rsa"'

# Agent gone: the reference names the URI and the endpoint.
stop_sim
out=$(ossl pkey -in "$DSTACK_TMP/ref.pem" -pubout 2>&1)
check "reference with agent down fails" test $? -ne 0
assert_contains "agent down: reason" "$out" "cannot connect to the dstack agent"

# Ordinary PEM keys still load with the provider active (our decoders pass them over).
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$DSTACK_TMP/plain.pem" 2>/dev/null
check "plain PEM keys unaffected" ossl pkey -in "$DSTACK_TMP/plain.pem" -pubout -out /dev/null

finish
