/* An OpenSSL TLS client that verifies the server's RA-TLS certificate during the handshake:
 * the attestation must bind the server's key, verify with Intel collateral (from a PCCS or a
 * file) at an allowed TCB status, replay to RTMR3 and carry the expected app id / compose hash.
 *
 *   example-ratls_client --pccs-url https://pccs.example --app-id HEX server.example:443
 *   example-ratls_client --collateral coll.json --trusted-root sim-intel-root.pem 127.0.0.1:8443
 *
 * Everything the handshake needs is three libdstack calls (include/dstack/ratls.h): make a
 * verifier from a policy, install it on the SSL_CTX, read dstack_ratls_ssl_failure() when
 * SSL_connect fails. --count N repeats the handshake N times (a fresh connection each, no
 * session resumption) and prints the rate; --plain CAFILE instead verifies the server's
 * certificate the ordinary way against CAFILE, for comparison (bench/).
 * Exit status: 0 verified, 1 handshake or verification failed, 2 usage.
 */
#include <getopt.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <dstack/keys.h>
#include <dstack/ratls.h>

typedef struct args {
    const char *pccs_url, *collateral, *root_path, *servername, *plain_ca, *target;
    char host[256], port[16];
    bool offline, no_cache, quiet;
    long count;
    int64_t at;
} args;

static void usage(FILE *out)
{
    fputs("Usage: example-ratls_client [--pccs-url URL | --collateral FILE | --offline]\n"
          "         [--trusted-root PEM] [--app-id HEX] [--compose-hash HEX]\n"
          "         [--allow-tcb-status LIST] [--at UNIXTIME] [--servername NAME]\n"
          "         [--count N] [--no-verdict-cache] [--plain CAFILE] HOST:PORT\n",
          out);
}

static int connect_tcp(const args *a)
{
    struct addrinfo hints = {0}, *res = NULL, *ai;
    int fd = -1;

    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(a->host, a->port, &hints, &res) != 0)
        return -1;
    for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    return fd;
}

/* One full handshake; 0 verified, 1 failed (reason printed). */
static int handshake(SSL_CTX *ctx, const args *a, bool report)
{
    SSL *ssl = SSL_new(ctx);
    int fd = connect_tcp(a), rc = 1;
    const dstack_ratls_verification *v;
    char hex[41];

    if (ssl == NULL || fd < 0) {
        fprintf(stderr, "ratls_client: cannot connect to %s\n", a->target);
        goto done;
    }
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, (char *)(a->servername ? a->servername : a->host));
    if (SSL_connect(ssl) != 1) {
        const char *why = dstack_ratls_ssl_failure(ssl);
        char ossl[256];

        ERR_error_string_n(ERR_get_error(), ossl, sizeof(ossl));
        fprintf(stderr, "ratls_client: handshake with %s failed: %s\n", a->target,
                why != NULL ? why : ossl);
        goto done;
    }
    rc = 0;
    v = dstack_ratls_ssl_verification(ssl);
    if (report && v != NULL) {
        printf("verified: %s (%s)\n", a->target, SSL_get_version(ssl));
        printf("tcb status: %s%s%s\n",
               v->quote_result.collateral_used ? dstack_tcb_status_name(v->quote_result.tcb_status)
                                               : "not checked (offline)",
               v->quote_result.advisory_ids[0] ? ", advisories " : "",
               v->quote_result.advisory_ids);
        if (v->has_app_id) {
            dstack_hex_encode(v->app_id, 20, hex);
            printf("app id: %s\n", hex);
        }
    } else if (report) {
        printf("verified: %s (%s, plain certificate verification)\n", a->target,
               SSL_get_version(ssl));
    }
    SSL_shutdown(ssl);
done:
    SSL_free(ssl);
    if (fd >= 0)
        close(fd);
    return rc;
}

static bool parse_hex(const char *text, uint8_t *out, size_t len)
{
    size_t n = 0;

    return dstack_hex_decode(text, strlen(text), out, len, &n) && n == len;
}

static int parse(int argc, char **argv, args *a, dstack_ratls_policy *policy,
                 dstack_quote_verify_opts *q)
{
    enum { PCCS = 1, COLL, OFFLINE, ROOT, APP, COMPOSE, STATUS, AT, SNI, COUNT, NOCACHE, PLAIN };
    static const struct option opts[] = {
        {"pccs-url", required_argument, NULL, PCCS},
        {"collateral", required_argument, NULL, COLL},
        {"offline", no_argument, NULL, OFFLINE},
        {"trusted-root", required_argument, NULL, ROOT},
        {"app-id", required_argument, NULL, APP},
        {"compose-hash", required_argument, NULL, COMPOSE},
        {"allow-tcb-status", required_argument, NULL, STATUS},
        {"at", required_argument, NULL, AT},
        {"servername", required_argument, NULL, SNI},
        {"count", required_argument, NULL, COUNT},
        {"no-verdict-cache", no_argument, NULL, NOCACHE},
        {"plain", required_argument, NULL, PLAIN},
        {NULL, 0, NULL, 0},
    };
    dstack_error err;
    const char *colon;
    int c;

    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case PCCS:
            a->pccs_url = optarg;
            break;
        case COLL:
            a->collateral = optarg;
            break;
        case OFFLINE:
            a->offline = true;
            break;
        case ROOT:
            a->root_path = optarg;
            break;
        case APP:
            if (!parse_hex(optarg, policy->app_id, 20))
                return fprintf(stderr, "ratls_client: --app-id takes 20 bytes of hex\n"), 2;
            policy->has_app_id = true;
            break;
        case COMPOSE:
            if (!parse_hex(optarg, policy->compose_hash, 32))
                return fprintf(stderr, "ratls_client: --compose-hash takes 32 bytes of hex\n"), 2;
            policy->has_compose_hash = true;
            break;
        case STATUS:
            if (dstack_tcb_status_mask(optarg, &q->allowed_tcb_statuses, &err) != DSTACK_OK)
                return fprintf(stderr, "ratls_client: --allow-tcb-status: %s\n", err.message), 2;
            break;
        case AT:
            a->at = strtoll(optarg, NULL, 10);
            break;
        case SNI:
            a->servername = optarg;
            break;
        case COUNT:
            a->count = strtol(optarg, NULL, 10);
            break;
        case NOCACHE:
            a->no_cache = true;
            break;
        case PLAIN:
            a->plain_ca = optarg;
            break;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind + 1 != argc || (colon = strrchr(argv[optind], ':')) == NULL || a->count < 0) {
        usage(stderr);
        return 2;
    }
    a->target = argv[optind];
    snprintf(a->host, sizeof(a->host), "%.*s", (int)(colon - a->target), a->target);
    snprintf(a->port, sizeof(a->port), "%s", colon + 1);
    q->verification_time = a->at;
    return 0;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;

    if (f != NULL && fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && n < (1 << 20) &&
        fseek(f, 0, SEEK_SET) == 0 && (buf = calloc(1, (size_t)n + 1)) != NULL &&
        fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    if (f != NULL)
        fclose(f);
    return buf;
}

int main(int argc, char **argv)
{
    args a = {0};
    dstack_quote_verify_opts q = {DSTACK_OPTIONS_INIT(dstack_quote_verify_opts)};
    dstack_ratls_policy policy = {DSTACK_OPTIONS_INIT(dstack_ratls_policy), .quote = &q};
    dstack_ratls_verifier_opts vo = {DSTACK_OPTIONS_INIT(dstack_ratls_verifier_opts)};
    dstack_ratls_verifier *v = NULL;
    SSL_CTX *ctx = NULL;
    dstack_error err;
    char *root = NULL;
    struct timespec t0, t1;
    int rc = 2;

    a.count = 1;
    if ((rc = parse(argc, argv, &a, &policy, &q)) != 0)
        return rc;
    rc = 1;
    ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL)
        goto done;
    if (a.plain_ca != NULL) {
        /* ordinary certificate verification, for comparison */
        if (SSL_CTX_load_verify_locations(ctx, a.plain_ca, NULL) != 1) {
            fprintf(stderr, "ratls_client: cannot load %s\n", a.plain_ca);
            goto done;
        }
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    } else {
        if (a.root_path != NULL && (q.trusted_root_pem = root = read_file(a.root_path)) == NULL) {
            fprintf(stderr, "ratls_client: cannot read %s\n", a.root_path);
            goto done;
        }
        vo.policy = &policy;
        vo.pccs_url = a.pccs_url;
        vo.collateral_file = a.collateral;
        vo.offline_ok = a.offline;
        vo.no_verdict_cache = a.no_cache;
        if (dstack_ratls_verifier_new(&vo, &v, &err) != DSTACK_OK ||
            dstack_ratls_ssl_ctx_install(ctx, v, &err) != DSTACK_OK) {
            fprintf(stderr, "ratls_client: %s\n", err.message);
            rc = 2;
            goto done;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 0; i < a.count; i++) {
        if ((rc = handshake(ctx, &a, i == 0)) != 0)
            goto done;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (a.count > 1) {
        double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;

        printf("handshakes: %ld in %.3f s (%.1f/s)\n", a.count, s, (double)a.count / s);
    }
done:
    dstack_ratls_verifier_free(v);
    SSL_CTX_free(ctx);
    free(root);
    return rc;
}
