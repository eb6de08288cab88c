/* libdstack — TDX quotes, event logs, RTMR replay, VersionedAttestation, RA-TLS extensions
 * (spec §4, §5). Pure parsing and computation: nothing here talks to the agent.
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

typedef struct json_object json_object;
typedef struct x509_st X509;

#define DSTACK_RUNTIME_EVENT_TYPE 0x08000001u
#define DSTACK_QUOTE_MIN_LEN 632u /* header + TD report body (spec §5.1) */

/* OIDs under 1.3.6.1.4.1.62397.1 (spec §4.1). */
#define DSTACK_OID_TDX_QUOTE "1.3.6.1.4.1.62397.1.1"
#define DSTACK_OID_EVENT_LOG "1.3.6.1.4.1.62397.1.2"
#define DSTACK_OID_APP_ID "1.3.6.1.4.1.62397.1.3"
#define DSTACK_OID_SPECIAL_USAGE "1.3.6.1.4.1.62397.1.4"
#define DSTACK_OID_ATTESTATION "1.3.6.1.4.1.62397.1.8"
#define DSTACK_OID_APP_INFO "1.3.6.1.4.1.62397.1.9"

/* ---- TDX quote v4 (spec §5.1) ------------------------------------------------------ */
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
    bool debug; /* td_attributes[0] & 1 */
} dstack_tdx_quote;

/* Accepts v4 quotes (trailing padding allowed); rejects short input, wrong version/TEE type
 * and a signature-data length that runs past the buffer. */
dstack_status dstack_tdx_quote_parse(const uint8_t *buf, size_t len, dstack_tdx_quote *out,
                                     dstack_error *err);

/* ---- Event log (spec §5.2) ----------------------------------------------------------- */
typedef struct dstack_event {
    uint32_t imr;
    uint32_t event_type;
    uint8_t *digest; /* may be empty (stripped runtime events) */
    size_t digest_len;
    char *event;
    uint8_t *payload;
    size_t payload_len;
} dstack_event;

typedef struct dstack_event_log {
    dstack_event *events;
    size_t count;
} dstack_event_log;

/* From the JSON text of an event log array (the event_log string of GetQuote, `.1.2`). */
dstack_status dstack_event_log_parse(const char *json, size_t len, dstack_event_log *out,
                                     dstack_error *err);
/* From an already parsed json-c array (tcb_info.event_log). */
dstack_status dstack_event_log_from_json(const json_object *array, dstack_event_log *out,
                                         dstack_error *err);
void dstack_event_log_free(dstack_event_log *log);
/* Appends a copy of an event (used by the simulator and by attestation decoding). */
dstack_status dstack_event_log_append(dstack_event_log *log, uint32_t imr, uint32_t event_type,
                                      const uint8_t *digest, size_t digest_len, const char *event,
                                      const uint8_t *payload, size_t payload_len,
                                      dstack_error *err);
/* Serialises to the agent's JSON array text (hex digests/payloads). Caller frees. */
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

/* Replays RTMR0–3 from 48 zero bytes. Runtime events (type 0x08000001) always use the
 * digest computed from name+payload, never the logged one. valid[i] is false when an event
 * for RTMR i had an unusable digest (not 48 bytes, non-runtime) — that RTMR cannot be
 * trusted. `valid` may be NULL. */
void dstack_event_log_replay(const dstack_event_log *log, uint8_t rtmr[4][48], bool valid[4]);

/* Replays and compares with a parsed quote; the message names the first mismatching RTMR.
 * `which` is a bit mask of RTMRs to compare (0xF = all, 0x8 = RTMR3 only). */
dstack_status dstack_event_log_check_quote(const dstack_event_log *log,
                                           const dstack_tdx_quote *quote, unsigned which,
                                           dstack_error *err);

/* ---- VersionedAttestation (spec §4.4, §4.5) ------------------------------------------ */
typedef struct dstack_runtime_event {
    char *event;
    uint8_t *payload;
    size_t payload_len;
} dstack_runtime_event;

typedef struct dstack_attestation {
    int version;  /* 0 = SCALE, 1 = msgpack */
    int platform; /* 0 = TDX (only kind with data we understand), else other */
    uint8_t *quote;
    size_t quote_len;
    dstack_event_log tdx_event_log;
    dstack_runtime_event *runtime_events;
    size_t runtime_events_len;
    uint8_t report_data[64];
    char *config;
} dstack_attestation;

/* Decodes V0 (SCALE) or V1 (msgpack, byte arrays as bin or int arrays). Input cap 10 MiB. */
dstack_status dstack_attestation_decode(const uint8_t *buf, size_t len, dstack_attestation *out,
                                        dstack_error *err);
/* Encodes V0 SCALE (what the real v0.5.11 agent's Attest returns). Caller frees *out. */
dstack_status dstack_attestation_encode_v0(const dstack_attestation *att, uint8_t **out,
                                           size_t *out_len, dstack_error *err);
void dstack_attestation_free(dstack_attestation *att);

/* ---- RA-TLS certificates (spec §4.1–§4.3, §4.7) ---------------------------------------- */
/* SHA-512("ratls-cert:" || spki_der). */
void dstack_ratls_report_data(const uint8_t *spki_der, size_t spki_len, uint8_t out[64]);

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

/* ---- Measurements (spec §5.5) ------------------------------------------------------------ */
/* SHA-256(MRTD||RTMR0..3 [|| MRCONFIGID||MROWNER||MROWNERCONFIG if any non-zero]). */
void dstack_mr_aggregated(const dstack_tdx_quote *quote, uint8_t out[32]);
/* SHA-256 of the raw compose bytes compared with an expected 32-byte hash. */
bool dstack_compose_hash_matches(const uint8_t *compose, size_t len, const uint8_t expected[32]);
/* Multi-line human-readable summary (MRTD, RTMRs, report_data, debug flag, replay status,
 * runtime events). `log` may be NULL. Caller frees. */
char *dstack_measurement_summary(const dstack_tdx_quote *quote, const dstack_event_log *log);

#ifdef __cplusplus
}
#endif
#endif
