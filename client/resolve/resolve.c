/* Resolving a dstack: URI into key + certificates (architecture.md §4): the resolver, its
 * per-process clients, key derivation, and the KMS-root / app-id checks.
 *
 * Concurrency: one mutex per resolver serialises resolutions. A resolution is a handful of
 * RPCs on one kept-alive connection per service, and repeated loads are served from the
 * cache under the same lock, so the simple lock costs little and keeps the clients (which
 * are not thread-safe, client.h) consistent.
 *
 * fork(): the clients and the cache belong to the process that made them (r->pid). The
 * first resolution in a child frees the inherited clients — closing only the child's copy
 * of the descriptors — and opens its own connections; the parent's connection is never
 * reused. A fork while another thread is inside dstack_resolve() would leave the child with
 * a mutex no thread of it will ever release: a pthread_atfork child handler walks every live
 * resolver, re-initialises a lock that was held at fork time and marks the resolver, whose
 * possibly half-updated clients, Info and cache the child then abandons (never frees, never
 * uses). The parent is not delayed: fork() never waits for a resolution to finish.
 *
 * Timeouts: timeout_ms bounds a whole dstack_resolve(), not each RPC. A resolution may make
 * several RPCs (Info for app-id, GetKey, DeriveKey or Attest/GetQuote, fallbacks); each gets
 * only the time left before the deadline set when the resolver lock is taken (time spent
 * waiting for another thread's resolution is not counted).
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

#include <dstack/keys.h>

#include "crypto/pkey_util.h"
#include "agent/transport_internal.h"

#define URI_SHOWN "%.300s" /* how much of a URI error messages repeat */

void resolver_debug(dstack_resolver *r, int level, const char *file, int line, const char *func,
                    const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    if (r == NULL || r->cfg.debug == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    r->cfg.debug(r->cfg.debug_ctx, level, file, line, func, "%s", msg);
}

bool resolve_method_missing(const dstack_error *e)
{
    return e->status == DSTACK_ERR_AGENT &&
           (e->http_status == 404 || strstr(e->agent_error, "Service not found") != NULL);
}

/* A legacy agent has no guest socket at all, a newer one may lack tappd.sock (protocol.md §0:
 * 0.3.x/0.4.x serve only tappd.sock). Only then does the resolver turn to Tappd: an agent that
 * exists but drops or resets a connection is failing, and papering over that with another service
 * would hide faults.
 */
static bool socket_absent(const char *endpoint)
{
    struct sockaddr_un sa;
    struct stat st;
    bool absent = false;
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
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
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

static void error_copy(dstack_error *dst, const dstack_error *src)
{
    if (dst != NULL)
        *dst = *src;
}

/* ---- fork ------------------------------------------------------------------------------- */

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

/* ---- lifetime ---------------------------------------------------------------------------- */

dstack_status dstack_resolver_new(const dstack_resolve_config *cfg, dstack_resolver **out,
                                  dstack_error *err)
{
    dstack_status rc;
    dstack_resolver *r = NULL;

    if (cfg == NULL || out == NULL)
        return dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL,
                                "dstack_resolver_new: NULL argument");
    *out = NULL;
    if (cfg->timeout_ms < 0)
        return dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL,
                                "timeout must not be negative (got %ld ms)", cfg->timeout_ms);
    if (cfg->has_app_id && (cfg->app_id_len == 0 || cfg->app_id_len > sizeof(cfg->app_id)))
        return dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL,
                                "app-id must be 1 to %zu bytes (got %zu)", sizeof(cfg->app_id),
                                cfg->app_id_len);
    dstack_secure_heap_init();
    r = calloc(1, sizeof(*r));
    if (r == NULL)
        return dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, NULL, "out of memory");
    r->cfg = *cfg;
    r->cfg.endpoint = r->cfg.tappd_endpoint = NULL;
    if ((cfg->endpoint != NULL && (r->endpoint_cfg = strdup(cfg->endpoint)) == NULL) ||
        (cfg->tappd_endpoint != NULL &&
         (r->tappd_endpoint_cfg = strdup(cfg->tappd_endpoint)) == NULL)) {
        rc = dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, NULL, "out of memory");
        goto err;
    }
    r->cfg.endpoint = r->endpoint_cfg;
    r->cfg.tappd_endpoint = r->tappd_endpoint_cfg;
    r->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : DSTACK_DEFAULT_TIMEOUT_MS;
    /* Discovery only looks at the environment and the file system: no agent traffic. */
    rc = dstack_discover_endpoint(DSTACK_SERVICE_GUEST, r->endpoint_cfg, r->endpoint,
                                  sizeof(r->endpoint), err);
    if (rc != DSTACK_OK)
        goto err;
    rc = dstack_discover_endpoint(DSTACK_SERVICE_TAPPD, r->tappd_endpoint_cfg, r->tappd_endpoint,
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
    RDEBUG(r, RDEBUG_SETUP, "resolver: endpoint %s, tappd endpoint %s, timeout %ld ms, cache %s",
           r->endpoint, r->tappd_endpoint, r->timeout_ms, cfg->cache ? "on" : "off");
    *out = r;
    return DSTACK_OK;
err:
    free(r->endpoint_cfg);
    free(r->tappd_endpoint_cfg);
    free(r);
    return rc;
}

void dstack_resolver_free(dstack_resolver *r)
{
    if (r == NULL)
        return;
    registry_remove(r);
    dstack_client_free(r->guest);
    dstack_client_free(r->tappd);
    if (r->have_info)
        dstack_app_info_free(&r->info);
    resolve_cache_clear(&r->cache);
    pthread_mutex_destroy(&r->lock);
    free(r->endpoint_cfg);
    free(r->tappd_endpoint_cfg);
    free(r);
}

const char *dstack_resolver_endpoint(dstack_resolver *r)
{
    return r != NULL ? r->endpoint : NULL;
}

const char *dstack_resolver_tappd_endpoint(dstack_resolver *r)
{
    return r != NULL ? r->tappd_endpoint : NULL;
}

/* Under the lock: drop what the parent process owned. */
static void resolver_check_fork(dstack_resolver *r)
{
    pid_t pid = getpid();
    if (pid == r->pid)
        return;
    if (r->fork_busy) {
        /* Another parent thread was mid-resolution at fork(): its clients, Info and cache
         * may be half-updated. Abandon them; freeing could follow a torn list. */
        r->guest = r->tappd = NULL;
        r->have_info = false;
        memset(&r->info, 0, sizeof(r->info));
        memset(&r->cache, 0, sizeof(r->cache));
        r->fork_busy = false;
    }
    dstack_client_free(r->guest);
    dstack_client_free(r->tappd);
    r->guest = r->tappd = NULL;
    resolve_cache_clear(&r->cache);
    r->pid = pid;
    RDEBUG(r, RDEBUG_SETUP, "resolver: new process %ld, dropped inherited connections and cache",
           (long)pid);
}

static double monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static dstack_status resolver_client(dstack_resolver *r, dstack_service service,
                                     const char *endpoint, dstack_client **slot,
                                     dstack_client **out, dstack_error *err)
{
    /* The next RPC gets what is left of this resolution's budget (r->deadline_ms). */
    long left = (long)(r->deadline_ms - monotonic_ms());
    if (left <= 0)
        return dstack_error_set(err, DSTACK_ERR_TIMEOUT, NULL, endpoint,
                                "timed out: the resolution used up its %ld ms before the next "
                                "RPC on %s",
                                r->timeout_ms, endpoint);
    if (*slot == NULL) {
        dstack_client_options opts = {0};
        opts.service = service;
        opts.endpoint = endpoint;
        opts.timeout_ms = r->timeout_ms;
        dstack_status rc = dstack_client_new(&opts, slot, err);
        if (rc != DSTACK_OK)
            return rc;
    }
    dstack_client_set_timeout(*slot, left < r->timeout_ms ? left : r->timeout_ms);
    *out = *slot;
    return DSTACK_OK;
}

dstack_status resolver_guest(dstack_resolver *r, dstack_client **out, dstack_error *err)
{
    return resolver_client(r, DSTACK_SERVICE_GUEST, r->endpoint, &r->guest, out, err);
}

dstack_status resolver_tappd(dstack_resolver *r, dstack_client **out, dstack_error *err)
{
    return resolver_client(r, DSTACK_SERVICE_TAPPD, r->tappd_endpoint, &r->tappd, out, err);
}

dstack_status resolver_info(dstack_resolver *r, const dstack_app_info **out, dstack_error *err)
{
    dstack_client *c = NULL;
    dstack_error guest_err, tappd_err;
    dstack_status rc;

    dstack_error_clear(&guest_err);
    dstack_error_clear(&tappd_err);
    if (r->have_info) {
        *out = &r->info;
        return DSTACK_OK;
    }
    RDEBUG(r, RDEBUG_RPC, "Info on %s", r->endpoint);
    rc = resolver_guest(r, &c, &guest_err);
    if (rc == DSTACK_OK)
        rc = dstack_info(c, &r->info, &guest_err);
    if (rc != DSTACK_OK && resolve_socket_missing(r->endpoint, &guest_err)) {
        /* Legacy agent with only the Tappd socket (protocol.md §2.2: same AppInfo). */
        RDEBUG(r, RDEBUG_RPC, "Tappd.Info on %s", r->tappd_endpoint);
        if (resolver_tappd(r, &c, &tappd_err) == DSTACK_OK &&
            dstack_info(c, &r->info, &tappd_err) == DSTACK_OK) {
            rc = DSTACK_OK;
        } else if (tappd_err.status != DSTACK_ERR_CONNECTION) {
            guest_err = tappd_err;
            rc = tappd_err.status;
        }
    }
    if (rc != DSTACK_OK) {
        error_copy(err, &guest_err);
        return rc;
    }
    r->have_info = true;
    *out = &r->info;
    return DSTACK_OK;
}

/* ---- the key ----------------------------------------------------------------------------- */

static const char *getkey_algorithm(dstack_key_alg alg)
{
    /* p256 uses the same 32 bytes as secp256k1 (protocol.md §3.2); its chain signs the secp256k1
     * public key of those bytes. */
    return alg == DSTACK_ALG_ED25519 ? "ed25519" : "secp256k1";
}

/* GetKey; agents that have only the legacy Tappd socket: Tappd.DeriveK256Key (same bytes,
 * same chain, protocol.md §2.2). */
static dstack_status fetch_key(resolve_job *job, dstack_key_response *kr, dstack_error *err)
{
    dstack_resolver *r = job->r;
    const char *algorithm = getkey_algorithm(job->uri.alg);
    dstack_client *c = NULL;
    dstack_error guest_err, tappd_err;
    dstack_status rc;

    dstack_error_clear(&guest_err);
    dstack_error_clear(&tappd_err);
    RDEBUG(r, RDEBUG_RPC, "GetKey(algorithm %s) on %s", algorithm, r->endpoint);
    rc = resolver_guest(r, &c, &guest_err);
    if (rc == DSTACK_OK)
        rc = dstack_get_key(c, job->uri.path, job->uri.purpose, algorithm, kr, &guest_err);
    if (rc == DSTACK_OK)
        return rc;
    if (!resolve_socket_missing(r->endpoint, &guest_err)) {
        error_copy(err, &guest_err);
        return rc;
    }
    RDEBUG(r, RDEBUG_RPC, "guest agent unreachable; Tappd.DeriveK256Key on %s", r->tappd_endpoint);
    rc = resolver_tappd(r, &c, &tappd_err);
    if (rc == DSTACK_OK)
        rc = dstack_tappd_derive_k256_key(c, job->uri.path, job->uri.purpose, algorithm, kr,
                                          &tappd_err);
    if (rc == DSTACK_ERR_AGENT && resolve_method_missing(&tappd_err)) {
        /* A 0.3.x agent: Tappd without DeriveK256Key (protocol.md §8). */
        if (job->uri.alg == DSTACK_ALG_P256) {
            dstack_error_clear(&tappd_err);
            rc = resolve_legacy_p256_key(job, kr, &tappd_err);
        } else {
            dstack_error_prefix(&tappd_err,
                                "this agent predates dstack 0.4 and derives only P-256 keys "
                                "(alg=p256), not %s: ",
                                dstack_key_alg_name(job->uri.alg));
        }
    }
    if (rc == DSTACK_ERR_CONNECTION) {
        /* Neither socket answers: report the primary one, mention the fallback. */
        char tail[sizeof(tappd_err.message)];
        snprintf(tail, sizeof(tail), "%s", tappd_err.message);
        error_copy(err, &guest_err);
        if (err != NULL)
            snprintf(err->message + strlen(err->message),
                     sizeof(err->message) - strlen(err->message), "; legacy fallback: %s", tail);
    } else if (rc != DSTACK_OK) {
        error_copy(err, &tappd_err);
    }
    return rc;
}

static void hex_text(const uint8_t *buf, size_t len, char *out, size_t cap)
{
    if (2 * len + 1 > cap)
        len = (cap - 1) / 2;
    dstack_hex_encode(buf, len, out);
}

static dstack_status check_app_id(resolve_job *job, dstack_error *err)
{
    dstack_resolver *r = job->r;
    const dstack_app_info *info = NULL;
    char want[2 * sizeof(r->cfg.app_id) + 1], got[2 * 64 + 1];
    dstack_status rc = resolver_info(r, &info, err);
    if (rc != DSTACK_OK)
        return rc;
    if (info->app_id.len == r->cfg.app_id_len &&
        memcmp(info->app_id.data, r->cfg.app_id, r->cfg.app_id_len) == 0)
        return DSTACK_OK;
    hex_text(r->cfg.app_id, r->cfg.app_id_len, want, sizeof(want));
    hex_text(info->app_id.data, info->app_id.len, got, sizeof(got));
    return dstack_error_set(err, DSTACK_ERR_CRYPTO, "Info", r->endpoint,
                            "the agent at %s serves app_id %s, but app-id %s is configured",
                            r->endpoint, got[0] != '\0' ? got : "(empty)", want);
}

/* protocol.md §3.4: the chain must lead from the derived key to the configured KMS root. */
static dstack_status verify_chain(resolve_job *job, const dstack_key_response *kr,
                                  dstack_error *err)
{
    dstack_resolver *r = job->r;
    const dstack_app_info *info = NULL;
    const uint8_t **chain = NULL;
    size_t *lens = NULL;
    dstack_chain_result result;
    char root[67];
    dstack_status rc = resolver_info(r, &info, err);
    if (rc != DSTACK_OK)
        return rc;
    size_t n = kr->signature_chain_len;
    chain = calloc(n + 1, sizeof(*chain));
    lens = calloc(n + 1, sizeof(*lens));
    if (chain == NULL || lens == NULL) {
        rc = dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, NULL, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        chain[i] = kr->signature_chain[i].data;
        lens[i] = kr->signature_chain[i].len;
    }
    rc = dstack_verify_signature_chain(getkey_algorithm(job->uri.alg), kr->key.data,
                                       job->uri.purpose, chain, lens, n, info->app_id.data,
                                       info->app_id.len, r->cfg.kms_root, &result, err);
    if (rc != DSTACK_OK && job->uri.alg == DSTACK_ALG_ED25519) {
        /* Agents before 0.5.6 ignore `algorithm` (protocol.md §3.3): the bytes are the same Ed25519
         * seed, but chain[0] signs their secp256k1 public key. Either proves the app key
         * endorsed these 32 bytes. */
        dstack_error retry;
        dstack_error_clear(&retry);
        if (dstack_verify_signature_chain("secp256k1", kr->key.data, job->uri.purpose, chain, lens,
                                          n, info->app_id.data, info->app_id.len, r->cfg.kms_root,
                                          &result, &retry) == DSTACK_OK) {
            RDEBUG(r, RDEBUG_RESOLVE,
                   "ed25519 key: chain signs its secp256k1 public key "
                   "(agent older than 0.5.6)");
            rc = DSTACK_OK;
        }
    }
    if (rc != DSTACK_OK) {
        dstack_hex_encode(r->cfg.kms_root, sizeof(r->cfg.kms_root), root);
        dstack_error_prefix(err, "signature chain does not lead to kms-root-pubkey %s: ", root);
        goto done;
    }
    job->out->chain_verified = true;
    RDEBUG(r, RDEBUG_RESOLVE, "signature chain verified to the configured KMS root");
done:
    free(chain);
    free(lens);
    return rc;
}

static dstack_status derive_key(resolve_job *job, dstack_error *err)
{
    dstack_key_response kr;
    dstack_status rc;

    memset(&kr, 0, sizeof(kr));
    rc = fetch_key(job, &kr, err);
    if (rc != DSTACK_OK)
        goto done;
    if (kr.key.len != 32) {
        rc = dstack_error_set(err, DSTACK_ERR_PROTOCOL, "GetKey", job->r->endpoint,
                              "GetKey on %s: key is %zu bytes, expected 32", job->r->endpoint,
                              kr.key.len);
        goto done;
    }
    if (job->r->cfg.has_kms_root) {
        rc = verify_chain(job, &kr, err);
        if (rc != DSTACK_OK)
            goto done;
    }
    rc = dstack_pkey_from_secret(job->uri.alg, kr.key.data, &job->pkey, err);
    if (rc != DSTACK_OK) /* e.g. zero or ≥ the group order: the agent's reply is unusable */
        dstack_error_prefix(err, "GetKey on %s: the agent's key is unusable: ", job->r->endpoint);
done:
    dstack_key_response_free(&kr);
    return rc;
}

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
    unsigned char *der = NULL;
    int len = i2d_X509(cert, &der);
    if (len <= 0)
        return dstack_error_set(err, DSTACK_ERR_CRYPTO, NULL, NULL,
                                "cannot encode certificate as DER");
    unsigned char **ders = OPENSSL_realloc(res->cert_der, (res->cert_count + 1) * sizeof(*ders));
    if (ders != NULL)
        res->cert_der = ders;
    size_t *lens = OPENSSL_realloc(res->cert_der_len, (res->cert_count + 1) * sizeof(*lens));
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

static unsigned char *dup_bytes(const unsigned char *src, size_t len, bool secure)
{
    unsigned char *p = secure ? OPENSSL_secure_malloc(len) : OPENSSL_malloc(len);
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

/* ---- dstack_resolve ------------------------------------------------------------------------ */

static dstack_status resolve_fresh(resolve_job *job, unsigned want, dstack_error *err)
{
    dstack_resolver *r = job->r;
    dstack_status rc;

    job->out = OPENSSL_zalloc(sizeof(*job->out));
    if (job->out == NULL)
        return dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, NULL, "out of memory");
    job->out->alg = job->uri.alg;
    job->out->key_type = job->uri.alg == DSTACK_ALG_ED25519 ? "ED25519" : "EC";
    snprintf(job->out->cert_source, sizeof(job->out->cert_source), "none");

    if (r->cfg.has_app_id) {
        rc = check_app_id(job, err);
        if (rc != DSTACK_OK)
            return rc;
    }
    if (job->uri.ephemeral) {
        if (r->cfg.has_kms_root)
            return dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL,
                                    "kms-root-pubkey is configured, and an ephemeral key has "
                                    "no signature chain to verify: refused");
        rc = resolve_ephemeral(job, err); /* key and chain come from one GetTlsKey */
        if (rc != DSTACK_OK)
            return rc;
    } else {
        rc = derive_key(job, err);
        if (rc != DSTACK_OK)
            return rc;
    }
    rc = dstack_pkey_to_pkcs8_der(job->pkey, &job->out->key_der, &job->out->key_der_len, err);
    if (rc == DSTACK_OK)
        rc = dstack_pkey_to_spki_der(job->pkey, &job->out->spki_der, &job->out->spki_der_len, err);
    if (rc == DSTACK_OK && !job->uri.ephemeral && (want & DSTACK_WANT_CERTS) != 0)
        rc = resolve_certs(job, err);
    return rc;
}

dstack_status dstack_resolve(dstack_resolver *r, const char *uri_text, unsigned want,
                             dstack_resolved **out, dstack_error *err)
{
    resolve_job job;
    char *canonical = NULL, *cache_key = NULL;
    dstack_status rc;
    bool locked = false;

    memset(&job, 0, sizeof(job));
    if (r == NULL || uri_text == NULL || out == NULL)
        return dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL, "dstack_resolve: NULL argument");
    *out = NULL;
    if ((want & (DSTACK_WANT_KEY | DSTACK_WANT_CERTS)) == 0 ||
        (want & ~(DSTACK_WANT_KEY | DSTACK_WANT_CERTS)) != 0)
        return dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL,
                                URI_SHOWN ": want must be DSTACK_WANT_KEY and/or "
                                          "DSTACK_WANT_CERTS (got 0x%x)",
                                uri_text, want);
    rc = dstack_uri_parse(uri_text, &job.uri, err);
    if (rc != DSTACK_OK)
        return rc;
    job.r = r;
    job.uri_text = uri_text;
    job.cert = job.uri.cert_set ? job.uri.cert : r->cfg.default_cert;
    job.ratls = job.uri.ratls_set ? job.uri.ratls : r->cfg.default_ratls;
    /* One GetTlsKey yields key and chain together; keeping both lets a later certificate
     * load of the same ephemeral URI match the key already handed out. */
    unsigned resolve_want = job.uri.ephemeral ? DSTACK_WANT_KEY | DSTACK_WANT_CERTS : want;

    canonical = dstack_uri_canonical(&job.uri);
    if (canonical == NULL ||
        asprintf(&cache_key, "%s\n%s\n%s", canonical, r->endpoint, r->tappd_endpoint) < 0) {
        cache_key = NULL;
        rc = dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, NULL, "out of memory");
        goto done;
    }

    pthread_mutex_lock(&r->lock);
    locked = true;
    resolver_check_fork(r);
    r->deadline_ms = monotonic_ms() + (double)r->timeout_ms;
    if (r->cfg.cache) {
        const dstack_resolved *hit = resolve_cache_get(&r->cache, cache_key, resolve_want);
        if (hit != NULL) {
            RDEBUG(r, RDEBUG_RESOLVE, "%s: cache hit (%s, %zu certificate(s))", canonical,
                   hit->cert_source, hit->cert_count);
            rc = resolved_copy(hit, want, out, err);
            goto done;
        }
        RDEBUG(r, RDEBUG_RESOLVE, "%s: cache miss", canonical);
    }
    rc = resolve_fresh(&job, resolve_want, err);
    if (rc != DSTACK_OK) {
        if (err != NULL && err->status == DSTACK_ERR_TIMEOUT)
            snprintf(err->message + strlen(err->message),
                     sizeof(err->message) - strlen(err->message),
                     " (timeout %ld ms for the whole resolution)", r->timeout_ms);
        dstack_error_prefix(err, URI_SHOWN ": ", uri_text);
        RDEBUG(r, RDEBUG_SETUP, "%s", err != NULL ? err->message : "resolution failed");
        goto done;
    }
    RDEBUG(r, RDEBUG_RESOLVE, "%s: resolved %s key, certificates: %s (%zu)%s", canonical,
           dstack_key_alg_name(job.uri.alg), job.out->cert_source, job.out->cert_count,
           job.out->chain_verified ? ", chain verified" : "");
    rc = resolved_copy(job.out, want, out, err);
    if (rc == DSTACK_OK && r->cfg.cache) {
        rc = resolve_cache_put(&r->cache, cache_key, resolve_want, job.out, err);
        job.out = NULL; /* owned by the cache now */
        if (rc != DSTACK_OK) {
            dstack_resolved_free(*out);
            *out = NULL;
        }
    }
done:
    if (locked)
        pthread_mutex_unlock(&r->lock);
    dstack_resolved_free(job.out);
    EVP_PKEY_free(job.pkey);
    dstack_uri_free(&job.uri);
    free(canonical);
    free(cache_key);
    return rc;
}
