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
            return dstack_json_out_of_memory(ctx);
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

static dstack_status decode_get_quote(json_object *resp, void *out, const dstack_json_ctx *ctx)
{
    return decode(resp, false, out, ctx);
}

static dstack_status decode_tdx_quote(json_object *resp, void *out, const dstack_json_ctx *ctx)
{
    return decode(resp, true, out, ctx);
}

static void release_quote(void *out)
{
    dstack_quote_response_free(out);
}

static dstack_status quote_call(dstack_client *c, const char *method, json_object *req, bool tdx,
                                dstack_quote_response *out, dstack_error *err)
{
    dstack_rpc_reply reply = {out, tdx ? decode_tdx_quote : decode_get_quote, release_quote, NULL};
    return dstack_rpc_call(c, method, req, &reply, err);
}

static dstack_status begin(const char *method, const uint8_t *report_data, size_t len,
                           size_t max_len, void *out, size_t out_size, json_object **req,
                           dstack_error *err)
{
    dstack_status rc = dstack_rpc_begin(method, out, out_size, req, err);

    if (rc != DSTACK_OK)
        return rc;
    if (len > 0 && report_data == NULL)
        return dstack_error_set(err, DSTACK_ERR_USAGE, method, NULL,
                                "%s: report_data is NULL but its length is %zu", method, len);
    if (max_len > 0 && len > max_len)
        return dstack_error_set(err, DSTACK_ERR_USAGE, method, NULL,
                                "%s: report_data is %zu bytes, at most %zu allowed", method, len,
                                max_len);
    return dstack_json_add_hex(*req, "report_data", report_data, len, err);
}

/* A request field beside report_data: {name, value}, a NULL name ends the list. */
typedef struct string_field {
    const char *name, *value;
} string_field;

/* GetQuote, TdxQuote and RawQuote: report_data plus `extra` string fields. */
static dstack_status report_data_quote(dstack_client *c, const char *method,
                                       const uint8_t *report_data, size_t len, size_t max_len,
                                       bool tdx, const string_field *extra,
                                       dstack_quote_response *out, dstack_error *err)
{
    json_object *req = NULL;
    dstack_status rc = begin(method, report_data, len, max_len, out, sizeof(*out), &req, err);

    for (; rc == DSTACK_OK && extra != NULL && extra->name != NULL; extra++)
        rc = dstack_json_add_string(req, extra->name, extra->value, err);
    if (rc == DSTACK_OK)
        rc = quote_call(c, method, req, tdx, out, err);
    json_object_put(req);
    return rc;
}

dstack_status dstack_get_quote(dstack_client *c, const uint8_t *report_data, size_t len,
                               dstack_quote_response *out, dstack_error *err)
{
    return report_data_quote(c, "GetQuote", report_data, len, REPORT_DATA_MAX, false, NULL, out,
                             err);
}

dstack_status dstack_tappd_tdx_quote(dstack_client *c, const uint8_t *report_data, size_t len,
                                     const char *hash_algorithm, const char *prefix,
                                     dstack_quote_response *out, dstack_error *err)
{
    const string_field extra[] = {
        {"hash_algorithm", hash_algorithm}, {"prefix", prefix}, {NULL, NULL}};
    /* Any length: the agent hashes it (or, for "raw", insists on exactly 64). */
    return report_data_quote(c, "TdxQuote", report_data, len, 0, true, extra, out, err);
}

dstack_status dstack_tappd_raw_quote(dstack_client *c, const uint8_t *report_data, size_t len,
                                     dstack_quote_response *out, dstack_error *err)
{
    return report_data_quote(c, "RawQuote", report_data, len, 0, true, NULL, out, err);
}

dstack_status dstack_worker_get_attestation_for_app_key(dstack_client *c, const char *algorithm,
                                                        dstack_quote_response *out,
                                                        dstack_error *err)
{
    json_object *req = NULL;
    dstack_status rc = dstack_rpc_begin("GetAttestationForAppKey", out, sizeof(*out), &req, err);

    if (rc == DSTACK_OK)
        rc = dstack_json_add_string(req, "algorithm", algorithm, err);
    if (rc == DSTACK_OK)
        rc = quote_call(c, "GetAttestationForAppKey", req, false, out, err);
    json_object_put(req);
    return rc;
}

static dstack_status decode_attestation(json_object *resp, void *out, const dstack_json_ctx *ctx)
{
    return dstack_json_get_hex(resp, "attestation", false, 0, out, ctx);
}

static void release_attestation(void *out)
{
    dstack_bytes_free(out);
}

dstack_status dstack_attest(dstack_client *c, const uint8_t *report_data, size_t len,
                            dstack_bytes *attestation, dstack_error *err)
{
    json_object *req = NULL;
    dstack_rpc_reply reply = {attestation, decode_attestation, release_attestation, NULL};
    dstack_status rc = begin("Attest", report_data, len, REPORT_DATA_MAX, attestation,
                             attestation != NULL ? sizeof(*attestation) : 0, &req, err);

    if (rc == DSTACK_OK)
        rc = dstack_rpc_call(c, "Attest", req, &reply, err);
    json_object_put(req);
    return rc;
}
