#!/usr/bin/env bash
# examples/tls_server.c: a C TLS server whose key and chain come from a dstack: URI through
# OSSL_STORE serves one HTTPS response; curl verifies the chain and pins the derived key.
source "$DSTACK_SOURCE_DIR/tests/lib/common.sh"
source "$DSTACK_SOURCE_DIR/tests/integration/services_lib.sh"
require curl node openssl

SERVER="$DSTACK_EXAMPLES_DIR/example-tls_server"
start_sim sim || { fail "simulator did not start"; finish; }
provider_env
export OPENSSL_CONF=/dev/null # the example loads the provider itself
TLS_DIR="$DSTACK_TMP/tls"
mkdir -p "$TLS_DIR"
export_key www || fail "export www"
pin=$(key_pin www)
PORT=$(free_port)

bg "$SERVER" 'dstack:tls/www?san=www.example.test' "$PORT"
srv=$BG_PID
wait_port "$PORT" || fail "example server did not listen"
body=$(https_get "$PORT" www.example.test "$TLS_DIR/www.chain" "$pin" 2>&1)
assert_eq "example server response" "hello from a dstack key" "$body"
wait "$srv"
assert_eq "example server exit status" 0 $?

# Negative: a bad URI is reported and the server exits non-zero without listening.
msg=$("$SERVER" 'dstack:tls/www?colour=blue' "$PORT" 2>&1)
check "bad URI: non-zero exit" test $? -ne 0
assert_contains "bad URI: message names the parameter" "$msg" "colour"
msg=$("$SERVER" 2>&1)
assert_eq "usage exit" 2 $?

finish
