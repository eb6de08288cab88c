/* dstack_resolve() against a simulator with injected faults. The same program serves three
 * registrations (tests/unit/resolve.cmake), chosen by RESOLVE_FAULT_SUITE:
 *   certs    — DeriveKey, Attest, GetQuote, Info answer HTTP 500/503: a key-only load makes
 *              no certificate RPC and succeeds; certificate loads fail naming the RPC.
 *   timeout  — GetKey is delayed 3 s; a 300 ms resolver gives up in time.
 *   close    — GetKey closes the connection: a failure, not a legacy Tappd-only agent.
 *   deadline — Info is delayed 0.7 s, GetKey 1.2 s, DeriveKey 0.7 s: each RPC alone fits a
 *              1.5 s timeout, all of them together do not, and timeout_ms bounds the whole
 *              dstack_resolve(); a fork while another thread is mid-resolution leaves the
 *              child a usable resolver (no inherited held lock).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <dstack/keys.h>
#include <dstack/resolve.h>

#include "test_resolve_util.h"
#include "test_util.h"

#define WANT_ALL (DSTACK_WANT_KEY | DSTACK_WANT_CERTS)

static void test_key_only_makes_no_cert_rpc(void)
{
    dstack_resolver *r = tr_resolver(false, NULL);
    static const char *const uris[] = {"dstack:tls/web?cert=agent",
                                       "dstack:tls/web?cert=self&ratls=attest",
                                       "dstack:tls/web?cert=self&ratls=quote",
                                       "dstack:tls/web",
                                       "dstack:id?alg=ed25519&cert=self",
                                       NULL};
    for (size_t i = 0; uris[i] != NULL; i++) {
        dstack_resolved *res = tr_resolve_ok(r, uris[i], DSTACK_WANT_KEY);
        CU_ASSERT_PTR_NOT_NULL(res);
        if (res != NULL)
            CU_ASSERT_EQUAL(res->cert_count, 0);
        dstack_resolved_free(res);
    }
    dstack_resolver_free(r);
}

static void test_cert_rpcs_fail(void)
{
    dstack_resolver *r = tr_resolver(true, NULL);
    char ep[600];
    snprintf(ep, sizeof(ep), "%s", test_env("TAPPD_SIMULATOR_ENDPOINT"));
    tr_resolve_fails(r, "dstack:tls/web?cert=agent", WANT_ALL, DSTACK_ERR_AGENT,
                     (const char *const[]){"dstack:tls/web?cert=agent: ", "DeriveKey", ep,
                                           "injected fault", NULL});
    /* cert=auto falls back to self only when Tappd is absent, not when it fails. */
    tr_resolve_fails(r, "dstack:tls/web", WANT_ALL, DSTACK_ERR_AGENT,
                     (const char *const[]){"DeriveKey", "500", NULL});
    snprintf(ep, sizeof(ep), "%s", test_env("DSTACK_SIMULATOR_ENDPOINT"));
    tr_resolve_fails(r, "dstack:tls/web?cert=self&ratls=attest", WANT_ALL, DSTACK_ERR_AGENT,
                     (const char *const[]){"Attest", ep, "500", NULL});
    tr_resolve_fails(r, "dstack:tls/web?cert=self&ratls=quote", WANT_ALL, DSTACK_ERR_AGENT,
                     (const char *const[]){"GetQuote", ep, "500", NULL});
    /* ratls=auto only falls back to GetQuote when Attest does not exist. */
    tr_resolve_fails(r, "dstack:tls/web?cert=self", WANT_ALL, DSTACK_ERR_AGENT,
                     (const char *const[]){"Attest", NULL});
    /* A failure is not cached: the key-only load still works afterwards. */
    dstack_resolved *res = tr_resolve_ok(r, "dstack:tls/web?cert=self", DSTACK_WANT_KEY);
    CU_ASSERT_PTR_NOT_NULL(res);
    dstack_resolved_free(res);
    /* Plain self-signed certificates need no agent evidence. */
    res = tr_resolve_ok(r, "dstack:tls/web?cert=self&ratls=no", WANT_ALL);
    CU_ASSERT(res != NULL && res->cert_count == 1);
    dstack_resolved_free(res);
    dstack_resolver_free(r);
}

static void cfg_app_id(dstack_config *cfg)
{
    tr_set(cfg, "app-id", test_env("DSTACK_DEV_APP_ID"));
}

static void test_info_failure(void)
{
    dstack_resolver *r = tr_resolver(false, cfg_app_id);
    tr_resolve_fails(r, "dstack:tls/web", DSTACK_WANT_KEY, DSTACK_ERR_AGENT,
                     (const char *const[]){"dstack:tls/web: ", "Info", "503", NULL});
    dstack_resolver_free(r);
}

static void cfg_short_timeout(dstack_config *cfg)
{
    tr_set(cfg, "timeout-ms", "300");
}

static void test_timeout(void)
{
    struct timespec a, b;
    dstack_resolver *r = tr_resolver(false, cfg_short_timeout);
    clock_gettime(CLOCK_MONOTONIC, &a);
    tr_resolve_fails(r, "dstack:tls/web", DSTACK_WANT_KEY, DSTACK_ERR_TIMEOUT,
                     (const char *const[]){"dstack:tls/web: ", "GetKey", NULL});
    clock_gettime(CLOCK_MONOTONIC, &b);
    long ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
    fprintf(stderr, "  gave up after %ld ms\n", ms);
    CU_ASSERT(ms >= 250 && ms < 1000);
    dstack_resolver_free(r);
}

/* An agent that drops the connection is failing, not absent: no Tappd fallback. */
static void test_close_is_not_absence(void)
{
    dstack_resolver *r = tr_resolver(false, NULL);
    tr_resolve_fails(r, "dstack:tls/web", DSTACK_WANT_KEY, DSTACK_ERR_CONNECTION,
                     (const char *const[]){"dstack:tls/web: ", "GetKey", NULL});
    dstack_resolver_free(r);
}

static void cfg_deadline(dstack_config *cfg)
{
    cfg_app_id(cfg);
    tr_set(cfg, "timeout-ms", "1500");
}

static long elapsed_ms(const struct timespec *a)
{
    struct timespec b;
    clock_gettime(CLOCK_MONOTONIC, &b);
    return (b.tv_sec - a->tv_sec) * 1000 + (b.tv_nsec - a->tv_nsec) / 1000000;
}

/* Info (0.7 s) + GetKey (1.2 s) exceed 1.5 s: the resolution stops at its deadline instead of
 * taking Info + GetKey + DeriveKey = 2.6 s. */
static void test_whole_resolution_deadline(void)
{
    struct timespec a;
    dstack_resolver *r = tr_resolver(false, cfg_deadline);
    clock_gettime(CLOCK_MONOTONIC, &a);
    tr_resolve_fails(r, "dstack:tls/web?cert=agent", WANT_ALL, DSTACK_ERR_TIMEOUT,
                     (const char *const[]){"dstack:tls/web?cert=agent: ", "GetKey",
                                           "1500 ms for the whole resolution", NULL});
    long ms = elapsed_ms(&a);
    fprintf(stderr, "  gave up after %ld ms\n", ms);
    CU_ASSERT(ms >= 1400 && ms < 1900);
    dstack_resolver_free(r);
}

static void *resolve_in_thread(void *arg)
{
    dstack_resolved *res = NULL;
    dstack_error err;
    dstack_status rc = dstack_resolve(arg, "dstack:slow?cert=none", DSTACK_WANT_KEY, &res, &err);
    dstack_resolved_free(res);
    return (void *)(intptr_t)rc;
}

/* A thread holds the resolver (GetKey is delayed 1.2 s) while the main thread forks: the
 * child must be able to resolve on the same resolver, not block on the inherited lock. */
static void test_fork_while_resolving(void)
{
    dstack_resolver *r = tr_resolver(true, NULL);
    pthread_t t;
    void *thread_rc = NULL;
    int status = 0;

    CU_ASSERT_FATAL(pthread_create(&t, NULL, resolve_in_thread, r) == 0);
    usleep(300 * 1000); /* the thread is now inside GetKey, holding the resolver lock */
    pid_t pid = fork();
    if (pid == 0) {
        dstack_resolved *res = NULL;
        dstack_error err;
        alarm(10); /* a deadlocked child dies of SIGALRM instead of hanging the test */
        dstack_status rc = dstack_resolve(r, "dstack:child?cert=none", DSTACK_WANT_KEY, &res, &err);
        if (rc != DSTACK_OK)
            fprintf(stderr, "  child: %s\n", err.message);
        _exit(rc == DSTACK_OK && res != NULL && res->key_der != NULL ? 0 : 1);
    }
    CU_ASSERT_FATAL(pid > 0);
    CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    if (WIFSIGNALED(status))
        fprintf(stderr, "  child killed by signal %d\n", WTERMSIG(status));
    CU_ASSERT_EQUAL(pthread_join(t, &thread_rc), 0);
    CU_ASSERT_EQUAL((intptr_t)thread_rc, DSTACK_OK);
    /* The parent's resolver is intact: its cache serves the thread's key. */
    dstack_resolved *res = tr_resolve_ok(r, "dstack:slow?cert=none", DSTACK_WANT_KEY);
    CU_ASSERT_PTR_NOT_NULL(res);
    dstack_resolved_free(res);
    dstack_resolver_free(r);
}

int main(void)
{
    static const test_case certs[] = {
        {"key-only loads make no certificate RPC", test_key_only_makes_no_cert_rpc},
        {"certificate RPC failures", test_cert_rpcs_fail},
        {"Info failure with app-id", test_info_failure},
        {NULL, NULL},
    };
    static const test_case timeout[] = {
        {"timeout", test_timeout},
        {NULL, NULL},
    };
    static const test_case close_cases[] = {
        {"closed connection is not a missing agent", test_close_is_not_absence},
        {NULL, NULL},
    };
    static const test_case deadline[] = {
        {"timeout_ms bounds the whole resolution", test_whole_resolution_deadline},
        {"fork while another thread resolves", test_fork_while_resolving},
        {NULL, NULL},
    };
    const char *suite = test_env("RESOLVE_FAULT_SUITE");
    if (strcmp(suite, "deadline") == 0)
        return test_run_suite("resolve-faults-deadline", deadline);
    if (strcmp(suite, "close") == 0)
        return test_run_suite("resolve-faults-close", close_cases);
    if (strcmp(suite, "certs") == 0)
        return test_run_suite("resolve-faults-certs", certs);
    if (strcmp(suite, "timeout") == 0)
        return test_run_suite("resolve-faults-timeout", timeout);
    fprintf(stderr, "unknown RESOLVE_FAULT_SUITE %s\n", suite);
    return 2;
}
