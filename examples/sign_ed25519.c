/* sign_ed25519 — load an Ed25519 key derived by the dstack agent through OSSL_STORE, sign a
 * message (PureEdDSA, one-shot EVP_DigestSign), verify it and print the public key.
 *
 *   OPENSSL_MODULES=<dir with dstack.so> ./example-sign_ed25519 [uri] [message] */
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/provider.h>
#include <openssl/store.h>

static EVP_PKEY *load_key(OSSL_LIB_CTX *libctx, const char *uri)
{
    OSSL_STORE_CTX *store = OSSL_STORE_open_ex(uri, libctx, NULL, NULL, NULL, NULL, NULL, NULL);
    EVP_PKEY *pkey = NULL;

    if (store == NULL)
        return NULL;
    OSSL_STORE_expect(store, OSSL_STORE_INFO_PKEY);
    while (pkey == NULL && !OSSL_STORE_eof(store)) {
        OSSL_STORE_INFO *info = OSSL_STORE_load(store);

        if (info == NULL)
            break;
        pkey = OSSL_STORE_INFO_get1_PKEY(info);
        OSSL_STORE_INFO_free(info);
    }
    OSSL_STORE_close(store);
    return pkey;
}

int main(int argc, char **argv)
{
    const char *uri = argc > 1 ? argv[1] : "dstack:signing/ed?alg=ed25519";
    const char *msg = argc > 2 ? argv[2] : "hello from a dstack TEE";
    OSSL_LIB_CTX *libctx = OSSL_LIB_CTX_new();
    OSSL_PROVIDER *deflt = NULL, *dstack = NULL;
    EVP_PKEY *pkey = NULL;
    EVP_MD_CTX *sctx = NULL, *vctx = NULL;
    unsigned char sig[64], pub[32];
    size_t siglen = sizeof(sig), publen = sizeof(pub), i;
    int rc = 1;

    if (libctx == NULL || (deflt = OSSL_PROVIDER_load(libctx, "default")) == NULL ||
        (dstack = OSSL_PROVIDER_load(libctx, "dstack")) == NULL)
        goto done;
    pkey = load_key(libctx, uri);
    if (pkey == NULL || !EVP_PKEY_is_a(pkey, "ED25519")) {
        fprintf(stderr, "cannot load an Ed25519 key from %s\n", uri);
        goto done;
    }
    sctx = EVP_MD_CTX_new();
    vctx = EVP_MD_CTX_new();
    if (sctx == NULL || vctx == NULL ||
        EVP_DigestSignInit_ex(sctx, NULL, NULL, libctx, NULL, pkey, NULL) != 1 ||
        EVP_DigestSign(sctx, sig, &siglen, (const unsigned char *)msg, strlen(msg)) != 1)
        goto done;
    if (EVP_DigestVerifyInit_ex(vctx, NULL, NULL, libctx, NULL, pkey, NULL) != 1 ||
        EVP_DigestVerify(vctx, sig, siglen, (const unsigned char *)msg, strlen(msg)) != 1) {
        fprintf(stderr, "signature does not verify\n");
        goto done;
    }
    if (!EVP_PKEY_get_raw_public_key(pkey, pub, &publen))
        goto done;
    printf("uri:        %s\n", uri);
    printf("public key: ");
    for (i = 0; i < publen; i++)
        printf("%02x", pub[i]);
    printf("\nsignature:  %zu-byte Ed25519 over \"%s\", verified\n", siglen, msg);
    rc = 0;
done:
    if (rc != 0)
        ERR_print_errors_fp(stderr);
    EVP_MD_CTX_free(sctx);
    EVP_MD_CTX_free(vctx);
    EVP_PKEY_free(pkey);
    OSSL_PROVIDER_unload(dstack);
    OSSL_PROVIDER_unload(deflt);
    OSSL_LIB_CTX_free(libctx);
    return rc;
}
