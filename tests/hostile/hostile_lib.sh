# The hostile-agent harness (sourced by tests/hostile/hostile_battery.sh).
#
# A case is one row: a hostile agent (tests/hostile/hostile_agent.c) in front of dstack-sim
# breaks one or more RPCs; every victim named by the row (the provider through the openssl CLI,
# the engine, dstack-keytool) then loads the row's URI in a pseudo-terminal with a hard
# deadline (tests/hostile/pty_run.py), and its exit status, message and debug log are checked:
#   - no hang past the deadline (the stacks of a hung victim are printed, from gdb),
#   - no passphrase prompt ("Enter PEM pass phrase" on the terminal),
#   - no crash, no sanitizer report,
#   - the expected outcome; a failure names the agent endpoint and the row's words (the RPC),
#   - no raw control character or forged line from the agent's text, in the output or in the
#     provider's debug log (DSTACK_PROVIDER_DEBUG level 3),
#   - no secret: neither the hex of any key the agent derives for the paths used here nor a
#     PEM private key appears in the output or the debug log.
# Each failed check prints one line "FAIL: <row> [<victim>] <KIND>: …" with KIND one of HANG,
# PROMPT, CRASH, SANITIZER, WRONG-RESULT, MESSAGE, ESCAPE, SECRET.
# shellcheck source=../integration/provider_lib.sh
source "$DSTACK_SOURCE_DIR/tests/integration/provider_lib.sh"
require openssl python3 jq curl gdb

HOSTILE_AGENT=${DSTACK_HOSTILE_AGENT:?run through ctest (DSTACK_HOSTILE_AGENT unset)}
HOSTILE_DIR="$DSTACK_SOURCE_DIR/tests/hostile"
# Per victim run. Generous for ASan builds; every hostile answer arrives at once, and the rows
# that hang the agent use timeout-ms = 2000.
HOSTILE_DEADLINE=${HOSTILE_DEADLINE:-10}
ENGINE_SO="$DSTACK_ENGINE_DIR/dstack.so"
FX="$DSTACK_TMP/fx"
OTHER_APP_ID=0123456789abcdef0123456789abcdef01234567
mkdir -p "$FX"

# ---- fixtures: made here with the openssl CLI, jq and the upstream dstack-sim --------------

# sim_rpc <socket> <path> <json> — a real agent's answer body.
sim_rpc() {
    curl -s --max-time 10 --unix-socket "$1" -H 'Content-Type: application/json' -d "$2" \
        "http://localhost$3"
}

# tls_body <key file> <chain file>... — {"key": <file>, "certificate_chain": [<files>]}
tls_body() {
    local key=$1 f args=() i=0
    shift
    for f in "$@"; do
        args+=(--rawfile "c$i" "$f")
        i=$((i + 1))
    done
    local chain="[" j
    for ((j = 0; j < i; j++)); do
        chain+="\$c$j"
        [ $j -lt $((i - 1)) ] && chain+=","
    done
    chain+="]"
    jq -n --rawfile key "$key" "${args[@]}" "{key: \$key, certificate_chain: $chain}"
}

hostile_fixtures() {
    local f=$FX
    # Keys and certificates of every wrong kind.
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$f/p256.key" 2>/dev/null &&
        openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$f/p384.key" 2>/dev/null &&
        openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:secp256k1 -out "$f/k1.key" 2>/dev/null &&
        openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$f/rsa.key" 2>/dev/null &&
        openssl req -x509 -new -key "$f/p256.key" -subj /CN=hostile -days 2 -out "$f/p256.crt" 2>/dev/null &&
        openssl req -x509 -new -key "$f/rsa.key" -subj /CN=hostile-rsa -days 2 -out "$f/rsa.crt" 2>/dev/null ||
        return 1
    # Encrypted keys: PKCS#8 (BEGIN ENCRYPTED PRIVATE KEY) and traditional (Proc-Type: 4,ENCRYPTED).
    openssl pkcs8 -topk8 -in "$f/p256.key" -passout pass:hostile -v2 aes-256-cbc -out "$f/enc-p8.key" &&
        openssl ec -in "$f/p256.key" -aes256 -passout pass:hostile -out "$f/enc-trad.key" 2>/dev/null ||
        return 1
    # A certificate with Proc-Type: 4,ENCRYPTED headers (PEM_read_bio_X509 asks for a passphrase
    # before it finds the body is not encrypted at all).
    awk 'NR == 1 { print; print "Proc-Type: 4,ENCRYPTED";
                   print "DEK-Info: AES-256-CBC,00112233445566778899AABBCCDDEEFF"; print ""; next }
         { print }' "$f/p256.crt" >"$f/enc.crt"
    # A reference PEM as the agent's key: parsing it with the provider active re-enters it.
    make_ref_pem "dstack:hostile/inner?cert=none" >"$f/ref.pem" || return 1

    # Error texts and bodies that are not what the RPC returns.
    printf '{"error": "agent says \\u001b[31mRED\\u001b[0m\\u0007 bell\\r\\nINJECTED: forged line\\nINJECTED: another\\u001b]0;title\\u0007"}' \
        >"$f/ctrl-error.json"
    printf '<html><body>404 Not Found</body></html>' >"$f/html-404"
    printf '\x00\xff\x13this is not JSON \x1b[2J\r\n' >"$f/garbage"
    printf '\x00\xff\x13garbage not http\r\n\r\n' >"$f/raw-garbage"
    # 20 MiB of valid JSON: over libdstack's 16 MiB response cap.
    { printf '{"key":"'; head -c $((20 * 1024 * 1024)) /dev/zero | tr '\0' 'a'; printf '"}'; } \
        >"$f/oversize.json"

    # GetKey / Tappd.DeriveK256Key answers. Real ones from the upstream agent, then broken.
    local real
    real=$(sim_rpc "$UP_GUEST" '{"path":"tls/hostile","purpose":"","algorithm":"secp256k1"}' /GetKey) ||
        return 1
    jq -n --rawfile k "$f/p256.key" '{key: $k, signature_chain: []}' >"$f/gk-pem.json"
    # chain[1] replaced by chain[0]: a valid signature over the wrong message.
    jq '.signature_chain[1] = .signature_chain[0]' <<<"$real" >"$f/gk-forged.json"
    jq '{k256_key: .key, k256_signature_chain: .signature_chain} |
        .k256_signature_chain[1] = .k256_signature_chain[0]' <<<"$real" >"$f/dk256-forged.json"
    # Requests for other questions: another purpose (chain[0] signs another message), another
    # path (a valid key and chain — of another key).
    printf '{"path":"tls/hostile","purpose":"not-what-was-asked","algorithm":"secp256k1"}' \
        >"$f/req-other-purpose.json"
    printf '{"path":"tls/other-path","purpose":"","algorithm":"secp256k1"}' >"$f/req-other-path.json"

    # GetTlsKey / Tappd.DeriveKey answers: every wrong PEM type as the key (with a leaf for
    # our fresh P-256 key), every wrong PEM type as the leaf.
    local k
    for k in p256.crt rsa.key p384.key k1.key enc-p8.key enc-trad.key ref.pem; do
        tls_body "$f/$k" "$f/p256.crt" >"$f/tls-key-$k.json" || return 1
    done
    for k in p256.key rsa.crt enc.crt ref.pem; do
        tls_body "$f/p256.key" "$f/$k" >"$f/tls-chain-$k.json" || return 1
    done

    # Evidence for another report_data: a real Attest / GetQuote answer to another question.
    printf '{"report_data":"%0128d"}' 7 >"$f/req-other-rd.json"
    printf '{"attestation":"00deadbeef"}' >"$f/attest-garbage.json"
    printf '{"quote":"00","event_log":"[]","report_data":"","vm_config":""}' >"$f/quote-garbage.json"
    printf '{"error": "method Not Found"}' >"$f/not-found.json"

    # The secrets this harness's victims must never print: what the agents derive for the
    # paths used in the rows.
    SECRETS=("$DSTACK_DEV_SECRET")
    local p s sock
    for sock in "$UP_GUEST" "$OTHER_GUEST"; do
        for p in tls/hostile tls/other-path tls/ev hostile/inner "$DSTACK_DEV_PATH"; do
            s=$(sim_rpc "$sock" "{\"path\":\"$p\"}" /GetKey | jq -r .key) || return 1
            [ -n "$s" ] && [ "$s" != null ] && SECRETS+=("$s")
        done
    done
    return 0
}

# ---- agents --------------------------------------------------------------------------------

# The upstream agents: dstack-sim with its built-in identity, and one serving another app id
# under the same development KMS root (hostile-agent --write-other-app).
hostile_start_upstreams() {
    start_sim up || return 1
    UP_DIR=$SIM_DIR UP_GUEST=$SIM_ENDPOINT
    local tmpl kms
    tmpl=$(dev_appkeys) || return 1
    kms=$("$HOSTILE_AGENT" --write-other-app "$OTHER_APP_ID" "$tmpl" "$DSTACK_TMP/other-appkeys.json") ||
        return 1
    assert_eq "other app's KMS root is the development KMS root" "$DSTACK_DEV_KMS_ROOT" "$kms"
    start_sim other --appkeys "$DSTACK_TMP/other-appkeys.json" --app-id "$OTHER_APP_ID" || return 1
    OTHER_DIR=$SIM_DIR OTHER_GUEST=$SIM_ENDPOINT
}

# start_hostile <dir> <agent args...> — sets AGENT_PID.
start_hostile() {
    local dir=$1 i
    shift
    mkdir -p "$dir"
    bg "$HOSTILE_AGENT" --dir "$dir" "$@" >"$dir/agent.out" 2>"$dir/agent.err"
    AGENT_PID=$BG_PID
    for i in $(seq 1 200); do
        grep -q HOSTILE_AGENT_READY "$dir/agent.out" 2>/dev/null && return 0
        kill -0 "$AGENT_PID" 2>/dev/null || break
        sleep 0.05
    done
    log "hostile-agent did not start: $(cat "$dir/agent.err")"
    return 1
}

# ---- victims -------------------------------------------------------------------------------

# Victim configurations: - (none), t2 (timeout-ms 2000), kms (kms-root-pubkey alone: a
# configuration refused for want of app-id), app (app-id), kms+app. Provider: openssl.cnf [dstack_sect] lines; none → -provider flags instead.
config_lines() {
    case "$1" in
    -) ;;
    t2) echo "timeout-ms = 2000" ;;
    kms) echo "kms-root-pubkey = $DSTACK_DEV_KMS_ROOT" ;;
    app) echo "app-id = $DSTACK_DEV_APP_ID" ;;
    kms+app) printf '%s\n' "kms-root-pubkey = $DSTACK_DEV_KMS_ROOT" "app-id = $DSTACK_DEV_APP_ID" ;;
    *) log "unknown victim configuration $1"; return 1 ;;
    esac
}

# The same settings as engine control commands / dstack-keytool options.
engine_lines() {
    config_lines "$1" | sed -e 's/^timeout-ms =/TIMEOUT_MS =/' \
        -e 's/^kms-root-pubkey =/KMS_ROOT_PUBKEY =/' -e 's/^app-id =/APP_ID =/'
}
keytool_opts() {
    config_lines "$1" | sed -e 's/ = / /' -e 's/^/--/'
}

# victim_cmd <victim> <uri> <config> <case dir> — sets VICTIM (the command, run in the case's
# environment). Victims: pkey, store (key + certificates), certs, refpem (a reference PEM
# holding the URI), engine, show, export, info, version.
victim_cmd() {
    local victim=$1 uri=$2 config=$3 dir=$4 pre=() prov=()
    if [ -n "${DSTACK_PRELOAD:-}" ]; then
        pre=(env LD_PRELOAD="$DSTACK_PRELOAD"
             ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:verify_asan_link_order=0")
    fi
    if [ "$config" == - ]; then
        prov=("${PROV_FLAGS[@]}")
    else
        make_cnf "$dir/provider.cnf" "$(config_lines "$config")"
        pre+=(env OPENSSL_CONF="$dir/provider.cnf")
    fi
    # A VM whose agent has only the legacy Tappd socket is configured as its users would: with
    # the Tappd endpoint alone (a named guest endpoint is the only one tried, architecture.md §4).
    local guest=(--endpoint "$AGENT_GUEST") engine_guest=("s|@ENDPOINT@|$AGENT_GUEST|")
    if [ ! -S "$AGENT_GUEST" ]; then
        guest=()
        engine_guest=('/@ENDPOINT@/d')
    fi
    local kt=("$DSTACK_KEYTOOL" "${guest[@]}" --tappd-endpoint "$AGENT_TAPPD")
    # shellcheck disable=SC2207
    kt+=($(keytool_opts "$config"))
    case "$victim" in
    pkey) VICTIM=("${pre[@]}" openssl pkey "${prov[@]}" -in "$uri" -pubout) ;;
    store) VICTIM=("${pre[@]}" openssl storeutl "${prov[@]}" -noout "$uri") ;;
    certs) VICTIM=("${pre[@]}" openssl storeutl "${prov[@]}" -certs "$uri") ;;
    refpem)
        make_ref_pem "$uri" >"$dir/ref.pem"
        VICTIM=("${pre[@]}" openssl pkey "${prov[@]}" -in "$dir/ref.pem" -pubout)
        ;;
    engine)
        # The shipped engine configuration; later control lines override earlier ones.
        sed -e "s|@ENGINE@|$ENGINE_SO|" -e "${engine_guest[0]}" -e "s|@TIMEOUT_MS@|5000|" \
            "$DSTACK_SOURCE_DIR/conf/openssl-engine.cnf" >"$dir/engine.cnf" || return 1
        { echo "TAPPD_ENDPOINT = $AGENT_TAPPD"; engine_lines "$config"; } >>"$dir/engine.cnf"
        VICTIM=("${pre[@]}" env OPENSSL_CONF="$dir/engine.cnf" OPENSSL_ENGINES="$DSTACK_ENGINE_DIR"
                openssl pkey -engine dstack -inform ENGINE -in "$uri" -pubout)
        ;;
    show) VICTIM=("${kt[@]}" show "$uri") ;;
    export) VICTIM=("${kt[@]}" export "$uri" --key-ref "$dir/k.ref" --cert "$dir/c.pem" --chain "$dir/ch.pem") ;;
    info) VICTIM=("${kt[@]}" info) ;;
    version) VICTIM=("${kt[@]}" version) ;;
    *) log "unknown victim $victim"; return 1 ;;
    esac
}

# shown <file> — the output, control characters made visible, at most 600 bytes, one line.
shown() {
    python3 -c 'import sys
d = open(sys.argv[1], "rb").read().replace(b"\r\n", b"\n")
s = d.decode("utf-8", "replace")
out = "".join(c if c.isprintable() else ("\\n" if c == "\n" else "\\x%02x" % ord(c)) for c in s)
print(out[:600] + ("..." if len(out) > 600 else ""))' "$1"
}

# raw_control <file> — the agent's control characters (ESC, BEL, a lone CR) or a line it forged
# ("INJECTED" at the start of a line) reached the file. The terminal itself turns "\n" into
# "\r\n"; that is not a lone CR.
raw_control() {
    python3 -c 'import re, sys
d = open(sys.argv[1], "rb").read().replace(b"\r\n", b"\n")
bad = [n for n, b in (("ESC", b"\x1b"), ("BEL", b"\x07"), ("CR", b"\r")) if b in d]
if re.search(rb"(^|[\r\n])INJECTED", d):
    bad.append("forged line")
print(", ".join(bad))
sys.exit(1 if bad else 0)' "$1"
}

# leaked <file> — which secret the file contains (agent key hex, PEM private key), if any.
leaked() {
    local s
    for s in "${SECRETS[@]}"; do
        if grep -qi -- "$s" "$1"; then
            echo "key hex ${s:0:8}…"
            return 0
        fi
    done
    if grep -q 'PRIVATE KEY-----' "$1"; then
        echo "a PEM private key"
        return 0
    fi
    return 1
}

# run_case <row> <agent args> <uri> <config> <victims> <expect> [<victim:expect> overrides]
#   agent args: words for hostile-agent (--rule PATH=ACTION, --no-guest, --other), with @FX@
#   for the fixture directory. expect: ok | fail:<words>[;<words>...] | refuse-or-warn:<words>
#   (the load may fail or succeed, but the output must say <words> either way).
HOSTILE_ROWS=0
run_case() {
    local row=$1 agent_args=$2 uri=$3 config=$4 victims=$5 expect=$6
    local dir="$DSTACK_TMP/case-$row" args=() w upstream=$UP_DIR
    mkdir -p "$dir"
    HOSTILE_ROWS=$((HOSTILE_ROWS + 1))
    AGENT_GUEST="$dir/agent/dstack.sock" AGENT_TAPPD="$dir/agent/tappd.sock"
    for w in $agent_args; do
        w=${w//@FX@/$FX}
        case "$w" in
        --other) upstream=$OTHER_DIR ;;
        --rule) ;;
        --no-guest) args+=(--no-guest) ;;
        *) args+=(--rule "$w") ;;
        esac
    done
    start_hostile "$dir/agent" --upstream "$upstream" "${args[@]}" ||
        { fail "$row: hostile agent did not start"; return; }
    local victim
    for victim in ${victims//,/ }; do
        run_victim "$row" "$victim" "$uri" "$config" "$dir/$victim" "$expect"
    done
    stop_sim "$AGENT_PID"
}

run_victim() {
    local row=$1 victim=$2 uri=$3 config=$4 dir=$5 expect=$6 rc what debug t0 ms
    local tag="$row [$victim]"
    mkdir -p "$dir"
    debug="$dir/debug.log"
    victim_cmd "$victim" "$uri" "$config" "$dir" || { fail "$tag: bad victim"; return; }
    t0=$(date +%s%N)
    env DSTACK_SIMULATOR_ENDPOINT="$AGENT_GUEST" TAPPD_SIMULATOR_ENDPOINT="$AGENT_TAPPD" \
        OPENSSL_MODULES="$DSTACK_PROVIDER_DIR" DSTACK_PROVIDER_DEBUG="file:$debug,level:3" \
        python3 "$HOSTILE_DIR/pty_run.py" "$HOSTILE_DEADLINE" "$dir/out" --stack "$dir/stack" \
        --kill-on "Enter PEM pass phrase" --kill-on "Enter pass phrase" -- "${VICTIM[@]}"
    rc=$?
    ms=$((($(date +%s%N) - t0) / 1000000))
    touch "$debug"
    local out
    out=$(tr -d '\r' <"$dir/out")
    # Without a terminal OpenSSL reads the passphrase from stdin; on one it prompts.
    if [ $rc -eq 124 ]; then
        fail "$tag HANG: still running after ${HOSTILE_DEADLINE} s; output: $(shown "$dir/out")"
        if [ -s "$dir/stack" ]; then
            log "  stacks of the hung victim ($tag):"
            grep -E '^(Thread|#)' "$dir/stack" | grep -vE '^#[0-9]+ +0x[0-9a-f]+ in \?\?' |
                head -60 | sed 's/^/    /' >&2
        fi
        return
    fi
    if [ $rc -eq 125 ] || [[ "$out" == *"pass phrase"* ]]; then
        fail "$tag PROMPT: asked for a passphrase on the terminal: $(shown "$dir/out")"
        return
    fi
    if [ $rc -ge 128 ]; then
        fail "$tag CRASH: killed by signal $((rc - 128)): $(shown "$dir/out")"
        return
    fi
    if [[ "$out" == *"Sanitizer"* || "$out" == *"runtime error:"* ]]; then
        fail "$tag SANITIZER: $(shown "$dir/out")"
        return
    fi
    pass
    case "$expect" in
    ok)
        if [ $rc -ne 0 ]; then
            fail "$tag WRONG-RESULT: expected the load to succeed, exit $rc: $(shown "$dir/out")"
        else
            pass
        fi
        ;;
    fail:*)
        if [ $rc -eq 0 ]; then
            fail "$tag WRONG-RESULT: loaded (exit 0) instead of failing with '${expect#fail:}': $(shown "$dir/out")"
        else
            pass
            check_words "$tag" "$dir/out" "${expect#fail:}" "$AGENT_GUEST%$AGENT_TAPPD"
        fi
        ;;
    refuse-or-warn:*)
        check_words "$tag" "$dir/out" "${expect#refuse-or-warn:}" "" "(exit $rc)"
        ;;
    esac
    if what=$(raw_control "$dir/out"); then pass; else
        fail "$tag ESCAPE: the agent's $what reached the output: $(shown "$dir/out")"
    fi
    if what=$(raw_control "$debug"); then pass; else
        fail "$tag ESCAPE: the agent's $what reached the debug log: $(grep -a INJECTED "$debug" | head -2 | tr -d '\033\007')"
    fi
    if what=$(leaked "$dir/out"); then
        fail "$tag SECRET: $what in the output"
    elif what=$(leaked "$debug"); then
        fail "$tag SECRET: $what in the debug log"
    else
        pass
    fi
    [ "${HOSTILE_VERBOSE:-0}" == 1 ] && log "$tag exit $rc in $ms ms: $(shown "$dir/out")"
    return 0
}

# check_words <tag> <file> <words;words...> <endpoint alternatives a%b> [note]
check_words() {
    local tag=$1 file=$2 words=$3 endpoints=$4 note=${5:-} out w ok
    out=$(tr -d '\r' <"$file")
    IFS=';' read -r -a list <<<"$words"
    for w in "${list[@]}"; do
        if [[ "$out" == *"$w"* ]]; then pass; else
            fail "$tag MESSAGE: '$w' not in the message $note: $(shown "$file")"
            return
        fi
    done
    if [ -n "$endpoints" ]; then
        ok=0
        IFS='%' read -r -a list <<<"$endpoints"
        for w in "${list[@]}"; do [[ "$out" == *"$w"* ]] && ok=1; done
        if [ $ok -eq 1 ]; then pass; else
            fail "$tag MESSAGE: the agent endpoint is not named: $(shown "$file")"
        fi
    fi
}
