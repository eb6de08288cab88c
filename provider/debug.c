/* dstack provider — debug log: DSTACK_PROVIDER_DEBUG=file:<path>,level:<n> (architecture.md §5).
 *
 * The environment is read once per process. Each line is formatted in a local buffer and
 * written with one write(2) on a descriptor opened O_APPEND: threads and processes never
 * interleave within a line, nothing is buffered (a crash still leaves the log behind), and
 * no lock exists that a fork() could leave held in the child. Control characters in the
 * message (agent text, URIs) are escaped, so nothing logged can forge lines or drive a
 * terminal. The file is opened O_NOFOLLOW with mode 0600: a symlink planted at the path is
 * refused, and what is logged (URIs, endpoints) is nobody else's business. */
#include "debug.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <dstack/error.h>

static pthread_once_t debug_once = PTHREAD_ONCE_INIT;
static int debug_level;
static int debug_fd = -1;
static int debug_configured; /* DSTACK_PROVIDER_DEBUG is set (to anything) */

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
    debug_configured = 1;
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
    debug_fd = STDERR_FILENO;
    if (path != NULL) {
        /* O_CLOEXEC: children we never meant to log through do not inherit it. */
        int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);

        if (fd >= 0)
            debug_fd = fd;
        else
            fprintf(stderr, "dstack provider: cannot open debug log %s: %s; using stderr\n", path,
                    strerror(errno));
    }
    debug_level = (int)level;
    free(copy);
}

int dstack_prov_debug_configured(void)
{
    (void)dstack_prov_debug_level(); /* parses the variable once */
    return debug_configured;
}

int dstack_prov_debug_level(void)
{
    pthread_once(&debug_once, debug_init);
    return debug_level;
}

/* "YYYY-MM-DDTHH:MM:SS" in UTC, computed here: gmtime_r takes glibc's tzset lock, and a
 * child forked while another thread holds it would block in its first log line (the days-to-
 * civil-date conversion is the proleptic Gregorian one of H. Hinnant's chrono algorithms). */
static void utc_stamp(time_t t, char out[64])
{
    long long days = t / 86400, secs = t % 86400;
    if (secs < 0) {
        secs += 86400;
        days--;
    }
    long long z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
    long long doe = z - era * 146097;
    long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
    long long day = doy - (153 * mp + 2) / 5 + 1, month = mp < 10 ? mp + 3 : mp - 9;
    long long year = yoe + era * 400 + (month <= 2);

    snprintf(out, 64, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld", year, month, day, secs / 3600,
             secs / 60 % 60, secs % 60);
}

static void vlog(int level, const char *file, int line, const char *func, const char *fmt,
                 va_list ap)
{
    struct timespec ts;
    const char *base;
    char stamp[64], raw[2048], msg[2048], line_buf[2400];
    int n;

    if (dstack_prov_debug_level() < level || debug_fd < 0)
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    utc_stamp(ts.tv_sec, stamp);
    base = strrchr(file, '/');
    base = base != NULL ? base + 1 : file;
    vsnprintf(raw, sizeof(raw), fmt, ap);
    dstack_text_escape(raw, msg, sizeof(msg));
    n = snprintf(line_buf, sizeof(line_buf), "[%s.%06ldZ] dstack[%ld] L%d %s:%d %s(): %s\n", stamp,
                 ts.tv_nsec / 1000, (long)getpid(), level, base, line, func, msg);
    if (n <= 0)
        return;
    if ((size_t)n >= sizeof(line_buf)) {
        n = (int)sizeof(line_buf) - 1;
        line_buf[n - 1] = '\n';
    }
    /* One write per line; a short write or an error is not worth failing a key load for. */
    if (write(debug_fd, line_buf, (size_t)n) < 0)
        return;
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
