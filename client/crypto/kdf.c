/* Key derivation of protocol.md §3.1 and the Ed25519 public key of a derived seed. */
#include <dstack/keys.h>

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

/* ra-tls/src/kdf.rs: HKDF-SHA256 with the fixed salt "RATLS". */
static const char kdf_salt[] = "RATLS";

dstack_status dstack_derive_key(const uint8_t app_key[32], const uint8_t *info, size_t info_len,
                                uint8_t out[32], dstack_error *err)
{
    dstack_status rc = DSTACK_ERR_CRYPTO;
    EVP_KDF *kdf = NULL;
    EVP_KDF_CTX *kctx = NULL;
    OSSL_PARAM params[5], *p = params;
    static const uint8_t empty[1] = {0};

    kdf = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_HKDF, NULL);
    if (kdf == NULL || (kctx = EVP_KDF_CTX_new(kdf)) == NULL)
        goto err;
    *p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)app_key, 32);
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)kdf_salt,
                                             sizeof(kdf_salt) - 1);
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
                                             (void *)(info != NULL ? info : empty), info_len);
    *p = OSSL_PARAM_construct_end();
    if (EVP_KDF_derive(kctx, out, 32, params) != 1)
        goto err;
    rc = DSTACK_OK;
err:
    EVP_KDF_CTX_free(kctx);
    EVP_KDF_free(kdf);
    if (rc != DSTACK_OK) {
        OPENSSL_cleanse(out, 32);
        dstack_error_set(err, rc, NULL, NULL, "HKDF-SHA256 key derivation failed in OpenSSL");
    }
    return rc;
}

dstack_status dstack_ed25519_pubkey(const uint8_t seed[32], uint8_t pub[32], dstack_error *err)
{
    dstack_status rc = DSTACK_ERR_CRYPTO;
    size_t pub_len = 32;
    EVP_PKEY *pkey = EVP_PKEY_new_raw_private_key_ex(NULL, "ED25519", NULL, seed, 32);

    if (pkey == NULL || EVP_PKEY_get_raw_public_key(pkey, pub, &pub_len) != 1 || pub_len != 32)
        goto err;
    rc = DSTACK_OK;
err:
    EVP_PKEY_free(pkey);
    if (rc != DSTACK_OK)
        dstack_error_set(err, rc, NULL, NULL, "cannot compute the Ed25519 public key");
    return rc;
}
