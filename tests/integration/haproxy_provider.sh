#!/usr/bin/env bash
# Debian's haproxy 2.6, unmodified, serving HTTPS from a combined `crt` file (certificate
# chain + reference PEM written by `dstack-keytool export --combined`), with the provider
# loaded by haproxy's `ssl-provider` (conf/haproxy-dstack.cfg) and by OPENSSL_CONF
# (conf/haproxy-dstack-openssl-conf.cfg + conf/openssl-dstack.cnf). Without an agent haproxy
# refuses to start, promptly.
source "$DSTACK_SOURCE_DIR/tests/lib/common.sh"
source "$DSTACK_SOURCE_DIR/tests/integration/services_lib.sh"
require haproxy curl node openssl

start_sim sim || { fail "simulator did not start"; finish; }
provider_env
TLS_DIR="$DSTACK_TMP/tls"
HAP="$DSTACK_TMP/haproxy"
mkdir -p "$TLS_DIR" "$HAP"
export_key www || fail "export www"
pin=$(key_pin www)

# start_haproxy CFG — foreground haproxy; waits for $PORT. Sets HAP_PID.
start_haproxy() {
    bg run_foreign haproxy -db -f "$1" >"$HAP/stdout" 2>"$HAP/stderr"
    HAP_PID=$BG_PID
    local i
    for i in $(seq 1 200); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then return 0; fi
        kill -0 "$HAP_PID" 2>/dev/null || { wait "$HAP_PID"; return 1; }
        sleep 0.05
    done
    return 1
}

run_variant() { # run_variant LABEL CFG — serve, pin, stop
    local body
    check "$1: haproxy -c" run_foreign haproxy -c -q -f "$2"
    if start_haproxy "$2"; then
        body=$(https_get "$PORT" www.example.test "$TLS_DIR/www.chain" "$pin" 2>&1)
        assert_eq "$1: serves with the pinned key" "hello from haproxy over a dstack key" "$body"
        stop_pid "$HAP_PID"
    else
        fail "$1: haproxy did not start: $(cat "$HAP/stderr")"
    fi
}

# ---- ssl-provider directives (provider defaults: endpoint from the environment) -----------
PORT=$(free_port)
cfg1="$HAP/haproxy-dstack.cfg"
render "$CONF_DIR/haproxy-dstack.cfg" "$cfg1" PROVIDER_DIR="$DSTACK_PROVIDER_DIR" PORT="$PORT" \
    TLSDIR="$TLS_DIR" || fail "render haproxy-dstack.cfg"
OPENSSL_CONF=/dev/null run_variant "ssl-provider" "$cfg1"

# ---- OPENSSL_CONF ----------------------------------------------------------------------
PORT=$(free_port)
cfg2="$HAP/haproxy-openssl-conf.cfg"
render "$CONF_DIR/haproxy-dstack-openssl-conf.cfg" "$cfg2" PORT="$PORT" TLSDIR="$TLS_DIR" ||
    fail "render haproxy-dstack-openssl-conf.cfg"
OPENSSL_CONF="$CONF_DIR/openssl-dstack.cnf" run_variant "OPENSSL_CONF" "$cfg2"

# ---- agent down -------------------------------------------------------------------------
# haproxy only reports "unable to load private key"; the provider's log (architecture.md §5) carries
# the cause, so the debug variable is set as an operator would to see why.
stop_sim
expect_start_failure "haproxy (ssl-provider) without agent" 10 \
    env OPENSSL_CONF=/dev/null DSTACK_PROVIDER_DEBUG=level:1 haproxy -db -f "$cfg1"
assert_contains "ssl-provider: error names the endpoint" "$(cat "$FAIL_OUT")" "$SIM_ENDPOINT"
assert_contains "ssl-provider: error names the crt file" "$(cat "$FAIL_OUT")" "$TLS_DIR/www.pem"
expect_start_failure "haproxy (OPENSSL_CONF) without agent" 10 \
    env OPENSSL_CONF="$CONF_DIR/openssl-dstack.cnf" DSTACK_PROVIDER_DEBUG=level:1 \
    haproxy -db -f "$cfg2"
assert_contains "OPENSSL_CONF: error names the endpoint" "$(cat "$FAIL_OUT")" "$SIM_ENDPOINT"

# ---- invalid openssl.cnf value -----------------------------------------------------------
# haproxy prints no OpenSSL error queue, and OpenSSL 3.0 drops the provider's init error: the
# provider itself must say which parameter and value are wrong, without any debug setting.
bad_cnf="$DSTACK_TMP/openssl-bad-timeout.cnf"
{ cat "$CONF_DIR/openssl-dstack.cnf"; echo "timeout-ms = 10ms"; } >"$bad_cnf"
expect_start_failure "haproxy with timeout-ms = 10ms" 10 \
    env OPENSSL_CONF="$bad_cnf" haproxy -db -f "$cfg2"
assert_contains "bad timeout-ms: parameter and value named" "$(cat "$FAIL_OUT")" \
    'timeout-ms = "10ms" is invalid'

finish
