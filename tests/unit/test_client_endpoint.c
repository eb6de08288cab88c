/* Endpoint discovery and classification (protocol.md §1.2) and client option validation. No agent
 * is needed: nothing here connects. */
#include "test_client_util.h"

#include <stddef.h>
#include <sys/stat.h>

static const char *const guest_list[] = {"/var/run/dstack.sock", "/run/dstack.sock",
                                         "/var/run/dstack/dstack.sock", "/run/dstack/dstack.sock"};
static const char *const tappd_list[] = {"/var/run/tappd.sock", "/run/tappd.sock",
                                         "/var/run/dstack/tappd.sock", "/run/dstack/tappd.sock"};

static const char *expected_fallback(const char *const *list)
{
    struct stat st;
    for (int i = 0; i < 4; i++)
        if (stat(list[i], &st) == 0)
            return list[i];
    return list[0];
}

static void test_discovery_precedence(void)
{
    char out[512];
    dstack_error e;

    unsetenv("DSTACK_SIMULATOR_ENDPOINT");
    unsetenv("TAPPD_SIMULATOR_ENDPOINT");
    unsetenv("DSTACK_WORKER_ENDPOINT");
    /* No env: the first existing standard socket, else the first list entry. */
    CU_ASSERT_EQUAL(dstack_discover_endpoint(DSTACK_SERVICE_GUEST, NULL, out, sizeof(out), &e),
                    DSTACK_OK);
    CU_ASSERT_STRING_EQUAL(out, expected_fallback(guest_list));
    CU_ASSERT_EQUAL(dstack_discover_endpoint(DSTACK_SERVICE_TAPPD, "", out, sizeof(out), &e),
                    DSTACK_OK);
    CU_ASSERT_STRING_EQUAL(out, expected_fallback(tappd_list));
    CU_ASSERT_EQUAL(dstack_discover_endpoint(DSTACK_SERVICE_WORKER, NULL, out, sizeof(out), &e),
                    DSTACK_OK);
    CU_ASSERT_STRING_EQUAL(out, "http://localhost:8090");

    /* Env beats the list; an empty variable counts as unset. */
    setenv("DSTACK_SIMULATOR_ENDPOINT", "/tmp/sim/dstack.sock", 1);
    setenv("TAPPD_SIMULATOR_ENDPOINT", "", 1);
    setenv("DSTACK_WORKER_ENDPOINT", "/tmp/sim/external.sock", 1);
    dstack_discover_endpoint(DSTACK_SERVICE_GUEST, NULL, out, sizeof(out), &e);
    CU_ASSERT_STRING_EQUAL(out, "/tmp/sim/dstack.sock");
    dstack_discover_endpoint(DSTACK_SERVICE_TAPPD, NULL, out, sizeof(out), &e);
    CU_ASSERT_STRING_EQUAL(out, expected_fallback(tappd_list));
    dstack_discover_endpoint(DSTACK_SERVICE_WORKER, NULL, out, sizeof(out), &e);
    CU_ASSERT_STRING_EQUAL(out, "/tmp/sim/external.sock");

    /* An explicit endpoint beats the env. */
    dstack_discover_endpoint(DSTACK_SERVICE_GUEST, "http://10.0.0.1:8000", out, sizeof(out), &e);
    CU_ASSERT_STRING_EQUAL(out, "http://10.0.0.1:8000");

    /* Too small an output buffer is a usage error, never a truncated path. */
    CU_ASSERT_EQUAL(dstack_discover_endpoint(DSTACK_SERVICE_GUEST, NULL, out, 8, &e),
                    DSTACK_ERR_USAGE);
    CU_ASSERT_EQUAL(dstack_discover_endpoint(DSTACK_SERVICE_GUEST, NULL, NULL, 0, &e),
                    DSTACK_ERR_USAGE);
    CU_ASSERT_EQUAL(dstack_discover_endpoint((dstack_service)7, NULL, out, sizeof(out), &e),
                    DSTACK_ERR_USAGE);
    unsetenv("DSTACK_SIMULATOR_ENDPOINT");
    unsetenv("TAPPD_SIMULATOR_ENDPOINT");
    unsetenv("DSTACK_WORKER_ENDPOINT");
}

static dstack_status try_new(const char *endpoint, const char *const *headers, dstack_error *e)
{
    dstack_client_options o = {DSTACK_OPTIONS_INIT(dstack_client_options), .endpoint = endpoint,
                               .extra_headers = headers};
    dstack_client *c = NULL;
    dstack_status rc = dstack_client_new(&o, &c, e);
    dstack_client_free(c);
    return rc;
}

static void test_classification(void)
{
    dstack_client_options o = {DSTACK_OPTIONS_INIT(dstack_client_options),
                               .service = DSTACK_SERVICE_TAPPD, .endpoint = "https://h:1/base/"};
    dstack_client *c = NULL;
    dstack_error e;
    char longpath[200];

    CU_ASSERT_EQUAL_FATAL(dstack_client_new(&o, &c, &e), DSTACK_OK);
    CU_ASSERT_STRING_EQUAL(dstack_client_endpoint(c), "https://h:1/base/");
    CU_ASSERT_EQUAL(dstack_client_service(c), DSTACK_SERVICE_TAPPD);
    CU_ASSERT_EQUAL(dstack_client_connections_opened(c), 0);
    dstack_client_free(c);

    CU_ASSERT_EQUAL(try_new("/run/dstack.sock", NULL, &e), DSTACK_OK);
    CU_ASSERT_EQUAL(try_new("relative.sock", NULL, &e), DSTACK_OK);
    CU_ASSERT_EQUAL(try_new("unix:/run/dstack.sock", NULL, &e), DSTACK_OK);
    CU_ASSERT_EQUAL(try_new("HTTP://127.0.0.1:8090", NULL, &e), DSTACK_OK);
    CU_ASSERT_EQUAL(try_new("ftp://host/x", NULL, &e), DSTACK_ERR_USAGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.message, "ftp://host/x"));
    CU_ASSERT_EQUAL(try_new("http://", NULL, &e), DSTACK_ERR_USAGE);
    CU_ASSERT_EQUAL(try_new("http://h/x?y=1", NULL, &e), DSTACK_ERR_USAGE);
    CU_ASSERT_EQUAL(try_new("unix:", NULL, &e), DSTACK_ERR_USAGE);
    memset(longpath, 'a', sizeof(longpath) - 1);
    longpath[0] = '/';
    longpath[sizeof(longpath) - 1] = '\0';
    CU_ASSERT_EQUAL(try_new(longpath, NULL, &e), DSTACK_ERR_USAGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.message, "Unix socket address"));
}

static void test_options(void)
{
    const char *good[] = {"X-Trace: 1", "Authorization: Bearer t", NULL};
    const char *no_colon[] = {"X-Trace", NULL};
    const char *crlf[] = {"X-A: 1\r\nX-B: 2", NULL};
    dstack_client_options o = {DSTACK_OPTIONS_INIT(dstack_client_options), .endpoint = "/x.sock",
                               .timeout_ms = -1};
    dstack_client *c = (dstack_client *)&o; /* must be reset to NULL on failure */
    dstack_error e;

    CU_ASSERT_EQUAL(try_new("/x.sock", good, &e), DSTACK_OK);
    CU_ASSERT_EQUAL(try_new("/x.sock", no_colon, &e), DSTACK_ERR_USAGE);
    CU_ASSERT_EQUAL(try_new("/x.sock", crlf, &e), DSTACK_ERR_USAGE);
    CU_ASSERT_EQUAL(dstack_client_new(&o, &c, &e), DSTACK_ERR_USAGE);
    CU_ASSERT_PTR_NULL(c);
    o.timeout_ms = 0;
    o.service = (dstack_service)9;
    CU_ASSERT_EQUAL(dstack_client_new(&o, &c, &e), DSTACK_ERR_USAGE);
    CU_ASSERT_EQUAL(dstack_client_new(&o, NULL, &e), DSTACK_ERR_USAGE);
    /* NULL options: guest service with discovery. */
    setenv("DSTACK_SIMULATOR_ENDPOINT", "/tmp/none/dstack.sock", 1);
    CU_ASSERT_EQUAL_FATAL(dstack_client_new(NULL, &c, &e), DSTACK_OK);
    CU_ASSERT_STRING_EQUAL(dstack_client_endpoint(c), "/tmp/none/dstack.sock");
    CU_ASSERT_FALSE(dstack_is_reachable(c, 200));
    dstack_client_free(c);
    unsetenv("DSTACK_SIMULATOR_ENDPOINT");
    dstack_client_free(NULL);
    CU_ASSERT_PTR_NULL(dstack_client_endpoint(NULL));
}

/* api.h: a caller built against older headers (a shorter struct) keeps working, the missing
 * fields reading as unset; an uninitialised or too-new struct_size is refused by name. */
static void test_versioned_options(void)
{
    const char *headers[] = {"X-Trace", NULL}; /* invalid: proves whether the field was read */
    dstack_client_options o = {DSTACK_OPTIONS_INIT(dstack_client_options), .endpoint = "/x.sock",
                               .extra_headers = headers};
    dstack_client *c = NULL;
    dstack_error e;

    CU_ASSERT_EQUAL(dstack_client_new(&o, &c, &e), DSTACK_ERR_USAGE); /* the header is read */
    o.struct_size = offsetof(dstack_client_options, extra_headers);   /* an older caller */
    CU_ASSERT_EQUAL_FATAL(dstack_client_new(&o, &c, &e), DSTACK_OK);
    CU_ASSERT_STRING_EQUAL(dstack_client_endpoint(c), "/x.sock");
    dstack_client_free(c);
    c = NULL;
    o.struct_size = 0;
    CU_ASSERT_EQUAL(dstack_client_new(&o, &c, &e), DSTACK_ERR_USAGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.message, "DSTACK_OPTIONS_INIT(dstack_client_options)"));
    CU_ASSERT_PTR_NULL(c);
    o.struct_size = sizeof(o) + 8; /* headers newer than the library */
    CU_ASSERT_EQUAL(dstack_client_new(&o, &c, &e), DSTACK_ERR_USAGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.message, "struct_size"));
}

int main(void)
{
    static const test_case cases[] = {
        {"discovery: explicit > env > socket list > default", test_discovery_precedence},
        {"classification: http(s) URL vs socket path", test_classification},
        {"options: headers, timeouts, NULL options", test_options},
        {"options: versioned by struct_size", test_versioned_options},
        {NULL, NULL},
    };
    return test_run_suite("client_endpoint", cases);
}
