/* dstack-sim — path routing and method dispatch per socket (spec §1.3).
 *
 *   dstack.sock / --http  /<Method>                 (single segment, name verbatim)
 *   tappd.sock            /prpc/<Method>            (a leading "Tappd." is stripped)
 *   external.sock         /prpc/<Method>            (a leading "Worker." is stripped)
 * Any other shape is Rocket's 404; a well-formed path naming no method of the service is
 * 400 "Service not found: <Method>".
 */
#include "sim.h"

#include <stdio.h>
#include <string.h>

typedef struct sim_method {
    const char *name;
    const char *args_type; /* serde struct name; NULL = google.protobuf.Empty (body ignored) */
    sim_handler fn;
} sim_method;

static const sim_method dstack_methods[] = {
    {"GetTlsKey", "GetTlsKeyArgs", sim_rpc_get_tls_key},
    {"GetKey", "GetKeyArgs", sim_rpc_get_key},
    {"GetQuote", "RawQuoteArgs", sim_rpc_get_quote},
    {"Attest", "RawQuoteArgs", sim_rpc_attest},
    {"EmitEvent", "EmitEventArgs", sim_rpc_emit_event},
    {"Info", NULL, sim_rpc_info},
    {"Sign", "SignRequest", sim_rpc_sign},
    {"Verify", "VerifyRequest", sim_rpc_verify},
    {"Version", NULL, sim_rpc_version},
    {NULL, NULL, NULL},
};

static const sim_method tappd_methods[] = {
    {"DeriveKey", "DeriveKeyArgs", sim_rpc_derive_key},
    {"DeriveK256Key", "GetKeyArgs", sim_rpc_derive_k256_key},
    {"TdxQuote", "TdxQuoteArgs", sim_rpc_tdx_quote},
    {"RawQuote", "RawQuoteArgs", sim_rpc_raw_quote},
    {"Info", NULL, sim_rpc_info},
    {"Version", NULL, sim_rpc_version},
    {NULL, NULL, NULL},
};

static const sim_method worker_methods[] = {
    {"Info", NULL, sim_rpc_info},
    {"Version", NULL, sim_rpc_version},
    {"GetAttestationForAppKey", "GetAttestationForAppKeyRequest", sim_rpc_attestation_for_app_key},
    {NULL, NULL, NULL},
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

bool sim_route(sim_service svc, const char *path, char *method_out, size_t method_len)
{
    const char *prefix;

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
        if (strncmp(path, prefix, strlen(prefix)) == 0 && path[strlen(prefix)] != '\0')
            path += strlen(prefix);
        return copy_segment(path, method_out, method_len);
    case SIM_SVC_CONTROL:
    case SIM_SVC_COUNT:
        break;
    }
    return false;
}

static const sim_method *find_method(sim_service svc, const char *name)
{
    const sim_method *table = svc == SIM_SVC_TAPPD    ? tappd_methods
                              : svc == SIM_SVC_WORKER ? worker_methods
                                                      : dstack_methods;

    for (; table->name != NULL; table++) {
        if (strcmp(table->name, name) == 0)
            return table;
    }
    return NULL;
}

void sim_dispatch(sim_ctx *ctx, sim_service svc, const char *method, bool is_get, bool json_mode,
                  json_object *query, const char *body, size_t body_len, sim_reply *reply)
{
    const sim_method *m = find_method(svc, method);
    sim_args args;
    bool decoded;

    memset(&args, 0, sizeof(args));
    if (m == NULL) {
        sim_reply_error(reply, "Service not found: %s", method);
        return;
    }
    if (!json_mode) {
        /* The agent would decode a protobuf body here (spec §1.3). The simulator only speaks
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
