#!/usr/bin/env bash
# hostile_battery.sh <family> — the hostile-agent battery (issue "Hardening"): every RPC the
# resolver makes, answered with wrong PEM types, encrypted PEM, a reference PEM, control
# characters, forged chains, other app ids, mismatched evidence, 404s, oversized and garbage
# bodies, against the provider (openssl pkey / storeutl / a reference PEM), the engine and
# dstack-keytool. The machinery and the checks every run gets are in hostile_lib.sh; ctest
# runs one family per test (tests/hostile/hostile.cmake).
source "$DSTACK_SOURCE_DIR/tests/hostile/hostile_lib.sh"
family=${1:?usage: hostile_battery.sh <family>}

# One row per case:
#   family | row id | hostile agent (PATH=ACTION rules, --no-guest, --other) | URI |
#   victim config (- t2 kms app kms+app) | victims | expected outcome
# Actions: reply:CODE:FILE, raw:FILE, request:FILE (forward another question), hang, close
# (tests/hostile/hostile_agent.c). Fixture files are made by hostile_fixtures (@FX@).
# Outcomes: ok, fail:<words;...> (the message must contain each and name the agent endpoint),
# refuse-or-warn:<words>.
G=/GetKey TK=/GetTlsKey AT=/Attest GQ=/GetQuote IN=/Info VE=/Version
DK=/prpc/Tappd.DeriveKey K2=/prpc/Tappd.DeriveK256Key
KEYV=pkey,refpem,engine,show      # victims that load a key only
ALLV=pkey,store,refpem,engine,show,export
CERTV=store,certs,export          # victims that want certificates
EPH='dstack:?ephemeral=yes'
ROWS=$(cat <<EOF
getkey | baseline          | -                                   | dstack:tls/hostile?cert=none | -       | $KEYV | ok
getkey | baseline-kms      | -                                   | dstack:tls/hostile?cert=none | kms+app | $KEYV | ok
getkey | garbage-body      | $G=reply:200:@FX@/garbage           | dstack:tls/hostile?cert=none | -       | $KEYV | fail:GetKey
getkey | raw-garbage       | $G=raw:@FX@/raw-garbage             | dstack:tls/hostile?cert=none | -       | $KEYV | fail:GetKey
getkey | oversize          | $G=reply:200:@FX@/oversize.json     | dstack:tls/hostile?cert=none | -       | pkey,engine,show | fail:GetKey;exceeds
getkey | pem-as-hex        | $G=reply:200:@FX@/gk-pem.json       | dstack:tls/hostile?cert=none | -       | $KEYV | fail:GetKey;key
getkey | ctrl-error        | $G=reply:400:@FX@/ctrl-error.json   | dstack:tls/hostile?cert=none | -       | $KEYV | fail:GetKey;400
getkey | html-404          | $G=reply:404:@FX@/html-404          | dstack:tls/hostile?cert=none | -       | pkey,show | fail:GetKey;404
getkey | hang              | $G=hang                             | dstack:tls/hostile?cert=none | t2      | pkey,engine,show | fail:GetKey;timed out
getkey | close             | $G=close                            | dstack:tls/hostile?cert=none | -       | pkey,show | fail:GetKey
getkey | forged-chain      | $G=reply:200:@FX@/gk-forged.json    | dstack:tls/hostile?cert=none | kms+app | $KEYV | fail:GetKey;signature chain
getkey | other-purpose     | $G=request:@FX@/req-other-purpose.json | dstack:tls/hostile?cert=none | kms+app | $KEYV | fail:signature chain
getkey | other-app-kms     | --other                             | dstack:tls/hostile?cert=none | kms     | $KEYV | refuse-or-warn:app-id
getkey | other-app-kms-app | --other                             | dstack:tls/hostile?cert=none | kms+app | $KEYV | fail:app_id;$OTHER_APP_ID
getkey | other-path-kms-app| $G=request:@FX@/req-other-path.json | dstack:tls/hostile?cert=none | kms+app | pkey,show | ok
k256   | baseline          | --no-guest                          | dstack:tls/hostile?alg=secp256k1 | kms+app | pkey,engine,show | ok
k256   | garbage-body      | --no-guest $K2=reply:200:@FX@/garbage | dstack:tls/hostile?alg=secp256k1 | -  | pkey,engine,show | fail:Tappd.DeriveK256Key
k256   | ctrl-error        | --no-guest $K2=reply:400:@FX@/ctrl-error.json | dstack:tls/hostile?alg=secp256k1 | - | pkey,engine,show | fail:Tappd.DeriveK256Key;400
k256   | forged-chain      | --no-guest $K2=reply:200:@FX@/dk256-forged.json | dstack:tls/hostile?alg=secp256k1 | kms+app | pkey,engine,show | fail:signature chain
tlskey | baseline          | -                                   | $EPH | - | $ALLV | ok
tlskey | key-is-cert       | $TK=reply:200:@FX@/tls-key-p256.crt.json   | $EPH | - | $ALLV | fail:GetTlsKey;P-256 private key
tlskey | key-rsa           | $TK=reply:200:@FX@/tls-key-rsa.key.json    | $EPH | - | $ALLV | fail:GetTlsKey;P-256 private key
tlskey | key-p384          | $TK=reply:200:@FX@/tls-key-p384.key.json   | $EPH | - | $ALLV | fail:GetTlsKey;P-256 private key
tlskey | key-secp256k1     | $TK=reply:200:@FX@/tls-key-k1.key.json     | $EPH | - | $ALLV | fail:GetTlsKey;P-256 private key
tlskey | key-enc-pkcs8     | $TK=reply:200:@FX@/tls-key-enc-p8.key.json | $EPH | - | $ALLV | fail:GetTlsKey;P-256 private key
tlskey | key-proc-type     | $TK=reply:200:@FX@/tls-key-enc-trad.key.json | $EPH | - | $ALLV | fail:GetTlsKey;P-256 private key
tlskey | key-ref-pem       | $TK=reply:200:@FX@/tls-key-ref.pem.json    | $EPH | - | $ALLV | fail:GetTlsKey;P-256 private key
tlskey | leaf-is-key       | $TK=reply:200:@FX@/tls-chain-p256.key.json | $EPH | - | $ALLV | fail:GetTlsKey;certificate 0
tlskey | leaf-rsa          | $TK=reply:200:@FX@/tls-chain-rsa.crt.json  | $EPH | - | $ALLV | fail:GetTlsKey;certificate
tlskey | leaf-proc-type    | $TK=reply:200:@FX@/tls-chain-enc.crt.json  | $EPH | - | $ALLV | fail:GetTlsKey;certificate 0
tlskey | leaf-ref-pem      | $TK=reply:200:@FX@/tls-chain-ref.pem.json  | $EPH | - | $ALLV | fail:GetTlsKey;certificate 0
tlskey | ctrl-error        | $TK=reply:400:@FX@/ctrl-error.json  | $EPH | - | $ALLV | fail:GetTlsKey;400
tlskey | garbage-body      | $TK=reply:200:@FX@/garbage          | $EPH | - | pkey,store,export | fail:GetTlsKey
tlskey | oversize          | $TK=reply:200:@FX@/oversize.json    | $EPH | - | pkey,export | fail:GetTlsKey;exceeds
derivekey | baseline       | -                                   | dstack:tls/hostile?cert=agent | - | $CERTV | ok
derivekey | leaf-is-key    | $DK=reply:200:@FX@/tls-chain-p256.key.json | dstack:tls/hostile?cert=agent | - | $CERTV | fail:Tappd.DeriveKey;certificate 0
derivekey | leaf-rsa       | $DK=reply:200:@FX@/tls-chain-rsa.crt.json  | dstack:tls/hostile?cert=agent | - | $CERTV | fail:Tappd.DeriveKey;does not match
derivekey | leaf-foreign   | $DK=reply:200:@FX@/tls-key-p256.crt.json   | dstack:tls/hostile?cert=agent | - | $CERTV | fail:Tappd.DeriveKey;does not match
derivekey | leaf-proc-type | $DK=reply:200:@FX@/tls-chain-enc.crt.json  | dstack:tls/hostile?cert=agent | - | $CERTV | fail:Tappd.DeriveKey;certificate 0
derivekey | leaf-ref-pem   | $DK=reply:200:@FX@/tls-chain-ref.pem.json  | dstack:tls/hostile?cert=agent | - | $CERTV | fail:Tappd.DeriveKey;certificate 0
derivekey | ctrl-error     | $DK=reply:400:@FX@/ctrl-error.json  | dstack:tls/hostile?cert=agent | - | $CERTV | fail:Tappd.DeriveKey;400
derivekey | auto-html-404  | $DK=reply:404:@FX@/html-404         | dstack:tls/hostile | - | $CERTV | fail:Tappd.DeriveKey;404
derivekey | auto-garbage   | $DK=raw:@FX@/raw-garbage            | dstack:tls/hostile | - | $CERTV | fail:Tappd.DeriveKey
derivekey | oversize       | $DK=reply:200:@FX@/oversize.json    | dstack:tls/hostile?cert=agent | - | store,export | fail:Tappd.DeriveKey;exceeds
legacy | baseline          | --no-guest $K2=reply:404:@FX@/not-found.json | dstack:tls/hostile | - | pkey,store,engine,show | ok
legacy | key-is-cert       | --no-guest $K2=reply:404:@FX@/not-found.json $DK=reply:200:@FX@/tls-key-p256.crt.json   | dstack:tls/hostile?cert=none | - | $KEYV | fail:Tappd.DeriveKey;P-256 private key
legacy | key-rsa           | --no-guest $K2=reply:404:@FX@/not-found.json $DK=reply:200:@FX@/tls-key-rsa.key.json    | dstack:tls/hostile?cert=none | - | $KEYV | fail:Tappd.DeriveKey;P-256 private key
legacy | key-p384          | --no-guest $K2=reply:404:@FX@/not-found.json $DK=reply:200:@FX@/tls-key-p384.key.json   | dstack:tls/hostile?cert=none | - | $KEYV | fail:Tappd.DeriveKey;P-256 private key
legacy | key-enc-pkcs8     | --no-guest $K2=reply:404:@FX@/not-found.json $DK=reply:200:@FX@/tls-key-enc-p8.key.json | dstack:tls/hostile?cert=none | - | $KEYV | fail:Tappd.DeriveKey;P-256 private key
legacy | key-proc-type     | --no-guest $K2=reply:404:@FX@/not-found.json $DK=reply:200:@FX@/tls-key-enc-trad.key.json | dstack:tls/hostile?cert=none | - | $KEYV | fail:Tappd.DeriveKey;P-256 private key
legacy | key-ref-pem       | --no-guest $K2=reply:404:@FX@/not-found.json $DK=reply:200:@FX@/tls-key-ref.pem.json    | dstack:tls/hostile?cert=none | - | $KEYV | fail:Tappd.DeriveKey;P-256 private key
legacy | ctrl-error        | --no-guest $K2=reply:404:@FX@/not-found.json $DK=reply:400:@FX@/ctrl-error.json | dstack:tls/hostile?cert=none | - | pkey,engine,show | fail:Tappd.DeriveKey;400
evidence | baseline-attest | -                                   | dstack:tls/ev?cert=self&ratls=attest | - | $CERTV | ok
evidence | baseline-quote  | -                                   | dstack:tls/ev?cert=self&ratls=quote  | - | $CERTV | ok
evidence | attest-other-rd | $AT=request:@FX@/req-other-rd.json  | dstack:tls/ev?cert=self&ratls=attest | - | $CERTV | fail:Attest;report_data
evidence | attest-garbage  | $AT=reply:200:@FX@/attest-garbage.json | dstack:tls/ev?cert=self&ratls=attest | - | $CERTV | fail:Attest
evidence | attest-ctrl     | $AT=reply:400:@FX@/ctrl-error.json  | dstack:tls/ev?cert=self             | - | $CERTV | fail:Attest;400
evidence | attest-oversize | $AT=reply:200:@FX@/oversize.json    | dstack:tls/ev?cert=self&ratls=attest | - | store,export | fail:Attest;exceeds
evidence | quote-other-rd  | $GQ=request:@FX@/req-other-rd.json  | dstack:tls/ev?cert=self&ratls=quote  | - | $CERTV | fail:GetQuote;report_data
evidence | quote-garbage   | $GQ=reply:200:@FX@/quote-garbage.json | dstack:tls/ev?cert=self&ratls=quote | - | $CERTV | fail:GetQuote
evidence | quote-ctrl      | $GQ=reply:400:@FX@/ctrl-error.json  | dstack:tls/ev?cert=self&ratls=quote  | - | $CERTV | fail:GetQuote;400
info   | baseline          | -                                   | dstack:tls/hostile?cert=none | app | pkey,engine,show,info,version | ok
info   | garbage-body      | $IN=reply:200:@FX@/garbage          | dstack:tls/hostile?cert=none | app | pkey,engine,show,info | fail:Info
info   | ctrl-error        | $IN=reply:400:@FX@/ctrl-error.json  | dstack:tls/hostile?cert=none | app | pkey,engine,show,info | fail:Info;400
info   | oversize          | $IN=reply:200:@FX@/oversize.json    | dstack:tls/hostile?cert=none | app | pkey,show,info | fail:Info;exceeds
info   | other-app         | --other                             | dstack:tls/hostile?cert=none | app | pkey,engine,show | fail:app_id;$OTHER_APP_ID
info   | version-garbage   | $VE=reply:200:@FX@/garbage          | dstack:tls/hostile?cert=none | -   | version | fail:Version
info   | version-ctrl      | $VE=reply:400:@FX@/ctrl-error.json  | dstack:tls/hostile?cert=none | -   | version | fail:Version;400
info   | version-oversize  | $VE=reply:200:@FX@/oversize.json    | dstack:tls/hostile?cert=none | -   | version | fail:Version;exceeds
EOF
)

hostile_start_upstreams || { fail "upstream agents did not start"; finish; }
hostile_fixtures || { fail "fixtures"; finish; }

# The checks themselves must be able to fail: each detector on a sample it must flag.
printf 'x %s y\n' "$DSTACK_DEV_SECRET" >"$DSTACK_TMP/selfcheck-secret"
if leaked "$DSTACK_TMP/selfcheck-secret" >/dev/null; then pass; else fail "self-check: key hex not caught"; fi
printf 'ok\nINJECTED: x\n' >"$DSTACK_TMP/selfcheck-line"
if raw_control "$DSTACK_TMP/selfcheck-line" >/dev/null; then fail "self-check: forged line not caught"; else pass; fi
printf 'a\033[31mb\n' >"$DSTACK_TMP/selfcheck-esc"
if raw_control "$DSTACK_TMP/selfcheck-esc" >/dev/null; then fail "self-check: ESC not caught"; else pass; fi

trim() { local s=$1; s=${s#"${s%%[![:space:]]*}"}; printf '%s' "${s%"${s##*[![:space:]]}"}"; }
n=0
while IFS='|' read -r fam id agent uri config victims expect; do
    [ "$(trim "$fam")" == "$family" ] || continue
    agent=$(trim "$agent")
    [ "$agent" == - ] && agent=""
    run_case "$family/$(trim "$id")" "$agent" "$(trim "$uri")" "$(trim "$config")" \
        "$(trim "$victims")" "$(trim "$expect")"
    n=$((n + 1))
done <<<"$ROWS"
[ "$n" -gt 0 ] || fail "no row of family $family"
log "$n rows of family $family"
finish
