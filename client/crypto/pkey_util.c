/* OpenSSL keys from derived 32-byte secrets and their DER forms (architecture.md §4: keys are
 * handed to OpenSSL as PrivateKeyInfo so its own providers operate them).
 *
 * Buffers holding key bytes are cleansed when freed (OPENSSL_secure_clear_free, "secure"
 * BIGNUMs). libdstack does not initialise OpenSSL's secure heap itself: that arena is
 * process-wide, its lock and free lists have no fork() handling, and initialising it would
 * move every private key of the host application into it. An application that initialises
 * it gets libdstack's copies there too. */
#include "crypto/pkey_util.h"

#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>

dstack_status dstack_ec_public_from_secret(OSSL_LIB_CTX *libctx, const char *propq,
                                           const dstack_alg_info *alg, const uint8_t *secret,
                                           uint8_t *pub, size_t cap, size_t *pub_len,
                                           dstack_error *err)
{
    int nid = alg->group != NULL ? OBJ_sn2nid(alg->group) : NID_undef;
    EC_GROUP *grp = nid != NID_undef ? EC_GROUP_new_by_curve_name_ex(libctx, propq, nid) : NULL;
    EC_POINT *point = grp != NULL ? EC_POINT_new(grp) : NULL;
    BIGNUM *priv = BN_secure_new();
    dstack_status rc = DSTACK_ERR_CRYPTO;

    *pub_len = 0;
    if (point == NULL || priv == NULL || BN_bin2bn(secret, (int)alg->secret_len, priv) == NULL) {
        rc = dstack_error_set(err, rc, NULL, NULL, "cannot build the EC key for %s", alg->display);
        goto done;
    }
    /* HKDF output used as a scalar must lie in [1, n-1] (protocol.md §3.1). */
    if (BN_is_zero(priv) || BN_cmp(priv, EC_GROUP_get0_order(grp)) >= 0) {
        rc = dstack_error_set(err, rc, NULL, NULL, "derived scalar out of range for %s",
                              alg->display);
        goto done;
    }
    if (nid == NID_secp256k1) {
        /* OpenSSL only has generic code for secp256k1 (~5M instructions per EC_POINT_mul,
         * ~50x P-256's dedicated code); libsecp256k1 computes the same point quickly. */
        if (cap < 65 || dstack_secp256k1_pubkey_uncompressed(secret, pub, err) != DSTACK_OK)
            goto done;
        *pub_len = 65;
    } else if (!EC_POINT_mul(grp, point, priv, NULL, NULL, NULL) ||
               (*pub_len = EC_POINT_point2oct(grp, point, POINT_CONVERSION_UNCOMPRESSED, pub, cap,
                                              NULL)) == 0) {
        rc = dstack_error_set(err, rc, NULL, NULL, "cannot build the EC key for %s", alg->display);
        goto done;
    }
    rc = DSTACK_OK;
done:
    BN_clear_free(priv);
    EC_POINT_free(point);
    EC_GROUP_free(grp);
    return rc;
}

static dstack_status pkey_from_scalar(OSSL_LIB_CTX *libctx, const char *propq,
                                      const dstack_alg_info *alg, const uint8_t *secret,
                                      EVP_PKEY **out, dstack_error *err)
{
    const char *label = alg->display;
    dstack_status rc;
    const char *what = "cannot build the EC key";
    BIGNUM *priv = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *pctx = NULL;
    unsigned char pub[DSTACK_EC_POINT_MAX];
    size_t pub_len;

    rc = dstack_ec_public_from_secret(libctx, propq, alg, secret, pub, sizeof(pub), &pub_len, err);
    if (rc != DSTACK_OK)
        return rc;
    priv = BN_secure_new();
    if (priv == NULL || BN_bin2bn(secret, (int)alg->secret_len, priv) == NULL)
        goto err;
    bld = OSSL_PARAM_BLD_new();
    if (bld == NULL ||
        !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, alg->group, 0) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, priv) ||
        !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, pub_len))
        goto err;
    /* priv is a "secure" BIGNUM, so the builder cleanses its copy of the scalar on free. */
    params = OSSL_PARAM_BLD_to_param(bld);
    pctx = EVP_PKEY_CTX_new_from_name(libctx, alg->openssl_type, propq);
    if (params == NULL || pctx == NULL || EVP_PKEY_fromdata_init(pctx) != 1 ||
        EVP_PKEY_fromdata(pctx, out, EVP_PKEY_KEYPAIR, params) != 1) {
        what = "OpenSSL refused the EC key parameters";
        goto err;
    }
    rc = DSTACK_OK;
    goto done;
err:
    rc = dstack_error_set(err, DSTACK_ERR_CRYPTO, NULL, NULL, "%s for %s", what, label);
done:
    EVP_PKEY_CTX_free(pctx);
    OSSL_PARAM_free(params); /* clears the secure block holding the scalar */
    OSSL_PARAM_BLD_free(bld);
    BN_clear_free(priv);
    return rc;
}

dstack_status dstack_pkey_from_secret_ex(OSSL_LIB_CTX *libctx, const char *propq, dstack_key_alg id,
                                         const uint8_t secret[32], EVP_PKEY **out,
                                         dstack_error *err)
{
    const dstack_alg_info *alg = dstack_alg_get(id);

    *out = NULL;
    if (alg == NULL)
        return dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL, "unknown key algorithm %d",
                                (int)id);
    if (alg->group != NULL)
        return pkey_from_scalar(libctx, propq, alg, secret, out, err);
    /* Raw-key types (Ed25519): the bytes are the RFC 8032 seed. */
    *out =
        EVP_PKEY_new_raw_private_key_ex(libctx, alg->openssl_type, propq, secret, alg->secret_len);
    if (*out == NULL)
        return dstack_error_set(err, DSTACK_ERR_CRYPTO, NULL, NULL, "cannot build the %s key",
                                alg->display);
    return DSTACK_OK;
}

dstack_status dstack_pkey_from_secret(dstack_key_alg alg, const uint8_t secret[32], EVP_PKEY **out,
                                      dstack_error *err)
{
    return dstack_pkey_from_secret_ex(NULL, NULL, alg, secret, out, err);
}

dstack_status dstack_pkey_to_pkcs8_der(EVP_PKEY *pkey, unsigned char **der, size_t *der_len,
                                       dstack_error *err)
{
    dstack_status rc = DSTACK_ERR_CRYPTO;
    PKCS8_PRIV_KEY_INFO *p8 = NULL;
    unsigned char *buf = NULL, *p;
    int len;

    *der = NULL;
    *der_len = 0;
    /* EVP_PKEY2PKCS8 writes ECPrivateKey without the redundant [0] parameters, as RFC 5915
     * recommends inside PKCS#8 — byte-identical to the agent's PKCS#8 (protocol.md §9 V2). */
    p8 = EVP_PKEY2PKCS8(pkey);
    if (p8 == NULL || (len = i2d_PKCS8_PRIV_KEY_INFO(p8, NULL)) <= 0)
        goto err;
    buf = OPENSSL_secure_malloc((size_t)len);
    if (buf == NULL) {
        rc = DSTACK_ERR_INTERNAL;
        goto err;
    }
    p = buf;
    if (i2d_PKCS8_PRIV_KEY_INFO(p8, &p) != len)
        goto err;
    *der = buf;
    *der_len = (size_t)len;
    buf = NULL;
    rc = DSTACK_OK;
err:
    if (buf != NULL)
        OPENSSL_secure_clear_free(buf, (size_t)len);
    PKCS8_PRIV_KEY_INFO_free(p8); /* its key octets are cleansed on free (ASN1_SENSITIVE) */
    if (rc != DSTACK_OK)
        dstack_error_set(err, rc, NULL, NULL, "cannot encode the private key as PKCS#8");
    return rc;
}

dstack_status dstack_pkey_to_spki_der(EVP_PKEY *pkey, unsigned char **der, size_t *der_len,
                                      dstack_error *err)
{
    unsigned char *buf = NULL;
    int len = i2d_PUBKEY(pkey, &buf);

    *der = NULL;
    *der_len = 0;
    if (len <= 0)
        return dstack_error_set(err, DSTACK_ERR_CRYPTO, NULL, NULL,
                                "cannot encode the public key as SubjectPublicKeyInfo");
    *der = buf;
    *der_len = (size_t)len;
    return DSTACK_OK;
}
