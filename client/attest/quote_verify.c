/* DCAP verification of TDX v4/v5 quotes (protocol.md §5.1; §4.7 step 3): the entry point, and
 * the offline checks.
 *
 * Offline, everything a quote carries is checked: the quote signature by the attestation key,
 * the QE report binding that key, the QE report signature by the PCK leaf, and the PCK chain up
 * to a pinned Intel SGX Root CA. TCB status, CRLs and QE identity need Intel collateral and
 * are reported as unchecked rather than guessed; with collateral the whole of dcap-qvl's
 * verification runs instead (quote_verify_dcap.c, protocol.md §5.6).
 */
#include <dstack/attest.h>

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "attest/dcap_internal.h"
#include "base/api_internal.h"

/* Quote layout (protocol.md §5.1): header (|| v5 body descriptor) || TD report body, u32
 * signature-data length, then the ECDSA-P256 quote signature data. */
#define ECDSA_SIG_LEN 64u
#define ATT_KEY_LEN 64u
#define CERT_HDR_LEN 6u /* type u16 + size u32 */
#define QE_REPORT_LEN 384u
#define AUTH_LEN_LEN 2u
#define ATT_KEY_TYPE_ECDSA_P256 2u
#define CERT_TYPE_PCK_CHAIN 5u
#define CERT_TYPE_QE_REPORT 6u

/* SGX report body (the QE report) field offsets. */
#define QE_MR_ENCLAVE_OFF 64u
#define QE_MR_SIGNER_OFF 128u
#define QE_ISV_PROD_ID_OFF 256u
#define QE_ISV_SVN_OFF 258u
#define QE_REPORT_DATA_OFF 320u

#define PCK_CHAIN_MAX_LEN (64u * 1024u) /* Intel's chains are ~3.7 KB */
#define PCK_CHAIN_MAX_CERTS 8
#define SGX_EXTENSION_OID "1.2.840.113741.1.13.1" /* present in every PCK certificate */

/* Intel SGX Root CA ("Intel SGX Provisioning Certification Root CA", re-issued 2018-05-21
 * with notAfter 2049-12-31), as published by Intel PCS at
 * https://certificates.trustedservices.intel.com/Intel_SGX_Provisioning_Certification_RootCA.pem
 * SHA-256 fingerprint 44:A0:19:6B:2B:99:F8:89:B8:E1:49:E9:5B:80:7A:35:0E:74:24:96:43:99:E8:85:
 * A7:CB:B8:CC:FA:B6:74:D3. Its subject and SPKI equal the trust anchor pinned by
 * Phala-Network/dcap-qvl (src/constants.rs, DCAP_SERVER_ROOTS), the verifier dstack uses, and
 * it is byte-identical to the root at the end of the PCK chain in every dstack fixture quote.
 * A public certificate, not a secret. */
static const char intel_sgx_root_ca_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIICjzCCAjSgAwIBAgIUImUM1lqdNInzg7SVUr9QGzknBqwwCgYIKoZIzj0EAwIw\n"
    "aDEaMBgGA1UEAwwRSW50ZWwgU0dYIFJvb3QgQ0ExGjAYBgNVBAoMEUludGVsIENv\n"
    "cnBvcmF0aW9uMRQwEgYDVQQHDAtTYW50YSBDbGFyYTELMAkGA1UECAwCQ0ExCzAJ\n"
    "BgNVBAYTAlVTMB4XDTE4MDUyMTEwNDUxMFoXDTQ5MTIzMTIzNTk1OVowaDEaMBgG\n"
    "A1UEAwwRSW50ZWwgU0dYIFJvb3QgQ0ExGjAYBgNVBAoMEUludGVsIENvcnBvcmF0\n"
    "aW9uMRQwEgYDVQQHDAtTYW50YSBDbGFyYTELMAkGA1UECAwCQ0ExCzAJBgNVBAYT\n"
    "AlVTMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEC6nEwMDIYZOj/iPWsCzaEKi7\n"
    "1OiOSLRFhWGjbnBVJfVnkY4u3IjkDYYL0MxO4mqsyYjlBalTVYxFP2sJBK5zlKOB\n"
    "uzCBuDAfBgNVHSMEGDAWgBQiZQzWWp00ifODtJVSv1AbOScGrDBSBgNVHR8ESzBJ\n"
    "MEegRaBDhkFodHRwczovL2NlcnRpZmljYXRlcy50cnVzdGVkc2VydmljZXMuaW50\n"
    "ZWwuY29tL0ludGVsU0dYUm9vdENBLmRlcjAdBgNVHQ4EFgQUImUM1lqdNInzg7SV\n"
    "Ur9QGzknBqwwDgYDVR0PAQH/BAQDAgEGMBIGA1UdEwEB/wQIMAYBAf8CAQEwCgYI\n"
    "KoZIzj0EAwIDSQAwRgIhAOW/5QkR+S9CiSDcNoowLuPRLsWGf/Yi7GSX94BgwTwg\n"
    "AiEA4J0lrHoMs+Xo5o/sX6O9QWxHRAvZUGOdRQ7cvqRXaqI=\n"
    "-----END CERTIFICATE-----\n";

const char *dstack_intel_sgx_root_ca_pem(void)
{
    return intel_sgx_root_ca_pem;
}

/* The parts of the quote signature data (pointers into the quote). */
typedef struct sig_data {
    const uint8_t *signature; /* r||s over header||body */
    const uint8_t *att_key;   /* x||y */
    const uint8_t *qe_report; /* 384-byte SGX report body */
    const uint8_t *qe_sig;    /* r||s over the QE report */
    const uint8_t *auth;      /* QE auth data */
    size_t auth_len;
    const char *pem; /* PCK chain, trailing NULs excluded */
    size_t pem_len;
} sig_data;

static uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Walks the signature data with every size checked against what is left; the certification
 * data must fill the signature data exactly, and the PCK chain the certification data. */
static dstack_status parse_sig_data(const uint8_t *sig, size_t len, sig_data *out,
                                    dstack_error *err)
{
    size_t cert_len, inner_len, left;
    const uint8_t *p;
    unsigned type;

    if (len < ECDSA_SIG_LEN + ATT_KEY_LEN + CERT_HDR_LEN)
        return dstack_error_set(err, DSTACK_ERR_PROTOCOL, NULL, NULL,
                                "TDX quote signature data too short: %zu bytes", len);
    out->signature = sig;
    out->att_key = sig + ECDSA_SIG_LEN;
    p = out->att_key + ATT_KEY_LEN;
    type = le16(p);
    cert_len = le32(p + 2);
    p += CERT_HDR_LEN;
    left = len - ECDSA_SIG_LEN - ATT_KEY_LEN - CERT_HDR_LEN;
    if (type != CERT_TYPE_QE_REPORT)
        return dstack_error_set(err, DSTACK_ERR_PROTOCOL, NULL, NULL,
                                "TDX quote certification data type %u is not supported (only 6, "
                                "QE report certification data)",
                                type);
    if (cert_len != left)
        return dstack_error_set(err, DSTACK_ERR_PROTOCOL, NULL, NULL,
                                "TDX quote certification data size %zu does not match the %zu "
                                "bytes that follow",
                                cert_len, left);
    if (left < QE_REPORT_LEN + ECDSA_SIG_LEN + AUTH_LEN_LEN)
        return dstack_error_set(err, DSTACK_ERR_PROTOCOL, NULL, NULL,
                                "TDX quote QE report certification data truncated");
    out->qe_report = p;
    out->qe_sig = p + QE_REPORT_LEN;
    p += QE_REPORT_LEN + ECDSA_SIG_LEN;
    left -= QE_REPORT_LEN + ECDSA_SIG_LEN;
    out->auth_len = le16(p);
    p += AUTH_LEN_LEN;
    left -= AUTH_LEN_LEN;
    if (out->auth_len > left || left - out->auth_len < CERT_HDR_LEN)
        return dstack_error_set(err, DSTACK_ERR_PROTOCOL, NULL, NULL,
                                "TDX quote QE auth data (%zu bytes) runs past the certification "
                                "data",
                                out->auth_len);
    out->auth = p;
    p += out->auth_len;
    left -= out->auth_len;
    type = le16(p);
    inner_len = le32(p + 2);
    p += CERT_HDR_LEN;
    left -= CERT_HDR_LEN;
    if (type != CERT_TYPE_PCK_CHAIN)
        return dstack_error_set(err, DSTACK_ERR_PROTOCOL, NULL, NULL,
                                "TDX quote QE certification data type %u is not supported (only "
                                "5, PCK certificate chain)",
                                type);
    if (inner_len != left)
        return dstack_error_set(err, DSTACK_ERR_PROTOCOL, NULL, NULL,
                                "TDX quote PCK chain size %zu does not match the %zu bytes that "
                                "follow",
                                inner_len, left);
    if (inner_len > PCK_CHAIN_MAX_LEN)
        return dstack_error_set(err, DSTACK_ERR_PROTOCOL, NULL, NULL,
                                "TDX quote PCK chain too large: %zu bytes (limit %u)", inner_len,
                                PCK_CHAIN_MAX_LEN);
    /* Intel's PEM is NUL-terminated inside the size; the terminator is not PEM. */
    while (inner_len > 0 && p[inner_len - 1] == 0)
        inner_len--;
    if (inner_len == 0 || memchr(p, 0, inner_len) != NULL)
        return dstack_error_set(err, DSTACK_ERR_PROTOCOL, NULL, NULL,
                                "TDX quote PCK chain is empty or contains NUL bytes");
    out->pem = (const char *)p;
    out->pem_len = inner_len;
    return DSTACK_OK;
}

/* Every certificate of a PEM text, in order; NULL when there is none, when any block fails
 * to parse, or when there are more than `max`. */
static STACK_OF(X509) * read_pem_certs(const char *pem, size_t len, int max)
{
    BIO *bio = len <= INT_MAX ? BIO_new_mem_buf(pem, (int)len) : NULL;
    STACK_OF(X509) *certs = sk_X509_new_null();
    X509 *cert;
    unsigned long e;

    if (bio == NULL || certs == NULL)
        goto err;
    while ((cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        if (sk_X509_num(certs) >= max || sk_X509_push(certs, cert) <= 0) {
            X509_free(cert);
            goto err;
        }
    }
    /* The loop ends at "no start line" after the last block; anything else is garbage. */
    e = ERR_peek_last_error();
    if (ERR_GET_LIB(e) != ERR_LIB_PEM || ERR_GET_REASON(e) != PEM_R_NO_START_LINE ||
        sk_X509_num(certs) == 0)
        goto err;
    BIO_free(bio);
    return certs;
err:
    BIO_free(bio);
    sk_X509_pop_free(certs, X509_free);
    return NULL;
}

static bool has_sgx_extension(X509 *cert)
{
    ASN1_OBJECT *obj = OBJ_txt2obj(SGX_EXTENSION_OID, 1);
    bool found = obj != NULL && X509_get_ext_by_OBJ(cert, obj, -1) >= 0;

    ASN1_OBJECT_free(obj);
    return found;
}

/* (e): chain[0] is the leaf; the rest are untrusted helpers. Only `anchors` are trusted, so
 * the quote's own copy of the root earns nothing. */
static bool verify_chain(STACK_OF(X509) * chain, STACK_OF(X509) * anchors,
                         const dstack_quote_verify_opts *opts, char *why, size_t why_len)
{
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    X509 *leaf = sk_X509_value(chain, 0);
    bool ok = false;
    int i;

    if (store == NULL || ctx == NULL) {
        snprintf(why, why_len, "out of memory");
        goto done;
    }
    for (i = 0; i < sk_X509_num(anchors); i++) {
        if (X509_STORE_add_cert(store, sk_X509_value(anchors, i)) != 1) {
            snprintf(why, why_len, "cannot load the trusted root");
            goto done;
        }
    }
    if (X509_STORE_CTX_init(ctx, store, leaf, chain) != 1) {
        snprintf(why, why_len, "cannot set up certificate verification");
        goto done;
    }
    if (opts->flags & DSTACK_QV_NO_TIME_CHECK)
        X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_NO_CHECK_TIME);
    else if (opts->verification_time != 0)
        X509_STORE_CTX_set_time(ctx, 0, (time_t)opts->verification_time);
    if (X509_verify_cert(ctx) != 1) {
        snprintf(why, why_len, "%s", X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
        goto done;
    }
    if (!has_sgx_extension(leaf)) {
        snprintf(why, why_len, "leaf is not a PCK certificate (no SGX extension %s)",
                 SGX_EXTENSION_OID);
        goto done;
    }
    ok = true;
done:
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    return ok;
}

/* (d) and (e) from the PEM chain: the leaf key must sign the QE report, the chain must lead
 * to an anchor. */
static void check_pck(const sig_data *sd, STACK_OF(X509) * anchors,
                      const dstack_quote_verify_opts *opts, dstack_quote_verify_result *out)
{
    STACK_OF(X509) *chain = read_pem_certs(sd->pem, sd->pem_len, PCK_CHAIN_MAX_CERTS);
    X509 *leaf;
    EVP_PKEY *key;
    char group[32] = "";

    if (chain == NULL) {
        snprintf(out->chain_error, sizeof(out->chain_error),
                 "the PCK certificate chain PEM does not parse");
        goto done;
    }
    leaf = sk_X509_value(chain, 0);
    X509_NAME_oneline(X509_get_subject_name(leaf), out->pck_subject, sizeof(out->pck_subject));
    out->pck_chain_ok =
        verify_chain(chain, anchors, opts, out->chain_error, sizeof(out->chain_error));
    key = X509_get0_pubkey(leaf);
    if (key != NULL && EVP_PKEY_is_a(key, "EC") &&
        EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                       NULL) == 1 &&
        strcmp(group, "prime256v1") == 0)
        out->qe_report_signature_ok =
            dcap_verify_raw_sig(key, sd->qe_report, QE_REPORT_LEN, sd->qe_sig, ECDSA_SIG_LEN);
done:
    sk_X509_pop_free(chain, X509_free);
}

static void read_qe_identity(const uint8_t *qe_report, dstack_quote_verify_result *out)
{
    memcpy(out->qe_mr_enclave, qe_report + QE_MR_ENCLAVE_OFF, 32);
    memcpy(out->qe_mr_signer, qe_report + QE_MR_SIGNER_OFF, 32);
    out->qe_isv_prod_id = le16(qe_report + QE_ISV_PROD_ID_OFF);
    out->qe_isv_svn = le16(qe_report + QE_ISV_SVN_OFF);
}

/* (c): QE report_data = SHA-256(attestation key || auth data) || 32 zero bytes. */
static bool qe_report_binds(const sig_data *sd)
{
    static const uint8_t zero[32];
    uint8_t md[SHA256_DIGEST_LENGTH];
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
              EVP_DigestUpdate(ctx, sd->att_key, ATT_KEY_LEN) == 1 &&
              (sd->auth_len == 0 || EVP_DigestUpdate(ctx, sd->auth, sd->auth_len) == 1) &&
              EVP_DigestFinal_ex(ctx, md, NULL) == 1;

    EVP_MD_CTX_free(ctx);
    return ok && CRYPTO_memcmp(md, sd->qe_report + QE_REPORT_DATA_OFF, 32) == 0 &&
           CRYPTO_memcmp(zero, sd->qe_report + QE_REPORT_DATA_OFF + 32, 32) == 0;
}

static dstack_status first_failure(const dstack_quote_verify_result *r, unsigned flags,
                                   const char *attr_why, dstack_error *err)
{
    if (!r->quote_signature_ok)
        return dstack_error_set(err, DSTACK_ERR_CRYPTO, NULL, NULL,
                                "TDX quote signature does not verify with the quote's "
                                "attestation key");
    if (!r->qe_report_binds_key)
        return dstack_error_set(err, DSTACK_ERR_CRYPTO, NULL, NULL,
                                "TDX quote QE report does not bind the attestation key "
                                "(report_data != SHA-256(key || auth data))");
    if (!r->pck_chain_ok)
        return dstack_error_set(err, DSTACK_ERR_CRYPTO, NULL, NULL,
                                "TDX quote PCK certificate chain does not verify to the trusted "
                                "root: %s",
                                r->chain_error);
    if (!r->qe_report_signature_ok)
        return dstack_error_set(err, DSTACK_ERR_CRYPTO, NULL, NULL,
                                "TDX quote QE report signature does not verify with the PCK "
                                "certificate key");
    if (r->debug_td && !(flags & DSTACK_QV_ALLOW_DEBUG))
        return dstack_error_set(err, DSTACK_ERR_CRYPTO, NULL, NULL,
                                "TDX quote is from a debug TD (td_attributes bit 0 set)");
    if (!r->td_attributes_ok)
        return dstack_error_set(err, DSTACK_ERR_CRYPTO, NULL, NULL, "TDX quote TD attributes: %s",
                                attr_why);
    if (!r->mr_signer_seam_zero && !(flags & DSTACK_QV_ALLOW_SEAM_SIGNER))
        return dstack_error_set(err, DSTACK_ERR_CRYPTO, NULL, NULL,
                                "TDX quote MRSIGNERSEAM is not all zero (not Intel's TDX module)");
    return dstack_error_set(err, DSTACK_ERR_CRYPTO, NULL, NULL,
                            "TDX quote MRSERVICETD is not all zero (a service TD is bound)");
}

/* (f): TD attributes (dcap-qvl's rules, the debug bit under DSTACK_QV_ALLOW_DEBUG), MRSIGNERSEAM
 * and MRSERVICETD. */
static const char *check_policy(const dstack_tdx_quote *q, unsigned flags,
                                dstack_quote_verify_result *out)
{
    static const uint8_t zero48[48];
    uint8_t attrs[8];
    const char *why;
    bool service_td_ok;

    out->debug_td = q->debug;
    out->mr_signer_seam_zero = memcmp(q->mr_signer_seam, zero48, 48) == 0;
    /* the debug bit is judged on its own (debug_td), the other rules here */
    memcpy(attrs, q->td_attributes, 8);
    attrs[0] &= (uint8_t)~1u;
    why = dcap_td_attributes_check(attrs, false);
    out->td_attributes_ok = why == NULL;
    service_td_ok =
        memcmp(q->mr_servicetd, zero48, 48) == 0 || (flags & DSTACK_QV_ALLOW_SERVICE_TD);
    out->policy_ok = (!out->debug_td || (flags & DSTACK_QV_ALLOW_DEBUG)) && out->td_attributes_ok &&
                     (out->mr_signer_seam_zero || (flags & DSTACK_QV_ALLOW_SEAM_SIGNER)) &&
                     service_td_ok;
    return why;
}

/* Offline: every check a quote can be given without collateral. */
static dstack_status verify_offline(const uint8_t *quote, size_t len,
                                    const dstack_quote_verify_opts *opts, STACK_OF(X509) * anchors,
                                    dstack_quote_verify_result *out, dstack_error *err)
{
    dstack_tdx_quote q;
    EVP_PKEY *att_key = NULL;
    sig_data sd;
    const char *attr_why;
    dstack_status rc;

    memset(&sd, 0, sizeof(sd));
    if ((rc = dstack_tdx_quote_parse(quote, len, &q, err)) != DSTACK_OK)
        return rc;
    if (q.attestation_key_type != ATT_KEY_TYPE_ECDSA_P256)
        return dstack_error_set(err, DSTACK_ERR_PROTOCOL, NULL, NULL,
                                "TDX quote attestation key type %u is not supported (only 2, "
                                "ECDSA-P256)",
                                q.attestation_key_type);
    if ((rc = parse_sig_data(quote + q.signed_len + 4, q.signature_data_len, &sd, err)) !=
        DSTACK_OK)
        return rc;
    out->structure_ok = true;
    attr_why = check_policy(&q, opts->flags, out);
    /* (a) */
    att_key = dcap_p256_from_raw(sd.att_key);
    out->quote_signature_ok = att_key != NULL && dcap_verify_raw_sig(att_key, quote, q.signed_len,
                                                                     sd.signature, ECDSA_SIG_LEN);
    EVP_PKEY_free(att_key);
    /* (c) */
    out->qe_report_binds_key = qe_report_binds(&sd);
    read_qe_identity(sd.qe_report, out);
    /* (d), (e) */
    check_pck(&sd, anchors, opts, out);

    out->verified = out->quote_signature_ok && out->qe_report_binds_key &&
                    out->qe_report_signature_ok && out->pck_chain_ok && out->policy_ok;
    return out->verified ? DSTACK_OK : first_failure(out, opts->flags, attr_why, err);
}

dstack_status dstack_tdx_quote_verify(const uint8_t *quote, size_t len,
                                      const dstack_quote_verify_opts *opts_in,
                                      dstack_quote_verify_result *out, dstack_error *err)
{
    dstack_quote_verify_opts opts;
    STACK_OF(X509) *anchors = NULL;
    const char *root_pem;
    dstack_status rc;

    if (out != NULL)
        memset(out, 0, sizeof(*out));
    if (quote == NULL || out == NULL)
        return dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL,
                                "dstack_tdx_quote_verify: no quote or no result");
    if ((rc = dstack_options_read(opts_in, &opts, sizeof(opts), "dstack_quote_verify_opts", err)) !=
        DSTACK_OK)
        return rc;
    if (opts.collateral != NULL && (opts.flags & DSTACK_QV_NO_TIME_CHECK))
        return dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL,
                                "DSTACK_QV_NO_TIME_CHECK cannot be combined with collateral: its "
                                "checks are all about time");
    root_pem = opts.trusted_root_pem != NULL ? opts.trusted_root_pem : intel_sgx_root_ca_pem;
    ERR_set_mark();
    if (opts.collateral != NULL) {
        rc = dcap_quote_verify_collateral(quote, len, &opts, root_pem, out, err);
    } else if ((anchors = read_pem_certs(root_pem, strlen(root_pem), PCK_CHAIN_MAX_CERTS)) ==
               NULL) {
        rc = dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL,
                              "the trusted root is not a PEM certificate list");
    } else {
        rc = verify_offline(quote, len, &opts, anchors, out, err);
    }
    ERR_pop_to_mark(); /* failed checks are reported in `out`, not on the error queue */
    sk_X509_pop_free(anchors, X509_free);
    return rc;
}
