/* dstack-sim — shared state and internal interfaces of the agent simulator.
 *
 * The simulator speaks the guest-agent wire protocol (protocol.md §1.3–§1.5, §2; 0.6 by
 * default, older releases with --agent-version) on three Unix sockets (and optionally TCP).
 * Everything here is internal to simulator/.
 */
#ifndef DSTACK_SIM_H
#define DSTACK_SIM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <dstack/attest.h>
#include <dstack/error.h>
#include <dstack/keys.h>

#define SIM_AGENT_VERSION "0.6.0" /* the default profile's release (versions.c) */
/* The build may pass -DDSTACK_VERSION="x.y.z"; the fallback mirrors CMake's project(). */
#ifdef DSTACK_VERSION
#define SIM_PROJECT_VERSION DSTACK_VERSION
#else
#define SIM_PROJECT_VERSION "0.1.0"
#endif
#define SIM_REV "dstack-sim " SIM_PROJECT_VERSION
#define SIM_SERVER_HEADER "dstack Simulator"
#define SIM_BODY_LIMIT (10u * 1024u * 1024u) /* protocol.md §1.3: 10 MiB per request */

/* ---- listeners / services ------------------------------------------------------------ */
typedef enum sim_service {
    SIM_SVC_DSTACK = 0, /* dstack.sock: /<Method> */
    SIM_SVC_TAPPD,      /* tappd.sock: /prpc/[Tappd.]<Method> */
    SIM_SVC_WORKER,     /* external.sock: /prpc/[Worker.]<Method> */
    SIM_SVC_HTTP,       /* --http: DstackGuest over TCP */
    SIM_SVC_PCCS,       /* --pccs: the simulated Intel's collateral (pccs.c) */
    SIM_SVC_CONTROL,    /* sim-control.sock: GET /stats (never faulted) */
    SIM_SVC_COUNT
} sim_service;

const char *sim_service_name(sim_service svc);

/* ---- emulated agent releases (versions.c, protocol.md §0) ----------------------------------- */
typedef enum sim_agent_version {
    SIM_AGENT_0_3 = 0, /* tappd only */
    SIM_AGENT_0_4,
    SIM_AGENT_0_5_5,
    SIM_AGENT_0_5_11,
    SIM_AGENT_0_6 /* default */
} sim_agent_version;

typedef enum sim_info_kind {
    SIM_INFO_WORKER_V03, /* 0.3 WorkerInfo: string ids, tcb_info with rootfs_hash */
    SIM_INFO_WORKER,     /* 0.4–0.5.0 WorkerInfo, fields 1–13 (protocol.md §2.4) */
    SIM_INFO_APP_V055,   /* AppInfo before cloud_vendor/cloud_product (0.5.6) */
    SIM_INFO_APP         /* v0.5.11 AppInfo */
} sim_info_kind;

typedef enum sim_cert_ext {
    SIM_CERT_EXT_NONE,       /* 0.3: agent leaves carry no attestation */
    SIM_CERT_EXT_QUOTE,      /* <= 0.5.5: .1.1 quote + .1.2 full event log (protocol.md §4.3) */
    SIM_CERT_EXT_ATTESTATION /* 0.5.9+: .1.8 VersionedAttestation */
} sim_cert_ext;

/* How the RPCs of one release line behave; which RPCs exist is the `since` column of the
 * method tables in dispatch.c. */
typedef struct sim_profile {
    sim_agent_version version;
    const char *name;        /* --agent-version value */
    const char *release;     /* reported by Version and X-App-Version */
    bool guest_socket;       /* dstack.sock / DstackGuest exists (0.4+) */
    bool prpc_full_names;    /* prpc 0.5: /prpc/Tappd.<M> only, unknown → 404 (0.3) */
    bool getkey_algorithm;   /* GetKey honours `algorithm` (0.5.6+, protocol.md §3.3) */
    bool derive_from_ca_key; /* 0.3 Tappd.DeriveKey: (path, subject, alt_names) only, IKM =
                              * the app CA scalar (protocol.md §3.2, §8) */
    sim_info_kind info;
    bool quote_vm_config;  /* GetQuoteResponse.vm_config (0.5.4+) */
    sim_cert_ext cert_ext; /* attestation in agent-issued RA-TLS leaves */
    bool cert_ip_san;      /* IP literals become iPAddress SANs (0.5.11) */
    bool cert_options;     /* GetTlsKey not_before/not_after/with_app_info (0.5.6+) */
    bool cert_v03_leaf;    /* 0.3 leaves: no KeyUsage, notAfter +365 days (protocol.md §4.6) */
    /* The 0.5.6+ agent strips the event logs of GetQuote, TdxQuote, RawQuote and
     * GetAttestationForAppKey (protocol.md §5.2): the default, --full-event-log undoes it. */
    bool quote_log_stripped;
    /* Info.app_cert of 0.3: the app CA PEM; later a demo chain (protocol.md §2.6.5) */
    bool app_cert_is_ca;
    /* 0.6 (protocol.md §2.6): */
    bool acpi_labels;         /* ACPI DATA events named, their payload kept when stripped */
    bool event_log_v2;        /* app-compose "event_log_version": 2 honoured */
    bool tls_validity_check;  /* GetTlsKey refuses not_before >= not_after */
    bool tdx_prefix_echo;     /* TdxQuote echoes the prefix used, not always "app-data" */
    bool gpu_policy_event;    /* boot event gpu-policy-hash */
    unsigned app_info_fields; /* .1.9 array length: 8, 9 with init_script_hashes */
} sim_profile;

/* NULL when name is not one of 0.3, 0.4, 0.5.5, 0.5.11, 0.6. */
const sim_profile *sim_profile_find(const char *name);
const sim_profile *sim_profile_default(void);

/* ---- faults (/tmp/faults.md contract, architecture.md §8) ------------------------------------ */
typedef enum sim_fault_kind {
    SIM_FAULT_DELAY = 0,
    SIM_FAULT_STATUS,
    SIM_FAULT_GARBAGE,
    SIM_FAULT_TRUNCATE,
    SIM_FAULT_CLOSE,
    SIM_FAULT_OVERSIZE
} sim_fault_kind;

typedef struct sim_fault {
    char method[64]; /* "*" = every method */
    sim_fault_kind kind;
    unsigned long arg; /* delay ms or HTTP status */
} sim_fault;

typedef struct sim_faults {
    sim_fault *items;
    size_t count;
} sim_faults;

/* The effective faults for one method: delay first, then at most one terminal action. */
typedef struct sim_fault_plan {
    unsigned long delay_ms;
    bool has_action;
    sim_fault_kind action;
    unsigned long status;
} sim_fault_plan;

/* Parses "<Method|*>=<kind>[:<arg>]"; on error writes a message into msg. */
bool sim_faults_add(sim_faults *faults, const char *spec, char *msg, size_t msg_len);
void sim_faults_plan(const sim_faults *faults, const char *method, sim_fault_plan *plan);
void sim_faults_free(sim_faults *faults);

/* ---- identity (protocol.md §3.1, §3.4) ------------------------------------------------------- */
typedef struct sim_identity {
    bool builtin;               /* built-in insecure development identity */
    uint8_t app_key[32];        /* k256_key: the app key (secret) */
    uint8_t app_pub[33];        /* compressed secp256k1 public key of app_key */
    uint8_t k256_signature[65]; /* KMS signature over the app key; may be empty */
    size_t k256_signature_len;
    uint8_t kms_root_pub[33]; /* built-in identity only */
    EVP_PKEY *ca_key;         /* P-256 CA key signing the leaves */
    X509 *ca_cert;
    char *ca_pem;
    uint8_t app_id[20];
    uint8_t instance_id[20];
} sim_identity;

/* Loads the official appkeys.json format; app_id may be NULL (see identity.c). */
bool sim_identity_load(sim_identity *id, const char *appkeys_path, const uint8_t *app_id, char *msg,
                       size_t msg_len);
bool sim_identity_builtin(sim_identity *id, char *msg, size_t msg_len);
/* Writes an identity in the official appkeys.json format (key provider None, mode 0600), so
 * tests and other agents can load the built-in identity with --appkeys. */
bool sim_identity_write_appkeys(const sim_identity *id, const char *path, char *msg,
                                size_t msg_len);
void sim_identity_free(sim_identity *id);

/* ---- attestation state (protocol.md §5) ------------------------------------------------------ */
typedef struct sim_attest {
    pthread_mutex_t lock; /* guards log (EmitEvent appends while others quote) */
    dstack_event_log log; /* full log: boot events + runtime events, in order */
    uint8_t mrtd[48];
    uint8_t mr_seam[48];
    uint8_t tee_tcb_svn[16];
    uint8_t xfam[8];
    EVP_PKEY *quote_key; /* simulated attestation key signing quotes */
    EVP_PKEY *pck_key;   /* simulated "PCK" key signing the QE report */
    char *pck_pem;
    uint8_t *real_quote; /* --quote: a real quote whose report_data is patched */
    size_t real_quote_len;
} sim_attest;

/* ---- the simulated Intel (intel.c, pccs.c; protocol.md §5.6–§5.8) ---------------------------- */
struct sim_ctx;

/* The QE of the simulated quotes; the simulated QE identity names the same. */
#define SIM_QE_SIGNER_LABEL "dstack-sim QE signer" /* MRSIGNER = SHA-256 of this */
#define SIM_QE_ISVPRODID 2
#define SIM_QE_ISVSVN 8

typedef struct sim_intel {
    const char *tcb_status; /* --tcb-status: the platform level's status (default UpToDate) */
    EVP_PKEY *root_key, *tcb_key, *ca_key; /* the PCK leaf's key is att.pck_key */
    X509 *root, *tcb, *ca, *pck;
    char *root_pem, *tcb_chain_pem, *ca_chain_pem;
    uint8_t *root_crl, *pck_crl; /* DER */
    size_t root_crl_len, pck_crl_len;
    char *tcb_info, *qe_identity; /* signed as they stand */
    uint8_t tcb_info_sig[64], qe_identity_sig[64];
    char fmspc_hex[13];
} sim_intel;

/* The hierarchy (sets att.pck_pem to the PCK chain) and the collateral; needs att.pck_key. */
bool sim_intel_init(struct sim_ctx *ctx, char *msg, size_t msg_len);
/* Writes the root CA to <dir>/sim-intel-root.pem (*path malloc'd, removed by the caller). */
bool sim_intel_write_root(const struct sim_ctx *ctx, const char *dir, char **path, char *msg,
                          size_t msg_len);
void sim_intel_free(sim_intel *in);

typedef struct sim_pccs_query {
    const char *ca, *encoding, *fmspc; /* query parameters, NULL when absent */
} sim_pccs_query;

typedef struct sim_pccs_reply {
    unsigned status;
    char *body; /* malloc'd */
    size_t len;
    const char *content_type;
    const char *header_name; /* the issuer-chain header, NULL for none */
    char *header_value;      /* percent-encoded PEM, malloc'd */
} sim_pccs_reply;

/* The fault name of a PCCS path ("PCCS.tcb", …); NULL when the path is not served (404). */
const char *sim_pccs_method(const char *path);
/* The answer for `method`; false on OOM. */
bool sim_pccs_answer(const struct sim_ctx *ctx, const char *method, const sim_pccs_query *q,
                     sim_pccs_reply *r);
void sim_pccs_reply_free(sim_pccs_reply *r);

/* ---- the simulator ---------------------------------------------------------------------- */
typedef struct sim_ctx {
    const sim_profile *profile; /* emulated agent release (--agent-version) */
    sim_identity id;
    char *compose; /* app-compose.json text */
    size_t compose_len;
    uint8_t compose_hash[32];
    char *app_name;
    bool public_tcbinfo;
    bool public_logs; /* reported by the pre-0.5.1 WorkerInfo only */
    bool public_sysinfo;
    bool no_instance_id;
    char *storage_fs;
    char *vm_config; /* VmConfig JSON text */
    uint8_t os_image_hash[32];
    char *key_provider_info;       /* {"name":"kms","id":"<hex SPKI>"} */
    bool strip_event_log;          /* GetQuote/TdxQuote logs stripped like the real agent */
    unsigned event_log_version;    /* DSTACK_EVENT_LOG_V1/_V2 of this boot (app-compose) */
    pthread_mutex_t app_cert_lock; /* guards app_cert */
    char *app_cert;                /* Info.app_cert, made on the first Info */
    int socket_mode;               /* --socket-mode; -1: as created under the umask */
    sim_attest att;
    sim_intel intel;
    sim_faults faults;
    atomic_bool stopping;
    atomic_ulong connections[SIM_SVC_COUNT];
    atomic_ulong requests[SIM_SVC_COUNT];
} sim_ctx;

/* ---- request arguments (protocol.md §1.3, §1.4) ---------------------------------------------- */
typedef struct sim_args {
    json_object *obj; /* the request message (an object), never NULL once decoded */
    bool from_query;  /* GET: values are strings from the query string */
    const char *type; /* message type name for serde-like messages */
    char err[512];
} sim_args;

/* Builds args from a JSON body (empty → defaults) or from the query-string arguments
 * (an object of strings / arrays of strings, see listener.c). false → err set. */
bool sim_args_from_json(sim_args *a, const char *type, const char *body, size_t len);
bool sim_args_from_query(sim_args *a, const char *type, json_object *query);
void sim_args_free(sim_args *a);

/* Field accessors: missing → proto3 default; null/wrong type → false with a serde-like
 * message in a->err. Returned strings are owned by the args object. */
bool sim_arg_string(sim_args *a, const char *name, const char **out);
bool sim_arg_bool(sim_args *a, const char *name, bool *out);
bool sim_arg_opt_u64(sim_args *a, const char *name, bool *set, uint64_t *out);
bool sim_arg_bytes(sim_args *a, const char *name, uint8_t **out, size_t *len);     /* malloc */
bool sim_arg_strings(sim_args *a, const char *name, const char ***out, size_t *n); /* free(*out) */

/* Lowercase hex (malloc'd). */
char *sim_hex(const uint8_t *buf, size_t len);

/* ---- replies ------------------------------------------------------------------------------ */
typedef struct sim_reply {
    unsigned status;
    char *body; /* malloc'd */
    size_t len;
} sim_reply;

/* 200 with the compact JSON of obj (takes ownership of obj). false on OOM. */
bool sim_reply_json(sim_reply *r, json_object *obj);
/* 200 with a literal body (e.g. "null" for google.protobuf.Empty, protocol.md §1.4). */
bool sim_reply_raw(sim_reply *r, const char *text);
/* 400 {"error": "<msg>"} pretty-printed as the agent does (protocol.md §1.5). Returns true. */
bool sim_reply_error(sim_reply *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool sim_reply_status(sim_reply *r, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* 400 with the decoding error recorded in args (serde-like message). Returns true. */
bool sim_reply_arg_error(sim_reply *r, const sim_args *args);
/* JSON string of lowercase hex (NULL on OOM; json-c then stores null). */
json_object *sim_json_hex(const uint8_t *buf, size_t len);
/* Serialises json-c objects compactly without escaping '/' (PEM text). Caller frees. */
char *sim_json_text(json_object *obj, bool pretty);

/* ---- dispatch ------------------------------------------------------------------------------ */
/* Maps (service, URL path) to a method name; false → 404. method_out gets the method name
 * with the service prefix stripped; *qualified tells whether a prefix was there. */
bool sim_route(sim_service svc, const char *path, char *method_out, size_t method_len,
               bool *qualified);
/* Runs a method of the emulated release (ctx->profile). body/query per protocol.md §1.3 (json_mode
 * false → request was protobuf). */
void sim_dispatch(sim_ctx *ctx, sim_service svc, const char *method, bool qualified, bool is_get,
                  bool json_mode, json_object *query, const char *body, size_t body_len,
                  sim_reply *reply);

/* ---- RPC handlers --------------------------------------------------------------------------- */
typedef bool (*sim_handler)(sim_ctx *ctx, sim_service svc, sim_args *args, sim_reply *reply);

bool sim_rpc_get_key(sim_ctx *, sim_service, sim_args *, sim_reply *);
bool sim_rpc_derive_k256_key(sim_ctx *, sim_service, sim_args *, sim_reply *);
bool sim_rpc_sign(sim_ctx *, sim_service, sim_args *, sim_reply *);
bool sim_rpc_verify(sim_ctx *, sim_service, sim_args *, sim_reply *);
bool sim_rpc_attestation_for_app_key(sim_ctx *, sim_service, sim_args *, sim_reply *);
bool sim_rpc_get_tls_key(sim_ctx *, sim_service, sim_args *, sim_reply *);
bool sim_rpc_derive_key(sim_ctx *, sim_service, sim_args *, sim_reply *);
bool sim_rpc_get_quote(sim_ctx *, sim_service, sim_args *, sim_reply *);
bool sim_rpc_tdx_quote(sim_ctx *, sim_service, sim_args *, sim_reply *);
bool sim_rpc_raw_quote(sim_ctx *, sim_service, sim_args *, sim_reply *);
bool sim_rpc_attest(sim_ctx *, sim_service, sim_args *, sim_reply *);
bool sim_rpc_emit_event(sim_ctx *, sim_service, sim_args *, sim_reply *);
bool sim_rpc_info(sim_ctx *, sim_service, sim_args *, sim_reply *);
bool sim_rpc_version(sim_ctx *, sim_service, sim_args *, sim_reply *);
bool sim_rpc_gpu_info(sim_ctx *, sim_service, sim_args *, sim_reply *);

/* Info.app_cert: the demo client certificate chain the agent requests for itself
 * (protocol.md §2.6.5), made once (rpc_certs.c). NULL on failure; owned by ctx. */
const char *sim_app_cert(sim_ctx *ctx);

/* ---- attestation engine (attestation.c, quote.c) -------------------------------------------- */
bool sim_attest_init(sim_ctx *ctx, const char *quote_path, char *msg, size_t msg_len);
void sim_attest_free(sim_attest *att);
/* Appends a runtime event (protocol.md §5.3/§5.4). */
bool sim_attest_emit(sim_ctx *ctx, const char *event, const uint8_t *payload, size_t len);

/* A consistent snapshot: quote with the given report_data and the event log it reflects. */
typedef struct sim_evidence {
    uint8_t *quote;
    size_t quote_len;
    dstack_tdx_quote parsed;
    dstack_event_log log; /* full copy */
} sim_evidence;

bool sim_evidence_make(sim_ctx *ctx, const uint8_t report_data[64], sim_evidence *ev);
void sim_evidence_free(sim_evidence *ev);
/* JSON text of the event log of a quote RPC: full or stripped (protocol.md §5.2), V2
 * preimages filled as the 0.6 agent does. Caller frees. */
char *sim_event_log_json(sim_ctx *ctx, const dstack_event_log *log, bool stripped);
/* The VersionedAttestation of Attest (stripped = false) and of certificates (stripped): V0
 * SCALE, or V1 msgpack when the boot uses event log V2 (protocol.md §4.4, §4.5.4). */
bool sim_attestation_encode(sim_ctx *ctx, const sim_evidence *ev, const uint8_t report_data[64],
                            bool stripped, uint8_t **out, size_t *out_len);
/* Builds a synthetic TDX v4 quote (quote.c). */
bool sim_quote_synthesize(const sim_attest *att, const uint8_t rtmr[4][48],
                          const uint8_t report_data[64], uint8_t **out, size_t *out_len);
bool sim_quote_keys_init(sim_ctx *ctx, char *msg, size_t msg_len);
/* A P-256 key derived from the app key for `label` (the simulator's own keys). */
bool sim_derived_p256(const sim_ctx *ctx, const char *label, EVP_PKEY **out);
/* ECDSA-P256-SHA256 as raw r||s (the quote and collateral encoding). */
bool sim_sign_raw(EVP_PKEY *key, const uint8_t *data, size_t len, uint8_t out[64]);

/* mr_aggregated and mr_system of a snapshot (protocol.md §5.5). */
void sim_mr_system(sim_ctx *ctx, const dstack_tdx_quote *q, uint8_t out[32]);

/* ---- keys (rpc_keys.c) ---------------------------------------------------------------------- */
typedef enum sim_key_kind { SIM_KEY_SECP256K1, SIM_KEY_ED25519 } sim_key_kind;
/* Public key of a 32-byte secret: compressed secp256k1 (33) or Ed25519 (32). */
bool sim_key_pub(sim_key_kind kind, const uint8_t key[32], uint8_t pub[33], size_t *pub_len);

/* ---- hashing helpers ------------------------------------------------------------------------ */

/* ---- listeners ----------------------------------------------------------------------------- */
typedef struct sim_server sim_server;
sim_server *sim_server_start(sim_ctx *ctx, const char *dir, const char *http_addr,
                             const char *pccs_addr, char *msg, size_t msg_len);
/* Prints the endpoint lines of the startup contract to stdout. */
void sim_server_announce(const sim_server *srv);
void sim_server_stop(sim_server *srv);

/* Sleeps up to ms milliseconds, returning early once the simulator is stopping. */
void sim_sleep_ms(sim_ctx *ctx, unsigned long ms);

#endif
