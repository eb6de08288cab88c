/* libdstack internal — the agent connection shared by transport.c, batch.c and the typed
 * RPC files. Not installed. */
#ifndef DSTACK_TRANSPORT_INTERNAL_H
#define DSTACK_TRANSPORT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* libcurl's types only: its functions are reached through agent/curl_dl.h, loaded for https://
 * endpoints on first use. */
#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>

#include <dstack/client.h>

/* Longest method name we send ("GetAttestationForAppKey" is the longest in protocol.md §2). */
#define DSTACK_METHOD_MAX 48
/* Response header block cap: the agent sends a handful of short headers (protocol.md §1.3). */
#define DSTACK_MAX_HEADER_BYTES (64u * 1024u)

/* Where the in-house HTTP client (agent/http.c) sends requests; parsed once per client. */
typedef struct dstack_http_target {
    const char *socket_path; /* Unix socket, or NULL for http:// */
    char *host;              /* http://: host (brackets of an IPv6 literal removed) */
    char *port;              /* http://: "80" unless given */
    char *path_base;         /* http://: the base URL's path without trailing '/', or "" */
    char *headers;           /* "Host: …\r\nUser-Agent: …\r\n…" ready to send */
    char *bad_url;           /* set when the URL cannot be used: reported by every call */
} dstack_http_target;

/* The one kept-alive connection of a client (agent/http.h). */
typedef struct dstack_http_conn {
    int fd;    /* -1: none */
    pid_t pid; /* process that opened fd */
} dstack_http_conn;

struct dstack_client {
    dstack_service service;
    char *endpoint;    /* as resolved (protocol.md §1.2), used in every message */
    char *socket_path; /* Unix socket path, NULL for http(s):// endpoints */
    char *base_url;    /* "http://localhost" for sockets, else the base without trailing '/' */
    long timeout_ms;
    long connect_timeout_ms;
    size_t max_response;
    char **extra_headers; /* the caller's, copied; NULL-terminated */
    bool use_curl;        /* https://: libcurl (loaded on first use), else agent/http.c */
    dstack_http_target http;
    dstack_http_conn conn;
    struct curl_slist *headers; /* libcurl: Content-Type, Expect:, caller's extra headers */
    CURL *easy;                 /* libcurl: created lazily, reused for keep-alive */
    pid_t owner_pid;            /* process that created `easy`; a fork child drops it */
    unsigned long connections;  /* connections opened so far */
};

/* One transfer's receive state: body and header buffers with the caps enforced while reading.
 * The body may hold key material, so it is cleansed on free. */
typedef struct dstack_transfer {
    char method[DSTACK_METHOD_MAX + 16]; /* display name, e.g. "Tappd.DeriveKey" */
    char *url;                           /* libcurl only */
    char *body;
    size_t body_len, body_cap;
    char *headers;
    size_t headers_len, headers_cap;
    size_t limit;
    bool oversize;
    bool headers_oversize;
    bool alloc_failed;
    char errbuf[CURL_ERROR_SIZE]; /* detail of a failure, for the message */
} dstack_transfer;

/* Endpoint classification (protocol.md §1.2): "http://" / "https://" → URL; "unix:<path>" and
 * anything else → Unix socket path. Other "scheme://" forms are a usage error. */
dstack_status dstack_endpoint_split(const char *endpoint, char **socket_path, char **base_url,
                                    dstack_error *err);

/* "GetKey" / "Tappd.DeriveKey" / "Worker.Info": the name used in messages. */
void dstack_method_display(dstack_service service, const char *method, char *out, size_t cap);

/* "/GetKey", "/prpc/Tappd.DeriveKey": the path below the endpoint's base. Validates `method`
 * (an identifier, so nothing can be injected) and fills t->method; usage error otherwise. */
dstack_status dstack_transfer_begin(const dstack_client *c, dstack_transfer *t, const char *method,
                                    char *path, size_t path_cap, dstack_error *err);

void dstack_transfer_cleanup(dstack_transfer *t);

/* Moves the received buffers into `out` (NUL-terminated, possibly empty). */
dstack_status dstack_transfer_deliver(const dstack_client *c, dstack_transfer *t, long status,
                                      dstack_raw_response *out, dstack_error *err);

/* Non-200 → DSTACK_ERR_AGENT with http_status and the agent's {"error": …} text. */
dstack_status dstack_response_check_status(const dstack_client *c, const char *display_method,
                                           const dstack_raw_response *resp, dstack_error *err);

/* Connection failures by errno, shared by both transports' messages. */
dstack_status dstack_connect_failure(const dstack_client *c, const dstack_transfer *t,
                                     long os_errno, const char *detail, dstack_error *err);

/* ---- https:// through libcurl (transport_curl.c, batch_curl.c) ------------------------ */

/* Loads libcurl and runs curl_global_init, once per process; usage of the client otherwise
 * unchanged. Fails with DSTACK_ERR_INTERNAL when libcurl cannot be loaded. */
dstack_status dstack_transport_global_init(dstack_error *err);

dstack_status dstack_curl_client_init(dstack_client *c, dstack_error *err);
void dstack_curl_client_free(dstack_client *c);
dstack_status dstack_curl_call(dstack_client *c, const char *method, const char *body,
                               long timeout_ms, dstack_raw_response *out, dstack_error *err);
dstack_status dstack_curl_batch(dstack_client *c, const dstack_batch_request *requests, size_t n,
                                dstack_batch_result *results, size_t parallelism,
                                dstack_error *err);

/* Validates `method`, fills `t` and configures `easy` for one POST of `body` (which must stay
 * alive until the transfer ends). timeout_ms 0 → the client's timeout. */
dstack_status dstack_transfer_prepare(const dstack_client *c, CURL *easy, dstack_transfer *t,
                                      const char *method, const char *body, size_t body_len,
                                      long timeout_ms, dstack_error *err);

/* Maps the libcurl outcome to a status (DSTACK_OK when an HTTP response arrived) and moves the
 * buffers into `out`. Adds the connections the transfer opened to *connections. */
dstack_status dstack_transfer_finish(const dstack_client *c, CURL *easy, dstack_transfer *t,
                                     CURLcode rc, long timeout_ms, unsigned long *connections,
                                     dstack_raw_response *out, dstack_error *err);

#endif
