/* dstack-keytool info | quote | version — agent information (architecture.md §8).
 *
 * `info` also checks the agent's measurements: it asks for a fresh quote over random
 * report_data, requires the quote to carry that report_data, and replays RTMR0–3 from the
 * quote's event log (protocol.md §5.3). A mismatch is a verification failure (exit 3). It
 * names the TEE (protocol.md §4.4.1): on platforms without a TDX quote (0.6 agents on SEV-SNP
 * or Nitro answer GetQuote with an attestation only) the report_data binding is checked and
 * the replay does not apply.
 */
#include "keytool.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <dstack/attest.h>
#include <dstack/keys.h>
#include <dstack/rpc.h>

#ifndef DSTACK_KEYTOOL_VERSION
#define DSTACK_KEYTOOL_VERSION "0.1.0"
#endif

static json_object *json_hex(const dstack_bytes *b)
{
    char *hex = kt_hex(b->data, b->len);
    json_object *o = hex != NULL ? json_object_new_string(hex) : NULL;

    free(hex);
    return o;
}

static void print_hex_line(const char *label, const dstack_bytes *b)
{
    char *hex = kt_hex(b->data, b->len);

    printf("%-16s %s\n", label, hex != NULL ? hex : "");
    free(hex);
}

/* ---- info ------------------------------------------------------------------------ */

static void info_help(void)
{
    puts("Usage: dstack-keytool [global options] info [--json]\n"
         "\n"
         "Prints the agent's app information (app id, instance id, name, compose hash, key\n"
         "provider, measurements) and checks it: a fresh GetQuote over random report_data must\n"
         "carry that report_data, and replaying the quote's event log must reproduce RTMR0-3.\n"
         "Exit status 3 when a check fails. With --app-id, Info.app_id must match.");
}

/* The TEE the agent runs on: Attest names it (gcp-tdx apart from tdx); agents without Attest
 * (before 0.5.6) are TDX. "unknown" when Attest fails otherwise. */
static const char *agent_platform(dstack_client *c, const dstack_quote_response *q)
{
    dstack_bytes att = {0};
    dstack_error err;
    int platform = -1;

    if (q->quote.len == 0 && q->attestation.len > 0)
        platform = dstack_attestation_platform(q->attestation.data, q->attestation.len);
    else if (dstack_attest(c, NULL, 0, &att, &err) == DSTACK_OK)
        platform = dstack_attestation_platform(att.data, att.len);
    else if (strstr(err.agent_error, "Service not found") != NULL)
        platform = DSTACK_PLATFORM_TDX;
    dstack_bytes_free(&att);
    return dstack_platform_name(platform); /* "unknown" for -1 */
}

/* A platform without a TDX quote: the attestation must carry the nonce; there is nothing to
 * replay (protocol.md §4.4.1). */
static dstack_status check_attestation_only(dstack_client *c, const dstack_quote_response *q,
                                            const uint8_t nonce[64], char **note, dstack_error *err)
{
    dstack_attestation a;
    dstack_status st = dstack_attestation_decode(q->attestation.data, q->attestation.len, &a, err);

    if (st == DSTACK_OK && CRYPTO_memcmp(a.report_data, nonce, 64) != 0)
        st = dstack_error_set(err, DSTACK_ERR_CRYPTO, "GetQuote", dstack_client_endpoint(c),
                              "the attestation does not carry the requested report_data");
    if (st == DSTACK_OK &&
        asprintf(note, "not a TDX attestation: %s (report_data bound; no RTMRs to replay)",
                 dstack_platform_name(a.platform)) < 0)
        *note = NULL;
    dstack_attestation_free(&a);
    return st;
}

/* Fresh quote + replay. Fills `summary` (caller frees; on platforms without TDX a one-line
 * note) and `platform`, and returns the check result. */
static dstack_status check_measurements(dstack_client *c, char **summary, const char **platform,
                                        bool *replayable, dstack_error *err)
{
    dstack_quote_response q;
    dstack_tdx_quote quote;
    uint8_t nonce[64];
    dstack_status st;

    memset(&q, 0, sizeof(q));
    *summary = NULL;
    *platform = "unknown";
    *replayable = true;
    if (RAND_bytes(nonce, sizeof(nonce)) != 1)
        return dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, NULL, "no randomness");
    st = dstack_get_quote(c, nonce, sizeof(nonce), &q, err);
    if (st != DSTACK_OK)
        goto done;
    *platform = agent_platform(c, &q);
    if (q.quote.len == 0 && q.attestation.len > 0) {
        *replayable = false;
        st = check_attestation_only(c, &q, nonce, summary, err);
        goto done;
    }
    st = dstack_tdx_quote_parse(q.quote.data, q.quote.len, &quote, err);
    if (st != DSTACK_OK)
        goto done;
    *summary = dstack_measurement_summary(&quote, &q.event_log);
    if (CRYPTO_memcmp(quote.report_data, nonce, sizeof(nonce)) != 0) {
        st = dstack_error_set(err, DSTACK_ERR_CRYPTO, "GetQuote", dstack_client_endpoint(c),
                              "the quote does not carry the requested report_data (a replayed "
                              "or foreign quote)");
        goto done;
    }
    st = dstack_event_log_check_quote(&q.event_log, &quote, 0xF, err);
done:
    dstack_quote_response_free(&q);
    return st;
}

static int info_run(kt_options *opts, int argc, char **argv)
{
    uint8_t app_id[32];
    size_t app_id_len = 0;
    dstack_client *c = NULL;
    dstack_app_info info;
    dstack_error err, check_err;
    dstack_status check;
    char **pos = NULL, *summary = NULL;
    const char *platform = "unknown";
    bool replayable = true;
    int npos = 0, rc;

    memset(&info, 0, sizeof(info));
    dstack_error_clear(&err);
    dstack_error_clear(&check_err);
    rc = kt_parse(opts, argc, argv, NULL, NULL, NULL, info_help, &pos, &npos);
    if (rc != KT_EXIT_OK)
        goto done;
    if (npos != 0) {
        rc = kt_usage_error("info: unexpected argument '%s'", pos[0]);
        goto done;
    }
    if (kt_client_new(opts, DSTACK_SERVICE_GUEST, &c, &err) != DSTACK_OK ||
        dstack_info(c, &info, &err) != DSTACK_OK) {
        rc = kt_fail(&err);
        goto done;
    }
    if (kt_app_id(opts, app_id, &app_id_len) &&
        (info.app_id.len != app_id_len || memcmp(info.app_id.data, app_id, app_id_len) != 0)) {
        dstack_error_set(&err, DSTACK_ERR_CRYPTO, "Info", dstack_client_endpoint(c),
                         "the agent's app_id does not match --app-id");
        rc = kt_fail(&err);
        goto done;
    }
    check = check_measurements(c, &summary, &platform, &replayable, &check_err);
    /* Transport failures of the quote are agent errors; a failed check is reported below. */
    if (check != DSTACK_OK && check != DSTACK_ERR_CRYPTO) {
        rc = kt_fail(&check_err);
        goto done;
    }
    if (opts->json) {
        json_object *o = json_object_new_object();

        json_object_object_add(o, "endpoint", json_object_new_string(dstack_client_endpoint(c)));
        json_object_object_add(o, "platform", json_object_new_string(platform));
        json_object_object_add(o, "app_id", json_hex(&info.app_id));
        json_object_object_add(o, "instance_id", json_hex(&info.instance_id));
        json_object_object_add(o, "app_name", json_object_new_string(info.app_name));
        json_object_object_add(o, "device_id", json_hex(&info.device_id));
        json_object_object_add(o, "compose_hash", json_hex(&info.compose_hash));
        json_object_object_add(o, "mr_aggregated", json_hex(&info.mr_aggregated));
        json_object_object_add(o, "os_image_hash", json_object_new_string(info.os_image_hash));
        json_object_object_add(o, "key_provider", json_object_new_string(info.key_provider_name));
        json_object_object_add(o, "key_provider_id", json_object_new_string(info.key_provider_id));
        json_object_object_add(o, "cloud_vendor", json_object_new_string(info.cloud_vendor));
        json_object_object_add(o, "cloud_product", json_object_new_string(info.cloud_product));
        json_object_object_add(o, "measurements",
                               summary != NULL ? json_object_new_string(summary) : NULL);
        json_object_object_add(o, "rtmr_replay_ok",
                               replayable ? json_object_new_boolean(check == DSTACK_OK) : NULL);
        json_object_object_add(o, "rtmr_replay_error",
                               check == DSTACK_OK ? NULL
                                                  : json_object_new_string(check_err.message));
        kt_print_json(o);
    } else {
        printf("%-16s %s\n", "agent:", dstack_client_endpoint(c));
        printf("%-16s %s\n", "platform:", platform);
        print_hex_line("app id:", &info.app_id);
        print_hex_line("instance id:", &info.instance_id);
        printf("%-16s %s\n", "app name:", info.app_name);
        print_hex_line("device id:", &info.device_id);
        print_hex_line("compose hash:", &info.compose_hash);
        print_hex_line("mr aggregated:", &info.mr_aggregated);
        printf("%-16s %s\n", "os image hash:", info.os_image_hash);
        printf("%-16s %s %s\n", "key provider:", info.key_provider_name, info.key_provider_id);
        if (info.cloud_vendor[0] != '\0' || info.cloud_product[0] != '\0')
            printf("%-16s %s %s\n", "cloud:", info.cloud_vendor, info.cloud_product);
        if (summary != NULL && replayable)
            printf("\n%s", summary);
        printf("\nRTMR replay:     %s\n",
               check != DSTACK_OK ? check_err.message
               : replayable       ? "ok (RTMR0-3 match the quote)"
                                  : (summary != NULL ? summary : "not a TDX attestation"));
    }
    rc = check == DSTACK_OK ? KT_EXIT_OK : KT_EXIT_CRYPTO;
done:
    dstack_app_info_free(&info);
    free(summary);
    dstack_client_free(c);
    free(pos);
    return rc;
}

const kt_command kt_cmd_info = {"info", "app information, measurements and RTMR replay check",
                                info_run};

/* ---- quote ----------------------------------------------------------------------- */

enum { OPT_REPORT_DATA = 1 };

static const struct option quote_options[] = {
    {"report-data", required_argument, NULL, OPT_REPORT_DATA},
    {NULL, 0, NULL, 0},
};

typedef struct quote_args {
    uint8_t report_data[64];
    size_t report_data_len;
} quote_args;

static void quote_help(void)
{
    puts("Usage: dstack-keytool [global options] quote [--report-data HEX] [--json]\n"
         "\n"
         "Asks the agent for a TDX quote (GetQuote). HEX is at most 64 bytes; the agent pads\n"
         "it with zeros to 64 (default: 64 zero bytes). Prints the quote, the report_data used\n"
         "and a measurement summary; --json adds the event log and vm_config.");
}

static bool quote_option(int opt, const char *arg, void *ctx)
{
    quote_args *q = ctx;

    if (!dstack_hex_decode(arg, strlen(arg), q->report_data, sizeof(q->report_data),
                           &q->report_data_len)) {
        kt_usage_error("--report-data: expected at most 64 bytes of hex, got '%s'", arg);
        return false;
    }
    return true;
}

static int quote_run(kt_options *opts, int argc, char **argv)
{
    quote_args qa;
    dstack_client *c = NULL;
    dstack_quote_response q;
    dstack_tdx_quote parsed;
    dstack_error err;
    char **pos = NULL, *summary = NULL, *quote_hex = NULL, *rd_hex = NULL;
    int npos = 0, rc;

    memset(&qa, 0, sizeof(qa));
    memset(&q, 0, sizeof(q));
    dstack_error_clear(&err);
    rc = kt_parse(opts, argc, argv, quote_options, quote_option, &qa, quote_help, &pos, &npos);
    if (rc != KT_EXIT_OK)
        goto done;
    if (npos != 0) {
        rc = kt_usage_error("quote: unexpected argument '%s'", pos[0]);
        goto done;
    }
    if (kt_client_new(opts, DSTACK_SERVICE_GUEST, &c, &err) != DSTACK_OK ||
        dstack_get_quote(c, qa.report_data, qa.report_data_len, &q, &err) != DSTACK_OK) {
        rc = kt_fail(&err);
        goto done;
    }
    if (q.quote.len == 0 && q.attestation.len > 0) {
        /* 0.6 agents without TDX: the attestation field only (protocol.md §2.6.2) */
        int platform = dstack_attestation_platform(q.attestation.data, q.attestation.len);

        dstack_error_set(&err, DSTACK_ERR_PROTOCOL, NULL, NULL, "not a TDX attestation: %s",
                         dstack_platform_name(platform));
    } else if (dstack_tdx_quote_parse(q.quote.data, q.quote.len, &parsed, &err) == DSTACK_OK) {
        summary = dstack_measurement_summary(&parsed, &q.event_log);
    }
    quote_hex = kt_hex(q.quote.data, q.quote.len);
    rd_hex = kt_hex(q.report_data.data, q.report_data.len);
    if (quote_hex == NULL || rd_hex == NULL) {
        rc = kt_usage_error("out of memory");
        goto done;
    }
    if (opts->json) {
        json_object *o = json_object_new_object();
        json_object *log = json_tokener_parse(q.event_log_json != NULL ? q.event_log_json : "");

        json_object_object_add(o, "quote", json_object_new_string(quote_hex));
        json_object_object_add(o, "report_data", json_object_new_string(rd_hex));
        json_object_object_add(o, "event_log", log);
        json_object_object_add(o, "vm_config",
                               json_object_new_string(q.vm_config != NULL ? q.vm_config : ""));
        if (q.attestation.len > 0) {
            char *att_hex = kt_hex(q.attestation.data, q.attestation.len);
            json_object_object_add(o, "attestation",
                                   att_hex != NULL ? json_object_new_string(att_hex) : NULL);
            free(att_hex);
        }
        json_object_object_add(o, "measurements",
                               summary != NULL ? json_object_new_string(summary) : NULL);
        kt_print_json(o);
    } else {
        printf("report data: %s\n", rd_hex);
        if (summary != NULL)
            printf("%s", summary);
        else if (q.quote.len == 0 && q.attestation.len > 0)
            printf("(%s)\n", err.message);
        else
            printf("(not a TDX v4 quote: %s)\n", err.message);
        printf("quote (%zu bytes):\n%s\n", q.quote.len, quote_hex);
    }
    rc = KT_EXIT_OK;
done:
    dstack_quote_response_free(&q);
    free(summary);
    free(quote_hex);
    free(rd_hex);
    dstack_client_free(c);
    free(pos);
    return rc;
}

const kt_command kt_cmd_quote = {"quote", "a TDX quote over --report-data", quote_run};

/* ---- version --------------------------------------------------------------------- */

static void version_help(void)
{
    puts("Usage: dstack-keytool [global options] version [--json]\n"
         "\n"
         "Prints this tool's version and the agent's (Version RPC, agents 0.5.7 and later).");
}

static int version_run(kt_options *opts, int argc, char **argv)
{
    dstack_client *c = NULL;
    dstack_version_info v;
    dstack_error err;
    char **pos = NULL;
    int npos = 0, rc;

    memset(&v, 0, sizeof(v));
    dstack_error_clear(&err);
    rc = kt_parse(opts, argc, argv, NULL, NULL, NULL, version_help, &pos, &npos);
    if (rc != KT_EXIT_OK)
        goto done;
    if (npos != 0) {
        rc = kt_usage_error("version: unexpected argument '%s'", pos[0]);
        goto done;
    }
    if (!opts->json)
        printf("dstack-keytool %s\n", DSTACK_KEYTOOL_VERSION);
    if (kt_client_new(opts, DSTACK_SERVICE_GUEST, &c, &err) != DSTACK_OK ||
        dstack_version(c, &v, &err) != DSTACK_OK) {
        rc = kt_fail(&err);
        goto done;
    }
    if (opts->json) {
        json_object *o = json_object_new_object();

        json_object_object_add(o, "keytool", json_object_new_string(DSTACK_KEYTOOL_VERSION));
        json_object_object_add(o, "agent_version", json_object_new_string(v.version));
        json_object_object_add(o, "agent_rev", json_object_new_string(v.rev));
        json_object_object_add(o, "endpoint", json_object_new_string(dstack_client_endpoint(c)));
        kt_print_json(o);
    } else {
        printf("agent %s (%s) at %s\n", v.version, v.rev, dstack_client_endpoint(c));
    }
    rc = KT_EXIT_OK;
done:
    dstack_version_info_free(&v);
    dstack_client_free(c);
    free(pos);
    return rc;
}

const kt_command kt_cmd_version = {"version", "tool and agent versions", version_run};
