/* The reference-PEM payload (architecture.md §6): DER SEQUENCE { VisibleString, UTF8String },
 * parsed with the same OpenSSL template as provider/decoder.c (replicated here; the provider is not
 * linked into fuzzers). Accepted input must re-encode and re-parse to the same strings. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1t.h>

typedef struct fuzz_key_ref {
    ASN1_STRING *desc;
    ASN1_UTF8STRING *uri;
} FUZZ_KEY_REF;

/* clang-format off */
ASN1_SEQUENCE(FUZZ_KEY_REF) = {
    ASN1_SIMPLE(FUZZ_KEY_REF, desc, ASN1_VISIBLESTRING),
    ASN1_SIMPLE(FUZZ_KEY_REF, uri, ASN1_UTF8STRING),
} static_ASN1_SEQUENCE_END(FUZZ_KEY_REF)
    /* clang-format on */

    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const unsigned char *p = data;
    FUZZ_KEY_REF *ref, *back = NULL;
    unsigned char *der = NULL;
    int der_len;

    if (size > 16384)
        return 0;
    ref = (FUZZ_KEY_REF *)ASN1_item_d2i(NULL, &p, (long)size, ASN1_ITEM_rptr(FUZZ_KEY_REF));
    if (ref == NULL)
        return 0;
    if (p > data + size)
        abort();
    der_len = ASN1_item_i2d((ASN1_VALUE *)ref, &der, ASN1_ITEM_rptr(FUZZ_KEY_REF));
    if (der_len <= 0)
        abort();
    p = der;
    back = (FUZZ_KEY_REF *)ASN1_item_d2i(NULL, &p, der_len, ASN1_ITEM_rptr(FUZZ_KEY_REF));
    if (back == NULL || p != der + der_len || ASN1_STRING_cmp(ref->desc, back->desc) != 0 ||
        ASN1_STRING_cmp(ref->uri, back->uri) != 0)
        abort();
    ASN1_item_free((ASN1_VALUE *)back, ASN1_ITEM_rptr(FUZZ_KEY_REF));
    OPENSSL_free(der);
    ASN1_item_free((ASN1_VALUE *)ref, ASN1_ITEM_rptr(FUZZ_KEY_REF));
    return 0;
}
