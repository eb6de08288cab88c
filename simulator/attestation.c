/* dstack-sim — the simulated measured boot: event log, RTMRs, evidence snapshots and
 * VersionedAttestation V0 (protocol.md §4.4, §5.2–§5.5).
 *
 * The log starts with a few synthetic boot events on RTMR0–2 and the runtime events the
 * real dstack OS writes at boot (protocol.md §5.4); EmitEvent appends more. Quotes carry the replay
 * of this log, so RTMR0–3 always equal what a verifier recomputes from it.
 */
#include "sim.h"
#include "agent_side.h"
#include "attest/attest_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#define SIM_QUOTE_FILE_MAX (1024 * 1024)

static const struct {
    uint32_t imr;
    uint32_t type;
    const char *payload;
} boot_events[] = {
    {0, 0x80000001u, "dstack-sim: EFI variable SecureBoot"}, /* EV_EFI_VARIABLE_DRIVER_CONFIG */
    {0, 0x0000000Au, "dstack-sim: TD HOB"},                  /* EV_PLATFORM_CONFIG_FLAGS */
    {0, 0x80000001u, "dstack-sim: ACPI tables"},
    {1, 0x80000003u, "dstack-sim: bootloader"},        /* EV_EFI_BOOT_SERVICES_APPLICATION */
    {1, 0x80000007u, "Exit Boot Services Invocation"}, /* EV_EFI_ACTION */
    {2, 0x0000000Du, "dstack-sim: kernel image"},      /* EV_IPL */
    {2, 0x0000000Du, "dstack-sim: kernel command line"},
};

static bool append_runtime(dstack_event_log *log, const char *name, const uint8_t *payload,
                           size_t len)
{
    uint8_t digest[48];

    dstack_runtime_event_digest(name, payload, len, digest);
    return dstack_event_log_append(log, 3, DSTACK_RUNTIME_EVENT_TYPE, digest, sizeof(digest), name,
                                   payload, len, NULL) == DSTACK_OK;
}

static bool build_boot_log(sim_ctx *ctx)
{
    dstack_event_log *log = &ctx->att.log;
    const char *kp = ctx->key_provider_info;
    size_t i;

    for (i = 0; i < sizeof(boot_events) / sizeof(boot_events[0]); i++) {
        uint8_t digest[48];
        const char *p = boot_events[i].payload;

        SHA384((const uint8_t *)p, strlen(p), digest);
        if (dstack_event_log_append(log, boot_events[i].imr, boot_events[i].type, digest, 48, "",
                                    (const uint8_t *)p, strlen(p), NULL) != DSTACK_OK)
            return false;
    }
    /* protocol.md §5.4, in order (no mr-kms: the simulated KMS certificate has no attestation) */
    return append_runtime(log, "system-preparing", NULL, 0) &&
           append_runtime(log, "app-id", ctx->id.app_id, 20) &&
           append_runtime(log, "compose-hash", ctx->compose_hash, 32) &&
           append_runtime(log, "instance-id", ctx->id.instance_id, ctx->no_instance_id ? 0 : 20) &&
           append_runtime(log, "boot-mr-done", NULL, 0) &&
           append_runtime(log, "os-image-hash", ctx->os_image_hash, 32) &&
           append_runtime(log, "key-provider", (const uint8_t *)kp, strlen(kp)) &&
           append_runtime(log, "storage-fs", (const uint8_t *)ctx->storage_fs,
                          strlen(ctx->storage_fs)) &&
           append_runtime(log, "system-ready", NULL, 0);
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
    ok = append_runtime(&ctx->att.log, event, payload, len);
    pthread_mutex_unlock(&ctx->att.lock);
    return ok;
}

static bool copy_log(const dstack_event_log *src, dstack_event_log *dst)
{
    size_t i;

    for (i = 0; i < src->count; i++) {
        const dstack_event *e = &src->events[i];

        if (dstack_event_log_append(dst, e->imr, e->event_type, e->digest, e->digest_len, e->event,
                                    e->payload, e->payload_len, NULL) != DSTACK_OK)
            return false;
    }
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

/* Stripped form (protocol.md §5.2): boot events keep digests and lose payloads; runtime events keep
 * payloads and lose digests. imr3_only additionally drops boot events (protocol.md §4.4). */
static bool strip_log(const dstack_event_log *src, dstack_event_log *dst, bool imr3_only)
{
    size_t i;

    for (i = 0; i < src->count; i++) {
        const dstack_event *e = &src->events[i];
        bool runtime = e->event_type == DSTACK_RUNTIME_EVENT_TYPE;
        dstack_status rc;

        if (imr3_only && e->imr != 3)
            continue;
        if (runtime)
            rc = dstack_event_log_append(dst, e->imr, e->event_type, NULL, 0, e->event, e->payload,
                                         e->payload_len, NULL);
        else
            rc = dstack_event_log_append(dst, e->imr, e->event_type, e->digest, e->digest_len,
                                         e->event, NULL, 0, NULL);
        if (rc != DSTACK_OK)
            return false;
    }
    return true;
}

char *sim_event_log_json(const dstack_event_log *log, bool stripped)
{
    dstack_event_log tmp = {0};
    char *text = NULL;

    if (!stripped)
        return dstack_event_log_to_json(log);
    if (strip_log(log, &tmp, false))
        text = dstack_event_log_to_json(&tmp);
    dstack_event_log_free(&tmp);
    return text;
}

bool sim_attestation_v0(sim_ctx *ctx, const sim_evidence *ev, const uint8_t report_data[64],
                        bool stripped, uint8_t **out, size_t *out_len)
{
    dstack_attestation a;
    dstack_event_log tmp = {0};
    size_t i, n = 0;
    bool ok = false;

    memset(&a, 0, sizeof(a));
    a.version = 0;
    a.platform = 0; /* TDX */
    a.quote = ev->quote;
    a.quote_len = ev->quote_len;
    if (stripped) {
        if (!strip_log(&ev->log, &tmp, true))
            goto done;
        a.tdx_event_log = tmp;
    } else {
        a.tdx_event_log = ev->log;
    }
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
        n++;
    }
    a.runtime_events_len = n;
    memcpy(a.report_data, report_data, 64);
    a.config = ctx->vm_config;
    ok = dstack_attestation_encode_v0(&a, out, out_len, NULL) == DSTACK_OK;
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
