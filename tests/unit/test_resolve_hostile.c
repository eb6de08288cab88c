/* dstack_resolve() against a hostile agent: replies dstack-sim never sends (a leaf for another
 * key, chain entries that are not one PEM certificate, 10 000-entry chains, key PEM with
 * trailing garbage or on the wrong curve, huge hex, deep JSON nesting). A tiny HTTP/1.1 server
 * on a Unix socket in this process (tests/lib/canned_server) answers each method with the body
 * the test chose; the keys
 * and certificates are made here with OpenSSL. Each case must be a clear protocol or crypto
 * error naming the RPC and the endpoint. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <dstack/keys.h>
#include <dstack/resolve.h>

#include "canned_server.h"
#include "test_util.h"

#define WANT_ALL (DSTACK_WANT_KEY | DSTACK_WANT_CERTS)

/* ---- canned server: method name → body ------------------------------------------------- */

enum { R_GETKEY, R_DERIVEKEY, R_GETTLSKEY, R_COUNT };
static const char *const route_paths[R_COUNT] = {"/GetKey", "/prpc/Tappd.DeriveKey", "/GetTlsKey"};

static void set_route(int route, char *body) /* takes ownership */
{
    canned_server_set(route_paths[route], body);
    free(body);
}

static char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    char *out = NULL;
    va_start(ap, fmt);
    if (vasprintf(&out, fmt, ap) < 0)
        abort();
    va_end(ap);
    return out;
}

/* ---- keys and certificates made here ----------------------------------------------------- */

static EVP_PKEY *gen_key(const char *curve)
{
    EVP_PKEY *k = EVP_EC_gen(curve);
    CU_ASSERT_PTR_NOT_NULL_FATAL(k);
    return k;
}

/* The 32-byte scalar as hex: what GetKey returns; for alg=p256 it is the P-256 key. */
static char *scalar_hex(const EVP_PKEY *k)
{
    BIGNUM *priv = NULL;
    unsigned char raw[32];
    char *hex = malloc(65);
    CU_ASSERT_FATAL(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_PRIV_KEY, &priv) == 1);
    CU_ASSERT_FATAL(BN_bn2binpad(priv, raw, sizeof(raw)) == 32);
    dstack_hex_encode(raw, sizeof(raw), hex);
    hex[64] = '\0';
    BN_clear_free(priv);
    return hex;
}

static char *cert_pem(EVP_PKEY *k)
{
    X509 *x = X509_new();
    BIO *b = BIO_new(BIO_s_mem());
    char *data = NULL, *out;
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)"hostile", -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    X509_set_pubkey(x, k);
    CU_ASSERT_FATAL(X509_sign(x, k, EVP_sha256()) > 0);
    PEM_write_bio_X509(b, x);
    long n = BIO_get_mem_data(b, &data);
    out = strndup(data, (size_t)n);
    BIO_free(b);
    X509_free(x);
    return out;
}

static char *key_pem(EVP_PKEY *k)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *data = NULL;
    PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL);
    long n = BIO_get_mem_data(b, &data);
    char *out = strndup(data, (size_t)n);
    BIO_free(b);
    return out;
}

/* A JSON string literal of `pem` (newlines escaped). */
static char *json_str(const char *s)
{
    char *out = malloc(2 * strlen(s) + 3), *o = out;
    *o++ = '"';
    for (; *s != '\0'; s++) {
        if (*s == '\n') {
            *o++ = '\\';
            *o++ = 'n';
        } else {
            *o++ = *s;
        }
    }
    *o++ = '"';
    *o = '\0';
    return out;
}

/* {"key": <key>, "certificate_chain": [<entries>]} */
static char *tls_body(const char *key, const char *const *entries, size_t n)
{
    char *k = json_str(key);
    size_t cap = strlen(k) + 64;
    char **quoted = calloc(n, sizeof(*quoted));
    for (size_t i = 0; i < n; i++) {
        quoted[i] = json_str(entries[i]);
        cap += strlen(quoted[i]) + 1;
    }
    char *out = malloc(cap), *o = out;
    o += sprintf(o, "{\"key\":%s,\"certificate_chain\":[", k);
    for (size_t i = 0; i < n; i++) {
        o += sprintf(o, "%s%s", i > 0 ? "," : "", quoted[i]);
        free(quoted[i]);
    }
    strcpy(o, "]}");
    free(quoted);
    free(k);
    return out;
}

/* ---- the resolver under test ------------------------------------------------------------- */

static dstack_resolver *resolver(void)
{
    dstack_config *cfg = dstack_config_new();
    dstack_resolver *r = NULL;
    dstack_error err;

    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    CU_ASSERT_EQUAL_FATAL(dstack_config_set(cfg, "endpoint", canned_server_path(), &err),
                          DSTACK_OK);
    CU_ASSERT_EQUAL_FATAL(dstack_config_set(cfg, "tappd-endpoint", canned_server_path(), &err),
                          DSTACK_OK);
    CU_ASSERT_EQUAL_FATAL(dstack_config_set(cfg, "timeout-ms", "3000", &err), DSTACK_OK);
    CU_ASSERT_EQUAL_FATAL(dstack_resolver_new(cfg, &r, &err), DSTACK_OK);
    dstack_config_free(cfg);
    return r;
}

static void expect_fail(const char *uri, unsigned want, dstack_status status, const char *method,
                        const char *needle)
{
    dstack_resolver *r = resolver();
    dstack_resolved *res = NULL;
    dstack_error err;
    dstack_error_clear(&err);
    dstack_status rc = dstack_resolve(r, uri, want, &res, &err);
    CU_ASSERT_EQUAL(rc, status);
    CU_ASSERT_PTR_NULL(res);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, method));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, canned_server_path()));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, needle));
    if (rc != status || strstr(err.message, needle) == NULL || strstr(err.message, method) == NULL)
        fprintf(stderr, "  %s: [%s] %s\n", uri, dstack_status_name(err.status), err.message);
    dstack_resolved_free(res);
    dstack_resolver_free(r);
}

static void expect_ok(const char *uri, unsigned want, size_t certs)
{
    dstack_resolver *r = resolver();
    dstack_resolved *res = NULL;
    dstack_error err;
    dstack_error_clear(&err);
    if (dstack_resolve(r, uri, want, &res, &err) != DSTACK_OK)
        fprintf(stderr, "  %s: %s\n", uri, err.message);
    CU_ASSERT_PTR_NOT_NULL(res);
    if (res != NULL)
        CU_ASSERT_EQUAL(res->cert_count, certs);
    dstack_resolved_free(res);
    dstack_resolver_free(r);
}

/* Tappd.DeriveKey (cert=agent) chains. */
static void test_agent_chains(void)
{
    EVP_PKEY *k = gen_key("P-256"), *other = gen_key("P-256");
    char *hex = scalar_hex(k), *leaf = cert_pem(k), *wrong = cert_pem(other), *kp = key_pem(k);
    const char *uri = "dstack:tls/web?cert=agent";

    set_route(R_GETKEY, xasprintf("{\"key\":\"%s\",\"signature_chain\":[]}", hex));
    /* The well-formed reply works, so every failure below is the hostile part. */
    set_route(R_DERIVEKEY, tls_body(kp, (const char *const[]){leaf, wrong}, 2));
    expect_ok(uri, WANT_ALL, 2);

    set_route(R_DERIVEKEY, tls_body(kp, (const char *const[]){wrong}, 1));
    expect_fail(uri, WANT_ALL, DSTACK_ERR_CRYPTO, "Tappd.DeriveKey",
                "does not match the derived key");

    set_route(R_DERIVEKEY, tls_body(kp, (const char *const[]){"not a certificate"}, 1));
    expect_fail(uri, WANT_ALL, DSTACK_ERR_PROTOCOL, "Tappd.DeriveKey",
                "certificate 0 of the chain is not a single PEM certificate");

    char *garbage = xasprintf("%sgarbage", leaf);
    set_route(R_DERIVEKEY, tls_body(kp, (const char *const[]){garbage}, 1));
    expect_fail(uri, WANT_ALL, DSTACK_ERR_PROTOCOL, "Tappd.DeriveKey",
                "certificate 0 of the chain is not a single PEM certificate");
    free(garbage);

    /* Two certificates in one entry: OpenSSL would silently take the first. */
    char *two = xasprintf("%s%s", leaf, wrong);
    set_route(R_DERIVEKEY, tls_body(kp, (const char *const[]){leaf, two}, 2));
    expect_fail(uri, WANT_ALL, DSTACK_ERR_PROTOCOL, "Tappd.DeriveKey",
                "certificate 1 of the chain is not a single PEM certificate");
    free(two);

    /* 10 000 valid entries. */
    const char **many = malloc(10000 * sizeof(*many));
    for (size_t i = 0; i < 10000; i++)
        many[i] = leaf;
    set_route(R_DERIVEKEY, tls_body(kp, many, 10000));
    free(many);
    expect_fail(uri, WANT_ALL, DSTACK_ERR_PROTOCOL, "Tappd.DeriveKey",
                "the certificate chain has 10000 entries, at most 16");

    free(hex);
    free(leaf);
    free(wrong);
    free(kp);
    EVP_PKEY_free(k);
    EVP_PKEY_free(other);
}

/* GetTlsKey (ephemeral=yes) key PEM and leaf. */
static void test_ephemeral_replies(void)
{
    EVP_PKEY *k = gen_key("P-256"), *other = gen_key("P-256"), *p384 = gen_key("P-384");
    char *kp = key_pem(k), *leaf = cert_pem(k), *wrong = cert_pem(other);
    char *kp384 = key_pem(p384), *leaf384 = cert_pem(p384);
    const char *uri = "dstack:?ephemeral=yes";

    set_route(R_GETTLSKEY, tls_body(kp, (const char *const[]){leaf}, 1));
    expect_ok(uri, WANT_ALL, 1);

    char *trailing = xasprintf("%sgarbage\n", kp);
    set_route(R_GETTLSKEY, tls_body(trailing, (const char *const[]){leaf}, 1));
    expect_fail(uri, DSTACK_WANT_KEY, DSTACK_ERR_PROTOCOL, "GetTlsKey",
                "key is not a single PEM P-256 private key");
    free(trailing);

    char *two = xasprintf("%s%s", kp, kp384);
    set_route(R_GETTLSKEY, tls_body(two, (const char *const[]){leaf}, 1));
    expect_fail(uri, DSTACK_WANT_KEY, DSTACK_ERR_PROTOCOL, "GetTlsKey",
                "key is not a single PEM P-256 private key");
    free(two);

    set_route(R_GETTLSKEY, tls_body(kp384, (const char *const[]){leaf384}, 1));
    expect_fail(uri, DSTACK_WANT_KEY, DSTACK_ERR_PROTOCOL, "GetTlsKey",
                "key is not a single PEM P-256 private key");

    set_route(R_GETTLSKEY,
              tls_body("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
                       (const char *const[]){leaf}, 1));
    expect_fail(uri, DSTACK_WANT_KEY, DSTACK_ERR_PROTOCOL, "GetTlsKey",
                "key is not a single PEM P-256 private key");

    set_route(R_GETTLSKEY, tls_body(kp, (const char *const[]){wrong}, 1));
    expect_fail(uri, DSTACK_WANT_KEY, DSTACK_ERR_CRYPTO, "GetTlsKey",
                "does not match the derived key");

    free(kp);
    free(leaf);
    free(wrong);
    free(kp384);
    free(leaf384);
    EVP_PKEY_free(k);
    EVP_PKEY_free(other);
    EVP_PKEY_free(p384);
}

/* GetKey bodies: huge hex, deep nesting, trailing data, wrong types. */
static void test_getkey_replies(void)
{
    const char *uri = "dstack:k?cert=none";
    size_t big = 2u * 1024u * 1024u;
    char *huge = malloc(big + 32);
    strcpy(huge, "{\"key\":\"");
    memset(huge + 8, 'a', big);
    strcpy(huge + 8 + big, "\"}");
    set_route(R_GETKEY, huge);
    expect_fail(uri, DSTACK_WANT_KEY, DSTACK_ERR_PROTOCOL, "GetKey",
                "\"key\" is 2097152 characters long, expected 32 bytes");

    size_t depth = 100000;
    char *deep = malloc(2 * depth + 16), *o = deep;
    o += sprintf(o, "{\"key\":");
    memset(o, '[', depth);
    memset(o + depth, ']', depth);
    strcpy(o + 2 * depth, "}");
    set_route(R_GETKEY, deep);
    expect_fail(uri, DSTACK_WANT_KEY, DSTACK_ERR_PROTOCOL, "GetKey", "not valid JSON");

    set_route(R_GETKEY, xasprintf("{\"key\":\"%064d\"} {\"key\":1}", 0));
    expect_fail(uri, DSTACK_WANT_KEY, DSTACK_ERR_PROTOCOL, "GetKey", "not valid JSON");
    set_route(R_GETKEY, xasprintf("{\"key\":\"%064d\",\"signature_chain\":{}}", 0));
    expect_fail(uri, DSTACK_WANT_KEY, DSTACK_ERR_PROTOCOL, "GetKey",
                "\"signature_chain\" is object");
    set_route(R_GETKEY, xasprintf("{\"key\":\"%064d\"}", 0));
    /* A zero scalar is no P-256 key. */
    expect_fail(uri, DSTACK_WANT_KEY, DSTACK_ERR_CRYPTO, "GetKey", "the agent's key is unusable");
}

int main(void)
{
    static const test_case cases[] = {
        {"Tappd.DeriveKey: foreign leaf, non-PEM entries, 10 000 entries", test_agent_chains},
        {"GetTlsKey: trailing garbage, two keys, P-384, foreign leaf", test_ephemeral_replies},
        {"GetKey: huge hex, deep nesting, trailing data", test_getkey_replies},
        {NULL, NULL},
    };
    if (canned_server_start("hostile") != 0) {
        perror("test server");
        return 2;
    }
    int rc = test_run_suite("resolve_hostile", cases);
    canned_server_stop();
    return rc;
}
