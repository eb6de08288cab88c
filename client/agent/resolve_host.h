/* libdstack internal — host-name resolution with a deadline (resolve_host.c). */
#ifndef DSTACK_RESOLVE_HOST_H
#define DSTACK_RESOLVE_HOST_H

#include <stddef.h>
#include <netdb.h>
#include <sys/socket.h>

#define DSTACK_HOST_ADDRS_MAX 4

typedef struct dstack_host_addrs {
    struct sockaddr_storage addr[DSTACK_HOST_ADDRS_MAX]; /* in getaddrinfo() order */
    socklen_t len[DSTACK_HOST_ADDRS_MAX];
    int n;
} dstack_host_addrs;

/* 0 with at least one address, else -1 and `why` ("timeout" when the deadline passed). */
int dstack_resolve_host(const char *host, const char *port, int timeout_ms, dstack_host_addrs *out,
                        char *why, size_t why_len);

#endif
