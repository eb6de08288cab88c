/* Shared by the provider C tests: a library context with the dstack and default providers
 * loaded from the build tree, and a store-based key loader. */
#ifndef TEST_PROVIDER_COMMON_H
#define TEST_PROVIDER_COMMON_H

#include <string.h>

#include <openssl/evp.h>
#include <openssl/provider.h>
#include <openssl/store.h>

#include "test_util.h"

typedef struct test_provs {
    OSSL_LIB_CTX *libctx;
    OSSL_PROVIDER *dstack;
    OSSL_PROVIDER *deflt;
} test_provs;

static inline int test_provs_load(test_provs *p)
{
    memset(p, 0, sizeof(*p));
    p->libctx = OSSL_LIB_CTX_new();
    if (p->libctx == NULL ||
        !OSSL_PROVIDER_set_default_search_path(p->libctx, test_env("DSTACK_PROVIDER_DIR")))
        return 0;
    p->deflt = OSSL_PROVIDER_load(p->libctx, "default");
    p->dstack = OSSL_PROVIDER_load(p->libctx, "dstack");
    return p->deflt != NULL && p->dstack != NULL;
}

static inline void test_provs_unload(test_provs *p)
{
    if (p->dstack != NULL)
        OSSL_PROVIDER_unload(p->dstack);
    if (p->deflt != NULL)
        OSSL_PROVIDER_unload(p->deflt);
    OSSL_LIB_CTX_free(p->libctx);
    memset(p, 0, sizeof(*p));
}

/* The private key behind `uri` (expect PKEY), or NULL. */
static inline EVP_PKEY *test_load_key(OSSL_LIB_CTX *libctx, const char *uri)
{
    OSSL_STORE_CTX *store = OSSL_STORE_open_ex(uri, libctx, NULL, NULL, NULL, NULL, NULL, NULL);
    EVP_PKEY *pkey = NULL;

    if (store == NULL)
        return NULL;
    if (OSSL_STORE_expect(store, OSSL_STORE_INFO_PKEY)) {
        while (pkey == NULL && !OSSL_STORE_eof(store)) {
            OSSL_STORE_INFO *info = OSSL_STORE_load(store);

            if (info == NULL)
                break;
            if (OSSL_STORE_INFO_get_type(info) == OSSL_STORE_INFO_PKEY)
                pkey = OSSL_STORE_INFO_get1_PKEY(info);
            OSSL_STORE_INFO_free(info);
        }
    }
    OSSL_STORE_close(store);
    return pkey;
}

/* Signs SHA-256("dstack provider test") with `key` and verifies it with `verifier`. */
static inline int test_sign_verify(OSSL_LIB_CTX *libctx, EVP_PKEY *key, EVP_PKEY *verifier)
{
    static const unsigned char msg[] = "dstack provider test";
    unsigned char sig[256];
    size_t siglen = sizeof(sig);
    EVP_MD_CTX *s = EVP_MD_CTX_new(), *v = EVP_MD_CTX_new();
    int ok = 0;

    if (s == NULL || v == NULL)
        goto done;
    if (EVP_DigestSignInit_ex(s, NULL, "SHA256", libctx, NULL, key, NULL) != 1 ||
        EVP_DigestSign(s, sig, &siglen, msg, sizeof(msg) - 1) != 1)
        goto done;
    if (EVP_DigestVerifyInit_ex(v, NULL, "SHA256", libctx, NULL, verifier, NULL) != 1 ||
        EVP_DigestVerify(v, sig, siglen, msg, sizeof(msg) - 1) != 1)
        goto done;
    ok = 1;
done:
    EVP_MD_CTX_free(s);
    EVP_MD_CTX_free(v);
    return ok;
}

#endif
