#!/usr/bin/env bash
# The official dstack JS SDK (@phala/dstack-sdk, pinned in tests/integration/js: the newest
# the npm registry serves) against dstack-sim. sim_js.sh [builtin|appkeys]: with the built-in
# identity against every emulated release (default), or with the official simulator's
# appkeys.json (upstream data, protocol.md §9 V2) against the default release.
source "$DSTACK_SOURCE_DIR/tests/integration/legacy_lib.sh"
require node npm
mode=${1:-builtin}
[ "$mode" == appkeys ] && require_upstream dstack/appkeys.json

SRC="$DSTACK_SOURCE_DIR/tests/integration/js"
JSDIR="$DSTACK_BUILD_DIR/js-sdk"
# npm install once per build tree; redone when the pinned versions change. Both modes run
# as separate tests, possibly at the same time: one installs, the other waits.
mkdir -p "$(dirname "$JSDIR")"
exec 9>"$JSDIR.lock"
flock 9
if ! cmp -s "$SRC/package-lock.json" "$JSDIR/package-lock.json.installed"; then
    rm -rf "$JSDIR"; mkdir -p "$JSDIR"
    cp "$SRC/package.json" "$SRC/package-lock.json" "$JSDIR/"
    # A warm npm cache installs with no network at all; otherwise fetch, with bounded
    # retries so an unreachable registry fails the test in about a minute instead of hanging.
    # Never a skip: a CI machine that cannot install the SDK must show up as a failure.
    if ! (cd "$JSDIR" && npm ci --offline --no-audit --no-fund >npm.log 2>&1) &&
        ! (cd "$JSDIR" && npm ci --prefer-offline --no-audit --no-fund --fetch-retries=1 \
            --fetch-timeout=20000 >>npm.log 2>&1); then
        # npm's own words (the second, online attempt is the one that matters).
        npm_error=$(grep -E '^npm (ERR!|error)' "$JSDIR/npm.log" | tail -n 8)
        fail "npm ci of @phala/dstack-sdk (tests/integration/js/package-lock.json) failed" \
            "(registry: $(npm config get registry 2>/dev/null)); npm said:" \
            $'\n'"${npm_error:-$(tail -n 8 "$JSDIR/npm.log")}"$'\n'"(full log: $JSDIR/npm.log)"
        finish
    fi
    cp "$SRC/package-lock.json" "$JSDIR/package-lock.json.installed"
fi
flock -u 9

# The development KMS root published in docs/dstack-sim.md.
SIM_DEV_KMS_ROOT=$(sed -n 's/^| development KMS root (secp256k1, compressed) | `\([0-9a-f]*\)` |$/\1/p' \
    "$DSTACK_SOURCE_DIR/docs/dstack-sim.md")
assert_eq "doc publishes the dev KMS root" 66 "${#SIM_DEV_KMS_ROOT}"
export SIM_DEV_KMS_ROOT

args=()
releases=(0.3 0.4 0.5.5 0.5.11 0.6)
if [ "$mode" == appkeys ]; then
    args=(--appkeys "$DSTACK_FIXTURES/dstack/appkeys.json")
    releases=(0.6)
fi
for v in "${releases[@]}"; do
    start_agent "js-$mode-$v" "$v" "${args[@]}" || { fail "sim start ($v)"; continue; }
    check "JS SDK against dstack-sim ($mode, $v)" env DSTACK_SIMULATOR_ENDPOINT="$SIM_ENDPOINT" \
        TAPPD_SIMULATOR_ENDPOINT="$SIM_TAPPD" node "$SRC/sim_sdk.js" "$JSDIR/node_modules" \
        "$mode" "$v"
    kill -TERM "$SIM_PID"; wait "$SIM_PID"; assert_eq "sim exit ($mode, $v)" 0 "$?"
done
finish
