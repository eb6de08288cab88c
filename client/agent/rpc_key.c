/* GetKey (DstackGuest) and DeriveK256Key (Tappd): deterministic 32-byte keys with their
 * signature chain (protocol.md §2.1 GetKey, §2.2 DeriveK256Key, §3.2, §3.4). */
#include "agent/json_codec.h"

#include <string.h>

#include <openssl/crypto.h>

#include "crypto/pkey_util.h"

#define DERIVED_KEY_LEN 32

void dstack_key_response_free(dstack_key_response *r)
{
    if (r == NULL)
        return;
    dstack_bytes_free(&r->key);
    dstack_bytes_array_free(r->signature_chain, r->signature_chain_len);
    memset(r, 0, sizeof(*r));
}

/* The response's key and signature chain; only the field names differ between the RPCs. */
static dstack_status decode_key(json_object *resp, const char *key_field, const char *chain_field,
                                dstack_key_response *out, const dstack_json_ctx *ctx)
{
    dstack_status rc = dstack_json_get_hex(resp, key_field, true, DERIVED_KEY_LEN, &out->key, ctx);
    if (rc != DSTACK_OK)
        return rc;
    return dstack_json_get_hex_array(resp, chain_field, &out->signature_chain,
                                     &out->signature_chain_len, ctx);
}

static dstack_status decode_get_key(json_object *resp, void *out, const dstack_json_ctx *ctx)
{
    return decode_key(resp, "key", "signature_chain", out, ctx);
}

static dstack_status decode_k256_key(json_object *resp, void *out, const dstack_json_ctx *ctx)
{
    return decode_key(resp, "k256_key", "k256_signature_chain", out, ctx);
}

static void release(void *out)
{
    dstack_key_response_free(out);
}

/* Both RPCs take GetKeyArgs. The key lands in the secure heap; its hex text in the response is
 * scrubbed. */
static dstack_status derive(dstack_client *c, const char *method, const dstack_rpc_reply *reply,
                            const char *path, const char *purpose, const char *algorithm,
                            dstack_error *err)
{
    json_object *req = NULL;
    dstack_status rc = dstack_rpc_begin(method, reply->out, sizeof(dstack_key_response), &req, err);

    if (rc == DSTACK_OK)
        rc = dstack_json_add_string(req, "path", path, err);
    if (rc == DSTACK_OK)
        rc = dstack_json_add_string(req, "purpose", purpose, err);
    /* Omitted when empty: the agent's default is secp256k1 and agents before 0.5.6 do not
     * know the field (protocol.md §3.3). */
    if (rc == DSTACK_OK && algorithm != NULL && *algorithm != '\0')
        rc = dstack_json_add_string(req, "algorithm", algorithm, err);
    if (rc == DSTACK_OK)
        rc = dstack_rpc_call(c, method, req, reply, err);
    json_object_put(req);
    return rc;
}

dstack_status dstack_get_key(dstack_client *c, const char *path, const char *purpose,
                             const char *algorithm, dstack_key_response *out, dstack_error *err)
{
    dstack_rpc_reply reply = {out, decode_get_key, release, "key"};
    return derive(c, "GetKey", &reply, path, purpose, algorithm, err);
}

dstack_status dstack_tappd_derive_k256_key(dstack_client *c, const char *path, const char *purpose,
                                           const char *algorithm, dstack_key_response *out,
                                           dstack_error *err)
{
    dstack_rpc_reply reply = {out, decode_k256_key, release, "k256_key"};
    return derive(c, "DeriveK256Key", &reply, path, purpose, algorithm, err);
}
