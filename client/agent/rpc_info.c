/* Info and Version, on any service (protocol.md §2.1, §2.4; WorkerInfo of 0.3.x–0.5.0), and
 * GpuInfo (0.6, protocol.md §2.6.3). */
#include "agent/json_codec.h"

#include <string.h>

#include <openssl/crypto.h>

#include "attest/attest_internal.h"

#define MEASUREMENT_LEN 48

static void tcb_info_free(dstack_tcb_info *t)
{
    OPENSSL_free(t->mr_aggregated);
    OPENSSL_free(t->os_image_hash);
    OPENSSL_free(t->compose_hash);
    OPENSSL_free(t->device_id);
    OPENSSL_free(t->app_compose);
    dstack_event_log_free(&t->event_log);
    memset(t, 0, sizeof(*t));
}

void dstack_app_info_free(dstack_app_info *r)
{
    if (r == NULL)
        return;
    dstack_bytes_free(&r->app_id);
    dstack_bytes_free(&r->instance_id);
    OPENSSL_free(r->app_cert);
    OPENSSL_free(r->tcb_info_json);
    tcb_info_free(&r->tcb_info);
    OPENSSL_free(r->app_name);
    dstack_bytes_free(&r->device_id);
    dstack_bytes_free(&r->mr_aggregated);
    OPENSSL_free(r->os_image_hash);
    OPENSSL_free(r->key_provider_info_json);
    OPENSSL_free(r->key_provider_name);
    OPENSSL_free(r->key_provider_id);
    dstack_bytes_free(&r->compose_hash);
    OPENSSL_free(r->vm_config);
    OPENSSL_free(r->cloud_vendor);
    OPENSSL_free(r->cloud_product);
    memset(r, 0, sizeof(*r));
}

static dstack_status oom(const dstack_json_ctx *ctx)
{
    return dstack_error_set(ctx->err, DSTACK_ERR_INTERNAL, ctx->method, ctx->endpoint,
                            "out of memory");
}

/* mrtd / rtmrN: 48-byte hex, or null on non-TDX platforms (protocol.md §2.4). Returns whether a
 * usable 48-byte value was stored. */
static dstack_status get_measurement(const json_object *obj, const char *field,
                                     uint8_t out[MEASUREMENT_LEN], bool *usable,
                                     const dstack_json_ctx *ctx)
{
    json_object *v;
    dstack_bytes b = {0};
    dstack_status rc;

    *usable = false;
    if (!json_object_object_get_ex(obj, field, &v) || v == NULL)
        return DSTACK_OK;
    rc = dstack_json_get_hex(obj, field, false, 0, &b, ctx);
    if (rc != DSTACK_OK)
        return rc;
    if (b.len == MEASUREMENT_LEN) {
        memcpy(out, b.data, MEASUREMENT_LEN);
        *usable = true;
    }
    dstack_bytes_free(&b);
    return DSTACK_OK;
}

/* tcb_info is a JSON object inside a string; its event_log is an array (protocol.md §2.4). */
static dstack_status decode_tcb_info(const char *text, dstack_tcb_info *out,
                                     const dstack_json_ctx *parent)
{
    dstack_json_ctx ctx = *parent;
    json_object *obj = NULL, *log;
    const char *why = NULL;
    bool ok[5] = {false};
    dstack_status rc;
    static const char *const rtmr_names[4] = {"rtmr0", "rtmr1", "rtmr2", "rtmr3"};

    ctx.scope = "tcb_info.";
    if (text[0] == '\0') {
        /* Worker.Info without public_tcbinfo (protocol.md §2.3): present stays false. */
        rc = DSTACK_OK;
        goto defaults;
    }
    rc = dstack_json_parse_text(text, strlen(text), &obj, &why);
    if (rc != DSTACK_OK || !json_object_is_type(obj, json_type_object)) {
        rc = dstack_json_field_error(parent, "tcb_info", "is not a JSON object text (%s)",
                                     why != NULL ? why : "wrong type");
        goto done;
    }
    out->present = true;
    if ((rc = get_measurement(obj, "mrtd", out->mrtd, &ok[0], &ctx)) != DSTACK_OK)
        goto done;
    for (int i = 0; i < 4; i++)
        if ((rc = get_measurement(obj, rtmr_names[i], out->rtmr[i], &ok[i + 1], &ctx)) != DSTACK_OK)
            goto done;
    out->has_rtmrs = ok[0] && ok[1] && ok[2] && ok[3] && ok[4];
    if ((rc = dstack_json_dup_string(obj, "mr_aggregated", &out->mr_aggregated, &ctx)) ||
        (rc = dstack_json_dup_string(obj, "os_image_hash", &out->os_image_hash, &ctx)) ||
        (rc = dstack_json_dup_string(obj, "compose_hash", &out->compose_hash, &ctx)) ||
        (rc = dstack_json_dup_string(obj, "device_id", &out->device_id, &ctx)) ||
        (rc = dstack_json_dup_string(obj, "app_compose", &out->app_compose, &ctx)))
        goto done;
    if (json_object_object_get_ex(obj, "event_log", &log)) {
        if (!json_object_is_type(log, json_type_array)) {
            rc = dstack_json_field_error(
                &ctx, "event_log", "is %s, expected an array",
                log == NULL ? "null" : json_type_to_name(json_object_get_type(log)));
            goto done;
        }
        rc = dstack_event_log_from_json(log, &out->event_log, ctx.err);
        if (rc != DSTACK_OK) {
            rc = dstack_json_nested_error(&ctx, "event_log", rc);
            goto done;
        }
    }
    goto done;

defaults:
    if ((out->mr_aggregated = OPENSSL_strdup("")) == NULL ||
        (out->os_image_hash = OPENSSL_strdup("")) == NULL ||
        (out->compose_hash = OPENSSL_strdup("")) == NULL ||
        (out->device_id = OPENSSL_strdup("")) == NULL ||
        (out->app_compose = OPENSSL_strdup("")) == NULL)
        rc = oom(parent);
done:
    json_object_put(obj);
    return rc;
}

/* key_provider_info: JSON {"name": …, "id": "<hex>"} in a string, "" if absent
 * (protocol.md §2.4). */
static dstack_status decode_key_provider(const char *text, dstack_app_info *out,
                                         const dstack_json_ctx *parent)
{
    dstack_json_ctx ctx = *parent;
    json_object *obj = NULL;
    const char *why = NULL;
    dstack_status rc;

    ctx.scope = "key_provider_info.";
    if (text[0] == '\0') {
        out->key_provider_name = OPENSSL_strdup("");
        out->key_provider_id = OPENSSL_strdup("");
        return out->key_provider_name && out->key_provider_id ? DSTACK_OK : oom(parent);
    }
    rc = dstack_json_parse_text(text, strlen(text), &obj, &why);
    if (rc != DSTACK_OK || !json_object_is_type(obj, json_type_object)) {
        rc = dstack_json_field_error(parent, "key_provider_info", "is not a JSON object text (%s)",
                                     why != NULL ? why : "wrong type");
        goto done;
    }
    if ((rc = dstack_json_dup_string(obj, "name", &out->key_provider_name, &ctx)) == DSTACK_OK)
        rc = dstack_json_dup_string(obj, "id", &out->key_provider_id, &ctx);
done:
    json_object_put(obj);
    return rc;
}

/* app_id / instance_id: bytes (hex) since 0.4; 0.3.x sent them as strings of hex text, which
 * decode the same — but a legacy agent's non-hex id is kept as its text bytes. */
static dstack_status get_id(const json_object *obj, const char *field, bool legacy,
                            dstack_bytes *out, const dstack_json_ctx *ctx)
{
    const char *s;
    dstack_status rc = dstack_json_get_hex(obj, field, false, 0, out, ctx);

    if (rc != DSTACK_ERR_PROTOCOL || !legacy)
        return rc;
    if ((rc = dstack_json_get_string(obj, field, &s, ctx)) != DSTACK_OK)
        return rc;
    dstack_error_clear(ctx->err);
    out->len = strlen(s);
    out->data = OPENSSL_memdup(s, out->len + 1);
    return out->data != NULL ? DSTACK_OK : oom(ctx);
}

static dstack_status decode_info(json_object *resp, dstack_app_info *out,
                                 const dstack_json_ctx *ctx)
{
    dstack_status rc;

    /* WorkerInfo (0.3.x–0.5.0) is recognisable by its public_logs/public_sysinfo flags. */
    out->legacy_worker_info = json_object_object_get_ex(resp, "public_logs", NULL) ||
                              json_object_object_get_ex(resp, "public_sysinfo", NULL);
    if ((rc = get_id(resp, "app_id", out->legacy_worker_info, &out->app_id, ctx)) ||
        (rc = get_id(resp, "instance_id", out->legacy_worker_info, &out->instance_id, ctx)) ||
        (rc = dstack_json_dup_string(resp, "app_cert", &out->app_cert, ctx)) ||
        (rc = dstack_json_dup_string(resp, "tcb_info", &out->tcb_info_json, ctx)) ||
        (rc = dstack_json_dup_string(resp, "app_name", &out->app_name, ctx)) ||
        (rc = dstack_json_get_hex(resp, "device_id", false, 0, &out->device_id, ctx)) ||
        (rc = dstack_json_get_hex(resp, "mr_aggregated", false, 0, &out->mr_aggregated, ctx)) ||
        (rc = dstack_json_dup_string(resp, "os_image_hash", &out->os_image_hash, ctx)) ||
        (rc = dstack_json_dup_string(resp, "key_provider_info", &out->key_provider_info_json,
                                     ctx)) ||
        (rc = dstack_json_get_hex(resp, "compose_hash", false, 0, &out->compose_hash, ctx)) ||
        (rc = dstack_json_dup_string(resp, "vm_config", &out->vm_config, ctx)) ||
        (rc = dstack_json_dup_string(resp, "cloud_vendor", &out->cloud_vendor, ctx)) ||
        (rc = dstack_json_dup_string(resp, "cloud_product", &out->cloud_product, ctx)))
        return rc;
    if ((rc = decode_tcb_info(out->tcb_info_json, &out->tcb_info, ctx)) != DSTACK_OK)
        return rc;
    return decode_key_provider(out->key_provider_info_json, out, ctx);
}

dstack_status dstack_info(dstack_client *c, dstack_app_info *out, dstack_error *err)
{
    json_object *resp = NULL;
    dstack_json_ctx ctx;
    dstack_status rc;

    dstack_error_clear(err);
    if (out == NULL)
        return dstack_error_set(err, DSTACK_ERR_USAGE, "Info", NULL, "Info: no output structure");
    memset(out, 0, sizeof(*out));
    rc = dstack_rpc_invoke(c, "Info", NULL, false, &resp, &ctx, err);
    if (rc == DSTACK_OK)
        rc = decode_info(resp, out, &ctx);
    json_object_put(resp);
    if (rc != DSTACK_OK)
        dstack_app_info_free(out);
    return rc;
}

void dstack_version_info_free(dstack_version_info *r)
{
    if (r == NULL)
        return;
    OPENSSL_free(r->version);
    OPENSSL_free(r->rev);
    memset(r, 0, sizeof(*r));
}

dstack_status dstack_version(dstack_client *c, dstack_version_info *out, dstack_error *err)
{
    json_object *resp = NULL;
    dstack_json_ctx ctx;
    dstack_status rc;

    dstack_error_clear(err);
    if (out == NULL)
        return dstack_error_set(err, DSTACK_ERR_USAGE, "Version", NULL,
                                "Version: no output structure");
    memset(out, 0, sizeof(*out));
    rc = dstack_rpc_invoke(c, "Version", NULL, false, &resp, &ctx, err);
    if (rc == DSTACK_OK &&
        (rc = dstack_json_dup_string(resp, "version", &out->version, &ctx)) == DSTACK_OK)
        rc = dstack_json_dup_string(resp, "rev", &out->rev, &ctx);
    json_object_put(resp);
    if (rc != DSTACK_OK)
        dstack_version_info_free(out);
    return rc;
}

void dstack_gpu_info_response_free(dstack_gpu_info_response *r)
{
    if (r == NULL)
        return;
    OPENSSL_free(r->attestation);
    memset(r, 0, sizeof(*r));
}

dstack_status dstack_gpu_info(dstack_client *c, dstack_gpu_info_response *out, dstack_error *err)
{
    json_object *resp = NULL;
    dstack_json_ctx ctx;
    dstack_status rc;

    dstack_error_clear(err);
    if (out == NULL)
        return dstack_error_set(err, DSTACK_ERR_USAGE, "GpuInfo", NULL,
                                "GpuInfo: no output structure");
    memset(out, 0, sizeof(*out));
    rc = dstack_rpc_invoke(c, "GpuInfo", NULL, false, &resp, &ctx, err);
    if (rc == DSTACK_OK)
        rc = dstack_json_dup_string(resp, "attestation", &out->attestation, &ctx);
    json_object_put(resp);
    if (rc != DSTACK_OK)
        dstack_gpu_info_response_free(out);
    return rc;
}
