/* libdstack — resolving a dstack: URI into a key and certificates (architecture.md §4).
 *
 * This is the ONE place that turns a URI into key material. The provider's store and
 * decoder, the ENGINE and dstack-keytool all call dstack_resolve(); none has its own copy.
 *
 * A dstack_resolver is thread-safe and fork-safe: it keeps one client per service per
 * process (re-created after fork, detected by pid) behind a mutex, and a per-process cache
 * keyed by canonical URI + endpoint whose key bytes live in OpenSSL's secure heap.
 */
#ifndef DSTACK_RESOLVE_H
#define DSTACK_RESOLVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <dstack/error.h>
#include <dstack/uri.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dstack_resolve_config {
    const char *endpoint;       /* NULL → discovery (protocol.md §1.2) */
    const char *tappd_endpoint; /* NULL → discovery */
    long timeout_ms;            /* 0 → 5000 */
    dstack_cert_mode default_cert;
    dstack_ratls_mode default_ratls;
    bool cache; /* per-process cache of resolved objects */
    bool has_kms_root;
    uint8_t kms_root[33]; /* compressed secp256k1 */
    bool has_app_id;
    uint8_t app_id[32];
    size_t app_id_len;
    /* Optional debug sink (the provider's DSTACK_PROVIDER_DEBUG log). Never given key bytes. */
    void (*debug)(void *ctx, int level, const char *file, int line, const char *func,
                  const char *fmt, ...);
    void *debug_ctx;
} dstack_resolve_config;

typedef struct dstack_resolver dstack_resolver;

dstack_status dstack_resolver_new(const dstack_resolve_config *cfg, dstack_resolver **out,
                                  dstack_error *err);
void dstack_resolver_free(dstack_resolver *r);

#define DSTACK_WANT_KEY 0x1u
#define DSTACK_WANT_CERTS 0x2u

typedef struct dstack_resolved {
    dstack_key_alg alg;
    const char *key_type;   /* OpenSSL data-type name: "EC" or "ED25519" */
    unsigned char *key_der; /* PKCS#8 PrivateKeyInfo DER, secure heap; NULL if not wanted */
    size_t key_der_len;
    unsigned char *spki_der; /* SubjectPublicKeyInfo DER of the key (always set) */
    size_t spki_der_len;
    unsigned char **cert_der; /* leaf first, then the rest of the chain */
    size_t *cert_der_len;
    size_t cert_count;
    bool chain_verified;  /* signature chain led to the configured KMS root */
    char cert_source[16]; /* "agent", "self", "ephemeral", "none" */
} dstack_resolved;

/* Resolve `uri_text`. `want` is a mask of DSTACK_WANT_*; without DSTACK_WANT_CERTS no
 * certificate RPC is made. The result is an independent copy the caller frees. */
dstack_status dstack_resolve(dstack_resolver *r, const char *uri_text, unsigned want,
                             dstack_resolved **out, dstack_error *err);
void dstack_resolved_free(dstack_resolved *res);

/* The effective endpoints (after discovery), for messages and the debug log. */
const char *dstack_resolver_endpoint(dstack_resolver *r);
const char *dstack_resolver_tappd_endpoint(dstack_resolver *r);

#ifdef __cplusplus
}
#endif
#endif
