/* dstack-keytool verify — DCAP verification of a TDX quote, an RA-TLS certificate, or the
 * certificate a live server presents (protocol.md §4.7, §5.1, §5.6): offline, or with Intel
 * collateral from a file or a PCCS and a TCB status policy. */
#include "keytool_verify.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include <dstack/keys.h>

enum {
    OPT_QUOTE = 0x2000,
    OPT_CERT,
    OPT_ISSUER,
    OPT_TRUSTED_ROOT,
    OPT_AT,
    OPT_NO_TIME_CHECK,
    OPT_COLLATERAL,
    OPT_PCCS_URL,
    OPT_PCCS_CACHE,
    OPT_CONNECT,
    OPT_SERVERNAME,
    OPT_ALLOW_STATUS,
    OPT_COMPOSE_HASH
};

typedef struct verify_args {
    const char *quote_path, *cert_path, *issuer_path, *root_path, *connect, *servername;
    kt_collateral_source coll;
    long long at;
    bool no_time_check;
    unsigned allowed;
    bool has_compose_hash;
    uint8_t compose_hash[32];
} verify_args;

static const struct option verify_options[] = {
    {"quote", required_argument, NULL, OPT_QUOTE},
    {"cert", required_argument, NULL, OPT_CERT},
    {"issuer", required_argument, NULL, OPT_ISSUER},
    {"connect", required_argument, NULL, OPT_CONNECT},
    {"servername", required_argument, NULL, OPT_SERVERNAME},
    {"trusted-root", required_argument, NULL, OPT_TRUSTED_ROOT},
    {"at", required_argument, NULL, OPT_AT},
    {"no-time-check", no_argument, NULL, OPT_NO_TIME_CHECK},
    {"collateral", required_argument, NULL, OPT_COLLATERAL},
    {"pccs-url", required_argument, NULL, OPT_PCCS_URL},
    {"pccs-cache", required_argument, NULL, OPT_PCCS_CACHE},
    {"allow-tcb-status", required_argument, NULL, OPT_ALLOW_STATUS},
    {"compose-hash", required_argument, NULL, OPT_COMPOSE_HASH},
    {NULL, 0, NULL, 0},
};

static void verify_help(void)
{
    puts("Usage: dstack-keytool [global options] verify\n"
         "           (--quote FILE | --cert FILE [--issuer FILE] | URI [--issuer FILE]\n"
         "            | --connect HOST:PORT [--servername N])\n"
         "           [--collateral FILE | --pccs-url URL [--pccs-cache DIR]]\n"
         "           [--allow-tcb-status LIST] [--trusted-root PEM]\n"
         "           [--at UNIXTIME | --no-time-check] [--app-id HEX] [--compose-hash HEX]\n"
         "           [--json]\n"
         "\n"
         "Verifies a TDX quote (raw or hex), the attestation of an RA-TLS certificate (PEM or\n"
         "DER file, the certificate a dstack: URI resolves to, or the one a server presents\n"
         "in a TLS handshake): quote signature, QE report, PCK chain, TD attributes, and for\n"
         "certificates their signature and validity, the report_data binding, RTMR3 replay\n"
         "and the app policy. With Intel collateral (dcap-qvl's checks): TCB info, QE\n"
         "identity, CRLs and the TCB status, which must be one of --allow-tcb-status.\n"
         "Without collateral the TCB status, revocation and QE identity are NOT checked.\n"
         "\n"
         "  --quote FILE              a TDX v4/v5 quote, binary or hex text\n"
         "  --cert FILE               an RA-TLS certificate, PEM or DER; a PEM file may go on\n"
         "                            with its issuer's certificate\n"
         "  --issuer FILE             the certificate's issuer (PEM or DER); without it and\n"
         "                            without a second certificate it must be self-signed\n"
         "  --connect HOST:PORT       handshake with a server and verify its certificate\n"
         "  --servername NAME         SNI for --connect (default: HOST)\n"
         "  --collateral FILE         Intel collateral, QuoteCollateralV3 JSON\n"
         "  --pccs-url URL            fetch collateral from a PCCS or Intel PCS (default:\n"
         "                            $DSTACK_PCCS_URL when set)\n"
         "  --pccs-cache DIR          keep fetched collateral in DIR until its nextUpdate\n"
         "  --allow-tcb-status LIST   statuses accepted, comma-separated (default UpToDate)\n"
         "  --trusted-root PEM        trust this root instead of Intel's\n"
         "  --at UNIXTIME             verify at this time (default: now)\n"
         "  --no-time-check           ignore validity periods (offline only)\n"
         "  --app-id HEX              the attested app-id boot event must equal this\n"
         "  --compose-hash HEX        the attested compose-hash boot event must equal this\n"
         "\n"
         "Exit status: 0 verified, 3 verification failed, 2 usage, 4 file I/O,\n"
         "1 agent, server or PCCS unreachable or answering an error.\n"
         "\n"
         "Example: dstack-keytool verify --connect 127.0.0.1:8443 --pccs-url http://pccs:8081");
}

static bool verify_option(int opt, const char *arg, void *ctx)
{
    verify_args *a = ctx;
    dstack_error err;
    char *end = NULL;
    size_t n = 0;

    switch (opt) {
    case OPT_QUOTE:
        a->quote_path = arg;
        return true;
    case OPT_CERT:
        a->cert_path = arg;
        return true;
    case OPT_ISSUER:
        a->issuer_path = arg;
        return true;
    case OPT_CONNECT:
        a->connect = arg;
        return true;
    case OPT_SERVERNAME:
        a->servername = arg;
        return true;
    case OPT_TRUSTED_ROOT:
        a->root_path = arg;
        return true;
    case OPT_COLLATERAL:
        a->coll.file = arg;
        return true;
    case OPT_PCCS_URL:
        a->coll.pccs_url = arg;
        return true;
    case OPT_PCCS_CACHE:
        a->coll.cache_dir = arg;
        return true;
    case OPT_ALLOW_STATUS:
        dstack_error_clear(&err);
        if (dstack_tcb_status_mask(arg, &a->allowed, &err) != DSTACK_OK) {
            kt_usage_error("--allow-tcb-status: %s", err.message);
            return false;
        }
        return true;
    case OPT_COMPOSE_HASH:
        if (!dstack_hex_decode(arg, strlen(arg), a->compose_hash, 32, &n) || n != 32) {
            kt_usage_error("--compose-hash: expected 32 bytes of hex, got '%s'", arg);
            return false;
        }
        a->has_compose_hash = true;
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

int kt_verify_outcome(dstack_status rc)
{
    if (rc == DSTACK_OK)
        return KT_EXIT_OK;
    return rc == DSTACK_ERR_USAGE ? KT_EXIT_USAGE : KT_EXIT_CRYPTO;
}

/* The leaf certificate a dstack: URI resolves to (DSTACK_WANT_CERTS) and, for an agent-issued
 * one, its issuer from the chain. */
static int cert_from_uri(const kt_options *opts, const char *uri, X509 **cert, X509 **issuer)
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
    *cert = kt_cert_from_bytes(res->cert_der[0], res->cert_der_len[0], NULL);
    if (res->cert_count > 1)
        *issuer = kt_cert_from_bytes(res->cert_der[1], res->cert_der_len[1], NULL);
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

static int check_args(const kt_options *opts, verify_args *a, int npos, bool *has_app_id,
                      uint8_t app_id[32])
{
    size_t app_id_len = 0;
    int sources = (a->quote_path != NULL) + (a->cert_path != NULL) + (a->connect != NULL) + npos;

    if (sources != 1)
        return kt_usage_error("verify: give exactly one of --quote FILE, --cert FILE, --connect "
                              "HOST:PORT or a dstack: URI (see verify --help)");
    if (a->at != 0 && a->no_time_check)
        return kt_usage_error("verify: --at and --no-time-check exclude each other");
    if (a->issuer_path != NULL && a->cert_path == NULL && npos == 0)
        return kt_usage_error(
            "verify: --issuer needs a certificate (--cert FILE or a dstack: URI)");
    if (a->servername != NULL && a->connect == NULL)
        return kt_usage_error("verify: --servername needs --connect");
    if (a->coll.file != NULL && a->coll.pccs_url != NULL)
        return kt_usage_error("verify: --collateral and --pccs-url exclude each other");
    if (a->coll.file == NULL && a->coll.pccs_url == NULL) {
        const char *env = getenv("DSTACK_PCCS_URL");

        a->coll.pccs_url = env != NULL && *env != '\0' ? env : NULL;
    }
    if (a->coll.cache_dir != NULL && a->coll.pccs_url == NULL)
        return kt_usage_error("verify: --pccs-cache needs --pccs-url (or DSTACK_PCCS_URL)");
    if (a->no_time_check && (a->coll.file != NULL || a->coll.pccs_url != NULL))
        return kt_usage_error("verify: --no-time-check cannot be used with collateral, whose "
                              "checks are all about time");
    *has_app_id = kt_app_id(opts, app_id, &app_id_len);
    if (*has_app_id && app_id_len != 20)
        return kt_usage_error("verify: --app-id must be 20 bytes (40 hex digits)");
    if ((*has_app_id || a->has_compose_hash) && a->quote_path != NULL)
        return kt_usage_error("verify: --app-id and --compose-hash need a certificate (a bare "
                              "quote has no runtime events)");
    return KT_EXIT_OK;
}

static int verify_quote_file(const kt_options *opts, const verify_args *a,
                             dstack_quote_verify_opts *q)
{
    dstack_quote_verify_result r;
    dstack_collateral *c = NULL;
    dstack_error err;
    dstack_status st;
    uint8_t *buf;
    size_t len = 0;
    int rc;

    if ((buf = kt_read_file(a->quote_path, &len)) == NULL) {
        fprintf(stderr, "dstack-keytool: cannot read %s: %s\n", a->quote_path, strerror(errno));
        return KT_EXIT_IO;
    }
    kt_quote_from_text(buf, &len);
    if ((rc = kt_collateral_for(&a->coll, buf, len, &c)) != KT_EXIT_OK)
        goto done;
    q->collateral = c;
    dstack_error_clear(&err);
    st = dstack_tdx_quote_verify(buf, len, q, &r, &err);
    if (st == DSTACK_ERR_USAGE) {
        rc = kt_fail(&err);
        goto done;
    }
    kt_report_quote(opts, a->quote_path, &r, st == DSTACK_OK ? NULL : &err);
    rc = kt_verify_outcome(st);
done:
    dstack_collateral_free(c);
    free(buf);
    return rc;
}

static int verify_cert(const kt_options *opts, const verify_args *a, const char *uri,
                       dstack_ratls_policy *policy, dstack_quote_verify_opts *q)
{
    dstack_ratls_verification v;
    dstack_ratls_info info;
    dstack_collateral *c = NULL;
    const char *source = a->cert_path != NULL ? a->cert_path : uri;
    dstack_error err;
    dstack_status st;
    X509 *cert = NULL, *issuer = NULL;
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = KT_EXIT_OK;

    if (a->cert_path != NULL) {
        if ((buf = kt_read_file(a->cert_path, &len)) == NULL) {
            fprintf(stderr, "dstack-keytool: cannot read %s: %s\n", source, strerror(errno));
            return KT_EXIT_IO;
        }
        cert = kt_cert_from_bytes(buf, len, &issuer);
    } else if ((rc = cert_from_uri(opts, uri, &cert, &issuer)) != KT_EXIT_OK) {
        goto done;
    }
    if (cert == NULL) {
        fprintf(stderr, "dstack-keytool: %s is not a PEM or DER certificate\n", source);
        rc = KT_EXIT_CRYPTO;
        goto done;
    }
    if (a->issuer_path != NULL) {
        uint8_t *ibuf = kt_read_file(a->issuer_path, &len);

        if (ibuf == NULL) {
            fprintf(stderr, "dstack-keytool: cannot read %s: %s\n", a->issuer_path,
                    strerror(errno));
            rc = KT_EXIT_IO;
            goto done;
        }
        X509_free(issuer);
        issuer = kt_cert_from_bytes(ibuf, len, NULL);
        free(ibuf);
        if (issuer == NULL) {
            fprintf(stderr, "dstack-keytool: %s is not a PEM or DER certificate\n", a->issuer_path);
            rc = KT_EXIT_CRYPTO;
            goto done;
        }
    }
    policy->issuer = issuer;
    /* collateral for the quote the certificate carries (no quote: verification says so) */
    if ((a->coll.file != NULL || a->coll.pccs_url != NULL) &&
        dstack_ratls_inspect(cert, &info, NULL) == DSTACK_OK) {
        if (info.has_attestation && info.attestation.quote != NULL)
            rc =
                kt_collateral_for(&a->coll, info.attestation.quote, info.attestation.quote_len, &c);
        dstack_ratls_info_free(&info);
        if (rc != KT_EXIT_OK)
            goto done;
    }
    q->collateral = c;
    dstack_error_clear(&err);
    st = dstack_ratls_verify(cert, policy, &v, &err);
    if (st == DSTACK_ERR_USAGE) {
        rc = kt_fail(&err);
        goto done;
    }
    kt_report_cert(opts, source, &v, st == DSTACK_OK ? NULL : &err);
    rc = kt_verify_outcome(st);
done:
    policy->issuer = NULL;
    dstack_collateral_free(c);
    X509_free(cert);
    X509_free(issuer);
    free(buf);
    return rc;
}

static int verify_run(kt_options *opts, int argc, char **argv)
{
    uint8_t app_id[32] = {0};
    bool has_app_id = false;
    verify_args a;
    dstack_quote_verify_opts q = {DSTACK_OPTIONS_INIT(dstack_quote_verify_opts)};
    dstack_ratls_policy policy = {DSTACK_OPTIONS_INIT(dstack_ratls_policy)};
    dstack_ratls_verifier_opts vo = {DSTACK_OPTIONS_INIT(dstack_ratls_verifier_opts)};
    char **pos = NULL;
    int npos = 0, rc;
    uint8_t *root = NULL;
    size_t root_len = 0;

    memset(&a, 0, sizeof(a));
    rc = kt_parse(opts, argc, argv, verify_options, verify_option, &a, verify_help, &pos, &npos);
    if (rc != KT_EXIT_OK)
        goto done;
    if ((rc = check_args(opts, &a, npos, &has_app_id, app_id)) != KT_EXIT_OK)
        goto done;
    if (a.root_path != NULL) {
        if ((root = kt_read_file(a.root_path, &root_len)) == NULL) {
            fprintf(stderr, "dstack-keytool: cannot read %s: %s\n", a.root_path, strerror(errno));
            rc = KT_EXIT_IO;
            goto done;
        }
        q.trusted_root_pem = (const char *)root;
    }
    a.coll.timeout_ms = kt_timeout_ms(opts);
    a.coll.now = a.at;
    q.verification_time = a.at;
    q.flags = a.no_time_check ? DSTACK_QV_NO_TIME_CHECK : 0;
    q.allowed_tcb_statuses = a.allowed;
    policy.quote = &q;
    policy.has_app_id = has_app_id;
    memcpy(policy.app_id, app_id, sizeof(policy.app_id));
    policy.has_compose_hash = a.has_compose_hash;
    memcpy(policy.compose_hash, a.compose_hash, 32);
    if (a.quote_path != NULL) {
        rc = verify_quote_file(opts, &a, &q);
    } else if (a.connect != NULL) {
        vo.policy = &policy;
        vo.collateral_file = a.coll.file;
        vo.pccs_url = a.coll.pccs_url;
        vo.cache_dir = a.coll.cache_dir;
        vo.pccs_timeout_ms = a.coll.timeout_ms;
        vo.offline_ok = a.coll.file == NULL && a.coll.pccs_url == NULL;
        vo.no_verdict_cache = true;
        rc = kt_verify_connect(opts, a.connect, a.servername, &vo);
    } else {
        rc = verify_cert(opts, &a, npos > 0 ? pos[0] : NULL, &policy, &q);
    }
done:
    free(root);
    free(pos);
    return rc;
}

const kt_command kt_cmd_verify = {
    "verify", "verify a TDX quote or RA-TLS certificate (DCAP, with Intel collateral)", verify_run};
