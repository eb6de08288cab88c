/* The resolver's configuration (include/dstack/config.h, architecture.md §5): one table that
 * names, validates, defaults and documents every parameter. The provider's openssl.cnf
 * section, the ENGINE's control commands and dstack-keytool's options are spellings of these
 * names; none of them parses a value itself.
 */
#include "resolve/config_internal.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include <dstack/keys.h>

typedef bool (*param_parse_fn)(dstack_config *cfg, const char *value, char *why, size_t len);
typedef void (*param_format_fn)(const dstack_config *cfg, char *out, size_t len);
typedef void (*param_reset_fn)(dstack_config *cfg); /* back to the default */

typedef struct param_def {
    dstack_config_param info; /* info.values NULL: values_fn says (word lists of uri.c) */
    const char *(*values_fn)(void);
    param_parse_fn parse;
    param_format_fn format;
    param_reset_fn reset;
} param_def;

/* ---- endpoints -------------------------------------------------------------------------- */

/* The forms of protocol.md §1.2 (and "unix:/path", dstack's own tools' form): an absolute
 * Unix socket path or an http(s) base URL. A relative path would depend on the working
 * directory of whichever program loads the provider. */
static bool endpoint_valid(const char *v)
{
    return v[0] == '/' || strncmp(v, "unix:/", 6) == 0 || strncmp(v, "http://", 7) == 0 ||
           strncmp(v, "https://", 8) == 0;
}

static bool set_text(char **slot, const char *value, char *why, size_t len)
{
    char *copy = strdup(value);

    if (copy == NULL) {
        snprintf(why, len, "out of memory");
        return false;
    }
    free(*slot);
    *slot = copy;
    return true;
}

static bool parse_endpoint(dstack_config *cfg, const char *v, char *why, size_t len)
{
    if (!endpoint_valid(v)) {
        snprintf(why, len, "expected an absolute Unix socket path or an http(s):// URL");
        return false;
    }
    return set_text(&cfg->endpoint, v, why, len);
}

static bool parse_tappd_endpoint(dstack_config *cfg, const char *v, char *why, size_t len)
{
    if (!endpoint_valid(v)) {
        snprintf(why, len, "expected an absolute Unix socket path or an http(s):// URL");
        return false;
    }
    return set_text(&cfg->tappd_endpoint, v, why, len);
}

static void format_endpoint(const dstack_config *cfg, char *out, size_t len)
{
    snprintf(out, len, "%s", cfg->endpoint != NULL ? cfg->endpoint : "");
}

static void format_tappd_endpoint(const dstack_config *cfg, char *out, size_t len)
{
    snprintf(out, len, "%s", cfg->tappd_endpoint != NULL ? cfg->tappd_endpoint : "");
}

/* ---- scalars --------------------------------------------------------------------------- */

static bool parse_timeout(dstack_config *cfg, const char *v, char *why, size_t len)
{
    char *end = NULL;
    long n;

    errno = 0;
    n = strtol(v, &end, 10);
    if (!isdigit((unsigned char)v[0]) || errno != 0 || *end != '\0' || n < 1 ||
        n > DSTACK_TIMEOUT_MS_MAX) {
        snprintf(why, len, "expected milliseconds between 1 and %ld", DSTACK_TIMEOUT_MS_MAX);
        return false;
    }
    cfg->timeout_ms = n;
    return true;
}

static void format_timeout(const dstack_config *cfg, char *out, size_t len)
{
    snprintf(out, len, "%ld", cfg->timeout_ms);
}

static bool parse_cert(dstack_config *cfg, const char *v, char *why, size_t len)
{
    if (!dstack_cert_mode_parse(v, &cfg->cert)) {
        snprintf(why, len, "expected %s", dstack_cert_mode_choices());
        return false;
    }
    return true;
}

static void format_cert(const dstack_config *cfg, char *out, size_t len)
{
    snprintf(out, len, "%s", dstack_cert_mode_name(cfg->cert));
}

static bool parse_ratls(dstack_config *cfg, const char *v, char *why, size_t len)
{
    if (!dstack_ratls_mode_parse(v, &cfg->ratls)) {
        snprintf(why, len, "expected %s", dstack_ratls_mode_choices());
        return false;
    }
    return true;
}

static void format_ratls(const dstack_config *cfg, char *out, size_t len)
{
    snprintf(out, len, "%s", dstack_ratls_mode_name(cfg->ratls));
}

static bool parse_cache(dstack_config *cfg, const char *v, char *why, size_t len)
{
    if (strcmp(v, "yes") == 0) {
        cfg->cache = true;
    } else if (strcmp(v, "no") == 0) {
        cfg->cache = false;
    } else {
        snprintf(why, len, "expected yes or no");
        return false;
    }
    return true;
}

static void format_cache(const dstack_config *cfg, char *out, size_t len)
{
    snprintf(out, len, "%s", cfg->cache ? "yes" : "no");
}

/* ---- trust anchors ----------------------------------------------------------------------- */

static bool parse_kms_root(dstack_config *cfg, const char *v, char *why, size_t len)
{
    uint8_t buf[33];
    size_t n = 0;

    /* A compressed SEC1 secp256k1 point (protocol.md §3.4): 33 bytes, 0x02/0x03 prefix — the
     * form the KMS publishes. An uncompressed (04…) key is refused rather than converted, so
     * every front end accepts exactly the same text. */
    if (!dstack_hex_decode(v, strlen(v), buf, sizeof(buf), &n) || n != sizeof(buf) ||
        (buf[0] != 0x02 && buf[0] != 0x03)) {
        snprintf(why, len, "expected a hex compressed secp256k1 public key (33 bytes, 02/03…)");
        return false;
    }
    memcpy(cfg->kms_root, buf, sizeof(buf));
    cfg->has_kms_root = true;
    return true;
}

static void format_kms_root(const dstack_config *cfg, char *out, size_t len)
{
    if (!cfg->has_kms_root || len < 2 * sizeof(cfg->kms_root) + 1)
        snprintf(out, len, "%s", "");
    else
        dstack_hex_encode(cfg->kms_root, sizeof(cfg->kms_root), out);
}

static bool parse_app_id(dstack_config *cfg, const char *v, char *why, size_t len)
{
    uint8_t buf[32];
    size_t n = 0;

    if (!dstack_hex_decode(v, strlen(v), buf, sizeof(buf), &n) || n == 0) {
        snprintf(why, len, "expected a hex app id (1 to 32 bytes, normally 20)");
        return false;
    }
    memcpy(cfg->app_id, buf, n);
    cfg->app_id_len = n;
    cfg->has_app_id = true;
    return true;
}

static void format_app_id(const dstack_config *cfg, char *out, size_t len)
{
    if (!cfg->has_app_id || len < 2 * cfg->app_id_len + 1)
        snprintf(out, len, "%s", "");
    else
        dstack_hex_encode(cfg->app_id, cfg->app_id_len, out);
}

/* ---- defaults ------------------------------------------------------------------------------ */

static void reset_endpoint(dstack_config *cfg)
{
    free(cfg->endpoint);
    cfg->endpoint = NULL;
}

static void reset_tappd_endpoint(dstack_config *cfg)
{
    free(cfg->tappd_endpoint);
    cfg->tappd_endpoint = NULL;
}

static void reset_timeout(dstack_config *cfg)
{
    cfg->timeout_ms = DSTACK_TIMEOUT_MS_DEFAULT;
}

static void reset_cert(dstack_config *cfg)
{
    cfg->cert = DSTACK_CERT_AUTO;
}

static void reset_ratls(dstack_config *cfg)
{
    cfg->ratls = DSTACK_RATLS_AUTO;
}

static void reset_cache(dstack_config *cfg)
{
    cfg->cache = true;
}

static void reset_kms_root(dstack_config *cfg)
{
    cfg->has_kms_root = false;
    memset(cfg->kms_root, 0, sizeof(cfg->kms_root));
}

static void reset_app_id(dstack_config *cfg)
{
    cfg->has_app_id = false;
    cfg->app_id_len = 0;
    memset(cfg->app_id, 0, sizeof(cfg->app_id));
}

/* ---- the table ---------------------------------------------------------------------------- */

static const param_def params[] = {
    {{"endpoint", DSTACK_CONFIG_TEXT, "absolute Unix socket path or http(s):// URL",
      "$DSTACK_SIMULATOR_ENDPOINT, else the first existing of /var/run/dstack.sock, "
      "/run/dstack.sock, /var/run/dstack/dstack.sock, /run/dstack/dstack.sock",
      "the dstack guest agent; when set, nothing else is tried"},
     NULL,
     parse_endpoint,
     format_endpoint,
     reset_endpoint},
    {{"tappd-endpoint", DSTACK_CONFIG_TEXT, "absolute Unix socket path or http(s):// URL",
      "$TAPPD_SIMULATOR_ENDPOINT, else the same list with tappd.sock",
      "the legacy Tappd service (agent-issued certificates, agents before 0.4)"},
     NULL,
     parse_tappd_endpoint,
     format_tappd_endpoint,
     reset_tappd_endpoint},
    {{"timeout-ms", DSTACK_CONFIG_NUMBER, "1 to 600000 (milliseconds)", "5000",
      "bound on one whole resolution (every RPC it makes, connects included), for each caller"},
     NULL,
     parse_timeout,
     format_timeout,
     reset_timeout},
    {{"cert", DSTACK_CONFIG_WORD, NULL, "auto", "certificate source for URIs without cert="},
     dstack_cert_mode_choices,
     parse_cert,
     format_cert,
     reset_cert},
    {{"ratls", DSTACK_CONFIG_WORD, NULL, "auto",
      "attestation extension(s) of self-issued certificates for URIs without ratls="},
     dstack_ratls_mode_choices,
     parse_ratls,
     format_ratls,
     reset_ratls},
    {{"cache", DSTACK_CONFIG_WORD, "yes or no", "yes",
      "keep resolved keys and certificates for the life of the process"},
     NULL,
     parse_cache,
     format_cache,
     reset_cache},
    {{"kms-root-pubkey", DSTACK_CONFIG_HEX, "hex compressed secp256k1 key (33 bytes, 02/03…)",
      "none",
      "keys whose signature chain does not lead to this KMS root are refused; needs app-id"},
     NULL,
     parse_kms_root,
     format_kms_root,
     reset_kms_root},
    {{"app-id", DSTACK_CONFIG_HEX, "hex, 1 to 32 bytes (normally 20)", "none",
      "the agent's Info.app_id, and the app id a KMS-signed chain is checked for, must equal "
      "it"},
     NULL,
     parse_app_id,
     format_app_id,
     reset_app_id},
};
#define N_PARAMS (sizeof(params) / sizeof(params[0]))

static int param_index(const char *name)
{
    for (size_t i = 0; name != NULL && i < N_PARAMS; i++)
        if (strcmp(params[i].info.name, name) == 0)
            return (int)i;
    return -1;
}

/* The public view of the table, with the word lists filled in from their one source. */
static dstack_config_param infos[N_PARAMS];
static pthread_once_t infos_once = PTHREAD_ONCE_INIT;

static void infos_fill(void)
{
    for (size_t i = 0; i < N_PARAMS; i++) {
        infos[i] = params[i].info;
        if (params[i].values_fn != NULL)
            infos[i].values = params[i].values_fn();
    }
}

static const dstack_config_param *info_at(int i)
{
    pthread_once(&infos_once, infos_fill);
    return &infos[i];
}

size_t dstack_config_param_count(void)
{
    return N_PARAMS;
}

const dstack_config_param *dstack_config_param_at(size_t index)
{
    return index < N_PARAMS ? info_at((int)index) : NULL;
}

const dstack_config_param *dstack_config_param_find(const char *name)
{
    int i = param_index(name);
    return i >= 0 ? info_at(i) : NULL;
}

/* Edit distance where '-' and '_' are the same letter and case does not count, so
 * kms_root_pubkey and KMS-Root-PubKey are distance 0 from kms-root-pubkey. */
static size_t distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), prev[64], cur[64];

    if (la >= 63 || lb >= 63)
        return (size_t)-1;
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            int ca = tolower((unsigned char)(a[i - 1] == '_' ? '-' : a[i - 1]));
            int cb = tolower((unsigned char)(b[j - 1] == '_' ? '-' : b[j - 1]));
            size_t best = prev[j - 1] + (ca == cb ? 0 : 1);
            if (prev[j] + 1 < best)
                best = prev[j] + 1;
            if (cur[j - 1] + 1 < best)
                best = cur[j - 1] + 1;
            cur[j] = best;
        }
        memcpy(prev, cur, (lb + 1) * sizeof(prev[0]));
    }
    return prev[lb];
}

const dstack_config_param *dstack_config_param_closest(const char *name)
{
    const dstack_config_param *best = NULL;
    size_t best_d = (size_t)-1;

    if (name == NULL)
        return NULL;
    for (size_t i = 0; i < N_PARAMS; i++) {
        size_t d = distance(name, params[i].info.name);
        if (d < best_d) {
            best_d = d;
            best = info_at((int)i);
        }
    }
    /* Close means a typo, not a different word: at most a third of the name. */
    if (best == NULL || best_d > 2 + strlen(best->name) / 3)
        return NULL;
    return best;
}

void dstack_config_engine_name(const char *name, char *out, size_t out_len)
{
    size_t i = 0;

    if (out_len == 0)
        return;
    for (; name != NULL && name[i] != '\0' && i + 1 < out_len; i++)
        out[i] = name[i] == '-' ? '_' : (char)toupper((unsigned char)name[i]);
    out[i] = '\0';
}

/* ---- the object ------------------------------------------------------------------------------ */

dstack_config *dstack_config_new(void)
{
    dstack_config *cfg = calloc(1, sizeof(*cfg));

    if (cfg == NULL)
        return NULL;
    for (size_t i = 0; i < N_PARAMS; i++)
        params[i].reset(cfg);
    return cfg;
}

void dstack_config_free(dstack_config *cfg)
{
    if (cfg == NULL)
        return;
    free(cfg->endpoint);
    free(cfg->tappd_endpoint);
    free(cfg->propq);
    free(cfg);
}

dstack_config *dstack_config_dup(const dstack_config *cfg)
{
    dstack_config *copy;

    if (cfg == NULL || (copy = malloc(sizeof(*copy))) == NULL)
        return NULL;
    *copy = *cfg;
    copy->endpoint = copy->tappd_endpoint = copy->propq = NULL;
    if ((cfg->endpoint != NULL && (copy->endpoint = strdup(cfg->endpoint)) == NULL) ||
        (cfg->tappd_endpoint != NULL &&
         (copy->tappd_endpoint = strdup(cfg->tappd_endpoint)) == NULL) ||
        (cfg->propq != NULL && (copy->propq = strdup(cfg->propq)) == NULL)) {
        dstack_config_free(copy);
        return NULL;
    }
    return copy;
}

/* Untrusted text (a typo, a config file) shown in a message: printable ASCII only. */
static void shown(const char *in, char *out, size_t cap)
{
    size_t o = 0;

    for (size_t i = 0; in[i] != '\0' && o + 5 < cap; i++) {
        unsigned char c = (unsigned char)in[i];
        if (i == 200) {
            o += (size_t)snprintf(out + o, cap - o, "...");
            break;
        }
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
    }
    out[o] = '\0';
}

dstack_status dstack_config_set(dstack_config *cfg, const char *name, const char *value,
                                dstack_error *err)
{
    char why[200], name_shown[256], value_shown[256];
    const dstack_config_param *near;
    dstack_config scratch;
    int i;

    if (cfg == NULL || name == NULL || value == NULL)
        return dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL,
                                "dstack_config_set: NULL argument");
    shown(name, name_shown, sizeof(name_shown));
    i = param_index(name);
    if (i < 0) {
        near = dstack_config_param_closest(name);
        if (near != NULL)
            return dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL,
                                    "unknown parameter %s (did you mean %s?)", name_shown,
                                    near->name);
        return dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL, "unknown parameter %s",
                                name_shown);
    }
    shown(value, value_shown, sizeof(value_shown));
    if (value[0] == '\0')
        return dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL,
                                "%s = \"\" is invalid: empty value", name_shown);
    /* Parse into a copy of the scalar fields so a bad value changes nothing. */
    scratch = *cfg;
    why[0] = '\0';
    if (!params[i].parse(&scratch, value, why, sizeof(why)))
        return dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL, "%s = \"%s\" is invalid: %s",
                                name_shown, value_shown, why);
    *cfg = scratch; /* string fields were replaced in place by set_text */
    cfg->explicit_mask |= 1u << i;
    return DSTACK_OK;
}

dstack_status dstack_config_reset(dstack_config *cfg, const char *name, dstack_error *err)
{
    int i = param_index(name);

    if (cfg == NULL || i < 0)
        return dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL, "unknown parameter %s",
                                name != NULL ? name : "(null)");
    params[i].reset(cfg);
    cfg->explicit_mask &= ~(1u << i);
    return DSTACK_OK;
}

bool dstack_config_is_set(const dstack_config *cfg, const char *name)
{
    int i = param_index(name);
    return cfg != NULL && i >= 0 && (cfg->explicit_mask & (1u << i)) != 0;
}

dstack_status dstack_config_get(const dstack_config *cfg, const char *name, char *out,
                                size_t out_len, dstack_error *err)
{
    int i = param_index(name);

    if (cfg == NULL || out == NULL || out_len == 0)
        return dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL,
                                "dstack_config_get: NULL argument");
    if (i < 0)
        return dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL, "unknown parameter %s", name);
    params[i].format(cfg, out, out_len);
    return DSTACK_OK;
}

dstack_status dstack_config_check(const dstack_config *cfg, dstack_error *err)
{
    if (cfg == NULL)
        return dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL,
                                "dstack_config_check: NULL argument");
    /* A KMS signs the keys of every app it serves (protocol.md §3.4): with only its root
     * pinned, an agent — or anything on its socket — could hand out another app's key with a
     * valid chain. The app id is what the chain's KMS signature binds, so it must be pinned
     * too; refusing beats a check that looks stronger than it is. */
    if (cfg->has_kms_root && !cfg->has_app_id)
        return dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL,
                                "kms-root-pubkey is set without app-id: the KMS root vouches "
                                "for the keys of every app on that KMS, so set app-id to the "
                                "app whose keys are accepted");
    return DSTACK_OK;
}

dstack_status dstack_config_set_libctx(dstack_config *cfg, OSSL_LIB_CTX *libctx, const char *propq,
                                       dstack_error *err)
{
    char *copy = NULL;

    if (cfg == NULL)
        return dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL,
                                "dstack_config_set_libctx: NULL argument");
    if (propq != NULL && (copy = strdup(propq)) == NULL)
        return dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, NULL, "out of memory");
    free(cfg->propq);
    cfg->propq = copy;
    cfg->libctx = libctx;
    return DSTACK_OK;
}

void dstack_config_set_debug(dstack_config *cfg, dstack_debug_fn fn, void *ctx)
{
    if (cfg == NULL)
        return;
    cfg->debug = fn;
    cfg->debug_ctx = ctx;
}
