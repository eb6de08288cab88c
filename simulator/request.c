/* dstack-sim — request message decoding (protocol.md §1.3, §1.4).
 *
 * prpc decodes JSON requests with serde: missing fields take proto3 defaults, unknown fields
 * are ignored, explicit null is rejected, bytes are hex strings with optional (repeated) 0x.
 * Error texts follow serde_json / the hex crate ("invalid type: null, expected a string",
 * "Odd number of digits", "Invalid character 'x' at position 3"); the " at line L column C"
 * suffix is only produced for syntax errors, where json-c tells us the offset.
 */
#include "sim.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* serde's "unexpected" description of a JSON value. */
static void describe(json_object *v, char *out, size_t len)
{
    switch (json_object_get_type(v)) {
    case json_type_null:
        snprintf(out, len, "null");
        break;
    case json_type_boolean:
        snprintf(out, len, "boolean `%s`", json_object_get_boolean(v) ? "true" : "false");
        break;
    case json_type_int:
        if (json_object_get_int64(v) < 0)
            snprintf(out, len, "integer `%" PRId64 "`", json_object_get_int64(v));
        else
            snprintf(out, len, "integer `%" PRIu64 "`", json_object_get_uint64(v));
        break;
    case json_type_double:
        snprintf(out, len, "floating point `%g`", json_object_get_double(v));
        break;
    case json_type_string:
        snprintf(out, len, "string \"%.200s\"", json_object_get_string(v));
        break;
    case json_type_array:
        snprintf(out, len, "sequence");
        break;
    case json_type_object:
        snprintf(out, len, "map");
        break;
    }
}

static bool type_error(sim_args *a, json_object *v, const char *expected)
{
    char what[256];

    describe(v, what, sizeof(what));
    snprintf(a->err, sizeof(a->err), "invalid type: %s, expected %s", what, expected);
    return false;
}

static void line_column(const char *text, size_t offset, unsigned *line, unsigned *col)
{
    size_t i;

    *line = 1;
    *col = 0;
    for (i = 0; i < offset; i++) {
        if (text[i] == '\n') {
            (*line)++;
            *col = 0;
        } else {
            (*col)++;
        }
    }
}

bool sim_args_from_json(sim_args *a, const char *type, const char *body, size_t len)
{
    json_tokener *tok = NULL;
    json_object *obj = NULL;
    enum json_tokener_error jerr;
    size_t end;
    unsigned line, col;
    bool ok = false;

    memset(a, 0, sizeof(*a));
    a->type = type;
    if (len == 0) { /* protocol.md §1.3: an empty POST body means "all fields default" */
        a->obj = json_object_new_object();
        return a->obj != NULL;
    }
    tok = json_tokener_new_ex(64);
    if (tok == NULL)
        goto oom;
    obj = json_tokener_parse_ex(tok, body, (int)len);
    jerr = json_tokener_get_error(tok);
    end = json_tokener_get_parse_end(tok);
    if (jerr == json_tokener_continue || (jerr == json_tokener_success && obj == NULL)) {
        line_column(body, len, &line, &col);
        snprintf(a->err, sizeof(a->err), "EOF while parsing a value at line %u column %u", line,
                 col);
        goto done;
    }
    if (jerr != json_tokener_success) {
        line_column(body, end < len ? end + 1 : len, &line, &col);
        snprintf(a->err, sizeof(a->err), "%s at line %u column %u",
                 jerr == json_tokener_error_depth ? "recursion limit exceeded" : "expected value",
                 line, col);
        goto done;
    }
    for (; end < len; end++) {
        if (body[end] != ' ' && body[end] != '\t' && body[end] != '\n' && body[end] != '\r') {
            line_column(body, end + 1, &line, &col);
            snprintf(a->err, sizeof(a->err), "trailing characters at line %u column %u", line, col);
            goto done;
        }
    }
    if (!json_object_is_type(obj, json_type_object)) {
        char what[256], expected[96];

        describe(obj, what, sizeof(what));
        snprintf(expected, sizeof(expected), "struct %s", type);
        snprintf(a->err, sizeof(a->err), "invalid type: %s, expected %s", what, expected);
        goto done;
    }
    a->obj = obj;
    obj = NULL;
    ok = true;
    goto done;
oom:
    snprintf(a->err, sizeof(a->err), "out of memory");
done:
    json_object_put(obj);
    if (tok)
        json_tokener_free(tok);
    return ok;
}

bool sim_args_from_query(sim_args *a, const char *type, json_object *query)
{
    memset(a, 0, sizeof(*a));
    a->type = type;
    a->from_query = true;
    a->obj = query ? json_object_get(query) : json_object_new_object();
    return a->obj != NULL;
}

void sim_args_free(sim_args *a)
{
    json_object_put(a->obj);
    a->obj = NULL;
}

/* Looks a field up. Returns false with an error for explicit null (protocol.md §1.4). *v = NULL
 * when absent. */
static bool field(sim_args *a, const char *name, json_object **v, const char *expected)
{
    *v = NULL;
    if (!json_object_object_get_ex(a->obj, name, v))
        return true;
    if (*v == NULL || json_object_is_type(*v, json_type_null))
        return type_error(a, NULL, expected);
    return true;
}

/* Every string argument is used as a C string (key paths, purposes, event names, subjects).
 * A NUL inside ("a\u0000b" in JSON, %00 in a query) would silently cut it short, so two
 * different key paths would derive the same key; such strings are refused instead. */
static bool string_value(sim_args *a, const char *name, json_object *v, const char **out)
{
    const char *s = json_object_get_string(v);

    if (strlen(s) != (size_t)json_object_get_string_len(v)) {
        snprintf(a->err, sizeof(a->err),
                 "invalid value: string with a NUL character, expected `%s` without NUL", name);
        return false;
    }
    *out = s;
    return true;
}

bool sim_arg_string(sim_args *a, const char *name, const char **out)
{
    json_object *v;

    *out = "";
    if (!field(a, name, &v, "a string"))
        return false;
    if (v == NULL)
        return true;
    if (!json_object_is_type(v, json_type_string))
        return type_error(a, v, "a string");
    return string_value(a, name, v, out);
}

bool sim_arg_bool(sim_args *a, const char *name, bool *out)
{
    json_object *v;

    *out = false;
    if (!field(a, name, &v, "a boolean"))
        return false;
    if (v == NULL)
        return true;
    if (a->from_query && json_object_is_type(v, json_type_string)) {
        const char *s = json_object_get_string(v);

        if (strcmp(s, "true") == 0 || strcmp(s, "false") == 0) {
            *out = s[0] == 't';
            return true;
        }
    }
    if (!json_object_is_type(v, json_type_boolean))
        return type_error(a, v, "a boolean");
    *out = json_object_get_boolean(v);
    return true;
}

bool sim_arg_opt_u64(sim_args *a, const char *name, bool *set, uint64_t *out)
{
    json_object *v = NULL;

    *set = false;
    *out = 0;
    /* optional uint64: absent or null = unset (protocol.md §1.4) */
    if (!json_object_object_get_ex(a->obj, name, &v) || v == NULL ||
        json_object_is_type(v, json_type_null))
        return true;
    if (a->from_query && json_object_is_type(v, json_type_string)) {
        const char *s = json_object_get_string(v);
        char *end = NULL;

        if (*s >= '0' && *s <= '9') {
            *out = strtoull(s, &end, 10);
            if (*end == '\0') {
                *set = true;
                return true;
            }
        }
        return type_error(a, v, "u64");
    }
    if (!json_object_is_type(v, json_type_int))
        return type_error(a, v, "u64");
    if (json_object_get_int64(v) < 0) {
        snprintf(a->err, sizeof(a->err), "invalid value: integer `%" PRId64 "`, expected u64",
                 json_object_get_int64(v));
        return false;
    }
    *out = json_object_get_uint64(v);
    *set = true;
    return true;
}

bool sim_arg_bytes(sim_args *a, const char *name, uint8_t **out, size_t *len)
{
    json_object *v;
    const char *s;
    size_t n, i;
    uint8_t *buf;

    *out = NULL;
    *len = 0;
    if (!field(a, name, &v, "a string"))
        return false;
    if (v != NULL && !json_object_is_type(v, json_type_string))
        return type_error(a, v, "a string");
    s = v ? json_object_get_string(v) : "";
    n = v ? (size_t)json_object_get_string_len(v) : 0;
    while (n >= 2 && s[0] == '0' && s[1] == 'x') { /* prpc strips 0x repeatedly */
        s += 2;
        n -= 2;
    }
    /* hex crate order (FromHex): the length is checked before any character. */
    if (n % 2 != 0) {
        snprintf(a->err, sizeof(a->err), "Odd number of digits");
        return false;
    }
    buf = malloc(n / 2 + 1);
    if (buf == NULL) {
        snprintf(a->err, sizeof(a->err), "out of memory");
        return false;
    }
    for (i = 0; i < n; i += 2) {
        int hi = dstack_hex_digit(s[i]), lo = dstack_hex_digit(s[i + 1]);

        if (hi < 0 || lo < 0) {
            size_t pos = hi < 0 ? i : i + 1;
            unsigned char c = (unsigned char)s[pos];

            if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\')
                snprintf(a->err, sizeof(a->err), "Invalid character '%c' at position %zu", c, pos);
            else
                snprintf(a->err, sizeof(a->err), "Invalid character '\\u{%x}' at position %zu", c,
                         pos);
            free(buf);
            return false;
        }
        buf[i / 2] = (uint8_t)(hi << 4 | lo);
    }
    *out = buf;
    *len = n / 2;
    return true;
}

bool sim_arg_strings(sim_args *a, const char *name, const char ***out, size_t *n)
{
    json_object *v;
    size_t i, count;
    const char **list;

    *out = NULL;
    *n = 0;
    if (!field(a, name, &v, "a sequence"))
        return false;
    if (v == NULL)
        return true;
    if (!json_object_is_type(v, json_type_array))
        return type_error(a, v, "a sequence");
    count = json_object_array_length(v);
    list = calloc(count + 1, sizeof(*list));
    if (list == NULL) {
        snprintf(a->err, sizeof(a->err), "out of memory");
        return false;
    }
    for (i = 0; i < count; i++) {
        json_object *item = json_object_array_get_idx(v, i);

        if (item == NULL || !json_object_is_type(item, json_type_string)) {
            free(list);
            return type_error(a, item, "a string");
        }
        if (!string_value(a, name, item, &list[i])) {
            free(list);
            return false;
        }
    }
    *out = list;
    *n = count;
    return true;
}

char *sim_hex(const uint8_t *buf, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    char *out = malloc(2 * len + 1);
    size_t i;

    if (out == NULL)
        return NULL;
    for (i = 0; i < len; i++) {
        out[2 * i] = digits[buf[i] >> 4];
        out[2 * i + 1] = digits[buf[i] & 15];
    }
    out[2 * len] = '\0';
    return out;
}
