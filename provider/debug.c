/* dstack provider — debug log: DSTACK_PROVIDER_DEBUG=file:<path>,level:<n> (architecture.md §5).
 *
 * The environment is read once per process. Lines are written whole under a mutex so that
 * threads do not interleave, and flushed at once so a crash still leaves the log behind. */
#include "debug.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static pthread_once_t debug_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t debug_lock = PTHREAD_MUTEX_INITIALIZER;
static int debug_level;
static FILE *debug_out;

/* Parses "file:<path>,level:<n>" (either part optional, any order). A malformed value is
 * reported once on stderr and the log stays at the defaults, so a typo never hides output. */
static void debug_init(void)
{
    const char *env = getenv("DSTACK_PROVIDER_DEBUG");
    char *copy = NULL, *tok, *save = NULL;
    const char *path = NULL;
    long level = 1;

    if (env == NULL || env[0] == '\0')
        return;
    copy = strdup(env);
    if (copy == NULL)
        return;
    for (tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        if (strncmp(tok, "file:", 5) == 0 && tok[5] != '\0') {
            path = tok + 5;
        } else if (strncmp(tok, "level:", 6) == 0) {
            char *end = NULL;

            errno = 0;
            level = strtol(tok + 6, &end, 10);
            if (errno != 0 || end == tok + 6 || *end != '\0' || level < 0 ||
                level > DSTACK_DEBUG_MAX_LEVEL) {
                fprintf(stderr,
                        "dstack provider: DSTACK_PROVIDER_DEBUG: bad level '%s' (0-%d), "
                        "using 1\n",
                        tok + 6, DSTACK_DEBUG_MAX_LEVEL);
                level = 1;
            }
        } else {
            fprintf(stderr,
                    "dstack provider: DSTACK_PROVIDER_DEBUG: ignoring '%s' "
                    "(expected file:<path>,level:<n>)\n",
                    tok);
        }
    }
    debug_out = stderr;
    if (path != NULL) {
        /* "e": O_CLOEXEC, so children we never meant to log through do not inherit it. */
        FILE *f = fopen(path, "ae");

        if (f != NULL)
            debug_out = f;
        else
            fprintf(stderr, "dstack provider: cannot open debug log %s: %s; using stderr\n", path,
                    strerror(errno));
    }
    debug_level = (int)level;
    free(copy);
}

int dstack_prov_debug_level(void)
{
    pthread_once(&debug_once, debug_init);
    return debug_level;
}

static void vlog(int level, const char *file, int line, const char *func, const char *fmt,
                 va_list ap)
{
    struct timespec ts;
    struct tm tm;
    const char *base;
    char stamp[32];

    if (dstack_prov_debug_level() < level || debug_out == NULL)
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
    base = strrchr(file, '/');
    base = base != NULL ? base + 1 : file;

    pthread_mutex_lock(&debug_lock);
    fprintf(debug_out, "[%s.%06ldZ] dstack[%ld] L%d %s:%d %s(): ", stamp, ts.tv_nsec / 1000,
            (long)getpid(), level, base, line, func);
    vfprintf(debug_out, fmt, ap);
    fputc('\n', debug_out);
    fflush(debug_out);
    pthread_mutex_unlock(&debug_lock);
}

void dstack_prov_debug(int level, const char *file, int line, const char *func, const char *fmt,
                       ...)
{
    va_list ap;

    va_start(ap, fmt);
    vlog(level, file, line, func, fmt, ap);
    va_end(ap);
}

void dstack_prov_debug_sink(void *ctx, int level, const char *file, int line, const char *func,
                            const char *fmt, ...)
{
    va_list ap;

    (void)ctx;
    va_start(ap, fmt);
    vlog(level, file, line, func, fmt, ap);
    va_end(ap);
}
