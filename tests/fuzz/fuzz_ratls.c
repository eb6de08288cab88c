/* dstack_ratls_inspect (protocol.md §4.1–§4.3, §4.7) on certificates from d2i_X509. The first input
 * byte picks how the rest is used:
 *   0  the rest is certificate DER;
 *   1  the rest is the .1.8 attestation extension of a certificate signed here;
 *   2  LE16 n, then n bytes of .1.1 quote and the rest as the .1.2 event log.
 * For 1 and 2 the signed DER is inspected as built and once more with one byte corrupted
 * (position and value from the input), so the DER path sees near-valid certificates. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>
#include <openssl/x509.h>

#include <dstack/attest.h>

#include "crypto/pkey_util.h"

static void inspect_der(const uint8_t *der, size_t len)
{
    const unsigned char *p = der;
    X509 *cert = d2i_X509(NULL, &p, (long)len);
    dstack_ratls_info info;
    dstack_error err;

    if (cert == NULL)
        return;
    if (dstack_ratls_inspect(cert, &info, &err) == DSTACK_OK)
        dstack_ratls_info_free(&info);
    X509_free(cert);
}

static EVP_PKEY *signing_key(void)
{
    static EVP_PKEY *key;
    static const uint8_t secret[32] = {[0] = 0x42, [31] = 0x17};
    dstack_error err;

    if (key == NULL && dstack_pkey_from_secret(DSTACK_ALG_P256, secret, &key, &err) != DSTACK_OK)
        abort();
    return key;
}

static void build_and_inspect(const dstack_cert_ext *exts, size_t n_exts, const uint8_t *data,
                              size_t size)
{
    dstack_cert_spec spec = {.common_name = "fuzz",
                             .server_auth = true,
                             .ca_pathlen = -1,
                             .not_before = 0,
                             .not_after = 86400,
                             .exts = exts,
                             .n_exts = n_exts,
                             .serial_from_key = true};
    unsigned char *der = NULL;
    X509 *cert = NULL;
    dstack_error err;
    int der_len;

    if (dstack_cert_build(&spec, signing_key(), NULL, NULL, &cert, &err) != DSTACK_OK)
        return;
    der_len = i2d_X509(cert, &der);
    X509_free(cert);
    if (der_len <= 0)
        return;
    inspect_der(der, (size_t)der_len);
    if (size >= 3) {
        size_t pos = ((size_t)data[size - 1] << 8 | data[size - 2]) % (size_t)der_len;

        der[pos] ^= data[size - 3] | 1;
        inspect_der(der, (size_t)der_len);
    }
    OPENSSL_free(der);
}

/* The signing key and OpenSSL's per-thread DRBGs (created lazily by the first ECDSA
 * signature and kept until exit) are set up before fuzzing, so libFuzzer's per-input leak
 * check does not count them. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    unsigned char b[1];

    (void)argc;
    (void)argv;
    if (signing_key() == NULL || RAND_bytes(b, 1) != 1 || RAND_priv_bytes(b, 1) != 1)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dstack_cert_ext exts[2];
    size_t n;

    if (size == 0 || size > (1u << 20))
        return 0;
    switch (data[0] % 3) {
    case 0:
        inspect_der(data + 1, size - 1);
        break;
    case 1:
        exts[0] = (dstack_cert_ext){DSTACK_OID_ATTESTATION, data + 1, size - 1};
        build_and_inspect(exts, 1, data, size);
        break;
    default:
        if (size < 3)
            break;
        n = (size_t)(data[1] | data[2] << 8);
        if (n > size - 3)
            n = size - 3;
        exts[0] = (dstack_cert_ext){DSTACK_OID_TDX_QUOTE, data + 3, n};
        exts[1] = (dstack_cert_ext){DSTACK_OID_EVENT_LOG, data + 3 + n, size - 3 - n};
        build_and_inspect(exts, 2, data, size);
        break;
    }
    return 0;
}
