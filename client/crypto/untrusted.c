/* Parsing what others send, in a private library context (crypto/untrusted.h). */
#include "crypto/untrusted.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/provider.h>

/* One context per process, shared by every holder and freed by the last release — while
 * OpenSSL is certainly still alive (a resolver is freed by its owner, before the provider or
 * engine is torn down). No configuration file is read into it: only the default provider,
 * whatever the application's openssl.cnf activates. The lock guards only the count; it is
 * never held across fork() for longer than these few instructions. */
static pthread_mutex_t ctx_lock = PTHREAD_MUTEX_INITIALIZER;
static OSSL_LIB_CTX *untrusted_ctx;
static OSSL_PROVIDER *untrusted_default; /* our reference: unloaded before the context goes */
static unsigned long ctx_holders;

OSSL_LIB_CTX *dstack_untrusted_acquire(void)
{
    OSSL_LIB_CTX *ctx;

    pthread_mutex_lock(&ctx_lock);
    if (untrusted_ctx == NULL) {
        ctx = OSSL_LIB_CTX_new();
        if (ctx != NULL && (untrusted_default = OSSL_PROVIDER_load(ctx, "default")) == NULL) {
            OSSL_LIB_CTX_free(ctx);
            ctx = NULL;
        }
        untrusted_ctx = ctx;
    }
    if (untrusted_ctx != NULL)
        ctx_holders++;
    ctx = untrusted_ctx;
    pthread_mutex_unlock(&ctx_lock);
    return ctx;
}

void dstack_untrusted_release(OSSL_LIB_CTX *ctx)
{
    OSSL_LIB_CTX *gone = NULL;
    OSSL_PROVIDER *provider = NULL;

    if (ctx == NULL)
        return;
    pthread_mutex_lock(&ctx_lock);
    if (ctx == untrusted_ctx && ctx_holders > 0 && --ctx_holders == 0) {
        gone = untrusted_ctx;
        provider = untrusted_default;
        untrusted_ctx = NULL;
        untrusted_default = NULL;
    }
    pthread_mutex_unlock(&ctx_lock);
    if (provider != NULL)
        OSSL_PROVIDER_unload(provider);
    OSSL_LIB_CTX_free(gone);
}

int dstack_refuse_passphrase(char *buf, int size, int rwflag, void *userdata)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)userdata;
    return -1;
}

static bool all_space(const char *s, const char *end)
{
    for (; s < end && *s != '\0'; s++)
        if (*s != ' ' && *s != '\t' && *s != '\r' && *s != '\n')
            return false;
    return true;
}

bool dstack_pem_single_block(const char *pem)
{
    const char *begin = pem != NULL ? strstr(pem, "-----BEGIN ") : NULL;
    const char *end = begin != NULL ? strstr(begin, "-----END ") : NULL;
    const char *tail = end != NULL ? strstr(end + 9, "-----") : NULL;
    const char *again = begin != NULL ? strstr(begin + 11, "-----BEGIN ") : NULL;

    if (tail == NULL || (again != NULL && again < end))
        return false;
    return all_space(pem, begin) && all_space(tail + 5, tail + 5 + strlen(tail + 5));
}

bool dstack_pem_encrypted(const char *pem)
{
    return pem != NULL && (strstr(pem, "-----BEGIN ENCRYPTED PRIVATE KEY-----") != NULL ||
                           strstr(pem, "Proc-Type: 4,ENCRYPTED") != NULL);
}

static void reason(char *why, size_t len, const char *text)
{
    if (why != NULL && len > 0)
        snprintf(why, len, "%s", text);
}

/* Common checks; NULL (with why) when the text cannot be one unencrypted PEM block. */
static BIO *pem_bio(const char *pem, char *why, size_t why_len)
{
    if (pem == NULL || !dstack_pem_single_block(pem)) {
        reason(why, why_len, "not exactly one PEM block");
        return NULL;
    }
    if (dstack_pem_encrypted(pem)) {
        reason(why, why_len, "an encrypted PEM block (passphrases are refused)");
        return NULL;
    }
    return BIO_new_mem_buf(pem, -1);
}

EVP_PKEY *dstack_untrusted_private_key(OSSL_LIB_CTX *ctx, const char *pem, char *why,
                                       size_t why_len)
{
    EVP_PKEY *pkey = NULL;
    BIO *bio;

    if (ctx == NULL) {
        reason(why, why_len, "cannot create OpenSSL's parsing context");
        return NULL;
    }
    if ((bio = pem_bio(pem, why, why_len)) == NULL)
        return NULL;
    /* Failures here are the agent's fault and reported as such; OpenSSL's own queue entries
     * would only confuse the caller's error stack. */
    ERR_set_mark();
    pkey = PEM_read_bio_PrivateKey_ex(bio, NULL, dstack_refuse_passphrase, NULL, ctx, NULL);
    ERR_pop_to_mark();
    BIO_free(bio);
    if (pkey == NULL)
        reason(why, why_len, "not a PEM private key");
    return pkey;
}

X509 *dstack_untrusted_x509_pem(OSSL_LIB_CTX *ctx, const char *pem, char *why, size_t why_len)
{
    X509 *cert = NULL, *read;
    BIO *bio;

    if (ctx == NULL) {
        reason(why, why_len, "cannot create OpenSSL's parsing context");
        return NULL;
    }
    if ((bio = pem_bio(pem, why, why_len)) == NULL)
        return NULL;
    ERR_set_mark();
    cert = X509_new_ex(ctx, NULL);
    read = cert != NULL ? PEM_read_bio_X509(bio, &cert, dstack_refuse_passphrase, NULL) : NULL;
    ERR_pop_to_mark();
    BIO_free(bio);
    if (read == NULL) {
        X509_free(cert); /* PEM_read_bio_X509 frees *x itself only on some paths */
        reason(why, why_len, "not a PEM certificate");
        return NULL;
    }
    return read;
}

X509 *dstack_untrusted_x509_der(OSSL_LIB_CTX *ctx, const uint8_t *der, size_t len)
{
    const unsigned char *p = der;
    X509 *cert, *read;

    if (ctx == NULL || der == NULL || len == 0 || len > 1024 * 1024)
        return NULL;
    ERR_set_mark();
    cert = X509_new_ex(ctx, NULL);
    read = cert != NULL ? d2i_X509(&cert, &p, (long)len) : NULL;
    ERR_pop_to_mark();
    if (read == NULL || p != der + len) {
        X509_free(read != NULL ? read : cert);
        return NULL;
    }
    return read;
}
