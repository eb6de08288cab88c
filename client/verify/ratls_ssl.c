/* RA-TLS verification installed on an SSL_CTX or an SSL (include/dstack/ratls.h): a verify
 * callback that runs the verifier once per connection on the peer's leaf, whatever OpenSSL's
 * own chain building concluded (an RA-TLS certificate is trusted for its attestation, not for
 * a CA), and keeps the outcome on the SSL for the application to read. */
#include <dstack/ratls.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "verify/verify_internal.h"

/* The outcome for one connection. */
typedef struct conn_result {
    uint8_t cert[32]; /* the leaf it is about */
    dstack_status rc;
    dstack_error err;
    dstack_ratls_verification v;
} conn_result;

static pthread_once_t index_once = PTHREAD_ONCE_INIT;
static int ctx_index = -1, ssl_index = -1, result_index = -1;

static void free_verifier(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
                          void *argp)
{
    (void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
    dstack_ratls_verifier_free(ptr);
}

static void free_result(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
    (void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
    free(ptr);
}

static void make_indices(void)
{
    ctx_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, free_verifier);
    ssl_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, free_verifier);
    result_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, free_result);
}

static bool indices(dstack_error *err)
{
    if (pthread_once(&index_once, make_indices) != 0 || ctx_index < 0 || ssl_index < 0 ||
        result_index < 0) {
        dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, NULL,
                         "cannot allocate OpenSSL ex_data indices");
        return false;
    }
    return true;
}

static int verify_callback(int preverify_ok, X509_STORE_CTX *store)
{
    SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
    dstack_ratls_verifier *v;
    conn_result *r;
    X509 *leaf = X509_STORE_CTX_get0_cert(store);
    uint8_t digest[32];
    unsigned int n = 0;

    if (ssl == NULL)
        return preverify_ok;
    v = SSL_get_ex_data(ssl, ssl_index);
    if (v == NULL)
        v = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ctx_index);
    if (v == NULL)
        return preverify_ok;
    r = SSL_get_ex_data(ssl, result_index);
    if (leaf == NULL || X509_digest(leaf, EVP_sha256(), digest, &n) != 1 || n != 32) {
        X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
        return 0;
    }
    /* OpenSSL calls back once per certificate and error; verify once per leaf */
    if (r == NULL || memcmp(r->cert, digest, 32) != 0) {
        if (r == NULL &&
            ((r = calloc(1, sizeof(*r))) == NULL || SSL_set_ex_data(ssl, result_index, r) != 1)) {
            free(r);
            X509_STORE_CTX_set_error(store, X509_V_ERR_OUT_OF_MEM);
            return 0;
        }
        memcpy(r->cert, digest, 32);
        dstack_error_clear(&r->err);
        r->rc = dstack_ratls_verifier_verify_sent(v, leaf, X509_STORE_CTX_get0_untrusted(store),
                                                  &r->v, &r->err);
        if (r->rc != DSTACK_OK && r->err.status == DSTACK_OK)
            r->err.status = r->rc;
    }
    if (r->rc != DSTACK_OK) {
        X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
        return 0;
    }
    /* the attestation vouches for the key: OpenSSL's trust errors do not count */
    X509_STORE_CTX_set_error(store, X509_V_OK);
    return 1;
}

/* A server requires the client's certificate; clients ignore FAIL_IF_NO_PEER_CERT. */
#define VERIFY_MODE (SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT)

dstack_status dstack_ratls_ssl_ctx_install(SSL_CTX *ctx, dstack_ratls_verifier *v,
                                           dstack_error *err)
{
    if (ctx == NULL || v == NULL)
        return dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL,
                                "dstack_ratls_ssl_ctx_install: no SSL_CTX or no verifier");
    if (!indices(err))
        return DSTACK_ERR_INTERNAL;
    dstack_ratls_verifier_free(SSL_CTX_get_ex_data(ctx, ctx_index));
    if (SSL_CTX_set_ex_data(ctx, ctx_index, dstack_ratls_verifier_ref(v)) != 1) {
        dstack_ratls_verifier_free(v);
        return dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, NULL, "SSL_CTX_set_ex_data failed");
    }
    SSL_CTX_set_verify(ctx, VERIFY_MODE, verify_callback);
    return DSTACK_OK;
}

dstack_status dstack_ratls_ssl_install(SSL *ssl, dstack_ratls_verifier *v, dstack_error *err)
{
    if (ssl == NULL || v == NULL)
        return dstack_error_set(err, DSTACK_ERR_USAGE, NULL, NULL,
                                "dstack_ratls_ssl_install: no SSL or no verifier");
    if (!indices(err))
        return DSTACK_ERR_INTERNAL;
    dstack_ratls_verifier_free(SSL_get_ex_data(ssl, ssl_index));
    if (SSL_set_ex_data(ssl, ssl_index, dstack_ratls_verifier_ref(v)) != 1) {
        dstack_ratls_verifier_free(v);
        return dstack_error_set(err, DSTACK_ERR_INTERNAL, NULL, NULL, "SSL_set_ex_data failed");
    }
    SSL_set_verify(ssl, VERIFY_MODE, verify_callback);
    return DSTACK_OK;
}

static const conn_result *result_of(const SSL *ssl)
{
    if (ssl == NULL || result_index < 0)
        return NULL;
    return SSL_get_ex_data(ssl, result_index);
}

const char *dstack_ratls_ssl_failure(const SSL *ssl)
{
    const conn_result *r = result_of(ssl);

    if (r == NULL || r->rc == DSTACK_OK)
        return NULL;
    return r->err.message[0] != '\0' ? r->err.message : "RA-TLS verification failed";
}

const dstack_error *dstack_ratls_ssl_error(const SSL *ssl)
{
    const conn_result *r = result_of(ssl);

    return r != NULL && r->rc != DSTACK_OK ? &r->err : NULL;
}

const dstack_ratls_verification *dstack_ratls_ssl_verification(const SSL *ssl)
{
    const conn_result *r = result_of(ssl);

    return r != NULL ? &r->v : NULL;
}
