/* dstack_resolve() against the real simulator with its development identity (DSTACK_DEV_*):
 * keys, signature-chain and app-id checks, every certificate and RA-TLS mode, the cache,
 * legacy Tappd-only agents, threads and fork. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include <dstack/attest.h>
#include <dstack/keys.h>
#include <dstack/resolve.h>

#include "test_resolve_util.h"
#include "test_util.h"

/* dstack-sim's development identity: GetKey/DeriveKey of DSTACK_DEV_PATH ("/test/path"). */
#define DEV_SECRET test_env("DSTACK_DEV_SECRET")
#define DEV_P256_PKCS8 test_env("DSTACK_DEV_P256_PKCS8")
#define DEV_K256_PUB test_env("DSTACK_DEV_K256_PUB")
#define DEV_ED25519_PUB test_env("DSTACK_DEV_ED25519_PUB")
#define KMS_ROOT test_env("DSTACK_DEV_KMS_ROOT")
#define APP_ID test_env("DSTACK_DEV_APP_ID")

#define WANT_ALL (DSTACK_WANT_KEY | DSTACK_WANT_CERTS)

static EVP_PKEY *spki_key(const dstack_resolved *res)
{
    const unsigned char *p = res->spki_der;
    return d2i_PUBKEY(NULL, &p, (long)res->spki_der_len);
}

/* ---- keys ------------------------------------------------------------------------------ */

static void test_p256_key_is_dev(void)
{
    dstack_resolver *r = tr_resolver(false, NULL);
    dstack_resolved *res = tr_resolve_ok(r, "dstack:/test/path", DSTACK_WANT_KEY);
    CU_ASSERT_PTR_NOT_NULL_FATAL(res);
    CU_ASSERT_EQUAL(res->alg, DSTACK_ALG_P256);
    CU_ASSERT_STRING_EQUAL(res->key_type, "EC");
    CU_ASSERT_EQUAL(res->key_der_len, 138);
    CU_ASSERT_HEX_EQUAL(res->key_der, res->key_der_len, DEV_P256_PKCS8);
    CU_ASSERT_EQUAL(res->cert_count, 0);
    CU_ASSERT_STRING_EQUAL(res->cert_source, "none");
    CU_ASSERT(!res->chain_verified);
    /* SPKI belongs to the key. */
    const unsigned char *p = res->key_der;
    EVP_PKEY *priv = d2i_AutoPrivateKey(NULL, &p, (long)res->key_der_len);
    EVP_PKEY *pub = spki_key(res);
    CU_ASSERT_EQUAL(EVP_PKEY_eq(priv, pub), 1);
    EVP_PKEY_free(priv);
    EVP_PKEY_free(pub);
    dstack_resolved_free(res);
    dstack_resolver_free(r);
}

static void test_secp256k1_and_ed25519_are_dev(void)
{
    dstack_resolver *r = tr_resolver(true, NULL);
    dstack_resolved *res =
        tr_resolve_ok(r, "dstack:/test/path?alg=secp256k1&purpose=test-purpose", DSTACK_WANT_KEY);
    CU_ASSERT_PTR_NOT_NULL_FATAL(res);
    CU_ASSERT_STRING_EQUAL(res->key_type, "EC");
    EVP_PKEY *pub = spki_key(res);
    unsigned char point[65];
    size_t len = 0;
    CU_ASSERT_EQUAL_FATAL(EVP_PKEY_get_octet_string_param(pub, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
                                                          point, sizeof(point), &len),
                          1);
    CU_ASSERT_EQUAL_FATAL(len, 65);
    /* SEC1 compression: 02/03 by the parity of Y, then X. */
    point[0] = (point[64] & 1) ? 0x03 : 0x02;
    CU_ASSERT_HEX_EQUAL(point, 33, DEV_K256_PUB);
    EVP_PKEY_free(pub);
    dstack_resolved_free(res);

    res = tr_resolve_ok(r, "dstack:/test/path?alg=k256", DSTACK_WANT_KEY);
    CU_ASSERT_PTR_NOT_NULL_FATAL(res);
    CU_ASSERT_EQUAL(res->alg, DSTACK_ALG_SECP256K1);
    dstack_resolved_free(res);

    res = tr_resolve_ok(r, "dstack:/test/path?alg=ed25519", DSTACK_WANT_KEY);
    CU_ASSERT_PTR_NOT_NULL_FATAL(res);
    CU_ASSERT_STRING_EQUAL(res->key_type, "ED25519");
    pub = spki_key(res);
    unsigned char raw[32];
    len = sizeof(raw);
    CU_ASSERT_EQUAL(EVP_PKEY_get_raw_public_key(pub, raw, &len), 1);
    CU_ASSERT_HEX_EQUAL(raw, len, DEV_ED25519_PUB);
    EVP_PKEY_free(pub);
    dstack_resolved_free(res);
    dstack_resolver_free(r);
}

/* ---- KMS root and app-id ---------------------------------------------------------------- */

/* Well-formed values that are not the right ones: the app id's first byte inverted, the
 * KMS root's last digit changed (its 02/03 prefix stays valid). */
static void tweaked_hex(const char *hex, char *out, size_t cap, bool first_byte)
{
    static const char digits[] = "0123456789abcdef";
    size_t n = strlen(hex);

    snprintf(out, cap, "%s", hex);
    if (first_byte) {
        out[0] = digits[15 - dstack_hex_digit(out[0])];
        out[1] = digits[15 - dstack_hex_digit(out[1])];
    } else {
        out[n - 1] = out[n - 1] == '0' ? '1' : '0';
    }
}

static void cfg_app_id(dstack_config *cfg)
{
    tr_set(cfg, "app-id", APP_ID);
}

static void cfg_kms_root(dstack_config *cfg)
{
    tr_set(cfg, "kms-root-pubkey", KMS_ROOT);
    cfg_app_id(cfg); /* a KMS root is only accepted together with the app id it vouches for */
}

static void cfg_wrong_kms_root(dstack_config *cfg)
{
    char hex[67];

    tweaked_hex(KMS_ROOT, hex, sizeof(hex), false);
    tr_set(cfg, "kms-root-pubkey", hex);
    cfg_app_id(cfg);
}

static void cfg_wrong_app_id(dstack_config *cfg)
{
    char hex[41];

    tweaked_hex(APP_ID, hex, sizeof(hex), true);
    tr_set(cfg, "app-id", hex);
}

static void test_kms_root(void)
{
    dstack_resolver *r = tr_resolver(false, cfg_kms_root);
    static const char *const uris[] = {"dstack:/test/path?alg=secp256k1&purpose=test-purpose",
                                       "dstack:/test/path?alg=ed25519", "dstack:tls/web", NULL};
    for (size_t i = 0; uris[i] != NULL; i++) {
        dstack_resolved *res = tr_resolve_ok(r, uris[i], DSTACK_WANT_KEY);
        CU_ASSERT_PTR_NOT_NULL_FATAL(res);
        CU_ASSERT(res->chain_verified);
        dstack_resolved_free(res);
    }
    /* An ephemeral key has no chain: refused while a KMS root is configured. */
    tr_resolve_fails(r, "dstack:?ephemeral=yes", DSTACK_WANT_KEY, DSTACK_ERR_USAGE,
                     (const char *const[]){"dstack:?ephemeral=yes: ", "kms-root-pubkey", NULL});
    dstack_resolver_free(r);

    r = tr_resolver(false, cfg_wrong_kms_root);
    tr_resolve_fails(r, "dstack:tls/web", DSTACK_WANT_KEY, DSTACK_ERR_CRYPTO,
                     (const char *const[]){
                         "dstack:tls/web: key refused by the kms-root-pubkey check: GetKey on ",
                         "signature chain", NULL});
    dstack_resolver_free(r);
}

static void test_app_id(void)
{
    dstack_resolver *r = tr_resolver(false, cfg_app_id);
    uint8_t id[20];
    char wrong[41];

    test_env_hex("DSTACK_DEV_APP_ID", id, 20);
    id[0] ^= 0xff; /* cfg_wrong_app_id */
    dstack_hex_encode(id, 20, wrong);
    dstack_resolved *res = tr_resolve_ok(r, "dstack:tls/web", DSTACK_WANT_KEY);
    CU_ASSERT_PTR_NOT_NULL(res);
    dstack_resolved_free(res);
    dstack_resolver_free(r);

    r = tr_resolver(false, cfg_wrong_app_id);
    tr_resolve_fails(r, "dstack:tls/web", DSTACK_WANT_KEY, DSTACK_ERR_CRYPTO,
                     (const char *const[]){"dstack:tls/web: ", APP_ID, wrong, NULL});
    dstack_resolver_free(r);
}

/* ---- certificates ---------------------------------------------------------------------- */

static void check_ratls(X509 *cert, bool want_attestation)
{
    dstack_ratls_info info;
    dstack_error err;
    memset(&info, 0, sizeof(info));
    if (dstack_ratls_inspect(cert, &info, &err) != DSTACK_OK) {
        fprintf(stderr, "  inspect: %s\n", err.message);
        CU_FAIL("dstack_ratls_inspect failed");
        return;
    }
    CU_ASSERT_EQUAL(info.has_attestation, want_attestation);
    if (want_attestation)
        CU_ASSERT(info.report_data_binds_key);
    dstack_ratls_info_free(&info);
}

static bool has_san(X509 *cert, int type, const char *text)
{
    GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    bool found = false;
    for (int i = 0; names != NULL && i < sk_GENERAL_NAME_num(names); i++) {
        GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);
        if (gn->type != type)
            continue;
        if (type == GEN_DNS) {
            found |= strcmp((const char *)ASN1_STRING_get0_data(gn->d.dNSName), text) == 0;
        } else {
            ASN1_OCTET_STRING *ip = a2i_IPADDRESS(text);
            found |= ip != NULL && ASN1_STRING_cmp(ip, gn->d.iPAddress) == 0;
            ASN1_OCTET_STRING_free(ip);
        }
    }
    GENERAL_NAMES_free(names);
    return found;
}

static void test_agent_cert(void)
{
    dstack_resolver *r = tr_resolver(false, NULL);
    dstack_resolved *res = tr_resolve_ok(
        r, "dstack:tls/web?cert=agent&san=api.example.com,10.0.0.5,::1&cn=Web", WANT_ALL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(res);
    CU_ASSERT_STRING_EQUAL(res->cert_source, "agent");
    CU_ASSERT(res->cert_count >= 2);
    X509 *leaf = tr_cert(res, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(leaf);
    EVP_PKEY *pub = spki_key(res);
    CU_ASSERT_EQUAL(EVP_PKEY_eq(X509_get0_pubkey(leaf), pub), 1);
    CU_ASSERT(has_san(leaf, GEN_DNS, "api.example.com"));
    CU_ASSERT(has_san(leaf, GEN_IPADD, "10.0.0.5"));
    CU_ASSERT(has_san(leaf, GEN_IPADD, "::1"));
    CU_ASSERT(X509_get_extended_key_usage(leaf) & XKU_SSL_SERVER);
    check_ratls(leaf, true);
    X509_free(leaf);
    EVP_PKEY_free(pub);
    dstack_resolved_free(res);

    /* ratls=no: a plain agent certificate. */
    res = tr_resolve_ok(r, "dstack:tls/web?cert=agent&ratls=no", WANT_ALL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(res);
    leaf = tr_cert(res, 0);
    check_ratls(leaf, false);
    X509_free(leaf);
    dstack_resolved_free(res);

    /* auto picks the agent for p256 when Tappd answers, self otherwise. */
    res = tr_resolve_ok(r, "dstack:tls/web", WANT_ALL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(res);
    CU_ASSERT_STRING_EQUAL(res->cert_source, "agent");
    dstack_resolved_free(res);
    res = tr_resolve_ok(r, "dstack:tls/web?alg=ed25519", WANT_ALL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(res);
    CU_ASSERT_STRING_EQUAL(res->cert_source, "self");
    dstack_resolved_free(res);

    tr_resolve_fails(r, "dstack:tls/web?cert=agent&alg=ed25519", WANT_ALL, DSTACK_ERR_USAGE,
                     (const char *const[]){"cert=agent needs alg=p256", NULL});
    tr_resolve_fails(r, "dstack:tls/web?cert=agent&app-info=yes", WANT_ALL, DSTACK_ERR_USAGE,
                     (const char *const[]){"app-info=yes cannot be used with cert=agent", NULL});
    dstack_resolver_free(r);
}

static void test_self_cert_modes(void)
{
    static const struct {
        const char *uri;
        bool att, quote, any;
    } modes[] = {
        {"dstack:tls/web?cert=self&ratls=attest", true, false, true},
        {"dstack:tls/web?cert=self&ratls=quote", false, true, true},
        {"dstack:tls/web?cert=self&ratls=both", true, true, true},
        {"dstack:tls/web?cert=self&ratls=auto", true, false, true},
        {"dstack:tls/web?cert=self", true, false, true},
        {"dstack:tls/web?cert=self&ratls=no", false, false, false},
        {"dstack:wallet?alg=secp256k1&cert=self&ratls=both", true, true, true},
        {"dstack:id?alg=ed25519&cert=self&ratls=quote", false, true, true},
        {NULL, false, false, false},
    };
    dstack_resolver *r = tr_resolver(false, NULL);
    for (size_t i = 0; modes[i].uri != NULL; i++) {
        dstack_resolved *res = tr_resolve_ok(r, modes[i].uri, WANT_ALL);
        CU_ASSERT_PTR_NOT_NULL_FATAL(res);
        CU_ASSERT_STRING_EQUAL(res->cert_source, "self");
        CU_ASSERT_EQUAL_FATAL(res->cert_count, 1);
        X509 *leaf = tr_cert(res, 0);
        CU_ASSERT_PTR_NOT_NULL_FATAL(leaf);
        CU_ASSERT_EQUAL(tr_has_ext(leaf, DSTACK_OID_ATTESTATION), modes[i].att);
        CU_ASSERT_EQUAL(tr_has_ext(leaf, DSTACK_OID_TDX_QUOTE), modes[i].quote);
        CU_ASSERT_EQUAL(tr_has_ext(leaf, DSTACK_OID_EVENT_LOG), modes[i].quote);
        CU_ASSERT(!tr_has_ext(leaf, DSTACK_OID_APP_INFO));
        check_ratls(leaf, modes[i].any);
        EVP_PKEY *pub = spki_key(res);
        CU_ASSERT_EQUAL(EVP_PKEY_eq(X509_get0_pubkey(leaf), pub), 1);
        /* Self-signed with the derived key. */
        CU_ASSERT_EQUAL(X509_verify(leaf, pub), 1);
        EVP_PKEY_free(pub);
        X509_free(leaf);
        dstack_resolved_free(res);
    }

    /* CN, SAN, usage and app info. */
    dstack_resolved *res = tr_resolve_ok(
        r, "dstack:tls/web?cert=self&cn=My%20Web&san=x.example,10.1.2.3&usage=client&app-info=yes",
        WANT_ALL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(res);
    X509 *leaf = tr_cert(res, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(leaf);
    char cn[64] = "";
    X509_NAME_get_text_by_NID(X509_get_subject_name(leaf), NID_commonName, cn, sizeof(cn));
    CU_ASSERT_STRING_EQUAL(cn, "My Web");
    CU_ASSERT(has_san(leaf, GEN_DNS, "x.example"));
    CU_ASSERT(has_san(leaf, GEN_IPADD, "10.1.2.3"));
    uint32_t xku = X509_get_extended_key_usage(leaf);
    CU_ASSERT((xku & XKU_SSL_CLIENT) && !(xku & XKU_SSL_SERVER));
    CU_ASSERT(tr_has_ext(leaf, DSTACK_OID_APP_INFO));
    /* notBefore 1975-01-01, notAfter ~10 years ahead. */
    CU_ASSERT(ASN1_TIME_cmp_time_t(X509_get0_notBefore(leaf), 157766400) == 0);
    CU_ASSERT(ASN1_TIME_cmp_time_t(X509_get0_notAfter(leaf), time(NULL) + 3640L * 86400) > 0);
    X509_free(leaf);
    dstack_resolved_free(res);
    dstack_resolver_free(r);
}

static void test_ephemeral(void)
{
    dstack_resolver *r = tr_resolver(false, NULL);
    dstack_resolved *a = tr_resolve_ok(r, "dstack:?ephemeral=yes&cn=demo&san=e.example", WANT_ALL);
    dstack_resolved *b = tr_resolve_ok(r, "dstack:?ephemeral=yes&cn=demo&san=e.example", WANT_ALL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_STRING_EQUAL(a->cert_source, "ephemeral");
    CU_ASSERT(a->cert_count >= 2);
    /* One GetTlsKey per process even with cache=no: the key and the certificate a server
     * loads separately must belong together (architecture.md §4 "Cache"). */
    CU_ASSERT(a->spki_der_len == b->spki_der_len &&
              memcmp(a->spki_der, b->spki_der, a->spki_der_len) == 0);
    {
        /* another process — here another resolver — gets a fresh random key */
        dstack_resolver *other = tr_resolver(false, NULL);
        dstack_resolved *c =
            tr_resolve_ok(other, "dstack:?ephemeral=yes&cn=demo&san=e.example", WANT_ALL);
        CU_ASSERT_PTR_NOT_NULL_FATAL(c);
        CU_ASSERT(a->spki_der_len != c->spki_der_len ||
                  memcmp(a->spki_der, c->spki_der, a->spki_der_len) != 0);
        dstack_resolved_free(c);
        dstack_resolver_free(other);
    }
    X509 *leaf = tr_cert(a, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(leaf);
    EVP_PKEY *pub = spki_key(a);
    CU_ASSERT_EQUAL(EVP_PKEY_eq(X509_get0_pubkey(leaf), pub), 1);
    CU_ASSERT(has_san(leaf, GEN_DNS, "e.example"));
    check_ratls(leaf, true);
    EVP_PKEY_free(pub);
    X509_free(leaf);
    dstack_resolved_free(a);
    dstack_resolved_free(b);
    dstack_resolver_free(r);

    /* Cached: key-only and certificate loads of one ephemeral URI agree. */
    r = tr_resolver(true, NULL);
    a = tr_resolve_ok(r, "dstack:?ephemeral=yes", DSTACK_WANT_KEY);
    b = tr_resolve_ok(r, "dstack:?ephemeral=yes", DSTACK_WANT_CERTS);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_EQUAL(a->cert_count, 0);
    CU_ASSERT_PTR_NULL(b->key_der);
    CU_ASSERT(b->cert_count >= 2);
    CU_ASSERT_EQUAL(a->spki_der_len, b->spki_der_len);
    CU_ASSERT(memcmp(a->spki_der, b->spki_der, a->spki_der_len) == 0);
    dstack_resolved_free(a);
    dstack_resolved_free(b);
    dstack_resolver_free(r);
}

/* ---- legacy agents: only the Tappd socket --------------------------------------------- */

/* A legacy agent: discovery (the environment, as the SDKs read it) finds no guest socket,
 * only the Tappd one of with-sim.sh. Discovered, not configured: only then may the resolver
 * turn to Tappd. */
static void cfg_no_guest(dstack_config *cfg)
{
    (void)cfg;
    setenv("DSTACK_SIMULATOR_ENDPOINT", "/nonexistent/dstack.sock", 1);
}

static void cfg_no_agent(dstack_config *cfg)
{
    setenv("DSTACK_SIMULATOR_ENDPOINT", "/nonexistent/dstack.sock", 1);
    tr_set(cfg, "tappd-endpoint", "/nonexistent/tappd.sock");
}

/* A configured endpoint is the only one tried. */
static void cfg_explicit_missing(dstack_config *cfg)
{
    tr_set(cfg, "endpoint", "/nonexistent/configured.sock");
}

static void test_tappd_only(void)
{
    char *guest = strdup(test_env("DSTACK_SIMULATOR_ENDPOINT"));
    dstack_resolver *r = tr_resolver(false, cfg_no_guest);
    dstack_resolved *res = tr_resolve_ok(r, "dstack:/test/path", DSTACK_WANT_KEY);
    CU_ASSERT_PTR_NOT_NULL_FATAL(res);
    CU_ASSERT_HEX_EQUAL(res->key_der, res->key_der_len, DEV_P256_PKCS8);
    dstack_resolved_free(res);
    /* ratls=auto: no Attest without the guest socket; the quote comes from Tappd.RawQuote. */
    res = tr_resolve_ok(r, "dstack:/test/path?alg=ed25519&cert=self", WANT_ALL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(res);
    X509 *leaf = tr_cert(res, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(leaf);
    CU_ASSERT(tr_has_ext(leaf, DSTACK_OID_TDX_QUOTE));
    CU_ASSERT(!tr_has_ext(leaf, DSTACK_OID_ATTESTATION));
    check_ratls(leaf, true);
    X509_free(leaf);
    dstack_resolved_free(res);
    /* The KMS chain check works through Tappd too (Info and DeriveK256Key). */
    dstack_resolver_free(r);

    r = tr_resolver(false, cfg_no_agent);
    CU_ASSERT_STRING_EQUAL(dstack_resolver_endpoint(r), "/nonexistent/dstack.sock");
    CU_ASSERT_STRING_EQUAL(dstack_resolver_tappd_endpoint(r), "/nonexistent/tappd.sock");
    tr_resolve_fails(r, "dstack:tls/web", DSTACK_WANT_KEY, DSTACK_ERR_CONNECTION,
                     (const char *const[]){"dstack:tls/web: ", "/nonexistent/dstack.sock",
                                           "/nonexistent/tappd.sock", NULL});
    dstack_resolver_free(r);
    setenv("DSTACK_SIMULATOR_ENDPOINT", guest, 1);
    free(guest);
}

/* A configured guest endpoint that does not exist fails the load naming it, although a
 * Tappd socket is right there (discovered from the environment): no silent fallback. */
static void test_explicit_endpoint_no_fallback(void)
{
    long tappd_before = tr_sim_stat("requests", "tappd");
    dstack_resolver *r = tr_resolver(false, cfg_explicit_missing);
    CU_ASSERT_STRING_EQUAL(dstack_resolver_endpoint(r), "/nonexistent/configured.sock");
    tr_resolve_fails(r, "dstack:tls/web", DSTACK_WANT_KEY, DSTACK_ERR_CONNECTION,
                     (const char *const[]){"/nonexistent/configured.sock", NULL});
    tr_resolve_fails(r, "dstack:tls/web?cert=self", DSTACK_WANT_KEY | DSTACK_WANT_CERTS,
                     DSTACK_ERR_CONNECTION,
                     (const char *const[]){"/nonexistent/configured.sock", NULL});
    CU_ASSERT_EQUAL(tr_sim_stat("requests", "tappd"), tappd_before);
    dstack_resolver_free(r);
}

/* ---- cache ------------------------------------------------------------------------------- */

static long total_requests(void)
{
    return tr_sim_stat("requests", "dstack") + tr_sim_stat("requests", "tappd");
}

static void test_cache(void)
{
    dstack_resolver *r = tr_resolver(true, NULL);
    const char *uri = "dstack:tls/web?cert=self&san=c.example";
    dstack_resolved *a = tr_resolve_ok(r, uri, WANT_ALL);
    long before = total_requests();
    CU_ASSERT(before > 0);
    /* Same URI, different spelling: served from the cache, no RPC, same bytes (the
     * self-issued certificate has a random serial, so equal bytes prove the hit). */
    dstack_resolved *b = tr_resolve_ok(r, "dstack:tls%2Fweb?san=c.example&cert=self", WANT_ALL);
    dstack_resolved *k = tr_resolve_ok(r, uri, DSTACK_WANT_KEY);
    CU_ASSERT_EQUAL(total_requests(), before);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_PTR_NOT_NULL_FATAL(k);
    CU_ASSERT_EQUAL_FATAL(a->cert_count, b->cert_count);
    CU_ASSERT_EQUAL(a->cert_der_len[0], b->cert_der_len[0]);
    CU_ASSERT(memcmp(a->cert_der[0], b->cert_der[0], a->cert_der_len[0]) == 0);
    CU_ASSERT(memcmp(a->key_der, b->key_der, a->key_der_len) == 0);
    CU_ASSERT_EQUAL(k->cert_count, 0);
    CU_ASSERT_PTR_NOT_NULL(k->key_der);
    /* Independent copies. */
    CU_ASSERT_PTR_NOT_EQUAL(a->key_der, b->key_der);
    dstack_resolved_free(a);
    dstack_resolved_free(b);
    dstack_resolved_free(k);

    /* A key-only entry does not serve a certificate load. */
    a = tr_resolve_ok(r, "dstack:other?cert=self", DSTACK_WANT_KEY);
    before = total_requests();
    b = tr_resolve_ok(r, "dstack:other?cert=self", WANT_ALL);
    CU_ASSERT(total_requests() > before);
    CU_ASSERT_PTR_NOT_NULL(b);
    CU_ASSERT(b != NULL && b->cert_count == 1);
    dstack_resolved_free(a);
    dstack_resolved_free(b);
    dstack_resolver_free(r);

    /* cache off: every load asks the agent. */
    r = tr_resolver(false, NULL);
    a = tr_resolve_ok(r, "dstack:tls/web", DSTACK_WANT_KEY);
    before = total_requests();
    b = tr_resolve_ok(r, "dstack:tls/web", DSTACK_WANT_KEY);
    CU_ASSERT(total_requests() > before);
    dstack_resolved_free(a);
    dstack_resolved_free(b);
    dstack_resolver_free(r);
}

/* ---- debug log --------------------------------------------------------------------------- */

static char debug_log[65536];

static void collect_debug(void *ctx, int level, const char *file, int line, const char *func,
                          const char *fmt, ...)
{
    size_t used = strlen(debug_log);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(debug_log + used, sizeof(debug_log) - used, fmt, ap);
    va_end(ap);
    used = strlen(debug_log);
    snprintf(debug_log + used, sizeof(debug_log) - used, " [%d %s]\n", level, func);
}

static void cfg_debug(dstack_config *cfg)
{
    dstack_config_set_debug(cfg, collect_debug, NULL);
}

static void test_debug_log(void)
{
    debug_log[0] = '\0';
    dstack_resolver *r = tr_resolver(true, cfg_debug);
    dstack_resolved *a = tr_resolve_ok(r, "dstack:/test/path?cert=self", WANT_ALL);
    dstack_resolved *b = tr_resolve_ok(r, "dstack:/test/path?cert=self", WANT_ALL);
    dstack_resolved_free(a);
    dstack_resolved_free(b);
    dstack_resolver_free(r);
    CU_ASSERT_PTR_NOT_NULL(strstr(debug_log, "resolver: endpoint "));
    CU_ASSERT_PTR_NOT_NULL(strstr(debug_log, "cache miss"));
    CU_ASSERT_PTR_NOT_NULL(strstr(debug_log, "cache hit"));
    CU_ASSERT_PTR_NOT_NULL(strstr(debug_log, "GetKey"));
    CU_ASSERT_PTR_NOT_NULL(strstr(debug_log, "Attest on "));
    /* Never key bytes, in any case. */
    CU_ASSERT_PTR_NULL(strcasestr(debug_log, DEV_SECRET));
    {
        char prefix[9];

        snprintf(prefix, sizeof(prefix), "%s", DEV_SECRET);
        CU_ASSERT_PTR_NULL(strcasestr(debug_log, prefix));
    }
}

/* ---- threads and fork -------------------------------------------------------------------- */

static dstack_resolver *shared;

static void *thread_main(void *arg)
{
    long id = (long)arg;
    long failures = 0;
    for (int i = 0; i < 6; i++) {
        char uri[128];
        /* Half the loads share URIs (cache contention), half are distinct. */
        if (i % 2 == 0)
            snprintf(uri, sizeof(uri), "dstack:/test/path");
        else
            snprintf(uri, sizeof(uri), "dstack:thread/%ld/%d?cert=self&ratls=no", id, i);
        dstack_resolved *res = NULL;
        dstack_error err;
        if (dstack_resolve(shared, uri, WANT_ALL, &res, &err) != DSTACK_OK) {
            fprintf(stderr, "  thread %ld: %s\n", id, err.message);
            failures++;
            continue;
        }
        if (i % 2 == 0) {
            char *hex = test_hex(res->key_der, res->key_der_len);
            failures += strcmp(hex, DEV_P256_PKCS8) != 0;
            free(hex);
        } else {
            failures += res->cert_count != 1;
        }
        dstack_resolved_free(res);
    }
    return (void *)failures;
}

static void test_threads(void)
{
    for (int cache = 0; cache <= 1; cache++) {
        pthread_t t[8];
        shared = tr_resolver(cache, NULL);
        for (long i = 0; i < 8; i++)
            CU_ASSERT_EQUAL_FATAL(pthread_create(&t[i], NULL, thread_main, (void *)i), 0);
        for (int i = 0; i < 8; i++) {
            void *failures = NULL;
            pthread_join(t[i], &failures);
            CU_ASSERT_PTR_NULL(failures);
        }
        dstack_resolver_free(shared);
        shared = NULL;
    }
}

static void test_fork(void)
{
    dstack_resolver *r = tr_resolver(true, NULL);
    dstack_resolved *res = tr_resolve_ok(r, "dstack:/test/path", DSTACK_WANT_KEY);
    dstack_resolved_free(res);
    long conns = tr_sim_stat("connections", "dstack");
    fflush(NULL);
    pid_t pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        /* Child: must open its own connection and resolve (the cache is per process). */
        int rc = 0;
        dstack_resolved *child = NULL;
        dstack_error err;
        if (dstack_resolve(r, "dstack:/test/path", DSTACK_WANT_KEY, &child, &err) != DSTACK_OK) {
            fprintf(stderr, "  child: %s\n", err.message);
            rc = 1;
        } else {
            char *hex = test_hex(child->key_der, child->key_der_len);
            rc = strcmp(hex, DEV_P256_PKCS8) != 0 ? 2 : 0;
            free(hex);
        }
        if (rc == 0 && tr_sim_stat("connections", "dstack") <= conns)
            rc = 3; /* reused the parent's connection */
        dstack_resolved_free(child);
        dstack_resolver_free(r);
        _exit(rc);
    }
    int status = 0;
    CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
    CU_ASSERT(WIFEXITED(status));
    CU_ASSERT_EQUAL(WEXITSTATUS(status), 0);
    /* The parent's connection still works. */
    res = tr_resolve_ok(r, "dstack:after/fork", DSTACK_WANT_KEY);
    CU_ASSERT_PTR_NOT_NULL(res);
    dstack_resolved_free(res);
    dstack_resolver_free(r);
}

/* ---- argument errors --------------------------------------------------------------------- */

static void test_bad_arguments(void)
{
    dstack_resolver *r = tr_resolver(true, NULL);
    dstack_resolved *res = NULL;
    dstack_error err;
    tr_resolve_fails(
        r, "dstack:tls/web?alg=rsa", WANT_ALL, DSTACK_ERR_USAGE,
        (const char *const[]){"dstack:tls/web?alg=rsa: unsupported alg \"rsa\"", NULL});
    tr_resolve_fails(r, "dstack:tls/web", 0, DSTACK_ERR_USAGE,
                     (const char *const[]){"want must be", NULL});
    tr_resolve_fails(r, "dstack:tls/web", 0x10, DSTACK_ERR_USAGE,
                     (const char *const[]){"want must be", NULL});
    tr_resolve_fails(r,
                     "dstack:a-very-long-key-path/that-does-not-fit/into-an-x509-common-name/"
                     "at-all?cert=self",
                     WANT_ALL, DSTACK_ERR_USAGE,
                     (const char *const[]){"longer than 64 characters", "set cn=", NULL});
    CU_ASSERT_EQUAL(dstack_resolve(NULL, "dstack:x", WANT_ALL, &res, &err), DSTACK_ERR_USAGE);
    CU_ASSERT_EQUAL(dstack_resolve(r, NULL, WANT_ALL, &res, &err), DSTACK_ERR_USAGE);
    CU_ASSERT_EQUAL(dstack_resolve(r, "dstack:x", WANT_ALL, NULL, &err), DSTACK_ERR_USAGE);
    dstack_resolver_free(r);
    dstack_resolver_free(NULL);
    dstack_resolved_free(NULL);

    dstack_resolver *bad = NULL;
    CU_ASSERT_EQUAL(dstack_resolver_new(NULL, &bad, &err), DSTACK_ERR_USAGE);
    CU_ASSERT_PTR_NULL(bad);
}

int main(void)
{
    static const test_case cases[] = {
        {"p256 key equals DSTACK_DEV_P256_PKCS8", test_p256_key_is_dev},
        {"secp256k1 / ed25519 public keys equal DSTACK_DEV_*", test_secp256k1_and_ed25519_are_dev},
        {"KMS root verification", test_kms_root},
        {"app-id check", test_app_id},
        {"agent certificates", test_agent_cert},
        {"self-issued RA-TLS certificates", test_self_cert_modes},
        {"ephemeral keys", test_ephemeral},
        {"legacy Tappd-only agent", test_tappd_only},
        {"configured endpoint: no fallback", test_explicit_endpoint_no_fallback},
        {"cache", test_cache},
        {"debug log", test_debug_log},
        {"8 threads", test_threads},
        {"fork", test_fork},
        {"bad arguments", test_bad_arguments},
        {NULL, NULL},
    };
    return test_run_suite("resolve", cases);
}
