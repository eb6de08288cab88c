/* dstack-sim — response bodies (protocol.md §1.4, §1.5).
 *
 * Success bodies are compact JSON in proto field order (serde_json::to_vec); RPC errors are
 * HTTP 400 with a pretty-printed {"error": "<message>"} object (ra-rpc encode_error).
 * json-c would escape '/' by default, which no serde output does (and PEM text is full of
 * slashes), hence NOSLASHESCAPE everywhere.
 */
#include "sim.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *sim_json_text(json_object *obj, bool pretty)
{
    int flags =
        JSON_C_TO_STRING_NOSLASHESCAPE |
        (pretty ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED : JSON_C_TO_STRING_PLAIN);
    const char *text = json_object_to_json_string_ext(obj, flags);

    return text ? strdup(text) : NULL;
}

static void reply_reset(sim_reply *r)
{
    free(r->body);
    r->body = NULL;
    r->len = 0;
}

bool sim_reply_json(sim_reply *r, json_object *obj)
{
    char *text;

    reply_reset(r);
    if (obj == NULL)
        return false;
    text = sim_json_text(obj, false);
    json_object_put(obj);
    if (text == NULL)
        return false;
    r->status = 200;
    r->body = text;
    r->len = strlen(text);
    return true;
}

bool sim_reply_raw(sim_reply *r, const char *text)
{
    reply_reset(r);
    r->body = strdup(text);
    if (r->body == NULL)
        return false;
    r->status = 200;
    r->len = strlen(text);
    return true;
}

static bool reply_errorv(sim_reply *r, unsigned status, const char *fmt, va_list ap)
{
    char msg[1024];
    json_object *obj;
    char *text = NULL;

    reply_reset(r);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    obj = json_object_new_object();
    if (obj != NULL && json_object_object_add(obj, "error", json_object_new_string(msg)) == 0)
        text = sim_json_text(obj, true);
    json_object_put(obj);
    r->status = status;
    if (text == NULL) { /* OOM: still answer with a well-formed body */
        r->body = NULL;
        r->len = 0;
        return false;
    }
    r->body = text;
    r->len = strlen(text);
    return true;
}

bool sim_reply_error(sim_reply *r, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    reply_errorv(r, 400, fmt, ap);
    va_end(ap);
    return true;
}

bool sim_reply_status(sim_reply *r, unsigned status, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    reply_errorv(r, status, fmt, ap);
    va_end(ap);
    return true;
}

bool sim_reply_arg_error(sim_reply *r, const sim_args *args)
{
    return sim_reply_error(r, "%s", args->err[0] ? args->err : "invalid request");
}

json_object *sim_json_hex(const uint8_t *buf, size_t len)
{
    char *hex = sim_hex(buf, len);
    json_object *s = hex ? json_object_new_string(hex) : NULL;

    free(hex);
    return s;
}
