/* The https:// transport: HTTP/1.1 POST with libcurl, loaded on first use (agent/curl_dl.h).
 * Unix sockets and plain http:// go through agent/http.c instead; this file keeps the
 * libcurl behaviour those endpoints had before, for the one case that needs TLS.
 *
 * One CURL easy handle per client, created on first use and reused, so sequential calls share
 * one keep-alive connection. In a fork() child the inherited handle is dropped without touching
 * the parent's connection and a new one is opened.
 */
#include "agent/curl_dl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/crypto.h>

#define USER_AGENT                                                                                 \
    "libdstack/"                                                                                   \
    "0.1"

dstack_status dstack_curl_client_init(dstack_client *c, dstack_error *err)
{
    struct curl_slist *tmp;
    dstack_status rc = dstack_transport_global_init(err);

    if (rc != DSTACK_OK)
        return rc;
    /* JSON mode needs the Content-Type, else the agent reads protobuf (protocol.md §1.3, §10.9);
     * "Expect:" stops libcurl from waiting for a 100-continue the agent never sends. */
    static const char *const fixed[] = {"Content-Type: application/json",
                                        "Accept: application/json", "Expect:"};
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
        if ((tmp = curl_slist_append(c->headers, fixed[i])) == NULL)
            goto oom;
        c->headers = tmp;
    }
    for (char **h = c->extra_headers; h != NULL && *h != NULL; h++) {
        if ((tmp = curl_slist_append(c->headers, *h)) == NULL)
            goto oom;
        c->headers = tmp;
    }
    return DSTACK_OK;
oom:
    return dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, c->endpoint, "out of memory");
}

/* A fork() child shares the parent's socket. Closing our copy is harmless for plain HTTP, but
 * libcurl may write on it first (a TLS close_notify for https://), which would corrupt the
 * parent's stream — so point the descriptor at /dev/null in this process before cleanup. */
static void drop_inherited_handle(dstack_client *c)
{
    curl_socket_t sock = CURL_SOCKET_BAD;

    if (curl_easy_getinfo(c->easy, CURLINFO_ACTIVESOCKET, &sock) == CURLE_OK &&
        sock != CURL_SOCKET_BAD) {
        int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (devnull >= 0) {
            (void)dup2(devnull, sock);
            close(devnull);
        }
    }
    curl_easy_cleanup(c->easy);
    c->easy = NULL;
}

void dstack_curl_client_free(dstack_client *c)
{
    if (c->easy != NULL) {
        if (c->owner_pid != getpid())
            drop_inherited_handle(c);
        else
            curl_easy_cleanup(c->easy);
    }
    if (c->headers != NULL)
        curl_slist_free_all(c->headers);
    c->easy = NULL;
    c->headers = NULL;
}

/* ---- receive callbacks (libcurl) ------------------------------------------------------------- */

static bool reserve(char **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return true;
    size_t ncap = *cap > 0 ? *cap : 1024;
    while (ncap < need)
        ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
    char *nb = OPENSSL_clear_realloc(*buf, *cap, ncap);
    if (nb == NULL)
        return false;
    *buf = nb;
    *cap = ncap;
    return true;
}

static size_t write_body(char *data, size_t size, size_t nmemb, void *userdata)
{
    dstack_transfer *t = userdata;
    size_t n = size * nmemb;

    if (n > t->limit - t->body_len) {
        t->oversize = true;
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    if (!reserve(&t->body, &t->body_cap, t->body_len + n + 1)) {
        t->alloc_failed = true;
        return 0;
    }
    memcpy(t->body + t->body_len, data, n);
    t->body_len += n;
    t->body[t->body_len] = '\0';
    return n;
}

static size_t write_header(char *data, size_t size, size_t nitems, void *userdata)
{
    dstack_transfer *t = userdata;
    size_t n = size * nitems;

    /* A status line starts a new response (after a 1xx or a retried dead connection). */
    if (n >= 5 && memcmp(data, "HTTP/", 5) == 0)
        t->headers_len = 0;
    if (n > DSTACK_MAX_HEADER_BYTES - t->headers_len) {
        t->headers_oversize = true;
        return 0;
    }
    if (!reserve(&t->headers, &t->headers_cap, t->headers_len + n + 1)) {
        t->alloc_failed = true;
        return 0;
    }
    memcpy(t->headers + t->headers_len, data, n);
    t->headers_len += n;
    t->headers[t->headers_len] = '\0';

    /* Fail an announced oversized body before reading it, and size the buffer once. */
    if (n > 15 && strncasecmp(data, "Content-Length:", 15) == 0) {
        char num[32];
        size_t len = n - 15 < sizeof(num) - 1 ? n - 15 : sizeof(num) - 1;
        memcpy(num, data + 15, len);
        num[len] = '\0';
        char *end;
        errno = 0;
        unsigned long long cl = strtoull(num, &end, 10);
        if (errno == 0 && end != num) {
            if (cl > t->limit) {
                t->oversize = true;
                return 0;
            }
            if (!reserve(&t->body, &t->body_cap, (size_t)cl + 1)) {
                t->alloc_failed = true;
                return 0;
            }
        }
    }
    return n;
}

/* ---- one transfer ------------------------------------------------------------------ */

dstack_status dstack_transfer_prepare(const dstack_client *c, CURL *easy, dstack_transfer *t,
                                      const char *method, const char *body, size_t body_len,
                                      long timeout_ms, dstack_error *err)
{
    char path[DSTACK_METHOD_MAX + 16];
    long total = timeout_ms > 0 ? timeout_ms : c->timeout_ms;
    long connect = c->connect_timeout_ms < total ? c->connect_timeout_ms : total;
    CURLcode cr = CURLE_OK;
    size_t url_len;
    dstack_status rc = dstack_transfer_begin(c, t, method, path, sizeof(path), err);

    if (rc != DSTACK_OK)
        return rc;
    url_len = strlen(c->base_url) + strlen(path) + 1;
    t->url = OPENSSL_malloc(url_len);
    if (t->url == NULL)
        return dstack_error_set(err, DSTACK_ERR_INTERNAL, t->method, c->endpoint, "out of memory");
    snprintf(t->url, url_len, "%s%s", c->base_url, path);

#define SET(opt, val)                                                                              \
    do {                                                                                           \
        if (cr == CURLE_OK)                                                                        \
            cr = curl_easy_setopt(easy, opt, val);                                                 \
    } while (0)
    SET(CURLOPT_URL, t->url);
    SET(CURLOPT_UNIX_SOCKET_PATH, c->socket_path); /* NULL for http(s):// resets it */
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    SET(CURLOPT_POST, 1L);
    SET(CURLOPT_POSTFIELDS, body);
    SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    SET(CURLOPT_HTTPHEADER, c->headers);
    SET(CURLOPT_USERAGENT, USER_AGENT);
    SET(CURLOPT_WRITEFUNCTION, write_body);
    SET(CURLOPT_WRITEDATA, t);
    SET(CURLOPT_HEADERFUNCTION, write_header);
    SET(CURLOPT_HEADERDATA, t);
    SET(CURLOPT_ERRORBUFFER, t->errbuf);
    SET(CURLOPT_TIMEOUT_MS, total);
    SET(CURLOPT_CONNECTTIMEOUT_MS, connect);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    /* Agent replies carry private keys: never through a proxy, whatever http_proxy, all_proxy
     * or HTTPS_PROXY say (an empty proxy disables the environment's; architecture.md §11). */
    SET(CURLOPT_PROXY, "");
#undef SET
    if (cr != CURLE_OK)
        return dstack_error_set(err, DSTACK_ERR_INTERNAL, t->method, c->endpoint,
                                "%s on %s: cannot configure libcurl: %s", t->method, c->endpoint,
                                curl_easy_strerror(cr));
    return DSTACK_OK;
}

static const char *curl_detail(const dstack_transfer *t, CURLcode rc)
{
    return t->errbuf[0] != '\0' ? t->errbuf : curl_easy_strerror(rc);
}

dstack_status dstack_transfer_finish(const dstack_client *c, CURL *easy, dstack_transfer *t,
                                     CURLcode rc, long timeout_ms, unsigned long *connections,
                                     dstack_raw_response *out, dstack_error *err)
{
    const char *m = t->method, *ep = c->endpoint;
    long opened = 0, status = 0;

    if (curl_easy_getinfo(easy, CURLINFO_NUM_CONNECTS, &opened) == CURLE_OK && opened > 0)
        *connections += (unsigned long)opened;

    if (t->oversize)
        return dstack_error_set(err, DSTACK_ERR_PROTOCOL, m, ep,
                                "%s on %s: response exceeds %zu bytes", m, ep, t->limit);
    if (t->headers_oversize)
        return dstack_error_set(err, DSTACK_ERR_PROTOCOL, m, ep,
                                "%s on %s: response headers exceed %u bytes", m, ep,
                                DSTACK_MAX_HEADER_BYTES);
    if (t->alloc_failed || rc == CURLE_OUT_OF_MEMORY)
        return dstack_error_set(err, DSTACK_ERR_INTERNAL, m, ep,
                                "%s on %s: out of memory receiving the response", m, ep);
    switch (rc) {
    case CURLE_OK:
        break;
    case CURLE_OPERATION_TIMEDOUT:
        return dstack_error_set(err, DSTACK_ERR_TIMEOUT, m, ep, "%s on %s: timed out after %ld ms",
                                m, ep, timeout_ms > 0 ? timeout_ms : c->timeout_ms);
    case CURLE_COULDNT_CONNECT: {
        long os_errno = 0;
        (void)curl_easy_getinfo(easy, CURLINFO_OS_ERRNO, &os_errno);
        return dstack_connect_failure(c, t, os_errno, curl_detail(t, rc), err);
    }
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return dstack_error_set(err, DSTACK_ERR_CONNECTION, m, ep, "%s on %s: %s", m, ep,
                                curl_detail(t, rc));
    case CURLE_GOT_NOTHING:
        return dstack_error_set(err, DSTACK_ERR_CONNECTION, m, ep,
                                "%s on %s: the agent closed the connection without answering", m,
                                ep);
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
        return dstack_error_set(err, DSTACK_ERR_CONNECTION, m, ep, "%s on %s: connection lost: %s",
                                m, ep, curl_detail(t, rc));
    case CURLE_PARTIAL_FILE:
        return dstack_error_set(err, DSTACK_ERR_PROTOCOL, m, ep, "%s on %s: response truncated: %s",
                                m, ep, curl_detail(t, rc));
    case CURLE_FILESIZE_EXCEEDED:
        return dstack_error_set(err, DSTACK_ERR_PROTOCOL, m, ep,
                                "%s on %s: response exceeds %zu bytes", m, ep, t->limit);
    case CURLE_UNSUPPORTED_PROTOCOL: /* "Received HTTP/0.9 when not allowed" */
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_BAD_CONTENT_ENCODING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_TOO_MANY_REDIRECTS:
        return dstack_error_set(err, DSTACK_ERR_PROTOCOL, m, ep,
                                "%s on %s: the agent did not answer with valid HTTP: %s", m, ep,
                                curl_detail(t, rc));
    case CURLE_URL_MALFORMAT:
        return dstack_error_set(err, DSTACK_ERR_USAGE, m, ep, "%s on %s: bad endpoint URL: %s", m,
                                ep, curl_detail(t, rc));
    default:
        return dstack_error_set(err, DSTACK_ERR_CONNECTION, m, ep, "%s on %s: %s", m, ep,
                                curl_detail(t, rc));
    }

    (void)curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    return dstack_transfer_deliver(c, t, status, out, err);
}

static dstack_status ensure_handle(dstack_client *c, dstack_error *err)
{
    pid_t self = getpid();

    if (c->easy != NULL && c->owner_pid != self)
        drop_inherited_handle(c);
    if (c->easy == NULL) {
        c->easy = curl_easy_init();
        if (c->easy == NULL)
            return dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, c->endpoint,
                                    "cannot create a libcurl handle");
        /* One connection per client: sequential calls reuse it (keep-alive). */
        (void)curl_easy_setopt(c->easy, CURLOPT_MAXCONNECTS, 1L);
        c->owner_pid = self;
    }
    return DSTACK_OK;
}

dstack_status dstack_curl_call(dstack_client *c, const char *method, const char *body,
                               long timeout_ms, dstack_raw_response *out, dstack_error *err)
{
    dstack_transfer t;
    dstack_status rc;

    memset(&t, 0, sizeof(t));
    rc = ensure_handle(c, err);
    if (rc != DSTACK_OK)
        goto done;
    rc = dstack_transfer_prepare(c, c->easy, &t, method, body, strlen(body), timeout_ms, err);
    if (rc != DSTACK_OK)
        goto done;
    CURLcode cr = curl_easy_perform(c->easy);
    rc = dstack_transfer_finish(c, c->easy, &t, cr, timeout_ms, &c->connections, out, err);
    /* Drop references to per-call memory held by the reused handle. */
    (void)curl_easy_setopt(c->easy, CURLOPT_ERRORBUFFER, NULL);
    (void)curl_easy_setopt(c->easy, CURLOPT_POSTFIELDS, NULL);
done:
    dstack_transfer_cleanup(&t);
    return rc;
}
