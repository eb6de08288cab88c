/* The conventions of api.h that have code: dstack_free() and versioned option structs. */
#include <dstack/api.h>

#include <stdlib.h>
#include <string.h>

#include "base/api_internal.h"

void dstack_free(void *ptr)
{
    free(ptr);
}

dstack_status dstack_options_read(const void *in, void *out, size_t known_size,
                                  const char *type_name, dstack_error *err)
{
    size_t given;

    memset(out, 0, known_size);
    if (in == NULL)
        return DSTACK_OK;
    memcpy(&given, in, sizeof(given));
    if (given < sizeof(given) || given > known_size)
        return dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL,
                                "%s.struct_size is %zu, not %zu to %zu: initialise it with "
                                "DSTACK_OPTIONS_INIT(%s)",
                                type_name, given, sizeof(given), known_size, type_name);
    memcpy(out, in, given);
    return DSTACK_OK;
}
