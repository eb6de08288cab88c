/* The quote layout as dcap-qvl decodes it (protocol.md §5.1, §5.6): a sequential reader in
 * which every variable length is bounded by what is left and by 1 MiB, and bytes left over at
 * any level are ignored. Stricter structure is the offline verifier's business
 * (quote_verify.c); the collateral path must accept exactly what dcap-qvl accepts. */
#include "attest/dcap_internal.h"

#include <stdio.h>
#include <string.h>

#define HEADER_LEN 48
#define SGX_REPORT_LEN 384
#define TD10_LEN 584
#define TD15_LEN 648

typedef struct cursor {
    const uint8_t *p;
    size_t left;
} cursor;

static bool take(cursor *c, size_t n, const uint8_t **out)
{
    if (n > c->left)
        return false;
    *out = c->p;
    c->p += n;
    c->left -= n;
    return true;
}

static bool u16(cursor *c, uint16_t *out)
{
    const uint8_t *p;

    if (!take(c, 2, &p))
        return false;
    *out = (uint16_t)(p[0] | p[1] << 8);
    return true;
}

static bool u32(cursor *c, uint32_t *out)
{
    const uint8_t *p;

    if (!take(c, 4, &p))
        return false;
    *out = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    return true;
}

/* Data<u16> / Data<u32>: a length, then that many bytes (at most 1 MiB). */
static bool data(cursor *c, bool wide, const uint8_t **out, size_t *len)
{
    uint16_t n16 = 0;
    uint32_t n32 = 0;

    if (wide ? !u32(c, &n32) : !u16(c, &n16))
        return false;
    *len = wide ? n32 : n16;
    return *len <= DCAP_MAX_FIELD && take(c, *len, out);
}

static bool bad(char *why, size_t why_len, const char *what)
{
    snprintf(why, why_len, "Failed to decode quote: %s", what);
    return false;
}

bool dcap_quote_walk(const uint8_t *q, size_t len, dcap_quote *out, char *why, size_t why_len)
{
    cursor c = {q, len}, sig, cert;
    const uint8_t *hdr, *p, *sig_data, *cert_body;
    size_t body_len, sig_len, cert_len;
    uint32_t body_size;

    memset(out, 0, sizeof(*out));
    if (!take(&c, HEADER_LEN, &hdr))
        return bad(why, why_len, "shorter than the 48-byte header");
    out->version = (uint16_t)(hdr[0] | hdr[1] << 8);
    out->key_type = (uint16_t)(hdr[2] | hdr[3] << 8);
    out->tee_type =
        (uint32_t)hdr[4] | (uint32_t)hdr[5] << 8 | (uint32_t)hdr[6] << 16 | (uint32_t)hdr[7] << 24;
    out->qe_vendor_id = hdr + 12;
    switch (out->version) {
    case 3:
        if (out->tee_type != DCAP_TEE_SGX)
            return bad(why, why_len, "Invalid TEE type");
        out->body_type = DCAP_BODY_SGX;
        break;
    case 4:
        if (out->tee_type != DCAP_TEE_SGX && out->tee_type != DCAP_TEE_TDX)
            return bad(why, why_len, "Invalid TEE type");
        out->body_type = out->tee_type == DCAP_TEE_TDX ? DCAP_BODY_TD10 : DCAP_BODY_SGX;
        break;
    case 5:
        /* body descriptor: type, then a size dcap-qvl does not check */
        if (!u16(&c, &out->body_type) || !u32(&c, &body_size))
            return bad(why, why_len, "truncated v5 body descriptor");
        if (out->body_type < DCAP_BODY_SGX || out->body_type > DCAP_BODY_TD15)
            return bad(why, why_len, "Unsupported body type");
        break;
    default:
        return bad(why, why_len, "Unsupported quote version");
    }
    body_len = out->body_type == DCAP_BODY_SGX    ? SGX_REPORT_LEN
               : out->body_type == DCAP_BODY_TD10 ? TD10_LEN
                                                  : TD15_LEN;
    if (!take(&c, body_len, &out->body))
        return bad(why, why_len, "truncated report body");
    out->signed_len = (size_t)(out->body + body_len - q);
    if (!data(&c, true, &sig_data, &sig_len))
        return bad(why, why_len, "signature data runs past the quote");
    if (out->version == 3)
        return bad(why, why_len, "SGX quotes (v3) are not supported");
    /* v4 auth data (also for v5): signature, attestation key, certification data whose body
     * is QE report certification data, whatever its type says. */
    sig = (cursor){sig_data, sig_len};
    if (!take(&sig, 64, &out->signature) || !take(&sig, 64, &out->att_key) ||
        !u16(&sig, &out->cert_type) || !data(&sig, true, &cert_body, &cert_len))
        return bad(why, why_len, "truncated signature data");
    cert = (cursor){cert_body, cert_len};
    if (!take(&cert, DCAP_QE_REPORT_LEN, &out->qe_report) || !take(&cert, 64, &out->qe_sig) ||
        !data(&cert, false, &out->auth, &out->auth_len) || !u16(&cert, &out->inner_type) ||
        !data(&cert, true, &p, &out->inner_len))
        return bad(why, why_len, "truncated QE report certification data");
    out->inner = p;
    return true;
}
