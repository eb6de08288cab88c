/* VersionedAttestation: format dispatch, ownership and platforms (protocol.md §4.4, §4.4.1,
 * protocol.md §4.5). */
#include <dstack/attest.h>

#include <stdlib.h>
#include <string.h>

#include "attest/attest_internal.h"

void dstack_attestation_free(dstack_attestation *att)
{
    if (att == NULL)
        return;
    free(att->quote);
    dstack_event_log_free(&att->tdx_event_log);
    for (size_t i = 0; i < att->runtime_events_len; i++) {
        free(att->runtime_events[i].event);
        free(att->runtime_events[i].payload);
    }
    free(att->runtime_events);
    free(att->config);
    free(att->platform_document);
    free(att->sev_snp_mr_config);
    memset(att, 0, sizeof(*att));
}

const char *dstack_platform_name(int platform)
{
    switch (platform) {
    case DSTACK_PLATFORM_TDX:
        return "tdx";
    case DSTACK_PLATFORM_GCP_TDX:
        return "gcp-tdx";
    case DSTACK_PLATFORM_NITRO_ENCLAVE:
        return "nitro-enclave";
    case DSTACK_PLATFORM_AMD_SEV_SNP:
        return "sev-snp";
    case DSTACK_PLATFORM_AWS_NITRO_TPM:
        return "aws-nitro-tpm";
    }
    return "unknown";
}

int dstack_attestation_platform(const uint8_t *buf, size_t len)
{
    dstack_attestation a;
    int platform = dstack_attestation_decode(buf, len, &a, NULL) == DSTACK_OK ? a.platform : -1;

    dstack_attestation_free(&a);
    return platform;
}

bool dstack_attestation_is_tdx(const dstack_attestation *att)
{
    return att != NULL &&
           (att->platform == DSTACK_PLATFORM_TDX || att->platform == DSTACK_PLATFORM_GCP_TDX);
}

dstack_status dstack_attestation_tdx_quote(const dstack_attestation *att, dstack_tdx_quote *out,
                                           dstack_error *err)
{
    if (att == NULL || out == NULL)
        return dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL,
                                "dstack_attestation_tdx_quote: no attestation or no output");
    memset(out, 0, sizeof(*out));
    if (!dstack_attestation_is_tdx(att))
        return dstack_error_set(err, DSTACK_ERR_PROTOCOL, NULL, NULL, "not a TDX attestation: %s",
                                dstack_platform_name(att->platform));
    return dstack_tdx_quote_parse(att->quote, att->quote_len, out, err);
}

/* SEV-SNP ATTESTATION_REPORT: REPORT_DATA is bytes 0x50..0x90 (protocol.md §4.4.1). */
#define SNP_REPORT_DATA_OFFSET 0x50

bool dstack_attestation_evidence_report_data(const dstack_attestation *att, uint8_t out[64])
{
    dstack_tdx_quote q;

    if (dstack_attestation_is_tdx(att)) {
        if (dstack_tdx_quote_parse(att->quote, att->quote_len, &q, NULL) != DSTACK_OK)
            return false;
        memcpy(out, q.report_data, 64);
        return true;
    }
    if (att->platform == DSTACK_PLATFORM_AMD_SEV_SNP &&
        att->platform_document_len >= SNP_REPORT_DATA_OFFSET + 64) {
        memcpy(out, att->platform_document + SNP_REPORT_DATA_OFFSET, 64);
        return true;
    }
    return false;
}

dstack_status dstack_attestation_add_runtime_event(dstack_attestation *att, const char *event,
                                                   size_t event_len, const uint8_t *payload,
                                                   size_t payload_len, unsigned version,
                                                   dstack_error *err)
{
    dstack_runtime_event ev = {.version = version == DSTACK_EVENT_LOG_V2 ? DSTACK_EVENT_LOG_V2
                                                                         : DSTACK_EVENT_LOG_V1};
    dstack_runtime_event *grown;

    ev.event = malloc(event_len + 1);
    ev.payload = payload_len > 0 ? malloc(payload_len) : NULL;
    grown = realloc(att->runtime_events, (att->runtime_events_len + 1) * sizeof(*grown));
    if (grown != NULL)
        att->runtime_events = grown;
    if (ev.event == NULL || (payload_len > 0 && ev.payload == NULL) || grown == NULL) {
        free(ev.event);
        free(ev.payload);
        return dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, NULL, "out of memory");
    }
    if (event_len > 0)
        memcpy(ev.event, event, event_len);
    ev.event[event_len] = '\0';
    if (payload_len > 0)
        memcpy(ev.payload, payload, payload_len);
    ev.payload_len = payload_len;
    att->runtime_events[att->runtime_events_len++] = ev;
    return DSTACK_OK;
}

dstack_status dstack_attestation_decode(const uint8_t *buf, size_t len, dstack_attestation *out,
                                        dstack_error *err)
{
    dstack_status rc;

    memset(out, 0, sizeof(*out));
    if (buf == NULL || len == 0)
        return dstack_error_set(err, DSTACK_ERR_PROTOCOL, NULL, NULL, "attestation is empty");
    if (len > DSTACK_ATTESTATION_MAX_LEN)
        return dstack_error_set(err, DSTACK_ERR_PROTOCOL, NULL, NULL,
                                "attestation of %zu bytes exceeds the %u-byte limit", len,
                                DSTACK_ATTESTATION_MAX_LEN);
    /* V0 is the SCALE enum index 0; V1 is a msgpack map (fixmap, map16, map32). */
    if (buf[0] == 0x00)
        rc = dstack_attestation_decode_v0(buf, len, out, err);
    else if ((buf[0] & 0xf0) == 0x80 || buf[0] == 0xde || buf[0] == 0xdf)
        rc = dstack_attestation_decode_v1(buf, len, out, err);
    else
        rc = dstack_error_set(err, DSTACK_ERR_PROTOCOL, NULL, NULL,
                              "unknown attestation encoding (first byte 0x%02x)", buf[0]);
    if (rc != DSTACK_OK)
        dstack_attestation_free(out);
    return rc;
}
