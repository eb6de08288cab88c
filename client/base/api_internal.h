/* libdstack internal — reading the versioned option structs of api.h. Not installed. */
#ifndef DSTACK_API_INTERNAL_H
#define DSTACK_API_INTERNAL_H

#include <stddef.h>

#include <dstack/error.h>

/* Copies the caller's option struct `in` (whose first field is its struct_size) into `out`, a
 * struct of this library's size `known_size`: the first struct_size bytes from `in`, zero after
 * them, so fields a caller's older headers did not have read as "unset". NULL `in` yields all
 * zeros (struct_size included). A struct_size of 0 (not initialised), smaller than the field
 * itself or larger than `known_size` (headers newer than this library) is DSTACK_ERR_USAGE,
 * naming `type_name`. */
dstack_status dstack_options_read(const void *in, void *out, size_t known_size,
                                  const char *type_name, dstack_error *err);

#endif
