#include "quote_forge.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include <dstack/error.h>

#include "crypto/pkey_util.h"

#define OID_SGX_EXT "1.2.840.113741.1.13.1"

void qf_fail(const char *what, const char *file, int line)
{
    fprintf(stderr, "%s:%d: test set-up failed: %s\n", file, line, what);
    abort();
}

EVP_PKEY *qf_p256(uint8_t seed)
{
    uint8_t secret[32];
    EVP_PKEY *k = NULL;

    memset(secret, seed, sizeof(secret));
    QF_REQUIRE(dstack_pkey_from_secret(DSTACK_ALG_P256, secret, &k, NULL) == DSTACK_OK);
    return k;
}

char *qf_pem_of(X509 *const *certs, int n)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data, *out;
    long len;

    QF_REQUIRE(bio != NULL);
    for (int i = 0; i < n; i++)
        QF_REQUIRE(PEM_write_bio_X509(bio, certs[i]) == 1);
    len = BIO_get_mem_data(bio, &data);
    out = strndup(data, (size_t)len);
    QF_REQUIRE(out != NULL);
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

    QF_REQUIRE(md != NULL && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
               EVP_DigestSign(md, der, &der_len, data, len) == 1);
    sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
    QF_REQUIRE(sig != NULL);
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

/* Intel's SGX extension as the extnValue itself (not double-wrapped like dstack's):
 * SEQUENCE { SEQUENCE { PPID OID, OCTET STRING(16) }, SEQUENCE { FMSPC OID, OCTET STRING(6) } }. */
static void add_sgx_ext(X509 *leaf, EVP_PKEY *issuer_key)
{
    static const uint8_t der[] = {
        0x30, 0x36, 0x30, 0x1e, 0x06, 0x0a, 0x2a, 0x86, 0x48, 0x86, 0xf8, 0x4d, 0x01, 0x0d,
        0x01, 0x01, 0x04, 0x10, 0x74, 0x65, 0x73, 0x74, 0x20, 0x50, 0x50, 0x49, 0x44, 0x20,
        0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x30, 0x14, 0x06, 0x0a, 0x2a, 0x86, 0x48, 0x86,
        0xf8, 0x4d, 0x01, 0x0d, 0x01, 0x04, 0x04, 0x06, 0x00, 0x90, 0x6e, 0xd5, 0x00, 0x00};
    ASN1_OBJECT *obj = OBJ_txt2obj(OID_SGX_EXT, 1);
    ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
    X509_EXTENSION *ext;

    QF_REQUIRE(obj != NULL && os != NULL && ASN1_OCTET_STRING_set(os, der, sizeof(der)) == 1);
    ext = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, os);
    QF_REQUIRE(ext != NULL && X509_add_ext(leaf, ext, -1) == 1);
    QF_REQUIRE(X509_sign(leaf, issuer_key, EVP_sha256()) > 0);
    X509_EXTENSION_free(ext);
    ASN1_OCTET_STRING_free(os);
    ASN1_OBJECT_free(obj);
}

void qf_pki_init_ex(qf_pki *p, const char *root_cn, uint8_t seed, bool sgx_ext, int64_t not_before,
                    int64_t not_after)
{
    dstack_cert_spec spec;
    X509 *certs[3];

    memset(p, 0, sizeof(*p));
    p->root_key = qf_p256(seed);
    p->ca_key = qf_p256((uint8_t)(seed + 1));
    p->pck_key = qf_p256((uint8_t)(seed + 2));
    p->att_key = qf_p256((uint8_t)(seed + 3));
    memset(&spec, 0, sizeof(spec));
    spec.common_name = root_cn;
    spec.organization = "dstack tests";
    spec.is_ca = true;
    spec.ca_pathlen = 1;
    spec.not_before = QF_NOT_BEFORE;
    spec.not_after = QF_NOT_AFTER;
    spec.serial_from_key = true;
    QF_REQUIRE(dstack_cert_build(&spec, p->root_key, NULL, NULL, &p->root, NULL) == DSTACK_OK);
    spec.common_name = "Test SGX PCK Platform CA (test, not Intel)";
    spec.ca_pathlen = 0;
    QF_REQUIRE(dstack_cert_build(&spec, p->ca_key, p->root_key, p->root, &p->ca, NULL) ==
               DSTACK_OK);
    spec.common_name = "Test SGX PCK Certificate (test, not Intel)";
    spec.is_ca = false;
    spec.ca_pathlen = -1;
    spec.not_before = not_before;
    spec.not_after = not_after;
    QF_REQUIRE(dstack_cert_build(&spec, p->pck_key, p->ca_key, p->ca, &p->pck, NULL) == DSTACK_OK);
    if (sgx_ext)
        add_sgx_ext(p->pck, p->ca_key);
    certs[0] = p->pck;
    certs[1] = p->ca;
    certs[2] = p->root;
    p->chain_pem = qf_pem_of(certs, 3);
    p->root_pem = qf_pem_of(&p->root, 1);
}

void qf_pki_init(qf_pki *p, const char *root_cn, uint8_t seed, bool sgx_ext)
{
    qf_pki_init_ex(p, root_cn, seed, sgx_ext, QF_NOT_BEFORE, QF_NOT_AFTER);
}

void qf_pki_free(qf_pki *p)
{
    EVP_PKEY_free(p->root_key);
    EVP_PKEY_free(p->ca_key);
    EVP_PKEY_free(p->pck_key);
    EVP_PKEY_free(p->att_key);
    X509_free(p->root);
    X509_free(p->ca);
    X509_free(p->pck);
    free(p->root_pem);
    free(p->chain_pem);
    memset(p, 0, sizeof(*p));
}

void qf_body(uint8_t out[QF_SIGNED_LEN], const uint8_t rtmr[4][48], const uint8_t report_data[64])
{
    static const uint8_t intel_qe_vendor_id[16] = {0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9,
                                                   0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07};
    static const uint8_t tee_tcb_svn[16] = {0x04, 0x01, 0x02, 0x00, 0x03};
    static const uint8_t xfam[8] = {0xe7, 0x02, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00};

    memset(out, 0, QF_SIGNED_LEN);
    qf_put_le(out, 4, 2);        /* version */
    qf_put_le(out + 2, 2, 2);    /* ECDSA-256-with-P-256 */
    qf_put_le(out + 4, 0x81, 4); /* TDX */
    memcpy(out + 12, intel_qe_vendor_id, 16);
    memcpy(out + 48, tee_tcb_svn, 16);
    SHA384((const uint8_t *)"dstack tests MRSEAM", 19, out + 64);
    out[QF_OFF_TD_ATTRIBUTES + 3] = 0x10; /* SEPT_VE_DISABLE, as production TDs have it */
    memcpy(out + 176, xfam, 8);
    SHA384((const uint8_t *)"dstack tests MRTD", 17, out + QF_OFF_MRTD);
    if (rtmr != NULL)
        memcpy(out + QF_OFF_RTMR0, rtmr, 4 * 48);
    if (report_data != NULL)
        memcpy(out + QF_OFF_REPORT_DATA, report_data, 64);
}

uint8_t *qf_build_quote(const uint8_t *signed_part, EVP_PKEY *att_key, EVP_PKEY *qe_signer,
                        const char *pem, size_t *len)
{
    size_t pem_len = strlen(pem) + 1;
    size_t cert_len = 384 + 64 + 2 + QF_AUTH_LEN + 6 + pem_len;
    size_t sig_len = 64 + 64 + 6 + cert_len;
    uint8_t *q = calloc(1, QF_OFF_SIG + sig_len), pt[65], bind[64 + QF_AUTH_LEN];
    size_t ptlen = 0;

    QF_REQUIRE(q != NULL);
    memcpy(q, signed_part, QF_SIGNED_LEN);
    qf_put_le(q + QF_SIGNED_LEN, (uint32_t)sig_len, 4);
    qf_sign_raw(att_key, q, QF_SIGNED_LEN, q + QF_OFF_SIG);
    QF_REQUIRE(EVP_PKEY_get_octet_string_param(att_key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pt,
                                               sizeof(pt), &ptlen) == 1 &&
               ptlen == 65);
    memcpy(q + QF_OFF_ATT_KEY, pt + 1, 64);
    qf_put_le(q + QF_OFF_CERT_TYPE, 6, 2); /* QE report certification data */
    qf_put_le(q + QF_OFF_CERT_TYPE + 2, (uint32_t)cert_len, 4);
    memset(q + QF_OFF_AUTH, 0xa5, QF_AUTH_LEN);
    memcpy(bind, pt + 1, 64);
    memcpy(bind + 64, q + QF_OFF_AUTH, QF_AUTH_LEN);
    SHA256((const uint8_t *)"dstack tests QE", 15, q + QF_OFF_QE_REPORT + 64); /* MRENCLAVE */
    SHA256((const uint8_t *)"dstack tests QE signer", 22, q + QF_OFF_QE_REPORT + 128);
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

uint8_t *qf_quote(const qf_pki *p, const uint8_t *signed_part, size_t pad, size_t *len)
{
    uint8_t *q = qf_build_quote(signed_part, p->att_key, p->pck_key, p->chain_pem, len);
    uint8_t *grown = realloc(q, *len + pad);

    QF_REQUIRE(grown != NULL);
    memset(grown + *len, 0, pad);
    *len += pad;
    return grown;
}
