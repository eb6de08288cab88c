#!/usr/bin/env bash
# Recipe: Debian's Apache httpd 2.4 with mod_ssl (conf/apache2-dstack.conf), key through a
# reference PEM and the provider (OPENSSL_CONF). curl pins the key dev_key.py derives; a restart
# of apache and of the agent keeps the pin; with the agent down apache refuses to start within
# the timeout and its error log shows the dstack reason first, naming the endpoint (the
# provider's stderr line: mod_ssl's DER retries push the queued reason out, see decoder.c).
source "$DSTACK_SOURCE_DIR/tests/lib/common.sh"
source "$DSTACK_SOURCE_DIR/tests/integration/services_lib.sh"
source "$DSTACK_SOURCE_DIR/tests/integration/recipes_lib.sh"
require apache2 curl openssl python3

recipe_start
export_as apache 'dstack:tls/apache?san=www.example.test'
A="$DSTACK_TMP/apache"
mkdir -p "$A/docroot"
echo "hello from apache over a dstack key" >"$A/docroot/hello.txt"
open_dirs_to "$A" "$A/docroot"
chmod o+r "$A/docroot/hello.txt"
PORT=$(free_port)
render "$CONF_DIR/apache2-dstack.conf" "$A/apache2.conf" PREFIX="$A" DOCROOT="$A/docroot" \
    PORT="$PORT" TLSDIR="$TLS_DIR" USER=nobody GROUP=nogroup || fail "render apache2-dstack.conf"
check "apache2 -t" run_foreign apache2 -f "$A/apache2.conf" -t

start_apache() {
    bg run_foreign apache2 -f "$A/apache2.conf" -DFOREGROUND >"$A/stdout" 2>"$A/stderr"
    APACHE_PID=$BG_PID
    wait_listen "$PORT" "$APACHE_PID"
}
get() {
    OPENSSL_CONF=/dev/null curl -sS --max-time 10 --resolve "www.example.test:$PORT:127.0.0.1" \
        --cacert "$TLS_DIR/apache.chain" --pinnedpubkey "$1" "https://www.example.test:$PORT/hello.txt"
}

if start_apache; then
    assert_eq "curl, pinned to the derived key" "hello from apache over a dstack key" "$(get "$PIN" 2>&1)"
    refuses_wrong_pin "apache" get
    stop_pid "$APACHE_PID"
else
    fail "apache did not start: $(cat "$A/stderr" "$A/error.log" 2>/dev/null | tail -5)"
fi

if recipe_restart "apache" "$A/error.log" start_apache; then
    assert_eq "after restarting apache and the agent: same pin" "hello from apache over a dstack key" \
        "$(get "$PIN" 2>&1)"
    stop_pid "$APACHE_PID"
fi

# Agent down: apache must not start, promptly, and the first error it logs is the dstack one.
stop_sim
: >"$A/error.log"
expect_start_failure "apache without agent" 10 apache2 -f "$A/apache2.conf" -DFOREGROUND
log_text=$(cat "$A/error.log" "$FAIL_OUT")
agent_down_names_endpoint "apache" "$log_text"
# mod_ssl retries the file as base64 DER and DER; their errors push the dstack one out of
# OpenSSL's error queue, so the provider's own line (stderr = the error log) comes first.
first=$(grep -m1 -E 'dstack provider:|SSL Library Error|AH02579' "$A/error.log")
assert_contains "the first error apache logs is the dstack reason" "$first" \
    "cannot connect to the dstack agent"
assert_contains "... naming the endpoint" "$first" "$SIM_ENDPOINT"
assert_contains "... naming the reference's URI" "$first" "dstack:tls/apache"
assert_contains "apache names the key file" "$log_text" "$TLS_DIR/apache.key"
finish
