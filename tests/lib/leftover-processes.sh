#!/usr/bin/env bash
# leftover-processes.sh [--kill] <tag> [<path prefix>...]
# Lists ("<pid> <command line>", one per line) every process that carries DSTACK_TEST_TAG or
# DSTACK_SUITE_TAG = <tag> in its environment, or one of whose arguments starts with one of
# the path prefixes (or holds it after a '=': --dir=/tmp/x). Whole arguments, not substrings:
# "/build/test/" must not match another checkout's "/work/x/build/test/…". With --kill it also terminates them (TERM, then KILL after 5 s). Exit status 1
# when something was found. Used by run-test.sh after each test and by scripts/test.sh after
# the suite.
#
# Only bash builtins read /proc, so the scan spawns no process that could match itself.
set -uo pipefail
kill_them=0
if [ "${1:-}" == "--kill" ]; then
    kill_them=1
    shift
fi
tag=${1:?usage: leftover-processes.sh [--kill] <tag> [substring...]}
shift
patterns=("$@")

found=()
for dir in /proc/[0-9]*; do
    pid=${dir#/proc/}
    [ "$pid" == "$$" ] && continue
    [ "$pid" == "$PPID" ] && continue
    hit=0
    envs=()
    { mapfile -d '' envs <"$dir/environ"; } 2>/dev/null
    if [ "${#envs[@]}" -gt 0 ]; then
        for e in "${envs[@]}"; do
            if [ "$e" == "DSTACK_TEST_TAG=$tag" ] || [ "$e" == "DSTACK_SUITE_TAG=$tag" ]; then
                hit=1
                break
            fi
        done
    fi
    argv=()
    { mapfile -d '' argv <"$dir/cmdline"; } 2>/dev/null
    [ "${#argv[@]}" -gt 0 ] || continue # kernel threads and zombies have no command line
    cmd="${argv[*]}"
    if [ "$hit" -eq 0 ]; then
        for p in "${patterns[@]}"; do
            [ -n "$p" ] || continue
            for a in "${argv[@]}"; do
                if [[ "$a" == "$p"* || "$a" == *"=$p"* ]]; then
                    hit=1
                    break 2
                fi
            done
        done
    fi
    [ "$hit" -eq 1 ] && found+=("$pid $cmd")
done

[ "${#found[@]}" -eq 0 ] && exit 0
printf '%s\n' "${found[@]}"
if [ "$kill_them" -eq 1 ]; then
    pids=()
    for f in "${found[@]}"; do pids+=("${f%% *}"); done
    kill -TERM "${pids[@]}" 2>/dev/null
    for _ in $(seq 1 50); do
        alive=0
        for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ "$alive" -eq 0 ] && break
        sleep 0.1
    done
    kill -KILL "${pids[@]}" 2>/dev/null
fi
exit 1
