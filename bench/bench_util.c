/* dstack benchmarks — timing and statistics helpers (see bench_util.h). */
#include "bench_util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

uint64_t bench_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

bool bench_samples_init(bench_samples *s, size_t cap)
{
    s->n = 0;
    s->cap = cap;
    s->v = calloc(cap > 0 ? cap : 1, sizeof(*s->v));
    return s->v != NULL;
}

void bench_samples_free(bench_samples *s)
{
    free(s->v);
    s->v = NULL;
    s->n = s->cap = 0;
}

bool bench_samples_add(bench_samples *s, double us)
{
    if (s->n >= s->cap)
        return false;
    s->v[s->n++] = us;
    return true;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

double bench_percentile(bench_samples *s, double p)
{
    size_t rank;

    if (s->n == 0)
        return 0.0;
    qsort(s->v, s->n, sizeof(*s->v), cmp_double);
    /* Nearest rank: the smallest sample with at least p% of the samples at or below it. */
    rank = (size_t)ceil(p / 100.0 * (double)s->n);
    if (rank < 1)
        rank = 1;
    if (rank > s->n)
        rank = s->n;
    return s->v[rank - 1];
}

double bench_mean(const bench_samples *s)
{
    double sum = 0.0;
    size_t i;

    for (i = 0; i < s->n; i++)
        sum += s->v[i];
    return s->n > 0 ? sum / (double)s->n : 0.0;
}

bool bench_parse_count(const char *text, unsigned long max, unsigned long *out)
{
    char *end = NULL;
    unsigned long v;

    if (text == NULL || text[0] < '0' || text[0] > '9')
        return false;
    errno = 0;
    v = strtoul(text, &end, 10);
    if (errno != 0 || *end != '\0' || v == 0 || v > max)
        return false;
    *out = v;
    return true;
}

bool bench_label_ok(const char *label)
{
    const char *p;

    if (label == NULL || label[0] == '\0' || strlen(label) > 200)
        return false;
    for (p = label; *p != '\0'; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              strchr("._:/=-", *p) != NULL))
            return false;
    }
    return true;
}

void bench_print_latency(const char *label, unsigned long round, bench_samples *s)
{
    double mean = bench_mean(s);
    double p50 = bench_percentile(s, 50.0);
    double p90 = bench_percentile(s, 90.0);

    printf("{\"label\":\"%s\",\"round\":%lu,\"n\":%zu,\"p50_us\":%.3f,\"p90_us\":%.3f,"
           "\"mean_us\":%.3f,\"min_us\":%.3f,\"max_us\":%.3f}\n",
           label, round, s->n, p50, p90, mean, s->n > 0 ? s->v[0] : 0.0,
           s->n > 0 ? s->v[s->n - 1] : 0.0);
    fflush(stdout);
}

void bench_print_value(const char *label, unsigned long round, const char *unit, double value,
                       const char *extra)
{
    printf("{\"label\":\"%s\",\"round\":%lu,\"unit\":\"%s\",\"value\":%.3f%s%s}\n", label, round,
           unit, value, extra != NULL ? "," : "", extra != NULL ? extra : "");
    fflush(stdout);
}
