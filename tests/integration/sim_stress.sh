#!/usr/bin/env bash
# dstack-sim robustness: 16 concurrent clients x 200 requests with no error — on 0.5.11 with
# EmitEvent appending to the log, on the default release (0.6) with GpuInfo instead — clients
# that disconnect mid-request or send garbage, and a clean (leak-free under ASan) shutdown.
source "$DSTACK_SOURCE_DIR/tests/lib/common.sh"
require curl jq python3

start_sim stress06 || { fail "sim start"; finish; }
SIM06=$SIM_ENDPOINT SIM06_PID=$SIM_PID
start_sim stress --agent-version 0.5.11 || { fail "sim start"; finish; }

# client <id> <last path> — 200 requests over one curl process; odd ids force a new connection
# each time; ids above 16 go to the 0.6 simulator
client() {
    local id=$1 i urls=() sock=$SIM_ENDPOINT extra=()
    local paths=(/GetKey /Version /GetQuote /Info /Sign /GetTlsKey /Attest /EmitEvent)
    [ "$id" -gt 16 ] && { sock=$SIM06; paths[7]=/GpuInfo; }
    [ $((id % 2)) -eq 1 ] && extra=(-H 'Connection: close')
    if [ $((id % 4)) -eq 2 ]; then
        sock=$SIM_TAPPD; paths=(/prpc/Tappd.DeriveKey /prpc/Tappd.TdxQuote /prpc/DeriveK256Key /prpc/Tappd.Info)
    fi
    for i in $(seq 0 199); do urls+=("http://localhost${paths[$((i % ${#paths[@]}))]}"); done
    curl -sS --unix-socket "$sock" -H 'Content-Type: application/json' \
        -d '{"path":"stress","algorithm":"ed25519","report_data":"01","data":"00","event":"stress","payload":"ab"}' \
        "${extra[@]}" -w '%{stderr}%{http_code}\n' "${urls[@]}" >/dev/null 2>"$DSTACK_TMP/client$id"
}

for first in 1 17; do
    start=$(date +%s)
    pids=()
    for c in $(seq "$first" $((first + 15))); do client "$c" & pids+=($!); done
    for p in "${pids[@]}"; do wait "$p"; done
    log "16 x 200 requests in $(( $(date +%s) - start )) s"
    total=0; bad=0
    for c in $(seq "$first" $((first + 15))); do
        ok=$(grep -c '^200$' "$DSTACK_TMP/client$c")
        total=$((total + ok))
        [ "$ok" -eq 200 ] || { bad=$((bad + 1)); log "client $c: $(sort "$DSTACK_TMP/client$c" | uniq -c | tr '\n' ' ')"; }
    done
    assert_eq "all 3200 requests answered 200 (clients $first..)" 3200 "$total"
    assert_eq "no client saw an error (clients $first..)" 0 "$bad"
done
reqs=$(curl -sS --unix-socket "$SIM_DIR/sim-control.sock" http://localhost/stats | jq '.requests.dstack + .requests.tappd')
check "stats counted every request ($reqs)" test "$reqs" -ge 3200
stop_sim "$SIM06_PID"

# The event log stayed consistent under concurrent EmitEvent + quoting.
check "quotes still replay after concurrent EmitEvent" env \
    DSTACK_SIMULATOR_ENDPOINT="$SIM_ENDPOINT" TAPPD_SIMULATOR_ENDPOINT="$SIM_TAPPD" \
    "$DSTACK_BUILD_DIR/tests/sim_attest" >"$DSTACK_TMP/attest.log" 2>&1

# Hostile clients.
python3 - "$SIM_ENDPOINT" <<'PY'
import socket, sys, time
path = sys.argv[1]
def conn():
    s = socket.socket(socket.AF_UNIX); s.connect(path); s.settimeout(5); return s
def body(n): return b"POST /GetQuote HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % n
idle = [conn() for _ in range(40)]            # idle connections held open throughout
for round in range(20):
    conn().close()                            # connect, close
    s = conn(); s.sendall(b"POST /GetKey HTT"); s.close()             # partial request line
    s = conn(); s.sendall(b"POST /GetKey HTTP/1.1\r\nHost: x\r\n"); s.close()  # partial headers
    s = conn(); s.sendall(body(1000) + b'{"report_'); s.close()        # partial body
    s = conn(); s.sendall(body(2) + b"{}"); s.close()                  # leave before the answer
    s = conn(); s.sendall(body(2) + b"{}"); s.shutdown(socket.SHUT_WR); s.recv(10); s.close()
    s = conn(); s.sendall(b"\x00\x01\x02\xff not http at all\r\n\r\n"); s.settimeout(0.05)
    try: s.recv(100)
    except OSError: pass
    s.close()
    s = conn(); s.sendall(b"GET /Version HTTP/1.1\r\nX: " + b"a" * 70000 + b"\r\n\r\n")
    try: s.recv(100)
    except OSError: pass
    s.close()
    s = conn(); s.sendall(b"POST /GetKey HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n5\r\n{\"pa"); s.close()
for s in idle: s.close()
PY
assert_eq "hostile clients script ran" 0 "$?"

# 1000 clients that connect and send half a request, then wait: the simulator still answers
# a real client, and drops them after its idle timeout.
python3 - "$SIM_ENDPOINT" <<'PY'
import socket, sys, time, resource
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
path = sys.argv[1]
half = []
def connect():
    for _ in range(200):  # a full backlog answers EAGAIN at once; wait for the server to accept
        s = socket.socket(socket.AF_UNIX)
        try:
            s.connect(path); return s
        except BlockingIOError:
            s.close(); time.sleep(0.01)
    raise SystemExit("the simulator stopped accepting connections")
for _ in range(1000):
    s = connect(); s.sendall(b"POST /GetKey HTTP/1.1\r\nHost: x\r\n")
    half.append(s)
c = connect(); c.settimeout(10)
c.sendall(b"POST /Version HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
reply = c.recv(4096)
sys.exit(0 if reply.startswith(b"HTTP/1.1 200") else 1)
PY
assert_eq "served beside 1000 half-open clients" 0 "$?"
status=$(curl -sS --unix-socket "$SIM_ENDPOINT" -o /dev/null -w '%{http_code}' http://localhost/Version)
assert_eq "still serving after hostile clients" 200 "$status"
check "simulator still running" kill -0 "$SIM_PID"

kill -TERM "$SIM_PID"; wait "$SIM_PID"; assert_eq "clean exit (no leak under ASan)" 0 "$?"
finish
