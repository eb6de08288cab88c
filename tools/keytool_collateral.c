/* dstack-keytool collateral — fetch the Intel collateral for a quote (or an RA-TLS certificate's
 * quote) from a PCCS and write it as QuoteCollateralV3 JSON (protocol.md §5.7, §5.8); and the
 * input helpers verify shares with it. */
#include "keytool_verify.h"
#include "keytool_files.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include <dstack/keys.h>

uint8_t *kt_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t n = 0, cap = 0;

    if (f == NULL)
        return NULL;
    for (;;) {
        if (n == cap) {
            uint8_t *grown =
                cap < KT_INPUT_MAX ? realloc(buf, (cap = cap ? 2 * cap : 8192) + 1) : NULL;
            if (grown == NULL) {
                free(buf);
                fclose(f);
                errno = cap >= KT_INPUT_MAX ? EFBIG : ENOMEM;
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

void kt_quote_from_text(uint8_t *buf, size_t *len)
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

X509 *kt_cert_from_bytes(const uint8_t *buf, size_t len, X509 **next)
{
    const unsigned char *p = buf;
    X509 *cert = d2i_X509(NULL, &p, (long)len);
    BIO *bio;

    if (next != NULL)
        *next = NULL;
    if (cert != NULL)
        return cert;
    bio = BIO_new_mem_buf(buf, (int)len);
    cert = bio != NULL ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
    if (cert != NULL && next != NULL)
        *next = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    ERR_clear_error();
    BIO_free(bio);
    return cert;
}

int kt_collateral_for(const kt_collateral_source *src, const uint8_t *quote, size_t len,
                      dstack_collateral **out)
{
    dstack_pccs_opts po = {DSTACK_OPTIONS_INIT(dstack_pccs_opts)};
    dstack_error err;
    uint8_t *text;
    size_t n = 0;

    *out = NULL;
    dstack_error_clear(&err);
    if (src->file != NULL) {
        if ((text = kt_read_file(src->file, &n)) == NULL) {
            fprintf(stderr, "dstack-keytool: cannot read %s: %s\n", src->file, strerror(errno));
            return KT_EXIT_IO;
        }
        if (dstack_collateral_from_json((const char *)text, n, out, &err) != DSTACK_OK) {
            free(text);
            fprintf(stderr, "dstack-keytool: %s: %s\n", src->file, err.message);
            return KT_EXIT_USAGE;
        }
        free(text);
        return KT_EXIT_OK;
    }
    if (src->pccs_url == NULL)
        return KT_EXIT_OK;
    po.url = src->pccs_url;
    po.cache_dir = src->cache_dir;
    po.timeout_ms = src->timeout_ms;
    po.now = src->now;
    if (dstack_pccs_fetch(quote, len, &po, out, &err) != DSTACK_OK)
        return kt_fail(&err);
    return KT_EXIT_OK;
}

/* ---- the command ------------------------------------------------------------------------------
 */

enum { OPT_C_CERT = 0x2100, OPT_C_PCCS_URL, OPT_C_PCCS_CACHE, OPT_C_OUTPUT };

typedef struct collateral_args {
    const char *cert, *output;
    kt_collateral_source src;
} collateral_args;

static const struct option collateral_options[] = {
    {"cert", required_argument, NULL, OPT_C_CERT},
    {"pccs-url", required_argument, NULL, OPT_C_PCCS_URL},
    {"pccs-cache", required_argument, NULL, OPT_C_PCCS_CACHE},
    {"output", required_argument, NULL, OPT_C_OUTPUT},
    {NULL, 0, NULL, 0},
};

static void collateral_help(void)
{
    puts("Usage: dstack-keytool [global options] collateral (QUOTE | --cert FILE)\n"
         "           [--pccs-url URL] [--pccs-cache DIR] [-o FILE]\n"
         "\n"
         "Fetches the Intel collateral for a TDX quote (raw or hex file) or for the quote of an\n"
         "RA-TLS certificate (PEM or DER) from a PCCS or Intel PCS (v4 API: PCK CRL, TDX TCB\n"
         "info, TDX QE identity, root CA CRL) and writes it as QuoteCollateralV3 JSON, the\n"
         "input of `verify --collateral` and of dcap-qvl.\n"
         "\n"
         "  --cert FILE         take the quote from this RA-TLS certificate\n"
         "  --pccs-url URL      PCCS or PCS base URL (default: $DSTACK_PCCS_URL)\n"
         "  --pccs-cache DIR    keep fetched collateral in DIR until its nextUpdate\n"
         "  -o, --output FILE   write here (atomically, 0644) instead of stdout\n"
         "\n"
         "Exit status: 0 written, 1 PCCS unreachable or answering an error, 2 usage,\n"
         "4 file I/O.");
}

static bool collateral_option(int opt, const char *arg, void *ctx)
{
    collateral_args *a = ctx;

    switch (opt) {
    case OPT_C_CERT:
        a->cert = arg;
        return true;
    case OPT_C_PCCS_URL:
        a->src.pccs_url = arg;
        return true;
    case OPT_C_PCCS_CACHE:
        a->src.cache_dir = arg;
        return true;
    case OPT_C_OUTPUT:
        a->output = arg;
        return true;
    default:
        return false;
    }
}

/* The quote of the input: a quote file, or the one an RA-TLS certificate carries. */
static int input_quote(const collateral_args *a, const char *path, uint8_t **quote, size_t *len)
{
    dstack_ratls_info info;
    dstack_error err;
    uint8_t *buf;
    X509 *cert;
    int rc = KT_EXIT_OK;

    if ((buf = kt_read_file(path, len)) == NULL) {
        fprintf(stderr, "dstack-keytool: cannot read %s: %s\n", path, strerror(errno));
        return KT_EXIT_IO;
    }
    if (a->cert == NULL) {
        kt_quote_from_text(buf, len);
        *quote = buf;
        return KT_EXIT_OK;
    }
    cert = kt_cert_from_bytes(buf, *len, NULL);
    free(buf);
    dstack_error_clear(&err);
    if (cert == NULL)
        return kt_usage_error("collateral: %s is not a PEM or DER certificate", path);
    if (dstack_ratls_inspect(cert, &info, &err) != DSTACK_OK) {
        rc = kt_fail(&err);
    } else if (!info.has_attestation || info.attestation.quote == NULL) {
        rc = kt_usage_error("collateral: %s carries no dstack attestation", path);
    } else if ((*quote = malloc(info.attestation.quote_len)) != NULL) {
        memcpy(*quote, info.attestation.quote, info.attestation.quote_len);
        *len = info.attestation.quote_len;
    } else {
        rc = kt_usage_error("out of memory");
    }
    dstack_ratls_info_free(&info);
    X509_free(cert);
    return rc;
}

static int collateral_run(kt_options *opts, int argc, char **argv)
{
    collateral_args a;
    char **args = calloc((size_t)argc + 1, sizeof(char *)), **pos = NULL, *json = NULL;
    int npos = 0, rc;
    uint8_t *quote = NULL;
    size_t len = 0;
    dstack_collateral *c = NULL;
    dstack_error err;
    kt_staged_file out;
    const char *failed;

    memset(&a, 0, sizeof(a));
    if (args == NULL)
        return kt_usage_error("out of memory");
    /* -o is the short form of --output (the global parser takes long options only) */
    for (int i = 0; i < argc; i++)
        args[i] = strcmp(argv[i], "-o") == 0 ? "--output" : argv[i];
    rc = kt_parse(opts, argc, args, collateral_options, collateral_option, &a, collateral_help,
                  &pos, &npos);
    if (rc != KT_EXIT_OK)
        goto done;
    if (a.src.pccs_url == NULL)
        a.src.pccs_url = getenv("DSTACK_PCCS_URL");
    a.src.timeout_ms = kt_timeout_ms(opts);
    if (npos + (a.cert != NULL) != 1) {
        rc = kt_usage_error("collateral: give exactly one of QUOTE or --cert FILE");
        goto done;
    }
    if (a.src.pccs_url == NULL || *a.src.pccs_url == '\0') {
        rc = kt_usage_error("collateral: no PCCS (--pccs-url URL or DSTACK_PCCS_URL)");
        goto done;
    }
    if ((rc = input_quote(&a, a.cert != NULL ? a.cert : pos[0], &quote, &len)) != KT_EXIT_OK ||
        (rc = kt_collateral_for(&a.src, quote, len, &c)) != KT_EXIT_OK)
        goto done;
    dstack_error_clear(&err);
    if (dstack_collateral_to_json(c, &json, &err) != DSTACK_OK) {
        rc = kt_fail(&err);
        goto done;
    }
    if (a.output == NULL) {
        fputs(json, stdout);
    } else if (!kt_stage_file(&out, a.output, (const unsigned char *)json, strlen(json), 0644,
                              KT_OWNER_KEEP) ||
               !kt_commit_files(&out, 1, &failed)) {
        fprintf(stderr, "dstack-keytool: cannot write %s: %s\n", a.output, strerror(errno));
        rc = KT_EXIT_IO;
    }
done:
    dstack_free(json);
    dstack_collateral_free(c);
    free(quote);
    free(pos);
    free(args);
    return rc;
}

const kt_command kt_cmd_collateral = {
    "collateral", "fetch a quote's Intel collateral from a PCCS (QuoteCollateralV3 JSON)",
    collateral_run};
