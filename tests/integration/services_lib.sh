# Helpers for the nginx / haproxy / engine / keytool integration tests (sourced after
# tests/lib/common.sh). Servers run unprivileged-port, in the test's temporary directory, in
# the foreground, and are killed by common.sh's cleanup.

KEYTOOL=${DSTACK_KEYTOOL:?}
CONF_DIR="$DSTACK_SOURCE_DIR/conf"

# node is the JSON parser (jq is not installed); JSON on stdin, prints one field.
json_get() { # json_get FIELD — node parses, with no openssl.cnf (it would load the provider)
    OPENSSL_CONF=/dev/null node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const v=JSON.parse(s)[process.argv[1]];process.stdout.write(v===null||v===undefined?"null":String(v))})' "$1"
}

# Environment for programs that load the provider through openssl.cnf (conf/openssl-dstack.cnf
# finds dstack.so through OPENSSL_MODULES) and find the simulator through the standard variables.
provider_env() {
    export OPENSSL_MODULES="$DSTACK_PROVIDER_DIR"
    export DSTACK_SIMULATOR_ENDPOINT="$SIM_ENDPOINT"
    export TAPPD_SIMULATOR_ENDPOINT="$SIM_TAPPD"
}

# render TEMPLATE OUT NAME=VALUE... — replaces @NAME@ by VALUE and fails if a placeholder is left.
render() {
    local src=$1 out=$2 expr=() kv
    shift 2
    for kv in "$@"; do
        expr+=(-e "s|@${kv%%=*}@|${kv#*=}|g")
    done
    [ ${#expr[@]} -gt 0 ] || expr=(-e '') # a file without placeholders is copied as is
    sed "${expr[@]}" "$src" >"$out" || return 1
    if grep -n '@[A-Z_]*@' "$out" | grep -v '^[0-9]*:#' >/dev/null; then
        log "unrendered placeholder in $out:"; grep -n '@[A-Z_]*@' "$out" >&2
        return 1
    fi
}

# SHA-256 pin ("sha256//base64") of the public key in a PEM certificate file, computed by the
# openssl CLI independently of our code.
cert_pin() {
    OPENSSL_CONF=/dev/null openssl x509 -in "$1" -pubkey -noout |
        OPENSSL_CONF=/dev/null openssl pkey -pubin -outform DER |
        OPENSSL_CONF=/dev/null openssl dgst -sha256 -binary | base64
}

# https_get PORT HOST CAFILE PIN [curl args...] — prints the body; fails on any TLS problem.
# curl needs no provider (and must not load our sanitizer-built modules): no openssl.cnf.
https_get() {
    local port=$1 host=$2 ca=$3 pin=$4
    shift 4
    OPENSSL_CONF=/dev/null curl -sS --max-time 10 --resolve "$host:$port:127.0.0.1" --cacert "$ca" \
        --pinnedpubkey "$pin" "$@" "https://$host:$port/"
}

# export_key NAME — exports dstack:tls/NAME?san=NAME.example.test into $TLS_DIR.
export_key() {
    "$KEYTOOL" export "dstack:tls/$1?san=$1.example.test" --key-ref "$TLS_DIR/$1.key" \
        --cert "$TLS_DIR/$1.crt" --chain "$TLS_DIR/$1.chain" --combined "$TLS_DIR/$1.pem" \
        >/dev/null
}

# key_pin NAME — the pin of the derived key, as dstack-keytool reports it.
key_pin() {
    "$KEYTOOL" show "dstack:tls/$1?san=$1.example.test" --json | json_get pin
}

# start_nginx PREFIX — nginx in the foreground with PREFIX/nginx.conf; waits for $PORT.
# Sets NGINX_PID. Returns 1 if nginx exited instead (its stderr is in PREFIX/stderr).
start_nginx() {
    local prefix=$1
    bg run_foreign nginx -p "$prefix" -c "$prefix/nginx.conf" -e "$prefix/error.log" \
        -g 'daemon off;' >"$prefix/stdout" 2>"$prefix/stderr"
    NGINX_PID=$BG_PID
    local i
    for i in $(seq 1 200); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then return 0; fi
        kill -0 "$NGINX_PID" 2>/dev/null || { wait "$NGINX_PID"; return 1; }
        sleep 0.05
    done
    return 1
}

stop_pid() { # stop_pid PID — TERM, then wait (bounded)
    kill -TERM "$1" 2>/dev/null || true
    local i
    for i in $(seq 1 100); do
        kill -0 "$1" 2>/dev/null || break
        sleep 0.05
    done
    kill -KILL "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

# expect_start_failure WHAT BOUND_S CMD... — the server (a program we do not build; sanitizer
# runtimes preloaded as run_foreign does) must exit non-zero within BOUND_S seconds, never
# hang; its combined output goes to $FAIL_OUT.
expect_start_failure() {
    local what=$1 bound=$2 start end rc pre=()
    shift 2
    if [ -n "${DSTACK_PRELOAD:-}" ]; then
        pre=(env LD_PRELOAD="$DSTACK_PRELOAD"
             ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:verify_asan_link_order=0")
    fi
    FAIL_OUT="$DSTACK_TMP/fail.$RANDOM.out"
    start=$(date +%s%N)
    timeout -k 2 $((bound + 10)) "${pre[@]}" "$@" >"$FAIL_OUT" 2>&1
    rc=$?
    end=$(date +%s%N)
    FAIL_MS=$(((end - start) / 1000000))
    if [ "$rc" -eq 0 ]; then fail "$what: started although the agent is unusable"; return; fi
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then fail "$what: hung (killed by timeout)"; return; fi
    if [ "$FAIL_MS" -gt $((bound * 1000)) ]; then
        fail "$what: took ${FAIL_MS} ms to fail (bound ${bound} s)"
    else
        pass
    fi
}
