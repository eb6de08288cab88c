/* libdstack internal — the relying party's network side: one HTTP GET for collateral
 * (pccs_http.c), the on-disk collateral cache (pccs_cache.c). Not installed. */
#ifndef DSTACK_VERIFY_INTERNAL_H
#define DSTACK_VERIFY_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include <dstack/collateral.h>
#include <dstack/error.h>

typedef struct dstack_http_response {
    long status;
    char *headers; /* the raw header lines, "Name: value\r\n"… */
    size_t headers_len;
    uint8_t *body; /* NUL-terminated for convenience */
    size_t body_len;
} dstack_http_response;

/* GET `url` (http:// or https://, no redirects, proxies as the environment says) within
 * `timeout_ms`, connect included; a body over `max_body` or headers over 64 KiB fail with
 * DSTACK_ERR_PROTOCOL. DSTACK_ERR_CONNECTION / DSTACK_ERR_TIMEOUT as the transport found it.
 * Any HTTP status is returned: the caller judges it. This is the one place the PCCS client
 * touches the network. */
dstack_status dstack_http_get(const char *url, unsigned timeout_ms, size_t max_body,
                              dstack_http_response *out, dstack_error *err);
/* The value of header `name` (case-insensitive), trimmed; NULL when absent. */
const char *dstack_http_header(const dstack_http_response *r, const char *name, size_t *len);
void dstack_http_response_free(dstack_http_response *r);

/* The name collateral for `quote` from the PCCS at `url` is cached under (SHA-256 hex of the
 * normalised URL, TEE, FMSPC and PCK CA): quotes of one platform type share it. */
dstack_status dstack_pccs_cache_key(const uint8_t *quote, size_t len, const char *url, char key[65],
                                    dstack_error *err);

/* The on-disk cache (protocol.md §5.8): the collateral stored under `key` if it is still fresh
 * at `now` (before its earliest nextUpdate); NULL when absent, stale or unreadable. */
dstack_collateral *dstack_pccs_cache_get(const char *dir, const char *key, int64_t now);
/* Stores `c` under `key` (atomically, 0600; the directory is created 0700). Failure to write
 * is not an error of the fetch: false only tells the caller. */
bool dstack_pccs_cache_put(const char *dir, const char *key, const dstack_collateral *c);

/* The environment variable naming the PCCS when a caller names none. */
#define DSTACK_PCCS_URL_ENV "DSTACK_PCCS_URL"
/* `given` when it is set and not empty, else $DSTACK_PCCS_URL when that is, else NULL. */
const char *dstack_pccs_url_or_env(const char *given);

/* Another reference to a verifier (an SSL_CTX or SSL holding it, ratls_ssl.c). */
typedef struct dstack_ratls_verifier dstack_ratls_verifier;
/* dstack_ratls_verifier_verify during a handshake: without a policy issuer, the certificate's
 * signature is checked against the one of `sent` (the peer's chain) that issued it — an
 * agent-issued leaf is signed by the app CA the server sends along. That proves the chain is
 * consistent, not that it is trusted: the attestation is what vouches for the key. */
dstack_status dstack_ratls_verifier_verify_sent(dstack_ratls_verifier *v, X509 *cert,
                                                const STACK_OF(X509) * sent,
                                                dstack_ratls_verification *out, dstack_error *err);
dstack_ratls_verifier *dstack_ratls_verifier_ref(dstack_ratls_verifier *v);

#endif
