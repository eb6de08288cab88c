#include "collateral_forge.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include <dstack/keys.h>

#include "crypto/pkey_util.h"

#define OID_SGX_EXT "1.2.840.113741.1.13.1"

static const uint8_t default_qe_mrsigner[32] = {
    0xdc, 0x9e, 0x2a, 0x7c, 0x6f, 0x94, 0x8f, 0x17, 0x47, 0x4e, 0x34, 0xa7, 0xfc, 0x43, 0xed, 0x03,
    0x0f, 0x7c, 0x15, 0x63, 0xf1, 0xba, 0xbd, 0xdf, 0x63, 0x40, 0xc8, 0x2e, 0x0e, 0x54, 0xa8, 0xc5};
#define DEFAULT_QE_MRSIGNER_HEX "DC9E2A7C6F948F17474E34A7FC43ED030F7C1563F1BABDDF6340C82E0E54A8C5"

/* ---- a growable text ------------------------------------------------------------------------ */

typedef struct sb {
    char *p;
    size_t n, cap;
} sb;

static void sb_printf(sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_printf(sb *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    QF_REQUIRE(n >= 0);
    if (b->n + (size_t)n + 1 > b->cap) {
        b->cap = (b->n + (size_t)n + 1) * 2;
        b->p = realloc(b->p, b->cap);
        QF_REQUIRE(b->p != NULL);
    }
    va_start(ap, fmt);
    vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
    va_end(ap);
    b->n += (size_t)n;
}

static void sb_json_string(sb *b, const char *s)
{
    sb_printf(b, "\"");
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            sb_printf(b, "\\%c", *s);
        else if (*s == '\n')
            sb_printf(b, "\\n");
        else
            sb_printf(b, "%c", *s);
    }
    sb_printf(b, "\"");
}

static void sb_hex(sb *b, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sb_printf(b, "%02x", p[i]);
}

void cf_rfc3339(int64_t t, char out[21])
{
    time_t tt = (time_t)t;
    struct tm tm;

    gmtime_r(&tt, &tm);
    strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- the PKI -----------------------------------------------------------------------------------
 */

void cf_platform_default(cf_platform *p)
{
    static const uint8_t cpusvn[16] = {3, 3, 2, 2, 4, 1, 0, 5};
    static const uint8_t fmspc[6] = {0x90, 0xc0, 0x6f, 0, 0, 0};

    memset(p, 0, sizeof(*p));
    memcpy(p->cpusvn, cpusvn, 16);
    p->pcesvn = 13;
    memcpy(p->fmspc, fmspc, 6);
    p->not_before = QF_NOT_BEFORE;
    p->not_after = QF_NOT_AFTER;
}

/* DER TLV into out (short or two-byte long form); returns the bytes written. */
static size_t tlv(uint8_t *out, uint8_t tag, const uint8_t *v, size_t n)
{
    size_t h = 2;

    out[0] = tag;
    if (n < 0x80) {
        out[1] = (uint8_t)n;
    } else if (n < 0x100) {
        out[1] = 0x81, out[2] = (uint8_t)n, h = 3;
    } else {
        out[1] = 0x82, out[2] = (uint8_t)(n >> 8), out[3] = (uint8_t)n, h = 4;
    }
    memmove(out + h, v, n);
    return h + n;
}

/* SEQUENCE { OID 1.2.840.113741.1.13.1.<arcs>, <tag> v } */
static size_t pair(uint8_t *out, const uint8_t *arcs, size_t n_arcs, uint8_t tag, const uint8_t *v,
                   size_t n)
{
    uint8_t oid[16] = {0x2a, 0x86, 0x48, 0x86, 0xf8, 0x4d, 0x01, 0x0d, 0x01}, inner[1100];
    size_t len;

    memcpy(oid + 9, arcs, n_arcs);
    len = tlv(inner, 0x06, oid, 9 + n_arcs);
    len += tlv(inner + len, tag, v, n);
    return tlv(out, 0x30, inner, len);
}

/* Intel's SGX extension value (an encoder of the tests' own, independent of libdstack's). */
static size_t sgx_ext(const cf_platform *p, uint8_t *out)
{
    static const uint8_t ppid[16] = "test PPID 012345";
    uint8_t tcb[1024], all[1536], arcs[2] = {2, 0}, v[3], sgx_type = 1;
    size_t t = 0, a = 0, n;

    for (int i = 0; i < 16; i++) {
        arcs[1] = (uint8_t)(i + 1);
        n = 0;
        if (p->cpusvn[i] & 0x80) /* INTEGERs are signed */
            v[n++] = 0;
        v[n++] = p->cpusvn[i];
        t += pair(tcb + t, arcs, 2, 0x02, v, n);
    }
    arcs[1] = 17; /* PCESVN: a minimal DER INTEGER */
    n = 0;
    if (p->pcesvn >= 0x8000 || (p->pcesvn >= 0x80 && p->pcesvn < 0x100))
        v[n++] = 0;
    if (p->pcesvn >= 0x100)
        v[n++] = (uint8_t)(p->pcesvn >> 8);
    v[n++] = (uint8_t)p->pcesvn;
    t += pair(tcb + t, arcs, 2, 0x02, v, n);
    arcs[1] = 18;
    t += pair(tcb + t, arcs, 2, 0x04, p->cpusvn, 16);
    arcs[0] = 1;
    a += pair(all + a, arcs, 1, 0x04, ppid, 16);
    arcs[0] = 2;
    a += pair(all + a, arcs, 1, 0x30, tcb, t);
    arcs[0] = 3;
    a += pair(all + a, arcs, 1, 0x04, p->pceid, 2);
    arcs[0] = 4;
    a += pair(all + a, arcs, 1, 0x04, p->fmspc, 6);
    arcs[0] = 5;
    a += pair(all + a, arcs, 1, 0x0a, &sgx_type, 1);
    return tlv(out, 0x30, all, a);
}

static X509 *cert(const char *cn, bool ca, int pathlen, int64_t nb, int64_t na, EVP_PKEY *key,
                  EVP_PKEY *issuer_key, X509 *issuer)
{
    dstack_cert_spec spec;
    X509 *x = NULL;

    memset(&spec, 0, sizeof(spec));
    spec.common_name = cn;
    spec.organization = "dstack tests";
    spec.is_ca = ca;
    spec.ca_pathlen = pathlen;
    spec.not_before = nb;
    spec.not_after = na;
    spec.serial_from_key = true;
    QF_REQUIRE(dstack_cert_build(&spec, key, issuer_key, issuer, &x, NULL) == DSTACK_OK);
    return x;
}

void cf_pki_init(cf_pki *p, uint8_t seed, const cf_platform *plat)
{
    cf_platform def;
    uint8_t der[2048];
    size_t n;
    ASN1_OBJECT *obj = OBJ_txt2obj(OID_SGX_EXT, 1);
    ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
    X509_EXTENSION *ext;
    X509 *certs[3];

    if (plat == NULL) {
        cf_platform_default(&def);
        plat = &def;
    }
    memset(p, 0, sizeof(*p));
    p->root_key = qf_p256(seed);
    p->tcb_key = qf_p256((uint8_t)(seed + 1));
    p->ca_key = qf_p256((uint8_t)(seed + 2));
    p->pck_key = qf_p256((uint8_t)(seed + 3));
    p->att_key = qf_p256((uint8_t)(seed + 4));
    p->root = cert("Test SGX Root CA (test, not Intel)", true, 1, QF_NOT_BEFORE, QF_NOT_AFTER,
                   p->root_key, NULL, NULL);
    p->tcb = cert("Test SGX TCB Signing (test, not Intel)", false, -1, QF_NOT_BEFORE, QF_NOT_AFTER,
                  p->tcb_key, p->root_key, p->root);
    p->ca = cert("Test SGX PCK Platform CA (test, not Intel)", true, 0, QF_NOT_BEFORE, QF_NOT_AFTER,
                 p->ca_key, p->root_key, p->root);
    p->pck = cert("Test SGX PCK Certificate (test, not Intel)", false, -1, plat->not_before,
                  plat->not_after, p->pck_key, p->ca_key, p->ca);
    n = sgx_ext(plat, der);
    QF_REQUIRE(obj != NULL && os != NULL && ASN1_OCTET_STRING_set(os, der, (int)n) == 1);
    ext = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, os);
    QF_REQUIRE(ext != NULL && X509_add_ext(p->pck, ext, -1) == 1);
    QF_REQUIRE(X509_sign(p->pck, p->ca_key, EVP_sha256()) > 0);
    X509_EXTENSION_free(ext);
    ASN1_OCTET_STRING_free(os);
    ASN1_OBJECT_free(obj);
    p->root_pem = qf_pem_of(&p->root, 1);
    certs[0] = p->tcb, certs[1] = p->root;
    p->tcb_chain_pem = qf_pem_of(certs, 2);
    certs[0] = p->ca;
    p->ca_chain_pem = qf_pem_of(certs, 2);
    certs[0] = p->pck, certs[1] = p->ca, certs[2] = p->root;
    p->pck_chain_pem = qf_pem_of(certs, 3);
}

void cf_pki_free(cf_pki *p)
{
    EVP_PKEY_free(p->root_key);
    EVP_PKEY_free(p->tcb_key);
    EVP_PKEY_free(p->ca_key);
    EVP_PKEY_free(p->pck_key);
    EVP_PKEY_free(p->att_key);
    X509_free(p->root);
    X509_free(p->tcb);
    X509_free(p->ca);
    X509_free(p->pck);
    free(p->root_pem);
    free(p->tcb_chain_pem);
    free(p->ca_chain_pem);
    free(p->pck_chain_pem);
    memset(p, 0, sizeof(*p));
}

/* ---- quotes ------------------------------------------------------------------------------------
 */

void cf_quote_spec_default(cf_quote_spec *s)
{
    static const uint8_t svn[16] = {6, 1, 3};

    memset(s, 0, sizeof(*s));
    s->version = 4;
    s->body_type = 2;
    memcpy(s->tee_tcb_svn, svn, 16);
    s->td_attributes[3] = 0x10; /* SEPT_VE_DISABLE */
    memcpy(s->report_data, "cf quote", 8);
    memcpy(s->qe_mrsigner, default_qe_mrsigner, 32);
    s->qe_isvprodid = 2;
    s->qe_isvsvn = 8;
    s->qe_attributes[0] = 0x11;
    s->qe_auth_len = 32;
}

uint8_t *cf_quote(const cf_pki *p, const cf_quote_spec *s, size_t *len)
{
    static const uint8_t vendor[16] = {0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9,
                                       0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07};
    size_t body_off = s->version == 5 ? 54 : 48;
    size_t body_len = s->version == 5 && s->body_type == 3 ? 648 : 584;
    size_t signed_len = body_off + body_len, pem_len = strlen(p->pck_chain_pem) + 1;
    size_t cert_len = 384 + 64 + 2 + s->qe_auth_len + 6 + pem_len;
    size_t sig_len = 64 + 64 + 6 + cert_len;
    uint8_t *q = calloc(1, signed_len + 4 + sig_len), *body, *sig, *qe, *at, pt[65];
    uint8_t *bind = malloc(64 + s->qe_auth_len);
    size_t ptlen = 0;

    QF_REQUIRE(q != NULL && bind != NULL);
    qf_put_le(q, (uint32_t)s->version, 2);
    qf_put_le(q + 2, 2, 2);
    qf_put_le(q + 4, 0x81, 4);
    memcpy(q + 12, vendor, 16);
    if (s->version == 5) {
        qf_put_le(q + 48, (uint32_t)s->body_type, 2);
        qf_put_le(q + 50, (uint32_t)body_len, 4);
    }
    body = q + body_off;
    memcpy(body, s->tee_tcb_svn, 16);
    SHA384((const uint8_t *)"dstack tests MRSEAM", 19, body + 16);
    memcpy(body + 64, s->mr_signer_seam, 48);
    memcpy(body + 112, s->seam_attributes, 8);
    memcpy(body + 120, s->td_attributes, 8);
    body[128] = 0xe7, body[129] = 0x02, body[130] = 0x06; /* XFAM */
    SHA384((const uint8_t *)"dstack tests MRTD", 17, body + 136);
    memcpy(body + 328, s->rtmr, sizeof(s->rtmr));
    memcpy(body + 520, s->report_data, 64);
    if (body_len == 648)
        memcpy(body + 600, s->mr_servicetd, 48);
    qf_put_le(q + signed_len, (uint32_t)sig_len, 4);
    sig = q + signed_len + 4;
    QF_REQUIRE(EVP_PKEY_get_octet_string_param(p->att_key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pt,
                                               sizeof(pt), &ptlen) == 1 &&
               ptlen == 65);
    memcpy(sig + 64, pt + 1, 64);
    qf_put_le(sig + 128, 6, 2);
    qf_put_le(sig + 130, (uint32_t)cert_len, 4);
    qe = sig + 134;
    qf_put_le(qe + 16, s->qe_miscselect, 4);
    memcpy(qe + 48, s->qe_attributes, 16);
    SHA256((const uint8_t *)"dstack tests QE", 15, qe + 64);
    memcpy(qe + 128, s->qe_mrsigner, 32);
    qf_put_le(qe + 256, s->qe_isvprodid, 2);
    qf_put_le(qe + 258, s->qe_isvsvn, 2);
    at = qe + 384 + 64;
    qf_put_le(at, (uint32_t)s->qe_auth_len, 2);
    memset(at + 2, 0xa5, s->qe_auth_len);
    memcpy(bind, pt + 1, 64);
    memcpy(bind + 64, at + 2, s->qe_auth_len);
    SHA256(bind, 64 + s->qe_auth_len, qe + 320);
    qf_sign_raw(p->pck_key, qe, 384, qe + 384);
    at += 2 + s->qe_auth_len;
    qf_put_le(at, 5, 2);
    qf_put_le(at + 2, (uint32_t)pem_len, 4);
    memcpy(at + 6, p->pck_chain_pem, pem_len);
    qf_sign_raw(p->att_key, q, signed_len, sig);
    free(bind);
    *len = signed_len + 4 + sig_len;
    return q;
}

/* ---- TCB info and QE identity ------------------------------------------------------------------
 */

static const char zero48_hex[] = "000000000000000000000000000000000000000000000000"
                                 "000000000000000000000000000000000000000000000000";

void cf_tcb_spec_default(cf_tcb_spec *s)
{
    cf_platform plat;
    cf_quote_spec q;

    cf_platform_default(&plat);
    cf_quote_spec_default(&q);
    memset(s, 0, sizeof(*s));
    s->id = "TDX";
    s->version = 3;
    s->issue = CF_ISSUE;
    s->next = CF_NEXT;
    s->fmspc = "90C06F000000";
    s->pce_id = "0000";
    memcpy(s->levels[0].sgx, plat.cpusvn, 16);
    s->levels[0].pcesvn = plat.pcesvn;
    memcpy(s->levels[0].tdx, q.tee_tcb_svn, 16);
    s->levels[0].status = "UpToDate";
    s->n_levels = 1;
    s->module_mrsigner = zero48_hex;
    s->module_attributes = "0000000000000000";
    s->module_mask = "FFFFFFFFFFFFFFFF";
    s->module_levels[0] = (cf_module_level){5, "UpToDate", NULL};
    s->n_module_levels = 1;
}

static void components(sb *b, const char *key, const uint8_t svn[16])
{
    sb_printf(b, "\"%s\":[", key);
    for (int i = 0; i < 16; i++)
        sb_printf(b, "%s{\"svn\":%u}", i ? "," : "", svn[i]);
    sb_printf(b, "]");
}

static void status(sb *b, const char *st, const char *adv)
{
    sb_printf(b, ",\"tcbDate\":\"2025-05-14T00:00:00Z\",\"tcbStatus\":\"%s\"", st);
    if (adv != NULL)
        sb_printf(b, ",\"advisoryIDs\":%s", adv);
}

char *cf_tcb_info_text(const cf_tcb_spec *s)
{
    char issue[21], next[21];
    sb b = {0};

    cf_rfc3339(s->issue, issue);
    cf_rfc3339(s->next, next);
    sb_printf(&b,
              "{\"id\":\"%s\",\"version\":%u,\"issueDate\":\"%s\",\"nextUpdate\":\"%s\","
              "\"fmspc\":\"%s\",\"pceId\":\"%s\",\"tcbType\":0,\"tcbEvaluationDataNumber\":17",
              s->id, s->version, issue, next, s->fmspc, s->pce_id);
    if (!s->no_module)
        sb_printf(&b,
                  ",\"tdxModule\":{\"mrsigner\":\"%s\",\"attributes\":\"%s\","
                  "\"attributesMask\":\"%s\"}",
                  s->module_mrsigner, s->module_attributes, s->module_mask);
    if (s->n_module_levels > 0) {
        sb_printf(&b,
                  ",\"tdxModuleIdentities\":[{\"id\":\"TDX_01\",\"mrsigner\":\"%s\","
                  "\"attributes\":\"%s\",\"attributesMask\":\"%s\",\"tcbLevels\":[",
                  s->module_mrsigner, s->module_attributes, s->module_mask);
        for (size_t i = 0; i < s->n_module_levels; i++) {
            sb_printf(&b, "%s{\"tcb\":{\"isvsvn\":%u}", i ? "," : "", s->module_levels[i].isvsvn);
            status(&b, s->module_levels[i].status, s->module_levels[i].advisories);
            sb_printf(&b, "}");
        }
        sb_printf(&b, "]}]");
    }
    sb_printf(&b, ",\"tcbLevels\":[");
    for (size_t i = 0; i < s->n_levels; i++) {
        sb_printf(&b, "%s{\"tcb\":{", i ? "," : "");
        components(&b, "sgxtcbcomponents", s->levels[i].sgx);
        sb_printf(&b, ",\"pcesvn\":%u,", s->levels[i].pcesvn);
        components(&b, "tdxtcbcomponents", s->levels[i].tdx);
        sb_printf(&b, "}");
        status(&b, s->levels[i].status, s->levels[i].advisories);
        sb_printf(&b, "}");
    }
    sb_printf(&b, "]}");
    return b.p;
}

void cf_qe_spec_default(cf_qe_spec *s)
{
    memset(s, 0, sizeof(*s));
    s->id = "TD_QE";
    s->version = 2;
    s->issue = CF_ISSUE;
    s->next = CF_NEXT;
    s->mrsigner = DEFAULT_QE_MRSIGNER_HEX;
    s->attributes = "11000000000000000000000000000000";
    s->attributes_mask = "FBFFFFFFFFFFFFFF0000000000000000";
    s->miscselect = "00000000";
    s->miscselect_mask = "FFFFFFFF";
    s->isvprodid = 2;
    s->levels[0] = (cf_qe_level){8, "UpToDate", NULL};
    s->levels[1] = (cf_qe_level){4, "OutOfDate", "[\"INTEL-SA-00615\"]"};
    s->n_levels = 2;
}

char *cf_qe_identity_text(const cf_qe_spec *s)
{
    char issue[21], next[21];
    sb b = {0};

    cf_rfc3339(s->issue, issue);
    cf_rfc3339(s->next, next);
    sb_printf(&b,
              "{\"id\":\"%s\",\"version\":%u,\"issueDate\":\"%s\",\"nextUpdate\":\"%s\","
              "\"tcbEvaluationDataNumber\":17,\"miscselect\":\"%s\",\"miscselectMask\":\"%s\","
              "\"attributes\":\"%s\",\"attributesMask\":\"%s\",\"mrsigner\":\"%s\","
              "\"isvprodid\":%u,\"tcbLevels\":[",
              s->id, s->version, issue, next, s->miscselect, s->miscselect_mask, s->attributes,
              s->attributes_mask, s->mrsigner, s->isvprodid);
    for (size_t i = 0; i < s->n_levels; i++) {
        sb_printf(&b, "%s{\"tcb\":{\"isvsvn\":%u}", i ? "," : "", s->levels[i].isvsvn);
        status(&b, s->levels[i].status, s->levels[i].advisories);
        sb_printf(&b, "}");
    }
    sb_printf(&b, "]}");
    return b.p;
}

/* ---- CRLs and the collateral -------------------------------------------------------------------
 */

uint8_t *cf_crl(X509 *issuer, EVP_PKEY *key, int64_t this_update, int64_t next_update,
                X509 *const *revoked, size_t n, size_t *len)
{
    X509_CRL *crl = X509_CRL_new();
    ASN1_TIME *t1 = ASN1_TIME_set(NULL, (time_t)this_update);
    ASN1_TIME *t2 = ASN1_TIME_set(NULL, (time_t)next_update);
    ASN1_INTEGER *number = ASN1_INTEGER_new();
    unsigned char *der = NULL;
    uint8_t *out;
    int der_len;

    QF_REQUIRE(crl != NULL && t1 != NULL && t2 != NULL && number != NULL);
    QF_REQUIRE(X509_CRL_set_version(crl, 1) == 1 &&
               X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer)) == 1 &&
               X509_CRL_set1_lastUpdate(crl, t1) == 1 && X509_CRL_set1_nextUpdate(crl, t2) == 1);
    for (size_t i = 0; i < n; i++) {
        X509_REVOKED *r = X509_REVOKED_new();

        if (revoked[i] == NULL) {
            X509_REVOKED_free(r);
            continue;
        }
        QF_REQUIRE(
            r != NULL &&
            X509_REVOKED_set_serialNumber(r, (ASN1_INTEGER *)X509_get0_serialNumber(revoked[i])) ==
                1 &&
            X509_REVOKED_set_revocationDate(r, t1) == 1 && X509_CRL_add0_revoked(crl, r) == 1);
    }
    QF_REQUIRE(ASN1_INTEGER_set(number, 1) == 1 &&
               X509_CRL_add1_ext_i2d(crl, NID_crl_number, number, 0, 0) == 1);
    QF_REQUIRE(X509_CRL_sort(crl) == 1 && X509_CRL_sign(crl, key, EVP_sha256()) > 0);
    der_len = i2d_X509_CRL(crl, &der);
    QF_REQUIRE(der_len > 0 && (out = malloc((size_t)der_len)) != NULL);
    memcpy(out, der, (size_t)der_len);
    *len = (size_t)der_len;
    OPENSSL_free(der);
    ASN1_INTEGER_free(number);
    ASN1_TIME_free(t1);
    ASN1_TIME_free(t2);
    X509_CRL_free(crl);
    return out;
}

static void signed_doc(sb *b, const char *name, const char *chain, const char *text, EVP_PKEY *key,
                       bool tamper_sig, bool tamper_text)
{
    uint8_t sig[64];
    char *copy = strdup(text);

    QF_REQUIRE(copy != NULL);
    qf_sign_raw(key, (const uint8_t *)text, strlen(text), sig);
    if (tamper_sig)
        sig[10] ^= 1;
    if (tamper_text) /* tcbEvaluationDataNumber 17 → 16: still valid, and never looked at */
        copy[strstr(copy, "DataNumber\":17") - copy + 13] ^= 1;
    sb_printf(b, ",\"%s_issuer_chain\":", name);
    sb_json_string(b, chain);
    sb_printf(b, ",\"%s\":", name);
    sb_json_string(b, copy);
    sb_printf(b, ",\"%s_signature\":\"", name);
    sb_hex(b, sig, 64);
    sb_printf(b, "\"");
    free(copy);
}

char *cf_collateral_json(const cf_pki *p, const cf_collateral *c)
{
    static const cf_collateral defaults;
    cf_tcb_spec ts;
    cf_qe_spec qs;
    char *tcb = NULL, *qe = NULL;
    uint8_t *root_crl, *pck_crl;
    size_t root_len, pck_len;
    int64_t t1, t2;
    sb b = {0};

    if (c == NULL)
        c = &defaults;
    t1 = c->crl_this ? c->crl_this : CF_ISSUE;
    t2 = c->crl_next ? c->crl_next : CF_NEXT;
    if (c->tcb_info == NULL) {
        cf_tcb_spec_default(&ts);
        tcb = cf_tcb_info_text(&ts);
    }
    if (c->qe_identity == NULL) {
        cf_qe_spec_default(&qs);
        qe = cf_qe_identity_text(&qs);
    }
    root_crl = cf_crl(p->root, p->root_key, t1, t2, c->root_revokes, 2, &root_len);
    pck_crl = cf_crl(p->ca, p->ca_key, t1, t2, c->ca_revokes, 2, &pck_len);
    sb_printf(&b, "{\"pck_crl_issuer_chain\":");
    sb_json_string(&b, p->ca_chain_pem);
    sb_printf(&b, ",\"root_ca_crl\":\"");
    sb_hex(&b, root_crl, root_len);
    sb_printf(&b, "\",\"pck_crl\":\"");
    sb_hex(&b, pck_crl, pck_len);
    sb_printf(&b, "\"");
    signed_doc(&b, "tcb_info", p->tcb_chain_pem, c->tcb_info ? c->tcb_info : tcb, p->tcb_key,
               c->tamper_tcb_signature, c->tamper_tcb_text);
    signed_doc(&b, "qe_identity", p->tcb_chain_pem, c->qe_identity ? c->qe_identity : qe,
               p->tcb_key, c->tamper_qe_signature, c->tamper_qe_text);
    if (c->pck_certificate_chain != NULL) {
        sb_printf(&b, ",\"pck_certificate_chain\":");
        sb_json_string(&b, c->pck_certificate_chain);
    }
    sb_printf(&b, "}");
    free(root_crl);
    free(pck_crl);
    free(tcb);
    free(qe);
    return b.p;
}
