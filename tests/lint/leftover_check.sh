#!/usr/bin/env bash
# The checks that keep the suite from leaving processes behind must themselves catch a leak:
# tests/lib/leftover-processes.sh (run by scripts/test.sh after each pass) and the per-test
# wrapper tests/lib/run-test.sh.
source "$(dirname "$0")/../lib/common.sh"
lib="$DSTACK_SOURCE_DIR/tests/lib"

# A process marked with a suite tag in its environment, detached from everything (setsid),
# as a daemon escaping its test would be.
tag="dss-selftest-$$"
DSTACK_SUITE_TAG=$tag setsid sleep 300 </dev/null >/dev/null 2>&1 &
sleep 0.3
pid=$(pgrep -n -f '^sleep 300$')
check "the marked process runs" test -n "$pid"
out=$("$lib/leftover-processes.sh" "$tag")
assert_eq "a marked process is reported (exit 1)" 1 $?
assert_contains "the report names it" "$out" "$pid sleep 300"
out=$("$lib/leftover-processes.sh" "dss-other-tag")
assert_eq "another tag: nothing reported (exit 0)" 0 $?
"$lib/leftover-processes.sh" --kill "$tag" >/dev/null
check "--kill stops it" bash -c "! kill -0 $pid 2>/dev/null"

# A process found by its command line (nginx rewrites its environment block).
mkdir -p "$DSTACK_TMP/marked-dir"
setsid bash -c 'sleep 301; true' "$DSTACK_TMP/marked-dir" </dev/null >/dev/null 2>&1 &
sleep 0.3
marked_session=$(pgrep -n -f "^bash -c sleep 301")
out=$("$lib/leftover-processes.sh" --kill "unused-tag" "$DSTACK_TMP/marked-dir")
assert_eq "found by command line" 1 $?
assert_contains "command-line report" "$out" "bash -c sleep 301; true $DSTACK_TMP/marked-dir"
check "command-line match killed" bash -c "! pgrep -f \"^bash -c sleep 301\""
kill -- "-$marked_session" 2>/dev/null # its sleep, unmarked, is ours to stop

# run-test.sh: a test that leaks a setsid'd child fails even though it exits 0, and the
# child is gone afterwards; one that leaks into its own process group likewise.
cat >"$DSTACK_TMP/leaky.sh" <<'SH'
setsid sleep 302 </dev/null >/dev/null 2>&1 &
sleep 303 </dev/null >/dev/null 2>&1 &
exit 0
SH
out=$("$lib/run-test.sh" 30 -- bash "$DSTACK_TMP/leaky.sh" 2>&1)
assert_eq "run-test.sh fails a leaking test" 1 $?
assert_contains "run-test.sh names the setsid leak" "$out" "sleep 302"
assert_contains "run-test.sh names the group leak" "$out" "sleep 303"
check "leaked processes are gone" bash -c '! pgrep -f "^sleep 30[23]$"'
# A clean test passes, its exit status kept; a hung one is stopped at the deadline.
"$lib/run-test.sh" 30 -- bash -c 'exit 0'
assert_eq "clean test passes" 0 $?
"$lib/run-test.sh" 30 -- bash -c 'exit 7' 2>/dev/null
assert_eq "exit status kept" 7 $?
start=$SECONDS
out=$("$lib/run-test.sh" 2 -- bash -c 'sleep 304' 2>&1)
assert_eq "deadline: exit 124" 124 $?
assert_contains "deadline message" "$out" "timed out after 2s"
check "deadline: stopped within 5 s" test $((SECONDS - start)) -le 5
check "deadline: nothing left" bash -c '! pgrep -f "^sleep 304$"'
finish
