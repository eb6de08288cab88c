/* hostile-agent — a guest agent that lies, for the hostile-agent harness (tests/hostile/).
 *
 *   hostile-agent --dir D [--upstream SIMDIR] [--no-guest] [--rule PATH=ACTION]...
 *   hostile-agent --write-other-app APP_ID_HEX TEMPLATE OUT
 *
 * Serves D/dstack.sock (DstackGuest, unless --no-guest) and D/tappd.sock (Tappd) with HTTP/1.1
 * and keep-alive, one thread per connection. Each request whose path (query string dropped,
 * e.g. "/GetKey", "/prpc/Tappd.DeriveKey"; "*" matches every path) has a rule gets the rule's
 * ACTION; every other request is forwarded unchanged to the same socket of the dstack-sim
 * running in SIMDIR (404 without --upstream). So a case breaks exactly one RPC and the rest of
 * the conversation is a real agent's. ACTION:
 *   reply:CODE:FILE   HTTP CODE, Content-Type application/json, the bytes of FILE as body
 *   raw:FILE          the bytes of FILE as the whole answer (no HTTP framing), then close
 *   request:FILE      forward upstream with the request body replaced by FILE (e.g. another
 *                     report_data or another key path: a real answer to another question)
 *   hang              read the request and never answer (until the client goes away)
 *   close             close the connection without answering
 * Startup: "HOSTILE_AGENT_READY" on stdout once both sockets listen. Every request is logged on
 * stderr as "<socket> <path> -> <action>". SIGTERM/SIGINT: sockets removed, exit 0.
 *
 * --write-other-app writes an appkeys.json (dstack-sim --appkeys format) for another app id
 * under dstack-sim's documented development KMS root (docs/dstack-sim.md: the root is derived
 * from a published seed): TEMPLATE (from dstack-sim --write-appkeys) with k256_key =
 * HKDF(kms_root, app_id || "app-key") and k256_signature = the KMS root's signature over
 * Keccak256("dstack-kms-issued:" || app_id || app_pub) (protocol.md §3.2, §3.4). An agent
 * loaded with it serves keys whose chains verify to the same KMS root as the development
 * app's, for another app. Prints the KMS root public key it used (hex) on stdout. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <dstack/keys.h>

#include "agent_side.h"

#define MAX_RULES 32
#define MAX_HEAD (64 * 1024)
#define MAX_REQUEST_BODY (16 * 1024 * 1024)
#define DEV_SEED "dstack-sim insecure development identity v1"

typedef enum action_kind { ACT_REPLY, ACT_RAW, ACT_REQUEST, ACT_HANG, ACT_CLOSE } action_kind;

typedef struct rule {
    char *path;
    action_kind kind;
    int code;
    char *data; /* file contents for reply/raw/request */
    size_t data_len;
    const char *text; /* the ACTION as given, for the log */
} rule;

typedef struct listener {
    const char *name; /* "dstack" or "tappd" */
    char path[108];
    char upstream[108];
    int fd;
} listener;

typedef struct conn {
    const listener *l;
    int fd;
} conn;

static rule rules[MAX_RULES];
static size_t n_rules;
static listener listeners[2];
static size_t n_listeners;
static volatile sig_atomic_t stopping;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "hostile-agent: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(2);
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;

    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
        fseek(f, 0, SEEK_SET) != 0 || (buf = malloc((size_t)n + 1)) == NULL ||
        fread(buf, 1, (size_t)n, f) != (size_t)n)
        die("cannot read %s", path);
    fclose(f);
    buf[n] = '\0';
    *len = (size_t)n;
    return buf;
}

/* PATH=ACTION */
static void parse_rule(const char *spec)
{
    const char *eq = strchr(spec, '=');
    rule *r = &rules[n_rules];
    const char *a;

    if (eq == NULL || eq == spec || n_rules == MAX_RULES)
        die("bad --rule %s (expected PATH=ACTION)", spec);
    r->path = strndup(spec, (size_t)(eq - spec));
    a = eq + 1;
    r->text = a;
    if (strncmp(a, "reply:", 6) == 0) {
        char *end = NULL;
        r->kind = ACT_REPLY;
        r->code = (int)strtol(a + 6, &end, 10);
        if (end == a + 6 || *end != ':' || r->code < 100 || r->code > 999)
            die("bad reply action %s (expected reply:CODE:FILE)", a);
        r->data = read_file(end + 1, &r->data_len);
    } else if (strncmp(a, "raw:", 4) == 0) {
        r->kind = ACT_RAW;
        r->data = read_file(a + 4, &r->data_len);
    } else if (strncmp(a, "request:", 8) == 0) {
        r->kind = ACT_REQUEST;
        r->data = read_file(a + 8, &r->data_len);
    } else if (strcmp(a, "hang") == 0) {
        r->kind = ACT_HANG;
    } else if (strcmp(a, "close") == 0) {
        r->kind = ACT_CLOSE;
    } else {
        die("unknown action %s", a);
    }
    n_rules++;
}

static const rule *rule_for(const char *path)
{
    for (size_t i = 0; i < n_rules; i++)
        if (strcmp(rules[i].path, path) == 0 || strcmp(rules[i].path, "*") == 0)
            return &rules[i];
    return NULL;
}

static bool write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* A growable buffer of what has been read from a socket. */
typedef struct buf {
    char *p;
    size_t len, cap;
} buf;

static bool buf_read(buf *b, int fd, size_t limit)
{
    if (b->len == b->cap) {
        size_t cap = b->cap != 0 ? 2 * b->cap : 16384;
        char *p;
        if (cap > limit + 1)
            cap = limit + 1;
        if (cap <= b->len || (p = realloc(b->p, cap)) == NULL)
            return false;
        b->p = p;
        b->cap = cap;
    }
    ssize_t n;
    do {
        n = read(fd, b->p + b->len, b->cap - b->len);
    } while (n < 0 && errno == EINTR);
    if (n <= 0)
        return false;
    b->len += (size_t)n;
    return true;
}

/* The value of header `name` in the head p[0..head) (which ends with a blank line), or NULL. */
static const char *header_value(const char *p, size_t head, const char *name)
{
    size_t n = strlen(name);
    for (const char *line = memchr(p, '\n', head); line != NULL && line + 1 + n + 1 < p + head;
         line = memchr(line + 1, '\n', (size_t)(p + head - line - 1))) {
        if (strncasecmp(line + 1, name, n) == 0 && line[1 + n] == ':') {
            const char *v = line + 2 + n;
            while (*v == ' ' || *v == '\t')
                v++;
            return v;
        }
    }
    return NULL;
}

/* Head length (through the blank line) and Content-Length of a message in b, once complete. */
static bool message_complete(const buf *b, size_t *head, size_t *body_len)
{
    char *end = b->len > 0 ? memmem(b->p, b->len, "\r\n\r\n", 4) : NULL;
    if (end == NULL)
        return false;
    *head = (size_t)(end - b->p) + 4;
    *body_len = 0;
    const char *v = header_value(b->p, *head, "Content-Length");
    if (v != NULL)
        *body_len = strtoul(v, NULL, 10);
    return b->len >= *head + *body_len;
}

static int connect_unix(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

static bool send_simple(int fd, int code, const char *body, size_t len)
{
    char head[256];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d Hostile\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\n\r\n",
                     code, len);
    return write_all(fd, head, (size_t)n) && write_all(fd, body, len);
}

/* Sends "<request line> + body" to the upstream socket with Connection: close and relays the
 * whole answer. */
static bool forward(int client, const char *upstream, const char *request_line,
                    const char *content_type, const char *body, size_t body_len)
{
    buf resp = {0};
    char head[1024];
    bool ok = false;
    int fd;

    if (upstream[0] == '\0')
        return send_simple(client, 404, "{\"error\":\"no upstream\"}", 23);
    fd = connect_unix(upstream);
    if (fd < 0)
        return send_simple(client, 502, "{\"error\":\"upstream unreachable\"}", 32);
    int n = snprintf(head, sizeof(head),
                     "%s\r\nHost: localhost\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n",
                     request_line, content_type, body_len);
    if (n > 0 && (size_t)n < sizeof(head) && write_all(fd, head, (size_t)n) &&
        write_all(fd, body, body_len)) {
        size_t h, bl;
        /* dstack-sim always sends Content-Length (docs/dstack-sim.md). */
        while (!message_complete(&resp, &h, &bl) && buf_read(&resp, fd, 64u * 1024 * 1024))
            ;
        ok = resp.len > 0 && write_all(client, resp.p, resp.len);
    }
    close(fd);
    free(resp.p);
    return ok;
}

static void *connection_main(void *arg)
{
    conn *c = arg;
    buf in = {0};

    for (;;) {
        size_t head, body_len;
        while (!message_complete(&in, &head, &body_len))
            if (!buf_read(&in, c->fd, MAX_HEAD + MAX_REQUEST_BODY))
                goto done;
        char *eol = memmem(in.p, head, "\r\n", 2);
        char request_line[2048], path[1024], content_type[128] = "application/json";
        size_t rl = (size_t)(eol - in.p);
        if (rl >= sizeof(request_line))
            goto done;
        memcpy(request_line, in.p, rl);
        request_line[rl] = '\0';
        const char *sp = strchr(request_line, ' ');
        size_t pl = sp != NULL ? strcspn(sp + 1, " ?") : 0;
        if (sp == NULL || pl >= sizeof(path))
            goto done;
        memcpy(path, sp + 1, pl);
        path[pl] = '\0';
        const char *ct = header_value(in.p, head, "Content-Type");
        if (ct != NULL) {
            size_t cl = strcspn(ct, "\r");
            if (cl < sizeof(content_type)) {
                memcpy(content_type, ct, cl);
                content_type[cl] = '\0';
            }
        }
        const rule *r = rule_for(path);
        fprintf(stderr, "hostile-agent: %s %s -> %s\n", c->l->name, path,
                r != NULL ? r->text : "forward");
        bool ok = true, keep = true;
        if (r == NULL) {
            ok = forward(c->fd, c->l->upstream, request_line, content_type, in.p + head, body_len);
        } else {
            switch (r->kind) {
            case ACT_REPLY:
                ok = send_simple(c->fd, r->code, r->data, r->data_len);
                break;
            case ACT_RAW:
                write_all(c->fd, r->data, r->data_len);
                keep = false;
                break;
            case ACT_REQUEST:
                ok = forward(c->fd, c->l->upstream, request_line, content_type, r->data,
                             r->data_len);
                break;
            case ACT_HANG: {
                char sink[4096];
                while (read(c->fd, sink, sizeof(sink)) > 0)
                    ;
                keep = false;
                break;
            }
            case ACT_CLOSE:
                keep = false;
                break;
            }
        }
        if (!ok || !keep)
            goto done;
        memmove(in.p, in.p + head + body_len, in.len - head - body_len);
        in.len -= head + body_len;
    }
done:
    close(c->fd);
    free(in.p);
    free(c);
    return NULL;
}

static void *acceptor_main(void *arg)
{
    listener *l = arg;
    for (;;) {
        int fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC);
        pthread_t t;
        conn *c;
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE)
                continue;
            return NULL;
        }
        c = malloc(sizeof(*c));
        if (c == NULL) {
            close(fd);
            continue;
        }
        c->l = l;
        c->fd = fd;
        if (pthread_create(&t, NULL, connection_main, c) != 0) {
            close(fd);
            free(c);
        } else {
            pthread_detach(t);
        }
    }
}

static void add_listener(const char *name, const char *dir, const char *upstream_dir)
{
    listener *l = &listeners[n_listeners++];
    struct sockaddr_un sa = {.sun_family = AF_UNIX};

    l->name = name;
    if (snprintf(l->path, sizeof(l->path), "%s/%s.sock", dir, name) >= (int)sizeof(l->path))
        die("socket path under %s too long", dir);
    if (upstream_dir != NULL)
        snprintf(l->upstream, sizeof(l->upstream), "%s/%s.sock", upstream_dir, name);
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", l->path);
    unlink(l->path);
    l->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (l->fd < 0 || bind(l->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(l->fd, 64) != 0)
        die("cannot listen on %s", l->path);
}

/* ---- --write-other-app ------------------------------------------------------------------ */

static int write_other_app(const char *app_id_hex, const char *template_path, const char *out)
{
    uint8_t ikm[32], kms_root[32], app_id[20], app_key[32], app_pub[33], kms_pub[33], digest[32];
    uint8_t info[20 + 7], preimage[18 + 20 + 33], sig[65];
    char key_hex[65], sig_hex[131], kms_hex[67];
    json_object *root = json_object_from_file(template_path);
    size_t n = 0;
    dstack_error err;

    if (root == NULL || !json_object_is_type(root, json_type_object))
        die("cannot read the appkeys template %s", template_path);
    if (!dstack_hex_decode(app_id_hex, strlen(app_id_hex), app_id, sizeof(app_id), &n) || n != 20)
        die("app id %s is not 20 bytes of hex", app_id_hex);
    SHA256((const uint8_t *)DEV_SEED, strlen(DEV_SEED), ikm);
    memcpy(info, app_id, 20);
    memcpy(info + 20, "app-key", 7);
    memcpy(preimage, "dstack-kms-issued:", 18);
    if (dstack_derive_key(ikm, (const uint8_t *)"dev-kms-root-k256", 17, kms_root, &err) ||
        dstack_derive_key(kms_root, info, sizeof(info), app_key, &err) ||
        dstack_secp256k1_pubkey(kms_root, kms_pub, &err) ||
        dstack_secp256k1_pubkey(app_key, app_pub, &err))
        die("key derivation failed: %s", err.message);
    memcpy(preimage + 18, app_id, 20);
    memcpy(preimage + 38, app_pub, 33);
    dstack_keccak256(preimage, sizeof(preimage), digest);
    if (dstack_secp256k1_sign_recoverable(kms_root, digest, sig, &err))
        die("signing failed: %s", err.message);
    dstack_hex_encode(app_key, 32, key_hex);
    dstack_hex_encode(sig, 65, sig_hex);
    dstack_hex_encode(kms_pub, 33, kms_hex);
    json_object_object_add(root, "k256_key", json_object_new_string(key_hex));
    json_object_object_add(root, "k256_signature", json_object_new_string(sig_hex));
    umask(077);
    if (json_object_to_file_ext(out, root, JSON_C_TO_STRING_PRETTY) != 0)
        die("cannot write %s", out);
    json_object_put(root);
    OPENSSL_cleanse(ikm, sizeof(ikm));
    OPENSSL_cleanse(kms_root, sizeof(kms_root));
    OPENSSL_cleanse(app_key, sizeof(app_key));
    OPENSSL_cleanse(key_hex, sizeof(key_hex));
    printf("%s\n", kms_hex);
    return 0;
}

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

int main(int argc, char **argv)
{
    const char *dir = NULL, *upstream = NULL;
    bool guest = true;
    struct sigaction sa;
    sigset_t set;
    pthread_t threads[2];

    if (argc == 5 && strcmp(argv[1], "--write-other-app") == 0)
        return write_other_app(argv[2], argv[3], argv[4]);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
            dir = argv[++i];
        else if (strcmp(argv[i], "--upstream") == 0 && i + 1 < argc)
            upstream = argv[++i];
        else if (strcmp(argv[i], "--rule") == 0 && i + 1 < argc)
            parse_rule(argv[++i]);
        else if (strcmp(argv[i], "--no-guest") == 0)
            guest = false;
        else
            die("unknown argument %s (see the comment at the top of hostile_agent.c)", argv[i]);
    }
    if (dir == NULL)
        die("%s", "--dir is required");
    /* Only the main thread takes the stop signals; connection threads keep blocking I/O. */
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    if (guest)
        add_listener("dstack", dir, upstream);
    add_listener("tappd", dir, upstream);
    for (size_t i = 0; i < n_listeners; i++)
        if (pthread_create(&threads[i], NULL, acceptor_main, &listeners[i]) != 0)
            die("%s", "pthread_create failed");
    printf("HOSTILE_AGENT_READY\n");
    fflush(stdout);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    while (!stopping)
        pause();
    for (size_t i = 0; i < n_listeners; i++)
        unlink(listeners[i].path);
    /* Connection threads may be blocked in hang actions: exit without joining them. */
    _exit(0);
}
