/* fork() while other threads load keys (issue "Hardening", items 8 and 9).
 *
 * The provider is loaded twice, into two library contexts of this process (cache = yes and
 * cache = no), with the debug log on (DSTACK_PROVIDER_DEBUG=file:…,level:3). Worker threads
 * load keys in a loop — three algorithms, paths shared between loads (cache hits) and paths
 * never seen before (cache misses, and evictions once the cache is full) — while the main
 * thread forks again and again. Every child loads one key of its own through an inherited
 * context (a new agent connection, architecture.md §5) and _exit()s. The parent keeps a few
 * children running at once and gives each a deadline: a child still running then is hung — its
 * stack, from gdb -batch -p, tells on whose lock it waits (classify() below) — and is killed; a
 * child killed by a signal or ending with a status other than 0 (loaded) or 3 (the load failed) has
 * crashed (abort, sanitizer report); its stderr is printed, and for a fatal signal (the child stops
 * itself) its stack too. The test fails on any crashed or failed child and on any child hung on a
 * lock of the project or on the secure heap; a hang inside another library's own locks (OpenSSL 3.0
 * has no fork handling for its method stores) is reported with its stack (HOSTILE_STRICT=1: a
 * failure).
 *
 * Environment (defaults in brackets):
 *   HOSTILE_FORKS [2000; 1000 in sanitizer builds] children to fork
 *   HOSTILE_THREADS [4]             loading threads
 *   HOSTILE_CHILD_DEADLINE_MS [3000; 2000 in sanitizer builds] time a child gets before it
 *                                   counts as hung
 *   HOSTILE_STACKS [2]              stacks printed per kind of hang (all are classified)
 *   HOSTILE_STRICT [0]              1: a hang in another library's lock fails the test too
 *   HOSTILE_MAX_HUNG [20]           stop forking after this many children hung on the project's
 *                                   or the secure heap's locks (each costs the deadline; the
 *                                   test has failed by then anyway)
 *   HOSTILE_MAX_HUNG_ALL [60]       stop forking after this many hung children of any kind
 *   HOSTILE_CACHE [both]            yes, no or both: which contexts the threads and children use
 *   HOSTILE_DEBUG_LOG [1]           0: no debug log (experiments only; the test is about it on)
 * Run against dstack-sim's built-in identity (tests/hostile/hostile.cmake).
 *
 * Secure-heap experiment: tests/hostile/no_secure_heap.c builds a preload library that keeps
 * OpenSSL's secure heap uninitialised (CRYPTO_secure_malloc_init does nothing), e.g.
 *   LD_PRELOAD=build/test/tests/libhostile_no_secure_heap.so HOSTILE_FORKS=20000 …
 * The summary line says whether the secure heap was in use. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "test_provider_common.h"

#define MAX_THREADS 16
#define N_CTX 2
#define IN_FLIGHT 4 /* children alive at once */

typedef struct child_slot {
    pid_t pid; /* 0: free */
    long n;
    double started;
    char err_path[4200];
} child_slot;

typedef struct stress {
    OSSL_LIB_CTX *ctx[N_CTX]; /* [0] cache = yes, [1] cache = no */
    int first_ctx, n_ctx;     /* the contexts in use: ctx[first_ctx .. first_ctx+n_ctx) */
    atomic_bool stop;
    atomic_long loads, load_failures;
} stress;

typedef struct worker_arg {
    stress *s;
    int index;
} worker_arg;

static long env_long(const char *name, long def, long min, long max)
{
    const char *v = getenv(name);
    char *end = NULL;
    long n;

    if (v == NULL || *v == '\0')
        return def;
    n = strtol(v, &end, 10);
    if (*end != '\0' || n < min || n > max) {
        fprintf(stderr, "%s=%s: expected %ld..%ld, using %ld\n", name, v, min, max, def);
        return def;
    }
    return n;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* A library context with OpenSSL's default provider and the dstack provider from the build
 * tree, configured through an openssl.cnf as an application would. */
static OSSL_LIB_CTX *context_with(const char *dir, const char *cache)
{
    char path[4096];
    OSSL_LIB_CTX *ctx = OSSL_LIB_CTX_new();
    FILE *f;

    snprintf(path, sizeof(path), "%s/fork-stress-cache-%s.cnf", dir, cache);
    f = fopen(path, "w");
    if (ctx == NULL || f == NULL)
        goto err;
    fprintf(f,
            "openssl_conf = openssl_init\n"
            "[openssl_init]\nproviders = provider_sect\n"
            "[provider_sect]\ndefault = default_sect\ndstack = dstack_sect\n"
            "[default_sect]\nactivate = 1\n"
            "[dstack_sect]\nactivate = 1\ncache = %s\n",
            cache);
    fclose(f);
    f = NULL;
    if (!OSSL_PROVIDER_set_default_search_path(ctx, test_env("DSTACK_PROVIDER_DIR")) ||
        !OSSL_LIB_CTX_load_config(ctx, path))
        goto err;
    return ctx;
err:
    if (f != NULL)
        fclose(f);
    OSSL_LIB_CTX_free(ctx);
    return NULL;
}

static const char *const algs[] = {"p256", "secp256k1", "ed25519"};

static void *worker(void *varg)
{
    worker_arg *a = varg;
    stress *s = a->s;
    char uri[128];

    for (long i = 0; !atomic_load(&s->stop); i++) {
        OSSL_LIB_CTX *ctx = s->ctx[s->first_ctx + (int)((i + a->index) % s->n_ctx)];
        const char *alg = algs[i % 3];
        EVP_PKEY *k;

        /* Every other load is a path never loaded before (a miss, and an eviction once the
         * cache holds 64 entries); the rest cycle through 8 shared paths (hits). */
        if (i % 2 == 0)
            snprintf(uri, sizeof(uri), "dstack:stress/t%d-%ld?alg=%s&cert=none", a->index, i, alg);
        else
            snprintf(uri, sizeof(uri), "dstack:stress/shared-%ld?alg=%s&cert=none", (i / 2) % 8,
                     alg);
        k = test_load_key(ctx, uri);
        atomic_fetch_add(&s->loads, 1);
        if (k == NULL)
            atomic_fetch_add(&s->load_failures, 1);
        EVP_PKEY_free(k);
    }
    return NULL;
}

/* A fatal signal in a child stops it, so that the parent can print its stack with gdb. */
static void child_fatal(int sig)
{
    static const char msg[] = "fatal signal in the child, stopped for gdb\n";
    ssize_t w = write(2, msg, sizeof(msg) - 1);
    (void)w;
    raise(SIGSTOP);
    signal(sig, SIG_DFL);
    raise(sig);
}

/* The child: one key of its own through the inherited context, then _exit. */
static void child_main(stress *s, long n, const char *err_path)
{
    static const int fatal[] = {SIGABRT, SIGSEGV, SIGBUS, SIGILL, SIGFPE};
    char uri[128];
    int fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    EVP_PKEY *k;

    if (fd >= 0) {
        dup2(fd, 2);
        close(fd);
    }
    for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++)
        signal(fatal[i], child_fatal);
    snprintf(uri, sizeof(uri), "dstack:stress/child-%ld?alg=%s&cert=none", n, algs[n % 3]);
    k = test_load_key(s->ctx[s->first_ctx + (int)(n % s->n_ctx)], uri);
    _exit(k != NULL ? 0 : 3);
}

static void print_file(const char *path, size_t max)
{
    char buf[4096];
    FILE *f = fopen(path, "r");
    size_t n, total = 0;

    if (f == NULL)
        return;
    while (total < max && (n = fread(buf, 1, sizeof(buf), f)) > 0) {
        if (n > max - total)
            n = max - total;
        fwrite(buf, 1, n, stderr);
        total += n;
    }
    fclose(f);
}

/* Every thread's stack of a (hung or stopped) child, from gdb; malloc'd, NULL without gdb. */
static char *stack_of(pid_t pid)
{
    char cmd[160], *buf = NULL;
    size_t len = 0, cap = 0, n;
    FILE *p;

    snprintf(cmd, sizeof(cmd), "gdb -batch -nx -p %d -ex 'thread apply all bt 30' </dev/null 2>&1",
             (int)pid);
    p = popen(cmd, "r");
    if (p == NULL)
        return NULL;
    for (;;) {
        if (cap - len < 4096) {
            char *b = realloc(buf, cap + 65536);
            if (b == NULL)
                break;
            buf = b;
            cap += 65536;
        }
        n = fread(buf + len, 1, cap - len - 1, p);
        if (n == 0)
            break;
        len += n;
    }
    pclose(p);
    if (buf != NULL)
        buf[len] = '\0';
    return buf;
}

/* Frame lines ("#N ..."), without the unresolved "in ?? ()" ones. */
static void print_frames(const char *stack)
{
    for (const char *line = stack; line != NULL && *line != '\0';) {
        const char *end = strchr(line, '\n');
        size_t n = end != NULL ? (size_t)(end - line) : strlen(line);
        if ((line[0] == '#' || strncmp(line, "Thread ", 7) == 0) && n < 4096 &&
            (memmem(line, n, " in ?? ()", 9) == NULL || memmem(line, n, " from ", 6) == NULL))
            fprintf(stderr, "    %.*s\n", (int)n, line);
        line = end != NULL ? end + 1 : NULL;
    }
}

/* Where a hung child waits. The first frame that is not the C library's own locking code
 * names the lock's owner: the project (provider/, client/: every such lock must survive fork),
 * OpenSSL's secure heap (the project's choice to keep keys there), or another library's
 * internal lock (OpenSSL's method stores, glibc's locale lock taken by json-c, …), which the
 * project cannot make fork-safe: reported with its stack, a failure only with HOSTILE_STRICT=1. */
typedef enum hang_kind {
    HANG_PROJECT,
    HANG_SECURE_HEAP,
    HANG_LIBRARY,
    HANG_UNKNOWN,
    N_HANG
} hang_kind;
static const char *const hang_names[N_HANG] = {
    "a lock of the project", "OpenSSL's secure-heap lock (the project's secure-heap use)",
    "another library's internal lock", "unclassified (no usable stack)"};

static hang_kind classify(const char *stack, const char *src_dir, char *where, size_t cap)
{
    snprintf(where, cap, "?");
    if (stack == NULL || strstr(stack, "\n#0 ") == NULL)
        return HANG_UNKNOWN;
    for (const char *line = strstr(stack, "\n#0 "); line != NULL; line = strstr(line + 1, "\n#")) {
        const char *end = strchr(line + 1, '\n');
        size_t n = end != NULL ? (size_t)(end - line - 1) : strlen(line + 1);
        char frame[2048];
        const char *in, *from;

        snprintf(frame, sizeof(frame), "%.*s", (int)(n < sizeof(frame) ? n : sizeof(frame) - 1),
                 line + 1);
        /* The sanitizer runtime's allocator has locks of its own (no fork handling in GCC's
         * ASan): another library. */
        if (strstr(frame, "__sanitizer") != NULL || strstr(frame, "__asan") != NULL ||
            strstr(frame, "libsanitizer") != NULL) {
            snprintf(where, cap, "the sanitizer runtime");
            return HANG_LIBRARY;
        }
        /* glibc's own frames: sources under ./ or ../ (with debug info), or libc.so. */
        if (strstr(frame, " at ./") != NULL || strstr(frame, " at ../") != NULL ||
            strstr(frame, "libc.so") != NULL || strstr(frame, "<signal handler") != NULL)
            continue;
        in = strstr(frame, " in ");
        in = in != NULL ? in + 4 : strchr(frame, ' ');
        snprintf(where, cap, "%.*s", (int)strcspn(in != NULL ? in + strspn(in, " ") : "", " ("),
                 in != NULL ? in + strspn(in, " ") : "");
        if (strstr(stack, "CRYPTO_secure_") != NULL)
            return HANG_SECURE_HEAP;
        if (strstr(frame, src_dir) != NULL && strstr(frame, "/tests/") == NULL)
            return HANG_PROJECT;
        from = strstr(frame, " from ");
        if (from != NULL) {
            const char *so = strrchr(from, '/');
            snprintf(where + strlen(where), cap - strlen(where), " in %s",
                     so != NULL ? so + 1 : from + 6);
            return HANG_LIBRARY;
        }
        return HANG_UNKNOWN;
    }
    return HANG_UNKNOWN;
}

static void test_fork_during_loads(void)
{
    bool sanitized = env_long("DSTACK_SANITIZE", 0, 0, 1) == 1;
    long forks = env_long("HOSTILE_FORKS", sanitized ? 1000 : 2000, 1, 10000000);
    long n_threads = env_long("HOSTILE_THREADS", 4, 1, MAX_THREADS);
    long deadline_ms = env_long("HOSTILE_CHILD_DEADLINE_MS", sanitized ? 2000 : 3000, 100, 600000);
    long max_stacks = env_long("HOSTILE_STACKS", 2, 0, 1000000);
    long max_hung = env_long("HOSTILE_MAX_HUNG", 20, 1, 10000000);
    long max_hung_all = env_long("HOSTILE_MAX_HUNG_ALL", 60, 1, 10000000);
    const char *cache = getenv("HOSTILE_CACHE") != NULL ? getenv("HOSTILE_CACHE") : "both";
    const char *tmp = getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp";
    char log_env[4200];
    long hung = 0, crashed = 0, failed = 0, by_kind[N_HANG] = {0};
    const char *src_dir = test_env("DSTACK_SOURCE_DIR");
    bool strict = env_long("HOSTILE_STRICT", 0, 0, 1) == 1;
    pthread_t tids[MAX_THREADS];
    worker_arg args[MAX_THREADS];
    double t0;
    stress s;
    EVP_PKEY *k;

    memset(&s, 0, sizeof(s));
    snprintf(log_env, sizeof(log_env), "file:%s/fork-stress-debug.log,level:3", tmp);
    /* Read once per process, at the provider's first log line. */
    if (env_long("HOSTILE_DEBUG_LOG", 1, 0, 1) == 1)
        setenv("DSTACK_PROVIDER_DEBUG", log_env, 1);
    else
        unsetenv("DSTACK_PROVIDER_DEBUG");
    s.ctx[0] = context_with(tmp, "yes");
    s.ctx[1] = context_with(tmp, "no");
    CU_ASSERT_FATAL(s.ctx[0] != NULL && s.ctx[1] != NULL);
    s.first_ctx = strcmp(cache, "no") == 0 ? 1 : 0;
    s.n_ctx = strcmp(cache, "both") == 0 ? 2 : 1;
    for (int i = 0; i < N_CTX; i++) {
        k = test_load_key(s.ctx[i], "dstack:stress/warm-up?cert=none");
        CU_ASSERT_PTR_NOT_NULL_FATAL(k);
        EVP_PKEY_free(k);
    }

    t0 = now_ms();
    for (long i = 0; i < n_threads; i++) {
        args[i] = (worker_arg){.s = &s, .index = (int)i};
        CU_ASSERT_FATAL(pthread_create(&tids[i], NULL, worker, &args[i]) == 0);
    }
    /* Up to IN_FLIGHT children run at once, each with its own deadline, so the deadlines of
     * hung children overlap instead of adding up. */
    child_slot slot[IN_FLIGHT];
    long n = 0, running = 0;
    memset(slot, 0, sizeof(slot));
    while (running > 0 || (n < forks && hung < max_hung_all &&
                           by_kind[HANG_PROJECT] + by_kind[HANG_SECURE_HEAP] < max_hung)) {
        for (int i = 0; i < IN_FLIGHT && n < forks && hung < max_hung_all &&
                        by_kind[HANG_PROJECT] + by_kind[HANG_SECURE_HEAP] < max_hung;
             i++) {
            if (slot[i].pid != 0)
                continue;
            snprintf(slot[i].err_path, sizeof(slot[i].err_path), "%s/fork-stress-child-%d.err", tmp,
                     i);
            slot[i].n = n;
            slot[i].pid = fork();
            CU_ASSERT_FATAL(slot[i].pid >= 0);
            if (slot[i].pid == 0)
                child_main(&s, n, slot[i].err_path);
            slot[i].started = now_ms();
            n++;
            running++;
        }
        struct timespec pause = {0, 200000};
        nanosleep(&pause, NULL);
        for (int i = 0; i < IN_FLIGHT; i++) {
            child_slot *c = &slot[i];
            int status = 0;
            pid_t w;

            if (c->pid == 0)
                continue;
            w = waitpid(c->pid, &status, WNOHANG | WUNTRACED);
            if (w == 0 && now_ms() - c->started < deadline_ms)
                continue;
            if (w == 0) {
                char where[256];
                char *stack = stack_of(c->pid);
                hang_kind kind = classify(stack, src_dir, where, sizeof(where));
                hung++;
                fprintf(stderr, "child %ld (pid %d) still running after %ld ms: waits on %s (%s)\n",
                        c->n, (int)c->pid, deadline_ms, hang_names[kind], where);
                if (by_kind[kind]++ < max_stacks)
                    print_frames(stack);
                free(stack);
                kill(c->pid, SIGKILL);
                waitpid(c->pid, &status, 0);
            } else if (WIFSTOPPED(status)) {
                crashed++;
                fprintf(stderr, "child %ld (pid %d) crashed:\n", c->n, (int)c->pid);
                print_file(c->err_path, 4096);
                char *stack = stack_of(c->pid);
                print_frames(stack);
                free(stack);
                kill(c->pid, SIGKILL);
                waitpid(c->pid, &status, 0);
            } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
                /* loaded */
            } else if (WIFEXITED(status) && WEXITSTATUS(status) == 3) {
                if (failed++ < 3) {
                    fprintf(stderr, "child %ld (pid %d): the load failed:\n", c->n, (int)c->pid);
                    print_file(c->err_path, 2048);
                }
            } else {
                crashed++;
                if (WIFSIGNALED(status))
                    fprintf(stderr, "child %ld (pid %d) killed by signal %d (%s):\n", c->n,
                            (int)c->pid, WTERMSIG(status), strsignal(WTERMSIG(status)));
                else
                    fprintf(stderr, "child %ld (pid %d) exited with status %d:\n", c->n,
                            (int)c->pid, WEXITSTATUS(status));
                print_file(c->err_path, 4096);
            }
            c->pid = 0;
            running--;
        }
    }
    atomic_store(&s.stop, true);
    for (long i = 0; i < n_threads; i++)
        CU_ASSERT(pthread_join(tids[i], NULL) == 0);

    if (n < forks)
        fprintf(stderr, "fork stress: stopped early, after %ld of %ld forks: %ld hung children\n",
                n, forks, hung);
    fprintf(stderr,
            "fork stress: %ld forks in %.1f s (cache %s, %ld threads, %ld loads by the threads, "
            "%ld failed); children: %ld hung, %ld crashed, %ld failed to load; secure heap %s\n",
            n, (now_ms() - t0) / 1e3, cache, n_threads, atomic_load(&s.loads),
            atomic_load(&s.load_failures), hung, crashed, failed,
            CRYPTO_secure_malloc_initialized() ? "in use" : "not initialised");
    for (int i = 0; i < N_HANG; i++)
        if (by_kind[i] > 0)
            fprintf(stderr, "  %ld hung on %s\n", by_kind[i], hang_names[i]);
    CU_ASSERT_EQUAL(by_kind[HANG_PROJECT], 0);
    CU_ASSERT_EQUAL(by_kind[HANG_SECURE_HEAP], 0);
    CU_ASSERT_EQUAL(by_kind[HANG_UNKNOWN], 0);
    if (strict)
        CU_ASSERT_EQUAL(by_kind[HANG_LIBRARY], 0);
    CU_ASSERT_EQUAL(crashed, 0);
    CU_ASSERT_EQUAL(failed, 0);
    CU_ASSERT_EQUAL(atomic_load(&s.load_failures), 0);

    /* The parent is unaffected by all of it. */
    for (int i = 0; i < N_CTX; i++) {
        k = test_load_key(s.ctx[i], "dstack:stress/after?cert=none");
        CU_ASSERT_PTR_NOT_NULL(k);
        EVP_PKEY_free(k);
        OSSL_LIB_CTX_free(s.ctx[i]);
    }
}

int main(void)
{
    static const test_case cases[] = {
        {"fork() from the main thread while threads load keys", test_fork_during_loads},
        {NULL, NULL},
    };

    return test_run_suite("hostile_fork_stress", cases);
}
