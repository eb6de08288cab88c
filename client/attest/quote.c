/* TDX quote v4/v5 header and TD report body (protocol.md §5.1). Only the fields dstack
 * verification needs are decoded; the signature data is bounds-checked but not DCAP-verified. */
#include <dstack/attest.h>

#include <string.h>

#define QUOTE_VERSION_4 4
#define QUOTE_VERSION_5 5
#define TEE_TYPE_TDX 0x00000081u
#define OFF_QE_VENDOR 12
#define HEADER_LEN 48
#define V5_DESCRIPTOR_LEN 6 /* body type u16, body size u32 */
#define BODY_TD10 2
#define BODY_TD15 3
#define TD10_LEN 584
#define TD15_LEN 648
#define HEADER_AND_BODY_LEN (HEADER_LEN + TD10_LEN + 4) /* the shortest quote: v4 */

static uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

dstack_status dstack_tdx_quote_parse(const uint8_t *buf, size_t len, dstack_tdx_quote *out,
                                     dstack_error *err)
{
    const uint8_t *body;
    dstack_tdx_quote q;
    size_t body_off = HEADER_LEN, body_len = TD10_LEN;

    memset(out, 0, sizeof(*out));
    if (buf == NULL || len < HEADER_AND_BODY_LEN)
        return dstack_error_set(err, DSTACK_ERR_PROTOCOL, NULL, NULL,
                                "TDX quote too short: %zu bytes, need at least %u", len,
                                HEADER_AND_BODY_LEN);
    memset(&q, 0, sizeof(q));
    q.version = le16(buf);
    q.attestation_key_type = le16(buf + 2);
    q.tee_type = le32(buf + 4);
    q.body_type = BODY_TD10;
    if (q.version != QUOTE_VERSION_4 && q.version != QUOTE_VERSION_5)
        return dstack_error_set(err, DSTACK_ERR_PROTOCOL, NULL, NULL,
                                "unsupported TDX quote version %u (v4 and v5 are understood)",
                                q.version);
    if (q.tee_type != TEE_TYPE_TDX)
        return dstack_error_set(err, DSTACK_ERR_PROTOCOL, NULL, NULL,
                                "quote TEE type 0x%08x is not TDX (0x81)", q.tee_type);
    if (q.version == QUOTE_VERSION_5) {
        /* protocol.md §5.1: a body descriptor, then a TD 1.0 or TD 1.5 report body */
        q.body_type = le16(buf + HEADER_LEN);
        body_off = HEADER_LEN + V5_DESCRIPTOR_LEN;
        if (q.body_type != BODY_TD10 && q.body_type != BODY_TD15)
            return dstack_error_set(err, DSTACK_ERR_PROTOCOL, NULL, NULL,
                                    "TDX quote v5 body type %u is not a TD report (2 = TD 1.0, "
                                    "3 = TD 1.5)",
                                    q.body_type);
        body_len = q.body_type == BODY_TD15 ? TD15_LEN : TD10_LEN;
        if (len < body_off + body_len + 4)
            return dstack_error_set(err, DSTACK_ERR_PROTOCOL, NULL, NULL,
                                    "TDX quote v5 too short: %zu bytes, need at least %zu", len,
                                    body_off + body_len + 4);
    }
    q.signed_len = (uint32_t)(body_off + body_len);
    q.signature_data_len = le32(buf + q.signed_len);
    /* Trailing bytes after the signature data are driver padding and allowed. */
    if (q.signature_data_len > len - q.signed_len - 4)
        return dstack_error_set(err, DSTACK_ERR_PROTOCOL, NULL, NULL,
                                "TDX quote signature data length %u runs past the %zu-byte quote",
                                q.signature_data_len, len);
    body = buf + body_off;
    memcpy(q.qe_vendor_id, buf + OFF_QE_VENDOR, 16);
    memcpy(q.tee_tcb_svn, body, 16);
    memcpy(q.mr_seam, body + 16, 48);
    memcpy(q.mr_signer_seam, body + 64, 48);
    memcpy(q.seam_attributes, body + 112, 8);
    memcpy(q.td_attributes, body + 120, 8);
    memcpy(q.xfam, body + 128, 8);
    memcpy(q.mrtd, body + 136, 48);
    memcpy(q.mr_config_id, body + 184, 48);
    memcpy(q.mr_owner, body + 232, 48);
    memcpy(q.mr_owner_config, body + 280, 48);
    for (int i = 0; i < 4; i++)
        memcpy(q.rtmr[i], body + 328 + 48 * i, 48);
    memcpy(q.report_data, body + 520, 64);
    if (q.body_type == BODY_TD15) {
        memcpy(q.tee_tcb_svn2, body + TD10_LEN, 16);
        memcpy(q.mr_servicetd, body + TD10_LEN + 16, 48);
    }
    q.debug = (q.td_attributes[0] & 1) != 0;
    *out = q;
    return DSTACK_OK;
}
