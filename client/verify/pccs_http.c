/* One HTTP GET for the PCCS client (verify/verify_internal.h), on libcurl. The agent transport
 * is moving to an in-house HTTP/1.1 client with libcurl loaded only for https://; this file is
 * the single place the PCCS client reaches the network, so it switches over here alone. */
#include "verify/verify_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "agent/transport_internal.h"

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

dstack_status dstack_http_get(const char *url, unsigned timeout_ms, size_t max_body,
                              dstack_http_response *out, dstack_error *err)
{
    sink body = {NULL, 0, 0, max_body, false}, heads = {NULL, 0, 0, MAX_HEADERS, false};
    char curl_err[CURL_ERROR_SIZE] = "";
    CURL *h;
    CURLcode rc;
    dstack_status st = DSTACK_OK;

    memset(out, 0, sizeof(*out));
    if (dstack_transport_global_init(err) != DSTACK_OK)
        return DSTACK_ERR_INTERNAL;
    if ((h = curl_easy_init()) == NULL)
        return dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, url, "out of memory");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
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
