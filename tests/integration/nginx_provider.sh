#!/usr/bin/env bash
# Debian's nginx 1.22, unmodified, serving HTTPS with dstack keys through the provider route:
# conf/nginx-dstack.conf (three vhosts, three keys) with reference PEMs and certificates
# written by dstack-keytool, openssl.cnf = conf/openssl-dstack.cnf. curl verifies the chain
# against the exported CA and pins the derived key; the pin survives restarting nginx and the
# agent; `nginx -s reload` keeps serving; without an agent nginx refuses to start, quickly,
# naming the endpoint.
source "$DSTACK_SOURCE_DIR/tests/lib/common.sh"
source "$DSTACK_SOURCE_DIR/tests/integration/services_lib.sh"
require nginx curl node openssl

start_sim sim || { fail "simulator did not start"; finish; }
provider_env
export OPENSSL_CONF="$CONF_DIR/openssl-dstack.cnf"
TLS_DIR="$DSTACK_TMP/tls"
NGX="$DSTACK_TMP/nginx"
mkdir -p "$TLS_DIR" "$NGX"
PORT=$(free_port)

names=(www api admin)
declare -A pins
for n in "${names[@]}"; do
    export_key "$n" || fail "export $n"
    pins[$n]=$(key_pin "$n")
    assert_eq "$n: certificate carries the derived key" "${pins[$n]}" "sha256//$(cert_pin "$TLS_DIR/$n.crt")"
done
assert_ne "www and api keys differ" "${pins[www]}" "${pins[api]}"
assert_ne "api and admin keys differ" "${pins[api]}" "${pins[admin]}"
# The reference PEM loads as the derived key through the provider's decoder.
ref_pub=$(run_foreign openssl pkey -in "$TLS_DIR/www.key" -pubout -outform DER |
    OPENSSL_CONF=/dev/null openssl dgst -sha256 -binary | base64)
assert_eq "openssl pkey -in reference PEM" "${pins[www]}" "sha256//$ref_pub"

render "$CONF_DIR/nginx-dstack.conf" "$NGX/nginx.conf" PREFIX="$NGX" PORT="$PORT" TLSDIR="$TLS_DIR" ||
    fail "render nginx-dstack.conf"

serve_all() { # serve_all LABEL — every vhost answers with its own key
    local n body
    for n in "${names[@]}"; do
        body=$(https_get "$PORT" "$n.example.test" "$TLS_DIR/$n.chain" "${pins[$n]}" 2>&1)
        assert_eq "$1: $n vhost" "hello from $n over a dstack key" "$body"
    done
    # A wrong pin must fail: the pin check is real.
    if https_get "$PORT" www.example.test "$TLS_DIR/www.chain" "${pins[api]}" >/dev/null 2>&1; then
        fail "$1: wrong pin accepted"
    else
        pass
    fi
}

if start_nginx "$NGX"; then
    serve_all "first start"
    # Reload: the master re-reads the configuration and the keys; workers are replaced.
    run_foreign nginx -p "$NGX" -c "$NGX/nginx.conf" -e "$NGX/error.log" -s reload
    check "nginx -s reload" test $? -eq 0
    sleep 1
    check "nginx alive after reload" kill -0 "$NGINX_PID"
    serve_all "after reload"
    stop_pid "$NGINX_PID"
else
    fail "nginx did not start: $(cat "$NGX/stderr")"
fi

# Restart the agent and nginx: same keys, same pins, no state on disk besides the exports.
stop_sim
start_sim sim2 || fail "simulator restart"
provider_env
if start_nginx "$NGX"; then
    serve_all "after restarting nginx and the agent"
    stop_pid "$NGINX_PID"
else
    fail "nginx did not restart: $(cat "$NGX/stderr")"
fi

# Agent down: nginx must refuse to start, promptly, and say which endpoint failed.
stop_sim
expect_start_failure "nginx without agent" 10 \
    nginx -p "$NGX" -c "$NGX/nginx.conf" -e "$NGX/error.log" -g 'daemon off;'
out=$(cat "$FAIL_OUT")
assert_contains "nginx error names the endpoint" "$out" "$SIM_ENDPOINT"
assert_contains "nginx error names the key file" "$out" "$TLS_DIR/www.key"

# A hanging agent: the provider's 5 s default timeout bounds the start.
start_sim hang --fault '*=delay:30000' || fail "simulator with delay"
provider_env
expect_start_failure "nginx with a hanging agent" 20 \
    nginx -p "$NGX" -c "$NGX/nginx.conf" -e "$NGX/error.log" -g 'daemon off;'
assert_contains "hanging agent: timeout reported" "$(cat "$FAIL_OUT")" "$SIM_ENDPOINT"
stop_sim

# An invalid openssl.cnf value: OpenSSL 3.0 drops a provider's init error while activating a
# configuration file, so the provider loads refusing every key; nginx must still fail to start
# with a message naming the parameter and the value, not only "unregistered scheme".
start_sim badcnf || fail "simulator for the bad configuration"
provider_env
bad_cnf="$DSTACK_TMP/openssl-bad-timeout.cnf"
{ cat "$CONF_DIR/openssl-dstack.cnf"; echo "timeout-ms = 10ms"; } >"$bad_cnf"
check "bad value lands in the dstack section" test "$(awk '/^\[/ { s = $0 } END { print s }' "$bad_cnf")" = "[dstack_sect]"
OPENSSL_CONF="$bad_cnf" expect_start_failure "nginx with timeout-ms = 10ms" 10 \
    nginx -p "$NGX" -c "$NGX/nginx.conf" -e "$NGX/error.log" -g 'daemon off;'
out=$(cat "$FAIL_OUT")
assert_contains "bad timeout-ms: parameter and value named" "$out" 'timeout-ms = "10ms" is invalid'
assert_contains "bad timeout-ms: reason" "$out" "invalid dstack provider configuration"
assert_contains "bad timeout-ms: key file named" "$out" "$TLS_DIR/www.key"
stop_sim

finish
