#!/usr/bin/env bash
# Recipe: OpenSSH (9.2 on Debian 12, 10.0 on Debian 13) with dstack keys. sshd's HostKey is a reference PEM (conf/sshd-dstack.conf)
# and the client's identity (ssh -i) another, both loaded by OpenSSH's own key code through
# PEM_read_bio_PrivateKey with the provider active (OPENSSL_CONF). The client pins the host key
# to dev_key.py's (known_hosts written from the independent derivation, StrictHostKeyChecking);
# authorized_keys holds dev_key.py's value for the user key. Restarts keep both; Ed25519
# references work from OpenSSH 9.6, secp256k1 ones never (no OpenSSH key type); with the agent down
# sshd refuses to start and ssh cannot load its key, promptly, naming the endpoint.
source "$DSTACK_SOURCE_DIR/tests/lib/common.sh"
source "$DSTACK_SOURCE_DIR/tests/integration/services_lib.sh"
source "$DSTACK_SOURCE_DIR/tests/integration/recipes_lib.sh"
require sshd ssh ssh-keygen openssl python3
SSHD=$(command -v sshd)

recipe_start
O="$DSTACK_TMP/ssh"
mkdir -p "$O"
mkdir -p /run/sshd # privilege separation directory (made by the ssh service's unit normally)
"$KEYTOOL" export 'dstack:ssh/host' --key-ref "$TLS_DIR/ssh_host_dstack.key" >/dev/null || fail "export host key"
"$KEYTOOL" export 'dstack:ssh/user' --key-ref "$TLS_DIR/user.key" >/dev/null || fail "export user key"
host_pub=$(dev_key ssh ssh/host)
user_pub=$(dev_key ssh ssh/user)
assert_eq "ssh-keygen -y on the host reference = dev_key.py" "$host_pub" \
    "$(run_foreign ssh-keygen -y -f "$TLS_DIR/ssh_host_dstack.key" 2>&1)"
assert_eq "ssh-keygen -y on the user reference = dev_key.py" "$user_pub" \
    "$(run_foreign ssh-keygen -y -f "$TLS_DIR/user.key" 2>&1)"
echo "$user_pub dstack-user" >"$O/authorized_keys"
PORT=$(free_port)
echo "[127.0.0.1]:$PORT $host_pub" >"$O/known_hosts"
render "$CONF_DIR/sshd-dstack.conf" "$O/sshd_config" PREFIX="$O" PORT="$PORT" TLSDIR="$TLS_DIR" ||
    fail "render sshd-dstack.conf"
check "sshd -t" run_foreign "$SSHD" -t -f "$O/sshd_config"

start_sshd() {
    bg run_foreign "$SSHD" -D -e -f "$O/sshd_config" >"$O/sshd.log" 2>&1
    SSHD_PID=$BG_PID
    wait_listen "$PORT" "$SSHD_PID"
}
ssh_run() { # ssh with the dstack user key, the host key pinned by known_hosts
    run_foreign timeout 20 ssh -F /dev/null -i "$TLS_DIR/user.key" -o IdentitiesOnly=yes \
        -o UserKnownHostsFile="$O/known_hosts" -o StrictHostKeyChecking=yes -o BatchMode=yes \
        -o ConnectTimeout=10 -p "$PORT" root@127.0.0.1 "$@"
}

if start_sshd; then
    assert_eq "ssh -i reference, host key pinned" "hello over dstack ssh keys" "$(ssh_run echo hello over dstack ssh keys 2>&1)"
    # A known_hosts entry with another key must be refused: the pin is real.
    echo "[127.0.0.1]:$PORT $user_pub" >"$O/known_hosts.bad"
    out=$(run_foreign timeout 20 ssh -F /dev/null -i "$TLS_DIR/user.key" -o IdentitiesOnly=yes \
        -o UserKnownHostsFile="$O/known_hosts.bad" -o StrictHostKeyChecking=yes -o BatchMode=yes \
        -p "$PORT" root@127.0.0.1 true 2>&1)
    assert_contains "another pinned host key: refused" "$out" "HOST IDENTIFICATION HAS CHANGED"
    stop_pid "$SSHD_PID"
else
    fail "sshd did not start: $(tail -5 "$O/sshd.log")"
fi

recipe_restart_sim
if start_sshd; then
    assert_eq "after restarting sshd and the agent" "same" "$(ssh_run echo same 2>&1)"
    stop_pid "$SSHD_PID"
else
    fail "sshd did not restart: $(tail -5 "$O/sshd.log")"
fi

# Ed25519 from PEM (PKCS#8) arrived in OpenSSH 9.6: Debian 12's 9.2 refuses the reference,
# Debian 13's 10.0 reads it as the derived key. secp256k1 has no OpenSSH key type at all.
ssh_version=$(ssh -V 2>&1 | sed -n 's/^OpenSSH_\([0-9]*\)\.\([0-9]*\).*/\1 \2/p')
read -r ssh_major ssh_minor <<<"$ssh_version"
"$KEYTOOL" export "dstack:ssh/other?alg=ed25519" --key-ref "$O/ed25519.key" >/dev/null
out=$(run_foreign ssh-keygen -y -f "$O/ed25519.key" 2>&1)
if [ "${ssh_major:-0}" -gt 9 ] || { [ "${ssh_major:-0}" -eq 9 ] && [ "${ssh_minor:-0}" -ge 6 ]; }; then
    assert_eq "OpenSSH $ssh_major.$ssh_minor reads an ed25519 reference as the derived key" \
        "$(dev_key ssh ssh/other ed25519)" "$out"
else
    assert_contains "OpenSSH $ssh_major.$ssh_minor refuses an ed25519 reference" "$out" "invalid format"
fi
"$KEYTOOL" export "dstack:ssh/other?alg=secp256k1" --key-ref "$O/secp256k1.key" >/dev/null
out=$(run_foreign ssh-keygen -y -f "$O/secp256k1.key" 2>&1)
assert_contains "OpenSSH refuses a secp256k1 reference" "$out" "invalid format"

# Agent down.
stop_sim
expect_start_failure "sshd without agent" 10 "$SSHD" -D -e -f "$O/sshd_config"
agent_down_names_endpoint "sshd" "$(cat "$FAIL_OUT")"
assert_contains "sshd: no host key" "$(cat "$FAIL_OUT")" "no hostkeys available"
start=$(date +%s%N)
out=$(run_foreign timeout 20 ssh-keygen -y -f "$TLS_DIR/user.key" 2>&1)
ms=$((($(date +%s%N) - start) / 1000000))
check "ssh-keygen without agent: fails within the bound (${ms} ms)" test "$ms" -lt 10000
agent_down_names_endpoint "ssh-keygen" "$out"
finish
