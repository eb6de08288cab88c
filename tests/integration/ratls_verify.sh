#!/usr/bin/env bash
# RA-TLS verification with Intel collateral end to end (protocol.md §5.6–§5.8,
# architecture.md §12): dstack-sim's simulated Intel and its PCCS (--pccs), openssl s_server
# presenting a dstack:…?cert=self RA-TLS certificate through the provider, then `dstack-keytool
# verify --connect` and examples/ratls_client verifying it during the handshake. A wrong app id, a
# wrong compose hash, a disallowed TCB status, a certificate whose key the quote does not bind,
# an unreachable PCCS and a faulty PCCS each fail with their own reason; collateral files,
# `dstack-keytool collateral`, DSTACK_PCCS_URL and the on-disk cache work.
source "$DSTACK_SOURCE_DIR/tests/integration/provider_lib.sh"
require openssl jq xxd

KEYTOOL="$DSTACK_KEYTOOL"
CLIENT="$DSTACK_EXAMPLES_DIR/example-ratls_client"
work="$DSTACK_TMP/work"
mkdir -p "$work"
URI='dstack:tls/web?cert=self'

start_sim intel --pccs 127.0.0.1:0 || { fail "simulator"; finish; }
ROOT="$SIM_DIR/sim-intel-root.pem"
PCCS=$SIM_PCCS
check "the simulator announces its PCCS" test -n "$PCCS"
check "the simulator writes its root CA" grep -q "BEGIN CERTIFICATE" "$ROOT"
assert_contains "the root is the simulated Intel's" "$(openssl x509 -in "$ROOT" -noout -subject)" \
    "dstack-sim SGX Root CA (simulated, not Intel)"

# serve <name> <key> <cert> — s_server on a free port (sets PORT); key/cert may be dstack: URIs.
serve() {
    PORT=$(free_port)
    DSTACK_SIMULATOR_ENDPOINT="$SIM_ENDPOINT" TAPPD_SIMULATOR_ENDPOINT="$SIM_TAPPD" \
        bg run_foreign openssl s_server "${PROV_FLAGS[@]}" -accept "127.0.0.1:$PORT" \
        -key "$2" -cert "$3" -quiet >"$DSTACK_TMP/$1.out" 2>&1
    wait_port "$PORT" || { log "s_server did not start: $(cat "$DSTACK_TMP/$1.out")"; return 1; }
}
serve ratls "$URI" "$URI" || { fail "s_server"; finish; }
GOOD=$PORT
kt() { DSTACK_SIMULATOR_ENDPOINT="$SIM_ENDPOINT" run_foreign "$KEYTOOL" "$@"; }

# ---- the handshake succeeds with the sim's PCCS and root ------------------------------------
json=$(kt verify --connect "127.0.0.1:$GOOD" --pccs-url "$PCCS" --trusted-root "$ROOT" --json)
assert_eq "verify --connect: exit 0" 0 $?
assert_eq "verified" true "$(jq -r .verified <<<"$json")"
assert_eq "source" "127.0.0.1:$GOOD" "$(jq -r .source <<<"$json")"
assert_eq "dcap_ok" true "$(jq -r .quote.dcap_ok <<<"$json")"
assert_eq "tcb_status" UpToDate "$(jq -r .quote.tcb_status <<<"$json")"
assert_eq "advisory_ids" "[]" "$(jq -c .quote.advisory_ids <<<"$json")"
check "collateral_expires is a time" test "$(jq -r .quote.collateral_expires <<<"$json")" -gt "$(date +%s)"
for f in tcb_status_checked revocation_checked qe_identity_checked collateral_used; do
    assert_eq "$f" true "$(jq -r ".quote.$f" <<<"$json")"
done
assert_eq "app id from the attestation" "$DSTACK_DEV_APP_ID" "$(jq -r .app_id <<<"$json")"
compose=$(jq -r .compose_hash <<<"$json")
out=$("$CLIENT" --pccs-url "$PCCS" --trusted-root "$ROOT" "127.0.0.1:$GOOD" 2>&1)
assert_eq "ratls_client: exit 0" 0 $?
assert_contains "ratls_client: verified" "$out" "verified: 127.0.0.1:$GOOD"
assert_contains "ratls_client: status" "$out" "tcb status: UpToDate"
stats() { curl -s --unix-socket "$SIM_DIR/sim-control.sock" http://localhost/stats | jq .requests.pccs; }
before=$(stats)
out=$("$CLIENT" --pccs-url "$PCCS" --trusted-root "$ROOT" --app-id "$DSTACK_DEV_APP_ID" \
    --compose-hash "$compose" --count 5 "127.0.0.1:$GOOD" 2>&1)
assert_eq "ratls_client with the right policy, 5 handshakes: exit 0" 0 $?
assert_contains "ratls_client: rate line" "$out" "handshakes: 5 in"
assert_eq "5 handshakes, one collateral fetch (4 PCCS requests)" 4 $(( $(stats) - before ))
before=$(stats)
"$CLIENT" --pccs-url "$PCCS" --trusted-root "$ROOT" --no-verdict-cache --count 3 "127.0.0.1:$GOOD" >/dev/null
assert_eq "--no-verdict-cache: verified 3 times, collateral still fetched once" 4 $(( $(stats) - before ))
json=$(DSTACK_PCCS_URL="$PCCS" kt verify --connect "localhost:$GOOD" --servername web \
    --trusted-root "$ROOT" --json)
assert_eq "DSTACK_PCCS_URL and --servername: exit 0" 0 $?
assert_eq "DSTACK_PCCS_URL: collateral used" true "$(jq -r .quote.collateral_used <<<"$json")"
text=$(kt verify --connect "127.0.0.1:$GOOD" --pccs-url "$PCCS" --trusted-root "$ROOT")
assert_contains "text: TCB status" "$text" "TCB status:             UpToDate (allowed)"
assert_contains "text: result" "$text" "result:                 VERIFIED"

# ---- each failure with its own reason ---------------------------------------------------------
# expect_fail <what> <exit> <reason> <command...>
expect_fail() {
    local what=$1 want=$2 reason=$3 out rc
    shift 3
    out=$("$@" 2>&1)
    rc=$?
    assert_eq "$what: exit $want" "$want" "$rc"
    assert_contains "$what: reason" "$out" "$reason"
}
# ---- an agent-issued RA-TLS leaf (GetTlsKey, usage_ra_tls) with the app CA sent along: the
# leaf's signature is checked against the CA the server sends; without it, nothing issued it.
AGENT_URI='dstack:?ephemeral=yes&san=localhost'
PORT=$(free_port)
DSTACK_SIMULATOR_ENDPOINT="$SIM_ENDPOINT" TAPPD_SIMULATOR_ENDPOINT="$SIM_TAPPD" \
    bg run_foreign openssl s_server "${PROV_FLAGS[@]}" -accept "127.0.0.1:$PORT" \
    -key "$AGENT_URI" -cert "$AGENT_URI" -cert_chain "$AGENT_URI" -quiet >"$DSTACK_TMP/agent.out" 2>&1
wait_port "$PORT" || fail "s_server (agent chain): $(cat "$DSTACK_TMP/agent.out")"
out=$("$CLIENT" --pccs-url "$PCCS" --trusted-root "$ROOT" "127.0.0.1:$PORT" 2>&1)
assert_eq "ratls_client, agent-issued leaf and its CA: exit 0" 0 $?
assert_contains "ratls_client, agent-issued leaf: verified" "$out" "verified: 127.0.0.1:$PORT"
json=$(kt verify --connect "127.0.0.1:$PORT" --pccs-url "$PCCS" --trusted-root "$ROOT" --json)
assert_eq "verify --connect, agent-issued leaf: exit 0" 0 $?
assert_eq "verify --connect, agent-issued leaf: signature checked" true \
    "$(jq -r .cert_signature_ok <<<"$json")"
serve agentleaf "$AGENT_URI" "$AGENT_URI" || fail "s_server (agent leaf alone)"
expect_fail "client, agent-issued leaf sent without its CA" 1 "is not self-signed" \
    "$CLIENT" --pccs-url "$PCCS" --trusted-root "$ROOT" "127.0.0.1:$PORT"

other_id=00112233445566778899aabbccddeeff00112233
expect_fail "keytool, wrong app id" 3 "app-id event differs from the expected app id" \
    kt verify --connect "127.0.0.1:$GOOD" --pccs-url "$PCCS" --trusted-root "$ROOT" --app-id "$other_id"
expect_fail "client, wrong app id" 1 "app-id event differs from the expected app id" \
    "$CLIENT" --pccs-url "$PCCS" --trusted-root "$ROOT" --app-id "$other_id" "127.0.0.1:$GOOD"
bad_hash=$(printf '%064d' 7)
expect_fail "keytool, wrong compose hash" 3 "compose-hash event differs from the expected hash" \
    kt verify --connect "127.0.0.1:$GOOD" --pccs-url "$PCCS" --trusted-root "$ROOT" --compose-hash "$bad_hash"
expect_fail "client, wrong compose hash" 1 "compose-hash event differs from the expected hash" \
    "$CLIENT" --pccs-url "$PCCS" --trusted-root "$ROOT" --compose-hash "$bad_hash" "127.0.0.1:$GOOD"
dead="http://127.0.0.1:$(free_port)"
expect_fail "keytool, unreachable PCCS" 1 "PCCS" \
    kt verify --connect "127.0.0.1:$GOOD" --pccs-url "$dead" --trusted-root "$ROOT"
expect_fail "client, unreachable PCCS" 1 "RA-TLS collateral: PCCS" \
    "$CLIENT" --pccs-url "$dead" --trusted-root "$ROOT" "127.0.0.1:$GOOD"
# https:// goes through libcurl, which checks the PCCS's certificate against the system's CAs:
# a self-signed one is refused, naming the URL and the reason.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" -days 2 \
    -keyout "$work/pccs-tls.key" -out "$work/pccs-tls.pem" 2>/dev/null
TLS_PCCS_PORT=$(free_port)
bg openssl s_server -accept "127.0.0.1:$TLS_PCCS_PORT" -key "$work/pccs-tls.key" \
    -cert "$work/pccs-tls.pem" -www -quiet >"$DSTACK_TMP/pccs-tls.out" 2>&1
wait_port "$TLS_PCCS_PORT" || fail "s_server (https PCCS)"
expect_fail "keytool, https PCCS with an untrusted certificate" 1 "SSL certificate problem" \
    kt verify --connect "127.0.0.1:$GOOD" --pccs-url "https://127.0.0.1:$TLS_PCCS_PORT" --trusted-root "$ROOT"
expect_fail "client, https PCCS with an untrusted certificate" 1 "https://127.0.0.1:$TLS_PCCS_PORT/sgx/certification/v4/" \
    "$CLIENT" --pccs-url "https://127.0.0.1:$TLS_PCCS_PORT" --trusted-root "$ROOT" "127.0.0.1:$GOOD"
expect_fail "keytool, Intel's root" 3 "Root CA CRL check failed" \
    kt verify --connect "127.0.0.1:$GOOD" --pccs-url "$PCCS"
expect_fail "client, Intel's root" 1 "Root CA CRL check failed" \
    "$CLIENT" --pccs-url "$PCCS" "127.0.0.1:$GOOD"
expect_fail "client, no collateral source" 2 "no collateral source" "$CLIENT" "127.0.0.1:$GOOD"

# A certificate whose key the quote does not bind: the attestation extension copied, as it is,
# into a certificate for another key.
"$KEYTOOL" --endpoint "$SIM_ENDPOINT" export "$URI" --cert "$work/ratls.pem" >/dev/null ||
    fail "export the RA-TLS certificate"
off=$(openssl asn1parse -in "$work/ratls.pem" | awk '/:1.3.6.1.4.1.62397.1.8$/ {getline; split($1, a, ":"); print a[1]; exit}')
check "the RA-TLS certificate has the attestation extension" test -n "$off"
openssl asn1parse -in "$work/ratls.pem" -strparse "$off" -noout -out "$work/att.der" 2>/dev/null
printf '[req]\ndistinguished_name=dn\nx509_extensions=ext\n[dn]\n[ext]\n1.3.6.1.4.1.62397.1.8=DER:%s\n' \
    "$(xxd -p "$work/att.der" | tr -d '\n')" >"$work/unbound.cnf"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=unbound" -days 2 \
    -config "$work/unbound.cnf" -keyout "$work/unbound.key" -out "$work/unbound.pem" 2>/dev/null ||
    fail "make the unbound certificate"
serve unbound "$work/unbound.key" "$work/unbound.pem" || fail "s_server (unbound)"
UNBOUND=$PORT
expect_fail "keytool, unbound key" 3 "does not bind the certificate key" \
    kt verify --connect "127.0.0.1:$UNBOUND" --pccs-url "$PCCS" --trusted-root "$ROOT"
expect_fail "client, unbound key" 1 "does not bind the certificate key" \
    "$CLIENT" --pccs-url "$PCCS" --trusted-root "$ROOT" "127.0.0.1:$UNBOUND"
# a server without any attestation
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=plain" -days 2 \
    -keyout "$work/plain.key" -out "$work/plain.pem" 2>/dev/null
serve plain "$work/plain.key" "$work/plain.pem" || fail "s_server (plain)"
expect_fail "client, no attestation" 1 "carries no dstack attestation" \
    "$CLIENT" --pccs-url "$PCCS" --trusted-root "$ROOT" "127.0.0.1:$PORT"
out=$("$CLIENT" --plain "$work/plain.pem" --count 3 "127.0.0.1:$PORT" 2>&1)
assert_eq "client --plain (ordinary verification): exit 0" 0 $?

# ---- collateral files and the cache ----------------------------------------------------------
kt collateral --cert "$work/ratls.pem" --pccs-url "$PCCS" -o "$work/coll.json"
assert_eq "keytool collateral: exit 0" 0 $?
for f in pck_crl_issuer_chain root_ca_crl pck_crl tcb_info_issuer_chain tcb_info \
         tcb_info_signature qe_identity_issuer_chain qe_identity qe_identity_signature; do
    assert_eq "collateral has $f" string "$(jq -r ".$f | type" "$work/coll.json")"
done
assert_eq "tcb_info is the TDX TCB info" TDX "$(jq -r '.tcb_info | fromjson | .id' "$work/coll.json")"
json=$(kt verify --cert "$work/ratls.pem" --collateral "$work/coll.json" --trusted-root "$ROOT" --json)
assert_eq "verify --cert --collateral: exit 0" 0 $?
assert_eq "verify --cert --collateral: UpToDate" UpToDate "$(jq -r .quote.tcb_status <<<"$json")"
out=$("$CLIENT" --collateral "$work/coll.json" --trusted-root "$ROOT" "127.0.0.1:$GOOD" 2>&1)
assert_eq "ratls_client --collateral: exit 0" 0 $?
curl -s --unix-socket "$SIM_ENDPOINT" -X POST -H 'Content-Type: application/json' \
    -d '{"report_data":"aa"}' http://localhost/GetQuote | jq -r .quote >"$work/quote.hex"
kt collateral "$work/quote.hex" --pccs-url "$PCCS" >"$work/coll2.json"
assert_eq "keytool collateral QUOTE (stdout): exit 0" 0 $?
json=$(kt verify --quote "$work/quote.hex" --collateral "$work/coll2.json" --trusted-root "$ROOT" --json)
assert_eq "verify --quote --collateral: exit 0" 0 $?
assert_eq "verify --quote: dcap_ok" true "$(jq -r .quote.dcap_ok <<<"$json")"
json=$(kt verify --quote "$work/quote.hex" --trusted-root "$ROOT" --json)
assert_eq "offline: verified against the sim root" true "$(jq -r .verified <<<"$json")"
assert_eq "offline: tcb_status null" null "$(jq -r .quote.tcb_status <<<"$json")"
assert_eq "offline: not checked" false "$(jq -r .quote.tcb_status_checked <<<"$json")"
expect_fail "bad collateral file" 2 "collateral is not JSON" \
    kt verify --quote "$work/quote.hex" --collateral "$work/quote.hex" --trusted-root "$ROOT"
expect_fail "--no-time-check with collateral" 2 "--no-time-check cannot be used with collateral" \
    kt verify --quote "$work/quote.hex" --collateral "$work/coll2.json" --no-time-check
expect_fail "--allow-tcb-status Revoked" 2 "Revoked always rejects" \
    kt verify --quote "$work/quote.hex" --allow-tcb-status Revoked
expect_fail "collateral without PCCS" 2 "no PCCS" env -u DSTACK_PCCS_URL "$KEYTOOL" collateral "$work/quote.hex"

before=$(stats)
kt verify --quote "$work/quote.hex" --pccs-url "$PCCS" --pccs-cache "$work/cache" --trusted-root "$ROOT" >/dev/null
assert_eq "first cached verification: exit 0" 0 $?
mid=$(stats)
assert_eq "it asked the PCCS 4 times" 4 $((mid - before))
check "the cache holds one file" test "$(ls "$work/cache" | wc -l)" -eq 1
assert_eq "cache file mode" 600 "$(stat -c %a "$work/cache"/*.json)"
assert_eq "cache directory mode" 700 "$(stat -c %a "$work/cache")"
kt verify --quote "$work/quote.hex" --pccs-url "$PCCS" --pccs-cache "$work/cache" --trusted-root "$ROOT" >/dev/null
assert_eq "second cached verification: exit 0" 0 $?
assert_eq "served from the cache" "$mid" "$(stats)"
after_day=$(( $(date +%s) + 40 * 86400 ))
kt verify --quote "$work/quote.hex" --pccs-url "$PCCS" --pccs-cache "$work/cache" --trusted-root "$ROOT" \
    --at "$after_day" >/dev/null
assert_eq "past nextUpdate: fetched again (and still expired)" 3 $?
check "past nextUpdate: the PCCS was asked" test "$(stats)" -gt "$mid"
stop_sim

# ---- a disallowed TCB status, and faults of the PCCS -------------------------------------------
start_sim outdated --pccs 127.0.0.1:0 --tcb-status OutOfDate || { fail "simulator (OutOfDate)"; finish; }
serve outdated "$URI" "$URI" || fail "s_server (OutOfDate)"
expect_fail "keytool, OutOfDate not allowed" 3 "TCB status OutOfDate is not allowed (allowed: UpToDate)" \
    kt verify --connect "127.0.0.1:$PORT" --pccs-url "$SIM_PCCS" --trusted-root "$SIM_DIR/sim-intel-root.pem"
expect_fail "client, OutOfDate not allowed" 1 "TCB status OutOfDate is not allowed" \
    "$CLIENT" --pccs-url "$SIM_PCCS" --trusted-root "$SIM_DIR/sim-intel-root.pem" "127.0.0.1:$PORT"
json=$(kt verify --connect "127.0.0.1:$PORT" --pccs-url "$SIM_PCCS" --trusted-root "$SIM_DIR/sim-intel-root.pem" \
    --allow-tcb-status UpToDate,OutOfDate --json)
assert_eq "OutOfDate allowed: exit 0" 0 $?
assert_eq "OutOfDate: advisories" '["DSTACK-SIM-SA-00001"]' "$(jq -c .quote.advisory_ids <<<"$json")"
json=$(kt verify --connect "127.0.0.1:$PORT" --pccs-url "$SIM_PCCS" --trusted-root "$SIM_DIR/sim-intel-root.pem" --json)
assert_eq "OutOfDate: dcap_ok regardless of the policy" true "$(jq -r .quote.dcap_ok <<<"$json")"
assert_eq "OutOfDate: not verified" false "$(jq -r .verified <<<"$json")"
stop_sim

# fault_case <fault> <exit> <reason> — the sim's PCCS with one --fault
fault_case() {
    start_sim "fault$1" --pccs 127.0.0.1:0 --fault "$2" || { fail "simulator ($2)"; return; }
    curl -s --unix-socket "$SIM_ENDPOINT" -X POST -H 'Content-Type: application/json' \
        -d '{"report_data":"bb"}' http://localhost/GetQuote | jq -r .quote >"$work/q$1.hex"
    expect_fail "PCCS fault $2" "$3" "$4" kt --timeout-ms 500 verify --quote "$work/q$1.hex" \
        --pccs-url "$SIM_PCCS" --trusted-root "$SIM_DIR/sim-intel-root.pem"
    stop_sim
}
fault_case 1 'PCCS.tcb=status:503' 1 "PCCS answered HTTP 503"
fault_case 2 'PCCS.qe_identity=garbage' 1 "PCCS"
fault_case 3 'PCCS.pckcrl=oversize' 1 "over the 4194304-byte limit"
fault_case 4 'PCCS.tcb=truncate' 1 "PCCS"
fault_case 5 'PCCS.pckcrl=delay:3000' 1 "no answer within 500 ms"
fault_case 6 'PCCS.rootcacrl=close' 1 "no root CA CRL"
finish
