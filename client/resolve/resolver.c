/* The resolver (include/dstack/resolve.h): its lifetime, endpoints, per-process client pools,
 * the Info snapshot and fork() handling.
 *
 * Concurrency: the mutex guards bookkeeping only — the pools, the cache, the in-flight
 * resolutions, the fork state — and is never held across agent I/O or while parsing agent
 * data. A resolution borrows one client per service from the pools (clients are not
 * thread-safe, client.h) and returns it when done, so a slow agent answer for one thread
 * never delays another thread's cache hit.
 *
 * fork(): the pools, the in-flight table and the cache belong to the process that made them
 * (r->pid). The first resolution in a child drops them — freeing the clients closes only the
 * child's copies of the descriptors — and opens its own connections; the parent's
 * connections are never reused. A fork while another thread holds the mutex would leave the
 * child with a mutex no thread of it will ever release: a pthread_atfork child handler walks
 * every live resolver, re-creates a mutex that was held at fork time and marks the resolver,
 * whose possibly half-updated bookkeeping the child then abandons (never frees, never uses).
 * The parent is never delayed by fork(): the mutex is only ever held for bookkeeping.
 */
#include "resolve/resolve_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "crypto/untrusted.h"

void resolver_debug(const dstack_resolver *r, int level, const char *file, int line,
                    const char *func, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    if (r == NULL || r->cfg->debug == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    r->cfg->debug(r->cfg->debug_ctx, level, file, line, func, "%s", msg);
}

double resolve_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ---- absent services ---------------------------------------------------------------------- */

bool resolve_method_missing(const dstack_error *e)
{
    if (e->status != DSTACK_ERR_AGENT)
        return false;
    /* prpc 0.6 (0.4+): 400 "Service not found: <method>"; prpc 0.5 (0.3.x): 404 "method Not
     * Found". Any other 404 (a proxy, a wrong base URL) is a failure, not a missing method. */
    if (e->http_status == 400)
        return strncmp(e->agent_error, "Service not found", 17) == 0;
    return e->http_status == 404 && strstr(e->agent_error, "method Not Found") != NULL;
}

/* A legacy agent has no guest socket at all, a newer one may lack tappd.sock (protocol.md §0:
 * 0.3.x/0.4.x serve only tappd.sock). Only then does the resolver turn to another service:
 * an agent that exists but drops or resets a connection is failing, and papering over that
 * with another service would hide faults. */
static bool socket_absent(const char *endpoint)
{
    struct sockaddr_un sa;
    struct stat st;
    bool absent = false;
    int fd;

    if (strncasecmp(endpoint, "http://", 7) == 0 || strncasecmp(endpoint, "https://", 8) == 0)
        return false;
    if (strncasecmp(endpoint, "unix:", 5) == 0)
        endpoint += 5;
    if (stat(endpoint, &st) != 0)
        return true;
    if (strlen(endpoint) >= sizeof(sa.sun_path))
        return false;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, endpoint, strlen(endpoint));
    /* Non-blocking: a live agent with a full backlog must not stall the probe (EAGAIN). */
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return false;
    /* A stale socket file whose agent is gone refuses connections. */
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 &&
        (errno == ECONNREFUSED || errno == ENOENT))
        absent = true;
    close(fd);
    return absent;
}

bool resolve_socket_missing(const char *endpoint, const dstack_error *e)
{
    return e->status == DSTACK_ERR_CONNECTION && socket_absent(endpoint);
}

bool resolve_guest_absent(const resolve_job *job, const dstack_error *e)
{
    return !job->r->endpoint_explicit && resolve_socket_missing(job->r->endpoint, e);
}

/* ---- fork --------------------------------------------------------------------------------- */

/* Every live resolver, for the atfork child handler. The registry lock is held only for
 * list updates, and across fork() itself (prepare → parent/child), so the child sees a
 * consistent list. */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static dstack_resolver *registry_head;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static int atfork_rc = -1;

static void atfork_prepare(void)
{
    pthread_mutex_lock(&registry_lock);
}

static void atfork_parent(void)
{
    pthread_mutex_unlock(&registry_lock);
}

/* Runs in the child's only thread. A resolver lock that cannot be taken was held by a parent
 * thread that does not exist here: re-create it (the glibc malloc atfork handler does the
 * same with its arena locks) and mark the state it guarded as untrustworthy. */
static void atfork_child(void)
{
    for (dstack_resolver *r = registry_head; r != NULL; r = r->next_registered) {
        if (pthread_mutex_trylock(&r->lock) == 0) {
            pthread_mutex_unlock(&r->lock);
        } else {
            (void)pthread_mutex_init(&r->lock, NULL);
            r->fork_busy = true;
        }
    }
    pthread_mutex_unlock(&registry_lock);
}

static void atfork_register(void)
{
    atfork_rc = pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

static void registry_add(dstack_resolver *r)
{
    pthread_mutex_lock(&registry_lock);
    r->next_registered = registry_head;
    registry_head = r;
    pthread_mutex_unlock(&registry_lock);
}

static void registry_remove(dstack_resolver *r)
{
    pthread_mutex_lock(&registry_lock);
    for (dstack_resolver **p = &registry_head; *p != NULL; p = &(*p)->next_registered) {
        if (*p == r) {
            *p = r->next_registered;
            break;
        }
    }
    pthread_mutex_unlock(&registry_lock);
}

static void pools_free(dstack_resolver *r)
{
    for (size_t s = 0; s < 2; s++) {
        for (size_t i = 0; i < r->pools[s].count; i++)
            dstack_client_free(r->pools[s].idle[i]);
        r->pools[s].count = 0;
    }
}

static void flights_drop(dstack_resolver *r)
{
    /* Only in a fork child: the parent's waiters do not exist here, and destroying a
     * condition variable they were blocked on could wait for them forever. */
    while (r->flights != NULL) {
        resolve_flight *f = r->flights;
        r->flights = f->next;
        dstack_resolved_free(f->obj);
        free(f->key);
        free(f);
    }
}

void resolver_check_fork(dstack_resolver *r)
{
    pid_t pid = getpid();

    if (pid == r->pid)
        return;
    if (r->fork_busy) {
        /* A parent thread was mid-update at fork(): abandon what the lock guarded, freeing
         * could follow a torn list. */
        memset(r->pools, 0, sizeof(r->pools));
        memset(&r->cache, 0, sizeof(r->cache));
        r->flights = NULL;
        r->fork_busy = false;
    }
    pools_free(r);
    flights_drop(r);
    resolve_cache_clear(&r->cache);
    r->pid = pid;
    RDEBUG(r, RDEBUG_SETUP, "resolver: new process %ld, dropped inherited connections and cache",
           (long)pid);
}

/* ---- lifetime ------------------------------------------------------------------------------ */

dstack_status dstack_resolver_new(const dstack_config *cfg, dstack_resolver **out,
                                  dstack_error *err)
{
    dstack_status rc;
    dstack_resolver *r = NULL;

    if (cfg == NULL || out == NULL)
        return dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL,
                                "dstack_resolver_new: NULL argument");
    *out = NULL;
    rc = dstack_config_check(cfg, err);
    if (rc != DSTACK_OK)
        return rc;
    r = calloc(1, sizeof(*r));
    if (r == NULL || (r->cfg = dstack_config_dup(cfg)) == NULL) {
        free(r);
        return dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, NULL, "out of memory");
    }
    r->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : DSTACK_TIMEOUT_MS_DEFAULT;
    r->endpoint_explicit = cfg->endpoint != NULL;
    r->tappd_explicit = cfg->tappd_endpoint != NULL;
    /* Discovery only looks at the environment and the file system: no agent traffic. */
    rc = dstack_discover_endpoint(DSTACK_SERVICE_GUEST, cfg->endpoint, r->endpoint,
                                  sizeof(r->endpoint), err);
    if (rc == DSTACK_OK)
        rc = dstack_discover_endpoint(DSTACK_SERVICE_TAPPD, cfg->tappd_endpoint, r->tappd_endpoint,
                                      sizeof(r->tappd_endpoint), err);
    if (rc != DSTACK_OK)
        goto err;
    if (pthread_once(&atfork_once, atfork_register) != 0 || atfork_rc != 0) {
        rc = dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, NULL, "pthread_atfork failed");
        goto err;
    }
    if (pthread_mutex_init(&r->lock, NULL) != 0) {
        rc = dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, NULL, "pthread_mutex_init failed");
        goto err;
    }
    r->pid = getpid();
    registry_add(r);
    RDEBUG(r, RDEBUG_SETUP,
           "resolver: endpoint %s%s, tappd endpoint %s%s, timeout %ld ms, cache %s", r->endpoint,
           r->endpoint_explicit ? "" : " (discovered)", r->tappd_endpoint,
           r->tappd_explicit ? "" : " (discovered)", r->timeout_ms, cfg->cache ? "on" : "off");
    *out = r;
    return DSTACK_OK;
err:
    dstack_config_free(r->cfg);
    free(r);
    return rc;
}

void dstack_resolver_free(dstack_resolver *r)
{
    if (r == NULL)
        return;
    registry_remove(r);
    pools_free(r);
    /* No resolution may be in progress when the resolver is freed (resolve.h). */
    while (r->flights != NULL) {
        resolve_flight *f = r->flights;
        r->flights = f->next;
        pthread_cond_destroy(&f->cond);
        dstack_resolved_free(f->obj);
        free(f->key);
        free(f);
    }
    if (r->info != NULL) {
        dstack_app_info_free((dstack_app_info *)r->info);
        free((dstack_app_info *)r->info);
    }
    resolve_cache_clear(&r->cache);
    dstack_untrusted_release(r->untrusted);
    pthread_mutex_destroy(&r->lock);
    dstack_config_free(r->cfg);
    free(r);
}

const char *dstack_resolver_endpoint(const dstack_resolver *r)
{
    return r != NULL ? r->endpoint : NULL;
}

const char *dstack_resolver_tappd_endpoint(const dstack_resolver *r)
{
    return r != NULL ? r->tappd_endpoint : NULL;
}

/* ---- clients ------------------------------------------------------------------------------ */

static dstack_status job_client(resolve_job *job, dstack_service service, dstack_client **out,
                                dstack_error *err)
{
    dstack_resolver *r = job->r;
    size_t s = service == DSTACK_SERVICE_TAPPD ? 1 : 0;
    const char *endpoint = s == 1 ? r->tappd_endpoint : r->endpoint;
    /* Each RPC gets what is left of this caller's budget. */
    long left = (long)(job->deadline_ms - resolve_now_ms());
    dstack_status rc;

    if (left <= 0)
        return dstack_error_set(err, DSTACK_ERR_TIMEOUT, NULL, endpoint,
                                "the resolution used up its %ld ms before the next RPC",
                                r->timeout_ms);
    if (job->client[s] == NULL) {
        pthread_mutex_lock(&r->lock);
        resolver_check_fork(r);
        if (r->pools[s].count > 0)
            job->client[s] = r->pools[s].idle[--r->pools[s].count];
        pthread_mutex_unlock(&r->lock);
    }
    if (job->client[s] == NULL) {
        dstack_client_options opts;
        memset(&opts, 0, sizeof(opts));
        opts.struct_size = sizeof(opts);
        opts.service = service;
        opts.endpoint = endpoint;
        opts.timeout_ms = r->timeout_ms;
        rc = dstack_client_new(&opts, &job->client[s], err);
        if (rc != DSTACK_OK)
            return rc;
    }
    dstack_client_set_timeout(job->client[s], left < r->timeout_ms ? left : r->timeout_ms);
    *out = job->client[s];
    return DSTACK_OK;
}

dstack_status job_guest(resolve_job *job, dstack_client **out, dstack_error *err)
{
    return job_client(job, DSTACK_SERVICE_GUEST, out, err);
}

dstack_status job_tappd(resolve_job *job, dstack_client **out, dstack_error *err)
{
    return job_client(job, DSTACK_SERVICE_TAPPD, out, err);
}

void job_release_clients(resolve_job *job)
{
    dstack_resolver *r = job->r;
    dstack_client *extra[2] = {NULL, NULL};

    if (job->client[0] == NULL && job->client[1] == NULL)
        return;
    pthread_mutex_lock(&r->lock);
    resolver_check_fork(r); /* a client made before fork() belongs to the parent */
    for (size_t s = 0; s < 2; s++) {
        if (job->client[s] == NULL)
            continue;
        if (r->pools[s].count < RESOLVE_POOL_MAX)
            r->pools[s].idle[r->pools[s].count++] = job->client[s];
        else
            extra[s] = job->client[s];
        job->client[s] = NULL;
    }
    pthread_mutex_unlock(&r->lock);
    dstack_client_free(extra[0]);
    dstack_client_free(extra[1]);
}

OSSL_LIB_CTX *job_untrusted_ctx(resolve_job *job, dstack_error *err)
{
    dstack_resolver *r = job->r;
    OSSL_LIB_CTX *ctx;

    pthread_mutex_lock(&r->lock);
    if (r->untrusted == NULL)
        r->untrusted = dstack_untrusted_acquire();
    ctx = r->untrusted;
    pthread_mutex_unlock(&r->lock);
    if (ctx == NULL)
        dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, NULL,
                         "cannot create OpenSSL's parsing context for agent data");
    return ctx;
}

/* ---- Info ------------------------------------------------------------------------------------ */

static dstack_status fetch_info(resolve_job *job, dstack_app_info *info, dstack_error *err)
{
    dstack_resolver *r = job->r;
    dstack_client *c = NULL;
    dstack_error guest_err, tappd_err;
    dstack_status rc;

    dstack_error_clear(&guest_err);
    dstack_error_clear(&tappd_err);
    RDEBUG(r, RDEBUG_RPC, "Info on %s", r->endpoint);
    rc = job_guest(job, &c, &guest_err);
    if (rc == DSTACK_OK)
        rc = dstack_info(c, info, &guest_err);
    if (rc != DSTACK_OK && resolve_guest_absent(job, &guest_err)) {
        /* Legacy agent with only the Tappd socket (protocol.md §2.2: same AppInfo). */
        RDEBUG(r, RDEBUG_RPC, "Tappd.Info on %s", r->tappd_endpoint);
        memset(info, 0, sizeof(*info));
        if (job_tappd(job, &c, &tappd_err) == DSTACK_OK &&
            dstack_info(c, info, &tappd_err) == DSTACK_OK) {
            rc = DSTACK_OK;
        } else if (tappd_err.status != DSTACK_ERR_CONNECTION) {
            guest_err = tappd_err;
            rc = tappd_err.status;
        }
    }
    if (rc != DSTACK_OK && err != NULL)
        *err = guest_err;
    return rc;
}

dstack_status job_info(resolve_job *job, const dstack_app_info **out, dstack_error *err)
{
    dstack_resolver *r = job->r;
    dstack_app_info *info;
    dstack_status rc;

    pthread_mutex_lock(&r->lock);
    *out = r->info;
    pthread_mutex_unlock(&r->lock);
    if (*out != NULL)
        return DSTACK_OK;
    info = calloc(1, sizeof(*info));
    if (info == NULL)
        return dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, NULL, "out of memory");
    rc = fetch_info(job, info, err);
    if (rc != DSTACK_OK) {
        dstack_app_info_free(info);
        free(info);
        return rc;
    }
    /* Two threads may fetch at once; the first to finish publishes, the other's copy goes. */
    pthread_mutex_lock(&r->lock);
    if (r->info == NULL) {
        r->info = info;
        info = NULL;
    }
    *out = r->info;
    pthread_mutex_unlock(&r->lock);
    if (info != NULL) {
        dstack_app_info_free(info);
        free(info);
    }
    return DSTACK_OK;
}
