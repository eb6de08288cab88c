/* Certificate chains and CRLs of Intel collateral with the rules of webpki, the X.509 engine
 * dcap-qvl uses (protocol.md §5.6): only the trust anchor's name and key count (not its
 * validity), validity is notBefore ≤ now ≤ notAfter, every certificate on the path but the
 * anchor is checked against the CRLs with "unknown status" an error, and a CRL is fresh while
 * now < nextUpdate (its thisUpdate is not checked). OpenSSL's X509_verify_cert differs on each
 * of these points, so the walk is done here with OpenSSL's primitives. */
#include "attest/dcap_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include "crypto/untrusted.h"

#define MAX_PATH 6
#define MEMO_SLOTS 64

/* ---- signature memo ------------------------------------------------------------------------ */

struct dcap_sig_memo {
    pthread_mutex_t lock;
    uint8_t keys[MEMO_SLOTS][32];
    size_t used, next;
};

dcap_sig_memo *dcap_sig_memo_new(void)
{
    dcap_sig_memo *m = calloc(1, sizeof(*m));

    if (m != NULL && pthread_mutex_init(&m->lock, NULL) != 0) {
        free(m);
        m = NULL;
    }
    return m;
}

void dcap_sig_memo_free(dcap_sig_memo *m)
{
    if (m == NULL)
        return;
    pthread_mutex_destroy(&m->lock);
    free(m);
}

/* SHA-256(object digest || the signer's public key bits): one memo entry per (signed object,
 * key). The key bits come straight from the certificate: encoding an EVP_PKEY would cost more
 * than the signature check it saves. */
static bool memo_key(const uint8_t *tbs_digest, X509 *signer, uint8_t out[32])
{
    const unsigned char *pk = NULL;
    int pk_len = 0;
    EVP_MD_CTX *md;
    bool ok;

    if (signer == NULL ||
        X509_PUBKEY_get0_param(NULL, &pk, &pk_len, NULL, X509_get_X509_PUBKEY(signer)) != 1 ||
        pk == NULL)
        return false;
    md = EVP_MD_CTX_new();
    ok = md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
         EVP_DigestUpdate(md, tbs_digest, 32) == 1 &&
         EVP_DigestUpdate(md, pk, (size_t)pk_len) == 1 && EVP_DigestFinal_ex(md, out, NULL) == 1;
    EVP_MD_CTX_free(md);
    return ok;
}

bool dcap_sig_memo_check(dcap_sig_memo *m, const uint8_t *tbs_digest, X509 *signer)
{
    uint8_t k[32];
    bool hit = false;

    if (m == NULL || !memo_key(tbs_digest, signer, k))
        return false;
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < m->used && !hit; i++)
        hit = memcmp(m->keys[i], k, 32) == 0;
    pthread_mutex_unlock(&m->lock);
    return hit;
}

void dcap_sig_memo_add(dcap_sig_memo *m, const uint8_t *tbs_digest, X509 *signer)
{
    uint8_t k[32];

    if (m == NULL || !memo_key(tbs_digest, signer, k))
        return;
    pthread_mutex_lock(&m->lock);
    memcpy(m->keys[m->next], k, 32);
    m->next = (m->next + 1) % MEMO_SLOTS;
    if (m->used < MEMO_SLOTS)
        m->used++;
    pthread_mutex_unlock(&m->lock);
}

static bool cert_sig_ok(dcap_sig_memo *memo, X509 *cert, X509 *signer)
{
    uint8_t d[32];
    unsigned int n = 0;
    bool memo_ok = memo != NULL && X509_digest(cert, EVP_sha256(), d, &n) == 1 && n == 32;

    if (memo_ok && dcap_sig_memo_check(memo, d, signer))
        return true;
    if (X509_get0_pubkey(signer) == NULL || X509_verify(cert, X509_get0_pubkey(signer)) != 1)
        return false;
    if (memo_ok)
        dcap_sig_memo_add(memo, d, signer);
    return true;
}

static bool crl_sig_ok(dcap_sig_memo *memo, X509_CRL *crl, X509 *signer)
{
    uint8_t d[32];
    unsigned int n = 0;
    bool memo_ok = memo != NULL && X509_CRL_digest(crl, EVP_sha256(), d, &n) == 1 && n == 32;

    if (memo_ok && dcap_sig_memo_check(memo, d, signer))
        return true;
    if (X509_get0_pubkey(signer) == NULL || X509_CRL_verify(crl, X509_get0_pubkey(signer)) != 1)
        return false;
    if (memo_ok)
        dcap_sig_memo_add(memo, d, signer);
    return true;
}

/* ---- PEM and CRL parsing -------------------------------------------------------------------- */

STACK_OF(X509) * dcap_pem_certs(const char *pem, size_t len, int max, char *why, size_t why_len)
{
    OSSL_LIB_CTX *lib = dstack_untrusted_acquire();
    BIO *bio = len <= 0x7fffffff ? BIO_new_mem_buf(pem, (int)len) : NULL;
    STACK_OF(X509) *certs = sk_X509_new_null();
    char *name = NULL, *header = NULL;
    unsigned char *data = NULL;
    long n;
    unsigned long e;

    ERR_set_mark();
    if (lib == NULL || bio == NULL || certs == NULL) {
        snprintf(why, why_len, "out of memory");
        goto err;
    }
    /* Any label counts, as for dcap-qvl's PEM reader; text between blocks is ignored. */
    while (PEM_read_bio(bio, &name, &header, &data, &n) == 1) {
        X509 *cert = dstack_untrusted_x509_der(lib, data, (size_t)n);

        OPENSSL_free(name);
        OPENSSL_free(header);
        OPENSSL_free(data);
        name = header = NULL;
        data = NULL;
        if (cert == NULL || sk_X509_num(certs) >= max || sk_X509_push(certs, cert) <= 0) {
            X509_free(cert);
            snprintf(why, why_len,
                     "Failed to parse certs: a PEM block is not a certificate or "
                     "there are more than %d",
                     max);
            goto err;
        }
    }
    e = ERR_peek_last_error();
    if (ERR_GET_LIB(e) != ERR_LIB_PEM || ERR_GET_REASON(e) != PEM_R_NO_START_LINE) {
        snprintf(why, why_len, "Failed to parse certs: malformed PEM block");
        goto err;
    }
    ERR_pop_to_mark();
    BIO_free(bio);
    dstack_untrusted_release(lib);
    return certs;
err:
    ERR_pop_to_mark();
    BIO_free(bio);
    sk_X509_pop_free(certs, X509_free);
    dstack_untrusted_release(lib);
    return NULL;
}

static bool crl_fail(char *why, size_t why_len, const char *what)
{
    snprintf(why, why_len, "Failed to parse CRL: %s", what);
    return false;
}

static bool crl_extensions_ok(X509_CRL *crl, char *why, size_t why_len)
{
    ISSUING_DIST_POINT *idp;
    int crit = 0;

    if (X509_CRL_get_ext_count(crl) <= 0)
        return crl_fail(why, why_len, "no CRL extensions");
    for (int i = 0; i < X509_CRL_get_ext_count(crl); i++) {
        X509_EXTENSION *ext = X509_CRL_get_ext(crl, i);
        int nid = OBJ_obj2nid(X509_EXTENSION_get_object(ext));

        if (nid == NID_delta_crl)
            return crl_fail(why, why_len, "delta CRLs are not supported");
        if (X509_EXTENSION_get_critical(ext) && nid != NID_crl_number &&
            nid != NID_authority_key_identifier && nid != NID_issuing_distribution_point)
            return crl_fail(why, why_len, "unsupported critical CRL extension");
    }
    idp = X509_CRL_get_ext_d2i(crl, NID_issuing_distribution_point, &crit, NULL);
    if (idp == NULL && crit != -1)
        return crl_fail(why, why_len, "malformed issuing distribution point");
    if (idp != NULL) {
        bool bad = idp->onlysomereasons != NULL || idp->indirectCRL || idp->onlyattr;

        ISSUING_DIST_POINT_free(idp);
        if (bad)
            return crl_fail(why, why_len, "indirect, reason-partitioned or attribute CRL");
    }
    return true;
}

static bool crl_entries_ok(X509_CRL *crl, char *why, size_t why_len)
{
    STACK_OF(X509_REVOKED) *revoked = X509_CRL_get_REVOKED(crl);

    for (int i = 0; i < sk_X509_REVOKED_num(revoked); i++) {
        X509_REVOKED *r = sk_X509_REVOKED_value(revoked, i);

        for (int j = 0; j < X509_REVOKED_get_ext_count(r); j++) {
            X509_EXTENSION *ext = X509_REVOKED_get_ext(r, j);
            int nid = OBJ_obj2nid(X509_EXTENSION_get_object(ext));

            if (nid == NID_certificate_issuer)
                return crl_fail(why, why_len, "indirect CRL entries are not supported");
            if (nid == NID_crl_reason) {
                ASN1_ENUMERATED *reason = X509_REVOKED_get_ext_d2i(r, NID_crl_reason, NULL, NULL);
                long code = reason != NULL ? ASN1_ENUMERATED_get(reason) : -1;

                ASN1_ENUMERATED_free(reason);
                if (code < 0 || code > 10 || code == 7)
                    return crl_fail(why, why_len, "invalid revocation reason code");
            } else if (X509_EXTENSION_get_critical(ext) && nid != NID_invalidity_date) {
                return crl_fail(why, why_len, "unsupported critical CRL entry extension");
            }
        }
    }
    return true;
}

X509_CRL *dcap_crl_parse(const uint8_t *der, size_t len, char *why, size_t why_len)
{
    OSSL_LIB_CTX *lib = dstack_untrusted_acquire();
    const unsigned char *p = der;
    X509_CRL *crl = NULL, *read = NULL;
    bool ok = false;

    ERR_set_mark();
    if (lib == NULL || der == NULL || len == 0 || len > 0x7fffffff) {
        crl_fail(why, why_len, "empty");
        goto done;
    }
    crl = X509_CRL_new_ex(lib, NULL);
    read = crl != NULL ? d2i_X509_CRL(&crl, &p, (long)len) : NULL;
    if (read == NULL || p != der + len) {
        crl_fail(why, why_len, "not one DER CRL");
        goto done;
    }
    if (X509_CRL_get_version(crl) != 1) {
        crl_fail(why, why_len, "not a v2 CRL");
        goto done;
    }
    if (X509_CRL_get0_nextUpdate(crl) == NULL) {
        crl_fail(why, why_len, "no nextUpdate");
        goto done;
    }
    if (!crl_extensions_ok(crl, why, why_len) || !crl_entries_ok(crl, why, why_len))
        goto done;
    ok = true;
done:
    ERR_pop_to_mark();
    dstack_untrusted_release(lib);
    if (!ok) {
        X509_CRL_free(read != NULL ? read : crl);
        return NULL;
    }
    return crl;
}

/* ---- chains --------------------------------------------------------------------------------- */

static bool name_eq(const X509_NAME *a, const X509_NAME *b)
{
    const unsigned char *da, *db;
    size_t la, lb;

    return X509_NAME_get0_der(a, &da, &la) == 1 && X509_NAME_get0_der(b, &db, &lb) == 1 &&
           la == lb && memcmp(da, db, la) == 0;
}

static void subject_cn(X509 *x, char *out, size_t len)
{
    if (X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, out, (int)len) < 0)
        snprintf(out, len, "(no CN)");
}

static bool chain_fail(char *why, size_t why_len, const char *error, X509 *x)
{
    char cn[96] = "no certificate";

    if (x != NULL)
        subject_cn(x, cn, sizeof(cn));
    snprintf(why, why_len, "Failed to verify certificate chain: %s (%s)", error, cn);
    return false;
}

static const char *validity_error(X509 *x, int64_t now)
{
    int64_t nb, na;

    if (!dcap_asn1_time(X509_get0_notBefore(x), &nb) || !dcap_asn1_time(X509_get0_notAfter(x), &na))
        return "BadDerTime";
    if (now < nb)
        return "CertNotValidYet";
    if (now > na)
        return "CertExpired";
    return NULL;
}

/* webpki's checks that do not depend on the issuer; `as_ca` with the number of CAs below. */
static const char *own_error(X509 *x, int64_t now, bool as_ca, int sub_cas)
{
    uint32_t flags = X509_get_extension_flags(x);
    const char *e;
    long pathlen;

    if (flags & EXFLAG_INVALID)
        return "BadDer";
    if (X509_get_version(x) != 2)
        return "UnsupportedCertVersion";
    if ((e = validity_error(x, now)) != NULL)
        return e;
    for (int i = 0; i < X509_get_ext_count(x); i++) {
        X509_EXTENSION *ext = X509_get_ext(x, i);
        int nid = OBJ_obj2nid(X509_EXTENSION_get_object(ext));

        if (X509_EXTENSION_get_critical(ext) && nid != NID_key_usage &&
            nid != NID_subject_alt_name && nid != NID_basic_constraints &&
            nid != NID_name_constraints && nid != NID_crl_distribution_points &&
            nid != NID_ext_key_usage)
            return "UnsupportedCriticalExtension";
    }
    if ((flags & EXFLAG_XKUSAGE) && !(X509_get_extended_key_usage(x) & XKU_SSL_SERVER))
        return "RequiredEkuNotFound";
    if (!as_ca)
        return (flags & EXFLAG_CA) ? "CaUsedAsEndEntity" : NULL;
    if (!(flags & EXFLAG_CA))
        return "EndEntityUsedAsCa";
    pathlen = X509_get_pathlen(x);
    if (pathlen >= 0 && sub_cas > pathlen)
        return "PathLenConstraintViolated";
    return NULL;
}

/* URIs of a GENERAL_NAMES list intersect those of a CRL distribution point list. */
static bool uri_in(const GENERAL_NAMES *names, const STACK_OF(DIST_POINT) * dps)
{
    for (int i = 0; i < sk_GENERAL_NAME_num(names); i++) {
        const GENERAL_NAME *a = sk_GENERAL_NAME_value(names, i);

        if (a->type != GEN_URI)
            continue;
        for (int j = 0; j < sk_DIST_POINT_num(dps); j++) {
            const DIST_POINT *dp = sk_DIST_POINT_value(dps, j);

            if (dp->distpoint == NULL || dp->distpoint->type != 0)
                continue;
            for (int k = 0; k < sk_GENERAL_NAME_num(dp->distpoint->name.fullname); k++) {
                const GENERAL_NAME *b = sk_GENERAL_NAME_value(dp->distpoint->name.fullname, k);

                if (b->type == GEN_URI && ASN1_STRING_cmp(a->d.uniformResourceIdentifier,
                                                          b->d.uniformResourceIdentifier) == 0)
                    return true;
            }
        }
    }
    return false;
}

/* Whether `crl` speaks for `x` (webpki's authoritative_for): same issuer name and, when the CRL
 * has an issuing distribution point, a matching scope and distribution point. */
static bool authoritative(X509_CRL *crl, X509 *x)
{
    ISSUING_DIST_POINT *idp;
    bool ok = true;

    if (!name_eq(X509_CRL_get_issuer(crl), X509_get_issuer_name(x)))
        return false;
    idp = X509_CRL_get_ext_d2i(crl, NID_issuing_distribution_point, NULL, NULL);
    if (idp == NULL)
        return true;
    if ((idp->onlyuser && (X509_get_extension_flags(x) & EXFLAG_CA)) ||
        (idp->onlyCA && !(X509_get_extension_flags(x) & EXFLAG_CA)))
        ok = false;
    if (ok && idp->distpoint != NULL) {
        STACK_OF(DIST_POINT) *dps = X509_get_ext_d2i(x, NID_crl_distribution_points, NULL, NULL);

        ok = idp->distpoint->type == 0 && dps != NULL && uri_in(idp->distpoint->name.fullname, dps);
        sk_DIST_POINT_pop_free(dps, DIST_POINT_free);
    }
    ISSUING_DIST_POINT_free(idp);
    return ok;
}

/* Revocation of `x` issued by `signer` (`issuer` is the same certificate, or NULL when the
 * signer is the anchor, whose key usage is not looked at). */
static const char *revocation_error(const dcap_chain_ctx *c, X509 *x, X509 *signer, X509 *issuer)
{
    X509_CRL *crl = NULL;
    X509_REVOKED *entry = NULL;
    int64_t next;

    for (int i = 0; i < 2 && crl == NULL; i++) {
        if (c->crls[i] != NULL && authoritative(c->crls[i], x))
            crl = c->crls[i];
    }
    if (crl == NULL)
        return "UnknownRevocationStatus";
    if (!crl_sig_ok(c->memo, crl, signer))
        return "InvalidCrlSignatureForPublicKey";
    if (!dcap_asn1_time(X509_CRL_get0_nextUpdate(crl), &next) || c->now >= next)
        return "CrlExpired";
    if (issuer != NULL && (X509_get_extension_flags(issuer) & EXFLAG_KUSAGE) &&
        !(X509_get_key_usage(issuer) & KU_CRL_SIGN))
        return "IssuerNotCrlSigner";
    if (X509_CRL_get0_by_serial(crl, &entry, X509_get0_serialNumber(x)) > 0)
        return "CertRevoked";
    return NULL;
}

typedef struct walk {
    const dcap_chain_ctx *c;
    STACK_OF(X509) * pool;
    X509 *path[MAX_PATH];
    int n;
    char *why;
    size_t why_len;
    bool have_error;
} walk;

static void walk_error(walk *w, const char *error, X509 *x)
{
    if (!w->have_error)
        chain_fail(w->why, w->why_len, error, x);
    w->have_error = true;
}

/* The path w->path[0..n) ends at a certificate issued by the anchor: signatures, then
 * revocation of every certificate on it. */
static bool check_path(walk *w)
{
    const char *e;

    for (int i = 0; i < w->n; i++) {
        X509 *issuer = i + 1 < w->n ? w->path[i + 1] : NULL;

        if (!cert_sig_ok(w->c->memo, w->path[i], issuer != NULL ? issuer : w->c->anchor)) {
            walk_error(w, "BadSignature", w->path[i]);
            return false;
        }
    }
    for (int i = 0; i < w->n; i++) {
        X509 *issuer = i + 1 < w->n ? w->path[i + 1] : NULL;

        if ((e = revocation_error(w->c, w->path[i], issuer != NULL ? issuer : w->c->anchor,
                                  issuer)) != NULL) {
            walk_error(w, e, w->path[i]);
            return false;
        }
    }
    return true;
}

static bool on_path(const walk *w, X509 *x)
{
    for (int i = 0; i < w->n; i++) {
        if (X509_cmp(w->path[i], x) == 0)
            return true;
    }
    return false;
}

/* Extends the path from its top certificate: the anchor first, then each intermediate named
 * as its issuer (depth-first, as webpki builds paths). */
static bool extend(walk *w)
{
    X509 *top = w->path[w->n - 1];
    const char *e;

    if (name_eq(X509_get_issuer_name(top), X509_get_subject_name(w->c->anchor)) && check_path(w))
        return true;
    if (w->n >= MAX_PATH)
        return false;
    for (int i = 0; i < sk_X509_num(w->pool); i++) {
        X509 *cand = sk_X509_value(w->pool, i);

        if (!name_eq(X509_get_issuer_name(top), X509_get_subject_name(cand)) || on_path(w, cand))
            continue;
        if ((e = own_error(cand, w->c->now, true, w->n - 1)) != NULL) {
            walk_error(w, e, cand);
            continue;
        }
        w->path[w->n++] = cand;
        if (extend(w))
            return true;
        w->n--;
    }
    return false;
}

bool dcap_chain_verify(const dcap_chain_ctx *c, STACK_OF(X509) * certs, char *why, size_t why_len)
{
    walk w = {c, NULL, {NULL}, 0, why, why_len, false};
    X509 *leaf = sk_X509_value(certs, 0);
    const char *e;
    bool ok;

    if (leaf == NULL)
        return chain_fail(why, why_len, "no certificate", NULL);
    if ((e = own_error(leaf, c->now, false, 0)) != NULL)
        return chain_fail(why, why_len, e, leaf);
    w.pool = sk_X509_new_null();
    if (w.pool == NULL) {
        snprintf(why, why_len, "out of memory");
        return false;
    }
    for (int i = 1; i < sk_X509_num(certs); i++)
        sk_X509_push(w.pool, sk_X509_value(certs, i));
    w.path[w.n++] = leaf;
    ok = extend(&w);
    if (!ok && !w.have_error)
        chain_fail(why, why_len, "UnknownIssuer", leaf);
    sk_X509_free(w.pool);
    return ok;
}

bool dcap_root_crl_check(const dcap_chain_ctx *c, char *why, size_t why_len)
{
    const char *e = revocation_error(c, c->anchor, c->anchor, NULL);
    char cn[96];

    if (e == NULL)
        return true;
    subject_cn(c->anchor, cn, sizeof(cn));
    snprintf(why, why_len, "Root CA CRL check failed: %s%s%s%s", e,
             strcmp(e, "UnknownRevocationStatus") == 0 ? " (no CRL of the collateral is issued by "
                                                         "the trusted root, "
                                                       : "",
             strcmp(e, "UnknownRevocationStatus") == 0 ? cn : "",
             strcmp(e, "UnknownRevocationStatus") == 0 ? ": collateral for another root?)" : "");
    return false;
}
