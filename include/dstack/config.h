/* libdstack — the resolver's configuration: one table of parameters (architecture.md §5).
 *
 * The same parameters reach libdstack through the provider's openssl.cnf section
 * (`timeout-ms = 2000`), the ENGINE's control commands (`TIMEOUT_MS:2000`) and dstack-keytool's
 * options (`--timeout-ms 2000`). All three map their spelling onto the one name of the table
 * below and hand the text to dstack_config_set(), so a value is validated, documented and
 * defaulted exactly once. A dstack_config is opaque (new fields are not an ABI break); build it
 * with dstack_config_new(), fill it with dstack_config_set(), give it to dstack_resolver_new()
 * (which copies what it needs) and free it with dstack_config_free().
 */
#ifndef DSTACK_CONFIG_H
#define DSTACK_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include <dstack/error.h>

#ifdef __cplusplus
extern "C" {
#endif

DSTACK_API_BEGIN

typedef struct ossl_lib_ctx_st OSSL_LIB_CTX;
typedef struct dstack_config dstack_config;

/* One parameter of the table. */
typedef enum dstack_config_type {
    DSTACK_CONFIG_TEXT = 0, /* free-form text (endpoints) */
    DSTACK_CONFIG_NUMBER,   /* a decimal integer (timeout-ms) */
    DSTACK_CONFIG_WORD,     /* one word of a fixed list (cert, ratls, cache) */
    DSTACK_CONFIG_HEX       /* hexadecimal bytes (kms-root-pubkey, app-id) */
} dstack_config_type;

typedef struct dstack_config_param {
    const char *name; /* openssl.cnf key, e.g. "timeout-ms" */
    dstack_config_type type;
    const char *values;        /* what is accepted, e.g. "1 to 600000 (milliseconds)" */
    const char *default_value; /* e.g. "5000", or how the default is found */
    const char *doc;           /* one sentence */
} dstack_config_param;

/* The table, in documentation order; NULL past the end. */
const dstack_config_param *dstack_config_param_at(size_t index);
size_t dstack_config_param_count(void);
/* The parameter called `name`, or NULL. */
const dstack_config_param *dstack_config_param_find(const char *name);
/* The parameter whose name is closest to `name` (edit distance), for "did you mean" messages;
 * NULL when nothing is close. */
const dstack_config_param *dstack_config_param_closest(const char *name);
/* The spellings of the front ends, derived from `name`: the ENGINE control command
 * ("TIMEOUT_MS") and the dstack-keytool option without its dashes ("timeout-ms" itself). */
void dstack_config_engine_name(const char *name, char *out, size_t out_len);

/* Defaults everywhere (NULL on allocation failure). */
dstack_config *dstack_config_new(void);
dstack_config *dstack_config_dup(const dstack_config *cfg);
void dstack_config_free(dstack_config *cfg);

/* Sets parameter `name` from its text form. On error (DSTACK_ERR_USAGE) the message names the
 * parameter, the value and what is accepted, or — for an unknown name — the closest valid
 * name; the configuration is left unchanged. */
dstack_status dstack_config_set(dstack_config *cfg, const char *name, const char *value,
                                dstack_error *err);
/* Puts `name` back to its default, as if never set. */
dstack_status dstack_config_reset(dstack_config *cfg, const char *name, dstack_error *err);
/* True when `name` was set explicitly (not a default). */
bool dstack_config_is_set(const dstack_config *cfg, const char *name);
/* The effective value of `name` as text, as dstack_config_set() would accept it ("" when
 * unset and without a default, e.g. an endpoint left to discovery). */
dstack_status dstack_config_get(const dstack_config *cfg, const char *name, char *out,
                                size_t out_len, dstack_error *err);
/* Rules between parameters (e.g. kms-root-pubkey needs app-id); dstack_resolver_new() runs
 * them too. */
dstack_status dstack_config_check(const dstack_config *cfg, dstack_error *err);

/* OpenSSL library context and property query for every fetch libdstack makes on behalf of
 * the caller (key building, certificate signing, digests, verification). NULL: OpenSSL's
 * default context. The context is borrowed: it must outlive every resolver built from cfg.
 * (Data the agent sends is parsed in a private context of libdstack's, see resolve.h.) */
dstack_status dstack_config_set_libctx(dstack_config *cfg, OSSL_LIB_CTX *libctx, const char *propq,
                                       dstack_error *err);

/* Debug sink (e.g. the provider's DSTACK_PROVIDER_DEBUG log). Never given key bytes. */
typedef void (*dstack_debug_fn)(void *ctx, int level, const char *file, int line, const char *func,
                                const char *fmt, ...);
void dstack_config_set_debug(dstack_config *cfg, dstack_debug_fn fn, void *ctx);

DSTACK_API_END

#ifdef __cplusplus
}
#endif
#endif
