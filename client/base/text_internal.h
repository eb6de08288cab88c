/* libdstack internal — a growing text buffer for the documents libdstack writes (collateral
 * JSON, measurement reports, canonical event JSON). Not installed. */
#ifndef DSTACK_TEXT_INTERNAL_H
#define DSTACK_TEXT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

/* Start from {0} (or with .limit set). Appends after the first failure do nothing, so a
 * writer checks once at the end. */
typedef struct dstack_text {
    char *p;    /* NUL-terminated once anything was appended */
    size_t len; /* bytes written, the NUL excluded */
    size_t cap;
    size_t limit; /* 0: none; else an append that would pass `limit` bytes fails */
    bool failed;  /* an allocation, a format or the limit failed */
} dstack_text;

void dstack_text_append(dstack_text *t, const void *bytes, size_t n);
void dstack_text_appendf(dstack_text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The text for the caller to free(), or NULL (buffer freed) when anything failed; `*len`, if
 * given, receives its length. `t` is empty afterwards. */
char *dstack_text_take(dstack_text *t, size_t *len);

#endif
