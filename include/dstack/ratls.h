/* libdstack — RA-TLS verification at handshake time for OpenSSL clients and servers
 * (architecture.md §12, protocol.md §4.7, §5.6): a verifier holding the relying party's policy
 * and a source of Intel collateral, installed on an SSL_CTX or an SSL as its certificate
 * verification. The handshake fails when the peer's certificate does not carry an attestation
 * that binds its key, verifies with collateral, replays to RTMR3 and meets the policy; the
 * application reads why with dstack_ratls_ssl_failure().
 *
 *     dstack_ratls_policy policy = {DSTACK_OPTIONS_INIT(dstack_ratls_policy), .has_app_id = true};
 *     dstack_ratls_verifier_opts vo = {DSTACK_OPTIONS_INIT(dstack_ratls_verifier_opts),
 *                                      .policy = &policy, .pccs_url = "https://pccs.example"};
 *     dstack_ratls_verifier *v;
 *     dstack_ratls_verifier_new(&vo, &v, &err);
 *     dstack_ratls_ssl_ctx_install(ctx, v, &err);  // the SSL_CTX keeps a reference
 *     dstack_ratls_verifier_free(v);
 *     ... SSL_connect(ssl) fails → dstack_ratls_ssl_failure(ssl) says why
 */
#ifndef DSTACK_RATLS_H
#define DSTACK_RATLS_H

#include <stdbool.h>
#include <stddef.h>

#include <dstack/attest.h>
#include <dstack/collateral.h>
#include <dstack/error.h>

#ifdef __cplusplus
extern "C" {
#endif

DSTACK_API_BEGIN

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;
typedef struct dstack_ratls_verifier dstack_ratls_verifier;

/* Versioned (api.h): initialise with DSTACK_OPTIONS_INIT(dstack_ratls_verifier_opts). */
typedef struct dstack_ratls_verifier_opts {
    size_t struct_size;
    /* App policy and quote options (root, time, flags, allowed TCB statuses; the default
     * accepts UpToDate only); copied. NULL: no app policy, Intel's root, now. A collateral in
     * policy->quote is used for every quote (and referenced, not copied), and so is
     * policy->issuer (NULL: the peer's certificate must be self-signed, as cert=self is, or,
     * during a handshake, issued by a certificate the peer sends with it, as an agent-issued
     * leaf is by the app CA; set it to pin the app's CA). */
    const dstack_ratls_policy *policy;
    /* Where collateral comes from, first match wins: policy->quote->collateral; a
     * QuoteCollateralV3 JSON file read once; a PCCS or Intel PCS base URL (NULL: env
     * DSTACK_PCCS_URL), fetched per FMSPC and kept in memory until its nextUpdate. */
    const char *collateral_file;
    const char *pccs_url;
    const char *cache_dir;    /* the PCCS client's on-disk cache (dstack_pccs_opts) */
    unsigned pccs_timeout_ms; /* 0 = 10000 */
    /* Accept offline verification (no TCB status, revocation or QE identity) when no
     * collateral source is configured; without it dstack_ratls_verifier_new refuses that. */
    bool offline_ok;
    /* Verify every certificate from scratch. By default a verdict that held is kept per
     * certificate (its SHA-256) until the earlier of the collateral's nextUpdate and the
     * certificate's notAfter (offline verdicts: at most an hour). */
    bool no_verdict_cache;
} dstack_ratls_verifier_opts;

/* A verifier; thread-safe, reference-counted. DSTACK_ERR_USAGE for a bad struct_size or no
 * collateral source without offline_ok; the collateral file's errors as
 * dstack_collateral_from_json reports them. Release with dstack_ratls_verifier_free. */
dstack_status dstack_ratls_verifier_new(const dstack_ratls_verifier_opts *opts,
                                        dstack_ratls_verifier **out, dstack_error *err);
void dstack_ratls_verifier_free(dstack_ratls_verifier *v);

/* What the handshake runs on the peer's leaf certificate: its validity period at the policy's
 * time, then dstack_ratls_verify with the verifier's collateral and policy (a cached verdict
 * when one holds). The result and status as dstack_ratls_verify's; a collateral fetch that
 * fails is its connection/timeout/agent/protocol error. */
dstack_status dstack_ratls_verifier_verify(dstack_ratls_verifier *v, X509 *cert,
                                           dstack_ratls_verification *out, dstack_error *err);

/* Installs `v` as the certificate verification of every connection of `ctx` (SSL_VERIFY_PEER,
 * and for servers SSL_VERIFY_FAIL_IF_NO_PEER_CERT; the chain need not lead to a CA the context
 * trusts: the attestation is what is verified). The context keeps a reference. */
dstack_status dstack_ratls_ssl_ctx_install(SSL_CTX *ctx, dstack_ratls_verifier *v,
                                           dstack_error *err);
/* The same for one connection (before its handshake); it takes precedence over its context's. */
dstack_status dstack_ratls_ssl_install(SSL *ssl, dstack_ratls_verifier *v, dstack_error *err);

/* After a handshake: why RA-TLS verification failed ("" never; NULL when it passed or did not
 * run). Valid until the SSL is freed or verified again. */
const char *dstack_ratls_ssl_failure(const SSL *ssl);
/* The same as an error record (its status tells a PCCS that could not be reached from a
 * policy failure); NULL when verification passed or did not run. */
const dstack_error *dstack_ratls_ssl_error(const SSL *ssl);
/* The verification of the peer's certificate (NULL when it did not run). */
const dstack_ratls_verification *dstack_ratls_ssl_verification(const SSL *ssl);

DSTACK_API_END

#ifdef __cplusplus
}
#endif
#endif
