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

static dstack_status decode(json_object *resp, void *response, const dstack_json_ctx *ctx)
{
    dstack_tls_key_response *out = response;
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
        return dstack_json_out_of_memory(ctx);
    memcpy(out->key_pem, pem, len + 1);
    return dstack_json_get_string_array(resp, "certificate_chain", &out->certificate_chain,
                                        &out->certificate_chain_len, ctx);
}

static void release(void *out)
{
    dstack_tls_key_response_free(out);
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

/* The fields one method adds to the common ones. */
typedef dstack_status add_fields_fn(json_object *req, const dstack_tls_key_request *in,
                                    dstack_error *err);

/* Both RPCs: the common request fields, the method's own, and the same response. */
static dstack_status issue(dstack_client *c, const char *method,
                           const dstack_tls_key_request *request, add_fields_fn *add_fields,
                           dstack_tls_key_response *out, dstack_error *err)
{
    dstack_tls_key_request in;
    json_object *req = NULL;
    dstack_rpc_reply reply = {out, decode, release, "key"};
    dstack_status rc = begin(method, request, &in, out, &req, err);

    if (rc == DSTACK_OK)
        rc = add_fields(req, &in, err);
    if (rc == DSTACK_OK)
        rc = dstack_rpc_call(c, method, req, &reply, err);
    json_object_put(req);
    return rc;
}

static dstack_status add_get_tls_key_fields(json_object *req, const dstack_tls_key_request *in,
                                            dstack_error *err)
{
    dstack_status rc = DSTACK_OK;

    /* optional uint64: absent = unset, any number = set (protocol.md §1.4). */
    if (in->has_not_before)
        rc = dstack_json_add_uint64(req, "not_before", in->not_before, err);
    if (rc == DSTACK_OK && in->has_not_after)
        rc = dstack_json_add_uint64(req, "not_after", in->not_after, err);
    if (rc == DSTACK_OK)
        rc = dstack_json_add_bool(req, "with_app_info", in->with_app_info, err);
    return rc;
}

dstack_status dstack_get_tls_key(dstack_client *c, const dstack_tls_key_request *request,
                                 dstack_tls_key_response *out, dstack_error *err)
{
    return issue(c, "GetTlsKey", request, add_get_tls_key_fields, out, err);
}

static dstack_status add_derive_key_fields(json_object *req, const dstack_tls_key_request *in,
                                           dstack_error *err)
{
    dstack_status rc = dstack_json_add_string(req, "path", in->path, err);
    return rc == DSTACK_OK ? dstack_json_add_bool(req, "random_seed", in->random_seed, err) : rc;
}

dstack_status dstack_tappd_derive_key(dstack_client *c, const dstack_tls_key_request *request,
                                      dstack_tls_key_response *out, dstack_error *err)
{
    return issue(c, "DeriveKey", request, add_derive_key_fields, out, err);
}
