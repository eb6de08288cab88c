#!/usr/bin/env bash
# Recipe: Redis 7 over TLS, run as the redis user with a reference it owns (export --owner redis,
# conf/redis-dstack.conf), the provider active through OPENSSL_CONF; redis-cli --tls with a
# client certificate whose key is a reference PEM; openssl s_client pins the served key to
# dev_key.py's. Restarts keep it; with the agent down redis-server refuses to start, promptly,
# naming the endpoint, and so does redis-cli's client key.
source "$DSTACK_SOURCE_DIR/tests/lib/common.sh"
source "$DSTACK_SOURCE_DIR/tests/integration/services_lib.sh"
source "$DSTACK_SOURCE_DIR/tests/integration/recipes_lib.sh"
require redis-server redis-cli openssl python3 setpriv

recipe_start
R="$DSTACK_TMP/redis"
mkdir -p "$R"
chown redis: "$R"
open_dirs_to "$R" "$TLS_DIR"
export_as redis 'dstack:tls/redis?san=cache.example.test' --owner redis
server_pin_expected=$PIN
export_as rclient 'dstack:tls/redis-client?cn=app&usage=client'
PORT=$(free_port)
render "$CONF_DIR/redis-dstack.conf" "$R/redis.conf" PREFIX="$R" PORT="$PORT" TLSDIR="$TLS_DIR" ||
    fail "render redis-dstack.conf"
as_redis() { setpriv --reuid=redis --regid=redis --init-groups "$@"; }

start_redis() {
    bg run_foreign setpriv --reuid=redis --regid=redis --init-groups redis-server "$R/redis.conf" \
        >"$R/server.log" 2>&1
    REDIS_PID=$BG_PID
    wait_listen "$PORT" "$REDIS_PID"
}
cli() { # redis-cli with a dstack client key
    run_foreign timeout 20 redis-cli --tls -h 127.0.0.1 -p "$PORT" --sni cache.example.test \
        --cacert "$TLS_DIR/redis.chain" --cert "$TLS_DIR/rclient.crt" --key "$TLS_DIR/rclient.key" "$@"
}

if start_redis; then
    assert_eq "redis-cli --tls with a dstack client key" "PONG" "$(cli PING 2>&1)"
    cli SET greeting "hello from redis over a dstack key" >/dev/null
    assert_eq "round trip" "hello from redis over a dstack key" "$(cli GET greeting 2>&1)"
    assert_eq "the server presents the derived key" "$server_pin_expected" "$(server_pin "$PORT" -servername cache.example.test)"
    # tls-auth-clients: no client certificate, no access.
    out=$(OPENSSL_CONF=/dev/null timeout 20 redis-cli --tls -h 127.0.0.1 -p "$PORT" --cacert "$TLS_DIR/redis.chain" PING 2>&1)
    assert_not_contains "no client certificate: refused" "$out" "PONG"
    stop_pid "$REDIS_PID"
else
    fail "redis did not start: $(tail -5 "$R/server.log")"
fi

recipe_restart_sim
if start_redis; then
    assert_eq "after restarting redis and the agent" "PONG" "$(cli PING 2>&1)"
    assert_eq "same pin after the restarts" "$server_pin_expected" "$(server_pin "$PORT" -servername cache.example.test)"
    stop_pid "$REDIS_PID"
else
    fail "redis did not restart: $(tail -5 "$R/server.log")"
fi

# The client without agent: the server keeps its key in memory, the client cannot get its own.
start_redis || fail "redis did not start for the client check"
stop_sim
start=$(date +%s%N)
out=$(cli PING 2>&1)
ms=$((($(date +%s%N) - start) / 1000000))
check "redis-cli without agent: fails within the bound (${ms} ms)" test "$ms" -lt 10000
assert_not_contains "redis-cli without agent: no PONG" "$out" "PONG"
agent_down_names_endpoint "redis-cli" "$out"
stop_pid "$REDIS_PID"
expect_start_failure "redis-server without agent" 10 \
    setpriv --reuid=redis --regid=redis --init-groups redis-server "$R/redis.conf"
agent_down_names_endpoint "redis-server" "$(cat "$FAIL_OUT")"
finish
