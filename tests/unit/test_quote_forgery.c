/* Forged PCK chains and signature encodings against the offline quote verifier (protocol.md §5.1):
 * a root that copies the Intel SGX Root CA's name and key id, a QE report signed by a key
 * other than the PCK leaf, a reordered chain, oversized chains, and r||s values whose DER
 * form needs a leading zero or drops one. Each forged quote is first shown to verify under
 * its own root, so a failure under the pinned Intel root is the chain check's doing. */
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include <dstack/attest.h>

#include "quote_forge.h"
#include "test_util.h"

#define T_2027_01_01 1798761600

typedef struct forged {
    EVP_PKEY *root_key, *pck_key, *att_key, *qe_signer;
    X509 *root, *leaf;
} forged;

static EVP_PKEY *new_p256(void)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");

    CU_ASSERT_FATAL(k != NULL);
    return k;
}

static void add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX v3;
    X509_EXTENSION *ext;

    X509V3_set_ctx(&v3, issuer, cert, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
    CU_ASSERT_FATAL(ext != NULL && X509_add_ext(cert, ext, -1) == 1);
    X509_EXTENSION_free(ext);
}

/* A certificate named and keyed like `like` would be, with a key of ours. */
static X509 *make_cert(const X509_NAME *subject, const X509_NAME *issuer, EVP_PKEY *key,
                       EVP_PKEY *signer, X509 *issuer_cert, bool ca)
{
    X509 *c = X509_new();

    CU_ASSERT_FATAL(c != NULL);
    X509_set_version(c, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(c), ca ? 1 : 2);
    X509_set_subject_name(c, subject);
    X509_set_issuer_name(c, issuer);
    ASN1_TIME_set(X509_getm_notBefore(c), 157766400);
    ASN1_TIME_set(X509_getm_notAfter(c), 2524607999);
    X509_set_pubkey(c, key);
    add_ext(c, issuer_cert != NULL ? issuer_cert : c, NID_basic_constraints,
            ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
    add_ext(c, issuer_cert != NULL ? issuer_cert : c, NID_key_usage,
            ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature");
    if (!ca) {
        /* Intel's SGX extension (1.2.840.113741.1.13.1), content irrelevant here. */
        ASN1_OBJECT *obj = OBJ_txt2obj("1.2.840.113741.1.13.1", 1);
        ASN1_OCTET_STRING *der = ASN1_OCTET_STRING_new();
        X509_EXTENSION *ext;

        CU_ASSERT_FATAL(obj != NULL && der != NULL &&
                        ASN1_OCTET_STRING_set(der, (const unsigned char *)"\x30\x00", 2) == 1);
        ext = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, der);
        CU_ASSERT_FATAL(ext != NULL && X509_add_ext(c, ext, -1) == 1);
        X509_EXTENSION_free(ext);
        ASN1_OCTET_STRING_free(der);
        ASN1_OBJECT_free(obj);
    }
    CU_ASSERT_FATAL(X509_sign(c, signer, EVP_sha256()) > 0);
    return c;
}

/* A root with the Intel SGX Root CA's subject and subject key id but our key, and a PCK
 * leaf under it whose authority key id names the Intel root. */
static void forged_init(forged *f)
{
    const char *pem = dstack_intel_sgx_root_ca_pem();
    BIO *bio = BIO_new_mem_buf(pem, -1);
    X509 *intel = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    const ASN1_OCTET_STRING *skid;
    X509_NAME *name;

    CU_ASSERT_FATAL(intel != NULL);
    memset(f, 0, sizeof(*f));
    f->root_key = new_p256();
    f->pck_key = new_p256();
    f->att_key = new_p256();
    f->qe_signer = f->pck_key;
    name = X509_get_subject_name(intel);
    skid = X509_get0_subject_key_id(intel);
    CU_ASSERT_FATAL(skid != NULL);
    f->root = make_cert(name, name, f->root_key, f->root_key, NULL, true);
    CU_ASSERT_FATAL(X509_add1_ext_i2d(f->root, NID_subject_key_identifier, (void *)skid, 0, 0) ==
                    1);
    CU_ASSERT_FATAL(X509_sign(f->root, f->root_key, EVP_sha256()) > 0);
    {
        X509_NAME *leaf_name = X509_NAME_new();

        X509_NAME_add_entry_by_txt(leaf_name, "CN", MBSTRING_ASC,
                                   (const unsigned char *)"Intel SGX PCK Certificate", -1, -1, 0);
        f->leaf = make_cert(leaf_name, name, f->pck_key, f->root_key, f->root, false);
        X509_NAME_free(leaf_name);
    }
    {
        AUTHORITY_KEYID *akid = AUTHORITY_KEYID_new();

        akid->keyid = ASN1_OCTET_STRING_dup(skid);
        CU_ASSERT_FATAL(X509_add1_ext_i2d(f->leaf, NID_authority_key_identifier, akid, 0, 0) == 1);
        AUTHORITY_KEYID_free(akid);
        CU_ASSERT_FATAL(X509_sign(f->leaf, f->root_key, EVP_sha256()) > 0);
    }
    X509_free(intel);
    BIO_free(bio);
}

static void forged_free(forged *f)
{
    EVP_PKEY_free(f->root_key);
    EVP_PKEY_free(f->pck_key);
    EVP_PKEY_free(f->att_key);
    X509_free(f->root);
    X509_free(f->leaf);
}

/* A v4 quote over a production TD's header and body (qf_body), signed by f->att_key, QE
 * report signed by f->qe_signer, carrying `pem`. */
static uint8_t *make_quote(const forged *f, const char *pem, size_t *len)
{
    uint8_t body[QF_SIGNED_LEN], rd[64] = "forged";

    qf_body(body, NULL, rd);
    return qf_build_quote(body, f->att_key, f->qe_signer, pem, len);
}

static dstack_status verify(const uint8_t *q, size_t len, const char *root,
                            dstack_quote_verify_result *r, dstack_error *err)
{
    dstack_quote_verify_opts opts = {DSTACK_OPTIONS_INIT(dstack_quote_verify_opts),
                                     .trusted_root_pem = root, .verification_time = T_2027_01_01,
                                     .flags = 0};

    dstack_error_clear(err);
    return dstack_tdx_quote_verify(q, len, &opts, r, err);
}

/* The quote's own copy of a root, even one named and key-identified like Intel's, is never
 * a trust anchor: only the pinned root is. */
static void test_lookalike_intel_root(void)
{
    forged f;
    X509 *chain[2];
    char *pem, *root_pem;
    uint8_t *q;
    size_t len;
    dstack_quote_verify_result r;
    dstack_error err;

    forged_init(&f);
    chain[0] = f.leaf;
    chain[1] = f.root;
    pem = qf_pem_of(chain, 2);
    root_pem = qf_pem_of(&f.root, 1);
    q = make_quote(&f, pem, &len);
    CU_ASSERT_EQUAL(verify(q, len, root_pem, &r, &err), DSTACK_OK);
    CU_ASSERT(r.verified);
    CU_ASSERT_EQUAL(verify(q, len, NULL, &r, &err), DSTACK_ERR_CRYPTO);
    CU_ASSERT(!r.pck_chain_ok && !r.verified);
    CU_ASSERT(r.quote_signature_ok && r.qe_report_binds_key && r.qe_report_signature_ok);
    CU_ASSERT(r.chain_error[0] != '\0');
    free(q);
    /* The leaf alone (no root in the quote) does not reach the Intel root either. */
    free(pem);
    pem = qf_pem_of(chain, 1);
    q = make_quote(&f, pem, &len);
    CU_ASSERT_EQUAL(verify(q, len, NULL, &r, &err), DSTACK_ERR_CRYPTO);
    CU_ASSERT(!r.pck_chain_ok && !r.verified);
    free(q);
    free(pem);
    free(root_pem);
    forged_free(&f);
}

/* A valid PCK chain is not enough: its leaf must be the key that signed the QE report. A
 * chain listed root-first makes the root the "leaf", which signed nothing. */
static void test_qe_report_signer_is_the_leaf(void)
{
    forged f;
    X509 *chain[2];
    EVP_PKEY *other = new_p256();
    char *pem, *reversed, *root_pem;
    uint8_t *q;
    size_t len;
    dstack_quote_verify_result r;
    dstack_error err;

    forged_init(&f);
    chain[0] = f.leaf;
    chain[1] = f.root;
    pem = qf_pem_of(chain, 2);
    root_pem = qf_pem_of(&f.root, 1);
    f.qe_signer = other;
    q = make_quote(&f, pem, &len);
    CU_ASSERT_EQUAL(verify(q, len, root_pem, &r, &err), DSTACK_ERR_CRYPTO);
    CU_ASSERT(r.pck_chain_ok && r.quote_signature_ok && r.qe_report_binds_key);
    CU_ASSERT(!r.qe_report_signature_ok && !r.verified);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "QE report signature"));
    free(q);
    /* Signed by the root key, presented root-first: the root carries no SGX extension. */
    f.qe_signer = f.root_key;
    chain[0] = f.root;
    chain[1] = f.leaf;
    reversed = qf_pem_of(chain, 2);
    q = make_quote(&f, reversed, &len);
    CU_ASSERT_EQUAL(verify(q, len, root_pem, &r, &err), DSTACK_ERR_CRYPTO);
    CU_ASSERT(!r.pck_chain_ok && !r.verified);
    free(q);
    free(reversed);
    free(pem);
    free(root_pem);
    EVP_PKEY_free(other);
    forged_free(&f);
}

/* Too many certificates: 9 small ones do not parse (limit 8), ~1000 exceed the size cap;
 * both are clean failures. */
static void test_oversized_chains(void)
{
    forged f;
    X509 *many[1000];
    char *pem, *root_pem;
    uint8_t *q;
    size_t len;
    dstack_quote_verify_result r;
    dstack_error err;

    forged_init(&f);
    root_pem = qf_pem_of(&f.root, 1);
    many[0] = f.leaf;
    for (int i = 1; i < 1000; i++)
        many[i] = f.root;
    pem = qf_pem_of(many, 9);
    q = make_quote(&f, pem, &len);
    CU_ASSERT_EQUAL(verify(q, len, root_pem, &r, &err), DSTACK_ERR_CRYPTO);
    CU_ASSERT(r.structure_ok && !r.pck_chain_ok && !r.qe_report_signature_ok && !r.verified);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.chain_error, "does not parse"));
    free(q);
    free(pem);
    pem = qf_pem_of(many, 1000);
    q = make_quote(&f, pem, &len);
    CU_ASSERT_EQUAL(verify(q, len, root_pem, &r, &err), DSTACK_ERR_PROTOCOL);
    CU_ASSERT(!r.structure_ok && !r.verified);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "too large"));
    free(q);
    free(pem);
    free(root_pem);
    forged_free(&f);
}

/* Raw r||s → DER: r with a leading zero byte (shorter INTEGER) and s with the high bit set
 * (INTEGER needs a 0x00 pad) still verify; the same signature as s||r does not. */
static void test_signature_encodings(void)
{
    forged f;
    X509 *chain[2];
    char *pem, *root_pem;
    uint8_t *q = NULL, tmp[32];
    size_t len = 0;
    int tries;
    dstack_quote_verify_result r;
    dstack_error err;

    forged_init(&f);
    chain[0] = f.leaf;
    chain[1] = f.root;
    pem = qf_pem_of(chain, 2);
    root_pem = qf_pem_of(&f.root, 1);
    for (tries = 0; tries < 20000; tries++) {
        free(q);
        q = make_quote(&f, pem, &len);
        if (q[QF_OFF_SIG] == 0 && (q[QF_OFF_SIG + 32] & 0x80) != 0)
            break;
    }
    CU_ASSERT_FATAL(tries < 20000);
    CU_ASSERT_EQUAL(verify(q, len, root_pem, &r, &err), DSTACK_OK);
    CU_ASSERT(r.quote_signature_ok && r.verified);
    memcpy(tmp, q + QF_OFF_SIG, 32);
    memmove(q + QF_OFF_SIG, q + QF_OFF_SIG + 32, 32);
    memcpy(q + QF_OFF_SIG + 32, tmp, 32);
    CU_ASSERT_EQUAL(verify(q, len, root_pem, &r, &err), DSTACK_ERR_CRYPTO);
    CU_ASSERT(!r.quote_signature_ok && !r.verified);
    /* r = 0 and s = 0 are rejected, not mis-encoded. */
    memset(q + QF_OFF_SIG, 0, 64);
    CU_ASSERT_EQUAL(verify(q, len, root_pem, &r, &err), DSTACK_ERR_CRYPTO);
    CU_ASSERT(!r.quote_signature_ok && !r.verified);
    free(q);
    free(pem);
    free(root_pem);
    forged_free(&f);
}

int main(void)
{
    static const test_case cases[] = {
        {"root named and key-identified like Intel's is not trusted", test_lookalike_intel_root},
        {"QE report must be signed by the PCK leaf", test_qe_report_signer_is_the_leaf},
        {"9 and 1000 certificates in the PCK chain", test_oversized_chains},
        {"r||s with leading zero and high bit", test_signature_encodings},
        {NULL, NULL},
    };
    return test_run_suite("quote_forgery", cases);
}
