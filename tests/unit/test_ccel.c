/* CCEL (TCG2 crypto-agile boot event log) parsing on tables made here from a measured boot
 * (tests/lib/test_evidence.h) and hostile tables built here; test_ccel_upstream checks the
 * upstream ccel.bin against its insta snapshot and quote-report.json. */
#include <string.h>

#include <json-c/json.h>

#include <dstack/attest.h>
#include <dstack/keys.h>

#include "test_evidence.h"
#include "test_util.h"

/* A firmware's table for test VM 1's boot events: header, events, then CCEL_FILL bytes of
 * 0xFF fill. *used = header + events; `log` gets the VM's whole event log. */
#define CCEL_FILL 67

static void own_table(te_buf *t, dstack_event_log *log, size_t *used)
{
    te_vm vm;

    memset(t, 0, sizeof(*t));
    te_vm_init(&vm, 1);
    te_event_log(&vm, log);
    *used = te_ccel_table(log, 0, t);
    for (int i = 0; i < CCEL_FILL; i++)
        te_put(t, "\xff", 1);
}

/* Every boot event comes back: MR index 1..3 as RTMR0..2, SHA-384 digest, event data as
 * payload, no name (CCEL has none). */
static void test_ccel_own_table(void)
{
    te_buf t;
    dstack_event_log src, log;
    size_t used;
    dstack_error err;

    own_table(&t, &src, &used);
    CU_ASSERT_EQUAL_FATAL(dstack_ccel_parse(t.p, t.len, &log, &err), DSTACK_OK);
    CU_ASSERT_EQUAL_FATAL(log.count, TE_BOOT_EVENTS);
    for (size_t i = 0; i < log.count; i++) {
        const dstack_event *ev = &log.events[i], *want = &src.events[i];

        CU_ASSERT_EQUAL(ev->imr, want->imr);
        CU_ASSERT_EQUAL(ev->event_type, want->event_type);
        CU_ASSERT_STRING_EQUAL(ev->event, "");
        CU_ASSERT_EQUAL_FATAL(ev->digest_len, 48);
        CU_ASSERT_EQUAL(memcmp(ev->digest, want->digest, 48), 0);
        CU_ASSERT_EQUAL_FATAL(ev->payload_len, want->payload_len);
        CU_ASSERT_EQUAL(memcmp(ev->payload, want->payload, ev->payload_len), 0);
    }
    dstack_event_log_free(&log);
    dstack_event_log_free(&src);
    te_buf_free(&t);
}

/* The table's RTMR0–2 replay to what the VM's full event log replays to; RTMR3 is extended
 * later (by the agent), so it stays zero. */
static void test_ccel_own_replay(void)
{
    te_buf t;
    dstack_event_log src, log;
    size_t used;
    uint8_t rtmr[4][48], want[4][48], zero[48] = {0};
    bool valid[4];
    dstack_error err;

    own_table(&t, &src, &used);
    CU_ASSERT_EQUAL_FATAL(dstack_ccel_parse(t.p, t.len, &log, &err), DSTACK_OK);
    dstack_event_log_replay(&log, rtmr, valid);
    dstack_event_log_replay(&src, want, NULL);
    for (int i = 0; i < 4; i++)
        CU_ASSERT(valid[i]);
    CU_ASSERT_EQUAL(memcmp(rtmr, want, 3 * 48), 0);
    CU_ASSERT_EQUAL(memcmp(rtmr[3], zero, 48), 0);
    CU_ASSERT_NOT_EQUAL(memcmp(want[3], zero, 48), 0);
    dstack_event_log_free(&log);
    dstack_event_log_free(&src);
    te_buf_free(&t);
}

/* Every prefix either parses (it ends on an event boundary or inside the fill) or fails with
 * a protocol error; never more events than the whole table. */
static void test_ccel_own_truncations(void)
{
    te_buf t;
    dstack_event_log src, log;
    size_t used, boundaries = 0;
    dstack_error err;

    own_table(&t, &src, &used);
    for (size_t n = 0; n <= t.len; n++) {
        dstack_status st = dstack_ccel_parse(t.p, n, &log, &err);

        CU_ASSERT(st == DSTACK_OK || st == DSTACK_ERR_PROTOCOL);
        if (st == DSTACK_OK) {
            boundaries++;
            CU_ASSERT(log.count <= TE_BOOT_EVENTS);
        } else {
            CU_ASSERT_EQUAL(log.count, 0);
            CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "CCEL"));
        }
        dstack_event_log_free(&log);
    }
    /* the header alone, each event end, and every length in the 0xFF fill */
    CU_ASSERT_EQUAL(boundaries, 1 + TE_BOOT_EVENTS + CCEL_FILL);
    dstack_event_log_free(&src);
    te_buf_free(&t);
}

/* ---- upstream data ----------------------------------------------------------------------- */

/* The JSON array of an insta snapshot: a YAML-like header between two "---" lines first. */
static char *snapshot_json(const char *name)
{
    char *text = (char *)test_read_fixture(name, NULL);
    char *first = strstr(text, "---\n"), *second, *json;

    CU_ASSERT_PTR_NOT_NULL_FATAL(first);
    second = strstr(first + 4, "---\n");
    CU_ASSERT_PTR_NOT_NULL_FATAL(second);
    json = strdup(second + 4);
    free(text);
    return json;
}

static void test_ccel_matches_snapshot(void)
{
    size_t len;
    uint8_t *bin = test_read_fixture("dstack/ccel.bin", &len);
    char *json = snapshot_json("dstack/cc_eventlog__tests__parse_ccel-2.snap");
    json_object *expected = json_tokener_parse(json), *e, *v;
    dstack_event_log log;
    dstack_error err;

    CU_ASSERT_EQUAL(len, 65536);
    CU_ASSERT_PTR_NOT_NULL_FATAL(expected);
    CU_ASSERT_EQUAL_FATAL(dstack_ccel_parse(bin, len, &log, &err), DSTACK_OK);
    CU_ASSERT_EQUAL_FATAL(log.count, json_object_array_length(expected));
    CU_ASSERT_EQUAL(log.count, 18);
    for (size_t i = 0; i < log.count; i++) {
        const dstack_event *ev = &log.events[i];
        char *hex;

        e = json_object_array_get_idx(expected, i);
        CU_ASSERT_FATAL(json_object_object_get_ex(e, "imr", &v));
        CU_ASSERT_EQUAL(ev->imr, (uint32_t)json_object_get_int64(v));
        CU_ASSERT_FATAL(json_object_object_get_ex(e, "event_type", &v));
        CU_ASSERT_EQUAL(ev->event_type, (uint32_t)json_object_get_int64(v));
        CU_ASSERT_FATAL(json_object_object_get_ex(e, "event", &v));
        CU_ASSERT_STRING_EQUAL(ev->event, json_object_get_string(v));
        CU_ASSERT_FATAL(json_object_object_get_ex(e, "digest", &v));
        hex = test_hex(ev->digest, ev->digest_len);
        CU_ASSERT_STRING_EQUAL(hex, json_object_get_string(v));
        free(hex);
        CU_ASSERT_FATAL(json_object_object_get_ex(e, "event_payload", &v));
        hex = test_hex(ev->payload, ev->payload_len);
        CU_ASSERT_STRING_EQUAL(hex, json_object_get_string(v));
        free(hex);
    }
    dstack_event_log_free(&log);
    json_object_put(expected);
    free(json);
    free(bin);
}

/* Boot RTMRs replayed from the binary table equal those replayed from the snapshot's JSON;
 * the table only covers RTMR0/1 (RTMR2/3 are extended later, by the kernel and the agent);
 * the UEFI variable events are the same firmware's as in quote-report.json. */
static void test_ccel_replay_consistent(void)
{
    size_t len;
    uint8_t *bin = test_read_fixture("dstack/ccel.bin", &len);
    char *json = snapshot_json("dstack/cc_eventlog__tests__parse_ccel-2.snap");
    uint8_t *report = test_read_fixture("dstack/quote-report.json", NULL);
    json_object *root = json_tokener_parse((const char *)report), *v;
    dstack_event_log ccel, snap, other;
    uint8_t rtmr_ccel[4][48], rtmr_snap[4][48], zero[48] = {0};
    bool valid[4];
    dstack_error err;

    CU_ASSERT_EQUAL_FATAL(dstack_ccel_parse(bin, len, &ccel, &err), DSTACK_OK);
    CU_ASSERT_EQUAL_FATAL(dstack_event_log_parse(json, strlen(json), &snap, &err), DSTACK_OK);
    dstack_event_log_replay(&ccel, rtmr_ccel, valid);
    dstack_event_log_replay(&snap, rtmr_snap, NULL);
    CU_ASSERT_EQUAL(memcmp(rtmr_ccel, rtmr_snap, sizeof(rtmr_ccel)), 0);
    for (int i = 0; i < 4; i++)
        CU_ASSERT(valid[i]);
    CU_ASSERT_HEX_EQUAL(rtmr_ccel[0], 8, "274c2344116db7c6");
    CU_ASSERT_HEX_EQUAL(rtmr_ccel[1], 8, "bdcf4ee0f7fdfe7c");
    CU_ASSERT_EQUAL(memcmp(rtmr_ccel[2], zero, 48), 0);
    CU_ASSERT_EQUAL(memcmp(rtmr_ccel[3], zero, 48), 0);

    CU_ASSERT_FATAL(root != NULL && json_object_object_get_ex(root, "event_log", &v));
    CU_ASSERT_EQUAL_FATAL(dstack_event_log_parse(json_object_get_string(v),
                                                 json_object_get_string_len(v), &other, &err),
                          DSTACK_OK);
    CU_ASSERT_FATAL(other.count > 16);
    for (size_t i = 0; i < 16; i++) {
        CU_ASSERT_EQUAL(ccel.events[i].imr, other.events[i].imr);
        CU_ASSERT_EQUAL(ccel.events[i].event_type, other.events[i].event_type);
    }
    for (size_t i = 1; i <= 7; i++) /* EFI variables: Secure Boot, PK, KEK, db, dbx, sep. */
        CU_ASSERT_EQUAL(memcmp(ccel.events[i].digest, other.events[i].digest, 48), 0);
    dstack_event_log_free(&other);
    dstack_event_log_free(&snap);
    dstack_event_log_free(&ccel);
    json_object_put(root);
    free(report);
    free(json);
    free(bin);
}

/* Every prefix of ccel.bin (18 events ending at byte 1933) either parses (it ends on an event
 * boundary followed by nothing) or fails with a protocol error; never more events than the whole
 * table. */
static void test_ccel_truncations_upstream(void)
{
    size_t len, boundaries = 0;
    uint8_t *bin = test_read_fixture("dstack/ccel.bin", &len);
    dstack_event_log log;
    dstack_error err;

    for (size_t n = 0; n <= 2000; n++) {
        dstack_status st = dstack_ccel_parse(bin, n, &log, &err);

        CU_ASSERT(st == DSTACK_OK || st == DSTACK_ERR_PROTOCOL);
        if (st == DSTACK_OK) {
            boundaries++;
            CU_ASSERT(log.count <= 18);
        } else {
            CU_ASSERT_EQUAL(log.count, 0);
            CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "CCEL"));
        }
        dstack_event_log_free(&log);
    }
    /* the header alone, each of the 18 event ends, and every length in the 0xFF fill */
    CU_ASSERT_EQUAL(boundaries, 1 + 18 + (2000 - 1933));
    free(bin);
}

/* ---- synthetic tables ------------------------------------------------------------------ */
typedef struct table {
    uint8_t b[1024];
    size_t n;
} table;

static void put(table *t, const void *p, size_t n)
{
    CU_ASSERT_FATAL(t->n + n <= sizeof(t->b));
    memcpy(t->b + t->n, p, n);
    t->n += n;
}

static void put_u32(table *t, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put(t, b, 4);
}

static void put_u16(table *t, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    put(t, b, 2);
}

/* Header with the given (alg, size) pairs. */
static void header(table *t, const uint16_t *algs, uint32_t n)
{
    static const uint8_t zero20[20];
    static const uint8_t fixed[12] = {0, 0, 0, 0, 0, 2, 0, 2};

    t->n = 0;
    put_u32(t, 0);
    put_u32(t, 3);
    put(t, zero20, 20);
    put_u32(t, 16 + 12 + 4 * n + 1);
    put(t, "Spec ID Event03", 16);
    put(t, fixed, 8);
    put_u32(t, n);
    for (uint32_t i = 0; i < n; i++) {
        put_u16(t, algs[2 * i]);
        put_u16(t, algs[2 * i + 1]);
    }
    put(t, "", 1); /* vendorInfoSize */
}

static void event(table *t, uint32_t mr, uint32_t type, uint16_t alg, size_t dlen, uint8_t fill,
                  const char *data)
{
    uint8_t digest[64];

    memset(digest, fill, sizeof(digest));
    put_u32(t, mr);
    put_u32(t, type);
    put_u32(t, 1);
    put_u16(t, alg);
    put(t, digest, dlen);
    put_u32(t, (uint32_t)strlen(data));
    put(t, data, strlen(data));
}

static void expect_bad(const table *t, const char *needle)
{
    dstack_event_log log;
    dstack_error err;

    CU_ASSERT_EQUAL(dstack_ccel_parse(t->b, t->n, &log, &err), DSTACK_ERR_PROTOCOL);
    CU_ASSERT_EQUAL(log.count, 0);
    CU_ASSERT_PTR_NULL(log.events);
    if (strstr(err.message, needle) == NULL)
        fprintf(stderr, "\n  message \"%s\" lacks \"%s\"\n", err.message, needle);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, needle));
}

static void test_ccel_synthetic(void)
{
    static const uint16_t sha384[] = {0x000c, 48};
    static const uint16_t two[] = {0x000b, 32, 0x000c, 48};
    static const uint16_t sha256_only[] = {0x000b, 32};
    dstack_event_log log;
    dstack_error err;
    table t;

    /* zero fill ends the log; EV_NO_ACTION records are dropped; MR index 0 → RTMR0 */
    header(&t, two, 2);
    event(&t, 0, 0x80000001, 0x000c, 48, 0xaa, "zero");
    event(&t, 2, 3, 0x000c, 48, 0xbb, "no-action");
    put_u32(&t, 4);
    put_u32(&t, 0xd);
    put_u32(&t, 2);
    put_u16(&t, 0x000b);
    put(&t, (uint8_t[32]){1}, 32);
    put_u16(&t, 0x000c);
    put(&t, (uint8_t[48]){0xcc}, 48);
    put_u32(&t, 1);
    put(&t, "x", 1);
    put(&t, (uint8_t[16]){0}, 16);
    CU_ASSERT_EQUAL_FATAL(dstack_ccel_parse(t.b, t.n, &log, &err), DSTACK_OK);
    CU_ASSERT_EQUAL_FATAL(log.count, 2);
    CU_ASSERT_EQUAL(log.events[0].imr, 0);
    CU_ASSERT_EQUAL(log.events[0].digest[0], 0xaa);
    CU_ASSERT_EQUAL(log.events[1].imr, 3);
    CU_ASSERT_EQUAL(log.events[1].event_type, 0xd);
    CU_ASSERT_EQUAL(log.events[1].digest_len, 48);
    CU_ASSERT_EQUAL(log.events[1].digest[0], 0xcc); /* the SHA-384 one, not SHA-256 */
    CU_ASSERT_EQUAL(log.events[1].payload_len, 1);
    dstack_event_log_free(&log);

    header(&t, sha384, 1);
    event(&t, 5, 1, 0x000c, 48, 0, "x");
    expect_bad(&t, "MR index");
    header(&t, sha384, 1);
    event(&t, 1, 1, 0x000b, 32, 0, "x");
    expect_bad(&t, "not declared");
    header(&t, sha256_only, 1);
    expect_bad(&t, "SHA-384");
    header(&t, sha384, 1);
    event(&t, 1, 1, 0x000c, 48, 0, "abc");
    t.n -= 1;
    expect_bad(&t, "runs past");
    t.b[t.n - 3] = 0xff; /* event_size 0xff000003 */
    expect_bad(&t, "runs past");
    header(&t, sha384, 1);
    event(&t, 1, 1, 0x000c, 48, 0, "x");
    t.b[t.n - 1 - 4 - 48 - 2 - 4] = 0; /* digest count 0 */
    expect_bad(&t, "digest count");
    header(&t, sha384, 1);
    memcpy(t.b + 32, "Spec ID Event02", 16);
    expect_bad(&t, "Spec ID");
    header(&t, sha384, 1);
    t.b[4] = 4; /* header type is not EV_NO_ACTION */
    expect_bad(&t, "Spec ID");
    header(&t, sha384, 1);
    t.b[32 + 24] = 0xff; /* algorithm count 255 */
    expect_bad(&t, "algorithm count");
    header(&t, (const uint16_t[]){0x000c, 32}, 1);
    expect_bad(&t, "wrong size");
    header(&t, sha384, 1);
    put(&t, (uint8_t[5]){1, 0, 0, 0, 7}, 5); /* a 5-byte tail that is not fill */
    expect_bad(&t, "truncated");
    CU_ASSERT_EQUAL(dstack_ccel_parse(NULL, 0, &log, &err), DSTACK_ERR_PROTOCOL);
    CU_ASSERT_EQUAL(dstack_ccel_parse(t.b, t.n, NULL, &err), DSTACK_ERR_USAGE);
}

int main(void)
{
    static const test_case cases[] = {
        {"table made here parses to its boot events", test_ccel_own_table},
        {"table made here replays RTMR0-2 like the event log", test_ccel_own_replay},
        {"table made here truncated at every length", test_ccel_own_truncations},
        {"synthetic tables: fill, NO_ACTION, MR 0, hostile lengths", test_ccel_synthetic},
        {NULL, NULL},
    };
    static const test_case upstream[] = {
        {"ccel.bin equals the cc-eventlog snapshot", test_ccel_matches_snapshot},
        {"ccel.bin boot RTMRs are consistent", test_ccel_replay_consistent},
        {"ccel.bin truncated at every length", test_ccel_truncations_upstream},
        {NULL, NULL},
    };
    return test_run_split_suite("ccel", cases, upstream);
}
