/* dstack_cert_build (protocol.md §4.6 layout) and dstack_ratls_inspect
 * (protocol.md §4.1–§4.3, §4.7) on certificates built here around attestations made here
 * (tests/lib/test_evidence.h). test_cert_build_upstream rebuilds the official simulator's CA
 * certificate (rcgen's layout). */
#include <string.h>

#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <dstack/attest.h>
#include <dstack/keys.h>

#include "crypto/pkey_util.h"
#include "test_evidence.h"
#include "test_util.h"
#include "agent_side.h"

#define T_1975 157766400LL  /* 1975-01-01T00:00:00Z, the agent's default notBefore */
#define T_2050 2524608000LL /* 2050-01-01T00:00:00Z */

static const char *secret_hex = "b9fbb7171185c421c58610a2acba8ceae93623ae47815618cbad1e98fc042cb7";

static EVP_PKEY *key_from_hex(dstack_key_alg alg, const char *hex)
{
    uint8_t secret[32];
    EVP_PKEY *pkey = NULL;
    dstack_error err;

    CU_ASSERT_FATAL(dstack_hex_decode(hex, strlen(hex), secret, 32, NULL));
    CU_ASSERT_EQUAL_FATAL(dstack_pkey_from_secret(alg, secret, &pkey, &err), DSTACK_OK);
    return pkey;
}

/* The CA certificate and its private key of an appkeys.json text (caller frees `text`). */
static void appkeys_ca(const uint8_t *text, X509 **cert, EVP_PKEY **key)
{
    json_object *root = json_tokener_parse((const char *)text), *v;
    BIO *bio;

    CU_ASSERT_FATAL(root != NULL && json_object_object_get_ex(root, "ca_cert", &v));
    bio = BIO_new_mem_buf(json_object_get_string(v), -1);
    *cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    BIO_free(bio);
    v = json_object_object_get(
        json_object_object_get(json_object_object_get(root, "key_provider"), "None"), "key");
    CU_ASSERT_FATAL(v != NULL);
    bio = BIO_new_mem_buf(json_object_get_string(v), -1);
    *key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);
    CU_ASSERT_FATAL(*cert != NULL && *key != NULL);
    json_object_put(root);
}

/* A P-256 CA made here, named like the KMS CA of the agent's chains. */
static void make_ca(X509 **cert, EVP_PKEY **key)
{
    dstack_cert_spec spec = {.common_name = "Dstack KMS CA (test)",
                             .organization = "Dstack",
                             .is_ca = true,
                             .ca_pathlen = 1,
                             .not_before = T_1975,
                             .not_after = T_2050,
                             .serial_from_key = true};

    *key = qf_p256(0x21);
    CU_ASSERT_EQUAL_FATAL(dstack_cert_build(&spec, *key, NULL, NULL, cert, NULL), DSTACK_OK);
}

static int ext_index(X509 *x, int nid)
{
    return X509_get_ext_by_NID(x, nid, -1);
}

/* Rebuilds `ref` (a CA of an appkeys.json, with `key`) from `spec`: serial, SKI, names and
 * layout must match. */
static void check_ca_rebuild(X509 *ref, EVP_PKEY *key, dstack_cert_spec *spec)
{
    X509 *ca = NULL;
    dstack_error err;
    const ASN1_TIME *na;
    struct tm tm;

    na = X509_get0_notAfter(ref);
    CU_ASSERT_FATAL(ASN1_TIME_to_tm(na, &tm) == 1);
    spec->not_after = (int64_t)timegm(&tm);
    CU_ASSERT_EQUAL_FATAL(dstack_cert_build(spec, key, NULL, NULL, &ca, &err), DSTACK_OK);
    /* protocol.md §4.6 [verified]: serial = SHA-256(raw point)[0..20], top bit cleared */
    CU_ASSERT_EQUAL(ASN1_INTEGER_cmp(X509_get0_serialNumber(ca), X509_get0_serialNumber(ref)), 0);
    CU_ASSERT_EQUAL(
        ASN1_OCTET_STRING_cmp(X509_get0_subject_key_id(ca), X509_get0_subject_key_id(ref)), 0);
    CU_ASSERT_EQUAL(X509_NAME_cmp(X509_get_subject_name(ca), X509_get_subject_name(ref)), 0);
    CU_ASSERT_EQUAL(X509_NAME_cmp(X509_get_issuer_name(ca), X509_get_subject_name(ref)), 0);
    CU_ASSERT_EQUAL(ASN1_TIME_compare(X509_get0_notBefore(ca), X509_get0_notBefore(ref)), 0);
    CU_ASSERT_EQUAL(ASN1_TIME_compare(X509_get0_notAfter(ca), X509_get0_notAfter(ref)), 0);
    /* rcgen order: KeyUsage, SKI, BasicConstraints */
    CU_ASSERT_EQUAL(X509_get_ext_count(ca), 3);
    CU_ASSERT_EQUAL(ext_index(ca, NID_key_usage), 0);
    CU_ASSERT_EQUAL(ext_index(ca, NID_subject_key_identifier), 1);
    CU_ASSERT_EQUAL(ext_index(ca, NID_basic_constraints), 2);
    CU_ASSERT_EQUAL(X509_get_key_usage(ca), X509_get_key_usage(ref));
    CU_ASSERT_EQUAL(X509_check_ca(ca), 1);
    CU_ASSERT_EQUAL(X509_get_pathlen(ca), 1);
    CU_ASSERT(X509_EXTENSION_get_critical(X509_get_ext(ca, 2)));
    CU_ASSERT_EQUAL(X509_verify(ca, key), 1);
    CU_ASSERT_EQUAL(X509_verify(ref, key), 1);
    X509_free(ca);
}

/* dstack-sim's development CA (docs/dstack-sim.md), from `dstack-sim --write-appkeys`. */
static void test_ca_matches_dev_ca(void)
{
    uint8_t *text = test_dev_appkeys(NULL);
    X509 *ref = NULL;
    EVP_PKEY *key = NULL;
    dstack_cert_spec spec = {.common_name = "dstack-sim INSECURE development CA",
                             .organization = "dstack-sim",
                             .is_ca = true,
                             .ca_pathlen = 1,
                             .not_before = T_1975,
                             .serial_from_key = true};

    appkeys_ca(text, &ref, &key);
    check_ca_rebuild(ref, key, &spec);
    X509_free(ref);
    EVP_PKEY_free(key);
    free(text);
}

/* The official simulator's CA, made by rcgen (upstream appkeys.json). */
static void test_ca_matches_simulator(void)
{
    uint8_t *text = test_read_fixture("dstack/appkeys.json", NULL);
    X509 *ref = NULL;
    EVP_PKEY *key = NULL;
    dstack_cert_spec spec = {.common_name = "Dstack KMS CA",
                             .organization = "Dstack",
                             .is_ca = true,
                             .ca_pathlen = 1,
                             .not_before = T_1975,
                             .serial_from_key = true};

    appkeys_ca(text, &ref, &key);
    check_ca_rebuild(ref, key, &spec);
    X509_free(ref);
    EVP_PKEY_free(key);
    free(text);
}

static void test_leaf_layout(void)
{
    X509 *ca = NULL, *leaf = NULL;
    EVP_PKEY *ca_key = NULL, *key = key_from_hex(DSTACK_ALG_P256, secret_hex);
    dstack_error err;
    const char *sans[] = {"api.example.com", "10.0.0.5", "2001:db8::1"};
    static const uint8_t payload[300] = {1, 2, 3};
    dstack_cert_ext exts[] = {{DSTACK_OID_SPECIAL_USAGE, (const uint8_t *)"app:custom", 10},
                              {DSTACK_OID_ATTESTATION, payload, sizeof(payload)}};
    dstack_cert_spec spec = {.common_name = "tls/wéb",
                             .san = sans,
                             .san_len = 3,
                             .server_auth = true,
                             .client_auth = true,
                             .not_before = T_1975,
                             .not_after = T_2050,
                             .exts = exts,
                             .n_exts = 2,
                             .serial_from_key = true};
    GENERAL_NAMES *names;
    X509_NAME_ENTRY *cn;
    const ASN1_OCTET_STRING *data;
    const unsigned char *p;
    ASN1_OCTET_STRING *inner;

    make_ca(&ca, &ca_key);
    CU_ASSERT_EQUAL_FATAL(dstack_cert_build(&spec, key, ca_key, ca, &leaf, &err), DSTACK_OK);
    CU_ASSERT_EQUAL(X509_verify(leaf, ca_key), 1);
    CU_ASSERT_EQUAL(X509_NAME_cmp(X509_get_issuer_name(leaf), X509_get_subject_name(ca)), 0);
    CU_ASSERT_EQUAL(X509_get_version(leaf), X509_VERSION_3);
    /* CN is a UTF8String holding the UTF-8 bytes; no O */
    CU_ASSERT_EQUAL(X509_NAME_entry_count(X509_get_subject_name(leaf)), 1);
    cn = X509_NAME_get_entry(X509_get_subject_name(leaf), 0);
    CU_ASSERT_EQUAL(ASN1_STRING_type(X509_NAME_ENTRY_get_data(cn)), V_ASN1_UTF8STRING);
    CU_ASSERT_EQUAL(
        strcmp((const char *)ASN1_STRING_get0_data(X509_NAME_ENTRY_get_data(cn)), "tls/wéb"), 0);
    /* SAN, KU (critical), EKU, then custom extensions in order; no BC/SKI on leaves */
    CU_ASSERT_EQUAL(X509_get_ext_count(leaf), 5);
    CU_ASSERT_EQUAL(ext_index(leaf, NID_subject_alt_name), 0);
    CU_ASSERT_EQUAL(ext_index(leaf, NID_key_usage), 1);
    CU_ASSERT(X509_EXTENSION_get_critical(X509_get_ext(leaf, 1)));
    CU_ASSERT_EQUAL(ext_index(leaf, NID_ext_key_usage), 2);
    CU_ASSERT_EQUAL(ext_index(leaf, NID_basic_constraints), -1);
    CU_ASSERT_EQUAL(ext_index(leaf, NID_subject_key_identifier), -1);
    CU_ASSERT_EQUAL(X509_get_key_usage(leaf), KU_DIGITAL_SIGNATURE);
    CU_ASSERT_EQUAL(X509_get_extended_key_usage(leaf), XKU_SSL_SERVER | XKU_SSL_CLIENT);
    CU_ASSERT_EQUAL(X509_check_host(leaf, "api.example.com", 0, 0, NULL), 1);
    CU_ASSERT_EQUAL(X509_check_ip_asc(leaf, "10.0.0.5", 0), 1);
    CU_ASSERT_EQUAL(X509_check_ip_asc(leaf, "2001:db8::1", 0), 1);
    names = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
    CU_ASSERT_EQUAL(sk_GENERAL_NAME_num(names), 3);
    CU_ASSERT_EQUAL(sk_GENERAL_NAME_value(names, 0)->type, GEN_DNS);
    CU_ASSERT_EQUAL(sk_GENERAL_NAME_value(names, 1)->type, GEN_IPADD);
    GENERAL_NAMES_free(names);
    /* custom extension: non-critical, extnValue = OCTET STRING { payload } */
    CU_ASSERT_FALSE(X509_EXTENSION_get_critical(X509_get_ext(leaf, 4)));
    data = X509_EXTENSION_get_data(X509_get_ext(leaf, 4));
    p = ASN1_STRING_get0_data(data);
    CU_ASSERT_EQUAL(p[0], 0x04);
    CU_ASSERT_EQUAL(p[1], 0x82); /* long-form length for 300 bytes */
    inner = d2i_ASN1_OCTET_STRING(NULL, &p, ASN1_STRING_length(data));
    CU_ASSERT_FATAL(inner != NULL);
    CU_ASSERT_EQUAL(ASN1_STRING_length(inner), 300);
    CU_ASSERT_EQUAL(memcmp(ASN1_STRING_get0_data(inner), payload, 300), 0);
    ASN1_OCTET_STRING_free(inner);
    /* years ≥ 2050 use GeneralizedTime, earlier ones UTCTime */
    CU_ASSERT_EQUAL(ASN1_STRING_type(X509_get0_notAfter(leaf)), V_ASN1_GENERALIZEDTIME);
    CU_ASSERT_EQUAL(ASN1_STRING_type(X509_get0_notBefore(leaf)), V_ASN1_UTCTIME);
    X509_free(leaf);
    /* no EKU unless requested (Tappd.DeriveKey leaves) */
    spec.server_auth = spec.client_auth = false;
    spec.n_exts = 0;
    spec.san_len = 0;
    CU_ASSERT_EQUAL_FATAL(dstack_cert_build(&spec, key, ca_key, ca, &leaf, &err), DSTACK_OK);
    CU_ASSERT_EQUAL(X509_get_ext_count(leaf), 1);
    CU_ASSERT_EQUAL(ext_index(leaf, NID_ext_key_usage), -1);
    X509_free(leaf);
    X509_free(ca);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(key);
}

static void test_other_algorithms(void)
{
    EVP_PKEY *ed = key_from_hex(DSTACK_ALG_ED25519, secret_hex);
    EVP_PKEY *k1 = key_from_hex(DSTACK_ALG_SECP256K1, secret_hex);
    EVP_PKEY *p256 = key_from_hex(DSTACK_ALG_P256, secret_hex);
    X509 *a = NULL, *b = NULL, *c = NULL;
    dstack_error err;
    dstack_cert_spec spec = {.common_name = "x", .not_before = T_1975, .not_after = T_2050};

    /* Ed25519 self-signed (PureEdDSA), Ed25519 issuing a P-256 leaf, secp256k1 self-signed */
    CU_ASSERT_EQUAL_FATAL(dstack_cert_build(&spec, ed, NULL, NULL, &a, &err), DSTACK_OK);
    CU_ASSERT_EQUAL(X509_verify(a, ed), 1);
    CU_ASSERT_EQUAL(X509_get_signature_nid(a), NID_ED25519);
    CU_ASSERT_EQUAL_FATAL(dstack_cert_build(&spec, p256, ed, a, &b, &err), DSTACK_OK);
    CU_ASSERT_EQUAL(X509_verify(b, ed), 1);
    CU_ASSERT_EQUAL_FATAL(dstack_cert_build(&spec, k1, NULL, NULL, &c, &err), DSTACK_OK);
    CU_ASSERT_EQUAL(X509_verify(c, k1), 1);
    CU_ASSERT_EQUAL(X509_get_signature_nid(c), NID_ecdsa_with_SHA256);
    X509_free(a);
    X509_free(b);
    X509_free(c);
    /* random serials: positive, distinct */
    CU_ASSERT_EQUAL_FATAL(dstack_cert_build(&spec, p256, NULL, NULL, &a, &err), DSTACK_OK);
    CU_ASSERT_EQUAL_FATAL(dstack_cert_build(&spec, p256, NULL, NULL, &b, &err), DSTACK_OK);
    CU_ASSERT_NOT_EQUAL(ASN1_INTEGER_cmp(X509_get0_serialNumber(a), X509_get0_serialNumber(b)), 0);
    CU_ASSERT_EQUAL(ASN1_STRING_type(X509_get0_serialNumber(a)), V_ASN1_INTEGER);
    X509_free(a);
    X509_free(b);
    EVP_PKEY_free(ed);
    EVP_PKEY_free(k1);
    EVP_PKEY_free(p256);
}

static void test_cert_build_negative(void)
{
    EVP_PKEY *key = key_from_hex(DSTACK_ALG_P256, secret_hex);
    X509 *x = NULL;
    dstack_error err;
    const char *bad_san[] = {"ok.example", "bad name"};
    const char *empty_san[] = {""};
    const char *utf8_san[] = {"wéb.example"};
    dstack_cert_ext bad_oid = {"not-an-oid", (const uint8_t *)"x", 1};
    dstack_cert_spec spec = {.common_name = "x", .not_before = T_1975, .not_after = T_2050};

    CU_ASSERT_EQUAL(dstack_cert_build(NULL, key, NULL, NULL, &x, &err), DSTACK_ERR_USAGE);
    CU_ASSERT_EQUAL(dstack_cert_build(&spec, NULL, NULL, NULL, &x, &err), DSTACK_ERR_USAGE);
    spec.san = bad_san;
    spec.san_len = 2;
    CU_ASSERT_EQUAL(dstack_cert_build(&spec, key, NULL, NULL, &x, &err), DSTACK_ERR_USAGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "bad name"));
    spec.san = empty_san;
    spec.san_len = 1;
    CU_ASSERT_EQUAL(dstack_cert_build(&spec, key, NULL, NULL, &x, &err), DSTACK_ERR_USAGE);
    spec.san = utf8_san;
    CU_ASSERT_EQUAL(dstack_cert_build(&spec, key, NULL, NULL, &x, &err), DSTACK_ERR_USAGE);
    spec.san_len = 0;
    spec.exts = &bad_oid;
    spec.n_exts = 1;
    CU_ASSERT_EQUAL(dstack_cert_build(&spec, key, NULL, NULL, &x, &err), DSTACK_ERR_USAGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "not-an-oid"));
    spec.n_exts = 0;
    spec.not_after = 253402300800LL; /* year 10000 */
    CU_ASSERT_EQUAL(dstack_cert_build(&spec, key, NULL, NULL, &x, &err), DSTACK_ERR_USAGE);
    CU_ASSERT_PTR_NULL(x);
    spec.not_after = 253402300799LL; /* 9999-12-31T23:59:59Z is fine */
    CU_ASSERT_EQUAL(dstack_cert_build(&spec, key, NULL, NULL, &x, &err), DSTACK_OK);
    X509_free(x);
    x = NULL;
    spec.not_before = -62167219201LL;
    CU_ASSERT_EQUAL(dstack_cert_build(&spec, key, NULL, NULL, &x, &err), DSTACK_ERR_USAGE);
    EVP_PKEY_free(key);
}

/* ---- RA-TLS inspection ------------------------------------------------------------------ */

/* An attestation made for `key`: report_data = SHA-512("ratls-cert:" || SPKI) in the attestation
 * and in quote bytes 568..632, as the agent and the simulator make them (protocol.md §4.2). */
static void attestation_for_key(EVP_PKEY *key, dstack_attestation *att, uint8_t rd[64], te_vm *vm)
{
    unsigned char *spki = NULL;
    size_t spki_len;
    dstack_error err;
    qf_pki pki;

    CU_ASSERT_EQUAL_FATAL(dstack_pkey_to_spki_der(key, &spki, &spki_len, &err), DSTACK_OK);
    dstack_ratls_report_data(spki, spki_len, rd);
    OPENSSL_free(spki);
    qf_pki_init(&pki, "Test Root A", 1, true);
    te_vm_init(vm, 1);
    te_attestation(&pki, vm, rd, 70, att);
    CU_ASSERT_EQUAL(memcmp(att->quote + 568, rd, 64), 0);
    qf_pki_free(&pki);
}

static X509 *cert_with_exts(EVP_PKEY *key, const dstack_cert_ext *exts, size_t n)
{
    X509 *x = NULL;
    dstack_error err;
    dstack_cert_spec spec = {.common_name = "ratls",
                             .not_before = T_1975,
                             .not_after = T_2050,
                             .server_auth = true,
                             .exts = exts,
                             .n_exts = n};

    CU_ASSERT_EQUAL_FATAL(dstack_cert_build(&spec, key, NULL, NULL, &x, &err), DSTACK_OK);
    return x;
}

static void test_report_data_vector(void)
{
    EVP_PKEY *key = key_from_hex(DSTACK_ALG_P256, secret_hex);
    unsigned char *spki = NULL;
    size_t spki_len;
    uint8_t rd[64];
    dstack_error err;

    CU_ASSERT_EQUAL_FATAL(dstack_pkey_to_spki_der(key, &spki, &spki_len, &err), DSTACK_OK);
    dstack_ratls_report_data(spki, spki_len, rd);
    /* protocol.md §9 V2 */
    CU_ASSERT_HEX_EQUAL(
        rd, 64,
        "99eaa8b266e587905106eda7a26b6d20ef7d29ac00d0dd0854161e0f9d10b9e45a6c91d7e8d"
        "b009d6842329c5f2ba7b6b76386d95345d4ab819ee0a798c7e7c2");
    OPENSSL_free(spki);
    EVP_PKEY_free(key);
}

static void test_inspect_v0(void)
{
    EVP_PKEY *key = key_from_hex(DSTACK_ALG_P256, secret_hex);
    dstack_attestation att;
    uint8_t rd[64], *enc = NULL, *app_id;
    size_t enc_len;
    dstack_ratls_info info;
    dstack_error err;
    X509 *x;
    te_vm vm;

    attestation_for_key(key, &att, rd, &vm);
    app_id = vm.app_id;
    CU_ASSERT_EQUAL_FATAL(dstack_attestation_encode_v0(&att, &enc, &enc_len, &err), DSTACK_OK);
    {
        dstack_cert_ext exts[] = {{DSTACK_OID_APP_ID, app_id, 20},
                                  {DSTACK_OID_SPECIAL_USAGE, (const uint8_t *)"app:custom", 10},
                                  {DSTACK_OID_ATTESTATION, enc, enc_len}};
        x = cert_with_exts(key, exts, 3);
    }
    CU_ASSERT_EQUAL_FATAL(dstack_ratls_inspect(x, &info, &err), DSTACK_OK);
    CU_ASSERT(info.has_attestation);
    CU_ASSERT_FALSE(info.from_legacy_oids);
    CU_ASSERT(info.quote_parsed);
    CU_ASSERT(info.report_data_binds_key);
    CU_ASSERT(info.rtmr3_matches);
    CU_ASSERT(info.has_app_id);
    CU_ASSERT_EQUAL(memcmp(info.app_id, app_id, 20), 0);
    CU_ASSERT_STRING_EQUAL(info.special_usage, "app:custom");
    CU_ASSERT_EQUAL(info.attestation.runtime_events_len, TE_RUNTIME_EVENTS);
    dstack_ratls_info_free(&info);
    X509_free(x);

    /* quote report_data left unpatched: the attestation alone does not bind the key */
    {
        uint8_t *enc2 = NULL;
        size_t enc2_len;
        memset(att.quote + 568, 0, 64);
        CU_ASSERT_EQUAL_FATAL(dstack_attestation_encode_v0(&att, &enc2, &enc2_len, &err),
                              DSTACK_OK);
        dstack_cert_ext ext = {DSTACK_OID_ATTESTATION, enc2, enc2_len};
        x = cert_with_exts(key, &ext, 1);
        CU_ASSERT_EQUAL_FATAL(dstack_ratls_inspect(x, &info, &err), DSTACK_OK);
        CU_ASSERT(info.has_attestation && info.quote_parsed);
        CU_ASSERT_FALSE(info.report_data_binds_key);
        CU_ASSERT(info.rtmr3_matches);
        CU_ASSERT_FALSE(info.has_app_id);
        CU_ASSERT_STRING_EQUAL(info.special_usage, "");
        dstack_ratls_info_free(&info);
        X509_free(x);
        free(enc2);
    }
    /* the same attestation on another key does not bind */
    {
        EVP_PKEY *other = key_from_hex(
            DSTACK_ALG_P256, "0000000000000000000000000000000000000000000000000000000000000007");
        dstack_cert_ext ext = {DSTACK_OID_ATTESTATION, enc, enc_len};
        x = cert_with_exts(other, &ext, 1);
        CU_ASSERT_EQUAL_FATAL(dstack_ratls_inspect(x, &info, &err), DSTACK_OK);
        CU_ASSERT_FALSE(info.report_data_binds_key);
        dstack_ratls_info_free(&info);
        X509_free(x);
        EVP_PKEY_free(other);
    }
    /* a tampered runtime event breaks the RTMR3 replay */
    {
        uint8_t *enc3 = NULL;
        size_t enc3_len;
        memcpy(att.quote + 568, rd, 64);
        att.runtime_events[1].payload[0] ^= 1;
        CU_ASSERT_EQUAL_FATAL(dstack_attestation_encode_v0(&att, &enc3, &enc3_len, &err),
                              DSTACK_OK);
        dstack_cert_ext ext = {DSTACK_OID_ATTESTATION, enc3, enc3_len};
        x = cert_with_exts(key, &ext, 1);
        CU_ASSERT_EQUAL_FATAL(dstack_ratls_inspect(x, &info, &err), DSTACK_OK);
        CU_ASSERT(info.report_data_binds_key);
        CU_ASSERT_FALSE(info.rtmr3_matches);
        dstack_ratls_info_free(&info);
        X509_free(x);
        free(enc3);
    }
    free(enc);
    dstack_attestation_free(&att);
    EVP_PKEY_free(key);
}

static void test_inspect_legacy(void)
{
    EVP_PKEY *key = key_from_hex(DSTACK_ALG_P256, secret_hex);
    dstack_attestation att;
    uint8_t rd[64];
    char *log_json;
    dstack_ratls_info info;
    dstack_error err;
    X509 *x;
    te_vm vm;

    attestation_for_key(key, &att, rd, &vm);
    log_json = dstack_event_log_to_json(&att.tdx_event_log);
    CU_ASSERT_PTR_NOT_NULL_FATAL(log_json);
    {
        dstack_cert_ext exts[] = {
            {DSTACK_OID_TDX_QUOTE, att.quote, att.quote_len},
            {DSTACK_OID_EVENT_LOG, (const uint8_t *)log_json, strlen(log_json)}};
        x = cert_with_exts(key, exts, 2);
        CU_ASSERT_EQUAL_FATAL(dstack_ratls_inspect(x, &info, &err), DSTACK_OK);
        CU_ASSERT(info.has_attestation && info.from_legacy_oids && info.quote_parsed);
        CU_ASSERT(info.report_data_binds_key);
        CU_ASSERT(info.rtmr3_matches);
        CU_ASSERT_EQUAL(info.attestation.runtime_events_len, TE_RUNTIME_EVENTS);
        dstack_ratls_info_free(&info);
        X509_free(x);
        /* .1.1 without .1.2 is an error (protocol.md §4.3) */
        x = cert_with_exts(key, exts, 1);
        CU_ASSERT_EQUAL(dstack_ratls_inspect(x, &info, &err), DSTACK_ERR_PROTOCOL);
        CU_ASSERT_PTR_NOT_NULL(strstr(err.message, DSTACK_OID_EVENT_LOG));
        X509_free(x);
        /* malformed JSON and the unsupported gzip form */
        exts[1].payload = (const uint8_t *)"[{";
        exts[1].payload_len = 2;
        x = cert_with_exts(key, exts, 2);
        CU_ASSERT_EQUAL(dstack_ratls_inspect(x, &info, &err), DSTACK_ERR_PROTOCOL);
        X509_free(x);
        exts[1].payload = (const uint8_t *)"ELGZv1\x1f\x8b";
        exts[1].payload_len = 8;
        x = cert_with_exts(key, exts, 2);
        CU_ASSERT_EQUAL(dstack_ratls_inspect(x, &info, &err), DSTACK_ERR_PROTOCOL);
        CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "ELGZv1"));
        X509_free(x);
    }
    free(log_json);
    dstack_attestation_free(&att);
    EVP_PKEY_free(key);
}

/* Re-signs `x` after adding a raw extension whose extnValue is `value` (not double-wrapped). */
static void add_raw_ext(X509 *x, EVP_PKEY *key, const char *oid, const uint8_t *value, int len)
{
    ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
    ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
    X509_EXTENSION *ext;

    CU_ASSERT_FATAL(obj && os && ASN1_OCTET_STRING_set(os, value, len));
    ext = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, os);
    CU_ASSERT_FATAL(ext != NULL && X509_add_ext(x, ext, -1));
    CU_ASSERT_FATAL(X509_sign(x, key, EVP_sha256()) > 0);
    X509_EXTENSION_free(ext);
    ASN1_OCTET_STRING_free(os);
    ASN1_OBJECT_free(obj);
}

static void test_inspect_negative(void)
{
    EVP_PKEY *key = key_from_hex(DSTACK_ALG_P256, secret_hex);
    dstack_ratls_info info;
    dstack_error err;
    X509 *x;
    size_t len = 0;
    uint8_t *bin = NULL, rd[64];
    dstack_attestation att;
    te_vm vm;
    static const uint8_t not_octet[] = {0x02, 0x01, 0x05};
    static const uint8_t bad_len[] = {0x04, 0x05, 0x00};
    static const uint8_t trailing[] = {0x04, 0x01, 0x00, 0x00};

    attestation_for_key(key, &att, rd, &vm);
    CU_ASSERT_EQUAL_FATAL(dstack_attestation_encode_v0(&att, &bin, &len, &err), DSTACK_OK);
    dstack_attestation_free(&att);
    /* no attestation at all: fine, nothing claimed */
    x = cert_with_exts(key, NULL, 0);
    CU_ASSERT_EQUAL(dstack_ratls_inspect(x, &info, &err), DSTACK_OK);
    CU_ASSERT_FALSE(info.has_attestation || info.report_data_binds_key || info.rtmr3_matches);
    dstack_ratls_info_free(&info);
    X509_free(x);
    /* garbage and truncated attestation payloads */
    {
        dstack_cert_ext ext = {DSTACK_OID_ATTESTATION, (const uint8_t *)"garbage!", 8};
        x = cert_with_exts(key, &ext, 1);
        CU_ASSERT_EQUAL(dstack_ratls_inspect(x, &info, &err), DSTACK_ERR_PROTOCOL);
        CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "attestation extension"));
        X509_free(x);
        ext.payload = bin;
        ext.payload_len = len / 2;
        x = cert_with_exts(key, &ext, 1);
        CU_ASSERT_EQUAL(dstack_ratls_inspect(x, &info, &err), DSTACK_ERR_PROTOCOL);
        X509_free(x);
        ext.payload_len = 0;
        x = cert_with_exts(key, &ext, 1);
        CU_ASSERT_EQUAL(dstack_ratls_inspect(x, &info, &err), DSTACK_ERR_PROTOCOL);
        X509_free(x);
    }
    /* extension value that is not a single DER OCTET STRING */
    x = cert_with_exts(key, NULL, 0);
    add_raw_ext(x, key, DSTACK_OID_ATTESTATION, not_octet, sizeof(not_octet));
    CU_ASSERT_EQUAL(dstack_ratls_inspect(x, &info, &err), DSTACK_ERR_PROTOCOL);
    X509_free(x);
    x = cert_with_exts(key, NULL, 0);
    add_raw_ext(x, key, DSTACK_OID_ATTESTATION, bad_len, sizeof(bad_len));
    CU_ASSERT_EQUAL(dstack_ratls_inspect(x, &info, &err), DSTACK_ERR_PROTOCOL);
    X509_free(x);
    x = cert_with_exts(key, NULL, 0);
    add_raw_ext(x, key, DSTACK_OID_SPECIAL_USAGE, trailing, sizeof(trailing));
    CU_ASSERT_EQUAL(dstack_ratls_inspect(x, &info, &err), DSTACK_ERR_PROTOCOL);
    X509_free(x);
    /* .1.3 of the wrong size is ignored; .1.4 too long is refused */
    {
        dstack_cert_ext ext = {DSTACK_OID_APP_ID, (const uint8_t *)"short", 5};
        x = cert_with_exts(key, &ext, 1);
        CU_ASSERT_EQUAL(dstack_ratls_inspect(x, &info, &err), DSTACK_OK);
        CU_ASSERT_FALSE(info.has_app_id);
        X509_free(x);
        uint8_t longer[100];
        memset(longer, 'a', sizeof(longer));
        dstack_cert_ext usage = {DSTACK_OID_SPECIAL_USAGE, longer, sizeof(longer)};
        x = cert_with_exts(key, &usage, 1);
        CU_ASSERT_EQUAL(dstack_ratls_inspect(x, &info, &err), DSTACK_ERR_PROTOCOL);
        X509_free(x);
    }
    CU_ASSERT_EQUAL(dstack_ratls_inspect(NULL, &info, &err), DSTACK_ERR_USAGE);
    free(bin);
    EVP_PKEY_free(key);
}

int main(void)
{
    static const test_case cases[] = {
        {"CA rebuild matches dstack-sim's development CA", test_ca_matches_dev_ca},
        {"leaf layout (names, SAN, KU, EKU, custom exts, times)", test_leaf_layout},
        {"Ed25519 and secp256k1 certificates", test_other_algorithms},
        {"cert_build negative", test_cert_build_negative},
        {"RA-TLS report_data (spec V2)", test_report_data_vector},
        {"inspect .1.8 V0 attestation", test_inspect_v0},
        {"inspect legacy .1.1 + .1.2", test_inspect_legacy},
        {"inspect negative", test_inspect_negative},
        {NULL, NULL},
    };
    static const test_case upstream[] = {
        {"CA rebuild matches the official simulator CA (serial, SKI)", test_ca_matches_simulator},
        {NULL, NULL},
    };
    /* as an application may: libdstack's key copies then live in the secure heap */
    (void)CRYPTO_secure_malloc_init(64 * 1024, 32);
    return test_run_split_suite("cert_build", cases, upstream);
}
