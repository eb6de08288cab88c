#!/usr/bin/env bash
# The provider against every agent release (dstack-sim --agent-version, protocol.md §0): the documented
# fallbacks of architecture.md §4 end to end with the real openssl CLI — p256 keys equal Tappd.DeriveKey
# (and GetKey's bytes), cert=auto takes the agent chain, ratls=auto falls back from Attest to
# GetQuote (.1.1/.1.2 instead of .1.8), ratls=attest fails naming Attest, ed25519 on agents
# that ignore `algorithm` (protocol.md §3.3) gives the same key as on 0.5.11.
source "$DSTACK_SOURCE_DIR/tests/integration/legacy_lib.sh"

declare -A DIR
for v in 0.3 0.4 0.5.5 0.5.11 0.6; do
    start_agent "v$v" "$v" || { fail "simulator $v"; finish; }
    DIR[$v]=$SIM_DIR
done

# at <version> <openssl args...> — openssl with the provider pointed at that agent.
at() {
    local v=$1; shift
    SIM_ENDPOINT="${DIR[$v]}/dstack.sock" SIM_TAPPD="${DIR[$v]}/tappd.sock" ossl "$@"
}

# serve_at <version> <uri> — s_server on a free port with key and cert from <uri>; the
# served leaf lands in $DSTACK_TMP/served-<version>.pem.
serve_at() {
    local v=$1 uri=$2 port
    port=$(free_port)
    DSTACK_SIMULATOR_ENDPOINT="${DIR[$v]}/dstack.sock" TAPPD_SIMULATOR_ENDPOINT="${DIR[$v]}/tappd.sock" \
        bg run_foreign openssl s_server "${PROV_FLAGS[@]}" -accept "127.0.0.1:$port" \
        -key "$uri" -cert "$uri" -www >"$DSTACK_TMP/server-$v.out" 2>&1
    if ! wait_port "$port"; then
        log "s_server ($v) did not start: $(cat "$DSTACK_TMP/server-$v.out")"
        return 1
    fi
    printf '' | timeout 20 openssl s_client -connect "127.0.0.1:$port" 2>/dev/null |
        openssl x509 >"$DSTACK_TMP/served-$v.pem" 2>/dev/null
    kill "$BG_PID" 2>/dev/null
    wait "$BG_PID" 2>/dev/null
    [ -s "$DSTACK_TMP/served-$v.pem" ]
}

for v in 0.4 0.5.5 0.5.11 0.6; do
    # p256 key = Tappd.DeriveKey(path) = GetKey(path) bytes as a P-256 scalar.
    got=$(at "$v" pkey -in dstack:tls/web -pubout 2>"$DSTACK_TMP/err")
    check "$v: dstack:tls/web loads ($(head -c 300 "$DSTACK_TMP/err"))" test -n "$got"
    assert_eq "$v: p256 key = Tappd.DeriveKey key" "$(tappd_p256_pub "${DIR[$v]}/tappd.sock" tls/web)" "$got"
    assert_eq "$v: p256 key = GetKey bytes" "$(getkey_p256_pub "${DIR[$v]}/dstack.sock" tls/web)" "$got"

    # cert=auto → the agent chain (Tappd answers): leaf issued by the simulator CA.
    at "$v" storeutl -certs dstack:tls/web >"$DSTACK_TMP/auto-$v.pem" 2>/dev/null
    assert_eq "$v: cert=auto yields leaf + CA" 2 "$(grep -c 'BEGIN CERT' "$DSTACK_TMP/auto-$v.pem")"
    assert_contains "$v: cert=auto leaf issued by the agent CA" \
        "$(openssl x509 -in "$DSTACK_TMP/auto-$v.pem" -noout -issuer)" "dstack-sim INSECURE development CA"
    assert_eq "$v: agent leaf holds the derived key" "$(echo "$got" | spki_sha256)" \
        "$(cert_spki_sha256 <"$DSTACK_TMP/auto-$v.pem")"

    # cert=self&ratls=auto, served over TLS: Attest (0.5.6+) or else GetQuote.
    if serve_at "$v" "dstack:tls/web?cert=self&ratls=auto&san=localhost"; then
        text=$(openssl x509 -in "$DSTACK_TMP/served-$v.pem" -noout -text)
        if [ "$v" == 0.5.11 ] || [ "$v" == 0.6 ]; then
            assert_contains "$v: served cert has .1.8 (Attest)" "$text" "1.3.6.1.4.1.62397.1.8"
            assert_not_contains "$v: served cert has no .1.1" "$text" "1.3.6.1.4.1.62397.1.1"
        else
            assert_contains "$v: served cert has .1.1 (GetQuote fallback)" "$text" "1.3.6.1.4.1.62397.1.1"
            assert_contains "$v: served cert has .1.2 (event log)" "$text" "1.3.6.1.4.1.62397.1.2"
            assert_not_contains "$v: served cert has no .1.8" "$text" "1.3.6.1.4.1.62397.1.8"
            asn=$(openssl asn1parse -in "$DSTACK_TMP/served-$v.pem" 2>/dev/null)
            assert_contains "$v: asn1parse shows the quote OID" "$asn" ":1.3.6.1.4.1.62397.1.1"
        fi
        check "$v: served cert's attestation binds its key" ratls_binds "$DSTACK_TMP/served-$v.pem"
        assert_eq "$v: served cert holds the derived key" "$(echo "$got" | spki_sha256)" \
            "$(cert_spki_sha256 <"$DSTACK_TMP/served-$v.pem")"
    else
        fail "$v: s_server with cert=self&ratls=auto"
    fi
done

# ratls=attest needs Attest (0.5.6+): a clear error naming the RPC and the agent's answer.
for v in 0.4 0.5.5; do
    err=$(at "$v" storeutl -certs "dstack:tls/web?cert=self&ratls=attest" 2>&1 >/dev/null)
    assert_contains "$v: ratls=attest names Attest" "$err" "Attest on ${DIR[$v]}/dstack.sock"
    assert_contains "$v: ratls=attest passes the agent's answer" "$err" "Service not found: Attest"
    assert_contains "$v: ratls=attest names the URI" "$err" "dstack:tls/web?cert=self&ratls=attest"
done

# alg=ed25519: agents before 0.5.6 ignore `algorithm` and return the same 32 bytes, which are
# the Ed25519 seed anyway (protocol.md §3.3), so the key equals 0.5.11's.
ed0511=$(at 0.5.11 pkey -in "dstack:wallet/sol?alg=ed25519" -pubout 2>/dev/null)
check "0.5.11: ed25519 key loads" test -n "$ed0511"
for v in 0.4 0.5.5; do
    ed=$(at "$v" pkey -in "dstack:wallet/sol?alg=ed25519" -pubout 2>"$DSTACK_TMP/err")
    assert_eq "$v: ed25519 key = 0.5.11's ($(head -c 200 "$DSTACK_TMP/err"))" "$ed0511" "$ed"
done
k0511=$(at 0.5.11 pkey -in "dstack:wallet/eth?alg=secp256k1" -pubout 2>/dev/null)
assert_eq "0.6: secp256k1 key = 0.5.11's" "$k0511" \
    "$(at 0.6 pkey -in "dstack:wallet/eth?alg=secp256k1" -pubout 2>/dev/null)"
assert_eq "0.6: ed25519 key = 0.5.11's" "$ed0511" \
    "$(at 0.6 pkey -in "dstack:wallet/sol?alg=ed25519" -pubout 2>/dev/null)"
assert_eq "0.4: secp256k1 key = 0.5.11's" "$k0511" \
    "$(at 0.4 pkey -in "dstack:wallet/eth?alg=secp256k1" -pubout 2>/dev/null)"

# 0.3 (tappd only): GetKey has no socket, so the resolver takes its Tappd-only path.
# secp256k1 needs DeriveK256Key (0.4+): the error names the RPC, the endpoint and the answer.
# (legacy_v03_p256.sh covers the p256 fallback to Tappd.DeriveKey.)
err=$(at 0.3 pkey -in "dstack:wallet/eth?alg=secp256k1" -pubout 2>&1 >/dev/null)
assert_contains "0.3 secp256k1: names Tappd.DeriveK256Key" "$err" \
    "Tappd.DeriveK256Key on ${DIR[0.3]}/tappd.sock"
assert_contains "0.3 secp256k1: passes the agent's answer" "$err" "method Not Found"
assert_contains "0.3 secp256k1: names the URI" "$err" "dstack:wallet/eth?alg=secp256k1"
# p256 on 0.3: the loaded key must be Tappd.DeriveKey's (the only key a 0.3 agent has for
# the path).
got=$(at 0.3 pkey -in dstack:tls/web -pubout 2>"$DSTACK_TMP/err")
assert_eq "0.3 p256 = Tappd.DeriveKey key" "$(tappd_p256_pub "${DIR[0.3]}/tappd.sock" tls/web)" "$got"
finish
