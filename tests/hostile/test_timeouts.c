/* timeout-ms bounds every caller, not just the one whose RPC is in flight (issue
 * "Hardening", item 10; architecture.md §4 "Deadline"), and a cache hit never waits for another
 * thread's agent round trip.
 *
 *  1. timeout-ms = 2000, an agent that never answers (dstack-sim --fault '*=delay:60000', and a
 *     socket that accepts connections and never reads them): 8 threads load at once, 4 the same
 *     URI and 4 URIs of their own. Every load must fail within 3 s of its start.
 *  2. dstack-sim --fault GetKey=delay:3000: a URI is loaded once (cached); thread A loads a new
 *     URI and waits for GetKey; 500 ms later thread B loads the cached URI, which must return
 *     the cached key in under 500 ms.
 * The test starts its own simulators (dstack-sim's built-in identity) and stops them. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test_provider_common.h"

#define N_THREADS 8
#define TIMEOUT_MS 2000
#define BOUND_MS 3000

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static const char *tmpdir(void)
{
    const char *t = getenv("TMPDIR");
    return t != NULL ? t : "/tmp";
}

/* ---- agents ------------------------------------------------------------------------------ */

typedef struct sim {
    pid_t pid;
    char dir[512];
    char guest[600], tappd[600];
} sim;

/* dstack-sim --dir <tmp>/<name> --fault <fault>; waits until it announces its endpoints. */
static int sim_start(sim *s, const char *name, const char *fault)
{
    char out[600];
    memset(s, 0, sizeof(*s));
    snprintf(s->dir, sizeof(s->dir), "%s/%s", tmpdir(), name);
    snprintf(s->guest, sizeof(s->guest), "%s/dstack.sock", s->dir);
    snprintf(s->tappd, sizeof(s->tappd), "%s/tappd.sock", s->dir);
    snprintf(out, sizeof(out), "%s/sim.out", s->dir);
    if (mkdir(s->dir, 0700) != 0 && errno != EEXIST)
        return 0;
    s->pid = fork();
    if (s->pid < 0)
        return 0;
    if (s->pid == 0) {
        FILE *f = freopen(out, "w", stdout);
        (void)f;
        execl(test_env("DSTACK_SIM"), "dstack-sim", "--dir", s->dir, "--fault", fault,
              (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 200; i++) {
        size_t len = 0;
        char *text = (char *)test_read_file(out, &len);
        int up = text != NULL && strstr(text, "DSTACK_SIMULATOR_ENDPOINT=") != NULL;
        free(text);
        if (up)
            return 1;
        if (waitpid(s->pid, NULL, WNOHANG) == s->pid) {
            s->pid = 0;
            return 0;
        }
        sleep_ms(50);
    }
    return 0;
}

static void sim_stop(sim *s)
{
    if (s->pid <= 0)
        return;
    kill(s->pid, SIGTERM);
    for (int i = 0; i < 50; i++) {
        if (waitpid(s->pid, NULL, WNOHANG) == s->pid) {
            s->pid = 0;
            return;
        }
        sleep_ms(100);
    }
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
    s->pid = 0;
}

/* A socket that accepts connections and never reads or answers them. */
typedef struct mute {
    int fd;
    char path[600];
    pthread_t thread;
    int conns[64];
    int n_conns;
} mute;

static void *mute_main(void *arg)
{
    mute *m = arg;
    for (;;) {
        int fd = accept(m->fd, NULL, NULL);
        if (fd < 0)
            return NULL;
        if (m->n_conns < 64)
            m->conns[m->n_conns++] = fd;
        else
            close(fd);
    }
}

static int mute_start(mute *m)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memset(m, 0, sizeof(*m));
    snprintf(m->path, sizeof(m->path), "%s/mute.sock", tmpdir());
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", m->path);
    m->fd = socket(AF_UNIX, SOCK_STREAM, 0);
    return m->fd >= 0 && bind(m->fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
           listen(m->fd, 64) == 0 && pthread_create(&m->thread, NULL, mute_main, m) == 0;
}

static void mute_stop(mute *m)
{
    shutdown(m->fd, SHUT_RDWR);
    close(m->fd);
    pthread_join(m->thread, NULL);
    for (int i = 0; i < m->n_conns; i++)
        close(m->conns[i]);
    unlink(m->path);
}

/* ---- the provider, configured as an application would ------------------------------------ */

static OSSL_LIB_CTX *context_for(const char *name, const char *guest, const char *tappd,
                                 long timeout_ms)
{
    char path[700];
    OSSL_LIB_CTX *ctx = OSSL_LIB_CTX_new();
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s.cnf", tmpdir(), name);
    f = fopen(path, "w");
    if (ctx == NULL || f == NULL) {
        if (f != NULL)
            fclose(f);
        OSSL_LIB_CTX_free(ctx);
        return NULL;
    }
    fprintf(f,
            "openssl_conf = openssl_init\n"
            "[openssl_init]\nproviders = provider_sect\n"
            "[provider_sect]\ndefault = default_sect\ndstack = dstack_sect\n"
            "[default_sect]\nactivate = 1\n"
            "[dstack_sect]\nactivate = 1\nendpoint = %s\ntappd-endpoint = %s\n"
            "timeout-ms = %ld\ncache = yes\n",
            guest, tappd, timeout_ms);
    fclose(f);
    if (!OSSL_PROVIDER_set_default_search_path(ctx, test_env("DSTACK_PROVIDER_DIR")) ||
        !OSSL_LIB_CTX_load_config(ctx, path)) {
        OSSL_LIB_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

/* ---- 1. every caller bounded ------------------------------------------------------------- */

typedef struct loader {
    OSSL_LIB_CTX *ctx;
    pthread_barrier_t *start;
    char uri[96];
    double elapsed_ms;
    EVP_PKEY *key;
} loader;

static void *loader_main(void *arg)
{
    loader *l = arg;
    double t0;
    pthread_barrier_wait(l->start);
    t0 = now_ms();
    l->key = test_load_key(l->ctx, l->uri);
    l->elapsed_ms = now_ms() - t0;
    return NULL;
}

static void concurrent_loads_bounded(const char *what, const char *guest, const char *tappd)
{
    OSSL_LIB_CTX *ctx = context_for(what, guest, tappd, TIMEOUT_MS);
    pthread_barrier_t start;
    pthread_t tids[N_THREADS];
    loader l[N_THREADS];
    double worst = 0;

    CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
    pthread_barrier_init(&start, NULL, N_THREADS);
    for (int i = 0; i < N_THREADS; i++) {
        memset(&l[i], 0, sizeof(l[i]));
        l[i].ctx = ctx;
        l[i].start = &start;
        if (i < N_THREADS / 2)
            snprintf(l[i].uri, sizeof(l[i].uri), "dstack:hung/same?cert=none");
        else
            snprintf(l[i].uri, sizeof(l[i].uri), "dstack:hung/own-%d?cert=none", i);
        CU_ASSERT_FATAL(pthread_create(&tids[i], NULL, loader_main, &l[i]) == 0);
    }
    fprintf(stderr, "  %s, timeout-ms %d:", what, TIMEOUT_MS);
    for (int i = 0; i < N_THREADS; i++) {
        pthread_join(tids[i], NULL);
        fprintf(stderr, " %s %.0f ms%s", i < N_THREADS / 2 ? "same" : "own", l[i].elapsed_ms,
                i + 1 < N_THREADS ? "," : "\n");
        CU_ASSERT_PTR_NULL(l[i].key); /* the agent never answered */
        CU_ASSERT(l[i].elapsed_ms <= BOUND_MS);
        if (l[i].elapsed_ms > worst)
            worst = l[i].elapsed_ms;
        EVP_PKEY_free(l[i].key);
    }
    if (worst > BOUND_MS)
        fprintf(stderr,
                "  %s: the slowest of %d concurrent loads returned after %.0f ms "
                "(bound %d ms)\n",
                what, N_THREADS, worst, BOUND_MS);
    pthread_barrier_destroy(&start);
    OSSL_LIB_CTX_free(ctx);
}

static void test_hung_simulator(void)
{
    sim s;
    CU_ASSERT_FATAL(sim_start(&s, "hung-sim", "*=delay:60000"));
    concurrent_loads_bounded("dstack-sim *=delay:60000", s.guest, s.tappd);
    sim_stop(&s);
}

static void test_mute_socket(void)
{
    mute m;
    CU_ASSERT_FATAL(mute_start(&m));
    concurrent_loads_bounded("a socket that never answers", m.path, m.path);
    mute_stop(&m);
}

/* ---- 2. cache hits do not wait ---------------------------------------------------------- */

static void *slow_load_main(void *arg)
{
    loader *l = arg;
    double t0 = now_ms();
    l->key = test_load_key(l->ctx, l->uri);
    l->elapsed_ms = now_ms() - t0;
    return NULL;
}

static void test_cache_hit_while_getkey_delayed(void)
{
    sim s;
    OSSL_LIB_CTX *ctx;
    EVP_PKEY *cached, *hit;
    loader a;
    pthread_t ta;
    double t0, hit_ms;

    CU_ASSERT_FATAL(sim_start(&s, "slow-sim", "GetKey=delay:3000"));
    ctx = context_for("slow", s.guest, s.tappd, 10000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
    cached = test_load_key(ctx, "dstack:slow/cached?cert=none"); /* 3 s: GetKey is slow */
    CU_ASSERT_PTR_NOT_NULL_FATAL(cached);

    memset(&a, 0, sizeof(a));
    a.ctx = ctx;
    snprintf(a.uri, sizeof(a.uri), "dstack:slow/new?cert=none");
    CU_ASSERT_FATAL(pthread_create(&ta, NULL, slow_load_main, &a) == 0);
    sleep_ms(500); /* A is inside GetKey now, for another 2.5 s */
    t0 = now_ms();
    hit = test_load_key(ctx, "dstack:slow/cached?cert=none");
    hit_ms = now_ms() - t0;
    pthread_join(ta, NULL);
    fprintf(stderr, "  cache hit during another thread's GetKey: %.0f ms (new URI: %.0f ms)\n",
            hit_ms, a.elapsed_ms);
    CU_ASSERT_PTR_NOT_NULL(hit);
    if (hit != NULL)
        CU_ASSERT(EVP_PKEY_eq(hit, cached) == 1);
    CU_ASSERT(hit_ms < 500);
    CU_ASSERT_PTR_NOT_NULL(a.key);
    EVP_PKEY_free(a.key);
    EVP_PKEY_free(hit);
    EVP_PKEY_free(cached);
    OSSL_LIB_CTX_free(ctx);
    sim_stop(&s);
}

int main(void)
{
    static const test_case cases[] = {
        {"8 concurrent loads on a hung dstack-sim, timeout-ms 2000: each <= 3 s",
         test_hung_simulator},
        {"8 concurrent loads on a socket that never answers: each <= 3 s", test_mute_socket},
        {"a cache hit returns while another thread waits for GetKey",
         test_cache_hit_while_getkey_delayed},
        {NULL, NULL},
    };

    return test_run_suite("hostile_timeouts", cases);
}
