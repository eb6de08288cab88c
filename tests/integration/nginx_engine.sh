#!/usr/bin/env bash
# The dstack ENGINE: `openssl pkey -engine dstack` and Debian's nginx 1.22 with
# `ssl_certificate_key engine:dstack:dstack:tls/www;` (conf/nginx-engine.conf +
# conf/openssl-engine.cnf) serve the same derived key the provider and dstack-keytool see;
# bad control values are refused; without an agent nginx fails promptly naming the endpoint.
source "$DSTACK_SOURCE_DIR/tests/lib/common.sh"
source "$DSTACK_SOURCE_DIR/tests/integration/services_lib.sh"
require nginx curl node openssl

ENGINE="$DSTACK_ENGINE_DIR/dstack.so"
start_sim sim || { fail "simulator did not start"; finish; }
provider_env
TLS_DIR="$DSTACK_TMP/tls"
NGX="$DSTACK_TMP/nginx"
mkdir -p "$TLS_DIR" "$NGX"
PORT=$(free_port)
export_key www || fail "export www"
pin=$(key_pin www)

# ---- openssl CLI through the engine -----------------------------------------------------
# The engine gets its endpoint from a control command here, not from the environment.
eng() { OPENSSL_CONF=/dev/null OPENSSL_ENGINES="$DSTACK_ENGINE_DIR" run_foreign env -u DSTACK_SIMULATOR_ENDPOINT -u TAPPD_SIMULATOR_ENDPOINT openssl "$@"; }
der_pin() { openssl dgst -sha256 -binary | base64; }
got=$(eng pkey -engine dstack -inform ENGINE -in "dstack:tls/www" -pubout -outform DER 2>/dev/null | der_pin)
assert_ne "engine without ENDPOINT cannot reach the simulator" "${pin#sha256//}" "$got"
cnf="$DSTACK_TMP/openssl-engine.cnf"
render "$CONF_DIR/openssl-engine.cnf" "$cnf" ENGINE="$ENGINE" ENDPOINT="$SIM_ENDPOINT" TIMEOUT_MS=2000 ||
    fail "render openssl-engine.cnf"
got=$(OPENSSL_CONF="$cnf" run_foreign openssl pkey -engine dstack -inform ENGINE -in dstack:tls/www \
    -pubout -outform DER | der_pin)
assert_eq "openssl pkey -engine dstack = derived key" "${pin#sha256//}" "$got"
sig_ok=$(echo hello >"$DSTACK_TMP/msg" && OPENSSL_CONF="$cnf" run_foreign openssl dgst -sha256 \
    -engine dstack -keyform ENGINE -sign dstack:tls/www -out "$DSTACK_TMP/sig" "$DSTACK_TMP/msg" &&
    openssl x509 -in "$TLS_DIR/www.crt" -pubkey -noout >"$DSTACK_TMP/pub.pem" &&
    openssl dgst -sha256 -verify "$DSTACK_TMP/pub.pem" -signature "$DSTACK_TMP/sig" "$DSTACK_TMP/msg")
assert_eq "engine key signs, certificate key verifies" "Verified OK" "$sig_ok"
msg=$(eng engine dstack -pre ENDPOINT:relative/path 2>&1)
assert_contains "relative ENDPOINT refused" "$msg" "expected an absolute Unix socket path"
msg=$(eng engine dstack -pre TIMEOUT_MS:0 2>&1)
assert_contains "TIMEOUT_MS 0 refused" "$msg" "[Failure]: TIMEOUT_MS:0"
msg=$(eng engine dstack -pre KMS_ROOT_PUBKEY:zz 2>&1)
assert_contains "bad KMS_ROOT_PUBKEY refused" "$msg" "expected a hex compressed secp256k1"
msg=$(eng pkey -engine dstack -inform ENGINE -in 'dstack:tls/www?colour=blue' 2>&1)
assert_contains "bad URI: message names the parameter" "$msg" "colour"
# Only bind_engine and v_check are exported.
syms=$(nm -D --defined-only "$ENGINE" | awk '{print $3}' | sort | tr '\n' ' ')
assert_eq "engine exports" "bind_engine v_check " "$syms"

# ---- nginx through the engine --------------------------------------------------------
render "$CONF_DIR/nginx-engine.conf" "$NGX/nginx.conf" PREFIX="$NGX" PORT="$PORT" TLSDIR="$TLS_DIR" ||
    fail "render nginx-engine.conf"
export OPENSSL_CONF="$cnf"
if start_nginx "$NGX"; then
    body=$(https_get "$PORT" www.example.test "$TLS_DIR/www.chain" "$pin" 2>&1)
    assert_eq "nginx engine route serves with the pinned key" "hello from the dstack engine" "$body"
    stop_pid "$NGINX_PID"
else
    fail "nginx (engine) did not start: $(cat "$NGX/stderr")"
fi

# Agent down: nginx refuses to start within the bound and names the endpoint.
stop_sim
expect_start_failure "nginx engine without agent" 10 \
    nginx -p "$NGX" -c "$NGX/nginx.conf" -e "$NGX/error.log" -g 'daemon off;'
out=$(cat "$FAIL_OUT")
assert_contains "engine error names the endpoint" "$out" "$SIM_ENDPOINT"
assert_contains "engine error from the engine" "$out" "dstack engine"

# Hanging agent: TIMEOUT_MS (2000) bounds the start.
start_sim hang --fault '*=delay:30000' || fail "simulator with delay"
render "$CONF_DIR/openssl-engine.cnf" "$cnf" ENGINE="$ENGINE" ENDPOINT="$SIM_ENDPOINT" TIMEOUT_MS=1000 ||
    fail "render openssl-engine.cnf"
expect_start_failure "nginx engine with a hanging agent" 8 \
    nginx -p "$NGX" -c "$NGX/nginx.conf" -e "$NGX/error.log" -g 'daemon off;'
assert_contains "hanging agent: timeout reported" "$(cat "$FAIL_OUT")" "timed out"
stop_sim

finish
