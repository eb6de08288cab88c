#!/usr/bin/env bash
# Recipe: Node.js's tls module with a reference PEM as key (conf/nodejs-dstack-tls.js), the
# provider active through OPENSSL_CONF=conf/openssl-dstack.cnf, which names Node's own section
# (nodejs_conf). openssl s_client verifies the chain and pins the key to dev_key.py's; a restart
# keeps it. Without the nodejs_conf line (an openssl.cnf with only openssl_conf) the same start
# fails: Node never loads the provider; --openssl-shared-config is the other way in. With the
# agent down node exits promptly naming the endpoint.
source "$DSTACK_SOURCE_DIR/tests/lib/common.sh"
source "$DSTACK_SOURCE_DIR/tests/integration/services_lib.sh"
source "$DSTACK_SOURCE_DIR/tests/integration/recipes_lib.sh"
require node openssl python3

recipe_start
log "node $(node --version), OpenSSL $(OPENSSL_CONF=/dev/null node -p process.versions.openssl)," \
    "shared libssl: $(OPENSSL_CONF=/dev/null node -p 'process.config.variables.node_shared_openssl')"
export_as node 'dstack:tls/node?san=node.example.test'
JS="$DSTACK_TMP/nodejs-dstack-tls.js"
render "$CONF_DIR/nodejs-dstack-tls.js" "$JS" || fail "render nodejs-dstack-tls.js"
PORT=$(free_port)

start_node() { # [node options]
    bg run_foreign node "$@" "$JS" "$PORT" "$TLS_DIR/node.crt" "$TLS_DIR/node.key" \
        >"$DSTACK_TMP/node.out" 2>"$DSTACK_TMP/node.err"
    NODE_PID=$BG_PID
    wait_listen "$PORT" "$NODE_PID"
}
line() {
    OPENSSL_CONF=/dev/null timeout 10 openssl s_client -connect "127.0.0.1:$PORT" -quiet \
        -verify_return_error -CAfile "$TLS_DIR/node.chain" -verify_hostname node.example.test \
        </dev/null 2>/dev/null
}

if start_node; then
    assert_eq "node serves over verified TLS" "hello from node over a dstack key" "$(line)"
    assert_eq "node presents the derived key" "$PIN" "$(server_pin "$PORT")"
    stop_pid "$NODE_PID"
else
    fail "node did not start: $(cat "$DSTACK_TMP/node.err")"
fi

recipe_restart_sim
if start_node; then
    assert_eq "after restarting node and the agent: same pin" "$PIN" "$(server_pin "$PORT")"
    stop_pid "$NODE_PID"
else
    fail "node did not restart: $(cat "$DSTACK_TMP/node.err")"
fi

# The configuration most programs need, without nodejs_conf: node ignores it.
grep -v '^nodejs_conf' "$CONF_DIR/openssl-dstack.cnf" >"$DSTACK_TMP/openssl-no-nodejs.cnf"
out=$(OPENSSL_CONF="$DSTACK_TMP/openssl-no-nodejs.cnf" timeout 20 node "$JS" "$PORT" \
    "$TLS_DIR/node.crt" "$TLS_DIR/node.key" 2>&1)
assert_contains "openssl_conf only: node never loads the provider" "$out" "DECODER routines::unsupported"
# ... unless told to read openssl_conf like other programs.
if OPENSSL_CONF="$DSTACK_TMP/openssl-no-nodejs.cnf" start_node --openssl-shared-config; then
    assert_eq "--openssl-shared-config: the provider loads" "$PIN" "$(server_pin "$PORT")"
    stop_pid "$NODE_PID"
else
    fail "node --openssl-shared-config did not start: $(cat "$DSTACK_TMP/node.err")"
fi

stop_sim
expect_start_failure "node without agent" 10 node "$JS" "$PORT" "$TLS_DIR/node.crt" "$TLS_DIR/node.key"
agent_down_names_endpoint "node" "$(cat "$FAIL_OUT")"
finish
