/* dstack provider — the reference-PEM decoder (architecture.md §6, a contract).
 *
 *   -----BEGIN DSTACK KEY URI-----
 *   base64( DER SEQUENCE { desc VisibleString "dstack key URI v1", uri UTF8String } )
 *   -----END DSTACK KEY URI-----
 *
 * Two DER-producing decoders:
 *   1. input=pem: reads one PEM block; for our label parses the reference, resolves the URI
 *      through dstack_prov_resolve() (the store's fetch path) and hands on the private key
 *      as PrivateKeyInfo DER, which the default provider's der2key decoder turns into the
 *      key. Resolving here rather than one stage later keeps the dstack reason of a failure
 *      in front of the caller: OpenSSL's file store discards the errors of a nested decode
 *      (crypto/store/store_result.c) and, since 3.5, restricts its own walk to structures
 *      like EncryptedPrivateKeyInfo, so a later-stage decoder's error never reaches
 *      `openssl pkey -in ref.pem` — only "unsupported".
 *   2. input=der, structure=dstack-key-uri: the same for a DER reference (`-inform DER`).
 * Both are named "DER" (their output type), so OSSL_DECODER_CTX_new_for_pkey() pulls them in
 * as "extra" decoders in front of der2key, for PEM_read_bio_PrivateKey() and for the file
 * store behind `openssl pkey -in ref.pem`. Input that is not ours is passed over ("carry on",
 * return 1) so other decoders get their turn — in combined files the reference follows the
 * certificates, and PEM_read_bio_PrivateKey() skips those blocks until it reaches ours. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/core_object.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/params.h>
#include <openssl/pem.h>

#include <dstack/keyref.h>

#include "debug.h"
#include "errors.h"
#include "provider.h"

#define DSTACK_REF_STRUCTURE "dstack-key-uri"

typedef struct dstack_decoder_ctx {
    dstack_prov_ctx *prov;
} dstack_decoder_ctx;

static OSSL_FUNC_decoder_newctx_fn dstack_decoder_newctx;
static OSSL_FUNC_decoder_freectx_fn dstack_decoder_freectx;
static OSSL_FUNC_decoder_decode_fn dstack_pem_decode;
static OSSL_FUNC_decoder_decode_fn dstack_der_decode;

static void *dstack_decoder_newctx(void *provctx)
{
    dstack_decoder_ctx *dctx = OPENSSL_zalloc(sizeof(*dctx));

    if (dctx != NULL)
        dctx->prov = provctx;
    return dctx;
}

static void dstack_decoder_freectx(void *vctx)
{
    OPENSSL_free(vctx);
}

/* Reads the whole (small) input; 0 when it is empty, unreadable or too large to be ours. */
static int read_all(BIO *in, unsigned char *buf, size_t cap, size_t *len)
{
    int n;

    *len = 0;
    while (*len < cap && (n = BIO_read(in, buf + *len, (int)(cap - *len))) > 0)
        *len += (size_t)n;
    if (*len == 0 || *len == cap)
        return 0;
    return 1;
}

/* Parses a reference with libdstack's codec (dstack/keyref.h). Returns the URI (free()) or
 * NULL. `ours` tells whether the input claims to be a dstack reference (our PEM label, or our
 * description family); only then is a failure an error — anything else belongs to another
 * decoder. */
static char *parse_reference(dstack_decoder_ctx *dctx, const unsigned char *der, size_t len,
                             int *ours)
{
    bool claimed = *ours != 0;
    char *uri = NULL;
    dstack_error err;

    dstack_error_clear(&err);
    if (dstack_keyref_decode(der, len, &uri, &claimed, &err) != DSTACK_OK && claimed)
        DSTACK_PROV_ERR(dctx->prov, DSTACK_R_BAD_REFERENCE, "%s", err.message);
    *ours = claimed;
    return uri;
}

/* PEM blocks that may precede a reference in a combined file and are never a key. */
static int skippable_block(const char *label)
{
    return strcmp(label, PEM_STRING_X509) == 0 || strcmp(label, PEM_STRING_X509_OLD) == 0 ||
           strcmp(label, PEM_STRING_X509_TRUSTED) == 0 || strcmp(label, PEM_STRING_X509_CRL) == 0;
}

/* A reference file that does not resolve is reported on stderr too, unless
 * DSTACK_PROVIDER_DEBUG says where logs go (level:0 silences it). The error queue is not
 * enough for the servers that read reference files: haproxy prints none of it; Python's
 * load_cert_chain shows only the last error (SSL's "PEM lib", raised after ours); Apache's
 * mod_ssl retries the file as base64 DER and as DER, and those retries push 15 errors after
 * ours, which OpenSSL's 16-slot per-thread queue then no longer holds when Apache logs it.
 * One line at the moment of failure is the one place every caller shows first. */
static void report_failure(const char *uri)
{
    const char *data = NULL;
    int flags = 0;
    unsigned long e;

    if (dstack_prov_debug_configured())
        return;
    e = ERR_peek_last_error_data(&data, &flags);
    if (e == 0 || (flags & ERR_TXT_STRING) == 0)
        data = "";
    fprintf(stderr, "dstack provider: cannot load the key of the reference to %s: %s: %s\n", uri,
            e != 0 && ERR_reason_error_string(e) != NULL ? ERR_reason_error_string(e) : "error",
            data);
}

static int dstack_pem_decode(void *vctx, OSSL_CORE_BIO *cin, int selection,
                             OSSL_CALLBACK *object_cb, void *object_cbarg,
                             OSSL_PASSPHRASE_CALLBACK *pw_cb, void *pw_cbarg)
{
    dstack_decoder_ctx *dctx = vctx;
    dstack_resolved *res = NULL;
    BIO *in;
    char *name = NULL, *header = NULL, *uri = NULL;
    unsigned char *der = NULL;
    long der_len = 0;
    int ours, ret = 1; /* not ours: carry on decoding */

    /* A reference yields a private key only; a load that asks for something else (a
     * certificate-only walk of a combined file) passes it over without an agent call. */
    if (selection != 0 && (selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) == 0)
        return 1;
    in = BIO_new_from_core_bio(dstack_prov_libctx(dctx->prov), cin);
    if (in == NULL)
        return 1;
    /* A combined file (lighttpd ssl.pemfile, haproxy crt) has the certificates first. We look
     * past them for our block instead of leaving that walk to PEM_read_bio_PrivateKey(): its
     * loop retries the next block only while ERR_peek_error() -- the OLDEST error of the
     * queue -- is "unsupported", so any error the caller left queued before the call (lighttpd
     * has one) ends it at the first certificate, and its legacy fallback knows no
     * "DSTACK KEY URI" label. Anything but a certificate ends the search: a plain key block is
     * some other decoder's, and OpenSSL seeks the input back for it. */
    for (;;) {
        if (PEM_read_bio(in, &name, &header, &der, &der_len) <= 0)
            goto done;
        if (strcmp(name, DSTACK_KEYREF_PEM_LABEL) == 0)
            break;
        if (!skippable_block(name))
            goto done;
        OPENSSL_free(name);
        OPENSSL_free(header);
        OPENSSL_free(der);
        name = header = NULL;
        der = NULL;
    }
    DSTACK_DEBUG(2, "found a " DSTACK_KEYREF_PEM_LABEL " block (%ld bytes)", der_len);
    /* The label says the block is ours: anything wrong inside is an error, not a reason to
     * let other decoders try (they would only report "unsupported"). */
    ours = 1;
    uri = parse_reference(dctx, der, (size_t)der_len, &ours);
    if (uri == NULL) {
        ret = 0;
        goto done;
    }
    DSTACK_DEBUG(1, "reference PEM names %s", uri);
    res = dstack_prov_resolve(dctx->prov, uri, DSTACK_WANT_KEY);
    if (res == NULL || res->key_der == NULL) {
        report_failure(uri);
        ret = 0;
        goto done;
    }
    ret = dstack_prov_emit_object(res, 0, object_cb, object_cbarg);
done:
    dstack_resolved_free(res);
    free(uri);
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(der);
    BIO_free(in);
    return ret;
}

static int dstack_der_decode(void *vctx, OSSL_CORE_BIO *cin, int selection,
                             OSSL_CALLBACK *object_cb, void *object_cbarg,
                             OSSL_PASSPHRASE_CALLBACK *pw_cb, void *pw_cbarg)
{
    dstack_decoder_ctx *dctx = vctx;
    unsigned char *der = NULL;
    dstack_resolved *res = NULL;
    char *uri = NULL;
    size_t len = 0;
    BIO *in;
    int ours = 0, ret = 1;

    /* Key material only: a reference never yields parameters-only objects. */
    if (selection != 0 && (selection & OSSL_KEYMGMT_SELECT_KEYPAIR) == 0)
        return 1;
    in = BIO_new_from_core_bio(dstack_prov_libctx(dctx->prov), cin);
    der = OPENSSL_malloc(DSTACK_KEYREF_MAX_DER + 1);
    if (in == NULL || der == NULL || !read_all(in, der, DSTACK_KEYREF_MAX_DER + 1, &len))
        goto done;
    uri = parse_reference(dctx, der, len, &ours);
    if (uri == NULL) {
        ret = ours ? 0 : 1;
        goto done;
    }
    DSTACK_DEBUG(1, "reference PEM names %s", uri);
    res = dstack_prov_resolve(dctx->prov, uri, DSTACK_WANT_KEY);
    if (res == NULL || res->key_der == NULL) {
        report_failure(uri);
        ret = 0;
        goto done;
    }
    ret = dstack_prov_emit_object(res, 0, object_cb, object_cbarg);
done:
    dstack_resolved_free(res);
    free(uri);
    OPENSSL_free(der);
    BIO_free(in);
    return ret;
}

static const OSSL_DISPATCH dstack_pem_decoder_functions[] = {
    {OSSL_FUNC_DECODER_NEWCTX, (void (*)(void))dstack_decoder_newctx},
    {OSSL_FUNC_DECODER_FREECTX, (void (*)(void))dstack_decoder_freectx},
    {OSSL_FUNC_DECODER_DECODE, (void (*)(void))dstack_pem_decode},
    {0, NULL},
};

static const OSSL_DISPATCH dstack_der_decoder_functions[] = {
    {OSSL_FUNC_DECODER_NEWCTX, (void (*)(void))dstack_decoder_newctx},
    {OSSL_FUNC_DECODER_FREECTX, (void (*)(void))dstack_decoder_freectx},
    {OSSL_FUNC_DECODER_DECODE, (void (*)(void))dstack_der_decode},
    {0, NULL},
};

const OSSL_ALGORITHM dstack_decoder_algorithms[] = {
    {"DER", "provider=dstack,input=pem", dstack_pem_decoder_functions,
     "DSTACK KEY URI PEM reference to DER"},
    {"DER", "provider=dstack,input=der,structure=" DSTACK_REF_STRUCTURE,
     dstack_der_decoder_functions, "DSTACK KEY URI reference to the derived private key"},
    {NULL, NULL, NULL, NULL},
};
