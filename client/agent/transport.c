/* Agent transport: HTTP/1.1 POST to the agent (protocol.md §1.3).
 *
 * Unix sockets and plain http:// endpoints use the in-house client (agent/http.c); https://
 * uses libcurl, loaded on first use (agent/transport_curl.c). Both give the same categories
 * and messages for the same failures. One kept-alive connection per client; in a fork()
 * child the inherited connection is dropped without touching the parent's and a new one is
 * opened.
 */
#include "agent/http.h"
#include "base/api_internal.h"

#include "agent/json_codec.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/crypto.h>

#define USER_AGENT                                                                                 \
    "libdstack/"                                                                                   \
    "0.1"

void dstack_method_display(dstack_service service, const char *method, char *out, size_t cap)
{
    const char *prefix = "";
    if (service == DSTACK_SERVICE_TAPPD)
        prefix = "Tappd.";
    else if (service == DSTACK_SERVICE_WORKER)
        prefix = "Worker.";
    snprintf(out, cap, "%s%s", prefix, method != NULL ? method : "");
}

/* Method names become URL path segments: only identifiers, so nothing can be injected. */
static bool method_name_valid(const char *method)
{
    size_t len = method != NULL ? strlen(method) : 0;
    if (len == 0 || len > DSTACK_METHOD_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char ch = method[i];
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
              ch == '_'))
            return false;
    }
    return true;
}

/* Path per service (protocol.md §1.3): tappd keeps the "Tappd." prefix so 0.3.x agents work too. */
static const char *service_path_prefix(dstack_service service)
{
    switch (service) {
    case DSTACK_SERVICE_TAPPD:
        return "/prpc/Tappd.";
    case DSTACK_SERVICE_WORKER:
        return "/prpc/Worker.";
    default:
        return "/";
    }
}

dstack_status dstack_transfer_begin(const dstack_client *c, dstack_transfer *t, const char *method,
                                    char *path, size_t path_cap, dstack_error *err)
{
    memset(t, 0, sizeof(*t));
    dstack_method_display(c->service, method, t->method, sizeof(t->method));
    if (!method_name_valid(method))
        return dstack_error_set(err, DSTACK_ERR_USAGE, t->method, c->endpoint,
                                "'%.64s' is not a valid RPC method name", method ? method : "");
    t->limit = c->max_response;
    snprintf(path, path_cap, "%s%s", service_path_prefix(c->service), method);
    return DSTACK_OK;
}

static bool header_line_valid(const char *h)
{
    const char *colon = strchr(h, ':');
    return colon != NULL && colon != h && strpbrk(h, "\r\n") == NULL;
}

/* ---- the in-house client's target ------------------------------------------------- */

static bool header_named(const char *h, const char *name)
{
    size_t n = strlen(name);
    return strncasecmp(h, name, n) == 0 && h[n] == ':';
}

/* The caller's header replaces ours of the same name; "Name:" with no value removes it (the
 * libcurl convention the option had before). Framing headers are ours alone. */
static bool caller_overrides(const dstack_client *c, const char *name)
{
    for (char **h = c->extra_headers; h != NULL && *h != NULL; h++)
        if (header_named(*h, name))
            return true;
    return false;
}

static bool header_empty(const char *h)
{
    const char *v = strchr(h, ':') + 1;
    while (*v == ' ' || *v == '\t')
        v++;
    return *v == '\0';
}

static dstack_status build_headers(dstack_client *c, const char *host, dstack_error *err)
{
    static const char *const fixed[][2] = {{"Host", NULL},
                                           {"User-Agent", USER_AGENT},
                                           {"Content-Type", "application/json"},
                                           {"Accept", "application/json"}};
    size_t len = 1, off = 0;
    char *buf;

    for (size_t i = 0; i < 4; i++)
        len += strlen(fixed[i][0]) + strlen(fixed[i][1] != NULL ? fixed[i][1] : host) + 4;
    for (char **h = c->extra_headers; h != NULL && *h != NULL; h++)
        len += strlen(*h) + 2;
    if ((buf = OPENSSL_malloc(len)) == NULL)
        return dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, c->endpoint, "out of memory");
    for (size_t i = 0; i < 4; i++)
        if (!caller_overrides(c, fixed[i][0]))
            off += (size_t)snprintf(buf + off, len - off, "%s: %s\r\n", fixed[i][0],
                                    fixed[i][1] != NULL ? fixed[i][1] : host);
    for (char **h = c->extra_headers; h != NULL && *h != NULL; h++)
        if (!header_empty(*h) && !header_named(*h, "Content-Length") &&
            !header_named(*h, "Transfer-Encoding") && !header_named(*h, "Expect"))
            off += (size_t)snprintf(buf + off, len - off, "%s\r\n", *h);
    c->http.headers = buf;
    return DSTACK_OK;
}

/* http://host[:port][/path] → host, port, path; a URL we cannot use is reported by the first
 * call ("bad endpoint URL"), as libcurl reported it. */
static dstack_status parse_http_url(dstack_client *c, dstack_error *err)
{
    const char *auth = strstr(c->base_url, "://") + 3, *path = strchr(auth, '/');
    size_t auth_len = path != NULL ? (size_t)(path - auth) : strlen(auth);
    const char *host = auth, *colon = NULL, *why = NULL;
    size_t host_len = auth_len;
    char hostbuf[256];

    if (memchr(auth, '@', auth_len) != NULL) {
        why = "credentials in the URL are not supported";
    } else if (*auth == '[') { /* IPv6 literal */
        const char *close = memchr(auth, ']', auth_len);
        if (close == NULL)
            why = "unterminated IPv6 address";
        host = auth + 1;
        host_len = close != NULL ? (size_t)(close - host) : 0;
        if (close != NULL && close + 1 < auth + auth_len)
            colon = *(close + 1) == ':' ? close + 1 : (why = "junk after the IPv6 address", NULL);
    } else if ((colon = memchr(auth, ':', auth_len)) != NULL) {
        host_len = (size_t)(colon - auth);
    }
    if (why == NULL && (host_len == 0 || host_len >= sizeof(hostbuf)))
        why = "bad host name";
    const char *port = colon != NULL ? colon + 1 : "80";
    size_t port_len = colon != NULL ? (size_t)(auth + auth_len - port) : 2;
    unsigned long pn = 0;
    for (size_t i = 0; why == NULL && i < port_len; i++)
        if (port[i] < '0' || port[i] > '9' || (pn = pn * 10 + (unsigned)(port[i] - '0')) > 65535)
            why = "bad port number";
    if (why == NULL && (port_len == 0 || pn == 0))
        why = "bad port number";
    if (why != NULL) {
        c->http.bad_url = OPENSSL_strdup(why);
        return c->http.bad_url != NULL
                   ? build_headers(c, "localhost", err)
                   : dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, c->endpoint, "out of memory");
    }
    memcpy(hostbuf, host, host_len);
    hostbuf[host_len] = '\0';
    c->http.host = OPENSSL_strdup(hostbuf);
    c->http.port = OPENSSL_strndup(port, port_len);
    c->http.path_base = OPENSSL_strdup(path != NULL ? path : "");
    if (c->http.host == NULL || c->http.port == NULL || c->http.path_base == NULL)
        return dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, c->endpoint, "out of memory");
    /* Host: the authority as written (host[:port]), as libcurl sent it. */
    memcpy(hostbuf, auth, auth_len < sizeof(hostbuf) ? auth_len : sizeof(hostbuf) - 1);
    hostbuf[auth_len < sizeof(hostbuf) ? auth_len : sizeof(hostbuf) - 1] = '\0';
    return build_headers(c, hostbuf, err);
}

dstack_status dstack_client_new(const dstack_client_options *options, dstack_client **out,
                                dstack_error *err)
{
    dstack_client_options given;
    const dstack_client_options *opts = &given;
    dstack_status rc = DSTACK_ERR_INTERNAL;
    dstack_client *c = NULL;
    char endpoint[4096];
    size_t n = 0;

    dstack_error_clear(err);
    if (out == NULL)
        return dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL,
                                "dstack_client_new: no output pointer");
    *out = NULL;
    rc = dstack_options_read(options, &given, sizeof(given), "dstack_client_options", err);
    if (rc != DSTACK_OK)
        return rc;
    if (opts->service != DSTACK_SERVICE_GUEST && opts->service != DSTACK_SERVICE_TAPPD &&
        opts->service != DSTACK_SERVICE_WORKER)
        return dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL, "unknown service %d",
                                (int)opts->service);
    if (opts->timeout_ms < 0 || opts->connect_timeout_ms < 0)
        return dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL, "timeouts must not be negative");
    rc = dstack_discover_endpoint(opts->service, opts->endpoint, endpoint, sizeof(endpoint), err);
    if (rc != DSTACK_OK)
        return rc;

    c = OPENSSL_zalloc(sizeof(*c));
    if (c == NULL)
        goto oom;
    c->conn.fd = -1;
    c->service = opts->service;
    c->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : DSTACK_DEFAULT_TIMEOUT_MS;
    c->connect_timeout_ms = opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : c->timeout_ms;
    c->max_response =
        opts->max_response_size > 0 ? opts->max_response_size : DSTACK_DEFAULT_MAX_RESPONSE;
    c->endpoint = OPENSSL_strdup(endpoint);
    if (c->endpoint == NULL)
        goto oom;
    rc = dstack_endpoint_split(endpoint, &c->socket_path, &c->base_url, err);
    if (rc != DSTACK_OK)
        goto err;

    for (const char *const *h = opts->extra_headers; h != NULL && *h != NULL; h++, n++) {
        if (!header_line_valid(*h)) {
            rc = dstack_error_set(err, DSTACK_ERR_USAGE, NULL, endpoint,
                                  "extra header '%.100s' is not a single 'Name: value' line", *h);
            goto err;
        }
    }
    if ((c->extra_headers = OPENSSL_zalloc((n + 1) * sizeof(char *))) == NULL)
        goto oom;
    for (size_t i = 0; i < n; i++)
        if ((c->extra_headers[i] = OPENSSL_strdup(opts->extra_headers[i])) == NULL)
            goto oom;

    c->use_curl = c->socket_path == NULL && strncasecmp(c->base_url, "https://", 8) == 0;
    c->http.socket_path = c->socket_path;
    if (c->use_curl)
        rc = dstack_curl_client_init(c, err);
    else if (c->socket_path != NULL)
        rc = build_headers(c, "localhost", err); /* libcurl's Host for a socket URL */
    else
        rc = parse_http_url(c, err);
    if (rc != DSTACK_OK)
        goto err;
    *out = c;
    return DSTACK_OK;

oom:
    rc = dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, endpoint, "out of memory");
err:
    dstack_client_free(c);
    return rc;
}

void dstack_client_free(dstack_client *c)
{
    if (c == NULL)
        return;
    if (c->use_curl)
        dstack_curl_client_free(c);
    dstack_http_conn_close(&c->conn);
    for (char **h = c->extra_headers; h != NULL && *h != NULL; h++)
        OPENSSL_free(*h);
    OPENSSL_free(c->extra_headers);
    OPENSSL_free(c->http.host);
    OPENSSL_free(c->http.port);
    OPENSSL_free(c->http.path_base);
    OPENSSL_free(c->http.headers);
    OPENSSL_free(c->http.bad_url);
    OPENSSL_free(c->endpoint);
    OPENSSL_free(c->socket_path);
    OPENSSL_free(c->base_url);
    OPENSSL_free(c);
}

void dstack_client_set_timeout(dstack_client *c, long timeout_ms)
{
    if (c == NULL || timeout_ms <= 0)
        return;
    c->timeout_ms = timeout_ms;
    c->connect_timeout_ms = timeout_ms;
}

const char *dstack_client_endpoint(const dstack_client *c)
{
    return c != NULL ? c->endpoint : NULL;
}

dstack_service dstack_client_service(const dstack_client *c)
{
    return c != NULL ? c->service : DSTACK_SERVICE_GUEST;
}

unsigned long dstack_client_connections_opened(const dstack_client *c)
{
    return c != NULL ? c->connections : 0;
}

void dstack_raw_response_clear(dstack_raw_response *resp)
{
    if (resp == NULL)
        return;
    /* Bodies carry keys (GetKey, GetTlsKey): cleanse, don't just free. */
    if (resp->body != NULL)
        OPENSSL_clear_free(resp->body, resp->body_len + 1);
    OPENSSL_free(resp->headers);
    memset(resp, 0, sizeof(*resp));
}

bool dstack_transfer_reserve(char **buf, size_t *cap, size_t need)
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

void dstack_transfer_cleanup(dstack_transfer *t)
{
    if (t == NULL)
        return;
    if (t->body != NULL)
        OPENSSL_clear_free(t->body, t->body_cap);
    OPENSSL_free(t->headers);
    OPENSSL_free(t->url);
    memset(t, 0, sizeof(*t));
}

dstack_status dstack_transfer_deliver(const dstack_client *c, dstack_transfer *t, long status,
                                      dstack_raw_response *out, dstack_error *err)
{
    if (t->body == NULL && (t->body = OPENSSL_zalloc(1)) != NULL)
        t->body_cap = 1;
    if (t->headers == NULL && (t->headers = OPENSSL_zalloc(1)) != NULL)
        t->headers_cap = 1;
    if (t->body == NULL || t->headers == NULL)
        return dstack_error_set(err, DSTACK_ERR_INTERNAL, t->method, c->endpoint,
                                "%s on %s: out of memory", t->method, c->endpoint);
    t->body[t->body_len] = '\0';
    t->headers[t->headers_len] = '\0';
    out->http_status = status;
    out->body = t->body;
    out->body_len = t->body_len;
    out->headers = t->headers;
    out->headers_len = t->headers_len;
    /* Ownership moved: the capacity tail beyond body_len+1 was never written. */
    t->body = NULL;
    t->headers = NULL;
    t->body_cap = t->headers_cap = 0;
    return DSTACK_OK;
}

dstack_status dstack_connect_failure(const dstack_client *c, const dstack_transfer *t,
                                     long os_errno, const char *detail, dstack_error *err)
{
    const char *what;

    switch (os_errno) {
    case ENOENT:
        what = "no such socket (is the dstack agent running?)";
        break;
    case ECONNREFUSED:
        what = "connection refused (is the dstack agent running?)";
        break;
    case EACCES:
    case EPERM:
        what = "permission denied";
        break;
    default:
        what = NULL;
        break;
    }
    if (what != NULL)
        return dstack_error_set(err, DSTACK_ERR_CONNECTION, t->method, c->endpoint, "%s on %s: %s",
                                t->method, c->endpoint, what);
    return dstack_error_set(err, DSTACK_ERR_CONNECTION, t->method, c->endpoint,
                            "%s on %s: cannot connect: %s", t->method, c->endpoint, detail);
}

/* ---- one call over the in-house client ------------------------------------------------ */

dstack_status dstack_http_outcome_status(const dstack_client *c, const dstack_http_xfer *x,
                                         long timeout_ms, dstack_raw_response *out,
                                         dstack_error *err)
{
    dstack_transfer *t = x->t;
    const char *m = t->method, *ep = c->endpoint, *d = t->errbuf;

    switch (x->outcome) {
    case DSTACK_HTTP_OK:
        return dstack_transfer_deliver(c, t, x->status, out, err);
    case DSTACK_HTTP_TIMEOUT:
        return dstack_error_set(err, DSTACK_ERR_TIMEOUT, m, ep, "%s on %s: timed out after %ld ms",
                                m, ep, timeout_ms);
    case DSTACK_HTTP_CONNECT:
        return dstack_connect_failure(c, t, x->os_errno, d, err);
    case DSTACK_HTTP_RESOLVE:
        return dstack_error_set(err, DSTACK_ERR_CONNECTION, m, ep, "%s on %s: %s", m, ep, d);
    case DSTACK_HTTP_NOTHING:
        return dstack_error_set(err, DSTACK_ERR_CONNECTION, m, ep,
                                "%s on %s: the agent closed the connection without answering", m,
                                ep);
    case DSTACK_HTTP_LOST:
        return dstack_error_set(err, DSTACK_ERR_CONNECTION, m, ep, "%s on %s: connection lost: %s",
                                m, ep, d);
    case DSTACK_HTTP_TRUNCATED:
        return dstack_error_set(err, DSTACK_ERR_PROTOCOL, m, ep, "%s on %s: response truncated: %s",
                                m, ep, d);
    case DSTACK_HTTP_OVERSIZE:
        return dstack_error_set(err, DSTACK_ERR_PROTOCOL, m, ep,
                                "%s on %s: response exceeds %zu bytes", m, ep, t->limit);
    case DSTACK_HTTP_HEADERS_OVERSIZE:
        return dstack_error_set(err, DSTACK_ERR_PROTOCOL, m, ep,
                                "%s on %s: response headers exceed %u bytes", m, ep,
                                DSTACK_MAX_HEADER_BYTES);
    case DSTACK_HTTP_BAD_REPLY:
        return dstack_error_set(err, DSTACK_ERR_PROTOCOL, m, ep,
                                "%s on %s: the agent did not answer with valid HTTP: %s", m, ep, d);
    case DSTACK_HTTP_BAD_URL:
        return dstack_error_set(err, DSTACK_ERR_USAGE, m, ep, "%s on %s: bad endpoint URL: %s", m,
                                ep, d);
    case DSTACK_HTTP_NOMEM:
        break;
    }
    return dstack_error_set(err, DSTACK_ERR_INTERNAL, m, ep,
                            "%s on %s: out of memory receiving the response", m, ep);
}

void dstack_http_run(dstack_http_xfer *x, dstack_client *c)
{
    while (!dstack_http_step(x, &c->connections)) {
        struct pollfd p = {.fd = c->conn.fd, .events = dstack_http_events(x)};
        int wait = dstack_http_wait_ms(x);
        if (poll(&p, 1, wait) < 0 && errno != EINTR) {
            x->outcome = DSTACK_HTTP_LOST;
            snprintf(x->t->errbuf, sizeof(x->t->errbuf), "poll failed: %s", strerror(errno));
            break;
        }
    }
}

static dstack_status http_call(dstack_client *c, const char *method, const char *body,
                               long timeout_ms, dstack_raw_response *out, dstack_error *err)
{
    long total = timeout_ms > 0 ? timeout_ms : c->timeout_ms;
    char path[DSTACK_METHOD_MAX + 16];
    dstack_transfer t;
    dstack_http_xfer *x;
    dstack_status rc = dstack_transfer_begin(c, &t, method, path, sizeof(path), err);

    if (rc != DSTACK_OK)
        return rc;
    /* The transfer holds a 16 KiB receive buffer: heap, not the caller's stack. */
    if ((x = OPENSSL_malloc(sizeof(*x))) == NULL) {
        dstack_transfer_cleanup(&t);
        return dstack_error_set(err, DSTACK_ERR_INTERNAL, t.method, c->endpoint, "out of memory");
    }
    if (dstack_http_start(x, c, &t, &c->conn, path, body, strlen(body), total,
                          c->connect_timeout_ms, &c->connections))
        dstack_http_run(x, c);
    rc = dstack_http_outcome_status(c, x, total, out, err);
    dstack_http_end(x);
    OPENSSL_free(x);
    dstack_transfer_cleanup(&t);
    return rc;
}

dstack_status dstack_response_check_status(const dstack_client *c, const char *display_method,
                                           const dstack_raw_response *resp, dstack_error *err)
{
    json_object *obj = NULL, *field;
    const char *text = NULL;

    if (resp->http_status == 200)
        return DSTACK_OK;
    /* Agent errors are {"error": "<anyhow chain>"} (protocol.md §1.5); other bodies (Rocket's HTML
     * 404 page, protobuf) are not echoed. */
    if (dstack_json_parse_text(resp->body, resp->body_len, &obj, NULL) == DSTACK_OK &&
        json_object_is_type(obj, json_type_object) &&
        json_object_object_get_ex(obj, "error", &field) &&
        json_object_is_type(field, json_type_string))
        text = json_object_get_string(field);
    if (text != NULL && *text != '\0')
        dstack_error_set(err, DSTACK_ERR_AGENT, display_method, c->endpoint,
                         "%s on %s: agent answered HTTP %ld: %.600s", display_method, c->endpoint,
                         resp->http_status, text);
    else
        dstack_error_set(err, DSTACK_ERR_AGENT, display_method, c->endpoint,
                         "%s on %s: agent answered HTTP %ld", display_method, c->endpoint,
                         resp->http_status);
    if (err != NULL) {
        err->http_status = resp->http_status;
        dstack_text_escape(text != NULL ? text : "", err->agent_error, sizeof(err->agent_error));
    }
    json_object_put(obj);
    return DSTACK_ERR_AGENT;
}

/* ---- public calls ------------------------------------------------------------------ */

static dstack_status call_raw(dstack_client *c, const char *method, const char *json_body,
                              long timeout_ms, dstack_raw_response *out, dstack_error *err)
{
    dstack_error_clear(err);
    if (out != NULL)
        memset(out, 0, sizeof(*out));
    if (c == NULL || out == NULL)
        return dstack_error_set(err, DSTACK_ERR_USAGE, method, NULL,
                                "dstack_call: client and response must not be NULL");
    if (json_body == NULL)
        json_body = "{}";
    if (c->use_curl)
        return dstack_curl_call(c, method, json_body, timeout_ms, out, err);
    return http_call(c, method, json_body, timeout_ms, out, err);
}

dstack_status dstack_call_raw(dstack_client *c, const char *method, const char *json_body,
                              dstack_raw_response *out, dstack_error *err)
{
    return call_raw(c, method, json_body, 0, out, err);
}

dstack_status dstack_call(dstack_client *c, const char *method, const char *json_body,
                          json_object **out, dstack_error *err)
{
    dstack_raw_response resp;
    dstack_status rc;
    json_object *obj = NULL;
    const char *why = NULL;
    char display[DSTACK_METHOD_MAX + 16];

    if (out != NULL)
        *out = NULL;
    if (out == NULL)
        return dstack_error_set(err, DSTACK_ERR_USAGE, method, NULL,
                                "dstack_call: no output pointer");
    rc = call_raw(c, method, json_body, 0, &resp, err);
    if (rc != DSTACK_OK)
        return rc;
    dstack_method_display(c->service, method, display, sizeof(display));
    rc = dstack_response_check_status(c, display, &resp, err);
    if (rc != DSTACK_OK)
        goto done;
    /* Empty responses (EmitEvent) are the literal null or an empty body (protocol.md §1.4). */
    rc = dstack_json_parse_text(resp.body, resp.body_len, &obj, &why);
    if (rc != DSTACK_OK) {
        rc = dstack_error_set(err, DSTACK_ERR_PROTOCOL, display, c->endpoint,
                              "%s on %s: response is not valid JSON (%s)", display, c->endpoint,
                              why != NULL ? why : "parse error");
        goto done;
    }
    if (obj != NULL && !json_object_is_type(obj, json_type_object)) {
        rc = dstack_error_set(err, DSTACK_ERR_PROTOCOL, display, c->endpoint,
                              "%s on %s: response is a JSON %s, expected an object", display,
                              c->endpoint, json_type_to_name(json_object_get_type(obj)));
        dstack_json_scrub_all(obj);
        json_object_put(obj);
        goto done;
    }
    *out = obj;
done:
    dstack_raw_response_clear(&resp);
    return rc;
}

bool dstack_is_reachable(dstack_client *c, long timeout_ms)
{
    dstack_raw_response resp;
    bool ok;

    if (call_raw(c, "Info", NULL, timeout_ms > 0 ? timeout_ms : 500, &resp, NULL) != DSTACK_OK)
        return false;
    ok = resp.http_status == 200;
    dstack_raw_response_clear(&resp);
    return ok;
}
