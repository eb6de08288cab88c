/* Intel's SGX extension of a PCK certificate (OID 1.2.840.113741.1.13.1, protocol.md §5.6): the
 * platform's PPID, CPUSVN, PCESVN, PCE-ID, FMSPC and SGX type, read the way dcap-qvl reads
 * them — each item is the first (OID, value) pair of its SEQUENCE whose OID bytes match, and
 * its value's content bytes are taken whatever their tag. */
#include "attest/dcap_internal.h"

#include <stdio.h>
#include <string.h>

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
