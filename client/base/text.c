/* A growing text buffer (base/text_internal.h). */
#include "base/text_internal.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Room for `n` more bytes and the NUL, within the limit; false marks the text failed. */
static bool reserve(dstack_text *t, size_t n)
{
    size_t need, cap;
    char *grown;

    if (t->failed)
        return false;
    if (n > SIZE_MAX / 2 - t->len - 1 || (t->limit != 0 && t->len + n > t->limit)) {
        t->failed = true;
        return false;
    }
    need = t->len + n + 1;
    if (need <= t->cap)
        return true;
    for (cap = t->cap ? t->cap : 256; cap < need; cap *= 2)
        ;
    if ((grown = realloc(t->p, cap)) == NULL) {
        t->failed = true;
        return false;
    }
    t->p = grown;
    t->cap = cap;
    return true;
}

void dstack_text_append(dstack_text *t, const void *bytes, size_t n)
{
    if (!reserve(t, n))
        return;
    if (n > 0)
        memcpy(t->p + t->len, bytes, n);
    t->len += n;
    t->p[t->len] = '\0';
}

void dstack_text_appendf(dstack_text *t, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (t->failed)
        return;
    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        t->failed = true;
        return;
    }
    if (!reserve(t, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    t->len += (size_t)n;
}

char *dstack_text_take(dstack_text *t, size_t *len)
{
    char *p;

    if (t->p == NULL)
        dstack_text_append(t, "", 0); /* an empty text is "", not a failure */
    p = t->failed ? NULL : t->p;

    if (t->failed)
        free(t->p);
    if (len != NULL)
        *len = p != NULL ? t->len : 0;
    *t = (dstack_text){.limit = t->limit};
    return p;
}
