/* libdstack — TDX quotes, event logs, RTMR replay, VersionedAttestation, RA-TLS extensions
 * (protocol.md §4, §5). Pure parsing and computation: nothing here talks to the agent.
 */
#ifndef DSTACK_ATTEST_H
#define DSTACK_ATTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <dstack/error.h>

#ifdef __cplusplus
extern "C" {
#endif

DSTACK_API_BEGIN

typedef struct x509_st X509;

#define DSTACK_RUNTIME_EVENT_TYPE 0x08000001u
#define DSTACK_QUOTE_MIN_LEN 632u /* header + TD report body (protocol.md §5.1) */

/* OIDs under 1.3.6.1.4.1.62397.1 (protocol.md §4.1). */
#define DSTACK_OID_TDX_QUOTE "1.3.6.1.4.1.62397.1.1"
#define DSTACK_OID_EVENT_LOG "1.3.6.1.4.1.62397.1.2"
#define DSTACK_OID_APP_ID "1.3.6.1.4.1.62397.1.3"
#define DSTACK_OID_SPECIAL_USAGE "1.3.6.1.4.1.62397.1.4"
#define DSTACK_OID_ATTESTATION "1.3.6.1.4.1.62397.1.8"
#define DSTACK_OID_APP_INFO "1.3.6.1.4.1.62397.1.9"

/* ---- TDX quote v4 and v5 (protocol.md §5.1) ------------------------------------------------ */
typedef struct dstack_tdx_quote {
    uint16_t version;
    uint16_t attestation_key_type;
    uint32_t tee_type;
    uint8_t qe_vendor_id[16];
    uint8_t tee_tcb_svn[16];
    uint8_t mr_seam[48];
    uint8_t mr_signer_seam[48];
    uint8_t seam_attributes[8];
    uint8_t td_attributes[8];
    uint8_t xfam[8];
    uint8_t mrtd[48];
    uint8_t mr_config_id[48];
    uint8_t mr_owner[48];
    uint8_t mr_owner_config[48];
    uint8_t rtmr[4][48];
    uint8_t report_data[64];
    uint32_t signature_data_len;
    bool debug;               /* td_attributes[0] & 1 */
    uint16_t body_type;       /* 2 = TD report 1.0, 3 = TD report 1.5 (v4 quotes: 2) */
    uint32_t signed_len;      /* header (+ v5 body descriptor) + body: 632, 638 or 702 */
    uint8_t tee_tcb_svn2[16]; /* TD 1.5 only, else zero */
    uint8_t mr_servicetd[48]; /* TD 1.5 only, else zero */
} dstack_tdx_quote;

/* Accepts v4 quotes and v5 quotes with a TD 1.0 or 1.5 body (trailing padding allowed; the v5
 * body descriptor's size is not checked, as in dcap-qvl); rejects short input, other versions,
 * a TEE type other than TDX and a signature-data length that runs past the buffer. */
dstack_status dstack_tdx_quote_parse(const uint8_t *buf, size_t len, dstack_tdx_quote *out,
                                     dstack_error *err);

/* ---- Event log (protocol.md §5.2) ----------------------------------------------------------- */
/* Event log versions (protocol.md §5.3.1): a runtime event's digest formula. 0 reads as v1. */
#define DSTACK_EVENT_LOG_V1 1u
#define DSTACK_EVENT_LOG_V2 2u

typedef struct dstack_event {
    uint32_t imr;
    uint32_t event_type;
    uint8_t *digest; /* may be empty (stripped runtime events) */
    size_t digest_len;
    char *event;
    uint8_t *payload;
    size_t payload_len;
    unsigned version;  /* DSTACK_EVENT_LOG_V1 or _V2 ("version" key, 0.6 agents) */
    bool has_preimage; /* "preimage" key present (V2 runtime events of quotes and Attest) */
    uint8_t *preimage; /* its hex-decoded bytes: what the agent hashed into `digest` */
    size_t preimage_len;
} dstack_event;

typedef struct dstack_event_log {
    dstack_event *events;
    size_t count;
} dstack_event_log;

/* From the JSON text of an event log array (the event_log string of GetQuote, `.1.2`). */
dstack_status dstack_event_log_parse(const char *json, size_t len, dstack_event_log *out,
                                     dstack_error *err);
void dstack_event_log_free(dstack_event_log *log);
/* Serialises to the agent's JSON array text (hex digests/payloads; "version": 2 and
 * "preimage" only where set, as the agent writes them); dstack_free() it. */
char *dstack_event_log_to_json(const dstack_event_log *log);

/* From the raw CCEL ACPI table (/sys/firmware/acpi/tables/data/CCEL): a TCG2 crypto-agile log
 * with SHA-384 digests. The Spec ID header and EV_NO_ACTION records are dropped, imr = TCG MR
 * index − 1 (0 is taken as RTMR0), `event` is "", the payload is the TCG event data; parsing
 * stops at the table's 0xFF/zero fill. Every length is bounded by `len`. */
dstack_status dstack_ccel_parse(const uint8_t *buf, size_t len, dstack_event_log *out,
                                dstack_error *err);

/* v1 runtime-event digest: SHA-384(LE32(0x08000001) || ":" || name || ":" || payload). */
void dstack_runtime_event_digest(const char *name, const uint8_t *payload, size_t payload_len,
                                 uint8_t out[48]);
/* v2 runtime-event digest (protocol.md §5.3.1): SHA-384 of the JCS-canonical JSON
 * {"name":name,"payload":hex(payload),"type":134217729}. */
void dstack_runtime_event_digest_v2(const char *name, const uint8_t *payload, size_t payload_len,
                                    uint8_t out[48]);

/* Checks every V2 runtime event that carries a preimage (protocol.md §5.3.1): it must be the
 * canonical JSON of the event's name and payload, and hash to the logged digest when the
 * digest is not blank (stripped logs blank it). DSTACK_ERR_CRYPTO names the first event
 * failing. Events without a preimage pass: their digest is recomputed anyway. */
dstack_status dstack_event_log_check_preimages(const dstack_event_log *log, dstack_error *err);

/* Replays RTMR0–3 from 48 zero bytes. Runtime events (type 0x08000001) always use the
 * digest computed from name+payload with their own version's formula, never the logged one.
 * valid[i] is false when an event for RTMR i had an unusable digest (not 48 bytes,
 * non-runtime) or a V2 preimage that fails dstack_event_log_check_preimages — that RTMR
 * cannot be trusted. `valid` may be NULL. */
void dstack_event_log_replay(const dstack_event_log *log, uint8_t rtmr[4][48], bool valid[4]);

/* Checks the preimages, replays and compares with a parsed quote; the message names the
 * first bad preimage or mismatching RTMR. `which` is a bit mask of RTMRs to compare (0xF =
 * all, 0x8 = RTMR3 only). */
dstack_status dstack_event_log_check_quote(const dstack_event_log *log,
                                           const dstack_tdx_quote *quote, unsigned which,
                                           dstack_error *err);

/* ---- VersionedAttestation (protocol.md §4.4, §4.5) ------------------------------------------ */
typedef struct dstack_runtime_event {
    char *event;
    uint8_t *payload;
    size_t payload_len;
    unsigned version; /* DSTACK_EVENT_LOG_V1 or _V2 (V1 msgpack only; SCALE has no version) */
} dstack_runtime_event;

/* The TEE an attestation comes from: the SCALE variant index of AttestationQuote, the V1
 * platform "kind" (protocol.md §4.4.1). */
typedef enum dstack_platform {
    DSTACK_PLATFORM_TDX = 0,           /* "tdx" */
    DSTACK_PLATFORM_GCP_TDX = 1,       /* "gcp-tdx": a TDX quote plus a vTPM quote */
    DSTACK_PLATFORM_NITRO_ENCLAVE = 2, /* "nitro-enclave" */
    DSTACK_PLATFORM_AMD_SEV_SNP = 3,   /* "sev-snp" */
    DSTACK_PLATFORM_AWS_NITRO_TPM = 4  /* "aws-nitro-tpm" */
} dstack_platform;

/* The platform's wire name ("tdx", "sev-snp", …), "unknown" for anything else. */
const char *dstack_platform_name(int platform);

typedef struct dstack_attestation {
    int version;    /* 0 = SCALE, 1 = msgpack */
    int platform;   /* dstack_platform */
    uint8_t *quote; /* the TDX quote (tdx, gcp-tdx); NULL on the other platforms */
    size_t quote_len;
    dstack_event_log tdx_event_log; /* tdx, gcp-tdx */
    dstack_runtime_event *runtime_events;
    size_t runtime_events_len;
    uint8_t report_data[64];
    char *config;
    /* Evidence of the other platforms, decoded only far enough to be reported and carried,
     * never verified here (protocol.md §4.4.1): the SEV-SNP attestation report, the Nitro
     * Enclave NSM document or the NitroTPM attestation document (both COSE_Sign1); for
     * gcp-tdx the vTPM quote's TPMS_ATTEST message. NULL when absent. */
    uint8_t *platform_document;
    size_t platform_document_len;
    size_t platform_item_count; /* sev-snp: cert_chain entries; gcp-tdx: PCR values */
    char *sev_snp_mr_config;    /* sev-snp: the MrConfigV3 JSON document; NULL otherwise */
} dstack_attestation;

/* Decodes V0 (SCALE) or V1 (msgpack, byte arrays as bin or int arrays), every 0.6 platform
 * variant included. Input cap 10 MiB. */
dstack_status dstack_attestation_decode(const uint8_t *buf, size_t len, dstack_attestation *out,
                                        dstack_error *err);
void dstack_attestation_free(dstack_attestation *att);
/* The platform (dstack_platform) of an encoded attestation, -1 when it does not decode. */
int dstack_attestation_platform(const uint8_t *buf, size_t len);

/* True when the attestation carries a TDX quote (tdx, gcp-tdx). */
bool dstack_attestation_is_tdx(const dstack_attestation *att);
/* Parses its TDX quote; DSTACK_ERR_PROTOCOL "not a TDX attestation: <platform>" on platforms
 * without one, so callers of TDX-only operations (quote parsing, DCAP verification, RTMR
 * replay) say what they were given instead of failing to parse. */
dstack_status dstack_attestation_tdx_quote(const dstack_attestation *att, dstack_tdx_quote *out,
                                           dstack_error *err);

/* ---- RA-TLS certificates (protocol.md §4.1–§4.3, §4.7) --------------------------------------- */
/* SHA-512("ratls-cert:" || spki_der). */
void dstack_ratls_report_data(const uint8_t *spki_der, size_t spki_len, uint8_t out[64]);
/* The same with SHA-512 fetched from `libctx`/`propq` (NULL: the default context). */
typedef struct ossl_lib_ctx_st OSSL_LIB_CTX;
dstack_status dstack_ratls_report_data_ex(OSSL_LIB_CTX *libctx, const char *propq,
                                          const uint8_t *spki_der, size_t spki_len, uint8_t out[64],
                                          dstack_error *err);

typedef struct dstack_ratls_info {
    bool has_attestation;  /* .1.8 or (.1.1 + .1.2) present */
    bool from_legacy_oids; /* attestation rebuilt from .1.1/.1.2 */
    dstack_attestation attestation;
    dstack_tdx_quote quote; /* parsed from attestation.quote when TDX */
    bool quote_parsed;
    bool
        report_data_binds_key; /* attestation and quote report_data == SHA-512(ratls-cert:||SPKI) */
    bool rtmr3_matches;        /* replay of runtime events equals quote RTMR3 */
    uint8_t app_id[20];
    bool has_app_id;        /* .1.3 present */
    char special_usage[64]; /* .1.4, "" if absent */
} dstack_ratls_info;

/* Extracts and checks the attestation of an RA-TLS certificate. Returns DSTACK_OK when the
 * certificate could be parsed (has_attestation may still be false); the binding booleans
 * report the checks. Quote signatures are not DCAP-verified (no collateral here). */
dstack_status dstack_ratls_inspect(X509 *cert, dstack_ratls_info *out, dstack_error *err);
void dstack_ratls_info_free(dstack_ratls_info *info);

/* ---- TCB status (protocol.md §5.6) ------------------------------------------------------------
 * Intel's TCB statuses, in dcap-qvl's order of severity (the merge of two statuses keeps the
 * more severe). Revoked is never a verdict: a revoked TCB level rejects the quote. */
typedef enum dstack_tcb_status {
    DSTACK_TCB_UP_TO_DATE = 0,
    DSTACK_TCB_SW_HARDENING_NEEDED,
    DSTACK_TCB_CONFIGURATION_NEEDED,
    DSTACK_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED,
    DSTACK_TCB_OUT_OF_DATE,
    DSTACK_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED,
    DSTACK_TCB_REVOKED
} dstack_tcb_status;
#define DSTACK_TCB_STATUS_BIT(s) (1u << (s))

/* Intel's name: "UpToDate", "SWHardeningNeeded", "ConfigurationNeeded",
 * "ConfigurationAndSWHardeningNeeded", "OutOfDate", "OutOfDateConfigurationNeeded", "Revoked";
 * "unknown" for any other value. */
const char *dstack_tcb_status_name(dstack_tcb_status status);
/* A comma- or space-separated list of Intel's names (exact case) as DSTACK_TCB_STATUS_BIT
 * bits. An unknown name, "Revoked" and an empty list are DSTACK_ERR_USAGE. */
dstack_status dstack_tcb_status_mask(const char *list, unsigned *mask, dstack_error *err);

/* Intel collateral for a quote (include/dstack/collateral.h). */
typedef struct dstack_collateral dstack_collateral;

/* ---- DCAP verification of a TDX quote (protocol.md §5.1, §5.6, §4.7 step 3) ---------------------
 * Without collateral (offline), for a v4 or v5 quote with attestation key type 2 (ECDSA-P256):
 *   (a) the quote signature (raw r||s) over header || TD report body verifies with the
 *       attestation public key (raw x||y) carried in the quote;
 *   (b) the certification data is type 6 (QE report) and parses exactly: QE report (384-byte
 *       SGX report body), its signature, QE auth data, inner type 5 (PCK chain, PEM);
 *   (c) QE report_data[0..32] == SHA-256(attestation key || QE auth data), [32..64] zero;
 *   (d) the QE report signature verifies with the PCK leaf certificate's key;
 *   (e) the PCK chain from the quote verifies (X509_verify_cert) to a pinned Intel SGX Root
 *       CA, and the leaf carries Intel's SGX extension (1.2.840.113741.1.13.1);
 *   (f) policy: the TD attributes (no debug TD, no reserved bit, SEPT_VE_DISABLE set), an
 *       all-zero MRSIGNERSEAM, and for a TD 1.5 body an all-zero MRSERVICETD.
 * Offline, TCB status, revocation and the QE identity are not checked (tcb_status_checked,
 * revocation_checked, qe_identity_checked stay false).
 *
 * With collateral (opts->collateral), the quote is verified the way Phala's dcap-qvl does it,
 * in its order, stopping at the first failure (protocol.md §5.6): root CA CRL, quote header,
 * TCB info (window, chain, signature), QE identity (window, chain, signature, id), PCK chain
 * with CRLs and the SGX extension, QE report signature and binding, QE identity policy and QE
 * TCB level, quote signature, TCB level matching (FMSPC, PCE-ID, SGX and TDX components, TDX
 * module identity), the status merge, then the TD attributes. dcap_ok tells whether every
 * check held; `verified` further needs the merged status in allowed_tcb_statuses. The one
 * deliberate difference from dcap-qvl: the TCB info's PCE-ID must equal the PCK
 * certificate's (an Intel rule dcap-qvl skips). */
#define DSTACK_QV_ALLOW_DEBUG 0x1u /* accept a debug TD */
#define DSTACK_QV_ALLOW_SEAM_SIGNER                                                                \
    0x2u /* offline: accept a non-zero MRSIGNERSEAM (with                                          \
          * collateral the TDX module identity decides) */
#define DSTACK_QV_NO_TIME_CHECK                                                                    \
    0x4u                                /* offline: ignore certificate validity periods (refused   \
                                         * with collateral, whose checks are all about time) */
#define DSTACK_QV_ALLOW_SERVICE_TD 0x8u /* accept a non-zero MRSERVICETD (TD 1.5) */

/* Versioned (api.h): initialise with DSTACK_OPTIONS_INIT(dstack_quote_verify_opts). */
typedef struct dstack_quote_verify_opts {
    size_t struct_size;
    /* PEM of the trust anchor(s) replacing the embedded Intel SGX Root CA; NULL = Intel. With
     * collateral it must hold exactly one certificate. */
    const char *trusted_root_pem;
    /* Certificates, CRLs and collateral are checked at this UNIX time; 0 = now. */
    int64_t verification_time;
    unsigned flags; /* DSTACK_QV_* */
    /* Intel collateral for this quote; NULL = offline checks only. Not copied: it must outlive
     * the call. */
    const dstack_collateral *collateral;
    /* DSTACK_TCB_STATUS_BIT mask of the statuses `verified` accepts; 0 = UpToDate only (what
     * dstack's KMS requires). */
    unsigned allowed_tcb_statuses;
} dstack_quote_verify_opts;

#define DSTACK_ADVISORY_IDS_MAX 2048 /* bytes of the comma-separated advisory-ID list */

typedef struct dstack_quote_verify_result {
    bool structure_ok;           /* (b): signature data and certification data parsed */
    bool quote_signature_ok;     /* (a) */
    bool qe_report_binds_key;    /* (c) */
    bool qe_report_signature_ok; /* (d) */
    bool pck_chain_ok;           /* (e); with collateral also not revoked */
    bool debug_td;               /* td_attributes bit 0 */
    bool mr_signer_seam_zero;
    bool td_attributes_ok;   /* no reserved bit, SEPT_VE_DISABLE set (debug: debug_td) */
    bool policy_ok;          /* (f) under the DSTACK_QV_ALLOW_* flags */
    bool verified;           /* every check held (with collateral: dcap_ok and an allowed status) */
    bool tcb_status_checked; /* collateral was used and a TCB level matched */
    bool revocation_checked; /* collateral was used and the CRLs were applied */
    bool qe_identity_checked;  /* collateral was used and the QE identity policy held */
    uint8_t qe_mr_enclave[32]; /* from the QE report, for callers with QE identity data */
    uint8_t qe_mr_signer[32];
    uint16_t qe_isv_prod_id;
    uint16_t qe_isv_svn;
    char pck_subject[128]; /* one-line subject of the PCK leaf, "" if not parsed */
    char chain_error[128]; /* why (e) failed (X509 verify error text), "" otherwise */
    /* ---- with collateral ---- */
    bool collateral_used;
    bool dcap_ok;                 /* every DCAP check held and a TCB level matched (whatever
                                   * the status policy says) */
    char dcap_error[384];         /* dcap-qvl's text for the first failed check, "" if dcap_ok */
    dstack_tcb_status tcb_status; /* the merged status, when tcb_status_checked */
    dstack_tcb_status platform_tcb_status; /* platform level merged with the TDX module's */
    dstack_tcb_status qe_tcb_status;       /* the QE identity level */
    bool tcb_status_allowed;               /* tcb_status is in allowed_tcb_statuses */
    /* The union of the advisory IDs of the platform, TDX module and QE levels, in dcap-qvl's
     * order, comma-separated ("" when none). */
    char advisory_ids[DSTACK_ADVISORY_IDS_MAX];
    size_t advisory_id_count;
    int64_t collateral_expires; /* the collateral's earliest nextUpdate (UNIX seconds) */
    uint8_t fmspc[6];           /* from the PCK certificate, when pck_chain_ok */
    uint16_t pce_svn;
    uint8_t cpu_svn[16];
} dstack_quote_verify_result;

/* Fills `out` (offline: every check it can, a failed signature does not stop the chain check;
 * with collateral: in dcap-qvl's order up to the first failure). DSTACK_OK only when
 * out->verified; DSTACK_ERR_PROTOCOL for a malformed quote (bad header, sizes that do not add
 * up, wrong key or certification-data type); DSTACK_ERR_CRYPTO when a well-formed quote fails a
 * check or its status is not allowed (the message names the first failure);
 * DSTACK_ERR_USAGE for NULL arguments, a bad struct_size (api.h), an unusable trusted_root_pem or
 * DSTACK_QV_NO_TIME_CHECK with collateral. `opts` may be NULL. */
dstack_status dstack_tdx_quote_verify(const uint8_t *quote, size_t len,
                                      const dstack_quote_verify_opts *opts,
                                      dstack_quote_verify_result *out, dstack_error *err);

/* The embedded Intel SGX Root CA (PEM), the default trust anchor. */
const char *dstack_intel_sgx_root_ca_pem(void);

/* ---- Verifying an RA-TLS certificate (protocol.md §4.7) -------------------------------------- */
/* Versioned (api.h): initialise with DSTACK_OPTIONS_INIT(dstack_ratls_policy). */
typedef struct dstack_ratls_policy {
    size_t struct_size;
    /* How the quote is verified (root, time, flags, collateral, allowed TCB statuses); NULL =
     * the defaults (Intel root, now, offline). */
    const dstack_quote_verify_opts *quote;
    bool has_app_id; /* require the "app-id" runtime event (20 bytes) to equal app_id */
    uint8_t app_id[20];
    bool has_compose_hash; /* require the "compose-hash" runtime event to equal this */
    uint8_t compose_hash[32];
    bool has_mr_aggregated; /* require dstack_mr_aggregated(quote) to equal this */
    uint8_t mr_aggregated[32];
    /* The certificate's issuer, whose key must have signed it (an agent-issued certificate);
     * NULL: the certificate must be self-signed (cert=self). */
    X509 *issuer;
} dstack_ratls_policy;

typedef struct dstack_ratls_verification {
    bool cert_signature_ok; /* signed by policy->issuer, or self-signed when that is NULL */
    bool cert_time_ok;      /* valid at policy->quote's verification_time (or skipped by flag) */
    bool has_attestation;   /* the certificate carries .1.8 or .1.1+.1.2 */
    bool from_legacy_oids;  /* rebuilt from .1.1/.1.2 */
    bool quote_parsed;      /* a TDX v4/v5 quote was found */
    bool report_data_binds_key;              /* protocol.md §4.7 steps 2 and 5 */
    bool rtmr3_matches;                      /* protocol.md §4.7 step 4 */
    dstack_quote_verify_result quote_result; /* protocol.md §4.7 step 3 */
    dstack_tdx_quote quote;
    bool has_app_id; /* from the "app-id" runtime event (bound by RTMR3) */
    uint8_t app_id[20];
    bool has_compose_hash; /* from the "compose-hash" runtime event */
    uint8_t compose_hash[32];
    uint8_t mr_aggregated[32];
    bool policy_checked; /* a dstack_ratls_policy field was set */
    bool policy_ok;      /* every requested app_id/compose_hash/mr_aggregated matched */
    bool verified;       /* every check above held */
} dstack_ratls_verification;

/* protocol.md §4.7: the certificate itself (signature by policy->issuer or its own key,
 * validity at the verification time unless DSTACK_QV_NO_TIME_CHECK, at most one extension of
 * each attestation OID), dstack_ratls_inspect, then DCAP-verify the quote
 * (dstack_tdx_quote_verify with policy->quote: offline, or with its collateral and status
 * policy), the report_data binding, RTMR3 replay and the optional policy. Fills `out` as far as
 * it got. DSTACK_OK only when out->verified; DSTACK_ERR_CRYPTO when a check failed (the message
 * names the first); DSTACK_ERR_PROTOCOL for an unreadable attestation or a certificate without
 * one; DSTACK_ERR_USAGE for a bad struct_size. `policy` may be NULL (Intel root, now, offline, no
 * app policy). */
dstack_status dstack_ratls_verify(X509 *cert, const dstack_ratls_policy *policy,
                                  dstack_ratls_verification *out, dstack_error *err);

/* ---- Measurements (protocol.md §5.5) --------------------------------------------------------- */
/* SHA-256(MRTD||RTMR0..3 [|| MRCONFIGID||MROWNER||MROWNERCONFIG if any non-zero]). */
void dstack_mr_aggregated(const dstack_tdx_quote *quote, uint8_t out[32]);
/* SHA-256 of the raw compose bytes compared with an expected 32-byte hash. */
bool dstack_compose_hash_matches(const uint8_t *compose, size_t len, const uint8_t expected[32]);
/* Multi-line human-readable summary (MRTD, RTMRs, report_data, debug flag, replay status,
 * runtime events). `log` may be NULL. Caller frees. */
char *dstack_measurement_summary(const dstack_tdx_quote *quote, const dstack_event_log *log);

DSTACK_API_END

#ifdef __cplusplus
}
#endif
#endif
