/* dstack-keytool verify --connect HOST:PORT — a TLS handshake with a live server under
 * libdstack's handshake-time RA-TLS verification (include/dstack/ratls.h), then the report of
 * what it found in the certificate the server presented. */
#include "keytool_verify.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

static int connect_tcp(const char *host, const char *port, unsigned timeout_ms, char *why,
                       size_t why_len)
{
    struct addrinfo hints, *res = NULL, *ai;
    struct timeval tv = {(time_t)(timeout_ms / 1000), (suseconds_t)(timeout_ms % 1000) * 1000};
    int fd = -1, rc;

    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
        snprintf(why, why_len, "%s", gai_strerror(rc));
        return -1;
    }
    snprintf(why, why_len, "connection refused or unreachable");
    for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        /* the handshake's reads and writes are bounded like the agent's requests */
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    return fd;
}

int kt_verify_connect(const kt_options *opts, const char *target, const char *servername,
                      const dstack_ratls_verifier_opts *vo)
{
    const char *colon = strrchr(target, ':');
    char host[256], port[16], why[256];
    dstack_ratls_verifier *v = NULL;
    const dstack_ratls_verification *result;
    const dstack_error *verr;
    SSL_CTX *ctx = NULL;
    SSL *ssl = NULL;
    dstack_error err;
    int fd = -1, rc = KT_EXIT_AGENT;

    dstack_error_clear(&err);
    if (colon == NULL || colon == target || colon[1] == '\0' ||
        (size_t)(colon - target) >= sizeof(host) || strlen(colon + 1) >= sizeof(port))
        return kt_usage_error("verify: --connect takes HOST:PORT, not '%s'", target);
    snprintf(host, sizeof(host), "%.*s", (int)(colon - target), target);
    snprintf(port, sizeof(port), "%s", colon + 1);
    if (host[0] == '[' && host[strlen(host) - 1] == ']') { /* [::1]:443 */
        memmove(host, host + 1, strlen(host));
        host[strlen(host) - 1] = '\0';
    }
    if (dstack_ratls_verifier_new(vo, &v, &err) != DSTACK_OK) {
        rc = kt_fail(&err);
        goto done;
    }
    if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
        dstack_ratls_ssl_ctx_install(ctx, v, &err) != DSTACK_OK || (ssl = SSL_new(ctx)) == NULL) {
        if (err.message[0] == '\0')
            dstack_error_set(&err, DSTACK_ERR_INTERNAL, NULL, NULL, "cannot set up TLS");
        rc = kt_fail(&err);
        goto done;
    }
    if ((fd = connect_tcp(host, port, kt_timeout_ms(opts), why, sizeof(why))) < 0) {
        fprintf(stderr, "dstack-keytool: cannot connect to %s: %s\n", target, why);
        goto done;
    }
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, (char *)(servername != NULL ? servername : host));
    ERR_set_mark();
    if (SSL_connect(ssl) == 1) {
        ERR_pop_to_mark();
        result = dstack_ratls_ssl_verification(ssl);
        if (result == NULL) { /* cannot happen: the verifier runs on every handshake */
            fprintf(stderr, "dstack-keytool: %s: no certificate was verified\n", target);
            rc = KT_EXIT_CRYPTO;
            goto done;
        }
        kt_report_cert(opts, target, result, NULL);
        rc = KT_EXIT_OK;
        SSL_shutdown(ssl);
        goto done;
    }
    verr = dstack_ratls_ssl_error(ssl);
    result = dstack_ratls_ssl_verification(ssl);
    if (verr == NULL) { /* the handshake failed before or beside the certificate */
        ERR_error_string_n(ERR_peek_last_error(), why, sizeof(why));
        ERR_pop_to_mark();
        fprintf(stderr, "dstack-keytool: TLS handshake with %s failed: %s\n", target, why);
        goto done;
    }
    ERR_pop_to_mark();
    kt_report_cert(opts, target, result, verr);
    /* a PCCS that could not be reached is not a verdict on the server */
    rc = verr->status == DSTACK_ERR_CONNECTION || verr->status == DSTACK_ERR_TIMEOUT ||
                 verr->status == DSTACK_ERR_AGENT
             ? KT_EXIT_AGENT
             : kt_verify_outcome(verr->status);
done:
    SSL_free(ssl);
    if (fd >= 0)
        close(fd);
    SSL_CTX_free(ctx);
    dstack_ratls_verifier_free(v);
    return rc;
}
