/* dstack provider — reason table and error raising through the core (architecture.md §5, §9).
 *
 * Providers cannot call ERR_raise() for themselves: the library code belongs to the core,
 * which hands out new_error/set_error_debug/vset_error. These helpers are the provider's
 * ERR_raise_data(). */
#include "errors.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

#include "debug.h"
#include "provider.h"

static const OSSL_ITEM reason_strings[] = {
    {DSTACK_R_USAGE, "invalid dstack URI or request"},
    {DSTACK_R_BAD_CONFIG, "invalid dstack provider configuration"},
    {DSTACK_R_CONNECTION, "cannot connect to the dstack agent"},
    {DSTACK_R_TIMEOUT, "dstack agent request timed out"},
    {DSTACK_R_AGENT, "dstack agent returned an error"},
    {DSTACK_R_PROTOCOL, "malformed response from the dstack agent"},
    {DSTACK_R_CRYPTO, "dstack key or certificate verification failed"},
    {DSTACK_R_INTERNAL, "dstack provider internal error"},
    {DSTACK_R_BAD_REFERENCE, "invalid DSTACK KEY URI reference"},
    {DSTACK_R_UNSUPPORTED_SEARCH, "unsupported dstack store search criterion"},
    {0, NULL},
};

const OSSL_ITEM *dstack_prov_reason_strings(void)
{
    return reason_strings;
}

int dstack_prov_err_fns_init(dstack_prov_err_fns *fns, const OSSL_DISPATCH *in)
{
    memset(fns, 0, sizeof(*fns));
    for (; in != NULL && in->function_id != 0; in++) {
        switch (in->function_id) {
        case OSSL_FUNC_CORE_NEW_ERROR:
            fns->new_error = OSSL_FUNC_core_new_error(in);
            break;
        case OSSL_FUNC_CORE_SET_ERROR_DEBUG:
            fns->set_error_debug = OSSL_FUNC_core_set_error_debug(in);
            break;
        case OSSL_FUNC_CORE_VSET_ERROR:
            fns->vset_error = OSSL_FUNC_core_vset_error(in);
            break;
        default:
            break;
        }
    }
    return fns->new_error != NULL && fns->set_error_debug != NULL && fns->vset_error != NULL;
}

int dstack_prov_reason_for_status(dstack_status status)
{
    switch (status) {
    case DSTACK_ERR_USAGE:
        return DSTACK_R_USAGE;
    case DSTACK_ERR_CONNECTION:
        return DSTACK_R_CONNECTION;
    case DSTACK_ERR_TIMEOUT:
        return DSTACK_R_TIMEOUT;
    case DSTACK_ERR_AGENT:
        return DSTACK_R_AGENT;
    case DSTACK_ERR_PROTOCOL:
        return DSTACK_R_PROTOCOL;
    case DSTACK_ERR_CRYPTO:
        return DSTACK_R_CRYPTO;
    case DSTACK_OK:
    case DSTACK_ERR_INTERNAL:
        break;
    }
    return DSTACK_R_INTERNAL;
}

static void vraise(const dstack_prov_err_fns *fns, const OSSL_CORE_HANDLE *handle, const char *file,
                   int line, const char *func, int reason, const char *fmt, va_list ap)
{
    if (fns == NULL || fns->new_error == NULL)
        return;
    fns->new_error(handle);
    fns->set_error_debug(handle, file, line, func);
    fns->vset_error(handle, ERR_PACK(0, 0, reason), fmt, ap);
}

void dstack_prov_err_raise(const dstack_prov_err_fns *fns, const OSSL_CORE_HANDLE *handle,
                           const char *file, int line, const char *func, int reason,
                           const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vraise(fns, handle, file, line, func, reason, fmt, ap);
    va_end(ap);
}

static void raise_text(const dstack_prov_ctx *ctx, const char *file, int line, const char *func,
                       int reason, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static void raise_text(const dstack_prov_ctx *ctx, const char *file, int line, const char *func,
                       int reason, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vraise(dstack_prov_err_fns_of(ctx), dstack_prov_handle(ctx), file, line, func, reason, fmt, ap);
    va_end(ap);
}

/* Every error the provider raises is also the debug log's line for it: one call does both,
 * so the log never misses an error the application saw (or the other way round). */
void dstack_prov_raisef(const dstack_prov_ctx *ctx, const char *file, int line, const char *func,
                        int reason, const char *fmt, ...)
{
    char raw[1024], msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(raw, sizeof(raw), fmt, ap);
    va_end(ap);
    dstack_text_escape(raw, msg, sizeof(msg));
    if (dstack_prov_debug_level() >= 1)
        dstack_prov_debug(1, file, line, func, "error: %s", msg);
    raise_text(ctx, file, line, func, reason, "%s", msg);
}

/* The message is composed by libdstack from the record (client/base/error.c): it names the
 * URI, the RPC, the endpoint and what the agent said, with control characters escaped. The
 * debug log gets the same line from this same call. */
void dstack_prov_raise(const dstack_prov_ctx *ctx, const char *file, int line, const char *func,
                       const dstack_error *err)
{
    int reason = dstack_prov_reason_for_status(err->status);
    const char *msg = err->message[0] != '\0' ? err->message : dstack_status_name(err->status);

    dstack_prov_raisef(ctx, file, line, func, reason, "%s", msg);
}
