/* dstack provider — openssl.cnf parameters (architecture.md §5), read once at provider load. */
#ifndef DSTACK_PROV_CONFIG_H
#define DSTACK_PROV_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/core.h>
#include <openssl/core_dispatch.h>

#include <dstack/resolve.h>

typedef struct dstack_prov_config {
    char *endpoint;       /* NULL → libdstack discovery */
    char *tappd_endpoint; /* NULL → libdstack discovery */
    long timeout_ms;
    dstack_cert_mode cert;
    dstack_ratls_mode ratls;
    bool cache;
    bool has_kms_root;
    uint8_t kms_root[33];
    bool has_app_id;
    uint8_t app_id[32];
    size_t app_id_len;
} dstack_prov_config;

/* Fills `cfg` from the provider's configuration section through core_get_params. On a bad
 * value returns 0 and writes a message naming the parameter and the value into `why`. */
int dstack_prov_config_load(dstack_prov_config *cfg, const OSSL_CORE_HANDLE *handle,
                            OSSL_FUNC_core_get_params_fn *get_params, char *why, size_t why_len);
void dstack_prov_config_clear(dstack_prov_config *cfg);

/* The libdstack view of the configuration (borrows the strings of `cfg`). */
void dstack_prov_config_to_resolve(const dstack_prov_config *cfg, dstack_resolve_config *out);

/* Writes the effective configuration to the debug log (level 1). */
void dstack_prov_config_log(const dstack_prov_config *cfg, const char *endpoint,
                            const char *tappd_endpoint);

/* NULL-terminated list of the parameter names (for the man-page test and `gettable`). */
const char *const *dstack_prov_config_names(void);

#endif
