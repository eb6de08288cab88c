# Shared by the tests/integration/provider_*.sh scripts: the dstack provider loaded by the
# real openssl CLI, either through -provider flags or through conf/openssl-dstack.cnf.
# shellcheck source=../lib/common.sh
source "$DSTACK_SOURCE_DIR/tests/lib/common.sh"
require openssl xxd

# conf/openssl-dstack.cnf finds dstack.so by name; point OpenSSL at the build tree.
export OPENSSL_MODULES="$DSTACK_PROVIDER_DIR"
PROV_CONF="$DSTACK_SOURCE_DIR/conf/openssl-dstack.cnf"
PROV_FLAGS=(-provider-path "$DSTACK_PROVIDER_DIR" -provider dstack -provider default)


# ossl <args...> — openssl with the provider flags, environment pointing at $SIM_DIR.
ossl() {
    local sub=$1; shift
    DSTACK_SIMULATOR_ENDPOINT="${SIM_ENDPOINT:-/nonexistent/dstack.sock}" \
        TAPPD_SIMULATOR_ENDPOINT="${SIM_TAPPD:-/nonexistent/tappd.sock}" \
        run_foreign openssl "$sub" "${PROV_FLAGS[@]}" "$@"
}

# ossl_conf <cnf> <args...> — openssl configured only through an openssl.cnf.
ossl_conf() {
    local cnf=$1; shift
    DSTACK_SIMULATOR_ENDPOINT="${SIM_ENDPOINT:-/nonexistent/dstack.sock}" \
        TAPPD_SIMULATOR_ENDPOINT="${SIM_TAPPD:-/nonexistent/tappd.sock}" \
        OPENSSL_CONF="$cnf" run_foreign openssl "$@"
}

# spki_sha256 <PEM public key on stdin> — hex SHA-256 of the SubjectPublicKeyInfo DER.
spki_sha256() {
    openssl pkey -pubin -outform DER 2>/dev/null | openssl dgst -sha256 -r | cut -d' ' -f1
}

# cert_spki_sha256 <PEM certificate on stdin>
cert_spki_sha256() {
    openssl x509 -noout -pubkey 2>/dev/null | spki_sha256
}

# make_cnf <file> [name = value]... — the shipped cnf plus parameters in [dstack_sect].
make_cnf() {
    local out=$1; shift
    local line
    {
        sed -n '1,/^\[dstack_sect\]/p' "$PROV_CONF"
        for line in "$@"; do printf '%s\n' "$line"; done
        echo "activate = 1"
    } >"$out"
}

# make_ref_pem <uri> [description] — a DSTACK KEY URI reference PEM (architecture.md §6) on stdout,
# built with openssl asn1parse so the test does not share code with the provider.
make_ref_pem() {
    local uri=$1 desc=${2:-dstack key URI v1} gen
    gen=$(mktemp "$DSTACK_TMP/ref.XXXXXX")
    printf 'asn1=SEQUENCE:ref\n[ref]\ndesc=VISIBLESTRING:%s\nuri=UTF8String:%s\n' \
        "$desc" "$uri" >"$gen"
    echo "-----BEGIN DSTACK KEY URI-----"
    openssl asn1parse -genconf "$gen" -noout -out /dev/stdout | openssl base64
    echo "-----END DSTACK KEY URI-----"
}

# ratls_binds <cert.pem> — the certificate carries an RA-TLS attestation extension (.1.8 or
# .1.1) whose report_data is SHA-512("ratls-cert:" || SPKI DER) of its own key (protocol.md §4.2).
# The 64 bytes are looked up raw (TDX quote, SCALE) and as a msgpack integer array (V1).
ratls_binds() {
    local cert=$1 want text
    text=$(openssl x509 -in "$cert" -noout -text 2>/dev/null)
    if [[ "$text" != *"1.3.6.1.4.1.62397.1.8"* && "$text" != *"1.3.6.1.4.1.62397.1.1"* ]]; then
        log "no RA-TLS extension in $cert"
        return 1
    fi
    want=$({ printf 'ratls-cert:'; openssl x509 -in "$cert" -noout -pubkey |
        openssl pkey -pubin -outform DER; } | openssl dgst -sha512 -binary | xxd -p -c 256)
    openssl x509 -in "$cert" -outform DER | python3 -c '
import sys
der = sys.stdin.buffer.read()
rd = bytes.fromhex(sys.argv[1])
packed = b"".join(bytes([b]) if b < 0x80 else bytes([0xcc, b]) for b in rd)
sys.exit(0 if (rd in der or packed in der) else 1)' "$want"
}
