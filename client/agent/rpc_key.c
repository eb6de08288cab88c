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

/* Both RPCs take GetKeyArgs; only the response field names differ. */
static dstack_status derive(dstack_client *c, const char *method, const char *key_field,
                            const char *chain_field, const char *path, const char *purpose,
                            const char *algorithm, dstack_key_response *out, dstack_error *err)
{
    dstack_status rc = DSTACK_ERR_INTERNAL;
    json_object *req = NULL, *resp = NULL;
    dstack_json_ctx ctx;

    dstack_error_clear(err);
    if (out == NULL)
        return dstack_error_set(err, DSTACK_ERR_USAGE, method, NULL, "%s: no output structure",
                                method);
    memset(out, 0, sizeof(*out));
    /* The key lands in the secure heap; make sure there is one (idempotent). */

    req = json_object_new_object();
    if (req == NULL)
        return dstack_error_set(err, DSTACK_ERR_INTERNAL, method, NULL, "out of memory");
    if ((rc = dstack_json_add_string(req, "path", path, err)) != DSTACK_OK ||
        (rc = dstack_json_add_string(req, "purpose", purpose, err)) != DSTACK_OK)
        goto done;
    /* Omitted when empty: the agent's default is secp256k1 and agents before 0.5.6 do not
     * know the field (protocol.md §3.3). */
    if (algorithm != NULL && *algorithm != '\0' &&
        (rc = dstack_json_add_string(req, "algorithm", algorithm, err)) != DSTACK_OK)
        goto done;

    rc = dstack_rpc_invoke(c, method, req, false, &resp, &ctx, err);
    if (rc != DSTACK_OK)
        goto done;
    rc = dstack_json_get_hex(resp, key_field, true, DERIVED_KEY_LEN, &out->key, &ctx);
    if (rc != DSTACK_OK)
        goto done;
    rc = dstack_json_get_hex_array(resp, chain_field, &out->signature_chain,
                                   &out->signature_chain_len, &ctx);
done:
    /* The response object held the key as hex text. */
    dstack_json_scrub_string(resp, key_field);
    json_object_put(resp);
    json_object_put(req);
    if (rc != DSTACK_OK)
        dstack_key_response_free(out);
    return rc;
}

dstack_status dstack_get_key(dstack_client *c, const char *path, const char *purpose,
                             const char *algorithm, dstack_key_response *out, dstack_error *err)
{
    return derive(c, "GetKey", "key", "signature_chain", path, purpose, algorithm, out, err);
}

dstack_status dstack_tappd_derive_k256_key(dstack_client *c, const char *path, const char *purpose,
                                           const char *algorithm, dstack_key_response *out,
                                           dstack_error *err)
{
    return derive(c, "DeriveK256Key", "k256_key", "k256_signature_chain", path, purpose, algorithm,
                  out, err);
}
