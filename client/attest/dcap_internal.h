/* libdstack internal — DCAP verification of TDX quotes with Intel collateral
 * (protocol.md §5.6–§5.7): the pieces dcap_verify.c runs in dcap-qvl's order. Not installed.
 *
 *   dcap_quote.c        quote v4/v5 layout, read as leniently as dcap-qvl reads it
 *   dcap_pck.c          Intel's SGX extension of the PCK certificate
 *   dcap_chain.c        certificate chains and CRLs with webpki's rules
 *   dcap_tcb_info.c     TCB info JSON, TCB level matching, the TDX module identity
 *   dcap_qe_identity.c  QE identity JSON and its policy
 *   dcap_status.c       TCB status names, the status merge and advisory-ID lists
 *   dcap_time.c         RFC 3339 and ASN.1 times as UNIX seconds
 *   dcap_schema.c       serde-like field readers for the two signed JSON documents
 *   collateral.c        QuoteCollateralV3 JSON and the prepared collateral object
 */
#ifndef DSTACK_DCAP_INTERNAL_H
#define DSTACK_DCAP_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include <dstack/attest.h>
#include <dstack/collateral.h>

#include "base/json_strict_internal.h"

#define DCAP_WHY_LEN 384
/* Writes the reason of a failed check into why (why_len bytes) and returns false, so a check
 * can end with `return dcap_fail(why, why_len, "…", …);` (dcap_verify.c). */
bool dcap_fail(char *why, size_t why_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define DCAP_MAX_FIELD (1u << 20) /* dcap-qvl's bound on every variable-length quote field */

/* ---- quote layout (dcap_quote.c, protocol.md §5.1) ---------------------------------------- */
#define DCAP_TEE_SGX 0x00000000u
#define DCAP_TEE_TDX 0x00000081u
#define DCAP_BODY_SGX 1
#define DCAP_BODY_TD10 2
#define DCAP_BODY_TD15 3
/* Offsets in a TD report body. */
#define DCAP_TD_TEE_TCB_SVN 0
#define DCAP_TD_MR_SIGNER_SEAM 64
#define DCAP_TD_SEAM_ATTRIBUTES 112
#define DCAP_TD_ATTRIBUTES 120
#define DCAP_TD_REPORT_DATA 520
#define DCAP_TD15_MR_SERVICETD 600
/* Offsets in an SGX report (the QE report). */
#define DCAP_QE_MISC_SELECT 16
#define DCAP_QE_ATTRIBUTES 48
#define DCAP_QE_MR_ENCLAVE 64
#define DCAP_QE_MR_SIGNER 128
#define DCAP_QE_ISV_PROD_ID 256
#define DCAP_QE_ISV_SVN 258
#define DCAP_QE_REPORT_DATA 320
#define DCAP_QE_REPORT_LEN 384

typedef struct dcap_quote {
    uint16_t version, key_type;
    uint32_t tee_type;
    const uint8_t *qe_vendor_id;
    uint16_t body_type; /* DCAP_BODY_*; v4 TDX is TD10 */
    const uint8_t *body;
    size_t signed_len; /* header (+ v5 descriptor) + body: what the quote signature covers */
    const uint8_t *signature, *att_key;
    uint16_t cert_type; /* outer certification data type (6 expected, not required) */
    const uint8_t *qe_report, *qe_sig;
    const uint8_t *auth;
    size_t auth_len;
    uint16_t inner_type; /* 5 = PEM PCK chain */
    const uint8_t *inner;
    size_t inner_len;
} dcap_quote;

/* Walks a quote the way dcap-qvl decodes it: versions 3–5, the v5 body descriptor (its size
 * not checked), every length bounded by what is left and by 1 MiB, trailing bytes ignored at
 * every level. Fails with "Failed to decode quote: …" in why. */
bool dcap_quote_walk(const uint8_t *q, size_t len, dcap_quote *out, char *why, size_t why_len);

/* ---- PCK certificate (dcap_pck.c, protocol.md §5.6) ----------------------------------------- */
typedef struct dcap_pck_ext {
    uint8_t ppid[16];
    size_t ppid_len;
    uint8_t cpusvn[16];
    uint16_t pcesvn;
    uint8_t pceid[2];
    uint8_t fmspc[6];
    int sgx_type;
} dcap_pck_ext;

/* Intel's SGX extension (1.2.840.113741.1.13.1, exactly once) of a PCK certificate; false with
 * dcap-qvl's message ("Intel extension not found", "CpuSvn length mismatch", …). */
bool dcap_pck_ext_read(X509 *pck, dcap_pck_ext *out, char *why, size_t why_len);
/* "platform" or "processor": the PCK CA that issued `pck` (protocol.md §5.8). */
const char *dcap_pck_ca_kind(X509 *pck);

/* ---- certificate chains and CRLs (dcap_chain.c) -----------------------------------------------
 */
/* Every PEM block of a text (any label), leaf first; NULL with why when a block does not parse
 * or there are more than `max`. An empty list is returned as an empty stack. The certificates
 * (and dcap_crl_parse's CRLs) live in the private parsing context (crypto/untrusted.h): the
 * caller must hold it (dstack_untrusted_acquire) for as long as it keeps them. */
STACK_OF(X509) * dcap_pem_certs(const char *pem, size_t len, int max, char *why, size_t why_len);
/* A CRL by webpki's parsing rules (v2, nextUpdate and extensions present, no delta or
 * indirect CRL, no unknown critical extension, valid reason codes). */
X509_CRL *dcap_crl_parse(const uint8_t *der, size_t len, char *why, size_t why_len);

/* Positive signature results of one collateral object, so a verifier that sees the same Intel
 * certificates and CRLs on every call checks each signature once (collateral.c). */
typedef struct dcap_sig_memo dcap_sig_memo;
dcap_sig_memo *dcap_sig_memo_new(void);
void dcap_sig_memo_free(dcap_sig_memo *memo);
/* Whether the object with SHA-256 `tbs_digest` was found signed by `signer`'s key before. */
bool dcap_sig_memo_check(dcap_sig_memo *memo, const uint8_t *tbs_digest, X509 *signer);
void dcap_sig_memo_add(dcap_sig_memo *memo, const uint8_t *tbs_digest, X509 *signer);

typedef struct dcap_chain_ctx {
    X509 *anchor;          /* only its subject and key are used */
    X509_CRL *const *crls; /* root CA CRL, PCK CRL */
    int64_t now;
    dcap_sig_memo *memo; /* may be NULL */
} dcap_chain_ctx;

/* The root CA CRL check of dcap-qvl's step 1: the CRL issued by the anchor verifies with its
 * key, is fresh, and does not list the anchor. */
bool dcap_root_crl_check(const dcap_chain_ctx *c, char *why, size_t why_len);
/* certs[0] is the leaf, the rest an unordered pool of intermediates: a path to the anchor by
 * webpki's rules (validity notBefore ≤ now ≤ notAfter, basic constraints and path length,
 * EKU serverAuth when present, no unknown critical extension) with every certificate on it
 * but the anchor checked against the CRLs (the first CRL with its issuer's name, signed by
 * that issuer, fresh, the serial not listed). */
bool dcap_chain_verify(const dcap_chain_ctx *c, STACK_OF(X509) * certs, char *why, size_t why_len);

/* ---- TCB status and advisory IDs (dcap_status.c, protocol.md §5.6) ----------------------------
 */
typedef struct dcap_advisories {
    char **ids;
    size_t n;
} dcap_advisories;

typedef struct dcap_tcb {
    dstack_tcb_status status;
    dcap_advisories adv;
} dcap_tcb;

/* Intel's name → status; false for any other text. */
bool dcap_status_from_name(const char *name, dstack_tcb_status *out);
/* a = a.merge(b): the more severe status (a's on a tie); b's IDs appended unless present. */
bool dcap_tcb_merge(dcap_tcb *a, const dcap_tcb *b);
bool dcap_tcb_copy(dcap_tcb *dst, const dcap_tcb *src);
void dcap_advisories_free(dcap_advisories *a);
/* A JSON array of strings ("advisoryIDs"); an absent member is an empty list. */
bool dcap_advisories_read(const dstack_jv *level, dcap_advisories *out);

/* ---- times (dcap_time.c) ------------------------------------------------------------------------
 */
/* RFC 3339 (as chrono parses it) → UNIX seconds. */
bool dcap_rfc3339(const char *text, int64_t *out);
bool dcap_asn1_time(const ASN1_TIME *t, int64_t *out);

/* ---- TCB info (dcap_tcb_info.c)
 * ------------------------------------------------------------------ */
typedef struct dcap_tcb_level {
    uint8_t *sgx; /* sgxtcbcomponents[].svn */
    size_t sgx_n;
    uint8_t *tdx; /* tdxtcbcomponents[].svn */
    size_t tdx_n;
    uint16_t pcesvn;
    dcap_tcb tcb;
    size_t json_index; /* position in the JSON (stable sort) */
} dcap_tcb_level;

typedef struct dcap_module_level {
    uint8_t isvsvn;
    dcap_tcb tcb;
} dcap_module_level;

typedef struct dcap_module_identity {
    char *id, *mrsigner, *attributes, *attributes_mask; /* hex, decoded when used */
    dcap_module_level *levels;
    size_t n_levels;
} dcap_module_identity;

typedef struct dcap_tcb_info {
    char *id;
    uint8_t version;
    char *issue_date, *next_update;
    char *fmspc, *pce_id;   /* hex, decoded when compared */
    dcap_tcb_level *levels; /* canonical order (dcap_tcb_info_parse sorts) */
    size_t n_levels;
    bool has_module;
    char *module_mrsigner, *module_attributes, *module_attributes_mask;
    dcap_module_identity *identities;
    size_t n_identities;
} dcap_tcb_info;

/* The `tcb_info` text by dcap-qvl's schema, levels put in canonical order; NULL with why. */
dcap_tcb_info *dcap_tcb_info_parse(const char *json, size_t len, char *why, size_t why_len);
void dcap_tcb_info_free(dcap_tcb_info *t);

/* Step 13 for a TD report body: FMSPC (and PCE-ID, an Intel rule dcap-qvl skips), the first
 * level the PCK's CPUSVN/PCESVN and TEE_TCB_SVN reach, merged with the TDX module identity's
 * level. false with dcap-qvl's message. */
bool dcap_tcb_match(const dcap_tcb_info *t, const dcap_quote *q, const dcap_pck_ext *pck,
                    dcap_tcb *out, char *why, size_t why_len);

/* ---- QE identity (dcap_qe_identity.c)
 * ------------------------------------------------------------ */
typedef struct dcap_qe_level {
    uint16_t isvsvn;
    dcap_tcb tcb;
} dcap_qe_level;

typedef struct dcap_qe_identity {
    char *id;
    uint8_t version;
    char *issue_date, *next_update;
    uint8_t miscselect[4], miscselect_mask[4];
    uint8_t attributes[16], attributes_mask[16];
    uint8_t mrsigner[32];
    uint16_t isvprodid;
    dcap_qe_level *levels; /* JSON order */
    size_t n_levels;
} dcap_qe_identity;

dcap_qe_identity *dcap_qe_identity_parse(const char *json, size_t len, char *why, size_t why_len);
void dcap_qe_identity_free(dcap_qe_identity *q);
/* Step 11: the QE report against the identity (MRSIGNER, not debug, ISVPRODID, MISCSELECT and
 * ATTRIBUTES under their masks) and its ISVSVN's level. */
bool dcap_qe_policy(const dcap_qe_identity *id, const uint8_t *qe_report, dcap_tcb *out, char *why,
                    size_t why_len);

/* ---- the collateral object (collateral.c)
 * --------------------------------------------------------- */
/* One signed JSON document of the collateral, parsed when the collateral is loaded; a parse
 * failure is kept and reported at its step of the verification, as dcap-qvl would. */
typedef struct dcap_signed_doc {
    char *text; /* exactly as given: the signed bytes */
    size_t text_len;
    uint8_t *signature; /* raw r||s */
    size_t signature_len;
    char *issuer_chain; /* PEM */
    STACK_OF(X509) * chain;
    char chain_error[DCAP_WHY_LEN]; /* chain == NULL */
    uint8_t digest[32];             /* SHA-256(text || signature), the memo key */
} dcap_signed_doc;

struct dstack_collateral {
    pthread_mutex_t lock; /* guards refs and memo */
    int refs;
    char *pck_crl_issuer_chain;
    uint8_t *root_ca_crl_der, *pck_crl_der;
    size_t root_ca_crl_len, pck_crl_len;
    X509_CRL *crls[2]; /* root CA CRL, PCK CRL; NULL when crl_error says why */
    char crl_error[DCAP_WHY_LEN];
    dcap_signed_doc tcb_doc, qe_doc;
    dcap_tcb_info *tcb_info;
    char tcb_info_error[DCAP_WHY_LEN];
    dcap_qe_identity *qe_identity;
    char qe_identity_error[DCAP_WHY_LEN];
    char *pck_certificate_chain; /* optional; replaces the quote's chain */
    int64_t next_update;         /* earliest of the four, 0 when one does not parse */
    struct dcap_sig_memo *memo;
    struct dcap_cert_cache *certs; /* parsed PEM chains seen with it (roots, PCK chains) */
    OSSL_LIB_CTX *lib; /* the private parsing context its certificates and CRLs live in */
};

/* The fields of QuoteCollateralV3, owned (malloc'd); NUL-terminated strings. */
typedef struct dcap_collateral_parts {
    char *pck_crl_issuer_chain;
    uint8_t *root_ca_crl, *pck_crl;
    size_t root_ca_crl_len, pck_crl_len;
    char *tcb_info_issuer_chain, *tcb_info;
    uint8_t *tcb_info_signature;
    size_t tcb_info_signature_len;
    char *qe_identity_issuer_chain, *qe_identity;
    uint8_t *qe_identity_signature;
    size_t qe_identity_signature_len;
    char *pck_certificate_chain; /* optional */
} dcap_collateral_parts;

/* A collateral object from its fields (the JSON reader and the PCCS client end here); takes
 * every field of `p`, whatever the outcome. DSTACK_ERR_PROTOCOL for a field over its limit. */
dstack_status dcap_collateral_build(dcap_collateral_parts *p, dstack_collateral **out,
                                    dstack_error *err);
void dcap_collateral_parts_free(dcap_collateral_parts *p);

/* dcap_pem_certs through the collateral's cache of parsed chains (keyed by the PEM's SHA-256):
 * a verifier that sees the same root and PCK chains on every call decodes them once. A new
 * stack of new references; sk_X509_pop_free it. */
STACK_OF(X509) * dcap_collateral_certs(const dstack_collateral *c, const char *pem, size_t len,
                                       int max, char *why, size_t why_len);

/* Another reference to a collateral object shared between threads (released by
 * dstack_collateral_free). */
dstack_collateral *dcap_collateral_ref(const dstack_collateral *c);

/* ---- the verification (dcap_verify.c)
 * ------------------------------------------------------------- */
typedef struct dcap_result {
    dcap_quote quote;
    bool quote_ok;
    dcap_pck_ext pck;
    bool pck_ok;
    char pck_subject[128];
    bool qe_report_signature_ok, qe_report_binds_key, qe_identity_ok, quote_signature_ok;
    bool tcb_matched;
    dcap_tcb platform, qe, final;
    bool td_attributes_ok;
} dcap_result;

typedef struct dcap_params {
    const uint8_t *quote;
    size_t len;
    const dstack_collateral *collateral;
    X509 *anchor;
    int64_t now;
    bool allow_debug, allow_service_td;
} dcap_params;

/* dcap-qvl's verify() (protocol.md §5.6): true when it would accept; false with its message in
 * why and *protocol_error set when the quote itself did not decode. Free with
 * dcap_result_free. */
bool dcap_verify(const dcap_params *p, dcap_result *out, char *why, size_t why_len,
                 bool *protocol_error);
void dcap_result_free(dcap_result *r);

/* ECDSA-P256-SHA256 with a raw r||s signature (r = the first 32 bytes, s = the rest, as
 * dcap-qvl splits it); false unless `key` is a P-256 key. */
bool dcap_verify_raw_sig(EVP_PKEY *key, const uint8_t *data, size_t len, const uint8_t *rs,
                         size_t rs_len);
/* A P-256 public key from raw x||y; NULL when the point is not on the curve. */
EVP_PKEY *dcap_p256_from_raw(const uint8_t xy[64]);

/* With collateral: dstack_tdx_quote_verify's mapping of dcap_verify onto the public result
 * (quote_verify_dcap.c). `opts` is complete (struct_size checked); `root_pem` must hold exactly
 * one certificate. */
dstack_status dcap_quote_verify_collateral(const uint8_t *quote, size_t len,
                                           const dstack_quote_verify_opts *opts,
                                           const char *root_pem, dstack_quote_verify_result *out,
                                           dstack_error *err);

/* The TD attribute rules of step 15 (shared with the offline verifier). NULL when they hold. */
const char *dcap_td_attributes_check(const uint8_t attributes[8], bool allow_debug);

#endif
