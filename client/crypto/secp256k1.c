/* secp256k1 through libsecp256k1 (with its recovery module): public keys and public-key
 * recovery for the signature chains of protocol.md §3.4. OpenSSL can sign
 * on secp256k1 but cannot recover a public key from (r, s, v). */
#include <dstack/keys.h>

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <secp256k1.h>
#include <secp256k1_recovery.h>

#include "crypto/pkey_util.h"

/* The context is created on first use and destroyed when libdstack is unloaded (dlclose of
 * the provider or engine) or at exit. Users hold the read lock for the duration of a call,
 * so the destructor cannot free it under a thread that is still running at exit(); after
 * it has run, every call fails cleanly with "cannot create the libsecp256k1 context". */
static pthread_once_t context_once = PTHREAD_ONCE_INIT;
static pthread_rwlock_t context_lock = PTHREAD_RWLOCK_INITIALIZER;
static secp256k1_context *context;

/* The blinding seed comes from the kernel, not RAND_bytes: a process's first RAND_bytes
 * instantiates OpenSSL's DRBGs (3.3M instructions, a third of a new process's first secp256k1
 * key load), and a seed that only blinds needs no DRBG. RAND_bytes stays the fallback. */
static bool blinding_seed(unsigned char seed[32])
{
    size_t got = 0;

    while (got < 32) {
        ssize_t n = getrandom(seed + got, 32 - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return RAND_bytes(seed, 32) == 1;
        got += (size_t)n;
    }
    return true;
}

/* A parent thread inside a call at fork() leaves the child a read lock no thread of the child
 * will release, and the destructor's write lock at the child's exit() would wait forever:
 * the child re-creates the lock (as the resolver does with its mutex). */
static void context_lock_reset_in_child(void)
{
    pthread_rwlock_init(&context_lock, NULL);
}

static void context_create(void)
{
    unsigned char seed[32];
    secp256k1_context *ctx;

    if (pthread_atfork(NULL, NULL, context_lock_reset_in_child) != 0)
        return; /* no context: every call fails cleanly */
    ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
    if (ctx == NULL)
        return;
    /* Blinding against side channels; a context without it is still correct. */
    if (blinding_seed(seed) && !secp256k1_context_randomize(ctx, seed)) {
        secp256k1_context_destroy(ctx);
        ctx = NULL;
    }
    OPENSSL_cleanse(seed, sizeof(seed));
    context = ctx;
}

__attribute__((destructor)) static void context_destroy(void)
{
    if (pthread_rwlock_wrlock(&context_lock) != 0)
        return;
    if (context != NULL)
        secp256k1_context_destroy(context);
    context = NULL;
    pthread_rwlock_unlock(&context_lock);
}

/* Returns the context with the read lock held (release with context_release()), or NULL
 * without it. */
static const secp256k1_context *context_acquire(void)
{
    if (pthread_once(&context_once, context_create) != 0 ||
        pthread_rwlock_rdlock(&context_lock) != 0)
        return NULL;
    if (context == NULL) {
        pthread_rwlock_unlock(&context_lock);
        return NULL;
    }
    return context;
}

static void context_release(void)
{
    pthread_rwlock_unlock(&context_lock);
}

static dstack_status no_context(dstack_error *err)
{
    return dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, NULL,
                            "cannot create the libsecp256k1 context");
}

/* `out` receives 33 (compressed) or 65 (uncompressed) bytes. */
static dstack_status pubkey_with(const secp256k1_context *ctx, const uint8_t secret[32],
                                 uint8_t *out, bool compressed, dstack_error *err)
{
    secp256k1_pubkey pub;
    size_t out_len = compressed ? 33 : 65;

    if (!secp256k1_ec_pubkey_create(ctx, &pub, secret))
        return dstack_error_set(err, DSTACK_ERR_CRYPTO, NULL, NULL,
                                "derived scalar out of range for secp256k1");
    secp256k1_ec_pubkey_serialize(ctx, out, &out_len, &pub,
                                  compressed ? SECP256K1_EC_COMPRESSED : SECP256K1_EC_UNCOMPRESSED);
    return DSTACK_OK;
}

static dstack_status pubkey(const uint8_t secret[32], uint8_t *out, bool compressed,
                            dstack_error *err)
{
    const secp256k1_context *ctx = context_acquire();
    dstack_status st;

    if (ctx == NULL)
        return no_context(err);
    st = pubkey_with(ctx, secret, out, compressed, err);
    context_release();
    return st;
}

dstack_status dstack_secp256k1_pubkey(const uint8_t secret[32], uint8_t compressed[33],
                                      dstack_error *err)
{
    return pubkey(secret, compressed, true, err);
}

dstack_status dstack_secp256k1_pubkey_uncompressed(const uint8_t secret[32],
                                                   uint8_t uncompressed[65], dstack_error *err)
{
    return pubkey(secret, uncompressed, false, err);
}

static dstack_status recover_with(const secp256k1_context *ctx, const uint8_t sig[65],
                                  const uint8_t digest[32], uint8_t compressed_pub[33],
                                  dstack_error *err)
{
    secp256k1_ecdsa_recoverable_signature rsig;
    secp256k1_pubkey pub;
    size_t out_len = 33;
    int recid = sig[64];

    if (recid >= 27)
        recid -= 27; /* Ethereum-style v */
    if (recid < 0 || recid > 3)
        return dstack_error_set(err, DSTACK_ERR_CRYPTO, NULL, NULL,
                                "recoverable signature has invalid recovery id %u", sig[64]);
    if (!secp256k1_ecdsa_recoverable_signature_parse_compact(ctx, &rsig, sig, recid))
        return dstack_error_set(err, DSTACK_ERR_CRYPTO, NULL, NULL,
                                "recoverable signature is malformed (r or s out of range)");
    if (!secp256k1_ecdsa_recover(ctx, &pub, &rsig, digest))
        return dstack_error_set(err, DSTACK_ERR_CRYPTO, NULL, NULL,
                                "no public key can be recovered from the signature");
    secp256k1_ec_pubkey_serialize(ctx, compressed_pub, &out_len, &pub, SECP256K1_EC_COMPRESSED);
    return DSTACK_OK;
}

dstack_status dstack_secp256k1_recover(const uint8_t sig[65], const uint8_t digest[32],
                                       uint8_t compressed_pub[33], dstack_error *err)
{
    const secp256k1_context *ctx = context_acquire();
    dstack_status st;

    if (ctx == NULL)
        return no_context(err);
    st = recover_with(ctx, sig, digest, compressed_pub, err);
    context_release();
    return st;
}

static dstack_status eth_address_with(const secp256k1_context *ctx,
                                      const uint8_t compressed_pub[33], uint8_t addr[20],
                                      dstack_error *err)
{
    secp256k1_pubkey pub;
    uint8_t uncompressed[65], hash[32];
    size_t out_len = sizeof(uncompressed);

    if (!secp256k1_ec_pubkey_parse(ctx, &pub, compressed_pub, 33))
        return dstack_error_set(err, DSTACK_ERR_CRYPTO, NULL, NULL,
                                "not a valid compressed secp256k1 public key");
    secp256k1_ec_pubkey_serialize(ctx, uncompressed, &out_len, &pub, SECP256K1_EC_UNCOMPRESSED);
    dstack_keccak256(uncompressed + 1, 64, hash);
    memcpy(addr, hash + 12, 20);
    return DSTACK_OK;
}

dstack_status dstack_eth_address(const uint8_t compressed_pub[33], uint8_t addr[20],
                                 dstack_error *err)
{
    const secp256k1_context *ctx = context_acquire();
    dstack_status st;

    if (ctx == NULL)
        return no_context(err);
    st = eth_address_with(ctx, compressed_pub, addr, err);
    context_release();
    return st;
}

/* EIP-55: a letter is upper-cased when the matching nibble of Keccak256(lowercase hex) ≥ 8. */
void dstack_eth_address_text(const uint8_t addr[20], char out[43])
{
    uint8_t hash[32];

    out[0] = '0';
    out[1] = 'x';
    dstack_hex_encode(addr, 20, out + 2);
    dstack_keccak256((const uint8_t *)out + 2, 40, hash);
    for (int i = 0; i < 40; i++) {
        unsigned nibble = (i % 2 == 0) ? hash[i / 2] >> 4 : hash[i / 2] & 0x0f;
        char *c = &out[2 + i];
        if (*c >= 'a' && *c <= 'f' && nibble >= 8)
            *c = (char)(*c - 'a' + 'A');
    }
}
