/* dstack-sim — GetKey, Tappd.DeriveK256Key, Sign, Verify (protocol.md §2.1, §2.2, §3).
 *
 * Every key is HKDF(app key, path) (protocol.md §3.1/§3.2); the same 32 bytes are the secp256k1
 * scalar and the Ed25519 seed. Signature chains follow protocol.md §3.4.
 */
#include "sim.h"
#include "agent_side.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <secp256k1.h>

#include <dstack/keys.h>

typedef enum key_alg { ALG_SECP256K1, ALG_ED25519, ALG_SECP256K1_PREHASHED, ALG_BAD } key_alg;

static key_alg parse_alg(const char *s, bool allow_prehashed)
{
    if (s[0] == '\0' || strcmp(s, "secp256k1") == 0 || strcmp(s, "k256") == 0)
        return ALG_SECP256K1;
    if (strcmp(s, "ed25519") == 0)
        return ALG_ED25519;
    if (allow_prehashed && strcmp(s, "secp256k1_prehashed") == 0)
        return ALG_SECP256K1_PREHASHED;
    return ALG_BAD;
}

bool sim_key_pub(sim_key_kind alg, const uint8_t key[32], uint8_t pub[33], size_t *pub_len)
{
    if (alg == SIM_KEY_ED25519) {
        *pub_len = 32;
        return dstack_ed25519_pubkey(key, pub, NULL) == DSTACK_OK;
    }
    *pub_len = 33;
    return dstack_secp256k1_pubkey(key, pub, NULL) == DSTACK_OK;
}

/* chain[0]: app key signs Keccak256(purpose ":" hex(pub)) (protocol.md §3.4). */
static bool app_signature(const sim_identity *id, const char *purpose, const uint8_t *pub,
                          size_t pub_len, uint8_t sig[65])
{
    size_t plen = strlen(purpose);
    char *msg = malloc(plen + 1 + 2 * pub_len + 1);
    char *hex = sim_hex(pub, pub_len);
    uint8_t digest[32];
    bool ok = false;

    if (msg != NULL && hex != NULL) {
        memcpy(msg, purpose, plen);
        msg[plen] = ':';
        memcpy(msg + plen + 1, hex, 2 * pub_len);
        dstack_keccak256((const uint8_t *)msg, plen + 1 + 2 * pub_len, digest);
        ok = dstack_secp256k1_sign_recoverable(id->app_key, digest, sig, NULL) == DSTACK_OK;
    }
    free(msg);
    free(hex);
    return ok;
}

/* GetKey and DeriveK256Key share everything but the response field names. */
static bool get_key(sim_ctx *ctx, sim_args *args, sim_reply *reply, const char *key_field,
                    const char *chain_field)
{
    const char *path, *purpose, *algorithm;
    uint8_t key[32], pub[33], sig[65];
    size_t pub_len;
    key_alg alg;
    json_object *obj = NULL, *chain = NULL;
    bool ok = false;

    if (!sim_arg_string(args, "path", &path) || !sim_arg_string(args, "purpose", &purpose) ||
        !sim_arg_string(args, "algorithm", &algorithm))
        return sim_reply_arg_error(reply, args);
    /* Agents before 0.5.6 know no `algorithm` field and ignore it: always the secp256k1
     * scalar, which is also the Ed25519 seed (protocol.md §3.3). */
    alg = ctx->profile->getkey_algorithm ? parse_alg(algorithm, false) : ALG_SECP256K1;
    if (alg == ALG_BAD) /* 0.5.7+: prehashed rejected here (protocol.md §2.1) */
        return sim_reply_error(reply, "Unsupported algorithm");
    if (dstack_derive_key(ctx->id.app_key, (const uint8_t *)path, strlen(path), key, NULL) !=
        DSTACK_OK)
        goto done;
    if (!sim_key_pub(alg == ALG_ED25519 ? SIM_KEY_ED25519 : SIM_KEY_SECP256K1, key, pub,
                     &pub_len) ||
        !app_signature(&ctx->id, purpose, pub, pub_len, sig))
        goto done;
    obj = json_object_new_object();
    chain = json_object_new_array();
    if (obj == NULL || chain == NULL)
        goto done;
    json_object_object_add(obj, key_field, sim_json_hex(key, 32));
    json_object_array_add(chain, sim_json_hex(sig, 65));
    json_object_array_add(chain, sim_json_hex(ctx->id.k256_signature, ctx->id.k256_signature_len));
    json_object_object_add(obj, chain_field, chain);
    chain = NULL;
    ok = sim_reply_json(reply, obj);
    obj = NULL;
done:
    json_object_put(obj);
    json_object_put(chain);
    OPENSSL_cleanse(key, sizeof(key));
    return ok;
}

bool sim_rpc_get_key(sim_ctx *ctx, sim_service svc, sim_args *args, sim_reply *reply)
{
    (void)svc;
    return get_key(ctx, args, reply, "key", "signature_chain");
}

bool sim_rpc_derive_k256_key(sim_ctx *ctx, sim_service svc, sim_args *args, sim_reply *reply)
{
    (void)svc;
    return get_key(ctx, args, reply, "k256_key", "k256_signature_chain");
}

static bool ed25519_sign(const uint8_t seed[32], const uint8_t *data, size_t len, uint8_t sig[64])
{
    EVP_PKEY *pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    size_t sig_len = 64;
    bool ok = pkey != NULL && md != NULL && EVP_DigestSignInit(md, NULL, NULL, NULL, pkey) == 1 &&
              EVP_DigestSign(md, sig, &sig_len, data, len) == 1 && sig_len == 64;

    EVP_MD_CTX_free(md);
    EVP_PKEY_free(pkey);
    return ok;
}

bool sim_rpc_sign(sim_ctx *ctx, sim_service svc, sim_args *args, sim_reply *reply)
{
    const char *algorithm;
    uint8_t *data = NULL, key[32], pub[33], sig[65], app_sig[65], digest[32];
    size_t data_len = 0, pub_len, sig_len;
    key_alg alg;
    json_object *obj = NULL, *chain = NULL;
    bool ok = false;

    (void)svc;
    if (!sim_arg_string(args, "algorithm", &algorithm) ||
        !sim_arg_bytes(args, "data", &data, &data_len))
        return sim_reply_arg_error(reply, args);
    alg = parse_alg(algorithm, true);
    if (alg == ALG_BAD) {
        ok = sim_reply_error(reply, "Unsupported algorithm");
        goto done;
    }
    if (alg == ALG_SECP256K1_PREHASHED && data_len != 32) {
        ok = sim_reply_error(reply,
                             "Pre-hashed signing requires a 32-byte digest, but received %zu "
                             "bytes",
                             data_len);
        goto done;
    }
    /* The signing key is GetKey(path "vms", purpose "signing") (protocol.md §2.1). */
    if (dstack_derive_key(ctx->id.app_key, (const uint8_t *)"vms", 3, key, NULL) != DSTACK_OK ||
        !sim_key_pub(alg == ALG_ED25519 ? SIM_KEY_ED25519 : SIM_KEY_SECP256K1, key, pub, &pub_len))
        goto done;
    if (alg == ALG_ED25519) {
        if (!ed25519_sign(key, data, data_len, sig))
            goto done;
        sig_len = 64;
    } else {
        if (alg == ALG_SECP256K1)
            SHA256(data, data_len, digest);
        else
            memcpy(digest, data, 32);
        /* RFC 6979 low-S r||s; the recovery byte is dropped (protocol.md §2.1). */
        if (dstack_secp256k1_sign_recoverable(key, digest, sig, NULL) != DSTACK_OK)
            goto done;
        sig_len = 64;
    }
    if (!app_signature(&ctx->id, "signing", pub, pub_len, app_sig))
        goto done;
    obj = json_object_new_object();
    chain = json_object_new_array();
    if (obj == NULL || chain == NULL)
        goto done;
    json_object_object_add(obj, "signature", sim_json_hex(sig, sig_len));
    json_object_array_add(chain, sim_json_hex(sig, sig_len));
    json_object_array_add(chain, sim_json_hex(app_sig, 65));
    json_object_array_add(chain, sim_json_hex(ctx->id.k256_signature, ctx->id.k256_signature_len));
    json_object_object_add(obj, "signature_chain", chain);
    chain = NULL;
    json_object_object_add(obj, "public_key", sim_json_hex(pub, pub_len));
    ok = sim_reply_json(reply, obj);
    obj = NULL;
done:
    json_object_put(obj);
    json_object_put(chain);
    OPENSSL_cleanse(key, sizeof(key));
    free(data);
    return ok;
}

/* Whether 32 bytes decompress to an Edwards25519 point as ed25519-dalek's
 * VerifyingKey::from_bytes decides (protocol.md §2.6.6): y = the low 255 bits, reduced mod p
 * (non-canonical encodings pass), and x² = (y² − 1) / (d·y² + 1) must be a square mod p. The
 * sign bit is not checked (x = 0 with the bit set passes, as in dalek). */
static bool ed25519_point_ok(const uint8_t pub[32])
{
    /* p = 2^255 - 19, d = -121665/121666 mod p (RFC 8032, section 5.1) */
    static const char p_hex[] = "7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffed";
    static const char d_hex[] = "52036cee2b6ffe738cc740797779e89800700a4d4141d8ab75eb4dca135978a3";
    uint8_t be[32];
    BN_CTX *bn = BN_CTX_new();
    BIGNUM *p = NULL, *d = NULL, *y = NULL, *u, *v, *x2, *root;
    bool ok = false;

    for (int i = 0; i < 32; i++)
        be[i] = pub[31 - i];
    be[0] &= 0x7f;
    if (bn == NULL)
        return false;
    BN_CTX_start(bn);
    u = BN_CTX_get(bn);
    v = BN_CTX_get(bn);
    x2 = BN_CTX_get(bn);
    root = BN_CTX_get(bn);
    if (root == NULL || BN_hex2bn(&p, p_hex) == 0 || BN_hex2bn(&d, d_hex) == 0 ||
        (y = BN_bin2bn(be, 32, NULL)) == NULL || !BN_nnmod(y, y, p, bn) ||
        !BN_mod_sqr(u, y, p, bn) || !BN_mod_mul(v, d, u, p, bn) || !BN_add_word(v, 1) ||
        !BN_nnmod(v, v, p, bn) || !BN_sub_word(u, 1) || !BN_nnmod(u, u, p, bn))
        goto done;
    if (BN_is_zero(v)) /* never for Ed25519 (-1/d is not a square), kept for safety */
        goto done;
    if (BN_mod_inverse(v, v, p, bn) == NULL || !BN_mod_mul(x2, u, v, p, bn))
        goto done;
    /* BN_mod_sqrt fails (with an error queued) for a non-residue */
    ok = BN_is_zero(x2) || BN_mod_sqrt(root, x2, p, bn) != NULL;
    ERR_clear_error();
done:
    BN_free(p);
    BN_free(d);
    BN_free(y);
    BN_CTX_end(bn);
    BN_CTX_free(bn);
    return ok;
}

/* Ed25519: exact sizes, non-strict verification, errors as the agent words them
 * (protocol.md §2.1, §2.6.6). */
static bool verify_ed25519(sim_reply *reply, const uint8_t *data, size_t len, const uint8_t *sig,
                           size_t sig_len, const uint8_t *pub, size_t pub_len, bool *valid)
{
    EVP_PKEY *pkey = NULL;
    EVP_MD_CTX *md = NULL;

    if (pub_len != 32)
        return !sim_reply_error(reply, "invalid public key");
    if (!ed25519_point_ok(pub))
        return !sim_reply_error(reply, "signature error: Cannot decompress Edwards point: Cannot "
                                       "decompress Edwards point");
    if (sig_len != 64)
        return !sim_reply_error(reply, "signature error");
    pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, 32);
    if (pkey == NULL)
        return !sim_reply_error(reply, "invalid public key");
    md = EVP_MD_CTX_new();
    *valid = md != NULL && EVP_DigestVerifyInit(md, NULL, NULL, NULL, pkey) == 1 &&
             EVP_DigestVerify(md, sig, 64, data, len) == 1;
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(pkey);
    return true;
}

/* k256's Signature::from_slice refuses r = 0 or s = 0 (libsecp256k1 parses them). */
static bool zero_scalar(const uint8_t b[32])
{
    uint8_t acc = 0;

    for (int i = 0; i < 32; i++)
        acc |= b[i];
    return acc == 0;
}

/* secp256k1: SEC1 key (33/65), 64-byte r||s, low-S only (k256 semantics, protocol.md §2.1). The
 * ecdsa crate maps every key and signature decoding failure to "signature error"; for
 * prehashed input the digest goes through bits2field, whose failure (< 16 bytes) is a
 * verification failure, {"valid": false}; shorter than 32 is left-padded, longer truncated
 * (protocol.md §2.6.6). */
static bool verify_secp256k1(sim_reply *reply, bool prehashed, const uint8_t *data, size_t len,
                             const uint8_t *sig, size_t sig_len, const uint8_t *pub, size_t pub_len,
                             bool *valid)
{
    const secp256k1_context *sctx = secp256k1_context_static;
    secp256k1_pubkey pk;
    secp256k1_ecdsa_signature es;
    uint8_t digest[32];

    if (!secp256k1_ec_pubkey_parse(sctx, &pk, pub, pub_len))
        return !sim_reply_error(reply, "signature error");
    if (sig_len != 64 || !secp256k1_ecdsa_signature_parse_compact(sctx, &es, sig) ||
        zero_scalar(sig) || zero_scalar(sig + 32))
        return !sim_reply_error(reply, "signature error");
    if (!prehashed) {
        SHA256(data, len, digest);
    } else if (len < 16) {
        *valid = false;
        return true;
    } else if (len < 32) {
        memset(digest, 0, 32);
        memcpy(digest + 32 - len, data, len);
    } else {
        memcpy(digest, data, 32);
    }
    *valid = secp256k1_ecdsa_verify(sctx, &es, digest, &pk) == 1;
    return true;
}

bool sim_rpc_verify(sim_ctx *ctx, sim_service svc, sim_args *args, sim_reply *reply)
{
    const char *algorithm;
    uint8_t *data = NULL, *sig = NULL, *pub = NULL;
    size_t data_len, sig_len, pub_len;
    bool valid = false, ok = true;
    json_object *obj;
    key_alg alg;

    (void)ctx;
    (void)svc;
    if (!sim_arg_string(args, "algorithm", &algorithm) ||
        !sim_arg_bytes(args, "data", &data, &data_len) ||
        !sim_arg_bytes(args, "signature", &sig, &sig_len) ||
        !sim_arg_bytes(args, "public_key", &pub, &pub_len)) {
        sim_reply_arg_error(reply, args);
        goto done;
    }
    alg = parse_alg(algorithm, true);
    if (alg == ALG_BAD) {
        sim_reply_error(reply, "Unsupported algorithm");
        goto done;
    }
    if (alg == ALG_ED25519) {
        if (!verify_ed25519(reply, data, data_len, sig, sig_len, pub, pub_len, &valid))
            goto done;
    } else if (!verify_secp256k1(reply, alg == ALG_SECP256K1_PREHASHED, data, data_len, sig,
                                 sig_len, pub, pub_len, &valid)) {
        goto done;
    }
    obj = json_object_new_object();
    if (obj == NULL) {
        ok = false;
        goto done;
    }
    json_object_object_add(obj, "valid", json_object_new_boolean(valid));
    ok = sim_reply_json(reply, obj);
done:
    free(data);
    free(sig);
    free(pub);
    return ok;
}
