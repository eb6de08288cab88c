/* dstack-sim — the simulated measured boot: event log, RTMRs, evidence snapshots and
 * VersionedAttestation (protocol.md §4.4, §4.5.4, §5.2–§5.5).
 *
 * The log starts with a few synthetic boot events on RTMR0–2 — among them the three RTMR0
 * "ACPI DATA" events of dstack's OVMF, which 0.6 agents name (protocol.md §5.2.1) — and the
 * runtime events the real dstack OS writes at boot (protocol.md §5.4); EmitEvent appends
 * more. Runtime digests follow the boot's event-log version (app-compose, protocol.md §5.3.1).
 * Quotes carry the replay of this log, so RTMR0–3 always equal what a verifier recomputes from it.
 */
#include "sim.h"
#include "agent_side.h"
#include "attest/attest_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#define SIM_QUOTE_FILE_MAX (1024 * 1024)

#define EV_PLATFORM_CONFIG_FLAGS 0x0000000Au
#define ACPI_DATA "ACPI DATA"

/* payload NULL: the "ACPI DATA" marker, digest over `label` (the ACPI table it stands for). */
static const struct {
    uint32_t imr;
    uint32_t type;
    const char *label;
    const char *payload;
    const char *name; /* 0.6 name of an ACPI DATA event (protocol.md §5.2.1) */
} boot_events[] = {
    {0, 0x80000001u, "dstack-sim: EFI variable SecureBoot", NULL, NULL}, /* EV_EFI_VARIABLE_… */
    {0, EV_PLATFORM_CONFIG_FLAGS, "dstack-sim: TD HOB", NULL, NULL},
    {0, EV_PLATFORM_CONFIG_FLAGS, "dstack-sim: ACPI table loader", ACPI_DATA, "acpi-loader"},
    {0, EV_PLATFORM_CONFIG_FLAGS, "dstack-sim: ACPI RSDP", ACPI_DATA, "acpi-rsdp"},
    {0, EV_PLATFORM_CONFIG_FLAGS, "dstack-sim: ACPI tables", ACPI_DATA, "acpi-tables"},
    {1, 0x80000003u, "dstack-sim: bootloader", NULL, NULL}, /* EV_EFI_BOOT_SERVICES_APPLICATION */
    {1, 0x80000007u, "Exit Boot Services Invocation", NULL, NULL}, /* EV_EFI_ACTION */
    {2, 0x0000000Du, "dstack-sim: kernel image", NULL, NULL},      /* EV_IPL */
    {2, 0x0000000Du, "dstack-sim: kernel command line", NULL, NULL},
};

/* SHA-256 of the JCS of an absent requirements.gpu_policy ({}), the 0.6 boot default. */
static const char gpu_policy_default[] = "{}";

static bool append_runtime(sim_ctx *ctx, const char *name, const uint8_t *payload, size_t len)
{
    uint8_t digest[48];
    dstack_event ev = {.imr = 3,
                       .event_type = DSTACK_RUNTIME_EVENT_TYPE,
                       .digest = digest,
                       .digest_len = sizeof(digest),
                       .event = (char *)name,
                       .payload = (uint8_t *)payload,
                       .payload_len = len,
                       .version = ctx->event_log_version};

    if (ctx->event_log_version == DSTACK_EVENT_LOG_V2)
        dstack_runtime_event_digest_v2(name, payload, len, digest);
    else
        dstack_runtime_event_digest(name, payload, len, digest);
    return dstack_event_log_append_event(&ctx->att.log, &ev, NULL) == DSTACK_OK;
}

static bool build_boot_log(sim_ctx *ctx)
{
    dstack_event_log *log = &ctx->att.log;
    const char *kp = ctx->key_provider_info;
    uint8_t gpu_policy_hash[32];
    size_t i;

    for (i = 0; i < sizeof(boot_events) / sizeof(boot_events[0]); i++) {
        uint8_t digest[48];
        const char *label = boot_events[i].label;
        const char *p = boot_events[i].payload ? boot_events[i].payload : label;
        const char *name =
            boot_events[i].name && ctx->profile->acpi_labels ? boot_events[i].name : "";

        SHA384((const uint8_t *)label, strlen(label), digest);
        if (dstack_event_log_append(log, boot_events[i].imr, boot_events[i].type, digest, 48, name,
                                    (const uint8_t *)p, strlen(p), NULL) != DSTACK_OK)
            return false;
    }
    SHA256((const uint8_t *)gpu_policy_default, strlen(gpu_policy_default), gpu_policy_hash);
    /* protocol.md §5.4 (and §5.4.1 for 0.6), in order; no mr-kms: the simulated KMS
     * certificate has no attestation, and 0.6 dropped it */
    return append_runtime(ctx, "system-preparing", NULL, 0) &&
           append_runtime(ctx, "app-id", ctx->id.app_id, 20) &&
           append_runtime(ctx, "compose-hash", ctx->compose_hash, 32) &&
           (!ctx->profile->gpu_policy_event ||
            append_runtime(ctx, "gpu-policy-hash", gpu_policy_hash, 32)) &&
           append_runtime(ctx, "instance-id", ctx->id.instance_id, ctx->no_instance_id ? 0 : 20) &&
           append_runtime(ctx, "boot-mr-done", NULL, 0) &&
           append_runtime(ctx, "os-image-hash", ctx->os_image_hash, 32) &&
           append_runtime(ctx, "key-provider", (const uint8_t *)kp, strlen(kp)) &&
           append_runtime(ctx, "storage-fs", (const uint8_t *)ctx->storage_fs,
                          strlen(ctx->storage_fs)) &&
           append_runtime(ctx, "system-ready", NULL, 0);
}

static bool load_real_quote(sim_attest *att, const char *path, char *msg, size_t msg_len)
{
    FILE *f = fopen(path, "rb");
    dstack_tdx_quote q;
    dstack_error err;
    size_t n;

    if (f == NULL) {
        snprintf(msg, msg_len, "cannot open --quote file %s", path);
        return false;
    }
    att->real_quote = malloc(SIM_QUOTE_FILE_MAX + 1);
    n = att->real_quote ? fread(att->real_quote, 1, SIM_QUOTE_FILE_MAX + 1, f) : 0;
    fclose(f);
    if (att->real_quote == NULL || n > SIM_QUOTE_FILE_MAX) {
        snprintf(msg, msg_len, "--quote %s: unreadable or larger than 1 MiB", path);
        return false;
    }
    att->real_quote_len = n;
    if (dstack_tdx_quote_parse(att->real_quote, n, &q, &err) != DSTACK_OK) {
        snprintf(msg, msg_len, "--quote %s: %s", path, err.message);
        return false;
    }
    return true;
}

bool sim_attest_init(sim_ctx *ctx, const char *quote_path, char *msg, size_t msg_len)
{
    sim_attest *att = &ctx->att;
    static const uint8_t tcb_svn[16] = {0x05, 0x01, 0x02, 0x00, 0x03};
    static const uint8_t xfam[8] = {0xe7, 0x02, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00};
    uint8_t buf[64];

    pthread_mutex_init(&att->lock, NULL);
    /* Stable per OS image, like real measurements. */
    memcpy(buf, "dstack-sim MRTD:", 16);
    memcpy(buf + 16, ctx->os_image_hash, 32);
    SHA384(buf, 48, att->mrtd);
    SHA384((const uint8_t *)"dstack-sim MRSEAM", 17, att->mr_seam);
    memcpy(att->tee_tcb_svn, tcb_svn, sizeof(tcb_svn));
    memcpy(att->xfam, xfam, sizeof(xfam));
    if (!build_boot_log(ctx)) {
        snprintf(msg, msg_len, "cannot build the event log");
        return false;
    }
    if (quote_path != NULL && !load_real_quote(att, quote_path, msg, msg_len))
        return false;
    return sim_quote_keys_init(ctx, msg, msg_len);
}

void sim_attest_free(sim_attest *att)
{
    dstack_event_log_free(&att->log);
    EVP_PKEY_free(att->quote_key);
    EVP_PKEY_free(att->pck_key);
    free(att->pck_pem);
    free(att->real_quote);
    pthread_mutex_destroy(&att->lock);
    memset(att, 0, sizeof(*att));
}

bool sim_attest_emit(sim_ctx *ctx, const char *event, const uint8_t *payload, size_t len)
{
    bool ok;

    pthread_mutex_lock(&ctx->att.lock);
    ok = append_runtime(ctx, event, payload, len);
    pthread_mutex_unlock(&ctx->att.lock);
    return ok;
}

static bool copy_log(const dstack_event_log *src, dstack_event_log *dst)
{
    size_t i;

    for (i = 0; i < src->count; i++)
        if (dstack_event_log_append_event(dst, &src->events[i], NULL) != DSTACK_OK)
            return false;
    return true;
}

bool sim_evidence_make(sim_ctx *ctx, const uint8_t report_data[64], sim_evidence *ev)
{
    sim_attest *att = &ctx->att;
    uint8_t rtmr[4][48];
    bool ok;

    memset(ev, 0, sizeof(*ev));
    pthread_mutex_lock(&att->lock);
    ok = copy_log(&att->log, &ev->log);
    pthread_mutex_unlock(&att->lock);
    if (!ok)
        goto err;
    dstack_event_log_replay(&ev->log, rtmr, NULL);
    if (att->real_quote != NULL) {
        /* --quote: patch bytes 568..632 as the official simulator does (protocol.md §6). */
        ev->quote = malloc(att->real_quote_len);
        if (ev->quote == NULL)
            goto err;
        memcpy(ev->quote, att->real_quote, att->real_quote_len);
        memcpy(ev->quote + 568, report_data, 64);
        ev->quote_len = att->real_quote_len;
    } else if (!sim_quote_synthesize(att, (const uint8_t(*)[48])rtmr, report_data, &ev->quote,
                                     &ev->quote_len)) {
        goto err;
    }
    if (dstack_tdx_quote_parse(ev->quote, ev->quote_len, &ev->parsed, NULL) != DSTACK_OK)
        goto err;
    return true;
err:
    sim_evidence_free(ev);
    return false;
}

void sim_evidence_free(sim_evidence *ev)
{
    free(ev->quote);
    dstack_event_log_free(&ev->log);
    memset(ev, 0, sizeof(*ev));
}

static bool is_acpi_data(const dstack_event *e)
{
    return e->imr == 0 && e->event_type == EV_PLATFORM_CONFIG_FLAGS &&
           e->payload_len == strlen(ACPI_DATA) &&
           memcmp(e->payload, ACPI_DATA, e->payload_len) == 0;
}

/* Stripped form (protocol.md §5.2): boot events keep digests and lose payloads — 0.6 keeps the
 * "ACPI DATA" marker — and runtime events keep payloads and lose digests. cert_form: as
 * certificates carry it (protocol.md §4.4): only RTMR3 events, and on 0.6 also the ACPI DATA
 * events. */
static bool strip_log(const sim_ctx *ctx, const dstack_event_log *src, dstack_event_log *dst,
                      bool cert_form)
{
    bool acpi = ctx->profile->acpi_labels;
    size_t i;

    for (i = 0; i < src->count; i++) {
        dstack_event e = src->events[i];

        if (cert_form && e.imr != 3 && !(acpi && is_acpi_data(&e)))
            continue;
        if (e.event_type == DSTACK_RUNTIME_EVENT_TYPE) {
            e.digest = NULL;
            e.digest_len = 0;
        } else if (!(acpi && is_acpi_data(&e))) {
            e.payload = NULL;
            e.payload_len = 0;
        }
        if (dstack_event_log_append_event(dst, &e, NULL) != DSTACK_OK)
            return false;
    }
    return true;
}

/* What 0.6 agents attach to V2 runtime events of quote logs and Attest (protocol.md §5.3.1). */
static bool fill_preimages(dstack_event_log *log)
{
    for (size_t i = 0; i < log->count; i++) {
        dstack_event *e = &log->events[i];

        if (e->event_type != DSTACK_RUNTIME_EVENT_TYPE || e->version != DSTACK_EVENT_LOG_V2 ||
            e->has_preimage)
            continue;
        if (!dstack_runtime_event_preimage_v2(e->event, e->payload, e->payload_len, &e->preimage,
                                              &e->preimage_len))
            return false;
        e->has_preimage = true;
    }
    return true;
}

char *sim_event_log_json(sim_ctx *ctx, const dstack_event_log *log, bool stripped)
{
    dstack_event_log tmp = {0};
    char *text = NULL;

    if ((stripped ? strip_log(ctx, log, &tmp, false) : copy_log(log, &tmp)) && fill_preimages(&tmp))
        text = dstack_event_log_to_json(&tmp);
    dstack_event_log_free(&tmp);
    return text;
}

bool sim_attestation_encode(sim_ctx *ctx, const sim_evidence *ev, const uint8_t report_data[64],
                            bool stripped, uint8_t **out, size_t *out_len)
{
    dstack_attestation a;
    dstack_event_log tmp = {0};
    size_t i, n = 0;
    bool v2 = ctx->event_log_version == DSTACK_EVENT_LOG_V2, ok = false;

    memset(&a, 0, sizeof(a));
    a.platform = DSTACK_PLATFORM_TDX;
    a.quote = ev->quote;
    a.quote_len = ev->quote_len;
    /* Attest carries the full log, with V2 preimages; certificates the stripped one, without
     * (protocol.md §4.4, §5.3.1). */
    if (!(stripped ? strip_log(ctx, &ev->log, &tmp, true)
                   : copy_log(&ev->log, &tmp) && fill_preimages(&tmp)))
        goto done;
    a.tdx_event_log = tmp;
    a.runtime_events = calloc(ev->log.count + 1, sizeof(*a.runtime_events));
    if (a.runtime_events == NULL)
        goto done;
    for (i = 0; i < ev->log.count; i++) {
        const dstack_event *e = &ev->log.events[i];

        if (e->event_type != DSTACK_RUNTIME_EVENT_TYPE)
            continue;
        a.runtime_events[n].event = e->event; /* borrowed */
        a.runtime_events[n].payload = e->payload;
        a.runtime_events[n].payload_len = e->payload_len;
        a.runtime_events[n].version = e->version;
        n++;
    }
    a.runtime_events_len = n;
    memcpy(a.report_data, report_data, 64);
    a.config = ctx->vm_config;
    /* V0 SCALE cannot carry event-log versions: a V2 boot answers in V1 msgpack. */
    a.version = v2 ? 1 : 0;
    ok = (v2 ? dstack_attestation_encode_v1(&a, out, out_len, NULL)
             : dstack_attestation_encode_v0(&a, out, out_len, NULL)) == DSTACK_OK;
done:
    free(a.runtime_events);
    dstack_event_log_free(&tmp);
    return ok;
}

void sim_mr_system(sim_ctx *ctx, const dstack_tdx_quote *q, uint8_t out[32])
{
    uint8_t buf[48 * 4 + 32];
    const char *kp = ctx->key_provider_info;

    memcpy(buf, q->mrtd, 48);
    memcpy(buf + 48, q->rtmr[0], 48);
    memcpy(buf + 96, q->rtmr[1], 48);
    memcpy(buf + 144, q->rtmr[2], 48);
    SHA256((const uint8_t *)kp, strlen(kp), buf + 192); /* mr_key_provider (protocol.md §5.5) */
    SHA256(buf, sizeof(buf), out);
}
