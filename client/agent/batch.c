/* Concurrent calls: a sliding window of at most `parallelism` transfers, each on a connection
 * of the batch's own pool (kept alive from one request to the next), results stored by request
 * index. Unix sockets and http:// run the in-house client's transfers (agent/http.h) under one
 * poll(); https:// goes to libcurl's multi interface (batch_curl.c). */
#include "agent/http.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#define DEFAULT_PARALLELISM 16

typedef struct http_slot {
    dstack_http_conn conn;
    dstack_transfer transfer;
    dstack_http_xfer x;
    size_t index;
    long timeout_ms;
    bool busy;
    bool kick; /* just started: step it before waiting */
} http_slot;

void dstack_batch_results_clear(dstack_batch_result *results, size_t n)
{
    if (results == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        dstack_raw_response_clear(&results[i].response);
        memset(&results[i], 0, sizeof(results[i]));
    }
}

/* Starts request `i` in `slot`. A request that cannot start (bad method name, unusable URL)
 * is completed at once with its error, and the slot stays free. */
static bool start_request(dstack_client *c, http_slot *slot, const dstack_batch_request *req,
                          size_t i, dstack_batch_result *res)
{
    const char *body = req->json_body != NULL ? req->json_body : "{}";
    char path[DSTACK_METHOD_MAX + 16];

    dstack_error_clear(&res->error);
    res->status =
        dstack_transfer_begin(c, &slot->transfer, req->method, path, sizeof(path), &res->error);
    if (res->status != DSTACK_OK) {
        dstack_transfer_cleanup(&slot->transfer);
        return false;
    }
    slot->timeout_ms = c->timeout_ms;
    if (!dstack_http_start(&slot->x, c, &slot->transfer, &slot->conn, path, body, strlen(body),
                           c->timeout_ms, c->connect_timeout_ms, &c->connections)) {
        res->status =
            dstack_http_outcome_status(c, &slot->x, slot->timeout_ms, &res->response, &res->error);
        dstack_http_end(&slot->x);
        dstack_transfer_cleanup(&slot->transfer);
        return false;
    }
    slot->index = i;
    slot->busy = true;
    slot->kick = true;
    return true;
}

static void complete_request(dstack_client *c, http_slot *slot, dstack_batch_result *res)
{
    dstack_transfer *t = &slot->transfer;

    dstack_error_clear(&res->error);
    res->status =
        dstack_http_outcome_status(c, &slot->x, slot->timeout_ms, &res->response, &res->error);
    if (res->status == DSTACK_OK)
        res->status = dstack_response_check_status(c, t->method, &res->response, &res->error);
    dstack_http_end(&slot->x);
    dstack_transfer_cleanup(t);
    slot->busy = false;
}

static dstack_status http_batch(dstack_client *c, const dstack_batch_request *requests, size_t n,
                                dstack_batch_result *results, size_t parallelism, dstack_error *err)
{
    http_slot *slots = OPENSSL_zalloc(parallelism * sizeof(*slots));
    struct pollfd *pfd = OPENSSL_zalloc(parallelism * sizeof(*pfd));
    size_t next = 0, active = 0, i;
    dstack_status rc = DSTACK_OK;

    if (slots == NULL || pfd == NULL) {
        rc = dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, c->endpoint, "out of memory");
        goto done;
    }
    for (i = 0; i < parallelism; i++) {
        slots[i].conn.fd = -1;
        pfd[i].fd = -1;
    }
    for (i = 0; i < parallelism; i++)
        while (next < n && !slots[i].busy) {
            if (start_request(c, &slots[i], &requests[next], next, &results[next]))
                active++;
            next++;
        }

    while (active > 0) {
        int wait = -1;

        /* Step the transfers that can proceed (ready descriptor, just started, or at their
         * deadline), then sleep until one can again: idle connections cost no syscall. */
        for (i = 0; i < parallelism; i++) {
            http_slot *s = &slots[i];
            /* fd -1 while busy: a Unix connect waiting out a full backlog, retried now. */
            bool due = s->busy && (s->kick || pfd[i].revents != 0 || pfd[i].fd < 0 ||
                                   dstack_http_wait_ms(&s->x) == 0);

            while (due && s->busy && dstack_http_step(&s->x, &c->connections)) {
                complete_request(c, s, &results[s->index]);
                active--;
                while (next < n && !s->busy) {
                    if (start_request(c, s, &requests[next], next, &results[next]))
                        active++;
                    next++;
                }
            }
            s->kick = false;
            pfd[i].fd = -1;
            pfd[i].revents = 0;
            if (!s->busy)
                continue;
            pfd[i].fd = s->conn.fd;
            pfd[i].events = dstack_http_events(&s->x);
            int w = dstack_http_wait_ms(&s->x);
            wait = wait < 0 || w < wait ? w : wait;
        }
        if (active > 0 && poll(pfd, (nfds_t)parallelism, wait) < 0 && errno != EINTR) {
            rc = dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, c->endpoint,
                                  "batch on %s: poll failed: %s", c->endpoint, strerror(errno));
            goto done;
        }
    }
    for (i = 0; i < n; i++)
        if (results[i].status != DSTACK_OK) {
            rc = results[i].status;
            if (err != NULL)
                *err = results[i].error;
            break;
        }
done:
    for (i = 0; slots != NULL && i < parallelism; i++) {
        if (slots[i].busy) {
            dstack_http_end(&slots[i].x);
            dstack_transfer_cleanup(&slots[i].transfer);
        }
        dstack_http_conn_close(&slots[i].conn);
    }
    OPENSSL_free(slots);
    OPENSSL_free(pfd);
    return rc;
}

dstack_status dstack_call_batch(dstack_client *c, const dstack_batch_request *requests, size_t n,
                                dstack_batch_result *results, size_t parallelism, dstack_error *err)
{
    size_t i;

    dstack_error_clear(err);
    if (c == NULL || (n > 0 && (requests == NULL || results == NULL)))
        return dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL,
                                "dstack_call_batch: client, requests and results are required");
    for (i = 0; i < n; i++) {
        memset(&results[i], 0, sizeof(results[i]));
        /* Overwritten when the request completes; stays if the batch machinery fails. */
        results[i].status =
            dstack_error_set(&results[i].error, DSTACK_ERR_INTERNAL, requests[i].method,
                             c->endpoint, "request %zu of the batch did not run", i);
    }
    if (n == 0)
        return DSTACK_OK;
    if (parallelism == 0)
        parallelism = DEFAULT_PARALLELISM;
    if (parallelism > n)
        parallelism = n;
    if (c->use_curl)
        return dstack_curl_batch(c, requests, n, results, parallelism, err);
    return http_batch(c, requests, n, results, parallelism, err);
}
