/* The Ed25519 public key of a derived seed (protocol.md §3.2). */
#include <dstack/keys.h>

#include <openssl/evp.h>

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
