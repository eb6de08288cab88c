/* VersionedAttestation: format dispatch and ownership (protocol.md §4.4, §4.5). */
#include <dstack/attest.h>

#include <stdlib.h>
#include <string.h>

#include "attest/attest_internal.h"

void dstack_attestation_free(dstack_attestation *att)
{
    if (att == NULL)
        return;
    free(att->quote);
    dstack_event_log_free(&att->tdx_event_log);
    for (size_t i = 0; i < att->runtime_events_len; i++) {
        free(att->runtime_events[i].event);
        free(att->runtime_events[i].payload);
    }
    free(att->runtime_events);
    free(att->config);
    memset(att, 0, sizeof(*att));
}

dstack_status dstack_attestation_add_runtime_event(dstack_attestation *att, const char *event,
                                                   size_t event_len, const uint8_t *payload,
                                                   size_t payload_len, dstack_error *err)
{
    dstack_runtime_event ev = {0};
    dstack_runtime_event *grown;

    ev.event = malloc(event_len + 1);
    ev.payload = payload_len > 0 ? malloc(payload_len) : NULL;
    grown = realloc(att->runtime_events, (att->runtime_events_len + 1) * sizeof(*grown));
    if (grown != NULL)
        att->runtime_events = grown;
    if (ev.event == NULL || (payload_len > 0 && ev.payload == NULL) || grown == NULL) {
        free(ev.event);
        free(ev.payload);
        return dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, NULL, "out of memory");
    }
    if (event_len > 0)
        memcpy(ev.event, event, event_len);
    ev.event[event_len] = '\0';
    if (payload_len > 0)
        memcpy(ev.payload, payload, payload_len);
    ev.payload_len = payload_len;
    att->runtime_events[att->runtime_events_len++] = ev;
    return DSTACK_OK;
}

dstack_status dstack_attestation_decode(const uint8_t *buf, size_t len, dstack_attestation *out,
                                        dstack_error *err)
{
    dstack_status rc;

    memset(out, 0, sizeof(*out));
    if (buf == NULL || len == 0)
        return dstack_error_set(err, DSTACK_ERR_PROTOCOL, NULL, NULL, "attestation is empty");
    if (len > DSTACK_ATTESTATION_MAX_LEN)
        return dstack_error_set(err, DSTACK_ERR_PROTOCOL, NULL, NULL,
                                "attestation of %zu bytes exceeds the %u-byte limit", len,
                                DSTACK_ATTESTATION_MAX_LEN);
    /* V0 is the SCALE enum index 0; V1 is a msgpack map (fixmap, map16, map32). */
    if (buf[0] == 0x00)
        rc = dstack_attestation_decode_v0(buf, len, out, err);
    else if ((buf[0] & 0xf0) == 0x80 || buf[0] == 0xde || buf[0] == 0xdf)
        rc = dstack_attestation_decode_v1(buf, len, out, err);
    else
        rc = dstack_error_set(err, DSTACK_ERR_PROTOCOL, NULL, NULL,
                              "unknown attestation encoding (first byte 0x%02x)", buf[0]);
    if (rc != DSTACK_OK)
        dstack_attestation_free(out);
    return rc;
}
