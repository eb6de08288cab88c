/* libdstack internal — a strict JSON reader (RFC 8259) for data whose exact bytes matter: Intel
 * collateral (protocol.md §5.7, §5.8). Not installed.
 *
 * json-c cannot serve here: it keeps only the last of two equal keys, accepts non-standard
 * input, and forgets where a value sat in the text — but a TCB info object is signed as the
 * exact bytes PCS sent, so the PCCS client must cut those bytes out of the response. This
 * reader keeps every member in order (duplicates included, so a schema can refuse a repeated
 * field), the raw span of every value, and numbers as their text (so "3.0" is not the integer
 * 3). Strings must be valid UTF-8 and escapes well-formed (no lone surrogates).
 */
#ifndef DSTACK_JSON_STRICT_INTERNAL_H
#define DSTACK_JSON_STRICT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum dstack_jv_type {
    DSTACK_JV_NULL,
    DSTACK_JV_BOOL,
    DSTACK_JV_NUMBER,
    DSTACK_JV_STRING,
    DSTACK_JV_ARRAY,
    DSTACK_JV_OBJECT
} dstack_jv_type;

typedef struct dstack_jv dstack_jv;
struct dstack_jv {
    dstack_jv_type type;
    size_t start, end; /* the value's bytes in the parsed text: text[start..end) */
    bool boolean;
    char *str; /* STRING: decoded UTF-8, NUL-terminated (may hold \u0000: use str_len);
                * NUMBER: the number's text */
    size_t str_len;
    char *key; /* when this value is an object member: its decoded name */
    size_t key_len;
    dstack_jv *items; /* ARRAY elements or OBJECT members, in text order */
    size_t count;
};

/* Parses exactly one JSON value from text[0..len), surrounded only by JSON whitespace;
 * nesting deeper than 64 is refused. On failure returns NULL and writes why (with the byte
 * offset). Free with dstack_jv_free. */
dstack_jv *dstack_jv_parse(const char *text, size_t len, char *why, size_t why_len);
void dstack_jv_free(dstack_jv *v);

/* Member `key` of an object: 1 found (*out set), 0 absent, -1 the key appears more than once
 * (a strict schema refuses a repeated field), -2 `obj` is not an object. */
int dstack_jv_get(const dstack_jv *obj, const char *key, const dstack_jv **out);

/* An integer in [0, max] written as one (no fraction, exponent or sign); false otherwise. */
bool dstack_jv_uint(const dstack_jv *v, uint64_t max, uint64_t *out);

/* Hex text of exactly 2*len digits, either case, no prefix, into out[len] (the serde hex form
 * of fixed-size byte fields). */
bool dstack_hex_exact(const char *hex, size_t hex_len, uint8_t *out, size_t len);

#endif
