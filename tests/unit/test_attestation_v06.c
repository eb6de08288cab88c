/* What 0.6 agents added to attestations and event logs, on evidence made here: every SCALE
 * VersionedAttestation platform variant and every V1 msgpack platform kind (protocol.md
 * protocol.md §4.4.1, §4.5.4) built by this file's own encoders, decoded to its platform; event log
 * v2 (protocol.md §5.3.1): the JCS preimage and digest, "version"/"preimage" in JSON and msgpack,
 * replay, forged preimages rejected; "not a TDX attestation: <platform>" from TDX-only
 * operations; negative cases for every new field (truncated, oversized, wrong types). */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include <dstack/attest.h>
#include <dstack/keys.h>

#include "agent_side.h"
#include "attest/attest_internal.h"
#include "crypto/pkey_util.h"
#include "test_evidence.h"
#include "test_util.h"

static const struct {
    int platform;
    const char *name;
    size_t document_len, items;
} variants[] = {
    {DSTACK_PLATFORM_TDX, "tdx", 0, 0},
    {DSTACK_PLATFORM_GCP_TDX, "gcp-tdx", 19, 2},
    {DSTACK_PLATFORM_NITRO_ENCLAVE, "nitro-enclave", 22, 0},
    {DSTACK_PLATFORM_AMD_SEV_SNP, "sev-snp", 1184, 3},
    {DSTACK_PLATFORM_AWS_NITRO_TPM, "aws-nitro-tpm", 21, 0},
};
#define N_VARIANTS (sizeof(variants) / sizeof(variants[0]))

static void check_common(const dstack_attestation *a, size_t v)
{
    dstack_tdx_quote q;
    dstack_error err;

    CU_ASSERT_EQUAL(a->platform, variants[v].platform);
    CU_ASSERT_STRING_EQUAL(dstack_platform_name(a->platform), variants[v].name);
    CU_ASSERT_EQUAL(a->platform_document_len, variants[v].document_len);
    CU_ASSERT_EQUAL(a->platform_item_count, variants[v].items);
    CU_ASSERT_EQUAL_FATAL(a->runtime_events_len, 1);
    CU_ASSERT_STRING_EQUAL(a->runtime_events[0].event, "app-id");
    CU_ASSERT_EQUAL(a->report_data[63], 0x42);
    CU_ASSERT_STRING_EQUAL(a->config, "{}");
    CU_ASSERT_EQUAL(dstack_attestation_is_tdx(a), v <= 1);
    if (v <= 1) {
        CU_ASSERT_EQUAL(a->quote_len, 4);
        CU_ASSERT_EQUAL(a->tdx_event_log.count, 1);
        /* a TDX attestation whose (fake) quote does not parse says so */
        CU_ASSERT_EQUAL(dstack_attestation_tdx_quote(a, &q, &err), DSTACK_ERR_PROTOCOL);
        CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "TDX quote too short"));
        return;
    }
    CU_ASSERT_PTR_NULL(a->quote);
    CU_ASSERT_EQUAL(dstack_attestation_tdx_quote(a, &q, &err), DSTACK_ERR_PROTOCOL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "not a TDX attestation: "));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, variants[v].name));
    if (a->platform == DSTACK_PLATFORM_AMD_SEV_SNP) {
        CU_ASSERT_STRING_EQUAL(a->sev_snp_mr_config, "{\"app_id\":\"00\",\"version\":3}");
        CU_ASSERT_EQUAL(memcmp(a->platform_document + 0x50, te_snp_report_data, 64), 0);
    } else {
        CU_ASSERT_PTR_NULL(a->sev_snp_mr_config);
    }
}

static void test_scale_variants(void)
{
    te_buf b = {0};
    dstack_attestation a;
    dstack_error err;
    uint8_t *enc = NULL;
    size_t enc_len = 0;

    for (size_t v = 0; v < N_VARIANTS; v++) {
        te_write_v0_platform(&b, variants[v].platform, 1);
        CU_ASSERT_EQUAL_FATAL(dstack_attestation_decode(b.p, b.len, &a, &err), DSTACK_OK);
        CU_ASSERT_EQUAL(a.version, 0);
        check_common(&a, v);
        CU_ASSERT_EQUAL(dstack_attestation_platform(b.p, b.len), variants[v].platform);
        /* only TDX can be written back as V0 (simulator-side encoder) */
        CU_ASSERT_EQUAL(dstack_attestation_encode_v0(&a, &enc, &enc_len, &err),
                        v == 0 ? DSTACK_OK : DSTACK_ERR_USAGE);
        if (v == 0)
            CU_ASSERT(enc_len == b.len && memcmp(enc, b.p, b.len) == 0);
        free(enc);
        enc = NULL;
        dstack_attestation_free(&a);
    }
    te_buf_free(&b);
}

static void test_scale_negative(void)
{
    te_buf b = {0};
    dstack_attestation a;
    dstack_error err;
    uint8_t *big;

    for (size_t v = 0; v < N_VARIANTS; v++) {
        size_t failures = 0;

        te_write_v0_platform(&b, variants[v].platform, 3);
        /* every strict prefix, and one byte more, fail cleanly */
        for (size_t n = 1; n < b.len; n++)
            failures += dstack_attestation_decode(b.p, n, &a, &err) == DSTACK_ERR_PROTOCOL;
        CU_ASSERT_EQUAL(failures, b.len - 1);
        CU_ASSERT_EQUAL(dstack_attestation_platform(b.p, b.len - 1), -1);
        big = malloc(b.len + 1);
        memcpy(big, b.p, b.len);
        big[b.len] = 0;
        CU_ASSERT_EQUAL(dstack_attestation_decode(big, b.len + 1, &a, &err), DSTACK_ERR_PROTOCOL);
        CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "trailing"));
        free(big);
    }
    /* the TPM Platform enum has four values */
    te_write_v0_platform(&b, DSTACK_PLATFORM_GCP_TDX, 4);
    CU_ASSERT_EQUAL(dstack_attestation_decode(b.p, b.len, &a, &err), DSTACK_ERR_PROTOCOL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "unknown TPM platform 4"));
    /* variant 5 does not exist */
    te_write_v0_platform(&b, 5, 0);
    CU_ASSERT_EQUAL(dstack_attestation_decode(b.p, b.len, &a, &err), DSTACK_ERR_PROTOCOL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "unknown platform variant 5"));
    CU_ASSERT_EQUAL(dstack_attestation_platform(b.p, b.len), -1);
    CU_ASSERT_EQUAL(dstack_attestation_platform(NULL, 0), -1);
    /* 0.5.11's payload-less NitroEnclave unit variant is read with the 0.6 payload, which the
     * runtime-event count then is not */
    b.len = 0;
    te_put(&b, "\x00\x02", 2);
    te_scale_compact(&b, 0);
    te_put(&b, te_snp_report_data, 64);
    te_scale_str(&b, "{}");
    CU_ASSERT_EQUAL(dstack_attestation_decode(b.p, b.len, &a, &err), DSTACK_ERR_PROTOCOL);
    /* a certificate count no input could hold is refused before anything is allocated */
    b.len = 0;
    te_put(&b, "\x00\x03", 2);
    te_scale_bytes(&b, "r", 1);
    te_put(&b, "\x03\xff\xff\xff\xff", 5); /* compact, 4 bytes: 2^32-1 certificates */
    CU_ASSERT_EQUAL(dstack_attestation_decode(b.p, b.len, &a, &err), DSTACK_ERR_PROTOCOL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "SEV-SNP certificate count"));
    /* mr_config with a NUL */
    b.len = 0;
    te_put(&b, "\x00\x03", 2);
    te_scale_bytes(&b, "r", 1);
    te_scale_compact(&b, 0);
    te_scale_bytes(&b, "a\0b", 3);
    CU_ASSERT_EQUAL(dstack_attestation_decode(b.p, b.len, &a, &err), DSTACK_ERR_PROTOCOL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "NUL"));
    te_buf_free(&b);
}

static void test_msgpack_kinds(void)
{
    te_buf b = {0};
    dstack_attestation a;
    dstack_error err;

    for (size_t v = 0; v < N_VARIANTS; v++) {
        te_write_v1_platform(&b, variants[v].platform, TE_MP_OK, 1);
        CU_ASSERT_EQUAL_FATAL(dstack_attestation_decode(b.p, b.len, &a, &err), DSTACK_OK);
        CU_ASSERT_EQUAL(a.version, 1);
        CU_ASSERT_EQUAL(a.platform_document_len, variants[v].document_len);
        CU_ASSERT_EQUAL(a.platform, variants[v].platform);
        CU_ASSERT_EQUAL(a.platform_item_count, variants[v].items);
        CU_ASSERT_EQUAL(a.runtime_events[0].version, 1);
        if (variants[v].platform == DSTACK_PLATFORM_AMD_SEV_SNP)
            CU_ASSERT_STRING_EQUAL(a.sev_snp_mr_config, "{\"app_id\":\"00\",\"version\":3}");
        dstack_attestation_free(&a);
    }
    /* 0.5.11 wrote gcp-tdx and nitro-enclave without data; the others need it */
    for (size_t v = 0; v < N_VARIANTS; v++) {
        int p = variants[v].platform;
        bool optional = p == DSTACK_PLATFORM_GCP_TDX || p == DSTACK_PLATFORM_NITRO_ENCLAVE;

        te_write_v1_platform(&b, p, TE_MP_NO_DATA, 1);
        CU_ASSERT_EQUAL(dstack_attestation_decode(b.p, b.len, &a, &err),
                        optional ? DSTACK_OK : DSTACK_ERR_PROTOCOL);
        if (optional)
            CU_ASSERT_EQUAL(a.platform, p);
        dstack_attestation_free(&a);
    }
    te_buf_free(&b);
}

static void test_msgpack_negative(void)
{
    te_buf b = {0};
    dstack_attestation a;
    dstack_error err;

    for (size_t v = 1; v < N_VARIANTS; v++) { /* tdx's fields are optional, as before */
        size_t failures = 0;

        te_write_v1_platform(&b, variants[v].platform, TE_MP_MISSING_FIELD, 1);
        CU_ASSERT_EQUAL(dstack_attestation_decode(b.p, b.len, &a, &err), DSTACK_ERR_PROTOCOL);
        CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "lacks a required field"));
        te_write_v1_platform(&b, variants[v].platform, TE_MP_WRONG_TYPE, 1);
        CU_ASSERT_EQUAL(dstack_attestation_decode(b.p, b.len, &a, &err), DSTACK_ERR_PROTOCOL);
        te_write_v1_platform(&b, variants[v].platform, TE_MP_OK, 1);
        for (size_t n = 1; n < b.len; n++)
            failures += dstack_attestation_decode(b.p, n, &a, &err) == DSTACK_ERR_PROTOCOL;
        CU_ASSERT_EQUAL(failures, b.len - 1);
    }
    te_write_v1_platform(&b, DSTACK_PLATFORM_GCP_TDX, TE_MP_BAD_TPM_PLATFORM, 1);
    CU_ASSERT_EQUAL(dstack_attestation_decode(b.p, b.len, &a, &err), DSTACK_ERR_PROTOCOL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "unknown TPM platform"));
    te_write_v1_platform(&b, 9, TE_MP_OK, 1);
    CU_ASSERT_EQUAL(dstack_attestation_decode(b.p, b.len, &a, &err), DSTACK_ERR_PROTOCOL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "unknown platform kind"));
    te_write_v1_platform(&b, DSTACK_PLATFORM_TDX, TE_MP_OK, 3); /* EventLogVersion is 1 or 2 */
    CU_ASSERT_EQUAL(dstack_attestation_decode(b.p, b.len, &a, &err), DSTACK_ERR_PROTOCOL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "unknown event log version"));
    te_buf_free(&b);
}

static void test_msgpack_v2_events(void)
{
    te_buf b = {0};
    dstack_attestation a;
    dstack_error err;
    const dstack_event *e;
    uint8_t *enc = NULL;
    size_t enc_len = 0;

    te_write_v1_v2_events(&b, 2, TE_PRE_OK);
    CU_ASSERT_EQUAL_FATAL(dstack_attestation_decode(b.p, b.len, &a, &err), DSTACK_OK);
    e = &a.tdx_event_log.events[0];
    CU_ASSERT_EQUAL(e->version, 2);
    CU_ASSERT_TRUE(e->has_preimage);
    CU_ASSERT_EQUAL(a.runtime_events[0].version, 2);
    CU_ASSERT_EQUAL(dstack_event_log_check_preimages(&a.tdx_event_log, &err), DSTACK_OK);
    /* V0 SCALE cannot carry V2 events */
    CU_ASSERT_EQUAL(dstack_attestation_encode_v0(&a, &enc, &enc_len, &err), DSTACK_ERR_USAGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "V2"));
    dstack_attestation_free(&a);
    /* certificates: version 2, no preimage (protocol.md §5.3.1); nil = none */
    te_write_v1_v2_events(&b, 2, TE_PRE_NONE);
    CU_ASSERT_EQUAL_FATAL(dstack_attestation_decode(b.p, b.len, &a, &err), DSTACK_OK);
    CU_ASSERT_FALSE(a.tdx_event_log.events[0].has_preimage);
    dstack_attestation_free(&a);
    te_write_v1_v2_events(&b, 2, TE_PRE_NIL);
    CU_ASSERT_EQUAL_FATAL(dstack_attestation_decode(b.p, b.len, &a, &err), DSTACK_OK);
    CU_ASSERT_FALSE(a.tdx_event_log.events[0].has_preimage);
    dstack_attestation_free(&a);
    /* broken: non-hex preimage, an integer preimage, version 7 */
    te_write_v1_v2_events(&b, 2, TE_PRE_NOT_HEX);
    CU_ASSERT_EQUAL(dstack_attestation_decode(b.p, b.len, &a, &err), DSTACK_ERR_PROTOCOL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "preimage is not a hex string"));
    te_write_v1_v2_events(&b, 2, TE_PRE_INTEGER);
    CU_ASSERT_EQUAL(dstack_attestation_decode(b.p, b.len, &a, &err), DSTACK_ERR_PROTOCOL);
    te_write_v1_v2_events(&b, 7, TE_PRE_OK);
    CU_ASSERT_EQUAL(dstack_attestation_decode(b.p, b.len, &a, &err), DSTACK_ERR_PROTOCOL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "unknown event log version"));
    te_buf_free(&b);
}

/* ---- event log v2 (protocol.md §5.3.1) --------------------------------------------------------
 */

static void test_v2_digest_vectors(void)
{
    uint8_t d[48];
    static const uint8_t app_id[20] = {0x5b, 0xb4, 0xff, 0x9a, 0x38, 0x37, 0x35, 0x7f, 0x19, 0xdc,
                                       0x17, 0x64, 0x07, 0xa5, 0x70, 0x9c, 0x62, 0xeb, 0x6c, 0x56};

    /* protocol.md §9 V5 */
    dstack_runtime_event_digest_v2("compose-hash", (const uint8_t *)"\xab\xcd", 2, d);
    CU_ASSERT_HEX_EQUAL(d, 48,
                        "9dde1673f544faa94b921825209593ddde08d0baf9cd6990175dffaf3081f1bb10311d56"
                        "de189491feb33842a050ad7b");
    dstack_runtime_event_digest_v2("app-id", app_id, 20, d);
    CU_ASSERT_HEX_EQUAL(d, 48,
                        "f47c886443745c881b9b56ff908516c83817f25ca9187bfa4e972959281128e3220d47ce"
                        "057e580e30eb57bfdc04d69a");
    dstack_runtime_event_digest("app-id", app_id, 20, d);
    CU_ASSERT_HEX_EQUAL(d, 48,
                        "ddd202447c612b8bb8723d2ce3b9882b7cfc0ede203c36b15639cc80b181b61a7692850c"
                        "5333a1c6effef82a73d0a4f2");
}

/* JCS string escaping (RFC 8785): ", \, the short escapes, other controls as \u00xx, the rest
 * verbatim — checked through the preimage a V2 JSON event must carry. */
static void test_v2_jcs_escaping(void)
{
    static const char name[] = "q\"b\\\b\f\n\r\t\x01\x1f\x7f/\xc3\xa9";
    static const char want[] =
        "{\"name\":\"q\\\"b\\\\\\b\\f\\n\\r\\t\\u0001\\u001f\x7f/\xc3\xa9\",\"payload\":\"00ff\","
        "\"type\":134217729}";
    uint8_t digest[48];
    dstack_event ev = {.imr = 3,
                       .event_type = DSTACK_RUNTIME_EVENT_TYPE,
                       .event = (char *)name,
                       .payload = (uint8_t *)"\x00\xff",
                       .payload_len = 2,
                       .version = DSTACK_EVENT_LOG_V2,
                       .has_preimage = true,
                       .preimage = (uint8_t *)want,
                       .preimage_len = strlen(want)};
    dstack_event_log log = {&ev, 1};
    unsigned int len = 48;
    dstack_error err;

    EVP_Digest(want, strlen(want), digest, &len, EVP_sha384(), NULL);
    ev.digest = digest;
    ev.digest_len = 48;
    CU_ASSERT_EQUAL(dstack_event_log_check_preimages(&log, &err), DSTACK_OK);
    {
        uint8_t d2[48];
        dstack_runtime_event_digest_v2(name, (const uint8_t *)"\x00\xff", 2, d2);
        CU_ASSERT_EQUAL(memcmp(d2, digest, 48), 0);
    }
}

/* A small v2 quote log as a 0.6 agent returns it: stripped (digest ""), version 2, preimage. */
static char *v2_log_json(const char *payload_hex, const char *preimage_hex, const char *digest)
{
    char *out = NULL;

    if (asprintf(&out,
                 "[{\"imr\":0,\"event_type\":10,\"digest\":\"%096d\",\"event\":\"acpi-loader\","
                 "\"event_payload\":\"414350492044415441\"},"
                 "{\"imr\":3,\"event_type\":134217729,\"digest\":\"%s\",\"event\":\"app-id\","
                 "\"event_payload\":\"%s\",\"version\":2,\"preimage\":\"%s\"}]",
                 0, digest, payload_hex, preimage_hex) < 0)
        return NULL;
    return out;
}

static void test_v2_json_replay(void)
{
    static const char pre[] = "{\"name\":\"app-id\",\"payload\":\"6964\",\"type\":134217729}";
    char pre_hex[2 * sizeof(pre) + 1], digest_hex[97], *json, *back;
    uint8_t digest[48], rtmr[4][48], want3[96];
    bool valid[4];
    dstack_event_log log;
    dstack_tdx_quote quote;
    dstack_error err;
    unsigned int len = 48;

    dstack_hex_encode((const uint8_t *)pre, strlen(pre), pre_hex);
    EVP_Digest(pre, strlen(pre), digest, &len, EVP_sha384(), NULL);
    dstack_hex_encode(digest, 48, digest_hex);

    /* stripped: blank digest, preimage kept; RTMR3 = SHA-384(0^48 || v2 digest) */
    json = v2_log_json("6964", pre_hex, "");
    CU_ASSERT_EQUAL_FATAL(dstack_event_log_parse(json, strlen(json), &log, &err), DSTACK_OK);
    CU_ASSERT_EQUAL(log.events[1].version, 2);
    CU_ASSERT_TRUE(log.events[1].has_preimage);
    CU_ASSERT_EQUAL(log.events[0].version, 1);
    CU_ASSERT_FALSE(log.events[0].has_preimage);
    dstack_event_log_replay(&log, rtmr, valid);
    memset(want3, 0, 48);
    memcpy(want3 + 48, digest, 48);
    len = 48;
    EVP_Digest(want3, 96, want3, &len, EVP_sha384(), NULL);
    CU_ASSERT_EQUAL(memcmp(rtmr[3], want3, 48), 0);
    CU_ASSERT_TRUE(valid[3]);
    memset(&quote, 0, sizeof(quote));
    memcpy(quote.rtmr, rtmr, sizeof(rtmr));
    CU_ASSERT_EQUAL(dstack_event_log_check_quote(&log, &quote, 0xF, &err), DSTACK_OK);
    /* serialised as the agent writes it: version and preimage after event_payload */
    back = dstack_event_log_to_json(&log);
    CU_ASSERT_STRING_EQUAL(back, json);
    free(back);
    dstack_event_log_free(&log);
    free(json);

    /* full log: the preimage must hash to the digest */
    json = v2_log_json("6964", pre_hex, digest_hex);
    CU_ASSERT_EQUAL_FATAL(dstack_event_log_parse(json, strlen(json), &log, &err), DSTACK_OK);
    CU_ASSERT_EQUAL(dstack_event_log_check_quote(&log, &quote, 0xF, &err), DSTACK_OK);
    dstack_event_log_free(&log);
    free(json);
    digest_hex[0] = digest_hex[0] == '0' ? '1' : '0';
    json = v2_log_json("6964", pre_hex, digest_hex);
    CU_ASSERT_EQUAL_FATAL(dstack_event_log_parse(json, strlen(json), &log, &err), DSTACK_OK);
    CU_ASSERT_EQUAL(dstack_event_log_check_preimages(&log, &err), DSTACK_ERR_CRYPTO);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "does not hash to its digest"));
    CU_ASSERT_EQUAL(dstack_event_log_check_quote(&log, &quote, 0x8, &err), DSTACK_ERR_CRYPTO);
    dstack_event_log_replay(&log, rtmr, valid);
    CU_ASSERT_FALSE(valid[3]);
    CU_ASSERT_TRUE(valid[0]);
    dstack_event_log_free(&log);
    free(json);

    /* a preimage for another payload: canonical form differs from the event shown */
    json = v2_log_json("6965", pre_hex, "");
    CU_ASSERT_EQUAL_FATAL(dstack_event_log_parse(json, strlen(json), &log, &err), DSTACK_OK);
    CU_ASSERT_EQUAL(dstack_event_log_check_preimages(&log, &err), DSTACK_ERR_CRYPTO);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "not the canonical JSON"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "entry 1"));
    dstack_event_log_free(&log);
    free(json);
}

static void test_v2_json_negative(void)
{
    static const struct {
        const char *extra, *needle;
    } cases[] = {
        {",\"version\":3", "unknown event log version 3"},
        {",\"version\":\"2\"", "\"version\" is not an integer"},
        {",\"version\":null", "\"version\" is not an integer"},
        {",\"version\":1.5", "\"version\" is not an integer"},
        {",\"preimage\":12", "\"preimage\" is not a string"},
        {",\"preimage\":\"zz\"", "\"preimage\" is not valid hex"},
        {",\"preimage\":\"abc\"", "\"preimage\" is not valid hex"},
        {",\"preimage\":[]", "\"preimage\" is not a string"},
    };
    dstack_event_log log;
    dstack_error err;
    char json[512];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(json, sizeof(json),
                 "[{\"imr\":3,\"event_type\":134217729,\"digest\":\"\",\"event\":\"e\","
                 "\"event_payload\":\"\"%s}]",
                 cases[i].extra);
        CU_ASSERT_EQUAL(dstack_event_log_parse(json, strlen(json), &log, &err),
                        DSTACK_ERR_PROTOCOL);
        CU_ASSERT_PTR_NOT_NULL(strstr(err.message, cases[i].needle));
        if (strstr(err.message, cases[i].needle) == NULL)
            fprintf(stderr, "case %zu: %s\n", i, err.message);
    }
    /* null preimage = none (Option<String>); version 1 explicit = default */
    snprintf(json, sizeof(json),
             "[{\"imr\":3,\"event_type\":134217729,\"digest\":\"\",\"event\":\"e\","
             "\"event_payload\":\"\",\"version\":1,\"preimage\":null}]");
    CU_ASSERT_EQUAL_FATAL(dstack_event_log_parse(json, strlen(json), &log, &err), DSTACK_OK);
    CU_ASSERT_FALSE(log.events[0].has_preimage);
    CU_ASSERT_EQUAL(log.events[0].version, 1);
    dstack_event_log_free(&log);
}

/* ---- certificates ------------------------------------------------------------------------------
 */

/* An RA-TLS certificate whose .1.8 holds a SEV-SNP attestation: inspect reads its platform,
 * verification says what it is instead of a parse error. */
static void test_non_tdx_certificate(void)
{
    te_buf b = {0};
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    dstack_cert_ext ext;
    dstack_cert_spec spec;
    dstack_ratls_info info;
    dstack_ratls_verification v;
    dstack_error err;
    uint8_t secret[32];

    memset(secret, 7, sizeof(secret));
    CU_ASSERT_EQUAL_FATAL(dstack_pkey_from_secret(DSTACK_ALG_P256, secret, &key, NULL), DSTACK_OK);
    for (size_t i = 1; i < N_VARIANTS; i++) {
        if (variants[i].platform == DSTACK_PLATFORM_GCP_TDX)
            continue; /* carries a TDX quote */
        te_write_v0_platform(&b, variants[i].platform, 1);
        memset(&spec, 0, sizeof(spec));
        ext = (dstack_cert_ext){DSTACK_OID_ATTESTATION, b.p, b.len};
        spec.common_name = "non-tdx";
        spec.ca_pathlen = -1;
        spec.not_before = 157766400;
        spec.not_after = 2524607999;
        spec.exts = &ext;
        spec.n_exts = 1;
        CU_ASSERT_EQUAL_FATAL(dstack_cert_build(&spec, key, NULL, NULL, &cert, NULL), DSTACK_OK);
        CU_ASSERT_EQUAL_FATAL(dstack_ratls_inspect(cert, &info, &err), DSTACK_OK);
        CU_ASSERT_TRUE(info.has_attestation);
        CU_ASSERT_EQUAL(info.attestation.platform, variants[i].platform);
        CU_ASSERT_FALSE(info.quote_parsed);
        CU_ASSERT_FALSE(info.report_data_binds_key);
        dstack_ratls_info_free(&info);
        CU_ASSERT_EQUAL(dstack_ratls_verify(cert, NULL, &v, &err), DSTACK_ERR_PROTOCOL);
        CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "not a TDX attestation: "));
        CU_ASSERT_PTR_NOT_NULL(strstr(err.message, variants[i].name));
        CU_ASSERT_FALSE(v.verified);
        CU_ASSERT_TRUE(v.has_attestation);
        X509_free(cert);
    }
    EVP_PKEY_free(key);
    te_buf_free(&b);
}

int main(void)
{
    static const test_case cases[] = {
        {"SCALE: every 0.6 platform variant decodes to its platform", test_scale_variants},
        {"SCALE: truncated, trailing, unknown variants, oversized counts", test_scale_negative},
        {"msgpack: every 0.6 platform kind, 0.5.11 data-less kinds", test_msgpack_kinds},
        {"msgpack: missing fields, wrong types, unknown kinds and versions", test_msgpack_negative},
        {"msgpack: V2 events with version and preimage", test_msgpack_v2_events},
        {"v2 digest vectors (JCS)", test_v2_digest_vectors},
        {"v2 preimage: JCS string escaping", test_v2_jcs_escaping},
        {"v2 JSON log: parse, serialise, replay, forged preimages", test_v2_json_replay},
        {"v2 JSON log: wrong types and values", test_v2_json_negative},
        {"RA-TLS certificate of another TEE: platform, not a TDX attestation",
         test_non_tdx_certificate},
        {NULL, NULL},
    };

    return test_run_suite("attestation_v06", cases);
}
