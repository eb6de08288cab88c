/* libdstack internal — the pieces of dstack_resolve() (architecture.md §4), split by concern:
 *   resolver.c       resolver lifetime, fork handling, client pools, the Info snapshot
 *   resolve.c        dstack_resolve(): cache, coalescing of concurrent resolutions, results
 *   resolve_key.c    the key: GetKey and its fallbacks, signature chain, app-id check
 *   resolve_cache.c  the per-process cache of resolved objects
 *   resolve_certs.c  certificate sources: agent, self, ephemeral
 *   ratls_cert.c     building the self-issued RA-TLS certificate and its extensions
 *   config.c         the configuration table
 * Not installed.
 *
 * Locking: the resolver's mutex guards its bookkeeping (cache, in-flight resolutions, client
 * pools, fork state) and is never held across agent I/O or while parsing what the agent
 * sent. A resolution borrows one client per service from the pools for its duration. */
#ifndef DSTACK_RESOLVE_INTERNAL_H
#define DSTACK_RESOLVE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <dstack/client.h>
#include <dstack/config.h>
#include <dstack/resolve.h>
#include <dstack/rpc.h>
#include <dstack/uri.h>

#include "resolve/config_internal.h"

/* ---- cache (resolve_cache.c) ----------------------------------------------------------- */

typedef struct resolve_cache_entry {
    char *key;     /* canonical URI + endpoints */
    unsigned want; /* what the stored object was resolved with */
    dstack_resolved *obj;
    struct resolve_cache_entry *next;
} resolve_cache_entry;

typedef struct resolve_cache {
    resolve_cache_entry *head; /* most recently stored first */
    size_t count;
} resolve_cache;

/* Bound on entries: a process names few keys; the bound protects memory. */
#define RESOLVE_CACHE_MAX 64

/* The entry for `key` that holds at least `want`, or NULL. */
const dstack_resolved *resolve_cache_get(const resolve_cache *c, const char *key, unsigned want);
/* Takes ownership of `obj` (also on failure, when it is freed). Replaces an entry with the
 * same key; evicts the oldest entry beyond RESOLVE_CACHE_MAX. */
dstack_status resolve_cache_put(resolve_cache *c, const char *key, unsigned want,
                                dstack_resolved *obj, dstack_error *err);
void resolve_cache_clear(resolve_cache *c);

/* ---- the resolver ----------------------------------------------------------------------- */

/* Idle clients of one service, reused across resolutions (one kept-alive connection each). */
#define RESOLVE_POOL_MAX 8
typedef struct client_pool {
    dstack_client *idle[RESOLVE_POOL_MAX];
    size_t count;
} client_pool;

/* A resolution in progress that concurrent callers of the same URI wait for (resolve.c). */
typedef struct resolve_flight {
    char *key;
    unsigned want;
    bool done;
    dstack_status status;
    dstack_error error;
    dstack_resolved *obj; /* the result, owned by the flight */
    unsigned waiters;
    pthread_cond_t cond;
    struct resolve_flight *next;
} resolve_flight;

struct dstack_resolver {
    pthread_mutex_t lock; /* guards the fields marked [L]; never held across I/O */
    /* fork(): set by the atfork child handler when a thread of the parent held `lock` at
     * fork time, so the inherited bookkeeping may be mid-update (resolver.c). */
    bool fork_busy;
    struct dstack_resolver *next_registered; /* the atfork registry (resolver.c) */
    dstack_config *cfg;                      /* own copy, immutable */
    char endpoint[512];                      /* effective, after discovery */
    char tappd_endpoint[512];
    /* An endpoint the user named is the only one tried: no discovered fallback. */
    bool endpoint_explicit;
    bool tappd_explicit;
    long timeout_ms;
    pid_t pid;                   /* [L] process the pools, flights and cache belong to */
    client_pool pools[2];        /* [L] guest, tappd */
    const dstack_app_info *info; /* [L] set once, then read without the lock */
    resolve_cache cache;         /* [L] */
    resolve_flight *flights;     /* [L] */
    OSSL_LIB_CTX *untrusted;     /* [L] for parsing agent data, acquired on first need */
};

/* One resolution in progress: owned by one thread, never shared. */
typedef struct resolve_job {
    dstack_resolver *r;
    const char *uri_text; /* as the caller wrote it, for messages */
    dstack_uri uri;
    dstack_cert_mode cert; /* effective: URI, else the configured default */
    dstack_ratls_mode ratls;
    double deadline_ms;       /* CLOCK_MONOTONIC: timeout-ms after this caller started */
    dstack_client *client[2]; /* borrowed from the pools (guest, tappd), returned at the end */
    EVP_PKEY *pkey;           /* the key (derived or ephemeral), in the caller's context */
    dstack_resolved *out;     /* being filled */
} resolve_job;

/* Formats into the configured debug sink (no-op without one). Never pass key bytes; agent
 * text is escaped by the sink's caller (dstack_text_escape). */
void resolver_debug(const dstack_resolver *r, int level, const char *file, int line,
                    const char *func, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 6, 7)))
#endif
    ;
#define RDEBUG(r, level, ...)                                                                      \
    resolver_debug((r), (level), __FILE__, __LINE__, __func__, __VA_ARGS__)

/* Debug levels: 1 setup and failures, 2 one line per resolution, 3 every RPC. */
#define RDEBUG_SETUP 1
#define RDEBUG_RESOLVE 2
#define RDEBUG_RPC 3

double resolve_now_ms(void);
/* Under the lock: drops what the parent process owned (first use in a fork child). */
void resolver_check_fork(dstack_resolver *r);

/* The job's client for the guest / Tappd service, borrowed from the pool on first use,
 * with the time left before the job's deadline as its timeout. */
dstack_status job_guest(resolve_job *job, dstack_client **out, dstack_error *err);
dstack_status job_tappd(resolve_job *job, dstack_client **out, dstack_error *err);
/* The private library context agent PEM is parsed in (crypto/untrusted.h); NULL when it
 * cannot be created, after setting err. */
OSSL_LIB_CTX *job_untrusted_ctx(resolve_job *job, dstack_error *err);
/* Returns the job's clients to the pools. */
void job_release_clients(resolve_job *job);
/* Info, fetched once per resolver (guest, else Tappd for an agent without the guest socket). */
dstack_status job_info(resolve_job *job, const dstack_app_info **out, dstack_error *err);

/* True when an agent error means "this agent does not have that method" (protocol.md §1.5:
 * 400 "Service not found: <m>"; 0.3.x: 404 "method Not Found"). */
bool resolve_method_missing(const dstack_error *e);
/* True when `e` is a connection failure because the Unix socket `endpoint` does not exist
 * (or refuses connections): that service is absent, not failing. */
bool resolve_socket_missing(const char *endpoint, const dstack_error *e);
/* True when the job may turn to the Tappd service because the guest service is absent:
 * the guest endpoint was discovered (not named by the user) and its socket is missing. */
bool resolve_guest_absent(const resolve_job *job, const dstack_error *e);

/* ---- the key (resolve_key.c) ------------------------------------------------------------- */

/* Sets job->out's key DER and SPKI from GetKey (or the legacy fallbacks), after the
 * configured checks, straight from the secret; job->pkey too when `want` has certificates,
 * which sign with it or compare it with the agent's leaf. A key-only load thus never fetches
 * an OSSL_ENCODER (bench/README.md, "Where the cold load and the RSS went"). */
dstack_status resolve_key(resolve_job *job, unsigned want, dstack_error *err);
/* The configured app id equals the agent's. */
dstack_status resolve_check_app_id(resolve_job *job, dstack_error *err);

/* ---- certificates (resolve_certs.c) ---------------------------------------------------- */

/* Fills job->out->cert_der/cert_count/cert_source per job->cert and job->ratls. */
dstack_status resolve_certs(resolve_job *job, dstack_error *err);
/* Ephemeral URIs: key and chain from one GetTlsKey. */
dstack_status resolve_ephemeral(resolve_job *job, dstack_error *err);
/* Pre-0.4 agents: the p256 key from Tappd.DeriveKey(path, random_seed=false). */
dstack_status resolve_legacy_p256_key(resolve_job *job, dstack_key_response *kr, dstack_error *err);

/* Appends DER of `cert` to the result's chain. */
dstack_status resolved_add_cert(dstack_resolved *res, X509 *cert, dstack_error *err);

/* ---- self-issued RA-TLS certificates (ratls_cert.c) ----------------------------------- */

typedef struct ratls_evidence {
    uint8_t *attestation; /* VersionedAttestation → .1.8 (NULL: absent) */
    size_t attestation_len;
    uint8_t *quote; /* TDX quote → .1.1 */
    size_t quote_len;
    char *event_log_json; /* its event log → .1.2 */
    uint8_t *app_info;    /* msgpack AppInfo → .1.9 */
    size_t app_info_len;
} ratls_evidence;

void ratls_evidence_clear(ratls_evidence *ev);

/* Self-signed certificate for `key` with the URI's CN / SAN / usage and the evidence, signed
 * in the configured library context. */
dstack_status ratls_cert_build(const dstack_config *cfg, EVP_PKEY *key, const dstack_uri *uri,
                               const ratls_evidence *ev, X509 **out, dstack_error *err);

/* The .1.9 payload (protocol.md §4.5.3) from an agent's Info. */
dstack_status ratls_app_info_encode(const dstack_config *cfg, const dstack_app_info *info,
                                    uint8_t **out, size_t *out_len, dstack_error *err);

#endif
