#!/usr/bin/env bash
# dstack-sim command line (architecture.md §8): options, startup lines, --compose, --quote, --http,
# --app-id, error exits, stale sockets, signals, nothing secret printed.
source "$DSTACK_SOURCE_DIR/tests/lib/common.sh"
require curl jq openssl xxd
SIMVER=$("$DSTACK_SIM" --version | cut -d" " -f2)

SIM=$DSTACK_SIM
out=$("$SIM" --help); assert_eq "--help exit" 0 "$?"; assert_contains "--help text" "$out" "Usage: dstack-sim --dir DIR"
out=$("$SIM" --version); assert_eq "--version exit" 0 "$?"; check "--version text ($out)" grep -qE '^dstack-sim [0-9]+\.[0-9]+\.[0-9]+ \(dstack agent protocol 0\.6\.0\)$' <<<"$out"

expect_exit() { # expect_exit <what> <code> <stderr needle> args...
    local what=$1 code=$2 needle=$3 err; shift 3
    err=$(timeout 10 "$SIM" "$@" 2>&1 >/dev/null); local rc=$?
    assert_eq "$what: exit code" "$code" "$rc"
    assert_contains "$what: message" "$err" "$needle"
}
mkdir -p "$DSTACK_TMP/d"
APPKEYS=$(dev_appkeys) || { fail "dstack-sim --write-appkeys"; finish; }
check "--write-appkeys: mode 0600" test "$(stat -c %a "$APPKEYS")" == 600
expect_exit "--write-appkeys with --dir" 2 "takes no --dir" --write-appkeys "$DSTACK_TMP/x.json" --dir "$DSTACK_TMP/d"
expect_exit "--write-appkeys unwritable" 1 "cannot create" --write-appkeys "$DSTACK_TMP/no/such/x.json"
expect_exit "no --dir" 2 "--dir is required"
expect_exit "unknown option" 2 "Usage" --dir "$DSTACK_TMP/d" --bogus
expect_exit "extra argument" 2 "unexpected argument" --dir "$DSTACK_TMP/d" extra
expect_exit "fault without =" 2 "expected <Method|*>=<kind>" --dir "$DSTACK_TMP/d" --fault GetKey
expect_exit "fault unknown kind" 2 "unknown kind" --dir "$DSTACK_TMP/d" --fault GetKey=explode
expect_exit "fault delay without ms" 2 "needs an argument" --dir "$DSTACK_TMP/d" --fault GetKey=delay
expect_exit "fault delay not a number" 2 "delay must be" --dir "$DSTACK_TMP/d" --fault GetKey=delay:soon
expect_exit "fault status out of range" 2 "status must be" --dir "$DSTACK_TMP/d" --fault GetKey=status:42
expect_exit "fault close with argument" 2 "takes no" --dir "$DSTACK_TMP/d" --fault GetKey=close:1
expect_exit "--app-id without --appkeys" 2 "--app-id needs --appkeys" --dir "$DSTACK_TMP/d" --app-id "$(printf '%040d' 1)"
expect_exit "--app-id wrong length" 2 "20 bytes" --dir "$DSTACK_TMP/d" --appkeys "$APPKEYS" --app-id 1234
expect_exit "missing appkeys" 1 "cannot read" --dir "$DSTACK_TMP/d" --appkeys "$DSTACK_TMP/nope.json"
echo '{"k256_key":"zz"}' >"$DSTACK_TMP/bad-appkeys.json"
expect_exit "malformed appkeys" 1 "k256_key must be 32 bytes" --dir "$DSTACK_TMP/d" --appkeys "$DSTACK_TMP/bad-appkeys.json"
jq '.key_provider.None.key = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIHHu9Ysx+Kn5jiDa3D0J8n+DPHQuf6rzTQg4zGCMbQiI\n-----END PRIVATE KEY-----\n"' \
    "$APPKEYS" >"$DSTACK_TMP/wrong-ca.json"
expect_exit "CA key not matching ca_cert" 1 "not a P-256 key matching ca_cert" --dir "$DSTACK_TMP/d" --appkeys "$DSTACK_TMP/wrong-ca.json"
printf 'not json' >"$DSTACK_TMP/bad-compose.json"
expect_exit "bad compose" 1 "must be a JSON object" --dir "$DSTACK_TMP/d" --compose "$DSTACK_TMP/bad-compose.json"
expect_exit "stripped and full logs" 2 "exclude each other" --dir "$DSTACK_TMP/d" --stripped-event-log --full-event-log
# app-compose event_log_version (0.6, protocol.md §5.3.1): 1 or 2, an integer
printf '{"name":"x","event_log_version":3}' >"$DSTACK_TMP/elv3.json"
expect_exit "event_log_version 3" 1 "unknown event log version: 3" --dir "$DSTACK_TMP/d" --compose "$DSTACK_TMP/elv3.json"
printf '{"name":"x","event_log_version":"2"}' >"$DSTACK_TMP/elvs.json"
expect_exit "event_log_version as a string" 1 "event_log_version: invalid type" --dir "$DSTACK_TMP/d" --compose "$DSTACK_TMP/elvs.json"
start_sim elv-old --agent-version 0.5.11 --compose "$DSTACK_TMP/elv3.json" || fail "0.5.11 ignores event_log_version"
stop_sim
head -c 100 /dev/urandom >"$DSTACK_TMP/bad-quote"
expect_exit "bad quote file" 1 "--quote" --dir "$DSTACK_TMP/d" --quote "$DSTACK_TMP/bad-quote"
expect_exit "missing dir" 1 "cannot listen" --dir "$DSTACK_TMP/no/such/dir"
expect_exit "bad --http" 1 "expected HOST:PORT" --dir "$DSTACK_TMP/d" --http localhost
touch "$DSTACK_TMP/d/dstack.sock"
expect_exit "regular file in the way" 1 "is not a socket" --dir "$DSTACK_TMP/d"
check "regular file left alone" test -f "$DSTACK_TMP/d/dstack.sock"

# --compose, --quote, --http, --app-id together; a stale socket is replaced. The quote is one
# the simulator synthesised itself; the compose is this test's own.
start_sim quote-source || { fail "sim start"; finish; }
curl -sS --unix-socket "$SIM_ENDPOINT" -H 'Content-Type: application/json' -d '{}' \
    http://localhost/GetQuote | jq -r .quote | xxd -r -p >"$DSTACK_TMP/quote.bin"
stop_sim
COMPOSE="$DSTACK_TMP/app-compose.json"
printf '{"manifest_version": 2, "name": "sim-cli-app", "runner": "docker-compose",\n "public_tcbinfo": true}\n' >"$COMPOSE"
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$DSTACK_TMP/stale.sock"
mkdir -p "$DSTACK_TMP/full"; mv "$DSTACK_TMP/stale.sock" "$DSTACK_TMP/full/dstack.sock"
APPID=00112233445566778899aabbccddeeff00112233
start_sim full --appkeys "$APPKEYS" --app-id "$APPID" \
    --compose "$COMPOSE" --quote "$DSTACK_TMP/quote.bin" \
    --http 127.0.0.1:0 || { fail "sim start"; finish; }
lines=$(cat "$SIM_DIR/sim.out")
http=$(sed -n 's/^DSTACK_SIMULATOR_HTTP=//p' <<<"$lines")
assert_eq "startup lines" "DSTACK_SIMULATOR_ENDPOINT=$SIM_DIR/dstack.sock
TAPPD_SIMULATOR_ENDPOINT=$SIM_DIR/tappd.sock
DSTACK_WORKER_ENDPOINT=$SIM_DIR/external.sock
DSTACK_SIMULATOR_HTTP=$http" "$lines"
assert_contains "http endpoint" "$http" "http://127.0.0.1:"
v=$(curl -sS -H 'Content-Type: application/json' -d '{}' "$http/Version")
assert_eq "Version over --http" "{\"version\":\"0.6.0\",\"rev\":\"dstack-sim $SIMVER\"}" "$v"
assert_eq "http connections counted" 1 "$(curl -sS --unix-socket "$SIM_DIR/sim-control.sock" http://localhost/stats | jq .connections.http)"
# Agent traffic never goes through a proxy, whatever the environment says (architecture.md §11):
# the proxy named here does not exist, so a proxied request would fail.
proxied() { # the command with every proxy variable pointing at a dead port
    (export http_proxy=http://127.0.0.1:9 HTTP_PROXY=http://127.0.0.1:9 \
        all_proxy=http://127.0.0.1:9 ALL_PROXY=http://127.0.0.1:9 https_proxy=http://127.0.0.1:9 \
        no_proxy= NO_PROXY=
     "$@" 2>&1)
}
out=$(proxied "$DSTACK_KEYTOOL" --endpoint "$http" show 'dstack:tls/web?cert=none')
assert_contains "keytool: proxy variables not used for agent traffic" "$out" "public key:"
out=$(export DSTACK_SIMULATOR_ENDPOINT="$http"
      proxied run_foreign openssl pkey -provider-path "$DSTACK_PROVIDER_DIR" -provider dstack \
          -provider default -in 'dstack:tls/web?cert=none' -pubout)
assert_contains "provider: proxy variables not used for agent traffic" "$out" "BEGIN PUBLIC KEY"

info=$(curl -sS --unix-socket "$SIM_ENDPOINT" http://localhost/Info)
assert_eq "--app-id" "$APPID" "$(jq -r .app_id <<<"$info")"
assert_eq "compose_hash = SHA-256(--compose bytes)" "$(openssl dgst -sha256 -r "$COMPOSE" | cut -d' ' -f1)" "$(jq -r .compose_hash <<<"$info")"
assert_eq "app_name from compose" sim-cli-app "$(jq -r .app_name <<<"$info")"
assert_eq "tcb_info.app_compose verbatim" "$(cat "$COMPOSE")" "$(jq -r '.tcb_info|fromjson|.app_compose' <<<"$info")"
fixture_hex=$(xxd -p "$DSTACK_TMP/quote.bin" | tr -d '\n')
assert_eq "--quote: RTMR3 from the given quote" "${fixture_hex:1040:96}" "$(jq -r '.tcb_info|fromjson|.rtmr3' <<<"$info")"
winfo=$(curl -sS --unix-socket "$SIM_EXTERNAL" http://localhost/prpc/Worker.Info)
assert_ne "public_tcbinfo true: Worker.Info shows tcb_info" "" "$(jq -r .tcb_info <<<"$winfo")"

rd=$(printf 'ab%.0s' $(seq 1 64))
q=$(curl -sS --unix-socket "$SIM_ENDPOINT" -H 'Content-Type: application/json' -d "{\"report_data\":\"$rd\"}" http://localhost/GetQuote | jq -r .quote)
assert_eq "--quote: same length" ${#fixture_hex} ${#q}
assert_eq "--quote: bytes before report_data untouched" "${fixture_hex:0:1136}" "${q:0:1136}"
assert_eq "--quote: report_data patched" "$rd" "${q:1136:128}"
assert_eq "--quote: bytes after report_data untouched" "${fixture_hex:1264}" "${q:1264}"

# nothing secret on stdout/stderr
k256=$(jq -r .k256_key "$APPKEYS")
assert_not_contains "app key never printed" "$(cat "$SIM_DIR/sim.out" "$SIM_DIR/sim.err")" "$k256"
assert_not_contains "no PEM printed" "$(cat "$SIM_DIR/sim.out" "$SIM_DIR/sim.err")" "PRIVATE KEY"

# Sockets honour the umask; --socket-mode widens (or narrows) them on request.
sim_with_umask() { # sim_with_umask <dir> <socket to wait for> [args...] — sets UPID
    local dir=$1 sock=$2 saved
    shift 2
    mkdir -p "$dir"
    saved=$(umask)
    umask 077
    "$SIM" --dir "$dir" "$@" >"$dir.out" 2>&1 &
    UPID=$!
    umask "$saved"
    for _ in $(seq 100); do [ -S "$dir/$sock" ] && return 0; sleep 0.05; done
    return 1
}
sim_with_umask "$DSTACK_TMP/umask" dstack.sock
assert_eq "umask 077: socket mode" 700 "$(stat -c %a "$DSTACK_TMP/umask/dstack.sock")"
kill "$UPID"; wait "$UPID"
sim_with_umask "$DSTACK_TMP/wide" tappd.sock --socket-mode 0666
assert_eq "--socket-mode 0666" 666 "$(stat -c %a "$DSTACK_TMP/wide/tappd.sock")"
kill "$UPID"; wait "$UPID"
expect_exit "bad --socket-mode" 2 "expected an octal mode" --dir "$DSTACK_TMP/d" --socket-mode rw

# a second simulator on the same --dir must not steal the live sockets
expect_exit "live sockets are not replaced" 1 "in use by a running server" --dir "$SIM_DIR"
check "first simulator still served after the refused start" \
    curl -sSf --unix-socket "$SIM_ENDPOINT" -o /dev/null http://localhost/Version

kill -INT "$SIM_PID"; wait "$SIM_PID"; assert_eq "SIGINT: clean exit" 0 "$?"
check "SIGINT: sockets removed" test ! -e "$SIM_DIR/dstack.sock"

# key_provider variants of appkeys.json (protocol.md §3.1): Local and Kms (tmp_ca_key/tmp_ca_cert)
jq '.key_provider = {"Local": {"key": .key_provider.None.key, "mr": "00"}}' \
    "$APPKEYS" >"$DSTACK_TMP/local.json"
jq '.key_provider = {"Kms": {"url": "https://kms.invalid", "pubkey": "00", "tmp_ca_key": .key_provider.None.key, "tmp_ca_cert": .ca_cert}} | .ca_cert = "unused"' \
    "$APPKEYS" >"$DSTACK_TMP/kms.json"
for kp in local kms; do
    start_sim "kp-$kp" --appkeys "$DSTACK_TMP/$kp.json" || { fail "sim start ($kp)"; continue; }
    curl -sS --unix-socket "$SIM_TAPPD" -H 'Content-Type: application/json' -d '{"path":"p"}' \
        http://localhost/prpc/Tappd.DeriveKey >"$DSTACK_TMP/$kp.out"
    jq -r '.certificate_chain[0]' "$DSTACK_TMP/$kp.out" >"$DSTACK_TMP/$kp.leaf"
    jq -r '.certificate_chain[1]' "$DSTACK_TMP/$kp.out" >"$DSTACK_TMP/$kp.ca"
    check "$kp key provider: chain verifies" openssl verify -CAfile "$DSTACK_TMP/$kp.ca" "$DSTACK_TMP/$kp.leaf"
    assert_eq "$kp key provider: CA = the file's CA" "$(jq -r .ca_cert "$APPKEYS")" "$(cat "$DSTACK_TMP/$kp.ca")"
    kill -TERM "$SIM_PID"; wait "$SIM_PID"; assert_eq "dstack-sim clean exit" 0 "$?"
done

# built-in identity: insecure warning, published values (docs/dstack-sim.md)
start_sim builtin || { fail "sim start"; finish; }
assert_contains "INSECURE warning on stderr" "$(cat "$SIM_DIR/sim.err")" "INSECURE"
info=$(curl -sS --unix-socket "$SIM_ENDPOINT" http://localhost/Info)
doc="$DSTACK_SOURCE_DIR/docs/dstack-sim.md"
assert_contains "documented app_id" "$(cat "$doc")" "$(jq -r .app_id <<<"$info")"
assert_contains "documented compose_hash" "$(cat "$doc")" "$(jq -r .compose_hash <<<"$info")"
assert_contains "documented CA SPKI" "$(cat "$doc")" "$(jq -r .key_provider_info <<<"$info" | jq -r .id)"
assert_contains "documented instance_id" "$(cat "$doc")" "$(jq -r .instance_id <<<"$info")"
r=$(curl -sS --unix-socket "$SIM_ENDPOINT" -H 'Content-Type: application/json' -d '{"path":"x","purpose":"p"}' http://localhost/GetKey)
assert_contains "documented KMS signature (chain[1])" "$(cat "$doc")" "$(jq -r '.signature_chain[1]' <<<"$r")"
kill -TERM "$SIM_PID"; wait "$SIM_PID"; assert_eq "dstack-sim clean exit" 0 "$?"

# --write-appkeys: loading the file reproduces the built-in identity's keys and KMS chain
start_sim reloaded --appkeys "$APPKEYS" --app-id "$DSTACK_DEV_APP_ID" || { fail "sim start"; finish; }
r=$(curl -sS --unix-socket "$SIM_ENDPOINT" -H 'Content-Type: application/json' \
    -d "{\"path\":\"$DSTACK_DEV_PATH\"}" http://localhost/GetKey)
assert_eq "--write-appkeys file: same key" "$DSTACK_DEV_SECRET" "$(jq -r .key <<<"$r")"
assert_contains "--write-appkeys file: same KMS signature" "$(cat "$doc")" "$(jq -r '.signature_chain[1]' <<<"$r")"
kill -TERM "$SIM_PID"; wait "$SIM_PID"; assert_eq "dstack-sim clean exit" 0 "$?"
finish
