/* VersionedAttestation V1, the msgpack form 0.6 agents use once a boot has event log V2
 * events (protocol.md §4.5, §4.5.4): rmp_serde::to_vec_named of a TDX attestation,
 * maps with the Rust field names in struct order, plain Vec<u8> fields (quote, report_data)
 * as arrays of integers, the serde_human_bytes ones (digest, payloads) as bin, `version` only
 * on V2 events, `preimage` only where filled. */
#include "agent_side.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <dstack/keys.h>

#include "attest/attest_internal.h"

typedef struct mp_buf {
    uint8_t *p;
    size_t len, cap;
    bool failed;
} mp_buf;

static void put(mp_buf *b, const void *data, size_t n)
{
    if (b->failed || n == 0)
        return;
    if (n > DSTACK_ATTESTATION_MAX_LEN || b->len + n > DSTACK_ATTESTATION_MAX_LEN) {
        b->failed = true;
        return;
    }
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        uint8_t *grown;

        while (cap < b->len + n)
            cap *= 2;
        if ((grown = realloc(b->p, cap)) == NULL) {
            b->failed = true;
            return;
        }
        b->p = grown;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

/* A type byte followed by an n-byte big-endian length or value. */
static void put_be(mp_buf *b, uint8_t type, uint64_t v, int n)
{
    uint8_t out[9];

    out[0] = type;
    for (int i = 0; i < n; i++)
        out[1 + i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    put(b, out, (size_t)n + 1);
}

static void mp_uint(mp_buf *b, uint64_t v)
{
    uint8_t one = (uint8_t)v;

    if (v < 0x80)
        put(b, &one, 1);
    else if (v <= 0xff)
        put_be(b, 0xcc, v, 1);
    else if (v <= 0xffff)
        put_be(b, 0xcd, v, 2);
    else if (v <= 0xffffffffu)
        put_be(b, 0xce, v, 4);
    else
        put_be(b, 0xcf, v, 8);
}

static void mp_header(mp_buf *b, uint8_t fix, uint8_t fix_max, uint8_t op16, size_t n)
{
    uint8_t one = (uint8_t)(fix | n);

    if (n <= fix_max)
        put(b, &one, 1);
    else if (n <= 0xffff)
        put_be(b, op16, n, 2);
    else
        put_be(b, (uint8_t)(op16 + 1), n, 4);
}

static void mp_map(mp_buf *b, size_t n)
{
    mp_header(b, 0x80, 15, 0xde, n);
}

static void mp_array(mp_buf *b, size_t n)
{
    mp_header(b, 0x90, 15, 0xdc, n);
}

static void mp_str_n(mp_buf *b, const char *s, size_t n)
{
    uint8_t one = (uint8_t)(0xa0 | n);

    if (n < 32)
        put(b, &one, 1);
    else if (n <= 0xff)
        put_be(b, 0xd9, n, 1);
    else if (n <= 0xffff)
        put_be(b, 0xda, n, 2);
    else
        put_be(b, 0xdb, n, 4);
    put(b, s, n);
}

static void mp_str(mp_buf *b, const char *s)
{
    mp_str_n(b, s != NULL ? s : "", s != NULL ? strlen(s) : 0);
}

static void mp_bin(mp_buf *b, const uint8_t *p, size_t n)
{
    if (n <= 0xff)
        put_be(b, 0xc4, n, 1);
    else if (n <= 0xffff)
        put_be(b, 0xc5, n, 2);
    else
        put_be(b, 0xc6, n, 4);
    put(b, p, n);
}

/* A plain Vec<u8>: serde's sequence, i.e. an array of integers (protocol.md §4.5). */
static void mp_int_array(mp_buf *b, const uint8_t *p, size_t n)
{
    mp_array(b, n);
    for (size_t i = 0; i < n && !b->failed; i++)
        mp_uint(b, p[i]);
}

static void tdx_event(mp_buf *b, const dstack_event *e)
{
    bool v2 = e->version == DSTACK_EVENT_LOG_V2;
    char *hex = NULL;

    mp_map(b, 5 + (v2 ? 1 : 0) + (e->has_preimage ? 1 : 0));
    mp_str(b, "imr");
    mp_uint(b, e->imr);
    mp_str(b, "event_type");
    mp_uint(b, e->event_type);
    mp_str(b, "digest");
    mp_bin(b, e->digest, e->digest_len);
    mp_str(b, "event");
    mp_str(b, e->event);
    mp_str(b, "event_payload");
    mp_bin(b, e->payload, e->payload_len);
    if (v2) {
        mp_str(b, "version");
        mp_uint(b, DSTACK_EVENT_LOG_V2);
    }
    if (e->has_preimage) {
        hex = e->preimage_len < DSTACK_ATTESTATION_MAX_LEN ? malloc(2 * e->preimage_len + 1) : NULL;
        if (hex == NULL)
            b->failed = true;
        else
            dstack_hex_encode(e->preimage, e->preimage_len, hex); /* Option<String> of hex */
        mp_str(b, "preimage");
        mp_str(b, hex);
        free(hex);
    }
}

static void runtime_event(mp_buf *b, const dstack_runtime_event *e)
{
    bool v2 = e->version == DSTACK_EVENT_LOG_V2;

    mp_map(b, v2 ? 3 : 2);
    mp_str(b, "event");
    mp_str(b, e->event);
    mp_str(b, "payload");
    mp_bin(b, e->payload, e->payload_len);
    if (v2) {
        mp_str(b, "version");
        mp_uint(b, DSTACK_EVENT_LOG_V2);
    }
}

dstack_status dstack_attestation_encode_v1(const dstack_attestation *att, uint8_t **out,
                                           size_t *out_len, dstack_error *err)
{
    mp_buf b = {0};

    *out = NULL;
    *out_len = 0;
    if (att == NULL || att->platform != DSTACK_PLATFORM_TDX)
        return dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL,
                                "V1 encoding supports only the TDX platform");
    mp_map(&b, 3);
    mp_str(&b, "version");
    mp_uint(&b, 1);
    mp_str(&b, "platform");
    mp_map(&b, 2);
    mp_str(&b, "kind");
    mp_str(&b, "tdx");
    mp_str(&b, "data");
    mp_map(&b, 2);
    mp_str(&b, "quote");
    mp_int_array(&b, att->quote, att->quote_len);
    mp_str(&b, "event_log");
    mp_array(&b, att->tdx_event_log.count);
    for (size_t i = 0; i < att->tdx_event_log.count; i++)
        tdx_event(&b, &att->tdx_event_log.events[i]);
    mp_str(&b, "stack");
    mp_map(&b, 2);
    mp_str(&b, "kind");
    mp_str(&b, "dstack");
    mp_str(&b, "data");
    mp_map(&b, 3);
    mp_str(&b, "report_data");
    mp_int_array(&b, att->report_data, 64);
    mp_str(&b, "runtime_events");
    mp_array(&b, att->runtime_events_len);
    for (size_t i = 0; i < att->runtime_events_len; i++)
        runtime_event(&b, &att->runtime_events[i]);
    mp_str(&b, "config");
    mp_str(&b, att->config);
    if (b.failed) {
        free(b.p);
        return dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, NULL,
                                "cannot encode the V1 attestation (out of memory or over %u "
                                "bytes)",
                                DSTACK_ATTESTATION_MAX_LEN);
    }
    *out = b.p;
    *out_len = b.len;
    return DSTACK_OK;
}
