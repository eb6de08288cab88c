/* dstack provider — the one fetch path shared by the store and the decoder
 * (architecture.md §2, §4).
 *
 * dstack_prov_resolve() turns a URI into key + certificates through libdstack's
 * dstack_resolve(); dstack_prov_emit_object() hands each piece to OpenSSL as DER data so
 * OpenSSL's own decoders (default provider) build the EVP_PKEY and X509 objects. */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/core_object.h>
#include <openssl/params.h>

#include "config.h"
#include "debug.h"
#include "errors.h"
#include "provider.h"

/* The provider's resolver, created on first use. Two threads may both create one; the first
 * to publish wins and the other frees its own (creating one makes no agent traffic). */
static dstack_resolver *get_resolver(dstack_prov_ctx *ctx, dstack_error *err)
{
    dstack_prov_resolver_slot *slot = dstack_prov_slot(ctx);
    const dstack_config *cfg = dstack_prov_config_of(ctx);
    dstack_resolver *r = atomic_load(&slot->resolver), *mine = NULL, *expected = NULL;

    if (r != NULL)
        return r;
    if (dstack_resolver_new(cfg, &mine, err) != DSTACK_OK)
        return NULL;
    if (!atomic_compare_exchange_strong(&slot->resolver, &expected, mine)) {
        dstack_resolver_free(mine);
        return expected;
    }
    if (atomic_exchange(&slot->config_logged, 1) == 0)
        dstack_prov_config_log(cfg, dstack_resolver_endpoint(mine),
                               dstack_resolver_tappd_endpoint(mine));
    return mine;
}

static const char *want_text(unsigned want)
{
    switch (want & (DSTACK_WANT_KEY | DSTACK_WANT_CERTS)) {
    case DSTACK_WANT_KEY:
        return "key";
    case DSTACK_WANT_CERTS:
        return "certificates";
    case DSTACK_WANT_KEY | DSTACK_WANT_CERTS:
        return "key+certificates";
    default:
        return "nothing";
    }
}

/* errno is saved and restored: a failed connect() leaves ENOENT or ECONNREFUSED, and callers
 * that report strerror(errno) when a load fails with errno set (Python's load_cert_chain
 * raises FileNotFoundError for the key *file* then) would blame the wrong thing. The reason
 * is on the error queue. */
static dstack_resolved *resolve(dstack_prov_ctx *ctx, const char *uri, unsigned want)
{
    dstack_resolver *r;
    dstack_resolved *res = NULL;
    dstack_error err;

    if (!dstack_prov_check_config(ctx))
        return NULL;
    dstack_error_clear(&err);
    r = get_resolver(ctx, &err);
    if (r == NULL)
        goto fail;
    DSTACK_DEBUG(1, "resolving %s (want %s)", uri, want_text(want));
    if (dstack_resolve(r, uri, want, &res, &err) != DSTACK_OK) {
        res = NULL;
        goto fail;
    }
    DSTACK_DEBUG(1, "resolved %s: alg=%s key=%s certificates=%zu source=%s chain-verified=%s", uri,
                 dstack_key_alg_name(res->alg), res->key_der != NULL ? "yes" : "no",
                 res->cert_count, res->cert_source, res->chain_verified ? "yes" : "no");
    return res;
fail:
    /* dstack_resolve() names the URI; an early failure (no resolver) gets it here. */
    if (err.context[0] == '\0')
        dstack_error_context(&err, "%.300s", uri);
    DSTACK_PROV_RAISE(ctx, &err);
    return NULL;
}

dstack_resolved *dstack_prov_resolve(dstack_prov_ctx *ctx, const char *uri, unsigned want)
{
    int saved_errno = errno;
    dstack_resolved *res = resolve(ctx, uri, want);

    errno = saved_errno;
    return res;
}

size_t dstack_prov_object_count(const dstack_resolved *res)
{
    return (res->key_der != NULL ? 1 : 0) + res->cert_count;
}

static int emit(int object_type, const char *data_type, const char *structure,
                const unsigned char *der, size_t der_len, OSSL_CALLBACK *cb, void *cbarg)
{
    OSSL_PARAM params[5];

    params[0] = OSSL_PARAM_construct_int(OSSL_OBJECT_PARAM_TYPE, &object_type);
    params[1] = OSSL_PARAM_construct_utf8_string(OSSL_OBJECT_PARAM_DATA_TYPE, (char *)data_type, 0);
    params[2] =
        OSSL_PARAM_construct_utf8_string(OSSL_OBJECT_PARAM_DATA_STRUCTURE, (char *)structure, 0);
    params[3] = OSSL_PARAM_construct_octet_string(OSSL_OBJECT_PARAM_DATA, (void *)der, der_len);
    params[4] = OSSL_PARAM_construct_end();
    return cb(params, cbarg);
}

int dstack_prov_emit_object(const dstack_resolved *res, size_t index, OSSL_CALLBACK *cb,
                            void *cbarg)
{
    if (res->key_der != NULL) {
        if (index == 0)
            return emit(OSSL_OBJECT_PKEY, res->key_type, "PrivateKeyInfo", res->key_der,
                        res->key_der_len, cb, cbarg);
        index--;
    }
    if (index >= res->cert_count)
        return 0;
    return emit(OSSL_OBJECT_CERT, "CERTIFICATE", "Certificate", res->cert_der[index],
                res->cert_der_len[index], cb, cbarg);
}

int dstack_prov_emit_pubkey(const dstack_resolved *res, OSSL_CALLBACK *cb, void *cbarg)
{
    if (res->spki_der == NULL)
        return 0;
    return emit(OSSL_OBJECT_PKEY, res->key_type, "SubjectPublicKeyInfo", res->spki_der,
                res->spki_der_len, cb, cbarg);
}
