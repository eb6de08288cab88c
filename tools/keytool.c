/* dstack-keytool — command line, global options, dispatch, shared helpers (architecture.md §8).
 *
 * Usage: dstack-keytool [global options] <command> [options] [args]
 * Every subcommand lives in its own file (keytool_show.c, keytool_export.c, keytool_info.c,
 * keytool_verify.c).
 */
#include "keytool.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <dstack/keys.h>

/* Option values: 0x1000 + i is parameter i of the configuration table. */
enum { OPT_CONFIG = 0x1000, OPT_JSON = 0x1800, OPT_HELP };
#define N_CONFIG_MAX 32
#define N_GLOBAL (N_CONFIG_MAX + 2)

static const kt_command *const commands[] = {
    &kt_cmd_show,   &kt_cmd_export,     &kt_cmd_info,    &kt_cmd_quote,
    &kt_cmd_verify, &kt_cmd_collateral, &kt_cmd_version, &kt_cmd_doctor,
};
#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void print_global_help(FILE *out)
{
    size_t i;

    fprintf(
        out,
        "Usage: dstack-keytool [global options] <command> [options] [arguments]\n"
        "\n"
        "Keys derived by the dstack guest agent, named by dstack: URIs (see dstack-keytool.md).\n"
        "\n"
        "Commands:\n");
    for (i = 0; i < N_COMMANDS; i++)
        fprintf(out, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
    fprintf(
        out,
        "\n"
        "Global options (before or after the command), the provider's openssl.cnf parameters:\n");
    for (i = 0; i < dstack_config_param_count(); i++) {
        const dstack_config_param *p = dstack_config_param_at(i);
        fprintf(out, "  --%-18s %s\n  %-20s %s (default: %s)\n", p->name, p->doc, "", p->values,
                p->default_value);
    }
    fprintf(out,
            "  --json               machine-readable output on stdout\n"
            "  --help               this text; `dstack-keytool <command> --help` per command\n"
            "Unlike the provider, dstack-keytool keeps no cache (--cache no) unless asked.\n"
            "Where a command has an option of the same name (export --cert FILE), the\n"
            "command's option wins; set the URI's parameter instead (?cert=self).\n"
            "\n"
            "Exit status: 0 success, 1 agent error (unreachable, timeout, error answer, bad\n"
            "response), 2 usage error (bad option or URI), 3 verification failed, 4 file I/O.\n");
}

static bool hex_param(const kt_options *opts, const char *name, uint8_t *out, size_t cap,
                      size_t *len)
{
    char text[2 * 64 + 1];
    size_t n = 0;

    if (!dstack_config_is_set(opts->cfg, name) ||
        dstack_config_get(opts->cfg, name, text, sizeof(text), NULL) != DSTACK_OK ||
        !dstack_hex_decode(text, strlen(text), out, cap, &n))
        return false;
    if (len != NULL)
        *len = n;
    return true;
}

bool kt_app_id(const kt_options *opts, uint8_t app_id[32], size_t *len)
{
    return hex_param(opts, "app-id", app_id, 32, len);
}

unsigned kt_timeout_ms(const kt_options *opts)
{
    char text[32];

    if (dstack_config_get(opts->cfg, "timeout-ms", text, sizeof(text), NULL) != DSTACK_OK)
        return 5000;
    return (unsigned)strtoul(text, NULL, 10);
}

bool kt_kms_root(const kt_options *opts, uint8_t kms_root[33])
{
    return hex_param(opts, "kms-root-pubkey", kms_root, 33, NULL);
}

int kt_status_exit(dstack_status status)
{
    switch (status) {
    case DSTACK_OK:
        return KT_EXIT_OK;
    case DSTACK_ERR_USAGE:
        return KT_EXIT_USAGE;
    case DSTACK_ERR_CRYPTO:
        return KT_EXIT_CRYPTO;
    case DSTACK_ERR_CONNECTION:
    case DSTACK_ERR_TIMEOUT:
    case DSTACK_ERR_AGENT:
    case DSTACK_ERR_PROTOCOL:
    case DSTACK_ERR_INTERNAL:
        break;
    }
    return KT_EXIT_AGENT;
}

int kt_fail(const dstack_error *err)
{
    fprintf(stderr, "dstack-keytool: %s error: %s\n", dstack_status_name(err->status),
            err->message[0] != '\0' ? err->message : "(no detail)");
    if (err->endpoint[0] != '\0' && strstr(err->message, err->endpoint) == NULL)
        fprintf(stderr, "dstack-keytool: agent endpoint: %s\n", err->endpoint);
    return kt_status_exit(err->status);
}

int kt_usage_error(const char *fmt, ...)
{
    va_list ap;

    fputs("dstack-keytool: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return KT_EXIT_USAGE;
}

char *kt_hex(const uint8_t *data, size_t len)
{
    char *out = malloc(2 * len + 1);

    if (out != NULL)
        dstack_hex_encode(data, len, out);
    return out;
}

void kt_spki_digest(const uint8_t *spki, size_t len, char hex[65], char pin[53])
{
    uint8_t md[SHA256_DIGEST_LENGTH];

    SHA256(spki, len, md);
    dstack_hex_encode(md, sizeof(md), hex);
    memcpy(pin, "sha256//", 8);
    EVP_EncodeBlock((unsigned char *)pin + 8, md, sizeof(md)); /* 44 chars + NUL */
}

void kt_print_json(json_object *obj)
{
    puts(json_object_to_json_string_ext(obj,
                                        JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(obj);
}

dstack_status kt_resolver_new(const kt_options *opts, dstack_resolver **out, dstack_error *err)
{
    return dstack_resolver_new(opts->cfg, out, err);
}

dstack_status kt_client_new(const kt_options *opts, dstack_service service, dstack_client **out,
                            dstack_error *err)
{
    const char *name = service == DSTACK_SERVICE_TAPPD ? "tappd-endpoint" : "endpoint";
    char endpoint[1024], timeout[32];
    dstack_client_options co;

    memset(&co, 0, sizeof(co));
    co.struct_size = sizeof(co);
    co.service = service;
    if (dstack_config_is_set(opts->cfg, name) &&
        dstack_config_get(opts->cfg, name, endpoint, sizeof(endpoint), err) == DSTACK_OK)
        co.endpoint = endpoint;
    if (dstack_config_get(opts->cfg, "timeout-ms", timeout, sizeof(timeout), err) == DSTACK_OK)
        co.timeout_ms = strtol(timeout, NULL, 10);
    return dstack_client_new(&co, out, err);
}

/* "--kms_root_pubkey" → the closest option name, for "did you mean". */
static const char *closest_option(const char *arg, const struct option *all)
{
    char name[64];
    const char *p = arg;
    const dstack_config_param *near;
    size_t n;

    while (*p == '-')
        p++;
    n = strcspn(p, "=");
    if (n == 0 || n >= sizeof(name))
        return NULL;
    memcpy(name, p, n);
    name[n] = '\0';
    near = dstack_config_param_closest(name);
    if (near != NULL)
        return near->name;
    for (; all->name != NULL; all++)
        if (strcasecmp(all->name, name) == 0)
            return all->name;
    return NULL;
}

int kt_parse(kt_options *opts, int argc, char **argv, const struct option *extra,
             bool (*on_option)(int opt, const char *arg, void *ctx), void *ctx, void (*help)(void),
             char ***positional, int *npositional)
{
    struct option all[N_GLOBAL + 16];
    size_t n = 0, i, n_config = dstack_config_param_count();
    int opt, rc = KT_EXIT_OK;
    dstack_error err;

    if (n_config > N_CONFIG_MAX)
        n_config = N_CONFIG_MAX;
    for (i = 0; i < n_config; i++) {
        const char *name = dstack_config_param_at(i)->name;
        bool taken = false;
        /* A command's own option of the same name wins (export --cert FILE): the URI's
         * cert= parameter says the same for that one URI. */
        for (size_t k = 0; extra != NULL && extra[k].name != NULL; k++)
            taken = taken || strcmp(extra[k].name, name) == 0;
        if (!taken)
            all[n++] = (struct option){name, required_argument, NULL, OPT_CONFIG + (int)i};
    }
    all[n++] = (struct option){"json", no_argument, NULL, OPT_JSON};
    all[n++] = (struct option){"help", no_argument, NULL, OPT_HELP};
    for (i = 0; extra != NULL && extra[i].name != NULL && n < N_GLOBAL + 15; i++)
        all[n++] = extra[i];
    memset(&all[n], 0, sizeof(all[n]));

    *positional = NULL;
    *npositional = 0;
    optind = 0; /* 0: full getopt re-initialisation (glibc), needed between passes */
    opterr = 0;
    /* GNU permutation: options may follow positional arguments (`show URI --json`);
     * "--" ends option parsing. */
    while ((opt = getopt_long(argc, argv, ":", all, NULL)) != -1) {
        if (opt == '?' || opt == ':') {
            const char *arg = argv[optind - 1], *near = closest_option(arg, all);
            if (opt == ':')
                rc = kt_usage_error("%s: option %s needs a value (see --help)", argv[0], arg);
            else if (near != NULL)
                rc = kt_usage_error("%s: unknown option %s (did you mean --%s?)", argv[0], arg,
                                    near);
            else
                rc = kt_usage_error("%s: unknown option %s (see --help)", argv[0], arg);
            goto done;
        }
        if (opt == OPT_HELP) {
            if (help != NULL)
                help();
            else
                print_global_help(stdout);
            rc = -1;
            goto done;
        }
        if (opt >= OPT_CONFIG && opt < OPT_CONFIG + (int)n_config) {
            const char *name = dstack_config_param_at((size_t)(opt - OPT_CONFIG))->name;
            dstack_error_clear(&err);
            /* The message starts with the parameter's name: "--timeout-ms = …". */
            if (dstack_config_set(opts->cfg, name, optarg, &err) != DSTACK_OK) {
                rc = kt_usage_error("--%s", err.message);
                goto done;
            }
        } else if (opt == OPT_JSON) {
            opts->json = true;
        } else if (on_option == NULL || !on_option(opt, optarg, ctx)) {
            rc = KT_EXIT_USAGE;
            goto done;
        }
    }
    if (optind < argc) {
        *positional = calloc((size_t)(argc - optind), sizeof(char *));
        if (*positional == NULL) {
            rc = kt_usage_error("out of memory");
            goto done;
        }
        for (; optind < argc; optind++)
            (*positional)[(*npositional)++] = argv[optind];
    }
done:
    return rc;
}

static void free_positional(char **positional)
{
    free(positional);
}

static int keytool_main(kt_options *o, int argc, char **argv)
{
    kt_options opts = *o;
    char **pos = NULL;
    int npos = 0, rc, cmd_index = 0, i;
    size_t c;

    if (argc < 2) {
        print_global_help(stderr);
        return KT_EXIT_USAGE;
    }
    /* Global options before the command: find the command word first. */
    for (i = 1; i < argc; i++) {
        if (argv[i][0] != '-')
            break;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            print_global_help(stdout);
            return KT_EXIT_OK;
        }
        /* Options with a separate value: skip the value too. */
        if (strchr(argv[i], '=') == NULL && strcmp(argv[i], "--json") != 0)
            i++;
    }
    if (i >= argc)
        return kt_usage_error("no command given (see --help)");
    cmd_index = i;
    for (c = 0; c < N_COMMANDS; c++) {
        if (strcmp(argv[cmd_index], commands[c]->name) == 0)
            break;
    }
    if (c == N_COMMANDS)
        return kt_usage_error("unknown command '%s' (see --help)", argv[cmd_index]);
    /* Parse the options before the command now, then hand the rest to the subcommand. */
    if (cmd_index > 1) {
        char *name = argv[cmd_index];

        argv[cmd_index] = NULL;
        rc = kt_parse(&opts, cmd_index, argv, NULL, NULL, NULL, NULL, &pos, &npos);
        argv[cmd_index] = name;
        if (rc == -1) {
            free_positional(pos);
            return KT_EXIT_OK;
        }
        if (rc == KT_EXIT_OK && npos > 0)
            rc = kt_usage_error("unexpected argument '%s' before the command", pos[0]);
        free_positional(pos);
        if (rc != KT_EXIT_OK)
            return rc;
    }
    rc = commands[c]->run(&opts, argc - cmd_index, argv + cmd_index);
    return rc == -1 ? KT_EXIT_OK : rc;
}

int main(int argc, char **argv)
{
    kt_options opts;
    int rc;

    memset(&opts, 0, sizeof(opts));
    opts.cfg = dstack_config_new();
    /* One-shot process: nothing to reuse, so no cache unless --cache yes. */
    if (opts.cfg == NULL || dstack_config_set(opts.cfg, "cache", "no", NULL) != DSTACK_OK)
        return kt_usage_error("out of memory");
    rc = keytool_main(&opts, argc, argv);
    dstack_config_free(opts.cfg);
    return rc;
}
