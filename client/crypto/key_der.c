/* PKCS#8 PrivateKeyInfo and SubjectPublicKeyInfo DER straight from a derived 32-byte secret.
 *
 * Why not EVP_PKEY + i2d: a key-only load hands OpenSSL DER anyway (architecture.md §4), and
 * building an EVP_PKEY only to encode it costs a process its first OSSL_ENCODER fetch, which
 * constructs every encoder of every provider — 3.6M instructions, a third of a new process's
 * first `dstack:` load (bench/RESULTS.md, "where the cold load went"). The DER of these three
 * key types is fixed apart from the key bytes, so it is written here by template; the unit
 * tests check it byte for byte against EVP_PKEY2PKCS8 and i2d_PUBKEY. */
#include "crypto/pkey_util.h"

#include <string.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>

/* The group orders n: a derived scalar must lie in [1, n-1] (protocol.md §3.1). */
static const uint8_t P256_N[32] = {0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff,
                                   0xff, 0xff, 0xff, 0xff, 0xff, 0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17,
                                   0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51};
static const uint8_t K256_N[32] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                   0xff, 0xff, 0xff, 0xff, 0xfe, 0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48,
                                   0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41};

/* AlgorithmIdentifier SEQUENCE { id-ecPublicKey, namedCurve } */
static const uint8_t ALGID_P256[] = {0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48,
                                     0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
                                     0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
static const uint8_t ALGID_K256[] = {0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d,
                                     0x02, 0x01, 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a};
/* AlgorithmIdentifier SEQUENCE { id-Ed25519 } (RFC 8410: no parameters) */
static const uint8_t ALGID_ED25519[] = {0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70};

/* Secret in [1, n-1]: big-endian comparison, no secret-dependent early exit. */
static bool scalar_in_range(const uint8_t s[32], const uint8_t n[32])
{
    unsigned lt = 0, gt = 0, nonzero = 0;

    for (size_t i = 0; i < 32; i++) {
        unsigned a = s[i], b = n[i];
        unsigned undecided = (lt | gt) ^ 1u;
        lt |= undecided & ((a - b) >> 8 & 1u);
        gt |= undecided & ((b - a) >> 8 & 1u);
        nonzero |= a;
    }
    return nonzero != 0 && lt == 1;
}

/* 65-byte SEC1 uncompressed P-256 point of `secret` with OpenSSL's low-level EC code (its
 * dedicated P-256 implementation), which needs no provider fetch. */
static bool p256_public(OSSL_LIB_CTX *libctx, const char *propq, const uint8_t secret[32],
                        uint8_t pub[65])
{
    EC_GROUP *grp = EC_GROUP_new_by_curve_name_ex(libctx, propq, NID_X9_62_prime256v1);
    EC_POINT *point = grp != NULL ? EC_POINT_new(grp) : NULL;
    BIGNUM *priv = BN_secure_new();
    bool ok = point != NULL && priv != NULL && BN_bin2bn(secret, 32, priv) != NULL &&
              EC_POINT_mul(grp, point, priv, NULL, NULL, NULL) &&
              EC_POINT_point2oct(grp, point, POINT_CONVERSION_UNCOMPRESSED, pub, 65, NULL) == 65;

    BN_clear_free(priv);
    EC_POINT_free(point);
    EC_GROUP_free(grp);
    return ok;
}

static void *put(uint8_t *p, const void *src, size_t len)
{
    memcpy(p, src, len);
    return p + len;
}

/* PrivateKeyInfo { 0, algid, OCTET STRING ECPrivateKey { 1, OCTET STRING secret,
 * [1] BIT STRING point } } — the RFC 5915 form without [0] parameters that
 * EVP_PKEY2PKCS8 writes, byte-identical to the agent's PKCS#8 (protocol.md §9 V2). */
static size_t ec_pkcs8(uint8_t *out, const uint8_t *algid, size_t algid_len,
                       const uint8_t secret[32], const uint8_t pub[65])
{
    static const uint8_t version0[] = {0x02, 0x01, 0x00};
    static const uint8_t ec_head[] = {0x30, 0x6b, 0x02, 0x01, 0x01, 0x04, 0x20};
    static const uint8_t pub_head[] = {0xa1, 0x44, 0x03, 0x42, 0x00};
    const size_t inner = 2 + sizeof(ec_head) + 32 + sizeof(pub_head) + 65; /* OCTET STRING */
    const size_t body = sizeof(version0) + algid_len + inner;
    uint8_t *p = out;

    *p++ = 0x30;
    *p++ = 0x81; /* body is 129..255 bytes for both curves */
    *p++ = (uint8_t)body;
    p = put(p, version0, sizeof(version0));
    p = put(p, algid, algid_len);
    *p++ = 0x04;
    *p++ = (uint8_t)(inner - 2);
    p = put(p, ec_head, sizeof(ec_head));
    p = put(p, secret, 32);
    p = put(p, pub_head, sizeof(pub_head));
    p = put(p, pub, 65);
    return (size_t)(p - out);
}

/* SubjectPublicKeyInfo { algid, BIT STRING key } for keys under 128 bytes of content. */
static size_t spki(uint8_t *out, const uint8_t *algid, size_t algid_len, const uint8_t *key,
                   size_t key_len)
{
    uint8_t *p = out;

    *p++ = 0x30;
    *p++ = (uint8_t)(algid_len + 3 + key_len);
    p = put(p, algid, algid_len);
    *p++ = 0x03;
    *p++ = (uint8_t)(key_len + 1);
    *p++ = 0x00; /* no unused bits */
    p = put(p, key, key_len);
    return (size_t)(p - out);
}

static bool ed25519_public_in(OSSL_LIB_CTX *libctx, const char *propq, const uint8_t seed[32],
                              uint8_t pub[32])
{
    size_t len = 32;
    EVP_PKEY *pkey = EVP_PKEY_new_raw_private_key_ex(libctx, "ED25519", propq, seed, 32);
    bool ok = pkey != NULL && EVP_PKEY_get_raw_public_key(pkey, pub, &len) == 1 && len == 32;

    EVP_PKEY_free(pkey);
    return ok;
}

/* The Ed25519 public key is a fixed function of the seed (RFC 8032 section 5.1.5), so which
 * library context computes it cannot change it. OpenSSL has no low-level Ed25519 call: it needs
 * a KEYMGMT fetch, and in the provider's child context (`libctx`) the first fetch constructs
 * every key manager anew — 2.7M instructions, a third of a new process's first ed25519 load
 * (bench/README.md). The default context is where the application decodes the key's DER right
 * after, so its key managers are constructed once for both. `libctx` is the fallback when the
 * default context cannot do Ed25519 (e.g. one configured without a provider that has it). */
static bool ed25519_public(OSSL_LIB_CTX *libctx, const char *propq, const uint8_t seed[32],
                           uint8_t pub[32])
{
    if (libctx != NULL) {
        ERR_set_mark();
        bool ok = ed25519_public_in(NULL, NULL, seed, pub);
        ERR_pop_to_mark();
        if (ok)
            return true;
    }
    return ed25519_public_in(libctx, propq, seed, pub);
}

dstack_status dstack_key_der_from_secret(dstack_key_alg alg, const uint8_t secret[32],
                                         dstack_key_der *out, dstack_error *err)
{
    return dstack_key_der_from_secret_ex(NULL, NULL, alg, secret, out, err);
}

dstack_status dstack_key_der_from_secret_ex(OSSL_LIB_CTX *libctx, const char *propq,
                                            dstack_key_alg alg, const uint8_t secret[32],
                                            dstack_key_der *out, dstack_error *err)
{
    static const uint8_t ed_head[] = {0x30, 0x2e, 0x02, 0x01, 0x00};
    static const uint8_t ed_key[] = {0x04, 0x22, 0x04, 0x20};
    uint8_t key[160], pub[65], spki_buf[96];
    size_t key_len, spki_len;
    dstack_status rc = DSTACK_ERR_CRYPTO;

    memset(out, 0, sizeof(*out));
    switch (alg) {
    case DSTACK_ALG_P256:
        if (!scalar_in_range(secret, P256_N))
            return dstack_error_set(err, rc, NULL, NULL, "derived scalar out of range for P-256");
        if (!p256_public(libctx, propq, secret, pub))
            return dstack_error_set(err, rc, NULL, NULL, "cannot build the EC key for P-256");
        key_len = ec_pkcs8(key, ALGID_P256, sizeof(ALGID_P256), secret, pub);
        spki_len = spki(spki_buf, ALGID_P256, sizeof(ALGID_P256), pub, 65);
        break;
    case DSTACK_ALG_SECP256K1:
        if (!scalar_in_range(secret, K256_N))
            return dstack_error_set(err, rc, NULL, NULL,
                                    "derived scalar out of range for secp256k1");
        /* libsecp256k1, not OpenSSL's generic EC code (see pkey_util.h). */
        if (dstack_secp256k1_pubkey_uncompressed(secret, pub, err) != DSTACK_OK)
            return DSTACK_ERR_CRYPTO;
        key_len = ec_pkcs8(key, ALGID_K256, sizeof(ALGID_K256), secret, pub);
        spki_len = spki(spki_buf, ALGID_K256, sizeof(ALGID_K256), pub, 65);
        break;
    case DSTACK_ALG_ED25519: {
        uint8_t *p = key;

        /* RFC 8410 PrivateKeyInfo { 0, algid, OCTET STRING { OCTET STRING seed } }. */
        if (!ed25519_public(libctx, propq, secret, pub))
            return dstack_error_set(err, rc, NULL, NULL, "cannot compute the Ed25519 public key");
        p = put(p, ed_head, sizeof(ed_head));
        p = put(p, ALGID_ED25519, sizeof(ALGID_ED25519));
        p = put(p, ed_key, sizeof(ed_key));
        p = put(p, secret, 32);
        key_len = (size_t)(p - key);
        spki_len = spki(spki_buf, ALGID_ED25519, sizeof(ALGID_ED25519), pub, 32);
        break;
    }
    default:
        return dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL, "unknown key algorithm %d",
                                (int)alg);
    }

    out->pkcs8 = OPENSSL_secure_malloc(key_len);
    out->spki = OPENSSL_malloc(spki_len);
    if (out->pkcs8 == NULL || out->spki == NULL) {
        rc = dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, NULL, "out of memory");
        dstack_key_der_free(out);
    } else {
        memcpy(out->pkcs8, key, key_len);
        memcpy(out->spki, spki_buf, spki_len);
        out->pkcs8_len = key_len;
        out->spki_len = spki_len;
        rc = DSTACK_OK;
    }
    OPENSSL_cleanse(key, sizeof(key));
    return rc;
}

void dstack_key_der_free(dstack_key_der *der)
{
    if (der == NULL)
        return;
    OPENSSL_secure_clear_free(der->pkcs8, der->pkcs8_len);
    OPENSSL_free(der->spki);
    memset(der, 0, sizeof(*der));
}
