#!/usr/bin/env bash
# Recipe: Python's ssl module (conf/python-dstack-tls.py), server and client, each loading a
# reference PEM through load_cert_chain() with the provider active (OPENSSL_CONF). The client
# verifies the chain and the test pins the served key to dev_key.py's; mutual TLS with a dstack
# client key; a restart keeps the pin. With the agent down load_cert_chain fails promptly as
# ssl.SSLError — not FileNotFoundError from a stray errno of the failed connect() — and the
# provider's line naming the endpoint comes first on stderr.
source "$DSTACK_SOURCE_DIR/tests/lib/common.sh"
source "$DSTACK_SOURCE_DIR/tests/integration/services_lib.sh"
source "$DSTACK_SOURCE_DIR/tests/integration/recipes_lib.sh"
require python3 openssl

recipe_start
PY="$DSTACK_TMP/python-dstack-tls.py"
render "$CONF_DIR/python-dstack-tls.py" "$PY" || fail "render python-dstack-tls.py"
export_as py 'dstack:tls/python?san=py.example.test'
server_pin_expected=$PIN
export_as pyclient 'dstack:tls/python-client?cn=alice&usage=client'
client_pin_expected=$PIN
PORT=$(free_port)

start_py() { # start_py [client-ca]
    bg run_foreign python3 "$PY" server "$PORT" "$TLS_DIR/py.crt" "$TLS_DIR/py.key" "$@" \
        >"$DSTACK_TMP/py.out" 2>"$DSTACK_TMP/py.err"
    PY_PID=$BG_PID
    wait_listen "$PORT" "$PY_PID"
}
client() { # client [cert key] — prints the server certificate and the greeting
    run_foreign python3 "$PY" client "$PORT" py.example.test "$TLS_DIR/py.chain" "$@"
}

if start_py; then
    out=$(client 2>&1)
    assert_contains "python client: greeting" "$out" "hello anonymous from python over a dstack key"
    assert_eq "python server presents the derived key" "$server_pin_expected" "sha256//$(pem_pin <<<"$out")"
    assert_eq "same key as openssl s_client sees" "$server_pin_expected" "$(server_pin "$PORT")"
    stop_pid "$PY_PID"
else
    fail "python server did not start: $(cat "$DSTACK_TMP/py.err")"
fi

# Mutual TLS: the client's key is a reference too; the server requires a certificate from the
# agent's CA and reads the client's CN from it.
cat "$TLS_DIR/pyclient.chain" >"$DSTACK_TMP/client-ca.pem"
if start_py "$DSTACK_TMP/client-ca.pem"; then
    out=$(client "$TLS_DIR/pyclient.crt" "$TLS_DIR/pyclient.key" 2>&1)
    assert_contains "mutual TLS: the server saw the dstack client certificate" "$out" "hello alice from python"
    if client >/dev/null 2>&1; then fail "mutual TLS: a client without certificate got in"; else pass; fi
    stop_pid "$PY_PID"
else
    fail "python server (mutual TLS) did not start: $(cat "$DSTACK_TMP/py.err")"
fi
assert_eq "client certificate carries the independently derived key" "$client_pin_expected" \
    "sha256//$(cert_pin "$TLS_DIR/pyclient.crt")"

recipe_restart_sim
if start_py; then
    assert_eq "after restarting python and the agent: same pin" "$server_pin_expected" "$(server_pin "$PORT")"
    stop_pid "$PY_PID"
else
    fail "python server did not restart: $(cat "$DSTACK_TMP/py.err")"
fi

# Agent down: what a Python program sees.
stop_sim
probe='import ssl, sys
c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
try:
    c.load_cert_chain(sys.argv[1], sys.argv[2])
except Exception as e:
    print("EXC", type(e).__name__, e)
    sys.exit(3)'
start=$(date +%s%N)
out=$(run_foreign timeout 20 python3 -c "$probe" "$TLS_DIR/py.crt" "$TLS_DIR/py.key" 2>"$DSTACK_TMP/probe.err")
rc=$?
ms=$((($(date +%s%N) - start) / 1000000))
assert_eq "agent down: load_cert_chain raises" 3 "$rc"
check "agent down: fails within the bound (${ms} ms)" test "$ms" -lt 10000
assert_contains "agent down: an ssl.SSLError" "$out" "EXC SSLError"
assert_not_contains "agent down: no stray errno (FileNotFoundError)" "$out" "Errno"
first=$(head -n1 "$DSTACK_TMP/probe.err")
assert_contains "agent down: the first thing on stderr is the dstack reason" "$first" \
    "cannot connect to the dstack agent"
assert_contains "agent down: it names the endpoint" "$first" "$SIM_ENDPOINT"
# DSTACK_PROVIDER_DEBUG=level:0 is the way to silence that line.
DSTACK_PROVIDER_DEBUG=level:0 run_foreign timeout 20 python3 -c "$probe" "$TLS_DIR/py.crt" "$TLS_DIR/py.key" \
    >/dev/null 2>"$DSTACK_TMP/probe0.err"
assert_eq "DSTACK_PROVIDER_DEBUG=level:0: nothing on stderr" "" "$(cat "$DSTACK_TMP/probe0.err")"
# The client side fails the same way (its own key is a reference).
out=$(run_foreign timeout 20 python3 "$PY" client "$PORT" py.example.test "$TLS_DIR/py.chain" \
    "$TLS_DIR/pyclient.crt" "$TLS_DIR/pyclient.key" 2>&1)
assert_not_contains "client without agent: no FileNotFoundError" "$out" "FileNotFoundError"
assert_contains "client without agent: the reason" "$out" "$SIM_ENDPOINT"
finish
