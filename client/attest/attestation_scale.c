/* VersionedAttestation V0: decoding the SCALE encoding of the real agent's Attest and of 0.5.6+
 * certificate extensions (protocol.md §4.4; the encoder is agent-side, simulator/agent_side/).
 * Every length is checked against the remaining input before anything is allocated. */
#include <dstack/attest.h>

#include <stdlib.h>
#include <string.h>

#include "attest/attest_internal.h"

typedef struct reader {
    const uint8_t *buf;
    size_t len;
    size_t pos;
    dstack_error *err;
} reader;

static dstack_status truncated(reader *r, const char *what)
{
    return dstack_error_set(r->err, DSTACK_ERR_PROTOCOL, NULL, NULL,
                            "V0 attestation truncated or malformed at offset %zu (%s)", r->pos,
                            what);
}

static size_t remaining(const reader *r)
{
    return r->len - r->pos;
}

static dstack_status read_raw(reader *r, size_t n, const uint8_t **out, const char *what)
{
    if (n > remaining(r))
        return truncated(r, what);
    *out = r->buf + r->pos;
    r->pos += n;
    return DSTACK_OK;
}

static dstack_status read_u8(reader *r, uint8_t *out, const char *what)
{
    const uint8_t *p = NULL;
    dstack_status rc = read_raw(r, 1, &p, what);

    if (rc == DSTACK_OK)
        *out = p[0];
    return rc;
}

static dstack_status read_u32(reader *r, uint32_t *out, const char *what)
{
    const uint8_t *p = NULL;
    dstack_status rc = read_raw(r, 4, &p, what);

    if (rc == DSTACK_OK)
        *out = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    return rc;
}

/* SCALE compact integer, all four modes; values beyond 64 bits are rejected. */
static dstack_status read_compact(reader *r, uint64_t *out, const char *what)
{
    const uint8_t *p = NULL;
    uint8_t first;
    uint64_t v = 0;
    size_t n;

    if (read_u8(r, &first, what) != DSTACK_OK)
        return DSTACK_ERR_PROTOCOL;
    switch (first & 3) {
    case 0:
        *out = first >> 2;
        return DSTACK_OK;
    case 1:
        if (read_raw(r, 1, &p, what) != DSTACK_OK)
            return DSTACK_ERR_PROTOCOL;
        *out = ((uint64_t)first | (uint64_t)p[0] << 8) >> 2;
        return DSTACK_OK;
    case 2:
        if (read_raw(r, 3, &p, what) != DSTACK_OK)
            return DSTACK_ERR_PROTOCOL;
        *out =
            ((uint64_t)first | (uint64_t)p[0] << 8 | (uint64_t)p[1] << 16 | (uint64_t)p[2] << 24) >>
            2;
        return DSTACK_OK;
    default:
        n = (size_t)(first >> 2) + 4;
        if (n > 8)
            return dstack_error_set(r->err, DSTACK_ERR_PROTOCOL, NULL, NULL,
                                    "V0 attestation: %s length does not fit in 64 bits", what);
        if (read_raw(r, n, &p, what) != DSTACK_OK)
            return DSTACK_ERR_PROTOCOL;
        for (size_t i = n; i > 0; i--)
            v = v << 8 | p[i - 1];
        *out = v;
        return DSTACK_OK;
    }
}

/* Vec<u8> / String: compact length, then that many bytes (borrowed from the input). */
static dstack_status read_bytes(reader *r, const uint8_t **out, size_t *out_len, const char *what)
{
    uint64_t n = 0;

    if (read_compact(r, &n, what) != DSTACK_OK)
        return DSTACK_ERR_PROTOCOL;
    if (n > remaining(r))
        return truncated(r, what);
    *out_len = (size_t)n;
    return read_raw(r, (size_t)n, out, what);
}

/* A String copied out as a C string; embedded NULs would make the name we hash differ from
 * the one that was measured, so they are refused. */
static dstack_status read_string(reader *r, const uint8_t **out, size_t *out_len, const char *what)
{
    if (read_bytes(r, out, out_len, what) != DSTACK_OK)
        return DSTACK_ERR_PROTOCOL;
    if (*out_len > 0 && memchr(*out, 0, *out_len) != NULL)
        return dstack_error_set(r->err, DSTACK_ERR_PROTOCOL, NULL, NULL,
                                "V0 attestation: %s contains a NUL byte", what);
    return DSTACK_OK;
}

/* Vec<T> count, bounded by the remaining input (each item takes at least `min_item` bytes). */
static dstack_status read_count(reader *r, size_t min_item, size_t *out, const char *what)
{
    uint64_t n = 0;

    if (read_compact(r, &n, what) != DSTACK_OK)
        return DSTACK_ERR_PROTOCOL;
    if (n > remaining(r) / min_item)
        return truncated(r, what);
    *out = (size_t)n;
    return DSTACK_OK;
}

static dstack_status read_tdx_event(reader *r, dstack_attestation *att)
{
    uint32_t imr, type;
    const uint8_t *digest, *name, *payload;
    size_t digest_len, name_len, payload_len;
    char *event;
    dstack_status rc;

    if (read_u32(r, &imr, "event imr") != DSTACK_OK ||
        read_u32(r, &type, "event type") != DSTACK_OK ||
        read_bytes(r, &digest, &digest_len, "event digest") != DSTACK_OK ||
        read_string(r, &name, &name_len, "event name") != DSTACK_OK ||
        read_bytes(r, &payload, &payload_len, "event payload") != DSTACK_OK)
        return DSTACK_ERR_PROTOCOL;
    event = strndup((const char *)name, name_len);
    if (event == NULL)
        return dstack_error_set(r->err, DSTACK_ERR_INTERNAL, NULL, NULL, "out of memory");
    rc = dstack_event_log_append(&att->tdx_event_log, imr, type, digest, digest_len, event, payload,
                                 payload_len, r->err);
    free(event);
    return rc;
}

static dstack_status oom(reader *r)
{
    return dstack_error_set(r->err, DSTACK_ERR_INTERNAL, NULL, NULL, "out of memory");
}

/* A Vec<u8> copied out (NULL when empty). */
static dstack_status read_owned_bytes(reader *r, uint8_t **out, size_t *out_len, const char *what)
{
    const uint8_t *p = NULL;

    if (read_bytes(r, &p, out_len, what) != DSTACK_OK)
        return DSTACK_ERR_PROTOCOL;
    *out = NULL;
    if (*out_len == 0)
        return DSTACK_OK;
    if ((*out = malloc(*out_len)) == NULL)
        return oom(r);
    memcpy(*out, p, *out_len);
    return DSTACK_OK;
}

/* TdxQuote := quote:Vec<u8> event_log:Vec<TdxEvent> */
static dstack_status read_tdx_quote(reader *r, dstack_attestation *att)
{
    size_t n_events = 0;
    dstack_status rc;

    if ((rc = read_owned_bytes(r, &att->quote, &att->quote_len, "quote")) != DSTACK_OK)
        return rc;
    /* imr + type + three empty compact lengths */
    if (read_count(r, 11, &n_events, "TDX event count") != DSTACK_OK)
        return DSTACK_ERR_PROTOCOL;
    for (size_t i = 0; i < n_events; i++)
        if ((rc = read_tdx_event(r, att)) != DSTACK_OK)
            return rc;
    return DSTACK_OK;
}

/* TpmQuote := message signature pcr_values:Vec<PcrValue{index:u32 algorithm:String
 * value:Vec<u8>}> ak_cert platform:u8 event_log:Vec<TpmEvent{pcr_index:u32 digest:Vec<u8>}>.
 * The message is kept (platform_document); the rest is only bounds-checked. */
static dstack_status read_tpm_quote(reader *r, dstack_attestation *att)
{
    const uint8_t *p = NULL;
    size_t n = 0, len = 0;
    uint32_t u32;
    uint8_t platform;
    dstack_status rc;

    if ((rc = read_owned_bytes(r, &att->platform_document, &att->platform_document_len,
                               "TPM quote message")) != DSTACK_OK)
        return rc;
    if (read_bytes(r, &p, &len, "TPM quote signature") != DSTACK_OK ||
        read_count(r, 6, &n, "TPM PCR value count") != DSTACK_OK)
        return DSTACK_ERR_PROTOCOL;
    att->platform_item_count = n;
    for (size_t i = 0; i < n; i++)
        if (read_u32(r, &u32, "PCR index") != DSTACK_OK ||
            read_string(r, &p, &len, "PCR algorithm") != DSTACK_OK ||
            read_bytes(r, &p, &len, "PCR value") != DSTACK_OK)
            return DSTACK_ERR_PROTOCOL;
    if (read_bytes(r, &p, &len, "TPM AK certificate") != DSTACK_OK ||
        read_u8(r, &platform, "TPM platform") != DSTACK_OK)
        return DSTACK_ERR_PROTOCOL;
    if (platform > 3) /* Dstack, Gcp, NitroEnclave, AwsEc2 */
        return dstack_error_set(r->err, DSTACK_ERR_PROTOCOL, NULL, NULL,
                                "V0 attestation: unknown TPM platform %u", platform);
    if (read_count(r, 5, &n, "TPM event count") != DSTACK_OK)
        return DSTACK_ERR_PROTOCOL;
    for (size_t i = 0; i < n; i++)
        if (read_u32(r, &u32, "TPM event PCR") != DSTACK_OK ||
            read_bytes(r, &p, &len, "TPM event digest") != DSTACK_OK)
            return DSTACK_ERR_PROTOCOL;
    return DSTACK_OK;
}

/* SnpQuote := report:Vec<u8> cert_chain:Vec<Vec<u8>> mr_config:String */
static dstack_status read_snp_quote(reader *r, dstack_attestation *att)
{
    const uint8_t *p = NULL;
    size_t n = 0, len = 0;
    dstack_status rc;

    if ((rc = read_owned_bytes(r, &att->platform_document, &att->platform_document_len,
                               "SEV-SNP report")) != DSTACK_OK)
        return rc;
    if (read_count(r, 1, &n, "SEV-SNP certificate count") != DSTACK_OK)
        return DSTACK_ERR_PROTOCOL;
    att->platform_item_count = n;
    for (size_t i = 0; i < n; i++)
        if (read_bytes(r, &p, &len, "SEV-SNP certificate") != DSTACK_OK)
            return DSTACK_ERR_PROTOCOL;
    if (read_string(r, &p, &len, "SEV-SNP mr_config") != DSTACK_OK)
        return DSTACK_ERR_PROTOCOL;
    if ((att->sev_snp_mr_config = strndup((const char *)p, len)) == NULL)
        return oom(r);
    return DSTACK_OK;
}

/* AttestationQuote: a variant index, then its payload (protocol.md §4.4.1). The 0.5.11 Rust
 * enum had payload-less GcpTdx/NitroEnclave variants that no agent ever emitted; indices 1 and
 * 2 are read with their 0.6 payloads, as 0.6 verifiers do. */
static dstack_status read_platform(reader *r, dstack_attestation *att)
{
    uint8_t variant;
    dstack_status rc;

    if (read_u8(r, &variant, "platform") != DSTACK_OK)
        return DSTACK_ERR_PROTOCOL;
    att->platform = variant;
    switch (variant) {
    case DSTACK_PLATFORM_TDX:
        return read_tdx_quote(r, att);
    case DSTACK_PLATFORM_GCP_TDX:
        if ((rc = read_tdx_quote(r, att)) != DSTACK_OK)
            return rc;
        return read_tpm_quote(r, att);
    case DSTACK_PLATFORM_NITRO_ENCLAVE:
        return read_owned_bytes(r, &att->platform_document, &att->platform_document_len,
                                "Nitro NSM document");
    case DSTACK_PLATFORM_AMD_SEV_SNP:
        return read_snp_quote(r, att);
    case DSTACK_PLATFORM_AWS_NITRO_TPM:
        return read_owned_bytes(r, &att->platform_document, &att->platform_document_len,
                                "NitroTPM attestation document");
    }
    return dstack_error_set(r->err, DSTACK_ERR_PROTOCOL, NULL, NULL,
                            "V0 attestation: unknown platform variant %u", variant);
}

dstack_status dstack_attestation_decode_v0(const uint8_t *buf, size_t len, dstack_attestation *out,
                                           dstack_error *err)
{
    reader r = {.buf = buf, .len = len, .pos = 1, .err = err}; /* byte 0 = V0 tag */
    const uint8_t *name = NULL, *payload = NULL, *report_data = NULL, *config = NULL;
    size_t name_len = 0, payload_len = 0, config_len = 0, n_runtime = 0;
    dstack_status rc;

    out->version = 0;
    if ((rc = read_platform(&r, out)) != DSTACK_OK)
        return rc;
    if (read_count(&r, 2, &n_runtime, "runtime event count") != DSTACK_OK)
        return DSTACK_ERR_PROTOCOL;
    for (size_t i = 0; i < n_runtime; i++) {
        if (read_string(&r, &name, &name_len, "runtime event name") != DSTACK_OK ||
            read_bytes(&r, &payload, &payload_len, "runtime event payload") != DSTACK_OK)
            return DSTACK_ERR_PROTOCOL;
        rc = dstack_attestation_add_runtime_event(out, (const char *)name, name_len, payload,
                                                  payload_len, DSTACK_EVENT_LOG_V1, err);
        if (rc != DSTACK_OK)
            return rc;
    }
    if (read_raw(&r, 64, &report_data, "report_data") != DSTACK_OK ||
        read_string(&r, &config, &config_len, "config") != DSTACK_OK)
        return DSTACK_ERR_PROTOCOL;
    memcpy(out->report_data, report_data, 64);
    out->config = strndup((const char *)config, config_len);
    if (out->config == NULL)
        return dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, NULL, "out of memory");
    if (r.pos != r.len)
        return dstack_error_set(err, DSTACK_ERR_PROTOCOL, NULL, NULL,
                                "V0 attestation has %zu trailing bytes", r.len - r.pos);
    return DSTACK_OK;
}
