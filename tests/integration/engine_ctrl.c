/* The dstack ENGINE through its C API (architecture.md §7), against dstack-sim: control commands,
 * ENGINE_load_private_key / load_pubkey, and LOAD_CERT_CTRL (libp11's convention), which no
 * command-line tool exercises. */
#define OPENSSL_SUPPRESS_DEPRECATED

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/engine.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <dstack/attest.h>

#include "test_resolve_util.h"
#include "test_util.h"

typedef struct load_cert_params {
    const char *cert_id;
    X509 *cert;
} load_cert_params;

static ENGINE *engine;

/* True when the error queue holds a line containing `needle`; clears the queue. */
static int errors_contain(const char *needle)
{
    unsigned long code;
    const char *data = NULL;
    int flags = 0, found = 0;
    char buf[256];

    while ((code = ERR_get_error_all(NULL, NULL, NULL, &data, &flags)) != 0) {
        ERR_error_string_n(code, buf, sizeof(buf));
        if (strstr(buf, needle) != NULL ||
            ((flags & ERR_TXT_STRING) && data != NULL && strstr(data, needle) != NULL))
            found = 1;
    }
    return found;
}

static void set_endpoints(void)
{
    CU_ASSERT_FATAL(
        ENGINE_ctrl_cmd_string(engine, "ENDPOINT", test_env("DSTACK_SIMULATOR_ENDPOINT"), 0) == 1);
    CU_ASSERT_FATAL(ENGINE_ctrl_cmd_string(engine, "TAPPD_ENDPOINT",
                                           test_env("TAPPD_SIMULATOR_ENDPOINT"), 0) == 1);
}

static void test_load(void)
{
    const char *dir = test_env("DSTACK_ENGINE_DIR");

    setenv("OPENSSL_ENGINES", dir, 1);
    engine = ENGINE_by_id("dstack");
    CU_ASSERT_FATAL(engine != NULL);
    CU_ASSERT_STRING_EQUAL(ENGINE_get_id(engine), "dstack");
    CU_ASSERT_FATAL(ENGINE_init(engine) == 1);
    set_endpoints();
}

static void test_key_and_cert_match(void)
{
    const char *uri = "dstack:tls/ctrl?san=ctrl.example.test";
    load_cert_params p = {uri, NULL};
    EVP_PKEY *key, *pub;

    CU_ASSERT_FATAL(ENGINE_ctrl_cmd(engine, "LOAD_CERT_CTRL", 0, &p, NULL, 0) == 1);
    CU_ASSERT_FATAL(p.cert != NULL);
    key = ENGINE_load_private_key(engine, uri, NULL, NULL);
    CU_ASSERT_FATAL(key != NULL);
    CU_ASSERT(X509_check_private_key(p.cert, key) == 1);
    CU_ASSERT(X509_check_host(p.cert, "ctrl.example.test", 0, 0, NULL) == 1);
    pub = ENGINE_load_public_key(engine, uri, NULL, NULL);
    CU_ASSERT(pub != NULL && EVP_PKEY_eq(pub, key) == 1);
    /* The same path gives the same key; another path another key. */
    EVP_PKEY_free(pub);
    pub = ENGINE_load_private_key(engine, "dstack:tls/ctrl", NULL, NULL);
    CU_ASSERT(pub != NULL && EVP_PKEY_eq(pub, key) == 1);
    EVP_PKEY_free(pub);
    pub = ENGINE_load_private_key(engine, "dstack:tls/other", NULL, NULL);
    CU_ASSERT(pub != NULL && EVP_PKEY_eq(pub, key) != 1);
    EVP_PKEY_free(pub);
    EVP_PKEY_free(key);
    X509_free(p.cert);
}

static void test_ed25519_and_secp256k1(void)
{
    EVP_PKEY *k = ENGINE_load_private_key(engine, "dstack:sign/ed?alg=ed25519", NULL, NULL);

    CU_ASSERT(k != NULL && EVP_PKEY_is_a(k, "ED25519"));
    EVP_PKEY_free(k);
    k = ENGINE_load_private_key(engine, "dstack:wallet/eth?alg=secp256k1", NULL, NULL);
    CU_ASSERT(k != NULL && EVP_PKEY_is_a(k, "EC"));
    EVP_PKEY_free(k);
}

static void test_load_cert_negative(void)
{
    load_cert_params none = {"dstack:tls/ctrl?cert=none", NULL};
    load_cert_params null_id = {NULL, NULL};
    load_cert_params bad = {"dstack:tls/ctrl?colour=blue", NULL};

    CU_ASSERT(ENGINE_ctrl_cmd(engine, "LOAD_CERT_CTRL", 0, &none, NULL, 0) == 0);
    CU_ASSERT(none.cert == NULL);
    CU_ASSERT(errors_contain("no certificate"));
    CU_ASSERT(ENGINE_ctrl_cmd(engine, "LOAD_CERT_CTRL", 0, &null_id, NULL, 0) == 0);
    CU_ASSERT(errors_contain("LOAD_CERT_CTRL needs a dstack: URI"));
    CU_ASSERT(ENGINE_ctrl_cmd(engine, "LOAD_CERT_CTRL", 0, &bad, NULL, 0) == 0);
    CU_ASSERT(errors_contain("colour"));
}

static void test_bad_uri(void)
{
    CU_ASSERT(ENGINE_load_private_key(engine, "https://example.com/", NULL, NULL) == NULL);
    CU_ASSERT(errors_contain("https://example.com/"));
    CU_ASSERT(ENGINE_load_private_key(engine, "dstack:", NULL, NULL) == NULL);
    CU_ASSERT(errors_contain("dstack engine"));
}

/* The values libdstack's table refuses, refused through the engine too (the drift bugs: an
 * uncompressed 04… KMS root, a timeout the provider would refuse, a relative endpoint). A
 * refused value leaves the engine refusing every load until that setting succeeds; a
 * misspelt command close to a real one refuses for good (test_misspelt_command, last). */
static void test_ctrl_values(void)
{
    ENGINE *e = engine;
    EVP_PKEY *k;

    CU_ASSERT(ENGINE_ctrl_cmd_string(e, "ENDPOINT", test_env("DSTACK_SIMULATOR_ENDPOINT"), 0) == 1);
    CU_ASSERT(ENGINE_ctrl_cmd_string(e, "ENDPOINT", "relative.sock", 0) == 0);
    CU_ASSERT(errors_contain("absolute"));
    CU_ASSERT(ENGINE_ctrl_cmd_string(e, "TIMEOUT_MS", "0", 0) == 0);
    CU_ASSERT(ENGINE_ctrl_cmd_string(e, "TIMEOUT_MS", "-5", 0) == 0);
    CU_ASSERT(ENGINE_ctrl_cmd_string(e, "TIMEOUT_MS", "3600000", 0) == 0);
    CU_ASSERT(errors_contain("between 1 and 600000"));
    CU_ASSERT(ENGINE_ctrl_cmd_string(
                  e, "KMS_ROOT_PUBKEY",
                  "0479be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798483ada7726a"
                  "3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8",
                  0) == 0);
    CU_ASSERT(errors_contain("compressed secp256k1"));
    CU_ASSERT(ENGINE_ctrl_cmd_string(e, "APP_ID", "xyz", 0) == 0);
    ERR_clear_error();
    /* Refusing: the load names the latest refused setting. */
    CU_ASSERT(ENGINE_load_private_key(e, "dstack:tls/ctrl", NULL, NULL) == NULL);
    CU_ASSERT(errors_contain("invalid dstack engine configuration: ENDPOINT"));
    /* Putting each refused setting right makes the engine usable again. */
    CU_ASSERT(ENGINE_ctrl_cmd_string(e, "ENDPOINT", test_env("DSTACK_SIMULATOR_ENDPOINT"), 0) == 1);
    CU_ASSERT(ENGINE_ctrl_cmd_string(e, "TIMEOUT_MS", "3000", 0) == 1);
    CU_ASSERT(ENGINE_ctrl_cmd_string(e, "APP_ID", test_env("DSTACK_DEV_APP_ID"), 0) == 1);
    CU_ASSERT(ENGINE_load_private_key(e, "dstack:tls/ctrl", NULL, NULL) == NULL); /* KMS root */
    CU_ASSERT(errors_contain("KMS_ROOT_PUBKEY"));
    CU_ASSERT(ENGINE_ctrl_cmd_string(e, "KMS_ROOT_PUBKEY", test_env("DSTACK_DEV_KMS_ROOT"), 0) ==
              1);
    k = ENGINE_load_private_key(e, "dstack:tls/ctrl", NULL, NULL);
    CU_ASSERT(k != NULL);
    EVP_PKEY_free(k);
    /* A command that is not one of ours at all is OpenSSL's business (it fails the call). */
    CU_ASSERT(ENGINE_ctrl_cmd_string(e, "SET_USER_INTERFACE", "1", 0) == 0);
    ERR_clear_error();
    k = ENGINE_load_private_key(e, "dstack:tls/ctrl", NULL, NULL);
    CU_ASSERT(k != NULL);
    EVP_PKEY_free(k);
}

/* A misspelling of one of ours refuses every later load, naming the command meant. */
static void test_misspelt_command(void)
{
    CU_ASSERT(
        ENGINE_ctrl_cmd_string(engine, "KMS_ROOTPUBKEY", test_env("DSTACK_DEV_KMS_ROOT"), 0) == 0);
    ERR_clear_error();
    CU_ASSERT(ENGINE_load_private_key(engine, "dstack:tls/ctrl2", NULL, NULL) == NULL);
    CU_ASSERT(errors_contain("unknown control command KMS_ROOTPUBKEY (did you mean "
                             "KMS_ROOT_PUBKEY?)"));
}

/* LOAD_CERT_CTRL for `uri`: the leaf, or NULL (error queue cleared either way). */
static X509 *leaf_of(const char *uri)
{
    load_cert_params p = {uri, NULL};

    if (ENGINE_ctrl_cmd(engine, "LOAD_CERT_CTRL", 0, &p, NULL, 0) != 1)
        p.cert = NULL;
    ERR_clear_error();
    return p.cert;
}

/* CACHE, CERT and RATLS mirror the provider's cache, cert and ratls parameters. */
static void test_cache_cert_ratls(void)
{
    const char *uri = "dstack:tls/modes?san=modes.example.test";
    long before, after;
    EVP_PKEY *k;
    X509 *leaf;
    int i;

    CU_ASSERT(ENGINE_ctrl_cmd_string(engine, "CACHE", "maybe", 0) == 0);
    CU_ASSERT(errors_contain("CACHE: cache = \"maybe\" is invalid: expected yes or no"));
    CU_ASSERT(ENGINE_ctrl_cmd_string(engine, "CACHE", "YES", 0) == 0);
    CU_ASSERT(ENGINE_ctrl_cmd_string(engine, "CERT", "maybe", 0) == 0);
    CU_ASSERT(errors_contain("CERT: cert = \"maybe\" is invalid: expected auto, agent, self or "
                             "none"));
    CU_ASSERT(ENGINE_ctrl_cmd_string(engine, "RATLS", "sometimes", 0) == 0);
    CU_ASSERT(errors_contain("RATLS: ratls = \"sometimes\""));
    CU_ASSERT(ENGINE_ctrl_cmd_string(engine, "TIMEOUT_MS", "600001", 0) == 0);
    CU_ASSERT(errors_contain("TIMEOUT_MS: timeout-ms = \"600001\""));
    /* each refused setting put right, so the engine loads again */
    CU_ASSERT(ENGINE_ctrl_cmd_string(engine, "TIMEOUT_MS", "3000", 0) == 1);
    CU_ASSERT(ENGINE_ctrl_cmd_string(engine, "CERT", "auto", 0) == 1);
    CU_ASSERT(ENGINE_ctrl_cmd_string(engine, "RATLS", "auto", 0) == 1);

    /* CACHE no: every load asks the agent; yes (the default): the second load does not. */
    CU_ASSERT_FATAL(ENGINE_ctrl_cmd_string(engine, "CACHE", "no", 0) == 1);
    before = tr_sim_stat("requests", "dstack");
    for (i = 0; i < 2; i++) {
        k = ENGINE_load_private_key(engine, "dstack:tls/cached", NULL, NULL);
        CU_ASSERT(k != NULL);
        if (k == NULL)
            ERR_print_errors_fp(stderr);
        EVP_PKEY_free(k);
    }
    after = tr_sim_stat("requests", "dstack");
    CU_ASSERT(before >= 0 && after - before >= 2);
    CU_ASSERT_FATAL(ENGINE_ctrl_cmd_string(engine, "CACHE", "yes", 0) == 1);
    k = ENGINE_load_private_key(engine, "dstack:tls/cached", NULL, NULL);
    EVP_PKEY_free(k);
    before = tr_sim_stat("requests", "dstack");
    k = ENGINE_load_private_key(engine, "dstack:tls/cached", NULL, NULL);
    CU_ASSERT(k != NULL);
    EVP_PKEY_free(k);
    CU_ASSERT_EQUAL(tr_sim_stat("requests", "dstack"), before);

    /* CERT none: URIs without cert= resolve no certificate; a URI's own cert= still wins. */
    CU_ASSERT_FATAL(ENGINE_ctrl_cmd_string(engine, "CERT", "none", 0) == 1);
    CU_ASSERT(leaf_of(uri) == NULL);
    leaf = leaf_of("dstack:tls/modes?san=modes.example.test&cert=self");
    CU_ASSERT(leaf != NULL);
    X509_free(leaf);
    /* CERT self + RATLS no: a self-signed leaf without attestation extensions. */
    CU_ASSERT_FATAL(ENGINE_ctrl_cmd_string(engine, "CERT", "self", 0) == 1);
    CU_ASSERT_FATAL(ENGINE_ctrl_cmd_string(engine, "RATLS", "no", 0) == 1);
    leaf = leaf_of(uri);
    CU_ASSERT_FATAL(leaf != NULL);
    CU_ASSERT(X509_NAME_cmp(X509_get_issuer_name(leaf), X509_get_subject_name(leaf)) == 0);
    CU_ASSERT(X509_verify(leaf, X509_get0_pubkey(leaf)) == 1);
    CU_ASSERT(!tr_has_ext(leaf, DSTACK_OID_ATTESTATION));
    CU_ASSERT(!tr_has_ext(leaf, DSTACK_OID_TDX_QUOTE));
    X509_free(leaf);
    /* RATLS quote: the leaf carries the TDX quote. */
    CU_ASSERT_FATAL(ENGINE_ctrl_cmd_string(engine, "RATLS", "quote", 0) == 1);
    leaf = leaf_of(uri);
    CU_ASSERT_FATAL(leaf != NULL);
    CU_ASSERT(tr_has_ext(leaf, DSTACK_OID_TDX_QUOTE));
    X509_free(leaf);
    CU_ASSERT(ENGINE_ctrl_cmd_string(engine, "CERT", "auto", 0) == 1);
    CU_ASSERT(ENGINE_ctrl_cmd_string(engine, "RATLS", "auto", 0) == 1);
}

static void test_endpoint_change_and_down(void)
{
    EVP_PKEY *k;

    CU_ASSERT_FATAL(ENGINE_ctrl_cmd_string(engine, "ENDPOINT", "/nonexistent/dstack.sock", 0) == 1);
    CU_ASSERT_FATAL(
        ENGINE_ctrl_cmd_string(engine, "TAPPD_ENDPOINT", "/nonexistent/tappd.sock", 0) == 1);
    /* A fresh path: no cached key can hide the unreachable agent. */
    CU_ASSERT(ENGINE_load_private_key(engine, "dstack:tls/down", NULL, NULL) == NULL);
    CU_ASSERT(errors_contain("/nonexistent/dstack.sock"));
    set_endpoints();
    k = ENGINE_load_private_key(engine, "dstack:tls/down", NULL, NULL);
    CU_ASSERT(k != NULL);
    EVP_PKEY_free(k);
}

static void test_kms_root_mismatch(void)
{
    CU_ASSERT_FATAL(ENGINE_ctrl_cmd_string(engine, "APP_ID", test_env("DSTACK_DEV_APP_ID"), 0) ==
                    1);
    /* The generator point: a valid key that is certainly not the simulator's KMS root. */
    CU_ASSERT_FATAL(
        ENGINE_ctrl_cmd_string(engine, "KMS_ROOT_PUBKEY",
                               "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798",
                               0) == 1);
    CU_ASSERT(ENGINE_load_private_key(engine, "dstack:tls/kms", NULL, NULL) == NULL);
    CU_ASSERT(errors_contain("verification failed"));
}

static void test_unload(void)
{
    CU_ASSERT(ENGINE_finish(engine) == 1);
    CU_ASSERT(ENGINE_free(engine) == 1);
    engine = NULL;
}

int main(void)
{
    static const test_case cases[] = {
        {"load engine", test_load},
        {"key and LOAD_CERT_CTRL certificate match", test_key_and_cert_match},
        {"ed25519 and secp256k1 keys", test_ed25519_and_secp256k1},
        {"LOAD_CERT_CTRL failures", test_load_cert_negative},
        {"bad URIs", test_bad_uri},
        {"bad control values", test_ctrl_values},
        {"CACHE, CERT and RATLS commands", test_cache_cert_ratls},
        {"endpoint change, agent down", test_endpoint_change_and_down},
        {"KMS root mismatch", test_kms_root_mismatch},
        {"misspelt control command", test_misspelt_command},
        {"finish and free", test_unload},
        {NULL, NULL},
    };

    return test_run_suite("engine_ctrl", cases);
}
