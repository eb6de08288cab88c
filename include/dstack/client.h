/* libdstack — agent connection, raw calls and batches (protocol.md §1).
 *
 * A dstack_client talks to one service (DstackGuest, Tappd or Worker) at one endpoint. It
 * keeps one HTTP/1.1 connection alive across sequential calls, reconnects transparently in
 * a fork() child, and is NOT safe for concurrent use from several threads: give each thread
 * its own client (they are cheap) or serialise access. dstack_call_batch() runs requests
 * concurrently on connections of its own.
 */
#ifndef DSTACK_CLIENT_H
#define DSTACK_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <dstack/error.h>

#ifdef __cplusplus
extern "C" {
#endif

DSTACK_API_BEGIN

typedef enum dstack_service {
    DSTACK_SERVICE_GUEST = 0, /* dstack.sock,  POST /<Method>           */
    DSTACK_SERVICE_TAPPD,     /* tappd.sock,   POST /prpc/Tappd.<Method> */
    DSTACK_SERVICE_WORKER     /* external,     POST /prpc/Worker.<Method> */
} dstack_service;

#define DSTACK_DEFAULT_TIMEOUT_MS 5000L
#define DSTACK_DEFAULT_MAX_RESPONSE (16u * 1024u * 1024u)

/* Versioned (api.h): initialise with DSTACK_OPTIONS_INIT(dstack_client_options). */
typedef struct dstack_client_options {
    size_t struct_size;
    dstack_service service;
    /* Socket path or http(s):// base URL. NULL or "" → discovery (protocol.md §1.2):
     * env DSTACK_SIMULATOR_ENDPOINT / TAPPD_SIMULATOR_ENDPOINT, else the first existing
     * socket of the standard list, else the first list entry. Worker has no discovery
     * default beyond env DSTACK_WORKER_ENDPOINT, else http://localhost:8090. */
    const char *endpoint;
    long timeout_ms;          /* whole request incl. connect; 0 → DSTACK_DEFAULT_TIMEOUT_MS */
    long connect_timeout_ms;  /* 0 → timeout_ms */
    size_t max_response_size; /* body cap; 0 → DSTACK_DEFAULT_MAX_RESPONSE */
    const char *const *extra_headers; /* NULL-terminated "Name: value" list, copied */
} dstack_client_options;

typedef struct dstack_client dstack_client;

/* Discovery only: writes the endpoint that a client with `explicit_endpoint` would use. */
dstack_status dstack_discover_endpoint(dstack_service service, const char *explicit_endpoint,
                                       char *out, size_t out_len, dstack_error *err);

dstack_status dstack_client_new(const dstack_client_options *opts, dstack_client **out,
                                dstack_error *err);
void dstack_client_free(dstack_client *client);
const char *dstack_client_endpoint(const dstack_client *client);
dstack_service dstack_client_service(const dstack_client *client);

/* Sets the total (and connect) timeout of the client's later calls (> 0); the resolver uses
 * it to give each RPC of one resolution only the time left before its overall deadline. */
void dstack_client_set_timeout(dstack_client *client, long timeout_ms);

/* Number of TCP/Unix connections this client has opened so far (for reuse tests). */
unsigned long dstack_client_connections_opened(const dstack_client *client);

/* Full response of one call, whatever its status. */
typedef struct dstack_raw_response {
    long http_status;
    char *headers; /* raw header block, NUL-terminated */
    size_t headers_len;
    char *body; /* NUL-terminated for convenience; body_len excludes the NUL */
    size_t body_len;
} dstack_raw_response;

void dstack_raw_response_clear(dstack_raw_response *resp);

/* POST `json_body` (NULL → "{}") to `method` (bare name, e.g. "GetKey"; the service prefix
 * is added). Returns DSTACK_OK whenever an HTTP response arrived, any status. */
dstack_status dstack_call_raw(dstack_client *client, const char *method, const char *json_body,
                              dstack_raw_response *out, dstack_error *err);

/* Info with a short timeout; true when the agent answers 200. */
bool dstack_is_reachable(dstack_client *client, long timeout_ms);

typedef struct dstack_batch_request {
    const char *method;
    const char *json_body;
} dstack_batch_request;

typedef struct dstack_batch_result {
    dstack_status status; /* as dstack_call_raw + non-200 → DSTACK_ERR_AGENT */
    dstack_error error;
    dstack_raw_response response;
} dstack_batch_result;

/* Runs n requests concurrently (at most `parallelism` connections, 0 → 16) and stores each
 * result at the same index. Returns DSTACK_OK when every request succeeded, else the first
 * failing status (each result still holds its own outcome). */
dstack_status dstack_call_batch(dstack_client *client, const dstack_batch_request *requests,
                                size_t n, dstack_batch_result *results, size_t parallelism,
                                dstack_error *err);
void dstack_batch_results_clear(dstack_batch_result *results, size_t n);

DSTACK_API_END

#ifdef __cplusplus
}
#endif
#endif
