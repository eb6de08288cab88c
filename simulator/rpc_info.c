/* dstack-sim — Info and Version on every service, GpuInfo (protocol.md §2.1, §2.3, §2.4,
 * protocol.md §2.6.3).
 *
 * Info is internally consistent: its RTMRs come from a fresh quote (report_data zero) over the
 * current event log, its app fields are the payloads of the boot runtime events, and
 * compose_hash is SHA-256 of the app-compose bytes served in tcb_info.app_compose.
 */
#include "sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

/* tcb_info: pretty-printed JSON object text (protocol.md §2.4); event_log is a full array. 0.3.x
 * had rootfs_hash (here: the OS image hash) and none of the aggregated measurements. */
static char *tcb_info_text(sim_ctx *ctx, const sim_evidence *ev, const uint8_t mr_agg[32],
                           const uint8_t device_id[32])
{
    bool v03 = ctx->profile->info == SIM_INFO_WORKER_V03;
    json_object *obj = json_object_new_object();
    char *log_text = dstack_event_log_to_json(&ev->log);
    json_object *log = log_text ? json_tokener_parse(log_text) : NULL;
    char *text = NULL;
    char name[8];
    unsigned i;

    free(log_text);
    if (obj == NULL || log == NULL) {
        json_object_put(obj);
        json_object_put(log);
        return NULL;
    }
    if (v03)
        json_object_object_add(obj, "rootfs_hash", sim_json_hex(ctx->os_image_hash, 32));
    json_object_object_add(obj, "mrtd", sim_json_hex(ev->parsed.mrtd, 48));
    for (i = 0; i < 4; i++) {
        snprintf(name, sizeof(name), "rtmr%u", i);
        json_object_object_add(obj, name, sim_json_hex(ev->parsed.rtmr[i], 48));
    }
    if (!v03) {
        json_object_object_add(obj, "mr_aggregated", sim_json_hex(mr_agg, 32));
        json_object_object_add(obj, "os_image_hash", sim_json_hex(ctx->os_image_hash, 32));
        json_object_object_add(obj, "compose_hash", sim_json_hex(ctx->compose_hash, 32));
        json_object_object_add(obj, "device_id", sim_json_hex(device_id, 32));
    }
    json_object_object_add(obj, "event_log", log);
    json_object_object_add(obj, "app_compose",
                           json_object_new_string_len(ctx->compose, (int)ctx->compose_len));
    text = sim_json_text(obj, true);
    json_object_put(obj);
    return text;
}

/* The Info message of the emulated release, fields in proto order (protocol.md §2.4): AppInfo
 * (0.5.1+; cloud_* since 0.5.6) or the older WorkerInfo (0.4–0.5.0: fields 1–13; 0.3.x: the
 * first seven, ids as hex strings — the same JSON text). */
static void info_fields(sim_ctx *ctx, json_object *obj, bool hide, const char *tcb,
                        const uint8_t device_id[32], const uint8_t mr_agg[32])
{
    sim_info_kind kind = ctx->profile->info;
    bool worker = kind == SIM_INFO_WORKER || kind == SIM_INFO_WORKER_V03;
    const char *kp = ctx->key_provider_info;
    uint8_t mr_key_provider[32];

    json_object_object_add(obj, "app_id", sim_json_hex(ctx->id.app_id, 20));
    json_object_object_add(obj, "instance_id",
                           sim_json_hex(ctx->id.instance_id, ctx->no_instance_id ? 0 : 20));
    {
        const char *app_cert = sim_app_cert(ctx); /* "" when it could not be made, as the agent */
        json_object_object_add(obj, "app_cert", json_object_new_string(app_cert ? app_cert : ""));
    }
    json_object_object_add(obj, "tcb_info", json_object_new_string(hide ? "" : tcb));
    json_object_object_add(obj, "app_name", json_object_new_string(ctx->app_name));
    if (worker) {
        json_object_object_add(obj, "public_logs", json_object_new_boolean(ctx->public_logs));
        json_object_object_add(obj, "public_sysinfo", json_object_new_boolean(ctx->public_sysinfo));
    }
    if (kind == SIM_INFO_WORKER_V03)
        return;
    json_object_object_add(obj, "device_id", sim_json_hex(device_id, 32));
    json_object_object_add(obj, "mr_aggregated", sim_json_hex(mr_agg, 32));
    if (worker) {
        /* mr_image: the OS image measurement (here the simulator's OS image hash);
         * mr_key_provider = SHA-256(key-provider payload) as in protocol.md §5.5. */
        SHA256((const uint8_t *)kp, strlen(kp), mr_key_provider);
        json_object_object_add(obj, "mr_image", sim_json_hex(ctx->os_image_hash, 32));
        json_object_object_add(obj, "mr_key_provider", sim_json_hex(mr_key_provider, 32));
    } else {
        json_object_object_add(obj, "os_image_hash", sim_json_hex(ctx->os_image_hash, 32));
    }
    json_object_object_add(obj, "key_provider_info", json_object_new_string(kp));
    json_object_object_add(obj, "compose_hash", sim_json_hex(ctx->compose_hash, 32));
    if (worker)
        return;
    json_object_object_add(obj, "vm_config", json_object_new_string(hide ? "" : ctx->vm_config));
    if (kind == SIM_INFO_APP) {
        json_object_object_add(obj, "cloud_vendor", json_object_new_string(""));
        json_object_object_add(obj, "cloud_product", json_object_new_string(""));
    }
}

bool sim_rpc_info(sim_ctx *ctx, sim_service svc, sim_args *args, sim_reply *reply)
{
    static const uint8_t zeros[64];
    uint8_t device_id[32], mr_agg[32], rtmr[4][48];
    bool hide = svc == SIM_SVC_WORKER && !ctx->public_tcbinfo; /* protocol.md §1.6, §2.3 */
    dstack_tdx_quote measured;
    sim_evidence ev;
    json_object *obj;
    char *tcb = NULL;

    (void)args;
    if (!sim_evidence_make(ctx, zeros, &ev))
        return false;
    SHA256((const uint8_t *)"", 0,
           device_id); /* v0.5.11: SHA-256 of the empty string (protocol.md §2.4) */
    /* mr_aggregated uses RTMR3 replayed from the runtime events (protocol.md §5.5). */
    measured = ev.parsed;
    dstack_event_log_replay(&ev.log, rtmr, NULL);
    memcpy(measured.rtmr[3], rtmr[3], 48);
    dstack_mr_aggregated(&measured, mr_agg);
    if (!hide) {
        tcb = tcb_info_text(ctx, &ev, mr_agg, device_id);
        if (tcb == NULL) {
            sim_evidence_free(&ev);
            return false;
        }
    }
    obj = json_object_new_object();
    if (obj != NULL)
        info_fields(ctx, obj, hide, tcb, device_id, mr_agg);
    free(tcb);
    sim_evidence_free(&ev);
    return sim_reply_json(reply, obj);
}

bool sim_rpc_version(sim_ctx *ctx, sim_service svc, sim_args *args, sim_reply *reply)
{
    json_object *obj = json_object_new_object();

    (void)svc;
    (void)args;
    if (obj != NULL) {
        json_object_object_add(obj, "version", json_object_new_string(ctx->profile->release));
        json_object_object_add(obj, "rev", json_object_new_string(SIM_REV));
    }
    return sim_reply_json(reply, obj);
}

/* No GPU is simulated: the agent then answers an empty attestation (protocol.md §2.6.3). */
bool sim_rpc_gpu_info(sim_ctx *ctx, sim_service svc, sim_args *args, sim_reply *reply)
{
    json_object *obj = json_object_new_object();

    (void)ctx;
    (void)svc;
    (void)args;
    if (obj != NULL)
        json_object_object_add(obj, "attestation", json_object_new_string(""));
    return sim_reply_json(reply, obj);
}
