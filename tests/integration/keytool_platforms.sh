#!/usr/bin/env bash
# dstack-keytool on every TEE a 0.6 agent runs on (protocol.md §4.4.1, §2.6.2): `info` names the
# platform (tdx on dstack-sim); against an agent on SEV-SNP, Nitro Enclave or NitroTPM — a
# small stand-in written here that answers GetQuote with the attestation field only, as 0.6
# agents there do — `info` checks the report_data binding and says RTMR replay does not apply,
# `quote` says what it got, a cert=self certificate embeds the agent's attestation unchanged,
# and `verify` on it (or on a certificate built here with openssl) says "not a TDX attestation:
# <platform>" and exits 3.
source "$DSTACK_SOURCE_DIR/tests/lib/common.sh"
source "$DSTACK_SOURCE_DIR/tests/integration/services_lib.sh"
require node openssl python3 xxd

start_sim tdx || { fail "simulator did not start"; finish; }
out=$("$KEYTOOL" --endpoint "$SIM_ENDPOINT" info)
assert_eq "info on dstack-sim exits 0" 0 $?
assert_contains "info names the platform" "$out" "platform:        tdx"
assert_contains "info replays RTMRs on TDX" "$out" "RTMR replay:     ok"
assert_eq "info --json platform" tdx \
    "$("$KEYTOOL" --endpoint "$SIM_ENDPOINT" info --json | json_get platform)"
stop_sim
start_sim tdx-0511 --agent-version 0.5.11 || { fail "simulator did not start"; finish; }
out=$("$KEYTOOL" --endpoint "$SIM_ENDPOINT" info)
assert_contains "info on 0.5.11 names the platform" "$out" "platform:        tdx"
stop_sim

# attestation <platform> <report_data hex> — a V0 SCALE VersionedAttestation of that platform
# (protocol.md §4.4.1), written here independently of libdstack; the SEV-SNP report carries
# the report_data at 0x50 as the real one does.
cat >"$DSTACK_TMP/scale.py" <<'PY'
import sys

def compact(n):
    if n < 64: return bytes([n << 2])
    if n < 1 << 14: return (n << 2 | 1).to_bytes(2, "little")
    return (n << 2 | 2).to_bytes(4, "little")

def vec(b): return compact(len(b)) + b

def attestation(platform, rd):
    if platform == "sev-snp":
        report = bytearray(b"\x5a" * 1184)
        report[0x50:0x90] = rd
        quote = b"\x03" + vec(bytes(report)) + compact(1) + vec(b"VCEK") + vec(b'{"version":3}')
    elif platform == "nitro-enclave":
        quote = b"\x02" + vec(b"\x84\x44\xa1\x01\x38\x22 NSM document")
    else:  # aws-nitro-tpm
        quote = b"\x04" + vec(b"\x84\x44 NitroTPM document")
    events = compact(1) + vec(b"app-id") + vec(b"\x11" * 20)
    return b"\x00" + quote + events + rd + vec(b"{}")

if __name__ == "__main__":
    sys.stdout.write(attestation(sys.argv[1], bytes.fromhex(sys.argv[2])).hex())
PY

# A 0.6 agent on another TEE: GetQuote answers only the attestation field, Attest the same
# attestation; the keys are the simulator's (GetKey is platform-independent).
cat >"$DSTACK_TMP/agent.py" <<'PY'
import http.server, json, os, socketserver, sys
sys.path.insert(0, os.path.dirname(__file__))
from scale import attestation

path, platform = sys.argv[1], sys.argv[2]

def report_data(req):
    rd = bytes.fromhex(req.get("report_data", ""))
    return rd + bytes(64 - len(rd))

class Agent(http.server.BaseHTTPRequestHandler):
    def address_string(self): return "unix"
    def log_message(self, *a): pass
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)) or 0)
        req = json.loads(body or b"{}")
        m = self.path.lstrip("/")
        if m == "GetQuote":
            rd = report_data(req)
            out = {"quote": "", "event_log": "", "report_data": rd.hex(), "vm_config": "{}",
                   "attestation": attestation(platform, rd).hex()}
        elif m == "Attest":
            out = {"attestation": attestation(platform, report_data(req)).hex()}
        elif m == "Version":
            out = {"version": "0.6.0", "rev": "git:test"}
        elif m == "GetKey":
            out = {"key": "11" * 32, "signature_chain": ["", ""]}
        elif m == "Info":
            tcb = {"mrtd": None, "rtmr0": None, "rtmr1": None, "rtmr2": None, "rtmr3": None,
                   "event_log": [], "app_compose": "{}"}
            out = {"app_id": "11" * 20, "instance_id": "", "app_cert": "",
                   "tcb_info": json.dumps(tcb), "app_name": platform, "device_id": "",
                   "mr_aggregated": "", "os_image_hash": "", "key_provider_info": "",
                   "compose_hash": "", "vm_config": "{}", "cloud_vendor": "", "cloud_product": ""}
        else:
            self.send_response(400)
            data = json.dumps({"error": "Service not found: " + m}).encode()
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        data = json.dumps(out).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

Server(path, Agent).serve_forever()
PY

# cert_with_attestation <out.pem> <attestation hex> — a self-signed certificate carrying the
# attestation in 1.3.6.1.4.1.62397.1.8 (DER OCTET STRING in extnValue, protocol.md §4.1).
cert_with_attestation() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=other-tee \
        -keyout "$DSTACK_TMP/k.pem" -out "$1" -days 1 \
        -addext "1.3.6.1.4.1.62397.1.8=DER:$(printf '%s' "$2" | python3 -c '
import sys
b = bytes.fromhex(sys.stdin.read())
n = len(b)
l = bytes([n]) if n < 128 else (lambda e: bytes([0x80 | len(e)]) + e)(n.to_bytes((n.bit_length() + 7) // 8, "big"))
sys.stdout.write((b"\x04" + l + b).hex())')" 2>/dev/null
}

for platform in sev-snp nitro-enclave aws-nitro-tpm; do
    sock="$DSTACK_TMP/$platform.sock"
    bg python3 "$DSTACK_TMP/agent.py" "$sock" "$platform" >"$DSTACK_TMP/$platform.log" 2>&1
    for _ in $(seq 1 100); do [ -S "$sock" ] && break; sleep 0.05; done
    check "$platform agent listens" test -S "$sock"

    out=$("$KEYTOOL" --endpoint "$sock" info 2>&1)
    assert_eq "$platform: info exits 0" 0 $?
    assert_contains "$platform: info names the platform" "$out" "platform:        $platform"
    assert_contains "$platform: info says replay does not apply" "$out" \
        "RTMR replay:     not a TDX attestation: $platform (report_data bound"
    json=$("$KEYTOOL" --endpoint "$sock" info --json)
    assert_eq "$platform: info --json platform" "$platform" "$(json_get platform <<<"$json")"
    assert_eq "$platform: info --json replay not applicable" null "$(json_get rtmr_replay_ok <<<"$json")"
    out=$("$KEYTOOL" --endpoint "$sock" quote 2>&1)
    assert_contains "$platform: quote says what it got" "$out" "(not a TDX attestation: $platform)"
    assert_contains "$platform: quote --json keeps the attestation" \
        "$("$KEYTOOL" --endpoint "$sock" quote --json | json_get attestation)" "0000"

    # cert=self: the agent's Attest bytes go into .1.8 unchanged (protocol.md §4.8)
    "$KEYTOOL" --endpoint "$sock" export 'dstack:tls/web?cert=self&ratls=attest' \
        --cert "$DSTACK_TMP/$platform-self.pem" 2>"$DSTACK_TMP/err"
    assert_eq "$platform: export cert=self exits 0 ($(head -c 300 "$DSTACK_TMP/err"))" 0 $?
    spki=$(openssl x509 -in "$DSTACK_TMP/$platform-self.pem" -pubkey -noout |
        openssl pkey -pubin -outform DER | xxd -p | tr -d '\n')
    rd=$({ printf 'ratls-cert:'; printf '%s' "$spki" | xxd -r -p; } | openssl dgst -sha512 -binary |
        xxd -p | tr -d '\n')
    want=$(python3 "$DSTACK_TMP/scale.py" "$platform" "$rd")
    check "$platform: .1.8 is the agent's attestation, byte for byte" bash -c \
        "openssl x509 -in '$DSTACK_TMP/$platform-self.pem' -outform DER | xxd -p | tr -d '\n' | grep -q '$want'"
    out=$("$KEYTOOL" verify --cert "$DSTACK_TMP/$platform-self.pem" 2>&1)
    assert_eq "$platform: verify of the cert=self certificate exits 3" 3 $?
    assert_contains "$platform: verify says so" "$out" "not a TDX attestation: $platform"
    # ratls=quote needs a TDX quote: refused with the same words
    msg=$("$KEYTOOL" --endpoint "$sock" export 'dstack:tls/web?cert=self&ratls=quote' \
        --cert "$DSTACK_TMP/q.pem" 2>&1)
    check "$platform: ratls=quote fails" test $? -ne 0
    assert_contains "$platform: ratls=quote says why" "$msg" "not a TDX attestation: $platform"

    # a certificate made by openssl around an attestation of that platform
    cert_with_attestation "$DSTACK_TMP/$platform.pem" \
        "$(python3 "$DSTACK_TMP/scale.py" "$platform" "$(printf '%0128d' 0)")"
    out=$("$KEYTOOL" verify --cert "$DSTACK_TMP/$platform.pem" --json)
    assert_eq "$platform: verify exits 3" 3 $?
    assert_contains "$platform: verify --json says so" "$(json_get error <<<"$out")" \
        "not a TDX attestation: $platform"
    assert_eq "$platform: the certificate has an attestation" true "$(json_get has_attestation <<<"$out")"
    kill "$BG_PID"
done
finish
