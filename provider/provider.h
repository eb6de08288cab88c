/* dstack provider — what the provider's parts (store, reference-PEM decoder) share.
 * The store and the decoder both go through dstack_prov_resolve() + dstack_prov_emit_object(),
 * which sit on libdstack's dstack_resolve(): one fetch path for every way a key is loaded. */
#ifndef DSTACK_PROVIDER_H
#define DSTACK_PROVIDER_H

#include <stdatomic.h>
#include <stddef.h>

#include <openssl/core.h>
#include <openssl/core_dispatch.h>

#include <dstack/config.h>
#include <dstack/error.h>
#include <dstack/resolve.h>

typedef struct dstack_prov_ctx dstack_prov_ctx;
struct dstack_prov_err_fns;

/* The resolver, created on first use (architecture.md §5) and published with one atomic
 * compare-and-swap — no lock, so a fork() at any moment leaves nothing held in the child.
 * The resolver itself handles fork (include/dstack/resolve.h). objects.c is the only user. */
typedef struct dstack_prov_resolver_slot {
    _Atomic(dstack_resolver *) resolver;
    atomic_int config_logged;
} dstack_prov_resolver_slot;

/* The resolver slot of the provider instance (objects.c) and the libdstack configuration
 * derived from openssl.cnf (config.c). */
dstack_prov_resolver_slot *dstack_prov_slot(dstack_prov_ctx *ctx);
const dstack_config *dstack_prov_config_of(const dstack_prov_ctx *ctx);
/* 1 when openssl.cnf was valid; else raises DSTACK_R_BAD_CONFIG naming the parameter and
 * value and returns 0. Every entry point that would use the configuration calls it. */
int dstack_prov_check_config(const dstack_prov_ctx *ctx);

OSSL_LIB_CTX *dstack_prov_libctx(const dstack_prov_ctx *ctx);
/* The core handle and error functions (for errors.c). */
const OSSL_CORE_HANDLE *dstack_prov_handle(const dstack_prov_ctx *ctx);
const struct dstack_prov_err_fns *dstack_prov_err_fns_of(const dstack_prov_ctx *ctx);

/* Resolves `uri` with the provider's configuration (resolver created on first use, again
 * after fork). On failure raises the error through the core (ERR_raise_data style, with URI,
 * endpoint, RPC and agent text) and returns NULL. */
dstack_resolved *dstack_prov_resolve(dstack_prov_ctx *ctx, const char *uri, unsigned want);

/* Object `index` of `res` (0 = private key when present, then leaf, then chain) handed to an
 * OSSL_CALLBACK as a DER data object (OSSL_OBJECT_PARAM_DATA + DATA_TYPE + DATA_STRUCTURE)
 * so OpenSSL's own decoders build the EVP_PKEY / X509. Returns the callback's result. */
int dstack_prov_emit_object(const dstack_resolved *res, size_t index, OSSL_CALLBACK *cb,
                            void *cbarg);
/* Number of objects dstack_prov_emit_object() can emit for `res`. */
size_t dstack_prov_object_count(const dstack_resolved *res);
/* The public key of `res` as a SubjectPublicKeyInfo data object (for OSSL_STORE expect
 * PUBKEY, where OpenSSL's decoders are asked for the public half only). */
int dstack_prov_emit_pubkey(const dstack_resolved *res, OSSL_CALLBACK *cb, void *cbarg);

/* Raise a libdstack error through the core's error stack with the provider's reason codes. */
void dstack_prov_raise(const dstack_prov_ctx *ctx, const char *file, int line, const char *func,
                       const dstack_error *err);
#define DSTACK_PROV_RAISE(ctx, err) dstack_prov_raise((ctx), __FILE__, __LINE__, __func__, (err))
/* Raise one of the provider's reasons (errors.h) with a printf-style message. */
void dstack_prov_raisef(const dstack_prov_ctx *ctx, const char *file, int line, const char *func,
                        int reason, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 6, 7)))
#endif
    ;
#define DSTACK_PROV_ERR(ctx, reason, ...)                                                          \
    dstack_prov_raisef((ctx), __FILE__, __LINE__, __func__, (reason), __VA_ARGS__)

/* Decoder algorithms (provider/decoder.c), registered by provider.c for OSSL_OP_DECODER. */
extern const OSSL_ALGORITHM dstack_decoder_algorithms[];
/* Store algorithms (provider/store.c), registered by provider.c for OSSL_OP_STORE. */
extern const OSSL_ALGORITHM dstack_store_algorithms[];

#endif
