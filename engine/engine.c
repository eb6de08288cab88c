/* dstack ENGINE (architecture.md §7) — for applications that only know the legacy ENGINE API, such
 * as nginx < 1.29 with `ssl_certificate_key engine:dstack:dstack:tls/web;`.
 *
 * Like libp11's pkcs11 engine, this engine implements no cryptography: load_privkey resolves
 * the dstack: URI through libdstack's dstack_resolve() (the same function the provider's store
 * and decoder use) and turns the PKCS#8 DER into an ordinary EVP_PKEY operated by OpenSSL's
 * default provider. Control commands mirror the provider's openssl.cnf parameters; the
 * LOAD_CERT_CTRL command returns the leaf certificate of a URI with libp11's calling
 * convention.
 */

/* The ENGINE API is deprecated in OpenSSL 3.0 but is exactly what this module exists for. */
#define OPENSSL_SUPPRESS_DEPRECATED

#include <dlfcn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/engine.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <dstack/keys.h>
#include <dstack/resolve.h>
#include <dstack/uri.h>

static const char engine_id[] = "dstack";
static const char engine_name[] = "dstack guest agent keys (dstack: URIs)";

#define CMD_ENDPOINT ENGINE_CMD_BASE
#define CMD_TAPPD_ENDPOINT (ENGINE_CMD_BASE + 1)
#define CMD_TIMEOUT_MS (ENGINE_CMD_BASE + 2)
#define CMD_KMS_ROOT_PUBKEY (ENGINE_CMD_BASE + 3)
#define CMD_APP_ID (ENGINE_CMD_BASE + 4)
#define CMD_LOAD_CERT_CTRL (ENGINE_CMD_BASE + 5)
#define CMD_CACHE (ENGINE_CMD_BASE + 6)
#define CMD_CERT (ENGINE_CMD_BASE + 7)
#define CMD_RATLS (ENGINE_CMD_BASE + 8)

static const ENGINE_CMD_DEFN engine_cmds[] = {
    {CMD_ENDPOINT, "ENDPOINT", "dstack agent endpoint: Unix socket path or http(s):// URL",
     ENGINE_CMD_FLAG_STRING},
    {CMD_TAPPD_ENDPOINT, "TAPPD_ENDPOINT", "legacy Tappd endpoint (agent-issued certificates)",
     ENGINE_CMD_FLAG_STRING},
    {CMD_TIMEOUT_MS, "TIMEOUT_MS",
     "per-request timeout in milliseconds, 1 to 600000 (default 5000)", ENGINE_CMD_FLAG_NUMERIC},
    {CMD_KMS_ROOT_PUBKEY, "KMS_ROOT_PUBKEY",
     "hex compressed secp256k1 KMS root key; keys whose signature chain does not lead to it "
     "are refused",
     ENGINE_CMD_FLAG_STRING},
    {CMD_APP_ID, "APP_ID", "hex app id the agent's Info.app_id must match", ENGINE_CMD_FLAG_STRING},
    {CMD_CACHE, "CACHE",
     "yes or no: keep resolved keys and certificates for the process (default yes)",
     ENGINE_CMD_FLAG_STRING},
    {CMD_CERT, "CERT",
     "default certificate mode for URIs without cert=: auto, agent, self or none (default auto)",
     ENGINE_CMD_FLAG_STRING},
    {CMD_RATLS, "RATLS",
     "default RA-TLS format for URIs without ratls=: auto, attest, quote, both or no (default "
     "auto)",
     ENGINE_CMD_FLAG_STRING},
    {CMD_LOAD_CERT_CTRL, "LOAD_CERT_CTRL",
     "leaf certificate of a dstack: URI (p = struct { const char *id; X509 *cert; })",
     ENGINE_CMD_FLAG_INTERNAL},
    {0, NULL, NULL, 0},
};

/* libp11's LOAD_CERT_CTRL argument layout, so callers written for it work unchanged. */
typedef struct load_cert_params {
    const char *cert_id;
    X509 *cert;
} load_cert_params;

/* Per-ENGINE configuration, attached as ex_data. The resolver is created on first use so the
 * control commands (openssl.cnf runs them before `init`) all apply; any later configuration
 * change drops it so the next load uses the new settings. */
typedef struct engine_state {
    dstack_resolve_config cfg;
    char *endpoint;
    char *tappd_endpoint;
    dstack_resolver *resolver;
    CRYPTO_RWLOCK *lock;
} engine_state;

/* ---- errors ------------------------------------------------------------------------ */

/* One reason per architecture.md §9 category; the libdstack message (URI, endpoint, RPC, agent
 * text) travels as the error's data string, which nginx and `openssl` print. */
#define REASON_BASE 100
static ERR_STRING_DATA engine_reasons[] = {
    {REASON_BASE + DSTACK_ERR_USAGE, "invalid dstack: URI or engine setting"},
    {REASON_BASE + DSTACK_ERR_CONNECTION, "cannot connect to the dstack agent"},
    {REASON_BASE + DSTACK_ERR_TIMEOUT, "dstack agent request timed out"},
    {REASON_BASE + DSTACK_ERR_AGENT, "dstack agent returned an error"},
    {REASON_BASE + DSTACK_ERR_PROTOCOL, "malformed dstack agent response"},
    {REASON_BASE + DSTACK_ERR_CRYPTO, "dstack key or certificate verification failed"},
    {REASON_BASE + DSTACK_ERR_INTERNAL, "dstack engine internal error"},
    {0, NULL},
};
static ERR_STRING_DATA engine_lib_name[] = {
    {0, "dstack engine"},
    {0, NULL},
};

static int engine_err_lib;
static int engine_ex_index = -1;
static CRYPTO_ONCE engine_once = CRYPTO_ONCE_STATIC_INIT;
static bool engine_once_ok;

/* Called through a function pointer so dladdr() can find this module. */
static int engine_bind(ENGINE *e, const char *id);

/* The dynamic engine dlclose()s its module when the last ENGINE reference goes. This module
 * must stay: libdstack holds process-wide state (libcurl's global initialisation, the
 * secp256k1 context) and the error strings registered below point into its data. So the
 * module pins itself with RTLD_NODELETE, like OpenSSL pins libcrypto; the handle is kept
 * for the life of the process on purpose. */
static bool engine_pin_module(void)
{
    Dl_info info;

    if (dladdr((void *)(uintptr_t)engine_bind, &info) == 0 || info.dli_fname == NULL)
        return false;
    return dlopen(info.dli_fname, RTLD_NOW | RTLD_NODELETE) != NULL;
}

static void engine_global_init(void)
{
    size_t i;

    if (!engine_pin_module())
        return;
    engine_err_lib = ERR_get_next_error_library();
    engine_lib_name[0].error = ERR_PACK(engine_err_lib, 0, 0);
    for (i = 0; engine_reasons[i].string != NULL; i++)
        engine_reasons[i].error = ERR_PACK(engine_err_lib, 0, engine_reasons[i].error);
    ERR_load_strings(engine_err_lib, engine_lib_name);
    ERR_load_strings(engine_err_lib, engine_reasons);
    engine_ex_index = ENGINE_get_ex_new_index(0, NULL, NULL, NULL, NULL);
    engine_once_ok = engine_ex_index >= 0;
}

static void engine_raise(const dstack_error *err)
{
    int status = err->status >= DSTACK_ERR_USAGE && err->status <= DSTACK_ERR_INTERNAL
                     ? (int)err->status
                     : (int)DSTACK_ERR_INTERNAL;

    ERR_new();
    ERR_set_debug(OPENSSL_FILE, OPENSSL_LINE, "dstack_engine");
    /* Make sure the endpoint is named even if a lower layer's message omitted it. */
    if (err->endpoint[0] != '\0' && strstr(err->message, err->endpoint) == NULL)
        ERR_set_error(engine_err_lib, REASON_BASE + status, "%s (dstack endpoint %s)", err->message,
                      err->endpoint);
    else
        ERR_set_error(engine_err_lib, REASON_BASE + status, "%s", err->message);
}

static void engine_raise_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void engine_raise_usage(const char *fmt, ...)
{
    dstack_error err;
    va_list ap;

    dstack_error_clear(&err);
    va_start(ap, fmt);
    dstack_error_setv(&err, DSTACK_ERR_USAGE, NULL, NULL, fmt, ap);
    va_end(ap);
    engine_raise(&err);
}

/* ---- state ----------------------------------------------------------------------- */

static engine_state *state_of(ENGINE *e)
{
    return engine_ex_index >= 0 ? ENGINE_get_ex_data(e, engine_ex_index) : NULL;
}

static void state_free(engine_state *st)
{
    if (st == NULL)
        return;
    dstack_resolver_free(st->resolver);
    free(st->endpoint);
    free(st->tappd_endpoint);
    CRYPTO_THREAD_lock_free(st->lock);
    OPENSSL_cleanse(st, sizeof(*st));
    free(st);
}

/* Drop the resolver after a configuration change (caller holds the write lock). */
static void state_reset_resolver(engine_state *st)
{
    dstack_resolver_free(st->resolver);
    st->resolver = NULL;
}

/* The resolver for this engine, created on first use. */
static dstack_resolver *state_resolver(engine_state *st)
{
    dstack_resolver *r = NULL;
    dstack_error err;

    if (!CRYPTO_THREAD_write_lock(st->lock))
        return NULL;
    if (st->resolver == NULL) {
        dstack_error_clear(&err);
        st->cfg.endpoint = st->endpoint;
        st->cfg.tappd_endpoint = st->tappd_endpoint;
        if (dstack_resolver_new(&st->cfg, &st->resolver, &err) != DSTACK_OK) {
            st->resolver = NULL;
            engine_raise(&err);
        }
    }
    r = st->resolver;
    CRYPTO_THREAD_unlock(st->lock);
    return r;
}

static int set_string(engine_state *st, char **slot, const char *value, const char *what)
{
    char *copy;

    if (value == NULL || value[0] == '\0') {
        engine_raise_usage("%s must not be empty", what);
        return 0;
    }
    copy = strdup(value);
    if (copy == NULL)
        return 0;
    free(*slot);
    *slot = copy;
    state_reset_resolver(st);
    return 1;
}

/* Decodes into a scratch buffer first so a bad value leaves the previous setting intact. */
static int set_hex(engine_state *st, const char *value, uint8_t *out, size_t min, size_t cap,
                   size_t *out_len, bool *present, const char *what)
{
    uint8_t buf[64];
    size_t n = 0;

    if (value == NULL || cap > sizeof(buf) ||
        !dstack_hex_decode(value, strlen(value), buf, cap, &n) || n < min) {
        engine_raise_usage("%s: expected hex", what);
        return 0;
    }
    memcpy(out, buf, n);
    if (out_len != NULL)
        *out_len = n;
    *present = true;
    state_reset_resolver(st);
    return 1;
}

/* Same values as the provider's `cache` parameter (architecture.md §5): exactly "yes" or "no". */
static int set_cache(engine_state *st, const char *value)
{
    if (value != NULL && strcmp(value, "yes") == 0) {
        st->cfg.cache = true;
    } else if (value != NULL && strcmp(value, "no") == 0) {
        st->cfg.cache = false;
    } else {
        engine_raise_usage("CACHE \"%s\": expected yes or no", value != NULL ? value : "");
        return 0;
    }
    state_reset_resolver(st);
    return 1;
}

/* CERT and RATLS: the provider's `cert` and `ratls` defaults, parsed by libdstack's URI code so
 * the accepted words cannot drift from the URI grammar (architecture.md §3). */
static int set_mode(engine_state *st, int cmd, const char *value)
{
    const char *v = value != NULL ? value : "";

    if (cmd == CMD_CERT && !dstack_cert_mode_parse(v, &st->cfg.default_cert)) {
        engine_raise_usage("CERT \"%s\": expected auto, agent, self or none", v);
        return 0;
    }
    if (cmd == CMD_RATLS && !dstack_ratls_mode_parse(v, &st->cfg.default_ratls)) {
        engine_raise_usage("RATLS \"%s\": expected auto, attest, quote, both or no", v);
        return 0;
    }
    state_reset_resolver(st);
    return 1;
}

/* ---- resolving ------------------------------------------------------------------- */

static dstack_resolved *engine_resolve(ENGINE *e, const char *uri, unsigned want)
{
    engine_state *st = state_of(e);
    dstack_resolver *r;
    dstack_resolved *res = NULL;
    dstack_error err;

    if (st == NULL || uri == NULL) {
        engine_raise_usage("%s", "no dstack: URI given");
        return NULL;
    }
    r = state_resolver(st);
    if (r == NULL)
        return NULL;
    dstack_error_clear(&err);
    if (dstack_resolve(r, uri, want, &res, &err) != DSTACK_OK) {
        engine_raise(&err);
        return NULL;
    }
    return res;
}

static EVP_PKEY *engine_load_privkey(ENGINE *e, const char *key_id, UI_METHOD *ui, void *cb_data)
{
    dstack_resolved *res = engine_resolve(e, key_id, DSTACK_WANT_KEY);
    const unsigned char *p;
    EVP_PKEY *pkey = NULL;

    if (res == NULL)
        return NULL;
    if (res->key_der == NULL) {
        engine_raise_usage("%s: the agent returned no private key", key_id);
        goto done;
    }
    /* PrivateKeyInfo → a key owned and operated by OpenSSL's default provider. */
    p = res->key_der;
    pkey = d2i_AutoPrivateKey(NULL, &p, (long)res->key_der_len);
    if (pkey == NULL)
        engine_raise_usage("%s: cannot decode the derived PKCS#8 key", key_id);
done:
    dstack_resolved_free(res);
    return pkey;
}

static EVP_PKEY *engine_load_pubkey(ENGINE *e, const char *key_id, UI_METHOD *ui, void *cb_data)
{
    dstack_resolved *res = engine_resolve(e, key_id, DSTACK_WANT_KEY);
    const unsigned char *p;
    EVP_PKEY *pkey = NULL;

    if (res == NULL)
        return NULL;
    p = res->spki_der;
    pkey = d2i_PUBKEY(NULL, &p, (long)res->spki_der_len);
    if (pkey == NULL)
        engine_raise_usage("%s: cannot decode the public key", key_id);
    dstack_resolved_free(res);
    return pkey;
}

static int engine_load_cert(ENGINE *e, load_cert_params *params)
{
    dstack_resolved *res;
    const unsigned char *p;
    int ok = 0;

    if (params == NULL || params->cert_id == NULL) {
        engine_raise_usage("%s", "LOAD_CERT_CTRL needs a dstack: URI");
        return 0;
    }
    res = engine_resolve(e, params->cert_id, DSTACK_WANT_CERTS);
    if (res == NULL)
        return 0;
    if (res->cert_count == 0) {
        engine_raise_usage("%s: the URI resolves no certificate (cert=none?)", params->cert_id);
        goto done;
    }
    p = res->cert_der[0];
    params->cert = d2i_X509(NULL, &p, (long)res->cert_der_len[0]);
    if (params->cert == NULL) {
        engine_raise_usage("%s: cannot decode the leaf certificate", params->cert_id);
        goto done;
    }
    ok = 1;
done:
    dstack_resolved_free(res);
    return ok;
}

/* ---- ENGINE callbacks ------------------------------------------------------------- */

static int engine_ctrl(ENGINE *e, int cmd, long i, void *p, void (*f)(void))
{
    engine_state *st = state_of(e);
    int ok = 0;

    if (st == NULL)
        return 0;
    if (cmd == CMD_LOAD_CERT_CTRL)
        return engine_load_cert(e, p);
    if (!CRYPTO_THREAD_write_lock(st->lock))
        return 0;
    switch (cmd) {
    case CMD_ENDPOINT:
    case CMD_TAPPD_ENDPOINT: {
        const char *what = cmd == CMD_ENDPOINT ? "ENDPOINT" : "TAPPD_ENDPOINT";

        /* Same rule as the provider's `endpoint`: the agent's own notion (protocol.md §1.2). */
        if (p != NULL && ((const char *)p)[0] != '/' && strncmp(p, "http://", 7) != 0 &&
            strncmp(p, "https://", 8) != 0) {
            engine_raise_usage("%s \"%s\": expected an absolute Unix socket path or an "
                               "http(s):// URL",
                               what, (const char *)p);
            break;
        }
        ok = set_string(st, cmd == CMD_ENDPOINT ? &st->endpoint : &st->tappd_endpoint, p, what);
        break;
    }
    case CMD_TIMEOUT_MS:
        /* The provider's `timeout-ms` range (provider/config.c), so both routes agree. */
        if (i <= 0 || i > 600000L) {
            engine_raise_usage("TIMEOUT_MS %ld: expected milliseconds between 1 and 600000", i);
            break;
        }
        st->cfg.timeout_ms = i;
        state_reset_resolver(st);
        ok = 1;
        break;
    case CMD_KMS_ROOT_PUBKEY:
        ok = set_hex(st, p, st->cfg.kms_root, sizeof(st->cfg.kms_root), sizeof(st->cfg.kms_root),
                     NULL, &st->cfg.has_kms_root,
                     "KMS_ROOT_PUBKEY (33-byte compressed secp256k1 key)");
        break;
    case CMD_APP_ID:
        ok = set_hex(st, p, st->cfg.app_id, 1, sizeof(st->cfg.app_id), &st->cfg.app_id_len,
                     &st->cfg.has_app_id, "APP_ID");
        break;
    case CMD_CACHE:
        ok = set_cache(st, p);
        break;
    case CMD_CERT:
    case CMD_RATLS:
        ok = set_mode(st, cmd, p);
        break;
    default:
        engine_raise_usage("%s", "unknown control command");
        break;
    }
    CRYPTO_THREAD_unlock(st->lock);
    return ok;
}

static int engine_destroy(ENGINE *e)
{
    engine_state *st = state_of(e);

    if (st != NULL) {
        ENGINE_set_ex_data(e, engine_ex_index, NULL);
        state_free(st);
    }
    return 1;
}

/* Keys already handed out stay valid (OpenSSL owns them); only the agent connections go. */
static int engine_finish(ENGINE *e)
{
    engine_state *st = state_of(e);

    if (st != NULL && CRYPTO_THREAD_write_lock(st->lock)) {
        state_reset_resolver(st);
        CRYPTO_THREAD_unlock(st->lock);
    }
    return 1;
}

static int engine_bind(ENGINE *e, const char *id)
{
    engine_state *st = NULL;

    if (id != NULL && strcmp(id, engine_id) != 0)
        return 0;
    if (!CRYPTO_THREAD_run_once(&engine_once, engine_global_init) || !engine_once_ok)
        return 0;
    st = calloc(1, sizeof(*st));
    if (st == NULL)
        return 0;
    st->lock = CRYPTO_THREAD_lock_new();
    if (st->lock == NULL)
        goto err;
    /* Same defaults as the provider (architecture.md §5): endpoints by discovery, 5 s, cache on. */
    st->cfg.timeout_ms = 5000;
    st->cfg.default_cert = DSTACK_CERT_AUTO;
    st->cfg.default_ratls = DSTACK_RATLS_AUTO;
    st->cfg.cache = true;
    if (!ENGINE_set_id(e, engine_id) || !ENGINE_set_name(e, engine_name) ||
        !ENGINE_set_destroy_function(e, engine_destroy) ||
        !ENGINE_set_finish_function(e, engine_finish) ||
        !ENGINE_set_ctrl_function(e, engine_ctrl) || !ENGINE_set_cmd_defns(e, engine_cmds) ||
        !ENGINE_set_load_privkey_function(e, engine_load_privkey) ||
        !ENGINE_set_load_pubkey_function(e, engine_load_pubkey) ||
        !ENGINE_set_ex_data(e, engine_ex_index, st))
        goto err;
    return 1;
err:
    state_free(st);
    return 0;
}

/* The module is built with hidden visibility; only the two dynamic-engine entry points are
 * exported (with engine/engine.map). */
#pragma GCC visibility push(default)
IMPLEMENT_DYNAMIC_BIND_FN(engine_bind)
IMPLEMENT_DYNAMIC_CHECK_FN()
#pragma GCC visibility pop
