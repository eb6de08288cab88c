#!/usr/bin/env bash
# run-test.sh <seconds> -- command [args...]
# Every ctest test runs through this wrapper, so that a test stops exactly what it started,
# also when it fails, hangs or is interrupted:
#  - the command runs in a session (and process group) of its own, with a deadline shorter
#    than ctest's TIMEOUT — ctest kills only its direct child, with SIGKILL, which would leave
#    servers behind;
#  - it gets a private TMPDIR and a tag (DSTACK_TEST_TAG) that its descendants inherit;
#  - afterwards anything still running that carries the tag in its environment or names the
#    private TMPDIR in its command line (daemons such as nginx rewrite their environment
#    block, not their arguments) is a leak: it is reported, killed, and fails the test.
set -uo pipefail
seconds=${1:?usage: run-test.sh <seconds> -- command...}
shift
[ "${1:-}" == "--" ] || { echo "usage: run-test.sh <seconds> -- command..." >&2; exit 2; }
shift
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

export DSTACK_TEST_TAG="dst-$$-$RANDOM$RANDOM"
# The suite's tag in the directory name lets scripts/test.sh find daemons of any test by
# their command line after the whole run. Kept short: sockets live below it (108 bytes).
run_tmp=$(mktemp -d "/tmp/${DSTACK_SUITE_TAG:-dss}.XXXXXX")
export TMPDIR="$run_tmp"
child=""

# Members of the test's process group other than the (finished) leader.
group_members() {
    local d pgid rest
    for d in /proc/[0-9]*; do
        { read -r rest <"$d/stat"; } 2>/dev/null || continue
        rest=${rest##*) }              # fields after "pid (comm) "
        read -r _ _ pgid _ <<<"$rest"  # state ppid pgrp
        [ "$pgid" == "$child" ] && echo "${d#/proc/}"
    done
}

stop_group() {
    kill -TERM -- "-$child" 2>/dev/null || return 0
    for _ in $(seq 1 50); do
        kill -0 -- "-$child" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL -- "-$child" 2>/dev/null || true
}

cleanup() {
    local rc=$1 leaked="" p
    trap - TERM INT
    if [ -n "$child" ]; then
        for p in $(group_members); do
            leaked+="$p $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)"$'\n'
        done
        stop_group
    fi
    # What escaped the process group (setsid, daemons) but carries our marks.
    leaked+=$("$here/leftover-processes.sh" --kill "$DSTACK_TEST_TAG" "$run_tmp")
    if [ -n "$leaked" ] && [ "$rc" -ne 124 ]; then
        echo "run-test.sh: the test left processes running (now killed):" >&2
        echo "$leaked" >&2
        [ "$rc" -eq 0 ] && rc=1
    fi
    rm -rf "$run_tmp"
    exit "$rc"
}
trap 'cleanup 143' TERM
trap 'cleanup 130' INT

# setsid execs the command directly (a background job is never a group leader), so $! is
# both the command's pid and its process group.
setsid "$@" &
child=$!
deadline=$((SECONDS + seconds))
while kill -0 "$child" 2>/dev/null; do
    if [ "$SECONDS" -ge "$deadline" ]; then
        echo "run-test.sh: timed out after ${seconds}s: $*" >&2
        stop_group
        wait "$child" 2>/dev/null
        cleanup 124
    fi
    sleep 0.1
done
wait "$child"
cleanup $?
