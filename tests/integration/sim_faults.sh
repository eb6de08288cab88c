#!/usr/bin/env bash
# dstack-sim fault injection (the simulator fault contract, architecture.md §8) and the stats route.
source "$DSTACK_SOURCE_DIR/tests/lib/common.sh"
require curl jq python3 xxd

start_sim faults --fault GetKey=delay:300 --fault Info=status:503 --fault Version=garbage \
    --fault GetQuote=truncate --fault Sign=close --fault Attest=oversize \
    --fault DeriveKey=delay:150 --fault DeriveKey=status:429 --fault EmitEvent=delay:5000 ||
    { fail "sim start"; finish; }

# run <socket> <path> [curl args] — sets RC (curl exit), STATUS, SIZE, TIME, HDRS, BODY
run() {
    local sock=$1 path=$2 out; shift 2
    out=$(curl -sS --unix-socket "$sock" -H 'Content-Type: application/json' -d '{}' \
        -D "$DSTACK_TMP/h" -o "$DSTACK_TMP/b" -w '%{http_code} %{size_download} %{time_total}' \
        "$@" "http://localhost$path" 2>"$DSTACK_TMP/err")
    RC=$?
    read -r STATUS SIZE TIME <<<"$out"
    HDRS=$(tr -d '\r' <"$DSTACK_TMP/h")
    BODY=$(cat "$DSTACK_TMP/b" 2>/dev/null)
}
slower_than() { awk -v t="$1" -v m="$2" 'BEGIN { exit !(t >= m) }'; }

run "$SIM_ENDPOINT" /GetKey
assert_eq "delay: answers normally" "0 200" "$RC $STATUS"
check "delay: took >= 300 ms ($TIME s)" slower_than "$TIME" 0.3
run "$SIM_ENDPOINT" /GetTlsKey
check "other methods are not delayed ($TIME s)" slower_than 0.3 "$TIME"

run "$SIM_ENDPOINT" /Info
assert_eq "status: HTTP code" 503 "$STATUS"
assert_eq "status: body" "injected fault: status 503" "$(jq -r .error <<<"$BODY")"
assert_contains "status: Content-Length" "$HDRS" "Content-Length: ${#BODY}"
run "$SIM_TAPPD" /prpc/Tappd.Info
assert_eq "status applies to Info on every socket" 503 "$STATUS"

raw=$(python3 - "$SIM_ENDPOINT" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.settimeout(5)
s.sendall(b"POST /Version HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
data = b""
while True:
    chunk = s.recv(4096)
    if not chunk: break
    data += chunk
print(data.hex())
PY
)
assert_eq "garbage: non-HTTP bytes then close" "$(printf '\000\377\023garbage not http\r\n\r\n' | xxd -p | tr -d '\n')" "$raw"
run "$SIM_ENDPOINT" /Version
assert_ne "garbage: curl fails" 0 "$RC"

run "$SIM_ENDPOINT" /GetQuote
assert_eq "truncate: curl reports a partial transfer (18)" 18 "$RC"
assert_eq "truncate: real status" 200 "$STATUS"
len=$(grep -i '^Content-Length:' <<<"$HDRS" | tr -dc 0-9)
assert_eq "truncate: half the announced body" $((len / 2)) "$SIZE"

run "$SIM_ENDPOINT" /Sign
assert_eq "close: empty reply (52)" 52 "$RC"

run "$SIM_ENDPOINT" /Attest
assert_eq "oversize: 200" "0 200" "$RC $STATUS"
assert_eq "oversize: 32 MiB + 1 bytes" 33554433 "$SIZE"
assert_contains "oversize: Content-Length" "$HDRS" "Content-Length: 33554433"
assert_eq "oversize: JSON head" '{"key":"000' "$(head -c 11 "$DSTACK_TMP/b")"

run "$SIM_TAPPD" /prpc/Tappd.DeriveKey
assert_eq "delay + status combine" 429 "$STATUS"
check "delay + status: delayed ($TIME s)" slower_than "$TIME" 0.15

run "$SIM_ENDPOINT" /EmitEvent --max-time 0.3
assert_eq "client timeout on a long delay (28)" 28 "$RC"

# stats: connections = accepted connections; keep-alive reuse is visible
stats() { curl -sS --unix-socket "$SIM_DIR/sim-control.sock" http://localhost/stats; }
before=$(stats)
curl -sS --unix-socket "$SIM_ENDPOINT" -o /dev/null -o /dev/null -o /dev/null \
    http://localhost/GetTlsKey http://localhost/GetTlsKey http://localhost/GetTlsKey
after=$(stats)
assert_eq "3 requests on one connection: +1 connection" 1 $(( $(jq .connections.dstack <<<"$after") - $(jq .connections.dstack <<<"$before") ))
assert_eq "3 requests on one connection: +3 requests" 3 $(( $(jq .requests.dstack <<<"$after") - $(jq .requests.dstack <<<"$before") ))
assert_eq "stats shape" "connections:dstack,tappd,external,http,pccs requests:dstack,tappd,external,http,pccs" \
    "$(jq -r '[to_entries[] | .key + ":" + (.value|keys_unsorted|join(","))] | join(" ")' <<<"$after")"
check "tappd connections counted" test "$(jq .connections.tappd <<<"$after")" -ge 2

# SIGTERM while a request sits in a 5 s delay: prompt, clean exit, sockets removed
bg curl -sS --unix-socket "$SIM_ENDPOINT" -H 'Content-Type: application/json' -d '{}' \
    -o /dev/null -w '%{http_code}' http://localhost/EmitEvent >"$DSTACK_TMP/inflight" 2>/dev/null
inflight=$BG_PID
sleep 0.3
t0=$(date +%s%N)
kill -TERM "$SIM_PID"; wait "$SIM_PID"; assert_eq "SIGTERM during a delay: clean exit" 0 "$?"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "SIGTERM during a delay: exit within 1 s (${ms} ms)" test "$ms" -lt 1000
wait "$inflight"
assert_ne "SIGTERM during a delay: the request was not answered 200" 200 "$(cat "$DSTACK_TMP/inflight")"
check "SIGTERM during a delay: sockets removed" test ! -e "$SIM_DIR/dstack.sock" -a ! -e "$SIM_DIR/tappd.sock" -a ! -e "$SIM_DIR/external.sock" -a ! -e "$SIM_DIR/sim-control.sock"

# '*' faults every method on every socket, never the control socket
start_sim star --fault '*=status:500' || { fail "sim start"; finish; }
run "$SIM_ENDPOINT" /Version;               assert_eq "* on dstack" 500 "$STATUS"
run "$SIM_TAPPD" /prpc/Tappd.DeriveKey;     assert_eq "* on tappd" 500 "$STATUS"
run "$SIM_EXTERNAL" /prpc/Worker.Version;   assert_eq "* on external" 500 "$STATUS"
run "$SIM_ENDPOINT" /NoSuchMethod;          assert_eq "* on unknown methods too" 500 "$STATUS"
check "control socket is never faulted" bash -c "curl -sSf --unix-socket '$SIM_DIR/sim-control.sock' http://localhost/stats >/dev/null"
kill -TERM "$SIM_PID"; wait "$SIM_PID"; assert_eq "clean exit" 0 "$?"
finish
