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

#include <ctype.h>
#include <dlfcn.h>
#include <pthread.h>
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

#include <dstack/config.h>
#include <dstack/keys.h>
#include <dstack/resolve.h>
#include <dstack/uri.h>

static const char engine_id[] = "dstack";
static const char engine_name[] = "dstack guest agent keys (dstack: URIs)";

/* The control commands are libdstack's configuration table (include/dstack/config.h):
 * command ENGINE_CMD_BASE + i is parameter i, spelt in upper case with underscores
 * (timeout-ms → TIMEOUT_MS), followed by LOAD_CERT_CTRL. Built once, at first bind. */
#define N_CMDS_MAX 32
static ENGINE_CMD_DEFN engine_cmds[N_CMDS_MAX + 2];
static char engine_cmd_names[N_CMDS_MAX][32];
static char engine_cmd_descs[N_CMDS_MAX][256];
static int cmd_load_cert = -1;

static void engine_cmds_build(void)
{
    size_t n = dstack_config_param_count(), k = 0;

    for (size_t i = 0; i < n && k < N_CMDS_MAX; i++, k++) {
        const dstack_config_param *p = dstack_config_param_at(i);
        dstack_config_engine_name(p->name, engine_cmd_names[k], sizeof(engine_cmd_names[k]));
        snprintf(engine_cmd_descs[k], sizeof(engine_cmd_descs[k]), "%s: %s (default %s)", p->doc,
                 p->values, p->default_value);
        engine_cmds[k].cmd_num = ENGINE_CMD_BASE + (unsigned)k;
        engine_cmds[k].cmd_name = engine_cmd_names[k];
        engine_cmds[k].cmd_desc = engine_cmd_descs[k];
        engine_cmds[k].cmd_flags =
            p->type == DSTACK_CONFIG_NUMBER ? ENGINE_CMD_FLAG_NUMERIC : ENGINE_CMD_FLAG_STRING;
    }
    cmd_load_cert = ENGINE_CMD_BASE + (int)k;
    engine_cmds[k].cmd_num = (unsigned)cmd_load_cert;
    engine_cmds[k].cmd_name = "LOAD_CERT_CTRL";
    engine_cmds[k].cmd_desc =
        "leaf certificate of a dstack: URI (p = struct { const char *id; X509 *cert; })";
    engine_cmds[k].cmd_flags = ENGINE_CMD_FLAG_INTERNAL;
    memset(&engine_cmds[k + 1], 0, sizeof(engine_cmds[k + 1]));
}

/* libp11's LOAD_CERT_CTRL argument layout, so callers written for it work unchanged. */
typedef struct load_cert_params {
    const char *cert_id;
    X509 *cert;
} load_cert_params;

/* Per-ENGINE configuration, attached as ex_data. The resolver is created on first use so the
 * control commands (openssl.cnf runs them before `init`) all apply; any later configuration
 * change drops it so the next load uses the new settings. A control command that fails —
 * a malformed value, a misspelt name — leaves the engine refusing every load with that
 * message until the same setting succeeds (a misspelt name: for good): OpenSSL's
 * configuration loading may ignore the failure, and an engine that then ran without the
 * intended KMS root check would be worse than one that does not run. */
typedef struct engine_state {
    dstack_config *cfg;
    dstack_resolver *resolver;
    unsigned failed_params;            /* bit i: the last value given for parameter i was refused */
    char param_error[N_CMDS_MAX][256]; /* why, per parameter */
    char unknown_command[256];         /* a misspelt command, "" if none */
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
 * must stay: libdstack holds process-wide state (libcurl once loaded for https://, the
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

/* One lock for every engine's state. It guards pointers and the error text only — never a
 * call into libdstack that takes locks of its own or does I/O — so the atfork handlers can
 * take it to keep a fork() from copying it held. */
static pthread_mutex_t engine_lock = PTHREAD_MUTEX_INITIALIZER;

static void engine_atfork_prepare(void)
{
    pthread_mutex_lock(&engine_lock);
}

static void engine_atfork_release(void)
{
    pthread_mutex_unlock(&engine_lock);
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
    engine_cmds_build();
    engine_ex_index = ENGINE_get_ex_new_index(0, NULL, NULL, NULL, NULL);
    engine_once_ok =
        engine_ex_index >= 0 &&
        pthread_atfork(engine_atfork_prepare, engine_atfork_release, engine_atfork_release) == 0;
}

static void engine_raise(const dstack_error *err)
{
    int status = err->status >= DSTACK_ERR_USAGE && err->status <= DSTACK_ERR_INTERNAL
                     ? (int)err->status
                     : (int)DSTACK_ERR_INTERNAL;

    /* The message is composed by libdstack (URI, RPC, endpoint, agent text, escaped). */
    ERR_new();
    ERR_set_debug(OPENSSL_FILE, OPENSSL_LINE, "dstack_engine");
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

/* Resolvers replaced by a configuration change stay alive until the engine goes: a load in
 * another thread may still be using one. */
typedef struct retired_resolver {
    dstack_resolver *r;
    struct retired_resolver *next;
} retired_resolver;

static void state_free(engine_state *st, retired_resolver *retired)
{
    while (retired != NULL) {
        retired_resolver *next = retired->next;
        dstack_resolver_free(retired->r);
        free(retired);
        retired = next;
    }
    if (st == NULL)
        return;
    dstack_resolver_free(st->resolver);
    dstack_config_free(st->cfg);
    free(st);
}

/* The resolver for this engine, created on first use (outside the lock; the first one
 * published wins). NULL after raising the error. */
static dstack_resolver *state_resolver(engine_state *st)
{
    dstack_resolver *r, *mine = NULL;
    dstack_config *cfg = NULL;
    dstack_error err;

    dstack_error_clear(&err);
    pthread_mutex_lock(&engine_lock);
    r = st->resolver;
    if (st->failed_params != 0 || st->unknown_command[0] != '\0') {
        const char *why = st->unknown_command;
        for (size_t i = 0; why[0] == '\0' && i < N_CMDS_MAX; i++)
            if (st->failed_params & (1u << i))
                why = st->param_error[i];
        dstack_error_set(&err, DSTACK_ERR_USAGE, NULL, NULL,
                         "invalid dstack engine configuration: %s", why);
        pthread_mutex_unlock(&engine_lock);
        engine_raise(&err);
        return NULL;
    } else if (r == NULL && (cfg = dstack_config_dup(st->cfg)) == NULL)
        dstack_error_set(&err, DSTACK_ERR_INTERNAL, NULL, NULL, "out of memory");
    pthread_mutex_unlock(&engine_lock);
    if (r != NULL)
        return r;
    if (cfg == NULL) {
        engine_raise(&err);
        return NULL;
    }
    if (dstack_resolver_new(cfg, &mine, &err) != DSTACK_OK) {
        dstack_config_free(cfg);
        engine_raise(&err);
        return NULL;
    }
    dstack_config_free(cfg);
    pthread_mutex_lock(&engine_lock);
    if (st->resolver == NULL) {
        st->resolver = mine;
        mine = NULL;
    }
    r = st->resolver;
    pthread_mutex_unlock(&engine_lock);
    dstack_resolver_free(mine);
    return r;
}

static retired_resolver *retired_list; /* guarded by engine_lock */

/* Applies control command `cmd` (a configuration parameter) as text. */
static int engine_set(engine_state *st, size_t index, const char *value)
{
    const dstack_config_param *param = dstack_config_param_at(index);
    dstack_resolver *old = NULL;
    retired_resolver *node = calloc(1, sizeof(*node));
    dstack_error err;
    int ok;

    dstack_error_clear(&err);
    pthread_mutex_lock(&engine_lock);
    ok = value != NULL && dstack_config_set(st->cfg, param->name, value, &err) == DSTACK_OK;
    if (!ok) {
        if (value == NULL)
            dstack_error_set(&err, DSTACK_ERR_USAGE, NULL, NULL, "%s: no value", param->name);
        /* The control spelling, not the table's, is what the user wrote. */
        snprintf(st->param_error[index], sizeof(st->param_error[index]), "%s: %s",
                 engine_cmd_names[index], err.message);
        st->failed_params |= 1u << index;
    } else {
        st->failed_params &= ~(1u << index);
    }
    if (ok && st->resolver != NULL) {
        old = st->resolver;
        st->resolver = NULL;
        if (node != NULL) {
            node->r = old;
            node->next = retired_list;
            retired_list = node;
            node = NULL;
            old = NULL;
        }
    }
    pthread_mutex_unlock(&engine_lock);
    /* `old` is non-NULL only when retiring it failed for lack of memory: leaked on purpose,
     * as a load in another thread may still be using it. */
    (void)old;
    free(node);
    if (!ok)
        engine_raise_usage("%s: %s", engine_cmd_names[index], err.message);
    return ok;
}

/* An unknown control name (ENGINE_FLAGS_MANUAL_CMD_CTRL lets the engine see it): the engine
 * refuses every load from now on, naming it and the closest valid command. */
static void engine_unknown_command(engine_state *st, const char *name)
{
    char table_name[64], suggestion[64] = "";
    const dstack_config_param *near;
    size_t i;

    /* TIMEOUT_MS → timeout-ms, so the table's edit distance applies */
    for (i = 0; name[i] != '\0' && i + 1 < sizeof(table_name); i++)
        table_name[i] = name[i] == '_' ? '-' : (char)tolower((unsigned char)name[i]);
    table_name[i] = '\0';
    near = dstack_config_param_closest(table_name);
    if (near != NULL)
        dstack_config_engine_name(near->name, suggestion, sizeof(suggestion));
    pthread_mutex_lock(&engine_lock);
    snprintf(st->unknown_command, sizeof(st->unknown_command),
             "unknown control command %.64s%s%s%s", name,
             suggestion[0] != '\0' ? " (did you mean " : "", suggestion,
             suggestion[0] != '\0' ? "?)" : "");
    pthread_mutex_unlock(&engine_lock);
    engine_raise_usage("unknown control command %.64s%s%s%s", name,
                       suggestion[0] != '\0' ? " (did you mean " : "", suggestion,
                       suggestion[0] != '\0' ? "?)" : "");
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

static const ENGINE_CMD_DEFN *cmd_by_num(long num)
{
    for (const ENGINE_CMD_DEFN *d = engine_cmds; d->cmd_name != NULL; d++)
        if ((long)d->cmd_num == num)
            return d;
    return NULL;
}

static int copy_text(const char *text, void *p)
{
    if (p == NULL || text == NULL)
        return -1;
    return (int)strlen(strcpy(p, text));
}

/* The introspection commands OpenSSL would answer itself, answered here because the engine
 * sets ENGINE_FLAGS_MANUAL_CMD_CTRL (to see names it does not know). Returns 0 when `cmd` is
 * not one of them and sets *handled. */
static int engine_introspect(engine_state *st, int cmd, long i, void *p, bool *handled)
{
    const ENGINE_CMD_DEFN *d;

    *handled = true;
    switch (cmd) {
    case ENGINE_CTRL_GET_FIRST_CMD_TYPE:
        return engine_cmds[0].cmd_name != NULL ? (int)engine_cmds[0].cmd_num : 0;
    case ENGINE_CTRL_GET_NEXT_CMD_TYPE:
        if ((d = cmd_by_num(i)) == NULL)
            return -1;
        return d[1].cmd_name != NULL ? (int)d[1].cmd_num : 0;
    case ENGINE_CTRL_GET_CMD_FROM_NAME:
        for (d = engine_cmds; p != NULL && d->cmd_name != NULL; d++)
            if (strcmp(d->cmd_name, p) == 0)
                return (int)d->cmd_num;
        if (p != NULL && st != NULL) {
            char table_name[64];
            size_t k;
            for (k = 0; ((const char *)p)[k] != '\0' && k + 1 < sizeof(table_name); k++)
                table_name[k] = ((const char *)p)[k] == '_'
                                    ? '-'
                                    : (char)tolower((unsigned char)((const char *)p)[k]);
            table_name[k] = '\0';
            /* A close miss is a typo of a setting (refuse from now on); anything else is
             * another engine's command probed by the application (SET_USER_INTERFACE). */
            if (dstack_config_param_closest(table_name) != NULL)
                engine_unknown_command(st, p);
        }
        return -1;
    case ENGINE_CTRL_GET_NAME_LEN_FROM_CMD:
        return (d = cmd_by_num(i)) != NULL ? (int)strlen(d->cmd_name) : -1;
    case ENGINE_CTRL_GET_NAME_FROM_CMD:
        return (d = cmd_by_num(i)) != NULL ? copy_text(d->cmd_name, p) : -1;
    case ENGINE_CTRL_GET_DESC_LEN_FROM_CMD:
        return (d = cmd_by_num(i)) != NULL ? (int)strlen(d->cmd_desc) : -1;
    case ENGINE_CTRL_GET_DESC_FROM_CMD:
        return (d = cmd_by_num(i)) != NULL ? copy_text(d->cmd_desc, p) : -1;
    case ENGINE_CTRL_GET_CMD_FLAGS:
        return (d = cmd_by_num(i)) != NULL ? (int)d->cmd_flags : -1;
    default:
        *handled = false;
        return 0;
    }
}

static int engine_ctrl(ENGINE *e, int cmd, long i, void *p, void (*f)(void))
{
    engine_state *st = state_of(e);
    bool handled;
    int rc;
    long index = (long)cmd - ENGINE_CMD_BASE;
    char number[32];

    (void)f;
    rc = engine_introspect(st, cmd, i, p, &handled);
    if (handled)
        return rc;
    if (st == NULL)
        return 0;
    if (cmd == cmd_load_cert)
        return engine_load_cert(e, p);
    if (index < 0 || (size_t)index >= dstack_config_param_count()) {
        engine_raise_usage("unknown control command %d", cmd);
        return 0;
    }
    /* Numeric commands arrive as `i` (ENGINE_ctrl_cmd_string parses the text). */
    if (engine_cmds[index].cmd_flags & ENGINE_CMD_FLAG_NUMERIC) {
        snprintf(number, sizeof(number), "%ld", i);
        p = number;
    }
    return engine_set(st, (size_t)index, p);
}

static int engine_destroy(ENGINE *e)
{
    engine_state *st = state_of(e);
    retired_resolver *retired;

    if (st == NULL)
        return 1;
    ENGINE_set_ex_data(e, engine_ex_index, NULL);
    pthread_mutex_lock(&engine_lock);
    retired = retired_list;
    retired_list = NULL;
    pthread_mutex_unlock(&engine_lock);
    state_free(st, retired);
    return 1;
}

/* Keys already handed out stay valid (OpenSSL owns them); only the agent connections go. */
static int engine_finish(ENGINE *e)
{
    engine_state *st = state_of(e);
    dstack_resolver *r = NULL;

    if (st == NULL)
        return 1;
    pthread_mutex_lock(&engine_lock);
    r = st->resolver;
    st->resolver = NULL;
    pthread_mutex_unlock(&engine_lock);
    dstack_resolver_free(r);
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
    /* The provider's defaults (architecture.md §5): the configuration table's. */
    st->cfg = dstack_config_new();
    if (st->cfg == NULL)
        goto err;
    if (!ENGINE_set_id(e, engine_id) || !ENGINE_set_name(e, engine_name) ||
        !ENGINE_set_destroy_function(e, engine_destroy) ||
        !ENGINE_set_finish_function(e, engine_finish) ||
        !ENGINE_set_ctrl_function(e, engine_ctrl) || !ENGINE_set_cmd_defns(e, engine_cmds) ||
        !ENGINE_set_flags(e, ENGINE_FLAGS_MANUAL_CMD_CTRL) ||
        !ENGINE_set_load_privkey_function(e, engine_load_privkey) ||
        !ENGINE_set_load_pubkey_function(e, engine_load_pubkey) ||
        !ENGINE_set_ex_data(e, engine_ex_index, st))
        goto err;
    return 1;
err:
    state_free(st, NULL);
    return 0;
}

/* The module is built with hidden visibility; only the two dynamic-engine entry points are
 * exported (with engine/engine.map). */
#pragma GCC visibility push(default)
IMPLEMENT_DYNAMIC_BIND_FN(engine_bind)
IMPLEMENT_DYNAMIC_CHECK_FN()
#pragma GCC visibility pop
