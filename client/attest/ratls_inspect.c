/* Reading the attestation of an RA-TLS certificate (protocol.md §4.1–§4.3, §4.7 steps 1, 2, 4, 5).
 * DCAP signature verification needs Intel collateral and is out of scope here. */
#include <dstack/attest.h>

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "attest/attest_internal.h"

#define APP_ID_LEN 20

dstack_status dstack_ratls_report_data_ex(OSSL_LIB_CTX *libctx, const char *propq,
                                          const uint8_t *spki_der, size_t spki_len, uint8_t out[64],
                                          dstack_error *err)
{
    static const char tag[] = "ratls-cert:";
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_MD *md = EVP_MD_fetch(libctx, "SHA512", propq);
    int ok = ctx != NULL && md != NULL && EVP_DigestInit_ex(ctx, md, NULL) == 1 &&
             EVP_DigestUpdate(ctx, tag, sizeof(tag) - 1) == 1 &&
             (spki_len == 0 || EVP_DigestUpdate(ctx, spki_der, spki_len) == 1) &&
             EVP_DigestFinal_ex(ctx, out, NULL) == 1;

    EVP_MD_CTX_free(ctx);
    EVP_MD_free(md);
    if (ok)
        return DSTACK_OK;
    memset(out, 0xff, 64); /* can never equal a real SHA-512 binding by accident */
    return dstack_error_set(err, DSTACK_ERR_CRYPTO, NULL, NULL,
                            "SHA-512 is not available in the library context");
}

void dstack_ratls_report_data(const uint8_t *spki_der, size_t spki_len, uint8_t out[64])
{
    (void)dstack_ratls_report_data_ex(NULL, NULL, spki_der, spki_len, out, NULL);
}

void dstack_ratls_info_free(dstack_ratls_info *info)
{
    if (info == NULL)
        return;
    dstack_attestation_free(&info->attestation);
    memset(info, 0, sizeof(*info));
}

/* Payload of a dstack extension: extnValue holds a DER OCTET STRING wrapping the raw bytes
 * (protocol.md §4.1). *found is false when the certificate lacks the extension. The payload points
 * into a buffer the caller frees with OPENSSL_free. */
static dstack_status get_ext(X509 *cert, const char *oid, bool *found, unsigned char **payload,
                             size_t *payload_len, dstack_error *err)
{
    ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
    ASN1_OCTET_STRING *inner = NULL;
    const ASN1_OCTET_STRING *value;
    const unsigned char *p;
    dstack_status rc = DSTACK_OK;
    int idx;

    *found = false;
    *payload = NULL;
    *payload_len = 0;
    if (obj == NULL)
        return dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, NULL, "bad OID %s", oid);
    idx = X509_get_ext_by_OBJ(cert, obj, -1);
    /* RFC 5280 section 4.2: at most one instance of an extension. Two attestations in one
     * certificate would let a reader and a verifier look at different ones. */
    if (idx >= 0 && X509_get_ext_by_OBJ(cert, obj, idx) >= 0) {
        ASN1_OBJECT_free(obj);
        return dstack_error_set(err, DSTACK_ERR_PROTOCOL, NULL, NULL,
                                "certificate has more than one %s extension", oid);
    }
    ASN1_OBJECT_free(obj);
    if (idx < 0)
        return DSTACK_OK;
    value = X509_EXTENSION_get_data(X509_get_ext(cert, idx));
    p = ASN1_STRING_get0_data(value);
    if (p == NULL || (inner = d2i_ASN1_OCTET_STRING(NULL, &p, ASN1_STRING_length(value))) == NULL ||
        p != ASN1_STRING_get0_data(value) + ASN1_STRING_length(value)) {
        rc = dstack_error_set(err, DSTACK_ERR_PROTOCOL, NULL, NULL,
                              "certificate extension %s is not a DER OCTET STRING", oid);
        goto done;
    }
    *payload_len = (size_t)ASN1_STRING_length(inner);
    *payload = OPENSSL_malloc(*payload_len + 1);
    if (*payload == NULL) {
        rc = dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, NULL, "out of memory");
        goto done;
    }
    if (*payload_len > 0)
        memcpy(*payload, ASN1_STRING_get0_data(inner), *payload_len);
    (*payload)[*payload_len] = 0;
    *found = true;
done:
    ASN1_OCTET_STRING_free(inner);
    return rc;
}

/* Legacy .1.1 + .1.2 form (protocol.md §4.3): rebuild the attestation from quote and JSON log. */
static dstack_status rebuild_legacy(dstack_attestation *att, unsigned char *quote, size_t quote_len,
                                    const unsigned char *log_json, size_t log_len,
                                    dstack_error *err)
{
    dstack_tdx_quote parsed;
    dstack_status rc;
    static const char gzip_magic[] = "ELGZv1";

    if (log_len >= sizeof(gzip_magic) - 1 && memcmp(log_json, gzip_magic, 6) == 0)
        return dstack_error_set(err, DSTACK_ERR_PROTOCOL, NULL, NULL,
                                "gzip-compressed event log extension (ELGZv1) is not supported");
    rc = dstack_event_log_parse((const char *)log_json, log_len, &att->tdx_event_log, err);
    if (rc != DSTACK_OK) {
        dstack_error_context(err, "RA-TLS event log extension");
        return rc;
    }
    for (size_t i = 0; i < att->tdx_event_log.count; i++) {
        const dstack_event *ev = &att->tdx_event_log.events[i];
        if (ev->event_type != DSTACK_RUNTIME_EVENT_TYPE)
            continue;
        rc = dstack_attestation_add_runtime_event(att, ev->event, strlen(ev->event), ev->payload,
                                                  ev->payload_len, ev->version, err);
        if (rc != DSTACK_OK)
            return rc;
    }
    /* report_data is the quote's own; an unparsable quote leaves it zero (no binding). */
    if (dstack_tdx_quote_parse(quote, quote_len, &parsed, NULL) == DSTACK_OK)
        memcpy(att->report_data, parsed.report_data, 64);
    att->version = 0;
    att->platform = 0;
    att->quote = malloc(quote_len > 0 ? quote_len : 1);
    att->config = strdup("");
    if (att->quote == NULL || att->config == NULL)
        return dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, NULL, "out of memory");
    if (quote_len > 0)
        memcpy(att->quote, quote, quote_len);
    att->quote_len = quote_len;
    return DSTACK_OK;
}

static dstack_status load_attestation(X509 *cert, dstack_ratls_info *out, dstack_error *err)
{
    unsigned char *att = NULL, *quote = NULL, *log = NULL;
    size_t att_len, quote_len, log_len;
    bool has_att, has_quote, has_log;
    dstack_status rc;

    if ((rc = get_ext(cert, DSTACK_OID_ATTESTATION, &has_att, &att, &att_len, err)) != DSTACK_OK)
        goto done;
    if (has_att) {
        rc = dstack_attestation_decode(att, att_len, &out->attestation, err);
        if (rc != DSTACK_OK)
            dstack_error_context(err, "RA-TLS attestation extension");
        out->has_attestation = rc == DSTACK_OK;
        goto done;
    }
    if ((rc = get_ext(cert, DSTACK_OID_TDX_QUOTE, &has_quote, &quote, &quote_len, err)) !=
        DSTACK_OK)
        goto done;
    if (!has_quote)
        goto done; /* a certificate without attestation */
    if ((rc = get_ext(cert, DSTACK_OID_EVENT_LOG, &has_log, &log, &log_len, err)) != DSTACK_OK)
        goto done;
    if (!has_log) {
        rc = dstack_error_set(err, DSTACK_ERR_PROTOCOL, NULL, NULL,
                              "RA-TLS certificate has a quote extension (%s) but no event log "
                              "extension (%s)",
                              DSTACK_OID_TDX_QUOTE, DSTACK_OID_EVENT_LOG);
        goto done;
    }
    rc = rebuild_legacy(&out->attestation, quote, quote_len, log, log_len, err);
    out->has_attestation = rc == DSTACK_OK;
    out->from_legacy_oids = rc == DSTACK_OK;
done:
    OPENSSL_free(att);
    OPENSSL_free(quote);
    OPENSSL_free(log);
    return rc;
}

static dstack_status check_bindings(X509 *cert, dstack_ratls_info *out, dstack_error *err)
{
    const dstack_attestation *att = &out->attestation;
    unsigned char *spki = NULL;
    uint8_t expected[64], rtmr3[48];
    int spki_len;

    if (!dstack_attestation_is_tdx(att) || att->quote == NULL)
        return DSTACK_OK; /* other platforms: nothing this library can bind (protocol.md §4.4.1) */
    out->quote_parsed =
        dstack_tdx_quote_parse(att->quote, att->quote_len, &out->quote, NULL) == DSTACK_OK;
    if (!out->quote_parsed)
        return DSTACK_OK;
    /* The certificate's own SPKI bytes, exactly as signed. */
    spki_len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &spki);
    if (spki_len <= 0)
        return dstack_error_set(err, DSTACK_ERR_CRYPTO, NULL, NULL,
                                "cannot encode the certificate public key");
    dstack_ratls_report_data(spki, (size_t)spki_len, expected);
    OPENSSL_free(spki);
    out->report_data_binds_key = CRYPTO_memcmp(att->report_data, expected, 64) == 0 &&
                                 CRYPTO_memcmp(out->quote.report_data, expected, 64) == 0;
    dstack_runtime_events_replay(att->runtime_events, att->runtime_events_len, rtmr3);
    out->rtmr3_matches = memcmp(rtmr3, out->quote.rtmr[3], 48) == 0;
    return DSTACK_OK;
}

static dstack_status read_identity_exts(X509 *cert, dstack_ratls_info *out, dstack_error *err)
{
    unsigned char *payload = NULL;
    size_t len;
    bool found;
    dstack_status rc;

    if ((rc = get_ext(cert, DSTACK_OID_APP_ID, &found, &payload, &len, err)) != DSTACK_OK)
        return rc;
    /* 2024 development builds put other data in .1.3; only a 20-byte id counts
     * (protocol.md §4.1). */
    if (found && len == APP_ID_LEN) {
        memcpy(out->app_id, payload, APP_ID_LEN);
        out->has_app_id = true;
    }
    OPENSSL_free(payload);
    if ((rc = get_ext(cert, DSTACK_OID_SPECIAL_USAGE, &found, &payload, &len, err)) != DSTACK_OK)
        return rc;
    if (found && (len >= sizeof(out->special_usage) || memchr(payload, 0, len) != NULL))
        rc = dstack_error_set(err, DSTACK_ERR_PROTOCOL, NULL, NULL,
                              "special-usage extension (%s) is too long or contains NUL",
                              DSTACK_OID_SPECIAL_USAGE);
    else if (found)
        memcpy(out->special_usage, payload, len + 1);
    OPENSSL_free(payload);
    return rc;
}

dstack_status dstack_ratls_inspect(X509 *cert, dstack_ratls_info *out, dstack_error *err)
{
    dstack_status rc;

    memset(out, 0, sizeof(*out));
    if (cert == NULL)
        return dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL, "no certificate to inspect");
    if ((rc = load_attestation(cert, out, err)) != DSTACK_OK ||
        (rc = read_identity_exts(cert, out, err)) != DSTACK_OK)
        goto err;
    if (out->has_attestation && (rc = check_bindings(cert, out, err)) != DSTACK_OK)
        goto err;
    return DSTACK_OK;
err:
    dstack_ratls_info_free(out);
    return rc;
}
