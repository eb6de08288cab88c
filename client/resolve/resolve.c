/* dstack_resolve() (architecture.md §4): a URI into key + certificates, with the per-process
 * cache and the coalescing of concurrent resolutions of the same URI.
 *
 * A call parses the URI, then under the resolver's mutex looks in the cache and among the
 * resolutions in flight. A hit is copied and returned at once, whatever other threads are
 * waiting for. A miss for a URI another thread is already resolving waits for that
 * resolution (bounded by this caller's own timeout); otherwise this thread becomes the
 * resolution's leader and talks to the agent with the mutex released.
 *
 * Timeouts: timeout-ms bounds each caller's whole dstack_resolve(): every RPC of a
 * resolution gets the time left before its leader's deadline, and a waiter gives up at its
 * own deadline.
 */
#include "resolve/resolve_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "crypto/pkey_util.h"

#define URI_SHOWN "%.300s" /* how much of a URI error messages repeat */

/* ---- result objects ----------------------------------------------------------------------- */

void dstack_resolved_free(dstack_resolved *res)
{
    if (res == NULL)
        return;
    OPENSSL_secure_clear_free(res->key_der, res->key_der_len);
    OPENSSL_free(res->spki_der);
    for (size_t i = 0; i < res->cert_count; i++)
        OPENSSL_free(res->cert_der[i]);
    OPENSSL_free(res->cert_der);
    OPENSSL_free(res->cert_der_len);
    OPENSSL_free(res);
}

dstack_status resolved_add_cert(dstack_resolved *res, X509 *cert, dstack_error *err)
{
    unsigned char *der = NULL, **ders;
    size_t *lens;
    int len = i2d_X509(cert, &der);

    if (len <= 0)
        return dstack_error_set(err, DSTACK_ERR_CRYPTO, NULL, NULL,
                                "cannot encode certificate as DER");
    ders = OPENSSL_realloc(res->cert_der, (res->cert_count + 1) * sizeof(*ders));
    if (ders != NULL)
        res->cert_der = ders;
    lens = OPENSSL_realloc(res->cert_der_len, (res->cert_count + 1) * sizeof(*lens));
    if (lens != NULL)
        res->cert_der_len = lens;
    if (ders == NULL || lens == NULL) {
        OPENSSL_free(der);
        return dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, NULL, "out of memory");
    }
    res->cert_der[res->cert_count] = der;
    res->cert_der_len[res->cert_count] = (size_t)len;
    res->cert_count++;
    return DSTACK_OK;
}

static unsigned char *dup_bytes(const unsigned char *src, size_t len, bool secret)
{
    unsigned char *p = secret ? OPENSSL_secure_malloc(len) : OPENSSL_malloc(len);
    if (p != NULL)
        memcpy(p, src, len);
    return p;
}

/* An independent copy holding what `want` asks for. */
static dstack_status resolved_copy(const dstack_resolved *src, unsigned want, dstack_resolved **out,
                                   dstack_error *err)
{
    dstack_resolved *res = OPENSSL_zalloc(sizeof(*res));

    if (res == NULL)
        goto oom;
    res->alg = src->alg;
    res->key_type = src->key_type;
    res->chain_verified = src->chain_verified;
    memcpy(res->cert_source, src->cert_source, sizeof(res->cert_source));
    if ((res->spki_der = dup_bytes(src->spki_der, src->spki_der_len, false)) == NULL)
        goto oom;
    res->spki_der_len = src->spki_der_len;
    if ((want & DSTACK_WANT_KEY) != 0 && src->key_der != NULL) {
        if ((res->key_der = dup_bytes(src->key_der, src->key_der_len, true)) == NULL)
            goto oom;
        res->key_der_len = src->key_der_len;
    }
    if ((want & DSTACK_WANT_CERTS) != 0 && src->cert_count > 0) {
        res->cert_der = OPENSSL_zalloc(src->cert_count * sizeof(*res->cert_der));
        res->cert_der_len = OPENSSL_zalloc(src->cert_count * sizeof(*res->cert_der_len));
        if (res->cert_der == NULL || res->cert_der_len == NULL)
            goto oom;
        for (size_t i = 0; i < src->cert_count; i++) {
            res->cert_der[i] = dup_bytes(src->cert_der[i], src->cert_der_len[i], false);
            if (res->cert_der[i] == NULL)
                goto oom;
            res->cert_der_len[i] = src->cert_der_len[i];
            res->cert_count++;
        }
    } else {
        snprintf(res->cert_source, sizeof(res->cert_source), "none");
    }
    *out = res;
    return DSTACK_OK;
oom:
    dstack_resolved_free(res);
    return dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, NULL, "out of memory");
}

/* ---- one fresh resolution (no lock held) ----------------------------------------------------- */

static dstack_status resolve_fresh(resolve_job *job, unsigned want, dstack_error *err)
{
    dstack_resolver *r = job->r;
    const dstack_alg_info *alg = dstack_alg_get(job->uri.alg);
    dstack_status rc;

    job->out = OPENSSL_zalloc(sizeof(*job->out));
    if (job->out == NULL)
        return dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, NULL, "out of memory");
    job->out->alg = job->uri.alg;
    job->out->key_type = alg->openssl_type;
    snprintf(job->out->cert_source, sizeof(job->out->cert_source), "none");

    if (r->cfg->has_app_id) {
        rc = resolve_check_app_id(job, err);
        if (rc != DSTACK_OK)
            return rc;
    }
    if (job->uri.ephemeral) {
        if (r->cfg->has_kms_root)
            return dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL,
                                    "kms-root-pubkey is configured, and an ephemeral key has "
                                    "no signature chain to verify: refused");
        rc = resolve_ephemeral(job, err); /* key and chain come from one GetTlsKey */
    } else {
        rc = resolve_key(job, want, err); /* DER straight from the secret (resolve_key.c) */
    }
    if (rc != DSTACK_OK)
        return rc;
    /* GetTlsKey's key arrives as PEM, so an ephemeral key's DER comes from its EVP_PKEY. */
    if (job->out->key_der == NULL)
        rc = dstack_pkey_to_pkcs8_der(job->pkey, &job->out->key_der, &job->out->key_der_len, err);
    if (rc == DSTACK_OK && job->out->spki_der == NULL) /* ephemeral: set with the chain */
        rc = dstack_pkey_to_spki_der(job->pkey, &job->out->spki_der, &job->out->spki_der_len, err);
    if (rc == DSTACK_OK && !job->uri.ephemeral && (want & DSTACK_WANT_CERTS) != 0)
        rc = resolve_certs(job, err);
    return rc;
}

/* ---- flights --------------------------------------------------------------------------------- */

static resolve_flight *flight_find(dstack_resolver *r, const char *key, unsigned want)
{
    for (resolve_flight *f = r->flights; f != NULL; f = f->next)
        if (strcmp(f->key, key) == 0 && (f->want & want) == want)
            return f;
    return NULL;
}

static void flight_unlink_free(dstack_resolver *r, resolve_flight *f)
{
    for (resolve_flight **p = &r->flights; *p != NULL; p = &(*p)->next) {
        if (*p == f) {
            *p = f->next;
            break;
        }
    }
    pthread_cond_destroy(&f->cond);
    dstack_resolved_free(f->obj);
    free(f->key);
    free(f);
}

static resolve_flight *flight_new(dstack_resolver *r, const char *key, unsigned want)
{
    resolve_flight *f = calloc(1, sizeof(*f));
    pthread_condattr_t attr;
    bool cond_ok = false;

    if (f == NULL || (f->key = strdup(key)) == NULL) {
        free(f);
        return NULL;
    }
    /* CLOCK_MONOTONIC, like the deadlines: a clock change must not extend a wait. */
    if (pthread_condattr_init(&attr) == 0) {
        cond_ok = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) == 0 &&
                  pthread_cond_init(&f->cond, &attr) == 0;
        pthread_condattr_destroy(&attr);
    }
    if (!cond_ok) {
        free(f->key);
        free(f);
        return NULL;
    }
    f->want = want;
    f->next = r->flights;
    r->flights = f;
    return f;
}

/* Under the lock: wait for another thread's resolution of the same URI, at most until this
 * caller's deadline. */
static dstack_status flight_wait(dstack_resolver *r, resolve_flight *f, const resolve_job *job,
                                 unsigned want, dstack_resolved **out, dstack_error *err)
{
    struct timespec until;
    double deadline = job->deadline_ms;
    dstack_status rc;

    until.tv_sec = (time_t)(deadline / 1e3);
    until.tv_nsec = (long)((deadline - (double)until.tv_sec * 1e3) * 1e6);
    f->waiters++;
    while (!f->done) {
        int w = pthread_cond_timedwait(&f->cond, &r->lock, &until);
        if (w == ETIMEDOUT && !f->done)
            break;
    }
    f->waiters--;
    if (!f->done) {
        rc = dstack_error_set(err, DSTACK_ERR_TIMEOUT, NULL, r->endpoint,
                              "timed out after %ld ms waiting for another thread's resolution "
                              "of the same URI",
                              r->timeout_ms);
    } else if (f->status != DSTACK_OK) {
        if (err != NULL)
            *err = f->error;
        rc = f->status;
    } else {
        rc = resolved_copy(f->obj, want, out, err);
    }
    if (f->done && f->waiters == 0)
        flight_unlink_free(r, f);
    return rc;
}

/* ---- dstack_resolve -------------------------------------------------------------------------- */

static dstack_status job_start(dstack_resolver *r, const char *uri_text, unsigned want,
                               resolve_job *job, dstack_error *err)
{
    memset(job, 0, sizeof(*job));
    if ((want & (DSTACK_WANT_KEY | DSTACK_WANT_CERTS)) == 0 ||
        (want & ~(DSTACK_WANT_KEY | DSTACK_WANT_CERTS)) != 0)
        return dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL,
                                URI_SHOWN ": want must be DSTACK_WANT_KEY and/or "
                                          "DSTACK_WANT_CERTS (got 0x%x)",
                                uri_text, want);
    job->deadline_ms = resolve_now_ms() + (double)r->timeout_ms;
    job->r = r;
    job->uri_text = uri_text;
    return dstack_uri_parse(uri_text, &job->uri, err);
}

dstack_status dstack_resolve(dstack_resolver *r, const char *uri_text, unsigned want,
                             dstack_resolved **out, dstack_error *err)
{
    resolve_job job;
    resolve_flight *flight = NULL;
    char *canonical = NULL, *cache_key = NULL;
    unsigned resolve_want;
    bool store;
    dstack_status rc;

    if (r == NULL || uri_text == NULL || out == NULL)
        return dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL, "dstack_resolve: NULL argument");
    *out = NULL;
    rc = job_start(r, uri_text, want, &job, err);
    if (rc != DSTACK_OK)
        goto done;
    job.cert = job.uri.cert_set ? job.uri.cert : r->cfg->cert;
    job.ratls = job.uri.ratls_set ? job.uri.ratls : r->cfg->ratls;
    /* One GetTlsKey yields key and chain together, and a second call would yield another key:
     * an ephemeral URI is resolved whole and kept for the process whatever `cache` says, so
     * the key and the certificate a server loads separately belong together. */
    resolve_want = job.uri.ephemeral ? DSTACK_WANT_KEY | DSTACK_WANT_CERTS : want;
    store = r->cfg->cache || job.uri.ephemeral;

    canonical = dstack_uri_canonical(&job.uri);
    if (canonical == NULL ||
        asprintf(&cache_key, "%s\n%s\n%s", canonical, r->endpoint, r->tappd_endpoint) < 0) {
        cache_key = NULL;
        rc = dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, NULL, "out of memory");
        goto done;
    }

    pthread_mutex_lock(&r->lock);
    resolver_check_fork(r);
    if (store) {
        const dstack_resolved *hit = resolve_cache_get(&r->cache, cache_key, resolve_want);
        if (hit != NULL) {
            rc = resolved_copy(hit, want, out, err);
            pthread_mutex_unlock(&r->lock);
            RDEBUG(r, RDEBUG_RESOLVE, "%s: cache hit", canonical);
            goto done;
        }
    }
    flight = flight_find(r, cache_key, resolve_want);
    if (flight != NULL) {
        rc = flight_wait(r, flight, &job, want, out, err);
        pthread_mutex_unlock(&r->lock);
        RDEBUG(r, RDEBUG_RESOLVE, "%s: shared another thread's resolution", canonical);
        goto done;
    }
    flight = flight_new(r, cache_key, resolve_want);
    pthread_mutex_unlock(&r->lock);
    if (flight == NULL) {
        rc = dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, NULL, "out of memory");
        goto done;
    }
    RDEBUG(r, RDEBUG_RESOLVE, "%s: cache miss, resolving", canonical);

    rc = resolve_fresh(&job, resolve_want, err);
    job_release_clients(&job);
    if (rc == DSTACK_OK)
        rc = resolved_copy(job.out, want, out, err);
    if (rc != DSTACK_OK) {
        if (err != NULL && err->status == DSTACK_ERR_TIMEOUT)
            dstack_error_append(err, " (timeout %ld ms for the whole resolution)", r->timeout_ms);
        dstack_error_context(err, URI_SHOWN, uri_text);
        RDEBUG(r, RDEBUG_SETUP, "%s", err != NULL ? err->message : "resolution failed");
    } else {
        RDEBUG(r, RDEBUG_RESOLVE, "%s: resolved %s key, certificates: %s (%zu)%s", canonical,
               dstack_key_alg_name(job.uri.alg), job.out->cert_source, job.out->cert_count,
               job.out->chain_verified ? ", chain verified" : "");
    }

    /* Hand the outcome to the waiters, the object to the cache. */
    pthread_mutex_lock(&r->lock);
    flight->done = true;
    flight->status = rc;
    if (rc != DSTACK_OK) {
        if (err != NULL)
            flight->error = *err;
        else
            dstack_error_set(&flight->error, rc, NULL, NULL, URI_SHOWN ": resolution failed",
                             uri_text);
    } else if (flight->waiters > 0) {
        if (!store) {
            flight->obj = job.out;
            job.out = NULL;
        } else if (resolved_copy(job.out, resolve_want, &flight->obj, &flight->error) !=
                   DSTACK_OK) {
            flight->status = DSTACK_ERR_INTERNAL;
        }
    }
    pthread_cond_broadcast(&flight->cond);
    if (flight->waiters == 0)
        flight_unlink_free(r, flight);
    if (rc == DSTACK_OK && store) {
        /* The cache owns the object from here; failing to store it is not the caller's
         * failure (the next load resolves again). */
        (void)resolve_cache_put(&r->cache, cache_key, resolve_want, job.out, NULL);
        job.out = NULL;
    }
    pthread_mutex_unlock(&r->lock);
done:
    if (rc != DSTACK_OK && *out != NULL) {
        dstack_resolved_free(*out);
        *out = NULL;
    }
    dstack_resolved_free(job.out);
    EVP_PKEY_free(job.pkey);
    dstack_uri_free(&job.uri);
    free(canonical);
    free(cache_key);
    return rc;
}
