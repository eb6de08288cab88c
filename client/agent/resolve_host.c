/* Host-name resolution for http:// endpoints within the call's deadline.
 *
 * getaddrinfo() cannot be given a timeout, and a resolution bounded by timeout-ms must not
 * hang on a dead DNS server (architecture.md §4 "Deadline"). Numeric addresses need no lookup;
 * a name is looked up on a short-lived thread that the caller waits for with a deadline. A
 * caller that gives up leaves the thread to finish alone: the state is shared under a
 * reference count and freed by whichever side lets go last. */
#include "agent/resolve_host.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct lookup {
    pthread_mutex_t lock;
    pthread_cond_t done_cv;
    int refs;
    bool done;
    int rc;
    struct addrinfo *res;
    char host[256];
    char port[8];
} lookup;

static void copy_addrs(const struct addrinfo *res, dstack_host_addrs *out)
{
    out->n = 0;
    for (const struct addrinfo *ai = res; ai != NULL && out->n < DSTACK_HOST_ADDRS_MAX;
         ai = ai->ai_next) {
        if (ai->ai_addrlen > sizeof(out->addr[0]))
            continue;
        memcpy(&out->addr[out->n], ai->ai_addr, ai->ai_addrlen);
        out->len[out->n] = ai->ai_addrlen;
        out->n++;
    }
}

static void lookup_release(lookup *l)
{
    bool last;

    pthread_mutex_lock(&l->lock);
    last = --l->refs == 0;
    pthread_mutex_unlock(&l->lock);
    if (!last)
        return;
    if (l->res != NULL)
        freeaddrinfo(l->res);
    pthread_cond_destroy(&l->done_cv);
    pthread_mutex_destroy(&l->lock);
    free(l);
}

static void *lookup_thread(void *arg)
{
    lookup *l = arg;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(l->host, l->port, &hints, &res);

    pthread_mutex_lock(&l->lock);
    l->rc = rc;
    l->res = res;
    l->done = true;
    pthread_cond_signal(&l->done_cv);
    pthread_mutex_unlock(&l->lock);
    lookup_release(l);
    return NULL;
}

int dstack_resolve_host(const char *host, const char *port, int timeout_ms, dstack_host_addrs *out,
                        char *why, size_t why_len)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    struct timespec until;
    pthread_attr_t attr;
    pthread_t tid;
    lookup *l;
    int rc;

    out->n = 0;
    if (getaddrinfo(host, port, &hints, &res) == 0) {
        copy_addrs(res, out);
        freeaddrinfo(res);
        return out->n > 0 ? 0 : (snprintf(why, why_len, "no usable address"), -1);
    }
    if (strlen(host) >= sizeof(l->host) || strlen(port) >= sizeof(l->port)) {
        snprintf(why, why_len, "host name too long");
        return -1;
    }
    l = calloc(1, sizeof(*l));
    if (l == NULL) {
        snprintf(why, why_len, "out of memory");
        return -1;
    }
    pthread_mutex_init(&l->lock, NULL);
    pthread_cond_init(&l->done_cv, NULL);
    l->refs = 2; /* this caller and the thread */
    snprintf(l->host, sizeof(l->host), "%s", host);
    snprintf(l->port, sizeof(l->port), "%s", port);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    rc = pthread_create(&tid, &attr, lookup_thread, l);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        l->refs = 1;
        lookup_release(l);
        snprintf(why, why_len, "cannot start the lookup: %s", strerror(rc));
        return -1;
    }
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&l->lock);
    while (!l->done && rc == 0)
        rc = pthread_cond_timedwait(&l->done_cv, &l->lock, &until);
    if (!l->done) {
        snprintf(why, why_len, "timeout");
        rc = -1;
    } else if (l->rc != 0) {
        snprintf(why, why_len, "%s", gai_strerror(l->rc));
        rc = -1;
    } else {
        copy_addrs(l->res, out);
        rc = out->n > 0 ? 0 : -1;
        if (rc != 0)
            snprintf(why, why_len, "no usable address");
    }
    pthread_mutex_unlock(&l->lock);
    lookup_release(l);
    return rc;
}
