/* Agent response bodies through libdstack's strict JSON codec (protocol.md §1.4) and the nested
 * decoders the RPCs apply to them: hex fields, hex arrays, string arrays, the event_log
 * string, tcb_info's JSON-in-string with its event_log array, and attestation hex. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include <dstack/attest.h>

#include "agent/json_codec.h"
#include "attest/attest_internal.h"

static void nested_json(const char *text, size_t len, dstack_json_ctx *ctx)
{
    json_object *obj = NULL, *log;
    dstack_event_log events;

    if (dstack_json_parse_text(text, len, &obj, NULL) != DSTACK_OK || obj == NULL)
        return;
    if (json_object_is_type(obj, json_type_object) &&
        json_object_object_get_ex(obj, "event_log", &log) &&
        dstack_event_log_from_json(log, &events, ctx->err) == DSTACK_OK)
        dstack_event_log_free(&events);
    json_object_put(obj);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const hex_fields[] = {"quote",       "report_data", "key",       "app_id",
                                             "instance_id", "signature",   "public_key"};
    dstack_error err;
    dstack_json_ctx ctx = {.method = "Fuzz", .endpoint = "fuzz", .scope = "", .err = &err};
    json_object *obj = NULL;
    const char *s;
    dstack_bytes bytes, *arr;
    char **strs;
    size_t n;
    uint64_t u;
    bool b;

    if (dstack_json_parse_text((const char *)data, size, &obj, NULL) != DSTACK_OK || obj == NULL)
        return 0;
    if (!json_object_is_type(obj, json_type_object))
        goto done;
    for (size_t i = 0; i < sizeof(hex_fields) / sizeof(hex_fields[0]); i++)
        if (dstack_json_get_hex(obj, hex_fields[i], i == 2, 0, &bytes, &ctx) == DSTACK_OK)
            dstack_bytes_free(&bytes);
    if (dstack_json_get_hex(obj, "attestation", false, 0, &bytes, &ctx) == DSTACK_OK) {
        dstack_attestation att;

        dstack_attestation_decode(bytes.data, bytes.len, &att, &err);
        dstack_attestation_free(&att);
        dstack_bytes_free(&bytes);
    }
    if (dstack_json_get_hex_array(obj, "signature_chain", &arr, &n, &ctx) == DSTACK_OK)
        dstack_bytes_array_free(arr, n);
    if (dstack_json_get_string_array(obj, "certificate_chain", &strs, &n, &ctx) == DSTACK_OK)
        dstack_string_array_free(strs, n);
    if (dstack_json_get_string(obj, "event_log", &s, &ctx) == DSTACK_OK) {
        dstack_event_log log;

        if (dstack_event_log_parse(s, strlen(s), &log, &err) == DSTACK_OK) {
            (void)dstack_event_log_check_preimages(&log, &err); /* V2 (protocol.md §5.3.1) */
            dstack_event_log_free(&log);
        }
    }
    if (dstack_json_get_string(obj, "tcb_info", &s, &ctx) == DSTACK_OK)
        nested_json(s, strlen(s), &ctx);
    if (dstack_json_get_string(obj, "vm_config", &s, &ctx) == DSTACK_OK)
        nested_json(s, strlen(s), &ctx);
    dstack_json_get_uint64(obj, "not_before", &u, &ctx);
    dstack_json_get_bool(obj, "is_valid", &b, &ctx);
done:
    json_object_put(obj);
    return 0;
}
