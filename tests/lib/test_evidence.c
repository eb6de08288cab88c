#include "test_evidence.h"
#include "attest/attest_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include <dstack/keys.h>

/* A TD's firmware and boot loader events (types from the TCG PC Client profile), in the order
 * a TDVF boot writes them, with the three named "ACPI DATA" events of current agents
 * (protocol.md §5.2); payloads are this project's own stand-ins. */
static const struct {
    uint32_t imr, type;
    const char *name, *payload;
} boot[TE_BOOT_EVENTS] = {
    {0, 0x8000000bu, "", "TdxTable: dstack tests TD HOB"},       /* EV_EFI_HANDOFF_TABLES2 */
    {0, 0x8000000au, "", "Fv(dstack tests TDVF configuration)"}, /* PLATFORM_FIRMWARE_BLOB2 */
    {0, 0x80000001u, "", "EFI variable SecureBoot = 0"},         /* VARIABLE_DRIVER_CONFIG */
    {0, 0x80000001u, "", "EFI variable PK (empty)"},
    {0, 0x80000001u, "", "EFI variable KEK (empty)"},
    {0, 0x80000001u, "", "EFI variable db (empty)"},
    {0, 0x80000001u, "", "EFI variable dbx (empty)"},
    {0, 0x00000004u, "", "\0\0\0"},               /* EV_SEPARATOR */
    {0, 0x0000000au, "acpi-loader", "ACPI DATA"}, /* EV_PLATFORM_CONFIG_FLAGS */
    {0, 0x0000000au, "acpi-rsdp", "ACPI DATA"},
    {0, 0x0000000au, "acpi-tables", "ACPI DATA"},
    {1, 0x80000003u, "", "dstack tests boot loader image"}, /* BOOT_SERVICES_APPLICATION */
    {0, 0x80000002u, "", "EFI variable BootOrder = 0000"},  /* EV_EFI_VARIABLE_BOOT */
    {0, 0x80000002u, "", "EFI variable Boot0000 = dstack tests disk"},
    {1, 0x80000007u, "", "Calling EFI Application from Boot Option"}, /* EV_EFI_ACTION */
    {1, 0x00000004u, "", "\0\0\0"},
    {2, 0x00000006u, "", "dstack tests kernel image"}, /* EV_EVENT_TAG */
    {2, 0x00000006u, "", "dstack tests kernel command line"},
    {1, 0x80000007u, "", "Exit Boot Services Invocation"},
    {1, 0x80000007u, "", "Exit Boot Services Returned with Success"},
};

static size_t boot_payload_len(size_t i)
{
    return boot[i].type == 0x00000004u ? 4 : strlen(boot[i].payload);
}

void te_vm_init(te_vm *vm, uint8_t seed)
{
    uint8_t buf[64], digest[32];
    char hex[65];

    memset(vm, 0, sizeof(*vm));
    for (int i = 0; i < 4; i++) {
        int n = snprintf((char *)buf, sizeof(buf), "dstack tests VM %u field %d", seed, i);
        SHA256(buf, (size_t)n, digest);
        switch (i) {
        case 0:
            memcpy(vm->app_id, digest, 20);
            break;
        case 1:
            memcpy(vm->compose_hash, digest, 32);
            break;
        case 2:
            memcpy(vm->instance_id, digest, 20);
            break;
        default:
            memcpy(vm->os_image_hash, digest, 32);
            break;
        }
    }
    SHA256(vm->app_id, 20, digest);
    dstack_hex_encode(digest, 32, hex);
    snprintf(vm->key_provider, sizeof(vm->key_provider), "{\"name\":\"kms\",\"id\":\"%s\"}", hex);
    strcpy(vm->storage_fs, "ext4");
}

static void append_runtime(dstack_event_log *log, const char *name, const void *payload, size_t len)
{
    uint8_t digest[48];

    dstack_runtime_event_digest(name, payload, len, digest);
    QF_REQUIRE(dstack_event_log_append(log, 3, DSTACK_RUNTIME_EVENT_TYPE, digest, 48, name, payload,
                                       len, NULL) == DSTACK_OK);
}

void te_event_log(const te_vm *vm, dstack_event_log *out)
{
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < TE_BOOT_EVENTS; i++) {
        uint8_t digest[48];
        size_t n = boot_payload_len(i);

        SHA384((const uint8_t *)boot[i].payload, n, digest);
        QF_REQUIRE(dstack_event_log_append(out, boot[i].imr, boot[i].type, digest, 48, boot[i].name,
                                           (const uint8_t *)boot[i].payload, n, NULL) == DSTACK_OK);
    }
    append_runtime(out, "system-preparing", NULL, 0);
    append_runtime(out, "app-id", vm->app_id, 20);
    append_runtime(out, "compose-hash", vm->compose_hash, 32);
    append_runtime(out, "instance-id", vm->instance_id, 20);
    append_runtime(out, "boot-mr-done", NULL, 0);
    append_runtime(out, "os-image-hash", vm->os_image_hash, 32);
    append_runtime(out, "key-provider", vm->key_provider, strlen(vm->key_provider));
    append_runtime(out, "storage-fs", vm->storage_fs, strlen(vm->storage_fs));
    append_runtime(out, "system-ready", NULL, 0);
}

void te_strip_log(const dstack_event_log *full, bool attestation_form, dstack_event_log *out)
{
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < full->count; i++) {
        const dstack_event *e = &full->events[i];
        bool runtime = e->event_type == DSTACK_RUNTIME_EVENT_TYPE, named = e->event[0] != '\0';

        dstack_event s = *e; /* version and preimage kept, as the agent keeps them */

        if (attestation_form && !runtime && !named)
            continue;
        s.digest_len = runtime ? 0 : e->digest_len;
        s.payload_len = runtime || named ? e->payload_len : 0;
        QF_REQUIRE(dstack_event_log_append_event(out, &s, NULL) == DSTACK_OK);
    }
}

char *te_sys_config(const te_vm *vm)
{
    char hex[65], *out = malloc(256);

    QF_REQUIRE(out != NULL);
    dstack_hex_encode(vm->os_image_hash, 32, hex);
    snprintf(out, 256,
             "{\"vm_config\":\"{\\\"os_image_hash\\\":\\\"%s\\\",\\\"cpu_count\\\":2,"
             "\\\"memory_size\\\":2147483648}\",\"kms_urls\":[],\"gateway_urls\":[]}",
             hex);
    return out;
}

void te_attestation(const qf_pki *pki, const te_vm *vm, const uint8_t report_data[64], size_t pad,
                    dstack_attestation *out)
{
    uint8_t rtmr[4][48], body[QF_SIGNED_LEN];
    size_t n = 0;

    memset(out, 0, sizeof(*out));
    te_event_log(vm, &out->tdx_event_log);
    if (report_data != NULL)
        memcpy(out->report_data, report_data, 64);
    dstack_event_log_replay(&out->tdx_event_log, rtmr, NULL);
    qf_body(body, (const uint8_t(*)[48])rtmr, out->report_data);
    out->quote = qf_quote(pki, body, pad, &out->quote_len);
    out->runtime_events = calloc(TE_RUNTIME_EVENTS, sizeof(*out->runtime_events));
    QF_REQUIRE(out->runtime_events != NULL);
    for (size_t i = 0; i < out->tdx_event_log.count; i++) {
        const dstack_event *e = &out->tdx_event_log.events[i];
        dstack_runtime_event *r = &out->runtime_events[n];

        if (e->event_type != DSTACK_RUNTIME_EVENT_TYPE)
            continue;
        QF_REQUIRE(n < TE_RUNTIME_EVENTS);
        r->event = strdup(e->event);
        r->payload = e->payload_len > 0 ? malloc(e->payload_len) : NULL;
        QF_REQUIRE(r->event != NULL && (e->payload_len == 0 || r->payload != NULL));
        if (e->payload_len > 0)
            memcpy(r->payload, e->payload, e->payload_len);
        r->payload_len = e->payload_len;
        n++;
    }
    out->runtime_events_len = n;
    out->config = te_sys_config(vm);
}

/* ---- buffers and msgpack ---------------------------------------------------------------- */

void te_put(te_buf *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap == 0 ? 1024 : b->cap;
        uint8_t *grown;

        while (cap < b->len + n)
            cap *= 2;
        grown = realloc(b->p, cap);
        QF_REQUIRE(grown != NULL);
        b->p = grown;
        b->cap = cap;
    }
    if (n > 0)
        memcpy(b->p + b->len, p, n);
    b->len += n;
}

void te_put_le(te_buf *b, uint64_t v, int n)
{
    uint8_t le[8];

    for (int i = 0; i < n; i++)
        le[i] = (uint8_t)(v >> (8 * i));
    te_put(b, le, (size_t)n);
}

void te_buf_free(te_buf *b)
{
    free(b->p);
    memset(b, 0, sizeof(*b));
}

static void mp_byte(te_buf *w, uint8_t v)
{
    te_put(w, &v, 1);
}

static void mp_be(te_buf *w, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--)
        mp_byte(w, (uint8_t)(v >> (8 * i)));
}

void mp_uint(te_buf *w, uint64_t v)
{
    if (v < 128) {
        mp_byte(w, (uint8_t)v);
    } else if (v < 256) {
        mp_byte(w, 0xcc);
        mp_byte(w, (uint8_t)v);
    } else if (v < 65536) {
        mp_byte(w, 0xcd);
        mp_be(w, v, 2);
    } else {
        mp_byte(w, 0xce);
        mp_be(w, v, 4);
    }
}

void mp_str(te_buf *w, const char *s)
{
    size_t n = strlen(s);

    if (n < 32) {
        mp_byte(w, (uint8_t)(0xa0 | n));
    } else {
        mp_byte(w, 0xda);
        mp_be(w, n, 2);
    }
    te_put(w, s, n);
}

void mp_bin(te_buf *w, const uint8_t *p, size_t n)
{
    mp_byte(w, 0xc5);
    mp_be(w, n, 2);
    te_put(w, p, n);
}

void mp_array(te_buf *w, size_t n)
{
    if (n < 16) {
        mp_byte(w, (uint8_t)(0x90 | n));
    } else {
        mp_byte(w, 0xdc);
        mp_be(w, n, 2);
    }
}

void mp_map(te_buf *w, size_t n)
{
    mp_byte(w, (uint8_t)(0x80 | n));
}

void mp_int_array(te_buf *w, const uint8_t *p, size_t n)
{
    mp_array(w, n);
    for (size_t i = 0; i < n; i++)
        mp_uint(w, p[i]);
}

static void mp_bytes(te_buf *w, const uint8_t *p, size_t n, bool as_bin)
{
    if (as_bin)
        mp_bin(w, p, n);
    else
        mp_int_array(w, p, n);
}

void te_write_v1(te_buf *w, const dstack_attestation *a, bool bytes_as_bin, bool extra_keys,
                 const char *stack_kind)
{
    w->len = 0;
    mp_map(w, extra_keys ? 4 : 3);
    if (extra_keys) { /* unknown key with nested content, first */
        mp_str(w, "future");
        mp_map(w, 2);
        mp_str(w, "a");
        mp_array(w, 3);
        mp_byte(w, 0xc0);
        mp_byte(w, 0xcb);
        mp_be(w, 0, 8);
        mp_byte(w, 0xd6);
        mp_be(w, 0, 5);
        mp_str(w, "b");
        mp_byte(w, 0xc3);
    }
    mp_str(w, "version");
    mp_uint(w, 1);
    mp_str(w, "stack");
    mp_map(w, 2);
    mp_str(w, "kind");
    mp_str(w, stack_kind);
    mp_str(w, "data");
    mp_map(w, extra_keys ? 4 : 3);
    mp_str(w, "report_data");
    mp_bytes(w, a->report_data, 64, bytes_as_bin);
    mp_str(w, "runtime_events");
    mp_array(w, a->runtime_events_len);
    for (size_t i = 0; i < a->runtime_events_len; i++) {
        mp_map(w, 2);
        mp_str(w, "event");
        mp_str(w, a->runtime_events[i].event);
        mp_str(w, "payload");
        mp_bin(w, a->runtime_events[i].payload, a->runtime_events[i].payload_len);
    }
    mp_str(w, "config");
    mp_str(w, a->config);
    if (extra_keys) {
        mp_str(w, "report_data_payload");
        mp_str(w, "");
    }
    mp_str(w, "platform");
    mp_map(w, 2);
    mp_str(w, "kind");
    mp_str(w, "tdx");
    mp_str(w, "data");
    mp_map(w, 2);
    mp_str(w, "quote");
    mp_bytes(w, a->quote, a->quote_len, bytes_as_bin);
    mp_str(w, "event_log");
    mp_array(w, a->tdx_event_log.count);
    for (size_t i = 0; i < a->tdx_event_log.count; i++) {
        const dstack_event *ev = &a->tdx_event_log.events[i];

        mp_map(w, 5);
        mp_str(w, "imr");
        mp_uint(w, ev->imr);
        mp_str(w, "event_type");
        mp_uint(w, ev->event_type);
        mp_str(w, "digest");
        mp_bin(w, ev->digest, ev->digest_len);
        mp_str(w, "event");
        mp_str(w, ev->event);
        mp_str(w, "event_payload");
        mp_bin(w, ev->payload, ev->payload_len);
    }
}

/* ---- SCALE (protocol.md §4.4, §4.4.1), independent of libdstack's and the agent side's ---- */

void te_scale_compact(te_buf *b, uint64_t v)
{
    if (v < 64) {
        te_put_le(b, v << 2, 1);
    } else if (v < (1u << 14)) {
        te_put_le(b, v << 2 | 1, 2);
    } else if (v < (1u << 30)) {
        te_put_le(b, v << 2 | 2, 4);
    } else {
        te_put_le(b, (4 - 4) << 2 | 3, 1); /* 4 bytes follow */
        te_put_le(b, v, 4);
    }
}

void te_scale_bytes(te_buf *b, const void *p, size_t n)
{
    te_scale_compact(b, n);
    te_put(b, p, n);
}

void te_scale_str(te_buf *b, const char *s)
{
    te_scale_bytes(b, s, strlen(s));
}

const uint8_t te_snp_report_data[64] = "snp report_data, 64 bytes at 0x50 of the report";

/* A fake SEV-SNP report: 1184 bytes, REPORT_DATA at 0x50 (protocol.md §4.4.1). */
static void snp_report(uint8_t out[1184])
{
    memset(out, 0x5a, 1184);
    memcpy(out + 0x50, te_snp_report_data, 64);
}

/* TdxQuote := quote, event_log (one runtime event). */
static void sc_tdx_quote(te_buf *b)
{
    uint8_t digest[48];

    te_scale_bytes(b, "TDXQ", 4);
    te_scale_compact(b, 1);
    te_put_le(b, 3, 4);
    te_put_le(b, DSTACK_RUNTIME_EVENT_TYPE, 4);
    dstack_runtime_event_digest("app-id", (const uint8_t *)"id", 2, digest);
    te_scale_bytes(b, digest, 48);
    te_scale_str(b, "app-id");
    te_scale_bytes(b, "id", 2);
}

/* A V0 attestation of `platform` with the 0.6 payload of its variant, one runtime event,
 * report_data 0x42… and config "{}". tpm_platform: the TpmQuote's Platform byte. */
void te_write_v0_platform(te_buf *b, int platform, uint8_t tpm_platform)
{
    uint8_t rd[64], report[1184];

    b->len = 0;
    te_put_le(b, 0, 1); /* VersionedAttestation::V0 */
    te_put_le(b, (uint64_t)platform, 1);
    switch (platform) {
    case DSTACK_PLATFORM_TDX:
        sc_tdx_quote(b);
        break;
    case DSTACK_PLATFORM_GCP_TDX:
        sc_tdx_quote(b);
        te_scale_bytes(b, "TPMS_ATTEST message", 19); /* message */
        te_scale_bytes(b, "signature", 9);
        te_scale_compact(b, 2); /* pcr_values */
        for (uint32_t i = 0; i < 2; i++) {
            te_put_le(b, 14 + i, 4);
            te_scale_str(b, "sha256");
            te_scale_bytes(b, rd, 32);
        }
        te_scale_bytes(b, "AK cert DER", 11);
        te_put_le(b, tpm_platform, 1);
        te_scale_compact(b, 1); /* event_log */
        te_put_le(b, 14, 4);
        te_scale_bytes(b, rd, 32);
        break;
    case DSTACK_PLATFORM_NITRO_ENCLAVE:
        te_scale_bytes(b, "\x84\x44\xa1\x01\x38\x22 NSM COSE_Sign1", 22);
        break;
    case DSTACK_PLATFORM_AMD_SEV_SNP:
        snp_report(report);
        te_scale_bytes(b, report, sizeof(report));
        te_scale_compact(b, 3); /* cert_chain: VCEK, ASK, ARK */
        te_scale_bytes(b, "VCEK", 4);
        te_scale_bytes(b, "ASK", 3);
        te_scale_bytes(b, "ARK", 3);
        te_scale_str(b, "{\"app_id\":\"00\",\"version\":3}");
        break;
    case DSTACK_PLATFORM_AWS_NITRO_TPM:
        te_scale_bytes(b, "\x84\x44 NitroTPM COSE_Sign1", 21);
        break;
    }
    te_scale_compact(b, 1); /* runtime_events */
    te_scale_str(b, "app-id");
    te_scale_bytes(b, "id", 2);
    memset(rd, 0x42, sizeof(rd));
    te_put(b, rd, 64);
    te_scale_str(b, "{}");
}

/* ---- V1 msgpack, every platform kind (protocol.md §4.5.4) ------------------------------------ */

static void mp_tdx_fields(te_buf *w, unsigned version, int preimage)
{
    static const uint8_t quote[4] = {'T', 'D', 'X', 'Q'};
    static const char jcs[] = "{\"name\":\"app-id\",\"payload\":\"6964\",\"type\":134217729}";
    uint8_t digest[48];
    char hex[2 * sizeof(jcs) + 1];

    mp_str(w, "quote");
    mp_int_array(w, quote, 4);
    mp_str(w, "event_log");
    mp_array(w, 1);
    mp_map(w, 5 + (version != 1) + (preimage != TE_PRE_NONE));
    mp_str(w, "imr");
    mp_uint(w, 3);
    mp_str(w, "event_type");
    mp_uint(w, DSTACK_RUNTIME_EVENT_TYPE);
    mp_str(w, "digest");
    if (version == 2)
        dstack_runtime_event_digest_v2("app-id", (const uint8_t *)"id", 2, digest);
    else
        dstack_runtime_event_digest("app-id", (const uint8_t *)"id", 2, digest);
    mp_bin(w, digest, 48);
    mp_str(w, "event");
    mp_str(w, "app-id");
    mp_str(w, "event_payload");
    mp_bin(w, (const uint8_t *)"id", 2);
    if (version != 1) {
        mp_str(w, "version");
        mp_uint(w, version);
    }
    if (preimage == TE_PRE_NONE)
        return;
    mp_str(w, "preimage");
    dstack_hex_encode((const uint8_t *)jcs, strlen(jcs), hex);
    if (preimage == TE_PRE_NOT_HEX)
        hex[3] = 'z';
    if (preimage == TE_PRE_INTEGER)
        mp_uint(w, 5);
    else if (preimage == TE_PRE_NIL)
        te_put(w, "\xc0", 1);
    else
        mp_str(w, hex);
}

static void mp_platform(te_buf *w, int platform, int variation)
{
    static const char *const kinds[] = {"tdx", "gcp-tdx", "nitro-enclave", "sev-snp",
                                        "aws-nitro-tpm"};
    uint8_t report[1184], pcr[32] = {0};
    bool missing = variation == TE_MP_MISSING_FIELD, wrong = variation == TE_MP_WRONG_TYPE;

    mp_str(w, "platform");
    mp_map(w, variation == TE_MP_NO_DATA ? 1 : 2);
    mp_str(w, "kind");
    mp_str(w, platform < 5 ? kinds[platform] : "quantum-enclave");
    if (variation == TE_MP_NO_DATA)
        return;
    mp_str(w, "data");
    switch (platform) {
    case DSTACK_PLATFORM_TDX:
        mp_map(w, 2);
        mp_tdx_fields(w, 1, TE_PRE_NONE);
        break;
    case DSTACK_PLATFORM_GCP_TDX:
        mp_map(w, missing ? 2 : 3);
        mp_tdx_fields(w, 1, TE_PRE_NONE);
        if (missing)
            break;
        mp_str(w, "tpm_quote");
        mp_map(w, 6);
        mp_str(w, "message");
        mp_bin(w, (const uint8_t *)"TPMS_ATTEST message", 19);
        mp_str(w, "signature");
        mp_bin(w, (const uint8_t *)"sig", 3);
        mp_str(w, "pcr_values");
        mp_array(w, 2);
        for (int i = 0; i < 2; i++) {
            mp_map(w, 3);
            mp_str(w, "index");
            mp_uint(w, 14);
            mp_str(w, "algorithm");
            mp_str(w, "sha256");
            mp_str(w, "value");
            if (wrong)
                mp_uint(w, 7);
            else
                mp_bin(w, pcr, 32);
        }
        mp_str(w, "ak_cert");
        mp_bin(w, (const uint8_t *)"ak", 2);
        mp_str(w, "platform");
        mp_str(w, variation == TE_MP_BAD_TPM_PLATFORM ? "azure" : "gcp");
        mp_str(w, "event_log");
        mp_array(w, 1);
        mp_map(w, 2);
        mp_str(w, "pcr_index");
        mp_uint(w, 14);
        mp_str(w, "digest");
        mp_bin(w, pcr, 32);
        break;
    case DSTACK_PLATFORM_NITRO_ENCLAVE:
    case DSTACK_PLATFORM_AWS_NITRO_TPM:
        mp_map(w, missing ? 0 : 1);
        if (missing)
            break;
        mp_str(w, platform == DSTACK_PLATFORM_NITRO_ENCLAVE ? "nsm_quote" : "attestation_doc");
        if (wrong)
            mp_str(w, "not bytes");
        else
            mp_int_array(w, (const uint8_t *)"COSE_Sign1 bytes, plain Vec<u8>",
                         21 + (platform == 2));
        break;
    case DSTACK_PLATFORM_AMD_SEV_SNP:
        snp_report(report);
        mp_map(w, missing ? 2 : 3);
        mp_str(w, "report");
        mp_int_array(w, report, sizeof(report));
        mp_str(w, "cert_chain");
        mp_array(w, 3);
        mp_int_array(w, (const uint8_t *)"VCEK", 4);
        mp_int_array(w, (const uint8_t *)"ASK", 3);
        mp_int_array(w, (const uint8_t *)"ARK", 3);
        if (missing)
            break;
        mp_str(w, "mr_config");
        if (wrong)
            mp_uint(w, 3);
        else
            mp_str(w, "{\"app_id\":\"00\",\"version\":3}");
        break;
    default:
        mp_map(w, 0);
    }
}

/* {"version":1, "platform":…, "stack":{"kind":"dstack","data":{…, one runtime event}}} */
void te_write_v1_platform(te_buf *w, int platform, int variation, unsigned rt_version)
{
    uint8_t rd[64];

    memset(rd, 0x42, sizeof(rd));
    w->len = 0;
    mp_map(w, 3);
    mp_str(w, "version");
    mp_uint(w, 1);
    mp_platform(w, platform, variation);
    mp_str(w, "stack");
    mp_map(w, 2);
    mp_str(w, "kind");
    mp_str(w, "dstack");
    mp_str(w, "data");
    mp_map(w, 3);
    mp_str(w, "report_data");
    mp_int_array(w, rd, 64);
    mp_str(w, "runtime_events");
    mp_array(w, 1);
    mp_map(w, rt_version == 1 ? 2 : 3);
    mp_str(w, "event");
    mp_str(w, "app-id");
    mp_str(w, "payload");
    mp_bin(w, (const uint8_t *)"id", 2);
    if (rt_version != 1) {
        mp_str(w, "version");
        mp_uint(w, rt_version);
    }
    mp_str(w, "config");
    mp_str(w, "{}");
}

/* A V2 boot's Attest (protocol.md §5.3.1): TE and RE say version 2, TE carries the preimage. */
void te_write_v1_v2_events(te_buf *b, unsigned version, int preimage)
{
    uint8_t rd[64];

    memset(rd, 0x42, sizeof(rd));
    b->len = 0;
    mp_map(b, 3);
    mp_str(b, "version");
    mp_uint(b, 1);
    mp_str(b, "platform");
    mp_map(b, 2);
    mp_str(b, "kind");
    mp_str(b, "tdx");
    mp_str(b, "data");
    mp_map(b, 2);
    mp_tdx_fields(b, version, preimage);
    mp_str(b, "stack");
    mp_map(b, 2);
    mp_str(b, "kind");
    mp_str(b, "dstack");
    mp_str(b, "data");
    mp_map(b, 3);
    mp_str(b, "report_data");
    mp_bin(b, rd, 64);
    mp_str(b, "runtime_events");
    mp_array(b, 1);
    mp_map(b, 3);
    mp_str(b, "event");
    mp_str(b, "app-id");
    mp_str(b, "payload");
    mp_bin(b, (const uint8_t *)"id", 2);
    mp_str(b, "version");
    mp_uint(b, 2);
    mp_str(b, "config");
    mp_str(b, "{}");
}

/* ---- CCEL ------------------------------------------------------------------------------- */

void te_ccel_header(te_buf *t, const uint16_t *algs, uint32_t n)
{
    static const uint8_t zero20[20];
    static const uint8_t fixed[8] = {0, 0, 0, 0, 0, 2, 0, 2}; /* class, version 2.0, uintn 2 */

    t->len = 0;
    te_put_le(t, 0, 4); /* PCR 0 */
    te_put_le(t, 3, 4); /* EV_NO_ACTION */
    te_put(t, zero20, 20);
    te_put_le(t, 16 + 12 + 4 * n + 1, 4);
    te_put(t, "Spec ID Event03", 16);
    te_put(t, fixed, 8);
    te_put_le(t, n, 4);
    for (uint32_t i = 0; i < n; i++) {
        te_put_le(t, algs[2 * i], 2);
        te_put_le(t, algs[2 * i + 1], 2);
    }
    te_put(t, "", 1); /* vendorInfoSize */
}

void te_ccel_event(te_buf *t, uint32_t mr_index, uint32_t type, uint16_t alg, const uint8_t *digest,
                   size_t digest_len, const uint8_t *data, size_t data_len)
{
    te_put_le(t, mr_index, 4);
    te_put_le(t, type, 4);
    te_put_le(t, 1, 4);
    te_put_le(t, alg, 2);
    te_put(t, digest, digest_len);
    te_put_le(t, data_len, 4);
    te_put(t, data, data_len);
}

size_t te_ccel_table(const dstack_event_log *log, size_t size, te_buf *t)
{
    static const uint16_t sha384[] = {0x000c, 48};
    size_t used;

    te_ccel_header(t, sha384, 1);
    for (size_t i = 0; i < log->count; i++) {
        const dstack_event *e = &log->events[i];

        if (e->imr > 2 || e->event_type == DSTACK_RUNTIME_EVENT_TYPE)
            continue;
        te_ccel_event(t, e->imr + 1, e->event_type, 0x000c, e->digest, e->digest_len, e->payload,
                      e->payload_len);
    }
    used = t->len;
    for (size_t i = used; i < size; i++)
        te_put(t, "\xff", 1);
    return used;
}
