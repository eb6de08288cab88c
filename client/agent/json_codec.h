/* libdstack internal — strict JSON decoding of agent responses (protocol.md §1.4) and the shared
 * "send a JSON request, get a JSON object back" step of every typed RPC. Not installed.
 *
 * Field getters follow proto3: a missing field yields its default ("", 0, false, [], empty
 * bytes); a field of the wrong JSON type (including null) is DSTACK_ERR_PROTOCOL with a
 * message naming the method, the endpoint and the field.
 */
#ifndef DSTACK_JSON_CODEC_H
#define DSTACK_JSON_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include <dstack/rpc.h>

/* Where a decoded value came from, for error messages. */
typedef struct dstack_json_ctx {
    char method[64]; /* display name, e.g. "GetKey" or "Tappd.DeriveKey" */
    const char *endpoint;
    const char *scope; /* "" or a prefix such as "tcb_info." for nested objects */
    dstack_error *err;
} dstack_json_ctx;

/* Parses exactly one JSON value from text[0..len) (trailing whitespace allowed). Empty text and
 * the literal null give *out = NULL. On failure *why (if non-NULL) names the problem. The
 * tokenizer's scratch buffer is cleansed because responses carry keys. */
dstack_status dstack_json_parse_text(const char *text, size_t len, json_object **out,
                                     const char **why);

/* Like dstack_call_raw, but non-200 → DSTACK_ERR_AGENT (with the agent's error text) and the
 * body must be a JSON value (object, or the literal null for Empty responses → *out = NULL). */
dstack_status dstack_call(dstack_client *client, const char *method, const char *json_body,
                          json_object **out, dstack_error *err);

/* Serialises `request`, POSTs it as `method` and requires a JSON object back (or, when
 * `allow_empty`, also null / an empty body → *response = NULL). Fills ctx for the getters. */
dstack_status dstack_rpc_invoke(dstack_client *c, const char *method, json_object *request,
                                bool allow_empty, json_object **response, dstack_json_ctx *ctx,
                                dstack_error *err);

/* Getters. `out` pointers are untouched on error except where noted. */
dstack_status dstack_json_get_string(const json_object *obj, const char *field, const char **out,
                                     const dstack_json_ctx *ctx);
/* Always leaves a string ("" default) in *out on success; OPENSSL_free it. */
dstack_status dstack_json_dup_string(const json_object *obj, const char *field, char **out,
                                     const dstack_json_ctx *ctx);
dstack_status dstack_json_get_bool(const json_object *obj, const char *field, bool *out,
                                   const dstack_json_ctx *ctx);
dstack_status dstack_json_get_uint64(const json_object *obj, const char *field, uint64_t *out,
                                     const dstack_json_ctx *ctx);
/* Hex bytes; `secure` allocates in the OpenSSL secure heap. expect_len 0 = any length. */
dstack_status dstack_json_get_hex(const json_object *obj, const char *field, bool secure,
                                  size_t expect_len, dstack_bytes *out, const dstack_json_ctx *ctx);
/* Array of hex strings (e.g. signature_chain). Free with dstack_bytes_array_free. */
dstack_status dstack_json_get_hex_array(const json_object *obj, const char *field,
                                        dstack_bytes **out, size_t *out_len,
                                        const dstack_json_ctx *ctx);
/* Array of strings. Free with dstack_string_array_free. */
dstack_status dstack_json_get_string_array(const json_object *obj, const char *field, char ***out,
                                           size_t *out_len, const dstack_json_ctx *ctx);

/* Adds hex(data) under `field` to a request object. */
dstack_status dstack_json_add_hex(json_object *req, const char *field, const uint8_t *data,
                                  size_t len, dstack_error *err);
/* Adds a string (NULL → ""). */
dstack_status dstack_json_add_string(json_object *req, const char *field, const char *value,
                                     dstack_error *err);
dstack_status dstack_json_add_bool(json_object *req, const char *field, bool value,
                                   dstack_error *err);

/* Overwrites a string field's characters in place with zeros (json-c owns the memory and
 * frees it without cleansing), used for key material before json_object_put. */
void dstack_json_scrub_string(json_object *obj, const char *field);
/* Overwrites every string in the tree (for replies freed on an error path). */
void dstack_json_scrub_all(json_object *obj);

/* Sets DSTACK_ERR_PROTOCOL "<method> on <endpoint>: <scope><field> …". */
dstack_status dstack_json_field_error(const dstack_json_ctx *ctx, const char *field,
                                      const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* A nested decoder (event log, …) failed on `field`: prefix its message with the method,
 * endpoint and field, and report it as DSTACK_ERR_PROTOCOL (DSTACK_ERR_INTERNAL stays). */
dstack_status dstack_json_nested_error(const dstack_json_ctx *ctx, const char *field,
                                       dstack_status rc);

void dstack_bytes_array_free(dstack_bytes *arr, size_t n);
void dstack_string_array_free(char **arr, size_t n);
/* Hex text → bytes (protocol.md §1.4: repeated 0x prefix stripped, either case, even length). */
bool dstack_json_hex_to_bytes(const char *hex, size_t hex_len, bool secure, dstack_bytes *out,
                              bool *alloc_failed);

#endif
