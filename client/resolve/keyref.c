/* Reference PEM files (include/dstack/keyref.h): the one ASN.1 definition, read and write. */
#include <dstack/keyref.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1t.h>
#include <openssl/bio.h>
#include <openssl/buffer.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#define KEYREF_DESC_FAMILY "dstack key URI"

typedef struct dstack_key_ref {
    ASN1_STRING *desc;
    ASN1_UTF8STRING *uri;
} DSTACK_KEY_REF;

/* clang-format off */
ASN1_SEQUENCE(DSTACK_KEY_REF) = {
    ASN1_SIMPLE(DSTACK_KEY_REF, desc, ASN1_VISIBLESTRING),
    ASN1_SIMPLE(DSTACK_KEY_REF, uri, ASN1_UTF8STRING),
} static_ASN1_SEQUENCE_END(DSTACK_KEY_REF)
    /* clang-format on */

    static DSTACK_KEY_REF
    * ref_new(void)
{
    return (DSTACK_KEY_REF *)ASN1_item_new(ASN1_ITEM_rptr(DSTACK_KEY_REF));
}

static void ref_free(DSTACK_KEY_REF *ref)
{
    ASN1_item_free((ASN1_VALUE *)ref, ASN1_ITEM_rptr(DSTACK_KEY_REF));
}

dstack_status dstack_keyref_decode(const uint8_t *der, size_t len, char **uri, bool *ours,
                                   dstack_error *err)
{
    const unsigned char *p = der;
    DSTACK_KEY_REF *ref = NULL;
    const char *desc;
    int desc_len, uri_len;
    dstack_status rc = DSTACK_ERR_USAGE;
    bool claimed = *ours;

    *uri = NULL;
    if (der == NULL || len == 0 || len > DSTACK_KEYREF_MAX_DER) {
        dstack_error_set(err, rc, NULL, NULL, "a reference is 1 to %d bytes of DER",
                         DSTACK_KEYREF_MAX_DER);
        goto done;
    }
    ERR_set_mark();
    ref = (DSTACK_KEY_REF *)ASN1_item_d2i(NULL, &p, (long)len, ASN1_ITEM_rptr(DSTACK_KEY_REF));
    ERR_pop_to_mark();
    if (ref == NULL || p != der + len) {
        dstack_error_set(err, rc, NULL, NULL,
                         "DSTACK KEY URI block is not DER SEQUENCE { VisibleString "
                         "description, UTF8String uri }");
        goto done;
    }
    desc = (const char *)ASN1_STRING_get0_data(ref->desc);
    desc_len = ASN1_STRING_length(ref->desc);
    if (desc_len >= (int)strlen(KEYREF_DESC_FAMILY) &&
        memcmp(desc, KEYREF_DESC_FAMILY, strlen(KEYREF_DESC_FAMILY)) == 0)
        claimed = true;
    if (!claimed) {
        dstack_error_set(err, rc, NULL, NULL, "not a DSTACK KEY URI reference");
        goto done;
    }
    if (desc_len != (int)strlen(DSTACK_KEYREF_DESCRIPTION) ||
        memcmp(desc, DSTACK_KEYREF_DESCRIPTION, (size_t)desc_len) != 0) {
        dstack_error_set(err, rc, NULL, NULL,
                         "unsupported DSTACK KEY URI description \"%.*s\" (this version reads "
                         "\"" DSTACK_KEYREF_DESCRIPTION "\")",
                         desc_len > 64 ? 64 : desc_len, desc);
        goto done;
    }
    uri_len = ASN1_STRING_length(ref->uri);
    if (uri_len <= 0 || memchr(ASN1_STRING_get0_data(ref->uri), '\0', (size_t)uri_len) != NULL) {
        dstack_error_set(err, rc, NULL, NULL,
                         "DSTACK KEY URI reference holds an empty or binary URI");
        goto done;
    }
    *uri = strndup((const char *)ASN1_STRING_get0_data(ref->uri), (size_t)uri_len);
    rc = *uri != NULL ? DSTACK_OK
                      : dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, NULL, "out of memory");
done:
    *ours = claimed;
    ref_free(ref);
    return rc;
}

dstack_status dstack_keyref_encode(const char *uri, uint8_t **der, size_t *len, dstack_error *err)
{
    DSTACK_KEY_REF *ref = ref_new();
    unsigned char *out = NULL;
    int n = 0;

    *der = NULL;
    *len = 0;
    if (ref == NULL ||
        !ASN1_STRING_set(ref->desc, DSTACK_KEYREF_DESCRIPTION,
                         (int)strlen(DSTACK_KEYREF_DESCRIPTION)) ||
        uri == NULL || strlen(uri) > DSTACK_KEYREF_MAX_DER / 2 ||
        !ASN1_STRING_set(ref->uri, uri, (int)strlen(uri)) ||
        (n = ASN1_item_i2d((ASN1_VALUE *)ref, &out, ASN1_ITEM_rptr(DSTACK_KEY_REF))) <= 0) {
        ref_free(ref);
        return dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL,
                                "cannot encode a reference for this URI (too long?)");
    }
    ref_free(ref);
    *der = malloc((size_t)n);
    if (*der != NULL)
        memcpy(*der, out, (size_t)n);
    OPENSSL_free(out);
    if (*der == NULL)
        return dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, NULL, "out of memory");
    *len = (size_t)n;
    return DSTACK_OK;
}

dstack_status dstack_keyref_encode_pem(const char *uri, char **pem, dstack_error *err)
{
    uint8_t *der = NULL;
    size_t len = 0;
    BIO *bio = NULL;
    BUF_MEM *mem = NULL;
    dstack_status rc;

    *pem = NULL;
    rc = dstack_keyref_encode(uri, &der, &len, err);
    if (rc != DSTACK_OK)
        return rc;
    bio = BIO_new(BIO_s_mem());
    if (bio == NULL || PEM_write_bio(bio, DSTACK_KEYREF_PEM_LABEL, "", der, (long)len) <= 0 ||
        BIO_get_mem_ptr(bio, &mem) <= 0 || (*pem = strndup(mem->data, mem->length)) == NULL)
        rc = dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, NULL, "out of memory");
    BIO_free(bio);
    free(der);
    return rc;
}
