#!/usr/bin/env bash
# Recipe: Debian's lighttpd 1.4 with mod_openssl, key through the provider (OPENSSL_CONF):
# ssl.privkey naming a reference PEM (conf/lighttpd-dstack.conf), and one combined ssl.pemfile
# (conf/lighttpd-dstack-combined.conf) — the file lighttpd parses with PEM_read_bio_PrivateKey
# while an error is already queued (provider/decoder.c). curl pins the key dev_key.py derives;
# restarts keep it; with the agent down lighttpd refuses to start, promptly, naming the endpoint.
source "$DSTACK_SOURCE_DIR/tests/lib/common.sh"
source "$DSTACK_SOURCE_DIR/tests/integration/services_lib.sh"
source "$DSTACK_SOURCE_DIR/tests/integration/recipes_lib.sh"
require lighttpd curl openssl python3

recipe_start
export_as lighttpd 'dstack:tls/lighttpd?san=www.example.test' --combined "$TLS_DIR/lighttpd.pem"
L="$DSTACK_TMP/lighttpd"
mkdir -p "$L/docroot"
echo "hello from lighttpd over a dstack key" >"$L/docroot/hello.txt"

get() {
    OPENSSL_CONF=/dev/null curl -sS --max-time 10 --resolve "www.example.test:$PORT:127.0.0.1" \
        --cacert "$TLS_DIR/lighttpd.chain" --pinnedpubkey "$1" "https://www.example.test:$PORT/hello.txt"
}
start_lighttpd() { # CONF
    bg run_foreign lighttpd -D -f "$1" >"$L/stdout" 2>"$L/stderr"
    LH_PID=$BG_PID
    wait_listen "$PORT" "$LH_PID"
}

for variant in "" -combined; do
    label="lighttpd${variant:- (ssl.privkey)}"
    PORT=$(free_port)
    cfg="$L/lighttpd$variant.conf"
    render "$CONF_DIR/lighttpd-dstack$variant.conf" "$cfg" PREFIX="$L" DOCROOT="$L/docroot" \
        PORT="$PORT" TLSDIR="$TLS_DIR" || fail "$label: render"
    check "$label: lighttpd -t" run_foreign lighttpd -tt -f "$cfg"
    if start_lighttpd "$cfg"; then
        assert_eq "$label: curl pinned to the derived key" "hello from lighttpd over a dstack key" "$(get "$PIN" 2>&1)"
        refuses_wrong_pin "$label" get
        stop_pid "$LH_PID"
    else
        fail "$label: lighttpd did not start: $(cat "$L/stderr" "$L/error.log" 2>/dev/null | tail -5)"
    fi
done

if recipe_restart "lighttpd" "$L/error.log" start_lighttpd "$cfg"; then
    assert_eq "after restarting lighttpd and the agent: same pin" "hello from lighttpd over a dstack key" \
        "$(get "$PIN" 2>&1)"
    stop_pid "$LH_PID"
fi

stop_sim
for variant in "" -combined; do
    expect_start_failure "lighttpd$variant without agent" 10 lighttpd -D -f "$L/lighttpd$variant.conf"
    out=$(cat "$FAIL_OUT" "$L/error.log" 2>/dev/null)
    agent_down_names_endpoint "lighttpd$variant" "$out"
done
finish
