/* libdstack internal — helpers shared by the attestation sources. Not installed. */
#ifndef DSTACK_ATTEST_INTERNAL_H
#define DSTACK_ATTEST_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include <dstack/attest.h>
#include <dstack/error.h>

/* dstack_attestation.platform: the variant numbers of the Attestation enum (protocol.md §4.4),
 * the same in SCALE and msgpack; OTHER stands for any variant this library cannot decode. */
enum {
    DSTACK_PLATFORM_TDX = 0,
    DSTACK_PLATFORM_GCP_TDX = 1,
    DSTACK_PLATFORM_NITRO_ENCLAVE = 2,
    DSTACK_PLATFORM_OTHER = 3
};

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

/* Appends one runtime event (copies). */
dstack_status dstack_attestation_add_runtime_event(dstack_attestation *att, const char *event,
                                                   size_t event_len, const uint8_t *payload,
                                                   size_t payload_len, dstack_error *err);

/* RTMR3 replayed from a runtime-event list (v1 digests, protocol.md §5.3). */
void dstack_runtime_events_replay(const dstack_runtime_event *events, size_t n, uint8_t out[48]);

#endif
