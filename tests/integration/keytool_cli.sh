#!/usr/bin/env bash
# dstack-keytool against dstack-sim: show/export/info/quote/version, --json, --help,
# reference PEM layout, file modes, atomic writes, and every failure class with its exit code.
source "$DSTACK_SOURCE_DIR/tests/lib/common.sh"
source "$DSTACK_SOURCE_DIR/tests/integration/services_lib.sh"
require node openssl

start_sim sim || { fail "simulator did not start"; finish; }
provider_env
out="$DSTACK_TMP/out"
mkdir -p "$out"

# ---- help and usage ------------------------------------------------------------------
for cmd in show export info quote version; do
    help=$("$KEYTOOL" "$cmd" --help 2>&1)
    check "$cmd --help exits 0" test $? -eq 0
    assert_contains "$cmd --help" "$help" "Usage: dstack-keytool [global options] $cmd"
done
help=$("$KEYTOOL" --help)
assert_contains "global help lists exit codes" "$help" "2 usage error"
"$KEYTOOL" >/dev/null 2>&1
assert_eq "no command" 2 $?
msg=$("$KEYTOOL" frobnicate 2>&1)
assert_eq "unknown command exit" 2 $?
assert_contains "unknown command message" "$msg" "unknown command 'frobnicate'"
msg=$("$KEYTOOL" show --no-such-option dstack:tls/a 2>&1)
assert_eq "unknown option exit" 2 $?
msg=$("$KEYTOOL" --timeout-ms abc show dstack:tls/a 2>&1)
assert_eq "bad --timeout-ms exit" 2 $?
assert_contains "bad --timeout-ms message" "$msg" "--timeout-ms"
msg=$("$KEYTOOL" --kms-root-pubkey 1234 show dstack:tls/a 2>&1)
assert_eq "bad --kms-root-pubkey exit" 2 $?

# ---- bad URIs: exit 2, the message names the URI and the offending part ---------------
msg=$("$KEYTOOL" show 'dstack:tls/web?colour=blue' 2>&1)
assert_eq "unknown URI parameter exit" 2 $?
assert_contains "unknown URI parameter message" "$msg" "colour"
msg=$("$KEYTOOL" show 'https://example.com/key' 2>&1)
assert_eq "wrong scheme exit" 2 $?
assert_contains "wrong scheme message" "$msg" "https://example.com/key"
msg=$("$KEYTOOL" export 'dstack:tls/web?alg=rsa' --key-ref "$out/bad.key" 2>&1)
assert_eq "export bad alg exit" 2 $?
assert_contains "export bad alg message" "$msg" "rsa"
check "no file for a bad URI" test ! -e "$out/bad.key"
msg=$("$KEYTOOL" export dstack:tls/web 2>&1)
assert_eq "export without outputs" 2 $?
msg=$("$KEYTOOL" export dstack:tls/web --cert "$out/same" --chain "$out/same" 2>&1)
assert_eq "export same file twice" 2 $?
# One file under two names (not yet existing; existing, through a symlink and a hard link):
# refused before anything is written, so a reference is never overwritten by a certificate.
mkdir -p "$out/sub"
for pair in "$out/k.pem|$out/./k.pem" "$out/k.pem|$out/sub/../k.pem"; do
    msg=$( (cd "$out" && "$KEYTOOL" export dstack:tls/web --key-ref "${pair%|*}" --cert "${pair#*|}") 2>&1)
    assert_eq "export one file, two names (${pair#*|}): exit" 2 $?
    assert_contains "export one file, two names: message" "$msg" "name the same file"
done
msg=$(cd "$out" && "$KEYTOOL" export dstack:tls/web --key-ref k.pem --cert ./k.pem 2>&1)
assert_eq "export --key-ref k.pem --cert ./k.pem: exit" 2 $?
check "nothing written for two names of one file" test ! -e "$out/k.pem"
"$KEYTOOL" export dstack:tls/web --key-ref "$out/k.pem" >/dev/null
ln -s k.pem "$out/k-link.pem"
ln "$out/k.pem" "$out/k-hard.pem"
before=$(cat "$out/k.pem")
for other in k-link.pem k-hard.pem; do
    msg=$("$KEYTOOL" export dstack:tls/web --key-ref "$out/k.pem" --cert "$out/$other" 2>&1)
    assert_eq "export onto $other of the reference: exit" 2 $?
done
assert_eq "the reference is untouched" "$before" "$(cat "$out/k.pem")"

# ---- show ----------------------------------------------------------------------------
json=$("$KEYTOOL" show 'dstack:tls/web?san=web.example.test' --json)
check "show --json exits 0" test $? -eq 0
assert_eq "show algorithm" p256 "$(json_get algorithm <<<"$json")"
assert_eq "show group" prime256v1 "$(json_get group <<<"$json")"
pin=$(json_get pin <<<"$json")
check "show pin format" grep -Eq '^sha256//[A-Za-z0-9+/]{43}=$' <<<"$pin"
assert_eq "chain not verified without a root" false "$(json_get chain_verified <<<"$json")"
# Options after the URI and before the command are the same.
json2=$("$KEYTOOL" --json show 'dstack:tls/web?san=web.example.test')
assert_eq "global option before the command" "$pin" "$(json_get pin <<<"$json2")"
# The key does not depend on san/cn: only the path derives it (architecture.md §3).
assert_eq "san does not change the key" "$pin" "$("$KEYTOOL" show dstack:tls/web --json | json_get pin)"
assert_ne "another path, another key" "$pin" "$("$KEYTOOL" show dstack:tls/other --json | json_get pin)"
text=$("$KEYTOOL" show dstack:tls/web)
assert_contains "show text pin" "$text" "pin:             $pin"
assert_contains "show text chain status" "$text" "not checked"

k=$("$KEYTOOL" show 'dstack:wallet/eth?alg=secp256k1' --json)
assert_eq "secp256k1 algorithm" secp256k1 "$(json_get algorithm <<<"$k")"
check "secp256k1 eth address" grep -Eq '^0x[0-9a-fA-F]{40}$' <<<"$(json_get eth_address <<<"$k")"
check "secp256k1 compressed public key" grep -Eq '^0[23][0-9a-f]{64}$' <<<"$(json_get public_key <<<"$k")"
e=$("$KEYTOOL" show 'dstack:sign/ed?alg=ed25519' --json)
assert_eq "ed25519 key type" ED25519 "$(json_get key_type <<<"$e")"
assert_eq "ed25519 has no eth address" null "$(json_get eth_address <<<"$e")"
check "ed25519 public key" grep -Eq '^[0-9a-f]{64}$' <<<"$(json_get public_key <<<"$e")"

# ---- export ----------------------------------------------------------------------------
uri='dstack:tls/web?san=web.example.test'
"$KEYTOOL" export "$uri" --key-ref "$out/web.key" --cert "$out/web.crt" --chain "$out/ca.pem" \
    --combined "$out/web.pem" >"$out/export.txt"
check "export exits 0" test $? -eq 0
assert_eq "key-ref mode" 600 "$(stat -c %a "$out/web.key")"
assert_eq "cert mode" 644 "$(stat -c %a "$out/web.crt")"
assert_eq "chain mode" 644 "$(stat -c %a "$out/ca.pem")"
assert_eq "combined mode" 600 "$(stat -c %a "$out/web.pem")"
assert_eq "no temporary files left" "" "$(find "$out" -name '.*' -type f)"
assert_contains "export prints the pin" "$(cat "$out/export.txt")" "$pin"
# Reference PEM layout (architecture.md §6): SEQUENCE { VisibleString, UTF8String }.
check "key-ref PEM label" grep -q '^-----BEGIN DSTACK KEY URI-----$' "$out/web.key"
asn1=$(sed -n '/BEGIN DSTACK KEY URI/,/END DSTACK KEY URI/p' "$out/web.key" |
    openssl asn1parse -inform PEM 2>&1)
assert_contains "key-ref is a SEQUENCE" "$asn1" "cons: SEQUENCE"
assert_contains "key-ref description" "$asn1" "VISIBLESTRING     :dstack key URI v1"
assert_contains "key-ref URI" "$asn1" "UTF8STRING        :$uri"
assert_not_contains "key-ref holds no key" "$(cat "$out/web.key")" "PRIVATE KEY"
# Certificates: the served chain verifies against the exported issuers, and carries the key.
check "cert verifies against chain" openssl verify -CAfile "$out/ca.pem" "$out/web.crt"
assert_eq "certificate key = derived key" "${pin#sha256//}" "$(cert_pin "$out/web.crt")"
check "cert has the SAN" sh -c "openssl x509 -in '$out/web.crt' -noout -ext subjectAltName | grep -q web.example.test"
assert_eq "combined = certs + key-ref" "$(cat "$out/web.crt" "$out/web.key")" "$(cat "$out/web.pem")"
# Re-export replaces atomically (a new inode renamed over the old one).
ino=$(stat -c %i "$out/web.key")
"$KEYTOOL" export "$uri" --key-ref "$out/web.key" >/dev/null
assert_ne "re-export renames a new file" "$ino" "$(stat -c %i "$out/web.key")"
ej=$("$KEYTOOL" export "$uri" --cert "$out/web2.crt" --json)
assert_eq "export --json pin" "$pin" "$(json_get pin <<<"$ej")"
assert_eq "export --json cert" "$out/web2.crt" "$(json_get cert <<<"$ej")"
msg=$("$KEYTOOL" export 'dstack:tls/web?cert=none' --cert "$out/none.crt" 2>&1)
assert_eq "cert=none with --cert" 2 $?
check "no file for cert=none" test ! -e "$out/none.crt"

# ---- --owner: files owned by the service user, modes unchanged ---------------------------
if [ "$(id -u)" -eq 0 ] && getent passwd nobody >/dev/null; then
    "$KEYTOOL" export "$uri" --key-ref "$out/own.key" --cert "$out/own.crt" --owner nobody >/dev/null
    check "--owner exits 0" test $? -eq 0
    assert_eq "--owner: key-ref owner" "nobody $(id -gn nobody) 600" "$(stat -c '%U %G %a' "$out/own.key")"
    assert_eq "--owner: cert owner" "nobody 644" "$(stat -c '%U %a' "$out/own.crt")"
    "$KEYTOOL" export "$uri" --key-ref "$out/own.key" --owner nobody:root >/dev/null
    assert_eq "--owner USER:GROUP" "nobody root 600" "$(stat -c '%U %G %a' "$out/own.key")"
    "$KEYTOOL" export "$uri" --key-ref "$out/own.key" --owner 65534:0 >/dev/null
    assert_eq "--owner numeric ids" "65534 0" "$(stat -c '%u %g' "$out/own.key")"
    # Without the right to chown (root without CAP_CHOWN, so the agent socket stays
    # reachable): exit 4, the old file untouched, no temporary left.
    ino=$(stat -c %i "$out/own.key")
    msg=$(setpriv --bounding-set=-chown "$KEYTOOL" export "$uri" --key-ref "$out/own.key" --owner nobody 2>&1)
    assert_eq "--owner without privilege: exit 4" 4 $?
    assert_contains "--owner without privilege: message" "$msg" "owned by nobody"
    assert_eq "--owner without privilege: file untouched" "$ino" "$(stat -c %i "$out/own.key")"
    assert_eq "--owner without privilege: no temporary" "" "$(ls -A "$out" | grep '^\.own' || true)"
fi
msg=$("$KEYTOOL" export "$uri" --key-ref "$out/bad-owner.key" --owner no-such-user-dstack 2>&1)
assert_eq "--owner unknown user: exit 2" 2 $?
assert_contains "--owner unknown user: named" "$msg" 'no such user "no-such-user-dstack"'
msg=$("$KEYTOOL" export "$uri" --key-ref "$out/bad-owner.key" --owner root:no-such-group-dstack 2>&1)
assert_eq "--owner unknown group: exit 2" 2 $?
assert_contains "--owner unknown group: named" "$msg" 'no such group "no-such-group-dstack"'
msg=$("$KEYTOOL" export "$uri" --key-ref "$out/bad-owner.key" --owner root: 2>&1)
assert_eq "--owner empty group: exit 2" 2 $?
check "--owner refused: no file" test ! -e "$out/bad-owner.key"

# ---- unwritable outputs: exit 4, nothing partial, no temporaries ---------------------
ro="$DSTACK_TMP/ro"
mkdir -p "$ro"
msg=$("$KEYTOOL" export "$uri" --key-ref "$DSTACK_TMP/missing/dir/web.key" 2>&1)
assert_eq "missing directory exit" 4 $?
assert_contains "missing directory message" "$msg" "$DSTACK_TMP/missing/dir/web.key"
# Something other than a regular file in the way: refused before anything is written.
mkdir -p "$ro/web.crt"
msg=$("$KEYTOOL" export "$uri" --key-ref "$ro/web.key" --cert "$ro/web.crt" 2>&1)
assert_eq "directory in the way exit" 4 $?
assert_contains "directory in the way message" "$msg" "$ro/web.crt"
check "directory in the way: key-ref not written either" test ! -e "$ro/web.key"
mkfifo "$ro/fifo"
msg=$("$KEYTOOL" export "$uri" --cert "$ro/fifo" 2>&1)
assert_eq "fifo in the way exit" 4 $?
assert_contains "fifo in the way message" "$msg" "not a regular file"
check "fifo untouched" test -p "$ro/fifo"
assert_eq "no temporaries left" "" "$(find "$ro" -name '.*' -type f)"
if [ "$(id -u)" -ne 0 ]; then
    chmod 0555 "$ro"
    msg=$("$KEYTOOL" export "$uri" --key-ref "$ro/x.key" 2>&1)
    assert_eq "read-only directory exit" 4 $?
    chmod 0755 "$ro"
fi
# An existing symlink is refused, not followed or replaced: the link and its target stay.
echo "link target" >"$ro/target.crt"
ln -s "$ro/target.crt" "$ro/link.crt"
msg=$("$KEYTOOL" export "$uri" --cert "$ro/link.crt" 2>&1)
assert_eq "symlink in the way exit" 4 $?
assert_contains "symlink in the way message" "$msg" "$ro/link.crt"
check "symlink still a symlink" test -L "$ro/link.crt"
assert_eq "symlink target untouched" "link target" "$(cat "$ro/target.crt")"
# Modes are the documented ones whatever the umask: 0600 reference, 0644 certificates.
(umask 000 && "$KEYTOOL" export "$uri" --key-ref "$ro/u0.key" --cert "$ro/u0.crt" >/dev/null)
assert_eq "umask 000: key-ref mode" 600 "$(stat -c %a "$ro/u0.key")"
assert_eq "umask 000: cert mode" 644 "$(stat -c %a "$ro/u0.crt")"
(umask 077 && "$KEYTOOL" export "$uri" --combined "$ro/u7.pem" --cert "$ro/u7.crt" >/dev/null)
assert_eq "umask 077: combined mode" 600 "$(stat -c %a "$ro/u7.pem")"
assert_eq "umask 077: cert mode" 644 "$(stat -c %a "$ro/u7.crt")"
# A write that fails half-way (file size limit, EFBIG): exit 4, the previous file intact,
# no temporary left.
echo "previous content" >"$ro/big.pem"
msg=$(ulimit -f 1; trap '' XFSZ; "$KEYTOOL" export "$uri" --combined "$ro/big.pem" 2>&1)
assert_eq "half-way write failure exit" 4 $?
assert_contains "half-way write failure message" "$msg" "$ro/big.pem"
assert_eq "previous file intact" "previous content" "$(cat "$ro/big.pem")"
assert_eq "no temporaries after a failed write" "" "$(find "$ro" -name '.*' -type f)"

# ---- info, quote, version --------------------------------------------------------------
info=$("$KEYTOOL" info --json)
check "info exits 0 (RTMR replay ok)" test $? -eq 0
assert_eq "info replay" true "$(json_get rtmr_replay_ok <<<"$info")"
check "info app_id" grep -Eq '^[0-9a-f]{40}$' <<<"$(json_get app_id <<<"$info")"
app_id=$(json_get app_id <<<"$info")
txt=$("$KEYTOOL" info)
assert_contains "info text replay" "$txt" "RTMR replay:     ok"
"$KEYTOOL" --app-id "$app_id" info >/dev/null
assert_eq "matching --app-id" 0 $?
msg=$("$KEYTOOL" --app-id 00112233 info 2>&1)
assert_eq "wrong --app-id exit" 3 $?
assert_contains "wrong --app-id message" "$msg" "app_id"
q=$("$KEYTOOL" quote --report-data 0xdeadbeef --json)
check "quote exits 0" test $? -eq 0
check "quote report_data padded" grep -q '^deadbeef0\{120\}$' <<<"$(json_get report_data <<<"$q")"
msg=$("$KEYTOOL" quote --report-data "$(printf '%0130d' 0)" 2>&1)
assert_eq "quote report_data too long" 2 $?
v=$("$KEYTOOL" version)
assert_contains "version names the tool" "$v" "dstack-keytool "
assert_contains "version names the agent endpoint" "$v" "$SIM_ENDPOINT"

# ---- signature chain to a KMS root (the development KMS root, docs/dstack-sim.md) ----------
root=$DSTACK_DEV_KMS_ROOT
k=$("$KEYTOOL" --endpoint "$SIM_ENDPOINT" --tappd-endpoint "$SIM_TAPPD" --kms-root-pubkey "$root" \
    --app-id "$DSTACK_DEV_APP_ID" \
    show dstack:tls/web --json)
check "show with the right KMS root exits 0" test $? -eq 0
assert_eq "chain verified" true "$(json_get chain_verified <<<"$k")"
other=0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798
msg=$("$KEYTOOL" --endpoint "$SIM_ENDPOINT" --tappd-endpoint "$SIM_TAPPD" --kms-root-pubkey "$other" \
    --app-id "$DSTACK_DEV_APP_ID" \
    export dstack:tls/web --key-ref "$out/unverified.key" 2>&1)
assert_eq "wrong KMS root exit" 3 $?
check "wrong KMS root: no file" test ! -e "$out/unverified.key"

# ---- agent faults: clear messages, non-zero exit codes -------------------------------
down="$DSTACK_TMP/nothing-here.sock"
msg=$("$KEYTOOL" --endpoint "$down" --tappd-endpoint "$down" show dstack:tls/web 2>&1)
assert_eq "agent down exit" 1 $?
assert_contains "agent down names the endpoint" "$msg" "$down"
msg=$("$KEYTOOL" --endpoint "$down" --tappd-endpoint "$down" export "$uri" --key-ref "$out/down.key" 2>&1)
assert_eq "agent down export exit" 1 $?
check "agent down: no file" test ! -e "$out/down.key"

stop_sim
declare -A want_exit=([status:500]=1 [garbage]=1 [truncate]=1 [close]=1)
for fault in status:500 garbage truncate close; do
    start_sim "fault-${fault%%:*}" --fault "*=$fault" || { fail "sim with $fault"; continue; }
    msg=$("$KEYTOOL" --endpoint "$SIM_ENDPOINT" --tappd-endpoint "$SIM_TAPPD" show dstack:tls/web 2>&1)
    rc=$?
    assert_eq "fault $fault exit" "${want_exit[$fault]}" "$rc"
    assert_contains "fault $fault names the endpoint" "$msg" "$SIM_ENDPOINT"
    assert_not_contains "fault $fault: no crash" "$msg" "Sanitizer"
    msg=$("$KEYTOOL" --endpoint "$SIM_ENDPOINT" info 2>&1)
    assert_eq "fault $fault info exit" 1 $?
    stop_sim
done
start_sim fault-status --fault 'GetKey=status:400' --fault 'DeriveK256Key=status:400' ||
    fail "sim with status:400"
msg=$("$KEYTOOL" --endpoint "$SIM_ENDPOINT" --tappd-endpoint "$SIM_TAPPD" show dstack:tls/web 2>&1)
assert_eq "agent error exit" 1 $?
assert_contains "agent error text passed on" "$msg" "injected fault: status 400"
stop_sim
start_sim fault-delay --fault '*=delay:5000' || fail "sim with delay"
t0=$(date +%s%N)
msg=$("$KEYTOOL" --timeout-ms 300 --endpoint "$SIM_ENDPOINT" --tappd-endpoint "$SIM_TAPPD" \
    show dstack:tls/web 2>&1)
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
assert_eq "timeout exit" 1 "$rc"
assert_contains "timeout message" "$msg" "timeout"
check "timeout honoured (${ms} ms)" test "$ms" -lt 3000
stop_sim

finish
