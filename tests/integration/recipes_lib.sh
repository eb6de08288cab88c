# Helpers for the recipe tests (tests/integration/recipe_*.sh, docs/recipes.md), sourced after
# tests/lib/common.sh and services_lib.sh. Every recipe: the Debian package's server on
# loopback with its conf/ file rendered into the test's directory, the provider active through
# OPENSSL_CONF=conf/openssl-dstack.cnf, a real client that pins the derived key, a restart that
# keeps the pin, and an agent that is down giving a prompt error that names the endpoint.

DEV_KEY="$DSTACK_SOURCE_DIR/tests/lib/dev_key.py"

# dev_pin PATH [ALG] — the pin of GetKey(PATH) under dstack-sim's built-in development identity,
# computed by tests/lib/dev_key.py (pure Python, from docs/dstack-sim.md), not by our C code.
# No openssl.cnf for it: Python's hashlib initialises OpenSSL, and the independent opinion must
# not load our provider (nor, in sanitizer builds, fail to load the instrumented one).
dev_key() { OPENSSL_CONF=/dev/null python3 "$DEV_KEY" "$@"; }
dev_pin() { dev_key pin "$1" "${2:-p256}"; }

# recipe_start — a simulator with the development identity, the provider environment, the
# recipe's openssl.cnf, and TLS_DIR for the exported files. The sockets are world-writable like
# the real agent's (docs/deployment.md), so servers that drop to their own user reach them.
RECIPE_SIM_ARGS=(--socket-mode 0666)
recipe_start() {
    start_sim sim "${RECIPE_SIM_ARGS[@]}" || { fail "simulator did not start"; finish; }
    provider_env
    export OPENSSL_CONF="$CONF_DIR/openssl-dstack.cnf"
    TLS_DIR="$DSTACK_TMP/tls"
    mkdir -p "$TLS_DIR"
}

# recipe_restart_sim — the agent restarted (a new socket path, exported to the provider).
recipe_restart_sim() {
    stop_sim
    start_sim "sim$RANDOM" "${RECIPE_SIM_ARGS[@]}" || fail "simulator restart"
    provider_env
}

# recipe_restart SERVER LOG START... — the agent restarted (recipe_restart_sim), then START run
# again (in this shell, so it sets the server's pid); when the server does not come back, a
# failure with LOG's tail and 1.
recipe_restart() {
    local server=$1 log=$2
    shift 2
    recipe_restart_sim
    "$@" && return 0
    fail "$server did not restart: $(tail -5 "$log")"
    return 1
}

# export_as NAME URI [keytool args...] — $TLS_DIR/NAME.{key,crt,chain}, then checks that the
# certificate's key (openssl CLI) is the one dev_key.py derives for the URI's path.
export_as() {
    local name=$1 uri=$2 path
    shift 2
    "$KEYTOOL" export "$uri" --key-ref "$TLS_DIR/$name.key" --cert "$TLS_DIR/$name.crt" \
        --chain "$TLS_DIR/$name.chain" "$@" >/dev/null || { fail "export $uri"; return 1; }
    path=${uri#dstack:}
    path=${path%%\?*}
    PIN=$(dev_pin "$path")
    assert_eq "$name: exported certificate carries the independently derived key" "$PIN" \
        "sha256//$(cert_pin "$TLS_DIR/$name.crt")"
}

# pem_pin FILE — pin of the first certificate in a PEM stream on stdin or FILE.
pem_pin() {
    OPENSSL_CONF=/dev/null openssl x509 -pubkey -noout ${1:+-in "$1"} 2>/dev/null |
        OPENSSL_CONF=/dev/null openssl pkey -pubin -outform DER 2>/dev/null |
        OPENSSL_CONF=/dev/null openssl dgst -sha256 -binary | base64
}

# server_pin PORT [s_client args...] — pin of the certificate a server presents, read by the
# openssl CLI with no provider (-starttls smtp|postgres, -servername ... as extra args).
server_pin() {
    local port=$1
    shift
    echo "sha256//$(OPENSSL_CONF=/dev/null timeout 10 openssl s_client -connect "127.0.0.1:$port" \
        "$@" </dev/null 2>/dev/null | pem_pin)"
}

# refuses_wrong_pin WHAT CLIENT... — CLIENT given a pin no key has as its last argument (the
# way `get PIN` is called) must fail.
refuses_wrong_pin() {
    local what=$1
    shift
    if "$@" "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" >/dev/null 2>&1; then
        fail "$what: a wrong pin was accepted"
    else
        pass
    fi
}

# wait_listen PORT PID [tries] — until something listens on PORT; 1 if PID exited first.
wait_listen() {
    local i
    for i in $(seq 1 "${3:-200}"); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}

# open_dirs_to DIR... — a server that drops privileges (apache's workers, postgres) must
# traverse the test's private directories: x for others on each one from TMPDIR down.
open_dirs_to() {
    local d
    for d in "$TMPDIR" "$DSTACK_TMP" "$@"; do chmod o+x "$d"; done
}

# agent_down_check WHAT OUTFILE-PATTERN — after expect_start_failure: the output ($FAIL_OUT
# or the files given) names the endpoint that failed.
agent_down_names_endpoint() { # WHAT TEXT
    assert_contains "$1: error names the agent endpoint" "$2" "$SIM_ENDPOINT"
}
