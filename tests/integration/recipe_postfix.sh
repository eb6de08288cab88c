#!/usr/bin/env bash
# Recipe: a Postfix 3.7 instance of its own (conf/postfix-dstack-main.cf, -master.cf) whose smtpd
# offers STARTTLS with a dstack key, the provider activated by Postfix's tls_config_file.
# openssl s_client -starttls smtp verifies the chain and pins the key to dev_key.py's; swaks
# sends a mail over STARTTLS; a restart keeps the pin; the combined-file form is refused
# (Postfix's own PEM parser, see the conf file); with the agent down STARTTLS is refused within
# the bound and the mail log names the endpoint.
source "$DSTACK_SOURCE_DIR/tests/lib/common.sh"
source "$DSTACK_SOURCE_DIR/tests/integration/services_lib.sh"
source "$DSTACK_SOURCE_DIR/tests/integration/recipes_lib.sh"
require postfix swaks openssl python3

recipe_start
export_as smtp 'dstack:tls/smtp?san=mail.example.test' --combined "$TLS_DIR/smtp.pem"
M="$DSTACK_TMP/postfix"
mkdir -p "$M/conf" "$M/queue" "$M/data"
PORT=$(free_port)
render "$CONF_DIR/postfix-dstack-main.cf" "$M/conf/main.cf" PREFIX="$M" TLSDIR="$TLS_DIR" \
    OPENSSL_CONF="$CONF_DIR/openssl-dstack.cnf" || fail "render postfix-dstack-main.cf"
render "$CONF_DIR/postfix-dstack-master.cf" "$M/conf/master.cf" PORT="$PORT" ||
    fail "render postfix-dstack-master.cf"
# Sanitizer builds: Postfix clears its daemons' environment, so the preload that lets them load
# our instrumented provider (run_foreign) must be let through too.
if [ -n "${DSTACK_PRELOAD:-}" ]; then
    sed -i 's/^import_environment = .*/& LD_PRELOAD ASAN_OPTIONS UBSAN_OPTIONS/' "$M/conf/main.cf"
fi
open_dirs_to "$M"
postfix -c "$M/conf" set-permissions >"$M/setperm.log" 2>&1 || fail "postfix set-permissions: $(tail -3 "$M/setperm.log")"
check "postfix check" postfix -c "$M/conf" check

# The master makes itself a session leader: it is stopped with `postfix stop`, also when the
# test fails half-way.
PF_UP=0
stop_postfix() {
    [ "$PF_UP" = 1 ] || return 0
    postfix -c "$M/conf" stop >/dev/null 2>&1
    local i
    for i in $(seq 1 100); do
        kill -0 "$PF_PID" 2>/dev/null || break
        sleep 0.1
    done
    wait "$PF_PID" 2>/dev/null
    PF_UP=0
}
trap 'stop_postfix; _dstack_cleanup' EXIT
start_postfix() {
    : >"$M/maillog"
    bg run_foreign postfix -c "$M/conf" start-fg >"$M/stdout" 2>&1
    PF_PID=$BG_PID
    PF_UP=1
    wait_listen "$PORT" "$PF_PID" 300
}
starttls() { # the greeting after STARTTLS, chain and name verified
    printf 'EHLO client.example.test\r\nQUIT\r\n' | OPENSSL_CONF=/dev/null timeout 15 openssl s_client \
        -connect "127.0.0.1:$PORT" -starttls smtp -quiet -verify_return_error \
        -CAfile "$TLS_DIR/smtp.chain" -verify_hostname mail.example.test 2>&1
}

if start_postfix; then
    assert_contains "STARTTLS, chain and name verified" "$(starttls)" "250"
    assert_eq "smtpd presents the derived key" "$PIN" "$(server_pin "$PORT" -starttls smtp)"
    out=$(OPENSSL_CONF=/dev/null timeout 30 swaks --server 127.0.0.1 --port "$PORT" --tls \
        --tls-verify --tls-ca-path "$TLS_DIR/smtp.chain" --tls-sni mail.example.test \
        --from a@client.example.test --to b@mail.example.test --quit-after RCPT 2>&1)
    assert_contains "swaks: STARTTLS negotiated" "$out" "TLS started"
    stop_postfix
else
    fail "postfix did not start: $(cat "$M/stdout" "$M/maillog" | tail -5)"
fi

recipe_restart_sim
if start_postfix; then
    assert_eq "after restarting postfix and the agent: same pin" "$PIN" "$(server_pin "$PORT" -starttls smtp)"
    # Agent down while postfix runs: a new smtpd cannot load its key; STARTTLS is refused
    # promptly and the mail log says why.
    stop_sim
    postfix -c "$M/conf" reload >/dev/null 2>&1 # new smtpd processes from now on
    sleep 1
    start=$(date +%s%N)
    out=$(starttls)
    ms=$((($(date +%s%N) - start) / 1000000))
    check "agent down: STARTTLS refused within the bound (${ms} ms)" test "$ms" -lt 10000
    assert_not_contains "agent down: no TLS session" "$out" "250 "
    sleep 1
    agent_down_names_endpoint "postfix mail log" "$(cat "$M/maillog")"
    stop_postfix
else
    fail "postfix did not restart: $(tail -5 "$M/maillog")"
fi

# The combined form: Postfix's own PEM parser skips the reference block, so TLS is disabled.
recipe_restart_sim
sed -i -e "s|^smtpd_tls_cert_file = .*|smtpd_tls_chain_files = $TLS_DIR/smtp.pem|" \
    -e '/^smtpd_tls_key_file/d' "$M/conf/main.cf"
if start_postfix; then
    out=$(starttls)
    assert_not_contains "smtpd_tls_chain_files with a reference: no TLS (documented limitation)" "$out" "250 "
    sleep 1
    assert_contains "... and Postfix disables TLS" "$(cat "$M/maillog")" "error loading private keys and certificates from"
    stop_postfix
else
    fail "postfix (chain files) did not start: $(tail -5 "$M/maillog")"
fi
finish
