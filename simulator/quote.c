/* dstack-sim — synthetic TDX v4 quotes (protocol.md §5.1).
 *
 * Layout: 48-byte header, 584-byte TD report body, u32 signature-data length, then an
 * ECDSA-P256 signature-data section shaped like Intel's: quote signature over header+body,
 * attestation public key, certification data type 6 carrying a QE report (its report_data
 * binds the attestation key as SHA-256(attest_pub || auth_data)), the QE report signature,
 * auth data, and an inner type-5 PEM chain. Every signing key is the simulator's own, under the
 * simulated Intel of intel.c: a quote verifies (offline, or with the collateral of --pccs) only
 * against <dir>/sim-intel-root.pem, never against Intel's root — nobody must mistake a
 * simulated quote for a TDX one.
 */
#include "sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include <dstack/keys.h>
#include <dstack/uri.h>

#include "crypto/pkey_util.h"
#include "agent_side.h"

#define HEADER_LEN 48
#define BODY_LEN 584
#define QE_REPORT_LEN 384
#define AUTH_DATA_LEN 32

static const uint8_t intel_qe_vendor_id[16] = {0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9,
                                               0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07};

static void put_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put_le32(uint8_t *p, uint32_t v)
{
    put_le16(p, (uint16_t)v);
    put_le16(p + 2, (uint16_t)(v >> 16));
}

/* ECDSA-P256-SHA256 over data as raw r||s (the quote format's encoding). */
bool sim_sign_raw(EVP_PKEY *key, const uint8_t *data, size_t len, uint8_t out[64])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char der[80];
    const unsigned char *p = der;
    size_t der_len = sizeof(der);
    ECDSA_SIG *sig = NULL;
    const BIGNUM *r, *s;
    bool ok = false;

    if (md == NULL || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
        EVP_DigestSign(md, der, &der_len, data, len) != 1)
        goto done;
    sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
    if (sig == NULL)
        goto done;
    ECDSA_SIG_get0(sig, &r, &s);
    ok = BN_bn2binpad(r, out, 32) == 32 && BN_bn2binpad(s, out + 32, 32) == 32;
done:
    ECDSA_SIG_free(sig);
    EVP_MD_CTX_free(md);
    return ok;
}

static bool raw_point(EVP_PKEY *key, uint8_t out[64])
{
    uint8_t pt[65];
    size_t len = 0;

    if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pt, sizeof(pt),
                                        &len) != 1 ||
        len != 65)
        return false;
    memcpy(out, pt + 1, 64);
    return true;
}

bool sim_derived_p256(const sim_ctx *ctx, const char *label, EVP_PKEY **out)
{
    uint8_t secret[32];
    bool ok = dstack_derive_key(ctx->id.app_key, (const uint8_t *)label, strlen(label), secret,
                                NULL) == DSTACK_OK &&
              dstack_pkey_from_secret(DSTACK_ALG_P256, secret, out, NULL) == DSTACK_OK;

    OPENSSL_cleanse(secret, sizeof(secret));
    return ok;
}

bool sim_quote_keys_init(sim_ctx *ctx, char *msg, size_t msg_len)
{
    sim_attest *att = &ctx->att;

    if (!sim_derived_p256(ctx, "dstack-sim quote attestation key", &att->quote_key) ||
        !sim_derived_p256(ctx, "dstack-sim simulated PCK key", &att->pck_key)) {
        snprintf(msg, msg_len, "cannot create the simulated quote signing keys");
        return false;
    }
    return sim_intel_init(ctx, msg, msg_len);
}

static void fill_header_body(const sim_attest *att, const uint8_t rtmr[4][48],
                             const uint8_t report_data[64], uint8_t *q)
{
    uint8_t *body = q + HEADER_LEN;

    put_le16(q, 4);        /* version */
    put_le16(q + 2, 2);    /* ECDSA-256-with-P-256 */
    put_le32(q + 4, 0x81); /* TDX */
    memcpy(q + 12, intel_qe_vendor_id, 16);
    memcpy(body, att->tee_tcb_svn, 16);
    memcpy(body + 16, att->mr_seam, 48);
    /* MRSIGNERSEAM and SEAMATTRIBUTES stay zero; TDATTRIBUTES: only SEPT_VE_DISABLE (bit 28),
     * as a production TD has it (protocol.md §5.6) */
    body[120 + 3] = 0x10;
    memcpy(body + 128, att->xfam, 8);
    memcpy(body + 136, att->mrtd, 48);
    /* MRCONFIGID, MROWNER, MROWNERCONFIG: zero (unused, protocol.md §5.1) */
    memcpy(body + 328, rtmr, 4 * 48);
    memcpy(body + 520, report_data, 64);
}

bool sim_quote_synthesize(const sim_attest *att, const uint8_t rtmr[4][48],
                          const uint8_t report_data[64], uint8_t **out, size_t *out_len)
{
    size_t pem_len = strlen(att->pck_pem);
    size_t qe_cert_len = QE_REPORT_LEN + 64 + 2 + AUTH_DATA_LEN + 2 + 4 + pem_len;
    size_t sig_len = 64 + 64 + 2 + 4 + qe_cert_len;
    size_t total = HEADER_LEN + BODY_LEN + 4 + sig_len;
    uint8_t *q = calloc(1, total);
    uint8_t *sig, *qe, *p, binding[64 + AUTH_DATA_LEN];
    size_t i;

    *out = NULL;
    if (q == NULL)
        return false;
    fill_header_body(att, rtmr, report_data, q);
    put_le32(q + HEADER_LEN + BODY_LEN, (uint32_t)sig_len);
    sig = q + HEADER_LEN + BODY_LEN + 4;
    if (!sim_sign_raw(att->quote_key, q, HEADER_LEN + BODY_LEN, sig) ||
        !raw_point(att->quote_key, sig + 64))
        goto err;
    put_le16(sig + 128, 6); /* certification data: QE report */
    put_le32(sig + 130, (uint32_t)qe_cert_len);
    qe = sig + 134;
    /* QE report body (protocol.md §5.1): ATTRIBUTES, MRENCLAVE, MRSIGNER, ISVPRODID, ISVSVN as
     * the simulated QE identity expects them; report_data = SHA-256(attest_pub||auth) */
    qe[48] = 0x11;
    SHA256((const uint8_t *)"dstack-sim QE", 13, qe + 64);
    SHA256((const uint8_t *)SIM_QE_SIGNER_LABEL, strlen(SIM_QE_SIGNER_LABEL), qe + 128);
    put_le16(qe + 256, SIM_QE_ISVPRODID);
    put_le16(qe + 258, SIM_QE_ISVSVN);
    memcpy(binding, sig + 64, 64);
    for (i = 0; i < AUTH_DATA_LEN; i++)
        binding[64 + i] = (uint8_t)i;
    SHA256(binding, sizeof(binding), qe + 320);
    if (!sim_sign_raw(att->pck_key, qe, QE_REPORT_LEN, qe + QE_REPORT_LEN))
        goto err;
    p = qe + QE_REPORT_LEN + 64;
    put_le16(p, AUTH_DATA_LEN);
    memcpy(p + 2, binding + 64, AUTH_DATA_LEN);
    p += 2 + AUTH_DATA_LEN;
    put_le16(p, 5); /* PCK certificate chain (PEM) */
    put_le32(p + 2, (uint32_t)pem_len);
    memcpy(p + 6, att->pck_pem, pem_len);
    *out = q;
    *out_len = total;
    return true;
err:
    free(q);
    return false;
}
