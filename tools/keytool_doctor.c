/* dstack-keytool doctor — checks, in the order they go wrong, what a service needs to load a
 * dstack key, and prints the fix for each failure (docs/dstack-keytool.md):
 *   1. the OpenSSL configuration the service would read (OPENSSL_CONF or OpenSSL's default)
 *   2. the provider module is found (OPENSSL_MODULES or OpenSSL's modules directory)
 *   3. that configuration activates it (OpenSSL 3.0 drops a config-activated provider's load
 *      error silently, so "unregistered scheme" is all a server would say)
 *   4. the ENGINE module loads (OPENSSL_ENGINES or OpenSSL's engines directory)
 *   5. the agent answers (endpoint, Version, Info)
 *   6. a key resolves through the provider (the URI given, else a probe URI)
 *   7. each --ref FILE is readable and decodes to a key
 * Each check runs in a library context of its own, loaded from the configuration file as a
 * server would, so this process's own configuration does not mask the result. */
/* The ENGINE check uses the ENGINE API, deprecated in OpenSSL 3 but what ENGINE users run. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "keytool.h"

#include <errno.h>
#include <stdarg.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/conf.h>
#include <openssl/crypto.h>
#include <openssl/engine.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/provider.h>
#include <openssl/store.h>

#include <dstack/keyref.h>
#include <dstack/rpc.h>
#include <dstack/uri.h>

#define DOCTOR_PROBE_URI "dstack:doctor/probe?cert=none"
#define DOCTOR_MAX_REFS 16

enum { OPT_REF = 1 };

static const struct option doctor_options[] = {
    {"ref", required_argument, NULL, OPT_REF},
    {NULL, 0, NULL, 0},
};

typedef struct doctor_args {
    const char *refs[DOCTOR_MAX_REFS];
    int nrefs;
} doctor_args;

typedef struct doctor {
    int failures;
} doctor;

static void doctor_help(void)
{
    puts("Usage: dstack-keytool [global options] doctor [URI] [--ref FILE]...\n"
         "\n"
         "Checks, in order, what a service needs to load a dstack key and prints the fix for\n"
         "each failure: the OpenSSL configuration in effect (OPENSSL_CONF or OpenSSL's\n"
         "default file), the provider module found and activated by it, the ENGINE module,\n"
         "the agent (endpoint, Version, Info), a key resolving through the provider (URI,\n"
         "default " DOCTOR_PROBE_URI "), and each reference file given with --ref\n"
         "readable and decoding to its key. Run it as the service's user with the service's\n"
         "environment. Exit status 0 when every check passes, 1 otherwise.");
}

static bool doctor_option(int opt, const char *arg, void *ctx)
{
    doctor_args *a = ctx;

    (void)opt;
    if (a->nrefs >= DOCTOR_MAX_REFS) {
        kt_usage_error("doctor: at most %d --ref files", DOCTOR_MAX_REFS);
        return false;
    }
    a->refs[a->nrefs++] = arg;
    return true;
}

static void ok(const char *check, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ok(const char *check, const char *fmt, ...)
{
    va_list ap;

    printf("ok    %-9s ", check);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

/* One failed check: what is wrong, then the fix on its own line. */
static void bad(doctor *d, const char *check, const char *fix, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void bad(doctor *d, const char *check, const char *fix, const char *fmt, ...)
{
    va_list ap;

    d->failures++;
    printf("FAIL  %-9s ", check);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n      fix: %s\n", fix);
}

static void skipped(const char *check, const char *why)
{
    printf("skip  %-9s %s\n", check, why);
}

/* The newest error of this thread's queue as one line ("reason: data"), then clears it. */
static void last_error(char *buf, size_t len)
{
    const char *data = NULL;
    int flags = 0;
    unsigned long e = ERR_peek_last_error_data(&data, &flags);
    const char *reason = e != 0 ? ERR_reason_error_string(e) : NULL;

    snprintf(buf, len, "%s%s%s", reason != NULL ? reason : "unknown error",
             (flags & ERR_TXT_STRING) != 0 && data != NULL && *data != '\0' ? ": " : "",
             (flags & ERR_TXT_STRING) != 0 && data != NULL ? data : "");
    ERR_clear_error();
}

/* The file OpenSSL reads at start-up, as libcrypto decides it. */
static char *config_file(bool *from_env)
{
    const char *env = getenv("OPENSSL_CONF");

    *from_env = env != NULL;
    if (env != NULL)
        return strdup(env);
    return CONF_get1_default_config_file();
}

static const char *dir_of(const char *env, int info)
{
    const char *v = getenv(env);

    return v != NULL ? v : OPENSSL_info(info);
}

/* Checks 1-3. Returns a library context configured like the service's, with the provider
 * active, or NULL. */
static OSSL_LIB_CTX *check_provider(doctor *d)
{
    bool from_env;
    char *file = config_file(&from_env), msg[1024];
    const char *moddir = dir_of("OPENSSL_MODULES", OPENSSL_INFO_MODULES_DIR);
    OSSL_LIB_CTX *probe = OSSL_LIB_CTX_new(), *ctx = NULL;
    OSSL_PROVIDER *p;
    FILE *f;

    if (file == NULL || probe == NULL) {
        bad(d, "config", "none (out of memory)", "cannot determine the configuration file");
        goto fail;
    }
    f = fopen(file, "r");
    if (f == NULL) {
        bad(d, "config",
            "point OPENSSL_CONF at an openssl.cnf that activates the provider, e.g. "
            "/usr/share/dstack-openssl/conf/openssl-dstack.cnf",
            "%s (%s) cannot be read: %s", file, from_env ? "OPENSSL_CONF" : "OpenSSL's default",
            strerror(errno));
        goto fail;
    }
    fclose(f);
    ok("config", "%s (%s)", file, from_env ? "OPENSSL_CONF" : "OpenSSL's default file");

    /* 2: the module itself, loaded by name as a configuration would. */
    p = OSSL_PROVIDER_try_load(probe, "dstack", 1);
    if (p == NULL) {
        last_error(msg, sizeof(msg));
        bad(d, "provider",
            "install openssl-provider-dstack (dstack.so in OpenSSL's modules directory) or set "
            "OPENSSL_MODULES to the directory holding dstack.so",
            "dstack.so not loadable from %s (%s): %s", moddir,
            getenv("OPENSSL_MODULES") != NULL ? "OPENSSL_MODULES" : "OpenSSL's modules directory",
            msg);
        goto fail;
    }
    ok("provider", "dstack.so loads from %s", moddir);
    OSSL_PROVIDER_unload(p);

    /* 3: activated by the configuration. */
    ctx = OSSL_LIB_CTX_new();
    if (ctx == NULL || !OSSL_LIB_CTX_load_config(ctx, file)) {
        last_error(msg, sizeof(msg));
        bad(d, "active", "correct the configuration file (openssl-dstack.cnf is a known-good one)",
            "%s does not load: %s", file, msg);
        goto fail;
    }
    if (!OSSL_PROVIDER_available(ctx, "dstack")) {
        bad(d, "active",
            "activate it: OPENSSL_CONF=/usr/share/dstack-openssl/conf/openssl-dstack.cnf for the "
            "service, or its [provider_sect] with dstack = dstack_sect / activate = 1 (and "
            "default activated too); Node.js reads nodejs_conf, not openssl_conf",
            "%s does not activate the dstack provider: servers only report \"unregistered "
            "scheme\" or \"unsupported\"",
            file);
        goto fail;
    }
    if (!OSSL_PROVIDER_available(ctx, "default"))
        bad(d, "active",
            "add default = default_sect with activate = 1: loading any provider explicitly "
            "disables OpenSSL's implicit default provider",
            "%s activates dstack but not OpenSSL's default provider, which operates the keys",
            file);
    else
        ok("active", "%s activates dstack and default", file);
    OSSL_LIB_CTX_free(probe);
    free(file);
    return ctx;
fail:
    OSSL_LIB_CTX_free(probe);
    OSSL_LIB_CTX_free(ctx);
    free(file);
    return NULL;
}

static void check_engine(doctor *d)
{
    const char *dir = dir_of("OPENSSL_ENGINES", OPENSSL_INFO_ENGINES_DIR);
    char path[4096], msg[1024];
    ENGINE *e = ENGINE_by_id("dynamic");

    snprintf(path, sizeof(path), "%s/dstack.so", dir);
    if (e == NULL || !ENGINE_ctrl_cmd_string(e, "SO_PATH", path, 0) ||
        !ENGINE_ctrl_cmd_string(e, "ID", "dstack", 0) ||
        !ENGINE_ctrl_cmd_string(e, "LOAD", NULL, 0)) {
        last_error(msg, sizeof(msg));
        bad(d, "engine",
            "only needed for ENGINE users (nginx engine:, stunnel engineId): install "
            "openssl-provider-dstack or set OPENSSL_ENGINES to the directory holding dstack.so",
            "%s does not load: %s", path, msg);
    } else {
        ok("engine", "%s loads", path);
    }
    if (e != NULL)
        ENGINE_free(e);
}

static bool check_agent(doctor *d, kt_options *opts)
{
    dstack_client *c = NULL;
    dstack_version_info v;
    dstack_app_info info;
    dstack_error err;
    bool good = false;

    memset(&v, 0, sizeof(v));
    memset(&info, 0, sizeof(info));
    dstack_error_clear(&err);
    if (kt_client_new(opts, DSTACK_SERVICE_GUEST, &c, &err) != DSTACK_OK ||
        dstack_info(c, &info, &err) != DSTACK_OK) {
        bad(d, "agent",
            "start the agent, or give the service its socket (mount /var/run/dstack.sock into "
            "the container, make it reachable by the service's user), or set endpoint = ... "
            "in the openssl.cnf [dstack_sect] / DSTACK_SIMULATOR_ENDPOINT",
            "%s", err.message);
        goto done;
    }
    /* Version is 0.5.7+; older agents answer Info only, which is enough. */
    if (dstack_version(c, &v, &err) == DSTACK_OK)
        ok("agent", "%s answers: version %s, app %s", dstack_client_endpoint(c), v.version,
           info.app_name != NULL ? info.app_name : "");
    else
        ok("agent", "%s answers Info (app %s; no Version: an agent before 0.5.7)",
           dstack_client_endpoint(c), info.app_name != NULL ? info.app_name : "");
    good = true;
done:
    dstack_version_info_free(&v);
    dstack_app_info_free(&info);
    dstack_client_free(c);
    return good;
}

/* The private key of `uri` through the provider's store in `ctx`, as a server would load it. */
static void check_key(doctor *d, OSSL_LIB_CTX *ctx, const char *uri)
{
    OSSL_STORE_CTX *s = OSSL_STORE_open_ex(uri, ctx, NULL, NULL, NULL, NULL, NULL, NULL);
    OSSL_STORE_INFO *info = NULL;
    char msg[1024];
    dstack_uri parsed;
    dstack_error err;

    /* A URI the parser refuses is named as such, with the part at fault. */
    dstack_error_clear(&err);
    memset(&parsed, 0, sizeof(parsed));
    if (dstack_uri_parse(uri, &parsed, &err) != DSTACK_OK) {
        bad(d, "uri", "write it as dstack:<path>[?param=value&...] (README, \"The dstack: URI\")",
            "%s", err.message);
        OSSL_STORE_close(s);
        return;
    }
    dstack_uri_free(&parsed);
    if (s != NULL && OSSL_STORE_expect(s, OSSL_STORE_INFO_PKEY))
        info = OSSL_STORE_load(s);
    if (info == NULL || OSSL_STORE_INFO_get_type(info) != OSSL_STORE_INFO_PKEY) {
        last_error(msg, sizeof(msg));
        bad(d, "key", "see the message: it names the endpoint, the RPC and the agent's answer",
            "%s does not resolve: %s", uri, msg);
    } else {
        ok("key", "%s resolves to a %s key", uri,
           EVP_PKEY_get0_type_name(OSSL_STORE_INFO_get0_PKEY(info)));
    }
    OSSL_STORE_INFO_free(info);
    OSSL_STORE_close(s);
}

static void check_ref(doctor *d, OSSL_LIB_CTX *ctx, const char *path, bool have_agent)
{
    BIO *in = BIO_new_file(path, "r");
    EVP_PKEY *key = NULL;
    char msg[1024];

    if (in == NULL) {
        int e = errno;

        ERR_clear_error();
        bad(d, "ref",
            "run the service (and this check) as the user that owns the reference, or export it "
            "for that user: dstack-keytool export URI --key-ref FILE --owner USER",
            "%s cannot be read: %s", path, strerror(e));
        return;
    }
    if (ctx == NULL || !have_agent) {
        BIO_free(in);
        skipped("ref", "the provider or the agent failed above");
        return;
    }
    key = PEM_read_bio_PrivateKey_ex(in, NULL, NULL, NULL, ctx, NULL);
    if (key == NULL) {
        last_error(msg, sizeof(msg));
        bad(d, "ref",
            "re-export it (dstack-keytool export URI --key-ref FILE); a combined file must end "
            "with the BEGIN DSTACK KEY URI block",
            "%s does not decode to a key: %s", path, msg);
    } else {
        ok("ref", "%s decodes to a %s key", path, EVP_PKEY_get0_type_name(key));
    }
    EVP_PKEY_free(key);
    BIO_free(in);
}

static int doctor_run(kt_options *opts, int argc, char **argv)
{
    doctor_args a = {.nrefs = 0};
    doctor d = {0};
    OSSL_LIB_CTX *ctx;
    char **pos = NULL;
    int npos = 0, rc, i;
    bool agent;

    rc = kt_parse(opts, argc, argv, doctor_options, doctor_option, &a, doctor_help, &pos, &npos);
    if (rc != KT_EXIT_OK)
        goto done;
    if (npos > 1) {
        rc = kt_usage_error("doctor: at most one URI (see doctor --help)");
        goto done;
    }
    ERR_clear_error();
    ctx = check_provider(&d);
    check_engine(&d);
    agent = check_agent(&d, opts);
    if (ctx != NULL && agent)
        check_key(&d, ctx, npos == 1 ? pos[0] : DOCTOR_PROBE_URI);
    else
        skipped("key", "the provider or the agent failed above");
    for (i = 0; i < a.nrefs; i++)
        check_ref(&d, ctx, a.refs[i], agent);
    OSSL_LIB_CTX_free(ctx);
    if (d.failures == 0) {
        printf("all checks passed\n");
        rc = KT_EXIT_OK;
    } else {
        printf("%d check%s failed\n", d.failures, d.failures == 1 ? "" : "s");
        rc = 1;
    }
done:
    free(pos);
    return rc;
}

const kt_command kt_cmd_doctor = {"doctor", "diagnose provider, engine, agent and references",
                                  doctor_run};
