/* dstack provider — openssl.cnf parameters (architecture.md §5), from libdstack's table.
 *
 * OpenSSL hands a provider the name=value lines of its configuration section only when the
 * provider asks for a name (core_get_params). The provider asks for every name of libdstack's
 * table and lets dstack_config_set() validate the text, so the section, the ENGINE's
 * controls and dstack-keytool's options accept exactly the same values. A name the table
 * does not know would never be asked for — a typo such as kms_root_pubkey would silently
 * switch a check off — so config_file.c reads the section itself to find such names.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>

#include "debug.h"

/* Keys of a provider section that OpenSSL itself interprets (crypto/provider_conf.c). */
static const char *const openssl_keys[] = {"module", "identity", "activate", "soft_load"};

int dstack_prov_config_is_openssl_key(const char *name)
{
    for (size_t i = 0; i < sizeof(openssl_keys) / sizeof(openssl_keys[0]); i++)
        if (strcmp(name, openssl_keys[i]) == 0)
            return 1;
    return 0;
}

dstack_config *dstack_prov_config_load(const OSSL_CORE_HANDLE *handle,
                                       OSSL_FUNC_core_get_params_fn *get_params, char *why,
                                       size_t why_len)
{
    size_t n = dstack_config_param_count();
    OSSL_PARAM *params = OPENSSL_zalloc((n + 2) * sizeof(*params));
    const char **values = OPENSSL_zalloc((n + 1) * sizeof(*values));
    const char *prov_name = NULL;
    dstack_config *cfg = dstack_config_new();
    char note[256] = "";
    dstack_error err;
    int ok = 0;

    if (params == NULL || values == NULL || cfg == NULL) {
        snprintf(why, why_len, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        params[i] = OSSL_PARAM_construct_utf8_ptr((char *)dstack_config_param_at(i)->name,
                                                  (char **)&values[i], 0);
    params[n] =
        OSSL_PARAM_construct_utf8_ptr(OSSL_PROV_PARAM_CORE_PROV_NAME, (char **)&prov_name, 0);
    params[n + 1] = OSSL_PARAM_construct_end();
    if (get_params != NULL && !get_params(handle, params)) {
        snprintf(why, why_len, "cannot read the provider configuration from the core");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        if (values[i] == NULL)
            continue;
        dstack_error_clear(&err);
        if (dstack_config_set(cfg, dstack_config_param_at(i)->name, values[i], &err) != DSTACK_OK) {
            snprintf(why, why_len, "openssl.cnf parameter %s", err.message);
            goto done;
        }
    }
    if (prov_name != NULL &&
        !dstack_prov_config_file_check(prov_name, values, why, why_len, note, sizeof(note)))
        goto done;
    if (note[0] != '\0')
        DSTACK_DEBUG(1, "unknown-parameter check skipped: %s", note);
    dstack_error_clear(&err);
    if (dstack_config_check(cfg, &err) != DSTACK_OK) {
        snprintf(why, why_len, "openssl.cnf: %s", err.message);
        goto done;
    }
    ok = 1;
done:
    OPENSSL_free(params);
    OPENSSL_free(values);
    if (!ok) {
        dstack_config_free(cfg);
        cfg = NULL;
    }
    return cfg;
}

void dstack_prov_config_log(const dstack_config *cfg, const char *endpoint,
                            const char *tappd_endpoint)
{
    char line[1024], value[520];
    size_t o = 0;

    if (dstack_prov_debug_level() < 1)
        return;
    /* Public values only: endpoints, modes, the KMS root public key and the app id. */
    for (size_t i = 0; i < dstack_config_param_count() && o < sizeof(line); i++) {
        const char *name = dstack_config_param_at(i)->name;
        const char *shown = value, *effective = NULL;
        if (dstack_config_get(cfg, name, value, sizeof(value), NULL) != DSTACK_OK)
            continue;
        /* Endpoints are shown as discovery found them (libdstack knows, not the table). */
        if (strcmp(name, "endpoint") == 0)
            effective = endpoint != NULL ? endpoint : "(none found)";
        else if (strcmp(name, "tappd-endpoint") == 0)
            effective = tappd_endpoint != NULL ? tappd_endpoint : "(none found)";
        if (effective != NULL)
            shown = effective;
        else if (value[0] == '\0')
            shown = "none";
        o += (size_t)snprintf(
            line + o, sizeof(line) - o, "%s%s=%s%s", i == 0 ? "" : " ", name, shown,
            effective != NULL && !dstack_config_is_set(cfg, name) ? " (discovered)" : "");
    }
    DSTACK_DEBUG(1, "effective config: %s", line);
}
