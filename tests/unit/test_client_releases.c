/* The typed RPCs whose answer depends on the agent release (protocol.md §0, §2.6), against
 * dstack-sim emulating the release named by DSTACK_TEST_RELEASE (0.4, 0.5.5, 0.5.11, 0.6):
 * EmitEvent (absent before 0.5.0, removed in 0.6: the error says which), GpuInfo (0.6),
 * Version (0.5.7+), GetQuote's attestation field (never on TDX), Info.app_cert. */
#include "test_client_util.h"

#include <dstack/rpc.h>

static const char *release;

static bool at_least(const char *v)
{
    static const char *const order[] = {"0.4", "0.5.5", "0.5.11", "0.6"};
    int have = -1, want = -1;

    for (int i = 0; i < 4; i++) {
        if (strcmp(order[i], release) == 0)
            have = i;
        if (strcmp(order[i], v) == 0)
            want = i;
    }
    return have >= want;
}

static void test_emit_event(void)
{
    dstack_client *c = sim_client(DSTACK_SERVICE_GUEST, 0);
    dstack_error e;
    dstack_status rc = dstack_emit_event(c, "release-test", (const uint8_t *)"p", 1, &e);

    if (at_least("0.5.5") && !at_least("0.6")) {
        CU_ASSERT_EQUAL(rc, DSTACK_OK);
    } else {
        CU_ASSERT_EQUAL(rc, DSTACK_ERR_AGENT);
        CU_ASSERT_STRING_EQUAL(e.agent_error, "Service not found: EmitEvent");
        /* 0.6 answers Version and removed it; 0.4 has neither (protocol.md §2.6.1) */
        CU_ASSERT_PTR_NOT_NULL(strstr(e.message, at_least("0.6")
                                                     ? "dstack 0.6.0, which removed EmitEvent"
                                                     : "agents before 0.5.0 have no EmitEvent"));
    }
    dstack_client_free(c);
}

static void test_gpu_info_and_version(void)
{
    dstack_client *c = sim_client(DSTACK_SERVICE_GUEST, 0);
    dstack_gpu_info_response g;
    dstack_version_info v;
    dstack_error e;

    if (at_least("0.6")) {
        CU_ASSERT_EQUAL(dstack_gpu_info(c, &g, &e), DSTACK_OK);
        CU_ASSERT_STRING_EQUAL(g.attestation, "");
        dstack_gpu_info_response_free(&g);
    } else {
        CU_ASSERT_EQUAL(dstack_gpu_info(c, &g, &e), DSTACK_ERR_AGENT);
        CU_ASSERT_STRING_EQUAL(e.agent_error, "Service not found: GpuInfo");
        CU_ASSERT_PTR_NULL(g.attestation);
    }
    if (at_least("0.5.11")) {
        CU_ASSERT_EQUAL_FATAL(dstack_version(c, &v, &e), DSTACK_OK);
        CU_ASSERT_STRING_EQUAL(v.version, at_least("0.6") ? "0.6.0" : "0.5.11");
        dstack_version_info_free(&v);
    } else {
        CU_ASSERT_EQUAL(dstack_version(c, &v, &e), DSTACK_ERR_AGENT);
    }
    dstack_client_free(c);
}

static void test_quote_and_info(void)
{
    dstack_client *c = sim_client(DSTACK_SERVICE_GUEST, 0);
    dstack_quote_response q;
    dstack_app_info info;
    dstack_error e;

    CU_ASSERT_EQUAL_FATAL(dstack_get_quote(c, (const uint8_t *)"r", 1, &q, &e), DSTACK_OK);
    CU_ASSERT(q.quote.len >= DSTACK_QUOTE_MIN_LEN);
    CU_ASSERT_EQUAL(q.attestation.len, 0); /* TDX (protocol.md §2.6.2) */
    /* real agents strip quote logs since 0.5.6: the replay still holds (protocol.md §5.2) */
    {
        dstack_tdx_quote parsed;
        size_t blank = 0;

        CU_ASSERT_EQUAL_FATAL(dstack_tdx_quote_parse(q.quote.data, q.quote.len, &parsed, &e),
                              DSTACK_OK);
        CU_ASSERT_EQUAL(dstack_event_log_check_quote(&q.event_log, &parsed, 0xF, &e), DSTACK_OK);
        for (size_t i = 0; i < q.event_log.count; i++)
            blank += q.event_log.events[i].event_type == DSTACK_RUNTIME_EVENT_TYPE &&
                     q.event_log.events[i].digest_len == 0;
        CU_ASSERT_EQUAL(blank > 0, at_least("0.5.11"));
    }
    dstack_quote_response_free(&q);
    CU_ASSERT_EQUAL_FATAL(dstack_info(c, &info, &e), DSTACK_OK);
    CU_ASSERT_PTR_NOT_NULL(strstr(info.app_cert, "-----BEGIN CERTIFICATE-----"));
    dstack_app_info_free(&info);
    dstack_client_free(c);
}

int main(void)
{
    static const test_case cases[] = {
        {"EmitEvent: works, absent or removed, and says which", test_emit_event},
        {"GpuInfo and Version by release", test_gpu_info_and_version},
        {"GetQuote: no attestation field on TDX, replayable logs; Info.app_cert",
         test_quote_and_info},
        {NULL, NULL},
    };

    release = test_env("DSTACK_TEST_RELEASE");
    return test_run_suite("client_releases", cases);
}
