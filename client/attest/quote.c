/* TDX quote v4 header and TD report body (protocol.md §5.1). Only the fields dstack verification
 * needs are decoded; the signature data is bounds-checked but not DCAP-verified. */
#include <dstack/attest.h>

#include <string.h>

#define QUOTE_VERSION_4 4
#define TEE_TYPE_TDX 0x00000081u
#define OFF_QE_VENDOR 12
#define OFF_BODY 48
#define OFF_SIG_LEN 632
#define HEADER_AND_BODY_LEN (OFF_SIG_LEN + 4)

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

    memset(out, 0, sizeof(*out));
    if (buf == NULL || len < HEADER_AND_BODY_LEN)
        return dstack_error_set(err, DSTACK_ERR_PROTOCOL, NULL, NULL,
                                "TDX quote too short: %zu bytes, need at least %u", len,
                                HEADER_AND_BODY_LEN);
    body = buf + OFF_BODY;
    memset(&q, 0, sizeof(q));
    q.version = le16(buf);
    q.attestation_key_type = le16(buf + 2);
    q.tee_type = le32(buf + 4);
    if (q.version != QUOTE_VERSION_4)
        return dstack_error_set(err, DSTACK_ERR_PROTOCOL, NULL, NULL,
                                "unsupported TDX quote version %u (only v4 is understood)",
                                q.version);
    if (q.tee_type != TEE_TYPE_TDX)
        return dstack_error_set(err, DSTACK_ERR_PROTOCOL, NULL, NULL,
                                "quote TEE type 0x%08x is not TDX (0x81)", q.tee_type);
    q.signature_data_len = le32(buf + OFF_SIG_LEN);
    /* Trailing bytes after the signature data are driver padding and allowed. */
    if (q.signature_data_len > len - HEADER_AND_BODY_LEN)
        return dstack_error_set(err, DSTACK_ERR_PROTOCOL, NULL, NULL,
                                "TDX quote signature data length %u runs past the %zu-byte quote",
                                q.signature_data_len, len);
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
    q.debug = (q.td_attributes[0] & 1) != 0;
    *out = q;
    return DSTACK_OK;
}
