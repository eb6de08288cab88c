#!/usr/bin/env bash
# dstack-sim with the official appkeys.json reproduces protocol.md §9 V2 (GetKey, DeriveK256Key,
# Sign key, DeriveKey PKCS#8), V1-style GetAttestationForAppKey report_data and V3.
source "$DSTACK_SOURCE_DIR/tests/lib/common.sh"
require curl jq openssl xxd
require_upstream dstack/appkeys.json

start_sim v2 --appkeys "$DSTACK_FIXTURES/dstack/appkeys.json" || { fail "sim start"; finish; }

post() { # post <socket> <path> <json>
    curl -sS --unix-socket "$1" -H 'Content-Type: application/json' -d "$3" "http://localhost$2"
}

KEY=b9fbb7171185c421c58610a2acba8ceae93623ae47815618cbad1e98fc042cb7
KMS_SIG=$(jq -r .k256_signature "$DSTACK_FIXTURES/dstack/appkeys.json")

r=$(post "$SIM_ENDPOINT" /GetKey '{"path":"/test/path","purpose":"test-purpose","algorithm":"secp256k1"}')
assert_eq "GetKey secp256k1 key" "$KEY" "$(jq -r .key <<<"$r")"
assert_eq "GetKey chain[0]" f50c51735a97072f0c98125ed61fc84e2fdb36e95990b9e57337dadc0e2a9712227f04e07209faecb8891d59ec144a6c13e411dc90b3423f28071bd3fe11978d01 "$(jq -r '.signature_chain[0]' <<<"$r")"
assert_eq "GetKey chain[1] = k256_signature" "$KMS_SIG" "$(jq -r '.signature_chain[1]' <<<"$r")"

r=$(post "$SIM_ENDPOINT" /GetKey '{"path":"/test/path","purpose":"test-purpose","algorithm":"ed25519"}')
assert_eq "GetKey ed25519 key (same bytes)" "$KEY" "$(jq -r .key <<<"$r")"
assert_eq "GetKey ed25519 chain[0]" effb33c8bb9beab8058a165af210047acb15a67bb6482819b44655f8b22a150a45e50fdce916374f2f4bd380c83eac6ca8b6a765a4fb7c3f03ab9932342ce53200 "$(jq -r '.signature_chain[0]' <<<"$r")"

r=$(post "$SIM_ENDPOINT" /GetKey '{"path":"/test/path","purpose":"test-purpose","algorithm":"k256"}')
assert_eq "k256 alias" "$KEY" "$(jq -r .key <<<"$r")"

r=$(post "$SIM_TAPPD" /prpc/Tappd.DeriveK256Key '{"path":"/test/path","purpose":"test-purpose"}')
assert_eq "DeriveK256Key key" "$KEY" "$(jq -r .k256_key <<<"$r")"
assert_eq "DeriveK256Key chain[1]" "$KMS_SIG" "$(jq -r '.k256_signature_chain[1]' <<<"$r")"

# Sign key = GetKey("vms") (protocol.md §9 V2 sign key)
r=$(post "$SIM_ENDPOINT" /GetKey '{"path":"vms"}')
assert_eq "sign secret" 1091a4d6721f6a719ca57320e4975f7e237649131111ee1c5032f661dc1cfef2 "$(jq -r .key <<<"$r")"
r=$(post "$SIM_ENDPOINT" /Sign '{"algorithm":"secp256k1","data":"68656c6c6f"}')
assert_eq "Sign secp256k1 public key" 036105f01d1fd781568f7c208b087b1c4f522601410ed7e9c7870d573de7c46d54 "$(jq -r .public_key <<<"$r")"
assert_eq "Sign signature is 64 bytes" 128 "$(jq -r .signature <<<"$r" | tr -d '\n' | wc -c)"
assert_eq "Sign chain[0] = signature" "$(jq -r .signature <<<"$r")" "$(jq -r '.signature_chain[0]' <<<"$r")"
assert_eq "Sign chain[2] = k256_signature" "$KMS_SIG" "$(jq -r '.signature_chain[2]' <<<"$r")"
sig=$(jq -r .signature <<<"$r")
v=$(post "$SIM_ENDPOINT" /Verify "{\"algorithm\":\"secp256k1\",\"data\":\"68656c6c6f\",\"signature\":\"$sig\",\"public_key\":\"036105f01d1fd781568f7c208b087b1c4f522601410ed7e9c7870d573de7c46d54\"}")
assert_eq "Verify own secp256k1 signature" '{"valid":true}' "$v"
v=$(post "$SIM_ENDPOINT" /Verify "{\"algorithm\":\"secp256k1\",\"data\":\"68656c6c6e\",\"signature\":\"$sig\",\"public_key\":\"036105f01d1fd781568f7c208b087b1c4f522601410ed7e9c7870d573de7c46d54\"}")
assert_eq "Verify rejects other data" '{"valid":false}' "$v"
r=$(post "$SIM_ENDPOINT" /Sign '{"algorithm":"ed25519","data":"68656c6c6f"}')
assert_eq "Sign ed25519 public key" 698f56bd587d8ce3ca8db0e1c361ba9d190089f98dc4d9df800ff92ed073a65d "$(jq -r .public_key <<<"$r")"
sig=$(jq -r .signature <<<"$r")
v=$(post "$SIM_ENDPOINT" /Verify "{\"algorithm\":\"ed25519\",\"data\":\"68656c6c6f\",\"signature\":\"$sig\",\"public_key\":\"698f56bd587d8ce3ca8db0e1c361ba9d190089f98dc4d9df800ff92ed073a65d\"}")
assert_eq "Verify own ed25519 signature" '{"valid":true}' "$v"
# Ed25519 signature checked by openssl itself
printf 'hello' >"$DSTACK_TMP/msg"
printf '%s' "$sig" | xxd -r -p >"$DSTACK_TMP/ed.sig"
printf '302a300506032b6570032100698f56bd587d8ce3ca8db0e1c361ba9d190089f98dc4d9df800ff92ed073a65d' | xxd -r -p >"$DSTACK_TMP/ed.der"
check "openssl verifies the Ed25519 Sign output" openssl pkeyutl -verify -pubin -inkey "$DSTACK_TMP/ed.der" -keyform DER -rawin -in "$DSTACK_TMP/msg" -sigfile "$DSTACK_TMP/ed.sig"
r=$(post "$SIM_ENDPOINT" /Sign '{"algorithm":"secp256k1_prehashed","data":"'"$(printf '%064d' 7)"'"}')
assert_eq "Sign prehashed 32 bytes" 128 "$(jq -r .signature <<<"$r" | tr -d '\n' | wc -c)"

# Tappd.DeriveKey: PKCS#8 DER of protocol.md §9 V2
r=$(post "$SIM_TAPPD" /prpc/Tappd.DeriveKey '{"path":"/test/path","subject":"demo"}')
der=$(jq -r .key <<<"$r" | sed '/-----/d' | tr -d '\n' | openssl base64 -d -A | xxd -p | tr -d '\n')
assert_eq "DeriveKey PKCS#8 DER" 308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b0201010420b9fbb7171185c421c58610a2acba8ceae93623ae47815618cbad1e98fc042cb7a144034200040aac9a859333d1a79e726018d9fdd0a41c42b252090380e300db1b3aa135184b629c51179943040144e1858a7e9020785cc528807c6f592c7dce0b8dc980eb20 "$der"
assert_eq "key PEM uses LF only" 0 "$(jq -r .key <<<"$r" | tr -cd '\r' | wc -c)"
jq -r '.certificate_chain[0]' <<<"$r" >"$DSTACK_TMP/leaf.pem"
jq -r '.certificate_chain[1]' <<<"$r" >"$DSTACK_TMP/ca.pem"
assert_eq "chain[1] = appkeys ca_cert" "$(jq -r .ca_cert "$DSTACK_FIXTURES/dstack/appkeys.json")" "$(cat "$DSTACK_TMP/ca.pem")"
check "DeriveKey chain verifies" openssl verify -CAfile "$DSTACK_TMP/ca.pem" "$DSTACK_TMP/leaf.pem"
# RA-TLS report_data of this key (protocol.md §9 V2)
spki_rd=$( { printf 'ratls-cert:'; openssl x509 -in "$DSTACK_TMP/leaf.pem" -pubkey -noout | openssl pkey -pubin -outform DER; } | openssl dgst -sha512 -r | cut -d' ' -f1)
assert_eq "RA-TLS report_data vector" 99eaa8b266e587905106eda7a26b6d20ef7d29ac00d0dd0854161e0f9d10b9e45a6c91d7e8db009d6842329c5f2ba7b6b76386d95345d4ab819ee0a798c7e7c2 "$spki_rd"
r=$(post "$SIM_TAPPD" /prpc/Tappd.DeriveKey '{"path":"/test/path","random_seed":true}')
der2=$(jq -r .key <<<"$r" | sed '/-----/d' | tr -d '\n' | openssl base64 -d -A | xxd -p | tr -d '\n')
assert_not_contains "random_seed=true gives another key" "$der2" "$KEY"

# Info: app id of the official simulator; chain[1] recovers to the V2 KMS root
info=$(curl -sS --unix-socket "$SIM_ENDPOINT" http://localhost/Info)
assert_eq "Info app_id" 5bb4ff9a3837357f19dc176407a5709c62eb6c56 "$(jq -r .app_id <<<"$info")"
ca_spki=$(openssl x509 -in "$DSTACK_TMP/ca.pem" -pubkey -noout | openssl pkey -pubin -outform DER | xxd -p | tr -d '\n')
assert_eq "key_provider_info id = CA SPKI" "{\"name\":\"kms\",\"id\":\"$ca_spki\"}" "$(jq -r .key_provider_info <<<"$info")"

# GetAttestationForAppKey report_data (protocol.md §2.3)
r=$(curl -sS --unix-socket "$SIM_EXTERNAL" -H 'Content-Type: application/json' -d '{"algorithm":"secp256k1"}' http://localhost/prpc/Worker.GetAttestationForAppKey)
pub_b64=$(printf '036105f01d1fd781568f7c208b087b1c4f522601410ed7e9c7870d573de7c46d54' | xxd -r -p | openssl base64 -A | tr '+/' '-_' | tr -d '=')
assert_eq "GetAttestationForAppKey secp256k1 report_data" "$(printf 'dip1::secp256k1c-pk:%s' "$pub_b64" | xxd -p | tr -d '\n')" "$(jq -r .report_data <<<"$r")"
assert_eq "quote carries it at 568..632" "$(jq -r .report_data <<<"$r")" "$(jq -r .quote <<<"$r" | cut -c1137-1264)"
r=$(curl -sS --unix-socket "$SIM_EXTERNAL" -H 'Content-Type: application/json' -d '{"algorithm":"ed25519"}' http://localhost/prpc/GetAttestationForAppKey)
pub_b64=$(printf '698f56bd587d8ce3ca8db0e1c361ba9d190089f98dc4d9df800ff92ed073a65d' | xxd -r -p | openssl base64 -A | tr '+/' '-_' | tr -d '=')
assert_eq "GetAttestationForAppKey ed25519 report_data" "$(printf 'dip1::ed25519-pk:%s' "$pub_b64" | xxd -p | tr -d '\n')00000000" "$(jq -r .report_data <<<"$r")"

# V3: TdxQuote default hashing
r=$(post "$SIM_TAPPD" /prpc/Tappd.TdxQuote '{"report_data":"7465737420636f6e74656e74"}')
assert_eq "V3 report_data in quote" 7ea0b744ed5e9c0c83ff9f575668e1697652cd349f2027cdf26f918d4c53e8cd50b5ea9b449b4c3d50e20ae00ec29688d5a214e8daff8a10041f5d624dae8a01 "$(jq -r .quote <<<"$r" | cut -c1137-1264)"

kill -TERM "$SIM_PID"; wait "$SIM_PID"; assert_eq "dstack-sim clean exit" 0 "$?"
finish
