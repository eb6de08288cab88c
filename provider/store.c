/* dstack provider — OSSL_STORE loader for the `dstack:` scheme (architecture.md §3, §4, §5).
 *
 * Objects come out in the order architecture.md §4 promises: the private key, the leaf certificate,
 * then the rest of the chain. Resolution waits for the first load() so that the caller's
 * OSSL_STORE_expect() hint is known: a key-only load makes no certificate RPC, a
 * certificate-only load hands back no private key. Like OpenSSL's file store, a failed load
 * reports its error once and then reaches EOF, so callers looping "until eof" terminate. */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>
#include <openssl/store.h>

#include "debug.h"
#include "errors.h"
#include "provider.h"

typedef struct dstack_store_ctx {
    dstack_prov_ctx *prov;
    char *uri;
    int expect;           /* OSSL_STORE_INFO_* from OSSL_STORE_expect(), 0 = anything */
    dstack_resolved *res; /* NULL until the first load */
    size_t next;          /* next object of `res` to hand out */
    int failed;           /* resolution failed; the error has been raised */
    int eof;
} dstack_store_ctx;

static OSSL_FUNC_store_open_fn dstack_store_open;
static OSSL_FUNC_store_settable_ctx_params_fn dstack_store_settable_ctx_params;
static OSSL_FUNC_store_set_ctx_params_fn dstack_store_set_ctx_params;
static OSSL_FUNC_store_load_fn dstack_store_load;
static OSSL_FUNC_store_eof_fn dstack_store_eof;
static OSSL_FUNC_store_close_fn dstack_store_close;

static void *dstack_store_open(void *provctx, const char *uri)
{
    dstack_prov_ctx *prov = provctx;
    dstack_store_ctx *sctx = NULL;
    dstack_uri parsed;
    dstack_error err;

    if (!dstack_prov_check_config(prov))
        return NULL;
    /* Validate the URI now: a malformed URI fails at OSSL_STORE_open() with a message that
     * names the offending part, and never costs an agent round trip. */
    dstack_error_clear(&err);
    memset(&parsed, 0, sizeof(parsed));
    if (dstack_uri_parse(uri, &parsed, &err) != DSTACK_OK) {
        DSTACK_DEBUG(1, "bad URI: %s", err.message);
        DSTACK_PROV_RAISE(prov, &err);
        return NULL;
    }
    dstack_uri_free(&parsed);

    sctx = OPENSSL_zalloc(sizeof(*sctx));
    if (sctx == NULL)
        return NULL;
    sctx->prov = prov;
    sctx->uri = OPENSSL_strdup(uri);
    if (sctx->uri == NULL) {
        OPENSSL_free(sctx);
        return NULL;
    }
    DSTACK_DEBUG(2, "store opened for %s", uri);
    return sctx;
}

static const OSSL_PARAM *dstack_store_settable_ctx_params(void *provctx)
{
    /* Only `expect`: listing no search criteria makes OSSL_STORE_supports_search() answer
     * no, which is the truth — a URI names exactly one key. */
    static const OSSL_PARAM settable[] = {
        OSSL_PARAM_int(OSSL_STORE_PARAM_EXPECT, NULL),
        OSSL_PARAM_END,
    };

    return settable;
}

static int dstack_store_set_ctx_params(void *loaderctx, const OSSL_PARAM params[])
{
    static const char *const search_params[] = {
        OSSL_STORE_PARAM_SUBJECT, OSSL_STORE_PARAM_ISSUER,      OSSL_STORE_PARAM_SERIAL,
        OSSL_STORE_PARAM_DIGEST,  OSSL_STORE_PARAM_FINGERPRINT, OSSL_STORE_PARAM_ALIAS,
    };
    dstack_store_ctx *sctx = loaderctx;
    const OSSL_PARAM *p;
    size_t i;
    int expect;

    if (params == NULL)
        return 1;
    p = OSSL_PARAM_locate_const(params, OSSL_STORE_PARAM_EXPECT);
    if (p != NULL) {
        if (!OSSL_PARAM_get_int(p, &expect) || expect < 0 || expect > OSSL_STORE_INFO_CRL) {
            DSTACK_PROV_ERR(sctx->prov, DSTACK_R_USAGE, "%s: invalid store expectation", sctx->uri);
            return 0;
        }
        sctx->expect = expect;
        DSTACK_DEBUG(2, "%s: expect %s", sctx->uri,
                     expect == 0 ? "anything" : OSSL_STORE_INFO_type_string(expect));
    }
    for (i = 0; i < sizeof(search_params) / sizeof(search_params[0]); i++) {
        if (OSSL_PARAM_locate_const(params, search_params[i]) != NULL) {
            DSTACK_PROV_ERR(sctx->prov, DSTACK_R_UNSUPPORTED_SEARCH,
                            "%s: the dstack store cannot search by %s; the URI names one key",
                            sctx->uri, search_params[i]);
            return 0;
        }
    }
    return 1;
}

/* What the expectation asks libdstack for; 0 when the URI holds nothing of that type. */
static unsigned want_for_expect(int expect)
{
    switch (expect) {
    case 0:
        return DSTACK_WANT_KEY | DSTACK_WANT_CERTS;
    case OSSL_STORE_INFO_PKEY:
    case OSSL_STORE_INFO_PUBKEY:
        return DSTACK_WANT_KEY;
    case OSSL_STORE_INFO_CERT:
        return DSTACK_WANT_CERTS;
    default:
        return 0; /* parameters, names, CRLs: none behind a dstack: URI */
    }
}

/* Returns 0 only when an error was raised. Reaching the end is success with no object:
 * OpenSSL 3.0's OSSL_STORE_load() sets the error flag whenever load() returns 0, even at EOF,
 * and `openssl storeutl` then reports a failure for a URI that merely holds nothing of the
 * expected type (expect CRL, or CERT with cert=none). */
static int dstack_store_load(void *loaderctx, OSSL_CALLBACK *object_cb, void *object_cbarg,
                             OSSL_PASSPHRASE_CALLBACK *pw_cb, void *pw_cbarg)
{
    dstack_store_ctx *sctx = loaderctx;
    unsigned want = want_for_expect(sctx->expect);
    int ok;

    if (sctx->eof)
        return 1;
    if (sctx->failed) {
        /* The error was reported by the previous call (OSSL_STORE_error() is true); now
         * end the iteration without raising it again. */
        sctx->eof = 1;
        return 1;
    }
    if (want == 0) {
        sctx->eof = 1;
        return 1;
    }
    if (sctx->res == NULL) {
        sctx->res = dstack_prov_resolve(sctx->prov, sctx->uri, want);
        if (sctx->res == NULL) {
            sctx->failed = 1;
            return 0;
        }
        sctx->next = 0;
    }

    if (sctx->expect == OSSL_STORE_INFO_PUBKEY) {
        ok = dstack_prov_emit_pubkey(sctx->res, object_cb, object_cbarg);
        sctx->eof = 1;
        return ok;
    }
    if (sctx->next >= dstack_prov_object_count(sctx->res)) {
        sctx->eof = 1;
        return 1;
    }
    ok = dstack_prov_emit_object(sctx->res, sctx->next, object_cb, object_cbarg);
    sctx->next++;
    if (sctx->next >= dstack_prov_object_count(sctx->res))
        sctx->eof = 1;
    return ok;
}

static int dstack_store_eof(void *loaderctx)
{
    const dstack_store_ctx *sctx = loaderctx;

    return sctx->eof;
}

static int dstack_store_close(void *loaderctx)
{
    dstack_store_ctx *sctx = loaderctx;

    if (sctx == NULL)
        return 1;
    dstack_resolved_free(sctx->res);
    OPENSSL_free(sctx->uri);
    OPENSSL_free(sctx);
    return 1;
}

static const OSSL_DISPATCH dstack_store_functions[] = {
    {OSSL_FUNC_STORE_OPEN, (void (*)(void))dstack_store_open},
    {OSSL_FUNC_STORE_SETTABLE_CTX_PARAMS, (void (*)(void))dstack_store_settable_ctx_params},
    {OSSL_FUNC_STORE_SET_CTX_PARAMS, (void (*)(void))dstack_store_set_ctx_params},
    {OSSL_FUNC_STORE_LOAD, (void (*)(void))dstack_store_load},
    {OSSL_FUNC_STORE_EOF, (void (*)(void))dstack_store_eof},
    {OSSL_FUNC_STORE_CLOSE, (void (*)(void))dstack_store_close},
    {0, NULL},
};

const OSSL_ALGORITHM dstack_store_algorithms[] = {
    {"dstack", "provider=dstack", dstack_store_functions,
     "keys and RA-TLS certificates derived by the dstack guest agent"},
    {NULL, NULL, NULL, NULL},
};
