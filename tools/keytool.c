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

#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <dstack/keys.h>

enum {
    OPT_ENDPOINT = 0x1000,
    OPT_TAPPD_ENDPOINT,
    OPT_TIMEOUT_MS,
    OPT_KMS_ROOT,
    OPT_APP_ID,
    OPT_JSON,
    OPT_HELP
};

static const struct option global_options[] = {
    {"endpoint", required_argument, NULL, OPT_ENDPOINT},
    {"tappd-endpoint", required_argument, NULL, OPT_TAPPD_ENDPOINT},
    {"timeout-ms", required_argument, NULL, OPT_TIMEOUT_MS},
    {"kms-root-pubkey", required_argument, NULL, OPT_KMS_ROOT},
    {"app-id", required_argument, NULL, OPT_APP_ID},
    {"json", no_argument, NULL, OPT_JSON},
    {"help", no_argument, NULL, OPT_HELP},
};
#define N_GLOBAL (sizeof(global_options) / sizeof(global_options[0]))

static const kt_command *const commands[] = {
    &kt_cmd_show, &kt_cmd_export, &kt_cmd_info, &kt_cmd_quote, &kt_cmd_verify, &kt_cmd_version,
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
        fprintf(out, "  %-8s %s\n", commands[i]->name, commands[i]->summary);
    fprintf(
        out,
        "\n"
        "Global options (before or after the command):\n"
        "  --endpoint PATH|URL       agent endpoint (default: $DSTACK_SIMULATOR_ENDPOINT, then\n"
        "                            /var/run/dstack.sock and the other standard sockets)\n"
        "  --tappd-endpoint PATH|URL legacy Tappd endpoint (agent-issued certificates)\n"
        "  --timeout-ms N            per-request timeout, connect included (default 5000)\n"
        "  --kms-root-pubkey HEX     compressed secp256k1 KMS root key: refuse keys whose\n"
        "                            signature chain does not lead to it\n"
        "  --app-id HEX              the agent's Info.app_id must equal this\n"
        "  --json                    machine-readable output on stdout\n"
        "  --help                    this text; `dstack-keytool <command> --help` per command\n"
        "\n"
        "Exit status: 0 success, 1 agent error (unreachable, timeout, error answer, bad\n"
        "response), 2 usage error (bad option or URI), 3 verification failed, 4 file I/O.\n");
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
    dstack_resolve_config cfg;

    memset(&cfg, 0, sizeof(cfg));
    cfg.endpoint = opts->endpoint;
    cfg.tappd_endpoint = opts->tappd_endpoint;
    cfg.timeout_ms = opts->timeout_ms;
    cfg.default_cert = DSTACK_CERT_AUTO;
    cfg.default_ratls = DSTACK_RATLS_AUTO;
    cfg.cache = false; /* one-shot process: nothing to reuse */
    cfg.has_kms_root = opts->has_kms_root;
    memcpy(cfg.kms_root, opts->kms_root, sizeof(cfg.kms_root));
    cfg.has_app_id = opts->has_app_id;
    memcpy(cfg.app_id, opts->app_id, sizeof(cfg.app_id));
    cfg.app_id_len = opts->app_id_len;
    return dstack_resolver_new(&cfg, out, err);
}

dstack_status kt_client_new(const kt_options *opts, dstack_service service, dstack_client **out,
                            dstack_error *err)
{
    dstack_client_options co;

    memset(&co, 0, sizeof(co));
    co.service = service;
    co.endpoint = service == DSTACK_SERVICE_TAPPD ? opts->tappd_endpoint : opts->endpoint;
    co.timeout_ms = opts->timeout_ms;
    return dstack_client_new(&co, out, err);
}

static bool parse_global(kt_options *opts, int opt, const char *arg)
{
    char *end = NULL;
    size_t n = 0;
    long v;

    switch (opt) {
    case OPT_ENDPOINT:
    case OPT_TAPPD_ENDPOINT:
        if (arg[0] == '\0') {
            kt_usage_error("--%s must not be empty",
                           opt == OPT_ENDPOINT ? "endpoint" : "tappd-endpoint");
            return false;
        }
        if (opt == OPT_ENDPOINT)
            opts->endpoint = arg;
        else
            opts->tappd_endpoint = arg;
        return true;
    case OPT_TIMEOUT_MS:
        errno = 0;
        v = strtol(arg, &end, 10);
        if (errno != 0 || end == arg || *end != '\0' || v <= 0 || v > 3600000L) {
            kt_usage_error("--timeout-ms: expected 1..3600000 milliseconds, got '%s'", arg);
            return false;
        }
        opts->timeout_ms = v;
        return true;
    case OPT_KMS_ROOT:
        if (!dstack_hex_decode(arg, strlen(arg), opts->kms_root, sizeof(opts->kms_root), &n) ||
            n != sizeof(opts->kms_root) || (opts->kms_root[0] != 2 && opts->kms_root[0] != 3)) {
            kt_usage_error("--kms-root-pubkey: expected a 33-byte compressed secp256k1 key in "
                           "hex, got '%s'",
                           arg);
            return false;
        }
        opts->has_kms_root = true;
        return true;
    case OPT_APP_ID:
        if (!dstack_hex_decode(arg, strlen(arg), opts->app_id, sizeof(opts->app_id), &n) ||
            n == 0) {
            kt_usage_error("--app-id: expected hex (up to 32 bytes), got '%s'", arg);
            return false;
        }
        opts->app_id_len = n;
        opts->has_app_id = true;
        return true;
    case OPT_JSON:
        opts->json = true;
        return true;
    default:
        return false;
    }
}

int kt_parse(kt_options *opts, int argc, char **argv, const struct option *extra,
             bool (*on_option)(int opt, const char *arg, void *ctx), void *ctx, void (*help)(void),
             char ***positional, int *npositional)
{
    struct option all[N_GLOBAL + 16];
    size_t n = 0, i;
    int opt, rc = KT_EXIT_OK;

    for (i = 0; i < N_GLOBAL; i++)
        all[n++] = global_options[i];
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
            rc = kt_usage_error("%s: unknown option or missing value: %s (see --help)", argv[0],
                                argv[optind - 1]);
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
        if (opt >= OPT_ENDPOINT && opt <= OPT_JSON) {
            if (!parse_global(opts, opt, optarg)) {
                rc = KT_EXIT_USAGE;
                goto done;
            }
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

int main(int argc, char **argv)
{
    kt_options opts;
    char **pos = NULL;
    int npos = 0, rc, cmd_index = 0, i;
    size_t c;

    memset(&opts, 0, sizeof(opts));
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
