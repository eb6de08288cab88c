#!/usr/bin/env bash
# dstack-sim wire rules (protocol.md §1.3–§1.5, §2.5, §2.6): paths per socket, JSON/query
# decoding, error status + message shape, headers, body limit; the default release (0.6) and
# what 0.5.11 answers differently.
source "$DSTACK_SOURCE_DIR/tests/lib/common.sh"
require curl jq head
SIMVER=$("$DSTACK_SIM" --version | cut -d" " -f2)

start_sim v0511 --agent-version 0.5.11 || { fail "sim start (0.5.11)"; finish; }
V0511=$SIM_ENDPOINT V0511_TAPPD=$SIM_TAPPD V0511_PID=$SIM_PID
start_sim wire || { fail "sim start"; finish; }

# req <socket> <path> [curl args...] — sets STATUS, BODY, HDRS
req() {
    local sock=$1 path=$2; shift 2
    STATUS=$(curl -gsS --unix-socket "$sock" -D "$DSTACK_TMP/h" -o "$DSTACK_TMP/b" \
        -w '%{http_code}' "$@" "http://localhost$path")
    BODY=$(cat "$DSTACK_TMP/b")
    HDRS=$(tr -d '\r' <"$DSTACK_TMP/h")
}
post() { req "$1" "$2" -H 'Content-Type: application/json' --data-binary "$3"; }
# expect_error <what> <expected message> — 400 with the agent's pretty {"error": …} body
expect_error() {
    assert_eq "$1: status" 400 "$STATUS"
    assert_eq "$1: body" "$(printf '{\n  "error": "%s"\n}' "$2")" "$BODY"
}

# --- success shape and headers -----------------------------------------------------------
post "$SIM_ENDPOINT" /Version '{}'
assert_eq "Version" "{\"version\":\"0.6.0\",\"rev\":\"dstack-sim $SIMVER\"}" "$BODY"
assert_contains "Content-Type json" "$HDRS" "Content-Type: application/json"
assert_contains "Server header" "$HDRS" "Server: dstack Simulator"
assert_contains "Content-Length" "$HDRS" "Content-Length: ${#BODY}"
assert_not_contains "never chunked" "$HDRS" "Transfer-Encoding"

# --- routing -------------------------------------------------------------------------------
post "$SIM_ENDPOINT" /prpc/GetKey '{}';            assert_eq "/prpc/GetKey on dstack.sock" 404 "$STATUS"
post "$SIM_ENDPOINT" /a/GetKey '{}';               assert_eq "two segments" 404 "$STATUS"
post "$SIM_ENDPOINT" / '{}';                       assert_eq "empty method" 404 "$STATUS"
req "$SIM_ENDPOINT" /GetKey -X PUT -d '{}';        assert_eq "PUT" 404 "$STATUS"
post "$SIM_TAPPD" /DeriveKey '{}';                 assert_eq "/DeriveKey on tappd.sock" 404 "$STATUS"
post "$SIM_EXTERNAL" /Info '{}';                   assert_eq "/Info on external.sock" 404 "$STATUS"
req "$SIM_ENDPOINT" /Nope -H 'Accept: application/json'
assert_eq "unknown method status" 400 "$STATUS"
post "$SIM_ENDPOINT" /Frobnicate '{}';             expect_error "unknown method" "Service not found: Frobnicate"
post "$SIM_ENDPOINT" /DstackGuest.GetKey '{}';     expect_error "service prefix on dstack.sock" "Service not found: DstackGuest.GetKey"
post "$SIM_ENDPOINT" /DeriveKey '{}';              expect_error "Tappd method on dstack.sock" "Service not found: DeriveKey"
post "$SIM_TAPPD" /prpc/GetTlsKey '{}';            expect_error "DstackGuest method on tappd" "Service not found: GetTlsKey"
post "$SIM_TAPPD" /prpc/Tappd.Version '{}';        assert_eq "Tappd.Version" 200 "$STATUS"
post "$SIM_TAPPD" /prpc/Version '{}';              assert_eq "tappd unprefixed" 200 "$STATUS"
post "$SIM_EXTERNAL" /prpc/Worker.Version '{}';    assert_eq "Worker.Version" 200 "$STATUS"
assert_contains "X-App-Version on external" "$HDRS" "X-App-Version: v0.6.0 (dstack-sim $SIMVER)"
req "$SIM_DIR/sim-control.sock" /GetKey;           assert_eq "control socket has no RPCs" 404 "$STATUS"

# --- encoding selection --------------------------------------------------------------------
post "$SIM_ENDPOINT" /GetKey '{"path":"a/b","purpose":"x","algorithm":"ed25519"}'; k_post=$(jq -r .key <<<"$BODY")
req "$SIM_ENDPOINT" '/GetKey?path=a/b&purpose=x&algorithm=ed25519'; k_get=$(jq -r .key <<<"$BODY")
assert_eq "GET query string = POST JSON" "$k_post" "$k_get"
req "$SIM_ENDPOINT" '/GetKey?json' -d '{"path":"a/b","purpose":"x","algorithm":"ed25519"}'
assert_eq "POST ?json without Content-Type" "$k_post" "$(jq -r .key <<<"$BODY")"
req "$SIM_ENDPOINT" '/GetKey?json=1' -d '{"path":"a/b"}';  assert_eq "?json=1" 200 "$STATUS"
req "$SIM_ENDPOINT" /GetKey -H 'Content-Type: application/json; charset=utf-8' -d '{"path":"a/b"}'
assert_eq "content type with parameters" "$k_post" "$(jq -r .key <<<"$BODY")"
req "$SIM_ENDPOINT" /GetKey -d '{"path":"a/b"}'
assert_eq "non-JSON POST is refused" 400 "$STATUS"
assert_contains "non-JSON POST message" "$BODY" "JSON requests only"
req "$SIM_ENDPOINT" /GetKey -X POST -H 'Content-Type: application/json'
assert_eq "empty body = defaults" 200 "$STATUS"
req "$SIM_ENDPOINT" /GetKey; k_default=$(jq -r .key <<<"$BODY")
assert_eq "empty GET = defaults" "$(jq -r .key "$DSTACK_TMP/b")" "$k_default"
post "$SIM_ENDPOINT" /GetKey '{"path":"a/b","purpose":"x","algorithm":"ed25519","extra":[1,{"y":null}]}'
assert_eq "unknown fields ignored" "$k_post" "$(jq -r .key <<<"$BODY")"
req "$SIM_ENDPOINT" '/GetQuote?report_data=0x0x1234'
assert_eq "GET bytes with repeated 0x" "1234$(printf '%0124d' 0)" "$(jq -r .report_data <<<"$BODY")"
req "$SIM_ENDPOINT" '/GetTlsKey?subject=q&alt_names[0]=a.example&alt_names[1]=10.1.2.3&usage_server_auth=true'
assert_eq "GET GetTlsKey with array and bool" 200 "$STATUS"
jq -r '.certificate_chain[0]' <<<"$BODY" | openssl x509 -noout -ext subjectAltName,extendedKeyUsage >"$DSTACK_TMP/ext" 2>&1
assert_contains "GET alt_names[0]" "$(cat "$DSTACK_TMP/ext")" "DNS:a.example"
assert_contains "GET alt_names[1] as IP" "$(cat "$DSTACK_TMP/ext")" "IP Address:10.1.2.3"
assert_contains "GET usage_server_auth=true" "$(cat "$DSTACK_TMP/ext")" "TLS Web Server Authentication"
req "$SIM_ENDPOINT" '/GetTlsKey?usage_ra_tls=maybe'
expect_error "GET bad bool" 'invalid type: string \"maybe\", expected a boolean'
req "$SIM_ENDPOINT" '/Info' -X POST -d 'garbage that is not JSON' -H 'Content-Type: application/json'
assert_eq "Info ignores its body (Empty input)" 200 "$STATUS"

# --- decode errors (serde-like) --------------------------------------------------------------
post "$SIM_ENDPOINT" /GetKey '{"path":';           assert_eq "truncated JSON status" 400 "$STATUS"
assert_contains "truncated JSON message" "$(jq -r .error <<<"$BODY")" "EOF while parsing"
post "$SIM_ENDPOINT" /GetKey '{bad json}';         assert_eq "bad JSON status" 400 "$STATUS"
assert_contains "bad JSON has a position" "$(jq -r .error <<<"$BODY")" "at line 1 column"
post "$SIM_ENDPOINT" /GetKey '{"path":"x"} trailing'
assert_contains "trailing characters" "$(jq -r .error <<<"$BODY")" "trailing characters at line 1 column"
post "$SIM_ENDPOINT" /GetKey '[1,2]';              expect_error "array body" "invalid type: sequence, expected struct GetKeyArgs"
post "$SIM_ENDPOINT" /GetKey '"str"';              expect_error "string body" 'invalid type: string \"str\", expected struct GetKeyArgs'
post "$SIM_ENDPOINT" /GetKey '{"path":1}';         expect_error "integer for string" 'invalid type: integer `1`, expected a string'
post "$SIM_ENDPOINT" /GetKey '{"path":true}';      expect_error "bool for string" 'invalid type: boolean `true`, expected a string'
post "$SIM_ENDPOINT" /GetKey '{"path":null}';      expect_error "null string" "invalid type: null, expected a string"
post "$SIM_ENDPOINT" /GetQuote '{"report_data":null}'; expect_error "null bytes" "invalid type: null, expected a string"
post "$SIM_ENDPOINT" /GetQuote '{"report_data":[1]}';  expect_error "array for bytes" "invalid type: sequence, expected a string"
post "$SIM_ENDPOINT" /GetQuote '{"report_data":"abc"}'; expect_error "odd hex" "Odd number of digits"
post "$SIM_ENDPOINT" /GetQuote '{"report_data":"zz"}';  expect_error "bad hex char" "Invalid character 'z' at position 0"
post "$SIM_ENDPOINT" /GetQuote '{"report_data":"0x12g4"}'; expect_error "bad hex after 0x" "Invalid character 'g' at position 2"
post "$SIM_ENDPOINT" /GetTlsKey '{"usage_ra_tls":"yes"}'; expect_error "string for bool" 'invalid type: string \"yes\", expected a boolean'
post "$SIM_ENDPOINT" /GetTlsKey '{"alt_names":"a"}';   expect_error "string for list" 'invalid type: string \"a\", expected a sequence'
post "$SIM_ENDPOINT" /GetTlsKey '{"alt_names":[1]}';   expect_error "int in list" 'invalid type: integer `1`, expected a string'
post "$SIM_ENDPOINT" /GetTlsKey '{"not_before":-1}';   expect_error "negative u64" 'invalid value: integer `-1`, expected u64'
post "$SIM_ENDPOINT" /GetTlsKey '{"not_before":1.5}';  expect_error "float u64" 'invalid type: floating point `1.5`, expected u64'
post "$SIM_ENDPOINT" /GetTlsKey '{"not_before":null,"not_after":null}'
assert_eq "optional u64 null = unset" 200 "$STATUS"

# --- RPC errors of protocol.md §2.5 -----------------------------------------------------------------
rd65=$(printf '%0130d' 0)
post "$SIM_ENDPOINT" /GetQuote "{\"report_data\":\"$rd65\"}"; expect_error "GetQuote > 64" "Report data is too long"
post "$SIM_ENDPOINT" /Attest "{\"report_data\":\"$rd65\"}";   expect_error "Attest > 64" "Report data is too long"
post "$SIM_ENDPOINT" /GetQuote "{\"report_data\":\"$(printf '%0128d' 0)\"}"; assert_eq "GetQuote = 64" 200 "$STATUS"
post "$SIM_ENDPOINT" /GetKey '{"algorithm":"rsa"}';        expect_error "GetKey rsa" "Unsupported algorithm"
post "$SIM_ENDPOINT" /GetKey '{"algorithm":"secp256k1_prehashed"}'; expect_error "GetKey prehashed" "Unsupported algorithm"
post "$SIM_ENDPOINT" /Sign '{"algorithm":"p256","data":"00"}'; expect_error "Sign p256" "Unsupported algorithm"
post "$SIM_ENDPOINT" /Sign '{"algorithm":"secp256k1_prehashed","data":"0011"}'
expect_error "Sign prehashed length" "Pre-hashed signing requires a 32-byte digest, but received 2 bytes"
post "$SIM_ENDPOINT" /Verify '{"algorithm":"x","data":"","signature":"","public_key":""}'; expect_error "Verify alg" "Unsupported algorithm"
post "$SIM_ENDPOINT" /Verify '{"algorithm":"ed25519","data":"","signature":"","public_key":"00"}'; expect_error "Verify ed25519 key length" "invalid public key"
post "$SIM_ENDPOINT" /Verify "{\"algorithm\":\"ed25519\",\"data\":\"\",\"signature\":\"00\",\"public_key\":\"$(printf '%064d' 0)\"}"
expect_error "Verify ed25519 signature length" "signature error"
# the agent's Verify errors (protocol.md §2.6.6), the same in 0.5.11 and 0.6
sig64=$(printf '%0128d' 0)
for sock in "$SIM_ENDPOINT" "$V0511"; do
    post "$sock" /Verify '{"algorithm":"secp256k1","data":"","signature":"","public_key":"02"}'
    expect_error "Verify secp256k1 short key" "signature error"
    post "$sock" /Verify "{\"algorithm\":\"k256\",\"data\":\"\",\"signature\":\"$sig64\",\"public_key\":\"05$(printf '%064d' 0)\"}"
    expect_error "Verify secp256k1 bad tag" "signature error"
    # y = 2 has no x on Edwards25519: dalek's point decompression error, twice (anyhow chain)
    post "$sock" /Verify "{\"algorithm\":\"ed25519\",\"data\":\"00\",\"signature\":\"$sig64\",\"public_key\":\"02$(printf '%062d' 0)\"}"
    expect_error "Verify ed25519 non-point" "signature error: Cannot decompress Edwards point: Cannot decompress Edwards point"
    # y = 1 (the neutral element) decompresses: a well-formed key, a bad signature
    post "$sock" /Verify "{\"algorithm\":\"ed25519\",\"data\":\"00\",\"signature\":\"$sig64\",\"public_key\":\"01$(printf '%062d' 0)\"}"
    assert_eq "Verify ed25519 point, bad signature" '{"valid":false}' "$BODY"
    # prehashed digests under 16 bytes fail verification, not decoding
    post "$sock" /Sign '{"algorithm":"secp256k1","data":"00"}'
    pub=$(jq -r .public_key <<<"$BODY")
    post "$sock" /Verify "{\"algorithm\":\"secp256k1_prehashed\",\"data\":\"0011\",\"signature\":\"$(printf '%063d1%063d1' 0 0)\",\"public_key\":\"$pub\"}"
    assert_eq "Verify prehashed short digest" '{"valid":false}' "$BODY"
    post "$sock" /Verify "{\"algorithm\":\"secp256k1\",\"data\":\"00\",\"signature\":\"$sig64\",\"public_key\":\"$pub\"}"
    expect_error "Verify secp256k1 zero r/s" "signature error"
done
req "$SIM_EXTERNAL" /prpc/GetAttestationForAppKey -H 'Content-Type: application/json' -d '{}'
expect_error "GetAttestationForAppKey empty algorithm" "Unsupported algorithm"
req "$SIM_EXTERNAL" /prpc/GetAttestationForAppKey -H 'Content-Type: application/json' -d '{"algorithm":"secp256k1_prehashed"}'
expect_error "GetAttestationForAppKey prehashed" "Unsupported algorithm"
post "$SIM_TAPPD" /prpc/Tappd.TdxQuote '{"report_data":"00","hash_algorithm":"raw"}'; expect_error "TdxQuote raw length" "invalid content length"
post "$SIM_TAPPD" /prpc/Tappd.TdxQuote '{"report_data":"00","hash_algorithm":"sha1"}'; expect_error "TdxQuote bad hash" "invalid hash algorithm"
post "$SIM_TAPPD" /prpc/Tappd.RawQuote '{"report_data":"00"}'; expect_error "RawQuote length" "invalid content length"
post "$SIM_TAPPD" /prpc/Tappd.TdxQuote "{\"report_data\":\"$(printf '%0128d' 5)\",\"hash_algorithm\":\"raw\",\"prefix\":\"ignored\"}"
assert_eq "TdxQuote raw" 200 "$STATUS"
assert_eq "raw echoes empty prefix" "" "$(jq -r .prefix <<<"$BODY")"
post "$SIM_TAPPD" /prpc/Tappd.TdxQuote '{"report_data":"00","hash_algorithm":"keccak512","prefix":"mine"}'
assert_eq "0.6 echoes the custom prefix" "mine" "$(jq -r .prefix <<<"$BODY")"
post "$V0511_TAPPD" /prpc/Tappd.TdxQuote '{"report_data":"00","hash_algorithm":"keccak512","prefix":"mine"}'
assert_eq "custom prefix echoed as app-data (0.5.11)" "app-data" "$(jq -r .prefix <<<"$BODY")"
post "$SIM_TAPPD" /prpc/Tappd.TdxQuote '{"report_data":"00"}'
assert_eq "default prefix echoed" "app-data" "$(jq -r .prefix <<<"$BODY")"
# GetTlsKey validity order (0.6, protocol.md §2.6.4): checked when both ends are set
post "$SIM_ENDPOINT" /GetTlsKey '{"not_before":100,"not_after":100}'
expect_error "GetTlsKey not_before = not_after" "not_before must be earlier than not_after"
post "$SIM_ENDPOINT" /GetTlsKey '{"not_before":200,"not_after":100,"alt_names":["é"]}'
expect_error "validity is checked first" "not_before must be earlier than not_after"
post "$SIM_ENDPOINT" /GetTlsKey '{"not_after":100}';  assert_eq "GetTlsKey one end only" 200 "$STATUS"
post "$V0511" /GetTlsKey '{"not_before":100,"not_after":100}'; assert_eq "0.5.11 does not check" 200 "$STATUS"

# --- methods -------------------------------------------------------------------------------
post "$SIM_ENDPOINT" /EmitEvent '{"event":"wire-test","payload":"00"}'
expect_error "EmitEvent is gone in 0.6" "Service not found: EmitEvent"
post "$V0511" /EmitEvent '{"event":"wire-test","payload":"00"}'
assert_eq "EmitEvent body (0.5.11)" null "$BODY"
post "$SIM_ENDPOINT" /GpuInfo '{}';  assert_eq "GpuInfo without GPU" '{"attestation":""}' "$BODY"
req "$SIM_ENDPOINT" /GpuInfo;        assert_eq "GET GpuInfo" 200 "$STATUS"
post "$V0511" /GpuInfo '{}';         expect_error "no GpuInfo in 0.5.11" "Service not found: GpuInfo"
post "$SIM_ENDPOINT" /GetQuote '{}'
assert_eq "GetQuote on TDX: no attestation field" "quote,event_log,report_data,vm_config" "$(jq -r 'keys_unsorted|join(",")' <<<"$BODY")"
req "$SIM_EXTERNAL" /prpc/Worker.Info -H 'Content-Type: application/json' -d '{}'
assert_eq "Worker.Info hides tcb_info (public_tcbinfo false)" "" "$(jq -r .tcb_info <<<"$BODY")"
assert_eq "Worker.Info hides vm_config" "" "$(jq -r .vm_config <<<"$BODY")"
req "$SIM_TAPPD" /prpc/Tappd.Info
assert_ne "Tappd.Info keeps tcb_info" "" "$(jq -r .tcb_info <<<"$BODY")"
assert_eq "Info field order" "app_id,instance_id,app_cert,tcb_info,app_name,device_id,mr_aggregated,os_image_hash,key_provider_info,compose_hash,vm_config,cloud_vendor,cloud_product" "$(jq -r 'keys_unsorted|join(",")' <<<"$BODY")"
assert_eq "tcb_info event_log is an array" array "$(jq -r '.tcb_info|fromjson|.event_log|type' <<<"$BODY")"
assert_eq "built-in app_name" dstack-sim-app "$(jq -r .app_name <<<"$BODY")"
assert_eq "app_cert: demo cert + CA" 2 "$(jq -r .app_cert <<<"$BODY" | grep -c 'BEGIN CERTIFICATE')"
jq -r .app_cert <<<"$BODY" | openssl x509 -noout -subject -nameopt RFC2253 -ext extendedKeyUsage >"$DSTACK_TMP/demo" 2>&1
assert_contains "app_cert leaf is demo-cert" "$(cat "$DSTACK_TMP/demo")" "subject=CN=demo-cert"
assert_contains "app_cert leaf is a client cert" "$(cat "$DSTACK_TMP/demo")" "TLS Web Client Authentication"

# --- NUL inside strings: refused, never cut short (two paths must not share a key) ----------
post "$SIM_ENDPOINT" /GetKey '{"path":"a\u0000b"}'
expect_error "NUL in a JSON path" 'invalid value: string with a NUL character, expected `path` without NUL'
post "$SIM_ENDPOINT" /GetKey '{"path":"a","purpose":"p\u0000"}'
expect_error "NUL in a JSON purpose" 'invalid value: string with a NUL character, expected `purpose` without NUL'
req "$SIM_ENDPOINT" '/GetKey?path=%00abc'
expect_error "%00 in a query value" 'invalid value: string with a NUL character, expected `path` without NUL'
post "$SIM_ENDPOINT" /GetTlsKey '{"alt_names":["ok","x\u0000y"]}'
expect_error "NUL in a string list" 'invalid value: string with a NUL character, expected `alt_names` without NUL'
req "$SIM_ENDPOINT" '/GetKey?path=%E2%82%AC%2f%26'; q=$(jq -r .key <<<"$BODY")
post "$SIM_ENDPOINT" /GetKey '{"path":"€/&"}'
assert_eq "%-escapes decode to the same path as JSON" "$q" "$(jq -r .key <<<"$BODY")"
req "$SIM_ENDPOINT" '/GetKey?pa%00th=ignored&path=x'; q=$(jq -r .key <<<"$BODY")
post "$SIM_ENDPOINT" /GetKey '{"path":"x"}'
assert_eq "a query key with %00 names no field" "$q" "$(jq -r .key <<<"$BODY")"
req "$SIM_ENDPOINT" '/GetKey?path=%zz%4'; assert_eq "malformed %-escapes: still answered" 200 "$STATUS"

# --- body limit (10 MiB) -------------------------------------------------------------------
head -c $((10 * 1024 * 1024 + 1)) /dev/zero | tr '\0' ' ' >"$DSTACK_TMP/big"
req "$SIM_ENDPOINT" /GetKey -H 'Content-Type: application/json' --data-binary @"$DSTACK_TMP/big"
expect_error "oversize body" "failed to read data: payload too large"
post "$SIM_ENDPOINT" /Version '{}'; assert_eq "alive after oversize body" 200 "$STATUS"

stop_sim "$V0511_PID"
kill -TERM "$SIM_PID"; wait "$SIM_PID"; assert_eq "clean exit on SIGTERM" 0 "$?"
check "sockets removed" test ! -e "$SIM_DIR/dstack.sock" -a ! -e "$SIM_DIR/tappd.sock" -a ! -e "$SIM_DIR/external.sock" -a ! -e "$SIM_DIR/sim-control.sock"
finish
