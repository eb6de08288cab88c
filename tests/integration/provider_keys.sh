#!/usr/bin/env bash
# dstack provider: derived public keys equal the values computed independently for dstack-sim's
# development identity (tests/lib/dev-identity.env),
# p256 equals Tappd.DeriveKey's key, storeutl lists key/leaf/chain in order, expect hints,
# OPENSSL_CONF-only operation and `openssl list -providers` without an agent.
source "$DSTACK_SOURCE_DIR/tests/integration/provider_lib.sh"
require curl

# No agent at all: listing providers must not touch it (lazy first connection).
out=$(ossl_conf "$PROV_CONF" list -providers 2>&1)
check "list -providers without agent exits 0" test $? -eq 0
assert_contains "list -providers shows dstack" "$out" "dstack"
assert_contains "dstack provider is active" "$out" "status: active"

start_sim keys || { fail "simulator"; finish; }

# secp256k1: compressed public key equals the expected one.
k256=$(ossl pkey -in "dstack:$DSTACK_DEV_PATH?alg=secp256k1" -pubout 2>"$DSTACK_TMP/err" |
    openssl ec -pubin -conv_form compressed -outform DER 2>/dev/null | tail -c 33 | xxd -p -c 64)
assert_eq "secp256k1 public key (dev identity)" "$DSTACK_DEV_K256_PUB" "$k256"
[ -s "$DSTACK_TMP/err" ] && log "$(cat "$DSTACK_TMP/err")"
k256b=$(ossl pkey -in "dstack:$DSTACK_DEV_PATH?alg=k256" -pubout 2>/dev/null |
    openssl ec -pubin -conv_form compressed -outform DER 2>/dev/null | tail -c 33 | xxd -p -c 64)
assert_eq "alg=k256 alias" "$DSTACK_DEV_K256_PUB" "$k256b"

# ed25519: the raw 32-byte public key closes the SPKI.
ed=$(ossl pkey -in "dstack:$DSTACK_DEV_PATH?alg=ed25519" -pubout -outform DER 2>/dev/null | tail -c 32 |
    xxd -p -c 64)
assert_eq "ed25519 public key (dev identity)" "$DSTACK_DEV_ED25519_PUB" "$ed"

# p256 (default alg): equals the public key of the expected Tappd.DeriveKey PKCS#8.
want_p256=$(echo "$DSTACK_DEV_P256_PKCS8" | xxd -r -p | openssl pkey -inform DER -pubout)
got_p256=$(ossl pkey -in "dstack:$DSTACK_DEV_PATH" -pubout 2>/dev/null)
assert_eq "p256 public key (expected PKCS#8)" "$want_p256" "$got_p256"

# ... and equals what the running Tappd.DeriveKey answers for the path.
tappd_pub=$(curl -s --unix-socket "$SIM_TAPPD" -H 'Content-Type: application/json' \
    -d "{\"path\":\"$DSTACK_DEV_PATH\",\"random_seed\":false}" \
    "http://localhost/prpc/Tappd.DeriveKey?json" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])' 2>/dev/null |
    openssl pkey -pubout 2>/dev/null)
assert_eq "p256 equals Tappd.DeriveKey(path) key" "$tappd_pub" "$got_p256"

# The private key never leaves as text unless asked; asking works and matches the expected secret.
priv=$(ossl pkey -in "dstack:$DSTACK_DEV_PATH?alg=secp256k1&cert=none" -outform DER 2>/dev/null |
    openssl asn1parse -inform DER 2>/dev/null | grep -c OCTET)
check "private key exports as PKCS#8" test "$priv" -ge 1

# storeutl (no type filter): key, leaf, then the CA, in that order.
list=$(ossl storeutl -noout "dstack:tls/order?cert=agent" 2>&1)
types=$(echo "$list" | grep -E '^[0-9]+: ' | sed 's/^[0-9]*: //' | tr '\n' ',')
assert_eq "storeutl lists key, leaf, chain" "Pkey,Certificate,Certificate," "$types"
assert_contains "storeutl total" "$list" "Total found: 3"

# storeutl -certs only: leaf then CA; the leaf carries the derived key.
ossl storeutl -certs "dstack:tls/order?cert=agent" >"$DSTACK_TMP/certs.pem" 2>/dev/null
ncert=$(grep -c 'BEGIN CERTIFICATE' "$DSTACK_TMP/certs.pem")
assert_eq "storeutl -certs yields leaf + chain" 2 "$ncert"
leaf_spki=$(openssl x509 -in "$DSTACK_TMP/certs.pem" -noout -pubkey | spki_sha256)
key_spki=$(ossl pkey -in "dstack:tls/order" -pubout 2>/dev/null | spki_sha256)
assert_eq "agent leaf holds the derived key" "$key_spki" "$leaf_spki"
ca_subject=$(awk '/BEGIN CERT/{n++} n==2' "$DSTACK_TMP/certs.pem" | openssl x509 -noout -subject)
assert_contains "chain ends at the simulator CA" "$ca_subject" "dstack-sim INSECURE development CA"

# storeutl -keys: only the key.
keys=$(ossl storeutl -keys -noout "dstack:tls/order?cert=agent" 2>&1)
assert_contains "storeutl -keys finds one key" "$keys" "Total found: 1"

# Key-only loads make no certificate RPC: only GetKey reaches the agent, not Tappd.
stats_before=$(curl -s --unix-socket "$SIM_DIR/sim-control.sock" http://localhost/stats)
ossl pkey -in "dstack:tls/keyonly?cert=agent" -pubout >/dev/null 2>&1
stats_after=$(curl -s --unix-socket "$SIM_DIR/sim-control.sock" http://localhost/stats)
t_before=$(echo "$stats_before" | python3 -c 'import json,sys; print(json.load(sys.stdin)["requests"]["tappd"])')
t_after=$(echo "$stats_after" | python3 -c 'import json,sys; print(json.load(sys.stdin)["requests"]["tappd"])')
assert_eq "key-only load makes no Tappd (certificate) request" "$t_before" "$t_after"

# -pubin (expect PUBKEY) works as well.
pub=$(ossl pkey -pubin -in "dstack:$DSTACK_DEV_PATH" -pubout 2>/dev/null)
assert_eq "expect PUBKEY returns the same key" "$want_p256" "$pub"

# OPENSSL_CONF only: no -provider flags anywhere.
conf_pub=$(ossl_conf "$PROV_CONF" pkey -in "dstack:$DSTACK_DEV_PATH" -pubout 2>/dev/null)
assert_eq "OPENSSL_CONF=conf/openssl-dstack.cnf alone" "$want_p256" "$conf_pub"

finish
