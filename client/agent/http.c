/* The minimal HTTP/1.1 client for Unix-socket and plain http:// agent endpoints (see http.h
 * for why it exists). It speaks exactly what the agent needs (protocol.md §1.3) and refuses
 * everything else as a protocol error: one POST per exchange, responses framed by
 * Content-Length, chunked transfer coding, or (HTTP/1.0 style) the end of the connection;
 * keep-alive unless the agent says otherwise. Every cap is enforced while reading, before the
 * bytes are kept. */
#include "agent/http.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

enum {
    ST_CONNECT,
    ST_CONNECTING,
    ST_SEND,
    ST_HEADERS,
    ST_BODY,
    ST_CHUNK_SIZE,
    ST_CHUNK_DATA,
    ST_CHUNK_CRLF,
    ST_TRAILERS,
    ST_DONE
};
enum { FRAME_LENGTH, FRAME_CHUNKED, FRAME_CLOSE };

/* Longest chunk-size line we accept ("<hex>[;ext]"): far above any real one. */
#define MAX_CHUNK_LINE 1024

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

void dstack_http_conn_close(dstack_http_conn *conn)
{
    if (conn->fd >= 0)
        close(conn->fd); /* in a fork child this closes only the child's copy */
    conn->fd = -1;
}

static bool fail(dstack_http_xfer *x, dstack_http_outcome o, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool fail(dstack_http_xfer *x, dstack_http_outcome o, const char *fmt, ...)
{
    va_list ap;

    x->outcome = o;
    x->state = ST_DONE;
    va_start(ap, fmt);
    vsnprintf(x->t->errbuf, sizeof(x->t->errbuf), fmt, ap);
    va_end(ap);
    return true;
}

/* A kept-alive connection is usable when nothing is waiting on it: readable means the agent
 * closed it (idle timeout) or sent bytes nobody asked for, and either way it is dropped. */
static bool conn_alive(const dstack_http_conn *conn)
{
    struct pollfd p = {.fd = conn->fd, .events = POLLIN};
    return poll(&p, 1, 0) == 0;
}

/* A POST with `body`, or a GET (body NULL: no Content-Length either). */
static bool start_request(dstack_http_xfer *x, const dstack_client *c, dstack_transfer *t,
                          dstack_http_conn *conn, const char *path, const char *body,
                          size_t body_len, long timeout_ms, long connect_ms)
{
    const char *prefix = c->http.path_base != NULL ? c->http.path_base : "";
    int head;
    double start = now_ms();

    memset(x, 0, offsetof(dstack_http_xfer, rbuf));
    x->c = c;
    x->t = t;
    x->conn = conn;
    x->deadline_ms = start + (double)timeout_ms;
    x->connect_deadline_ms = start + (double)(connect_ms < timeout_ms ? connect_ms : timeout_ms);
    if (c->http.bad_url != NULL)
        return !fail(x, DSTACK_HTTP_BAD_URL, "%s", c->http.bad_url);
    if (body == NULL)
        head = snprintf(NULL, 0, "GET %s%s HTTP/1.1\r\n%s\r\n", prefix, path, c->http.headers);
    else
        head = snprintf(NULL, 0, "POST %s%s HTTP/1.1\r\n%sContent-Length: %zu\r\n\r\n", prefix,
                        path, c->http.headers, body_len);
    if (head < 0 || (size_t)head > SIZE_MAX - body_len - 1 ||
        (x->req = OPENSSL_malloc((size_t)head + body_len + 1)) == NULL)
        return !fail(x, DSTACK_HTTP_NOMEM, "out of memory");
    if (body == NULL)
        snprintf(x->req, (size_t)head + 1, "GET %s%s HTTP/1.1\r\n%s\r\n", prefix, path,
                 c->http.headers);
    else
        snprintf(x->req, (size_t)head + 1, "POST %s%s HTTP/1.1\r\n%sContent-Length: %zu\r\n\r\n",
                 prefix, path, c->http.headers, body_len);
    if (body_len > 0)
        memcpy(x->req + head, body, body_len);
    x->req_len = (size_t)head + body_len;

    if (conn->fd >= 0 && conn->pid != getpid())
        dstack_http_conn_close(conn); /* inherited across fork(): the parent's, not ours */
    if (conn->fd >= 0 && !conn_alive(conn))
        dstack_http_conn_close(conn);
    x->reused = conn->fd >= 0;
    x->state = x->reused ? ST_SEND : ST_CONNECT;
    return true;
}

bool dstack_http_start(dstack_http_xfer *x, const dstack_client *c, dstack_transfer *t,
                       dstack_http_conn *conn, const char *path, const char *body, size_t body_len,
                       long timeout_ms, long connect_ms, unsigned long *connections)
{
    (void)connections; /* counted when the first step connects */
    return start_request(x, c, t, conn, path, body != NULL ? body : "", body_len, timeout_ms,
                         connect_ms);
}

bool dstack_http_start_get(dstack_http_xfer *x, dstack_client *c, dstack_transfer *t,
                           const char *path, long timeout_ms)
{
    return start_request(x, c, t, &c->conn, path, NULL, 0, timeout_ms, c->connect_timeout_ms);
}

/* ---- connecting ----------------------------------------------------------------------- */

static int new_socket(int family)
{
    return socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
}

static void connected(dstack_http_xfer *x, unsigned long *connections)
{
    int one = 1;

    if (x->c->http.socket_path == NULL)
        (void)setsockopt(x->conn->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    x->conn->pid = getpid();
    (*connections)++;
    x->state = ST_SEND;
}

/* A failed attempt moves on to the host's next address, if any. */
static void connect_failed(dstack_http_xfer *x, int e)
{
    dstack_http_conn_close(x->conn);
    x->os_errno = e;
    if (x->next_addr < x->addrs.n) {
        x->state = ST_CONNECT;
        return;
    }
    fail(x, DSTACK_HTTP_CONNECT, "%s", strerror(e));
}

static void start_connect(dstack_http_xfer *x, unsigned long *connections)
{
    const dstack_client *c = x->c;
    struct sockaddr_un un;
    const struct sockaddr *sa;
    socklen_t len;
    int e, rc;

    if (c->http.socket_path != NULL) {
        memset(&un, 0, sizeof(un));
        un.sun_family = AF_UNIX;
        /* Length checked by dstack_endpoint_split(). */
        memcpy(un.sun_path, c->http.socket_path, strlen(c->http.socket_path));
        sa = (const struct sockaddr *)&un;
        len = (socklen_t)sizeof(un);
    } else {
        if (x->addrs.n == 0) {
            char why[160];
            int left = (int)(x->connect_deadline_ms - now_ms());
            if (dstack_resolve_host(c->http.host, c->http.port, left > 0 ? left : 0, &x->addrs, why,
                                    sizeof(why)) != 0) {
                if (strcmp(why, "timeout") == 0)
                    fail(x, DSTACK_HTTP_TIMEOUT, "resolving %s timed out", c->http.host);
                else
                    fail(x, DSTACK_HTTP_RESOLVE, "Could not resolve host: %s (%s)", c->http.host,
                         why);
                return;
            }
        }
        sa = (const struct sockaddr *)&x->addrs.addr[x->next_addr];
        len = x->addrs.len[x->next_addr];
        x->next_addr++;
    }
    x->conn->fd = new_socket(sa->sa_family);
    if (x->conn->fd < 0) {
        e = errno;
        x->next_addr = x->addrs.n; /* no socket for one address: no better for the next */
        connect_failed(x, e);
        return;
    }
    do
        rc = connect(x->conn->fd, sa, len);
    while (rc != 0 && errno == EINTR);
    e = rc == 0 ? 0 : errno;
    if (rc == 0)
        connected(x, connections);
    else if (e == EINPROGRESS)
        x->state = ST_CONNECTING; /* TCP: wait for POLLOUT */
    else if (e == EAGAIN && c->http.socket_path != NULL)
        dstack_http_conn_close(x->conn); /* listen backlog full: try again on the next step */
    else
        connect_failed(x, e);
}

static void finish_connect(dstack_http_xfer *x, unsigned long *connections)
{
    int e = 0;
    socklen_t len = sizeof(e);

    if (getsockopt(x->conn->fd, SOL_SOCKET, SO_ERROR, &e, &len) != 0)
        e = errno;
    if (e == 0)
        connected(x, connections);
    else
        connect_failed(x, e);
}

/* ---- sending -------------------------------------------------------------------------- */

/* A request that fails on a kept-alive connection before any answer arrived is sent once more
 * on a fresh one: the agent may have closed it at the moment we reused it (as libcurl does). */
static bool retry_fresh(dstack_http_xfer *x)
{
    if (!x->reused || x->retried || x->got_bytes)
        return false;
    dstack_http_conn_close(x->conn);
    x->retried = true;
    x->reused = false;
    x->req_off = 0;
    x->t->headers_len = 0;
    x->header_scan = 0;
    x->state = ST_CONNECT;
    return true;
}

static void do_send(dstack_http_xfer *x)
{
    while (x->req_off < x->req_len) {
        ssize_t n = send(x->conn->fd, x->req + x->req_off, x->req_len - x->req_off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n < 0) {
            int e = errno;
            if (!retry_fresh(x))
                fail(x, DSTACK_HTTP_LOST, "send failed: %s", strerror(e));
            return;
        }
        x->req_off += (size_t)n;
    }
    x->state = ST_HEADERS;
}

/* ---- the response header block -------------------------------------------------------- */

static bool ci_prefix(const char *line, size_t len, const char *name)
{
    size_t n = strlen(name);
    return len >= n && strncasecmp(line, name, n) == 0;
}

/* The field value of a header line "Name: value\r\n", trimmed of blanks. */
static void field_value(const char *line, size_t len, size_t name_len, const char **v, size_t *vl)
{
    const char *p = line + name_len, *end = line + len - 2; /* drop CRLF */
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    *v = p;
    *vl = (size_t)(end - p);
}

static bool token_in(const char *v, size_t vl, const char *token)
{
    size_t n = strlen(token);
    for (size_t i = 0; i + n <= vl; i++)
        if (strncasecmp(v + i, token, n) == 0 && (i == 0 || v[i - 1] == ',' || v[i - 1] == ' ') &&
            (i + n == vl || v[i + n] == ',' || v[i + n] == ' ' || v[i + n] == ';'))
            return true;
    return false;
}

/* Parses the complete header block in t->headers. Returns false after fail(). */
static bool parse_headers(dstack_http_xfer *x)
{
    const char *h = x->t->headers, *end = h + x->t->headers_len, *line, *eol;
    bool have_length = false, chunked = false, http10;
    unsigned long long length = 0;

    /* Status line: HTTP/1.0 or HTTP/1.1, a three-digit code. */
    if (x->t->headers_len < 12 || memcmp(h, "HTTP/1.", 7) != 0 || (h[7] != '0' && h[7] != '1') ||
        h[8] != ' ' || h[9] < '1' || h[9] > '5' || h[10] < '0' || h[10] > '9' || h[11] < '0' ||
        h[11] > '9' || (x->t->headers_len > 12 && h[12] != ' ' && h[12] != '\r'))
        return !fail(x, DSTACK_HTTP_BAD_REPLY, "malformed status line");
    http10 = h[7] == '0';
    x->status = (h[9] - '0') * 100 + (h[10] - '0') * 10 + (h[11] - '0');
    if (x->status < 200)
        return true; /* interim response: only its end matters */
    x->keep_alive = !http10;
    eol = memchr(h, '\n', (size_t)(end - h));
    for (line = eol + 1; line < end; line = eol + 1) {
        size_t len;
        const char *v;
        size_t vl;

        eol = memchr(line, '\n', (size_t)(end - line));
        len = (size_t)(eol - line) + 1;
        if (len == 2) /* the blank line */
            break;
        if (len < 2 || eol[-1] != '\r' || memchr(line, '\r', len - 2) != NULL ||
            memchr(line, '\0', len) != NULL)
            return !fail(x, DSTACK_HTTP_BAD_REPLY, "malformed header line");
        if (*line == ' ' || *line == '\t') /* obsolete line folding (RFC 9112 section 5.2) */
            return !fail(x, DSTACK_HTTP_BAD_REPLY, "folded header line");
        const char *colon = memchr(line, ':', len);
        if (colon == NULL || colon == line)
            return !fail(x, DSTACK_HTTP_BAD_REPLY, "header line without a name");
        if (ci_prefix(line, len, "Content-Length:")) {
            unsigned long long n = 0;
            field_value(line, len, 15, &v, &vl);
            if (vl == 0 || vl > 19)
                return !fail(x, DSTACK_HTTP_BAD_REPLY, "invalid Content-Length");
            for (size_t i = 0; i < vl; i++) {
                if (v[i] < '0' || v[i] > '9')
                    return !fail(x, DSTACK_HTTP_BAD_REPLY, "invalid Content-Length");
                n = n * 10 + (unsigned)(v[i] - '0');
            }
            /* Two different lengths make the framing ambiguous (RFC 9112 section 6.3). */
            if (have_length && n != length)
                return !fail(x, DSTACK_HTTP_BAD_REPLY, "conflicting Content-Length headers");
            have_length = true;
            length = n;
        } else if (ci_prefix(line, len, "Transfer-Encoding:")) {
            field_value(line, len, 18, &v, &vl);
            /* Only "chunked" alone: we ask for no other coding and could not undo one. */
            if (vl != 7 || strncasecmp(v, "chunked", 7) != 0 || chunked)
                return !fail(x, DSTACK_HTTP_BAD_REPLY, "unsupported Transfer-Encoding '%.*s'",
                             (int)(vl > 64 ? 64 : vl), v);
            chunked = true;
        } else if (ci_prefix(line, len, "Connection:")) {
            field_value(line, len, 11, &v, &vl);
            if (token_in(v, vl, "close"))
                x->keep_alive = false;
            else if (http10 && token_in(v, vl, "keep-alive"))
                x->keep_alive = true;
        }
    }
    /* Both framings at once is how responses are smuggled (RFC 9112 section 6.1): refuse. */
    if (chunked && have_length)
        return !fail(x, DSTACK_HTTP_BAD_REPLY, "both Content-Length and Transfer-Encoding");
    if (x->status == 204 || x->status == 304) {
        x->framing = FRAME_LENGTH;
        x->remaining = 0;
    } else if (chunked) {
        x->framing = FRAME_CHUNKED;
    } else if (have_length) {
        if (length > x->t->limit)
            return !fail(x, DSTACK_HTTP_OVERSIZE, "announced %llu bytes", length);
        x->framing = FRAME_LENGTH;
        x->remaining = (size_t)length;
        /* Size the body buffer once. */
        if (!dstack_transfer_reserve(&x->t->body, &x->t->body_cap, (size_t)length + 1))
            return !fail(x, DSTACK_HTTP_NOMEM, "out of memory");
    } else {
        x->framing = FRAME_CLOSE;
        x->keep_alive = false;
    }
    return true;
}

/* Appends header bytes until the blank line; returns how many of `n` it used. */
static size_t take_headers(dstack_http_xfer *x, const unsigned char *p, size_t n)
{
    dstack_transfer *t = x->t;
    size_t room = DSTACK_MAX_HEADER_BYTES - t->headers_len, take = n < room ? n : room;

    if (take == 0) {
        fail(x, DSTACK_HTTP_HEADERS_OVERSIZE, "header block too large");
        return 0;
    }
    if (!dstack_transfer_reserve(&t->headers, &t->headers_cap, t->headers_len + take + 1)) {
        fail(x, DSTACK_HTTP_NOMEM, "out of memory");
        return 0;
    }
    memcpy(t->headers + t->headers_len, p, take);
    t->headers_len += take;
    t->headers[t->headers_len] = '\0';
    /* Refuse a reply that is not HTTP/1.x as soon as its first bytes show it, not at the
     * timeout: an agent that answers HTTP/0.9 or with a bare-LF status line stays silent
     * after it. */
    size_t pre = t->headers_len < 7 ? t->headers_len : 7;
    const char *nl = memchr(t->headers, '\n', t->headers_len);
    if (memcmp(t->headers, "HTTP/1.", pre) != 0 ||
        (nl != NULL && (nl == t->headers || nl[-1] != '\r')))
        return fail(x, DSTACK_HTTP_BAD_REPLY, "malformed status line"), 0;
    /* Look for CRLF CRLF from just before the bytes that arrived. */
    for (size_t i = x->header_scan; i + 4 <= t->headers_len; i++) {
        if (memcmp(t->headers + i, "\r\n\r\n", 4) != 0)
            continue;
        size_t extra = t->headers_len - (i + 4);
        t->headers_len = i + 4;
        t->headers[t->headers_len] = '\0';
        if (!parse_headers(x))
            return 0;
        if (x->status < 200) { /* 1xx: an interim response, the real one follows */
            t->headers_len = 0;
            x->header_scan = 0;
            return take - extra;
        }
        x->state = x->framing == FRAME_CHUNKED ? ST_CHUNK_SIZE : ST_BODY;
        if (x->framing == FRAME_LENGTH && x->remaining == 0)
            x->state = ST_DONE;
        return take - extra;
    }
    x->header_scan = t->headers_len >= 3 ? t->headers_len - 3 : 0;
    if (t->headers_len >= DSTACK_MAX_HEADER_BYTES)
        fail(x, DSTACK_HTTP_HEADERS_OVERSIZE, "header block too large");
    return take;
}

/* ---- the body -------------------------------------------------------------------------- */

static bool body_append(dstack_http_xfer *x, const unsigned char *p, size_t n)
{
    dstack_transfer *t = x->t;

    if (n > t->limit - t->body_len)
        return !fail(x, DSTACK_HTTP_OVERSIZE, "body over the limit");
    if (!dstack_transfer_reserve(&t->body, &t->body_cap, t->body_len + n + 1))
        return !fail(x, DSTACK_HTTP_NOMEM, "out of memory");
    memcpy(t->body + t->body_len, p, n);
    t->body_len += n;
    t->body[t->body_len] = '\0';
    return true;
}

static int hex_digit(unsigned char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* One byte of a chunk-size line "<hex>[;ext]\r\n". Returns false after fail(). */
static bool chunk_size_byte(dstack_http_xfer *x, unsigned char ch)
{
    int d;

    if (++x->line_len > MAX_CHUNK_LINE)
        return !fail(x, DSTACK_HTTP_BAD_REPLY, "chunk-size line too long");
    if (ch == '\n') {
        if (!x->chunk_digits)
            return !fail(x, DSTACK_HTTP_BAD_REPLY, "malformed chunk size");
        x->line_len = 0;
        x->chunk_digits = x->chunk_ext = false;
        x->state = x->remaining == 0 ? ST_TRAILERS : ST_CHUNK_DATA;
        return true;
    }
    if (x->chunk_ext || ch == '\r')
        return true; /* extensions are ignored; CR is checked by the LF that must follow */
    if (ch == ';' && x->chunk_digits) {
        x->chunk_ext = true;
        return true;
    }
    if ((d = hex_digit(ch)) < 0)
        return !fail(x, DSTACK_HTTP_BAD_REPLY, "malformed chunk size");
    /* A size that cannot fit under the body cap is refused before it can overflow. */
    if (x->remaining > (x->t->limit - x->t->body_len) / 16)
        return !fail(x, DSTACK_HTTP_OVERSIZE, "chunk over the limit");
    x->remaining = x->remaining * 16 + (size_t)d;
    x->chunk_digits = true;
    return true;
}

/* Feeds chunked-coding bytes; returns how many of `n` it used. */
static size_t take_chunked(dstack_http_xfer *x, const unsigned char *p, size_t n)
{
    size_t used = 0;

    while (used < n && x->state != ST_DONE) {
        unsigned char ch = p[used];

        switch (x->state) {
        case ST_CHUNK_SIZE:
            used++;
            if (!chunk_size_byte(x, ch))
                return used;
            break;
        case ST_CHUNK_DATA: {
            size_t take = n - used < x->remaining ? n - used : x->remaining;
            if (!body_append(x, p + used, take))
                return used;
            used += take;
            x->remaining -= take;
            if (x->remaining == 0)
                x->state = ST_CHUNK_CRLF;
            break;
        }
        case ST_CHUNK_CRLF:
            used++;
            if ((x->line_len == 0 && ch != '\r') || (x->line_len == 1 && ch != '\n')) {
                fail(x, DSTACK_HTTP_BAD_REPLY, "chunk data not followed by CRLF");
                return used;
            }
            if (++x->line_len == 2) {
                x->line_len = 0;
                x->state = ST_CHUNK_SIZE;
            }
            break;
        default: /* ST_TRAILERS: fields ignored, a blank line ends the message */
            used++;
            if (++x->trailer_len > DSTACK_MAX_HEADER_BYTES) {
                fail(x, DSTACK_HTTP_HEADERS_OVERSIZE, "trailer block too large");
                return used;
            }
            if (ch != '\n') {
                x->line_len++;
            } else {
                if (x->line_len <= 1) /* "\r\n" alone */
                    x->state = ST_DONE;
                x->line_len = 0;
            }
            break;
        }
    }
    return used;
}

/* Processes `n` received bytes in state order. Bytes left after a complete response were not
 * asked for (pipelined garbage): the connection is not reused. */
static void consume(dstack_http_xfer *x, const unsigned char *p, size_t n)
{
    while (n > 0 && x->state != ST_DONE) {
        size_t used;

        if (x->state == ST_HEADERS) {
            used = take_headers(x, p, n);
        } else if (x->state == ST_BODY) {
            used = n;
            if (x->framing == FRAME_LENGTH && used > x->remaining)
                used = x->remaining;
            if (!body_append(x, p, used))
                return;
            if (x->framing == FRAME_LENGTH) {
                x->remaining -= used;
                if (x->remaining == 0)
                    x->state = ST_DONE;
            }
        } else {
            used = take_chunked(x, p, n);
        }
        p += used;
        n -= used;
    }
    if (n > 0 && x->outcome == DSTACK_HTTP_OK)
        x->keep_alive = false;
}

/* The connection ended (EOF or a receive error `e`): complete, truncated or lost. */
static void ended(dstack_http_xfer *x, int e)
{
    if (e == 0 && x->state == ST_BODY && x->framing == FRAME_CLOSE) {
        x->state = ST_DONE; /* the end of the connection frames this body */
        return;
    }
    if (!x->got_bytes && retry_fresh(x))
        return;
    if (e != 0) /* a reset, as libcurl's CURLE_RECV_ERROR: the connection was lost */
        fail(x, DSTACK_HTTP_LOST, "receive failed: %s", strerror(e));
    else if (!x->got_bytes)
        fail(x, DSTACK_HTTP_NOTHING, "closed without answering");
    else if (x->state == ST_HEADERS)
        fail(x, DSTACK_HTTP_TRUNCATED, "connection closed inside the response headers");
    else if (x->framing == FRAME_LENGTH)
        fail(x, DSTACK_HTTP_TRUNCATED, "connection closed with %zu body bytes missing",
             x->remaining);
    else
        fail(x, DSTACK_HTTP_TRUNCATED, "connection closed inside the chunked body");
}

static void do_recv(dstack_http_xfer *x)
{
    for (;;) {
        ssize_t n = recv(x->conn->fd, x->rbuf, sizeof(x->rbuf), 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0) {
            int e = n < 0 ? errno : 0;
            dstack_http_conn_close(x->conn);
            ended(x, e);
            return;
        }
        x->got_bytes = true;
        consume(x, x->rbuf, (size_t)n);
        if (x->state == ST_DONE)
            return;
    }
}

/* ---- driving --------------------------------------------------------------------------- */

short dstack_http_events(const dstack_http_xfer *x)
{
    switch (x->state) {
    case ST_CONNECT:
        return POLLOUT; /* a Unix socket whose backlog was full: retried after a short wait */
    case ST_CONNECTING:
    case ST_SEND:
        return POLLOUT;
    case ST_DONE:
        return 0;
    default:
        return POLLIN;
    }
}

int dstack_http_wait_ms(const dstack_http_xfer *x)
{
    double left = x->deadline_ms - now_ms();

    if (x->state == ST_CONNECTING && x->connect_deadline_ms < x->deadline_ms)
        left = x->connect_deadline_ms - now_ms();
    if (x->state == ST_CONNECT)
        return left > 1 ? 1 : 0;
    return left <= 0 ? 0 : left > 1e9 ? 1000000000 : (int)left + 1;
}

bool dstack_http_step(dstack_http_xfer *x, unsigned long *connections)
{
    double now = now_ms();

    if (x->state != ST_DONE && now >= x->deadline_ms)
        fail(x, DSTACK_HTTP_TIMEOUT, "timed out");
    else if ((x->state == ST_CONNECT || x->state == ST_CONNECTING) && now >= x->connect_deadline_ms)
        fail(x, DSTACK_HTTP_TIMEOUT, "connect timed out");
    /* Each pass may move on to a state that can proceed at once (connected → send …). */
    for (int prev = -1; x->state != ST_DONE && x->state != prev;) {
        prev = x->state;
        switch (x->state) {
        case ST_CONNECT:
            start_connect(x, connections);
            break;
        case ST_CONNECTING:
            finish_connect(x, connections);
            break;
        case ST_SEND:
            do_send(x);
            break;
        default:
            do_recv(x);
            break;
        }
    }
    if (x->state == ST_DONE && x->outcome != DSTACK_HTTP_OK) {
        dstack_http_conn_close(x->conn);
        x->keep_alive = false;
    }
    return x->state == ST_DONE;
}

void dstack_http_fuzz_sent(dstack_http_xfer *x)
{
    if (x->state != ST_DONE)
        x->state = ST_HEADERS;
}

bool dstack_http_fuzz_feed(dstack_http_xfer *x, const unsigned char *p, size_t n)
{
    if (n > 0 && x->state != ST_DONE) {
        x->got_bytes = true;
        consume(x, p, n);
    }
    return x->state == ST_DONE;
}

void dstack_http_fuzz_eof(dstack_http_xfer *x)
{
    if (x->state != ST_DONE)
        ended(x, 0);
}

void dstack_http_end(dstack_http_xfer *x)
{
    if (x->state != ST_DONE || x->outcome != DSTACK_HTTP_OK || !x->keep_alive)
        dstack_http_conn_close(x->conn);
    if (x->req != NULL)
        OPENSSL_clear_free(x->req, x->req_len + 1); /* request bodies may hold secrets */
    x->req = NULL;
    OPENSSL_cleanse(x->rbuf, sizeof(x->rbuf));
}
