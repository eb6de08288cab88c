/* Sign, Verify (0.5.6+) and EmitEvent (0.5.0–0.5.11, removed in 0.6) on DstackGuest
 * (protocol.md §2.1, §2.6.1). */
#include "agent/json_codec.h"

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

void dstack_sign_response_free(dstack_sign_response *r)
{
    if (r == NULL)
        return;
    dstack_bytes_free(&r->signature);
    dstack_bytes_array_free(r->signature_chain, r->signature_chain_len);
    dstack_bytes_free(&r->public_key);
    memset(r, 0, sizeof(*r));
}

static dstack_status usage(dstack_error *err, const char *method, const char *what)
{
    return dstack_error_set(err, DSTACK_ERR_USAGE, method, NULL, "%s: %s", method, what);
}

dstack_status dstack_sign(dstack_client *c, const char *algorithm, const uint8_t *data, size_t len,
                          dstack_sign_response *out, dstack_error *err)
{
    json_object *req = NULL, *resp = NULL;
    dstack_json_ctx ctx;
    dstack_status rc;

    dstack_error_clear(err);
    if (out == NULL)
        return usage(err, "Sign", "no output structure");
    memset(out, 0, sizeof(*out));
    if (len > 0 && data == NULL)
        return usage(err, "Sign", "data is NULL but has a length");
    if ((req = json_object_new_object()) == NULL)
        return dstack_error_set(err, DSTACK_ERR_INTERNAL, "Sign", NULL, "out of memory");
    if ((rc = dstack_json_add_string(req, "algorithm", algorithm, err)) != DSTACK_OK ||
        (rc = dstack_json_add_hex(req, "data", data, len, err)) != DSTACK_OK)
        goto done;
    rc = dstack_rpc_invoke(c, "Sign", req, false, &resp, &ctx, err);
    if (rc != DSTACK_OK)
        goto done;
    if ((rc = dstack_json_get_hex(resp, "signature", false, 0, &out->signature, &ctx)) ||
        (rc = dstack_json_get_hex_array(resp, "signature_chain", &out->signature_chain,
                                        &out->signature_chain_len, &ctx)) ||
        (rc = dstack_json_get_hex(resp, "public_key", false, 0, &out->public_key, &ctx)))
        goto done;
done:
    json_object_put(resp);
    json_object_put(req);
    if (rc != DSTACK_OK)
        dstack_sign_response_free(out);
    return rc;
}

dstack_status dstack_verify(dstack_client *c, const char *algorithm, const uint8_t *data,
                            size_t data_len, const uint8_t *signature, size_t sig_len,
                            const uint8_t *public_key, size_t pub_len, bool *valid,
                            dstack_error *err)
{
    json_object *req = NULL, *resp = NULL;
    dstack_json_ctx ctx;
    dstack_status rc;

    dstack_error_clear(err);
    if (valid == NULL)
        return usage(err, "Verify", "no output flag");
    *valid = false;
    if ((data_len > 0 && data == NULL) || (sig_len > 0 && signature == NULL) ||
        (pub_len > 0 && public_key == NULL))
        return usage(err, "Verify", "a buffer is NULL but has a length");
    if ((req = json_object_new_object()) == NULL)
        return dstack_error_set(err, DSTACK_ERR_INTERNAL, "Verify", NULL, "out of memory");
    if ((rc = dstack_json_add_string(req, "algorithm", algorithm, err)) != DSTACK_OK ||
        (rc = dstack_json_add_hex(req, "data", data, data_len, err)) != DSTACK_OK ||
        (rc = dstack_json_add_hex(req, "signature", signature, sig_len, err)) != DSTACK_OK ||
        (rc = dstack_json_add_hex(req, "public_key", public_key, pub_len, err)) != DSTACK_OK)
        goto done;
    rc = dstack_rpc_invoke(c, "Verify", req, false, &resp, &ctx, err);
    if (rc == DSTACK_OK)
        rc = dstack_json_get_bool(resp, "valid", valid, &ctx);
done:
    json_object_put(resp);
    json_object_put(req);
    return rc;
}

/* An agent without EmitEvent answers "Service not found: EmitEvent". Which agent it is decides
 * what the caller should do instead, so its Version is asked (protocol.md §2.6.1). */
static void explain_missing_emit_event(dstack_client *c, dstack_error *err)
{
    dstack_version_info v;
    dstack_error verr;
    unsigned major = 0, minor = 0;

    if (err == NULL || strstr(err->agent_error, "Service not found") == NULL)
        return;
    memset(&v, 0, sizeof(v));
    dstack_error_clear(&verr);
    if (dstack_version(c, &v, &verr) == DSTACK_OK &&
        sscanf(v.version, "%u.%u", &major, &minor) == 2 && (major > 0 || minor >= 6))
        dstack_error_append(err,
                            "; the agent is dstack %.32s, which removed EmitEvent (0.6): "
                            "runtime events are extended inside the CVM with "
                            "`dstack-util extend`",
                            v.version);
    else if (verr.status == DSTACK_OK)
        dstack_error_append(err, "; the agent is dstack %.32s, which has no EmitEvent", v.version);
    else
        dstack_error_append(err, "; agents before 0.5.0 have no EmitEvent");
    dstack_version_info_free(&v);
}

dstack_status dstack_emit_event(dstack_client *c, const char *event, const uint8_t *payload,
                                size_t payload_len, dstack_error *err)
{
    json_object *req = NULL, *resp = NULL;
    dstack_json_ctx ctx;
    dstack_status rc;

    dstack_error_clear(err);
    /* The agent accepts an empty name; the SDKs refuse it, and so do we (protocol.md §2.1). */
    if (event == NULL || *event == '\0')
        return usage(err, "EmitEvent", "the event name must not be empty");
    if (payload_len > 0 && payload == NULL)
        return usage(err, "EmitEvent", "payload is NULL but has a length");
    if ((req = json_object_new_object()) == NULL)
        return dstack_error_set(err, DSTACK_ERR_INTERNAL, "EmitEvent", NULL, "out of memory");
    if ((rc = dstack_json_add_string(req, "event", event, err)) != DSTACK_OK ||
        (rc = dstack_json_add_hex(req, "payload", payload, payload_len, err)) != DSTACK_OK)
        goto done;
    /* The response is Empty: the literal null, an empty body, or {} (protocol.md §1.4). */
    rc = dstack_rpc_invoke(c, "EmitEvent", req, true, &resp, &ctx, err);
    if (rc == DSTACK_ERR_AGENT)
        explain_missing_emit_event(c, err);
done:
    json_object_put(resp);
    json_object_put(req);
    return rc;
}
