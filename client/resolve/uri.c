/* The dstack: key URI (architecture.md §3): strict, table-driven parsing and the canonical form.
 *
 * Every error is DSTACK_ERR_USAGE and its message starts with the URI as the user wrote it
 * (non-printable bytes escaped, long URIs shortened) followed by the offending part, so a
 * typo in openssl.cnf or on a command line is found without reading source code.
 */
#include <dstack/keys.h>
#include <dstack/uri.h>

#include <arpa/inet.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define URI_SCHEME "dstack:"
#define URI_MAX_LEN 4096 /* far beyond any real key path; bounds the work per URI */
#define URI_MAX_SAN 64   /* SAN entries per certificate */
#define X509_CN_MAX 64   /* ub-common-name, RFC 5280 appendix A */
#define DNS_NAME_MAX 253
#define DNS_LABEL_MAX 63

/* ---- messages ------------------------------------------------------------------------ */

/* Printable form of untrusted text for messages: escapes control and non-ASCII bytes and
 * shortens long input, so a hostile URI cannot forge or flood log lines. */
static void display(const char *in, size_t len, char *out, size_t cap)
{
    static const size_t limit = 160;
    size_t o = 0;
    for (size_t i = 0; i < len && o + 8 < cap; i++) {
        unsigned char c = (unsigned char)in[i];
        if (i == limit) {
            o += (size_t)snprintf(out + o, cap - o, "...");
            break;
        }
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
    }
    out[o < cap ? o : cap - 1] = '\0';
}

typedef struct parse_ctx {
    const char *text; /* the whole URI, for messages */
    dstack_error *err;
} parse_ctx;

static dstack_status fail(parse_ctx *pc, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static dstack_status fail(parse_ctx *pc, const char *fmt, ...)
{
    char shown[600], detail[700];
    display(pc->text, strlen(pc->text), shown, sizeof(shown));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    return dstack_error_set(pc->err, DSTACK_ERR_USAGE, NULL, NULL, "%s: %s", shown, detail);
}

/* ---- percent-decoding and checks ----------------------------------------------------- */

static bool utf8_valid(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        size_t n;
        unsigned long cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            n = 1;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        for (size_t k = 1; k <= n; k++) {
            if (i + k >= len || (s[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        /* Overlong forms, surrogates and values past U+10FFFF are not UTF-8. */
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
            (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
            return false;
        i += n + 1;
    }
    return true;
}

static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s != '\0'; s++)
        if (((unsigned char)*s & 0xc0) != 0x80)
            n++;
    return n;
}

/* Decodes `len` bytes of `in`; `what` names the part for messages ("path", "cn value"). */
static dstack_status pct_decode(parse_ctx *pc, const char *what, const char *in, size_t len,
                                char **out)
{
    char *buf = malloc(len + 1);
    size_t o = 0;
    if (buf == NULL)
        return dstack_error_set(pc->err, DSTACK_ERR_INTERNAL, NULL, NULL, "out of memory");
    for (size_t i = 0; i < len; i++) {
        if (in[i] != '%') {
            buf[o++] = in[i];
            continue;
        }
        int hi = i + 1 < len ? dstack_hex_digit(in[i + 1]) : -1;
        int lo = i + 2 < len ? dstack_hex_digit(in[i + 2]) : -1;
        if (hi < 0 || lo < 0) {
            char shown[16];
            display(in + i, len - i < 3 ? len - i : 3, shown, sizeof(shown));
            free(buf);
            return fail(pc, "bad percent-escape \"%s\" in %s", shown, what);
        }
        if (hi == 0 && lo == 0) {
            free(buf);
            return fail(pc, "%%00 (NUL byte) in %s", what);
        }
        buf[o++] = (char)(hi << 4 | lo);
        i += 2;
    }
    buf[o] = '\0';
    if (!utf8_valid((const unsigned char *)buf, o)) {
        free(buf);
        return fail(pc, "%s is not valid UTF-8", what);
    }
    *out = buf;
    return DSTACK_OK;
}

/* RFC 1123 host name, optionally with a leading "*." wildcard label; no trailing dot. */
static bool dns_name_valid(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > DNS_NAME_MAX)
        return false;
    const char *p = name;
    if (strncmp(p, "*.", 2) == 0)
        p += 2;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t label = dot != NULL ? (size_t)(dot - p) : strlen(p);
        if (label == 0 || label > DNS_LABEL_MAX || p[0] == '-' || p[label - 1] == '-')
            return false;
        for (size_t i = 0; i < label; i++) {
            char c = p[i];
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-'))
                return false;
        }
        if (dot == NULL)
            return true;
        p = dot + 1;
    }
}

static bool ip_literal(const char *s)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

/* ---- the parameter table ------------------------------------------------------------- */

/* ---- canonical form: writing helpers ---------------------------------------------------- */

typedef struct strbuf {
    char *data;
    size_t len, cap;
    bool failed;
} strbuf;

static void sb_append(strbuf *sb, const char *s, size_t n)
{
    if (sb->failed)
        return;
    if (sb->len + n + 1 > sb->cap) {
        size_t cap = (sb->len + n + 1) * 2;
        char *grown = realloc(sb->data, cap);
        if (grown == NULL) {
            sb->failed = true;
            return;
        }
        sb->data = grown;
        sb->cap = cap;
    }
    memcpy(sb->data + sb->len, s, n);
    sb->len += n;
    sb->data[sb->len] = '\0';
}

static void sb_puts(strbuf *sb, const char *s)
{
    sb_append(sb, s, strlen(s));
}

/* RFC 3986 unreserved characters stay; `keep_slash` for the path; the rest is %XX. */
static void sb_pct(strbuf *sb, const char *s, bool keep_slash)
{
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~' || (keep_slash && c == '/')) {
            sb_append(sb, (const char *)&c, 1);
        } else {
            char esc[4];
            snprintf(esc, sizeof(esc), "%%%02X", c);
            sb_append(sb, esc, 3);
        }
    }
}

/* `keyword`: a value from our own tables (safe as is, e.g. "server,client"). */
static void sb_param_as(strbuf *sb, bool *first, const char *name, const char *value, bool keyword)
{
    sb_puts(sb, *first ? "?" : "&");
    *first = false;
    sb_puts(sb, name);
    sb_puts(sb, "=");
    if (keyword)
        sb_puts(sb, value);
    else
        sb_pct(sb, value, false);
}

static void sb_param(strbuf *sb, bool *first, const char *name, const char *value)
{
    sb_param_as(sb, first, name, value, false);
}

typedef dstack_status (*param_fn)(parse_ctx *pc, const char *value, dstack_uri *uri);

static dstack_status param_alg(parse_ctx *pc, const char *v, dstack_uri *uri)
{
    const dstack_alg_info *alg = dstack_alg_find(v);

    if (alg == NULL)
        return fail(pc, "unsupported alg \"%s\" (expected %s)", v, dstack_alg_choices());
    uri->alg = alg->id;
    return DSTACK_OK;
}

static dstack_status param_purpose(parse_ctx *pc, const char *v, dstack_uri *uri)
{
    char *copy = strdup(v);
    if (copy == NULL)
        return dstack_error_set(pc->err, DSTACK_ERR_INTERNAL, NULL, NULL, "out of memory");
    free(uri->purpose);
    uri->purpose = copy;
    return DSTACK_OK;
}

static dstack_status param_cert(parse_ctx *pc, const char *v, dstack_uri *uri)
{
    if (!dstack_cert_mode_parse(v, &uri->cert))
        return fail(pc, "unsupported cert \"%s\" (expected %s)", v, dstack_cert_mode_choices());
    uri->cert_set = true;
    return DSTACK_OK;
}

static dstack_status param_ratls(parse_ctx *pc, const char *v, dstack_uri *uri)
{
    if (!dstack_ratls_mode_parse(v, &uri->ratls))
        return fail(pc, "unsupported ratls \"%s\" (expected %s)", v, dstack_ratls_mode_choices());
    uri->ratls_set = true;
    return DSTACK_OK;
}

static dstack_status param_cn(parse_ctx *pc, const char *v, dstack_uri *uri)
{
    if (utf8_chars(v) > X509_CN_MAX)
        return fail(pc, "cn is longer than %d characters (X.509 limit)", X509_CN_MAX);
    uri->cn = strdup(v);
    if (uri->cn == NULL)
        return dstack_error_set(pc->err, DSTACK_ERR_INTERNAL, NULL, NULL, "out of memory");
    return DSTACK_OK;
}

static dstack_status param_san(parse_ctx *pc, const char *v, dstack_uri *uri)
{
    const char *p = v;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
        char shown[400];
        char *item = strndup(p, len);
        if (item == NULL)
            return dstack_error_set(pc->err, DSTACK_ERR_INTERNAL, NULL, NULL, "out of memory");
        display(item, len, shown, sizeof(shown));
        if (len == 0) {
            free(item);
            return fail(pc, "empty entry in san list \"%s\"", v);
        }
        if (!ip_literal(item) && !dns_name_valid(item)) {
            free(item);
            return fail(pc, "san \"%s\" is neither a DNS name nor an IPv4/IPv6 address", shown);
        }
        if (uri->san_count == URI_MAX_SAN) {
            free(item);
            return fail(pc, "more than %d san entries", URI_MAX_SAN);
        }
        char **grown = realloc(uri->san, (uri->san_count + 1) * sizeof(*grown));
        if (grown == NULL) {
            free(item);
            return dstack_error_set(pc->err, DSTACK_ERR_INTERNAL, NULL, NULL, "out of memory");
        }
        uri->san = grown;
        uri->san[uri->san_count++] = item;
        if (comma == NULL)
            return DSTACK_OK;
        p = comma + 1;
    }
}

static dstack_status param_usage(parse_ctx *pc, const char *v, dstack_uri *uri)
{
    if (strcmp(v, "server") == 0) {
        uri->usage_server = true;
        uri->usage_client = false;
    } else if (strcmp(v, "client") == 0) {
        uri->usage_server = false;
        uri->usage_client = true;
    } else if (strcmp(v, "server,client") == 0) {
        uri->usage_server = true;
        uri->usage_client = true;
    } else {
        return fail(pc, "unsupported usage \"%s\" (expected server, client or server,client)", v);
    }
    return DSTACK_OK;
}

static dstack_status param_yes_no(parse_ctx *pc, const char *name, const char *v, bool *out)
{
    if (strcmp(v, "yes") == 0)
        *out = true;
    else if (strcmp(v, "no") == 0)
        *out = false;
    else
        return fail(pc, "unsupported %s \"%s\" (expected yes or no)", name, v);
    return DSTACK_OK;
}

static dstack_status param_app_info(parse_ctx *pc, const char *v, dstack_uri *uri)
{
    return param_yes_no(pc, "app-info", v, &uri->app_info);
}

static dstack_status param_ephemeral(parse_ctx *pc, const char *v, dstack_uri *uri)
{
    /* Only "yes": a derived key is what a URI without the parameter already means. */
    if (strcmp(v, "yes") != 0)
        return fail(pc, "unsupported ephemeral \"%s\" (expected yes)", v);
    uri->ephemeral = true;
    return DSTACK_OK;
}

/* Canonical writers, one per parameter: append "name=value" when the URI differs from what
 * leaving the parameter out means. The canonical form is the cache key, so a parameter
 * missing here would merge two different URIs into one entry — the table makes every row
 * have one. */
typedef void (*canon_fn)(const dstack_uri *uri, strbuf *sb, bool *first);

static void canon_alg(const dstack_uri *uri, strbuf *sb, bool *first)
{
    if (uri->alg != DSTACK_ALG_P256)
        sb_param_as(sb, first, "alg", dstack_key_alg_name(uri->alg), true);
}

static void canon_purpose(const dstack_uri *uri, strbuf *sb, bool *first)
{
    if (uri->purpose != NULL && uri->purpose[0] != '\0')
        sb_param(sb, first, "purpose", uri->purpose);
}

/* An explicit cert/ratls stays even when it equals the built-in default: unset means "the
 * configured default", which may differ. */
static void canon_cert(const dstack_uri *uri, strbuf *sb, bool *first)
{
    if (uri->cert_set)
        sb_param_as(sb, first, "cert", dstack_cert_mode_name(uri->cert), true);
}

static void canon_ratls(const dstack_uri *uri, strbuf *sb, bool *first)
{
    if (uri->ratls_set)
        sb_param_as(sb, first, "ratls", dstack_ratls_mode_name(uri->ratls), true);
}

static void canon_cn(const dstack_uri *uri, strbuf *sb, bool *first)
{
    if (uri->cn != NULL)
        sb_param(sb, first, "cn", uri->cn);
}

static void canon_san(const dstack_uri *uri, strbuf *sb, bool *first)
{
    if (uri->san_count == 0)
        return;
    sb_puts(sb, *first ? "?san=" : "&san=");
    *first = false;
    for (size_t i = 0; i < uri->san_count; i++) {
        if (i > 0)
            sb_puts(sb, ",");
        sb_pct(sb, uri->san[i], false);
    }
}

static void canon_usage(const dstack_uri *uri, strbuf *sb, bool *first)
{
    if (!uri->usage_server || uri->usage_client)
        sb_param_as(sb, first, "usage",
                    uri->usage_server ? "server,client" : (uri->usage_client ? "client" : "none"),
                    true);
}

static void canon_app_info(const dstack_uri *uri, strbuf *sb, bool *first)
{
    if (uri->app_info)
        sb_param_as(sb, first, "app-info", "yes", true);
}

static void canon_ephemeral(const dstack_uri *uri, strbuf *sb, bool *first)
{
    if (uri->ephemeral)
        sb_param_as(sb, first, "ephemeral", "yes", true);
}

/* Every URI parameter: how it parses and how it is written back, in canonical order. */
static const struct uri_param {
    const char *name;
    param_fn fn;
    canon_fn canon;
    bool repeatable;
} uri_params[] = {
    {"alg", param_alg, canon_alg, false},
    {"purpose", param_purpose, canon_purpose, false},
    {"cert", param_cert, canon_cert, false},
    {"ratls", param_ratls, canon_ratls, false},
    {"cn", param_cn, canon_cn, false},
    {"san", param_san, canon_san, true},
    {"usage", param_usage, canon_usage, false},
    {"app-info", param_app_info, canon_app_info, false},
    {"ephemeral", param_ephemeral, canon_ephemeral, false},
};
#define N_PARAMS (sizeof(uri_params) / sizeof(uri_params[0]))

/* ---- parse --------------------------------------------------------------------------- */

static dstack_status parse_param(parse_ctx *pc, const char *seg, size_t len, bool seen[],
                                 dstack_uri *uri)
{
    char shown[400];
    const char *eq = memchr(seg, '=', len);
    display(seg, len, shown, sizeof(shown));
    if (len == 0)
        return fail(pc, "empty parameter (stray '&' or '?')");
    if (eq == NULL)
        return fail(pc, "parameter \"%s\" has no value (expected name=value)", shown);
    size_t name_len = (size_t)(eq - seg);
    size_t i;
    for (i = 0; i < N_PARAMS; i++)
        if (strlen(uri_params[i].name) == name_len &&
            memcmp(uri_params[i].name, seg, name_len) == 0)
            break;
    if (i == N_PARAMS) {
        display(seg, name_len, shown, sizeof(shown));
        char names[160];
        size_t o = 0;
        for (size_t k = 0; k < N_PARAMS && o < sizeof(names); k++)
            o += (size_t)snprintf(names + o, sizeof(names) - o, "%s%s",
                                  k == 0              ? ""
                                  : k + 1 == N_PARAMS ? " or "
                                                      : ", ",
                                  uri_params[k].name);
        return fail(pc, "unknown parameter \"%s\" (expected %s)", shown, names);
    }
    const struct uri_param *param = &uri_params[i];
    if (seen[i] && !param->repeatable)
        return fail(pc, "parameter \"%s\" given more than once", param->name);
    seen[i] = true;
    if (len - name_len - 1 == 0)
        return fail(pc, "parameter \"%s\" has an empty value", param->name);
    char what[64], *value = NULL;
    snprintf(what, sizeof(what), "%s value", param->name);
    dstack_status rc = pct_decode(pc, what, eq + 1, len - name_len - 1, &value);
    if (rc == DSTACK_OK)
        rc = param->fn(pc, value, uri);
    free(value);
    return rc;
}

/* Rules that involve more than one parameter (architecture.md §3). */
static dstack_status check_combination(parse_ctx *pc, const bool seen[], dstack_uri *uri)
{
    if (uri->ephemeral) {
        if (uri->path[0] != '\0')
            return fail(pc,
                        "ephemeral=yes needs an empty path (the agent picks a random key), "
                        "not \"%s\"",
                        uri->path);
        if (!dstack_alg_get(uri->alg)->agent_ephemeral) {
            char names[64] = "";
            /* the algorithms GetTlsKey issues, from the table */
            for (size_t i = 0, o = 0; i < dstack_alg_count() && o < sizeof(names); i++)
                if (dstack_alg_at(i)->agent_ephemeral)
                    o += (size_t)snprintf(names + o, sizeof(names) - o, "%s%s", o ? "/" : "",
                                          dstack_alg_at(i)->name);
            return fail(pc, "ephemeral=yes supports alg=%s only, not %s", names,
                        dstack_key_alg_name(uri->alg));
        }
        if (uri->cert_set && (uri->cert == DSTACK_CERT_NONE || uri->cert == DSTACK_CERT_SELF))
            return fail(pc,
                        "ephemeral=yes cannot be combined with cert=%s (the agent issues "
                        "the certificate)",
                        dstack_cert_mode_name(uri->cert));
        if (uri->purpose[0] != '\0')
            return fail(pc, "purpose has no meaning with ephemeral=yes (no signature chain)");
    } else if (uri->path[0] == '\0') {
        return fail(pc, "empty key path (write dstack:<path>, or dstack:?ephemeral=yes)");
    }
    if (uri->cert_set && uri->cert == DSTACK_CERT_NONE) {
        static const char *const cert_only[] = {"ratls", "cn", "san", "usage", "app-info"};
        for (size_t k = 0; k < sizeof(cert_only) / sizeof(cert_only[0]); k++)
            for (size_t i = 0; i < N_PARAMS; i++)
                if (seen[i] && strcmp(uri_params[i].name, cert_only[k]) == 0)
                    return fail(pc, "%s has no meaning with cert=none", cert_only[k]);
    }
    return DSTACK_OK;
}

dstack_status dstack_uri_parse(const char *text, dstack_uri *out, dstack_error *err)
{
    parse_ctx pc = {text != NULL ? text : "(null)", err};
    bool seen[N_PARAMS] = {false};
    dstack_status rc;

    if (out == NULL || text == NULL)
        return dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL,
                                "dstack_uri_parse: NULL argument");
    memset(out, 0, sizeof(*out));
    out->usage_server = true;

    size_t len = strlen(text);
    if (len > URI_MAX_LEN) {
        rc = fail(&pc, "URI longer than %d bytes", URI_MAX_LEN);
        goto err;
    }
    if (strncasecmp(text, URI_SCHEME, strlen(URI_SCHEME)) != 0) {
        rc = fail(&pc, "not a dstack: URI (expected dstack:<path>[?params])");
        goto err;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c <= 0x20 || c == 0x7f) {
            rc = fail(&pc, "raw space or control character at offset %zu (percent-encode it)", i);
            goto err;
        }
        if (c == '#') {
            rc = fail(&pc, "'#' at offset %zu: fragments are not allowed (write %%23)", i);
            goto err;
        }
    }

    const char *path = text + strlen(URI_SCHEME);
    /* "dstack://x/y" would silently name the key path "//x/y" — a different key from the
     * "x/y" a user with URL habits meant. A dstack: URI has no authority; a path that really
     * starts with "//" can still be written %2F%2F. */
    if (path[0] == '/' && path[1] == '/') {
        rc = fail(&pc, "a dstack: URI has no authority part: write dstack:<path>, not "
                       "dstack://<path> (percent-encode a path that starts with //)");
        goto err;
    }
    const char *query = strchr(path, '?');
    size_t path_len = query != NULL ? (size_t)(query - path) : strlen(path);
    out->purpose = strdup("");
    if (out->purpose == NULL) {
        rc = dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, NULL, "out of memory");
        goto err;
    }
    rc = pct_decode(&pc, "path", path, path_len, &out->path);
    if (rc != DSTACK_OK)
        goto err;

    if (query != NULL) {
        const char *seg = query + 1;
        for (;;) {
            const char *amp = strchr(seg, '&');
            size_t seg_len = amp != NULL ? (size_t)(amp - seg) : strlen(seg);
            rc = parse_param(&pc, seg, seg_len, seen, out);
            if (rc != DSTACK_OK)
                goto err;
            if (amp == NULL)
                break;
            seg = amp + 1;
        }
    }
    rc = check_combination(&pc, seen, out);
    if (rc != DSTACK_OK)
        goto err;
    /* The canonical form (the cache key, what dstack-keytool writes into reference PEMs) must
     * parse again: percent-encoding can make it longer than the text given. */
    {
        char *canonical = dstack_uri_canonical(out);
        size_t clen = canonical != NULL ? strlen(canonical) : 0;
        free(canonical);
        if (canonical == NULL) {
            rc = dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, NULL, "out of memory");
            goto err;
        }
        if (clen > URI_MAX_LEN) {
            rc = fail(&pc, "URI longer than %d bytes once normalised (%zu)", URI_MAX_LEN, clen);
            goto err;
        }
    }
    return DSTACK_OK;
err:
    dstack_uri_free(out);
    return rc;
}

void dstack_uri_free(dstack_uri *uri)
{
    if (uri == NULL)
        return;
    free(uri->path);
    free(uri->purpose);
    free(uri->cn);
    for (size_t i = 0; i < uri->san_count; i++)
        free(uri->san[i]);
    free(uri->san);
    memset(uri, 0, sizeof(*uri));
}

char *dstack_uri_canonical(const dstack_uri *uri)
{
    strbuf sb = {0};
    bool first = true;

    if (uri == NULL || uri->path == NULL)
        return NULL;
    sb_puts(&sb, URI_SCHEME);
    if (uri->path[0] == '/' && uri->path[1] == '/') {
        /* A raw leading "//" would parse as an authority; keep the form re-parsable. */
        sb_puts(&sb, "%2F%2F");
        sb_pct(&sb, uri->path + 2, true);
    } else {
        sb_pct(&sb, uri->path, true);
    }
    for (size_t i = 0; i < N_PARAMS; i++)
        uri_params[i].canon(uri, &sb, &first);
    if (sb.failed) {
        free(sb.data);
        return NULL;
    }
    return sb.data;
}

const char *dstack_uri_param_name(size_t index)
{
    return index < N_PARAMS ? uri_params[index].name : NULL;
}

static const char *const cert_mode_names[] = {"auto", "agent", "self", "none"};
static const char *const ratls_mode_names[] = {"auto", "attest", "quote", "both", "no"};

const char *dstack_cert_mode_name(dstack_cert_mode mode)
{
    if ((unsigned)mode < sizeof(cert_mode_names) / sizeof(cert_mode_names[0]))
        return cert_mode_names[mode];
    return "unknown";
}

const char *dstack_ratls_mode_name(dstack_ratls_mode m)
{
    if ((unsigned)m < sizeof(ratls_mode_names) / sizeof(ratls_mode_names[0]))
        return ratls_mode_names[m];
    return "unknown";
}

bool dstack_cert_mode_parse(const char *text, dstack_cert_mode *out)
{
    for (size_t i = 0; text != NULL && i < sizeof(cert_mode_names) / sizeof(cert_mode_names[0]);
         i++)
        if (strcmp(text, cert_mode_names[i]) == 0) {
            *out = (dstack_cert_mode)i;
            return true;
        }
    return false;
}

/* "a, b, c or d" from a word table, built once. */
static void join_words(const char *const *words, size_t n, char *out, size_t cap)
{
    size_t o = 0;

    out[0] = '\0';
    for (size_t i = 0; i < n && o < cap; i++)
        o += (size_t)snprintf(out + o, cap - o, "%s%s",
                              i == 0       ? ""
                              : i + 1 == n ? " or "
                                           : ", ",
                              words[i]);
}

static char cert_choices[64], ratls_choices[64];
static pthread_once_t choices_once = PTHREAD_ONCE_INIT;

static void choices_fill(void)
{
    join_words(cert_mode_names, sizeof(cert_mode_names) / sizeof(cert_mode_names[0]), cert_choices,
               sizeof(cert_choices));
    join_words(ratls_mode_names, sizeof(ratls_mode_names) / sizeof(ratls_mode_names[0]),
               ratls_choices, sizeof(ratls_choices));
}

const char *dstack_cert_mode_choices(void)
{
    pthread_once(&choices_once, choices_fill);
    return cert_choices;
}

const char *dstack_ratls_mode_choices(void)
{
    pthread_once(&choices_once, choices_fill);
    return ratls_choices;
}

bool dstack_ratls_mode_parse(const char *text, dstack_ratls_mode *out)
{
    for (size_t i = 0; text != NULL && i < sizeof(ratls_mode_names) / sizeof(ratls_mode_names[0]);
         i++)
        if (strcmp(text, ratls_mode_names[i]) == 0) {
            *out = (dstack_ratls_mode)i;
            return true;
        }
    return false;
}
