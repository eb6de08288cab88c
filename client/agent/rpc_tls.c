/* GetTlsKey (DstackGuest) and DeriveKey (Tappd): a P-256 key as PKCS#8 PEM plus the
 * agent-issued certificate chain (protocol.md §2.1 GetTlsKey, §2.2 DeriveKey, §4.6). */
#include "agent/json_codec.h"

#include <string.h>

#include <openssl/crypto.h>

#include "base/api_internal.h"
#include "crypto/pkey_util.h"

void dstack_tls_key_response_free(dstack_tls_key_response *r)
{
    if (r == NULL)
        return;
    if (r->key_pem != NULL)
        OPENSSL_secure_clear_free(r->key_pem, strlen(r->key_pem) + 1);
    dstack_string_array_free(r->certificate_chain, r->certificate_chain_len);
    memset(r, 0, sizeof(*r));
}

static dstack_status add_common(json_object *req, const dstack_tls_key_request *in,
                                dstack_error *err)
{
    dstack_status rc;
    json_object *names = json_object_new_array();

    if (names == NULL || json_object_object_add(req, "alt_names", names) != 0) {
        json_object_put(names);
        return dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, NULL, "out of memory");
    }
    for (size_t i = 0; i < in->alt_names_len; i++) {
        json_object *s;
        if (in->alt_names == NULL || in->alt_names[i] == NULL)
            return dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL, "alt_names[%zu] is NULL", i);
        s = json_object_new_string(in->alt_names[i]);
        if (s == NULL || json_object_array_add(names, s) != 0) {
            json_object_put(s);
            return dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, NULL, "out of memory");
        }
    }
    if ((rc = dstack_json_add_string(req, "subject", in->subject, err)) != DSTACK_OK ||
        (rc = dstack_json_add_bool(req, "usage_ra_tls", in->usage_ra_tls, err)) != DSTACK_OK ||
        (rc = dstack_json_add_bool(req, "usage_server_auth", in->usage_server_auth, err)) !=
            DSTACK_OK ||
        (rc = dstack_json_add_bool(req, "usage_client_auth", in->usage_client_auth, err)) !=
            DSTACK_OK)
        return rc;
    return DSTACK_OK;
}

static dstack_status add_uint64(json_object *req, const char *field, uint64_t v, dstack_error *err)
{
    json_object *n = json_object_new_uint64(v);
    if (n == NULL || json_object_object_add(req, field, n) != 0) {
        json_object_put(n);
        return dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, NULL, "out of memory");
    }
    return DSTACK_OK;
}

static dstack_status decode(json_object *resp, dstack_tls_key_response *out,
                            const dstack_json_ctx *ctx)
{
    const char *pem;
    size_t len;
    dstack_status rc = dstack_json_get_string(resp, "key", &pem, ctx);

    if (rc != DSTACK_OK)
        return rc;
    len = strlen(pem);
    if (len == 0)
        return dstack_json_field_error(ctx, "key", "is empty, expected a PKCS#8 PEM key");
    out->key_pem = OPENSSL_secure_malloc(len + 1);
    if (out->key_pem == NULL)
        return dstack_error_set(ctx->err, DSTACK_ERR_INTERNAL, ctx->method, ctx->endpoint,
                                "out of memory");
    memcpy(out->key_pem, pem, len + 1);
    return dstack_json_get_string_array(resp, "certificate_chain", &out->certificate_chain,
                                        &out->certificate_chain_len, ctx);
}

static dstack_status issue(dstack_client *c, const char *method, json_object *req,
                           dstack_tls_key_response *out, dstack_error *err)
{
    json_object *resp = NULL;
    dstack_json_ctx ctx;
    dstack_status rc = dstack_rpc_invoke(c, method, req, false, &resp, &ctx, err);

    if (rc == DSTACK_OK)
        rc = decode(resp, out, &ctx);
    dstack_json_scrub_string(resp, "key");
    json_object_put(resp);
    if (rc != DSTACK_OK)
        dstack_tls_key_response_free(out);
    return rc;
}

/* Reads the caller's versioned request into `in` (api.h) and starts the JSON request. */
static dstack_status begin(const char *method, const dstack_tls_key_request *given,
                           dstack_tls_key_request *in, dstack_tls_key_response *out,
                           json_object **req, dstack_error *err)
{
    dstack_status rc;

    dstack_error_clear(err);
    *req = NULL;
    if (out == NULL || given == NULL)
        return dstack_error_set(err, DSTACK_ERR_USAGE, method, NULL,
                                "%s: request and response are required", method);
    memset(out, 0, sizeof(*out));
    rc = dstack_options_read(given, in, sizeof(*in), "dstack_tls_key_request", err);
    if (rc != DSTACK_OK)
        return rc;
    if ((*req = json_object_new_object()) == NULL)
        return dstack_error_set(err, DSTACK_ERR_INTERNAL, method, NULL, "out of memory");
    return add_common(*req, in, err);
}

dstack_status dstack_get_tls_key(dstack_client *c, const dstack_tls_key_request *request,
                                 dstack_tls_key_response *out, dstack_error *err)
{
    dstack_tls_key_request copy, *in = &copy;
    json_object *req = NULL;
    dstack_status rc = begin("GetTlsKey", request, &copy, out, &req, err);

    if (rc != DSTACK_OK)
        goto done;
    /* optional uint64: absent = unset, any number = set (protocol.md §1.4). */
    if (in->has_not_before && (rc = add_uint64(req, "not_before", in->not_before, err)))
        goto done;
    if (in->has_not_after && (rc = add_uint64(req, "not_after", in->not_after, err)))
        goto done;
    if ((rc = dstack_json_add_bool(req, "with_app_info", in->with_app_info, err)) != DSTACK_OK)
        goto done;
    rc = issue(c, "GetTlsKey", req, out, err);
done:
    json_object_put(req);
    return rc;
}

dstack_status dstack_tappd_derive_key(dstack_client *c, const dstack_tls_key_request *request,
                                      dstack_tls_key_response *out, dstack_error *err)
{
    dstack_tls_key_request copy, *in = &copy;
    json_object *req = NULL;
    dstack_status rc = begin("DeriveKey", request, &copy, out, &req, err);

    if (rc != DSTACK_OK)
        goto done;
    if ((rc = dstack_json_add_string(req, "path", in->path, err)) != DSTACK_OK ||
        (rc = dstack_json_add_bool(req, "random_seed", in->random_seed, err)) != DSTACK_OK)
        goto done;
    rc = issue(c, "DeriveKey", req, out, err);
done:
    json_object_put(req);
    return rc;
}
