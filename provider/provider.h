/* dstack provider — what the provider's parts (store, reference-PEM decoder) share.
 * The store and the decoder both go through dstack_prov_resolve() + dstack_prov_emit_object(),
 * which sit on libdstack's dstack_resolve(): one fetch path for every way a key is loaded. */
#ifndef DSTACK_PROVIDER_H
#define DSTACK_PROVIDER_H

#include <stddef.h>

#include <openssl/core.h>
#include <openssl/core_dispatch.h>

#include <dstack/error.h>
#include <dstack/resolve.h>

typedef struct dstack_prov_ctx dstack_prov_ctx;

OSSL_LIB_CTX *dstack_prov_libctx(const dstack_prov_ctx *ctx);

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

/* Raise a libdstack error through the core's error stack with the provider's reason codes. */
void dstack_prov_raise(const dstack_prov_ctx *ctx, const char *file, int line, const char *func,
                       const dstack_error *err);
#define DSTACK_PROV_RAISE(ctx, err) dstack_prov_raise((ctx), __FILE__, __LINE__, __func__, (err))

/* Decoder algorithms (provider/decoder.c), registered by provider.c for OSSL_OP_DECODER. */
extern const OSSL_ALGORITHM dstack_decoder_algorithms[];

#endif
