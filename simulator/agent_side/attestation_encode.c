/* VersionedAttestation V0 in SCALE (protocol.md §4.4), as the agent's Attest writes it on TDX:
 * the decoder in client/attest/attestation_scale.c reads exactly this. */
#include "agent_side.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "attest/attest_internal.h"

typedef struct writer {
    uint8_t *buf;
    size_t len;
    size_t cap;
    bool failed;
} writer;

static void put(writer *w, const void *data, size_t n)
{
    if (w->failed || n == 0)
        return;
    if (n > DSTACK_ATTESTATION_MAX_LEN || w->len + n > DSTACK_ATTESTATION_MAX_LEN) {
        w->failed = true;
        return;
    }
    if (w->len + n > w->cap) {
        size_t cap = w->cap ? w->cap : 1024;
        uint8_t *grown;

        while (cap < w->len + n)
            cap *= 2;
        grown = realloc(w->buf, cap);
        if (grown == NULL) {
            w->failed = true;
            return;
        }
        w->buf = grown;
        w->cap = cap;
    }
    memcpy(w->buf + w->len, data, n);
    w->len += n;
}

static void put_u32(writer *w, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};

    put(w, b, sizeof(b));
}

/* Canonical (shortest) compact form, as parity-scale-codec writes it. */
static void put_compact(writer *w, uint64_t v)
{
    uint8_t b[9];
    size_t n = 0;

    if (v < (1u << 6)) {
        b[0] = (uint8_t)(v << 2);
        n = 1;
    } else if (v < (1u << 14)) {
        uint16_t x = (uint16_t)(v << 2 | 1);
        b[0] = (uint8_t)x;
        b[1] = (uint8_t)(x >> 8);
        n = 2;
    } else if (v < (1u << 30)) {
        uint32_t x = (uint32_t)(v << 2 | 2);
        for (n = 0; n < 4; n++)
            b[n] = (uint8_t)(x >> (8 * n));
    } else {
        size_t bytes = 0;
        for (uint64_t t = v; t != 0; t >>= 8)
            bytes++;
        b[0] = (uint8_t)((bytes - 4) << 2 | 3);
        for (size_t i = 0; i < bytes; i++)
            b[1 + i] = (uint8_t)(v >> (8 * i));
        n = 1 + bytes;
    }
    put(w, b, n);
}

static void put_bytes(writer *w, const void *data, size_t n)
{
    put_compact(w, n);
    put(w, data, n);
}

static void put_string(writer *w, const char *s)
{
    put_bytes(w, s != NULL ? s : "", s != NULL ? strlen(s) : 0);
}

dstack_status dstack_attestation_encode_v0(const dstack_attestation *att, uint8_t **out,
                                           size_t *out_len, dstack_error *err)
{
    writer w = {0};
    uint8_t tag = 0;

    *out = NULL;
    *out_len = 0;
    if (att == NULL || att->platform != DSTACK_PLATFORM_TDX)
        return dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL,
                                "V0 encoding supports only the TDX platform");
    /* SCALE skips the event-log version: a V2 event would come back as V1 with another
     * digest, which is why 0.6 agents switch to V1 msgpack (protocol.md §4.4). */
    for (size_t i = 0; i < att->tdx_event_log.count; i++)
        if (att->tdx_event_log.events[i].version == DSTACK_EVENT_LOG_V2)
            return dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL,
                                    "V0 SCALE cannot carry event-log V2 events");
    for (size_t i = 0; i < att->runtime_events_len; i++)
        if (att->runtime_events[i].version == DSTACK_EVENT_LOG_V2)
            return dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL,
                                    "V0 SCALE cannot carry event-log V2 events");
    put(&w, &tag, 1); /* VersionedAttestation::V0 */
    put(&w, &tag, 1); /* AttestationQuote::DstackTdx */
    put_bytes(&w, att->quote, att->quote_len);
    put_compact(&w, att->tdx_event_log.count);
    for (size_t i = 0; i < att->tdx_event_log.count; i++) {
        const dstack_event *ev = &att->tdx_event_log.events[i];
        put_u32(&w, ev->imr);
        put_u32(&w, ev->event_type);
        put_bytes(&w, ev->digest, ev->digest_len);
        put_string(&w, ev->event);
        put_bytes(&w, ev->payload, ev->payload_len);
    }
    put_compact(&w, att->runtime_events_len);
    for (size_t i = 0; i < att->runtime_events_len; i++) {
        put_string(&w, att->runtime_events[i].event);
        put_bytes(&w, att->runtime_events[i].payload, att->runtime_events[i].payload_len);
    }
    put(&w, att->report_data, 64);
    put_string(&w, att->config);
    if (w.failed) {
        free(w.buf);
        return dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, NULL,
                                "cannot encode the V0 attestation (out of memory or over %u "
                                "bytes)",
                                DSTACK_ATTESTATION_MAX_LEN);
    }
    *out = w.buf;
    *out_len = w.len;
    return DSTACK_OK;
}
