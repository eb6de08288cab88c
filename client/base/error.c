/* Error records: categories of architecture.md §9, no global state. */
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

static void copy_field(char *dst, size_t cap, const char *src)
{
    if (src == NULL)
        src = "";
    snprintf(dst, cap, "%s", src);
}

dstack_status dstack_error_setv(dstack_error *err, dstack_status status, const char *method,
                                const char *endpoint, const char *fmt, va_list ap)
{
    if (err == NULL)
        return status;
    err->status = status;
    if (method != NULL)
        copy_field(err->method, sizeof(err->method), method);
    if (endpoint != NULL)
        copy_field(err->endpoint, sizeof(err->endpoint), endpoint);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
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

void dstack_error_prefix(dstack_error *err, const char *fmt, ...)
{
    if (err == NULL)
        return;
    char prefix[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    char old[sizeof(err->message)];
    memcpy(old, err->message, sizeof(old));
    snprintf(err->message, sizeof(err->message), "%s%s", prefix, old);
}
