#include "quote_forge.h"

#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

char *qf_pem_of(X509 *const *certs, int n)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data, *out;
    long len;

    for (int i = 0; i < n; i++)
        CU_ASSERT_FATAL(PEM_write_bio_X509(bio, certs[i]) == 1);
    len = BIO_get_mem_data(bio, &data);
    out = strndup(data, (size_t)len);
    BIO_free(bio);
    return out;
}

void qf_sign_raw(EVP_PKEY *key, const uint8_t *data, size_t len, uint8_t out[64])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char der[80];
    const unsigned char *p = der;
    size_t der_len = sizeof(der);
    ECDSA_SIG *sig;
    const BIGNUM *r, *s;

    CU_ASSERT_FATAL(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
                    EVP_DigestSign(md, der, &der_len, data, len) == 1);
    sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
    ECDSA_SIG_get0(sig, &r, &s);
    BN_bn2binpad(r, out, 32);
    BN_bn2binpad(s, out + 32, 32);
    ECDSA_SIG_free(sig);
    EVP_MD_CTX_free(md);
}

void qf_put_le(uint8_t *p, uint32_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

uint8_t *qf_build_quote(const uint8_t *signed_part, EVP_PKEY *att_key, EVP_PKEY *qe_signer,
                        const char *pem, size_t *len)
{
    size_t pem_len = strlen(pem) + 1;
    size_t cert_len = 384 + 64 + 2 + QF_AUTH_LEN + 6 + pem_len;
    size_t sig_len = 64 + 64 + 6 + cert_len;
    uint8_t *q = calloc(1, QF_OFF_SIG + sig_len), pt[65], bind[64 + QF_AUTH_LEN];
    size_t ptlen = 0;

    CU_ASSERT_FATAL(q != NULL);
    memcpy(q, signed_part, QF_SIGNED_LEN);
    qf_put_le(q + QF_SIGNED_LEN, (uint32_t)sig_len, 4);
    qf_sign_raw(att_key, q, QF_SIGNED_LEN, q + QF_OFF_SIG);
    CU_ASSERT_FATAL(EVP_PKEY_get_octet_string_param(att_key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pt,
                                                    sizeof(pt), &ptlen) == 1 &&
                    ptlen == 65);
    memcpy(q + QF_OFF_ATT_KEY, pt + 1, 64);
    qf_put_le(q + QF_OFF_CERT_TYPE, 6, 2); /* QE report certification data */
    qf_put_le(q + QF_OFF_CERT_TYPE + 2, (uint32_t)cert_len, 4);
    memset(q + QF_OFF_AUTH, 0xa5, QF_AUTH_LEN);
    memcpy(bind, pt + 1, 64);
    memcpy(bind + 64, q + QF_OFF_AUTH, QF_AUTH_LEN);
    SHA256(bind, sizeof(bind), q + QF_OFF_QE_REPORT + 320); /* QE report_data[0..32] */
    q[QF_OFF_QE_REPORT + 256] = 2;                          /* ISVPRODID */
    qf_sign_raw(qe_signer, q + QF_OFF_QE_REPORT, 384, q + QF_OFF_QE_SIG);
    qf_put_le(q + QF_OFF_AUTH_LEN, QF_AUTH_LEN, 2);
    qf_put_le(q + QF_OFF_INNER_TYPE, 5, 2); /* PCK certificate chain */
    qf_put_le(q + QF_OFF_INNER_TYPE + 2, (uint32_t)pem_len, 4);
    memcpy(q + QF_OFF_PEM, pem, pem_len);
    *len = QF_OFF_SIG + sig_len;
    return q;
}
