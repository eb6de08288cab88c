/* PKCS#8 PrivateKeyInfo and SubjectPublicKeyInfo DER straight from a derived 32-byte secret.
 *
 * Why not EVP_PKEY + i2d: a key-only load hands OpenSSL DER anyway (architecture.md §4), and
 * building an EVP_PKEY only to encode it costs a process its first OSSL_ENCODER fetch, which
 * constructs every encoder of every provider — 3.6M instructions, a third of a new process's
 * first `dstack:` load (bench/RESULTS.md, "where the cold load went"). The DER is written here
 * from the algorithm table (group or key type, secret length) by the rules OpenSSL's encoders
 * follow, so a new row needs no code; the unit tests check it byte for byte against
 * EVP_PKEY2PKCS8 and i2d_PUBKEY for every row. */
#include "crypto/pkey_util.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>

/* Large enough for any row: a 66-byte secret (P-521) and its 133-byte point with headers. */
#define DER_MAX 512

/* A DER writer into a fixed buffer; `failed` once anything did not fit. */
typedef struct der_buf {
    uint8_t data[DER_MAX];
    size_t len;
    bool failed;
} der_buf;

static void der_put(der_buf *b, const void *src, size_t len)
{
    if (b->failed || len > sizeof(b->data) - b->len) {
        b->failed = true;
        return;
    }
    memcpy(b->data + b->len, src, len);
    b->len += len;
}

/* Tag, definite length (short or long form), content. */
static void der_tlv(der_buf *b, uint8_t tag, const void *content, size_t len)
{
    uint8_t head[4] = {tag};
    size_t n = 1;

    if (len < 0x80) {
        head[n++] = (uint8_t)len;
    } else if (len <= 0xff) {
        head[n++] = 0x81;
        head[n++] = (uint8_t)len;
    } else {
        head[n++] = 0x82;
        head[n++] = (uint8_t)(len >> 8);
        head[n++] = (uint8_t)len;
    }
    der_put(b, head, n);
    der_put(b, content, len);
}

static void der_wrap(der_buf *out, uint8_t tag, const der_buf *content)
{
    if (content->failed)
        out->failed = true;
    der_tlv(out, tag, content->data, content->len);
}

/* The OBJECT IDENTIFIER TLV of a name OpenSSL knows ("prime256v1", "ED25519", dotted text). */
static void der_oid(der_buf *b, const char *name)
{
    ASN1_OBJECT *obj = OBJ_txt2obj(name, 0);
    int len = obj != NULL ? OBJ_length(obj) : 0;

    if (len <= 0)
        b->failed = true;
    else
        der_tlv(b, 0x06, OBJ_get0_data(obj), (size_t)len);
    ASN1_OBJECT_free(obj);
}

/* AlgorithmIdentifier: { id-ecPublicKey, namedCurve } for EC rows (RFC 5480), { id-<type> }
 * without parameters for the others (RFC 8410). */
static void algorithm_identifier(der_buf *b, const dstack_alg_info *alg)
{
    der_buf inner = {.len = 0};

    if (alg->group != NULL) {
        der_oid(&inner, "id-ecPublicKey");
        der_oid(&inner, alg->group);
    } else {
        der_oid(&inner, alg->openssl_type);
    }
    der_wrap(b, 0x30, &inner);
}

static void bit_string(der_buf *b, const uint8_t *key, size_t len)
{
    der_buf inner = {.len = 0};
    static const uint8_t no_unused_bits = 0;

    der_put(&inner, &no_unused_bits, 1);
    der_put(&inner, key, len);
    der_wrap(b, 0x03, &inner);
}

/* PrivateKeyInfo { 0, algid, OCTET STRING key }: for EC the RFC 5915 ECPrivateKey
 * { 1, OCTET STRING secret, [1] BIT STRING point } without [0] parameters, as EVP_PKEY2PKCS8
 * writes it (byte-identical to the agent's PKCS#8, protocol.md §9 V2); otherwise RFC 8410's
 * OCTET STRING { OCTET STRING seed }. */
static void private_key_info(der_buf *out, const dstack_alg_info *alg, const uint8_t *secret,
                             const uint8_t *pub, size_t pub_len)
{
    static const uint8_t version0[] = {0x02, 0x01, 0x00}, version1[] = {0x02, 0x01, 0x01};
    der_buf key = {.len = 0}, info = {.len = 0};

    if (alg->group != NULL) {
        der_buf ec = {.len = 0}, point = {.len = 0};
        der_put(&ec, version1, sizeof(version1));
        der_tlv(&ec, 0x04, secret, alg->secret_len);
        bit_string(&point, pub, pub_len);
        der_wrap(&ec, 0xa1, &point);
        der_wrap(&key, 0x30, &ec);
        OPENSSL_cleanse(&ec, sizeof(ec));
    } else {
        der_tlv(&key, 0x04, secret, alg->secret_len);
    }
    der_put(&info, version0, sizeof(version0));
    algorithm_identifier(&info, alg);
    der_wrap(&info, 0x04, &key);
    der_wrap(out, 0x30, &info);
    OPENSSL_cleanse(&key, sizeof(key));
    OPENSSL_cleanse(&info, sizeof(info));
}

static bool raw_public_in(OSSL_LIB_CTX *libctx, const char *propq, const dstack_alg_info *alg,
                          const uint8_t *seed, uint8_t *pub, size_t cap, size_t *pub_len)
{
    EVP_PKEY *pkey =
        EVP_PKEY_new_raw_private_key_ex(libctx, alg->openssl_type, propq, seed, alg->secret_len);
    bool ok = pkey != NULL && EVP_PKEY_get_raw_public_key(pkey, NULL, pub_len) == 1 &&
              *pub_len <= cap && EVP_PKEY_get_raw_public_key(pkey, pub, pub_len) == 1;

    EVP_PKEY_free(pkey);
    return ok;
}

/* A raw key type's public key (Ed25519) is a fixed function of the seed (RFC 8032 section
 * 5.1.5), so which
 * library context computes it cannot change it. OpenSSL has no low-level Ed25519 call: it needs
 * a KEYMGMT fetch, and in the provider's child context (`libctx`) the first fetch constructs
 * every key manager anew — 2.7M instructions, a third of a new process's first ed25519 load
 * (bench/README.md). The default context is where the application decodes the key's DER right
 * after, so its key managers are constructed once for both. `libctx` is the fallback when the
 * default context cannot do Ed25519 (e.g. one configured without a provider that has it). */
static bool raw_public(OSSL_LIB_CTX *libctx, const char *propq, const dstack_alg_info *alg,
                       const uint8_t *seed, uint8_t *pub, size_t cap, size_t *pub_len)
{
    if (libctx != NULL) {
        ERR_set_mark();
        bool ok = raw_public_in(NULL, NULL, alg, seed, pub, cap, pub_len);
        ERR_pop_to_mark();
        if (ok)
            return true;
    }
    return raw_public_in(libctx, propq, alg, seed, pub, cap, pub_len);
}

dstack_status dstack_key_der_from_secret(dstack_key_alg alg, const uint8_t secret[32],
                                         dstack_key_der *out, dstack_error *err)
{
    return dstack_key_der_from_secret_ex(NULL, NULL, alg, secret, out, err);
}

dstack_status dstack_key_der_from_secret_ex(OSSL_LIB_CTX *libctx, const char *propq,
                                            dstack_key_alg id, const uint8_t secret[32],
                                            dstack_key_der *out, dstack_error *err)
{
    const dstack_alg_info *alg = dstack_alg_get(id);
    uint8_t pub[DSTACK_EC_POINT_MAX];
    size_t pub_len = 0;
    der_buf key = {.len = 0}, spki = {.len = 0}, spki_body = {.len = 0};
    dstack_status rc;

    memset(out, 0, sizeof(*out));
    if (alg == NULL)
        return dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL, "unknown key algorithm %d",
                                (int)id);
    if (alg->group != NULL)
        rc = dstack_ec_public_from_secret(libctx, propq, alg, secret, pub, sizeof(pub), &pub_len,
                                          err);
    else if (raw_public(libctx, propq, alg, secret, pub, sizeof(pub), &pub_len))
        rc = DSTACK_OK;
    else
        rc = dstack_error_set(err, DSTACK_ERR_CRYPTO, NULL, NULL,
                              "cannot compute the %s public key", alg->display);
    if (rc != DSTACK_OK)
        return rc;
    private_key_info(&key, alg, secret, pub, pub_len);
    algorithm_identifier(&spki_body, alg);
    bit_string(&spki_body, pub, pub_len);
    der_wrap(&spki, 0x30, &spki_body);
    if (key.failed || spki.failed) {
        rc = dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, NULL, "cannot encode the %s key",
                              alg->display);
        goto done;
    }
    out->pkcs8 = OPENSSL_secure_malloc(key.len);
    out->spki = OPENSSL_malloc(spki.len);
    if (out->pkcs8 == NULL || out->spki == NULL) {
        rc = dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, NULL, "out of memory");
        dstack_key_der_free(out);
        goto done;
    }
    memcpy(out->pkcs8, key.data, key.len);
    memcpy(out->spki, spki.data, spki.len);
    out->pkcs8_len = key.len;
    out->spki_len = spki.len;
done:
    OPENSSL_cleanse(&key, sizeof(key));
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
