/* libdstack internal — the minimal HTTP/1.1 client for `unix:` sockets and plain http://
 * agent endpoints (protocol.md §1.3: POST, sized or chunked bodies, keep-alive).
 *
 * Why not libcurl here: linking libcurl put its whole dependency tree (GnuTLS, Kerberos, LDAP,
 * libssh2, nghttp2, … 30 libraries) into every process that loads the provider, 1.3 MiB of
 * RSS in an nginx worker, and cost a new process's first call a socketpair and eight extra
 * syscalls. libcurl stays for https:// only, loaded on first use (agent/curl_dl.c).
 *
 * A transfer is a small non-blocking state machine, so one call (transport.c) and a batch of
 * concurrent calls (batch.c) share it: the caller polls the descriptor for the events
 * dstack_http_events() asks for and calls dstack_http_step() until it returns done. */
#ifndef DSTACK_HTTP_H
#define DSTACK_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "agent/resolve_host.h"
#include "agent/transport_internal.h"

void dstack_http_conn_close(dstack_http_conn *conn);

/* How a transfer ended; transport.c turns it into a dstack error (same categories and
 * messages as the libcurl path). */
typedef enum dstack_http_outcome {
    DSTACK_HTTP_OK = 0,
    DSTACK_HTTP_TIMEOUT,
    DSTACK_HTTP_CONNECT,   /* os_errno says why */
    DSTACK_HTTP_RESOLVE,   /* host name did not resolve */
    DSTACK_HTTP_NOTHING,   /* closed before any response byte */
    DSTACK_HTTP_LOST,      /* send/receive error on an established connection */
    DSTACK_HTTP_TRUNCATED, /* closed inside the response */
    DSTACK_HTTP_OVERSIZE,  /* body over the limit */
    DSTACK_HTTP_HEADERS_OVERSIZE,
    DSTACK_HTTP_BAD_REPLY, /* not valid HTTP/1.x */
    DSTACK_HTTP_BAD_URL,
    DSTACK_HTTP_NOMEM,
} dstack_http_outcome;

#define DSTACK_HTTP_RBUF 16384

typedef struct dstack_http_xfer {
    const dstack_client *c;
    dstack_transfer *t; /* method name, body/header buffers, limit, detail text */
    dstack_http_conn *conn;
    int state;
    double deadline_ms, connect_deadline_ms; /* CLOCK_MONOTONIC */
    char *req;                               /* request line + headers + body */
    size_t req_len, req_off;
    bool reused;    /* request went out on a kept-alive connection */
    bool retried;   /* … and was sent again on a fresh one after it had died */
    bool got_bytes; /* any byte of a response arrived */
    bool keep_alive;
    int framing;        /* content-length, chunked or until close */
    size_t remaining;   /* body bytes (content-length) or bytes of the current chunk */
    size_t line_len;    /* bytes of the chunk-size or trailer line read so far */
    bool chunk_digits;  /* the chunk-size line has a hex digit */
    bool chunk_ext;     /* … and is in its ";extension" part */
    size_t trailer_len; /* trailer bytes so far, capped like the header block */
    size_t header_scan; /* where the search for the blank line resumes */
    long status;
    dstack_host_addrs addrs; /* http://: resolved once, tried in order */
    int next_addr;
    int os_errno;
    dstack_http_outcome outcome;
    unsigned char rbuf[DSTACK_HTTP_RBUF];
} dstack_http_xfer;

/* Prepares a POST of `body` to the method's path on `c`'s endpoint over `conn` (reused when
 * alive, else opened on the first step) and counts a new connection in *connections when it
 * opens one. timeout_ms bounds the whole transfer; connect_ms the connect. Returns false with
 * x->outcome set when the transfer cannot start. */
bool dstack_http_start(dstack_http_xfer *x, const dstack_client *c, dstack_transfer *t,
                       dstack_http_conn *conn, const char *path, const char *body, size_t body_len,
                       long timeout_ms, long connect_ms, unsigned long *connections);

/* Prepares a GET of `path` (query included) on `c`'s http:// endpoint over the client's own
 * connection: for other HTTP services than the agent (the PCCS client,
 * verify/pccs_http.c), which run it with dstack_http_run(). */
bool dstack_http_start_get(dstack_http_xfer *x, dstack_client *c, dstack_transfer *t,
                           const char *path, long timeout_ms);

/* Steps a started transfer on `c`'s connection to its end (poll() in between). */
void dstack_http_run(dstack_http_xfer *x, dstack_client *c);

/* poll() events the transfer waits for (0 when done), and the descriptor. */
short dstack_http_events(const dstack_http_xfer *x);

/* Advances the transfer; true when it has finished (x->outcome, x->status). */
bool dstack_http_step(dstack_http_xfer *x, unsigned long *connections);

/* Milliseconds until the transfer's deadline (≥ 0). */
int dstack_http_wait_ms(const dstack_http_xfer *x);

/* Ends the transfer: keeps the connection for reuse only after a complete, kept-alive
 * response, and cleanses the receive buffer. */
void dstack_http_end(dstack_http_xfer *x);

/* For the fuzz harness (tests/fuzz/fuzz_http.c), which drives the response parser without a
 * socket: marks a started transfer as sent, then feeds it response bytes (true once the
 * transfer has finished) or the end of the connection (after which it has always finished). */
void dstack_http_fuzz_sent(dstack_http_xfer *x);
bool dstack_http_fuzz_feed(dstack_http_xfer *x, const unsigned char *p, size_t n);
void dstack_http_fuzz_eof(dstack_http_xfer *x);

/* The transfer's outcome as a libdstack status and message (DSTACK_OK: a response arrived,
 * moved into `out`). timeout_ms is the bound the transfer had, for the message. */
dstack_status dstack_http_outcome_status(const dstack_client *c, const dstack_http_xfer *x,
                                         long timeout_ms, dstack_raw_response *out,
                                         dstack_error *err);

#endif
