/* Response decoding of the typed RPCs against bodies dstack-sim never sends: old agents
 * (0.3.x WorkerInfo), non-TDX nulls, mistyped and malformed fields. A tiny HTTP/1.1 server
 * on a Unix socket in this process (tests/lib/canned_server) answers with the body the test
 * chose. */
#include "canned_server.h"
#include "test_client_util.h"

#include <stdio.h>

#include <dstack/rpc.h>

/* Every request gets the body the current test chose. */
static void set_body(const char *body)
{
    canned_server_set(NULL, body);
}

static dstack_client *client(dstack_service service)
{
    dstack_client_options o = {DSTACK_OPTIONS_INIT(dstack_client_options), .service = service,
                               .endpoint = canned_server_path(), .timeout_ms = 2000};
    dstack_client *c = NULL;
    dstack_error e;
    CU_ASSERT_EQUAL_FATAL(dstack_client_new(&o, &c, &e), DSTACK_OK);
    return c;
}

static void expect_protocol(dstack_status rc, const dstack_error *e, const char *needle)
{
    CU_ASSERT_EQUAL(rc, DSTACK_ERR_PROTOCOL);
    CU_ASSERT_EQUAL(e->status, DSTACK_ERR_PROTOCOL);
    CU_ASSERT_PTR_NOT_NULL(strstr(e->message, needle));
    CU_ASSERT_PTR_NOT_NULL(strstr(e->message, canned_server_path()));
    if (strstr(e->message, needle) == NULL)
        fprintf(stderr, "message without [%s]: %s\n", needle, e->message);
}

static void test_legacy_worker_info(void)
{
    dstack_client *c = client(DSTACK_SERVICE_TAPPD);
    dstack_app_info info;
    dstack_error e;

    /* 0.3.x: string ids, rootfs_hash-style tcb_info without mr_aggregated (protocol.md §2.4). */
    set_body("{\"app_id\":\"app-7\",\"instance_id\":\"0a0b\",\"app_cert\":\"\","
             "\"tcb_info\":\"{\\\"rootfs_hash\\\":\\\"ab\\\",\\\"event_log\\\":[]}\","
             "\"app_name\":\"old\",\"public_logs\":true,\"public_sysinfo\":false}");
    CU_ASSERT_EQUAL_FATAL(dstack_info(c, &info, &e), DSTACK_OK);
    CU_ASSERT_TRUE(info.legacy_worker_info);
    CU_ASSERT_EQUAL(info.app_id.len, 5);
    CU_ASSERT(memcmp(info.app_id.data, "app-7", 5) == 0);
    CU_ASSERT_HEX_EQUAL(info.instance_id.data, info.instance_id.len, "0a0b");
    CU_ASSERT_TRUE(info.tcb_info.present);
    CU_ASSERT_FALSE(info.tcb_info.has_rtmrs);
    CU_ASSERT_STRING_EQUAL(info.tcb_info.mr_aggregated, "");
    CU_ASSERT_STRING_EQUAL(info.key_provider_name, "");
    CU_ASSERT_STRING_EQUAL(info.cloud_vendor, "");
    CU_ASSERT_EQUAL(info.compose_hash.len, 0);
    dstack_app_info_free(&info);

    /* Non-TDX: null measurements are "absent", not an error; no tcb_info at all is fine. */
    set_body("{\"app_id\":\"00\",\"tcb_info\":\"{\\\"mrtd\\\":null,\\\"rtmr0\\\":null}\"}");
    CU_ASSERT_EQUAL_FATAL(dstack_info(c, &info, &e), DSTACK_OK);
    CU_ASSERT_FALSE(info.legacy_worker_info);
    CU_ASSERT_TRUE(info.tcb_info.present);
    CU_ASSERT_FALSE(info.tcb_info.has_rtmrs);
    dstack_app_info_free(&info);
    set_body("{}");
    CU_ASSERT_EQUAL_FATAL(dstack_info(c, &info, &e), DSTACK_OK);
    CU_ASSERT_FALSE(info.tcb_info.present);
    CU_ASSERT_STRING_EQUAL(info.tcb_info.app_compose, "");
    dstack_app_info_free(&info);
    dstack_client_free(c);
}

static void test_bad_info(void)
{
    static const struct {
        const char *body, *needle;
    } cases[] = {
        {"{\"app_id\":5}", "\"app_id\" is int"},
        {"{\"app_id\":\"xyz\"}", "\"app_id\" is not valid hex"},
        {"{\"tcb_info\":\"not json\"}", "\"tcb_info\" is not a JSON object"},
        {"{\"tcb_info\":\"[1]\"}", "\"tcb_info\" is not a JSON object"},
        {"{\"tcb_info\":\"{\\\"mrtd\\\":7}\"}", "\"tcb_info.mrtd\" is int"},
        {"{\"tcb_info\":\"{\\\"event_log\\\":\\\"[]\\\"}\"}", "\"tcb_info.event_log\" is string"},
        {"{\"tcb_info\":\"{\\\"event_log\\\":[{\\\"imr\\\":\\\"x\\\"}]}\"}",
         "\"tcb_info.event_log\""},
        {"{\"key_provider_info\":\"{\\\"name\\\":1}\"}", "\"key_provider_info.name\" is int"},
        {"{\"key_provider_info\":\"kms\"}", "\"key_provider_info\" is not a JSON object"},
        {"{\"vm_config\":{}}", "\"vm_config\" is object"},
        {"null", "empty response"},
        {"[]", "response is a JSON array"},
        {"{\"app_id\":\"00\"} trailing", "not valid JSON"},
    };
    dstack_client *c = client(DSTACK_SERVICE_GUEST);
    dstack_app_info info;
    dstack_error e;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        set_body(cases[i].body);
        expect_protocol(dstack_info(c, &info, &e), &e, cases[i].needle);
        CU_ASSERT_STRING_EQUAL(e.method, "Info");
        CU_ASSERT_PTR_NULL(info.app_name);
    }
    dstack_client_free(c);
}

static void test_bad_keys(void)
{
    dstack_client *c = client(DSTACK_SERVICE_GUEST);
    dstack_key_response k;
    dstack_tls_key_response t;
    dstack_tls_key_request req = {DSTACK_OPTIONS_INIT(dstack_tls_key_request), .subject = "x"};
    dstack_error e;

    set_body("{\"key\":\"00112233445566778899aabbccddeeff00112233445566778899aabbccddee\"}");
    expect_protocol(dstack_get_key(c, "p", "", NULL, &k, &e), &e,
                    "\"key\" holds 31 bytes, expected 32");
    CU_ASSERT_PTR_NULL(k.key.data);
    /* A malformed key is reported without echoing it. */
    set_body("{\"key\":\"secretsecretsecretsecretsecretsecretsecretsecretsecretsecret1234\"}");
    expect_protocol(dstack_get_key(c, "p", "", NULL, &k, &e), &e, "\"key\" is not valid hex");
    CU_ASSERT_PTR_NULL(strstr(e.message, "secret"));
    set_body("{\"key\":\"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\","
             "\"signature_chain\":[\"00\",7]}");
    expect_protocol(dstack_get_key(c, "p", "", NULL, &k, &e), &e, "\"signature_chain[1]\" is int");
    CU_ASSERT_PTR_NULL(k.signature_chain);
    set_body("{\"key\":\"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"}");
    CU_ASSERT_EQUAL(dstack_get_key(c, "p", "", NULL, &k, &e), DSTACK_OK);
    CU_ASSERT_EQUAL(k.signature_chain_len, 0);
    dstack_key_response_free(&k);

    set_body("{\"key\":\"\",\"certificate_chain\":[]}");
    expect_protocol(dstack_get_tls_key(c, &req, &t, &e), &e, "\"key\" is empty");
    set_body("{\"key\":\"PEM\",\"certificate_chain\":\"PEM\"}");
    expect_protocol(dstack_get_tls_key(c, &req, &t, &e), &e,
                    "\"certificate_chain\" is string, expected an array");
    CU_ASSERT_PTR_NULL(t.key_pem);
    dstack_client_free(c);
}

static void test_bad_quotes_and_misc(void)
{
    dstack_client *c = client(DSTACK_SERVICE_GUEST);
    dstack_quote_response q;
    dstack_sign_response s;
    dstack_version_info v;
    dstack_error e;
    bool valid = true;

    set_body("{\"quote\":\"00\",\"event_log\":\"[{\\\"imr\\\":9,\"}");
    expect_protocol(dstack_get_quote(c, NULL, 0, &q, &e), &e, "\"event_log\"");
    CU_ASSERT_STRING_EQUAL(e.method, "GetQuote");
    CU_ASSERT_PTR_NULL(q.quote.data);
    set_body("{\"quote\":\"00ff\",\"event_log\":\"\",\"report_data\":\"\"}");
    CU_ASSERT_EQUAL(dstack_get_quote(c, NULL, 0, &q, &e), DSTACK_OK);
    CU_ASSERT_EQUAL(q.event_log.count, 0);
    CU_ASSERT_STRING_EQUAL(q.vm_config, "");
    dstack_quote_response_free(&q);

    set_body("{\"valid\":\"yes\"}");
    expect_protocol(dstack_verify(c, "ed25519", NULL, 0, NULL, 0, NULL, 0, &valid, &e), &e,
                    "\"valid\" is string, expected a boolean");
    CU_ASSERT_FALSE(valid);
    set_body("{\"signature\":\"zz\"}");
    expect_protocol(dstack_sign(c, "ed25519", NULL, 0, &s, &e), &e, "\"signature\"");
    set_body("{\"version\":[]}");
    expect_protocol(dstack_version(c, &v, &e), &e, "\"version\" is array");

    /* Empty responses: null, an empty body and {} are all fine for EmitEvent (protocol.md §1.4). */
    static const char *const empty[] = {"null", "", "{}", " \n"};
    for (int i = 0; i < 4; i++) {
        set_body(empty[i]);
        CU_ASSERT_EQUAL(dstack_emit_event(c, "ev", (const uint8_t *)"p", 1, &e), DSTACK_OK);
    }
    set_body("[null]");
    expect_protocol(dstack_emit_event(c, "ev", NULL, 0, &e), &e, "JSON array");
    /* Everything above went over one connection. */
    CU_ASSERT_EQUAL(dstack_client_connections_opened(c), 1);
    dstack_client_free(c);
}

/* 0.6 agents without a TDX quote: GetQuote carries the attestation field only (protocol.md
 * protocol.md §2.6.2); GpuInfo's text (§2.6.3). */
static void test_v06_bodies(void)
{
    /* V0 SCALE, nitro-enclave: document "nsm", no runtime events, report_data 0, config "" */
    char att_hex[160];
    dstack_client *c = client(DSTACK_SERVICE_GUEST);
    dstack_quote_response q;
    dstack_gpu_info_response g;
    dstack_attestation a;
    dstack_error e;
    char body[512];

    snprintf(att_hex, sizeof(att_hex), "00020c6e736d00%0128d00", 0);
    snprintf(body, sizeof(body),
             "{\"quote\":\"\",\"event_log\":\"\",\"report_data\":\"%0128d\",\"vm_config\":"
             "\"{}\",\"attestation\":\"%s\"}",
             0, att_hex);
    set_body(body);
    CU_ASSERT_EQUAL_FATAL(dstack_get_quote(c, NULL, 0, &q, &e), DSTACK_OK);
    CU_ASSERT_EQUAL(q.quote.len, 0);
    CU_ASSERT_EQUAL(q.event_log.count, 0);
    CU_ASSERT_EQUAL_FATAL(q.attestation.len, strlen(att_hex) / 2);
    CU_ASSERT_EQUAL_FATAL(dstack_attestation_decode(q.attestation.data, q.attestation.len, &a, &e),
                          DSTACK_OK);
    CU_ASSERT_EQUAL(a.platform, DSTACK_PLATFORM_NITRO_ENCLAVE);
    CU_ASSERT_EQUAL(a.platform_document_len, 3);
    dstack_attestation_free(&a);
    dstack_quote_response_free(&q);
    CU_ASSERT_PTR_NULL(q.attestation.data);
    set_body("{\"quote\":\"\",\"event_log\":\"\",\"attestation\":7}");
    expect_protocol(dstack_get_quote(c, NULL, 0, &q, &e), &e, "\"attestation\"");
    set_body("{\"quote\":\"\",\"event_log\":\"\",\"attestation\":\"0g\"}");
    expect_protocol(dstack_get_quote(c, NULL, 0, &q, &e), &e, "\"attestation\" is not valid hex");
    set_body("{\"quote\":\"\",\"event_log\":\"\",\"attestation\":null}");
    expect_protocol(dstack_get_quote(c, NULL, 0, &q, &e), &e, "\"attestation\"");

    set_body("{\"attestation\":\"{\\\"version\\\":4}\"}");
    CU_ASSERT_EQUAL_FATAL(dstack_gpu_info(c, &g, &e), DSTACK_OK);
    CU_ASSERT_STRING_EQUAL(g.attestation, "{\"version\":4}");
    dstack_gpu_info_response_free(&g);
    set_body("{}"); /* proto3 default */
    CU_ASSERT_EQUAL_FATAL(dstack_gpu_info(c, &g, &e), DSTACK_OK);
    CU_ASSERT_STRING_EQUAL(g.attestation, "");
    dstack_gpu_info_response_free(&g);
    set_body("{\"attestation\":{}}");
    expect_protocol(dstack_gpu_info(c, &g, &e), &e, "\"attestation\" is object");
    CU_ASSERT_PTR_NULL(g.attestation);
    set_body("[]");
    expect_protocol(dstack_gpu_info(c, &g, &e), &e, "JSON array");
    dstack_client_free(c);
}

int main(void)
{
    static const test_case cases[] = {
        {"0.6: GetQuote attestation field, GpuInfo", test_v06_bodies},
        {"Info: 0.3.x WorkerInfo, non-TDX nulls, defaults", test_legacy_worker_info},
        {"Info: mistyped and malformed fields", test_bad_info},
        {"GetKey/GetTlsKey: wrong lengths and types", test_bad_keys},
        {"GetQuote, Verify, Sign, Version, EmitEvent bodies", test_bad_quotes_and_misc},
        {NULL, NULL},
    };
    if (canned_server_start("decode") != 0) {
        perror("test server");
        return 2;
    }
    int rc = test_run_suite("client_decode", cases);
    canned_server_stop();
    return rc;
}
