/* dstack-keytool — what the subcommands share (architecture.md §8). */
#ifndef DSTACK_KEYTOOL_H
#define DSTACK_KEYTOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <dstack/client.h>
#include <dstack/config.h>
#include <dstack/error.h>
#include <dstack/resolve.h>

/* Exit codes (documented in docs/dstack-keytool.md and in --help). */
enum {
    KT_EXIT_OK = 0,
    KT_EXIT_AGENT = 1,  /* agent (or server, PCCS) unreachable, timed out, answered an error */
    KT_EXIT_USAGE = 2,  /* bad command line, bad URI, bad option value */
    KT_EXIT_CRYPTO = 3, /* verification failed: signature chain, RTMR replay, key range */
    KT_EXIT_IO = 4      /* an output file could not be written */
};

/* Global options, valid before or after the subcommand: every parameter of libdstack's
 * configuration table as --<name> VALUE (include/dstack/config.h), plus --json. */
typedef struct kt_options {
    dstack_config *cfg;
    bool json;
} kt_options;

/* The configured app id / KMS root, decoded; false when not set. */
bool kt_app_id(const kt_options *opts, uint8_t app_id[32], size_t *len);
bool kt_kms_root(const kt_options *opts, uint8_t kms_root[33]);
/* --timeout-ms (the configuration's timeout-ms): also bounds each PCCS request and the
 * handshake of verify --connect. */
unsigned kt_timeout_ms(const kt_options *opts);

/* One subcommand: name, one-line summary, and its entry point. `argv[0]` is the subcommand
 * name; getopt state is reset before the call. */
typedef struct kt_command {
    const char *name;
    const char *summary;
    int (*run)(kt_options *opts, int argc, char **argv);
} kt_command;

/* Parses the global options plus `extra` subcommand options in one getopt_long pass.
 * For every recognised subcommand option, `on_option(opt, optarg, ctx)` is called; it returns
 * false on a bad value (after printing why). Positional arguments are collected into
 * `*positional` (pointers into argv). Returns KT_EXIT_OK, KT_EXIT_USAGE, or -1 when --help was
 * printed (caller exits 0). */
struct option;
int kt_parse(kt_options *opts, int argc, char **argv, const struct option *extra,
             bool (*on_option)(int opt, const char *arg, void *ctx), void *ctx, void (*help)(void),
             char ***positional, int *npositional);

/* Prints a libdstack error as "dstack-keytool: <category> error: <message>" and returns the
 * matching exit code. */
int kt_fail(const dstack_error *err);
int kt_status_exit(dstack_status status);
/* Prints "dstack-keytool: <message>" and returns KT_EXIT_USAGE. */
int kt_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A resolver built from the global options. */
dstack_status kt_resolver_new(const kt_options *opts, dstack_resolver **out, dstack_error *err);
/* A client for the guest (or Tappd) service built from the global options. */
dstack_status kt_client_new(const kt_options *opts, dstack_service service, dstack_client **out,
                            dstack_error *err);

/* Prints a json-c object (pretty) to stdout and releases it. */
typedef struct json_object json_object;
void kt_print_json(json_object *obj);

/* SHA-256 of a SubjectPublicKeyInfo as lowercase hex and as curl's pin text
 * ("sha256//<base64>"). */
void kt_spki_digest(const uint8_t *spki, size_t len, char hex[65], char pin[53]);

/* Lowercase hex of `len` bytes, malloc'd (NULL on allocation failure). */
char *kt_hex(const uint8_t *data, size_t len);

extern const kt_command kt_cmd_show;
extern const kt_command kt_cmd_export;
extern const kt_command kt_cmd_info;
extern const kt_command kt_cmd_quote;
extern const kt_command kt_cmd_verify;
extern const kt_command kt_cmd_collateral;
extern const kt_command kt_cmd_version;
extern const kt_command kt_cmd_doctor;

#endif
