/* VersionedAttestation V0 (SCALE) and V1 (msgpack) codecs on attestations made here
 * (tests/lib/test_evidence.h: a forged quote under a test PKI, a measured boot's event log),
 * plus robustness of every binary and JSON parser against deterministic mutations of them;
 * test_attestation_upstream decodes and re-encodes the upstream attestation.bin and
 * tdx-lite-attestation.json byte for byte. */
#include <string.h>

#include <json-c/json.h>

#include <dstack/attest.h>
#include <dstack/keys.h>

#include "test_evidence.h"
#include "test_util.h"
#include "agent_side.h"

#define QUOTE_PAD 70 /* zero bytes after the signature data, as in the agent's quotes */

/* A V0 attestation of test VM `seed` under a test PKI, and its encoding. */
static void make_attestation(uint8_t seed, dstack_attestation *att, uint8_t **enc, size_t *enc_len)
{
    qf_pki pki;
    te_vm vm;

    qf_pki_init(&pki, "Test Root A", 1, true);
    te_vm_init(&vm, seed);
    te_attestation(&pki, &vm, NULL, QUOTE_PAD, att);
    CU_ASSERT_EQUAL_FATAL(dstack_attestation_encode_v0(att, enc, enc_len, NULL), DSTACK_OK);
    qf_pki_free(&pki);
}

/* Its stripped form, as RA-TLS certificates carry it (protocol.md §4.4). */
static void strip_attestation(dstack_attestation *att)
{
    dstack_event_log stripped;

    te_strip_log(&att->tdx_event_log, true, &stripped);
    dstack_event_log_free(&att->tdx_event_log);
    att->tdx_event_log = stripped;
}

static void assert_same(const dstack_attestation *a, const dstack_attestation *b)
{
    CU_ASSERT_EQUAL(a->platform, b->platform);
    CU_ASSERT_EQUAL_FATAL(a->quote_len, b->quote_len);
    CU_ASSERT_EQUAL(memcmp(a->quote, b->quote, a->quote_len), 0);
    CU_ASSERT_EQUAL(memcmp(a->report_data, b->report_data, 64), 0);
    CU_ASSERT_STRING_EQUAL(a->config, b->config);
    CU_ASSERT_EQUAL_FATAL(a->runtime_events_len, b->runtime_events_len);
    for (size_t i = 0; i < a->runtime_events_len; i++) {
        CU_ASSERT_STRING_EQUAL(a->runtime_events[i].event, b->runtime_events[i].event);
        CU_ASSERT_EQUAL(a->runtime_events[i].payload_len, b->runtime_events[i].payload_len);
    }
    CU_ASSERT_EQUAL_FATAL(a->tdx_event_log.count, b->tdx_event_log.count);
    for (size_t i = 0; i < a->tdx_event_log.count; i++) {
        const dstack_event *x = &a->tdx_event_log.events[i], *y = &b->tdx_event_log.events[i];
        CU_ASSERT(x->imr == y->imr && x->event_type == y->event_type);
        CU_ASSERT_STRING_EQUAL(x->event, y->event);
        CU_ASSERT(x->digest_len == y->digest_len &&
                  (x->digest_len == 0 || memcmp(x->digest, y->digest, x->digest_len) == 0));
        CU_ASSERT(x->payload_len == y->payload_len &&
                  (x->payload_len == 0 || memcmp(x->payload, y->payload, x->payload_len) == 0));
    }
}

/* ---- V0 ---------------------------------------------------------------------------------- */

static void test_v0_roundtrip(void)
{
    dstack_attestation made, att;
    uint8_t *buf = NULL, *out = NULL, zero[64] = {0};
    size_t len = 0, out_len;
    dstack_error err;
    te_vm vm;
    char *hex;

    make_attestation(1, &made, &buf, &len);
    te_vm_init(&vm, 1);
    CU_ASSERT_EQUAL_FATAL(dstack_attestation_decode(buf, len, &att, &err), DSTACK_OK);
    CU_ASSERT_EQUAL(att.version, 0);
    CU_ASSERT_EQUAL(att.platform, 0);
    CU_ASSERT_EQUAL(att.quote_len, made.quote_len);
    CU_ASSERT_EQUAL(att.tdx_event_log.count, TE_BOOT_EVENTS + TE_RUNTIME_EVENTS);
    CU_ASSERT_EQUAL_FATAL(att.runtime_events_len, TE_RUNTIME_EVENTS);
    CU_ASSERT_EQUAL(memcmp(att.report_data, zero, 64), 0);
    CU_ASSERT_STRING_EQUAL(att.runtime_events[0].event, "system-preparing");
    CU_ASSERT_STRING_EQUAL(att.runtime_events[1].event, "app-id");
    hex = test_hex(vm.app_id, 20);
    CU_ASSERT_HEX_EQUAL(att.runtime_events[1].payload, att.runtime_events[1].payload_len, hex);
    free(hex);
    CU_ASSERT_STRING_EQUAL(att.runtime_events[8].event, "system-ready");
    CU_ASSERT(strlen(att.config) > 0);
    assert_same(&made, &att);
    CU_ASSERT_EQUAL(dstack_attestation_encode_v0(&att, &out, &out_len, &err), DSTACK_OK);
    CU_ASSERT_EQUAL(out_len, len);
    CU_ASSERT(out != NULL && memcmp(out, buf, len) == 0);
    free(out);
    dstack_attestation_free(&att);
    dstack_attestation_free(&att); /* idempotent */
    dstack_attestation_free(&made);
    free(buf);
}

/* The stripped form: named boot events and runtime events only, runtime digests empty. */
static void test_v0_stripped(void)
{
    dstack_attestation made, att;
    uint8_t *buf = NULL, *out = NULL;
    size_t len = 0, out_len;
    dstack_error err;
    size_t blank = 0;

    make_attestation(2, &made, &buf, &len);
    free(buf);
    strip_attestation(&made);
    CU_ASSERT_EQUAL_FATAL(dstack_attestation_encode_v0(&made, &buf, &len, &err), DSTACK_OK);
    CU_ASSERT_EQUAL_FATAL(dstack_attestation_decode(buf, len, &att, &err), DSTACK_OK);
    CU_ASSERT_EQUAL(att.version, 0);
    CU_ASSERT_EQUAL(att.tdx_event_log.count, TE_NAMED_BOOT_EVENTS + TE_RUNTIME_EVENTS);
    CU_ASSERT_EQUAL(att.runtime_events_len, TE_RUNTIME_EVENTS);
    for (size_t i = 0; i < att.tdx_event_log.count; i++)
        blank += att.tdx_event_log.events[i].digest_len == 0;
    CU_ASSERT_EQUAL(blank, TE_RUNTIME_EVENTS);
    assert_same(&made, &att);
    CU_ASSERT_EQUAL(dstack_attestation_encode_v0(&att, &out, &out_len, &err), DSTACK_OK);
    CU_ASSERT(out_len == len && memcmp(out, buf, len) == 0);
    free(out);
    dstack_attestation_free(&att);
    dstack_attestation_free(&made);
    free(buf);
}

/* The quote length (compact mode 1 in the encoder's output) rewritten in modes 2 and 3. */
static void test_v0_compact_modes(void)
{
    dstack_attestation made, ref, att;
    uint8_t *buf = NULL, *alt;
    size_t len = 0;
    dstack_error err;
    uint32_t qlen, mode2;
    uint8_t mode3[5] = {0x03};

    make_attestation(3, &made, &buf, &len);
    qlen = (uint32_t)made.quote_len;
    CU_ASSERT_FATAL(qlen >= 64 && qlen < 16384); /* a two-byte compact length */
    CU_ASSERT_EQUAL_FATAL(buf[2] | buf[3] << 8, (qlen << 2) | 1);
    mode2 = (qlen << 2) | 2;
    qf_put_le(mode3 + 1, qlen, 4);
    alt = malloc(len + 8);
    CU_ASSERT_EQUAL_FATAL(dstack_attestation_decode(buf, len, &ref, &err), DSTACK_OK);
    memcpy(alt, buf, 2);
    for (int i = 0; i < 4; i++)
        alt[2 + i] = (uint8_t)(mode2 >> (8 * i));
    memcpy(alt + 6, buf + 4, len - 4);
    CU_ASSERT_EQUAL(dstack_attestation_decode(alt, len + 2, &att, &err), DSTACK_OK);
    assert_same(&ref, &att);
    dstack_attestation_free(&att);
    memcpy(alt + 2, mode3, 5);
    memcpy(alt + 7, buf + 4, len - 4);
    CU_ASSERT_EQUAL(dstack_attestation_decode(alt, len + 3, &att, &err), DSTACK_OK);
    assert_same(&ref, &att);
    dstack_attestation_free(&att);
    /* mode 3 with more than 8 length bytes */
    alt[2] = 0x03 | (6 << 2);
    CU_ASSERT_EQUAL(dstack_attestation_decode(alt, len + 3, &att, &err), DSTACK_ERR_PROTOCOL);
    /* mode 3 claiming 2^32-1 bytes */
    alt[2] = 0x03;
    memset(alt + 3, 0xff, 4);
    CU_ASSERT_EQUAL(dstack_attestation_decode(alt, len + 3, &att, &err), DSTACK_ERR_PROTOCOL);
    dstack_attestation_free(&ref);
    dstack_attestation_free(&made);
    free(alt);
    free(buf);
}

static void test_v0_encoder_compact_lengths(void)
{
    static const size_t sizes[] = {0, 1, 63, 64, 16383, 16384, 70000};
    dstack_attestation att = {0}, back;
    uint8_t *payload = calloc(1, 70000), *out = NULL;
    size_t out_len;
    dstack_error err;

    att.config = (char *)"{}";
    att.quote = payload;
    att.quote_len = 700;
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        att.runtime_events = &(dstack_runtime_event){
            .event = (char *)"ev", .payload = payload, .payload_len = sizes[i]};
        att.runtime_events_len = 1;
        CU_ASSERT_EQUAL_FATAL(dstack_attestation_encode_v0(&att, &out, &out_len, &err), DSTACK_OK);
        CU_ASSERT_EQUAL_FATAL(dstack_attestation_decode(out, out_len, &back, &err), DSTACK_OK);
        CU_ASSERT_EQUAL(back.runtime_events[0].payload_len, sizes[i]);
        CU_ASSERT_EQUAL(back.quote_len, 700);
        dstack_attestation_free(&back);
        free(out);
    }
    att.platform = 7;
    CU_ASSERT_EQUAL(dstack_attestation_encode_v0(&att, &out, &out_len, &err), DSTACK_ERR_USAGE);
    free(payload);
}

static void test_v0_negative(void)
{
    size_t len = 0;
    uint8_t *buf = NULL, *big;
    dstack_attestation made, att;
    dstack_error err;
    size_t failures = 0;

    make_attestation(4, &made, &buf, &len);
    dstack_attestation_free(&made);
    big = malloc(len + 1);

    /* every strict prefix fails cleanly */
    for (size_t n = 0; n < len; n++)
        failures += dstack_attestation_decode(buf, n, &att, &err) == DSTACK_ERR_PROTOCOL;
    CU_ASSERT_EQUAL(failures, len);
    memcpy(big, buf, len);
    big[len] = 0;
    CU_ASSERT_EQUAL(dstack_attestation_decode(big, len + 1, &att, &err), DSTACK_ERR_PROTOCOL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "trailing"));
    big[0] = 0x05;
    CU_ASSERT_EQUAL(dstack_attestation_decode(big, len, &att, &err), DSTACK_ERR_PROTOCOL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "unknown attestation encoding"));
    big[0] = 0x00;
    big[1] = 0x09; /* unknown platform */
    CU_ASSERT_EQUAL(dstack_attestation_decode(big, len, &att, &err), DSTACK_ERR_PROTOCOL);
    CU_ASSERT_EQUAL(dstack_attestation_decode(buf, 11u * 1024 * 1024, &att, &err),
                    DSTACK_ERR_PROTOCOL); /* size cap checked before reading */
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "limit"));
    free(big);
    free(buf);
}

/* ---- V1 ------------------------------------------------------------------------------- */

static void test_v1_decode(void)
{
    size_t len = 0;
    uint8_t *buf = NULL;
    dstack_attestation ref, att;
    dstack_error err;
    te_buf wb = {0}, *w = &wb;

    make_attestation(5, &ref, &buf, &len);
    ref.report_data[0] = 0xaa;
    ref.report_data[63] = 0x55;
    for (int variant = 0; variant < 4; variant++) {
        te_write_v1(w, &ref, variant & 1, variant & 2, (variant & 2) ? "dstack-pod" : "dstack");
        CU_ASSERT_EQUAL_FATAL(dstack_attestation_decode(w->p, w->len, &att, &err), DSTACK_OK);
        CU_ASSERT_EQUAL(att.version, 1);
        assert_same(&ref, &att);
        dstack_attestation_free(&att);
    }
    /* every strict prefix fails cleanly */
    te_write_v1(w, &ref, true, true, "dstack");
    for (size_t n = 0; n < w->len; n++) {
        if (dstack_attestation_decode(w->p, n, &att, &err) != DSTACK_ERR_PROTOCOL) {
            CU_FAIL("truncated V1 accepted");
            break;
        }
    }
    dstack_attestation_free(&ref);
    te_buf_free(w);
    free(buf);
}

static dstack_status decode_bytes(const uint8_t *p, size_t n, dstack_error *err)
{
    dstack_attestation att;
    dstack_status rc = dstack_attestation_decode(p, n, &att, err);
    dstack_attestation_free(&att);
    return rc;
}

static void test_v1_negative(void)
{
    te_buf wb = {0}, *w = &wb;
    dstack_error err;
    uint8_t rd[64] = {0};

    /* version 2 */
    w->len = 0;
    mp_map(w, 1);
    mp_str(w, "version");
    mp_uint(w, 2);
    CU_ASSERT_EQUAL(decode_bytes(w->p, w->len, &err), DSTACK_ERR_PROTOCOL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "version"));
    /* only version: platform and stack missing */
    w->len = 0;
    mp_map(w, 1);
    mp_str(w, "version");
    mp_uint(w, 1);
    CU_ASSERT_EQUAL(decode_bytes(w->p, w->len, &err), DSTACK_ERR_PROTOCOL);
    /* report_data of 63 bytes, and a non-TDX platform that is otherwise fine */
    for (int good = 0; good < 2; good++) {
        w->len = 0;
        mp_map(w, 3);
        mp_str(w, "version");
        mp_uint(w, 1);
        mp_str(w, "platform");
        mp_map(w, 1);
        mp_str(w, "kind");
        mp_str(w, "gcp-tdx");
        mp_str(w, "stack");
        mp_map(w, 2);
        mp_str(w, "kind");
        mp_str(w, "dstack");
        mp_str(w, "data");
        mp_map(w, 1);
        mp_str(w, "report_data");
        mp_int_array(w, rd, good ? 64 : 63);
        if (good) {
            dstack_attestation att;
            CU_ASSERT_EQUAL(dstack_attestation_decode(w->p, w->len, &att, &err), DSTACK_OK);
            CU_ASSERT_EQUAL(att.platform, 1);
            CU_ASSERT_PTR_NULL(att.quote);
            dstack_attestation_free(&att);
        } else {
            CU_ASSERT_EQUAL(decode_bytes(w->p, w->len, &err), DSTACK_ERR_PROTOCOL);
            CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "64 bytes"));
        }
    }
    /* byte array element out of range (256) */
    w->len = 0;
    mp_map(w, 1);
    mp_str(w, "stack");
    mp_map(w, 2);
    mp_str(w, "kind");
    mp_str(w, "dstack");
    mp_str(w, "data");
    mp_map(w, 1);
    mp_str(w, "report_data");
    mp_array(w, 1);
    mp_uint(w, 256);
    CU_ASSERT_EQUAL(decode_bytes(w->p, w->len, &err), DSTACK_ERR_PROTOCOL);
    /* unknown key nested 100 deep */
    w->len = 0;
    mp_map(w, 1);
    mp_str(w, "deep");
    for (int i = 0; i < 100; i++)
        mp_array(w, 1);
    te_put(w, "\xc0", 1);
    CU_ASSERT_EQUAL(decode_bytes(w->p, w->len, &err), DSTACK_ERR_PROTOCOL);
    /* huge declared lengths with a short buffer */
    {
        static const uint8_t map32[] = {0xdf, 0xff, 0xff, 0xff, 0xff, 0xa1, 'x', 0xc0};
        static const uint8_t arr32[] = {0x81, 0xa1, 'x', 0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0};
        static const uint8_t bin32[] = {0x81, 0xa1, 'x', 0xc6, 0xff, 0xff, 0xff, 0xff, 0x00};
        static const uint8_t str32[] = {0x81, 0xdb, 0xff, 0xff, 0xff, 0xff, 'x'};
        static const uint8_t ext32[] = {0x81, 0xa1, 'x', 0xc9, 0xff, 0xff, 0xff, 0xff, 0x01};
        static const uint8_t never[] = {0x81, 0xa1, 'x', 0xc1};
        static const uint8_t intkey[] = {0x81, 0x01, 0xc0};
        CU_ASSERT_EQUAL(decode_bytes(map32, sizeof(map32), &err), DSTACK_ERR_PROTOCOL);
        CU_ASSERT_EQUAL(decode_bytes(arr32, sizeof(arr32), &err), DSTACK_ERR_PROTOCOL);
        CU_ASSERT_EQUAL(decode_bytes(bin32, sizeof(bin32), &err), DSTACK_ERR_PROTOCOL);
        CU_ASSERT_EQUAL(decode_bytes(str32, sizeof(str32), &err), DSTACK_ERR_PROTOCOL);
        CU_ASSERT_EQUAL(decode_bytes(ext32, sizeof(ext32), &err), DSTACK_ERR_PROTOCOL);
        CU_ASSERT_EQUAL(decode_bytes(never, sizeof(never), &err), DSTACK_ERR_PROTOCOL);
        CU_ASSERT_EQUAL(decode_bytes(intkey, sizeof(intkey), &err), DSTACK_ERR_PROTOCOL);
    }
    te_buf_free(w);
}

/* ---- robustness: deterministic mutations and truncations -------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Flips bytes, overwrites with boundary values and truncates; returns the new length. */
static size_t mutate(uint8_t *buf, size_t len, const uint8_t *orig, size_t orig_len)
{
    static const uint8_t specials[] = {0x00, 0xff, 0x7f, 0x80, 0x03, 0xdf, 0xc6, 0x22, 0x5c, 0x30};
    int edits = 1 + (int)(rng() % 4);

    memcpy(buf, orig, orig_len);
    len = orig_len;
    for (int e = 0; e < edits; e++) {
        size_t pos = (size_t)(rng() % len);
        switch (rng() % 4) {
        case 0:
            buf[pos] ^= (uint8_t)(1u << (rng() % 8));
            break;
        case 1:
            buf[pos] = specials[rng() % sizeof(specials)];
            break;
        case 2:
            buf[pos] = (uint8_t)rng();
            break;
        default:
            len = pos + 1;
            break;
        }
    }
    return len;
}

typedef void (*parse_fn)(const uint8_t *buf, size_t len);

static void run_mutations(const uint8_t *orig, size_t len, parse_fn fn, int rounds)
{
    uint8_t *buf = malloc(len + 1);

    for (int i = 0; i < rounds; i++) {
        size_t n = mutate(buf, len, orig, len);
        buf[n] = 0;
        fn(buf, n);
    }
    free(buf);
}

static void parse_attestation(const uint8_t *buf, size_t len)
{
    dstack_attestation att;
    dstack_error err;

    if (dstack_attestation_decode(buf, len, &att, &err) == DSTACK_OK) {
        uint8_t *out = NULL;
        size_t out_len;
        dstack_tdx_quote q;
        if (dstack_tdx_quote_parse(att.quote, att.quote_len, &q, &err) == DSTACK_OK)
            (void)dstack_event_log_check_quote(&att.tdx_event_log, &q, 0xF, &err);
        if (att.platform <= 2 && dstack_attestation_encode_v0(&att, &out, &out_len, &err) == 0)
            free(out);
    }
    dstack_attestation_free(&att);
}

static void parse_quote(const uint8_t *buf, size_t len)
{
    dstack_tdx_quote q;
    dstack_error err;

    if (dstack_tdx_quote_parse(buf, len, &q, &err) == DSTACK_OK)
        free(dstack_measurement_summary(&q, NULL));
}

static void parse_event_log(const uint8_t *buf, size_t len)
{
    dstack_event_log log;
    dstack_error err;

    if (dstack_event_log_parse((const char *)buf, len, &log, &err) == DSTACK_OK)
        free(dstack_event_log_to_json(&log));
    dstack_event_log_free(&log);
}

static void test_robustness(void)
{
    size_t len = 0;
    uint8_t *bin = NULL;
    dstack_attestation ref;
    dstack_error err;
    te_buf wb = {0}, *w = &wb;
    char *log_json;

    make_attestation(6, &ref, &bin, &len);
    run_mutations(bin, len, parse_attestation, 3000);
    te_write_v1(w, &ref, false, true, "dstack");
    run_mutations(w->p, w->len, parse_attestation, 3000);
    te_write_v1(w, &ref, true, false, "dstack");
    run_mutations(w->p, w->len, parse_attestation, 2000);
    run_mutations(ref.quote, ref.quote_len, parse_quote, 3000);
    log_json = dstack_event_log_to_json(&ref.tdx_event_log);
    CU_ASSERT_PTR_NOT_NULL_FATAL(log_json);
    run_mutations((const uint8_t *)log_json, strlen(log_json), parse_event_log, 3000);
    free(log_json);
    free(bin);

    strip_attestation(&ref);
    CU_ASSERT_EQUAL_FATAL(dstack_attestation_encode_v0(&ref, &bin, &len, &err), DSTACK_OK);
    run_mutations(bin, len, parse_attestation, 2000);
    free(bin);
    dstack_attestation_free(&ref);
    te_buf_free(w);
    CU_PASS("no crash, no leak (checked under ASan)");
}

/* ---- upstream data ----------------------------------------------------------------------- */

static uint8_t *read_lite_attestation(size_t *len)
{
    uint8_t *text = test_read_fixture("dstack/tdx-lite-attestation.json", NULL), *out;
    json_object *root = json_tokener_parse((const char *)text), *v;
    const char *hex;

    CU_ASSERT_FATAL(root != NULL && json_object_object_get_ex(root, "attestation", &v));
    hex = json_object_get_string(v);
    out = malloc(strlen(hex) / 2 + 1);
    CU_ASSERT_FATAL(dstack_hex_decode(hex, strlen(hex), out, strlen(hex) / 2, len));
    json_object_put(root);
    free(text);
    return out;
}

/* attestation.bin (protocol.md §9): its exact shape, and the V0 encoder reproduces it. */
static void test_v0_fixture(void)
{
    size_t len, out_len;
    uint8_t *buf = test_read_fixture("dstack/attestation.bin", &len), *out = NULL, zero[64] = {0};
    dstack_attestation att;
    dstack_error err;

    CU_ASSERT_EQUAL(len, 9504);
    CU_ASSERT_EQUAL_FATAL(dstack_attestation_decode(buf, len, &att, &err), DSTACK_OK);
    CU_ASSERT_EQUAL(att.version, 0);
    CU_ASSERT_EQUAL(att.platform, 0);
    CU_ASSERT_EQUAL(att.quote_len, 5010);
    CU_ASSERT_EQUAL(att.tdx_event_log.count, 33);
    CU_ASSERT_EQUAL(att.runtime_events_len, 9);
    CU_ASSERT_EQUAL(memcmp(att.report_data, zero, 64), 0);
    CU_ASSERT_STRING_EQUAL(att.runtime_events[0].event, "system-preparing");
    CU_ASSERT_STRING_EQUAL(att.runtime_events[1].event, "app-id");
    CU_ASSERT_HEX_EQUAL(att.runtime_events[1].payload, att.runtime_events[1].payload_len,
                        "5bb4ff9a3837357f19dc176407a5709c62eb6c56");
    CU_ASSERT_STRING_EQUAL(att.runtime_events[8].event, "system-ready");
    CU_ASSERT(strlen(att.config) > 0);
    CU_ASSERT_EQUAL(dstack_attestation_encode_v0(&att, &out, &out_len, &err), DSTACK_OK);
    CU_ASSERT_EQUAL(out_len, len);
    CU_ASSERT(out != NULL && memcmp(out, buf, len) == 0);
    free(out);
    dstack_attestation_free(&att);
    dstack_attestation_free(&att); /* idempotent */
    free(buf);
}

/* tdx-lite-attestation.json: the stripped form a current agent embeds, byte for byte. */
static void test_v0_lite_fixture(void)
{
    size_t len, out_len;
    uint8_t *buf = read_lite_attestation(&len), *out = NULL;
    dstack_attestation att;
    dstack_error err;
    size_t blank = 0;

    CU_ASSERT_EQUAL_FATAL(dstack_attestation_decode(buf, len, &att, &err), DSTACK_OK);
    CU_ASSERT_EQUAL(att.version, 0);
    CU_ASSERT_EQUAL(att.tdx_event_log.count, 12);
    CU_ASSERT_EQUAL(att.runtime_events_len, 9);
    for (size_t i = 0; i < att.tdx_event_log.count; i++)
        blank += att.tdx_event_log.events[i].digest_len == 0;
    CU_ASSERT_EQUAL(blank, 9);
    CU_ASSERT_EQUAL(dstack_attestation_encode_v0(&att, &out, &out_len, &err), DSTACK_OK);
    CU_ASSERT(out_len == len && memcmp(out, buf, len) == 0);
    free(out);
    dstack_attestation_free(&att);
    free(buf);
}

/* The quote length of attestation.bin (5010, compact mode 1) rewritten in modes 2 and 3. */
int main(void)
{
    static const test_case cases[] = {
        {"V0 attestation decodes and re-encodes", test_v0_roundtrip},
        {"V0 stripped attestation decodes and re-encodes", test_v0_stripped},
        {"V0 compact integer modes", test_v0_compact_modes},
        {"V0 encoder length modes", test_v0_encoder_compact_lengths},
        {"V0 negative", test_v0_negative},
        {"V1 msgpack (bin and int arrays, unknown keys)", test_v1_decode},
        {"V1 negative", test_v1_negative},
        {"mutation robustness", test_robustness},
        {NULL, NULL},
    };
    static const test_case upstream[] = {
        {"V0 attestation.bin decodes and re-encodes", test_v0_fixture},
        {"V0 tdx-lite (stripped) decodes and re-encodes", test_v0_lite_fixture},
        {NULL, NULL},
    };
    return test_run_split_suite("attestation", cases, upstream);
}
