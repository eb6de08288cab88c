/* dstack benchmarks — timing, sample statistics and the JSON result line every bench program
 * prints. Not part of libdstack and never run by the test suite (architecture.md §2, issue 6). */
#ifndef DSTACK_BENCH_UTIL_H
#define DSTACK_BENCH_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Monotonic clock in nanoseconds. */
uint64_t bench_now_ns(void);

/* A fixed-capacity list of latencies in microseconds. */
typedef struct bench_samples {
    double *v;
    size_t n;
    size_t cap;
} bench_samples;

bool bench_samples_init(bench_samples *s, size_t cap);
void bench_samples_free(bench_samples *s);
/* Returns false when full (the caller sized it wrong: a bug, reported as a failure). */
bool bench_samples_add(bench_samples *s, double us);
/* Nearest-rank percentile (p in 0..100) after sorting the samples in place; 0 when empty. */
double bench_percentile(bench_samples *s, double p);
double bench_mean(const bench_samples *s);

/* Parses a positive decimal count (1..max); false on garbage, 0, overflow. */
bool bench_parse_count(const char *text, unsigned long max, unsigned long *out);

/* One JSON object per line on stdout, so run.sh can collect the lines of a whole run and
 * report.mjs can aggregate rounds. `label` and `round` identify the measurement; label is
 * restricted to [A-Za-z0-9._:/=-] by bench_label_ok() so it needs no JSON escaping. */
bool bench_label_ok(const char *label);
void bench_print_latency(const char *label, unsigned long round, bench_samples *s);
/* `extra` is a preformatted JSON fragment without braces (e.g. "\"keys\":1000"), or NULL. */
void bench_print_value(const char *label, unsigned long round, const char *unit, double value,
                       const char *extra);

#endif
