/* A strict JSON reader that keeps member order, duplicates and raw spans
 * (base/json_strict_internal.h says why json-c does not do here). */
#include "base/json_strict_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dstack/keys.h>

#define JV_MAX_DEPTH 64

typedef struct reader {
    const char *p;
    size_t len, pos;
    char *why;
    size_t why_len;
    bool failed;
} reader;

static bool fail(reader *r, const char *what)
{
    if (!r->failed)
        snprintf(r->why, r->why_len, "%s at byte %zu", what, r->pos);
    r->failed = true;
    return false;
}

static void skip_ws(reader *r)
{
    while (r->pos < r->len && (r->p[r->pos] == ' ' || r->p[r->pos] == '\t' ||
                               r->p[r->pos] == '\n' || r->p[r->pos] == '\r'))
        r->pos++;
}

/* A growable byte buffer for decoded strings. */
typedef struct sbuf {
    char *p;
    size_t n, cap;
} sbuf;

static bool sbuf_put(sbuf *b, const char *data, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 32;
        char *grown;

        while (cap < b->n + n + 1)
            cap *= 2;
        if ((grown = realloc(b->p, cap)) == NULL)
            return false;
        b->p = grown;
        b->cap = cap;
    }
    memcpy(b->p + b->n, data, n);
    b->n += n;
    b->p[b->n] = '\0';
    return true;
}

static size_t utf8_encode(uint32_t cp, char out[4])
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Length of the well-formed UTF-8 sequence at s (no overlong forms, surrogates or code points
 * above U+10FFFF), 0 if there is none. */
static size_t utf8_len(const unsigned char *s, size_t left)
{
    size_t n, i;
    uint32_t cp, min;

    if (s[0] < 0x80)
        return 1;
    if ((s[0] & 0xe0) == 0xc0) {
        n = 2, cp = s[0] & 0x1f, min = 0x80;
    } else if ((s[0] & 0xf0) == 0xe0) {
        n = 3, cp = s[0] & 0x0f, min = 0x800;
    } else if ((s[0] & 0xf8) == 0xf0) {
        n = 4, cp = s[0] & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (n > left)
        return 0;
    for (i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

static bool hex4(reader *r, uint32_t *out)
{
    uint32_t v = 0;

    if (r->len - r->pos < 4)
        return fail(r, "truncated \\u escape");
    for (int i = 0; i < 4; i++) {
        int d = dstack_hex_digit(r->p[r->pos + i]);

        if (d < 0)
            return fail(r, "bad \\u escape");
        v = v << 4 | (uint32_t)d;
    }
    r->pos += 4;
    *out = v;
    return true;
}

static bool escape(reader *r, sbuf *b)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    char c, enc[4];
    const char *hit;
    uint32_t cp, lo;

    if (r->pos >= r->len)
        return fail(r, "truncated escape");
    c = r->p[r->pos++];
    if (c != 'u') {
        if (c == '\0' || (hit = strchr(from, c)) == NULL)
            return fail(r, "bad escape");
        return sbuf_put(b, &to[hit - from], 1) || fail(r, "out of memory");
    }
    if (!hex4(r, &cp))
        return false;
    if (cp >= 0xdc00 && cp <= 0xdfff)
        return fail(r, "lone low surrogate in \\u escape");
    if (cp >= 0xd800 && cp <= 0xdbff) {
        if (r->len - r->pos < 2 || r->p[r->pos] != '\\' || r->p[r->pos + 1] != 'u')
            return fail(r, "lone high surrogate in \\u escape");
        r->pos += 2;
        if (!hex4(r, &lo))
            return false;
        if (lo < 0xdc00 || lo > 0xdfff)
            return fail(r, "bad surrogate pair in \\u escape");
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
    }
    return sbuf_put(b, enc, utf8_encode(cp, enc)) || fail(r, "out of memory");
}

/* At the opening quote. */
static bool string(reader *r, char **out, size_t *out_len)
{
    sbuf b = {0};

    r->pos++;
    if (!sbuf_put(&b, "", 0))
        return fail(r, "out of memory");
    for (;;) {
        size_t run = r->pos, n;

        while (r->pos < r->len && r->p[r->pos] != '"' && r->p[r->pos] != '\\') {
            unsigned char c = (unsigned char)r->p[r->pos];

            if (c < 0x20) {
                fail(r, "control character in string");
                goto err;
            }
            if ((n = utf8_len((const unsigned char *)r->p + r->pos, r->len - r->pos)) == 0) {
                fail(r, "invalid UTF-8 in string");
                goto err;
            }
            r->pos += n;
        }
        if (!sbuf_put(&b, r->p + run, r->pos - run)) {
            fail(r, "out of memory");
            goto err;
        }
        if (r->pos >= r->len) {
            fail(r, "unterminated string");
            goto err;
        }
        if (r->p[r->pos++] == '"')
            break;
        if (!escape(r, &b))
            goto err;
    }
    *out = b.p;
    *out_len = b.n;
    return true;
err:
    free(b.p);
    return false;
}

static bool digits(reader *r)
{
    size_t start = r->pos;

    while (r->pos < r->len && r->p[r->pos] >= '0' && r->p[r->pos] <= '9')
        r->pos++;
    return r->pos > start;
}

static bool number(reader *r, dstack_jv *v)
{
    size_t start = r->pos;

    if (r->p[r->pos] == '-')
        r->pos++;
    if (r->pos < r->len && r->p[r->pos] == '0')
        r->pos++;
    else if (!digits(r))
        return fail(r, "bad number");
    if (r->pos < r->len && r->p[r->pos] == '.') {
        r->pos++;
        if (!digits(r))
            return fail(r, "bad number fraction");
    }
    if (r->pos < r->len && (r->p[r->pos] == 'e' || r->p[r->pos] == 'E')) {
        r->pos++;
        if (r->pos < r->len && (r->p[r->pos] == '+' || r->p[r->pos] == '-'))
            r->pos++;
        if (!digits(r))
            return fail(r, "bad number exponent");
    }
    v->type = DSTACK_JV_NUMBER;
    v->str_len = r->pos - start;
    v->str = strndup(r->p + start, v->str_len);
    return v->str != NULL || fail(r, "out of memory");
}

static bool literal(reader *r, const char *word)
{
    size_t n = strlen(word);

    if (r->len - r->pos < n || memcmp(r->p + r->pos, word, n) != 0)
        return fail(r, "unexpected character");
    r->pos += n;
    return true;
}

static bool value(reader *r, dstack_jv *v, int depth);

static dstack_jv *push(reader *r, dstack_jv *parent, size_t *cap)
{
    if (parent->count == *cap) {
        size_t ncap = *cap ? 2 * *cap : 4;
        dstack_jv *grown = realloc(parent->items, ncap * sizeof(*grown));

        if (grown == NULL) {
            fail(r, "out of memory");
            return NULL;
        }
        parent->items = grown;
        *cap = ncap;
    }
    memset(&parent->items[parent->count], 0, sizeof(dstack_jv));
    return &parent->items[parent->count++];
}

/* At '[' or '{'. */
static bool container(reader *r, dstack_jv *v, int depth)
{
    bool is_object = r->p[r->pos] == '{';
    char close = is_object ? '}' : ']';
    size_t cap = 0;
    dstack_jv *item;

    v->type = is_object ? DSTACK_JV_OBJECT : DSTACK_JV_ARRAY;
    if (depth >= JV_MAX_DEPTH)
        return fail(r, "nesting too deep");
    r->pos++;
    skip_ws(r);
    if (r->pos < r->len && r->p[r->pos] == close) {
        r->pos++;
        return true;
    }
    for (;;) {
        if ((item = push(r, v, &cap)) == NULL)
            return false;
        if (is_object) {
            if (r->pos >= r->len || r->p[r->pos] != '"')
                return fail(r, "expected a member name");
            if (!string(r, &item->key, &item->key_len))
                return false;
            skip_ws(r);
            if (r->pos >= r->len || r->p[r->pos] != ':')
                return fail(r, "expected ':'");
            r->pos++;
            skip_ws(r);
        }
        if (!value(r, item, depth + 1))
            return false;
        skip_ws(r);
        if (r->pos < r->len && r->p[r->pos] == ',') {
            r->pos++;
            skip_ws(r);
            continue;
        }
        if (r->pos < r->len && r->p[r->pos] == close) {
            r->pos++;
            return true;
        }
        return fail(r, is_object ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static bool value(reader *r, dstack_jv *v, int depth)
{
    bool ok;

    if (r->pos >= r->len)
        return fail(r, "unexpected end of input");
    v->start = r->pos;
    switch (r->p[r->pos]) {
    case '{':
    case '[':
        ok = container(r, v, depth);
        break;
    case '"':
        v->type = DSTACK_JV_STRING;
        ok = string(r, &v->str, &v->str_len);
        break;
    case 't':
        v->type = DSTACK_JV_BOOL;
        v->boolean = true;
        ok = literal(r, "true");
        break;
    case 'f':
        v->type = DSTACK_JV_BOOL;
        ok = literal(r, "false");
        break;
    case 'n':
        v->type = DSTACK_JV_NULL;
        ok = literal(r, "null");
        break;
    default:
        ok = (r->p[r->pos] == '-' || (r->p[r->pos] >= '0' && r->p[r->pos] <= '9'))
                 ? number(r, v)
                 : fail(r, "unexpected character");
    }
    v->end = r->pos;
    return ok;
}

static void jv_clear(dstack_jv *v)
{
    for (size_t i = 0; i < v->count; i++)
        jv_clear(&v->items[i]);
    free(v->items);
    free(v->str);
    free(v->key);
}

void dstack_jv_free(dstack_jv *v)
{
    if (v == NULL)
        return;
    jv_clear(v);
    free(v);
}

dstack_jv *dstack_jv_parse(const char *text, size_t len, char *why, size_t why_len)
{
    char scratch[1];
    reader r = {text, len, 0, why ? why : scratch, why ? why_len : sizeof(scratch), false};
    dstack_jv *v = calloc(1, sizeof(*v));

    if (v == NULL || text == NULL) {
        snprintf(r.why, r.why_len, "out of memory");
        free(v);
        return NULL;
    }
    skip_ws(&r);
    if (value(&r, v, 0)) {
        skip_ws(&r);
        if (r.pos == r.len)
            return v;
        fail(&r, "trailing characters after the JSON value");
    }
    dstack_jv_free(v);
    return NULL;
}

int dstack_jv_get(const dstack_jv *obj, const char *key, const dstack_jv **out)
{
    size_t n = strlen(key);
    const dstack_jv *hit = NULL;

    if (obj == NULL || obj->type != DSTACK_JV_OBJECT)
        return -2;
    for (size_t i = 0; i < obj->count; i++) {
        const dstack_jv *m = &obj->items[i];

        if (m->key_len == n && memcmp(m->key, key, n) == 0) {
            if (hit != NULL)
                return -1;
            hit = m;
        }
    }
    if (hit == NULL)
        return 0;
    *out = hit;
    return 1;
}

bool dstack_jv_uint(const dstack_jv *v, uint64_t max, uint64_t *out)
{
    uint64_t n = 0;

    if (v == NULL || v->type != DSTACK_JV_NUMBER || v->str_len == 0)
        return false;
    for (size_t i = 0; i < v->str_len; i++) {
        char c = v->str[i];
        uint64_t d = (uint64_t)(c - '0');

        if (c < '0' || c > '9' || n > max / 10 || d > max - n * 10)
            return false;
        n = n * 10 + d;
    }
    *out = n;
    return true;
}

bool dstack_hex_exact(const char *hex, size_t hex_len, uint8_t *out, size_t len)
{
    if (hex == NULL || hex_len != 2 * len)
        return false;
    for (size_t i = 0; i < len; i++) {
        int hi = dstack_hex_digit(hex[2 * i]), lo = dstack_hex_digit(hex[2 * i + 1]);

        if (hi < 0 || lo < 0)
            return false;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}
