/* dstack provider — reason table and error raising through the core (architecture.md §5, §9).
 *
 * Providers cannot call ERR_raise() for themselves: the library code belongs to the core,
 * which hands out new_error/set_error_debug/vset_error. These helpers are the provider's
 * ERR_raise_data(). */
#include "errors.h"

#include <stdarg.h>
#include <string.h>

#include <openssl/err.h>

#include "provider.h"

static const OSSL_ITEM reason_strings[] = {
    {DSTACK_R_BAD_URI, "invalid dstack URI"},
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
        return DSTACK_R_BAD_URI;
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

void dstack_prov_raisef(const dstack_prov_ctx *ctx, const char *file, int line, const char *func,
                        int reason, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vraise(dstack_prov_err_fns_of(ctx), dstack_prov_handle(ctx), file, line, func, reason, fmt, ap);
    va_end(ap);
}

/* libdstack messages already name the RPC and the endpoint ("GetKey on /run/dstack.sock:
 * agent answered HTTP 400: …"); the agent's own text is appended when the message does not
 * carry it yet, so the user always sees what the agent said. */
void dstack_prov_raise(const dstack_prov_ctx *ctx, const char *file, int line, const char *func,
                       const dstack_error *err)
{
    int reason = dstack_prov_reason_for_status(err->status);
    const char *msg = err->message[0] != '\0' ? err->message : dstack_status_name(err->status);

    if (err->agent_error[0] != '\0' && strstr(msg, err->agent_error) == NULL)
        dstack_prov_raisef(ctx, file, line, func, reason, "%s (agent said: %s)", msg,
                           err->agent_error);
    else if (err->endpoint[0] != '\0' && strstr(msg, err->endpoint) == NULL)
        dstack_prov_raisef(ctx, file, line, func, reason, "%s (endpoint %s)", msg, err->endpoint);
    else
        dstack_prov_raisef(ctx, file, line, func, reason, "%s", msg);
}
