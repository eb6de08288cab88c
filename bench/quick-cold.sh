#!/usr/bin/env bash
# Quick iteration loop for figure 1's cold rows and figure 3's RSS rows (issue 10 item 9).
# Not a replacement for bench/run.sh, whose RESULTS.md holds the figures of record: this runs
# only the two measurements that changed, against an already built tree, in about a minute.
#
#   bench/quick-cold.sh [BUILD_DIR]      # default build/bench; bench programs in BUILD_DIR/bench-programs
#
# Environment: QUICK_COLD (fresh processes per row, default 40), QUICK_ROUNDS (default 3),
# QUICK_NGINX=0 to skip the RSS rows, QUICK_CALLGRIND=1 to add instruction counts, QUICK_SMAPS=1
# to list the provider worker's RSS by mapping. Prints one line per row: median p50 over rounds.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$(cd "${1:-$ROOT/build/bench}" && pwd)
PROGS="$BUILD/bench-programs"
COLD=${QUICK_COLD:-40}
ROUNDS=${QUICK_ROUNDS:-3}
RUN=$(mktemp -d /tmp/dstack-quick.XXXXXX)
SIM_PID=""
NGINX_PIDS=()

cleanup() {
    local p
    for p in "${NGINX_PIDS[@]}"; do
        if [ -s "$p" ]; then kill "$(cat "$p")" 2>/dev/null || true; fi
    done
    if [ -n "$SIM_PID" ]; then
        kill "$SIM_PID" 2>/dev/null || true
        wait "$SIM_PID" 2>/dev/null || true
    fi
    rm -rf "$RUN"
}
trap cleanup EXIT

mkdir -p "$RUN/sim"
"$BUILD/simulator/dstack-sim" --dir "$RUN/sim" >"$RUN/sim.out" 2>"$RUN/sim.err" &
SIM_PID=$!
for _ in $(seq 1 200); do
    [ -S "$RUN/sim/dstack.sock" ] && [ -S "$RUN/sim/tappd.sock" ] && break
    sleep 0.05
done
EP="$RUN/sim/dstack.sock"
TAPPD="$RUN/sim/tappd.sock"
export DSTACK_SIMULATOR_ENDPOINT="$EP" TAPPD_SIMULATOR_ENDPOINT="$TAPPD"

shopt -u patsub_replacement 2>/dev/null || true
subst() { # template output key=value...
    local text kv
    text=$(cat "$1")
    local out=$2
    shift 2
    for kv in "$@"; do text=${text//@${kv%%=*}@/${kv#*=}}; done
    printf '%s\n' "$text" >"$out"
}
for c in yes no; do
    subst "$ROOT/bench/conf/openssl-provider.cnf.in" "$RUN/cache-$c.cnf" \
        MODULE="$BUILD/ossl-modules/dstack.so" ENDPOINT="$EP" TAPPD_ENDPOINT="$TAPPD" CACHE=$c
done
printf 'openssl_conf = openssl_init\n[openssl_init]\n' >"$RUN/plain.cnf"

declare -A GENPKEY=([p256]="-algorithm EC -pkeyopt ec_paramgen_curve:P-256"
    [secp256k1]="-algorithm EC -pkeyopt ec_paramgen_curve:secp256k1" [ed25519]="-algorithm ED25519")
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
p50() { sed -n 's/.*"p50_us":\([0-9.]*\).*/\1/p'; }
# The /cpu line of a cold run: "cpu_us minflt" of the timed region (medians).
cpu() { sed -n 's/.*"value":\([0-9.]*\),"minflt_p50":\([0-9]*\).*/\1 \2/p'; }
# Instructions of one cold child's timed region (valgrind's callgrind, only inside load_once):
# repeatable where wall time on a shared machine is not.
instr() { # cnf target
    OPENSSL_CONF=$1 valgrind --tool=callgrind --callgrind-out-file="$RUN/cg.out" \
        --toggle-collect=load_once "$PROGS/bench-load-latency" --method store --target "$2" \
        --child-once --label q 2>&1 >/dev/null | sed -n 's/.*Collected : *\([0-9]*\).*/\1/p'
}
for alg in p256 secp256k1 ed25519; do
    # shellcheck disable=SC2086
    openssl genpkey ${GENPKEY[$alg]} -out "$RUN/pem-$alg.pem" 2>/dev/null
    if [ -n "${QUICK_CALLGRIND:-}" ]; then
        printf '%-10s instructions, first load: PEM %s   dstack %s\n' "$alg" \
            "$(instr "$RUN/cache-yes.cnf" "file:$RUN/pem-$alg.pem")" \
            "$(instr "$RUN/cache-no.cnf" "dstack:bench/load-$alg?alg=$alg")"
    fi
    pem=() dst=()
    for _ in $(seq 1 "$ROUNDS"); do
        out=$(OPENSSL_CONF="$RUN/cache-yes.cnf" "$PROGS/bench-load-latency" --method store \
            --target "file:$RUN/pem-$alg.pem" --cold "$COLD" --label q)
        pem+=("$(p50 <<<"$out")")
        pcpu=$(cpu <<<"$out")
        out=$(OPENSSL_CONF="$RUN/cache-no.cnf" "$PROGS/bench-load-latency" --method store \
            --target "dstack:bench/load-$alg?alg=$alg" --cold "$COLD" --label q)
        dst+=("$(p50 <<<"$out")")
        dcpu=$(cpu <<<"$out")
    done
    mp=$(printf '%s\n' "${pem[@]}" | median)
    md=$(printf '%s\n' "${dst[@]}" | median)
    printf '%-10s cold PEM %7.1f us   dstack %7.1f us   ratio %.2fx   (rounds: %s | %s)\n' "$alg" \
        "$mp" "$md" "$(awk -v a="$md" -v b="$mp" 'BEGIN {print a / b}')" "${pem[*]}" "${dst[*]}"
    printf '%-10s   last round, CPU us / minor faults: PEM %s   dstack %s\n' "" "$pcpu" "$dcpu"
done

[ "${QUICK_NGINX:-1}" = 1 ] || exit 0
"$BUILD/tools/dstack-keytool" --endpoint "$EP" export "dstack:bench/tls?san=localhost" \
    --key-ref "$RUN/tls-ref.pem" --cert "$RUN/tls-cert.pem" >/dev/null
OPENSSL_CONF="$RUN/cache-yes.cnf" openssl pkey -in "$RUN/tls-ref.pem" -out "$RUN/tls-key.pem"
port=$((20000 + RANDOM % 40000))
for route in pem refpem; do
    d="$RUN/nginx-$route"
    mkdir -p "$d/tmp"
    key="$RUN/tls-key.pem" cnf="$RUN/plain.cnf"
    [ $route = refpem ] && key="$RUN/tls-ref.pem" cnf="$RUN/cache-yes.cnf"
    port=$((port + 2))
    subst "$ROOT/bench/nginx/nginx.conf.in" "$d/nginx.conf" DIR="$d" CERT="$RUN/tls-cert.pem" \
        KEY="$key" PORT_TLS12=$port PORT_TLS13=$((port + 1))
    NGINX_PIDS+=("$d/nginx.pid")
    OPENSSL_CONF="$cnf" nginx -p "$d" -c "$d/nginx.conf" 2>/dev/null
    for _ in $(seq 1 100); do [ -s "$d/nginx.pid" ] && break; sleep 0.05; done
    # A few handshakes so the worker has touched its TLS path, as after figure 3's wrk runs.
    for _ in 1 2 3 4 5; do curl -sk "https://127.0.0.1:$port/" >/dev/null || true; done
    m=$(cat "$d/nginx.pid")
    w=$(ps -o pid= --ppid "$m" | head -n 1 | tr -d ' ')
    printf '%-7s worker RSS %6d kB  master RSS %6d kB\n' "$route" \
        "$(awk '/^VmRSS:/ {print $2}' /proc/"$w"/status)" "$(awk '/^VmRSS:/ {print $2}' /proc/"$m"/status)"
    if [ -n "${QUICK_SMAPS:-}" ]; then
        awk '/^[0-9a-f]+-/ {name=$6} /^Rss:/ {rss[name]+=$2} END {for (n in rss) if (rss[n] > 0) printf "  %6d kB %s\n", rss[n], n}' \
            /proc/"$w"/smaps | sort -rn | head -n 40
    fi
done
