/* Agent endpoint discovery and classification (protocol.md §1.2). */
#include "agent/transport_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <openssl/crypto.h>

/* The four locations every official SDK probes, in order (protocol.md §1.2). The first entry is
 * also the answer when none exists, so that error messages name the usual path. */
static const char *const guest_sockets[] = {
    "/var/run/dstack.sock",
    "/run/dstack.sock",
    "/var/run/dstack/dstack.sock",
    "/run/dstack/dstack.sock",
};
static const char *const tappd_sockets[] = {
    "/var/run/tappd.sock",
    "/run/tappd.sock",
    "/var/run/dstack/tappd.sock",
    "/run/dstack/tappd.sock",
};

/* The Worker service listens on TCP 8090 in production (protocol.md §1.1); only the simulator puts
 * it on a socket (external.sock), which tests pass through DSTACK_WORKER_ENDPOINT. */
#define WORKER_DEFAULT_ENDPOINT "http://localhost:8090"

static const char *env_nonempty(const char *name)
{
    const char *v = getenv(name);
    return (v != NULL && *v != '\0') ? v : NULL;
}

static const char *first_existing(const char *const *list, size_t n)
{
    struct stat st;
    for (size_t i = 0; i < n; i++)
        if (stat(list[i], &st) == 0)
            return list[i];
    return list[0];
}

dstack_status dstack_discover_endpoint(dstack_service service, const char *explicit_endpoint,
                                       char *out, size_t out_len, dstack_error *err)
{
    const char *chosen = NULL;

    if (out == NULL || out_len == 0)
        return dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL,
                                "endpoint discovery: no output buffer");
    out[0] = '\0';
    if (explicit_endpoint != NULL && *explicit_endpoint != '\0') {
        chosen = explicit_endpoint;
    } else {
        switch (service) {
        case DSTACK_SERVICE_GUEST:
            chosen = env_nonempty("DSTACK_SIMULATOR_ENDPOINT");
            if (chosen == NULL)
                chosen =
                    first_existing(guest_sockets, sizeof(guest_sockets) / sizeof(guest_sockets[0]));
            break;
        case DSTACK_SERVICE_TAPPD:
            chosen = env_nonempty("TAPPD_SIMULATOR_ENDPOINT");
            if (chosen == NULL)
                chosen =
                    first_existing(tappd_sockets, sizeof(tappd_sockets) / sizeof(tappd_sockets[0]));
            break;
        case DSTACK_SERVICE_WORKER:
            chosen = env_nonempty("DSTACK_WORKER_ENDPOINT");
            if (chosen == NULL)
                chosen = WORKER_DEFAULT_ENDPOINT;
            break;
        default:
            return dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL,
                                    "endpoint discovery: unknown service %d", (int)service);
        }
    }
    if (strlen(chosen) >= out_len)
        return dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL,
                                "endpoint '%.200s' does not fit in %zu bytes", chosen, out_len);
    memcpy(out, chosen, strlen(chosen) + 1);
    return DSTACK_OK;
}

static bool has_prefix_ci(const char *s, const char *prefix)
{
    return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

dstack_status dstack_endpoint_split(const char *endpoint, char **socket_path, char **base_url,
                                    dstack_error *err)
{
    dstack_status rc = DSTACK_ERR_INTERNAL;
    char *path = NULL, *url = NULL;

    *socket_path = NULL;
    *base_url = NULL;
    if (has_prefix_ci(endpoint, "http://") || has_prefix_ci(endpoint, "https://")) {
        const char *host = strstr(endpoint, "://") + 3;
        size_t len = strlen(endpoint);
        if (*host == '\0' || *host == '/') {
            rc = dstack_error_set(err, DSTACK_ERR_USAGE, NULL, endpoint,
                                  "endpoint '%s' has no host", endpoint);
            goto err;
        }
        if (strpbrk(endpoint, " \t\r\n?#") != NULL) {
            rc = dstack_error_set(err, DSTACK_ERR_USAGE, NULL, endpoint,
                                  "endpoint '%s' must be a base URL without spaces, query or "
                                  "fragment",
                                  endpoint);
            goto err;
        }
        /* Requests go to <base>/<Method>: drop trailing slashes so we never send "//". */
        while (len > 0 && endpoint[len - 1] == '/')
            len--;
        url = OPENSSL_strndup(endpoint, len);
        if (url == NULL)
            goto oom;
    } else {
        const char *p = endpoint;
        /* "unix:/path": the form of dstack's own tools (DSTACK_AGENT_ADDRESS, protocol.md §1.1). */
        if (has_prefix_ci(p, "unix:"))
            p += 5;
        if (strstr(endpoint, "://") != NULL) {
            rc = dstack_error_set(err, DSTACK_ERR_USAGE, NULL, endpoint,
                                  "endpoint '%s': only http://, https:// and Unix socket paths "
                                  "are supported",
                                  endpoint);
            goto err;
        }
        if (*p == '\0') {
            rc = dstack_error_set(err, DSTACK_ERR_USAGE, NULL, endpoint,
                                  "endpoint '%s' names no socket", endpoint);
            goto err;
        }
        if (strlen(p) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
            rc = dstack_error_set(err, DSTACK_ERR_USAGE, NULL, endpoint,
                                  "socket path '%.200s' is longer than the %zu bytes a Unix "
                                  "socket address holds",
                                  p, sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
            goto err;
        }
        path = OPENSSL_strdup(p);
        url = OPENSSL_strdup("http://localhost");
        if (path == NULL || url == NULL)
            goto oom;
    }
    *socket_path = path;
    *base_url = url;
    return DSTACK_OK;

oom:
    rc = dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, endpoint, "out of memory");
err:
    OPENSSL_free(path);
    OPENSSL_free(url);
    return rc;
}
