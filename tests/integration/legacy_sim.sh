#!/usr/bin/env bash
# dstack-sim --agent-version: the method × release table (protocol.md §0) on the wire, and the
# behaviour differences of older agents (protocol.md §1.3, §2.4, §3.2, §3.3, §4.3, §4.6, §8).
source "$DSTACK_SOURCE_DIR/tests/integration/legacy_lib.sh"

# The development identity as an appkeys.json: the 0.3 derivation below reads its CA key.
APPKEYS=$(dev_appkeys) || { fail "dstack-sim --write-appkeys"; finish; }
VERSIONS=(0.3 0.4 0.5.5 0.5.11 0.6)
declare -A DIR
for v in "${VERSIONS[@]}"; do
    start_agent "v$v" "$v" --appkeys "$APPKEYS" --app-id "$DSTACK_DEV_APP_ID" ||
        { fail "simulator $v"; finish; }
    DIR[$v]=$SIM_DIR
done

# Command line.
out=$("$DSTACK_SIM" --dir "$DSTACK_TMP/bad" --agent-version 0.7 2>&1)
assert_eq "unknown --agent-version exits 2" 2 $?
assert_contains "unknown --agent-version names the choices" "$out" "expected 0.3, 0.4, 0.5.5, 0.5.11 or 0.6"
out=$("$DSTACK_SIM" --dir "$DSTACK_TMP/bad" --agent-version 0.3 --http 127.0.0.1:0 2>&1)
assert_eq "--http on 0.3 exits 2" 2 $?
assert_contains "--http on 0.3 explains" "$out" "DstackGuest, which a 0.3 agent does not have"

# 0.3 has no dstack.sock, but announces where a client would look for it.
check "0.3: no dstack.sock" test ! -e "${DIR[0.3]}/dstack.sock"
assert_contains "0.3: endpoint line still printed" "$(cat "${DIR[0.3]}/sim.out")" \
    "DSTACK_SIMULATOR_ENDPOINT=${DIR[0.3]}/dstack.sock"
for v in 0.4 0.5.5 0.5.11 0.6; do
    check "$v: dstack.sock exists" test -S "${DIR[$v]}/dstack.sock"
done

# expect <version> <socket file> <path> <body> <ok|missing|notfound>
#   ok: the method ran (no "Service not found", not 404); missing: 400 "Service not found:
#   <M>"; notfound: prpc 0.5's 404 "method Not Found".
expect() {
    local v=$1 sock=$2 path=$3 body=$4 want=$5 out status text method=${3##*/}
    method=${method#Tappd.}
    method=${method#Worker.}
    out=$(rpc "${DIR[$v]}/$sock" "$path" "$body")
    status=$(status_of "$out")
    text=$(body_of "$out")
    case $want in
    ok)
        if [ "$status" != 404 ] && [[ "$text" != *"Service not found"* ]]; then pass; else
            fail "$v $sock $path: expected the method to exist, got $status $text"; fi ;;
    missing)
        assert_eq "$v $sock $path status" 400 "$status"
        assert_contains "$v $sock $path message" "$text" "Service not found: $method" ;;
    notfound)
        assert_eq "$v $sock $path status" 404 "$status"
        assert_contains "$v $sock $path message" "$text" "method Not Found" ;;
    esac
}

RD64=$(printf '%0128d' 0)
# method                           body                                   0.3      0.4      0.5.5    0.5.11   0.6
TABLE=(
"dstack.sock /GetKey              {\"path\":\"a\"}                         -        ok       ok       ok       ok"
"dstack.sock /GetTlsKey           {}                                     -        ok       ok       ok       ok"
"dstack.sock /GetQuote            {}                                     -        ok       ok       ok       ok"
"dstack.sock /Info                {}                                     -        ok       ok       ok       ok"
"dstack.sock /EmitEvent           {\"event\":\"e\"}                        -        missing  ok       ok       missing"
"dstack.sock /Attest              {}                                     -        missing  missing  ok       ok"
"dstack.sock /Sign                {\"algorithm\":\"ed25519\"}              -        missing  missing  ok       ok"
"dstack.sock /Verify              {}                                     -        missing  missing  ok       ok"
"dstack.sock /Version             {}                                     -        missing  missing  ok       ok"
"dstack.sock /GpuInfo             {}                                     -        missing  missing  missing  ok"
"tappd.sock /prpc/Tappd.DeriveKey {\"path\":\"a\"}                         ok       ok       ok       ok       ok"
"tappd.sock /prpc/DeriveKey       {\"path\":\"a\"}                         notfound ok       ok       ok       ok"
"tappd.sock /prpc/Tappd.DeriveK256Key {\"path\":\"a\"}                     notfound ok       ok       ok       ok"
"tappd.sock /prpc/Tappd.TdxQuote  {}                                     ok       ok       ok       ok       ok"
"tappd.sock /prpc/Tappd.RawQuote  {\"report_data\":\"$RD64\"}              ok       ok       ok       ok       ok"
"tappd.sock /prpc/Tappd.Info      {}                                     ok       ok       ok       ok       ok"
"tappd.sock /prpc/Tappd.Version   {}                                     notfound missing  missing  ok       ok"
"tappd.sock /prpc/Tappd.GpuInfo   {}                                     notfound missing  missing  missing  missing"
"tappd.sock /prpc/Tappd.Bogus     {}                                     notfound missing  missing  missing  missing"
"external.sock /prpc/Worker.Info  {}                                     ok       ok       ok       ok       ok"
"external.sock /prpc/Info         {}                                     notfound ok       ok       ok       ok"
"external.sock /prpc/Worker.Version {}                                   ok       ok       ok       ok       ok"
"external.sock /prpc/Worker.GetAttestationForAppKey {\"algorithm\":\"ed25519\"} notfound missing missing ok ok"
)
for row in "${TABLE[@]}"; do
    read -r sock path body w03 w04 w055 w0511 w06 <<<"$row"
    i=0
    for want in "$w03" "$w04" "$w055" "$w0511" "$w06"; do
        v=${VERSIONS[$i]}
        i=$((i + 1))
        [ "$want" == - ] && continue
        expect "$v" "$sock" "$path" "$body" "$want"
    done
done
# 0.3: a wrong path shape is still Rocket-style 404, not a method error.
out=$(rpc "${DIR[0.3]}/tappd.sock" /DeriveKey '{"path":"a"}')
assert_eq "0.3 /DeriveKey (no /prpc) is 404" 404 "$(status_of "$out")"

# Version and X-App-Version name the emulated release.
for pair in 0.3:0.3.6 0.4:0.4.2 0.5.5:0.5.5 0.5.11:0.5.11 0.6:0.6.0; do
    v=${pair%%:*} rel=${pair#*:}
    got=$(rpc "${DIR[$v]}/external.sock" /prpc/Worker.Version | sed '$d' | json_get version)
    assert_eq "$v Worker.Version" "$rel" "$got"
    hdr=$(curl -s -D - -o /dev/null --unix-socket "${DIR[$v]}/external.sock" \
        -H 'Content-Type: application/json' -d '{}' http://localhost/prpc/Worker.Info |
        tr -d '\r' | grep -i '^X-App-Version:')
    assert_contains "$v X-App-Version" "$hdr" "v$rel ("
done

# GetKey ignores `algorithm` before 0.5.6 (protocol.md §3.3): same bytes, same chain, any value.
for v in 0.4 0.5.5; do
    s="${DIR[$v]}/dstack.sock"
    k=$(rpc "$s" /GetKey '{"path":"p","purpose":"x","algorithm":"secp256k1"}' | sed '$d')
    e=$(rpc "$s" /GetKey '{"path":"p","purpose":"x","algorithm":"ed25519"}' | sed '$d')
    assert_eq "$v: GetKey ignores algorithm=ed25519" "$k" "$e"
    out=$(rpc "$s" /GetKey '{"path":"p","algorithm":"no-such-alg"}')
    assert_eq "$v: GetKey accepts any algorithm" 200 "$(status_of "$out")"
done
out=$(rpc "${DIR[0.5.11]}/dstack.sock" /GetKey '{"path":"p","algorithm":"no-such-alg"}')
assert_contains "0.5.11: GetKey rejects an unknown algorithm" "$out" "Unsupported algorithm"
k04=$(rpc "${DIR[0.4]}/dstack.sock" /GetKey '{"path":"p"}' | sed '$d' | json_get key)
k0511=$(rpc "${DIR[0.5.11]}/dstack.sock" /GetKey '{"path":"p"}' | sed '$d' | json_get key)
assert_eq "0.4 and 0.5.11 GetKey bytes agree" "$k0511" "$k04"
e0511=$(rpc "${DIR[0.5.11]}/dstack.sock" /GetKey '{"path":"p","algorithm":"ed25519"}' | sed '$d' |
    json_get signature_chain)
e04=$(rpc "${DIR[0.4]}/dstack.sock" /GetKey '{"path":"p","algorithm":"ed25519"}' | sed '$d' |
    json_get signature_chain)
assert_ne "0.4 ed25519 chain signs the secp256k1 key, not the ed25519 one" "$e0511" "$e04"

# Tappd.DeriveKey: 0.4+ derive from the app key (= GetKey bytes), 0.3 from the app CA's
# P-256 scalar (protocol.md §3.2 last row), checked against HKDF-SHA256(salt "RATLS") computed here.
p04=$(tappd_p256_pub "${DIR[0.4]}/tappd.sock" tls/web)
check "0.4 DeriveKey key present" test -n "$p04"
assert_eq "0.4 DeriveKey = GetKey bytes as P-256" "$(getkey_p256_pub "${DIR[0.4]}/dstack.sock" tls/web)" "$p04"
p03=$(tappd_p256_pub "${DIR[0.3]}/tappd.sock" tls/web)
check "0.3 DeriveKey key present" test -n "$p03"
assert_ne "0.3 DeriveKey differs from 0.4's" "$p04" "$p03"
want03=$(python3 - "$APPKEYS" <<'PY'
import base64, hashlib, hmac, json, sys
pem = json.load(open(sys.argv[1]))["key_provider"]["None"]["key"]
der = base64.b64decode("".join(l for l in pem.splitlines() if not l.startswith("-----")))
i = der.index(b"\x02\x01\x01\x04\x20")  # ECPrivateKey: version 1, privateKey OCTET STRING
ikm = der[i + 5:i + 37]
prk = hmac.new(b"RATLS", ikm, hashlib.sha256).digest()
print(hmac.new(prk, b"tls/web\x01", hashlib.sha256).hexdigest())
PY
)
want03_pub=$(printf '30310201010420%sa00a06082a8648ce3d030107' "$want03" | xxd -r -p |
    openssl ec -inform DER -pubout 2>/dev/null)
assert_eq "0.3 DeriveKey = HKDF(app CA scalar, path)" "$want03_pub" "$p03"

# Info message per release (protocol.md §2.4).
keys=$(rpc "${DIR[0.3]}/tappd.sock" /prpc/Tappd.Info | sed '$d' | json_keys)
assert_eq "0.3 WorkerInfo fields" "app_id,instance_id,app_cert,tcb_info,app_name,public_logs,public_sysinfo" "$keys"
tcb=$(rpc "${DIR[0.3]}/tappd.sock" /prpc/Tappd.Info | sed '$d' | json_get tcb_info | json_keys)
assert_contains "0.3 tcb_info has rootfs_hash" "$tcb" "rootfs_hash"
assert_not_contains "0.3 tcb_info has no mr_aggregated" "$tcb" "mr_aggregated"
keys=$(rpc "${DIR[0.4]}/dstack.sock" /Info | sed '$d' | json_keys)
assert_eq "0.4 WorkerInfo fields" "app_id,instance_id,app_cert,tcb_info,app_name,public_logs,public_sysinfo,device_id,mr_aggregated,mr_image,mr_key_provider,key_provider_info,compose_hash" "$keys"
keys=$(rpc "${DIR[0.5.5]}/dstack.sock" /Info | sed '$d' | json_keys)
assert_eq "0.5.5 AppInfo fields" "app_id,instance_id,app_cert,tcb_info,app_name,device_id,mr_aggregated,os_image_hash,key_provider_info,compose_hash,vm_config" "$keys"
keys=$(rpc "${DIR[0.5.11]}/dstack.sock" /Info | sed '$d' | json_keys)
assert_contains "0.5.11 AppInfo has cloud_product" "$keys" "vm_config,cloud_vendor,cloud_product"
assert_eq "0.6 AppInfo fields = 0.5.11's" "$keys" "$(rpc "${DIR[0.6]}/dstack.sock" /Info | sed '$d' | json_keys)"
# Info.app_cert: 0.3 the app CA, later the agent's demo client certificate chain (protocol.md §2.6.5)
cert=$(rpc "${DIR[0.3]}/tappd.sock" /prpc/Tappd.Info | sed '$d' | json_get app_cert)
assert_eq "0.3 app_cert = the CA" "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["ca_cert"], end="")' "$APPKEYS")" "$cert"
for v in 0.4 0.5.5 0.5.11 0.6; do
    cert=$(rpc "${DIR[$v]}/dstack.sock" /Info | sed '$d' | json_get app_cert)
    assert_contains "$v app_cert is demo-cert" "$(openssl x509 -noout -subject -nameopt RFC2253 <<<"$cert")" "subject=CN=demo-cert"
done

# Quote logs stripped since 0.5.6 (protocol.md §5.2); ACPI DATA named and kept in 0.6 (§5.2.1).
acpi() { # acpi <version> — the RTMR0 EV_PLATFORM_CONFIG_FLAGS events of a GetQuote log as
         # "name:payload" lines (a TD HOB, then the three ACPI DATA events)
    rpc "${DIR[$1]}/dstack.sock" /GetQuote | sed '$d' | json_get event_log | python3 -c '
import json, sys
for e in json.loads(sys.stdin.read()):
    if e["imr"] == 0 and e["event_type"] == 10 and e["digest"]:
        print("%s:%s" % (e["event"], e["event_payload"]))'
}
runtime_digests() { # runtime_digests <version> — how many runtime events keep a digest
    rpc "${DIR[$1]}/dstack.sock" /GetQuote | sed '$d' | json_get event_log | python3 -c '
import json, sys
print(sum(1 for e in json.loads(sys.stdin.read()) if e["event_type"] == 134217729 and e["digest"]))'
}
check "0.5.5 quote log is full" test "$(runtime_digests 0.5.5)" -ge 9
assert_eq "0.5.11 quote log is stripped" 0 "$(runtime_digests 0.5.11)"
assert_eq "0.6 quote log is stripped" 0 "$(runtime_digests 0.6)"
assert_contains "0.5.5 keeps boot payloads" "$(acpi 0.5.5)" ":414350492044415441"
assert_eq "0.5.11 blanks ACPI DATA payloads, no names" "$(printf ':\n:\n:\n:')" "$(acpi 0.5.11)"
assert_eq "0.6 names ACPI DATA and keeps the marker" \
    "$(printf ':\nacpi-loader:414350492044415441\nacpi-rsdp:414350492044415441\nacpi-tables:414350492044415441')" \
    "$(acpi 0.6)"

# GetQuote vm_config since 0.5.4.
keys=$(rpc "${DIR[0.4]}/dstack.sock" /GetQuote | sed '$d' | json_keys)
assert_eq "0.4 GetQuote fields" "quote,event_log,report_data" "$keys"
keys=$(rpc "${DIR[0.5.5]}/dstack.sock" /GetQuote | sed '$d' | json_keys)
assert_eq "0.5.5 GetQuote fields" "quote,event_log,report_data,vm_config" "$keys"

# Agent-issued leaves (protocol.md §4.3, §4.6): extensions, SAN kinds, KeyUsage, validity.
leaf() { # leaf <version> <socket> <path> <body> → $DSTACK_TMP/leaf-<version>.pem
    rpc "${DIR[$1]}/$2" "$3" "$4" | sed '$d' | json_get certificate_chain |
        python3 -c 'import json,sys; print(json.load(sys.stdin)[0], end="")' \
        >"$DSTACK_TMP/leaf-$1.pem"
}
body='{"path":"tls/web","subject":"web","alt_names":["10.0.0.5","web.example"],"usage_ra_tls":true}'
for v in 0.3 0.4 0.5.5 0.5.11 0.6; do
    leaf "$v" tappd.sock /prpc/Tappd.DeriveKey "$body"
    text=$(openssl x509 -in "$DSTACK_TMP/leaf-$v.pem" -noout -text 2>&1)
    case $v in
    0.3)
        assert_not_contains "0.3 leaf: no quote" "$text" "1.3.6.1.4.1.62397.1.1"
        assert_not_contains "0.3 leaf: no attestation" "$text" "1.3.6.1.4.1.62397.1.8"
        assert_not_contains "0.3 leaf: no KeyUsage" "$text" "Key Usage"
        end=$(openssl x509 -in "$DSTACK_TMP/leaf-$v.pem" -noout -enddate | cut -d= -f2)
        days=$(( ($(date -d "$end" +%s) - $(date +%s)) / 86400 ))
        check "0.3 leaf lives 365 days (got $days)" test "$days" -ge 363 -a "$days" -le 365 ;;
    0.4 | 0.5.5)
        assert_contains "$v leaf: .1.1 quote" "$text" "1.3.6.1.4.1.62397.1.1"
        assert_contains "$v leaf: .1.2 event log" "$text" "1.3.6.1.4.1.62397.1.2"
        assert_not_contains "$v leaf: no .1.8" "$text" "1.3.6.1.4.1.62397.1.8"
        check "$v leaf: quote binds the key" ratls_binds "$DSTACK_TMP/leaf-$v.pem" ;;
    0.5.11 | 0.6)
        assert_contains "$v leaf: .1.8" "$text" "1.3.6.1.4.1.62397.1.8"
        assert_not_contains "$v leaf: no .1.1" "$text" "1.3.6.1.4.1.62397.1.1" ;;
    esac
    if [ "$v" == 0.5.11 ] || [ "$v" == 0.6 ]; then
        assert_contains "$v leaf: IP SAN" "$text" "IP Address:10.0.0.5"
    else
        assert_contains "$v leaf: every SAN is a DNS name" "$text" "DNS:10.0.0.5, DNS:web.example"
        check "$v leaf verifies against the CA" openssl verify -partial_chain -CAfile \
            <(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["ca_cert"])' "$APPKEYS") \
            "$DSTACK_TMP/leaf-$v.pem" >/dev/null
    fi
done

# GetTlsKey not_before/not_after/with_app_info: 0.5.6+; older agents ignore them.
body='{"subject":"x","not_before":0,"not_after":86400,"with_app_info":true}'
for v in 0.4 0.5.11; do
    leaf "$v" dstack.sock /GetTlsKey "$body"
done
assert_contains "0.5.11 GetTlsKey honours not_after" \
    "$(openssl x509 -in "$DSTACK_TMP/leaf-0.5.11.pem" -noout -enddate)" "1970"
assert_not_contains "0.4 GetTlsKey ignores not_after" \
    "$(openssl x509 -in "$DSTACK_TMP/leaf-0.4.pem" -noout -enddate)" "1970"
assert_not_contains "0.4 GetTlsKey ignores with_app_info" \
    "$(openssl x509 -in "$DSTACK_TMP/leaf-0.4.pem" -noout -text)" "1.3.6.1.4.1.62397.1.9"

# Old releases keep the stats socket and stop cleanly.
out=$(curl -s --unix-socket "${DIR[0.3]}/sim-control.sock" http://localhost/stats)
assert_contains "0.3 stats: no dstack connections" "$out" '"dstack":0'
stop_sim
finish
