/* One HTTP GET for the PCCS client (verify/verify_internal.h), on the agent transport's two
 * paths (agent/http.h): http:// through libdstack's own HTTP/1.1 client, https:// through
 * libcurl, loaded with dlopen() on first use (agent/curl_dl.h). This file is the single place
 * the PCCS client reaches the network. */
#include "verify/verify_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "agent/curl_dl.h"
#include "agent/http.h"

#define MAX_HEADERS (64u * 1024u)

typedef struct sink {
    uint8_t *p;
    size_t n, cap, max;
    bool too_large;
} sink;

static bool sink_put(sink *s, const char *data, size_t n)
{
    if (s->n + n > s->max) {
        s->too_large = true;
        return false;
    }
    if (s->n + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        uint8_t *grown;

        while (cap < s->n + n + 1)
            cap *= 2;
        if ((grown = realloc(s->p, cap)) == NULL)
            return false;
        s->p = grown;
        s->cap = cap;
    }
    memcpy(s->p + s->n, data, n);
    s->n += n;
    s->p[s->n] = 0;
    return true;
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    return sink_put(arg, data, size * n) ? size * n : 0;
}

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
    sink *s = arg;

    /* a new response (after a 100 Continue) starts the header list again */
    if (size * n > 5 && strncmp(data, "HTTP/", 5) == 0)
        s->n = 0;
    return sink_put(s, data, size * n) ? size * n : 0;
}

static dstack_status get_curl(const char *url, unsigned timeout_ms, size_t max_body,
                              dstack_http_response *out, dstack_error *err)
{
    sink body = {NULL, 0, 0, max_body, false}, heads = {NULL, 0, 0, MAX_HEADERS, false};
    char curl_err[CURL_ERROR_SIZE] = "";
    CURL *h;
    CURLcode rc;
    dstack_status st = DSTACK_OK;

    if (dstack_transport_global_init(err) != DSTACK_OK)
        return DSTACK_ERR_INTERNAL;
    if ((h = curl_easy_init()) == NULL)
        return dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, url, "out of memory");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "libdstack-pccs/0.1");
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_err);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &heads);
    /* collateral is public and signed: a proxy is fine, but never for the loopback */
    if (getenv("no_proxy") == NULL && getenv("NO_PROXY") == NULL)
        curl_easy_setopt(h, CURLOPT_NOPROXY, "localhost,127.0.0.1,::1");
    rc = curl_easy_perform(h);
    if (rc == CURLE_OK) {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
    } else if (body.too_large || heads.too_large) {
        st = dstack_error_set(
            err, DSTACK_ERR_PROTOCOL, NULL, url, "response %s over the %zu-byte limit",
            body.too_large ? "body" : "headers", body.too_large ? max_body : (size_t)MAX_HEADERS);
    } else if (rc == CURLE_OPERATION_TIMEDOUT) {
        st = dstack_error_set(err, DSTACK_ERR_TIMEOUT, NULL, url, "no answer within %u ms",
                              timeout_ms);
    } else if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
               rc == CURLE_COULDNT_RESOLVE_PROXY || rc == CURLE_SEND_ERROR ||
               rc == CURLE_RECV_ERROR || rc == CURLE_GOT_NOTHING || rc == CURLE_SSL_CONNECT_ERROR ||
               rc == CURLE_PEER_FAILED_VERIFICATION) {
        st = dstack_error_set(err, DSTACK_ERR_CONNECTION, NULL, url, "%s",
                              curl_err[0] ? curl_err : curl_easy_strerror(rc));
    } else {
        st = dstack_error_set(err, DSTACK_ERR_PROTOCOL, NULL, url, "%s",
                              curl_err[0] ? curl_err : curl_easy_strerror(rc));
    }
    curl_easy_cleanup(h);
    if (st != DSTACK_OK) {
        free(body.p);
        free(heads.p);
        return st;
    }
    if (body.p == NULL && !sink_put(&body, "", 0)) {
        free(heads.p);
        return dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, url, "out of memory");
    }
    out->body = body.p;
    out->body_len = body.n;
    out->headers = (char *)heads.p;
    out->headers_len = heads.n;
    return DSTACK_OK;
}

/* A copy in plain malloc() memory (the response is freed with free()), NUL-terminated. */
static void *dup_bytes(const char *p, size_t n)
{
    char *out = malloc(n + 1);

    if (out != NULL) {
        if (n > 0)
            memcpy(out, p, n);
        out[n] = 0;
    }
    return out;
}

/* The in-house client's outcome in the PCCS client's words (the same as get_curl's). */
static dstack_status inhouse_status(const dstack_http_xfer *x, const char *url, unsigned timeout_ms,
                                    size_t max_body, dstack_error *err)
{
    const char *d = x->t->errbuf;

    switch (x->outcome) {
    case DSTACK_HTTP_OK:
        return DSTACK_OK;
    case DSTACK_HTTP_TIMEOUT:
        return dstack_error_set(err, DSTACK_ERR_TIMEOUT, NULL, url, "no answer within %u ms",
                                timeout_ms);
    case DSTACK_HTTP_OVERSIZE:
        return dstack_error_set(err, DSTACK_ERR_PROTOCOL, NULL, url,
                                "response body over the %zu-byte limit", max_body);
    case DSTACK_HTTP_HEADERS_OVERSIZE:
        return dstack_error_set(err, DSTACK_ERR_PROTOCOL, NULL, url,
                                "response headers over the %u-byte limit", DSTACK_MAX_HEADER_BYTES);
    case DSTACK_HTTP_CONNECT:
        return dstack_error_set(err, DSTACK_ERR_CONNECTION, NULL, url, "cannot connect: %s",
                                strerror(x->os_errno));
    case DSTACK_HTTP_NOTHING:
        return dstack_error_set(err, DSTACK_ERR_CONNECTION, NULL, url,
                                "the server closed the connection without answering");
    case DSTACK_HTTP_RESOLVE:
    case DSTACK_HTTP_LOST:
        return dstack_error_set(err, DSTACK_ERR_CONNECTION, NULL, url, "%s", d);
    case DSTACK_HTTP_TRUNCATED:
    case DSTACK_HTTP_BAD_REPLY:
        return dstack_error_set(err, DSTACK_ERR_PROTOCOL, NULL, url, "not a valid HTTP answer: %s",
                                d);
    case DSTACK_HTTP_BAD_URL:
        return dstack_error_set(err, DSTACK_ERR_USAGE, NULL, url, "bad URL: %s", d);
    case DSTACK_HTTP_NOMEM:
        break;
    }
    return dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, url, "out of memory");
}

/* http://: a client of the agent transport on the URL's origin, for one GET of its path. No
 * proxy: the PCCS is reached directly (a proxy needs https://, which libcurl serves). */
static dstack_status get_inhouse(const char *url, unsigned timeout_ms, size_t max_body,
                                 dstack_http_response *out, dstack_error *err)
{
    static const char *const headers[] = {"Accept: */*", "Content-Type:", NULL};
    dstack_client_options co = {DSTACK_OPTIONS_INIT(dstack_client_options)};
    size_t origin_len = 7 + strcspn(url + 7, "/?#");
    const char *path = url[origin_len] == '/' ? url + origin_len : NULL;
    char *origin, *query_path = NULL;
    dstack_client *c = NULL;
    dstack_transfer t;
    dstack_http_xfer *x = NULL;
    dstack_status rc;

    memset(&t, 0, sizeof(t));
    if (url[origin_len] == '#')
        return dstack_error_set(err, DSTACK_ERR_USAGE, NULL, url, "bad URL: a fragment");
    if ((origin = dup_bytes(url, origin_len)) == NULL ||
        (path == NULL && (query_path = malloc(strlen(url + origin_len) + 2)) == NULL)) {
        free(origin);
        return dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, url, "out of memory");
    }
    if (path == NULL) { /* "http://host?q" or "http://host": the path is "/" */
        snprintf(query_path, strlen(url + origin_len) + 2, "/%s", url + origin_len);
        path = query_path;
    }
    co.endpoint = origin;
    co.timeout_ms = (long)timeout_ms;
    co.max_response_size = max_body;
    co.extra_headers = headers;
    if ((rc = dstack_client_new(&co, &c, err)) != DSTACK_OK)
        goto done;
    snprintf(t.method, sizeof(t.method), "PCCS GET");
    t.limit = max_body;
    /* the transfer holds a 16 KiB receive buffer: heap, not the stack */
    if ((x = OPENSSL_malloc(sizeof(*x))) == NULL) {
        rc = dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, url, "out of memory");
        goto done;
    }
    if (dstack_http_start_get(x, c, &t, path, (long)timeout_ms))
        dstack_http_run(x, c);
    if ((rc = inhouse_status(x, url, timeout_ms, max_body, err)) == DSTACK_OK) {
        out->status = x->status;
        out->body = dup_bytes(t.body, t.body_len);
        out->body_len = t.body_len;
        out->headers = dup_bytes(t.headers, t.headers_len);
        out->headers_len = t.headers_len;
        if (out->body == NULL || out->headers == NULL) {
            dstack_http_response_free(out);
            rc = dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, url, "out of memory");
        }
    }
    dstack_http_end(x);
done:
    OPENSSL_free(x);
    dstack_transfer_cleanup(&t);
    dstack_client_free(c);
    free(query_path);
    free(origin);
    return rc;
}

dstack_status dstack_http_get(const char *url, unsigned timeout_ms, size_t max_body,
                              dstack_http_response *out, dstack_error *err)
{
    memset(out, 0, sizeof(*out));
    if (strncasecmp(url, "http://", 7) == 0)
        return get_inhouse(url, timeout_ms, max_body, out, err);
    if (strncasecmp(url, "https://", 8) == 0)
        return get_curl(url, timeout_ms, max_body, out, err);
    return dstack_error_set(err, DSTACK_ERR_USAGE, NULL, url, "not an http:// or https:// URL");
}

const char *dstack_http_header(const dstack_http_response *r, const char *name, size_t *len)
{
    size_t n = strlen(name);
    const char *p = r->headers, *end = r->headers + r->headers_len;

    while (p != NULL && p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = eol != NULL ? eol : end;

        if ((size_t)(line_end - p) > n && strncasecmp(p, name, n) == 0 && p[n] == ':') {
            const char *v = p + n + 1;

            while (v < line_end && (*v == ' ' || *v == '\t'))
                v++;
            while (line_end > v && (line_end[-1] == '\r' || line_end[-1] == ' '))
                line_end--;
            *len = (size_t)(line_end - v);
            return v;
        }
        p = eol != NULL ? eol + 1 : NULL;
    }
    return NULL;
}

void dstack_http_response_free(dstack_http_response *r)
{
    free(r->body);
    free(r->headers);
    memset(r, 0, sizeof(*r));
}
