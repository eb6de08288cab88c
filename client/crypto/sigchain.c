/* Signature-chain verification of GetKey / DeriveK256Key / Sign responses (protocol.md §3.4):
 * chain[0] ties the derived key to the app key, chain[1] ties the app key to the KMS root. */
#include <dstack/keys.h>

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#define SIG_LEN 65
#define KMS_ISSUED_TAG "dstack-kms-issued:"

static dstack_status chain_error(dstack_error *err, const char *message)
{
    return dstack_error_set(err, DSTACK_ERR_CRYPTO, NULL, NULL, "%s", message);
}

/* chain[0] message: purpose ":" hex(pub), hashed with Keccak-256. */
static dstack_status app_digest(const char *algorithm, const uint8_t key[32], const char *purpose,
                                uint8_t digest[32], dstack_error *err)
{
    uint8_t pub[33];
    size_t pub_len;
    dstack_status rc;
    char *msg = NULL;
    size_t purpose_len = purpose != NULL ? strlen(purpose) : 0;

    if (algorithm == NULL || *algorithm == '\0' || strcmp(algorithm, "secp256k1") == 0 ||
        strcmp(algorithm, "k256") == 0) {
        rc = dstack_secp256k1_pubkey(key, pub, err);
        pub_len = 33;
    } else if (strcmp(algorithm, "ed25519") == 0) {
        rc = dstack_ed25519_pubkey(key, pub, err);
        pub_len = 32;
    } else {
        return dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL,
                                "signature chain: unsupported algorithm \"%s\"", algorithm);
    }
    if (rc != DSTACK_OK)
        return rc;
    msg = malloc(purpose_len + 1 + 2 * pub_len + 1);
    if (msg == NULL)
        return dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, NULL, "out of memory");
    if (purpose_len > 0)
        memcpy(msg, purpose, purpose_len);
    msg[purpose_len] = ':';
    dstack_hex_encode(pub, pub_len, msg + purpose_len + 1);
    dstack_keccak256((const uint8_t *)msg, purpose_len + 1 + 2 * pub_len, digest);
    free(msg);
    return DSTACK_OK;
}

dstack_status dstack_verify_signature_chain(const char *algorithm, const uint8_t key[32],
                                            const char *purpose, const uint8_t *const chain[],
                                            const size_t chain_len[], size_t n_chain,
                                            const uint8_t *app_id, size_t app_id_len,
                                            const uint8_t *expected_kms_root,
                                            dstack_chain_result *out, dstack_error *err)
{
    dstack_chain_result res;
    uint8_t digest[32];
    uint8_t *msg = NULL;
    size_t msg_len;
    dstack_status rc;

    memset(&res, 0, sizeof(res));
    if (out != NULL)
        memset(out, 0, sizeof(*out));
    if (key == NULL || (n_chain > 0 && (chain == NULL || chain_len == NULL)))
        return dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL,
                                "signature chain: missing key or chain");
    if (n_chain == 0 || chain_len[0] == 0)
        return chain_error(err, "signature chain is empty");
    if (chain[0] == NULL || chain_len[0] != SIG_LEN)
        return chain_error(err, "signature chain[0] is not a 65-byte recoverable signature");
    if ((rc = app_digest(algorithm, key, purpose, digest, err)) != DSTACK_OK)
        return rc;
    if ((rc = dstack_secp256k1_recover(chain[0], digest, res.app_pub, err)) != DSTACK_OK) {
        dstack_error_context(err, "signature chain[0]");
        return rc;
    }

    if (n_chain >= 2 && chain_len[1] > 0) {
        if (chain[1] == NULL || chain_len[1] != SIG_LEN)
            return chain_error(err, "signature chain[1] is not a 65-byte recoverable signature");
        if (app_id == NULL || app_id_len == 0)
            return dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL,
                                    "signature chain[1] needs the app id to be verified");
        /* Keccak256("dstack-kms-issued:" || app_id (raw) || compressed app pub) */
        msg_len = strlen(KMS_ISSUED_TAG) + app_id_len + sizeof(res.app_pub);
        msg = malloc(msg_len);
        if (msg == NULL)
            return dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, NULL, "out of memory");
        memcpy(msg, KMS_ISSUED_TAG, strlen(KMS_ISSUED_TAG));
        memcpy(msg + strlen(KMS_ISSUED_TAG), app_id, app_id_len);
        memcpy(msg + strlen(KMS_ISSUED_TAG) + app_id_len, res.app_pub, sizeof(res.app_pub));
        dstack_keccak256(msg, msg_len, digest);
        free(msg);
        if ((rc = dstack_secp256k1_recover(chain[1], digest, res.kms_pub, err)) != DSTACK_OK) {
            dstack_error_context(err, "signature chain[1]");
            return rc;
        }
        res.has_kms = true;
    }

    if (expected_kms_root != NULL) {
        char got[67], want[67];
        if (!res.has_kms)
            return chain_error(err, "signature chain has no KMS signature (chain[1] empty), "
                                    "so the key cannot be traced to the configured KMS root");
        if (CRYPTO_memcmp(res.kms_pub, expected_kms_root, sizeof(res.kms_pub)) != 0) {
            dstack_hex_encode(res.kms_pub, sizeof(res.kms_pub), got);
            dstack_hex_encode(expected_kms_root, sizeof(res.kms_pub), want);
            return dstack_error_set(err, DSTACK_ERR_CRYPTO, NULL, NULL,
                                    "signature chain leads to KMS key %s, not the configured "
                                    "root %s",
                                    got, want);
        }
    }
    if (out != NULL)
        *out = res;
    return DSTACK_OK;
}
