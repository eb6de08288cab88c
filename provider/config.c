/* dstack provider — openssl.cnf parameters (architecture.md §5), table-driven and strictly
 * validated.
 *
 * The parameters are read once, in OSSL_provider_init, through core_get_params: OpenSSL hands
 * a provider every name=value line of its configuration section that way. A value that does
 * not parse fails the provider load with a message naming the parameter and the value, so a
 * typo never silently falls back to a default. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/params.h>

#include <dstack/keys.h>
#include <dstack/uri.h>

#include "debug.h"

#define DSTACK_TIMEOUT_MS_DEFAULT 5000
#define DSTACK_TIMEOUT_MS_MAX 600000

typedef int (*param_parser)(const char *value, dstack_prov_config *cfg, char *why, size_t len);

typedef struct config_param {
    const char *name;
    param_parser parse;
} config_param;

static int parse_endpoint_value(const char *value, char **out, char *why, size_t len)
{
    /* The forms of protocol.md §1.2: an http(s) base URL or a Unix socket path. Relative paths
     * would depend on the working directory of whichever program loads the provider. */
    if (value[0] != '/' && strncmp(value, "http://", 7) != 0 &&
        strncmp(value, "https://", 8) != 0) {
        snprintf(why, len, "expected an absolute Unix socket path or an http(s):// URL");
        return 0;
    }
    *out = OPENSSL_strdup(value);
    if (*out == NULL) {
        snprintf(why, len, "out of memory");
        return 0;
    }
    return 1;
}

static int parse_endpoint(const char *value, dstack_prov_config *cfg, char *why, size_t len)
{
    return parse_endpoint_value(value, &cfg->endpoint, why, len);
}

static int parse_tappd_endpoint(const char *value, dstack_prov_config *cfg, char *why, size_t len)
{
    return parse_endpoint_value(value, &cfg->tappd_endpoint, why, len);
}

static int parse_timeout(const char *value, dstack_prov_config *cfg, char *why, size_t len)
{
    char *end = NULL;
    long v;

    errno = 0;
    v = strtol(value, &end, 10);
    if (value[0] < '0' || value[0] > '9' || errno != 0 || *end != '\0' || v < 1 ||
        v > DSTACK_TIMEOUT_MS_MAX) {
        snprintf(why, len, "expected milliseconds between 1 and %d", DSTACK_TIMEOUT_MS_MAX);
        return 0;
    }
    cfg->timeout_ms = v;
    return 1;
}

static int parse_cert(const char *value, dstack_prov_config *cfg, char *why, size_t len)
{
    if (!dstack_cert_mode_parse(value, &cfg->cert)) {
        snprintf(why, len, "expected auto, agent, self or none");
        return 0;
    }
    return 1;
}

static int parse_ratls(const char *value, dstack_prov_config *cfg, char *why, size_t len)
{
    if (!dstack_ratls_mode_parse(value, &cfg->ratls)) {
        snprintf(why, len, "expected auto, attest, quote, both or no");
        return 0;
    }
    return 1;
}

static int parse_cache(const char *value, dstack_prov_config *cfg, char *why, size_t len)
{
    if (strcmp(value, "yes") == 0) {
        cfg->cache = true;
    } else if (strcmp(value, "no") == 0) {
        cfg->cache = false;
    } else {
        snprintf(why, len, "expected yes or no");
        return 0;
    }
    return 1;
}

static int parse_kms_root(const char *value, dstack_prov_config *cfg, char *why, size_t len)
{
    size_t n = 0;

    /* A compressed SEC1 secp256k1 point (protocol.md §3.4 step 3): 33 bytes, 0x02/0x03 prefix. */
    if (!dstack_hex_decode(value, strlen(value), cfg->kms_root, sizeof(cfg->kms_root), &n) ||
        n != sizeof(cfg->kms_root) || (cfg->kms_root[0] != 0x02 && cfg->kms_root[0] != 0x03)) {
        snprintf(why, len, "expected a hex compressed secp256k1 public key (33 bytes, 02/03…)");
        return 0;
    }
    cfg->has_kms_root = true;
    return 1;
}

static int parse_app_id(const char *value, dstack_prov_config *cfg, char *why, size_t len)
{
    if (!dstack_hex_decode(value, strlen(value), cfg->app_id, sizeof(cfg->app_id),
                           &cfg->app_id_len) ||
        cfg->app_id_len == 0) {
        snprintf(why, len, "expected a hex app id (1 to 32 bytes, normally 20)");
        return 0;
    }
    cfg->has_app_id = true;
    return 1;
}

/* Every parameter the provider reads; the man page documents each (a test compares). */
static const config_param config_params[] = {
    {"endpoint", parse_endpoint},
    {"tappd-endpoint", parse_tappd_endpoint},
    {"timeout-ms", parse_timeout},
    {"cert", parse_cert},
    {"ratls", parse_ratls},
    {"cache", parse_cache},
    {"kms-root-pubkey", parse_kms_root},
    {"app-id", parse_app_id},
};
#define N_CONFIG_PARAMS (sizeof(config_params) / sizeof(config_params[0]))

const char *const *dstack_prov_config_names(void)
{
    static const char *names[N_CONFIG_PARAMS + 1];
    size_t i;

    for (i = 0; i < N_CONFIG_PARAMS; i++)
        names[i] = config_params[i].name;
    names[N_CONFIG_PARAMS] = NULL;
    return names;
}

int dstack_prov_config_load(dstack_prov_config *cfg, const OSSL_CORE_HANDLE *handle,
                            OSSL_FUNC_core_get_params_fn *get_params, char *why, size_t why_len)
{
    OSSL_PARAM params[N_CONFIG_PARAMS + 1];
    const char *values[N_CONFIG_PARAMS] = {0};
    char reason[160];
    size_t i;
    int ok = 0;

    memset(cfg, 0, sizeof(*cfg));
    cfg->timeout_ms = DSTACK_TIMEOUT_MS_DEFAULT;
    cfg->cert = DSTACK_CERT_AUTO;
    cfg->ratls = DSTACK_RATLS_AUTO;
    cfg->cache = true;

    for (i = 0; i < N_CONFIG_PARAMS; i++)
        params[i] = OSSL_PARAM_construct_utf8_ptr(config_params[i].name, (char **)&values[i], 0);
    params[N_CONFIG_PARAMS] = OSSL_PARAM_construct_end();
    if (get_params != NULL && !get_params(handle, params)) {
        snprintf(why, why_len, "cannot read the provider configuration from the core");
        goto done;
    }

    for (i = 0; i < N_CONFIG_PARAMS; i++) {
        if (values[i] == NULL)
            continue;
        reason[0] = '\0';
        if (values[i][0] == '\0') {
            snprintf(reason, sizeof(reason), "empty value");
        } else if (config_params[i].parse(values[i], cfg, reason, sizeof(reason))) {
            continue;
        }
        snprintf(why, why_len, "openssl.cnf parameter %s = \"%s\" is invalid: %s",
                 config_params[i].name, values[i], reason);
        goto done;
    }
    ok = 1;
done:
    if (!ok)
        dstack_prov_config_clear(cfg);
    return ok;
}

void dstack_prov_config_clear(dstack_prov_config *cfg)
{
    OPENSSL_free(cfg->endpoint);
    OPENSSL_free(cfg->tappd_endpoint);
    memset(cfg, 0, sizeof(*cfg));
}

void dstack_prov_config_to_resolve(const dstack_prov_config *cfg, dstack_resolve_config *out)
{
    memset(out, 0, sizeof(*out));
    out->endpoint = cfg->endpoint;
    out->tappd_endpoint = cfg->tappd_endpoint;
    out->timeout_ms = cfg->timeout_ms;
    out->default_cert = cfg->cert;
    out->default_ratls = cfg->ratls;
    out->cache = cfg->cache;
    out->has_kms_root = cfg->has_kms_root;
    memcpy(out->kms_root, cfg->kms_root, sizeof(out->kms_root));
    out->has_app_id = cfg->has_app_id;
    memcpy(out->app_id, cfg->app_id, sizeof(out->app_id));
    out->app_id_len = cfg->app_id_len;
    out->debug = dstack_prov_debug_sink;
    out->debug_ctx = NULL;
}

void dstack_prov_config_log(const dstack_prov_config *cfg, const char *endpoint,
                            const char *tappd_endpoint)
{
    char root_hex[2 * sizeof(cfg->kms_root) + 1] = "none";
    char app_hex[2 * sizeof(cfg->app_id) + 1] = "none";

    if (dstack_prov_debug_level() < 1)
        return;
    /* Public values only: the KMS root public key and the app id are not secrets. */
    if (cfg->has_kms_root)
        dstack_hex_encode(cfg->kms_root, sizeof(cfg->kms_root), root_hex);
    if (cfg->has_app_id)
        dstack_hex_encode(cfg->app_id, cfg->app_id_len, app_hex);
    DSTACK_DEBUG(1,
                 "effective config: endpoint=%s%s tappd-endpoint=%s%s timeout-ms=%ld cert=%s "
                 "ratls=%s cache=%s kms-root-pubkey=%s app-id=%s",
                 endpoint != NULL ? endpoint : "(none found)",
                 cfg->endpoint != NULL ? "" : " (discovered)",
                 tappd_endpoint != NULL ? tappd_endpoint : "(none found)",
                 cfg->tappd_endpoint != NULL ? "" : " (discovered)", cfg->timeout_ms,
                 dstack_cert_mode_name(cfg->cert), dstack_ratls_mode_name(cfg->ratls),
                 cfg->cache ? "yes" : "no", root_hex, app_hex);
}
