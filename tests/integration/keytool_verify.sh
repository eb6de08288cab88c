#!/usr/bin/env bash
# dstack-keytool verify. keytool_verify.sh [own|upstream]:
#  own (default): usage and I/O errors exit 2 and 4; a quote synthesised by dstack-sim and
#    RA-TLS certificates from dstack-sim show the bindings verified but the quote NOT verified
#    (the simulator's quotes are signed by its own keys, not Intel's); tampering is caught.
#  upstream: the real TDX quotes of the upstream fixtures verify to the Intel SGX root (raw
#    and hex, text and JSON), tampering and foreign roots exit 3, and a simulator serving a
#    real quote with patched report_data fails the quote signature only.
source "$DSTACK_SOURCE_DIR/tests/lib/common.sh"
source "$DSTACK_SOURCE_DIR/tests/integration/services_lib.sh"
require node openssl jq xxd
mode=${1:-own}
[ "$mode" == upstream ] && require_upstream dstack/tdx_quote dstack/quote-report.json \
    dstack/tdx-lite-getquote.json

T2027=1798761600 # inside every fixture PCK's validity period
work="$DSTACK_TMP/work"
mkdir -p "$work"

if [ "$mode" == upstream ]; then
# ---- fixture quotes ------------------------------------------------------------------------
out=$("$KEYTOOL" verify --quote "$DSTACK_FIXTURES/dstack/tdx_quote" --at $T2027)
assert_eq "tdx_quote verifies" 0 $?
assert_contains "PCK chain to Intel" "$out" "PCK chain:              ok (/CN=Intel SGX PCK Certificate"
assert_contains "result line" "$out" "result:                 VERIFIED"
assert_contains "TCB status reported unchecked" "$out" "TCB status:             not checked"
for f in quote-report.json tdx-lite-getquote.json; do
    node -e 'process.stdout.write(JSON.parse(require("fs").readFileSync(process.argv[1])).quote)' \
        "$DSTACK_FIXTURES/dstack/$f" >"$work/$f.hex"
    json=$("$KEYTOOL" verify --quote "$work/$f.hex" --at $T2027 --json)
    assert_eq "$f (hex) verifies" 0 $?
    assert_eq "$f verified flag" true "$(json_get verified <<<"$json")"
done
json=$("$KEYTOOL" verify --quote "$work/tdx-lite-getquote.json.hex" --at 1767225600 --json)
assert_eq "PCK not yet valid: exit 3" 3 $?
assert_contains "not yet valid reason" "$(json_get error <<<"$json")" "not yet valid"
"$KEYTOOL" verify --quote "$work/tdx-lite-getquote.json.hex" --no-time-check >/dev/null
assert_eq "--no-time-check accepts it" 0 $?

# Tampering: a body byte (signature), the PCK PEM (chain), a truncated file (structure).
cp "$DSTACK_FIXTURES/dstack/tdx_quote" "$work/body.bin"
printf '\x55' | dd of="$work/body.bin" bs=1 seek=200 conv=notrunc status=none
out=$("$KEYTOOL" verify --quote "$work/body.bin" --at $T2027)
assert_eq "flipped body byte: exit 3" 3 $?
assert_contains "flipped body: signature failed" "$out" "quote signature:        FAILED"
assert_contains "flipped body: chain still ok" "$out" "PCK chain:              ok"
cp "$DSTACK_FIXTURES/dstack/tdx_quote" "$work/pem.bin"
printf 'Q' | dd of="$work/pem.bin" bs=1 seek=1560 conv=notrunc status=none
out=$("$KEYTOOL" verify --quote "$work/pem.bin" --at $T2027)
assert_eq "flipped PEM character: exit 3" 3 $?
assert_contains "flipped PEM: chain failed" "$out" "PCK chain:              FAILED"
head -c 2000 "$DSTACK_FIXTURES/dstack/tdx_quote" >"$work/short.bin"
json=$("$KEYTOOL" verify --quote "$work/short.bin" --json)
assert_eq "truncated quote: exit 3" 3 $?
assert_eq "truncated quote: not verified" false "$(json_get verified <<<"$json")"

# A foreign trusted root: the Intel chain no longer verifies.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=Other Root" \
    -keyout "$work/other.key" -out "$work/other.pem" -days 30 2>/dev/null
out=$("$KEYTOOL" verify --quote "$DSTACK_FIXTURES/dstack/tdx_quote" --trusted-root "$work/other.pem" \
    --at $T2027)
assert_eq "foreign root: exit 3" 3 $?
assert_contains "foreign root: chain failed" "$out" "PCK chain:              FAILED"
# An X.509 file that is not an RA-TLS certificate.
msg=$("$KEYTOOL" verify --cert "$work/other.pem" 2>&1)
assert_eq "certificate without attestation: exit 3" 3 $?
assert_contains "no attestation message" "$msg" "no dstack attestation"

# A simulator serving the real fixture quote with patched report_data: the Intel chain and
# QE report verify, the quote signature does not.
start_sim real --quote "$DSTACK_FIXTURES/dstack/tdx_quote" || { fail "simulator did not start"; finish; }
provider_env
out=$("$KEYTOOL" verify 'dstack:tls/y?cert=self' --at $T2027)
assert_eq "patched real quote: exit 3" 3 $?
assert_contains "patched: signature failed" "$out" "quote signature:        FAILED"
assert_contains "patched: Intel chain ok" "$out" "PCK chain:              ok (/CN=Intel SGX PCK"
assert_contains "patched: binding ok" "$out" "report_data binds key:  ok"
finish
fi

# ---- a quote dstack-sim synthesised -------------------------------------------------------
start_sim quote-source || { fail "simulator did not start"; finish; }
QUOTE="$work/sim-quote.bin"
curl -sS --unix-socket "$SIM_ENDPOINT" -H 'Content-Type: application/json' -d '{}' \
    http://localhost/GetQuote | jq -r .quote | xxd -r -p >"$QUOTE"
stop_sim
out=$("$KEYTOOL" verify --quote "$QUOTE")
assert_eq "simulator quote: exit 3" 3 $?
assert_contains "simulator quote: its own signature holds" "$out" "quote signature:        ok"
assert_contains "simulator quote: QE report bound" "$out" "QE report binds key:    ok"
assert_contains "simulator quote: not Intel's chain" "$out" "PCK chain:              FAILED"
assert_contains "simulator quote: result" "$out" "result:                 NOT VERIFIED"
cp "$QUOTE" "$work/body.bin"
printf '\x55' | dd of="$work/body.bin" bs=1 seek=200 conv=notrunc status=none
out=$("$KEYTOOL" verify --quote "$work/body.bin")
assert_eq "flipped body byte: exit 3" 3 $?
assert_contains "flipped body: signature failed" "$out" "quote signature:        FAILED"
head -c 2000 "$QUOTE" >"$work/short.bin"
json=$("$KEYTOOL" verify --quote "$work/short.bin" --json)
assert_eq "truncated quote: exit 3" 3 $?
assert_eq "truncated quote: not verified" false "$(json_get verified <<<"$json")"

# ---- usage -------------------------------------------------------------------------------
help=$("$KEYTOOL" verify --help)
check "verify --help exits 0" test $? -eq 0
assert_contains "verify --help" "$help" "Usage: dstack-keytool [global options] verify"
assert_contains "verify --help says what is not checked" "$help" "NOT checked"
assert_contains "global help lists verify" "$("$KEYTOOL" --help)" "verify"
"$KEYTOOL" verify >/dev/null 2>&1
assert_eq "no input: exit 2" 2 $?
"$KEYTOOL" verify --quote "$QUOTE" dstack:tls/x >/dev/null 2>&1
assert_eq "two inputs: exit 2" 2 $?
msg=$("$KEYTOOL" verify --quote "$QUOTE" --at yesterday 2>&1)
assert_eq "bad --at: exit 2" 2 $?
assert_contains "bad --at message" "$msg" "--at"
"$KEYTOOL" verify --quote "$QUOTE" --at 5 --no-time-check >/dev/null 2>&1
assert_eq "--at with --no-time-check: exit 2" 2 $?
"$KEYTOOL" --app-id 1234 verify --cert /dev/null >/dev/null 2>&1
assert_eq "short --app-id: exit 2" 2 $?
echo "not a certificate" >"$work/garbage.pem"
"$KEYTOOL" verify --quote "$QUOTE" --trusted-root "$work/garbage.pem" \
    >/dev/null 2>&1
assert_eq "unusable --trusted-root: exit 2" 2 $?
msg=$("$KEYTOOL" verify --quote "$work/missing" 2>&1)
assert_eq "missing quote file: exit 4" 4 $?
assert_contains "missing file message" "$msg" "$work/missing"
"$KEYTOOL" verify --quote "$QUOTE" --trusted-root "$work/missing" \
    >/dev/null 2>&1
assert_eq "missing --trusted-root file: exit 4" 4 $?

# A foreign trusted root: the Intel chain no longer verifies.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=Other Root" \
    -keyout "$work/other.key" -out "$work/other.pem" -days 30 2>/dev/null
# An X.509 file that is not an RA-TLS certificate.
msg=$("$KEYTOOL" verify --cert "$work/other.pem" 2>&1)
assert_eq "certificate without attestation: exit 3" 3 $?
assert_contains "no attestation message" "$msg" "no dstack attestation"

# ---- RA-TLS certificates from dstack-sim ---------------------------------------------------
start_sim sim || { fail "simulator did not start"; finish; }
provider_env
out=$("$KEYTOOL" verify 'dstack:tls/x?cert=self')
assert_eq "sim self cert: exit 3" 3 $?
assert_contains "sim: binding ok" "$out" "report_data binds key:  ok"
assert_contains "sim: RTMR3 ok" "$out" "RTMR3 replay:           ok"
assert_contains "sim: quote not verified" "$out" "TDX quote (DCAP):       NOT VERIFIED"
assert_contains "sim: chain is not Intel's" "$out" "PCK chain:              FAILED"
assert_contains "sim: result" "$out" "result:                 NOT VERIFIED"
json=$("$KEYTOOL" verify 'dstack:tls/x?cert=self' --json)
assert_eq "sim --json: exit 3" 3 $?
assert_eq "sim --json binding" true "$(json_get report_data_binds_key <<<"$json")"
assert_eq "sim --json rtmr3" true "$(json_get rtmr3_matches <<<"$json")"
assert_eq "sim --json verified" false "$(json_get verified <<<"$json")"
app_id=$(json_get app_id <<<"$json")
check "sim app id is 20 bytes of hex" grep -Eq '^[0-9a-f]{40}$' <<<"$app_id"
# The same certificate as a file; with a wrong --app-id the policy fails too.
"$KEYTOOL" export 'dstack:tls/x?cert=self' --cert "$work/sim.pem" >/dev/null
assert_eq "export sim cert" 0 $?
out=$("$KEYTOOL" --app-id 0000000000000000000000000000000000000000 verify --cert "$work/sim.pem")
assert_eq "sim cert file, wrong app id: exit 3" 3 $?
assert_contains "wrong app id: policy failed" "$out" "policy:                 FAILED"
out=$("$KEYTOOL" --app-id "$app_id" verify --cert "$work/sim.pem")
assert_eq "sim cert file, right app id: still exit 3 (quote)" 3 $?
assert_contains "right app id: policy ok" "$out" "policy:                 ok"
# The certificate itself (architecture.md §11): a self-signed one by its own key, valid now but
# not in 1973; an agent-issued one only with its issuer (from the URI's chain, the file's second
# certificate or --issuer).
assert_contains "self cert: signature" "$out" "certificate signature:  ok"
assert_contains "self cert: validity" "$out" "certificate validity:   ok"
out=$("$KEYTOOL" verify --cert "$work/sim.pem" --at 100000000)
assert_eq "self cert in 1973: exit 3" 3 $?
assert_contains "self cert in 1973: validity" "$out" "certificate validity:   FAILED"
assert_contains "self cert in 1973: reason" "$out" "RA-TLS certificate: the certificate is not valid at 100000000"
out=$("$KEYTOOL" verify 'dstack:tls/x?cert=agent')
assert_contains "agent cert by URI: issuer from the chain" "$out" "certificate signature:  ok"
"$KEYTOOL" export 'dstack:tls/x?cert=agent' --cert "$work/agent-full.pem" --chain "$work/agent-chain.pem" >/dev/null
assert_eq "export agent cert" 0 $?
out=$("$KEYTOOL" verify --cert "$work/agent-full.pem")
assert_contains "agent cert + chain in one file (export --cert)" "$out" "certificate signature:  ok"
openssl x509 -in "$work/agent-full.pem" -out "$work/agent.pem" # the leaf alone
out=$("$KEYTOOL" verify --cert "$work/agent.pem")
assert_eq "agent cert alone: exit 3" 3 $?
assert_contains "agent cert alone: signature" "$out" "certificate signature:  FAILED"
assert_contains "agent cert alone: reason" "$out" "not self-signed"
out=$("$KEYTOOL" verify --cert "$work/agent.pem" --issuer "$work/agent-chain.pem")
assert_contains "agent cert + --issuer" "$out" "certificate signature:  ok"
out=$("$KEYTOOL" verify --cert "$work/agent.pem" --issuer "$work/sim.pem")
assert_contains "agent cert + wrong --issuer" "$out" "not signed by the given issuer"
msg=$("$KEYTOOL" verify --quote "$QUOTE" --issuer "$work/sim.pem" 2>&1)
assert_eq "--issuer with --quote: exit 2" 2 $?
assert_contains "--issuer with --quote: message" "$msg" "--issuer needs a certificate"
json=$("$KEYTOOL" verify --cert "$work/agent.pem" --json)
assert_eq "--json cert_signature_ok" false "$(json_get cert_signature_ok <<<"$json")"
assert_eq "--json cert_time_ok" true "$(json_get cert_time_ok <<<"$json")"
# Agent unreachable: exit 1.
"$KEYTOOL" --endpoint "$DSTACK_TMP/nope.sock" --tappd-endpoint "$DSTACK_TMP/nope2.sock" \
    verify 'dstack:tls/x?cert=self' >/dev/null 2>&1
assert_eq "agent unreachable: exit 1" 1 $?
stop_sim

finish
