/* libdstack — resolving a dstack: URI into a key and certificates (architecture.md §4).
 *
 * This is the ONE place that turns a URI into key material. The provider's store and
 * decoder, the ENGINE and dstack-keytool all call dstack_resolve(); none has its own copy.
 *
 * A dstack_resolver is thread-safe and fork-safe. It keeps per-process pools of agent
 * connections (dropped after fork, detected by pid) and a per-process cache keyed by
 * canonical URI + endpoints. A cache hit never waits for another thread's agent I/O;
 * concurrent resolutions of one URI share one set of RPCs; timeout-ms bounds each caller.
 * What the agent sends is parsed in a private OpenSSL library context holding only
 * OpenSSL's default provider (never the caller's, so a decoder of the caller's — the dstack
 * provider's own among them — is never re-entered), with passphrases refused.
 */
#ifndef DSTACK_RESOLVE_H
#define DSTACK_RESOLVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <dstack/config.h>
#include <dstack/error.h>
#include <dstack/uri.h>

#ifdef __cplusplus
extern "C" {
#endif

DSTACK_API_BEGIN

typedef struct dstack_resolver dstack_resolver;

/* A resolver for the configuration `cfg` (copied: cfg may be freed afterwards). Makes no
 * agent traffic; DSTACK_ERR_USAGE when dstack_config_check() fails. */
dstack_status dstack_resolver_new(const dstack_config *cfg, dstack_resolver **out,
                                  dstack_error *err);
/* No dstack_resolve() may be in progress. */
void dstack_resolver_free(dstack_resolver *r);

#define DSTACK_WANT_KEY 0x1u
#define DSTACK_WANT_CERTS 0x2u

typedef struct dstack_resolved {
    dstack_key_alg alg;
    const char *key_type;   /* OpenSSL data-type name: "EC" or "ED25519" */
    unsigned char *key_der; /* PKCS#8 PrivateKeyInfo DER, cleansed by dstack_resolved_free();
                             * NULL if not wanted */
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
 * certificate RPC is made. The result is an independent copy the caller frees with
 * dstack_resolved_free(). */
dstack_status dstack_resolve(dstack_resolver *r, const char *uri_text, unsigned want,
                             dstack_resolved **out, dstack_error *err);
void dstack_resolved_free(dstack_resolved *res);

/* The effective endpoints (after discovery), for messages and the debug log. */
const char *dstack_resolver_endpoint(const dstack_resolver *r);
const char *dstack_resolver_tappd_endpoint(const dstack_resolver *r);

DSTACK_API_END

#ifdef __cplusplus
}
#endif
#endif
