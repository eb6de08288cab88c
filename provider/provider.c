/* dstack provider — entry point, dispatch, parameters and teardown (architecture.md §5).
 *
 * The provider registers two operations only: the `dstack` STORE and the reference-PEM
 * DECODER. Both hand keys and certificates to OpenSSL as DER data objects, so the default
 * provider owns and operates them; there is no keymgmt or signature code here. Nothing in
 * this file talks to the agent: the first connection happens on first use (objects.c). */
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>
#include <openssl/provider.h>

#include "config.h"
#include "debug.h"
#include "errors.h"
#include "provider.h"

#ifndef DSTACK_PROVIDER_VERSION
#define DSTACK_PROVIDER_VERSION "0.1.0"
#endif
#define DSTACK_PROVIDER_NAME "dstack OpenSSL provider (keys derived by the dstack guest agent)"

struct dstack_prov_ctx {
    const OSSL_CORE_HANDLE *handle;
    OSSL_LIB_CTX *libctx; /* child of the application's library context */
    dstack_prov_err_fns err;
    dstack_config *cfg;     /* NULL when openssl.cnf was invalid */
    char config_error[512]; /* non-empty: openssl.cnf was invalid, every use is refused */
    dstack_prov_resolver_slot slot;
};

OSSL_LIB_CTX *dstack_prov_libctx(const dstack_prov_ctx *ctx)
{
    return ctx->libctx;
}

const OSSL_CORE_HANDLE *dstack_prov_handle(const dstack_prov_ctx *ctx)
{
    return ctx->handle;
}

const struct dstack_prov_err_fns *dstack_prov_err_fns_of(const dstack_prov_ctx *ctx)
{
    return &ctx->err;
}

dstack_prov_resolver_slot *dstack_prov_slot(dstack_prov_ctx *ctx)
{
    return &ctx->slot;
}

const dstack_config *dstack_prov_config_of(const dstack_prov_ctx *ctx)
{
    return ctx->cfg;
}

int dstack_prov_check_config(const dstack_prov_ctx *ctx)
{
    if (ctx->config_error[0] == '\0')
        return 1;
    DSTACK_PROV_ERR(ctx, DSTACK_R_BAD_CONFIG, "dstack provider: %s", ctx->config_error);
    return 0;
}

static OSSL_FUNC_provider_teardown_fn dstack_teardown;
static OSSL_FUNC_provider_gettable_params_fn dstack_gettable_params;
static OSSL_FUNC_provider_get_params_fn dstack_get_params;
static OSSL_FUNC_provider_query_operation_fn dstack_query_operation;
static OSSL_FUNC_provider_get_reason_strings_fn dstack_get_reason_strings;

static void dstack_teardown(void *provctx)
{
    dstack_prov_ctx *ctx = provctx;

    if (ctx == NULL)
        return;
    DSTACK_DEBUG(2, "provider teardown");
    dstack_resolver_free(atomic_load(&ctx->slot.resolver));
    dstack_config_free(ctx->cfg);
    OSSL_LIB_CTX_free(ctx->libctx);
    OPENSSL_free(ctx);
}

static const OSSL_PARAM *dstack_gettable_params(void *provctx)
{
    static const OSSL_PARAM gettable[] = {
        OSSL_PARAM_utf8_ptr(OSSL_PROV_PARAM_NAME, NULL, 0),
        OSSL_PARAM_utf8_ptr(OSSL_PROV_PARAM_VERSION, NULL, 0),
        OSSL_PARAM_utf8_ptr(OSSL_PROV_PARAM_BUILDINFO, NULL, 0),
        OSSL_PARAM_int(OSSL_PROV_PARAM_STATUS, NULL),
        OSSL_PARAM_END,
    };

    return gettable;
}

static int dstack_get_params(void *provctx, OSSL_PARAM params[])
{
    const dstack_prov_ctx *ctx = provctx;
    OSSL_PARAM *p;

    p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_NAME);
    if (p != NULL && !OSSL_PARAM_set_utf8_ptr(p, DSTACK_PROVIDER_NAME))
        return 0;
    p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_VERSION);
    if (p != NULL && !OSSL_PARAM_set_utf8_ptr(p, DSTACK_PROVIDER_VERSION))
        return 0;
    p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_BUILDINFO);
    if (p != NULL && !OSSL_PARAM_set_utf8_ptr(p, "dstack-openssl " DSTACK_PROVIDER_VERSION))
        return 0;
    /* Status 1 = usable, 0 = refusing because of an invalid openssl.cnf value. Reachability
     * of the agent is not a provider status: the agent is contacted on first use only. */
    p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_STATUS);
    if (p != NULL && !OSSL_PARAM_set_int(p, ctx->config_error[0] == '\0'))
        return 0;
    return 1;
}

static const OSSL_ALGORITHM *dstack_query_operation(void *provctx, int operation_id, int *no_cache)
{
    *no_cache = 0;
    switch (operation_id) {
    case OSSL_OP_STORE:
        return dstack_store_algorithms;
    case OSSL_OP_DECODER:
        return dstack_decoder_algorithms;
    default:
        return NULL;
    }
}

static const OSSL_ITEM *dstack_get_reason_strings(void *provctx)
{
    return dstack_prov_reason_strings();
}

static const OSSL_DISPATCH dstack_dispatch[] = {
    {OSSL_FUNC_PROVIDER_TEARDOWN, (void (*)(void))dstack_teardown},
    {OSSL_FUNC_PROVIDER_GETTABLE_PARAMS, (void (*)(void))dstack_gettable_params},
    {OSSL_FUNC_PROVIDER_GET_PARAMS, (void (*)(void))dstack_get_params},
    {OSSL_FUNC_PROVIDER_QUERY_OPERATION, (void (*)(void))dstack_query_operation},
    {OSSL_FUNC_PROVIDER_GET_REASON_STRINGS, (void (*)(void))dstack_get_reason_strings},
    {0, NULL},
};

static OSSL_FUNC_core_get_params_fn *find_core_get_params(const OSSL_DISPATCH *in)
{
    for (; in != NULL && in->function_id != 0; in++)
        if (in->function_id == OSSL_FUNC_CORE_GET_PARAMS)
            return OSSL_FUNC_core_get_params(in);
    return NULL;
}

/* The one exported symbol (provider.map; the target builds with hidden visibility). */
__attribute__((visibility("default"))) OSSL_provider_init_fn OSSL_provider_init;

int OSSL_provider_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in,
                       const OSSL_DISPATCH **out, void **provctx)
{
    dstack_prov_ctx *ctx = NULL;
    char why[512] = "";

    ctx = OPENSSL_zalloc(sizeof(*ctx));
    if (ctx == NULL)
        return 0;
    ctx->handle = handle;
    /* Without the core's error functions we could not report anything: refuse to load. */
    if (!dstack_prov_err_fns_init(&ctx->err, in))
        goto err;
    /* A bad value must not be ignored, yet OpenSSL 3.0 discards the errors of a provider
     * whose initialisation fails while it activates the configuration file: the user would
     * only ever see "unregistered scheme". So the provider loads in a refusing state: every
     * dstack: URI and reference PEM fails with the message naming the parameter and value
     * (dstack_prov_check_config), and the status parameter reports 0. */
    ctx->cfg = dstack_prov_config_load(handle, find_core_get_params(in), why, sizeof(why));
    if (ctx->cfg == NULL) {
        snprintf(ctx->config_error, sizeof(ctx->config_error), "%s", why);
        DSTACK_DEBUG(1, "invalid configuration, refusing every load: %s", why);
        /* Programs that never print OpenSSL's error queue (haproxy: "No Private Key found")
         * would hide the cause completely, so it is also said once on stderr. The values
         * of the table are endpoints and public identifiers, never secrets. */
        fprintf(stderr, "dstack provider: %s; every dstack key load is refused\n", why);
    }
    /* The child context sees the application's providers (BIO_new_from_core_bio needs it):
     * libdstack builds keys, signs certificates and digests in it, so an application that
     * loaded the providers into a library context of its own gets them from there. */
    ctx->libctx = OSSL_LIB_CTX_new_child(handle, in);
    if (ctx->libctx == NULL) {
        dstack_prov_err_raise(&ctx->err, handle, OPENSSL_FILE, OPENSSL_LINE, OPENSSL_FUNC,
                              DSTACK_R_INTERNAL, "cannot create the provider library context");
        goto err;
    }
    if (ctx->cfg != NULL &&
        dstack_config_set_libctx(ctx->cfg, ctx->libctx, NULL, NULL) != DSTACK_OK)
        goto err;
    DSTACK_DEBUG(1, "dstack provider %s loaded (agent contacted on first use)",
                 DSTACK_PROVIDER_VERSION);
    *out = dstack_dispatch;
    *provctx = ctx;
    return 1;
err:
    OSSL_LIB_CTX_free(ctx->libctx);
    dstack_config_free(ctx->cfg);
    OPENSSL_free(ctx);
    return 0;
}
