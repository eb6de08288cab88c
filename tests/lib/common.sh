# Shared helpers for integration tests (sourced by bash scripts under tests/).
# Every test starts its own dstack-sim on a temporary directory and cleans up on exit.
set -uo pipefail

: "${DSTACK_SIM:?run through ctest (DSTACK_SIM unset)}"
: "${DSTACK_SOURCE_DIR:?}" "${DSTACK_BUILD_DIR:?}"
# Upstream data (tests/CMakeLists.txt); may be absent — see require_upstream.
DSTACK_FIXTURES=${DSTACK_FIXTURES:-}

DSTACK_TEST_NAME=$(basename "$0" .sh)
# Under run-test.sh TMPDIR is already private to this test; keep socket paths short.
if [ -n "${DSTACK_TEST_TAG:-}" ] && [ -n "${TMPDIR:-}" ]; then
    DSTACK_TMP=$(mktemp -d "$TMPDIR/t.XXXXXX")
else
    DSTACK_TMP=$(mktemp -d "/tmp/dstack-test.${DSTACK_TEST_NAME}.XXXXXX")
fi
_dstack_pids=()
_dstack_failures=0
_dstack_checks=0

# Every background job runs in a process group of its own (bg), so stopping it stops
# whatever it started too, not only the subshell bash forked for it.
_dstack_stop_group() { # _dstack_stop_group PGID — TERM, then KILL after 5 s
    local i
    kill -TERM -- "-$1" 2>/dev/null || kill -TERM "$1" 2>/dev/null || return 0
    for i in $(seq 1 50); do
        kill -0 -- "-$1" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL -- "-$1" 2>/dev/null || true
}

_dstack_cleanup() {
    local pid
    for pid in "${_dstack_pids[@]}"; do
        _dstack_stop_group "$pid"
    done
    for pid in "${_dstack_pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    if [ "${DSTACK_KEEP_TMP:-0}" != 1 ]; then rm -rf "$DSTACK_TMP"; fi
}
trap _dstack_cleanup EXIT

# skip "why" — the test cannot run here; ctest reports it as skipped (SKIP_RETURN_CODE 77).
skip() {
    echo "SKIP: $*"
    exit 77
}

# require_upstream RELPATH... — the test is about upstream data under $DSTACK_FIXTURES
# (e.g. dstack/appkeys.json); skip with one line naming what is missing when it is absent.
require_upstream() {
    local f
    for f in "$@"; do
        [ -n "$DSTACK_FIXTURES" ] && [ -e "$DSTACK_FIXTURES/$f" ] ||
            skip "upstream fixture ${DSTACK_FIXTURES:-(DSTACK_FIXTURES unset)}/$f not found"
    done
}

log() { printf '[%s] %s\n' "$DSTACK_TEST_NAME" "$*" >&2; }

fail() {
    printf '[%s] FAIL: %s\n' "$DSTACK_TEST_NAME" "$*" >&2
    _dstack_failures=$((_dstack_failures + 1))
}
pass() { _dstack_checks=$((_dstack_checks + 1)); }

# check "description" cmd...   — passes when the command exits 0
check() {
    local what=$1; shift
    if "$@"; then pass; else fail "$what"; fi
}
assert_eq() { # assert_eq "what" expected actual
    if [ "$2" == "$3" ]; then pass; else fail "$1: expected [$2], got [$3]"; fi
}
assert_ne() {
    if [ "$2" != "$3" ]; then pass; else fail "$1: both are [$2]"; fi
}
assert_contains() { # assert_contains "what" haystack needle
    if [[ "$2" == *"$3"* ]]; then pass; else fail "$1: [$3] not found in: $2"; fi
}
assert_not_contains() {
    if [[ "$2" != *"$3"* ]]; then pass; else fail "$1: [$3] unexpectedly found in: $2"; fi
}

# finish — prints the plain summary line and exits non-zero on any failure.
finish() {
    echo "$DSTACK_TEST_NAME: $_dstack_checks passed, $_dstack_failures failed"
    [ "$_dstack_failures" -eq 0 ]
    exit $?
}

# Programs we do not build get the sanitizer runtimes preloaded in sanitizer builds so they
# can load our instrumented provider/engine. Leak checking is for our own code only.
# In a background job (bg run_foreign …) it execs, so the job's pid is the program's.
run_foreign() {
    local pre=()
    if [ -n "${DSTACK_PRELOAD:-}" ]; then
        pre=(env LD_PRELOAD="$DSTACK_PRELOAD"
             ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:verify_asan_link_order=0")
    fi
    if [ "${_dstack_bg:-0}" == 1 ]; then
        exec "${pre[@]}" "$@"
    fi
    "${pre[@]}" "$@"
}

# start_sim <name> [dstack-sim args...] — starts a simulator in $DSTACK_TMP/<name>, waits
# for its sockets and sets SIM_DIR, SIM_PID, SIM_ENDPOINT, SIM_TAPPD, SIM_EXTERNAL (and
# SIM_PCCS with --pccs).
# $DSTACK_SIM_ARGS (set by a test registration, e.g. "--agent-version 0.5.11" to run a test
# against another release) come first, so a test's own arguments win.
start_sim() {
    local name=$1; shift
    local extra=()
    read -r -a extra <<<"${DSTACK_SIM_ARGS:-}"
    SIM_DIR="$DSTACK_TMP/$name"
    mkdir -p "$SIM_DIR"
    bg "$DSTACK_SIM" --dir "$SIM_DIR" "${extra[@]}" "$@" >"$SIM_DIR/sim.out" 2>"$SIM_DIR/sim.err"
    SIM_PID=$BG_PID
    local i
    for i in $(seq 1 200); do
        if [ -S "$SIM_DIR/dstack.sock" ] && [ -S "$SIM_DIR/tappd.sock" ] &&
           grep -q '^DSTACK_SIMULATOR_ENDPOINT=' "$SIM_DIR/sim.out" 2>/dev/null; then
            SIM_ENDPOINT="$SIM_DIR/dstack.sock"
            SIM_TAPPD="$SIM_DIR/tappd.sock"
            SIM_EXTERNAL="$SIM_DIR/external.sock"
            # with --pccs: the simulated Intel's PCCS URL (root: $SIM_DIR/sim-intel-root.pem)
            SIM_PCCS=$(sed -n 's/^DSTACK_SIMULATOR_PCCS=//p' "$SIM_DIR/sim.out")
            return 0
        fi
        if ! kill -0 "$SIM_PID" 2>/dev/null; then
            log "dstack-sim exited early:"; cat "$SIM_DIR/sim.err" >&2
            return 1
        fi
        sleep 0.05
    done
    log "dstack-sim did not come up in 10 s"; cat "$SIM_DIR/sim.err" >&2
    return 1
}

# dev_appkeys — path of an appkeys.json holding dstack-sim's built-in development identity
# (load it with --appkeys FILE --app-id "$DSTACK_DEV_APP_ID"); written once per test.
dev_appkeys() {
    local f="$DSTACK_TMP/dev-appkeys.json"
    [ -e "$f" ] || "$DSTACK_SIM" --write-appkeys "$f" || return 1
    echo "$f"
}

# stop_sim [pid] — SIGTERM and wait (default: the last started simulator).
stop_sim() {
    local pid=${1:-$SIM_PID}
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# bg <cmd...> — start a background job in a process group of its own that cleanup will
# stop (with everything it started); sets BG_PID (= the group id). Redirections given after
# the command apply to the job.
bg() {
    set -m
    _dstack_bg=1 "$@" &
    BG_PID=$!
    set +m
    _dstack_pids+=("$BG_PID")
}

# free_port — a TCP port on 127.0.0.1 nobody listens on right now.
free_port() {
    local p
    while :; do
        p=$((20000 + RANDOM % 20000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"; return 0
        fi
    done
}

# wait_port <port> [tries] — wait until something listens on 127.0.0.1:<port>.
wait_port() {
    local i
    for i in $(seq 1 "${2:-200}"); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.05
    done
    return 1
}

# require <program>... — in CI a missing program is a failure, never a skip.
require() {
    local p
    for p in "$@"; do
        command -v "$p" >/dev/null 2>&1 || { fail "required program '$p' is not installed"; finish; }
    done
}
