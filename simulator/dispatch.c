/* dstack-sim — path routing and method dispatch per socket (protocol.md §1.3).
 *
 *   dstack.sock / --http  /<Method>                 (single segment, name verbatim)
 *   tappd.sock            /prpc/<Method>            (a leading "Tappd." is stripped)
 *   external.sock         /prpc/<Method>            (a leading "Worker." is stripped)
 * Any other shape is Rocket's 404; a well-formed path naming no method of the service is
 * 400 "Service not found: <Method>".
 *
 * The method tables are also the availability half of the version map (protocol.md §0): a method
 * exists from its `since` release up to its `until` release; on another emulated agent
 * (--agent-version) it answers exactly like a method the agent never had (0.6 removed
 * EmitEvent, protocol.md §2.6.1). 0.3.x agents used prpc 0.5, which did not strip
 * the service prefix and answered unknown methods with 404 "method Not Found" (protocol.md §1.3,
 * protocol.md §1.5).
 */
#include "sim.h"

#include <stdio.h>
#include <string.h>

typedef struct sim_method {
    const char *name;
    const char *args_type; /* serde struct name; NULL = google.protobuf.Empty (body ignored) */
    sim_handler fn;
    sim_agent_version since; /* first emulated release that has the method (protocol.md §0) */
    sim_agent_version until; /* last emulated release that has it */
} sim_method;

#define LATEST SIM_AGENT_0_6

/* `since`/`until` are *emulated* releases (0.3, 0.4, 0.5.5, 0.5.11, 0.6): e.g.
 * Attest/Sign/Verify arrived in 0.5.6 and Version in 0.5.7, so among the emulated releases
 * 0.5.11 is the first to have them; EmitEvent (0.5.0) is gone in 0.6. */
static const sim_method dstack_methods[] = {
    {"GetTlsKey", "GetTlsKeyArgs", sim_rpc_get_tls_key, SIM_AGENT_0_4, LATEST},
    {"GetKey", "GetKeyArgs", sim_rpc_get_key, SIM_AGENT_0_4, LATEST},
    {"GetQuote", "RawQuoteArgs", sim_rpc_get_quote, SIM_AGENT_0_4, LATEST},
    {"Attest", "RawQuoteArgs", sim_rpc_attest, SIM_AGENT_0_5_11, LATEST},
    {"EmitEvent", "EmitEventArgs", sim_rpc_emit_event, SIM_AGENT_0_5_5, SIM_AGENT_0_5_11},
    {"Info", NULL, sim_rpc_info, SIM_AGENT_0_4, LATEST},
    {"GpuInfo", NULL, sim_rpc_gpu_info, SIM_AGENT_0_6, LATEST},
    {"Sign", "SignRequest", sim_rpc_sign, SIM_AGENT_0_5_11, LATEST},
    {"Verify", "VerifyRequest", sim_rpc_verify, SIM_AGENT_0_5_11, LATEST},
    {"Version", NULL, sim_rpc_version, SIM_AGENT_0_5_11, LATEST},
    {NULL, NULL, NULL, SIM_AGENT_0_3, SIM_AGENT_0_3},
};

static const sim_method tappd_methods[] = {
    {"DeriveKey", "DeriveKeyArgs", sim_rpc_derive_key, SIM_AGENT_0_3, LATEST},
    {"DeriveK256Key", "GetKeyArgs", sim_rpc_derive_k256_key, SIM_AGENT_0_4, LATEST},
    {"TdxQuote", "TdxQuoteArgs", sim_rpc_tdx_quote, SIM_AGENT_0_3, LATEST},
    {"RawQuote", "RawQuoteArgs", sim_rpc_raw_quote, SIM_AGENT_0_3, LATEST},
    {"Info", NULL, sim_rpc_info, SIM_AGENT_0_3, LATEST},
    {"Version", NULL, sim_rpc_version, SIM_AGENT_0_5_11, LATEST},
    {NULL, NULL, NULL, SIM_AGENT_0_3, SIM_AGENT_0_3},
};

static const sim_method worker_methods[] = {
    {"Info", NULL, sim_rpc_info, SIM_AGENT_0_3, LATEST},
    {"Version", NULL, sim_rpc_version, SIM_AGENT_0_3, LATEST},
    {"GetAttestationForAppKey", "GetAttestationForAppKeyRequest", sim_rpc_attestation_for_app_key,
     SIM_AGENT_0_5_11, LATEST},
    {NULL, NULL, NULL, SIM_AGENT_0_3, SIM_AGENT_0_3},
};

const char *sim_service_name(sim_service svc)
{
    switch (svc) {
    case SIM_SVC_DSTACK:
        return "dstack";
    case SIM_SVC_TAPPD:
        return "tappd";
    case SIM_SVC_WORKER:
        return "external";
    case SIM_SVC_HTTP:
        return "http";
    case SIM_SVC_PCCS:
        return "pccs";
    case SIM_SVC_CONTROL:
    case SIM_SVC_COUNT:
        break;
    }
    return "control";
}

static bool copy_segment(const char *seg, char *out, size_t len)
{
    size_t n = strlen(seg);

    if (n == 0 || n >= len || strchr(seg, '/') != NULL)
        return false;
    memcpy(out, seg, n + 1);
    return true;
}

bool sim_route(sim_service svc, const char *path, char *method_out, size_t method_len,
               bool *qualified)
{
    const char *prefix;

    *qualified = false;
    if (path == NULL || path[0] != '/')
        return false;
    switch (svc) {
    case SIM_SVC_DSTACK:
    case SIM_SVC_HTTP:
        return copy_segment(path + 1, method_out, method_len);
    case SIM_SVC_TAPPD:
    case SIM_SVC_WORKER:
        if (strncmp(path, "/prpc/", 6) != 0)
            return false;
        path += 6;
        prefix = svc == SIM_SVC_TAPPD ? "Tappd." : "Worker.";
        if (strncmp(path, prefix, strlen(prefix)) == 0 && path[strlen(prefix)] != '\0') {
            path += strlen(prefix);
            *qualified = true;
        }
        return copy_segment(path, method_out, method_len);
    case SIM_SVC_PCCS: /* not RPCs: listener.c routes them to pccs.c */
    case SIM_SVC_CONTROL:
    case SIM_SVC_COUNT:
        break;
    }
    return false;
}

static const sim_method *find_method(const sim_profile *profile, sim_service svc, const char *name)
{
    const sim_method *table = svc == SIM_SVC_TAPPD    ? tappd_methods
                              : svc == SIM_SVC_WORKER ? worker_methods
                                                      : dstack_methods;

    for (; table->name != NULL; table++) {
        if (strcmp(table->name, name) == 0)
            return profile->version >= table->since && profile->version <= table->until ? table
                                                                                        : NULL;
    }
    return NULL;
}

void sim_dispatch(sim_ctx *ctx, sim_service svc, const char *method, bool qualified, bool is_get,
                  bool json_mode, json_object *query, const char *body, size_t body_len,
                  sim_reply *reply)
{
    const sim_method *m = find_method(ctx->profile, svc, method);
    bool prpc = svc == SIM_SVC_TAPPD || svc == SIM_SVC_WORKER;
    sim_args args;
    bool decoded;

    memset(&args, 0, sizeof(args));
    if (ctx->profile->prpc_full_names && prpc && (m == NULL || !qualified)) {
        /* prpc 0.5 (0.3.x): only the full name dispatches (protocol.md §1.3, §1.5). */
        sim_reply_status(reply, 404, "method Not Found");
        return;
    }
    if (m == NULL) {
        sim_reply_error(reply, "Service not found: %s", method);
        return;
    }
    if (!json_mode) {
        /* The agent would decode a protobuf body here (protocol.md §1.3). The simulator only speaks
         * the JSON mode every SDK uses; say so instead of misreading the body. */
        sim_reply_error(reply, "dstack-sim supports JSON requests only: send Content-Type: "
                               "application/json or add ?json to the URL");
        return;
    }
    if (m->args_type == NULL) /* google.protobuf.Empty input: body ignored */
        decoded = sim_args_from_json(&args, "Empty", NULL, 0);
    else if (is_get)
        decoded = sim_args_from_query(&args, m->args_type, query);
    else
        decoded = sim_args_from_json(&args, m->args_type, body, body_len);
    if (!decoded) {
        sim_reply_error(reply, "%s", args.err[0] ? args.err : "out of memory");
        goto done;
    }
    if (!m->fn(ctx, svc, &args, reply) || reply->body == NULL)
        sim_reply_error(reply, "%s: internal simulator error", method);
done:
    sim_args_free(&args);
}
