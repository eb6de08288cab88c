/* libdstack — the conventions every public header follows: what is exported, who frees what,
 * and how option structs stay compatible as they grow.
 *
 * Exports. libdstack is built with hidden visibility; exactly the functions declared between
 * DSTACK_API_BEGIN and DSTACK_API_END in include/dstack/ are exported from libdstack.so
 * (a lint test compares `nm -D` with these headers). Everything else is internal.
 *
 * Ownership. A function that hands the caller memory says how to release it: a structure
 * with its own _free() or _clear() function (which also cleanses secrets it holds), or plain
 * buffers and strings with dstack_free(). Nothing returned needs OpenSSL's or libc's free in
 * particular.
 *
 * Versioned option structs. A struct the caller fills in and passes to the library
 * (dstack_client_options, dstack_tls_key_request, …) starts with `size_t struct_size`, set by
 * DSTACK_OPTIONS_INIT:
 *
 *     dstack_client_options o = {DSTACK_OPTIONS_INIT(dstack_client_options), .timeout_ms = 3000};
 *
 * A program built against these headers keeps working with a later libdstack that appended
 * fields: the library reads only the first struct_size bytes and treats the rest as zero. A
 * struct_size of 0 or larger than the library knows is refused with DSTACK_ERR_USAGE.
 * Structs the library fills in (responses, results) are sized by this SONAME: adding a field to
 * one changes the SONAME.
 */
#ifndef DSTACK_API_H
#define DSTACK_API_H

#include <stddef.h>

#if defined(__GNUC__) || defined(__clang__)
#define DSTACK_API_BEGIN _Pragma("GCC visibility push(default)")
#define DSTACK_API_END _Pragma("GCC visibility pop")
#else
#define DSTACK_API_BEGIN
#define DSTACK_API_END
#endif

#define DSTACK_OPTIONS_INIT(type) .struct_size = sizeof(type)

#ifdef __cplusplus
extern "C" {
#endif

DSTACK_API_BEGIN

/* Releases a buffer or string that a libdstack function allocated for the caller. NULL is a
 * no-op. */
void dstack_free(void *ptr);

DSTACK_API_END

#ifdef __cplusplus
}
#endif
#endif
