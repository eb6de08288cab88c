/* Strict JSON decoding of agent responses with proto3 defaults (protocol.md §1.4). */
#include "agent/json_codec.h"

#include "agent/transport_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <json-c/printbuf.h>
#include <openssl/crypto.h>

#include <dstack/keys.h>

static bool only_whitespace(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
            return false;
    return true;
}

/* Cleanses every string (values and nested ones) of a parsed tree; json-c frees without
 * cleansing. Depth is bounded by the tokenizer's nesting limit. */
void dstack_json_scrub_all(json_object *obj)
{
    switch (json_object_get_type(obj)) {
    case json_type_string:
        OPENSSL_cleanse((char *)json_object_get_string(obj),
                        (size_t)json_object_get_string_len(obj));
        break;
    case json_type_object: {
        json_object_object_foreach(obj, name, value)
        {
            (void)name;
            dstack_json_scrub_all(value);
        }
        break;
    }
    case json_type_array:
        for (size_t i = 0; i < json_object_array_length(obj); i++)
            dstack_json_scrub_all(json_object_array_get_idx(obj, i));
        break;
    default:
        break;
    }
}

dstack_status dstack_json_parse_text(const char *text, size_t len, json_object **out,
                                     const char **why)
{
    json_tokener *tok = NULL;
    json_object *obj = NULL;
    dstack_status rc = DSTACK_ERR_PROTOCOL;
    enum json_tokener_error jerr;

    *out = NULL;
    if (why != NULL)
        *why = NULL;
    if (text == NULL || only_whitespace(text, len))
        return DSTACK_OK;
    if (memchr(text, '\0', len) != NULL) {
        if (why != NULL)
            *why = "NUL byte in JSON text";
        return DSTACK_ERR_PROTOCOL;
    }
    if (len > INT32_MAX) {
        if (why != NULL)
            *why = "JSON text too large";
        return DSTACK_ERR_PROTOCOL;
    }
    tok = json_tokener_new();
    if (tok == NULL) {
        if (why != NULL)
            *why = "out of memory";
        return DSTACK_ERR_INTERNAL;
    }
    /* Size the scratch buffer for the longest possible token up front: growing it with
     * realloc() would free copies of earlier tokens (key hex) without cleansing them. */
    if (printbuf_memset(tok->pb, 0, 0, (int)len + 1) < 0) {
        json_tokener_free(tok);
        if (why != NULL)
            *why = "out of memory";
        return DSTACK_ERR_INTERNAL;
    }
    printbuf_reset(tok->pb);
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    obj = json_tokener_parse_ex(tok, text, (int)len);
    jerr = json_tokener_get_error(tok);
    if (obj == NULL && jerr == json_tokener_continue) {
        /* A top-level scalar ("null", "42") ends only at end of input: say so explicitly. */
        obj = json_tokener_parse_ex(tok, "", 1);
        jerr = json_tokener_get_error(tok);
    } else if (jerr == json_tokener_success && json_tokener_get_parse_end(tok) < len &&
               !only_whitespace(text + json_tokener_get_parse_end(tok),
                                len - json_tokener_get_parse_end(tok))) {
        if (why != NULL)
            *why = "trailing data after the JSON value";
        goto done;
    }
    if (jerr != json_tokener_success) {
        if (why != NULL)
            *why = json_tokener_error_desc(jerr);
        goto done;
    }
    *out = obj; /* NULL for the literal null */
    obj = NULL;
    rc = DSTACK_OK;
done:
    /* A failed parse leaves the values built so far (maybe a complete "key") on the
     * tokenizer's stack, freed by json_tokener_free without cleansing. */
    if (rc != DSTACK_OK)
        for (int i = 0; i <= tok->depth && i < tok->max_depth; i++)
            dstack_json_scrub_all(tok->stack[i].current);
    dstack_json_scrub_all(obj);
    json_object_put(obj);
    /* The tokenizer's scratch buffer still holds the last string token, which can be key hex
     * (GetKey) or a PEM key (GetTlsKey); json-c frees it without cleansing. The struct is
     * public in json-c 0.13–0.17 headers. */
    if (tok->pb != NULL && tok->pb->buf != NULL && tok->pb->size > 0)
        OPENSSL_cleanse(tok->pb->buf, (size_t)tok->pb->size);
    json_tokener_free(tok);
    return rc;
}

dstack_status dstack_json_field_error(const dstack_json_ctx *ctx, const char *field,
                                      const char *fmt, ...)
{
    char detail[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    return dstack_error_set(ctx->err, DSTACK_ERR_PROTOCOL, ctx->method, ctx->endpoint,
                            "%s on %s: response field \"%s%s\" %s", ctx->method,
                            ctx->endpoint != NULL ? ctx->endpoint : "",
                            ctx->scope != NULL ? ctx->scope : "", field, detail);
}

dstack_status dstack_json_nested_error(const dstack_json_ctx *ctx, const char *field,
                                       dstack_status rc)
{
    dstack_error *err = ctx->err;

    if (rc != DSTACK_ERR_INTERNAL)
        rc = DSTACK_ERR_PROTOCOL;
    if (err == NULL)
        return rc;
    {
        /* The inner error (e.g. from the event-log parser) becomes the detail of this RPC's. */
        char inner[sizeof(err->detail)];
        memcpy(inner, err->detail, sizeof(inner));
        dstack_error_set(err, rc, ctx->method, ctx->endpoint, "response field \"%s%s\": %s",
                         ctx->scope != NULL ? ctx->scope : "", field, inner);
    }
    return rc;
}

dstack_status dstack_rpc_invoke(dstack_client *c, const char *method, json_object *request,
                                bool allow_empty, json_object **response, dstack_json_ctx *ctx,
                                dstack_error *err)
{
    const char *body;
    dstack_status rc;

    *response = NULL;
    memset(ctx, 0, sizeof(*ctx));
    ctx->err = err;
    ctx->scope = "";
    if (c == NULL)
        return dstack_error_set(err, DSTACK_ERR_USAGE, method, NULL, "%s: no client", method);
    dstack_method_display(c->service, method, ctx->method, sizeof(ctx->method));
    ctx->endpoint = c->endpoint;
    body = request != NULL ? json_object_to_json_string_ext(request, JSON_C_TO_STRING_PLAIN) : "{}";
    if (body == NULL)
        return dstack_error_set(err, DSTACK_ERR_INTERNAL, ctx->method, c->endpoint,
                                "%s on %s: cannot serialise the request", ctx->method, c->endpoint);
    rc = dstack_call(c, method, body, response, err);
    if (rc == DSTACK_OK && *response == NULL && !allow_empty)
        rc = dstack_error_set(err, DSTACK_ERR_PROTOCOL, ctx->method, c->endpoint,
                              "%s on %s: empty response, expected a JSON object", ctx->method,
                              c->endpoint);
    return rc;
}

dstack_status dstack_rpc_begin(const char *method, void *out, size_t out_size, json_object **req,
                               dstack_error *err)
{
    dstack_error_clear(err);
    if (req != NULL)
        *req = NULL;
    if (out == NULL)
        return dstack_error_set(err, DSTACK_ERR_USAGE, method, NULL, "%s: no output structure",
                                method);
    memset(out, 0, out_size);
    if (req != NULL && (*req = json_object_new_object()) == NULL)
        return dstack_error_set(err, DSTACK_ERR_INTERNAL, method, NULL, "out of memory");
    return DSTACK_OK;
}

dstack_status dstack_rpc_call(dstack_client *c, const char *method, json_object *req,
                              const dstack_rpc_reply *reply, dstack_error *err)
{
    json_object *resp = NULL;
    dstack_json_ctx ctx;
    dstack_status rc = dstack_rpc_invoke(c, method, req, false, &resp, &ctx, err);

    if (rc == DSTACK_OK)
        rc = reply->decode(resp, reply->out, &ctx);
    if (reply->secret_field != NULL)
        dstack_json_scrub_string(resp, reply->secret_field);
    json_object_put(resp);
    if (rc != DSTACK_OK)
        reply->release(reply->out);
    return rc;
}

dstack_status dstack_json_out_of_memory(const dstack_json_ctx *ctx)
{
    return dstack_error_set(ctx->err, DSTACK_ERR_INTERNAL, ctx->method, ctx->endpoint,
                            "out of memory");
}

/* Missing → *out = NULL (caller applies the default); wrong type → error. */
static dstack_status lookup(const json_object *obj, const char *field, json_type want,
                            const char *want_name, json_object **out, const dstack_json_ctx *ctx)
{
    json_object *v = NULL;

    *out = NULL;
    if (!json_object_object_get_ex(obj, field, &v))
        return DSTACK_OK;
    if (!json_object_is_type(v, want))
        return dstack_json_field_error(
            ctx, field, "is %s, expected %s",
            v == NULL ? "null" : json_type_to_name(json_object_get_type(v)), want_name);
    *out = v;
    return DSTACK_OK;
}

dstack_status dstack_json_get_string(const json_object *obj, const char *field, const char **out,
                                     const dstack_json_ctx *ctx)
{
    json_object *v;
    dstack_status rc = lookup(obj, field, json_type_string, "a string", &v, ctx);
    if (rc == DSTACK_OK)
        *out = v != NULL ? json_object_get_string(v) : "";
    return rc;
}

dstack_status dstack_json_dup_string(const json_object *obj, const char *field, char **out,
                                     const dstack_json_ctx *ctx)
{
    const char *s;
    dstack_status rc = dstack_json_get_string(obj, field, &s, ctx);
    if (rc != DSTACK_OK)
        return rc;
    *out = OPENSSL_strdup(s);
    if (*out == NULL)
        return dstack_json_out_of_memory(ctx);
    return DSTACK_OK;
}

dstack_status dstack_json_get_bool(const json_object *obj, const char *field, bool *out,
                                   const dstack_json_ctx *ctx)
{
    json_object *v;
    dstack_status rc = lookup(obj, field, json_type_boolean, "a boolean", &v, ctx);
    if (rc == DSTACK_OK)
        *out = v != NULL && json_object_get_boolean(v);
    return rc;
}

dstack_status dstack_json_get_uint64(const json_object *obj, const char *field, uint64_t *out,
                                     const dstack_json_ctx *ctx)
{
    json_object *v;
    dstack_status rc = lookup(obj, field, json_type_int, "an unsigned integer", &v, ctx);
    if (rc != DSTACK_OK)
        return rc;
    if (v == NULL) {
        *out = 0;
        return DSTACK_OK;
    }
    /* json-c keeps values above INT64_MAX as uint64; get_int64 saturates for them. */
    int64_t s = json_object_get_int64(v);
    if (s < 0)
        return dstack_json_field_error(ctx, field, "is negative, expected an unsigned integer");
    *out = s == INT64_MAX ? json_object_get_uint64(v) : (uint64_t)s;
    return DSTACK_OK;
}

bool dstack_json_hex_to_bytes(const char *hex, size_t hex_len, bool secure, dstack_bytes *out,
                              bool *alloc_failed)
{
    size_t cap = hex_len / 2 + 1, got = 0;
    uint8_t *buf = secure ? OPENSSL_secure_malloc(cap) : OPENSSL_malloc(cap);

    *alloc_failed = buf == NULL;
    out->data = NULL;
    out->len = 0;
    if (buf == NULL)
        return false;
    if (!dstack_hex_decode(hex, hex_len, buf, cap, &got)) {
        if (secure)
            OPENSSL_secure_clear_free(buf, cap);
        else
            OPENSSL_clear_free(buf, cap);
        return false;
    }
    out->data = buf;
    out->len = got;
    return true;
}

dstack_status dstack_json_get_hex(const json_object *obj, const char *field, bool secure,
                                  size_t expect_len, dstack_bytes *out, const dstack_json_ctx *ctx)
{
    json_object *v;
    bool oom;
    dstack_status rc = lookup(obj, field, json_type_string, "a hex string", &v, ctx);

    out->data = NULL;
    out->len = 0;
    if (rc != DSTACK_OK)
        return rc;
    if (v == NULL && expect_len == 0)
        return DSTACK_OK;
    const char *s = v != NULL ? json_object_get_string(v) : "";
    size_t slen = v != NULL ? (size_t)json_object_get_string_len(v) : 0;
    /* A fixed-size field (keys: 32 bytes) far longer than it can be is refused before it is
     * decoded: a hostile megabyte of "key" hex would otherwise exhaust the secure heap and be
     * reported as out of memory. The slack allows a few "0x" prefixes (protocol.md §1.4). */
    if (expect_len != 0 && slen > 2 * expect_len + 16)
        return dstack_json_field_error(ctx, field, "is %zu characters long, expected %zu bytes",
                                       slen, expect_len);
    if (!dstack_json_hex_to_bytes(s, slen, secure, out, &oom)) {
        if (oom)
            return dstack_json_out_of_memory(ctx);
        /* Never echo the value: it may be key material. */
        return dstack_json_field_error(ctx, field, "is not valid hex (%zu characters)", slen);
    }
    if (expect_len != 0 && out->len != expect_len) {
        size_t got = out->len;
        dstack_bytes_free(out); /* knows secure-heap buffers */
        return dstack_json_field_error(ctx, field, "holds %zu bytes, expected %zu", got,
                                       expect_len);
    }
    return DSTACK_OK;
}

/* "signature_chain[1]": how array elements are named in messages. */
static const char *item_name(const char *field, size_t i, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s[%zu]", field, i);
    return buf;
}

/* Decodes one string item of an array into its slot; `name` is "field[i]" for messages. */
typedef dstack_status decode_item_fn(json_object *v, const char *name, void *item,
                                     const dstack_json_ctx *ctx);
typedef void free_items_fn(void *items, size_t n);

/* An array of strings (absent → empty): a new buffer of one `item_size` slot per item, each
 * filled by `decode`; anything but a string is an error naming the item and `expected`. */
static dstack_status get_array(const json_object *obj, const char *field, size_t item_size,
                               const char *expected, decode_item_fn *decode,
                               free_items_fn *free_items, void **out, size_t *out_len,
                               const dstack_json_ctx *ctx)
{
    json_object *arr;
    char name[96];
    char *items;
    size_t n = 0, i;
    dstack_status rc = lookup(obj, field, json_type_array, "an array", &arr, ctx);

    *out = NULL;
    *out_len = 0;
    if (rc != DSTACK_OK || arr == NULL || (n = json_object_array_length(arr)) == 0)
        return rc;
    if ((items = OPENSSL_zalloc(n * item_size)) == NULL)
        return dstack_json_out_of_memory(ctx);
    for (i = 0; i < n && rc == DSTACK_OK; i++) {
        json_object *v = json_object_array_get_idx(arr, i);
        item_name(field, i, name, sizeof(name));
        if (!json_object_is_type(v, json_type_string))
            rc = dstack_json_field_error(
                ctx, name, "is %s, expected %s",
                v == NULL ? "null" : json_type_to_name(json_object_get_type(v)), expected);
        else
            rc = decode(v, name, items + i * item_size, ctx);
    }
    if (rc != DSTACK_OK) {
        free_items(items, n);
        return rc;
    }
    *out = items;
    *out_len = n;
    return DSTACK_OK;
}

static dstack_status decode_hex_item(json_object *v, const char *name, void *item,
                                     const dstack_json_ctx *ctx)
{
    bool oom;

    if (dstack_json_hex_to_bytes(json_object_get_string(v), (size_t)json_object_get_string_len(v),
                                 false, item, &oom))
        return DSTACK_OK;
    return oom ? dstack_json_out_of_memory(ctx)
               : dstack_json_field_error(ctx, name, "is not valid hex");
}

static void free_hex_items(void *items, size_t n)
{
    dstack_bytes_array_free(items, n);
}

dstack_status dstack_json_get_hex_array(const json_object *obj, const char *field,
                                        dstack_bytes **out, size_t *out_len,
                                        const dstack_json_ctx *ctx)
{
    void *items;
    dstack_status rc = get_array(obj, field, sizeof(**out), "a hex string", decode_hex_item,
                                 free_hex_items, &items, out_len, ctx);
    *out = items;
    return rc;
}

static dstack_status decode_string_item(json_object *v, const char *name, void *item,
                                        const dstack_json_ctx *ctx)
{
    char **slot = item;

    (void)name;
    *slot = OPENSSL_strdup(json_object_get_string(v));
    return *slot != NULL ? DSTACK_OK : dstack_json_out_of_memory(ctx);
}

static void free_string_items(void *items, size_t n)
{
    dstack_string_array_free(items, n);
}

dstack_status dstack_json_get_string_array(const json_object *obj, const char *field, char ***out,
                                           size_t *out_len, const dstack_json_ctx *ctx)
{
    void *items;
    dstack_status rc = get_array(obj, field, sizeof(**out), "a string", decode_string_item,
                                 free_string_items, &items, out_len, ctx);
    *out = items;
    return rc;
}

static dstack_status add_field(json_object *req, const char *field, json_object *v,
                               dstack_error *err)
{
    if (v == NULL || json_object_object_add(req, field, v) != 0) {
        json_object_put(v);
        return dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, NULL,
                                "out of memory building a request");
    }
    return DSTACK_OK;
}

dstack_status dstack_json_add_hex(json_object *req, const char *field, const uint8_t *data,
                                  size_t len, dstack_error *err)
{
    dstack_status rc;
    char *hex;

    if (len > (SIZE_MAX - 1) / 2 || (hex = OPENSSL_malloc(2 * len + 1)) == NULL)
        return dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, NULL,
                                "out of memory building a request");
    if (len > 0)
        dstack_hex_encode(data, len, hex);
    hex[2 * len] = '\0';
    rc = add_field(req, field, json_object_new_string_len(hex, (int)(2 * len)), err);
    OPENSSL_clear_free(hex, 2 * len + 1);
    return rc;
}

dstack_status dstack_json_add_string(json_object *req, const char *field, const char *value,
                                     dstack_error *err)
{
    return add_field(req, field, json_object_new_string(value != NULL ? value : ""), err);
}

dstack_status dstack_json_add_bool(json_object *req, const char *field, bool value,
                                   dstack_error *err)
{
    return add_field(req, field, json_object_new_boolean(value), err);
}

dstack_status dstack_json_add_uint64(json_object *req, const char *field, uint64_t value,
                                     dstack_error *err)
{
    return add_field(req, field, json_object_new_uint64(value), err);
}

void dstack_json_scrub_string(json_object *obj, const char *field)
{
    json_object *v;

    if (obj != NULL && json_object_object_get_ex(obj, field, &v) &&
        json_object_is_type(v, json_type_string)) {
        /* json-c hands out const, but the buffer is its own heap copy, writable. */
        char *s = (char *)json_object_get_string(v);
        OPENSSL_cleanse(s, (size_t)json_object_get_string_len(v));
    }
}

void dstack_bytes_array_free(dstack_bytes *arr, size_t n)
{
    if (arr == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        dstack_bytes_free(&arr[i]);
    OPENSSL_free(arr);
}

void dstack_string_array_free(char **arr, size_t n)
{
    if (arr == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        OPENSSL_free(arr[i]);
    OPENSSL_free(arr);
}

void dstack_bytes_free(dstack_bytes *b)
{
    if (b == NULL)
        return;
    if (b->data != NULL) {
        /* Secure-heap buffers (keys) must go back to the secure heap. */
        if (CRYPTO_secure_allocated(b->data))
            OPENSSL_secure_clear_free(b->data, b->len);
        else
            OPENSSL_clear_free(b->data, b->len);
    }
    b->data = NULL;
    b->len = 0;
}
