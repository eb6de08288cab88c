#!/usr/bin/env bash
# dstack provider: agent absent, agent slower than timeout-ms, and every simulator fault
# kind — each a clean failure with the category's reason and a message naming the RPC
# and the endpoint; never a hang or crash.
source "$DSTACK_SOURCE_DIR/tests/integration/provider_lib.sh"
require python3

URI="dstack:tls/web?cert=none"

# Agent absent: the endpoints name sockets nobody serves.
SIM_ENDPOINT="$DSTACK_TMP/absent/dstack.sock" SIM_TAPPD="$DSTACK_TMP/absent/tappd.sock"
out=$(ossl pkey -in "$URI" -pubout 2>&1)
check "agent absent fails" test $? -ne 0
assert_contains "agent absent: reason" "$out" "cannot connect to the dstack agent"
assert_contains "agent absent: names the endpoint" "$out" "$DSTACK_TMP/absent/dstack.sock"
assert_contains "agent absent: names the URI" "$out" "dstack:tls/web"
unset SIM_ENDPOINT SIM_TAPPD

# Agent slower than timeout-ms: fails within the timeout plus a generous margin.
make_cnf "$DSTACK_TMP/timeout.cnf" "timeout-ms = 500"
start_sim slow --fault 'GetKey=delay:4000' ||
    { fail "simulator"; finish; }
t0=$(date +%s%N)
out=$(ossl_conf "$DSTACK_TMP/timeout.cnf" pkey -in "$URI" -pubout 2>&1)
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
check "slow agent fails" test $rc -ne 0
assert_contains "slow agent: reason" "$out" "dstack agent request timed out"
assert_contains "slow agent: names the RPC" "$out" "GetKey"
check "slow agent: failed after ${ms} ms (< 3000 with timeout-ms=500)" test "$ms" -lt 3000
stop_sim

# fault_case <spec> <uri> <rpc> <reason substring> <message substring>
fault_case() {
    local spec=$1 uri=$2 rpc=$3 reason=$4 text=$5 out
    start_sim "fault$RANDOM" --fault "$spec" ||
        { fail "simulator for $spec"; return; }
    if out=$(timeout 60 env DSTACK_SIMULATOR_ENDPOINT="$SIM_ENDPOINT" \
        TAPPD_SIMULATOR_ENDPOINT="$SIM_TAPPD" OPENSSL_MODULES="$OPENSSL_MODULES" \
        ${DSTACK_PRELOAD:+LD_PRELOAD=$DSTACK_PRELOAD} \
        ${DSTACK_PRELOAD:+ASAN_OPTIONS=detect_leaks=0:halt_on_error=1:verify_asan_link_order=0} \
        openssl storeutl "${PROV_FLAGS[@]}" -noout "$uri" 2>&1); then
        fail "fault $spec: load succeeded"
    else
        assert_contains "fault $spec: reason" "$out" "$reason"
        assert_contains "fault $spec: message" "$out" "$text"
        assert_contains "fault $spec: names the RPC" "$out" "$rpc"
        assert_not_contains "fault $spec: no crash" "$out" "Sanitizer"
    fi
    stop_sim
}
KEY_URI="dstack:tls/web?cert=none"
fault_case 'GetKey=status:503' "$KEY_URI" GetKey "dstack agent returned an error" \
    "injected fault: status 503"
fault_case 'GetKey=garbage' "$KEY_URI" GetKey "malformed response from the dstack agent" \
    "$DSTACK_TMP"
fault_case 'GetKey=truncate' "$KEY_URI" GetKey "malformed response from the dstack agent" \
    "$DSTACK_TMP"
# GetKey=close alone is answered by the legacy Tappd fallback (architecture.md §4); closing every
# socket leaves nothing to fall back to — see the '*=close' case below.
fault_case 'GetKey=oversize' "$KEY_URI" GetKey "malformed response from the dstack agent" \
    "exceeds"
# A delay within timeout-ms is just a slow answer.
start_sim delayok --fault 'GetKey=delay:300' ||
    fail "simulator"
check "delay below timeout-ms succeeds" ossl pkey -in "$KEY_URI" -pubout -out /dev/null
stop_sim
# Certificate RPCs fail just as clearly (storeutl wants key + certificates).
fault_case 'DeriveKey=status:500' "dstack:tls/web?cert=agent" DeriveKey \
    "dstack agent returned an error" "injected fault: status 500"
fault_case '*=close' "dstack:tls/web" "" "cannot connect to the dstack agent" "$DSTACK_TMP"

finish
