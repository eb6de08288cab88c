/* Event logs in the agent's JSON form (protocol.md §5.2): parse, build, serialise. */
#include <dstack/attest.h>
#include <dstack/keys.h>

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "attest/attest_internal.h"

/* An event log never approaches this; it bounds what hostile JSON can make us allocate. */
#define EVENT_LOG_MAX_EVENTS 65536u

void dstack_event_log_free(dstack_event_log *log)
{
    if (log == NULL)
        return;
    for (size_t i = 0; i < log->count; i++) {
        free(log->events[i].digest);
        free(log->events[i].event);
        free(log->events[i].payload);
        free(log->events[i].preimage);
    }
    free(log->events);
    log->events = NULL;
    log->count = 0;
}

static uint8_t *dup_bytes(const uint8_t *src, size_t len)
{
    uint8_t *copy;

    if (len == 0)
        return NULL;
    copy = malloc(len);
    if (copy != NULL)
        memcpy(copy, src, len);
    return copy;
}

dstack_status dstack_event_log_append_event(dstack_event_log *log, const dstack_event *src,
                                            dstack_error *err)
{
    dstack_event ev = {.imr = src->imr, .event_type = src->event_type};
    dstack_event *grown;

    if ((src->digest == NULL && src->digest_len > 0) ||
        (src->payload == NULL && src->payload_len > 0) ||
        (src->preimage == NULL && src->preimage_len > 0))
        return dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL,
                                "event log append: NULL buffer with a non-zero length");
    if (log->count >= EVENT_LOG_MAX_EVENTS)
        return dstack_error_set(err, DSTACK_ERR_PROTOCOL, NULL, NULL,
                                "event log has more than %u events", EVENT_LOG_MAX_EVENTS);
    ev.digest = dup_bytes(src->digest, src->digest_len);
    ev.digest_len = src->digest_len;
    ev.payload = dup_bytes(src->payload, src->payload_len);
    ev.payload_len = src->payload_len;
    ev.event = strdup(src->event != NULL ? src->event : "");
    ev.version = src->version == DSTACK_EVENT_LOG_V2 ? DSTACK_EVENT_LOG_V2 : DSTACK_EVENT_LOG_V1;
    ev.has_preimage = src->has_preimage;
    ev.preimage = src->has_preimage ? dup_bytes(src->preimage, src->preimage_len) : NULL;
    ev.preimage_len = src->has_preimage ? src->preimage_len : 0;
    grown = realloc(log->events, (log->count + 1) * sizeof(*grown));
    if (ev.event == NULL || (ev.digest_len > 0 && ev.digest == NULL) ||
        (ev.payload_len > 0 && ev.payload == NULL) ||
        (ev.preimage_len > 0 && ev.preimage == NULL) || grown == NULL) {
        if (grown != NULL)
            log->events = grown;
        free(ev.digest);
        free(ev.payload);
        free(ev.event);
        free(ev.preimage);
        return dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, NULL, "out of memory");
    }
    log->events = grown;
    log->events[log->count++] = ev;
    return DSTACK_OK;
}

dstack_status dstack_event_log_append(dstack_event_log *log, uint32_t imr, uint32_t event_type,
                                      const uint8_t *digest, size_t digest_len, const char *event,
                                      const uint8_t *payload, size_t payload_len, dstack_error *err)
{
    dstack_event ev = {.imr = imr,
                       .event_type = event_type,
                       .digest = (uint8_t *)digest,
                       .digest_len = digest_len,
                       .event = (char *)event,
                       .payload = (uint8_t *)payload,
                       .payload_len = payload_len,
                       .version = DSTACK_EVENT_LOG_V1};

    return dstack_event_log_append_event(log, &ev, err);
}

static dstack_status field_error(dstack_error *err, size_t index, const char *field,
                                 const char *problem)
{
    return dstack_error_set(err, DSTACK_ERR_PROTOCOL, NULL, NULL,
                            "event log entry %zu: field \"%s\" %s", index, field, problem);
}

static dstack_status get_u32(const json_object *obj, size_t index, const char *field, uint32_t *out,
                             dstack_error *err)
{
    json_object *v = NULL;
    int64_t n;

    if (!json_object_object_get_ex(obj, field, &v))
        return field_error(err, index, field, "is missing");
    if (!json_object_is_type(v, json_type_int))
        return field_error(err, index, field, "is not an integer");
    n = json_object_get_int64(v);
    /* json-c clamps out-of-range literals to INT64_MAX/INT64_MIN, both rejected here. */
    if (n < 0 || n > (int64_t)UINT32_MAX)
        return field_error(err, index, field, "is out of range for u32");
    *out = (uint32_t)n;
    return DSTACK_OK;
}

static dstack_status get_string(const json_object *obj, size_t index, const char *field,
                                const char **out, size_t *out_len, dstack_error *err)
{
    json_object *v = NULL;

    if (!json_object_object_get_ex(obj, field, &v))
        return field_error(err, index, field, "is missing");
    if (!json_object_is_type(v, json_type_string))
        return field_error(err, index, field, "is not a string");
    *out = json_object_get_string(v);
    *out_len = (size_t)json_object_get_string_len(v);
    return DSTACK_OK;
}

static dstack_status get_hex(const json_object *obj, size_t index, const char *field, uint8_t **out,
                             size_t *out_len, dstack_error *err)
{
    const char *text = NULL;
    size_t text_len = 0;
    dstack_status rc = get_string(obj, index, field, &text, &text_len, err);

    *out = NULL;
    *out_len = 0;
    if (rc != DSTACK_OK)
        return rc;
    *out = malloc(text_len / 2 + 1);
    if (*out == NULL)
        return dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, NULL, "out of memory");
    if (!dstack_hex_decode(text, text_len, *out, text_len / 2 + 1, out_len)) {
        free(*out);
        *out = NULL;
        return field_error(err, index, field, "is not valid hex");
    }
    return DSTACK_OK;
}

/* The 0.6 additions (protocol.md §5.3.1): "version" (absent = 1; 1 or 2, an integer) and
 * "preimage" (absent or null = none; else hex text). */
static dstack_status get_v2_fields(const json_object *obj, size_t index, dstack_event *ev,
                                   dstack_error *err)
{
    json_object *v = NULL;
    int64_t n;

    ev->version = DSTACK_EVENT_LOG_V1;
    if (json_object_object_get_ex(obj, "version", &v)) {
        if (!json_object_is_type(v, json_type_int))
            return field_error(err, index, "version", "is not an integer");
        n = json_object_get_int64(v);
        if (n != DSTACK_EVENT_LOG_V1 && n != DSTACK_EVENT_LOG_V2)
            return dstack_error_set(err, DSTACK_ERR_PROTOCOL, NULL, NULL,
                                    "event log entry %zu: unknown event log version %lld", index,
                                    (long long)n);
        ev->version = (unsigned)n;
    }
    if (!json_object_object_get_ex(obj, "preimage", &v) || v == NULL)
        return DSTACK_OK;
    ev->has_preimage = true;
    return get_hex(obj, index, "preimage", &ev->preimage, &ev->preimage_len, err);
}

dstack_status dstack_event_log_from_json(const json_object *array, dstack_event_log *out,
                                         dstack_error *err)
{
    dstack_status rc = DSTACK_OK;
    dstack_event_log log = {0};
    uint8_t *digest = NULL, *payload = NULL;
    dstack_event ev;
    size_t n;

    memset(&ev, 0, sizeof(ev));

    memset(out, 0, sizeof(*out));
    if (array == NULL || !json_object_is_type(array, json_type_array))
        return dstack_error_set(err, DSTACK_ERR_PROTOCOL, NULL, NULL,
                                "event log is not a JSON array");
    n = json_object_array_length(array);
    for (size_t i = 0; i < n; i++) {
        const json_object *entry = json_object_array_get_idx(array, i);
        uint32_t imr = 0, type = 0;
        size_t digest_len = 0, payload_len = 0, name_len = 0;
        const char *name = NULL;

        if (!json_object_is_type(entry, json_type_object)) {
            rc = dstack_error_set(err, DSTACK_ERR_PROTOCOL, NULL, NULL,
                                  "event log entry %zu is not a JSON object", i);
            goto err;
        }
        if ((rc = get_u32(entry, i, "imr", &imr, err)) != DSTACK_OK ||
            (rc = get_u32(entry, i, "event_type", &type, err)) != DSTACK_OK ||
            (rc = get_hex(entry, i, "digest", &digest, &digest_len, err)) != DSTACK_OK ||
            (rc = get_string(entry, i, "event", &name, &name_len, err)) != DSTACK_OK ||
            (rc = get_hex(entry, i, "event_payload", &payload, &payload_len, err)) != DSTACK_OK)
            goto err;
        if (strlen(name) != name_len) {
            rc = field_error(err, i, "event", "contains a NUL character");
            goto err;
        }
        if ((rc = get_v2_fields(entry, i, &ev, err)) != DSTACK_OK)
            goto err;
        ev.imr = imr;
        ev.event_type = type;
        ev.digest = digest;
        ev.digest_len = digest_len;
        ev.event = (char *)name;
        ev.payload = payload;
        ev.payload_len = payload_len;
        rc = dstack_event_log_append_event(&log, &ev, err);
        if (rc != DSTACK_OK)
            goto err;
        free(digest);
        free(payload);
        free(ev.preimage);
        digest = payload = NULL;
        memset(&ev, 0, sizeof(ev));
    }
    *out = log;
    return DSTACK_OK;
err:
    free(digest);
    free(payload);
    free(ev.preimage);
    dstack_event_log_free(&log);
    return rc;
}

dstack_status dstack_event_log_parse(const char *json, size_t len, dstack_event_log *out,
                                     dstack_error *err)
{
    dstack_status rc;
    json_tokener *tok = NULL;
    json_object *root = NULL;

    memset(out, 0, sizeof(*out));
    if (json == NULL || len > INT_MAX)
        return dstack_error_set(err, DSTACK_ERR_PROTOCOL, NULL, NULL,
                                "event log JSON is missing or too large");
    tok = json_tokener_new();
    if (tok == NULL)
        return dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, NULL, "out of memory");
    root = json_tokener_parse_ex(tok, json, (int)len);
    if (root == NULL || json_tokener_get_error(tok) != json_tokener_success) {
        rc = dstack_error_set(err, DSTACK_ERR_PROTOCOL, NULL, NULL,
                              "event log is not valid JSON: %s",
                              json_tokener_error_desc(json_tokener_get_error(tok)));
        goto done;
    }
    if ((size_t)json_tokener_get_parse_end(tok) != len) {
        /* Tolerate trailing whitespace only. */
        for (size_t i = json_tokener_get_parse_end(tok); i < len; i++) {
            if (json[i] != ' ' && json[i] != '\n' && json[i] != '\r' && json[i] != '\t') {
                rc = dstack_error_set(err, DSTACK_ERR_PROTOCOL, NULL, NULL,
                                      "event log JSON has trailing data at offset %zu", i);
                goto done;
            }
        }
    }
    rc = dstack_event_log_from_json(root, out, err);
done:
    json_object_put(root);
    json_tokener_free(tok);
    return rc;
}

/* Takes ownership of `value`; false when it is NULL (allocation failure) or cannot be added. */
static bool add_field(json_object *obj, const char *key, json_object *value)
{
    if (value == NULL)
        return false;
    if (json_object_object_add(obj, key, value) != 0) {
        json_object_put(value);
        return false;
    }
    return true;
}

char *dstack_event_log_to_json(const dstack_event_log *log)
{
    json_object *array = json_object_new_array();
    char *hex = NULL, *text = NULL;

    if (array == NULL)
        return NULL;
    for (size_t i = 0; log != NULL && i < log->count; i++) {
        const dstack_event *ev = &log->events[i];
        json_object *obj = json_object_new_object();
        size_t hex_cap = (ev->digest_len > ev->payload_len ? ev->digest_len : ev->payload_len);

        if (ev->has_preimage && ev->preimage_len > hex_cap)
            hex_cap = ev->preimage_len;

        if (obj == NULL || json_object_array_add(array, obj) != 0) {
            json_object_put(obj);
            goto done;
        }
        if (hex_cap > (SIZE_MAX - 1) / 2 || (hex = malloc(2 * hex_cap + 1)) == NULL)
            goto done;
        dstack_hex_encode(ev->digest, ev->digest_len, hex);
        if (!add_field(obj, "imr", json_object_new_int64(ev->imr)) ||
            !add_field(obj, "event_type", json_object_new_int64(ev->event_type)) ||
            !add_field(obj, "digest", json_object_new_string(hex)) ||
            !add_field(obj, "event", json_object_new_string(ev->event ? ev->event : "")))
            goto done;
        dstack_hex_encode(ev->payload, ev->payload_len, hex);
        if (!add_field(obj, "event_payload", json_object_new_string(hex)))
            goto done;
        /* Key order and omission as the agent's serde writes them (protocol.md §5.3.1). */
        if (ev->version == DSTACK_EVENT_LOG_V2 &&
            !add_field(obj, "version", json_object_new_int64(DSTACK_EVENT_LOG_V2)))
            goto done;
        if (ev->has_preimage) {
            dstack_hex_encode(ev->preimage, ev->preimage_len, hex);
            if (!add_field(obj, "preimage", json_object_new_string(hex)))
                goto done;
        }
        free(hex);
        hex = NULL;
    }
    const char *serialised = json_object_to_json_string_ext(
        array, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    if (serialised != NULL)
        text = strdup(serialised);
done:
    free(hex);
    json_object_put(array);
    return text;
}
