/* Error records (architecture.md §9): categories, no global state, and the one place where a
 * record's parts become its message. */
#include <dstack/error.h>

#include <stdio.h>
#include <string.h>

const char *dstack_status_name(dstack_status status)
{
    switch (status) {
    case DSTACK_OK:
        return "ok";
    case DSTACK_ERR_USAGE:
        return "usage";
    case DSTACK_ERR_CONNECTION:
        return "connection";
    case DSTACK_ERR_TIMEOUT:
        return "timeout";
    case DSTACK_ERR_AGENT:
        return "agent";
    case DSTACK_ERR_PROTOCOL:
        return "protocol";
    case DSTACK_ERR_CRYPTO:
        return "crypto";
    case DSTACK_ERR_INTERNAL:
        return "internal";
    }
    return "unknown";
}

void dstack_error_clear(dstack_error *err)
{
    if (err != NULL)
        memset(err, 0, sizeof(*err));
}

char *dstack_text_escape(const char *text, char *out, size_t cap)
{
    size_t o = 0;

    if (cap == 0)
        return out;
    for (; text != NULL && *text != '\0' && o + 1 < cap; text++) {
        unsigned char c = (unsigned char)*text;
        if (c < 0x20 || c == 0x7f) {
            if (o + 5 >= cap)
                break;
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
        } else {
            out[o++] = (char)c;
        }
    }
    out[o] = '\0';
    return out;
}

/* message = "<context>: <method> on <endpoint>: <detail>", empty parts left out. A detail
 * that already starts with "<method> on <endpoint>" (an inner error copied whole) is not
 * decorated twice. */
static void compose(dstack_error *err)
{
    char origin[sizeof(err->method) + sizeof(err->endpoint) + 8] = "";
    size_t o = 0, cap = sizeof(err->message);

    if (err->method[0] != '\0' && err->endpoint[0] != '\0')
        snprintf(origin, sizeof(origin), "%s on %s", err->method, err->endpoint);
    else if (err->endpoint[0] != '\0')
        snprintf(origin, sizeof(origin), "%s", err->endpoint);
    else if (err->method[0] != '\0')
        snprintf(origin, sizeof(origin), "%s", err->method);
    if (origin[0] != '\0' && strncmp(err->detail, origin, strlen(origin)) == 0)
        origin[0] = '\0';
    err->message[0] = '\0';
    if (err->context[0] != '\0')
        o += (size_t)snprintf(err->message + o, cap - o, "%s: ", err->context);
    if (origin[0] != '\0' && o < cap)
        o += (size_t)snprintf(err->message + o, cap - o, "%s: ", origin);
    if (o < cap)
        snprintf(err->message + o, cap - o, "%s", err->detail);
}

/* printf into out[cap] with control characters escaped (texts may come from the agent). The
 * arguments may point into the record being changed: they are read before it is. */
static void escaped_vformat(char *out, size_t cap, const char *fmt, va_list ap)
{
    char raw[sizeof(((dstack_error *)NULL)->detail)];

    vsnprintf(raw, cap < sizeof(raw) ? cap : sizeof(raw), fmt, ap);
    dstack_text_escape(raw, out, cap);
}

dstack_status dstack_error_setv(dstack_error *err, dstack_status status, const char *method,
                                const char *endpoint, const char *fmt, va_list ap)
{
    char detail[sizeof(err->detail)];

    if (err == NULL)
        return status;
    /* The arguments may point into *err (a caller re-raising its own detail). */
    escaped_vformat(detail, sizeof(detail), fmt, ap);
    {
        char m[sizeof(err->method)] = "", e[sizeof(err->endpoint)] = "";
        if (method != NULL)
            snprintf(m, sizeof(m), "%s", method);
        if (endpoint != NULL)
            dstack_text_escape(endpoint, e, sizeof(e));
        memset(err, 0, sizeof(*err));
        memcpy(err->method, m, sizeof(m));
        memcpy(err->endpoint, e, sizeof(e));
    }
    err->status = status;
    memcpy(err->detail, detail, sizeof(detail));
    compose(err);
    return status;
}

dstack_status dstack_error_set(dstack_error *err, dstack_status status, const char *method,
                               const char *endpoint, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    dstack_error_setv(err, status, method, endpoint, fmt, ap);
    va_end(ap);
    return status;
}

void dstack_error_context(dstack_error *err, const char *fmt, ...)
{
    char outer[sizeof(err->context)], old[sizeof(err->context)];
    va_list ap;

    if (err == NULL)
        return;
    va_start(ap, fmt);
    escaped_vformat(outer, sizeof(outer), fmt, ap);
    va_end(ap);
    memcpy(old, err->context, sizeof(old));
    if (old[0] != '\0')
        snprintf(err->context, sizeof(err->context), "%s: %s", outer, old);
    else
        snprintf(err->context, sizeof(err->context), "%s", outer);
    compose(err);
}

void dstack_error_append(dstack_error *err, const char *fmt, ...)
{
    char tail[sizeof(err->detail)];
    size_t n;
    va_list ap;

    if (err == NULL)
        return;
    va_start(ap, fmt);
    escaped_vformat(tail, sizeof(tail), fmt, ap);
    va_end(ap);
    n = strlen(err->detail);
    snprintf(err->detail + n, sizeof(err->detail) - n, "%s", tail);
    compose(err);
}

void dstack_error_origin(dstack_error *err, const char *method, const char *endpoint)
{
    if (err == NULL)
        return;
    if (err->method[0] == '\0' && method != NULL)
        snprintf(err->method, sizeof(err->method), "%s", method);
    if (err->endpoint[0] == '\0' && endpoint != NULL)
        dstack_text_escape(endpoint, err->endpoint, sizeof(err->endpoint));
    compose(err);
}
