/* libdstack — error reporting.
 *
 * Every fallible libdstack function returns a dstack_status and, when the caller passes a
 * non-NULL dstack_error, fills it in. There is no global or thread-local error state, so
 * the library is safe to use from many threads at once (architecture.md §9). A record keeps
 * its parts (category, RPC, endpoint, the agent's text, context, detail) and composes the
 * human-readable message from them in one place (client/base/error.c).
 */
#ifndef DSTACK_ERROR_H
#define DSTACK_ERROR_H

#include <stdarg.h>
#include <stddef.h>

#include <dstack/api.h>

#ifdef __cplusplus
extern "C" {
#endif

DSTACK_API_BEGIN

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
    char agent_error[512]; /* the agent's "error" text (control characters escaped); "" if none */
    char context[512];     /* what was being done, outermost first ("dstack:tls/web"); "" if none */
    char detail[1024];     /* what went wrong, without context, method or endpoint */
    char message[1024];    /* "<context>: <method> on <endpoint>: <detail>" — parts that are
                            * empty are left out; never contains key bytes */
} dstack_error;

/* "usage", "connection", "timeout", "agent", "protocol", "crypto", "internal", "ok". */
const char *dstack_status_name(dstack_status status);

/* Reset an error record (safe on NULL). */
void dstack_error_clear(dstack_error *err);

/* Fill `err` (if non-NULL) as a new error and return `status`. `method`/`endpoint` may be
 * NULL. The printf-formatted text is the detail; message is composed from the record, so
 * callers never repeat the method or the endpoint. Control characters in the formatted text
 * are escaped (\xNN): agent text must not forge log lines or drive a terminal. */
dstack_status dstack_error_set(dstack_error *err, dstack_status status, const char *method,
                               const char *endpoint, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;

dstack_status dstack_error_setv(dstack_error *err, dstack_status status, const char *method,
                                const char *endpoint, const char *fmt, va_list ap);

/* Adds an outer context ("dstack:tls/web", "signature chain does not lead to …"): the message
 * then starts with it. */
void dstack_error_context(dstack_error *err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Appends to the detail ("; legacy fallback: …"). */
void dstack_error_append(dstack_error *err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Records the RPC and endpoint of an error raised below the RPC layer (e.g. a key the agent
 * sent that turned out unusable); fields already set are kept. */
void dstack_error_origin(dstack_error *err, const char *method, const char *endpoint);

/* Copies `text` into `out` with control characters and DEL escaped as \xNN (bytes >= 0x80
 * are kept, so UTF-8 stays readable). Returns out. */
char *dstack_text_escape(const char *text, char *out, size_t cap);

DSTACK_API_END

#ifdef __cplusplus
}
#endif
#endif
