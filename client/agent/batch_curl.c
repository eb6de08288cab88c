/* Concurrent calls to an https:// endpoint with the libcurl multi interface (loaded on first
 * use, agent/curl_dl.h): a sliding window of at most `parallelism` transfers, each on a
 * connection of the batch's own pool, results stored by request index. batch.c checks the
 * arguments and sets every result up before calling in here. */
#include "agent/curl_dl.h"

#include <string.h>

#include <openssl/crypto.h>

#define POLL_INTERVAL_MS 1000

typedef struct batch_slot {
    CURL *easy;
    dstack_transfer transfer;
    size_t index;
    bool busy;
} batch_slot;

/* Starts request `i` in `slot`. A request that cannot start (bad method name) is completed
 * at once with its error, and the slot stays free. */
static bool start_request(dstack_client *c, CURLM *multi, batch_slot *slot,
                          const dstack_batch_request *req, size_t i, dstack_batch_result *res)
{
    const char *body = req->json_body != NULL ? req->json_body : "{}";

    dstack_error_clear(&res->error);
    if (slot->easy == NULL) {
        slot->easy = curl_easy_init();
        if (slot->easy == NULL) {
            res->status = dstack_error_set(&res->error, DSTACK_ERR_INTERNAL, req->method,
                                           c->endpoint, "cannot create a libcurl handle");
            return false;
        }
    } else {
        curl_easy_reset(slot->easy);
    }
    res->status = dstack_transfer_prepare(c, slot->easy, &slot->transfer, req->method, body,
                                          strlen(body), 0, &res->error);
    if (res->status != DSTACK_OK) {
        dstack_transfer_cleanup(&slot->transfer);
        return false;
    }
    (void)curl_easy_setopt(slot->easy, CURLOPT_PRIVATE, slot);
    if (curl_multi_add_handle(multi, slot->easy) != CURLM_OK) {
        res->status = dstack_error_set(&res->error, DSTACK_ERR_INTERNAL, slot->transfer.method,
                                       c->endpoint, "%s on %s: cannot queue the request",
                                       slot->transfer.method, c->endpoint);
        dstack_transfer_cleanup(&slot->transfer);
        return false;
    }
    slot->index = i;
    slot->busy = true;
    return true;
}

static void complete_request(dstack_client *c, CURLM *multi, batch_slot *slot, CURLcode cr,
                             dstack_batch_result *res)
{
    dstack_transfer *t = &slot->transfer;

    dstack_error_clear(&res->error);
    res->status = dstack_transfer_finish(c, slot->easy, t, cr, 0, &c->connections, &res->response,
                                         &res->error);
    if (res->status == DSTACK_OK)
        res->status = dstack_response_check_status(c, t->method, &res->response, &res->error);
    curl_multi_remove_handle(multi, slot->easy);
    dstack_transfer_cleanup(t);
    slot->busy = false;
}

dstack_status dstack_curl_batch(dstack_client *c, const dstack_batch_request *requests, size_t n,
                                dstack_batch_result *results, size_t parallelism, dstack_error *err)
{
    dstack_status rc;
    CURLM *multi = NULL;
    batch_slot *slots = NULL;
    size_t next = 0, active = 0, i;

    multi = curl_multi_init();
    slots = OPENSSL_zalloc(parallelism * sizeof(*slots));
    if (multi == NULL || slots == NULL) {
        rc = dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, c->endpoint, "out of memory");
        goto done;
    }
    (void)curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)parallelism);
    (void)curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, (long)parallelism);

    for (i = 0; i < parallelism; i++)
        while (next < n && !slots[i].busy) {
            if (start_request(c, multi, &slots[i], &requests[next], next, &results[next]))
                active++;
            next++;
        }

    while (active > 0) {
        int running = 0, queued = 0;
        CURLMsg *msg;
        CURLMcode mc = curl_multi_perform(multi, &running);

        if (mc != CURLM_OK) {
            rc = dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, c->endpoint, "batch on %s: %s",
                                  c->endpoint, curl_multi_strerror(mc));
            goto done;
        }
        while ((msg = curl_multi_info_read(multi, &queued)) != NULL) {
            char *priv = NULL;
            CURLcode cr = msg->data.result;
            if (msg->msg != CURLMSG_DONE)
                continue;
            (void)curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
            batch_slot *slot = (batch_slot *)(void *)priv;
            complete_request(c, multi, slot, cr, &results[slot->index]);
            active--;
            while (next < n && !slot->busy) {
                if (start_request(c, multi, slot, &requests[next], next, &results[next]))
                    active++;
                next++;
            }
        }
        if (active > 0) {
            mc = curl_multi_poll(multi, NULL, 0, POLL_INTERVAL_MS, NULL);
            if (mc != CURLM_OK) {
                rc = dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, c->endpoint,
                                      "batch on %s: %s", c->endpoint, curl_multi_strerror(mc));
                goto done;
            }
        }
    }

    rc = DSTACK_OK;
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
            curl_multi_remove_handle(multi, slots[i].easy);
            dstack_transfer_cleanup(&slots[i].transfer);
        }
        if (slots[i].easy != NULL)
            curl_easy_cleanup(slots[i].easy);
    }
    OPENSSL_free(slots);
    if (multi != NULL)
        curl_multi_cleanup(multi);
    return rc;
}
