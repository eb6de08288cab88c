#!/usr/bin/env bash
# dstack-sim certificates (protocol.md §2.1, §2.2, §4.6): every chain verifies with openssl, leaf
# layout (serial, validity, SAN IP/DNS, KeyUsage, EKU, custom extensions), key/cert match.
source "$DSTACK_SOURCE_DIR/tests/lib/common.sh"
require curl jq openssl xxd

n=0
# issue <socket> <path> <json> [openssl verify options] — writes $DSTACK_TMP/c$n.{key,leaf,ca,chain}; sets C
issue() {
    n=$((n + 1)); C="$DSTACK_TMP/c$n"
    curl -sS --unix-socket "$1" -H 'Content-Type: application/json' -d "$3" "http://localhost$2" >"$C.json"
    jq -r .key "$C.json" >"$C.key"
    jq -r '.certificate_chain[0]' "$C.json" >"$C.leaf"
    jq -r '.certificate_chain[1]' "$C.json" >"$C.ca"
    assert_eq "$2 chain length" 2 "$(jq '.certificate_chain|length' "$C.json")"
    check "$2 $3: openssl verify" openssl verify "${@:4}" -CAfile "$C.ca" "$C.leaf"
    assert_eq "$2 key matches leaf" "$(openssl pkey -in "$C.key" -pubout)" "$(openssl x509 -in "$C.leaf" -pubkey -noout)"
    assert_contains "$2 PKCS#8 PEM" "$(head -1 "$C.key")" "-----BEGIN PRIVATE KEY-----"
    TEXT=$(openssl x509 -in "$C.leaf" -noout -text)
}
# app_info_shape <leaf.pem> — first and last byte of the .1.9 payload (msgpack array header,
# last element)
app_info_shape() {
    openssl x509 -in "$1" -outform DER | python3 -c '
import sys
der = sys.stdin.buffer.read()
oid = bytes.fromhex("060a2b0601040183e73d0109")  # 1.3.6.1.4.1.62397.1.9
i = der.index(oid) + len(oid)
def body(j):  # content offset and length of the DER TLV at j
    n = der[j + 1]
    if n < 0x80:
        return j + 2, n
    k = n & 0x7f
    return j + 2 + k, int.from_bytes(der[j + 2:j + 2 + k], "big")
j, _ = body(i)       # extnValue OCTET STRING
j, n = body(j)       # the inner OCTET STRING (protocol.md §4.1)
print("%02x %02x" % (der[j], der[j + n - 1]))'
}
serial_ok() { # serial = SHA-256(uncompressed point)[0..20], top bit cleared
    local point d expected got
    point=$(openssl x509 -in "$1" -pubkey -noout | openssl pkey -pubin -outform DER | tail -c 65 | xxd -p | tr -d '\n')
    d=$(printf '%s' "$point" | xxd -r -p | openssl dgst -sha256 -r | cut -c1-40)
    expected=$(printf '%02x%s' $((0x${d:0:2} & 0x7f)) "${d:2}" | sed 's/^0*//' | tr a-f A-F)
    got=$(openssl x509 -in "$1" -noout -serial | cut -d= -f2 | sed 's/^0*//')
    [ "$expected" == "$got" ]
}

# An appkeys.json whose CA is not the built-in one: the development identity with a CA made
# here by openssl.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/O=Test/CN=Test CA" \
    -addext basicConstraints=critical,CA:TRUE -days 30 -keyout "$DSTACK_TMP/ca.key" \
    -out "$DSTACK_TMP/ca.crt" 2>/dev/null || fail "make a test CA"
jq --rawfile key "$DSTACK_TMP/ca.key" --rawfile crt "$DSTACK_TMP/ca.crt" \
    '.key_provider = {"None": {"key": $key}} | .ca_cert = $crt' "$(dev_appkeys)" \
    >"$DSTACK_TMP/appkeys.json" || fail "write appkeys.json"

for ident in builtin appkeys; do
    if [ "$ident" == appkeys ]; then
        start_sim certs-$ident --appkeys "$DSTACK_TMP/appkeys.json" \
            --app-id "$DSTACK_DEV_APP_ID" || { fail "sim start"; finish; }
    else
        start_sim certs-$ident || { fail "sim start"; finish; }
    fi

    # GetTlsKey with nothing requested: no EKU, no attestation, rcgen defaults
    issue "$SIM_ENDPOINT" /GetTlsKey '{"subject":"plain"}'
    assert_contains "subject CN" "$(openssl x509 -in "$C.leaf" -noout -subject -nameopt oneline)" "CN = plain"
    assert_contains "KeyUsage critical" "$TEXT" "X509v3 Key Usage: critical"
    assert_contains "digitalSignature" "$TEXT" "Digital Signature"
    assert_not_contains "no EKU unless requested" "$TEXT" "Extended Key Usage"
    assert_not_contains "no BasicConstraints on leaves" "$TEXT" "Basic Constraints"
    assert_not_contains "no SKI on leaves" "$TEXT" "Subject Key Identifier"
    assert_contains "app:custom usage" "$TEXT" "1.3.6.1.4.1.62397.1.4"
    assert_not_contains "no .1.8 without usage_ra_tls" "$TEXT" "1.3.6.1.4.1.62397.1.8"
    assert_contains "notBefore 1975-01-01" "$(openssl x509 -in "$C.leaf" -noout -startdate)" "Jan  1 00:00:00 1975 GMT"
    check "notAfter about now + 3650 days" openssl x509 -in "$C.leaf" -noout -checkend $((3649 * 86400))
    check "notAfter not beyond 3650 days" bash -c "! openssl x509 -in '$C.leaf' -noout -checkend $((3651 * 86400)) >/dev/null"
    check "serial derived from the key" serial_ok "$C.leaf"
    assert_eq "issuer = CA subject" "$(openssl x509 -in "$C.ca" -noout -subject | cut -d= -f2-)" "$(openssl x509 -in "$C.leaf" -noout -issuer | cut -d= -f2-)"
    assert_contains "ecdsa-with-SHA256" "$TEXT" "ecdsa-with-SHA256"
    assert_contains "P-256 key" "$TEXT" "prime256v1"
    k1=$(openssl pkey -in "$C.key" -pubout)
    issue "$SIM_ENDPOINT" /GetTlsKey '{"subject":"plain"}'
    assert_ne "GetTlsKey keys are random" "$k1" "$(openssl pkey -in "$C.key" -pubout)"

    # everything requested
    issue "$SIM_ENDPOINT" /GetTlsKey '{"subject":"full","alt_names":["api.example.com","10.0.0.5","::1"],"usage_server_auth":true,"usage_client_auth":true,"usage_ra_tls":true,"with_app_info":true,"not_before":1700000000,"not_after":1900000000}'
    assert_contains "DNS SAN" "$TEXT" "DNS:api.example.com"
    assert_contains "IPv4 SAN (0.5.11)" "$TEXT" "IP Address:10.0.0.5"
    assert_contains "IPv6 SAN" "$TEXT" "IP Address:0:0:0:0:0:0:0:1"
    assert_contains "serverAuth" "$TEXT" "TLS Web Server Authentication"
    assert_contains "clientAuth" "$TEXT" "TLS Web Client Authentication"
    assert_contains ".1.8 attestation" "$TEXT" "1.3.6.1.4.1.62397.1.8"
    assert_contains ".1.9 app info" "$TEXT" "1.3.6.1.4.1.62397.1.9"
    assert_contains "not_before honoured" "$(openssl x509 -in "$C.leaf" -noout -startdate)" "Nov 14 22:13:20 2023 GMT"
    assert_contains "not_after honoured" "$(openssl x509 -in "$C.leaf" -noout -enddate)" "Mar 17 17:46:40 2030 GMT"
    check "server purpose" openssl verify -purpose sslserver -CAfile "$C.ca" "$C.leaf"
    check "client purpose" openssl verify -purpose sslclient -CAfile "$C.ca" "$C.leaf"
    order=$(grep -oE '(X509v3 [A-Za-z ]+|1\.3\.6\.1\.4\.1\.62397\.1\.[0-9])' <<<"$TEXT" | grep -v "X509v3 extensions" | tr '\n' ',')
    assert_eq "extension order (protocol.md §4.6)" "X509v3 Subject Alternative Name,X509v3 Key Usage,X509v3 Extended Key Usage,1.3.6.1.4.1.62397.1.9,1.3.6.1.4.1.62397.1.4,1.3.6.1.4.1.62397.1.8," "$order"

    # .1.9 of 0.6: nine elements, the last init_script_hashes = [] (protocol.md §4.5.3)
    assert_eq ".1.9 is a 9-element array ending in [] (0.6)" "99 90" "$(app_info_shape "$C.leaf")"
    curl -sS --unix-socket "$SIM_ENDPOINT" -H 'Content-Type: application/json' -d '{"subject":"zero","not_before":0,"not_after":0}' http://localhost/GetTlsKey >"$DSTACK_TMP/bad.json"
    assert_eq "0/0 refused (0.6)" "not_before must be earlier than not_after" "$(jq -r .error "$DSTACK_TMP/bad.json")"
    curl -sS --unix-socket "$SIM_ENDPOINT" -H 'Content-Type: application/json' -d '{"not_after":99999999999999}' http://localhost/GetTlsKey >"$DSTACK_TMP/bad.json"
    assert_contains "absurd not_after refused" "$(jq -r .error "$DSTACK_TMP/bad.json")" "Failed to sign the CSR"
    curl -sS --unix-socket "$SIM_ENDPOINT" -H 'Content-Type: application/json' -d '{"alt_names":["bücher.example"]}' http://localhost/GetTlsKey >"$DSTACK_TMP/bad.json"
    assert_contains "non-ASCII DNS name refused" "$(jq -r .error "$DSTACK_TMP/bad.json")" "invalid DNS name"

    # Tappd.DeriveKey: deterministic key = GetKey(path) scalar, fresh certificate
    issue "$SIM_TAPPD" /prpc/Tappd.DeriveKey '{"path":"tls/web","subject":"web","alt_names":["web.example"]}'
    first_key=$(openssl pkey -in "$C.key" -pubout); first_leaf=$(cat "$C.leaf")
    assert_not_contains "DeriveKey: no EKU unless asked" "$TEXT" "Extended Key Usage"
    issue "$SIM_TAPPD" /prpc/Tappd.DeriveKey '{"path":"tls/web","subject":"web","usage_ra_tls":true}'
    assert_eq "DeriveKey deterministic per path" "$first_key" "$(openssl pkey -in "$C.key" -pubout)"
    assert_contains "DeriveKey usage_ra_tls" "$TEXT" "1.3.6.1.4.1.62397.1.8"
    scalar=$(curl -sS --unix-socket "$SIM_ENDPOINT" -H 'Content-Type: application/json' -d '{"path":"tls/web"}' http://localhost/GetKey | jq -r .key)
    assert_contains "DeriveKey scalar = GetKey(path).key" "$(openssl pkey -in "$C.key" -text -noout | sed -n '/priv:/,/pub:/p' | tr -d ' :\n')" "$scalar"
    issue "$SIM_TAPPD" /prpc/DeriveKey '{"path":"tls/web","random_seed":true}'
    assert_ne "random_seed changes the key" "$first_key" "$(openssl pkey -in "$C.key" -pubout)"

    # the CA
    CA_TEXT=$(openssl x509 -in "$C.ca" -noout -text)
    assert_contains "CA is a CA" "$CA_TEXT" "CA:TRUE"
    check "CA self-signed" openssl verify -CAfile "$C.ca" "$C.ca"
    if [ "$ident" == builtin ]; then
        assert_contains "built-in CA says INSECURE" "$(openssl x509 -in "$C.ca" -noout -subject)" "dstack-sim INSECURE development CA"
        builtin_ca_pub=$(openssl x509 -in "$C.ca" -pubkey -noout)
    else
        assert_ne "appkeys CA differs from built-in" "$builtin_ca_pub" "$(openssl x509 -in "$C.ca" -pubkey -noout)"
    fi
    kill -TERM "$SIM_PID"; wait "$SIM_PID"; assert_eq "dstack-sim clean exit" 0 "$?"
done

# 0.5.11 had no validity check: 0/0 made a 1970 certificate (protocol.md §10.7); its .1.9 has
# eight elements.
start_sim certs-v0511 --agent-version 0.5.11 || { fail "sim start"; finish; }
issue "$SIM_ENDPOINT" /GetTlsKey '{"subject":"zero","not_before":0,"not_after":0}' -no_check_time
assert_contains "0/0 accepted like v0.5.11 (1970 certificate)" "$(openssl x509 -in "$C.leaf" -noout -enddate)" "Jan  1 00:00:00 1970 GMT"
issue "$SIM_ENDPOINT" /GetTlsKey '{"subject":"info","with_app_info":true}'
assert_eq ".1.9 is an 8-element array (0.5.11)" 98 "$(app_info_shape "$C.leaf" | cut -d' ' -f1)"
kill -TERM "$SIM_PID"; wait "$SIM_PID"; assert_eq "dstack-sim clean exit" 0 "$?"

# The built-in identity is reproducible across runs.
start_sim certs-again || { fail "sim start"; finish; }
issue "$SIM_TAPPD" /prpc/Tappd.DeriveKey '{"path":"tls/web"}'
assert_eq "built-in CA key stable across runs" "$builtin_ca_pub" "$(openssl x509 -in "$C.ca" -pubkey -noout)"
kill -TERM "$SIM_PID"; wait "$SIM_PID"; assert_eq "dstack-sim clean exit" 0 "$?"
finish
