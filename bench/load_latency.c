/* bench-load-latency — how long one private-key load takes through each OpenSSL route
 * (issue 6, figures 1 and 2).
 *
 *   --method store   OSSL_STORE open + expect + load until EOF + close (file: or dstack: URI);
 *                    with --objects all every object is loaded (key + certificate chain),
 *                    which is what certificate issuance costs.
 *   --method pem     BIO_new_file + PEM_read_bio_PrivateKey_ex + BIO_free (a key file or a
 *                    dstack reference PEM, architecture.md §6).
 *   --method engine  ENGINE_load_private_key on the dstack ENGINE (architecture.md §7).
 *
 * In-process mode times --iterations loads after --warmup untimed ones. --cold N instead runs
 * N fresh processes (fork + exec of this program) that each time exactly their first load:
 * "new process, first load". Provider and engine activation happen before the clock starts in
 * both modes, as they do at configuration time in a real server. Prints one JSON line.
 */
#define OPENSSL_SUPPRESS_DEPRECATED /* the ENGINE route is measured on purpose */

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/engine.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/store.h>

#include "bench_util.h"

#define MAX_ITERATIONS 1000000ul
#define MAX_COLD 10000ul

typedef enum load_method { METHOD_STORE, METHOD_PEM, METHOD_ENGINE } load_method;

typedef struct load_opts {
    load_method method;
    const char *method_name;
    const char *target; /* URI or file path */
    bool all_objects;
    const char *engine_endpoint;
    unsigned long iterations;
    unsigned long warmup;
    unsigned long cold;
    bool child_once;
    const char *label;
    unsigned long round;
} load_opts;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: bench-load-latency --method store|pem|engine --target URI|FILE\n"
            "         [--objects key|all] [--engine-endpoint EP] [--iterations N] [--warmup N]\n"
            "         [--cold N] --label LABEL [--round R]\n");
}

/* OSSL_STORE: the path every provider-aware application (and openssl CLI) takes. */
static bool load_store(const load_opts *o)
{
    OSSL_STORE_CTX *ctx = NULL;
    OSSL_STORE_INFO *info = NULL;
    bool ok = false, have_key = false;
    size_t certs = 0;

    ctx = OSSL_STORE_open_ex(o->target, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
    if (ctx == NULL)
        goto done;
    /* A key-only load tells the store so, as servers loading a key do; the dstack store then
     * skips certificate RPCs (architecture.md §4 "honour the store's expect"). */
    if (!o->all_objects && !OSSL_STORE_expect(ctx, OSSL_STORE_INFO_PKEY))
        goto done;
    while (!OSSL_STORE_eof(ctx)) {
        info = OSSL_STORE_load(ctx);
        if (info == NULL) {
            /* OpenSSL 3.0's file: store reports error() as well as eof() after its last
             * object, with nothing on the error queue; EOF decides. */
            if (OSSL_STORE_eof(ctx))
                break;
            if (OSSL_STORE_error(ctx))
                goto done;
            continue;
        }
        switch (OSSL_STORE_INFO_get_type(info)) {
        case OSSL_STORE_INFO_PKEY:
            have_key = OSSL_STORE_INFO_get0_PKEY(info) != NULL;
            break;
        case OSSL_STORE_INFO_CERT:
            certs++;
            break;
        default:
            break;
        }
        OSSL_STORE_INFO_free(info);
        info = NULL;
    }
    ok = have_key && (!o->all_objects || certs > 0);
    if (!ok)
        fprintf(stderr, "%s: store gave %s and %zu certificate(s)\n", o->target,
                have_key ? "a key" : "no key", certs);
done:
    OSSL_STORE_INFO_free(info);
    if (ctx != NULL && !OSSL_STORE_close(ctx))
        ok = false;
    return ok;
}

static bool load_pem(const load_opts *o)
{
    BIO *bio = BIO_new_file(o->target, "r");
    EVP_PKEY *pkey = NULL;

    if (bio != NULL)
        pkey = PEM_read_bio_PrivateKey_ex(bio, NULL, NULL, NULL, NULL, NULL);
    BIO_free(bio);
    EVP_PKEY_free(pkey);
    return pkey != NULL;
}

static bool load_engine(ENGINE *e, const load_opts *o)
{
    EVP_PKEY *pkey = ENGINE_load_private_key(e, o->target, NULL, NULL);

    EVP_PKEY_free(pkey);
    return pkey != NULL;
}

static bool load_once(ENGINE *e, const load_opts *o)
{
    switch (o->method) {
    case METHOD_STORE:
        return load_store(o);
    case METHOD_PEM:
        return load_pem(o);
    case METHOD_ENGINE:
        return load_engine(e, o);
    }
    return false;
}

/* The engine is found the way nginx finds it: by id, from openssl.cnf or $OPENSSL_ENGINES. */
static ENGINE *engine_open(const load_opts *o)
{
    ENGINE *e = ENGINE_by_id("dstack");

    if (e == NULL)
        return NULL;
    if (o->engine_endpoint != NULL &&
        !ENGINE_ctrl_cmd_string(e, "ENDPOINT", o->engine_endpoint, 0)) {
        ENGINE_free(e);
        return NULL;
    }
    if (!ENGINE_init(e)) {
        ENGINE_free(e);
        return NULL;
    }
    return e;
}

static void engine_close(ENGINE *e)
{
    if (e == NULL)
        return;
    ENGINE_finish(e);
    ENGINE_free(e);
}

static bool time_loads(ENGINE *e, const load_opts *o, bench_samples *s)
{
    unsigned long i;
    uint64_t t0;

    for (i = 0; i < o->warmup; i++) {
        if (!load_once(e, o))
            return false;
    }
    for (i = 0; i < o->iterations; i++) {
        t0 = bench_now_ns();
        if (!load_once(e, o))
            return false;
        if (!bench_samples_add(s, (double)(bench_now_ns() - t0) / 1000.0))
            return false;
    }
    return true;
}

/* What the timed region of a cold child cost besides wall time: CPU (user + system) and minor
 * page faults. Wall minus CPU is time spent waiting (on the agent, the scheduler); faults are
 * first touches of library pages and heap. */
typedef struct cold_sample {
    double us, cpu_us, minflt;
} cold_sample;

static void usage_now(double *cpu_us, double *minflt)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    *cpu_us = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
              (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
    *minflt = (double)ru.ru_minflt;
}

/* One child for --cold: exec this program with --child-once and read its single sample. */
static bool run_cold_child(const load_opts *o, cold_sample *cs)
{
    char buf[128];
    const char *argv[16];
    size_t argc = 0, got = 0;
    ssize_t r;
    int fds[2], status = 0;
    pid_t pid;
    bool ok = false;

    argv[argc++] = "bench-load-latency";
    argv[argc++] = "--method";
    argv[argc++] = o->method_name;
    argv[argc++] = "--target";
    argv[argc++] = o->target;
    argv[argc++] = "--objects";
    argv[argc++] = o->all_objects ? "all" : "key";
    if (o->engine_endpoint != NULL) {
        argv[argc++] = "--engine-endpoint";
        argv[argc++] = o->engine_endpoint;
    }
    argv[argc++] = "--child-once";
    argv[argc++] = "--label";
    argv[argc++] = o->label;
    argv[argc] = NULL;

    if (pipe(fds) != 0)
        return false;
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return false;
    }
    if (pid == 0) {
        close(fds[0]);
        if (dup2(fds[1], STDOUT_FILENO) < 0)
            _exit(127);
        close(fds[1]);
        execv("/proc/self/exe", (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    while (got < sizeof(buf) - 1) {
        r = read(fds[0], buf + got, sizeof(buf) - 1 - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    buf[got] = '\0';
    close(fds[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        char *end = NULL, *p = buf;

        cs->us = strtod(p, &end);
        ok = end != p && cs->us > 0.0;
        cs->cpu_us = strtod(p = end, &end);
        ok = ok && end != p;
        cs->minflt = strtod(p = end, &end);
        ok = ok && end != p;
    }
    return ok;
}

static bool parse_args(int argc, char **argv, load_opts *o)
{
    static const struct option longopts[] = {
        {"method", required_argument, NULL, 'm'},
        {"target", required_argument, NULL, 't'},
        {"objects", required_argument, NULL, 'o'},
        {"engine-endpoint", required_argument, NULL, 'e'},
        {"iterations", required_argument, NULL, 'n'},
        {"warmup", required_argument, NULL, 'w'},
        {"cold", required_argument, NULL, 'c'},
        {"child-once", no_argument, NULL, 'C'},
        {"label", required_argument, NULL, 'l'},
        {"round", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;

    memset(o, 0, sizeof(*o));
    o->iterations = 1000;
    o->warmup = 50;
    o->round = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'm':
            o->method_name = optarg;
            if (strcmp(optarg, "store") == 0)
                o->method = METHOD_STORE;
            else if (strcmp(optarg, "pem") == 0)
                o->method = METHOD_PEM;
            else if (strcmp(optarg, "engine") == 0)
                o->method = METHOD_ENGINE;
            else
                return false;
            break;
        case 't':
            o->target = optarg;
            break;
        case 'o':
            if (strcmp(optarg, "all") != 0 && strcmp(optarg, "key") != 0)
                return false;
            o->all_objects = strcmp(optarg, "all") == 0;
            break;
        case 'e':
            o->engine_endpoint = optarg;
            break;
        case 'n':
            if (!bench_parse_count(optarg, MAX_ITERATIONS, &o->iterations))
                return false;
            break;
        case 'w':
            if (strcmp(optarg, "0") == 0)
                o->warmup = 0;
            else if (!bench_parse_count(optarg, MAX_ITERATIONS, &o->warmup))
                return false;
            break;
        case 'c':
            if (!bench_parse_count(optarg, MAX_COLD, &o->cold))
                return false;
            break;
        case 'C':
            o->child_once = true;
            break;
        case 'l':
            o->label = optarg;
            break;
        case 'r':
            if (!bench_parse_count(optarg, 1000, &o->round))
                return false;
            break;
        default:
            return false;
        }
    }
    if (optind != argc || o->method_name == NULL || o->target == NULL || !bench_label_ok(o->label))
        return false;
    if (o->all_objects && o->method != METHOD_STORE)
        return false;
    return true;
}

int main(int argc, char **argv)
{
    load_opts o;
    bench_samples s = {0}, cpu = {0}, flt = {0};
    cold_sample cs;
    ENGINE *e = NULL;
    unsigned long i;
    int rc = 1;

    if (!parse_args(argc, argv, &o)) {
        usage(stderr);
        return 2;
    }
    /* openssl.cnf ($OPENSSL_CONF) activates the providers now, outside the timed region. */
    if (!OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG, NULL))
        goto done;
    if (o.cold > 0) {
        char label[256], extra[64];

        if (!bench_samples_init(&s, o.cold) || !bench_samples_init(&cpu, o.cold) ||
            !bench_samples_init(&flt, o.cold))
            goto done;
        for (i = 0; i < o.cold; i++) {
            if (!run_cold_child(&o, &cs) || !bench_samples_add(&s, cs.us) ||
                !bench_samples_add(&cpu, cs.cpu_us) || !bench_samples_add(&flt, cs.minflt)) {
                fprintf(stderr, "%s: cold child %lu failed\n", o.label, i);
                goto done;
            }
        }
        bench_print_latency(o.label, o.round, &s);
        /* The breakdown line: median CPU of the timed region, and its median page faults. */
        snprintf(label, sizeof(label), "%s/cpu", o.label);
        snprintf(extra, sizeof(extra), "\"minflt_p50\":%.0f", bench_percentile(&flt, 50.0));
        bench_print_value(label, o.round, "us", bench_percentile(&cpu, 50.0), extra);
        rc = 0;
        goto done;
    }
    if (o.method == METHOD_ENGINE && (e = engine_open(&o)) == NULL) {
        fprintf(stderr, "%s: cannot load and initialise the dstack ENGINE\n", o.label);
        goto done;
    }
    if (o.child_once) {
        double cpu0, cpu1, flt0, flt1;
        uint64_t t0;

        usage_now(&cpu0, &flt0);
        t0 = bench_now_ns();
        if (!load_once(e, &o))
            goto done;
        t0 = bench_now_ns() - t0;
        usage_now(&cpu1, &flt1);
        printf("%.3f %.0f %.0f\n", (double)t0 / 1000.0, cpu1 - cpu0, flt1 - flt0);
        rc = 0;
        goto done;
    }
    if (!bench_samples_init(&s, o.iterations))
        goto done;
    if (!time_loads(e, &o, &s)) {
        fprintf(stderr, "%s: loading %s failed\n", o.label, o.target);
        goto done;
    }
    bench_print_latency(o.label, o.round, &s);
    rc = 0;
done:
    if (rc != 0)
        ERR_print_errors_fp(stderr);
    engine_close(e);
    bench_samples_free(&s);
    bench_samples_free(&cpu);
    bench_samples_free(&flt);
    return rc;
}
