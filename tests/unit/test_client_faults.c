/* Failure categories against dstack-sim started with injected faults (see client.cmake):
 * GetKey=delay:3000, Info=status:503, Attest=garbage, Version=truncate, Sign=close,
 * GetQuote=oversize. Every message must name the method and the endpoint. */
#include "test_client_util.h"

#include <stdio.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <dstack/rpc.h>

static void assert_names(const dstack_error *e, const char *method, const dstack_client *c)
{
    char prefix[512];
    snprintf(prefix, sizeof(prefix), "%s on %s: ", method, dstack_client_endpoint(c));
    CU_ASSERT_EQUAL(strncmp(e->message, prefix, strlen(prefix)), 0);
    CU_ASSERT_STRING_EQUAL(e->method, method);
    CU_ASSERT_STRING_EQUAL(e->endpoint, dstack_client_endpoint(c));
    if (strncmp(e->message, prefix, strlen(prefix)) != 0)
        fprintf(stderr, "unexpected message: %s\n", e->message);
}

static void test_delay_times_out(void)
{
    dstack_client *c = sim_client(DSTACK_SERVICE_GUEST, 300);
    dstack_key_response k;
    dstack_tls_key_response t;
    dstack_tls_key_request req = {DSTACK_OPTIONS_INIT(dstack_tls_key_request),
                                  .subject = "after-timeout"};
    dstack_error e;
    double start = monotonic_ms();

    CU_ASSERT_EQUAL(dstack_get_key(c, "slow", "", NULL, &k, &e), DSTACK_ERR_TIMEOUT);
    double elapsed = monotonic_ms() - start;
    CU_ASSERT(elapsed >= 250 && elapsed < 1000);
    assert_names(&e, "GetKey", c);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.message, "timed out after 300 ms"));
    CU_ASSERT_EQUAL(e.http_status, 0);
    /* The client recovers on a fresh connection. */
    CU_ASSERT_EQUAL(dstack_get_tls_key(c, &req, &t, &e), DSTACK_OK);
    dstack_tls_key_response_free(&t);
    CU_ASSERT_EQUAL(dstack_client_connections_opened(c), 2);
    dstack_client_free(c);
}

static void test_status(void)
{
    dstack_client *c = sim_client(DSTACK_SERVICE_GUEST, 0);
    dstack_app_info info;
    dstack_error e;

    CU_ASSERT_EQUAL(dstack_info(c, &info, &e), DSTACK_ERR_AGENT);
    CU_ASSERT_EQUAL(e.status, DSTACK_ERR_AGENT);
    CU_ASSERT_EQUAL(e.http_status, 503);
    CU_ASSERT_STRING_EQUAL(e.agent_error, "injected fault: status 503");
    assert_names(&e, "Info", c);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.message, "agent answered HTTP 503: injected fault"));
    CU_ASSERT_PTR_NULL(info.app_id.data);
    CU_ASSERT_FALSE(dstack_is_reachable(c, 1000));
    dstack_client_free(c);
}

static void test_garbage(void)
{
    dstack_client *c = sim_client(DSTACK_SERVICE_GUEST, 0);
    dstack_bytes att;
    dstack_error e;

    CU_ASSERT_EQUAL(dstack_attest(c, NULL, 0, &att, &e), DSTACK_ERR_PROTOCOL);
    assert_names(&e, "Attest", c);
    CU_ASSERT_PTR_NULL(att.data);
    dstack_client_free(c);
}

static void test_truncate(void)
{
    dstack_client *c = sim_client(DSTACK_SERVICE_GUEST, 0);
    dstack_version_info v;
    dstack_error e;

    CU_ASSERT_EQUAL(dstack_version(c, &v, &e), DSTACK_ERR_PROTOCOL);
    assert_names(&e, "Version", c);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.message, "truncated"));
    CU_ASSERT_PTR_NULL(v.version);
    dstack_client_free(c);
}

static void test_close(void)
{
    dstack_client *c = sim_client(DSTACK_SERVICE_GUEST, 0);
    dstack_sign_response s;
    dstack_error e;

    CU_ASSERT_EQUAL(dstack_sign(c, "secp256k1", (const uint8_t *)"x", 1, &s, &e),
                    DSTACK_ERR_CONNECTION);
    assert_names(&e, "Sign", c);
    CU_ASSERT_PTR_NULL(s.signature.data);
    dstack_client_free(c);
}

static void test_oversize(void)
{
    dstack_client *c = sim_client(DSTACK_SERVICE_GUEST, 0);
    dstack_quote_response q;
    dstack_error e;
    double start = monotonic_ms();

    CU_ASSERT_EQUAL(dstack_get_quote(c, NULL, 0, &q, &e), DSTACK_ERR_PROTOCOL);
    assert_names(&e, "GetQuote", c);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.message, "response exceeds 16777216 bytes"));
    /* Announced by Content-Length: refused without reading 32 MiB. */
    CU_ASSERT(monotonic_ms() - start < 2000);
    dstack_client_free(c);

    /* A caller-chosen cap applies to ordinary responses too. */
    dstack_client_options o = {DSTACK_OPTIONS_INIT(dstack_client_options),
                               .endpoint = test_env("DSTACK_SIMULATOR_ENDPOINT"),
                               .max_response_size = 256};
    dstack_tls_key_request req = {DSTACK_OPTIONS_INIT(dstack_tls_key_request), .subject = "big"};
    dstack_tls_key_response t;
    CU_ASSERT_EQUAL_FATAL(dstack_client_new(&o, &c, &e), DSTACK_OK);
    CU_ASSERT_EQUAL(dstack_get_tls_key(c, &req, &t, &e), DSTACK_ERR_PROTOCOL);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.message, "response exceeds 256 bytes"));
    dstack_client_free(c);
}

static dstack_status version_on(const char *endpoint, long timeout_ms, dstack_error *e)
{
    dstack_client_options o = {DSTACK_OPTIONS_INIT(dstack_client_options), .endpoint = endpoint,
                               .timeout_ms = timeout_ms};
    dstack_client *c = NULL;
    dstack_status rc = dstack_client_new(&o, &c, e);
    if (rc == DSTACK_OK) {
        dstack_key_response k;
        rc = dstack_get_key(c, "p", "", NULL, &k, e);
        dstack_key_response_free(&k);
    }
    dstack_client_free(c);
    return rc;
}

static void test_connection_errors(void)
{
    char path[256];
    dstack_error e;
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    int fd;

    /* No such socket. */
    snprintf(path, sizeof(path), "%s/absent.sock", test_env("DSTACK_SIM_DIR"));
    CU_ASSERT_EQUAL(version_on(path, 1000, &e), DSTACK_ERR_CONNECTION);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.message, "is the dstack agent running?"));
    CU_ASSERT_PTR_NOT_NULL(strstr(e.message, path));
    CU_ASSERT_STRING_EQUAL(e.method, "GetKey");

    /* A bound socket nobody listens on: refused. */
    snprintf(path, sizeof(path), "%s/dead.sock", test_env("DSTACK_SIM_DIR"));
    snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    CU_ASSERT_FATAL(fd >= 0 && bind(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0);
    CU_ASSERT_EQUAL(version_on(path, 1000, &e), DSTACK_ERR_CONNECTION);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.message, "connection refused"));
    close(fd);
    unlink(path);

    /* TCP: a port with no listener (bound, not listening, so nothing else takes it). */
    struct sockaddr_in in = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(in);
    char url[64];
    fd = socket(AF_INET, SOCK_STREAM, 0);
    CU_ASSERT_FATAL(fd >= 0 && bind(fd, (struct sockaddr *)&in, sizeof(in)) == 0 &&
                    getsockname(fd, (struct sockaddr *)&in, &len) == 0);
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/", (unsigned)ntohs(in.sin_port));
    CU_ASSERT_EQUAL(version_on(url, 1000, &e), DSTACK_ERR_CONNECTION);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.message, "GetKey on http://127.0.0.1:"));
    close(fd);
}

/* Faults and successes in one batch: each result keeps its own category. */
static void test_batch_mixed(void)
{
    dstack_client_options o = {DSTACK_OPTIONS_INIT(dstack_client_options),
                               .endpoint = test_env("DSTACK_SIMULATOR_ENDPOINT"),
                               .timeout_ms = 300};
    dstack_client *c = NULL;
    dstack_batch_request req[] = {{"GetKey", "{\"path\":\"a\"}"},
                                  {"GetTlsKey", NULL},
                                  {"Info", NULL},
                                  {"Attest", NULL},
                                  {"Sign", "{\"algorithm\":\"ed25519\",\"data\":\"00\"}"},
                                  {"Verify", "{\"algorithm\":\"x\"}"}};
    const dstack_status want[] = {DSTACK_ERR_TIMEOUT,    DSTACK_OK,
                                  DSTACK_ERR_AGENT,      DSTACK_ERR_PROTOCOL,
                                  DSTACK_ERR_CONNECTION, DSTACK_ERR_AGENT};
    dstack_batch_result res[6];
    dstack_error e;
    double start;

    CU_ASSERT_EQUAL_FATAL(dstack_client_new(&o, &c, &e), DSTACK_OK);
    start = monotonic_ms();
    CU_ASSERT_EQUAL(dstack_call_batch(c, req, 6, res, 0, &e), DSTACK_ERR_TIMEOUT);
    CU_ASSERT(monotonic_ms() - start < 1500);
    for (int i = 0; i < 6; i++) {
        CU_ASSERT_EQUAL(res[i].status, want[i]);
        if (res[i].status != want[i])
            fprintf(stderr, "batch[%d]: %s\n", i, res[i].error.message);
        if (want[i] != DSTACK_OK)
            CU_ASSERT_STRING_EQUAL(res[i].error.method, req[i].method);
    }
    CU_ASSERT_EQUAL(res[2].error.http_status, 503);
    CU_ASSERT_EQUAL(res[1].response.http_status, 200);
    dstack_batch_results_clear(res, 6);
    dstack_client_free(c);
}

int main(void)
{
    static const test_case cases[] = {
        {"delay beyond timeout → timeout, fast", test_delay_times_out},
        {"status 503 → agent with text", test_status},
        {"garbage → protocol", test_garbage},
        {"truncate → protocol", test_truncate},
        {"close → connection", test_close},
        {"oversize → protocol", test_oversize},
        {"missing/refused socket and TCP port → connection", test_connection_errors},
        {"batch with faults: per-request categories", test_batch_mixed},
        {NULL, NULL},
    };
    return test_run_suite("client_faults", cases);
}
