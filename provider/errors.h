/* dstack provider — reason codes registered with the OpenSSL core and error raising.
 *
 * One reason per failure category of architecture.md §9, plus the provider's own configuration,
 * URI and reference-PEM errors. The core owns the library code; we own the reasons. */
#ifndef DSTACK_PROV_ERRORS_H
#define DSTACK_PROV_ERRORS_H

#include <openssl/core.h>
#include <openssl/core_dispatch.h>

#include <dstack/error.h>

enum dstack_prov_reason {
    DSTACK_R_USAGE = 1,         /* usage: malformed dstack: URI, unsupported request */
    DSTACK_R_BAD_CONFIG,        /* config: bad or unknown openssl.cnf parameter */
    DSTACK_R_CONNECTION,        /* connection: no socket, refused, closed early */
    DSTACK_R_TIMEOUT,           /* timeout: connect or request deadline */
    DSTACK_R_AGENT,             /* agent: non-200 answer, agent text passed on */
    DSTACK_R_PROTOCOL,          /* protocol: malformed, truncated or oversized response */
    DSTACK_R_CRYPTO,            /* crypto: verification failed, key out of range */
    DSTACK_R_INTERNAL,          /* internal: out of memory, unexpected library failure */
    DSTACK_R_BAD_REFERENCE,     /* reference PEM with a wrong description/version/encoding */
    DSTACK_R_UNSUPPORTED_SEARCH /* OSSL_STORE search criteria the store cannot honour */
};

/* The core's error functions, captured once in OSSL_provider_init. */
typedef struct dstack_prov_err_fns {
    OSSL_FUNC_core_new_error_fn *new_error;
    OSSL_FUNC_core_set_error_debug_fn *set_error_debug;
    OSSL_FUNC_core_vset_error_fn *vset_error;
} dstack_prov_err_fns;

/* Captures the error functions from the core dispatch table; 0 when one is missing. */
int dstack_prov_err_fns_init(dstack_prov_err_fns *fns, const OSSL_DISPATCH *in);

/* Reason strings handed to the core (OSSL_FUNC_PROVIDER_GET_REASON_STRINGS). */
const OSSL_ITEM *dstack_prov_reason_strings(void);

/* Reason code for a libdstack status. */
int dstack_prov_reason_for_status(dstack_status status);

/* Raise `reason` with a printf-style message through the core (ERR_raise_data style). */
void dstack_prov_err_raise(const dstack_prov_err_fns *fns, const OSSL_CORE_HANDLE *handle,
                           const char *file, int line, const char *func, int reason,
                           const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 7, 8)))
#endif
    ;

#endif
