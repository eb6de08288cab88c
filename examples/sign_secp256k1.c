/* sign_secp256k1 — load an Ethereum key derived by the dstack agent through OSSL_STORE,
 * sign a Keccak-256 digest with EVP_PKEY_sign, verify it, print the Ethereum address.
 *
 *   OPENSSL_MODULES=<dir with dstack.so> ./example-sign_secp256k1 [uri] [message]
 *
 * The key never exists as a file: the dstack provider asks the agent, and OpenSSL's default
 * provider signs with it. The library context below loads exactly those two providers. */
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/provider.h>
#include <openssl/store.h>

#include <dstack/keys.h>

static EVP_PKEY *load_key(OSSL_LIB_CTX *libctx, const char *uri)
{
    OSSL_STORE_CTX *store = OSSL_STORE_open_ex(uri, libctx, NULL, NULL, NULL, NULL, NULL, NULL);
    EVP_PKEY *pkey = NULL;

    if (store == NULL)
        return NULL;
    /* Only the key: the provider then makes no certificate request. */
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

/* Compressed SEC1 point (33 bytes) of a secp256k1 EVP_PKEY. */
static int compressed_pub(EVP_PKEY *pkey, uint8_t out[33])
{
    unsigned char point[65];
    size_t len = 0;

    if (!EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point,
                                         sizeof(point), &len) ||
        len != 65 || point[0] != 0x04)
        return 0;
    out[0] = (point[64] & 1) ? 0x03 : 0x02;
    memcpy(out + 1, point + 1, 32);
    return 1;
}

int main(int argc, char **argv)
{
    const char *uri = argc > 1 ? argv[1] : "dstack:wallet/eth?alg=secp256k1";
    const char *msg = argc > 2 ? argv[2] : "hello from a dstack TEE";
    OSSL_LIB_CTX *libctx = OSSL_LIB_CTX_new();
    OSSL_PROVIDER *deflt = NULL, *dstack = NULL;
    EVP_PKEY *pkey = NULL;
    EVP_PKEY_CTX *sctx = NULL, *vctx = NULL;
    unsigned char digest[32], sig[80];
    size_t siglen = sizeof(sig);
    uint8_t pub[33], addr[20];
    char addr_text[43];
    int rc = 1;

    if (libctx == NULL || (deflt = OSSL_PROVIDER_load(libctx, "default")) == NULL ||
        (dstack = OSSL_PROVIDER_load(libctx, "dstack")) == NULL)
        goto done;
    pkey = load_key(libctx, uri);
    if (pkey == NULL || !EVP_PKEY_is_a(pkey, "EC")) {
        fprintf(stderr, "cannot load a secp256k1 key from %s\n", uri);
        goto done;
    }

    /* Ethereum signs Keccak-256 digests (original Keccak padding, not SHA3-256). */
    dstack_keccak256((const uint8_t *)msg, strlen(msg), digest);
    sctx = EVP_PKEY_CTX_new_from_pkey(libctx, pkey, NULL);
    if (sctx == NULL || EVP_PKEY_sign_init(sctx) <= 0 ||
        EVP_PKEY_sign(sctx, sig, &siglen, digest, sizeof(digest)) <= 0)
        goto done;
    vctx = EVP_PKEY_CTX_new_from_pkey(libctx, pkey, NULL);
    if (vctx == NULL || EVP_PKEY_verify_init(vctx) <= 0 ||
        EVP_PKEY_verify(vctx, sig, siglen, digest, sizeof(digest)) != 1) {
        fprintf(stderr, "signature does not verify\n");
        goto done;
    }
    if (!compressed_pub(pkey, pub) || dstack_eth_address(pub, addr, NULL) != DSTACK_OK)
        goto done;
    dstack_eth_address_text(addr, addr_text);
    printf("uri:       %s\n", uri);
    printf("address:   %s\n", addr_text);
    printf("signature: %zu-byte DER ECDSA over Keccak-256(\"%s\"), verified\n", siglen, msg);
    rc = 0;
done:
    if (rc != 0)
        ERR_print_errors_fp(stderr);
    EVP_PKEY_CTX_free(sctx);
    EVP_PKEY_CTX_free(vctx);
    EVP_PKEY_free(pkey);
    OSSL_PROVIDER_unload(dstack);
    OSSL_PROVIDER_unload(deflt);
    OSSL_LIB_CTX_free(libctx);
    return rc;
}
