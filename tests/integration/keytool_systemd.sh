#!/usr/bin/env bash
# The systemd drop-ins in conf/systemd/: their ExecStartPre lines, rendered, run as systemd
# would run them (one command line each, no shell) and produce exactly the files
# conf/nginx-dstack.conf and conf/haproxy-dstack*.cfg read; the nginx drop-in runs the export
# before Debian's `nginx -t`.
source "$DSTACK_SOURCE_DIR/tests/lib/common.sh"
source "$DSTACK_SOURCE_DIR/tests/integration/services_lib.sh"
require node openssl

start_sim sim || { fail "simulator did not start"; finish; }
provider_env

# exec_start_pre UNIT — runs the dstack-related ExecStartPre= lines in order. systemd splits a
# command line like a shell without expansions; `eval` of the quoted line matches that for
# these lines (single-quoted URI, plain paths).
exec_start_pre() {
    local line cmd ran=0
    while IFS= read -r line; do
        cmd=${line#ExecStartPre=}
        [ -n "$cmd" ] || continue
        case "$cmd" in
        *nginx\ -t*) continue ;; # Debian's own configuration test, not ours to run here
        esac
        eval "$cmd" || return 1
        ran=$((ran + 1))
    done < <(grep '^ExecStartPre=' "$1")
    [ "$ran" -gt 0 ]
}

for svc in nginx haproxy; do
    unit="$DSTACK_TMP/$svc.conf"
    tls="$DSTACK_TMP/$svc-tls"
    render "$CONF_DIR/systemd/$svc.service.d/dstack.conf" "$unit" KEYTOOL="$KEYTOOL" \
        OPENSSL_CONF="$CONF_DIR/openssl-dstack.cnf" TLSDIR="$tls" SERVER_NAME=www.example.test ||
        fail "render $svc drop-in"
    check "$svc drop-in: [Service] section" grep -qx '\[Service\]' "$unit"
    check "$svc drop-in: OPENSSL_CONF" grep -qx "Environment=OPENSSL_CONF=$CONF_DIR/openssl-dstack.cnf" "$unit"
    check "$svc drop-in: ExecStartPre lines run" exec_start_pre "$unit"
done
check "haproxy drop-in: provider log for load failures" grep -qx 'Environment=DSTACK_PROVIDER_DEBUG=level:1' "$DSTACK_TMP/haproxy.conf"
# nginx: the list is reset, the export precedes `nginx -t`.
order=$(grep -n '^ExecStartPre=' "$DSTACK_TMP/nginx.conf" | tr '\n' ' ')
assert_contains "nginx drop-in resets ExecStartPre" "$order" "ExecStartPre= "
check "nginx drop-in: export before nginx -t" sh -c \
    "grep '^ExecStartPre=' '$DSTACK_TMP/nginx.conf' | grep -n . | grep -A9 dstack-keytool | grep -q 'nginx -t'"
pin=$("$KEYTOOL" show dstack:tls/www --json | json_get pin)
check "nginx: key-ref written" grep -q 'BEGIN DSTACK KEY URI' "$DSTACK_TMP/nginx-tls/www.key"
assert_eq "nginx: certificate carries the key" "$pin" "sha256//$(cert_pin "$DSTACK_TMP/nginx-tls/www.crt")"
check "haproxy: combined file has the key-ref" grep -q 'BEGIN DSTACK KEY URI' "$DSTACK_TMP/haproxy-tls/www.pem"
assert_eq "haproxy: combined file's certificate" "$pin" "sha256//$(cert_pin "$DSTACK_TMP/haproxy-tls/www.pem")"

# With the agent down the export fails, so systemd would not start the service.
stop_sim
rm -rf "$DSTACK_TMP/nginx-tls"
if exec_start_pre "$DSTACK_TMP/nginx.conf" 2>"$DSTACK_TMP/err"; then
    fail "ExecStartPre succeeded without an agent"
else
    pass
fi
assert_contains "failed export names the endpoint" "$(cat "$DSTACK_TMP/err")" "$SIM_ENDPOINT"
check "failed export leaves no key-ref" test ! -e "$DSTACK_TMP/nginx-tls/www.key"

finish
