/* Versioned option structs (base/opts_internal.h). */
#include "base/opts_internal.h"

#include <string.h>

dstack_status dstack_opts_copy(void *dst, size_t dst_size, const void *src, const char *type,
                               dstack_error *err)
{
    size_t n;

    memset(dst, 0, dst_size);
    if (src == NULL) {
        memcpy(dst, &dst_size, sizeof(dst_size));
        return DSTACK_OK;
    }
    memcpy(&n, src, sizeof(n));
    if (n < sizeof(size_t) || n > dst_size)
        return dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL,
                                "%s.struct_size is %zu: set it to sizeof(%s) (this library "
                                "knows up to %zu bytes)",
                                type, n, type, dst_size);
    memcpy(dst, src, n);
    memcpy(dst, &dst_size, sizeof(dst_size));
    return DSTACK_OK;
}
