/* dstack-keytool verify — offline verification of a TDX quote or an RA-TLS certificate
 * (protocol.md §4.7, §5.1): what was verified, and what cannot be without Intel collateral. */
#include "keytool.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <dstack/attest.h>
#include <dstack/keys.h>

#define INPUT_MAX (16u * 1024u * 1024u)

enum { OPT_QUOTE = 0x2000, OPT_CERT, OPT_TRUSTED_ROOT, OPT_AT, OPT_NO_TIME_CHECK };

typedef struct verify_args {
    const char *quote_path;
    const char *cert_path;
    const char *root_path;
    long long at;
    bool no_time_check;
} verify_args;

static const struct option verify_options[] = {
    {"quote", required_argument, NULL, OPT_QUOTE},
    {"cert", required_argument, NULL, OPT_CERT},
    {"trusted-root", required_argument, NULL, OPT_TRUSTED_ROOT},
    {"at", required_argument, NULL, OPT_AT},
    {"no-time-check", no_argument, NULL, OPT_NO_TIME_CHECK},
    {NULL, 0, NULL, 0},
};

static void verify_help(void)
{
    puts("Usage: dstack-keytool [global options] verify (--quote FILE | --cert FILE | URI)\n"
         "                      [--trusted-root PEM] [--at UNIXTIME | --no-time-check]\n"
         "                      [--app-id HEX] [--json]\n"
         "\n"
         "Verifies offline a TDX quote (raw or hex) or the attestation of an RA-TLS\n"
         "certificate (PEM or DER file, or the certificate a dstack: URI resolves to):\n"
         "quote signature, QE report, PCK chain to the Intel SGX Root CA, debug/MRSIGNERSEAM\n"
         "policy, and for certificates the report_data binding and RTMR3 replay.\n"
         "TCB status, CRLs and QE identity need Intel PCS collateral and are NOT checked.\n"
         "\n"
         "  --quote FILE         a TDX v4 quote, binary or hex text\n"
         "  --cert FILE          an RA-TLS certificate, PEM or DER\n"
         "  --trusted-root PEM   trust these root certificates instead of Intel's\n"
         "  --at UNIXTIME        check certificate validity at this time (default: now)\n"
         "  --no-time-check      ignore certificate validity periods\n"
         "  --app-id HEX         the attested app-id boot event must equal this (20 bytes)\n"
         "\n"
         "Exit status: 0 verified, 3 verification failed, 2 usage, 4 file I/O, 1 agent.\n"
         "\n"
         "Example: dstack-keytool verify 'dstack:tls/web?cert=self' --json");
}

static bool verify_option(int opt, const char *arg, void *ctx)
{
    verify_args *a = ctx;
    char *end = NULL;

    switch (opt) {
    case OPT_QUOTE:
        a->quote_path = arg;
        return true;
    case OPT_CERT:
        a->cert_path = arg;
        return true;
    case OPT_TRUSTED_ROOT:
        a->root_path = arg;
        return true;
    case OPT_AT:
        errno = 0;
        a->at = strtoll(arg, &end, 10);
        if (errno != 0 || end == arg || *end != '\0' || a->at <= 0) {
            kt_usage_error("--at: expected a positive UNIX time in seconds, got '%s'", arg);
            return false;
        }
        return true;
    case OPT_NO_TIME_CHECK:
        a->no_time_check = true;
        return true;
    default:
        return false;
    }
}

/* Whole file, NUL-terminated; NULL with errno on failure. */
static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t n = 0, cap = 0;

    if (f == NULL)
        return NULL;
    for (;;) {
        if (n == cap) {
            uint8_t *grown =
                cap < INPUT_MAX ? realloc(buf, (cap = cap ? 2 * cap : 8192) + 1) : NULL;
            if (grown == NULL) {
                free(buf);
                fclose(f);
                errno = cap >= INPUT_MAX ? EFBIG : ENOMEM;
                return NULL;
            }
            buf = grown;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        free(buf);
        fclose(f);
        errno = EIO;
        return NULL;
    }
    fclose(f);
    buf[n] = 0;
    *len = n;
    return buf;
}

/* A quote file is raw bytes, or hex text (what `dstack-keytool quote` and GetQuote give). */
static void maybe_hex(uint8_t *buf, size_t *len)
{
    size_t n = *len, out = 0;

    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        n--;
    if (n < 2 * DSTACK_QUOTE_MIN_LEN || n % 2 != 0)
        return;
    for (size_t i = 0; i < n; i++) {
        if (strchr("0123456789abcdefABCDEF", buf[i]) == NULL || buf[i] == 0)
            return;
    }
    if (dstack_hex_decode((const char *)buf, n, buf, n / 2, &out))
        *len = out;
}

static X509 *cert_from_bytes(const uint8_t *buf, size_t len)
{
    const unsigned char *p = buf;
    X509 *cert = d2i_X509(NULL, &p, (long)len);
    BIO *bio;

    if (cert != NULL)
        return cert;
    bio = BIO_new_mem_buf(buf, (int)len);
    cert = bio != NULL ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    return cert;
}

static const char *ok(bool b)
{
    return b ? "ok" : "FAILED";
}

static void print_quote_text(const dstack_quote_verify_result *r)
{
    printf("quote structure:        %s\n", ok(r->structure_ok));
    if (!r->structure_ok)
        return;
    printf("quote signature:        %s (attestation key over header and TD report)\n",
           ok(r->quote_signature_ok));
    printf("QE report binds key:    %s\n", ok(r->qe_report_binds_key));
    printf("QE report signature:    %s (PCK certificate key)\n", ok(r->qe_report_signature_ok));
    if (r->pck_chain_ok)
        printf("PCK chain:              ok (%s)\n", r->pck_subject);
    else
        printf("PCK chain:              FAILED: %s\n", r->chain_error);
    printf("debug TD:               %s\n", r->debug_td ? "YES (policy failure)" : "no");
    printf("MRSIGNERSEAM all zero:  %s\n", r->mr_signer_seam_zero ? "yes" : "NO (policy failure)");
    printf("TDX quote (DCAP):       %s\n", r->verified ? "VERIFIED" : "NOT VERIFIED");
    printf("TCB status:             not checked (needs Intel PCS/PCCS collateral)\n");
    printf("revocation (CRLs):      not checked (needs Intel PCS/PCCS collateral)\n");
    printf("QE identity:            not checked (needs Intel PCS/PCCS collateral)\n");
}

static json_object *quote_json(const dstack_quote_verify_result *r)
{
    json_object *o = json_object_new_object();

    json_object_object_add(o, "structure_ok", json_object_new_boolean(r->structure_ok));
    json_object_object_add(o, "signature_ok", json_object_new_boolean(r->quote_signature_ok));
    json_object_object_add(o, "qe_report_binds_key",
                           json_object_new_boolean(r->qe_report_binds_key));
    json_object_object_add(o, "qe_report_signature_ok",
                           json_object_new_boolean(r->qe_report_signature_ok));
    json_object_object_add(o, "pck_chain_ok", json_object_new_boolean(r->pck_chain_ok));
    json_object_object_add(o, "pck_subject", json_object_new_string(r->pck_subject));
    json_object_object_add(o, "chain_error", json_object_new_string(r->chain_error));
    json_object_object_add(o, "debug_td", json_object_new_boolean(r->debug_td));
    json_object_object_add(o, "mr_signer_seam_zero",
                           json_object_new_boolean(r->mr_signer_seam_zero));
    json_object_object_add(o, "policy_ok", json_object_new_boolean(r->policy_ok));
    json_object_object_add(o, "verified", json_object_new_boolean(r->verified));
    json_object_object_add(o, "tcb_status_checked", json_object_new_boolean(r->tcb_status_checked));
    json_object_object_add(o, "revocation_checked", json_object_new_boolean(r->revocation_checked));
    json_object_object_add(o, "qe_identity_checked",
                           json_object_new_boolean(r->qe_identity_checked));
    return o;
}

static void add_hex(json_object *o, const char *key, bool present, const uint8_t *b, size_t n)
{
    char *hex = present ? kt_hex(b, n) : NULL;

    json_object_object_add(o, key, hex != NULL ? json_object_new_string(hex) : NULL);
    free(hex);
}

static void print_hex_line(const char *label, bool present, const uint8_t *b, size_t n)
{
    char *hex = present ? kt_hex(b, n) : NULL;

    printf("%-23s %s\n", label, hex != NULL ? hex : "(none)");
    free(hex);
}

static void report_cert(const kt_options *opts, const char *source,
                        const dstack_ratls_verification *v, dstack_status rc,
                        const dstack_error *err)
{
    if (opts->json) {
        json_object *o = json_object_new_object();

        json_object_object_add(o, "source", json_object_new_string(source));
        json_object_object_add(o, "verified", json_object_new_boolean(rc == DSTACK_OK));
        json_object_object_add(o, "has_attestation", json_object_new_boolean(v->has_attestation));
        json_object_object_add(o, "report_data_binds_key",
                               json_object_new_boolean(v->report_data_binds_key));
        json_object_object_add(o, "rtmr3_matches", json_object_new_boolean(v->rtmr3_matches));
        json_object_object_add(o, "quote", quote_json(&v->quote_result));
        add_hex(o, "app_id", v->has_app_id, v->app_id, sizeof(v->app_id));
        add_hex(o, "compose_hash", v->has_compose_hash, v->compose_hash, 32);
        add_hex(o, "mr_aggregated", v->quote_parsed, v->mr_aggregated, 32);
        json_object_object_add(o, "policy_checked", json_object_new_boolean(v->policy_checked));
        json_object_object_add(o, "policy_ok", json_object_new_boolean(v->policy_ok));
        json_object_object_add(o, "error",
                               rc == DSTACK_OK ? NULL : json_object_new_string(err->message));
        kt_print_json(o);
        return;
    }
    printf("source:                 %s\n", source);
    if (v->quote_parsed) {
        printf("report_data binds key:  %s\n", ok(v->report_data_binds_key));
        printf("RTMR3 replay:           %s\n", ok(v->rtmr3_matches));
        print_quote_text(&v->quote_result);
        print_hex_line("app id:", v->has_app_id, v->app_id, sizeof(v->app_id));
        print_hex_line("compose hash:", v->has_compose_hash, v->compose_hash, 32);
        print_hex_line("mr_aggregated:", true, v->mr_aggregated, 32);
        if (v->policy_checked)
            printf("policy:                 %s\n", ok(v->policy_ok));
    }
    printf("result:                 %s\n", rc == DSTACK_OK ? "VERIFIED" : "NOT VERIFIED");
    if (rc != DSTACK_OK)
        printf("reason:                 %s\n", err->message);
}

static void report_quote(const kt_options *opts, const char *source,
                         const dstack_quote_verify_result *r, dstack_status rc,
                         const dstack_error *err)
{
    if (opts->json) {
        json_object *o = json_object_new_object();

        json_object_object_add(o, "source", json_object_new_string(source));
        json_object_object_add(o, "verified", json_object_new_boolean(rc == DSTACK_OK));
        json_object_object_add(o, "quote", quote_json(r));
        json_object_object_add(o, "error",
                               rc == DSTACK_OK ? NULL : json_object_new_string(err->message));
        kt_print_json(o);
        return;
    }
    printf("source:                 %s\n", source);
    print_quote_text(r);
    printf("result:                 %s\n", rc == DSTACK_OK ? "VERIFIED" : "NOT VERIFIED");
    if (rc != DSTACK_OK)
        printf("reason:                 %s\n", err->message);
}

/* Verification outcomes: a usage problem (bad --trusted-root) is exit 2, anything else that
 * stopped verification — a malformed quote included — is a failed verification. */
static int outcome(dstack_status rc)
{
    if (rc == DSTACK_OK)
        return KT_EXIT_OK;
    return rc == DSTACK_ERR_USAGE ? KT_EXIT_USAGE : KT_EXIT_CRYPTO;
}

/* The leaf certificate a dstack: URI resolves to (DSTACK_WANT_CERTS). */
static int cert_from_uri(const kt_options *opts, const char *uri, X509 **cert)
{
    kt_options ropts = *opts;
    dstack_resolver *resolver = NULL;
    dstack_resolved *res = NULL;
    dstack_error err;
    int rc = KT_EXIT_OK;

    dstack_error_clear(&err);
    /* --app-id is checked against the attestation instead */
    ropts.cfg = dstack_config_dup(opts->cfg);
    if (ropts.cfg == NULL || dstack_config_reset(ropts.cfg, "app-id", &err) != DSTACK_OK ||
        kt_resolver_new(&ropts, &resolver, &err) != DSTACK_OK ||
        dstack_resolve(resolver, uri, DSTACK_WANT_CERTS, &res, &err) != DSTACK_OK) {
        rc = kt_fail(&err);
        goto done;
    }
    if (res->cert_count == 0) {
        rc = kt_usage_error("verify: %s names no certificate (use ?cert=self or ?cert=agent)", uri);
        goto done;
    }
    *cert = cert_from_bytes(res->cert_der[0], res->cert_der_len[0]);
    if (*cert == NULL) {
        dstack_error_set(&err, DSTACK_ERR_PROTOCOL, NULL, NULL,
                         "%s: the agent's certificate does not parse", uri);
        rc = kt_fail(&err);
    }
done:
    dstack_resolved_free(res);
    dstack_resolver_free(resolver);
    dstack_config_free(ropts.cfg);
    return rc;
}

static int verify_run(kt_options *opts, int argc, char **argv)
{
    uint8_t app_id[32] = {0};
    size_t app_id_len = 0;
    bool has_app_id;
    verify_args a;
    dstack_ratls_policy policy;
    dstack_quote_verify_opts qopts;
    dstack_ratls_verification v;
    dstack_quote_verify_result qr;
    dstack_error err;
    dstack_status st;
    char **pos = NULL;
    int npos = 0, rc, sources;
    uint8_t *buf = NULL, *root = NULL;
    size_t len = 0, root_len = 0;
    X509 *cert = NULL;
    const char *source;

    memset(&a, 0, sizeof(a));
    memset(&policy, 0, sizeof(policy));
    memset(&qopts, 0, sizeof(qopts));
    policy.struct_size = sizeof(policy);
    qopts.struct_size = sizeof(qopts);
    policy.quote = &qopts;
    dstack_error_clear(&err);
    rc = kt_parse(opts, argc, argv, verify_options, verify_option, &a, verify_help, &pos, &npos);
    if (rc != KT_EXIT_OK)
        goto done;
    sources = (a.quote_path != NULL) + (a.cert_path != NULL) + npos;
    if (sources != 1) {
        rc = kt_usage_error("verify: give exactly one of --quote FILE, --cert FILE or a dstack: "
                            "URI (see verify --help)");
        goto done;
    }
    if (a.at != 0 && a.no_time_check) {
        rc = kt_usage_error("verify: --at and --no-time-check exclude each other");
        goto done;
    }
    has_app_id = kt_app_id(opts, app_id, &app_id_len);
    if (has_app_id && app_id_len != sizeof(policy.app_id)) {
        rc = kt_usage_error("verify: --app-id must be 20 bytes (40 hex digits)");
        goto done;
    }
    if (a.root_path != NULL) {
        if ((root = read_file(a.root_path, &root_len)) == NULL) {
            fprintf(stderr, "dstack-keytool: cannot read %s: %s\n", a.root_path, strerror(errno));
            rc = KT_EXIT_IO;
            goto done;
        }
        qopts.trusted_root_pem = (const char *)root;
    }
    qopts.verification_time = a.at;
    qopts.flags = a.no_time_check ? DSTACK_QV_NO_TIME_CHECK : 0;
    policy.has_app_id = has_app_id;
    memcpy(policy.app_id, app_id, sizeof(policy.app_id));

    source = a.quote_path != NULL ? a.quote_path : a.cert_path != NULL ? a.cert_path : pos[0];
    if (a.quote_path != NULL || a.cert_path != NULL) {
        if ((buf = read_file(source, &len)) == NULL) {
            fprintf(stderr, "dstack-keytool: cannot read %s: %s\n", source, strerror(errno));
            rc = KT_EXIT_IO;
            goto done;
        }
    }
    if (a.quote_path != NULL) {
        if (has_app_id) {
            rc = kt_usage_error("verify: --app-id needs a certificate (a bare quote has no "
                                "runtime events)");
            goto done;
        }
        maybe_hex(buf, &len);
        st = dstack_tdx_quote_verify(buf, len, &qopts, &qr, &err);
        if (st == DSTACK_ERR_USAGE) {
            rc = kt_fail(&err);
            goto done;
        }
        report_quote(opts, source, &qr, st, &err);
        rc = outcome(st);
        goto done;
    }
    if (a.cert_path != NULL)
        cert = cert_from_bytes(buf, len);
    else if ((rc = cert_from_uri(opts, source, &cert)) != KT_EXIT_OK)
        goto done;
    if (cert == NULL) {
        fprintf(stderr, "dstack-keytool: %s is not a PEM or DER certificate\n", source);
        rc = KT_EXIT_CRYPTO;
        goto done;
    }
    st = dstack_ratls_verify(cert, &policy, &v, &err);
    if (st == DSTACK_ERR_USAGE) {
        rc = kt_fail(&err);
        goto done;
    }
    report_cert(opts, source, &v, st, &err);
    rc = outcome(st);
done:
    X509_free(cert);
    free(buf);
    free(root);
    free(pos);
    return rc;
}

const kt_command kt_cmd_verify = {
    "verify", "verify a TDX quote or RA-TLS certificate offline (DCAP)", verify_run};
