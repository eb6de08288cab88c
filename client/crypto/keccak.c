/* Original Keccak (the pre-standard padding 0x01 that Ethereum and dstack's signature chains
 * use, protocol.md §3.4). OpenSSL 3.2+ provides it as "KECCAK-256/384/512" and is used when
 * the library context has it; OpenSSL 3.0 only ships SHA-3 (padding 0x06), so a small
 * internal sponge serves there. Both are checked against the same vectors (test_keys). */
#include <dstack/keys.h>

#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "crypto/keccak_internal.h"

#define KECCAK_ROUNDS 24
#define KECCAK_MAX_RATE 136 /* (1600 - 2*256) / 8 bytes: the rate of the smallest output */

static const uint64_t round_constants[KECCAK_ROUNDS] = {
    0x0000000000000001ULL, 0x0000000000008082ULL, 0x800000000000808aULL, 0x8000000080008000ULL,
    0x000000000000808bULL, 0x0000000080000001ULL, 0x8000000080008081ULL, 0x8000000000008009ULL,
    0x000000000000008aULL, 0x0000000000000088ULL, 0x0000000080008009ULL, 0x000000008000000aULL,
    0x000000008000808bULL, 0x800000000000008bULL, 0x8000000000008089ULL, 0x8000000000008003ULL,
    0x8000000000008002ULL, 0x8000000000000080ULL, 0x000000000000800aULL, 0x800000008000000aULL,
    0x8000000080008081ULL, 0x8000000000008080ULL, 0x0000000080000001ULL, 0x8000000080008008ULL,
};

/* Rotation offsets and lane permutation of the combined rho and pi steps, in visiting order. */
static const unsigned rho_offsets[24] = {1,  3,  6,  10, 15, 21, 28, 36, 45, 55, 2,  14,
                                         27, 41, 56, 8,  25, 43, 62, 18, 39, 61, 20, 44};
static const unsigned pi_lanes[24] = {10, 7,  11, 17, 18, 3, 5,  16, 8,  21, 24, 4,
                                      15, 23, 19, 13, 12, 2, 20, 14, 22, 9,  6,  1};

static uint64_t rotl64(uint64_t x, unsigned n)
{
    return (x << n) | (x >> (64 - n));
}

static void keccak_f1600(uint64_t st[25])
{
    uint64_t bc[5];

    for (int round = 0; round < KECCAK_ROUNDS; round++) {
        /* theta */
        for (int i = 0; i < 5; i++)
            bc[i] = st[i] ^ st[i + 5] ^ st[i + 10] ^ st[i + 15] ^ st[i + 20];
        for (int i = 0; i < 5; i++) {
            uint64_t t = bc[(i + 4) % 5] ^ rotl64(bc[(i + 1) % 5], 1);
            for (int j = 0; j < 25; j += 5)
                st[j + i] ^= t;
        }
        /* rho and pi */
        uint64_t carry = st[1];
        for (int i = 0; i < 24; i++) {
            unsigned j = pi_lanes[i];
            uint64_t t = st[j];
            st[j] = rotl64(carry, rho_offsets[i]);
            carry = t;
        }
        /* chi */
        for (int j = 0; j < 25; j += 5) {
            for (int i = 0; i < 5; i++)
                bc[i] = st[j + i];
            for (int i = 0; i < 5; i++)
                st[j + i] ^= (~bc[(i + 1) % 5]) & bc[(i + 2) % 5];
        }
        /* iota */
        st[0] ^= round_constants[round];
    }
}

/* Lanes are little-endian byte sequences regardless of host order. */
static void absorb_block(uint64_t st[25], const uint8_t *block, size_t rate)
{
    for (size_t i = 0; i < rate / 8; i++) {
        uint64_t lane = 0;
        for (int b = 7; b >= 0; b--)
            lane = (lane << 8) | block[8 * i + b];
        st[i] ^= lane;
    }
    keccak_f1600(st);
}

/* The sponge with capacity 2 * out_len (rate 136/104/72 bytes for 256/384/512 bits). Each
 * of these output sizes fits in one squeeze, because out_len < rate. */
bool dstack_keccak_internal(const uint8_t *data, size_t len, uint8_t *out, size_t out_len)
{
    uint64_t st[25] = {0};
    uint8_t last[KECCAK_MAX_RATE];
    const size_t rate = 200 - 2 * out_len;

    if (out_len != 32 && out_len != 48 && out_len != 64)
        return false;

    while (len >= rate) {
        absorb_block(st, data, rate);
        data += rate;
        len -= rate;
    }
    memset(last, 0, sizeof(last));
    if (len > 0)
        memcpy(last, data, len);
    last[len] ^= 0x01; /* original Keccak padding, not SHA-3's 0x06 */
    last[rate - 1] ^= 0x80;
    absorb_block(st, last, rate);

    for (size_t i = 0; i < out_len; i++)
        out[i] = (uint8_t)(st[i / 8] >> (8 * (i % 8)));
    return true;
}

bool dstack_keccak_openssl(OSSL_LIB_CTX *libctx, const char *propq, const uint8_t *data, size_t len,
                           uint8_t *out, size_t out_len)
{
    const char *name = out_len == 32   ? "KECCAK-256"
                       : out_len == 48 ? "KECCAK-384"
                       : out_len == 64 ? "KECCAK-512"
                                       : NULL;
    EVP_MD *md = NULL;
    unsigned int n = 0;
    bool ok;

    if (name == NULL)
        return false;
    /* Absent on OpenSSL < 3.2: the failed fetch must not leave errors in the caller's queue. */
    ERR_set_mark();
    md = EVP_MD_fetch(libctx, name, propq);
    ok = md != NULL && EVP_Digest(data, len, out, &n, md, NULL) == 1 && n == out_len;
    ERR_pop_to_mark();
    EVP_MD_free(md);
    return ok;
}

bool dstack_keccak_ex(OSSL_LIB_CTX *libctx, const char *propq, const uint8_t *data, size_t len,
                      uint8_t *out, size_t out_len)
{
    if (out_len != 32 && out_len != 48 && out_len != 64)
        return false;
    return dstack_keccak_openssl(libctx, propq, data, len, out, out_len) ||
           dstack_keccak_internal(data, len, out, out_len);
}

bool dstack_keccak(const uint8_t *data, size_t len, uint8_t *out, size_t out_len)
{
    return dstack_keccak_ex(NULL, NULL, data, len, out, out_len);
}

void dstack_keccak256(const uint8_t *data, size_t len, uint8_t out[32])
{
    (void)dstack_keccak(data, len, out, 32);
}
