/* libdstack internal — the pieces of dstack_resolve() (architecture.md §4), split by concern:
 *   resolve.c        resolver lifetime, clients, key derivation, KMS / app-id checks
 *   resolve_cache.c  the per-process cache of resolved objects
 *   resolve_certs.c  certificate sources: agent, self, ephemeral
 *   ratls_cert.c     building the self-issued RA-TLS certificate and its extensions
 * Not installed. */
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
#include <dstack/resolve.h>
#include <dstack/rpc.h>
#include <dstack/uri.h>

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

/* Bound on entries: a process names few keys; the bound protects the secure heap. */
#define RESOLVE_CACHE_MAX 64

/* The entry for `key` that holds at least `want`, or NULL. */
const dstack_resolved *resolve_cache_get(const resolve_cache *c, const char *key, unsigned want);
/* Takes ownership of `obj` (also on failure, when it is freed). Replaces an entry with the
 * same key; evicts the oldest entry beyond RESOLVE_CACHE_MAX. */
dstack_status resolve_cache_put(resolve_cache *c, const char *key, unsigned want,
                                dstack_resolved *obj, dstack_error *err);
void resolve_cache_clear(resolve_cache *c);

/* ---- the resolver ----------------------------------------------------------------------- */

struct dstack_resolver {
    pthread_mutex_t lock; /* guards everything below, except the fork fields */
    /* fork(): set by the atfork child handler when another thread of the parent held `lock`
     * at fork time, so the inherited clients/cache may be mid-update (resolve.c). */
    bool fork_busy;
    struct dstack_resolver *next_registered; /* the atfork registry (resolve.c) */
    dstack_resolve_config cfg;
    char *endpoint_cfg; /* copies of the configured strings (cfg points at them) */
    char *tappd_endpoint_cfg;
    char endpoint[512]; /* effective, after discovery */
    char tappd_endpoint[512];
    long timeout_ms;
    /* CLOCK_MONOTONIC deadline (ms) of the dstack_resolve() in progress: every RPC of one
     * resolution gets the time that is left, so timeout_ms bounds the whole call. */
    double deadline_ms;
    pid_t pid;            /* process the clients and cache belong to */
    dstack_client *guest; /* created on first use, per process */
    dstack_client *tappd;
    bool have_info; /* Info fetched once per resolver */
    dstack_app_info info;
    resolve_cache cache;
};

/* One resolution in progress (under the resolver lock). */
typedef struct resolve_job {
    dstack_resolver *r;
    const char *uri_text; /* as the caller wrote it, for messages */
    dstack_uri uri;
    dstack_cert_mode cert; /* effective: URI, else the configured default */
    dstack_ratls_mode ratls;
    EVP_PKEY *pkey;       /* the key (derived or ephemeral) */
    dstack_resolved *out; /* being filled */
} resolve_job;

/* Formats into the configured debug sink (no-op without one). Never pass key bytes. */
void resolver_debug(dstack_resolver *r, int level, const char *file, int line, const char *func,
                    const char *fmt, ...)
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

/* Per-process clients (recreated after fork by resolve.c). */
dstack_status resolver_guest(dstack_resolver *r, dstack_client **out, dstack_error *err);
dstack_status resolver_tappd(dstack_resolver *r, dstack_client **out, dstack_error *err);
/* Info, fetched once per resolver (guest, else Tappd when the guest socket is absent). */
dstack_status resolver_info(dstack_resolver *r, const dstack_app_info **out, dstack_error *err);

/* True when an agent error means "this agent does not have that method" (protocol.md §1.5:
 * 400 "Service not found: <m>", 0.3.x: 404). */
bool resolve_method_missing(const dstack_error *e);

/* True when `e` is a connection failure because the Unix socket `endpoint` does not exist
 * (or refuses connections): that service is absent, not failing. */
bool resolve_socket_missing(const char *endpoint, const dstack_error *e);

/* ---- certificates (resolve_certs.c) ---------------------------------------------------- */

/* Fills job->out->cert_der/cert_count/cert_source per job->cert and job->ratls; for
 * ephemeral URIs also sets job->pkey from GetTlsKey. */
dstack_status resolve_certs(resolve_job *job, dstack_error *err);
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

/* Self-signed certificate for `key` with the URI's CN / SAN / usage and the evidence. */
dstack_status ratls_cert_build(EVP_PKEY *key, const dstack_uri *uri, const ratls_evidence *ev,
                               X509 **out, dstack_error *err);

/* The .1.9 payload (protocol.md §4.5.3) from an agent's Info. */
dstack_status ratls_app_info_encode(const dstack_app_info *info, uint8_t **out, size_t *out_len,
                                    dstack_error *err);

#endif
