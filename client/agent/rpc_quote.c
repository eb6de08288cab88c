/* Quotes and attestations: GetQuote and Attest (DstackGuest), TdxQuote and RawQuote (Tappd),
 * GetAttestationForAppKey (Worker) — protocol.md §2.1–§2.3. */
#include "agent/json_codec.h"

#include <string.h>

#include <openssl/crypto.h>

/* GetQuote / Attest accept at most 64 bytes of report_data (protocol.md §2.1, §2.5). */
#define REPORT_DATA_MAX 64

void dstack_quote_response_free(dstack_quote_response *r)
{
    if (r == NULL)
        return;
    dstack_bytes_free(&r->quote);
    OPENSSL_free(r->event_log_json);
    dstack_event_log_free(&r->event_log);
    dstack_bytes_free(&r->report_data);
    OPENSSL_free(r->vm_config);
    OPENSSL_free(r->hash_algorithm);
    OPENSSL_free(r->prefix);
    dstack_bytes_free(&r->attestation);
    memset(r, 0, sizeof(*r));
}

/* Fields shared by GetQuoteResponse and TdxQuoteResponse. `tdx` selects the TdxQuote shape
 * (hash_algorithm, prefix) instead of GetQuote's (report_data, vm_config). */
static dstack_status decode(json_object *resp, bool tdx, dstack_quote_response *out,
                            const dstack_json_ctx *ctx)
{
    dstack_status rc;

    if ((rc = dstack_json_get_hex(resp, "quote", false, 0, &out->quote, ctx)) != DSTACK_OK ||
        (rc = dstack_json_dup_string(resp, "event_log", &out->event_log_json, ctx)) != DSTACK_OK)
        return rc;
    if (tdx) {
        if ((rc = dstack_json_dup_string(resp, "hash_algorithm", &out->hash_algorithm, ctx)) ||
            (rc = dstack_json_dup_string(resp, "prefix", &out->prefix, ctx)) ||
            (rc = dstack_json_dup_string(resp, "vm_config", &out->vm_config, ctx)))
            return rc;
    } else {
        /* attestation: 0.6 agents without a TDX quote; absent when empty (protocol.md §2.6.2) */
        if ((rc = dstack_json_get_hex(resp, "report_data", false, 0, &out->report_data, ctx)) ||
            (rc = dstack_json_dup_string(resp, "vm_config", &out->vm_config, ctx)) ||
            (rc = dstack_json_get_hex(resp, "attestation", false, 0, &out->attestation, ctx)))
            return rc;
        out->hash_algorithm = OPENSSL_strdup("");
        out->prefix = OPENSSL_strdup("");
        if (out->hash_algorithm == NULL || out->prefix == NULL)
            return dstack_error_set(ctx->err, DSTACK_ERR_INTERNAL, ctx->method, ctx->endpoint,
                                    "out of memory");
    }
    /* event_log is JSON text inside a string (protocol.md §1.4, §5.2); "" means no log. */
    if (out->event_log_json[0] != '\0') {
        rc = dstack_event_log_parse(out->event_log_json, strlen(out->event_log_json),
                                    &out->event_log, ctx->err);
        if (rc != DSTACK_OK)
            return dstack_json_nested_error(ctx, "event_log", rc);
    }
    return DSTACK_OK;
}

static dstack_status quote_call(dstack_client *c, const char *method, json_object *req, bool tdx,
                                dstack_quote_response *out, dstack_error *err)
{
    json_object *resp = NULL;
    dstack_json_ctx ctx;
    dstack_status rc = dstack_rpc_invoke(c, method, req, false, &resp, &ctx, err);

    if (rc == DSTACK_OK)
        rc = decode(resp, tdx, out, &ctx);
    json_object_put(resp);
    if (rc != DSTACK_OK)
        dstack_quote_response_free(out);
    return rc;
}

static dstack_status begin(const char *method, const uint8_t *report_data, size_t len,
                           size_t max_len, void *out, size_t out_size, json_object **req,
                           dstack_error *err)
{
    dstack_error_clear(err);
    *req = NULL;
    if (out == NULL)
        return dstack_error_set(err, DSTACK_ERR_USAGE, method, NULL, "%s: no output structure",
                                method);
    memset(out, 0, out_size);
    if (len > 0 && report_data == NULL)
        return dstack_error_set(err, DSTACK_ERR_USAGE, method, NULL,
                                "%s: report_data is NULL but its length is %zu", method, len);
    if (max_len > 0 && len > max_len)
        return dstack_error_set(err, DSTACK_ERR_USAGE, method, NULL,
                                "%s: report_data is %zu bytes, at most %zu allowed", method, len,
                                max_len);
    if ((*req = json_object_new_object()) == NULL)
        return dstack_error_set(err, DSTACK_ERR_INTERNAL, method, NULL, "out of memory");
    return dstack_json_add_hex(*req, "report_data", report_data, len, err);
}

dstack_status dstack_get_quote(dstack_client *c, const uint8_t *report_data, size_t len,
                               dstack_quote_response *out, dstack_error *err)
{
    json_object *req = NULL;
    dstack_status rc =
        begin("GetQuote", report_data, len, REPORT_DATA_MAX, out, sizeof(*out), &req, err);
    if (rc == DSTACK_OK)
        rc = quote_call(c, "GetQuote", req, false, out, err);
    json_object_put(req);
    return rc;
}

dstack_status dstack_tappd_tdx_quote(dstack_client *c, const uint8_t *report_data, size_t len,
                                     const char *hash_algorithm, const char *prefix,
                                     dstack_quote_response *out, dstack_error *err)
{
    json_object *req = NULL;
    /* Any length: the agent hashes it (or, for "raw", insists on exactly 64). */
    dstack_status rc = begin("TdxQuote", report_data, len, 0, out, sizeof(*out), &req, err);

    if (rc == DSTACK_OK)
        rc = dstack_json_add_string(req, "hash_algorithm", hash_algorithm, err);
    if (rc == DSTACK_OK)
        rc = dstack_json_add_string(req, "prefix", prefix, err);
    if (rc == DSTACK_OK)
        rc = quote_call(c, "TdxQuote", req, true, out, err);
    json_object_put(req);
    return rc;
}

dstack_status dstack_tappd_raw_quote(dstack_client *c, const uint8_t *report_data, size_t len,
                                     dstack_quote_response *out, dstack_error *err)
{
    json_object *req = NULL;
    dstack_status rc = begin("RawQuote", report_data, len, 0, out, sizeof(*out), &req, err);

    if (rc == DSTACK_OK)
        rc = quote_call(c, "RawQuote", req, true, out, err);
    json_object_put(req);
    return rc;
}

dstack_status dstack_worker_get_attestation_for_app_key(dstack_client *c, const char *algorithm,
                                                        dstack_quote_response *out,
                                                        dstack_error *err)
{
    json_object *req = NULL;
    dstack_status rc;

    dstack_error_clear(err);
    if (out == NULL)
        return dstack_error_set(err, DSTACK_ERR_USAGE, "GetAttestationForAppKey", NULL,
                                "GetAttestationForAppKey: no output structure");
    memset(out, 0, sizeof(*out));
    if ((req = json_object_new_object()) == NULL)
        return dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, NULL, "out of memory");
    rc = dstack_json_add_string(req, "algorithm", algorithm, err);
    if (rc == DSTACK_OK)
        rc = quote_call(c, "GetAttestationForAppKey", req, false, out, err);
    json_object_put(req);
    return rc;
}

dstack_status dstack_attest(dstack_client *c, const uint8_t *report_data, size_t len,
                            dstack_bytes *attestation, dstack_error *err)
{
    json_object *req = NULL, *resp = NULL;
    dstack_json_ctx ctx;
    dstack_status rc = begin("Attest", report_data, len, REPORT_DATA_MAX, attestation,
                             attestation != NULL ? sizeof(*attestation) : 0, &req, err);

    if (rc == DSTACK_OK)
        rc = dstack_rpc_invoke(c, "Attest", req, false, &resp, &ctx, err);
    if (rc == DSTACK_OK)
        rc = dstack_json_get_hex(resp, "attestation", false, 0, attestation, &ctx);
    json_object_put(resp);
    json_object_put(req);
    return rc;
}
