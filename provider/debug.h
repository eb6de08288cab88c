/* dstack provider — debug log (architecture.md §5).
 *
 *   DSTACK_PROVIDER_DEBUG=file:<path>,level:<n>
 *
 * Either part may be omitted: no file → stderr, no level → 1. Level 1 logs the effective
 * configuration, every load and every failure; 2 adds store/decoder plumbing; 3 adds what
 * libdstack reports (RPCs, cache hits). Key bytes are never logged at any level. */
#ifndef DSTACK_PROV_DEBUG_H
#define DSTACK_PROV_DEBUG_H

#define DSTACK_DEBUG_MAX_LEVEL 3

/* Current level (0 = off); reads the environment on first call. */
int dstack_prov_debug_level(void);
/* Whether DSTACK_PROVIDER_DEBUG is set at all (level:0 included). */
int dstack_prov_debug_configured(void);

void dstack_prov_debug(int level, const char *file, int line, const char *func, const char *fmt,
                       ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;

/* Same log, in the shape of dstack_resolve_config.debug (ctx unused). */
void dstack_prov_debug_sink(void *ctx, int level, const char *file, int line, const char *func,
                            const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 6, 7)))
#endif
    ;

#define DSTACK_DEBUG(level, ...)                                                                   \
    do {                                                                                           \
        if (dstack_prov_debug_level() >= (level))                                                  \
            dstack_prov_debug((level), __FILE__, __LINE__, __func__, __VA_ARGS__);                 \
    } while (0)

#endif
