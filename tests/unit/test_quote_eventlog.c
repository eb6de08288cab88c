/* TDX quote parsing, event-log JSON, RTMR replay and measurements on a measured boot and a
 * quote made here (tests/lib/test_evidence.h), and — as test_quote_eventlog_upstream — on the
 * upstream quotes, event logs and attestation.bin (protocol.md §9 upstream test data). */
#include <string.h>

#include <json-c/json.h>
#include <openssl/sha.h>

#include <dstack/attest.h>
#include <dstack/keys.h>

#include "test_evidence.h"
#include "test_util.h"
#include "agent_side.h"
#include "attest/attest_internal.h"

/* Zero bytes after the signature data, as the TDX driver leaves them. */
#define QUOTE_PAD 70

/* A VM's full event log and a quote over its replay with report_data "1234…". */
typedef struct evidence {
    qf_pki pki;
    te_vm vm;
    dstack_event_log log;
    char *log_json;
    uint8_t *quote;
    size_t quote_len;
    uint32_t sig_len;
} evidence;

static void evidence_init(evidence *e)
{
    uint8_t rtmr[4][48], body[QF_SIGNED_LEN], rd[64] = {0x12, 0x34};

    qf_pki_init(&e->pki, "Test Root A", 1, true);
    te_vm_init(&e->vm, 1);
    te_event_log(&e->vm, &e->log);
    e->log_json = dstack_event_log_to_json(&e->log);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e->log_json);
    dstack_event_log_replay(&e->log, rtmr, NULL);
    qf_body(body, (const uint8_t(*)[48])rtmr, rd);
    e->quote = qf_quote(&e->pki, body, QUOTE_PAD, &e->quote_len);
    e->sig_len = (uint32_t)(e->quote_len - QUOTE_PAD - QF_OFF_SIG);
}

static void evidence_free(evidence *e)
{
    qf_pki_free(&e->pki);
    dstack_event_log_free(&e->log);
    free(e->log_json);
    free(e->quote);
}

/* SHA-256(MRTD || RTMR0..3) computed here (protocol.md §5.5, config ids zero). */
static void expected_mr_aggregated(const dstack_tdx_quote *q, uint8_t out[32])
{
    uint8_t concat[5 * 48];

    memcpy(concat, q->mrtd, 48);
    memcpy(concat + 48, q->rtmr, 4 * 48);
    SHA256(concat, sizeof(concat), out);
}

static void test_quote_parses(void)
{
    evidence e;
    dstack_tdx_quote q;
    dstack_error err;
    const uint8_t *buf;

    evidence_init(&e);
    buf = e.quote;
    CU_ASSERT_EQUAL_FATAL(dstack_tdx_quote_parse(buf, e.quote_len, &q, &err), DSTACK_OK);
    CU_ASSERT_EQUAL(q.version, 4);
    CU_ASSERT_EQUAL(q.attestation_key_type, 2);
    CU_ASSERT_EQUAL(q.tee_type, 0x81);
    CU_ASSERT_EQUAL(q.signature_data_len, e.sig_len);
    CU_ASSERT_HEX_EQUAL(q.qe_vendor_id, 16, "939a7233f79c4ca9940a0db3957f0607");
    CU_ASSERT_EQUAL(memcmp(q.mrtd, buf + 184, 48), 0);
    CU_ASSERT_EQUAL(memcmp(q.rtmr[0], buf + 376, 48), 0);
    CU_ASSERT_EQUAL(memcmp(q.rtmr[3], buf + 520, 48), 0);
    CU_ASSERT_EQUAL(memcmp(q.report_data, buf + 568, 64), 0);
    CU_ASSERT_HEX_EQUAL(q.report_data, 3, "123400");
    CU_ASSERT_EQUAL(q.debug, (buf[168] & 1) != 0);
    CU_ASSERT_FALSE(q.debug);
    /* exactly header + body + signature data, without the driver padding */
    CU_ASSERT_EQUAL(dstack_tdx_quote_parse(buf, 636 + e.sig_len, &q, &err), DSTACK_OK);
    evidence_free(&e);
}

static void test_quote_negative(void)
{
    evidence e;
    dstack_tdx_quote q;
    dstack_error err;
    uint8_t *buf;
    size_t len;

    evidence_init(&e);
    buf = e.quote;
    len = e.quote_len;
    CU_ASSERT_EQUAL(dstack_tdx_quote_parse(NULL, 0, &q, &err), DSTACK_ERR_PROTOCOL);
    CU_ASSERT_EQUAL(dstack_tdx_quote_parse(buf, 631, &q, &err), DSTACK_ERR_PROTOCOL);
    CU_ASSERT_EQUAL(dstack_tdx_quote_parse(buf, 635, &q, &err), DSTACK_ERR_PROTOCOL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "too short"));
    /* signature data runs past the buffer */
    CU_ASSERT_EQUAL(dstack_tdx_quote_parse(buf, 636 + e.sig_len - 1, &q, &err),
                    DSTACK_ERR_PROTOCOL);
    buf[632] = 0xff, buf[633] = 0xff, buf[634] = 0xff, buf[635] = 0xff;
    CU_ASSERT_EQUAL(dstack_tdx_quote_parse(buf, len, &q, &err), DSTACK_ERR_PROTOCOL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "runs past"));
    qf_put_le(buf + 632, e.sig_len, 4);
    buf[0] = 6;
    CU_ASSERT_EQUAL(dstack_tdx_quote_parse(buf, len, &q, &err), DSTACK_ERR_PROTOCOL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "version 6"));
    buf[0] = 5; /* a v4 layout read as v5: the report body's first bytes as the body type */
    CU_ASSERT_EQUAL(dstack_tdx_quote_parse(buf, len, &q, &err), DSTACK_ERR_PROTOCOL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "body type"));
    buf[0] = 4;
    buf[4] = 0x00; /* SGX */
    CU_ASSERT_EQUAL(dstack_tdx_quote_parse(buf, len, &q, &err), DSTACK_ERR_PROTOCOL);
    buf[4] = 0x81;
    CU_ASSERT_EQUAL(dstack_tdx_quote_parse(buf, len, &q, &err), DSTACK_OK);
    evidence_free(&e);
}

static void test_runtime_digest(void)
{
    uint8_t d[48], app_id[20];

    dstack_runtime_event_digest("system-ready", NULL, 0, d);
    CU_ASSERT_HEX_EQUAL(d, 48,
                        "1a76b2a80a0be71eae59f80945d876351a7a3fb8e9fd1ff1cede5734aa84ea11fd72b4edf"
                        "bb6f04e5a85edd114c751bd");
    CU_ASSERT_FATAL(
        dstack_hex_decode("5bb4ff9a3837357f19dc176407a5709c62eb6c56", 40, app_id, 20, NULL));
    dstack_runtime_event_digest("app-id", app_id, 20, d);
    CU_ASSERT_HEX_EQUAL(d, 48,
                        "ddd202447c612b8bb8723d2ce3b9882b7cfc0ede203c36b15639cc80b181b61a7692850c5"
                        "333a1c6effef82a73d0a4f2");
}

/* A full log as older agents and the official simulator serve it: every RTMR replays. */
static void test_full_log_replay(void)
{
    evidence e;
    dstack_tdx_quote q;
    dstack_event_log log;
    dstack_error err;

    evidence_init(&e);
    CU_ASSERT_EQUAL_FATAL(dstack_tdx_quote_parse(e.quote, e.quote_len, &q, &err), DSTACK_OK);
    CU_ASSERT_EQUAL_FATAL(dstack_event_log_parse(e.log_json, strlen(e.log_json), &log, &err),
                          DSTACK_OK);
    CU_ASSERT_EQUAL(log.count, TE_BOOT_EVENTS + TE_RUNTIME_EVENTS);
    CU_ASSERT_EQUAL(dstack_event_log_check_quote(&log, &q, 0xF, &err), DSTACK_OK);
    CU_ASSERT_HEX_EQUAL(q.report_data, 2, "1234");
    dstack_event_log_free(&log);
    evidence_free(&e);
}

/* Stripped like a current agent's (protocol.md §10.1): runtime digests are "" yet RTMR3
 * replays, and the boot digests still replay RTMR0–2. */
static void test_stripped_log_replay(void)
{
    evidence e;
    dstack_tdx_quote q;
    dstack_event_log stripped, log;
    dstack_error err;
    size_t blank = 0;
    char *json;

    evidence_init(&e);
    te_strip_log(&e.log, false, &stripped);
    json = dstack_event_log_to_json(&stripped);
    CU_ASSERT_PTR_NOT_NULL_FATAL(json);
    CU_ASSERT_EQUAL_FATAL(dstack_tdx_quote_parse(e.quote, e.quote_len, &q, &err), DSTACK_OK);
    CU_ASSERT_EQUAL_FATAL(dstack_event_log_parse(json, strlen(json), &log, &err), DSTACK_OK);
    for (size_t i = 0; i < log.count; i++)
        blank +=
            log.events[i].event_type == DSTACK_RUNTIME_EVENT_TYPE && log.events[i].digest_len == 0;
    CU_ASSERT_EQUAL(blank, TE_RUNTIME_EVENTS);
    CU_ASSERT_EQUAL(dstack_event_log_check_quote(&log, &q, 0x8, &err), DSTACK_OK);
    CU_ASSERT_EQUAL(dstack_event_log_check_quote(&log, &q, 0xF, &err), DSTACK_OK);
    dstack_event_log_free(&log);
    dstack_event_log_free(&stripped);
    free(json);
    evidence_free(&e);
}

/* A V0 attestation made here: its quote (padded) parses, its log replays RTMR0–3, and
 * mr_aggregated is SHA-256(MRTD || RTMR0..3). */
static void test_attestation_replay(void)
{
    qf_pki pki;
    te_vm vm;
    dstack_attestation made, att;
    dstack_tdx_quote q;
    dstack_error err;
    uint8_t *enc = NULL, mr[32], want[32];
    size_t enc_len = 0;

    qf_pki_init(&pki, "Test Root A", 1, true);
    te_vm_init(&vm, 2);
    te_attestation(&pki, &vm, NULL, QUOTE_PAD, &made);
    CU_ASSERT_EQUAL_FATAL(dstack_attestation_encode_v0(&made, &enc, &enc_len, &err), DSTACK_OK);
    CU_ASSERT_EQUAL_FATAL(dstack_attestation_decode(enc, enc_len, &att, &err), DSTACK_OK);
    CU_ASSERT_EQUAL_FATAL(dstack_tdx_quote_parse(att.quote, att.quote_len, &q, &err), DSTACK_OK);
    CU_ASSERT_EQUAL(q.signature_data_len + 636 + QUOTE_PAD, att.quote_len);
    CU_ASSERT_EQUAL(dstack_event_log_check_quote(&att.tdx_event_log, &q, 0xF, &err), DSTACK_OK);
    dstack_mr_aggregated(&q, mr);
    expected_mr_aggregated(&q, want);
    CU_ASSERT_EQUAL(memcmp(mr, want, 32), 0);
    dstack_attestation_free(&att);
    dstack_attestation_free(&made);
    free(enc);
    qf_pki_free(&pki);
}

static void test_replay_tampering(void)
{
    evidence e;
    dstack_tdx_quote q;
    dstack_event_log log;
    dstack_error err;
    bool valid[4];
    uint8_t rtmr[4][48];

    evidence_init(&e);
    CU_ASSERT_EQUAL_FATAL(dstack_tdx_quote_parse(e.quote, e.quote_len, &q, &err), DSTACK_OK);
    CU_ASSERT_EQUAL_FATAL(dstack_event_log_parse(e.log_json, strlen(e.log_json), &log, &err),
                          DSTACK_OK);
    for (size_t i = 0; i < log.count; i++) {
        dstack_event *ev = &log.events[i];
        if (ev->event_type == DSTACK_RUNTIME_EVENT_TYPE && ev->digest_len > 0) {
            /* a lying logged digest on a runtime event is ignored */
            ev->digest[0] ^= 1;
            CU_ASSERT_EQUAL(dstack_event_log_check_quote(&log, &q, 0xF, &err), DSTACK_OK);
            /* a changed runtime event name is not */
            ev->event[0] ^= 1;
            CU_ASSERT_EQUAL(dstack_event_log_check_quote(&log, &q, 0xF, &err), DSTACK_ERR_CRYPTO);
            CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "RTMR3 mismatch"));
            CU_ASSERT_EQUAL(dstack_event_log_check_quote(&log, &q, 0x7, &err), DSTACK_OK);
            ev->event[0] ^= 1;
            break;
        }
    }
    /* a boot event with a short digest makes its RTMR unusable */
    CU_ASSERT_FATAL(log.events[0].imr == 0 && log.events[0].digest_len == 48);
    log.events[0].digest_len = 47;
    dstack_event_log_replay(&log, rtmr, valid);
    CU_ASSERT_FALSE(valid[0]);
    CU_ASSERT(valid[3]);
    CU_ASSERT_EQUAL(dstack_event_log_check_quote(&log, &q, 0x1, &err), DSTACK_ERR_CRYPTO);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "RTMR0 cannot be replayed"));
    log.events[0].digest_len = 48;
    log.events[0].digest[5] ^= 0x80;
    CU_ASSERT_EQUAL(dstack_event_log_check_quote(&log, &q, 0xF, &err), DSTACK_ERR_CRYPTO);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "RTMR0 mismatch"));
    CU_ASSERT_EQUAL(dstack_event_log_check_quote(NULL, &q, 0xF, &err), DSTACK_ERR_USAGE);
    dstack_event_log_free(&log);
    evidence_free(&e);
}

static void test_event_log_roundtrip(void)
{
    evidence e;
    dstack_event_log log, again, built = {0};
    dstack_error err;
    char *json;

    evidence_init(&e);
    CU_ASSERT_EQUAL_FATAL(dstack_event_log_parse(e.log_json, strlen(e.log_json), &log, &err),
                          DSTACK_OK);
    json = dstack_event_log_to_json(&log);
    CU_ASSERT_PTR_NOT_NULL_FATAL(json);
    CU_ASSERT_EQUAL_FATAL(dstack_event_log_parse(json, strlen(json), &again, &err), DSTACK_OK);
    CU_ASSERT_EQUAL_FATAL(again.count, log.count);
    for (size_t i = 0; i < log.count; i++) {
        CU_ASSERT_EQUAL(again.events[i].imr, log.events[i].imr);
        CU_ASSERT_EQUAL(again.events[i].event_type, log.events[i].event_type);
        CU_ASSERT_STRING_EQUAL(again.events[i].event, log.events[i].event);
        CU_ASSERT_EQUAL(again.events[i].digest_len, log.events[i].digest_len);
        CU_ASSERT_EQUAL(again.events[i].payload_len, log.events[i].payload_len);
        CU_ASSERT(
            log.events[i].payload_len == 0 ||
            memcmp(again.events[i].payload, log.events[i].payload, log.events[i].payload_len) == 0);
    }
    free(json);
    /* append + to_json: the exact text the simulator serves */
    CU_ASSERT_EQUAL(dstack_event_log_append(&built, 3, DSTACK_RUNTIME_EVENT_TYPE, NULL, 0, "app-id",
                                            (const uint8_t *)"\x01\xab", 2, &err),
                    DSTACK_OK);
    CU_ASSERT_EQUAL(dstack_event_log_append(&built, 3, 1, NULL, 5, "x", NULL, 0, &err),
                    DSTACK_ERR_USAGE);
    json = dstack_event_log_to_json(&built);
    CU_ASSERT_STRING_EQUAL(json, "[{\"imr\":3,\"event_type\":134217729,\"digest\":\"\","
                                 "\"event\":\"app-id\",\"event_payload\":\"01ab\"}]");
    free(json);
    json = dstack_event_log_to_json(NULL);
    CU_ASSERT_STRING_EQUAL(json, "[]");
    free(json);
    dstack_event_log_free(&built);
    dstack_event_log_free(&again);
    dstack_event_log_free(&log);
    evidence_free(&e);
}

static void expect_bad(const char *json, const char *needle)
{
    dstack_event_log log;
    dstack_error err;

    dstack_error_clear(&err);
    CU_ASSERT_EQUAL(dstack_event_log_parse(json, strlen(json), &log, &err), DSTACK_ERR_PROTOCOL);
    CU_ASSERT_EQUAL(log.count, 0);
    if (strstr(err.message, needle) == NULL) {
        fprintf(stderr, "\n  for %s: message \"%s\" lacks \"%s\"\n", json, err.message, needle);
        CU_FAIL("error message");
    }
}

#define EV(imr, type, digest, event, payload)                                                      \
    "{\"imr\":" imr ",\"event_type\":" type ",\"digest\":" digest ",\"event\":" event              \
    ",\"event_payload\":" payload "}"

static void test_event_log_negative(void)
{
    const char *ok = EV("3", "1", "\"\"", "\"a\"", "\"\"");
    dstack_event_log log;
    dstack_error err;
    char buf[512];

    CU_ASSERT_EQUAL(dstack_event_log_parse(ok, strlen(ok), &log, &err), DSTACK_ERR_PROTOCOL);
    snprintf(buf, sizeof(buf), "[%s]  \n", ok);
    CU_ASSERT_EQUAL(dstack_event_log_parse(buf, strlen(buf), &log, &err), DSTACK_OK);
    dstack_event_log_free(&log);
    expect_bad("", "not valid JSON");
    expect_bad("[", "not valid JSON");
    expect_bad("{}", "not a JSON array");
    expect_bad("[1]", "entry 0 is not a JSON object");
    expect_bad("[] x", "trailing data");
    expect_bad(
        "[" EV("3", "1", "\"\"", "\"a\"", "\"\"") "," EV("\"3\"", "1", "\"\"", "\"a\"", "\"\"") "]",
        "entry 1: field \"imr\" is not an integer");
    expect_bad("[" EV("-1", "1", "\"\"", "\"a\"", "\"\"") "]", "\"imr\" is out of range");
    expect_bad("[" EV("3", "4294967296", "\"\"", "\"a\"", "\"\"") "]",
               "\"event_type\" is out of range");
    expect_bad("[" EV("3", "1.5", "\"\"", "\"a\"", "\"\"") "]", "\"event_type\" is not an integer");
    expect_bad("[" EV("3", "1", "\"abc\"", "\"a\"", "\"\"") "]", "\"digest\" is not valid hex");
    expect_bad("[" EV("3", "1", "\"zz\"", "\"a\"", "\"\"") "]", "\"digest\" is not valid hex");
    expect_bad("[" EV("3", "1", "null", "\"a\"", "\"\"") "]", "\"digest\" is not a string");
    expect_bad("[" EV("3", "1", "\"\"", "7", "\"\"") "]", "\"event\" is not a string");
    expect_bad("[" EV("3", "1", "\"\"", "\"a\\u0000b\"", "\"\"") "]", "NUL");
    expect_bad("[" EV("3", "1", "\"\"", "\"a\"", "[]") "]", "\"event_payload\" is not a string");
    expect_bad("[{\"imr\":3,\"event_type\":1,\"digest\":\"\",\"event\":\"a\"}]",
               "\"event_payload\" is missing");
    CU_ASSERT_EQUAL(dstack_event_log_from_json(NULL, &log, &err), DSTACK_ERR_PROTOCOL);
    CU_ASSERT_EQUAL(dstack_event_log_parse(NULL, 0, &log, &err), DSTACK_ERR_PROTOCOL);
}

/* dstack-sim's built-in compose and its published compose_hash (docs/dstack-sim.md). */
static const char dev_compose[] =
    "{\"manifest_version\":2,\"name\":\"dstack-sim-app\",\"runner\":\"docker-compose\","
    "\"docker_compose_file\":\"services:\\n  app:\\n    image: busybox\\n\",\"kms_enabled\":true,"
    "\"gateway_enabled\":false,\"public_logs\":false,\"public_sysinfo\":false,"
    "\"public_tcbinfo\":false,\"key_provider\":\"kms\",\"key_provider_id\":\"\","
    "\"allowed_envs\":[],\"no_instance_id\":false,\"secure_time\":false,\"storage_fs\":\"ext4\"}";
#define DEV_COMPOSE_HASH "4b291a432e3c445a6db35ab613f6d3760aaf12dcec4edd2a4fb78c6d40609a5d"

/* The summary of a quote and its log; `mr_hex` must appear in it. */
static void check_summary(dstack_tdx_quote *q, const dstack_event_log *log, const char *mr_hex)
{
    char *text = dstack_measurement_summary(q, log);

    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "MRTD"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "replay RTMR3     matches quote"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "compose-hash"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, mr_hex));
    CU_ASSERT_PTR_NULL(strstr(text, "MISMATCH"));
    free(text);
    q->rtmr[2][0] ^= 1;
    text = dstack_measurement_summary(q, log);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "replay RTMR2     MISMATCH"));
    free(text);
    q->rtmr[2][0] ^= 1;
    text = dstack_measurement_summary(q, NULL);
    CU_ASSERT_PTR_NOT_NULL(text);
    CU_ASSERT_PTR_NULL(strstr(text, "replay"));
    free(text);
    CU_ASSERT_PTR_NULL(dstack_measurement_summary(NULL, NULL));
}

static void test_measurements(void)
{
    evidence e;
    dstack_tdx_quote q;
    dstack_error err;
    uint8_t expected[32], mr[32];
    char mr_hex[65];

    CU_ASSERT_FATAL(dstack_hex_decode(DEV_COMPOSE_HASH, 64, expected, 32, NULL));
    CU_ASSERT(
        dstack_compose_hash_matches((const uint8_t *)dev_compose, strlen(dev_compose), expected));
    CU_ASSERT_FALSE(dstack_compose_hash_matches((const uint8_t *)dev_compose,
                                                strlen(dev_compose) - 1, expected));
    CU_ASSERT_FALSE(dstack_compose_hash_matches(NULL, 3, expected));

    evidence_init(&e);
    CU_ASSERT_EQUAL_FATAL(dstack_tdx_quote_parse(e.quote, e.quote_len, &q, &err), DSTACK_OK);
    expected_mr_aggregated(&q, mr);
    dstack_hex_encode(mr, 32, mr_hex);
    check_summary(&q, &e.log, mr_hex);
    evidence_free(&e);
}

/* ---- upstream data ----------------------------------------------------------------------- */

/* "quote" hex and "event_log" text of a GetQuote-style JSON fixture. */
typedef struct getquote {
    uint8_t *quote;
    size_t quote_len;
    char *event_log;
} getquote;

static void load_getquote(const char *name, getquote *g)
{
    uint8_t *text = test_read_fixture(name, NULL);
    json_object *root = json_tokener_parse((const char *)text), *v;
    const char *hex;

    CU_ASSERT_FATAL(root != NULL);
    CU_ASSERT_FATAL(json_object_object_get_ex(root, "quote", &v));
    hex = json_object_get_string(v);
    g->quote = malloc(strlen(hex) / 2 + 1);
    CU_ASSERT_FATAL(dstack_hex_decode(hex, strlen(hex), g->quote, strlen(hex) / 2, &g->quote_len));
    CU_ASSERT_FATAL(json_object_object_get_ex(root, "event_log", &v));
    g->event_log = strdup(json_object_get_string(v));
    json_object_put(root);
    free(text);
}

static void free_getquote(getquote *g)
{
    free(g->quote);
    free(g->event_log);
}

static void test_quote_fixture(void)
{
    size_t len;
    uint8_t *buf = test_read_fixture("dstack/tdx_quote", &len);
    dstack_tdx_quote q;
    dstack_error err;

    CU_ASSERT_EQUAL(len, 5006);
    CU_ASSERT_EQUAL_FATAL(dstack_tdx_quote_parse(buf, len, &q, &err), DSTACK_OK);
    CU_ASSERT_EQUAL(q.version, 4);
    CU_ASSERT_EQUAL(q.attestation_key_type, 2);
    CU_ASSERT_EQUAL(q.tee_type, 0x81);
    CU_ASSERT_EQUAL(q.signature_data_len, 4300);
    CU_ASSERT_HEX_EQUAL(q.qe_vendor_id, 16, "939a7233f79c4ca9940a0db3957f0607");
    CU_ASSERT_EQUAL(memcmp(q.mrtd, buf + 184, 48), 0);
    CU_ASSERT_EQUAL(memcmp(q.rtmr[3], buf + 520, 48), 0);
    CU_ASSERT_EQUAL(memcmp(q.report_data, buf + 568, 64), 0);
    CU_ASSERT_EQUAL(q.debug, (buf[168] & 1) != 0);
    /* exactly header + body + signature data, without the driver padding */
    CU_ASSERT_EQUAL(dstack_tdx_quote_parse(buf, 636 + 4300, &q, &err), DSTACK_OK);
    free(buf);
}

/* Unstripped log of an older agent: every RTMR replays (protocol.md §5.3 [verified]). */
static void test_quote_report_replay(void)
{
    getquote g;
    dstack_tdx_quote q;
    dstack_event_log log;
    dstack_error err;

    load_getquote("dstack/quote-report.json", &g);
    CU_ASSERT_EQUAL_FATAL(dstack_tdx_quote_parse(g.quote, g.quote_len, &q, &err), DSTACK_OK);
    CU_ASSERT_EQUAL_FATAL(dstack_event_log_parse(g.event_log, strlen(g.event_log), &log, &err),
                          DSTACK_OK);
    CU_ASSERT_EQUAL(log.count, 28);
    CU_ASSERT_EQUAL(dstack_event_log_check_quote(&log, &q, 0xF, &err), DSTACK_OK);
    CU_ASSERT_HEX_EQUAL(q.report_data, 2, "1234");
    dstack_event_log_free(&log);
    free_getquote(&g);
}

/* Stripped log of a current agent: runtime digests are "" yet RTMR3 replays. */
static void test_tdx_lite_replay(void)
{
    getquote g;
    dstack_tdx_quote q;
    dstack_event_log log;
    dstack_error err;
    size_t blank = 0;

    load_getquote("dstack/tdx-lite-getquote.json", &g);
    CU_ASSERT_EQUAL_FATAL(dstack_tdx_quote_parse(g.quote, g.quote_len, &q, &err), DSTACK_OK);
    CU_ASSERT_EQUAL_FATAL(dstack_event_log_parse(g.event_log, strlen(g.event_log), &log, &err),
                          DSTACK_OK);
    for (size_t i = 0; i < log.count; i++)
        blank +=
            log.events[i].event_type == DSTACK_RUNTIME_EVENT_TYPE && log.events[i].digest_len == 0;
    CU_ASSERT(blank > 0);
    CU_ASSERT_EQUAL(dstack_event_log_check_quote(&log, &q, 0x8, &err), DSTACK_OK);
    dstack_event_log_free(&log);
    free_getquote(&g);
}

static void test_attestation_bin_replay(void)
{
    size_t len;
    uint8_t *buf = test_read_fixture("dstack/attestation.bin", &len), mr[32];
    dstack_attestation att;
    dstack_tdx_quote q;
    dstack_error err;

    CU_ASSERT_EQUAL_FATAL(dstack_attestation_decode(buf, len, &att, &err), DSTACK_OK);
    CU_ASSERT_EQUAL_FATAL(dstack_tdx_quote_parse(att.quote, att.quote_len, &q, &err), DSTACK_OK);
    CU_ASSERT_EQUAL(q.signature_data_len + 636 + 70, att.quote_len);
    CU_ASSERT_EQUAL(dstack_event_log_check_quote(&att.tdx_event_log, &q, 0xF, &err), DSTACK_OK);
    /* protocol.md §9 V2: the simulator's Info mr_aggregated */
    dstack_mr_aggregated(&q, mr);
    CU_ASSERT_HEX_EQUAL(mr, 32, "85334a62c97d0f8bf82d0245d31b539d17a2d7c258e2a13efc928aaea0e107cb");
    dstack_attestation_free(&att);
    free(buf);
}

/* app-compose.json hashes to 5981514c…, and attestation.bin summarises as protocol.md §9 V2. */
static void test_measurements_upstream(void)
{
    size_t len;
    uint8_t *compose = test_read_fixture("dstack/app-compose.json", &len), expected[32];
    uint8_t *bin = test_read_fixture("dstack/attestation.bin", &len);
    dstack_attestation att;
    dstack_tdx_quote q;
    dstack_error err;

    CU_ASSERT_FATAL(
        dstack_hex_decode("5981514cb2c1c16c4c8d9ef04c69bc0efcb75186238a84872e6f858f2d9a6b56", 64,
                          expected, 32, NULL));
    CU_ASSERT(dstack_compose_hash_matches(compose, strlen((char *)compose), expected));
    CU_ASSERT_FALSE(dstack_compose_hash_matches(compose, strlen((char *)compose) - 1, expected));
    CU_ASSERT_FALSE(dstack_compose_hash_matches(NULL, 3, expected));

    CU_ASSERT_EQUAL_FATAL(dstack_attestation_decode(bin, len, &att, &err), DSTACK_OK);
    CU_ASSERT_EQUAL_FATAL(dstack_tdx_quote_parse(att.quote, att.quote_len, &q, &err), DSTACK_OK);
    check_summary(&q, &att.tdx_event_log,
                  "85334a62c97d0f8bf82d0245d31b539d17a2d7c258e2a13efc928aaea0e107cb");
    dstack_attestation_free(&att);
    free(bin);
    free(compose);
}

int main(void)
{
    static const test_case cases[] = {
        {"quote made here parses", test_quote_parses},
        {"quote negative", test_quote_negative},
        {"runtime event digest", test_runtime_digest},
        {"full event log RTMR0-3 replay", test_full_log_replay},
        {"stripped event log RTMR replay", test_stripped_log_replay},
        {"V0 attestation RTMR0-3 replay + mr_aggregated", test_attestation_replay},
        {"replay detects tampering", test_replay_tampering},
        {"event log JSON round trip", test_event_log_roundtrip},
        {"event log JSON negative", test_event_log_negative},
        {"compose hash and summary", test_measurements},
        {NULL, NULL},
    };
    static const test_case upstream[] = {
        {"tdx_quote parses", test_quote_fixture},
        {"quote-report.json RTMR0-3 replay", test_quote_report_replay},
        {"tdx-lite stripped log RTMR3 replay", test_tdx_lite_replay},
        {"attestation.bin RTMR0-3 replay + mr_aggregated", test_attestation_bin_replay},
        {"app-compose.json hash and attestation.bin summary", test_measurements_upstream},
        {NULL, NULL},
    };
    return test_run_split_suite("quote_eventlog", cases, upstream);
}
