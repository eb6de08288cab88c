/* The in-house HTTP/1.1 client (client/agent/http.c) against replies no agent should send.
 *
 * A raw server inside this process (Unix socket, and a TCP listener on 127.0.0.1 for
 * http://) answers each request for /<Method> with the exact bytes a case scripts: chunked
 * bodies good and bad, huge header blocks, a byte every 40 ms, early closes, oversized
 * bodies, bytes after the response, bad or duplicate Content-Length. Each must end in the
 * right category (protocol.md §1.3 framing; architecture.md §9 categories) within the
 * timeout, and a connection is reused only after a clean, complete response. */
#include "test_client_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* ---- the raw server ----------------------------------------------------------------------- */

typedef struct script {
    const char *method;
    const char *reply; /* bytes sent for the request; NULL = close at once */
    size_t len;        /* 0 = strlen(reply) */
    int byte_ms;       /* > 0: send one byte per interval (slow loris), then keep sending */
    bool close_after;  /* close the connection after the reply */
    bool reset;        /* … with a TCP/Unix reset (SO_LINGER 0) rather than an orderly close */
} script;

#define MAX_SCRIPTS 64
static script scripts[MAX_SCRIPTS];
static size_t n_scripts;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char sock_path[108];
static int unix_fd = -1, tcp_fd = -1, tcp_port;
static char last_request[4096];
static volatile int stopping;

static void set_reply(const char *method, const char *reply, size_t len, int byte_ms,
                      bool close_after)
{
    pthread_mutex_lock(&lock);
    size_t i = 0;
    while (i < n_scripts && strcmp(scripts[i].method, method) != 0)
        i++;
    if (i == n_scripts && n_scripts < MAX_SCRIPTS)
        n_scripts++;
    scripts[i] = (script){method,  reply,       len != 0 || reply == NULL ? len : strlen(reply),
                          byte_ms, close_after, false};
    pthread_mutex_unlock(&lock);
}

static void reply_reset(const char *method, const char *bytes)
{
    set_reply(method, bytes, 0, 0, true);
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < n_scripts; i++)
        if (strcmp(scripts[i].method, method) == 0)
            scripts[i].reset = true;
    pthread_mutex_unlock(&lock);
}

static void reply(const char *method, const char *bytes)
{
    set_reply(method, bytes, 0, 0, false);
}

static bool send_all(int fd, const char *p, size_t n)
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

/* Reads one request (header block + Content-Length body); false at EOF or error. */
static bool read_request(int fd, char *method, size_t cap)
{
    char buf[8192];
    size_t got = 0;
    char *end = NULL;

    while ((end = memmem(buf, got, "\r\n\r\n", 4)) == NULL) {
        ssize_t r = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);
        if (r <= 0 || (got += (size_t)r) >= sizeof(buf) - 1)
            return false;
    }
    buf[got] = '\0';
    pthread_mutex_lock(&lock);
    snprintf(last_request, sizeof(last_request), "%.*s", (int)(end - buf + 4), buf);
    pthread_mutex_unlock(&lock);
    const char *cl = strcasestr(buf, "\r\nContent-Length: ");
    size_t want = cl != NULL ? strtoul(cl + 18, NULL, 10) : 0, have = got - (size_t)(end + 4 - buf);
    while (have < want) {
        char sink[4096];
        ssize_t r = recv(fd, sink, sizeof(sink), 0);
        if (r <= 0)
            return false;
        have += (size_t)r;
    }
    /* "POST /Method HTTP/1.1" or "POST /base/Method HTTP/1.1": the last path segment. */
    const char *sp = strchr(buf, ' '), *slash = NULL;
    sp = sp != NULL ? strchr(sp + 1, ' ') : NULL;
    for (const char *q = buf; sp != NULL && q < sp; q++)
        if (*q == '/')
            slash = q;
    if (sp == NULL || slash == NULL)
        return false;
    snprintf(method, cap, "%.*s", (int)(sp - slash - 1), slash + 1);
    return true;
}

static void *serve_conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char method[128];

    while (!stopping && read_request(fd, method, sizeof(method))) {
        script s = {0};
        bool found = false;
        char *own = NULL;
        pthread_mutex_lock(&lock);
        for (size_t i = 0; i < n_scripts; i++)
            if (strcmp(scripts[i].method, method) == 0) {
                s = scripts[i];
                found = true;
            }
        /* A copy of our own: the test may replace or free its reply once the client has
         * given up, while this thread is still sending. */
        if (found && s.reply != NULL && (own = malloc(s.len)) != NULL)
            memcpy(own, s.reply, s.len);
        pthread_mutex_unlock(&lock);
        if (own == NULL)
            break;
        s.reply = own;
        if (s.byte_ms > 0) { /* one byte at a time, for at most 10 s */
            for (int i = 0; i < 10000 / s.byte_ms && !stopping; i++) {
                if (!send_all(fd, s.reply + (size_t)i % s.len, 1))
                    break;
                usleep((useconds_t)s.byte_ms * 1000);
            }
            free(own);
            break;
        }
        if (!send_all(fd, s.reply, s.len) || s.close_after) {
            if (s.reset) {
                struct linger l = {.l_onoff = 1, .l_linger = 0};
                usleep(20000); /* let the bytes arrive first */
                setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
            }
            free(own);
            break;
        }
        free(own);
    }
    close(fd);
    return NULL;
}

static void *accept_loop(void *arg)
{
    int lfd = (int)(intptr_t)arg;

    while (!stopping) {
        struct pollfd p = {.fd = lfd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0)
            continue;
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0)
            continue;
        pthread_t t;
        if (pthread_create(&t, NULL, serve_conn, (void *)(intptr_t)fd) == 0)
            pthread_detach(t);
        else
            close(fd);
    }
    return NULL;
}

static pthread_t unix_thread, tcp_thread;

static void server_start(void)
{
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    struct sockaddr_in in = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(in);

    snprintf(sock_path, sizeof(sock_path), "/tmp/dstack-http-%d.sock", (int)getpid());
    snprintf(un.sun_path, sizeof(un.sun_path), "%s", sock_path);
    unlink(sock_path);
    unix_fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (unix_fd < 0 || bind(unix_fd, (struct sockaddr *)&un, sizeof(un)) != 0 ||
        listen(unix_fd, 64) != 0) {
        perror("raw server (unix)");
        exit(1);
    }
    tcp_fd = socket(AF_INET, SOCK_STREAM, 0);
    if (tcp_fd < 0 || bind(tcp_fd, (struct sockaddr *)&in, sizeof(in)) != 0 ||
        listen(tcp_fd, 64) != 0 || getsockname(tcp_fd, (struct sockaddr *)&in, &len) != 0) {
        perror("raw server (tcp)");
        exit(1);
    }
    tcp_port = ntohs(in.sin_port);
    pthread_create(&unix_thread, NULL, accept_loop, (void *)(intptr_t)unix_fd);
    pthread_create(&tcp_thread, NULL, accept_loop, (void *)(intptr_t)tcp_fd);
}

static void server_stop(void)
{
    stopping = 1;
    pthread_join(unix_thread, NULL);
    pthread_join(tcp_thread, NULL);
    close(unix_fd);
    close(tcp_fd);
    unlink(sock_path);
}

/* ---- helpers --------------------------------------------------------------------------------- */

static dstack_client *client_on(const char *endpoint, long timeout_ms, size_t max_response)
{
    dstack_client_options o = {DSTACK_OPTIONS_INIT(dstack_client_options), .endpoint = endpoint,
                               .timeout_ms = timeout_ms, .max_response_size = max_response};
    dstack_client *c = NULL;
    dstack_error e;

    if (dstack_client_new(&o, &c, &e) != DSTACK_OK) {
        fprintf(stderr, "client: %s\n", e.message);
        abort();
    }
    return c;
}

/* One call of `method` on a fresh Unix-socket client: the status, and the message in *e. */
static dstack_status call_once(const char *method, long timeout_ms, size_t max_response,
                               dstack_raw_response *r, dstack_error *e)
{
    dstack_client *c = client_on(sock_path, timeout_ms, max_response);
    dstack_status rc = dstack_call_raw(c, method, NULL, r, e);
    dstack_client_free(c);
    return rc;
}

static void expect(const char *method, dstack_status want, const char *needle)
{
    dstack_raw_response r;
    dstack_error e;
    dstack_status rc = call_once(method, 2000, 0, &r, &e);

    CU_ASSERT_EQUAL(rc, want);
    if (rc != want || (rc != DSTACK_OK && strstr(e.message, needle) == NULL)) {
        fprintf(stderr, "  %s: [%s] %s\n", method, dstack_status_name(rc),
                rc == DSTACK_OK ? r.body : e.message);
        CU_FAIL("unexpected outcome");
    }
    if (rc == DSTACK_OK)
        CU_ASSERT_PTR_NOT_NULL(strstr(r.body, needle));
    dstack_raw_response_clear(&r);
}

#define OK_HEAD "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"

/* ---- cases ------------------------------------------------------------------------------------
 */

static void test_chunked(void)
{
    reply("Chunked", OK_HEAD "Transfer-Encoding: chunked\r\n\r\n"
                             "4\r\n{\"a\"\r\n5;ext=1\r\n:\"ok\"\r\n1\r\n}\r\n0\r\nX-T: 1\r\n\r\n");
    expect("Chunked", DSTACK_OK, "{\"a\":\"ok\"}");
    reply("ChunkHex", OK_HEAD "Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n");
    expect("ChunkHex", DSTACK_ERR_PROTOCOL, "did not answer with valid HTTP: malformed chunk");
    reply("ChunkEmptySize", OK_HEAD "Transfer-Encoding: chunked\r\n\r\n\r\nabc\r\n0\r\n\r\n");
    expect("ChunkEmptySize", DSTACK_ERR_PROTOCOL, "malformed chunk size");
    reply("ChunkNoCrlf", OK_HEAD "Transfer-Encoding: chunked\r\n\r\n3\r\nabcX0\r\n\r\n");
    expect("ChunkNoCrlf", DSTACK_ERR_PROTOCOL, "not followed by CRLF");
    reply("ChunkHuge", OK_HEAD "Transfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nab\r\n");
    expect("ChunkHuge", DSTACK_ERR_PROTOCOL, "response exceeds");
    set_reply("ChunkCut", OK_HEAD "Transfer-Encoding: chunked\r\n\r\n10\r\nabc", 0, 0, true);
    expect("ChunkCut", DSTACK_ERR_PROTOCOL, "response truncated");
    reply("ChunkGzip", OK_HEAD "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n");
    expect("ChunkGzip", DSTACK_ERR_PROTOCOL, "unsupported Transfer-Encoding");
    reply("ChunkAndLength",
          OK_HEAD "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n");
    expect("ChunkAndLength", DSTACK_ERR_PROTOCOL, "both Content-Length and Transfer-Encoding");
}

static void test_huge_headers(void)
{
    static char big[80 * 1024];
    size_t off = (size_t)snprintf(big, sizeof(big), "HTTP/1.1 200 OK\r\n");
    while (off + 64 < sizeof(big) - 32)
        off += (size_t)snprintf(big + off, sizeof(big) - off, "X-Pad: %050d\r\n", 0);
    snprintf(big + off, sizeof(big) - off, "Content-Length: 2\r\n\r\n{}");
    reply("HugeHeaders", big);
    expect("HugeHeaders", DSTACK_ERR_PROTOCOL, "response headers exceed 65536 bytes");
    /* No blank line ever: the cap ends it, not the timeout. */
    char *endless = malloc(100 * 1024);
    memcpy(endless, "HTTP/1.1 200 OK\r\nX: ", 20);
    memset(endless + 20, 'a', 100 * 1024 - 20);
    set_reply("EndlessHeader", endless, 100 * 1024, 0, false);
    expect("EndlessHeader", DSTACK_ERR_PROTOCOL, "response headers exceed");
    set_reply("EndlessHeader", NULL, 0, 0, false);
    free(endless);
}

static void test_slow_loris(void)
{
    dstack_raw_response r;
    dstack_error e;
    double start = monotonic_ms();

    /* A valid status line, one byte every 40 ms: the whole-call timeout ends it. */
    set_reply("Slow", OK_HEAD "Content-Length: 100000\r\n\r\n", 0, 40, false);
    CU_ASSERT_EQUAL(call_once("Slow", 300, 0, &r, &e), DSTACK_ERR_TIMEOUT);
    CU_ASSERT(monotonic_ms() - start < 1000);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.message, "Slow on "));
    CU_ASSERT_PTR_NOT_NULL(strstr(e.message, "timed out after 300 ms"));
}

static void test_early_close(void)
{
    set_reply("CloseNow", NULL, 0, 0, false);
    expect("CloseNow", DSTACK_ERR_CONNECTION, "closed the connection without answering");
    set_reply("CloseInStatus", "HTTP/1.1 20", 0, 0, true);
    expect("CloseInStatus", DSTACK_ERR_PROTOCOL, "response truncated");
    set_reply("CloseInBody", OK_HEAD "Content-Length: 10\r\n\r\n{\"a\"", 0, 0, true);
    expect("CloseInBody", DSTACK_ERR_PROTOCOL, "response truncated");
    /* A reset inside the body: the connection was lost, not merely cut short. */
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", tcp_port);
    reply_reset("ResetInBody", OK_HEAD "Content-Length: 10\r\n\r\n{\"a\"");
    dstack_client *c = client_on(url, 2000, 0);
    dstack_raw_response r;
    dstack_error e;
    CU_ASSERT_EQUAL(dstack_call_raw(c, "ResetInBody", NULL, &r, &e), DSTACK_ERR_CONNECTION);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.message, "connection lost: receive failed"));
    dstack_client_free(c);
    /* HTTP/1.0 style: no length, the close ends the body. */
    set_reply("CloseFramed", "HTTP/1.0 200 OK\r\n\r\n{\"closed\":1}", 0, 0, true);
    expect("CloseFramed", DSTACK_OK, "{\"closed\":1}");
}

static void test_oversize(void)
{
    dstack_raw_response r;
    dstack_error e;

    reply("Big", OK_HEAD "Content-Length: 300\r\n\r\n");
    CU_ASSERT_EQUAL(call_once("Big", 2000, 256, &r, &e), DSTACK_ERR_PROTOCOL);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.message, "response exceeds 256 bytes"));
    static char body[2048];
    snprintf(body, sizeof(body), "HTTP/1.0 200 OK\r\n\r\n%0300d", 0);
    set_reply("BigUnframed", body, 0, 0, true);
    CU_ASSERT_EQUAL(call_once("BigUnframed", 2000, 256, &r, &e), DSTACK_ERR_PROTOCOL);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.message, "response exceeds 256 bytes"));
    snprintf(body, sizeof(body),
             OK_HEAD "Transfer-Encoding: chunked\r\n\r\n96\r\n%0150d\r\n"
                     "96\r\n%0150d\r\n0\r\n\r\n",
             0, 0);
    reply("BigChunked", body);
    CU_ASSERT_EQUAL(call_once("BigChunked", 2000, 256, &r, &e), DSTACK_ERR_PROTOCOL);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.message, "response exceeds 256 bytes"));
    /* Exactly at the cap is fine. */
    snprintf(body, sizeof(body), OK_HEAD "Content-Length: 256\r\n\r\n%0256d", 0);
    reply("AtCap", body);
    CU_ASSERT_EQUAL(call_once("AtCap", 2000, 256, &r, &e), DSTACK_OK);
    CU_ASSERT_EQUAL(r.body_len, 256);
    dstack_raw_response_clear(&r);
}

static void test_content_length(void)
{
    static const char *const bad[] = {
        "12abc", "-1", "+2", "", "0x2", "1 2", "99999999999999999999"};
    char buf[256];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(buf, sizeof(buf), OK_HEAD "Content-Length: %s\r\n\r\n{}", bad[i]);
        reply("BadLength", buf);
        expect("BadLength", DSTACK_ERR_PROTOCOL, "invalid Content-Length");
    }
    reply("TwoLengths", OK_HEAD "Content-Length: 2\r\nContent-Length: 3\r\n\r\n{} ");
    expect("TwoLengths", DSTACK_ERR_PROTOCOL, "conflicting Content-Length");
    reply("SameLengths", OK_HEAD "Content-Length: 2\r\ncontent-length:  2 \r\n\r\n{}");
    expect("SameLengths", DSTACK_OK, "{}");
}

static void test_bad_framing(void)
{
    reply("Http09", "{\"no\":\"status line\"}");
    expect("Http09", DSTACK_ERR_PROTOCOL, "malformed status line");
    reply("Http2", "HTTP/2 200\r\nContent-Length: 2\r\n\r\n{}");
    expect("Http2", DSTACK_ERR_PROTOCOL, "malformed status line");
    reply("BareLf", "HTTP/1.1 200 OK\nContent-Length: 2\n\n{}");
    expect("BareLf", DSTACK_ERR_PROTOCOL, "did not answer with valid HTTP");
    reply("NoColon", OK_HEAD "Oops\r\nContent-Length: 2\r\n\r\n{}");
    expect("NoColon", DSTACK_ERR_PROTOCOL, "header line without a name");
    reply("Folded", OK_HEAD "X-A: 1\r\n  folded\r\nContent-Length: 2\r\n\r\n{}");
    expect("Folded", DSTACK_ERR_PROTOCOL, "folded header line");
    set_reply("NulHeader", OK_HEAD "X-A: a\0b\r\nContent-Length: 2\r\n\r\n{}",
              sizeof(OK_HEAD "X-A: a\0b\r\nContent-Length: 2\r\n\r\n{}") - 1, 0, false);
    expect("NulHeader", DSTACK_ERR_PROTOCOL, "malformed header line");
    /* An interim 100 Continue before the answer is skipped. */
    reply("Interim", "HTTP/1.1 100 Continue\r\n\r\n" OK_HEAD "Content-Length: 2\r\n\r\n{}");
    expect("Interim", DSTACK_OK, "{}");
    /* A non-200 answer is the agent's, with its status. */
    reply("Status", "HTTP/1.1 503 Busy\r\nContent-Length: 15\r\n\r\n{\"error\":\"x\"}\r\n");
    dstack_raw_response r;
    dstack_error e;
    CU_ASSERT_EQUAL(call_once("Status", 2000, 0, &r, &e), DSTACK_OK);
    CU_ASSERT_EQUAL(r.http_status, 503);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.headers, "HTTP/1.1 503 Busy"));
    dstack_raw_response_clear(&r);
}

/* Keep-alive: reuse after a clean answer; a fresh connection after bytes nobody asked for, a
 * "Connection: close", or a connection the agent dropped while idle. */
static void test_keep_alive(void)
{
    dstack_client *c = client_on(sock_path, 2000, 0);
    dstack_raw_response r;
    dstack_error e;

    reply("A", OK_HEAD "Content-Length: 7\r\n\r\n{\"a\":1}");
    reply("B", OK_HEAD "Content-Length: 7\r\n\r\n{\"b\":2}");
    CU_ASSERT_EQUAL(dstack_call_raw(c, "A", NULL, &r, &e), DSTACK_OK);
    dstack_raw_response_clear(&r);
    CU_ASSERT_EQUAL(dstack_call_raw(c, "B", NULL, &r, &e), DSTACK_OK);
    CU_ASSERT_STRING_EQUAL(r.body, "{\"b\":2}");
    dstack_raw_response_clear(&r);
    CU_ASSERT_EQUAL(dstack_client_connections_opened(c), 1);

    /* Pipelined garbage after the answer: the next call must not read it as its answer. */
    reply("Garbage", OK_HEAD "Content-Length: 2\r\n\r\n{}" OK_HEAD "Content-Length: 9\r\n\r\n"
                             "{\"bad\":1}");
    CU_ASSERT_EQUAL(dstack_call_raw(c, "Garbage", NULL, &r, &e), DSTACK_OK);
    CU_ASSERT_STRING_EQUAL(r.body, "{}");
    dstack_raw_response_clear(&r);
    CU_ASSERT_EQUAL(dstack_call_raw(c, "B", NULL, &r, &e), DSTACK_OK);
    CU_ASSERT_STRING_EQUAL(r.body, "{\"b\":2}");
    dstack_raw_response_clear(&r);
    CU_ASSERT_EQUAL(dstack_client_connections_opened(c), 2);

    /* The agent says close: honoured. */
    reply("Bye", OK_HEAD "Connection: close\r\nContent-Length: 2\r\n\r\n{}");
    CU_ASSERT_EQUAL(dstack_call_raw(c, "Bye", NULL, &r, &e), DSTACK_OK);
    dstack_raw_response_clear(&r);
    CU_ASSERT_EQUAL(dstack_call_raw(c, "B", NULL, &r, &e), DSTACK_OK);
    dstack_raw_response_clear(&r);
    CU_ASSERT_EQUAL(dstack_client_connections_opened(c), 3);

    /* The agent closes silently after answering (its idle timeout): the next call reconnects. */
    set_reply("Drop", OK_HEAD "Content-Length: 2\r\n\r\n{}", 0, 0, true);
    CU_ASSERT_EQUAL(dstack_call_raw(c, "Drop", NULL, &r, &e), DSTACK_OK);
    dstack_raw_response_clear(&r);
    usleep(20000);
    CU_ASSERT_EQUAL(dstack_call_raw(c, "B", NULL, &r, &e), DSTACK_OK);
    CU_ASSERT_STRING_EQUAL(r.body, "{\"b\":2}");
    dstack_raw_response_clear(&r);
    CU_ASSERT_EQUAL(dstack_client_connections_opened(c), 4);

    /* A failed exchange never leaves its connection for the next call. */
    reply("Broken", OK_HEAD "Content-Length: x\r\n\r\n{}");
    CU_ASSERT_EQUAL(dstack_call_raw(c, "Broken", NULL, &r, &e), DSTACK_ERR_PROTOCOL);
    CU_ASSERT_EQUAL(dstack_call_raw(c, "B", NULL, &r, &e), DSTACK_OK);
    dstack_raw_response_clear(&r);
    CU_ASSERT_EQUAL(dstack_client_connections_opened(c), 5);
    dstack_client_free(c);
}

/* http:// over TCP: the Host header names the authority, extra headers are sent, keep-alive. */
static void test_tcp(void)
{
    const char *headers[] = {"X-Trace: t1", "User-Agent: custom/1", NULL};
    char url[64];
    dstack_client_options o = {DSTACK_OPTIONS_INIT(dstack_client_options), .endpoint = url,
                               .extra_headers = headers};
    dstack_client *c = NULL;
    dstack_raw_response r;
    dstack_error e;

    snprintf(url, sizeof(url), "http://127.0.0.1:%d/base/", tcp_port);
    CU_ASSERT_EQUAL_FATAL(dstack_client_new(&o, &c, &e), DSTACK_OK);
    reply("A", OK_HEAD "Content-Length: 7\r\n\r\n{\"a\":1}");
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_EQUAL(dstack_call_raw(c, "A", "{\"x\":1}", &r, &e), DSTACK_OK);
        dstack_raw_response_clear(&r);
    }
    CU_ASSERT_EQUAL(dstack_client_connections_opened(c), 1);
    pthread_mutex_lock(&lock);
    CU_ASSERT(strncmp(last_request, "POST /base/A HTTP/1.1\r\n", 23) == 0);
    snprintf(url, sizeof(url), "\r\nHost: 127.0.0.1:%d\r\n", tcp_port);
    CU_ASSERT_PTR_NOT_NULL(strstr(last_request, url));
    CU_ASSERT_PTR_NOT_NULL(strstr(last_request, "\r\nX-Trace: t1\r\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(last_request, "\r\nUser-Agent: custom/1\r\n"));
    CU_ASSERT_PTR_NULL(strstr(last_request, "libdstack/"));
    CU_ASSERT_PTR_NOT_NULL(strstr(last_request, "\r\nContent-Type: application/json\r\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(last_request, "\r\nContent-Length: 7\r\n"));
    pthread_mutex_unlock(&lock);
    dstack_client_free(c);

    /* "localhost" resolves (getaddrinfo) and falls back across its addresses. */
    snprintf(url, sizeof(url), "http://localhost:%d", tcp_port);
    c = client_on(url, 2000, 0);
    CU_ASSERT_EQUAL(dstack_call_raw(c, "A", NULL, &r, &e), DSTACK_OK);
    dstack_raw_response_clear(&r);
    dstack_client_free(c);

    /* An unusable URL is a usage error of each call, as before. */
    c = client_on("http://127.0.0.1:99999", 2000, 0);
    CU_ASSERT_EQUAL(dstack_call_raw(c, "A", NULL, &r, &e), DSTACK_ERR_USAGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.message, "A on http://127.0.0.1:99999: bad endpoint URL"));
    dstack_client_free(c);
    c = client_on("http://no-such-host.invalid:1", 2000, 0);
    CU_ASSERT_EQUAL(dstack_call_raw(c, "A", NULL, &r, &e), DSTACK_ERR_CONNECTION);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.message, "no-such-host.invalid"));
    dstack_client_free(c);
}

/* A batch over the in-house client: each hostile reply keeps its own category. */
static void test_batch_hostile(void)
{
    dstack_client *c = client_on(sock_path, 500, 0);
    dstack_batch_request req[] = {{"A", NULL},       {"ChunkHex", NULL}, {"CloseNow", NULL},
                                  {"Slow", NULL},    {"Chunked", NULL},  {"TwoLengths", NULL},
                                  {"bad name", NULL}};
    const dstack_status want[] = {DSTACK_OK,          DSTACK_ERR_PROTOCOL, DSTACK_ERR_CONNECTION,
                                  DSTACK_ERR_TIMEOUT, DSTACK_OK,           DSTACK_ERR_PROTOCOL,
                                  DSTACK_ERR_USAGE};
    dstack_batch_result res[7];
    dstack_error e;
    double start = monotonic_ms();

    reply("A", OK_HEAD "Content-Length: 7\r\n\r\n{\"a\":1}");
    CU_ASSERT_NOT_EQUAL(dstack_call_batch(c, req, 7, res, 3, &e), DSTACK_OK);
    CU_ASSERT(monotonic_ms() - start < 1500);
    for (int i = 0; i < 7; i++) {
        CU_ASSERT_EQUAL(res[i].status, want[i]);
        if (res[i].status != want[i])
            fprintf(stderr, "batch[%d]: %s\n", i, res[i].error.message);
    }
    CU_ASSERT_STRING_EQUAL(res[4].response.body, "{\"a\":\"ok\"}");
    dstack_batch_results_clear(res, 7);
    dstack_client_free(c);
}

/* https:// goes through libcurl, loaded on first use: a closed port is a connection error,
 * for one call and in a batch. */
static void test_https_via_libcurl(void)
{
    struct sockaddr_in in = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(in);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    char url[64];
    dstack_raw_response r;
    dstack_batch_request req[] = {{"Info", NULL}, {"GetKey", NULL}};
    dstack_batch_result res[2];
    dstack_error e;

    CU_ASSERT_FATAL(fd >= 0 && bind(fd, (struct sockaddr *)&in, sizeof(in)) == 0 &&
                    getsockname(fd, (struct sockaddr *)&in, &len) == 0);
    snprintf(url, sizeof(url), "https://127.0.0.1:%u", (unsigned)ntohs(in.sin_port));
    dstack_client *c = client_on(url, 1000, 0);
    CU_ASSERT_EQUAL(dstack_call_raw(c, "Info", NULL, &r, &e), DSTACK_ERR_CONNECTION);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.message, "Info on https://127.0.0.1:"));
    CU_ASSERT_EQUAL(dstack_call_batch(c, req, 2, res, 0, &e), DSTACK_ERR_CONNECTION);
    CU_ASSERT_EQUAL(res[0].status, DSTACK_ERR_CONNECTION);
    CU_ASSERT_EQUAL(res[1].status, DSTACK_ERR_CONNECTION);
    CU_ASSERT_STRING_EQUAL(res[1].error.method, "GetKey");
    dstack_batch_results_clear(res, 2);
    dstack_client_free(c);
    close(fd);
}

int main(void)
{
    static const test_case cases[] = {
        {"chunked bodies: decoded; malformed, huge, cut, other codings refused", test_chunked},
        {"header block over 64 KiB → protocol", test_huge_headers},
        {"a byte every 40 ms → timeout on time", test_slow_loris},
        {"early close → connection or truncated; close-framed body", test_early_close},
        {"bodies over the cap: sized, unframed, chunked", test_oversize},
        {"non-numeric and duplicate Content-Length", test_content_length},
        {"status lines, bare LF, folding, NUL, 1xx, non-200", test_bad_framing},
        {"keep-alive: reuse, garbage, close, idle drop, failure", test_keep_alive},
        {"http:// over TCP: Host, headers, localhost, bad URL", test_tcp},
        {"batch: per-request categories", test_batch_hostile},
        {"https:// through libcurl loaded on demand", test_https_via_libcurl},
        {NULL, NULL},
    };
    int rc;

    server_start();
    rc = test_run_suite("client_http", cases);
    server_stop();
    return rc;
}
