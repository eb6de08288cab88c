#!/usr/bin/env bash
# with-sim.sh [dstack-sim args...] -- command [args...]
# Starts dstack-sim on a temporary directory, exports its endpoints, runs the command, and
# stops the simulator. Exit status: the command's (or 1 if the simulator failed).
# An argument @DEV_APPKEYS@ becomes an appkeys.json holding dstack-sim's built-in development
# identity (`dstack-sim --write-appkeys`, written into that directory first); load it with
# --app-id "$DSTACK_DEV_APP_ID" so its KMS signature matches.
# $DSTACK_SIM_ARGS (set by a test registration) come first, so the given arguments win.
set -uo pipefail
dir=$(mktemp -d "${TMPDIR:-/tmp}/sim.XXXXXX")
sim_args=()
read -r -a sim_args <<<"${DSTACK_SIM_ARGS:-}"
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
    if [ "$1" == "@DEV_APPKEYS@" ]; then
        if ! "$DSTACK_SIM" --write-appkeys "$dir/dev-appkeys.json"; then
            echo "with-sim.sh: dstack-sim --write-appkeys failed" >&2
            rm -rf "$dir"; exit 1
        fi
        sim_args+=("$dir/dev-appkeys.json")
        shift
        continue
    fi
    # @FIXTURES@ lets test registrations name upstream data without knowing where it is;
    # a test that needs it is skipped (exit 77) when it is absent.
    arg=${1//@FIXTURES@/$DSTACK_FIXTURES}
    if [ "$arg" != "$1" ] && [ ! -e "$arg" ]; then
        echo "SKIP: upstream fixture $arg not found (set DSTACK_FIXTURES)"
        rm -rf "$dir"; exit 77
    fi
    sim_args+=("$arg")
    shift
done
[ "${1:-}" == "--" ] || { echo "usage: with-sim.sh [sim args] -- command" >&2; rm -rf "$dir"; exit 2; }
shift
"$DSTACK_SIM" --dir "$dir" "${sim_args[@]}" >"$dir/sim.out" 2>"$dir/sim.err" &
pid=$!
for _ in $(seq 1 200); do
    [ -S "$dir/dstack.sock" ] && grep -q '^DSTACK_SIMULATOR_ENDPOINT=' "$dir/sim.out" 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
done
if ! [ -S "$dir/dstack.sock" ]; then
    echo "with-sim.sh: dstack-sim did not start:" >&2
    cat "$dir/sim.err" >&2
    kill "$pid" 2>/dev/null; rm -rf "$dir"; exit 1
fi
export DSTACK_SIMULATOR_ENDPOINT="$dir/dstack.sock"
export TAPPD_SIMULATOR_ENDPOINT="$dir/tappd.sock"
export DSTACK_WORKER_ENDPOINT="$dir/external.sock"
export DSTACK_SIM_DIR="$dir"
# --pccs: the simulated Intel's PCCS (its root CA is $dir/sim-intel-root.pem)
pccs=$(sed -n 's/^DSTACK_SIMULATOR_PCCS=//p' "$dir/sim.out")
[ -n "$pccs" ] && export DSTACK_SIMULATOR_PCCS="$pccs"
"$@"
rc=$?
kill -TERM "$pid" 2>/dev/null
wait "$pid"
sim_rc=$?
if [ "$sim_rc" -ne 0 ]; then
    echo "with-sim.sh: dstack-sim exited with status $sim_rc" >&2
    cat "$dir/sim.err" >&2
    [ "$rc" -eq 0 ] && rc=1
fi
rm -rf "$dir"
exit "$rc"
