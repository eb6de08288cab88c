/* libdstack internal — the agent connection shared by transport.c, batch.c and the typed
 * RPC files. Not installed. */
#ifndef DSTACK_TRANSPORT_INTERNAL_H
#define DSTACK_TRANSPORT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <curl/curl.h>

#include <dstack/client.h>

/* Longest method name we send ("GetAttestationForAppKey" is the longest in protocol.md §2). */
#define DSTACK_METHOD_MAX 48
/* Response header block cap: the agent sends a handful of short headers (protocol.md §1.3). */
#define DSTACK_MAX_HEADER_BYTES (64u * 1024u)

struct dstack_client {
    dstack_service service;
    char *endpoint;    /* as resolved (protocol.md §1.2), used in every message */
    char *socket_path; /* Unix socket path, NULL for http(s):// endpoints */
    char *base_url;    /* "http://localhost" for sockets, else the base without trailing '/' */
    long timeout_ms;
    long connect_timeout_ms;
    size_t max_response;
    struct curl_slist *headers; /* Content-Type, Expect:, caller's extra headers */
    CURL *easy;                 /* created lazily, reused for keep-alive (one connection) */
    pid_t owner_pid;            /* process that created `easy`; a fork child drops it */
    unsigned long connections;  /* connections opened so far (CURLINFO_NUM_CONNECTS sum) */
};

/* One transfer's receive state: body and header buffers with the caps enforced in the
 * libcurl callbacks. The body may hold key material, so it is cleansed on free. */
typedef struct dstack_transfer {
    char method[DSTACK_METHOD_MAX + 16]; /* display name, e.g. "Tappd.DeriveKey" */
    char *url;
    char *body;
    size_t body_len, body_cap;
    char *headers;
    size_t headers_len, headers_cap;
    size_t limit;
    bool oversize;
    bool headers_oversize;
    bool alloc_failed;
    char errbuf[CURL_ERROR_SIZE];
} dstack_transfer;

/* Endpoint classification (protocol.md §1.2): "http://" / "https://" → URL; "unix:<path>" and
 * anything else → Unix socket path. Other "scheme://" forms are a usage error. */
dstack_status dstack_endpoint_split(const char *endpoint, char **socket_path, char **base_url,
                                    dstack_error *err);

/* Process-wide curl_global_init, run once (pthread_once). */
dstack_status dstack_transport_global_init(dstack_error *err);

/* "GetKey" / "Tappd.DeriveKey" / "Worker.Info": the name used in messages. */
void dstack_method_display(dstack_service service, const char *method, char *out, size_t cap);

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

void dstack_transfer_cleanup(dstack_transfer *t);

/* Non-200 → DSTACK_ERR_AGENT with http_status and the agent's {"error": …} text. */
dstack_status dstack_response_check_status(const dstack_client *c, const char *display_method,
                                           const dstack_raw_response *resp, dstack_error *err);

#endif
