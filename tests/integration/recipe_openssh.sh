#!/usr/bin/env bash
# Recipe: OpenSSH 9.2 with dstack keys. sshd's HostKey is a reference PEM (conf/sshd-dstack.conf)
# and the client's identity (ssh -i) another, both loaded by OpenSSH's own key code through
# PEM_read_bio_PrivateKey with the provider active (OPENSSL_CONF). The client pins the host key
# to dev_key.py's (known_hosts written from the independent derivation, StrictHostKeyChecking);
# authorized_keys holds dev_key.py's value for the user key. Restarts keep both; Ed25519 and
# secp256k1 references are refused by OpenSSH (only NIST curves from PEM); with the agent down
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

# What OpenSSH does not take: Ed25519 and secp256k1 references.
for alg in ed25519 secp256k1; do
    "$KEYTOOL" export "dstack:ssh/other?alg=$alg" --key-ref "$O/$alg.key" >/dev/null
    out=$(run_foreign ssh-keygen -y -f "$O/$alg.key" 2>&1)
    assert_contains "OpenSSH refuses a $alg reference" "$out" "invalid format"
done

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
