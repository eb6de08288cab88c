/* dstack-sim attestation consistency, checked with libdstack's parsers against a running
 * simulator (started by with-sim.sh with the development identity, built in or loaded from
 * an appkeys.json, as the release its registration names): quote layout, RTMR replay
 * before/after EmitEvent (0.5.x; 0.6 has none), Attest V0 — or V1 msgpack on an event-log-V2
 * boot (DSTACK_TEST_EVENT_LOG_V2=1) with preimages checked, a forged one rejected — Info
 * consistency, RA-TLS certificate binding, TdxQuote hashing and prefix echo. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include <dstack/attest.h>
#include <dstack/keys.h>

#include "test_util.h"
#include "attest/attest_internal.h"

/* SPKI of dstack-sim's development CA key (docs/dstack-sim.md). */
#define DEV_CA_SPKI                                                                                \
    "3059301306072a8648ce3d020106082a8648ce3d03010703420004d1a7bd936cac8d5ac268570c80f43e8bd64858" \
    "12"                                                                                           \
    "cdc299a0408031f9a4ada5046296b559bfa5969582b4f4f760492c4deb9627c8f9cba819d42b9b1fb27253fb"

typedef struct buf {
    char *data;
    size_t len;
} buf;

static size_t on_data(char *ptr, size_t size, size_t n, void *ud)
{
    buf *b = ud;
    char *grown = realloc(b->data, b->len + size * n + 1);

    if (grown == NULL)
        return 0;
    b->data = grown;
    memcpy(b->data + b->len, ptr, size * n);
    b->len += size * n;
    b->data[b->len] = '\0';
    return size * n;
}

/* POSTs JSON to <socket>/<path>; returns the parsed body (NULL if not JSON) and status. */
static json_object *rpc(const char *env, const char *path, const char *body, long *status,
                        char **raw)
{
    CURL *c = curl_easy_init();
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    buf b = {0};
    char url[256];
    json_object *obj = NULL;

    snprintf(url, sizeof(url), "http://localhost%s", path);
    curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, test_env(env));
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    *status = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    if (b.data != NULL)
        obj = json_tokener_parse(b.data);
    if (raw != NULL)
        *raw = b.data;
    else
        free(b.data);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    return obj;
}

/* What the simulator under test is: a 0.6 agent (no EmitEvent, prefix echo), and whether its
 * boot uses event log V2 (set by the registration that gives it such a compose). */
static bool agent_v06, event_log_v2;

static const char *field(json_object *o, const char *name)
{
    json_object *v = NULL;

    if (!json_object_object_get_ex(o, name, &v) || !json_object_is_type(v, json_type_string))
        return "";
    return json_object_get_string(v);
}

static uint8_t *unhex(const char *hex, size_t *len)
{
    size_t n = strlen(hex) / 2;
    uint8_t *out = malloc(n + 1);

    if (out == NULL || !dstack_hex_decode(hex, strlen(hex), out, n, len)) {
        free(out);
        return NULL;
    }
    return out;
}

typedef struct quote_ev {
    dstack_tdx_quote q;
    dstack_event_log log;
    bool ok;
} quote_ev;

static quote_ev get_quote(const char *report_data_hex)
{
    quote_ev r;
    char body[256];
    long status;
    json_object *o;
    uint8_t *quote;
    size_t qlen = 0;
    const char *log;

    memset(&r, 0, sizeof(r));
    snprintf(body, sizeof(body), "{\"report_data\":\"%s\"}", report_data_hex);
    o = rpc("DSTACK_SIMULATOR_ENDPOINT", "/GetQuote", body, &status, NULL);
    CU_ASSERT_EQUAL(status, 200);
    if (o == NULL)
        return r;
    quote = unhex(field(o, "quote"), &qlen);
    log = field(o, "event_log");
    r.ok = quote != NULL && dstack_tdx_quote_parse(quote, qlen, &r.q, NULL) == DSTACK_OK &&
           dstack_event_log_parse(log, strlen(log), &r.log, NULL) == DSTACK_OK;
    CU_ASSERT_TRUE(r.ok);
    if (r.ok) { /* signature-data length accounts for the whole quote */
        CU_ASSERT_EQUAL(632 + 4 + r.q.signature_data_len, qlen);
        CU_ASSERT_EQUAL(quote[0], 4);
        CU_ASSERT_EQUAL(quote[2], 2);
        CU_ASSERT_EQUAL(quote[4], 0x81);
    }
    free(quote);
    json_object_put(o);
    return r;
}

static void test_quote_replay_and_emit(void)
{
    quote_ev before, after;
    long status;
    char *raw = NULL;
    json_object *o;
    uint8_t digest[48];
    const dstack_event *last;
    static const uint8_t payload[] = {0xde, 0xad, 0xbe, 0xef};

    before = get_quote("0x0102");
    CU_ASSERT_EQUAL(before.q.report_data[0], 1);
    CU_ASSERT_EQUAL(before.q.report_data[1], 2);
    CU_ASSERT_EQUAL(before.q.report_data[63], 0); /* right-padded */
    CU_ASSERT_EQUAL(dstack_event_log_check_quote(&before.log, &before.q, 0xF, NULL), DSTACK_OK);

    o = rpc("DSTACK_SIMULATOR_ENDPOINT", "/EmitEvent",
            "{\"event\":\"sim-test\",\"payload\":\"deadbeef\"}", &status, &raw);
    if (agent_v06) { /* removed in 0.6 (protocol.md §2.6.1) */
        CU_ASSERT_EQUAL(status, 400);
        CU_ASSERT_STRING_EQUAL(field(o, "error"), "Service not found: EmitEvent");
        free(raw);
        json_object_put(o);
        dstack_event_log_free(&before.log);
        return;
    }
    CU_ASSERT_EQUAL(status, 200);
    CU_ASSERT_STRING_EQUAL(raw ? raw : "", "null");
    free(raw);
    json_object_put(o);

    after = get_quote("");
    CU_ASSERT_EQUAL(dstack_event_log_check_quote(&after.log, &after.q, 0xF, NULL), DSTACK_OK);
    CU_ASSERT_EQUAL(memcmp(before.q.rtmr, after.q.rtmr, 3 * 48), 0);
    CU_ASSERT_NOT_EQUAL(memcmp(before.q.rtmr[3], after.q.rtmr[3], 48), 0);
    CU_ASSERT_EQUAL(after.log.count, before.log.count + 1);
    if (after.log.count > 0) {
        last = &after.log.events[after.log.count - 1];
        dstack_runtime_event_digest("sim-test", payload, sizeof(payload), digest);
        CU_ASSERT_STRING_EQUAL(last->event, "sim-test");
        CU_ASSERT_EQUAL(last->imr, 3);
        CU_ASSERT_EQUAL(last->event_type, DSTACK_RUNTIME_EVENT_TYPE);
        /* stripped logs (--stripped-event-log) blank runtime digests (protocol.md §5.2) */
        CU_ASSERT(last->digest_len == 0 ||
                  (last->digest_len == 48 && memcmp(last->digest, digest, 48) == 0));
        CU_ASSERT(last->payload_len == 4 && memcmp(last->payload, payload, 4) == 0);
    }
    dstack_event_log_free(&before.log);
    dstack_event_log_free(&after.log);
}

/* Two threads emit events while quotes are taken: every quote must replay to exactly the log
 * it comes with (the snapshot is taken under one lock, attestation.c), and each log must
 * extend the previous one, event for event. */
#define EMITTERS 2
#define EMITS_EACH 150
#define QUOTES 100

static void *emitter(void *arg)
{
    long id = (long)arg, status;
    char body[128];
    int i;
    long failures = 0;

    for (i = 0; i < EMITS_EACH; i++) {
        json_object *o;
        char *raw = NULL;

        snprintf(body, sizeof(body), "{\"event\":\"race-%ld\",\"payload\":\"%02x\"}", id, i);
        o = rpc("DSTACK_SIMULATOR_ENDPOINT", "/EmitEvent", body, &status, &raw);
        if (status != 200 || raw == NULL || strcmp(raw, "null") != 0)
            failures++;
        free(raw);
        json_object_put(o);
    }
    return (void *)failures;
}

static bool same_event(const dstack_event *a, const dstack_event *b)
{
    return a->imr == b->imr && strcmp(a->event, b->event) == 0 &&
           a->payload_len == b->payload_len &&
           (a->payload_len == 0 || memcmp(a->payload, b->payload, a->payload_len) == 0);
}

static void test_quote_consistent_under_emit(void)
{
    pthread_t threads[EMITTERS];
    quote_ev prev, cur, last;
    size_t start, i;
    int q, started = 0;
    long t;
    void *failures;

    if (agent_v06) {
        puts("(0.6 has no EmitEvent: covered by the 0.5.11 registration)");
        return;
    }
    prev = get_quote("aa");
    start = prev.log.count;
    for (t = 0; t < EMITTERS; t++)
        if (pthread_create(&threads[t], NULL, emitter, (void *)t) == 0)
            started++;
    CU_ASSERT_EQUAL(started, EMITTERS);
    for (q = 0; q < QUOTES; q++) {
        cur = get_quote("bb");
        CU_ASSERT_EQUAL(dstack_event_log_check_quote(&cur.log, &cur.q, 0xF, NULL), DSTACK_OK);
        CU_ASSERT(cur.log.count >= prev.log.count);
        for (i = 0; i < prev.log.count && i < cur.log.count; i++)
            CU_ASSERT(same_event(&prev.log.events[i], &cur.log.events[i]));
        dstack_event_log_free(&prev.log);
        prev = cur;
    }
    for (t = 0; t < started; t++) {
        pthread_join(threads[t], &failures);
        CU_ASSERT_EQUAL((long)failures, 0);
    }
    last = get_quote("cc");
    CU_ASSERT_EQUAL(dstack_event_log_check_quote(&last.log, &last.q, 0xF, NULL), DSTACK_OK);
    CU_ASSERT_EQUAL(last.log.count, start + EMITTERS * EMITS_EACH);
    dstack_event_log_free(&prev.log);
    dstack_event_log_free(&last.log);
}

static void test_attest_v0(void)
{
    char rd_hex[129];
    uint8_t rd[64], *bytes;
    size_t len = 0;
    long status;
    json_object *o;
    dstack_attestation att;
    dstack_tdx_quote q;

    for (int i = 0; i < 64; i++)
        rd[i] = (uint8_t)(0xa0 + i);
    dstack_hex_encode(rd, 64, rd_hex);
    {
        char body[200];

        snprintf(body, sizeof(body), "{\"report_data\":\"%s\"}", rd_hex);
        o = rpc("DSTACK_SIMULATOR_ENDPOINT", "/Attest", body, &status, NULL);
    }
    CU_ASSERT_EQUAL(status, 200);
    bytes = o ? unhex(field(o, "attestation"), &len) : NULL;
    CU_ASSERT_PTR_NOT_NULL_FATAL(bytes);
    /* V0 SCALE like the real agent; V1 msgpack once the boot uses event log V2 (protocol.md
     * protocol.md §4.5.4) */
    CU_ASSERT_EQUAL(bytes[0], event_log_v2 ? 0x83 : 0x00);
    memset(&att, 0, sizeof(att));
    CU_ASSERT_EQUAL_FATAL(dstack_attestation_decode(bytes, len, &att, NULL), DSTACK_OK);
    CU_ASSERT_EQUAL(att.version, event_log_v2 ? 1 : 0);
    CU_ASSERT_EQUAL(att.platform, DSTACK_PLATFORM_TDX);
    for (size_t i = 0; i < att.runtime_events_len; i++)
        CU_ASSERT_EQUAL(att.runtime_events[i].version, event_log_v2 ? 2u : 1u);
    /* Attest's V2 events carry preimages that hold (protocol.md §5.3.1) */
    for (size_t i = 0; i < att.tdx_event_log.count; i++) {
        const dstack_event *e = &att.tdx_event_log.events[i];
        if (e->event_type == DSTACK_RUNTIME_EVENT_TYPE)
            CU_ASSERT_EQUAL(e->has_preimage, event_log_v2);
    }
    CU_ASSERT_EQUAL(dstack_event_log_check_preimages(&att.tdx_event_log, NULL), DSTACK_OK);
    CU_ASSERT_EQUAL(memcmp(att.report_data, rd, 64), 0);
    CU_ASSERT_EQUAL_FATAL(dstack_tdx_quote_parse(att.quote, att.quote_len, &q, NULL), DSTACK_OK);
    CU_ASSERT_EQUAL(memcmp(q.report_data, rd, 64), 0);
    CU_ASSERT_EQUAL(dstack_event_log_check_quote(&att.tdx_event_log, &q, 0xF, NULL), DSTACK_OK);
    CU_ASSERT(att.runtime_events_len >= 9);
    CU_ASSERT_PTR_NOT_NULL(strstr(att.config ? att.config : "", "os_image_hash"));
    dstack_attestation_free(&att);
    free(bytes);
    json_object_put(o);

    o = rpc("DSTACK_SIMULATOR_ENDPOINT", "/Attest", "{\"report_data\":\"00\"}", &status, NULL);
    CU_ASSERT_EQUAL(status, 200);
    json_object_put(o);
}

static void test_info_consistency(void)
{
    long status;
    json_object *o = rpc("DSTACK_SIMULATOR_ENDPOINT", "/Info", "{}", &status, NULL);
    json_object *tcb, *arr = NULL;
    const char *compose;
    uint8_t hash[32], agg[32], *rtmr3;
    char hex[129];
    size_t n = 0;
    quote_ev qe;
    dstack_event_log log;

    CU_ASSERT_EQUAL_FATAL(status, 200);
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    tcb = json_tokener_parse(field(o, "tcb_info"));
    CU_ASSERT_PTR_NOT_NULL_FATAL(tcb);
    compose = field(tcb, "app_compose");
    SHA256((const uint8_t *)compose, strlen(compose), hash);
    dstack_hex_encode(hash, 32, hex);
    CU_ASSERT_STRING_EQUAL(field(o, "compose_hash"), hex);
    CU_ASSERT_STRING_EQUAL(field(tcb, "compose_hash"), hex);
    CU_ASSERT_STRING_EQUAL(field(o, "device_id"),
                           "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    /* The development identity, built in or loaded from `dstack-sim --write-appkeys`: its app
     * id and CA key (docs/dstack-sim.md) */
    CU_ASSERT_STRING_EQUAL(field(o, "app_id"), test_env("DSTACK_DEV_APP_ID"));
    CU_ASSERT_PTR_NOT_NULL(strstr(field(o, "key_provider_info"), "\"name\":\"kms\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(field(o, "key_provider_info"), DEV_CA_SPKI));

    /* tcb_info RTMRs = the quote's = replay of the full event_log array */
    qe = get_quote("");
    dstack_hex_encode(qe.q.rtmr[3], 48, hex);
    CU_ASSERT_STRING_EQUAL(field(tcb, "rtmr3"), hex);
    dstack_hex_encode(qe.q.mrtd, 48, hex);
    CU_ASSERT_STRING_EQUAL(field(tcb, "mrtd"), hex);
    dstack_mr_aggregated(&qe.q, agg);
    dstack_hex_encode(agg, 32, hex);
    CU_ASSERT_STRING_EQUAL(field(o, "mr_aggregated"), hex);
    CU_ASSERT_TRUE_FATAL(json_object_object_get_ex(tcb, "event_log", &arr));
    CU_ASSERT_TRUE(json_object_is_type(arr, json_type_array));
    memset(&log, 0, sizeof(log));
    CU_ASSERT_EQUAL_FATAL(dstack_event_log_from_json(arr, &log, NULL), DSTACK_OK);
    CU_ASSERT_EQUAL(dstack_event_log_check_quote(&log, &qe.q, 0xF, NULL), DSTACK_OK);
    /* tcb_info: "version": 2 on V2 events, never a preimage (protocol.md §5.3.1) */
    for (size_t i = 0; i < log.count; i++) {
        if (log.events[i].event_type != DSTACK_RUNTIME_EVENT_TYPE)
            continue;
        CU_ASSERT_EQUAL(log.events[i].version, event_log_v2 ? 2u : 1u);
        CU_ASSERT_FALSE(log.events[i].has_preimage);
    }
    rtmr3 = unhex(field(tcb, "rtmr3"), &n);
    CU_ASSERT_EQUAL(n, 48);
    free(rtmr3);
    dstack_event_log_free(&log);
    dstack_event_log_free(&qe.log);
    json_object_put(tcb);
    json_object_put(o);
}

static X509 *leaf_of(json_object *o)
{
    json_object *chain = NULL, *first;
    BIO *bio;
    X509 *x = NULL;

    if (!json_object_object_get_ex(o, "certificate_chain", &chain) ||
        json_object_array_length(chain) != 2)
        return NULL;
    first = json_object_array_get_idx(chain, 0);
    bio = BIO_new_mem_buf(json_object_get_string(first), -1);
    x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    BIO_free(bio);
    return x;
}

static void check_ratls(const char *env, const char *path, const char *body)
{
    long status;
    json_object *o = rpc(env, path, body, &status, NULL);
    X509 *leaf = o ? leaf_of(o) : NULL;
    dstack_ratls_info info;
    unsigned char *spki = NULL;
    int spki_len;
    uint8_t expected[64];

    CU_ASSERT_EQUAL(status, 200);
    CU_ASSERT_PTR_NOT_NULL_FATAL(leaf);
    memset(&info, 0, sizeof(info));
    CU_ASSERT_EQUAL_FATAL(dstack_ratls_inspect(leaf, &info, NULL), DSTACK_OK);
    CU_ASSERT_TRUE(info.has_attestation);
    CU_ASSERT_FALSE(info.from_legacy_oids);
    CU_ASSERT_TRUE(info.report_data_binds_key);
    CU_ASSERT_TRUE(info.rtmr3_matches);
    CU_ASSERT_STRING_EQUAL(info.special_usage, "app:custom");
    /* independently: SHA-512("ratls-cert:" || SPKI DER) */
    spki_len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(leaf), &spki);
    CU_ASSERT_TRUE_FATAL(spki_len > 0);
    {
        EVP_MD_CTX *md = EVP_MD_CTX_new();

        EVP_DigestInit_ex(md, EVP_sha512(), NULL);
        EVP_DigestUpdate(md, "ratls-cert:", 11);
        EVP_DigestUpdate(md, spki, (size_t)spki_len);
        EVP_DigestFinal_ex(md, expected, NULL);
        EVP_MD_CTX_free(md);
    }
    CU_ASSERT_EQUAL(memcmp(info.attestation.report_data, expected, 64), 0);
    CU_ASSERT_TRUE(info.quote_parsed);
    CU_ASSERT_EQUAL(memcmp(info.quote.report_data, expected, 64), 0);
    OPENSSL_free(spki);
    dstack_ratls_info_free(&info);
    X509_free(leaf);
    json_object_put(o);
}

static void test_ratls_certs(void)
{
    check_ratls("DSTACK_SIMULATOR_ENDPOINT", "/GetTlsKey",
                "{\"subject\":\"ra\",\"usage_ra_tls\":true,\"with_app_info\":true}");
    check_ratls("TAPPD_SIMULATOR_ENDPOINT", "/prpc/Tappd.DeriveKey",
                "{\"path\":\"ra/path\",\"subject\":\"ra\",\"usage_ra_tls\":true}");
}

static void check_tdx_quote(const char *alg, const char *prefix, const EVP_MD *md)
{
    char body[256], input[64];
    long status;
    json_object *o;
    uint8_t expected[64], *quote;
    size_t qlen = 0;
    dstack_tdx_quote q;

    snprintf(body, sizeof(body),
             "{\"report_data\":\"%s\",\"hash_algorithm\":\"%s\",\"prefix\":\"%s\"}",
             "7465737420636f6e74656e74" /* "test content" */, alg, prefix);
    o = rpc("TAPPD_SIMULATOR_ENDPOINT", "/prpc/Tappd.TdxQuote", body, &status, NULL);
    CU_ASSERT_EQUAL_FATAL(status, 200);
    /* v0.5.11 echoes "app-data" whatever the prefix; 0.6 the one it used (protocol.md §2.2) */
    CU_ASSERT_STRING_EQUAL(field(o, "prefix"), agent_v06 && prefix[0] ? prefix : "app-data");
    CU_ASSERT_STRING_EQUAL(field(o, "hash_algorithm"), alg[0] ? alg : "sha512");
    snprintf(input, sizeof(input), "%s:test content", prefix[0] ? prefix : "app-data");
    memset(expected, 0, sizeof(expected));
    if (md != NULL)
        EVP_Digest(input, strlen(input), expected, NULL, md, NULL);
    else
        dstack_keccak256((const uint8_t *)input, strlen(input), expected);
    quote = unhex(field(o, "quote"), &qlen);
    CU_ASSERT_EQUAL_FATAL(dstack_tdx_quote_parse(quote, qlen, &q, NULL), DSTACK_OK);
    CU_ASSERT_EQUAL(memcmp(q.report_data, expected, 64), 0);
    free(quote);
    json_object_put(o);
}

static void test_tdx_quote_hashes(void)
{
    long status;
    json_object *o;
    char *raw = NULL;

    check_tdx_quote("", "", EVP_sha512()); /* protocol.md §9 V3 */
    check_tdx_quote("sha256", "", EVP_sha256());
    check_tdx_quote("sha384", "custom", EVP_sha384());
    check_tdx_quote("sha3-256", "", EVP_sha3_256());
    check_tdx_quote("sha3-512", "p", EVP_sha3_512());
    check_tdx_quote("keccak256", "", NULL);
    o = rpc("TAPPD_SIMULATOR_ENDPOINT", "/prpc/Tappd.TdxQuote",
            "{\"report_data\":\"00\",\"hash_algorithm\":\"md5\"}", &status, &raw);
    CU_ASSERT_EQUAL(status, 400);
    CU_ASSERT_STRING_EQUAL(field(o, "error"), "invalid hash algorithm");
    free(raw);
    json_object_put(o);
}

/* The quote log of an event-log-V2 boot (protocol.md §5.3.1): every runtime event says
 * version 2 and carries the preimage of its digest; the log replays to RTMR3; a preimage that
 * does not hash to its digest, or does not describe its event, is rejected. */
static void test_event_log_v2(void)
{
    quote_ev qe = get_quote("5e");
    dstack_event *app_id = NULL;
    dstack_error err;
    size_t runtime = 0;

    CU_ASSERT_EQUAL(dstack_event_log_check_quote(&qe.log, &qe.q, 0xF, NULL), DSTACK_OK);
    for (size_t i = 0; i < qe.log.count; i++) {
        dstack_event *e = &qe.log.events[i];

        if (e->event_type != DSTACK_RUNTIME_EVENT_TYPE)
            continue;
        runtime++;
        CU_ASSERT_EQUAL(e->version, event_log_v2 ? 2u : 1u);
        CU_ASSERT_EQUAL(e->has_preimage, event_log_v2);
        if (strcmp(e->event, "app-id") == 0)
            app_id = e;
    }
    CU_ASSERT(runtime >= 9);
    CU_ASSERT_PTR_NOT_NULL_FATAL(app_id);
    if (!event_log_v2) {
        dstack_event_log_free(&qe.log);
        return;
    }
    /* the preimage is the JCS text of the event (protocol.md §5.3.1) */
    CU_ASSERT_TRUE(app_id->preimage_len > 20 &&
                   memcmp(app_id->preimage, "{\"name\":\"app-id\",\"payload\":\"", 28) == 0);
    /* a quote log with digests: forge one whose preimage does not hash to it */
    if (app_id->digest_len == 0) {
        app_id->digest = malloc(48);
        app_id->digest_len = 48;
        dstack_runtime_event_digest_v2(app_id->event, app_id->payload, app_id->payload_len,
                                       app_id->digest);
    }
    CU_ASSERT_EQUAL(dstack_event_log_check_quote(&qe.log, &qe.q, 0xF, NULL), DSTACK_OK);
    app_id->digest[0] ^= 1;
    dstack_error_clear(&err);
    CU_ASSERT_EQUAL(dstack_event_log_check_quote(&qe.log, &qe.q, 0xF, &err), DSTACK_ERR_CRYPTO);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "does not hash to its digest"));
    app_id->digest[0] ^= 1;
    /* a preimage of another payload: hashes to its digest, but not for this event */
    app_id->payload[0] ^= 1;
    CU_ASSERT_EQUAL(dstack_event_log_check_quote(&qe.log, &qe.q, 0x7, &err), DSTACK_ERR_CRYPTO);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "not the canonical JSON"));
    dstack_event_log_free(&qe.log);
}

static void detect_agent(void)
{
    long status;
    json_object *o = rpc("DSTACK_SIMULATOR_ENDPOINT", "/Version", "{}", &status, NULL);
    const char *v = getenv("DSTACK_TEST_EVENT_LOG_V2");

    agent_v06 = status == 200 && strncmp(field(o, "version"), "0.6", 3) == 0;
    event_log_v2 = v != NULL && strcmp(v, "1") == 0;
    printf("agent %s, event log %s\n", o ? field(o, "version") : "?", event_log_v2 ? "V2" : "V1");
    json_object_put(o);
}

int main(void)
{
    static const test_case cases[] = {
        {"quote RTMRs = event-log replay, before and after EmitEvent", test_quote_replay_and_emit},
        {"quote logs of the boot's event-log version; forged V2 preimages rejected",
         test_event_log_v2},
        {"every quote replays to its own log while events are emitted",
         test_quote_consistent_under_emit},
        {"Attest returns V0 SCALE (V1 msgpack on V2 boots) with the requested report_data",
         test_attest_v0},
        {"Info is consistent with compose, quote and event log", test_info_consistency},
        {"RA-TLS leaves bind SHA-512(ratls-cert:||SPKI)", test_ratls_certs},
        {"TdxQuote hash algorithms and prefix", test_tdx_quote_hashes},
        {NULL, NULL},
    };
    int rc;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    detect_agent();
    rc = test_run_suite("sim_attest", cases);
    curl_global_cleanup();
    return rc;
}
