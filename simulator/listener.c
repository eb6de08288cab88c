/* dstack-sim — listeners: libmicrohttpd over Unix sockets (and optional TCP), request
 * accumulation, fault application and the stats route.
 *
 * We bind every socket ourselves and hand it to MHD (MHD_OPTION_LISTEN_SOCKET); one thread
 * per connection keeps slow handlers (quotes, injected delays) from blocking other clients.
 * Responses always carry Content-Length (buffer or sized callback responses, never chunked):
 * the official JS SDK's Unix-socket client cannot parse chunked replies (protocol.md §7).
 */
#include "sim.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define SIM_OVERSIZE_BYTES (32u * 1024u * 1024u + 1u)

typedef struct sim_listener {
    sim_server *srv;
    sim_service svc;
    int fd;
    struct MHD_Daemon *daemon;
    char *path; /* Unix socket path, NULL for TCP */
} sim_listener;

struct sim_server {
    sim_ctx *ctx;
    sim_listener l[SIM_SVC_COUNT];
    unsigned http_port, pccs_port;
    char http_host[64], pccs_host[64];
    char *guest_path; /* DIR/dstack.sock, announced even when the emulated agent has none */
};

typedef struct conn_req {
    char *body;
    size_t len;
    size_t cap;
    bool too_large;
} conn_req;

void sim_sleep_ms(sim_ctx *ctx, unsigned long ms)
{
    while (ms > 0 && !atomic_load(&ctx->stopping)) {
        unsigned long step = ms < 20 ? ms : 20;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)step * 1000000L};

        nanosleep(&ts, NULL);
        ms -= step;
    }
}

/* ---- responses ------------------------------------------------------------------------- */

static enum MHD_Result queue(sim_listener *l, struct MHD_Connection *c, struct MHD_Response *resp,
                             unsigned status, const char *ctype)
{
    enum MHD_Result rc;

    if (resp == NULL)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_SERVER, SIM_SERVER_HEADER);
    if (l->svc == SIM_SVC_WORKER) { /* protocol.md §1.6 */
        char app_version[128];

        snprintf(app_version, sizeof(app_version), "v%s (%s)", l->srv->ctx->profile->release,
                 SIM_REV);
        MHD_add_response_header(resp, "X-App-Version", app_version);
    }
    rc = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static enum MHD_Result queue_reply(sim_listener *l, struct MHD_Connection *c, sim_reply *r)
{
    struct MHD_Response *resp;

    if (r->body == NULL)
        return MHD_NO;
    resp = MHD_create_response_from_buffer(r->len, r->body, MHD_RESPMEM_MUST_FREE);
    if (resp == NULL)
        return MHD_NO;
    r->body = NULL; /* owned by MHD now */
    return queue(l, c, resp, r->status, "application/json");
}

/* Rocket's default 404 catcher: HTML, or its JSON form when the client prefers JSON. */
static enum MHD_Result queue_not_found(sim_listener *l, struct MHD_Connection *c)
{
    static const char html[] =
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n    <meta charset=\"utf-8\">\n"
        "    <title>404 Not Found</title>\n</head>\n<body align=\"center\">\n"
        "    <div role=\"main\" align=\"center\">\n        <h1>404: Not Found</h1>\n"
        "        <p>The requested resource could not be found.</p>\n        <hr />\n"
        "    </div>\n</body>\n</html>";
    static const char json[] = "{\n  \"error\": {\n    \"code\": 404,\n    \"reason\": \"Not "
                               "Found\",\n    \"description\": \"The requested resource could "
                               "not be found.\"\n  }\n}";
    const char *accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept");
    bool want_json = accept != NULL && strstr(accept, "json") != NULL;
    const char *body = want_json ? json : html;

    return queue(
        l, c, MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT),
        404, want_json ? "application/json" : "text/html; charset=utf-8");
}

typedef struct partial_body {
    char *body;
    size_t send; /* bytes actually delivered before the connection is dropped */
} partial_body;

static ssize_t partial_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    partial_body *p = cls;
    size_t n;

    if (pos >= p->send)
        return MHD_CONTENT_READER_END_WITH_ERROR; /* MHD closes the connection */
    n = p->send - (size_t)pos;
    if (n > max)
        n = max;
    memcpy(buf, p->body + pos, n);
    return (ssize_t)n;
}

static void partial_free(void *cls)
{
    partial_body *p = cls;

    free(p->body);
    free(p);
}

/* truncate fault: real status, headers and Content-Length, then half the body. */
static enum MHD_Result queue_truncated(sim_listener *l, struct MHD_Connection *c, sim_reply *r)
{
    partial_body *p = calloc(1, sizeof(*p));
    struct MHD_Response *resp;

    if (p == NULL || r->body == NULL) {
        free(p);
        return MHD_NO;
    }
    p->body = r->body;
    p->send = r->len / 2;
    resp = MHD_create_response_from_callback(r->len, 4096, partial_reader, p, partial_free);
    if (resp == NULL) {
        free(p);
        return MHD_NO;
    }
    r->body = NULL;
    return queue(l, c, resp, r->status, "application/json");
}

static ssize_t oversize_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    static const char head[] = "{\"key\":\"";
    size_t i;

    (void)cls;
    if (pos >= SIM_OVERSIZE_BYTES)
        return MHD_CONTENT_READER_END_OF_STREAM;
    for (i = 0; i < max && pos + i < SIM_OVERSIZE_BYTES; i++) {
        uint64_t at = pos + i;

        if (at < sizeof(head) - 1)
            buf[i] = head[at];
        else if (at == SIM_OVERSIZE_BYTES - 2)
            buf[i] = '"';
        else if (at == SIM_OVERSIZE_BYTES - 1)
            buf[i] = '}';
        else
            buf[i] = '0';
    }
    return (ssize_t)i;
}

/* ---- control socket ---------------------------------------------------------------------- */

static enum MHD_Result serve_control(sim_listener *l, struct MHD_Connection *c, const char *url,
                                     const char *method)
{
    sim_ctx *ctx = l->srv->ctx;
    static const sim_service order[] = {SIM_SVC_DSTACK, SIM_SVC_TAPPD, SIM_SVC_WORKER, SIM_SVC_HTTP,
                                        SIM_SVC_PCCS};
    json_object *obj, *conns, *reqs;
    sim_reply reply = {0};
    size_t i;

    if (strcmp(url, "/stats") != 0 || strcmp(method, "GET") != 0)
        return queue_not_found(l, c);
    obj = json_object_new_object();
    conns = json_object_new_object();
    reqs = json_object_new_object();
    if (obj == NULL || conns == NULL || reqs == NULL) {
        json_object_put(obj);
        json_object_put(conns);
        json_object_put(reqs);
        return MHD_NO;
    }
    for (i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        const char *name = sim_service_name(order[i]);

        json_object_object_add(
            conns, name, json_object_new_int64((int64_t)atomic_load(&ctx->connections[order[i]])));
        json_object_object_add(
            reqs, name, json_object_new_int64((int64_t)atomic_load(&ctx->requests[order[i]])));
    }
    json_object_object_add(obj, "connections", conns);
    json_object_object_add(obj, "requests", reqs);
    if (!sim_reply_json(&reply, obj))
        return MHD_NO;
    return queue_reply(l, c, &reply);
}

/* ---- RPC requests ------------------------------------------------------------------------- */

/* serde_qs-style arguments: "a=1&names[0]=x&names[]=y" → {"a":"1","names":["x","y"]}.
 * Values keep their decoded length, so a %00 reaches sim_arg_string (which refuses it)
 * instead of silently cutting the value short; a key containing %00 names no field. */
static enum MHD_Result collect_query(void *cls, enum MHD_ValueKind kind, const char *key,
                                     size_t key_size, const char *value, size_t value_size)
{
    json_object *obj = cls;
    const char *bracket = strchr(key, '[');
    json_object *str;

    (void)kind;
    if (strlen(key) != key_size)
        return MHD_YES;
    str = json_object_new_string_len(value ? value : "", value ? (int)value_size : 0);
    if (str == NULL)
        return MHD_YES;
    if (bracket != NULL && bracket != key) {
        char name[128];
        size_t n = (size_t)(bracket - key);
        json_object *arr = NULL;

        if (n >= sizeof(name)) {
            json_object_put(str);
            return MHD_YES;
        }
        memcpy(name, key, n);
        name[n] = '\0';
        if (!json_object_object_get_ex(obj, name, &arr) ||
            !json_object_is_type(arr, json_type_array)) {
            arr = json_object_new_array();
            if (arr == NULL) {
                json_object_put(str);
                return MHD_YES;
            }
            json_object_object_add(obj, name, arr);
        }
        json_object_array_add(arr, str);
        return MHD_YES;
    }
    json_object_object_add(obj, key, str);
    return MHD_YES;
}

static bool is_json_content_type(const char *ct)
{
    size_t n = strlen("application/json");

    if (ct == NULL)
        return false;
    while (*ct == ' ')
        ct++;
    return strncasecmp(ct, "application/json", n) == 0 &&
           (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

static bool json_requested(struct MHD_Connection *c, bool is_get)
{
    const char *v = NULL;
    size_t vlen = 0;

    if (is_get)
        return true;
    if (MHD_lookup_connection_value_n(c, MHD_GET_ARGUMENT_KIND, "json", 4, &v, &vlen) == MHD_YES) {
        if (v == NULL || vlen == 0 || strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
            return true;
    }
    return is_json_content_type(
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE));
}

/* The delay of a fault plan, then its terminal action unless that is `truncate` (applied to the
 * reply by the caller). true when the request is answered (*rc set). */
static bool apply_fault(sim_listener *l, struct MHD_Connection *c, const sim_fault_plan *plan,
                        enum MHD_Result *rc)
{
    sim_reply reply = {0};

    if (plan->delay_ms)
        sim_sleep_ms(l->srv->ctx, plan->delay_ms);
    if (!plan->has_action)
        return false;
    switch (plan->action) {
    case SIM_FAULT_CLOSE:
        *rc = MHD_NO; /* MHD drops the connection without a response */
        return true;
    case SIM_FAULT_GARBAGE: {
        static const char junk[] = "\x00\xff\x13garbage not http\r\n\r\n";
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);

        if (ci != NULL && send(ci->connect_fd, junk, sizeof(junk) - 1, MSG_NOSIGNAL) < 0)
            fprintf(stderr, "dstack-sim: garbage fault: %s\n", strerror(errno));
        *rc = MHD_NO;
        return true;
    }
    case SIM_FAULT_STATUS:
        sim_reply_status(&reply, (unsigned)plan->status, "injected fault: status %lu",
                         plan->status);
        *rc = queue_reply(l, c, &reply);
        return true;
    case SIM_FAULT_OVERSIZE:
        *rc = queue(l, c,
                    MHD_create_response_from_callback(SIM_OVERSIZE_BYTES, 65536, oversize_reader,
                                                      NULL, NULL),
                    200, "application/json");
        return true;
    case SIM_FAULT_DELAY:
    case SIM_FAULT_TRUNCATE:
        break;
    }
    return false;
}

/* ---- the simulated Intel's PCCS (pccs.c) ---------------------------------------------------- */

static enum MHD_Result serve_pccs(sim_listener *l, struct MHD_Connection *c, const char *url,
                                  const char *method)
{
    const char *name = sim_pccs_method(url);
    sim_pccs_query q;
    sim_fault_plan plan;
    sim_pccs_reply r;
    sim_reply as_reply;
    struct MHD_Response *resp;
    enum MHD_Result rc;

    if (name == NULL || (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0))
        return queue_not_found(l, c);
    sim_faults_plan(&l->srv->ctx->faults, name, &plan);
    if (apply_fault(l, c, &plan, &rc))
        return rc;
    q.ca = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "ca");
    q.encoding = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "encoding");
    q.fmspc = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "fmspc");
    if (!sim_pccs_answer(l->srv->ctx, name, &q, &r)) {
        sim_pccs_reply_free(&r);
        return MHD_NO;
    }
    if (plan.has_action && plan.action == SIM_FAULT_TRUNCATE) {
        as_reply = (sim_reply){r.status, r.body, r.len};
        r.body = NULL;
        sim_pccs_reply_free(&r);
        return queue_truncated(l, c, &as_reply);
    }
    resp = MHD_create_response_from_buffer(r.len, r.body, MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) {
        sim_pccs_reply_free(&r);
        return MHD_NO;
    }
    r.body = NULL; /* owned by MHD now */
    if (r.header_name != NULL)
        MHD_add_response_header(resp, r.header_name, r.header_value);
    rc = queue(l, c, resp, r.status, r.content_type);
    sim_pccs_reply_free(&r);
    return rc;
}

static enum MHD_Result serve_rpc(sim_listener *l, struct MHD_Connection *c, const char *url,
                                 const char *method, conn_req *req)
{
    sim_ctx *ctx = l->srv->ctx;
    bool is_get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    char name[128];
    bool qualified = false;
    sim_fault_plan plan;
    sim_reply reply = {0};
    json_object *query = NULL;
    enum MHD_Result rc;

    if ((!is_get && strcmp(method, "POST") != 0) ||
        !sim_route(l->svc, url, name, sizeof(name), &qualified))
        return queue_not_found(l, c);

    sim_faults_plan(&ctx->faults, name, &plan);
    if (apply_fault(l, c, &plan, &rc))
        return rc;

    if (req->too_large) {
        /* ra-rpc read_data(): 400 "failed to read data: payload too large" (protocol.md §1.3) */
        sim_reply_error(&reply, "failed to read data: payload too large");
        return queue_reply(l, c, &reply);
    }
    if (is_get) {
        query = json_object_new_object();
        if (query == NULL)
            return MHD_NO;
        MHD_get_connection_values_n(c, MHD_GET_ARGUMENT_KIND, collect_query, query);
    }
    sim_dispatch(ctx, l->svc, name, qualified, is_get, json_requested(c, is_get), query, req->body,
                 req->len, &reply);
    json_object_put(query);
    if (plan.has_action && plan.action == SIM_FAULT_TRUNCATE)
        rc = queue_truncated(l, c, &reply);
    else
        rc = queue_reply(l, c, &reply);
    free(reply.body);
    return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **con_cls)
{
    sim_listener *l = cls;
    conn_req *req = *con_cls;

    (void)version;
    if (req == NULL) {
        req = calloc(1, sizeof(*req));
        if (req == NULL)
            return MHD_NO;
        *con_cls = req;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        size_t n = *upload_size;

        *upload_size = 0;
        if (req->too_large || req->len + n > SIM_BODY_LIMIT) {
            req->too_large = true; /* keep reading (and discarding) to answer cleanly */
            return MHD_YES;
        }
        if (req->len + n + 1 > req->cap) {
            size_t cap = req->cap ? req->cap : 4096;
            char *grown;

            while (cap < req->len + n + 1)
                cap *= 2;
            grown = realloc(req->body, cap);
            if (grown == NULL)
                return MHD_NO;
            req->body = grown;
            req->cap = cap;
        }
        memcpy(req->body + req->len, upload_data, n);
        req->len += n;
        req->body[req->len] = '\0';
        return MHD_YES;
    }
    atomic_fetch_add(&l->srv->ctx->requests[l->svc], 1);
    if (l->svc == SIM_SVC_CONTROL)
        return serve_control(l, c, url, method);
    if (l->svc == SIM_SVC_PCCS)
        return serve_pccs(l, c, url, method);
    return serve_rpc(l, c, url, method, req);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    conn_req *req = *con_cls;

    (void)cls;
    (void)c;
    (void)toe;
    if (req != NULL) {
        free(req->body);
        free(req);
        *con_cls = NULL;
    }
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    sim_listener *l = cls;

    (void)c;
    (void)socket_context;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED)
        atomic_fetch_add(&l->srv->ctx->connections[l->svc], 1);
}

/* ---- sockets -------------------------------------------------------------------------------- */

/* A socket file someone still accepts on (another simulator on the same --dir) must not be
 * unlinked from under it: its clients would silently reach us instead. Only a socket that
 * refuses connections (its server is gone) is stale. */
static bool socket_in_use(const struct sockaddr_un *sa)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    bool live;

    if (fd < 0)
        return false;
    /* EAGAIN: a live listener with a full backlog. */
    live = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0 || errno == EAGAIN ||
           errno == EINPROGRESS;
    close(fd);
    return live;
}

static int bind_unix(const char *path, int mode, char *msg, size_t msg_len)
{
    struct sockaddr_un sa;
    struct stat st;
    int fd;

    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sa.sun_path)) {
        snprintf(msg, msg_len, "socket path too long: %s", path);
        return -1;
    }
    strcpy(sa.sun_path, path);
    /* A stale socket from a killed run is replaced; anything else is left alone. */
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            snprintf(msg, msg_len, "%s exists and is not a socket", path);
            return -1;
        }
        if (socket_in_use(&sa)) {
            snprintf(msg, msg_len, "%s is in use by a running server (another dstack-sim?)", path);
            return -1;
        }
        unlink(path);
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        snprintf(msg, msg_len, "socket: %s", strerror(errno));
        return -1;
    }
    /* The socket's mode is what bind() makes of the umask, as for any file the user creates:
     * agent sockets hand out keys, so wider access is asked for (--socket-mode), not given. */
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        (mode >= 0 && chmod(path, (mode_t)mode) < 0) || listen(fd, SOMAXCONN) < 0) {
        snprintf(msg, msg_len, "cannot listen on %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* "127.0.0.1:PORT" or "[::1]:PORT"; port 0 picks a free one. */
static int bind_tcp(const char *option, const char *addr, char *host, size_t host_len,
                    unsigned *port_out, char *msg, size_t msg_len)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    const char *colon = strrchr(addr, ':');
    char *end = NULL;
    unsigned long port;
    size_t hl;
    int fd, one = 1, family;

    memset(&ss, 0, sizeof(ss));
    if (colon == NULL || colon == addr || colon[1] == '\0')
        goto bad;
    port = strtoul(colon + 1, &end, 10);
    if (*end != '\0' || port > 65535)
        goto bad;
    hl = (size_t)(colon - addr);
    if (addr[0] == '[' && hl >= 2 && addr[hl - 1] == ']') {
        addr++;
        hl -= 2;
    }
    if (hl >= host_len)
        goto bad;
    memcpy(host, addr, hl);
    host[hl] = '\0';
    if (inet_pton(AF_INET, host, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
        family = AF_INET;
        ((struct sockaddr_in *)&ss)->sin_family = AF_INET;
        ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
        sl = sizeof(struct sockaddr_in);
    } else if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
        family = AF_INET6;
        ((struct sockaddr_in6 *)&ss)->sin6_family = AF_INET6;
        ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
        sl = sizeof(struct sockaddr_in6);
    } else {
        goto bad;
    }
    fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        snprintf(msg, msg_len, "socket: %s", strerror(errno));
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 128) < 0 ||
        getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
        snprintf(msg, msg_len, "cannot listen on %s: %s", addr, strerror(errno));
        close(fd);
        return -1;
    }
    *port_out = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                        : ((struct sockaddr_in6 *)&ss)->sin6_port);
    return fd;
bad:
    snprintf(msg, msg_len, "%s '%s': expected HOST:PORT with a numeric IP (e.g. 127.0.0.1:8090)",
             option, addr);
    return -1;
}

/* Clients that connect and stall (half a request, or none) each hold a connection thread until
 * the 10 s idle timeout: the limit is set far above what such a crowd reaches in practice, on
 * small stacks, so a real client is still served beside a thousand of them (sim_stress). */
#define SIM_MAX_CONNECTIONS 4096u
#define SIM_THREAD_STACK (256u * 1024u)

static bool start_daemon(sim_listener *l, char *msg, size_t msg_len)
{
    l->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL, 0, NULL,
        NULL, on_request, l, MHD_OPTION_LISTEN_SOCKET, l->fd, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, l, MHD_OPTION_NOTIFY_CONNECTION, on_connection, l,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)10, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned int)SIM_MAX_CONNECTIONS, MHD_OPTION_THREAD_STACK_SIZE, (size_t)SIM_THREAD_STACK,
        MHD_OPTION_END);
    if (l->daemon == NULL) {
        snprintf(msg, msg_len, "cannot start the HTTP server for %s", sim_service_name(l->svc));
        return false;
    }
    return true;
}

sim_server *sim_server_start(sim_ctx *ctx, const char *dir, const char *http_addr,
                             const char *pccs_addr, char *msg, size_t msg_len)
{
    static const char *const files[] = {"dstack.sock", "tappd.sock", "external.sock",
                                        NULL,          NULL,         "sim-control.sock"};
    sim_server *srv = calloc(1, sizeof(*srv));
    int i;

    if (srv == NULL) {
        snprintf(msg, msg_len, "out of memory");
        return NULL;
    }
    srv->ctx = ctx;
    for (i = 0; i < SIM_SVC_COUNT; i++) {
        srv->l[i].srv = srv;
        srv->l[i].svc = (sim_service)i;
        srv->l[i].fd = -1;
    }
    if (asprintf(&srv->guest_path, "%s/%s", dir, files[SIM_SVC_DSTACK]) < 0) {
        srv->guest_path = NULL;
        snprintf(msg, msg_len, "out of memory");
        goto err;
    }
    for (i = 0; i < SIM_SVC_COUNT; i++) {
        sim_listener *l = &srv->l[i];

        /* A 0.3.x agent has no DstackGuest service at all (protocol.md §0, §8): no dstack.sock. */
        if ((i == SIM_SVC_DSTACK || i == SIM_SVC_HTTP) && !ctx->profile->guest_socket)
            continue;
        if (files[i] != NULL) {
            if (asprintf(&l->path, "%s/%s", dir, files[i]) < 0) {
                l->path = NULL;
                snprintf(msg, msg_len, "out of memory");
                goto err;
            }
            l->fd = bind_unix(l->path, ctx->socket_mode, msg, msg_len);
            if (l->fd < 0) {
                free(l->path);
                l->path = NULL;
                goto err;
            }
        } else if (i == SIM_SVC_HTTP && http_addr != NULL) {
            l->fd = bind_tcp("--http", http_addr, srv->http_host, sizeof(srv->http_host),
                             &srv->http_port, msg, msg_len);
            if (l->fd < 0)
                goto err;
        } else if (i == SIM_SVC_PCCS && pccs_addr != NULL) {
            l->fd = bind_tcp("--pccs", pccs_addr, srv->pccs_host, sizeof(srv->pccs_host),
                             &srv->pccs_port, msg, msg_len);
            if (l->fd < 0)
                goto err;
        } else {
            continue;
        }
        if (!start_daemon(l, msg, msg_len))
            goto err;
    }
    return srv;
err:
    sim_server_stop(srv);
    return NULL;
}

void sim_server_announce(const sim_server *srv)
{
    /* Printed for every release (tests wait for it): on a 0.3 agent it names the socket a
     * client would look for and not find, which is what such a VM looks like. */
    printf("DSTACK_SIMULATOR_ENDPOINT=%s\n", srv->guest_path);
    printf("TAPPD_SIMULATOR_ENDPOINT=%s\n", srv->l[SIM_SVC_TAPPD].path);
    printf("DSTACK_WORKER_ENDPOINT=%s\n", srv->l[SIM_SVC_WORKER].path);
    if (srv->l[SIM_SVC_HTTP].daemon != NULL) {
        bool v6 = strchr(srv->http_host, ':') != NULL;

        printf("DSTACK_SIMULATOR_HTTP=http://%s%s%s:%u\n", v6 ? "[" : "", srv->http_host,
               v6 ? "]" : "", srv->http_port);
    }
    if (srv->l[SIM_SVC_PCCS].daemon != NULL) {
        bool v6 = strchr(srv->pccs_host, ':') != NULL;

        printf("DSTACK_SIMULATOR_PCCS=http://%s%s%s:%u\n", v6 ? "[" : "", srv->pccs_host,
               v6 ? "]" : "", srv->pccs_port);
    }
    fflush(stdout);
}

void sim_server_stop(sim_server *srv)
{
    int i;

    if (srv == NULL)
        return;
    atomic_store(&srv->ctx->stopping, true);
    for (i = 0; i < SIM_SVC_COUNT; i++) {
        sim_listener *l = &srv->l[i];

        if (l->daemon != NULL)
            MHD_stop_daemon(l->daemon); /* closes the listen socket it was given */
        else if (l->fd >= 0)
            close(l->fd);
        if (l->path != NULL) {
            unlink(l->path);
            free(l->path);
        }
    }
    free(srv->guest_path);
    free(srv);
}
