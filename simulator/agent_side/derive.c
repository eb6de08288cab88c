/* The agent's key derivation (protocol.md §3.1). */
#include "agent_side.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
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
