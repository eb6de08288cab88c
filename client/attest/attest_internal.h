/* libdstack internal — helpers shared by the attestation sources. Not installed. */
#ifndef DSTACK_ATTEST_INTERNAL_H
#define DSTACK_ATTEST_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include <dstack/attest.h>
#include <dstack/error.h>

/* Input cap for VersionedAttestation decoders and encoders (protocol.md §4.4). */
#define DSTACK_ATTESTATION_MAX_LEN (10u * 1024u * 1024u)

/* Decoders behind dstack_attestation_decode(); `out` is zeroed by the caller and released
 * by the caller on failure. */
dstack_status dstack_attestation_decode_v0(const uint8_t *buf, size_t len, dstack_attestation *out,
                                           dstack_error *err);
dstack_status dstack_attestation_decode_v1(const uint8_t *buf, size_t len, dstack_attestation *out,
                                           dstack_error *err);

/* An event log from an already parsed json-c array (tcb_info.event_log, protocol.md §5.2). */
dstack_status dstack_event_log_from_json(const json_object *array, dstack_event_log *out,
                                         dstack_error *err);
/* Appends a copy of an event (attestation and CCEL decoding, the simulator). */
dstack_status dstack_event_log_append(dstack_event_log *log, uint32_t imr, uint32_t event_type,
                                      const uint8_t *digest, size_t digest_len, const char *event,
                                      const uint8_t *payload, size_t payload_len,
                                      dstack_error *err);

/* Appends a copy of `ev`, version and preimage included. */
dstack_status dstack_event_log_append_event(dstack_event_log *log, const dstack_event *ev,
                                            dstack_error *err);

/* Appends one runtime event (copies), of event-log version `version`. */
dstack_status dstack_attestation_add_runtime_event(dstack_attestation *att, const char *event,
                                                   size_t event_len, const uint8_t *payload,
                                                   size_t payload_len, unsigned version,
                                                   dstack_error *err);

/* RTMR3 replayed from a runtime-event list, each with its version's digest (protocol.md §5.3,
 * protocol.md §5.3.1). */
void dstack_runtime_events_replay(const dstack_runtime_event *events, size_t n, uint8_t out[48]);

/* The bytes a V2 runtime event's digest hashes: the JCS JSON of protocol.md §5.3.1 (malloc'd;
 * false on allocation failure or absurd sizes). */
bool dstack_runtime_event_preimage_v2(const char *name, const uint8_t *payload, size_t payload_len,
                                      uint8_t **out, size_t *out_len);
/* The digest of `version` (v1 unless DSTACK_EVENT_LOG_V2). */
void dstack_runtime_event_digest_versioned(unsigned version, const char *name,
                                           const uint8_t *payload, size_t payload_len,
                                           uint8_t out[48]);
/* dstack_event_log_check_preimages for one event. */
bool dstack_event_preimage_ok(const dstack_event *ev);

/* The report_data the platform evidence itself carries (the TDX quote's, the SEV-SNP
 * report's); false when it carries none this library can read (Nitro documents). */
bool dstack_attestation_evidence_report_data(const dstack_attestation *att, uint8_t out[64]);

#endif
