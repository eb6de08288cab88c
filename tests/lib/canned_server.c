#include "canned_server.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_ROUTES 16

typedef struct route {
    char *path; /* NULL = catch-all */
    char *body;
    bool used;
} route;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static route routes[MAX_ROUTES];
static char sock_path[108];
static int listen_fd = -1;
static pthread_t acceptor;

const char *canned_server_path(void)
{
    return sock_path;
}

static bool same_path(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

void canned_server_set(const char *path, const char *body)
{
    route *free_slot = NULL;

    pthread_mutex_lock(&lock);
    for (int i = 0; i < MAX_ROUTES; i++) {
        route *r = &routes[i];
        if (r->used && same_path(r->path, path)) {
            free(r->path);
            free(r->body);
            memset(r, 0, sizeof(*r));
        }
        if (!r->used && free_slot == NULL)
            free_slot = r;
    }
    if (body != NULL && free_slot != NULL) {
        free_slot->used = true;
        free_slot->path = path != NULL ? strdup(path) : NULL;
        free_slot->body = strdup(body);
    }
    pthread_mutex_unlock(&lock);
}

/* The reply for a request line "POST <path> HTTP/1.1", malloc'd. */
static char *reply_for(const char *request)
{
    const char *body = NULL, *catch_all = NULL;
    char *out = NULL;
    size_t n;

    pthread_mutex_lock(&lock);
    for (int i = 0; i < MAX_ROUTES; i++) {
        const route *r = &routes[i];
        if (!r->used)
            continue;
        if (r->path == NULL) {
            catch_all = r->body;
            continue;
        }
        n = strlen(r->path);
        if (strncmp(request, "POST ", 5) == 0 && strncmp(request + 5, r->path, n) == 0 &&
            request[5 + n] == ' ')
            body = r->body;
    }
    if (body == NULL)
        body = catch_all;
    if (body != NULL) {
        n = strlen(body) + 128;
        out = malloc(n);
        if (out != NULL)
            snprintf(out, n,
                     "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\n\r\n%s",
                     strlen(body), body);
    } else {
        out = strdup("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
    }
    pthread_mutex_unlock(&lock);
    return out;
}

static bool write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* One keep-alive connection: read a request (headers + Content-Length body), answer, repeat. */
static void *connection_main(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[16384];
    size_t have = 0;

    for (;;) {
        char *end;
        ssize_t n;
        while ((end = memmem(buf, have, "\r\n\r\n", 4)) == NULL) {
            if (have == sizeof(buf) || (n = read(fd, buf + have, sizeof(buf) - have)) <= 0)
                goto done;
            have += (size_t)n;
        }
        size_t head = (size_t)(end - buf) + 4, body_len = 0;
        char *cl = strcasestr(buf, "Content-Length:");
        if (cl != NULL && cl < end)
            body_len = strtoul(cl + 15, NULL, 10);
        while (have < head + body_len) {
            if (have == sizeof(buf) || (n = read(fd, buf + have, sizeof(buf) - have)) <= 0)
                goto done;
            have += (size_t)n;
        }
        *end = '\0'; /* the request line and headers as one string */
        char *out = reply_for(buf);
        memmove(buf, buf + head + body_len, have - head - body_len);
        have -= head + body_len;
        bool ok = out != NULL && write_all(fd, out, strlen(out));
        free(out);
        if (!ok)
            goto done;
    }
done:
    close(fd);
    return NULL;
}

static void *acceptor_main(void *arg)
{
    (void)arg;
    for (;;) {
        pthread_t t;
        int fd = accept(listen_fd, NULL, NULL);
        if (fd < 0)
            return NULL;
        if (pthread_create(&t, NULL, connection_main, (void *)(intptr_t)fd) != 0)
            close(fd);
        else
            pthread_detach(t);
    }
}

int canned_server_start(const char *tag)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};

    snprintf(sock_path, sizeof(sock_path), "/tmp/dstack-%s-%d.sock", tag, (int)getpid());
    snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", sock_path);
    unlink(sock_path);
    listen_fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
        listen(listen_fd, 8) != 0 || pthread_create(&acceptor, NULL, acceptor_main, NULL) != 0)
        return -1;
    return 0;
}

void canned_server_stop(void)
{
    shutdown(listen_fd, SHUT_RDWR);
    close(listen_fd);
    pthread_join(acceptor, NULL);
    unlink(sock_path);
    pthread_mutex_lock(&lock);
    for (int i = 0; i < MAX_ROUTES; i++) {
        free(routes[i].path);
        free(routes[i].body);
        memset(&routes[i], 0, sizeof(routes[i]));
    }
    pthread_mutex_unlock(&lock);
}
