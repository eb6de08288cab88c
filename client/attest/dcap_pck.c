/* Intel's SGX extension of a PCK certificate (OID 1.2.840.113741.1.13.1, protocol.md §5.6): the
 * platform's PPID, CPUSVN, PCESVN, PCE-ID, FMSPC and SGX type, read the way dcap-qvl reads
 * them — each item is the first (OID, value) pair of its SEQUENCE whose OID bytes match, and
 * its value's content bytes are taken whatever their tag — and written for the simulator. */
#include "attest/dcap_internal.h"

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#define SGX_EXT_OID "1.2.840.113741.1.13.1"

/* DER content bytes of the OIDs below 1.2.840.113741.1.13.1 (protocol.md §5.6). */
static const uint8_t oid_base[] = {0x2a, 0x86, 0x48, 0x86, 0xf8, 0x4d, 0x01, 0x0d, 0x01};
#define OID_PPID 1
#define OID_TCB 2
#define OID_PCEID 3
#define OID_FMSPC 4
#define OID_SGX_TYPE 5
#define TCB_PCESVN 17
#define TCB_CPUSVN 18

typedef struct der {
    const uint8_t *p;
    size_t len;
} der;

/* One TLV at the start of `in`: its tag, its content, the whole element, and `in` advanced past
 * it. Single-byte tags, definite lengths only. */
static bool tlv(der *in, uint8_t *tag, der *content, der *whole)
{
    size_t n, hdr = 2;

    if (in->len < 2 || (in->p[0] & 0x1f) == 0x1f)
        return false;
    *tag = in->p[0];
    n = in->p[1];
    if (n & 0x80) {
        size_t bytes = n & 0x7f;

        if (bytes == 0 || bytes > 4 || in->len < 2 + bytes)
            return false;
        n = 0;
        for (size_t i = 0; i < bytes; i++)
            n = n << 8 | in->p[2 + i];
        hdr += bytes;
    }
    if (n > in->len - hdr)
        return false;
    content->p = in->p + hdr;
    content->len = n;
    if (whole != NULL) {
        whole->p = in->p;
        whole->len = hdr + n;
    }
    in->p += hdr + n;
    in->len -= hdr + n;
    return true;
}

/* dcap-qvl's sub-object lookup: `obj` must be a SEQUENCE (of SEQUENCEs of at least two
 * elements up to the match); *value is the second element of the first entry whose first
 * element's content equals `oid`. 0 absent, 1 found, -1 malformed. */
static int lookup(der obj, const uint8_t *oid, size_t oid_len, der *value)
{
    uint8_t tag;
    der seq, content;

    if (!tlv(&obj, &tag, &seq, NULL) || tag != 0x30)
        return -1;
    while (seq.len > 0) {
        der entry, name;

        if (!tlv(&seq, &tag, &entry, NULL) || tag != 0x30 || !tlv(&entry, &tag, &name, NULL) ||
            !tlv(&entry, &tag, &content, value))
            return -1;
        if (name.len == oid_len && memcmp(name.p, oid, oid_len) == 0)
            return 1;
    }
    return 0;
}

/* The content of the value at `path` (arcs below the SGX OID); 0/1/-1 as lookup. */
static int find(der ext, const int *path, int depth, der *out)
{
    uint8_t oid[sizeof(oid_base) + 2], tag;
    size_t oid_len = sizeof(oid_base);
    der obj = ext, whole;
    int rc;

    memcpy(oid, oid_base, sizeof(oid_base));
    for (int i = 0; i < depth; i++) {
        oid[oid_len++] = (uint8_t)path[i];
        if ((rc = lookup(obj, oid, oid_len, &whole)) != 1)
            return rc;
        obj = whole;
    }
    return tlv(&whole, &tag, out, NULL) ? 1 : -1;
}

static bool why_set(char *why, size_t why_len, const char *msg)
{
    snprintf(why, why_len, "%s", msg);
    return false;
}

bool dcap_pck_ext_read(X509 *pck, dcap_pck_ext *out, char *why, size_t why_len)
{
    static const int p_ppid[] = {OID_PPID}, p_cpusvn[] = {OID_TCB, TCB_CPUSVN},
                     p_pcesvn[] = {OID_TCB, TCB_PCESVN}, p_pceid[] = {OID_PCEID},
                     p_fmspc[] = {OID_FMSPC}, p_type[] = {OID_SGX_TYPE};
    ASN1_OBJECT *obj = OBJ_txt2obj(SGX_EXT_OID, 1);
    int idx = obj ? X509_get_ext_by_OBJ(pck, obj, -1) : -1;
    const ASN1_OCTET_STRING *os;
    der ext, v;

    memset(out, 0, sizeof(*out));
    if (idx >= 0 && X509_get_ext_by_OBJ(pck, obj, idx) >= 0) {
        ASN1_OBJECT_free(obj);
        return why_set(why, why_len,
                       "Failed to parse PCK certificate: the Intel extension "
                       "appears more than once");
    }
    ASN1_OBJECT_free(obj);
    if (idx < 0)
        return why_set(why, why_len, "Intel extension not found");
    os = X509_EXTENSION_get_data(X509_get_ext(pck, idx));
    ext.p = ASN1_STRING_get0_data(os);
    ext.len = (size_t)ASN1_STRING_length(os);
    if (find(ext, p_ppid, 1, &v) != 1)
        return why_set(why, why_len, "Intel extension: PPID is missing");
    out->ppid_len = v.len < sizeof(out->ppid) ? v.len : sizeof(out->ppid);
    memcpy(out->ppid, v.p, out->ppid_len);
    if (find(ext, p_cpusvn, 2, &v) != 1 || v.len != 16)
        return why_set(why, why_len, "CpuSvn length mismatch");
    memcpy(out->cpusvn, v.p, 16);
    if (find(ext, p_pcesvn, 2, &v) != 1)
        return why_set(why, why_len, "Failed to find PceSvn");
    if (v.len == 1)
        out->pcesvn = v.p[0];
    else if (v.len == 2)
        out->pcesvn = (uint16_t)(v.p[0] << 8 | v.p[1]);
    else
        return why_set(why, why_len, "PceSvn length mismatch");
    if (find(ext, p_pceid, 1, &v) != 1)
        return why_set(why, why_len, "Intel extension: PCE-ID is missing");
    if (v.len != 2)
        return why_set(why, why_len, "Intel extension: PCE-ID is not 2 bytes");
    memcpy(out->pceid, v.p, 2);
    if (find(ext, p_fmspc, 1, &v) != 1)
        return why_set(why, why_len, "Failed to find Fmspc");
    if (v.len != 6)
        return why_set(why, why_len, "Fmspc length mismatch");
    memcpy(out->fmspc, v.p, 6);
    if (find(ext, p_type, 1, &v) != 1)
        return why_set(why, why_len, "Intel extension: SGX type is missing");
    if (v.len != 1 && v.len != 2)
        return why_set(why, why_len, "Unexpected ENUMERATED length");
    out->sgx_type = v.len == 1 ? v.p[0] : v.p[0] << 8 | v.p[1];
    return true;
}

const char *dcap_pck_ca_kind(X509 *pck)
{
    char dn[512];

    /* dcap-qvl: a substring test on the issuer DN, Processor first, Processor by default */
    X509_NAME_oneline(X509_get_issuer_name(pck), dn, sizeof(dn));
    if (strstr(dn, "Processor") != NULL)
        return "processor";
    return strstr(dn, "Platform") != NULL ? "platform" : "processor";
}

/* ---- building (the simulator's PCK certificates) ------------------------------------------ */

typedef struct out_buf {
    uint8_t *p;
    size_t n, cap;
    bool failed;
} out_buf;

static void put(out_buf *b, const void *data, size_t n)
{
    if (b->failed)
        return;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        uint8_t *grown;

        while (cap < b->n + n)
            cap *= 2;
        if ((grown = OPENSSL_realloc(b->p, cap)) == NULL) {
            b->failed = true;
            return;
        }
        b->p = grown;
        b->cap = cap;
    }
    memcpy(b->p + b->n, data, n);
    b->n += n;
}

/* tag, length, content */
static void put_tlv(out_buf *b, uint8_t tag, const uint8_t *content, size_t n)
{
    uint8_t hdr[4] = {tag};
    size_t h = 2;

    if (n < 0x80) {
        hdr[1] = (uint8_t)n;
    } else if (n < 0x100) {
        hdr[1] = 0x81, hdr[2] = (uint8_t)n, h = 3;
    } else {
        hdr[1] = 0x82, hdr[2] = (uint8_t)(n >> 8), hdr[3] = (uint8_t)n, h = 4;
    }
    put(b, hdr, h);
    put(b, content, n);
}

static void put_pair(out_buf *b, const int *arcs, int n_arcs, uint8_t tag, const uint8_t *v,
                     size_t n)
{
    out_buf inner = {0};
    uint8_t oid[sizeof(oid_base) + 2];

    memcpy(oid, oid_base, sizeof(oid_base));
    for (int i = 0; i < n_arcs; i++)
        oid[sizeof(oid_base) + i] = (uint8_t)arcs[i];
    put_tlv(&inner, 0x06, oid, sizeof(oid_base) + (size_t)n_arcs);
    put_tlv(&inner, tag, v, n);
    if (inner.failed)
        b->failed = true;
    else
        put_tlv(b, 0x30, inner.p, inner.n);
    OPENSSL_free(inner.p);
}

/* A DER INTEGER's minimal content for a non-negative value. */
static size_t int_content(unsigned v, uint8_t out[3])
{
    size_t n = 0;
    uint8_t tmp[3] = {(uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    size_t i = 0;

    while (i < 2 && tmp[i] == 0 && !(tmp[i + 1] & 0x80))
        i++;
    for (; i < 3; i++)
        out[n++] = tmp[i];
    return n;
}

uint8_t *dcap_pck_ext_build(const dcap_pck_ext *ext, size_t *len)
{
    out_buf tcb = {0}, all = {0}, seq = {0};
    uint8_t v[3];
    int arcs[2] = {OID_TCB, 0};
    uint8_t *result = NULL;

    for (int i = 0; i < 16; i++) {
        arcs[1] = i + 1;
        put_pair(&tcb, arcs, 2, 0x02, v, int_content(ext->cpusvn[i], v));
    }
    arcs[1] = TCB_PCESVN;
    put_pair(&tcb, arcs, 2, 0x02, v, int_content(ext->pcesvn, v));
    arcs[1] = TCB_CPUSVN;
    put_pair(&tcb, arcs, 2, 0x04, ext->cpusvn, 16);
    arcs[0] = OID_PPID;
    put_pair(&all, arcs, 1, 0x04, ext->ppid, ext->ppid_len);
    {
        out_buf pair = {0};
        uint8_t oid[sizeof(oid_base) + 1];

        memcpy(oid, oid_base, sizeof(oid_base));
        oid[sizeof(oid_base)] = OID_TCB;
        put_tlv(&pair, 0x06, oid, sizeof(oid));
        if (!tcb.failed)
            put_tlv(&pair, 0x30, tcb.p, tcb.n);
        if (pair.failed || tcb.failed)
            all.failed = true;
        else
            put_tlv(&all, 0x30, pair.p, pair.n);
        OPENSSL_free(pair.p);
    }
    arcs[0] = OID_PCEID;
    put_pair(&all, arcs, 1, 0x04, ext->pceid, 2);
    arcs[0] = OID_FMSPC;
    put_pair(&all, arcs, 1, 0x04, ext->fmspc, 6);
    arcs[0] = OID_SGX_TYPE;
    v[0] = (uint8_t)ext->sgx_type;
    put_pair(&all, arcs, 1, 0x0a, v, 1);
    if (!all.failed)
        put_tlv(&seq, 0x30, all.p, all.n);
    if (!all.failed && !seq.failed) {
        result = seq.p;
        *len = seq.n;
        seq.p = NULL;
    }
    OPENSSL_free(tcb.p);
    OPENSSL_free(all.p);
    OPENSSL_free(seq.p);
    return result;
}
