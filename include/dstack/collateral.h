/* libdstack — Intel collateral for DCAP verification of TDX quotes: the QuoteCollateralV3 JSON
 * that dcap-qvl and PCCS clients use (protocol.md §5.7) and a client for a PCCS or Intel PCS
 * (protocol.md §5.8). A collateral object is what dstack_quote_verify_opts.collateral takes.
 */
#ifndef DSTACK_COLLATERAL_H
#define DSTACK_COLLATERAL_H

#include <stddef.h>
#include <stdint.h>

#include <dstack/attest.h>
#include <dstack/error.h>

#ifdef __cplusplus
extern "C" {
#endif

DSTACK_API_BEGIN

/* Largest collateral JSON accepted (Intel's is 15–20 KB; a large PCK CRL can reach ~1 MB). */
#define DSTACK_COLLATERAL_MAX_JSON (8u * 1024u * 1024u)

/* Reads QuoteCollateralV3 JSON (protocol.md §5.7): pck_crl_issuer_chain, root_ca_crl and
 * pck_crl (hex DER), tcb_info_issuer_chain, tcb_info (JSON text, signed as it stands),
 * tcb_info_signature (hex r||s), qe_identity_issuer_chain, qe_identity, qe_identity_signature,
 * and the optional pck_certificate_chain. DSTACK_ERR_PROTOCOL for text that is not such an
 * object (not JSON, a field missing, repeated or of the wrong type, bad hex) and for input over
 * DSTACK_COLLATERAL_MAX_JSON; the message names the field. What the fields say (a CRL or TCB
 * info that does not parse, a foreign FMSPC) is judged when a quote is verified with it, in
 * dcap-qvl's order. The object is immutable and may be shared between threads. Free with
 * dstack_collateral_free. */
dstack_status dstack_collateral_from_json(const char *json, size_t len, dstack_collateral **out,
                                          dstack_error *err);
/* The same JSON back (the fields above; byte fields as lowercase hex); dstack_free() the text. */
dstack_status dstack_collateral_to_json(const dstack_collateral *c, char **json, dstack_error *err);
/* The earliest nextUpdate of the TCB info, the QE identity and both CRLs (UNIX seconds): the
 * collateral says nothing past it. 0 when one of them does not parse. */
int64_t dstack_collateral_next_update(const dstack_collateral *c);
void dstack_collateral_free(dstack_collateral *c);

/* ---- PCCS / Intel PCS client (protocol.md §5.8) ------------------------------------------------
 */
/* Versioned (api.h): initialise with DSTACK_OPTIONS_INIT(dstack_pccs_opts). */
typedef struct dstack_pccs_opts {
    size_t struct_size;
    /* Base URL of a PCCS or of Intel PCS (https://api.trustedservices.intel.com); a trailing
     * /sgx/certification/v4 or /tdx/certification/v4 is ignored. NULL: env DSTACK_PCCS_URL. */
    const char *url;
    unsigned timeout_ms; /* each request, connect included; 0 = 10000 */
    size_t max_response; /* bytes per response; 0 = 4 MiB */
    /* Directory of an on-disk cache (created 0700, files 0600): collateral is served from it
     * until its earliest nextUpdate, then fetched again. NULL = no cache. */
    const char *cache_dir;
    int64_t now; /* the time the cache's freshness is judged at; 0 = now */
} dstack_pccs_opts;

/* The collateral for `quote` (TDX v4/v5 with a PEM PCK chain): the PCK CRL of the CA that
 * issued its PCK certificate, the TDX TCB info for its FMSPC, the TDX QE identity and the root
 * CA CRL, with the issuer chains from the response headers. DSTACK_ERR_CONNECTION /
 * DSTACK_ERR_TIMEOUT when the PCCS cannot be reached in time, DSTACK_ERR_AGENT for a non-2xx
 * answer (the message names the URL and the status), DSTACK_ERR_PROTOCOL for an oversized or
 * malformed answer or a quote without a usable PCK certificate, DSTACK_ERR_USAGE for no URL.
 * Free with dstack_collateral_free. */
dstack_status dstack_pccs_fetch(const uint8_t *quote, size_t len, const dstack_pccs_opts *opts,
                                dstack_collateral **out, dstack_error *err);

DSTACK_API_END

#ifdef __cplusplus
}
#endif
#endif
