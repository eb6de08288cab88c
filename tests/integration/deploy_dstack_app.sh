#!/usr/bin/env bash
# The dstack app example (examples/dstack-app/) without docker: its entrypoint, run as the image
# runs it but against dstack-sim, exports the reference and certificate, serves HTTPS pinned to
# the independently derived key, and renews on its schedule: new certificates for the same key,
# nginx reloaded gracefully while a client loop sees no failed handshake. conf/dstack-renew.sh
# on its own (--if-expires-within keeps a valid certificate; a failed export keeps the files and
# does not reload) and the systemd renewal unit's command line. With the agent down the
# entrypoint exits promptly naming the endpoint. docker-compose.yaml mounts the agent socket.
source "$DSTACK_SOURCE_DIR/tests/lib/common.sh"
source "$DSTACK_SOURCE_DIR/tests/integration/services_lib.sh"
source "$DSTACK_SOURCE_DIR/tests/integration/recipes_lib.sh"
require nginx curl openssl python3
APP="$DSTACK_SOURCE_DIR/examples/dstack-app"
RENEW="$CONF_DIR/dstack-renew.sh"

check "compose file mounts the agent socket" grep -q -- '- /var/run/dstack.sock:/var/run/dstack.sock' "$APP/docker-compose.yaml"
check "Dockerfile installs the packages" grep -q 'openssl-provider-dstack_' "$APP/Dockerfile"
check "Dockerfile runs the entrypoint the test runs" grep -q 'COPY entrypoint.sh' "$APP/Dockerfile"

recipe_start
export DSTACK_KEYTOOL="$KEYTOOL" RENEW_SCRIPT="$RENEW" NGINX_TEMPLATE="$APP/nginx.conf"
export TLS_DIR="$DSTACK_TMP/app-tls" NGINX_PREFIX="$DSTACK_TMP/app-nginx"
export APP_DOMAIN=app.example.test
PORT=$(free_port)
export PORT
PIN=$(dev_pin tls/app)

served_cert() { # fingerprint of the certificate the server presents (the agent's certificates
    # for one key keep their serial; a renewed one differs in its validity, so in its bytes)
    OPENSSL_CONF=/dev/null timeout 10 openssl s_client -connect "127.0.0.1:$PORT" -servername app.example.test \
        </dev/null 2>/dev/null | OPENSSL_CONF=/dev/null openssl x509 -noout -fingerprint -sha256 2>/dev/null
}
get() {
    OPENSSL_CONF=/dev/null curl -sS --max-time 5 --resolve "app.example.test:$PORT:127.0.0.1" \
        --cacert "$TLS_DIR/app.chain" --pinnedpubkey "$PIN" "https://app.example.test:$PORT/"
}

# Renew every 2 s, always (RENEW_WITHIN far beyond the certificate's lifetime).
RENEW_EVERY=2 RENEW_WITHIN=3153600000 bg run_foreign "$APP/entrypoint.sh" >"$DSTACK_TMP/app.out" 2>&1
APP_PID=$BG_PID
# nginx -t in the entrypoint binds the port for a moment: wait for the running nginx's pid file.
for _ in $(seq 1 200); do [ -s "$NGINX_PREFIX/nginx.pid" ] && break; sleep 0.05; done
if wait_listen "$PORT" "$APP_PID" 300; then
    assert_eq "the app serves HTTPS pinned to the derived key" "hello from a dstack app" "$(get 2>&1)"
    assert_eq "exported certificate carries the key" "$PIN" "sha256//$(cert_pin "$TLS_DIR/app.crt")"
    first=$(served_cert)
    # A client loop across at least two renewals + reloads: every request must succeed.
    failures=0 requests=0 t_end=$((SECONDS + 7))
    while [ "$SECONDS" -lt "$t_end" ]; do
        body=$(get 2>&1) || true
        requests=$((requests + 1))
        [ "$body" = "hello from a dstack app" ] || { failures=$((failures + 1)); log "request failed: $body"; }
        sleep 0.05
    done
    assert_eq "no failed request across the renewals ($requests requests)" 0 "$failures"
    check "the client loop ran (${requests} requests)" test "$requests" -gt 20
    renewals=$(grep -c 'exported a new certificate' "$DSTACK_TMP/app.out")
    check "renewals happened while serving ($renewals)" test "$renewals" -ge 2
    assert_ne "the server now presents a new certificate" "$first" "$(served_cert)"
    assert_eq "... for the same key" "$PIN" "$(server_pin "$PORT" -servername app.example.test)"
    check "nginx was reloaded, not restarted" kill -0 "$APP_PID"
    stop_pid "$APP_PID"
else
    fail "the entrypoint did not start nginx: $(tail -5 "$DSTACK_TMP/app.out")"
fi

# dstack-renew.sh on its own.
R="$DSTACK_TMP/renew"
mkdir -p "$R"
"$RENEW" --uri 'dstack:tls/app?san=app.example.test' --key-ref "$R/app.key" --cert "$R/app.crt" 2>"$R/err"
check "renew: first export" test -s "$R/app.crt"
ino=$(stat -c %i "$R/app.crt")
"$RENEW" --uri 'dstack:tls/app?san=app.example.test' --key-ref "$R/app.key" --cert "$R/app.crt" \
    --if-expires-within 60 --reload "touch $R/reloaded" 2>"$R/err"
assert_eq "renew: a certificate valid for longer is kept" "$ino" "$(stat -c %i "$R/app.crt")"
check "renew: and nothing is reloaded" test ! -e "$R/reloaded"
assert_contains "renew: says so" "$(cat "$R/err")" "nothing to do"
"$RENEW" --uri 'dstack:tls/app?san=app.example.test' --key-ref "$R/app.key" --cert "$R/app.crt" \
    --if-expires-within 3153600000 --reload "touch $R/reloaded" 2>"$R/err"
assert_ne "renew: an expiring certificate is replaced" "$ino" "$(stat -c %i "$R/app.crt")"
check "renew: then the server is reloaded" test -e "$R/reloaded"
"$RENEW" --uri 'dstack:tls/app?san=app.example.test' --cert "$R/app.crt" --every 0 --count 3 2>"$R/err"
assert_eq "renew --every/--count: bounded loop" 3 "$(grep -c 'exported a new' "$R/err")"
"$RENEW" --uri 'dstack:tls/app?alg=rsa' --cert "$R/app.crt" 2>/dev/null
assert_eq "renew: usage/agent errors exit 1" 1 $?
"$RENEW" --bogus 2>/dev/null
assert_eq "renew: unknown argument exits 2" 2 $?

# The systemd unit's command line, as systemd would run it (the reload command swapped for a
# marker: there is no systemd here).
unit="$DSTACK_TMP/dstack-renew-nginx.service"
render "$CONF_DIR/systemd/dstack-renew-nginx.service" "$unit" RENEW="$RENEW" KEYTOOL="$KEYTOOL" \
    TLSDIR="$R" SERVER_NAME=app.example.test || fail "render dstack-renew-nginx.service"
check "timer unit installs into timers.target" grep -qx 'WantedBy=timers.target' "$CONF_DIR/systemd/dstack-renew-nginx.timer"
cmd=$(sed -n 's/^ExecStart=//p' "$unit" | sed "s|systemctl reload nginx|touch $R/unit-reloaded|")
rm -f "$R/www.crt"
(eval "$cmd") 2>"$R/unit.err"
check "renewal unit: exports the certificate" test -s "$R/www.crt"
check "renewal unit: reloads" test -e "$R/unit-reloaded"
assert_eq "renewal unit: same key as nginx's drop-in names" "$(dev_pin tls/www)" "sha256//$(cert_pin "$R/www.crt")"

# Agent down: the entrypoint exits promptly, naming the endpoint.
stop_sim
expect_start_failure "entrypoint without agent" 10 "$APP/entrypoint.sh"
agent_down_names_endpoint "entrypoint" "$(cat "$FAIL_OUT")"
finish
