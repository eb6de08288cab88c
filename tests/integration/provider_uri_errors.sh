#!/usr/bin/env bash
# dstack provider: malformed URIs, table-driven (the shape of tpm2-openssl's
# test/store_errors.sh). Each must fail at OSSL_STORE_open with the provider's "invalid
# dstack URI" reason and a message naming the offending part; no agent request is made.
source "$DSTACK_SOURCE_DIR/tests/integration/provider_lib.sh"

start_sim urierr || { fail "simulator"; finish; }

long_cn=$(printf 'c%.0s' $(seq 1 80))
# uri <TAB> expected substring of the error output
cases=$(cat <<TABLE
dstack:	empty key path
dstack:?	empty
dstack:?alg=p256	empty key path
dstack:tls/web?alg=rsa	unsupported alg "rsa"
dstack:tls/web?alg=	parameter "alg" has an empty value
dstack:tls/web?alg	parameter "alg" has no value
dstack:tls/web?foo=bar	unknown parameter "foo"
dstack:tls/web?Alg=p256	unknown parameter "Alg"
dstack:tls/web?alg=p256&alg=ed25519	parameter "alg" given more than once
dstack:tls/web?purpose=a&purpose=b	parameter "purpose" given more than once
dstack:tls/web?cert=maybe	unsupported cert "maybe"
dstack:tls/web?ratls=sometimes	unsupported ratls "sometimes"
dstack:tls/web?usage=email	unsupported usage "email"
dstack:tls/web?usage=	parameter "usage" has an empty value
dstack:tls/web?app-info=maybe	unsupported app-info "maybe"
dstack:tls/web?ephemeral=no	unsupported ephemeral "no"
dstack:tls/web?ephemeral=yes	ephemeral=yes needs an empty path
dstack:?ephemeral=yes&alg=ed25519	ephemeral=yes supports alg=p256 only
dstack:?ephemeral=yes&cert=self	cannot be combined with cert=self
dstack:?ephemeral=yes&purpose=x	purpose has no meaning with ephemeral=yes
dstack:tls/web?cert=none&san=a.example	san has no meaning with cert=none
dstack:tls/web?cert=none&cn=x	cn has no meaning with cert=none
dstack:tls/web?cert=none&ratls=quote	ratls has no meaning with cert=none
dstack:tls/web?san=	parameter "san" has an empty value
dstack:tls/web?san=a.example,,b.example	empty entry in san list
dstack:tls/web?san=bad_name!	is neither a DNS name nor an IPv4/IPv6 address
dstack:tls%2	bad percent-escape
dstack:tls%zzweb	bad percent-escape
dstack:tls%00web	%00 (NUL byte) in path
dstack:tls%ffweb	is not valid UTF-8
dstack:tls/web?&alg=p256	empty parameter
dstack:tls/web?alg=p256&	empty parameter
dstack:tls web	raw space or control character
dstack:tls/web?cn=$long_cn	cn is longer than
TABLE
)

n=0
while IFS=$'\t' read -r uri want; do
    [ -n "$uri" ] || continue
    n=$((n + 1))
    out=$(ossl pkey -in "$uri" -pubout -out /dev/null 2>&1)
    rc=$?
    if [ $rc -eq 0 ]; then
        fail "[$uri] was accepted"
        continue
    fi
    assert_contains "[$uri] message" "$out" "$want"
    assert_contains "[$uri] reason" "$out" "invalid dstack URI"
done <<<"$cases"
check "at least 30 malformed URIs" test "$n" -ge 30

# None of them reached the agent.
reqs=$(curl -s --unix-socket "$SIM_DIR/sim-control.sock" http://localhost/stats |
    python3 -c 'import json,sys; r=json.load(sys.stdin)["requests"]; print(r["dstack"]+r["tappd"])')
assert_eq "malformed URIs make no agent request" 0 "$reqs"

finish
