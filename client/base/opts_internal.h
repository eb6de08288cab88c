/* libdstack internal — versioned option structs (architecture.md §10): the first field is
 * `size_t struct_size`, set by the caller to the size it was compiled with. Not installed. */
#ifndef DSTACK_OPTS_INTERNAL_H
#define DSTACK_OPTS_INTERNAL_H

#include <stddef.h>

#include <dstack/error.h>

/* Copies the caller's struct `src` (NULL: all defaults) into `dst` of the library's size
 * `dst_size`: fields past the caller's struct_size are zero. A struct_size below sizeof(size_t)
 * (never set) or above dst_size (a newer header than this library) is DSTACK_ERR_USAGE naming
 * `type`: silently ignoring fields the caller set would switch checks off. */
dstack_status dstack_opts_copy(void *dst, size_t dst_size, const void *src, const char *type,
                               dstack_error *err);

#endif
