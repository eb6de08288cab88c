/* The agent's and the KMS's recoverable secp256k1 signatures (protocol.md §3.4), on a context of
 * the simulator's own: libdstack's context serves verification and is released on unload. */
#include "agent_side.h"

#include <pthread.h>

#include <secp256k1.h>
#include <secp256k1_recovery.h>

static pthread_once_t context_once = PTHREAD_ONCE_INIT;
static secp256k1_context *context;

static void context_create(void)
{
    context = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
}

dstack_status dstack_secp256k1_sign_recoverable(const uint8_t secret[32], const uint8_t digest[32],
                                                uint8_t sig[65], dstack_error *err)
{
    secp256k1_ecdsa_recoverable_signature rsig;
    int recid = 0;

    if (pthread_once(&context_once, context_create) != 0 || context == NULL)
        return dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, NULL,
                                "cannot create the libsecp256k1 context");
    /* NULL nonce function = RFC 6979 with HMAC-SHA-256; libsecp256k1 always yields low-S. */
    if (!secp256k1_ecdsa_sign_recoverable(context, &rsig, digest, secret, NULL, NULL))
        return dstack_error_set(err, DSTACK_ERR_CRYPTO, NULL, NULL,
                                "secp256k1 signing failed: secret key out of range");
    secp256k1_ecdsa_recoverable_signature_serialize_compact(context, sig, &recid, &rsig);
    sig[64] = (uint8_t)recid;
    return DSTACK_OK;
}
