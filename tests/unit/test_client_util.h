/* Helpers shared by the libdstack client tests (tests/unit/test_client_*.c; only for them). */
#ifndef DSTACK_TEST_CLIENT_UTIL_H
#define DSTACK_TEST_CLIENT_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <json-c/json.h>

#include <dstack/client.h>
#include <dstack/keys.h>

#include "test_util.h"

/* A client for `service` on the simulator started by with-sim.sh. */
static inline dstack_client *sim_client(dstack_service service, long timeout_ms)
{
    static const char *const env[] = {"DSTACK_SIMULATOR_ENDPOINT", "TAPPD_SIMULATOR_ENDPOINT",
                                      "DSTACK_WORKER_ENDPOINT"};
    dstack_client_options o = {DSTACK_OPTIONS_INIT(dstack_client_options), .service = service,
                               .endpoint = test_env(env[service]), .timeout_ms = timeout_ms};
    dstack_client *c = NULL;
    dstack_error e;
    if (dstack_client_new(&o, &c, &e) != DSTACK_OK) {
        fprintf(stderr, "client: %s\n", e.message);
        abort();
    }
    return c;
}

static inline double monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static inline bool hex_to(const char *hex, uint8_t *out, size_t len)
{
    size_t got = 0;
    return dstack_hex_decode(hex, strlen(hex), out, len, &got) && got == len;
}

static inline size_t stats_sink(char *p, size_t s, size_t n, void *ud)
{
    size_t k = s * n, *len = ud;
    char *buf = (char *)(len + 1);
    if (*len + k >= 4000)
        return 0;
    memcpy(buf + *len, p, k);
    *len += k;
    buf[*len] = 0;
    return k;
}

/* Reads the simulator's `GET /stats` counter connections.<listener> (faults.md contract);
 * -1 on failure. */
static inline long sim_stat(const char *group, const char *listener)
{
    char path[4096];
    struct {
        size_t len;
        char buf[4000];
    } acc = {0};
    long value = -1;
    CURL *h = curl_easy_init();
    json_object *root = NULL, *g, *v;

    snprintf(path, sizeof(path), "%s/sim-control.sock", test_env("DSTACK_SIM_DIR"));
    curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, path);
    curl_easy_setopt(h, CURLOPT_URL, "http://localhost/stats");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, stats_sink);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &acc);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 3000L);
    if (curl_easy_perform(h) == CURLE_OK && (root = json_tokener_parse(acc.buf)) != NULL &&
        json_object_object_get_ex(root, group, &g) && json_object_object_get_ex(g, listener, &v))
        value = (long)json_object_get_int64(v);
    json_object_put(root);
    curl_easy_cleanup(h);
    return value;
}

#endif
