#!/usr/bin/env bash
# dstack-keytool against every agent release (dstack-sim --agent-version, protocol.md §0): show
# and export load the same keys through the release's RPCs (architecture.md §4), an RA-TLS
# certificate made on each verifies its binding, info names the platform and replays the
# release's (full or stripped) quote log, version answers from 0.5.7 on; 0.3 has no guest
# socket, and info/version say so.
source "$DSTACK_SOURCE_DIR/tests/integration/legacy_lib.sh"
KEYTOOL=${DSTACK_KEYTOOL:?}

declare -A DIR
for v in 0.3 0.4 0.5.5 0.5.11 0.6; do
    start_agent "v$v" "$v" || { fail "simulator $v"; finish; }
    DIR[$v]=$SIM_DIR
done
# kt <version> <keytool args...> — dstack-keytool with the provider's view of that agent
kt() {
    local v=$1; shift
    DSTACK_SIMULATOR_ENDPOINT="${DIR[$v]}/dstack.sock" TAPPD_SIMULATOR_ENDPOINT="${DIR[$v]}/tappd.sock" \
        "$KEYTOOL" "$@"
}
spki() { openssl x509 -in "$1" -noout -pubkey | openssl pkey -pubin -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1; }

want=$(kt 0.6 show dstack:tls/web --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["spki_sha256"])')
check "0.6: show works" test -n "$want"
for v in 0.3 0.4 0.5.5 0.5.11 0.6; do
    got=$(kt "$v" show dstack:tls/web --json 2>"$DSTACK_TMP/err" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["spki_sha256"])' 2>/dev/null)
    if [ "$v" == 0.3 ]; then # 0.3 derives from the app CA key (protocol.md §3.2)
        check "0.3: show works ($(head -c 200 "$DSTACK_TMP/err"))" test -n "$got"
        assert_ne "0.3: another key than 0.4+" "$want" "$got"
    else
        assert_eq "$v: show = 0.6's key ($(head -c 200 "$DSTACK_TMP/err"))" "$want" "$got"
    fi
    kt "$v" export 'dstack:tls/web?cert=self&san=localhost' --cert "$DSTACK_TMP/self-$v.pem" \
        --key-ref "$DSTACK_TMP/ref-$v.pem" >/dev/null 2>"$DSTACK_TMP/err"
    assert_eq "$v: export cert=self ($(head -c 200 "$DSTACK_TMP/err"))" 0 $?
    check "$v: the certificate's attestation binds its key" ratls_binds "$DSTACK_TMP/self-$v.pem"
    [ "$v" == 0.3 ] || assert_eq "$v: certificate key = the derived key" "$want" "$(spki "$DSTACK_TMP/self-$v.pem")"
    out=$(kt "$v" info 2>&1)
    rc=$?
    case $v in
    0.3)
        assert_eq "0.3: info exits 1 (no guest socket)" 1 "$rc"
        assert_contains "0.3: info names the missing socket" "$out" "${DIR[0.3]}/dstack.sock" ;;
    *)
        assert_eq "$v: info exits 0" 0 "$rc"
        assert_contains "$v: info names the platform" "$out" "platform:        tdx"
        assert_contains "$v: info replays the quote log" "$out" "RTMR replay:     ok" ;;
    esac
    out=$(kt "$v" version 2>&1)
    rc=$?
    case $v in
    0.5.11 | 0.6) assert_eq "$v: version exits 0" 0 "$rc"
                  assert_contains "$v: version names the release" "$out" "agent $v" ;;
    0.3) assert_eq "0.3: version exits 1" 1 "$rc" ;;
    *) assert_eq "$v: version exits 1" 1 "$rc"
       assert_contains "$v: version passes the agent's answer" "$out" "Service not found: Version" ;;
    esac
done
finish
