/* libdstack — typed RPCs of the dstack guest agent (protocol.md §2: v0.5.11, the 0.6 changes
 * of protocol.md §2.6, and older releases).
 *
 * Each function sends one request on the client's service and decodes the response into a
 * struct the caller frees with the matching *_free(). Hex fields arrive as bytes; JSON-in-string
 * fields are parsed. Missing response fields take proto3 defaults; a field of the wrong JSON
 * type is DSTACK_ERR_PROTOCOL. Functions that hold secrets cleanse them on free.
 */
#ifndef DSTACK_RPC_H
#define DSTACK_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <dstack/attest.h>
#include <dstack/client.h>

#ifdef __cplusplus
extern "C" {
#endif

DSTACK_API_BEGIN

typedef struct dstack_bytes {
    uint8_t *data;
    size_t len;
} dstack_bytes;

/* ---- GetKey (guest) / DeriveK256Key (tappd) --------------------------------------- */
typedef struct dstack_key_response {
    dstack_bytes key;              /* 32 bytes: secp256k1 scalar / Ed25519 seed (secure heap) */
    dstack_bytes *signature_chain; /* usually 2 entries; an entry may be empty */
    size_t signature_chain_len;
} dstack_key_response;
void dstack_key_response_free(dstack_key_response *r);

/* algorithm: NULL or "" (agent default secp256k1), "secp256k1", "k256", "ed25519". */
dstack_status dstack_get_key(dstack_client *c, const char *path, const char *purpose,
                             const char *algorithm, dstack_key_response *out, dstack_error *err);
dstack_status dstack_tappd_derive_k256_key(dstack_client *c, const char *path, const char *purpose,
                                           const char *algorithm, dstack_key_response *out,
                                           dstack_error *err);

/* ---- GetTlsKey (guest) / DeriveKey (tappd) ---------------------------------------- */
/* Versioned (api.h): initialise with DSTACK_OPTIONS_INIT(dstack_tls_key_request). */
typedef struct dstack_tls_key_request {
    size_t struct_size;
    const char *subject;
    const char *const *alt_names;
    size_t alt_names_len;
    bool usage_ra_tls;
    bool usage_server_auth;
    bool usage_client_auth;
    bool has_not_before; /* GetTlsKey only */
    uint64_t not_before;
    bool has_not_after; /* GetTlsKey only */
    uint64_t not_after;
    bool with_app_info; /* GetTlsKey only */
    /* DeriveKey only: */
    const char *path;
    bool random_seed;
} dstack_tls_key_request;

typedef struct dstack_tls_key_response {
    char *key_pem;            /* PKCS#8 PEM (secure heap) */
    char **certificate_chain; /* PEM strings, leaf first */
    size_t certificate_chain_len;
} dstack_tls_key_response;
void dstack_tls_key_response_free(dstack_tls_key_response *r);

dstack_status dstack_get_tls_key(dstack_client *c, const dstack_tls_key_request *req,
                                 dstack_tls_key_response *out, dstack_error *err);
dstack_status dstack_tappd_derive_key(dstack_client *c, const dstack_tls_key_request *req,
                                      dstack_tls_key_response *out, dstack_error *err);

/* ---- GetQuote (guest) / TdxQuote, RawQuote (tappd) / GetAttestationForAppKey (worker) --- */
typedef struct dstack_quote_response {
    dstack_bytes quote;
    char *event_log_json;       /* the raw JSON text of event_log */
    dstack_event_log event_log; /* parsed form */
    dstack_bytes report_data;   /* GetQuote / GetAttestationForAppKey */
    char *vm_config;            /* "" when absent */
    char *hash_algorithm;       /* TdxQuote only, else "" */
    char *prefix;               /* TdxQuote only, else "" */
    /* GetQuote / GetAttestationForAppKey of 0.6 agents on TEEs without a TDX quote (SEV-SNP,
     * Nitro): the VersionedAttestation (dstack_attestation_decode); quote and event log are
     * then empty. Empty when the agent omits it (TDX, older agents; protocol.md §2.6.2). */
    dstack_bytes attestation;
} dstack_quote_response;
void dstack_quote_response_free(dstack_quote_response *r);

dstack_status dstack_get_quote(dstack_client *c, const uint8_t *report_data, size_t len,
                               dstack_quote_response *out, dstack_error *err);
dstack_status dstack_tappd_tdx_quote(dstack_client *c, const uint8_t *report_data, size_t len,
                                     const char *hash_algorithm, const char *prefix,
                                     dstack_quote_response *out, dstack_error *err);
dstack_status dstack_tappd_raw_quote(dstack_client *c, const uint8_t *report_data, size_t len,
                                     dstack_quote_response *out, dstack_error *err);
dstack_status dstack_worker_get_attestation_for_app_key(dstack_client *c, const char *algorithm,
                                                        dstack_quote_response *out,
                                                        dstack_error *err);

/* ---- Attest (guest, 0.5.6+) --------------------------------------------------------- */
dstack_status dstack_attest(dstack_client *c, const uint8_t *report_data, size_t len,
                            dstack_bytes *attestation, dstack_error *err);
void dstack_bytes_free(dstack_bytes *b);

/* ---- EmitEvent (guest, 0.5.0–0.5.11; removed in 0.6) ------------------------------------ */
/* On an agent without EmitEvent the error says which: a 0.6+ agent (its Version is asked) has
 * removed it (protocol.md §2.6.1), an agent before 0.5.0 never had it. */
dstack_status dstack_emit_event(dstack_client *c, const char *event, const uint8_t *payload,
                                size_t payload_len, dstack_error *err);

/* ---- GpuInfo (guest, 0.6+) ------------------------------------------------------------- */
typedef struct dstack_gpu_info_response {
    /* The agent's saved NVIDIA attestation (nvattest JSON text), "" without GPU
     * (protocol.md §2.6.3). */
    char *attestation;
} dstack_gpu_info_response;
void dstack_gpu_info_response_free(dstack_gpu_info_response *r);
dstack_status dstack_gpu_info(dstack_client *c, dstack_gpu_info_response *out, dstack_error *err);

/* ---- Info (any service) --------------------------------------------------------------- */
typedef struct dstack_tcb_info {
    bool present;   /* false when tcb_info was "" (Worker without public_tcbinfo) */
    bool has_rtmrs; /* mrtd/rtmr fields present and 48 bytes */
    uint8_t mrtd[48];
    uint8_t rtmr[4][48];
    char *mr_aggregated; /* hex as sent, "" if absent */
    char *os_image_hash;
    char *compose_hash;
    char *device_id;
    char *app_compose; /* raw app-compose.json text */
    dstack_event_log event_log;
} dstack_tcb_info;

typedef struct dstack_app_info {
    dstack_bytes app_id;
    dstack_bytes instance_id;
    char *app_cert;
    char *tcb_info_json; /* raw string as sent */
    dstack_tcb_info tcb_info;
    char *app_name;
    dstack_bytes device_id;
    dstack_bytes mr_aggregated;
    char *os_image_hash; /* hex text as sent */
    char *key_provider_info_json;
    char *key_provider_name; /* parsed from key_provider_info, "" if absent */
    char *key_provider_id;   /* hex text, "" if absent */
    dstack_bytes compose_hash;
    char *vm_config;
    char *cloud_vendor;
    char *cloud_product;
    bool legacy_worker_info; /* 0.3.x string ids were seen */
} dstack_app_info;
void dstack_app_info_free(dstack_app_info *r);
dstack_status dstack_info(dstack_client *c, dstack_app_info *out, dstack_error *err);

/* ---- Sign / Verify (guest, 0.5.6+) --------------------------------------------------- */
typedef struct dstack_sign_response {
    dstack_bytes signature;
    dstack_bytes *signature_chain;
    size_t signature_chain_len;
    dstack_bytes public_key;
} dstack_sign_response;
void dstack_sign_response_free(dstack_sign_response *r);
dstack_status dstack_sign(dstack_client *c, const char *algorithm, const uint8_t *data, size_t len,
                          dstack_sign_response *out, dstack_error *err);
dstack_status dstack_verify(dstack_client *c, const char *algorithm, const uint8_t *data,
                            size_t data_len, const uint8_t *signature, size_t sig_len,
                            const uint8_t *public_key, size_t pub_len, bool *valid,
                            dstack_error *err);

/* ---- Version (any service, 0.5.7+) ---------------------------------------------------- */
typedef struct dstack_version_info {
    char *version;
    char *rev;
} dstack_version_info;
void dstack_version_info_free(dstack_version_info *r);
dstack_status dstack_version(dstack_client *c, dstack_version_info *out, dstack_error *err);

DSTACK_API_END

#ifdef __cplusplus
}
#endif
#endif
