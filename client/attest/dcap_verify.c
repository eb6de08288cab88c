/* DCAP verification of a TDX quote with Intel collateral, step by step in dcap-qvl's order
 * (protocol.md §5.6): the first failure decides the message, so the order is part of the
 * contract. Each step's rules live in the file named in dcap_internal.h. */
#include "attest/dcap_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#define MAX_CHAIN_CERTS 8

static const uint8_t intel_qe_vendor_id[16] = {0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9,
                                               0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07};

bool dcap_fail(char *why, size_t why_len, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, why_len, fmt, ap);
    va_end(ap);
    return false;
}

const char *dcap_td_attributes_check(const uint8_t a[8], bool allow_debug)
{
    if (a[0] & 0xfe) /* TUD bits 7:1 */
        return "Reserved bits in TD attributes are set";
    if ((a[0] & 0x01) && !allow_debug)
        return "Debug mode is enabled";
    /* SEC bits 27:8 and 29; OTHER bits 63:32 as dcap-qvl tests them, byte 7 whole (so PERFMON,
     * bit 63, counts as reserved: a dcap-qvl quirk kept for the same verdicts) */
    if (a[1] != 0 || a[2] != 0 || (a[3] & 0x0f) != 0 || (a[3] & 0x20) != 0 || (a[4] & 0x7f) != 0 ||
        a[5] != 0 || a[6] != 0 || a[7] != 0)
        return "Reserved bits in TD attributes are set";
    if (!(a[3] & 0x10))
        return "SEPT_VE_DISABLE is not enabled";
    return NULL;
}

static bool is_p256(EVP_PKEY *key)
{
    char group[32] = "";

    return key != NULL && EVP_PKEY_is_a(key, "EC") &&
           EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                          NULL) == 1 &&
           strcmp(group, "prime256v1") == 0;
}

bool dcap_verify_raw_sig(EVP_PKEY *key, const uint8_t *data, size_t len, const uint8_t *rs,
                         size_t rs_len)
{
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r = rs_len >= 32 ? BN_bin2bn(rs, 32, NULL) : NULL;
    BIGNUM *s = rs_len >= 32 ? BN_bin2bn(rs + 32, (int)(rs_len - 32), NULL) : NULL;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char *der = NULL;
    int der_len = -1;
    bool ok = false;

    if (!is_p256(key) || sig == NULL || r == NULL || s == NULL || md == NULL ||
        ECDSA_SIG_set0(sig, r, s) != 1)
        goto done;
    r = s = NULL; /* owned by sig now */
    der_len = i2d_ECDSA_SIG(sig, &der);
    ok = der_len > 0 && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
         EVP_DigestVerify(md, der, (size_t)der_len, data, len) == 1;
done:
    OPENSSL_free(der);
    EVP_MD_CTX_free(md);
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    return ok;
}

EVP_PKEY *dcap_p256_from_raw(const uint8_t xy[64])
{
    uint8_t point[65];
    OSSL_PARAM params[3];
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    EVP_PKEY *pkey = NULL;
    char group[] = "prime256v1";

    point[0] = 0x04;
    memcpy(point + 1, xy, 64);
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point));
    params[2] = OSSL_PARAM_construct_end();
    if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
        pkey = NULL;
    EVP_PKEY_CTX_free(ctx);
    return pkey;
}

/* Steps 4–6 (TCB info) and 7b–7d (QE identity): window, issuer chain, signature. */
static bool check_doc(const dcap_params *p, const dcap_chain_ctx *cc, const dcap_signed_doc *d,
                      const char *name, const char *display, const char *issue_text,
                      const char *next_text, char *why, size_t why_len)
{
    int64_t issue, next;
    X509 *leaf;

    if (!dcap_rfc3339(issue_text, &issue))
        return dcap_fail(why, why_len, "Failed to parse %s issue date", display);
    if (!dcap_rfc3339(next_text, &next))
        return dcap_fail(why, why_len, "Failed to parse %s next update", display);
    if (p->now < issue)
        return dcap_fail(why, why_len, "%s issue date is in the future",
                         strcmp(name, "tcb_info") == 0 ? "TCBInfo" : "QE Identity");
    if (p->now > next)
        return dcap_fail(why, why_len, "%s expired",
                         strcmp(name, "tcb_info") == 0 ? "TCBInfo" : "QE Identity");
    if (d->chain == NULL)
        return dcap_fail(why, why_len, "%s", d->chain_error);
    if (sk_X509_num(d->chain) == 0)
        return dcap_fail(why, why_len, "Certificate chain is too short for %s", display);
    if (!dcap_chain_verify(cc, d->chain, why, why_len))
        return false;
    leaf = sk_X509_value(d->chain, 0);
    if (d->signature_len < 32)
        return dcap_fail(why, why_len, "Invalid key length");
    if (dcap_sig_memo_check(p->collateral->memo, d->digest, leaf))
        return true;
    if (!dcap_verify_raw_sig(X509_get0_pubkey(leaf), (const uint8_t *)d->text, d->text_len,
                             d->signature, d->signature_len))
        return dcap_fail(why, why_len, "Signature is invalid for %s in quote_collateral", name);
    dcap_sig_memo_add(p->collateral->memo, d->digest, leaf);
    return true;
}

/* Step 2: the header rules after the layout walk. */
static bool check_header(const dcap_quote *q, char *why, size_t why_len)
{
    if (memcmp(q->qe_vendor_id, intel_qe_vendor_id, 16) != 0)
        return dcap_fail(why, why_len, "Unknown QE vendor ID");
    if (q->tee_type != DCAP_TEE_SGX && q->tee_type != DCAP_TEE_TDX)
        return dcap_fail(why, why_len, "Unsupported TEE type: %u", q->tee_type);
    if (q->tee_type == DCAP_TEE_SGX)
        return dcap_fail(why, why_len, "SGX quotes are not supported (TDX only)");
    if (q->version != 4 && q->version != 5)
        return dcap_fail(why, why_len, "TDX TEE quote must have version 4 or 5");
    if (q->key_type != 2)
        return dcap_fail(why, why_len, "Unsupported DCAP attestation key type");
    return true;
}

/* Step 8: the PCK chain (the collateral's if it has one, else the quote's type-5 PEM). */
static bool check_pck(const dcap_params *p, const dcap_chain_ctx *cc, dcap_result *r,
                      STACK_OF(X509) * *chain, char *why, size_t why_len)
{
    const dstack_collateral *c = p->collateral;
    const char *pem;
    size_t pem_len;

    if (c->pck_certificate_chain != NULL) {
        pem = c->pck_certificate_chain;
        pem_len = strlen(pem);
    } else {
        if (r->quote.inner_type != 5)
            return dcap_fail(why, why_len, "Unsupported DCAP PCK cert format: %u",
                             r->quote.inner_type);
        pem = (const char *)r->quote.inner;
        pem_len = r->quote.inner_len;
    }
    if ((*chain = dcap_collateral_certs(c, pem, pem_len, MAX_CHAIN_CERTS, why, why_len)) == NULL)
        return false;
    if (sk_X509_num(*chain) == 0)
        return dcap_fail(why, why_len, "Certificate chain is too short in quote");
    X509_NAME_oneline(X509_get_subject_name(sk_X509_value(*chain, 0)), r->pck_subject,
                      sizeof(r->pck_subject));
    if (!dcap_chain_verify(cc, *chain, why, why_len))
        return false;
    return dcap_pck_ext_read(sk_X509_value(*chain, 0), &r->pck, why, why_len);
}

/* Steps 9, 10: the QE report signed by the PCK key and binding the attestation key. */
static bool check_qe_report(dcap_result *r, X509 *pck, char *why, size_t why_len)
{
    const dcap_quote *q = &r->quote;
    uint8_t bind[64 + 32], md[SHA256_DIGEST_LENGTH];

    if (!dcap_verify_raw_sig(X509_get0_pubkey(pck), q->qe_report, DCAP_QE_REPORT_LEN, q->qe_sig,
                             64))
        return dcap_fail(why, why_len, "Signature is invalid for qe_report in quote");
    r->qe_report_signature_ok = true;
    if (q->auth_len != 32)
        return dcap_fail(why, why_len, "Invalid QE auth data length");
    memcpy(bind, q->att_key, 64);
    memcpy(bind + 64, q->auth, 32);
    SHA256(bind, sizeof(bind), md);
    if (CRYPTO_memcmp(md, q->qe_report + DCAP_QE_REPORT_DATA, 32) != 0)
        return dcap_fail(why, why_len, "QE report hash mismatch");
    r->qe_report_binds_key = true;
    return true;
}

static bool check_quote_signature(const dcap_params *p, dcap_result *r, char *why, size_t why_len)
{
    EVP_PKEY *key = dcap_p256_from_raw(r->quote.att_key);
    bool ok = key != NULL &&
              dcap_verify_raw_sig(key, p->quote, r->quote.signed_len, r->quote.signature, 64);

    EVP_PKEY_free(key);
    if (!ok)
        return dcap_fail(why, why_len, "ISV enclave report signature is invalid");
    r->quote_signature_ok = true;
    return true;
}

/* Step 15. */
static bool check_attributes(const dcap_params *p, const dcap_quote *q, char *why, size_t why_len)
{
    static const uint8_t zero[48];
    const char *e;

    if (q->body_type == DCAP_BODY_TD15 && !p->allow_service_td &&
        memcmp(q->body + DCAP_TD15_MR_SERVICETD, zero, 48) != 0)
        return dcap_fail(why, why_len, "Invalid MR service TD");
    if ((e = dcap_td_attributes_check(q->body + DCAP_TD_ATTRIBUTES, p->allow_debug)) != NULL)
        return dcap_fail(why, why_len, "%s", e);
    return true;
}

bool dcap_verify(const dcap_params *p, dcap_result *r, char *why, size_t why_len,
                 bool *protocol_error)
{
    const dstack_collateral *c = p->collateral;
    dcap_chain_ctx cc = {p->anchor, c->crls, p->now, c->memo};
    STACK_OF(X509) *pck_chain = NULL;
    const dcap_qe_identity *qe = c->qe_identity;
    bool ok = false;

    memset(r, 0, sizeof(*r));
    *protocol_error = false;
    why[0] = '\0';
    /* 1: both CRLs parse, and the root is not revoked */
    if (c->crls[0] == NULL || c->crls[1] == NULL) {
        dcap_fail(why, why_len, "%s", c->crl_error);
        goto done;
    }
    if (!dcap_root_crl_check(&cc, why, why_len))
        goto done;
    /* 2: the quote */
    if (!dcap_quote_walk(p->quote, p->len, &r->quote, why, why_len)) {
        *protocol_error = true;
        goto done;
    }
    if (!check_header(&r->quote, why, why_len))
        goto done;
    r->quote_ok = true;
    /* 3–6: TCB info */
    if (c->tcb_info == NULL) {
        dcap_fail(why, why_len, "%s", c->tcb_info_error);
        goto done;
    }
    if (!check_doc(p, &cc, &c->tcb_doc, "tcb_info", "TCB Info", c->tcb_info->issue_date,
                   c->tcb_info->next_update, why, why_len))
        goto done;
    /* 7: QE identity */
    if (qe == NULL) {
        dcap_fail(why, why_len, "%s", c->qe_identity_error);
        goto done;
    }
    if (!check_doc(p, &cc, &c->qe_doc, "qe_identity", "QE Identity", qe->issue_date,
                   qe->next_update, why, why_len))
        goto done;
    if (strcmp(qe->id, "TD_QE") != 0 || (qe->version != 2 && qe->version != 3)) {
        dcap_fail(why, why_len,
                  "Unsupported QE Identity id/version for the quote TEE type: %s version %u "
                  "(expected TD_QE version [2, 3])",
                  qe->id, qe->version);
        goto done;
    }
    /* 8–10: PCK chain, QE report */
    if (!check_pck(p, &cc, r, &pck_chain, why, why_len))
        goto done;
    r->pck_ok = true;
    if (!check_qe_report(r, sk_X509_value(pck_chain, 0), why, why_len))
        goto done;
    /* 11: QE identity policy and the QE's TCB level */
    if (!dcap_qe_policy(qe, r->quote.qe_report, &r->qe, why, why_len))
        goto done;
    r->qe_identity_ok = true;
    /* 12: the quote signature */
    if (!check_quote_signature(p, r, why, why_len))
        goto done;
    /* 13: the platform's TCB level, with the TDX module's */
    if (r->quote.body_type == DCAP_BODY_SGX) {
        dcap_fail(why, why_len, "Failed to get TD10 report");
        goto done;
    }
    if (!dcap_tcb_match(c->tcb_info, &r->quote, &r->pck, &r->platform, why, why_len))
        goto done;
    r->tcb_matched = true;
    /* 14: merge; Revoked rejects */
    if (!dcap_tcb_copy(&r->final, &r->platform) || !dcap_tcb_merge(&r->final, &r->qe)) {
        dcap_fail(why, why_len, "out of memory");
        goto done;
    }
    if (r->final.status == DSTACK_TCB_REVOKED) {
        dcap_fail(why, why_len, "TCB status is invalid: Revoked");
        goto done;
    }
    /* 15: TD attributes */
    if (!check_attributes(p, &r->quote, why, why_len))
        goto done;
    r->td_attributes_ok = true;
    ok = true;
done:
    sk_X509_pop_free(pck_chain, X509_free);
    return ok;
}

void dcap_result_free(dcap_result *r)
{
    dcap_advisories_free(&r->platform.adv);
    dcap_advisories_free(&r->qe.adv);
    dcap_advisories_free(&r->final.adv);
}
