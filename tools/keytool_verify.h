/* dstack-keytool — what verify, collateral and the handshake share (keytool_verify.c,
 * keytool_verify_report.c, keytool_connect.c, keytool_collateral.c). */
#ifndef DSTACK_KEYTOOL_VERIFY_H
#define DSTACK_KEYTOOL_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include <dstack/attest.h>
#include <dstack/collateral.h>
#include <dstack/ratls.h>

#include "keytool.h"

#define KT_INPUT_MAX (16u * 1024u * 1024u)

/* Whole file, NUL-terminated; NULL with errno on failure (over KT_INPUT_MAX: EFBIG). */
uint8_t *kt_read_file(const char *path, size_t *len);
/* A quote file is raw bytes, or hex text (what `dstack-keytool quote` and GetQuote give). */
void kt_quote_from_text(uint8_t *buf, size_t *len);
/* A DER certificate, or the first PEM certificate of the file; NULL if it is neither. `next`
 * (if non-NULL) receives the PEM file's second certificate, the issuer of a chain file, or
 * NULL. */
X509 *kt_cert_from_bytes(const uint8_t *buf, size_t len, X509 **next);

/* Where collateral comes from (--collateral FILE, --pccs-url URL / DSTACK_PCCS_URL,
 * --pccs-cache DIR). */
typedef struct kt_collateral_source {
    const char *file;
    const char *pccs_url;
    const char *cache_dir;
    unsigned timeout_ms;
    int64_t now; /* the cache's freshness is judged at the verification time (0: now) */
} kt_collateral_source;

/* The collateral for `quote` (NULL *out and KT_EXIT_OK when no source is configured: offline
 * verification); a failure is printed and its exit code returned. */
int kt_collateral_for(const kt_collateral_source *src, const uint8_t *quote, size_t len,
                      dstack_collateral **out);

/* The verification report, text or JSON (--json), on stdout. `err` NULL when verified. */
void kt_report_quote(const kt_options *opts, const char *source,
                     const dstack_quote_verify_result *r, const dstack_error *err);
void kt_report_cert(const kt_options *opts, const char *source, const dstack_ratls_verification *v,
                    const dstack_error *err);

/* verify --connect: a TLS handshake with HOST:PORT under an RA-TLS verifier, then the report
 * of its verification of the certificate presented. */
int kt_verify_connect(const kt_options *opts, const char *target, const char *servername,
                      const dstack_ratls_verifier_opts *vo);

/* Exit code of a finished verification: 0 verified, 2 a usage problem (bad --trusted-root),
 * 3 anything else that stopped verification. */
int kt_verify_outcome(dstack_status rc);

#endif
