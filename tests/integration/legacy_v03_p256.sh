#!/usr/bin/env bash
# On a 0.3 agent, which has only tappd.sock and no Tappd.DeriveK256Key, the provider still
# loads the default p256 key: architecture.md §3 defines p256 as byte-identical to
# Tappd.DeriveKey(path), the one key-bearing RPC a 0.3 agent has. Other algorithms fail with a
# message saying the agent is too old.
source "$DSTACK_SOURCE_DIR/tests/integration/legacy_lib.sh"

start_agent v03 0.3 || { fail "simulator"; finish; }
want=$(tappd_p256_pub "$SIM_TAPPD" tls/web)
check "Tappd.DeriveKey answers on 0.3" test -n "$want"
got=$(ossl pkey -in dstack:tls/web -pubout 2>"$DSTACK_TMP/err")
[ -s "$DSTACK_TMP/err" ] && log "provider: $(cat "$DSTACK_TMP/err")"
assert_eq "0.3: dstack:tls/web = Tappd.DeriveKey(tls/web) key" "$want" "$got"
ossl storeutl -certs dstack:tls/web >"$DSTACK_TMP/chain.pem" 2>/dev/null
assert_eq "0.3: cert=auto yields the agent chain" 2 "$(grep -c 'BEGIN CERT' "$DSTACK_TMP/chain.pem")"
err=$(ossl pkey -in 'dstack:tls/web?alg=secp256k1' -pubout 2>&1 >/dev/null)
assert_contains "0.3: secp256k1 refused as too old" "$err" "predates dstack 0.4 and derives only P-256 keys"
finish
