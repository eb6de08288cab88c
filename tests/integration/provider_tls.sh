#!/usr/bin/env bash
# dstack provider: TLS matrix through the real openssl s_server / s_client. The client
# verifies the chain and the san hostname; the served leaf's RA-TLS extension must bind its
# key; the SPKI stays the same after restarting the server and after restarting dstack-sim.
source "$DSTACK_SOURCE_DIR/tests/integration/provider_lib.sh"
require python3

start_sim tls || { fail "simulator"; finish; }

# serve <uri> <tls-flag> — starts s_server on a free port (sets PORT, SERVER_PID).
serve() {
    PORT=$(free_port)
    DSTACK_SIMULATOR_ENDPOINT="$SIM_ENDPOINT" TAPPD_SIMULATOR_ENDPOINT="$SIM_TAPPD" \
        bg run_foreign openssl s_server "${PROV_FLAGS[@]}" -accept "127.0.0.1:$PORT" \
        -key "$1" -cert "$1" "$2" -www >"$DSTACK_TMP/server.out" 2>&1
    SERVER_PID=$BG_PID
    wait_port "$PORT" || { log "s_server did not start: $(cat "$DSTACK_TMP/server.out")"; return 1; }
}

# connect <cafile> <tls-flag> [extra s_client flags] — verifies chain + hostname; leaves the
# served leaf in $DSTACK_TMP/leaf.pem and the s_client transcript in $DSTACK_TMP/client.out.
connect() {
    local ca=$1 ver=$2; shift 2
    printf 'GET / HTTP/1.0\r\n\r\n' | timeout 20 openssl s_client -connect "127.0.0.1:$PORT" \
        -servername localhost -verify_return_error -verify_hostname localhost -CAfile "$ca" \
        "$ver" -showcerts "$@" >"$DSTACK_TMP/client.out" 2>&1
    local rc=$?
    awk '/BEGIN CERT/{n++} n==1{print} /END CERT/{if(n==1)exit}' "$DSTACK_TMP/client.out" \
        >"$DSTACK_TMP/leaf.pem"
    return $rc
}

# export_chain <uri> <out> — the certificates of <uri> through the provider (storeutl).
export_chain() {
    ossl storeutl -certs "$1" >"$2" 2>"$DSTACK_TMP/storeutl.err" || return 1
    grep -q 'BEGIN CERT' "$2"
}

# ca_of <chain.pem> <out> — last certificate of a chain (the agent's CA).
ca_of() {
    awk '/BEGIN CERT/{n++; buf=""} {buf = buf $0 "\n"} /END CERT/{last=buf} END{printf "%s", last}' \
        "$1" >"$2"
}

# pin_served <out> — a self-issued RA-TLS leaf is re-minted per process (fresh serial), so
# the client pins the certificate this server presents, after checking that it carries the
# derived key (the identity that matters) and binds it in its attestation.
pin_served() {
    printf '' | timeout 20 openssl s_client -connect "127.0.0.1:$PORT" -servername localhost \
        "$VER" 2>/dev/null | openssl x509 >"$1" 2>/dev/null
}

# run_case <name> <uri> <tls-flag> <cafile|PIN> [s_client flags]
run_case() {
    local name=$1 uri=$2 ver=$3 ca=$4; shift 4
    if ! serve "$uri" "$ver"; then fail "$name: server start"; return; fi
    if [ "$ca" = PIN ]; then
        ca="$DSTACK_TMP/pinned.pem"
        VER=$ver pin_served "$ca"
        assert_eq "$name: pinned leaf holds the derived key" \
            "$(ossl pkey -in "$uri" -pubout 2>/dev/null | spki_sha256)" "$(cert_spki_sha256 <"$ca")"
    fi
    if connect "$ca" "$ver" "$@"; then
        pass
    else
        fail "$name: client verification failed: $(grep -iE 'verify|error|alert' "$DSTACK_TMP/client.out" | head -5)"
    fi
    assert_contains "$name: verify ok" "$(cat "$DSTACK_TMP/client.out")" "Verify return code: 0 (ok)"
    local proto
    proto=$(grep -m1 -oE '^New, TLSv1\.[23]' "$DSTACK_TMP/client.out" | cut -d' ' -f2)
    assert_eq "$name: protocol" "$( [ "$ver" = -tls1_2 ] && echo TLSv1.2 || echo TLSv1.3)" "$proto"
    check "$name: served leaf's RA-TLS extension binds its SPKI" ratls_binds "$DSTACK_TMP/leaf.pem"
    local want got
    want=$(ossl pkey -in "$uri" -pubout 2>/dev/null | spki_sha256)
    got=$(cert_spki_sha256 <"$DSTACK_TMP/leaf.pem")
    [ -n "${NO_KEY_COMPARE:-}" ] || assert_eq "$name: leaf key is the derived key" "$want" "$got"
    kill "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null
}

# p256, agent-issued chain (Tappd.DeriveKey): trust the simulator CA.
AGENT_URI="dstack:tls/agent?cert=agent&san=localhost"
export_chain "$AGENT_URI" "$DSTACK_TMP/agent-chain.pem" || fail "export agent chain"
ca_of "$DSTACK_TMP/agent-chain.pem" "$DSTACK_TMP/sim-ca.pem"
run_case "p256 agent TLS1.2" "$AGENT_URI" -tls1_2 "$DSTACK_TMP/sim-ca.pem"
run_case "p256 agent TLS1.3" "$AGENT_URI" -tls1_3 "$DSTACK_TMP/sim-ca.pem"

# p256, self-issued RA-TLS certificate: the client pins that certificate.
SELF_URI="dstack:tls/self?cert=self&san=localhost"
run_case "p256 self TLS1.2" "$SELF_URI" -tls1_2 PIN -partial_chain
run_case "p256 self TLS1.3" "$SELF_URI" -tls1_3 PIN -partial_chain
QUOTE_URI="dstack:tls/self-quote?cert=self&ratls=quote&san=localhost"
run_case "p256 self ratls=quote TLS1.3" "$QUOTE_URI" -tls1_3 PIN -partial_chain

# p256 ephemeral (GetTlsKey): a fresh key per process, chain signed by the simulator CA.
NO_KEY_COMPARE=1 run_case "p256 ephemeral TLS1.2" "dstack:?ephemeral=yes&san=localhost" -tls1_2 \
    "$DSTACK_TMP/sim-ca.pem"
NO_KEY_COMPARE=1 run_case "p256 ephemeral TLS1.3" "dstack:?ephemeral=yes&san=localhost" -tls1_3 \
    "$DSTACK_TMP/sim-ca.pem"

# ed25519 self-issued on TLS 1.3 (TLS 1.2 has no Ed25519 certificates in practice).
ED_URI="dstack:tls/ed?alg=ed25519&cert=self&san=localhost"
run_case "ed25519 self TLS1.3" "$ED_URI" -tls1_3 PIN -partial_chain

# Hostname verification is real: a name outside the san fails.
serve "$AGENT_URI" -tls1_3 || fail "server start (hostname)"
printf '' | timeout 20 openssl s_client -connect "127.0.0.1:$PORT" -servername other.example \
    -verify_return_error -verify_hostname other.example -CAfile "$DSTACK_TMP/sim-ca.pem" \
    >"$DSTACK_TMP/bad.out" 2>&1
check "wrong hostname is refused" test $? -ne 0
kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null

# Same SPKI after restarting the server, and after restarting the simulator.
run_case "restart: first server" "$SELF_URI" -tls1_3 PIN -partial_chain
spki1=$(cert_spki_sha256 <"$DSTACK_TMP/leaf.pem")
run_case "restart: second server" "$SELF_URI" -tls1_3 PIN -partial_chain
spki2=$(cert_spki_sha256 <"$DSTACK_TMP/leaf.pem")
assert_eq "same SPKI after server restart" "$spki1" "$spki2"
stop_sim
start_sim tls2 || { fail "simulator restart"; finish; }
serve "$AGENT_URI" -tls1_3 || fail "server after simulator restart"
connect "$DSTACK_TMP/sim-ca.pem" -tls1_3 || fail "connect after simulator restart"
kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null
spki3=$(cert_spki_sha256 <"$DSTACK_TMP/leaf.pem")
agent_spki=$(openssl x509 -in "$DSTACK_TMP/agent-chain.pem" -noout -pubkey | spki_sha256)
assert_eq "same SPKI after simulator restart" "$agent_spki" "$spki3"
check "SPKI is non-empty" test -n "$spki3"

finish
