/* Agent transport: HTTP/1.1 POST over a Unix socket or http(s):// with libcurl (protocol.md §1.3).
 *
 * One CURL easy handle per client, created on first use and reused, so sequential calls share
 * one keep-alive connection. In a fork() child the inherited handle is dropped without touching
 * the parent's connection and a new one is opened.
 */
#include "agent/transport_internal.h"
#include "base/api_internal.h"

#include "agent/json_codec.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
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

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;

static void global_init_once(void)
{
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

dstack_status dstack_transport_global_init(dstack_error *err)
{
    if (pthread_once(&global_once, global_init_once) != 0 || global_rc != CURLE_OK)
        return dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, NULL,
                                "libcurl initialisation failed");
    return DSTACK_OK;
}

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

static bool header_line_valid(const char *h)
{
    const char *colon = strchr(h, ':');
    return colon != NULL && colon != h && strpbrk(h, "\r\n") == NULL;
}

dstack_status dstack_client_new(const dstack_client_options *options, dstack_client **out,
                                dstack_error *err)
{
    dstack_client_options given;
    const dstack_client_options *opts = &given;
    dstack_status rc = DSTACK_ERR_INTERNAL;
    dstack_client *c = NULL;
    char endpoint[4096];
    struct curl_slist *tmp;

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
    rc = dstack_transport_global_init(err);
    if (rc != DSTACK_OK)
        return rc;
    rc = dstack_discover_endpoint(opts->service, opts->endpoint, endpoint, sizeof(endpoint), err);
    if (rc != DSTACK_OK)
        return rc;

    c = OPENSSL_zalloc(sizeof(*c));
    if (c == NULL)
        goto oom;
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

    /* JSON mode needs the Content-Type, else the agent reads protobuf (protocol.md §1.3, §10.9);
     * "Expect:" stops libcurl from waiting for a 100-continue the agent never sends. */
    static const char *const fixed[] = {"Content-Type: application/json",
                                        "Accept: application/json", "Expect:"};
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
        if ((tmp = curl_slist_append(c->headers, fixed[i])) == NULL)
            goto oom;
        c->headers = tmp;
    }
    for (const char *const *h = opts->extra_headers; h != NULL && *h != NULL; h++) {
        if (!header_line_valid(*h)) {
            rc = dstack_error_set(err, DSTACK_ERR_USAGE, NULL, endpoint,
                                  "extra header '%.100s' is not a single 'Name: value' line", *h);
            goto err;
        }
        if ((tmp = curl_slist_append(c->headers, *h)) == NULL)
            goto oom;
        c->headers = tmp;
    }
    *out = c;
    return DSTACK_OK;

oom:
    rc = dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, endpoint, "out of memory");
err:
    dstack_client_free(c);
    return rc;
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

void dstack_client_free(dstack_client *c)
{
    if (c == NULL)
        return;
    if (c->easy != NULL) {
        if (c->owner_pid != getpid())
            drop_inherited_handle(c);
        else
            curl_easy_cleanup(c->easy);
    }
    curl_slist_free_all(c->headers);
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

/* ---- receive callbacks ------------------------------------------------------------- */

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

dstack_status dstack_transfer_prepare(const dstack_client *c, CURL *easy, dstack_transfer *t,
                                      const char *method, const char *body, size_t body_len,
                                      long timeout_ms, dstack_error *err)
{
    const char *prefix = service_path_prefix(c->service);
    long total = timeout_ms > 0 ? timeout_ms : c->timeout_ms;
    long connect = c->connect_timeout_ms < total ? c->connect_timeout_ms : total;
    CURLcode cr = CURLE_OK;
    size_t url_len;

    memset(t, 0, sizeof(*t));
    dstack_method_display(c->service, method, t->method, sizeof(t->method));
    if (!method_name_valid(method))
        return dstack_error_set(err, DSTACK_ERR_USAGE, t->method, c->endpoint,
                                "'%.64s' is not a valid RPC method name", method ? method : "");
    t->limit = c->max_response;
    url_len = strlen(c->base_url) + strlen(prefix) + strlen(method) + 1;
    t->url = OPENSSL_malloc(url_len);
    if (t->url == NULL)
        return dstack_error_set(err, DSTACK_ERR_INTERNAL, t->method, c->endpoint, "out of memory");
    snprintf(t->url, url_len, "%s%s%s", c->base_url, prefix, method);

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

static dstack_status connect_failure(const dstack_client *c, CURL *easy, dstack_transfer *t,
                                     CURLcode rc, dstack_error *err)
{
    long os_errno = 0;
    const char *what;

    (void)curl_easy_getinfo(easy, CURLINFO_OS_ERRNO, &os_errno);
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
                            "%s on %s: cannot connect: %s", t->method, c->endpoint,
                            curl_detail(t, rc));
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
    case CURLE_COULDNT_CONNECT:
        return connect_failure(c, easy, t, rc, err);
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
    if (t->body == NULL && !reserve(&t->body, &t->body_cap, 1))
        goto oom;
    if (t->headers == NULL && !reserve(&t->headers, &t->headers_cap, 1))
        goto oom;
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
oom:
    return dstack_error_set(err, DSTACK_ERR_INTERNAL, m, ep, "%s on %s: out of memory", m, ep);
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

static dstack_status call_raw(dstack_client *c, const char *method, const char *json_body,
                              long timeout_ms, dstack_raw_response *out, dstack_error *err)
{
    dstack_transfer t;
    dstack_status rc;

    dstack_error_clear(err);
    if (out != NULL)
        memset(out, 0, sizeof(*out));
    if (c == NULL || out == NULL)
        return dstack_error_set(err, DSTACK_ERR_USAGE, method, NULL,
                                "dstack_call: client and response must not be NULL");
    if (json_body == NULL)
        json_body = "{}";
    memset(&t, 0, sizeof(t));
    rc = ensure_handle(c, err);
    if (rc != DSTACK_OK)
        goto done;
    rc = dstack_transfer_prepare(c, c->easy, &t, method, json_body, strlen(json_body), timeout_ms,
                                 err);
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
