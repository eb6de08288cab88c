/* bench-getkey-rps — libdstack GetKey round trips per second (issue 6, figure 5): sequential
 * dstack_get_key() calls on one client (one kept-alive connection, protocol.md §1.3) for a fixed
 * time, the same loop js_getkey_rps.mjs runs with the official JS SDK. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include <dstack/client.h>
#include <dstack/rpc.h>

#include "bench_util.h"

/* User + system CPU time of this process in microseconds: how much of each round trip is the
 * client's own work (the rest is the agent's work and the wake-ups in between). */
static double cpu_us(void)
{
    struct rusage ru;

    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0.0;
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"endpoint", required_argument, NULL, 'e'},
        {"seconds", required_argument, NULL, 's'},
        {"label", required_argument, NULL, 'l'},
        {"round", required_argument, NULL, 'r'},
        {NULL, 0, NULL, 0},
    };
    dstack_client_options copts = {DSTACK_OPTIONS_INIT(dstack_client_options)};
    dstack_client *c = NULL;
    dstack_key_response resp;
    dstack_error err;
    const char *label = NULL;
    unsigned long seconds = 3, round = 1, calls = 0;
    uint64_t t0, now, deadline;
    double cpu0;
    char extra[96];
    int ch, rc = 1;

    dstack_error_clear(&err);
    copts.service = DSTACK_SERVICE_GUEST;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (ch) {
        case 'e':
            copts.endpoint = optarg;
            break;
        case 's':
            if (!bench_parse_count(optarg, 3600, &seconds))
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
    if (optind != argc || !bench_label_ok(label))
        goto usage;
    if (dstack_client_new(&copts, &c, &err) != DSTACK_OK)
        goto done;

    cpu0 = cpu_us();
    t0 = bench_now_ns();
    deadline = t0 + (uint64_t)seconds * 1000000000u;
    do {
        memset(&resp, 0, sizeof(resp));
        if (dstack_get_key(c, "bench/rps", "bench", "secp256k1", &resp, &err) != DSTACK_OK)
            goto done;
        dstack_key_response_free(&resp);
        calls++;
        now = bench_now_ns();
    } while (now < deadline);

    snprintf(extra, sizeof(extra), "\"calls\":%lu,\"client_cpu_us_per_call\":%.2f", calls,
             (cpu_us() - cpu0) / (double)calls);
    bench_print_value(label, round, "calls/s", (double)calls * 1e9 / (double)(now - t0), extra);
    rc = 0;
done:
    if (rc != 0 && err.message[0] != '\0')
        fprintf(stderr, "%s: %s\n", label, err.message);
    dstack_client_free(c);
    return rc;
usage:
    fprintf(stderr, "usage: bench-getkey-rps [--endpoint EP] [--seconds S] --label LABEL "
                    "[--round R]\n");
    return 2;
}
