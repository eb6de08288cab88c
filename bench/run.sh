#!/usr/bin/env bash
# dstack-openssl benchmarks (issue 6) — the one command:
#
#   bench/run.sh            # full run (about 5 minutes), writes bench/RESULTS.md
#
# Installs wrk + hyperfine (scripts/install-deps.sh), builds the project in Release into
# build/bench, builds the bench programs (a separate CMake project, bench/CMakeLists.txt),
# installs the official JS SDK into bench/work (gitignored), starts dstack-sim on a temporary
# directory, runs every figure side by side for BENCH_ROUNDS rounds, and writes RESULTS.md.
#
# Environment: BENCH_ROUNDS (default 3), BENCH_WRK_SECONDS (5), BENCH_COLD (20 processes per
# round), BENCH_HANDSHAKES (300, figure 7), BENCH_NOTE (free text for the "conditions" line of
# RESULTS.md), BENCH_OUT (default bench/RESULTS.md), BENCH_SKIP_BUILD=1 (reuse build/bench as it
# is); DSTACK_FIXTURES (default: the test build's setting) for dcap-qvl's sample (figure 6).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH="$ROOT/bench"
BUILD="$ROOT/build/bench"
PROGS="$BUILD/bench-programs"
WORK="$BENCH/work"
ROUNDS=${BENCH_ROUNDS:-3}
WRK_SECONDS=${BENCH_WRK_SECONDS:-5}
COLD=${BENCH_COLD:-20}
OUT=${BENCH_OUT:-$BENCH/RESULTS.md}

RUN=$(mktemp -d /tmp/dstack-bench.XXXXXX)
RESULTS="$RUN/results.jsonl"
LOG="$RUN/bench.log"
SIM_PID=""
NGINX_PIDFILES=()

say() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

cleanup() {
    local f pid
    [ -n "${RATLS_PID:-}" ] && kill "$RATLS_PID" 2>/dev/null || true
    for f in "${NGINX_PIDFILES[@]}"; do
        if [ -s "$f" ]; then
            pid=$(cat "$f")
            kill "$pid" 2>/dev/null || true
        fi
    done
    if [ -n "$SIM_PID" ]; then
        kill "$SIM_PID" 2>/dev/null || true
        wait "$SIM_PID" 2>/dev/null || true
    fi
    if [ "${BENCH_KEEP_RUN:-0}" = 1 ]; then say "run directory kept: $RUN"; else rm -rf "$RUN"; fi
}
trap cleanup EXIT

# A measurement that fails becomes an "error" line, so one broken route does not hide the
# others; RESULTS.md shows it as failed and the log tail says why.
record_error() { # label round message — the message is reduced to JSON-safe characters
    local msg
    # shellcheck disable=SC1003 # the backslash is a character to replace, not an escape
    msg=$(printf '%s' "$3" | tr '\n\t' '  ' | tr -cd '[:print:]' | tr '"\\' "''")
    printf '{"label":"%s","round":%s,"error":"%s"}\n' "$1" "$2" "$msg" >>"$RESULTS"
}
measure() { # label round command...
    local label=$1 round=$2 out rc=0
    shift 2
    out=$("$@" 2>>"$LOG") || rc=$?
    if [ "$rc" -eq 0 ]; then
        printf '%s\n' "$out" >>"$RESULTS"
    else
        say "FAILED: $label (round $round): see $LOG"
        record_error "$label" "$round" "exit status $rc; $(tail -n 2 "$LOG")"
    fi
}

free_port() {
    local p
    while :; do
        p=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return
        fi
    done
}

# ---- 1. dependencies and builds ------------------------------------------------------------
say "installing benchmark dependencies (wrk, hyperfine)"
DSTACK_WITH_BENCH=1 "$ROOT/scripts/install-deps.sh"

if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
    say "building dstack-openssl (Release) in $BUILD"
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DDSTACK_BUILD_TESTS=OFF >"$RUN/cmake.log"
    cmake --build "$BUILD" -j"$(nproc)" >>"$RUN/cmake.log" 2>&1 ||
        { tail -n 30 "$RUN/cmake.log" >&2; exit 1; }
fi
say "building the bench programs in $PROGS"
cmake -S "$BENCH" -B "$PROGS" -DDSTACK_BUILD_DIR="$BUILD" >>"$RUN/cmake.log"
cmake --build "$PROGS" -j"$(nproc)" >>"$RUN/cmake.log" 2>&1 ||
    { tail -n 30 "$RUN/cmake.log" >&2; exit 1; }

SIM="$BUILD/simulator/dstack-sim"
KEYTOOL="$BUILD/tools/dstack-keytool"
MODULE="$BUILD/ossl-modules/dstack.so"
ENGINE="$BUILD/engines-3/dstack.so"
for f in "$SIM" "$KEYTOOL" "$MODULE" "$ENGINE"; do
    [ -e "$f" ] || { say "missing $f: the main build is incomplete"; exit 1; }
done

JS_OK=0
mkdir -p "$WORK"
cp "$BENCH/package.json" "$WORK/package.json"
if (cd "$WORK" && npm install --no-audit --no-fund --loglevel=error >>"$LOG" 2>&1); then
    JS_OK=1
else
    say "npm install of @phala/dstack-sdk failed; figure 5 will have no JS baseline"
fi

# ---- 2. simulator and configuration --------------------------------------------------------
mkdir -p "$RUN/sim"
# --pccs: the simulated Intel's collateral for figure 7 (RA-TLS handshakes)
"$SIM" --dir "$RUN/sim" --pccs 127.0.0.1:0 >"$RUN/sim.out" 2>"$RUN/sim.err" &
SIM_PID=$!
for _ in $(seq 1 200); do
    [ -S "$RUN/sim/dstack.sock" ] && [ -S "$RUN/sim/tappd.sock" ] && break
    sleep 0.05
done
[ -S "$RUN/sim/dstack.sock" ] || { say "dstack-sim did not start"; cat "$RUN/sim.err" >&2; exit 1; }
PCCS=$(sed -n 's/^DSTACK_SIMULATOR_PCCS=//p' "$RUN/sim.out")
EP="$RUN/sim/dstack.sock"
TAPPD="$RUN/sim/tappd.sock"
export DSTACK_SIMULATOR_ENDPOINT="$EP" TAPPD_SIMULATOR_ENDPOINT="$TAPPD"

# bash 5.2 would put the matched text where a replacement holds "&" (URIs do).
shopt -u patsub_replacement 2>/dev/null || true
subst() { # template output key=value...
    local tmpl=$1 out=$2 kv text
    shift 2
    text=$(cat "$tmpl")
    for kv in "$@"; do text=${text//@${kv%%=*}@/${kv#*=}}; done
    printf '%s\n' "$text" >"$out"
}
subst "$BENCH/conf/openssl-provider.cnf.in" "$RUN/cache.cnf" MODULE="$MODULE" ENDPOINT="$EP" \
    TAPPD_ENDPOINT="$TAPPD" CACHE=yes
subst "$BENCH/conf/openssl-provider.cnf.in" "$RUN/nocache.cnf" MODULE="$MODULE" ENDPOINT="$EP" \
    TAPPD_ENDPOINT="$TAPPD" CACHE=no
subst "$BENCH/conf/openssl-engine.cnf.in" "$RUN/engine.cnf" ENGINE="$ENGINE" ENDPOINT="$EP" \
    TAPPD_ENDPOINT="$TAPPD"
printf 'openssl_conf = openssl_init\n[openssl_init]\n' >"$RUN/plain.cnf"

LOAD="$PROGS/bench-load-latency"
ALGS=(p256 secp256k1 ed25519)
declare -A GENPKEY=([p256]="-algorithm EC -pkeyopt ec_paramgen_curve:P-256"
    [secp256k1]="-algorithm EC -pkeyopt ec_paramgen_curve:secp256k1" [ed25519]="-algorithm ED25519")
for alg in "${ALGS[@]}"; do
    # shellcheck disable=SC2086 # GENPKEY holds several words on purpose
    openssl genpkey ${GENPKEY[$alg]} -out "$RUN/pem-$alg.pem" 2>>"$LOG"
    "$KEYTOOL" --endpoint "$EP" export "dstack:bench/load-$alg?alg=$alg&cert=none" \
        --key-ref "$RUN/ref-$alg.pem" >>"$LOG" 2>&1
done
# Figure 2 baseline: a key and its certificate in one file, loaded with the same store call.
openssl req -new -x509 -key "$RUN/pem-p256.pem" -subj /CN=bench -days 30 -out "$RUN/cert-p256.pem" \
    2>>"$LOG"
cat "$RUN/pem-p256.pem" "$RUN/cert-p256.pem" >"$RUN/keycert-p256.pem"

# ---- 3. figure 3 servers: one nginx per key route, same certificate ------------------------
# The PEM route serves the *same* derived key written out as a plain PKCS#8 file, so the
# three servers differ only in how the key reached OpenSSL.
TLS_URI="dstack:bench/tls?san=localhost&san=127.0.0.1"
"$KEYTOOL" --endpoint "$EP" export "$TLS_URI" --key-ref "$RUN/tls-ref.pem" \
    --cert "$RUN/tls-cert.pem" >>"$LOG" 2>&1
OPENSSL_CONF="$RUN/cache.cnf" openssl pkey -in "$RUN/tls-ref.pem" -out "$RUN/tls-key.pem" 2>>"$LOG"
chmod 600 "$RUN/tls-key.pem"

ROUTES=(pem refpem engine)
declare -A ROUTE_KEY=([pem]="$RUN/tls-key.pem" [refpem]="$RUN/tls-ref.pem"
    [engine]="engine:dstack:${TLS_URI}")
declare -A ROUTE_CONF=([pem]="$RUN/plain.cnf" [refpem]="$RUN/cache.cnf" [engine]="$RUN/engine.cnf")
declare -A PORT12 PORT13
for route in "${ROUTES[@]}"; do
    dir="$RUN/nginx-$route"
    mkdir -p "$dir/tmp"
    PORT12[$route]=$(free_port)
    PORT13[$route]=$(free_port)
    subst "$BENCH/nginx/nginx.conf.in" "$dir/nginx.conf" DIR="$dir" CERT="$RUN/tls-cert.pem" \
        KEY="${ROUTE_KEY[$route]}" PORT_TLS12="${PORT12[$route]}" PORT_TLS13="${PORT13[$route]}"
    NGINX_PIDFILES+=("$dir/nginx.pid")
    if ! OPENSSL_CONF="${ROUTE_CONF[$route]}" nginx -p "$dir" -c "$dir/nginx.conf" 2>>"$LOG"; then
        say "nginx ($route) did not start: $(tail -n 3 "$dir/error.log" 2>/dev/null | tr '\n' ' ')"
    fi
done
# Every server must present the derived key before its numbers mean anything.
want_spki=$(openssl x509 -in "$RUN/tls-cert.pem" -noout -pubkey | openssl sha256 | awk '{print $2}')
declare -A ROUTE_OK
for route in "${ROUTES[@]}"; do
    ROUTE_OK[$route]=0
    for port in "${PORT12[$route]}" "${PORT13[$route]}"; do
        got=$(openssl s_client -connect "127.0.0.1:$port" </dev/null 2>/dev/null |
            openssl x509 -noout -pubkey 2>/dev/null | openssl sha256 | awk '{print $2}')
        body=$(curl -sk "https://127.0.0.1:$port/" || true)
        if [ "$got" != "$want_spki" ] || [ "$body" != ok ]; then
            say "nginx ($route) on port $port does not serve the derived key; skipping it"
            continue 2
        fi
    done
    ROUTE_OK[$route]=1
done

nginx_worker_pid() { # route
    local master
    master=$(cat "$RUN/nginx-$1/nginx.pid" 2>/dev/null) || return 1
    ps -o pid= --ppid "$master" | head -n 1 | tr -d ' '
}
run_wrk() { # label round port
    local out rate errors
    out=$(wrk -t1 -c32 -d"${WRK_SECONDS}s" -H 'Connection: close' "https://127.0.0.1:$3/" 2>&1) || {
        record_error "$1" "$2" "wrk failed: $(echo "$out" | tail -n 1)"
        return
    }
    rate=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
    errors=$(awk '/Non-2xx|Socket errors/' <<<"$out" | tr '\n' ' ')
    if [ -z "$rate" ]; then
        record_error "$1" "$2" "no rate in wrk output"
        return
    fi
    printf '{"label":"%s","round":%s,"unit":"handshakes/s","value":%s,"wrk_errors":"%s"}\n' \
        "$1" "$2" "$rate" "${errors//\"/}" >>"$RESULTS"
}

# ---- 3b. figures 6 and 7: DCAP verification and RA-TLS handshakes (issue 13) -----------------
# Figure 6 compares against dcap-qvl's WASM build, which trusts only Intel's root: it needs a
# quote and collateral Intel signed — dcap-qvl's own sample, read from the upstream fixtures.
# DSTACK_FIXTURES, else the test build's setting of it (tests/CMakeLists.txt)
fixtures=${DSTACK_FIXTURES:-$(sed -n 's/^DSTACK_FIXTURES:PATH=//p' "$ROOT/build/test/CMakeCache.txt" 2>/dev/null)}
DCAP_DIR="$fixtures/dcap-qvl"
DCAP_AT=1751328000 # 2025-07-01, inside the sample collateral's validity
F6_OK=0
[ -e "$DCAP_DIR/tdx_quote" ] && [ -e "$DCAP_DIR/tdx_quote_collateral.json" ] && F6_OK=1
[ "$F6_OK" = 1 ] || say "no dcap-qvl sample under $DCAP_DIR: figure 6 is not measured"
CLIENT="$BUILD/examples/example-ratls_client"
HANDSHAKES=${BENCH_HANDSHAKES:-300}
RATLS_PORT=$(free_port)
DSTACK_SIMULATOR_ENDPOINT="$EP" TAPPD_SIMULATOR_ENDPOINT="$TAPPD" OPENSSL_MODULES="$BUILD/ossl-modules" \
    openssl s_server -provider-path "$BUILD/ossl-modules" -provider dstack -provider default \
    -accept "127.0.0.1:$RATLS_PORT" -key 'dstack:bench/ratls?cert=self' \
    -cert 'dstack:bench/ratls?cert=self' -quiet >"$RUN/ratls-server.log" 2>&1 &
RATLS_PID=$!
for _ in $(seq 1 200); do (exec 3<>"/dev/tcp/127.0.0.1/$RATLS_PORT") 2>/dev/null && break; sleep 0.05; done
openssl s_client -connect "127.0.0.1:$RATLS_PORT" </dev/null 2>/dev/null | openssl x509 \
    >"$RUN/ratls-cert.pem" 2>/dev/null || true
F7_OK=0
if [ -n "$PCCS" ] && [ -s "$RUN/ratls-cert.pem" ] && "$CLIENT" --pccs-url "$PCCS" \
    --trusted-root "$RUN/sim/sim-intel-root.pem" "127.0.0.1:$RATLS_PORT" >>"$LOG" 2>&1; then
    F7_OK=1
else
    say "the RA-TLS server or client does not work: figure 7 is not measured"
fi
handshakes() { # label round client-args... — N sequential full handshakes, their rate
    local label=$1 round=$2 out rate
    shift 2
    if ! out=$("$CLIENT" --count "$HANDSHAKES" "$@" "127.0.0.1:$RATLS_PORT" 2>>"$LOG"); then
        record_error "$label" "$round" "ratls_client failed: $(tail -n 1 "$LOG")"
        return
    fi
    rate=$(sed -n 's/^handshakes: .*(\([0-9.]*\)\/s)$/\1/p' <<<"$out")
    printf '{"label":"%s","round":%s,"unit":"handshakes/s","value":%s,"handshakes":%s}\n' \
        "$label" "$round" "${rate:-0}" "$HANDSHAKES" >>"$RESULTS"
}

# ---- 4. the rounds ---------------------------------------------------------------------------
# CPU time the simulator spent (µs) — the agent's share of a round trip (figures 4 and 5).
CLK_TCK=$(getconf CLK_TCK)
sim_cpu_us() {
    awk -v hz="$CLK_TCK" '{ sub(/^.*\) /, ""); print ($12 + $13) * 1000000 / hz }' \
        "/proc/$SIM_PID/stat"
}
with_sim_cpu() { # label round command... — runs measure, then records the simulator's CPU
    local label=$1 round=$2 before after
    before=$(sim_cpu_us)
    measure "$@"
    after=$(sim_cpu_us)
    printf '{"label":"%s/sim-cpu","round":%s,"unit":"us","value":%s}\n' "$label" "$round" \
        "$(awk -v a="$after" -v b="$before" 'BEGIN { print a - b }')" >>"$RESULTS"
}
load() { # label round cnf args...
    local label=$1 round=$2 cnf=$3
    shift 3
    measure "$label" "$round" env OPENSSL_CONF="$cnf" "$LOAD" --label "$label" --round "$round" "$@"
}

say "run directory $RUN; $ROUNDS rounds"
LOADAVG_START=$(cut -d' ' -f1-3 /proc/loadavg)
START_EPOCH=$(date +%s)
for r in $(seq 1 "$ROUNDS"); do
    say "round $r: figure 1 (key load latency)"
    for alg in "${ALGS[@]}"; do
        uri="dstack:bench/load-$alg?alg=$alg"
        load "f1/$alg/pem-store" "$r" "$RUN/cache.cnf" --method store --target "file:$RUN/pem-$alg.pem"
        load "f1/$alg/pem-read" "$r" "$RUN/cache.cnf" --method pem --target "$RUN/pem-$alg.pem"
        load "f1/$alg/pem-store-noprov" "$r" "$RUN/plain.cnf" --method store \
            --target "file:$RUN/pem-$alg.pem"
        load "f1/$alg/pem-cold" "$r" "$RUN/cache.cnf" --method store \
            --target "file:$RUN/pem-$alg.pem" --cold "$COLD"
        load "f1/$alg/dstack-cached" "$r" "$RUN/cache.cnf" --method store --target "$uri"
        load "f1/$alg/dstack-warm" "$r" "$RUN/nocache.cnf" --method store --target "$uri"
        load "f1/$alg/dstack-cold" "$r" "$RUN/nocache.cnf" --method store --target "$uri" \
            --cold "$COLD"
        load "f1/$alg/refpem-cached" "$r" "$RUN/cache.cnf" --method pem --target "$RUN/ref-$alg.pem"
        load "f1/$alg/refpem-warm" "$r" "$RUN/nocache.cnf" --method pem --target "$RUN/ref-$alg.pem"
        measure "f1/$alg/engine" "$r" env OPENSSL_CONF="$RUN/plain.cnf" \
            OPENSSL_ENGINES="$BUILD/engines-3" "$LOAD" --label "f1/$alg/engine" --round "$r" \
            --method engine --engine-endpoint "$EP" --target "$uri"
    done

    say "round $r: figure 2 (certificate issuance, cache off)"
    load "f2/pem-file" "$r" "$RUN/nocache.cnf" --method store --objects all \
        --target "file:$RUN/keycert-p256.pem" --iterations 200 --warmup 5
    for mode in agent self-attest self-quote ephemeral; do
        case $mode in
        agent) uri="dstack:bench/cert?cert=agent&san=localhost" ;;
        self-attest) uri="dstack:bench/cert?cert=self&ratls=attest&san=localhost" ;;
        self-quote) uri="dstack:bench/cert?cert=self&ratls=quote&san=localhost" ;;
        ephemeral) uri="dstack:?ephemeral=yes&cn=bench&san=localhost" ;;
        esac
        load "f2/$mode" "$r" "$RUN/nocache.cnf" --method store --objects all --target "$uri" \
            --iterations 50 --warmup 3
    done

    say "round $r: figure 3 (nginx full handshakes, ${WRK_SECONDS}s per server)"
    # The starting route rotates per round so no route always runs first (or right after
    # figure 2) on a machine whose load drifts.
    order=("${ROUTES[@]:$(((r - 1) % 3))}" "${ROUTES[@]:0:$(((r - 1) % 3))}")
    for ver in tls12 tls13; do
        for route in "${order[@]}"; do
            if [ "${ROUTE_OK[$route]}" != 1 ]; then
                record_error "f3/$ver/$route" "$r" "server did not start or serve the derived key"
                continue
            fi
            if [ "$ver" = tls12 ]; then port=${PORT12[$route]}; else port=${PORT13[$route]}; fi
            run_wrk "f3/$ver/$route" "$r" "$port"
        done
    done

    say "round $r: figure 4 (1000 keys)"
    for mode in sequential batch; do
        with_sim_cpu "f4/$mode" "$r" "$PROGS/bench-batch-load" --mode "$mode" --endpoint "$EP" \
            --keys 1000 --label "f4/$mode" --round "$r"
    done
    measure "f4/store" "$r" env OPENSSL_CONF="$RUN/nocache.cnf" "$PROGS/bench-batch-load" \
        --mode store --keys 1000 --label "f4/store" --round "$r"

    say "round $r: figure 5 (GetKey calls/s)"
    with_sim_cpu "f5/libdstack" "$r" "$PROGS/bench-getkey-rps" --endpoint "$EP" --seconds 3 \
        --label "f5/libdstack" --round "$r"
    if [ "$JS_OK" = 1 ]; then
        with_sim_cpu "f5/js-sdk" "$r" node "$BENCH/js_getkey_rps.mjs" --sdk-dir "$WORK" \
            --endpoint "$EP" --seconds 3 --label "f5/js-sdk" --round "$r"
    else
        record_error "f5/js-sdk" "$r" "npm install of @phala/dstack-sdk failed"
    fi

    say "round $r: figure 6 (one DCAP verification with collateral in memory)"
    if [ "$F6_OK" = 1 ]; then
        measure "f6/libdstack" "$r" "$PROGS/bench-dcap-verify" --quote "$DCAP_DIR/tdx_quote" \
            --collateral "$DCAP_DIR/tdx_quote_collateral.json" --at "$DCAP_AT" \
            --label "f6/libdstack" --round "$r"
        if [ "$JS_OK" = 1 ]; then
            measure "f6/dcap-qvl-wasm" "$r" node "$BENCH/js_dcap_verify.mjs" --dir "$WORK" \
                --quote "$DCAP_DIR/tdx_quote" --collateral "$DCAP_DIR/tdx_quote_collateral.json" \
                --at "$DCAP_AT" --label "f6/dcap-qvl-wasm" --round "$r"
        else
            record_error "f6/dcap-qvl-wasm" "$r" "npm install of @phala/dcap-qvl-web failed"
        fi
    else
        record_error "f6/libdstack" "$r" "dcap-qvl sample not found"
    fi

    say "round $r: figure 7 (RA-TLS handshakes, $HANDSHAKES per variant)"
    if [ "$F7_OK" = 1 ]; then
        # the order rotates per round, as in figure 3
        variants=(cached nocache plain)
        for v in "${variants[@]:$(((r - 1) % 3))}" "${variants[@]:0:$(((r - 1) % 3))}"; do
            case $v in
            cached) handshakes f7/ratls-cached "$r" --pccs-url "$PCCS" \
                --trusted-root "$RUN/sim/sim-intel-root.pem" ;;
            nocache) handshakes f7/ratls-nocache "$r" --pccs-url "$PCCS" \
                --trusted-root "$RUN/sim/sim-intel-root.pem" --no-verdict-cache ;;
            plain) handshakes f7/plain "$r" --plain "$RUN/ratls-cert.pem" ;;
            esac
        done
    else
        record_error "f7/ratls-cached" "$r" "RA-TLS server or client not working"
    fi
done
kill "$RATLS_PID" 2>/dev/null || true

# Server memory after all handshakes: resident set of each nginx worker (and master).
for route in "${ROUTES[@]}"; do
    [ "${ROUTE_OK[$route]}" = 1 ] || continue
    master=$(cat "$RUN/nginx-$route/nginx.pid")
    worker=$(nginx_worker_pid "$route")
    w_rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$worker/status")
    m_rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$master/status")
    printf '{"label":"f3/rss/%s","round":1,"unit":"kB","value":%s,"master_kb":%s}\n' \
        "$route" "$w_rss" "$m_rss" >>"$RESULTS"
done

# Process start-up for context: a whole `openssl pkey` run, PEM file vs dstack: URI.
if command -v hyperfine >/dev/null; then
    say "hyperfine: whole-process key load (context for the cold rows)"
    hyperfine -N --warmup 3 --runs 30 --export-json "$RUN/hyperfine.json" \
        -n pem "env OPENSSL_CONF=$RUN/cache.cnf openssl pkey -in $RUN/pem-p256.pem -noout" \
        -n dstack "env OPENSSL_CONF=$RUN/nocache.cnf openssl pkey -in dstack:bench/load-p256 -noout" \
        >>"$LOG" 2>&1 || say "hyperfine failed (see log)"
fi

say "writing $OUT"
BENCH_LOADAVG_START="$LOADAVG_START" BENCH_SECONDS=$(($(date +%s) - START_EPOCH)) \
    BENCH_ROUNDS="$ROUNDS" BENCH_WRK_SECONDS="$WRK_SECONDS" BENCH_COLD="$COLD" \
    node "$BENCH/report.mjs" --results "$RESULTS" --hyperfine "$RUN/hyperfine.json" \
    --out "$OUT"
cp "$RESULTS" "$WORK/results.jsonl"
say "done: $OUT (raw lines: $WORK/results.jsonl)"
