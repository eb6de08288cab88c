# Shared by tests/integration/legacy_*.sh: dstack-sim emulating older agents
# (--agent-version, protocol.md §0 version map, docs/dstack-sim.md "Older agents").
# shellcheck source=provider_lib.sh
source "$DSTACK_SOURCE_DIR/tests/integration/provider_lib.sh"
require curl python3

# start_agent <name> <version> [dstack-sim args...] — like start_sim, but also for 0.3, which
# has no dstack.sock: SIM_ENDPOINT then names the absent socket, as on a 0.3 VM.
start_agent() {
    local name=$1 version=$2; shift 2
    if [ "$version" != 0.3 ]; then
        start_sim "$name" --agent-version "$version" "$@"
        return
    fi
    SIM_DIR="$DSTACK_TMP/$name"
    mkdir -p "$SIM_DIR"
    bg "$DSTACK_SIM" --dir "$SIM_DIR" --agent-version 0.3 "$@" >"$SIM_DIR/sim.out" \
        2>"$SIM_DIR/sim.err"
    SIM_PID=$BG_PID
    local i
    for i in $(seq 1 200); do
        if [ -S "$SIM_DIR/tappd.sock" ] &&
           grep -q '^DSTACK_SIMULATOR_ENDPOINT=' "$SIM_DIR/sim.out" 2>/dev/null; then
            SIM_ENDPOINT="$SIM_DIR/dstack.sock"
            SIM_TAPPD="$SIM_DIR/tappd.sock"
            SIM_EXTERNAL="$SIM_DIR/external.sock"
            return 0
        fi
        kill -0 "$SIM_PID" 2>/dev/null || break
        sleep 0.05
    done
    log "dstack-sim --agent-version 0.3 did not start:"; cat "$SIM_DIR/sim.err" >&2
    return 1
}

# rpc <socket> <path> [json body] — POST JSON; prints the body, then the HTTP status on its
# own last line.
rpc() {
    curl -s --max-time 10 --unix-socket "$1" -H 'Content-Type: application/json' \
        -d "${3:-{\}}" -w '\n%{http_code}' "http://localhost$2"
}

# body_of / status_of <rpc output>
body_of() { printf '%s\n' "$1" | sed '$d'; }
status_of() { printf '%s\n' "$1" | tail -n 1; }

# json_get <field> — one field of the JSON object on stdin ("" when absent).
json_get() {
    OPENSSL_CONF=/dev/null python3 -c 'import json,sys
v = json.load(sys.stdin).get(sys.argv[1], "")
print(json.dumps(v) if isinstance(v, (list, dict, bool)) else v)' "$1" 2>/dev/null
}

# json_keys — the field names of the JSON object on stdin, comma-separated, in order.
json_keys() {
    python3 -c 'import json,sys; print(",".join(json.load(sys.stdin)))' 2>/dev/null
}

# tappd_p256_pub <tappd socket> <path> — PEM public key of Tappd.DeriveKey(path).
tappd_p256_pub() {
    rpc "$1" /prpc/Tappd.DeriveKey "{\"path\":\"$2\",\"random_seed\":false}" | sed '$d' |
        json_get key | openssl pkey -pubout 2>/dev/null
}

# getkey_p256_pub <dstack socket> <path> — the P-256 public key of GetKey(path)'s 32 bytes
# (architecture.md §3: p256 uses the same bytes), built as a SEC1 ECPrivateKey with openssl.
getkey_p256_pub() {
    local key
    key=$(rpc "$1" /GetKey "{\"path\":\"$2\"}" | sed '$d' | json_get key)
    [ ${#key} -eq 64 ] || return 1
    printf '30310201010420%sa00a06082a8648ce3d030107' "$key" | xxd -r -p |
        openssl ec -inform DER -pubout 2>/dev/null
}
