/* libdstack — error reporting.
 *
 * Every fallible libdstack function returns a dstack_status and, when the caller passes a
 * non-NULL dstack_error, fills it in. There is no global or thread-local error state, so
 * the library is safe to use from many threads at once (architecture.md §9).
 */
#ifndef DSTACK_ERROR_H
#define DSTACK_ERROR_H

#include <stdarg.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The failure categories of architecture.md §9. DSTACK_OK is zero so `if (rc)` means failure. */
typedef enum dstack_status {
    DSTACK_OK = 0,
    DSTACK_ERR_USAGE,      /* bad argument, bad URI, bad configuration */
    DSTACK_ERR_CONNECTION, /* no socket, refused, reset, closed early */
    DSTACK_ERR_TIMEOUT,    /* connect or request exceeded its deadline */
    DSTACK_ERR_AGENT,      /* agent answered non-200 (its {"error":…} text is kept) */
    DSTACK_ERR_PROTOCOL,   /* malformed, truncated, oversized or mistyped response */
    DSTACK_ERR_CRYPTO,     /* verification failed, key out of range, OpenSSL failure */
    DSTACK_ERR_INTERNAL    /* out of memory or an unexpected library failure */
} dstack_status;

typedef struct dstack_error {
    dstack_status status;
    long http_status;      /* 0 when no HTTP response was received */
    char method[64];       /* RPC name, e.g. "GetKey", "Tappd.DeriveKey"; "" if none */
    char endpoint[256];    /* agent endpoint involved; "" if none */
    char agent_error[512]; /* the agent's "error" text, verbatim (truncated); "" if none */
    char message[1024];    /* complete human-readable message; never contains key bytes */
} dstack_error;

/* "usage", "connection", "timeout", "agent", "protocol", "crypto", "internal", "ok". */
const char *dstack_status_name(dstack_status status);

/* Reset an error record (safe on NULL). */
void dstack_error_clear(dstack_error *err);

/* Fill `err` (if non-NULL) and return `status`. `method`/`endpoint` may be NULL. The message
 * is printf-formatted; the final message is prefixed with nothing — callers write whole
 * sentences such as "GetKey on /run/dstack.sock: agent answered HTTP 400: …". */
dstack_status dstack_error_set(dstack_error *err, dstack_status status, const char *method,
                               const char *endpoint, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;

dstack_status dstack_error_setv(dstack_error *err, dstack_status status, const char *method,
                                const char *endpoint, const char *fmt, va_list ap);

/* Prepend context to an existing message ("resolving dstack:tls/web: " + old message). */
void dstack_error_prefix(dstack_error *err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#ifdef __cplusplus
}
#endif
#endif
