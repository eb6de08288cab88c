/* A minimal TLS server whose key and certificate chain come from a dstack: URI.
 *
 *   example-tls_server 'dstack:tls/web?san=localhost' 8443
 *
 * Everything goes through public OpenSSL 3 APIs: the dstack provider (from openssl.cnf, or
 * loaded here next to the default provider) resolves the URI through OSSL_STORE into a private
 * key, the leaf certificate and its issuers. The server answers one HTTPS request and exits,
 * which is all a demonstration (and its test) needs.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/provider.h>
#include <openssl/ssl.h>
#include <openssl/store.h>
#include <openssl/x509.h>

static const char response[] = "HTTP/1.0 200 OK\r\n"
                               "Content-Type: text/plain\r\n"
                               "Connection: close\r\n"
                               "\r\n"
                               "hello from a dstack key\n";

/* Loads the key, the leaf (first certificate) and the rest of the chain from `uri`. */
static int load_from_store(const char *uri, EVP_PKEY **key, X509 **leaf, STACK_OF(X509) * chain)
{
    OSSL_STORE_CTX *store = OSSL_STORE_open(uri, NULL, NULL, NULL, NULL);
    OSSL_STORE_INFO *info;
    int ok = 0;

    if (store == NULL)
        return 0;
    while (!OSSL_STORE_eof(store)) {
        info = OSSL_STORE_load(store);
        if (info == NULL) {
            if (OSSL_STORE_error(store))
                goto done;
            continue;
        }
        if (OSSL_STORE_INFO_get_type(info) == OSSL_STORE_INFO_PKEY && *key == NULL) {
            *key = OSSL_STORE_INFO_get1_PKEY(info);
        } else if (OSSL_STORE_INFO_get_type(info) == OSSL_STORE_INFO_CERT) {
            X509 *cert = OSSL_STORE_INFO_get1_CERT(info);

            if (cert != NULL && *leaf == NULL)
                *leaf = cert;
            else if (cert != NULL && !sk_X509_push(chain, cert))
                X509_free(cert);
        }
        OSSL_STORE_INFO_free(info);
    }
    ok = *key != NULL && *leaf != NULL;
    if (!ok)
        fprintf(stderr, "%s: no private key and certificate (cert=none?)\n", uri);
done:
    OSSL_STORE_close(store);
    return ok;
}

static int listen_on(int port)
{
    struct sockaddr_in addr;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

    if (fd < 0)
        return -1;
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(fd, 4) != 0) {
        perror("listen");
        close(fd);
        return -1;
    }
    return fd;
}

/* Accepts one connection, reads the request head, answers, closes. Returns 1 when a request
 * was answered, 0 when that connection failed, -1 when accept() itself failed. */
static int serve_one(SSL_CTX *ctx, int lfd)
{
    char buf[4096];
    size_t used = 0;
    int cfd = accept(lfd, NULL, NULL), ok = 0, n;
    SSL *ssl = NULL;

    if (cfd < 0) {
        perror("accept");
        return -1;
    }
    ssl = SSL_new(ctx);
    if (ssl == NULL || !SSL_set_fd(ssl, cfd) || SSL_accept(ssl) <= 0)
        goto done;
    while (used < sizeof(buf) - 1) {
        n = SSL_read(ssl, buf + used, (int)(sizeof(buf) - 1 - used));
        if (n <= 0)
            goto done;
        used += (size_t)n;
        buf[used] = '\0';
        if (strstr(buf, "\r\n\r\n") != NULL)
            break;
    }
    if (SSL_write(ssl, response, (int)strlen(response)) <= 0)
        goto done;
    SSL_shutdown(ssl);
    ok = 1;
done:
    SSL_free(ssl);
    close(cfd);
    return ok;
}

int main(int argc, char **argv)
{
    OSSL_PROVIDER *dstack = NULL;
    SSL_CTX *ctx = NULL;
    EVP_PKEY *key = NULL;
    X509 *leaf = NULL;
    STACK_OF(X509) *chain = NULL;
    int port, lfd = -1, rc = 1, i;

    if (argc != 3 || (port = atoi(argv[2])) <= 0 || port > 65535) {
        fprintf(stderr, "usage: %s DSTACK-URI PORT\n", argv[0]);
        return 2;
    }
    /* openssl.cnf may have activated it already; otherwise load it here, keeping the
     * default provider available (retain_fallbacks = 1) for the TLS handshake itself. */
    if (!OSSL_PROVIDER_available(NULL, "dstack")) {
        dstack = OSSL_PROVIDER_try_load(NULL, "dstack", 1);
        if (dstack == NULL)
            goto err;
    }
    chain = sk_X509_new_null();
    if (chain == NULL || !load_from_store(argv[1], &key, &leaf, chain))
        goto err;
    ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL || !SSL_CTX_use_certificate(ctx, leaf) || !SSL_CTX_use_PrivateKey(ctx, key) ||
        !SSL_CTX_check_private_key(ctx))
        goto err;
    for (i = 0; i < sk_X509_num(chain); i++)
        if (!SSL_CTX_add1_chain_cert(ctx, sk_X509_value(chain, i)))
            goto err;
    lfd = listen_on(port);
    if (lfd < 0)
        goto done;
    printf("listening on 127.0.0.1:%d\n", port);
    fflush(stdout);
    /* Connections that fail (a port probe, a client that rejects the certificate) are
     * reported and skipped; the first request answered ends the demonstration. */
    while ((rc = serve_one(ctx, lfd)) == 0) {
        ERR_print_errors_fp(stderr);
        fprintf(stderr, "connection failed; waiting for the next one\n");
    }
    rc = rc == 1 ? 0 : 1;
err:
    if (rc != 0)
        ERR_print_errors_fp(stderr);
done:
    if (lfd >= 0)
        close(lfd);
    SSL_CTX_free(ctx);
    EVP_PKEY_free(key);
    X509_free(leaf);
    sk_X509_pop_free(chain, X509_free);
    OSSL_PROVIDER_unload(dstack);
    return rc;
}
