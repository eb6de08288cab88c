/* dstack-keytool export URI — the files unmodified servers read (architecture.md §6, §8):
 *   --key-ref F   reference PEM (-----BEGIN DSTACK KEY URI-----), mode 0600
 *   --cert F      the certificate a server presents: leaf, then its issuers, mode 0644
 *   --chain F     what a client trusts: the issuers (the leaf itself if self-signed), 0644
 *   --combined F  haproxy `crt` file: leaf, issuers, then the reference PEM, mode 0600
 * The agent is asked first; files are written only when everything succeeded, each one
 * atomically (keytool_files.c).
 */
#include "keytool.h"
#include "keytool_files.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/bio.h>
#include <openssl/pem.h>

#include <dstack/keyref.h>
#include <dstack/uri.h>

enum { OPT_KEY_REF = 1, OPT_CERT, OPT_CHAIN, OPT_COMBINED, OPT_OWNER };

static const struct option export_options[] = {
    {"key-ref", required_argument, NULL, OPT_KEY_REF},
    {"cert", required_argument, NULL, OPT_CERT},
    {"chain", required_argument, NULL, OPT_CHAIN},
    {"combined", required_argument, NULL, OPT_COMBINED},
    {"owner", required_argument, NULL, OPT_OWNER},
    {NULL, 0, NULL, 0},
};

typedef struct export_args {
    const char *key_ref;
    const char *cert;
    const char *chain;
    const char *combined;
    const char *owner_spec;
    kt_file_owner owner;
} export_args;

static void export_help(void)
{
    puts("Usage: dstack-keytool [global options] export URI [--key-ref FILE] [--cert FILE]\n"
         "                      [--chain FILE] [--combined FILE] [--owner USER[:GROUP]]\n"
         "                      [--json]\n"
         "\n"
         "Asks the agent for the key and certificate a dstack: URI names and writes the files\n"
         "servers that only read files need (at least one output is required):\n"
         "  --key-ref FILE   reference PEM (BEGIN DSTACK KEY URI): holds the URI, no secret;\n"
         "                   with the dstack provider active it loads as the derived key\n"
         "                   (nginx ssl_certificate_key, openssl pkey -in). Mode 0600.\n"
         "  --cert FILE      the certificate chain a server presents: leaf first, then its\n"
         "                   issuers (nginx ssl_certificate). Mode 0644.\n"
         "  --chain FILE     the issuers only (for clients: curl --cacert); for a self-signed\n"
         "                   certificate the certificate itself. Mode 0644.\n"
         "  --combined FILE  leaf, issuers, then the reference PEM: one haproxy `crt` file.\n"
         "                   Mode 0600.\n"
         "  --owner USER[:GROUP]  owner of every file written (default: the caller), for\n"
         "                   servers that refuse a key file they do not own (PostgreSQL,\n"
         "                   Redis run as their own user). Modes stay as above.\n"
         "Each file is replaced atomically; on any error no file is changed.\n"
         "\n"
         "Example: dstack-keytool export 'dstack:tls/web?san=example.com' \\\n"
         "             --key-ref /etc/nginx/dstack/web.key --cert /etc/nginx/dstack/web.crt");
}

static bool export_option(int opt, const char *arg, void *ctx)
{
    export_args *a = ctx;
    char msg[256];
    const char **slot = opt == OPT_KEY_REF ? &a->key_ref
                        : opt == OPT_CERT  ? &a->cert
                        : opt == OPT_CHAIN ? &a->chain
                                           : &a->combined;

    if (opt == OPT_OWNER) {
        /* Checked here, before any agent traffic: a typo is a usage error. */
        if (!kt_parse_owner(arg, &a->owner, msg, sizeof(msg))) {
            kt_usage_error("export: %s", msg);
            return false;
        }
        a->owner_spec = arg;
        return true;
    }
    if (arg[0] == '\0') {
        kt_usage_error("export: empty file name");
        return false;
    }
    *slot = arg;
    return true;
}

/* Appends the reference PEM for `uri` to `out` (libdstack's one codec, dstack/keyref.h). */
static bool write_ref_pem(BIO *out, const char *uri)
{
    char *pem = NULL;
    bool ok = dstack_keyref_encode_pem(uri, &pem, NULL) == DSTACK_OK &&
              BIO_write(out, pem, (int)strlen(pem)) == (int)strlen(pem);

    free(pem);
    return ok;
}

/* Appends certificates [first, last) of `res` as PEM. */
static bool write_certs(BIO *out, const dstack_resolved *res, size_t first, size_t last)
{
    size_t i;

    for (i = first; i < last; i++) {
        if (PEM_write_bio(out, PEM_STRING_X509, "", res->cert_der[i], (long)res->cert_der_len[i]) <=
            0)
            return false;
    }
    return true;
}

/* Builds one output file's content (`kind` = an OPT_* value) into a memory BIO. */
static BIO *build_output(int kind, const char *uri, const dstack_resolved *res)
{
    BIO *bio = BIO_new(BIO_s_mem());
    bool ok = bio != NULL;

    if (ok && (kind == OPT_CERT || kind == OPT_COMBINED))
        ok = write_certs(bio, res, 0, res->cert_count);
    if (ok && kind == OPT_CHAIN)
        ok = res->cert_count > 1 ? write_certs(bio, res, 1, res->cert_count)
                                 : write_certs(bio, res, 0, 1);
    if (ok && (kind == OPT_KEY_REF || kind == OPT_COMBINED))
        ok = write_ref_pem(bio, uri);
    if (!ok) {
        BIO_free(bio);
        return NULL;
    }
    return bio;
}

static int export_run(kt_options *opts, int argc, char **argv)
{
    export_args a = {.owner = KT_OWNER_KEEP};
    const struct {
        int kind;
        const char **path;
        mode_t mode;
        const char *what;
    } outputs[] = {
        {OPT_KEY_REF, &a.key_ref, 0600, "key_ref"},
        {OPT_CERT, &a.cert, 0644, "cert"},
        {OPT_CHAIN, &a.chain, 0644, "chain"},
        {OPT_COMBINED, &a.combined, 0600, "combined"},
    };
    kt_staged_file staged[4];
    size_t nstaged = 0, i, j;
    dstack_resolver *resolver = NULL;
    dstack_resolved *res = NULL;
    dstack_error err;
    dstack_uri parsed;
    bool parsed_ok = false, want_certs;
    char **pos = NULL;
    int npos = 0, rc;
    char spki_hex[65], pin[53];
    const char *failed = NULL;

    dstack_error_clear(&err);
    memset(&parsed, 0, sizeof(parsed));
    rc = kt_parse(opts, argc, argv, export_options, export_option, &a, export_help, &pos, &npos);
    if (rc != KT_EXIT_OK)
        goto done;
    if (npos != 1) {
        rc = kt_usage_error("export: expected exactly one dstack: URI (see export --help)");
        goto done;
    }
    if (a.key_ref == NULL && a.cert == NULL && a.chain == NULL && a.combined == NULL) {
        rc = kt_usage_error("export: nothing to write; give --key-ref, --cert, --chain or "
                            "--combined");
        goto done;
    }
    for (i = 0; i < 4; i++)
        for (j = i + 1; j < 4; j++)
            if (*outputs[i].path != NULL && *outputs[j].path != NULL &&
                kt_same_file(*outputs[i].path, *outputs[j].path)) {
                rc = kt_usage_error("export: --%s and --%s name the same file %s",
                                    export_options[i].name, export_options[j].name,
                                    *outputs[i].path);
                goto done;
            }
    /* A bad URI is a usage error before any agent traffic. */
    if (dstack_uri_parse(pos[0], &parsed, &err) != DSTACK_OK) {
        rc = kt_fail(&err);
        goto done;
    }
    parsed_ok = true;
    want_certs = a.cert != NULL || a.chain != NULL || a.combined != NULL;
    /* The key is requested even for --key-ref alone, so an agent or chain problem shows up
     * here (ExecStartPre) rather than when the server starts. */
    if (kt_resolver_new(opts, &resolver, &err) != DSTACK_OK ||
        dstack_resolve(resolver, pos[0], DSTACK_WANT_KEY | (want_certs ? DSTACK_WANT_CERTS : 0),
                       &res, &err) != DSTACK_OK) {
        rc = kt_fail(&err);
        goto done;
    }
    if (want_certs && res->cert_count == 0) {
        rc = kt_usage_error("export: %s resolves no certificate (cert=none); only --key-ref "
                            "can be written",
                            pos[0]);
        goto done;
    }
    for (i = 0; i < 4; i++) {
        BIO *bio;
        char *data = NULL;
        long len;

        if (*outputs[i].path == NULL)
            continue;
        bio = build_output(outputs[i].kind, pos[0], res);
        if (bio == NULL) {
            rc = kt_usage_error("export: cannot encode %s", *outputs[i].path);
            goto done;
        }
        len = BIO_get_mem_data(bio, &data);
        if (!kt_stage_file(&staged[nstaged], *outputs[i].path, (unsigned char *)data, (size_t)len,
                           outputs[i].mode, a.owner)) {
            fprintf(stderr, "dstack-keytool: cannot write %s%s%s: %s\n", *outputs[i].path,
                    a.owner_spec != NULL ? " owned by " : "",
                    a.owner_spec != NULL ? a.owner_spec : "",
                    errno == EEXIST ? "exists and is not a regular file" : strerror(errno));
            BIO_free(bio);
            rc = KT_EXIT_IO;
            goto done;
        }
        nstaged++;
        BIO_free(bio);
    }
    if (!kt_commit_files(staged, nstaged, &failed)) {
        fprintf(stderr, "dstack-keytool: cannot replace %s: %s\n", failed, strerror(errno));
        nstaged = 0;
        rc = KT_EXIT_IO;
        goto done;
    }
    nstaged = 0;

    kt_spki_digest(res->spki_der, res->spki_der_len, spki_hex, pin);
    if (opts->json) {
        json_object *o = json_object_new_object();

        json_object_object_add(o, "uri", json_object_new_string(pos[0]));
        for (i = 0; i < 4; i++)
            json_object_object_add(
                o, outputs[i].what,
                *outputs[i].path != NULL ? json_object_new_string(*outputs[i].path) : NULL);
        json_object_object_add(o, "cert_source", json_object_new_string(res->cert_source));
        json_object_object_add(o, "certificates", json_object_new_int64((int64_t)res->cert_count));
        json_object_object_add(o, "spki_sha256", json_object_new_string(spki_hex));
        json_object_object_add(o, "pin", json_object_new_string(pin));
        json_object_object_add(o, "chain_verified", json_object_new_boolean(res->chain_verified));
        kt_print_json(o);
    } else {
        for (i = 0; i < 4; i++)
            if (*outputs[i].path != NULL)
                printf("wrote %-9s %s\n", outputs[i].what, *outputs[i].path);
        if (want_certs)
            printf("certificate: %s-issued, %zu in chain\n", res->cert_source, res->cert_count);
        printf("spki sha256: %s\npin:         %s\n", spki_hex, pin);
    }
    rc = KT_EXIT_OK;
done:
    kt_discard_files(staged, nstaged);
    if (parsed_ok)
        dstack_uri_free(&parsed);
    dstack_resolved_free(res);
    dstack_resolver_free(resolver);
    free(pos);
    return rc;
}

const kt_command kt_cmd_export = {
    "export", "write reference PEM, certificate, chain and haproxy files", export_run};
