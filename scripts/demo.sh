#!/usr/bin/env bash
# demo.sh — README quick start #1: a TLS server whose key lives in the (simulated) TEE.
#
# Installs what is missing, builds into build/demo, starts dstack-sim, serves HTTPS with
#   openssl s_server -key 'dstack:tls/demo?...' -cert 'dstack:tls/demo?...'
# configured only through conf/openssl-dstack.cnf, connects with curl verifying the chain
# against the simulator's CA, prints a summary of the certificate, then restarts the server
# and the simulator and shows that the key (SPKI) is the same. Cleans up everything.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build="$root/build/demo"
work=$(mktemp -d /tmp/dstack-demo.XXXXXX)
pids=()

cleanup() {
    local pid
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

say "installing dependencies (if missing)"
"$root/scripts/install-deps.sh"

say "building into build/demo"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DDSTACK_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target dstack_provider dstack-sim >/dev/null

export OPENSSL_CONF="$root/conf/openssl-dstack.cnf" # activates dstack + default
export OPENSSL_MODULES="$build/ossl-modules"         # where dstack.so was built
URI='dstack:tls/demo?cert=agent&san=localhost&cn=demo.localhost'

start_sim() {
    local dir="$work/sim$1" i
    mkdir -p "$dir"
    "$build/simulator/dstack-sim" --dir "$dir" >"$dir/out" 2>"$dir/err" &
    SIM_PID=$!
    pids+=("$SIM_PID")
    for i in $(seq 1 100); do
        grep -q '^DSTACK_SIMULATOR_ENDPOINT=' "$dir/out" 2>/dev/null && break
        sleep 0.05
    done
    grep -q '^DSTACK_SIMULATOR_ENDPOINT=' "$dir/out" || die "dstack-sim did not start: $(cat "$dir/err")"
    export DSTACK_SIMULATOR_ENDPOINT="$dir/dstack.sock" TAPPD_SIMULATOR_ENDPOINT="$dir/tappd.sock"
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
PORT=$((20000 + RANDOM % 20000))
while ! port_free "$PORT"; do PORT=$((PORT + 1)); done

start_server() {
    openssl s_server -accept "127.0.0.1:$PORT" -key "$URI" -cert "$URI" -www -quiet \
        >"$work/server.log" 2>&1 &
    SERVER_PID=$!
    pids+=("$SERVER_PID")
    local i
    for i in $(seq 1 100); do
        port_free "$PORT" || return 0
        kill -0 "$SERVER_PID" 2>/dev/null || die "s_server failed: $(cat "$work/server.log")"
        sleep 0.05
    done
    die "s_server did not listen on $PORT"
}
stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

hex() { od -An -tx1 -v | tr -d ' \n'; }

# fetch — HTTPS request with curl verifying chain and hostname; leaves the served leaf.
fetch() {
    curl -sS --fail --cacert "$work/ca.pem" --resolve "localhost:$PORT:127.0.0.1" \
        "https://localhost:$PORT/" -o "$work/page.html" ||
        die "curl could not verify the server"
    printf '' | openssl s_client -connect "127.0.0.1:$PORT" -servername localhost 2>/dev/null |
        openssl x509 >"$work/leaf.pem"
}

spki_sha256() { openssl x509 -in "$1" -noout -pubkey | openssl pkey -pubin -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1; }

summary() {
    local leaf=$1 text rd rd_packed b certhex
    text=$(openssl x509 -in "$leaf" -noout -text)
    echo "  subject:            $(openssl x509 -in "$leaf" -noout -subject | sed 's/^subject=//')"
    echo "  issuer:             $(openssl x509 -in "$leaf" -noout -issuer | sed 's/^issuer=//')"
    echo "  SPKI SHA-256:       $(spki_sha256 "$leaf")"
    if [[ "$text" == *"1.3.6.1.4.1.62397.1.8"* ]]; then
        echo "  attestation ext:    present (1.3.6.1.4.1.62397.1.8, dstack VersionedAttestation)"
    elif [[ "$text" == *"1.3.6.1.4.1.62397.1.1"* ]]; then
        echo "  attestation ext:    present (1.3.6.1.4.1.62397.1.1, TDX quote)"
    else
        echo "  attestation ext:    MISSING"
    fi
    # report_data = SHA-512("ratls-cert:" || SPKI DER), found raw (quote) or as a msgpack
    # integer array (V1 attestation) inside the certificate.
    rd=$({ printf 'ratls-cert:'; openssl x509 -in "$leaf" -noout -pubkey |
        openssl pkey -pubin -outform DER; } | openssl dgst -sha512 -binary | hex)
    rd_packed=""
    for ((i = 0; i < ${#rd}; i += 2)); do
        b=${rd:i:2}
        if ((16#$b < 128)); then rd_packed+=$b; else rd_packed+="cc$b"; fi
    done
    certhex=$(openssl x509 -in "$leaf" -outform DER | hex)
    if [[ "$certhex" == *"$rd"* || "$certhex" == *"$rd_packed"* ]]; then
        echo "  report_data:        binds this SPKI (SHA-512(\"ratls-cert:\" || SPKI))"
    else
        echo "  report_data:        does NOT bind this SPKI"
    fi
}

say "starting dstack-sim (simulated TDX guest agent)"
start_sim 1
# The client trusts the agent's CA: the last certificate of the chain behind the URI.
openssl storeutl -certs "$URI" 2>/dev/null |
    awk '/BEGIN CERT/{buf=""} {buf = buf $0 "\n"} /END CERT/{last=buf} END{printf "%s", last}' \
        >"$work/ca.pem"
grep -q 'BEGIN CERT' "$work/ca.pem" || die "could not read the chain of $URI"

say "openssl s_server -key '$URI' -cert '$URI' on port $PORT"
start_server
fetch
say "curl verified the chain and the hostname 'localhost'; served certificate:"
summary "$work/leaf.pem"
spki1=$(spki_sha256 "$work/leaf.pem")

say "restarting s_server"
stop "$SERVER_PID"
start_server
fetch
spki2=$(spki_sha256 "$work/leaf.pem")

say "restarting dstack-sim and s_server"
stop "$SERVER_PID"
stop "$SIM_PID"
start_sim 2
start_server
fetch
spki3=$(spki_sha256 "$work/leaf.pem")
stop "$SERVER_PID"

echo "  SPKI SHA-256 first run:         $spki1"
echo "  SPKI SHA-256 after restart:     $spki2"
echo "  SPKI SHA-256 after sim restart: $spki3"
if [ "$spki1" = "$spki2" ] && [ "$spki2" = "$spki3" ]; then
    say "same key every time: the TLS identity is derived in the TEE, no key file on disk"
else
    die "the SPKI changed"
fi
