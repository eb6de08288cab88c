/* The provider in an application's own library context while the global default context holds
 * only the `base` provider (architecture.md §5): every fetch libdstack and the provider make
 * must use the context the application loaded them into. A fetch from the global default —
 * an EVP_sha256(), a NULL libctx — fails here, where a test in an ordinary process would pass.
 *
 * Covered: keys of the three algorithms (store, expect PKEY and PUBKEY), self-issued RA-TLS
 * certificates with each attestation form, the agent's certificates, an ephemeral key, a
 * reference PEM through PEM_read_bio_PrivateKey_ex and OSSL_DECODER, and a signature made and
 * checked with what was loaded. */
#include <stdlib.h>
#include <string.h>

#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <dstack/keyref.h>

#include "test_provider_common.h"

static test_provs provs;

/* The leaf certificate of `uri` (expect CERT), or NULL. */
static X509 *load_cert(const char *uri)
{
    OSSL_STORE_CTX *store =
        OSSL_STORE_open_ex(uri, provs.libctx, NULL, NULL, NULL, NULL, NULL, NULL);
    X509 *cert = NULL;

    if (store == NULL)
        return NULL;
    if (OSSL_STORE_expect(store, OSSL_STORE_INFO_CERT)) {
        while (cert == NULL && !OSSL_STORE_eof(store)) {
            OSSL_STORE_INFO *info = OSSL_STORE_load(store);
            if (info == NULL)
                break;
            if (OSSL_STORE_INFO_get_type(info) == OSSL_STORE_INFO_CERT)
                cert = OSSL_STORE_INFO_get1_CERT(info);
            OSSL_STORE_INFO_free(info);
        }
    }
    OSSL_STORE_close(store);
    return cert;
}

static void print_errors(const char *what)
{
    unsigned long e;
    char buf[256];

    while ((e = ERR_get_error()) != 0) {
        ERR_error_string_n(e, buf, sizeof(buf));
        fprintf(stderr, "\n  %s: %s", what, buf);
    }
}

/* The setup this test is about: a digest from the global default context is unavailable. */
static void test_global_has_only_base(void)
{
    EVP_MD *md = EVP_MD_fetch(NULL, "SHA256", NULL);

    CU_ASSERT_PTR_NULL(md);
    EVP_MD_free(md);
    ERR_clear_error();
    md = EVP_MD_fetch(provs.libctx, "SHA256", NULL);
    CU_ASSERT_PTR_NOT_NULL(md);
    EVP_MD_free(md);
}

static void test_keys(void)
{
    static const char *const uris[] = {"dstack:libctx/p256?cert=none",
                                       "dstack:libctx/k256?alg=secp256k1&cert=none",
                                       "dstack:libctx/ed?alg=ed25519&cert=none"};

    for (size_t i = 0; i < sizeof(uris) / sizeof(uris[0]); i++) {
        EVP_PKEY *key = test_load_key(provs.libctx, uris[i]);
        OSSL_STORE_CTX *store;
        EVP_PKEY *pub = NULL;

        if (key == NULL)
            print_errors(uris[i]);
        CU_ASSERT_PTR_NOT_NULL_FATAL(key);
        store = OSSL_STORE_open_ex(uris[i], provs.libctx, NULL, NULL, NULL, NULL, NULL, NULL);
        CU_ASSERT_PTR_NOT_NULL_FATAL(store);
        CU_ASSERT(OSSL_STORE_expect(store, OSSL_STORE_INFO_PUBKEY));
        while (pub == NULL && !OSSL_STORE_eof(store)) {
            OSSL_STORE_INFO *info = OSSL_STORE_load(store);
            if (info == NULL)
                break;
            if (OSSL_STORE_INFO_get_type(info) == OSSL_STORE_INFO_PUBKEY)
                pub = OSSL_STORE_INFO_get1_PUBKEY(info);
            OSSL_STORE_INFO_free(info);
        }
        OSSL_STORE_close(store);
        if (pub == NULL)
            print_errors(uris[i]);
        CU_ASSERT_PTR_NOT_NULL(pub);
        if (pub != NULL && !EVP_PKEY_is_a(key, "ED25519"))
            CU_ASSERT(test_sign_verify(provs.libctx, key, pub));
        EVP_PKEY_free(pub);
        EVP_PKEY_free(key);
    }
}

/* Key and certificate of `uri` load and belong together. */
static void check_pair(const char *uri)
{
    EVP_PKEY *key = test_load_key(provs.libctx, uri);
    X509 *cert = load_cert(uri);

    if (key == NULL || cert == NULL)
        print_errors(uri);
    CU_ASSERT_PTR_NOT_NULL(key);
    CU_ASSERT_PTR_NOT_NULL(cert);
    if (key != NULL && cert != NULL) {
        CU_ASSERT(X509_check_private_key(cert, key) == 1);
        CU_ASSERT(test_sign_verify(provs.libctx, key, X509_get0_pubkey(cert)));
    }
    X509_free(cert);
    EVP_PKEY_free(key);
}

static void test_certificates(void)
{
    check_pair("dstack:libctx/self-attest?cert=self&ratls=attest");
    check_pair("dstack:libctx/self-quote?cert=self&ratls=quote");
    check_pair("dstack:libctx/self-plain?cert=self&ratls=no&san=libctx.example.test");
    check_pair("dstack:libctx/k256-self?alg=secp256k1&cert=self");
    check_pair("dstack:libctx/agent?cert=agent");
    check_pair("dstack:?ephemeral=yes&cn=libctx");
}

static void test_reference_pem(void)
{
    char *der = NULL, *pem = NULL;
    size_t der_len = 0;
    dstack_error err;
    BIO *bio;
    EVP_PKEY *key = NULL, *direct;
    OSSL_DECODER_CTX *dctx;
    const unsigned char *p;

    CU_ASSERT_FATAL(dstack_keyref_encode("dstack:libctx/ref?cert=none", (uint8_t **)&der, &der_len,
                                         &err) == DSTACK_OK);
    CU_ASSERT_FATAL(dstack_keyref_encode_pem("dstack:libctx/ref?cert=none", &pem, &err) ==
                    DSTACK_OK);
    direct = test_load_key(provs.libctx, "dstack:libctx/ref?cert=none");
    CU_ASSERT_PTR_NOT_NULL_FATAL(direct);

    bio = BIO_new_mem_buf(pem, -1);
    key = PEM_read_bio_PrivateKey_ex(bio, NULL, NULL, NULL, provs.libctx, NULL);
    BIO_free(bio);
    if (key == NULL)
        print_errors("reference PEM");
    CU_ASSERT_PTR_NOT_NULL(key);
    if (key != NULL)
        CU_ASSERT(EVP_PKEY_eq(key, direct) == 1);
    EVP_PKEY_free(key);

    /* The DER form through a decoder of the application's context. */
    key = NULL;
    dctx = OSSL_DECODER_CTX_new_for_pkey(&key, "DER", NULL, NULL, OSSL_KEYMGMT_SELECT_PRIVATE_KEY,
                                         provs.libctx, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(dctx);
    p = (const unsigned char *)der;
    CU_ASSERT(OSSL_DECODER_from_data(dctx, &p, &der_len) == 1);
    if (key == NULL)
        print_errors("reference DER");
    CU_ASSERT(key != NULL && EVP_PKEY_eq(key, direct) == 1);
    OSSL_DECODER_CTX_free(dctx);
    EVP_PKEY_free(key);
    EVP_PKEY_free(direct);
    dstack_free(der);
    dstack_free(pem);
}

int main(void)
{
    static const test_case cases[] = {
        {"the global default context has only base", test_global_has_only_base},
        {"keys of every algorithm: private, public, a signature", test_keys},
        {"self-issued, agent and ephemeral certificates", test_certificates},
        {"a reference PEM and its DER", test_reference_pem},
        {NULL, NULL},
    };
    OSSL_PROVIDER *base;
    int rc;

    /* Before anything touches the global default context: with a provider loaded explicitly,
     * OpenSSL does not fall back to loading `default` there. */
    setenv("OPENSSL_CONF", "/dev/null", 1);
    base = OSSL_PROVIDER_load(NULL, "base");
    if (base == NULL || !test_provs_load(&provs)) {
        fprintf(stderr, "cannot set up the library contexts\n");
        return 1;
    }
    rc = test_run_suite("provider_libctx", cases);
    test_provs_unload(&provs);
    OSSL_PROVIDER_unload(base);
    return rc;
}
