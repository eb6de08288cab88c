/* bench-dcap-verify — the time of one DCAP verification with Intel collateral (issue 13,
 * figure 6): dstack_tdx_quote_verify on one quote with a QuoteCollateralV3 already in memory
 * (the handshake-time case: the collateral object lives as long as its nextUpdate), and, for what
 * that costs without the collateral object's caches, the first verification after the JSON is
 * parsed and the parse itself. The same quote, collateral and time js_dcap_verify.mjs gives
 * dcap-qvl's WASM build. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dstack/attest.h>
#include <dstack/collateral.h>

#include "bench_util.h"

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;

    if (f != NULL && fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 &&
        fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1)) != NULL &&
        fread(buf, 1, (size_t)n, f) == (size_t)n) {
        buf[n] = '\0';
        *len = (size_t)n;
    } else {
        free(buf);
        buf = NULL;
    }
    if (f != NULL)
        fclose(f);
    return buf;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"quote", required_argument, NULL, 'q'},
        {"collateral", required_argument, NULL, 'c'},
        {"at", required_argument, NULL, 't'},
        {"iterations", required_argument, NULL, 'n'},
        {"label", required_argument, NULL, 'l'},
        {"round", required_argument, NULL, 'r'},
        {NULL, 0, NULL, 0},
    };
    const char *quote_path = NULL, *coll_path = NULL, *label = NULL;
    unsigned long n = 2000, round = 1, cold_n = 100;
    long long at = 0;
    bench_samples warm, first, parse;
    dstack_quote_verify_opts o = {DSTACK_OPTIONS_INIT(dstack_quote_verify_opts)};
    dstack_quote_verify_result r;
    dstack_collateral *c = NULL;
    dstack_error err;
    char *quote = NULL, *json = NULL, extra[256];
    size_t qlen = 0, clen = 0;
    uint64_t t0;
    int ch, rc = 1;

    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (ch) {
        case 'q':
            quote_path = optarg;
            break;
        case 'c':
            coll_path = optarg;
            break;
        case 't':
            at = strtoll(optarg, NULL, 10);
            break;
        case 'n':
            if (!bench_parse_count(optarg, 1000000, &n))
                goto usage;
            break;
        case 'l':
            label = optarg;
            break;
        case 'r':
            if (!bench_parse_count(optarg, 1000, &round))
                goto usage;
            break;
        default:
            goto usage;
        }
    }
    if (quote_path == NULL || coll_path == NULL || label == NULL || !bench_label_ok(label))
        goto usage;
    if ((quote = read_all(quote_path, &qlen)) == NULL ||
        (json = read_all(coll_path, &clen)) == NULL) {
        fprintf(stderr, "bench-dcap-verify: cannot read the inputs\n");
        goto done;
    }
    if (!bench_samples_init(&warm, n) || !bench_samples_init(&first, cold_n) ||
        !bench_samples_init(&parse, cold_n))
        goto done;
    o.verification_time = at;
    o.allowed_tcb_statuses = 0x3f;
    /* without the collateral object's caches: parse, then the first verification */
    for (unsigned long i = 0; i < cold_n; i++) {
        t0 = bench_now_ns();
        if (dstack_collateral_from_json(json, clen, &c, &err) != DSTACK_OK) {
            fprintf(stderr, "bench-dcap-verify: %s\n", err.message);
            goto done;
        }
        bench_samples_add(&parse, (double)(bench_now_ns() - t0) / 1e3);
        o.collateral = c;
        t0 = bench_now_ns();
        if (dstack_tdx_quote_verify((const uint8_t *)quote, qlen, &o, &r, &err) != DSTACK_OK) {
            fprintf(stderr, "bench-dcap-verify: %s\n", err.message);
            goto done;
        }
        bench_samples_add(&first, (double)(bench_now_ns() - t0) / 1e3);
        if (i + 1 < cold_n) {
            dstack_collateral_free(c);
            c = NULL;
        }
    }
    /* collateral in memory */
    for (unsigned long i = 0; i < n; i++) {
        t0 = bench_now_ns();
        if (dstack_tdx_quote_verify((const uint8_t *)quote, qlen, &o, &r, &err) != DSTACK_OK) {
            fprintf(stderr, "bench-dcap-verify: %s\n", err.message);
            goto done;
        }
        bench_samples_add(&warm, (double)(bench_now_ns() - t0) / 1e3);
    }
    snprintf(extra, sizeof(extra),
             "\"p50_us\":%.2f,\"p90_us\":%.2f,\"first_p50_us\":%.2f,\"parse_p50_us\":%.2f,"
             "\"iterations\":%lu,\"status\":\"%s\"",
             bench_percentile(&warm, 50), bench_percentile(&warm, 90), bench_percentile(&first, 50),
             bench_percentile(&parse, 50), n, dstack_tcb_status_name(r.tcb_status));
    bench_print_value(label, round, "us", bench_percentile(&warm, 50), extra);
    rc = 0;
done:
    dstack_collateral_free(c);
    free(quote);
    free(json);
    return rc;
usage:
    fprintf(stderr, "usage: bench-dcap-verify --quote F --collateral F --at UNIXTIME --label L "
                    "[--round N] [--iterations N]\n");
    return 2;
}
