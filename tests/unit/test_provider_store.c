/* The dstack store and decoder through OpenSSL's public API, against dstack-sim, with the
 * semantics an OSSL_STORE user relies on (compare OpenSSL's file_store.c): error then EOF
 * after a failed load, nothing more after EOF, expect PKEY / PUBKEY / CERT, search refused;
 * reference PEMs among other PEM blocks; and the provider loaded, unloaded and loaded again
 * in one process (ASan build: nothing leaks, nothing dangles). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "test_provider_common.h"

#define URI "dstack:tls/store-test?san=store.example.test"

static test_provs provs;

static void test_setup(void)
{
    CU_ASSERT_FATAL(test_provs_load(&provs));
}

/* Every object of `uri` with expectation `expect` (0 = none); types in `types`. */
static size_t load_all(const char *uri, int expect, int *types, size_t cap, int *errors)
{
    OSSL_STORE_CTX *store =
        OSSL_STORE_open_ex(uri, provs.libctx, NULL, NULL, NULL, NULL, NULL, NULL);
    size_t n = 0;
    int guard = 0;

    *errors = 0;
    if (store == NULL)
        return 0;
    if (expect != 0 && !OSSL_STORE_expect(store, expect))
        goto done;
    while (!OSSL_STORE_eof(store) && guard++ < 20) {
        OSSL_STORE_INFO *info = OSSL_STORE_load(store);

        if (info == NULL) {
            if (OSSL_STORE_error(store))
                (*errors)++;
            continue;
        }
        if (n < cap)
            types[n] = OSSL_STORE_INFO_get_type(info);
        n++;
        OSSL_STORE_INFO_free(info);
    }
    CU_ASSERT(guard < 20); /* the loop ends: EOF is reached */
done:
    OSSL_STORE_close(store);
    return n;
}

static void test_expectations(void)
{
    int types[8], errors;
    size_t n;

    n = load_all(URI, 0, types, 8, &errors);
    CU_ASSERT_FATAL(n >= 3);
    CU_ASSERT(types[0] == OSSL_STORE_INFO_PKEY);
    CU_ASSERT(types[1] == OSSL_STORE_INFO_CERT && types[2] == OSSL_STORE_INFO_CERT);
    CU_ASSERT_EQUAL(errors, 0);

    n = load_all(URI, OSSL_STORE_INFO_PKEY, types, 8, &errors);
    CU_ASSERT(n == 1 && types[0] == OSSL_STORE_INFO_PKEY && errors == 0);

    n = load_all(URI, OSSL_STORE_INFO_PUBKEY, types, 8, &errors);
    CU_ASSERT(n == 1 && types[0] == OSSL_STORE_INFO_PUBKEY && errors == 0);

    /* Certificate only: the chain, never the private key. */
    n = load_all(URI, OSSL_STORE_INFO_CERT, types, 8, &errors);
    CU_ASSERT(n >= 2 && errors == 0);
    for (size_t i = 0; i < n && i < 8; i++)
        CU_ASSERT(types[i] == OSSL_STORE_INFO_CERT);
    /* cert=none and expect CERT: nothing, and no error. */
    n = load_all("dstack:tls/store-test?cert=none", OSSL_STORE_INFO_CERT, types, 8, &errors);
    CU_ASSERT(n == 0 && errors == 0);
    /* Nothing of these types behind a dstack: URI: immediate EOF, no error. */
    n = load_all(URI, OSSL_STORE_INFO_CRL, types, 8, &errors);
    CU_ASSERT(n == 0 && errors == 0);
    n = load_all(URI, OSSL_STORE_INFO_PARAMS, types, 8, &errors);
    CU_ASSERT(n == 0 && errors == 0);
    ERR_clear_error();
}

/* The public key of the PUBKEY load equals the private key's. */
static void test_pubkey_matches(void)
{
    OSSL_STORE_CTX *store =
        OSSL_STORE_open_ex(URI, provs.libctx, NULL, NULL, NULL, NULL, NULL, NULL);
    OSSL_STORE_INFO *info = NULL;
    EVP_PKEY *key = test_load_key(provs.libctx, URI);

    CU_ASSERT_FATAL(store != NULL && key != NULL);
    CU_ASSERT(OSSL_STORE_expect(store, OSSL_STORE_INFO_PUBKEY) == 1);
    info = OSSL_STORE_load(store);
    CU_ASSERT(info != NULL && OSSL_STORE_INFO_get_type(info) == OSSL_STORE_INFO_PUBKEY);
    if (info != NULL)
        CU_ASSERT(EVP_PKEY_eq(OSSL_STORE_INFO_get0_PUBKEY(info), key) == 1);
    OSSL_STORE_INFO_free(info);
    CU_ASSERT(OSSL_STORE_eof(store) == 1);
    OSSL_STORE_close(store);
    EVP_PKEY_free(key);
}

/* A failed load: NULL with error() and the reason on the queue, then EOF; loads after EOF
 * return NULL without raising anything new. */
static void test_failed_load_then_eof(void)
{
    /* Valid syntax, so open succeeds; resolution (at the first load) refuses it: the agent
     * issues P-256 certificates only. */
    OSSL_STORE_CTX *store = OSSL_STORE_open_ex("dstack:tls/store-fail?alg=ed25519&cert=agent",
                                               provs.libctx, NULL, NULL, NULL, NULL, NULL, NULL);
    OSSL_STORE_INFO *info;
    int i;

    CU_ASSERT_FATAL(store != NULL);
    ERR_clear_error();
    info = OSSL_STORE_load(store);
    CU_ASSERT(info == NULL);
    CU_ASSERT(OSSL_STORE_error(store) == 1);
    CU_ASSERT(OSSL_STORE_eof(store) == 0);
    CU_ASSERT(ERR_peek_error() != 0);
    ERR_clear_error();
    /* The caller's "until eof" loop terminates on the next call, raising nothing new. */
    info = OSSL_STORE_load(store);
    CU_ASSERT(info == NULL);
    CU_ASSERT(OSSL_STORE_eof(store) == 1);
    for (i = 0; i < 3; i++) {
        CU_ASSERT(OSSL_STORE_load(store) == NULL);
        CU_ASSERT(OSSL_STORE_eof(store) == 1);
    }
    CU_ASSERT(ERR_peek_error() == 0);
    OSSL_STORE_close(store);
}

static void test_search_refused(void)
{
    OSSL_STORE_CTX *store =
        OSSL_STORE_open_ex(URI, provs.libctx, NULL, NULL, NULL, NULL, NULL, NULL);
    X509_NAME *name = X509_NAME_new();
    OSSL_STORE_SEARCH *search = NULL;

    CU_ASSERT_FATAL(store != NULL && name != NULL);
    CU_ASSERT(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                         (const unsigned char *)"store.example.test", -1, -1,
                                         0) == 1);
    search = OSSL_STORE_SEARCH_by_name(name);
    CU_ASSERT(OSSL_STORE_supports_search(store, OSSL_STORE_SEARCH_BY_NAME) == 0);
    CU_ASSERT(OSSL_STORE_find(store, search) == 0);
    ERR_clear_error();
    OSSL_STORE_SEARCH_free(search);
    X509_NAME_free(name);
    OSSL_STORE_close(store);
}

/* PEM of a reference (architecture.md §6) for a URI shorter than 100 bytes. */
static void write_ref(BIO *out, const char *uri, const char *desc)
{
    unsigned char der[256];
    size_t ulen = strlen(uri), dlen = strlen(desc), n = 0;

    der[n++] = 0x30;
    der[n++] = (unsigned char)(2 + dlen + 2 + ulen);
    der[n++] = 0x1a; /* VisibleString */
    der[n++] = (unsigned char)dlen;
    memcpy(der + n, desc, dlen);
    n += dlen;
    der[n++] = 0x0c; /* UTF8String */
    der[n++] = (unsigned char)ulen;
    memcpy(der + n, uri, ulen);
    n += ulen;
    CU_ASSERT(PEM_write_bio(out, "DSTACK KEY URI", "", der, (long)n) > 0);
}

static void write_cert(BIO *out)
{
    OSSL_STORE_CTX *store =
        OSSL_STORE_open_ex(URI, provs.libctx, NULL, NULL, NULL, NULL, NULL, NULL);
    OSSL_STORE_INFO *info;

    CU_ASSERT_FATAL(store != NULL);
    CU_ASSERT(OSSL_STORE_expect(store, OSSL_STORE_INFO_CERT) == 1);
    info = OSSL_STORE_load(store);
    CU_ASSERT_FATAL(info != NULL);
    CU_ASSERT(PEM_write_bio_X509(out, OSSL_STORE_INFO_get0_CERT(info)) == 1);
    OSSL_STORE_INFO_free(info);
    OSSL_STORE_close(store);
}

static EVP_PKEY *read_key(BIO *in)
{
    return PEM_read_bio_PrivateKey_ex(in, NULL, NULL, NULL, provs.libctx, NULL);
}

static void test_reference_among_pem_blocks(void)
{
    EVP_PKEY *expected = test_load_key(provs.libctx, URI), *got;
    BIO *mem = BIO_new(BIO_s_mem());

    CU_ASSERT_FATAL(expected != NULL && mem != NULL);
    /* certificate, certificate, reference, certificate (haproxy combined file + extra). */
    write_cert(mem);
    write_cert(mem);
    write_ref(mem, URI, "dstack key URI v1");
    write_cert(mem);
    got = read_key(mem);
    CU_ASSERT(got != NULL && EVP_PKEY_eq(got, expected) == 1);
    EVP_PKEY_free(got);
    /* The rest of the file is still there for the next reader: the trailing certificate. */
    X509 *after = PEM_read_bio_X509(mem, NULL, NULL, NULL);
    CU_ASSERT(after != NULL);
    X509_free(after);
    ERR_clear_error();

    /* A wrong description is refused with the reason; no key. */
    CU_ASSERT(BIO_reset(mem) == 1);
    write_ref(mem, URI, "dstack key URI v2");
    got = read_key(mem);
    CU_ASSERT(got == NULL);
    EVP_PKEY_free(got);
    ERR_clear_error();
    BIO_free(mem);
    EVP_PKEY_free(expected);
}

/* A combined file (certificates, then the reference) loads although the caller's error queue
 * already holds an error: PEM_read_bio_PrivateKey()'s own block walk gives up at the first
 * certificate then (it looks at the oldest queued error), so the decoder finds the reference
 * itself. The caller's error stays queued and is the only one. Both a memory BIO and a file
 * BIO (lighttpd, nginx and Apache read files). */
static void test_combined_with_queued_error(void)
{
    EVP_PKEY *expected = test_load_key(provs.libctx, URI), *got;
    BIO *mem = BIO_new(BIO_s_mem()), *file = NULL;
    char path[] = "/tmp/dstack-combined-XXXXXX";
    int fd = mkstemp(path);
    unsigned long e;
    const char *data;
    int flags;

    CU_ASSERT_FATAL(expected != NULL && mem != NULL && fd >= 0);
    close(fd);
    write_cert(mem);
    write_cert(mem);
    write_ref(mem, URI, "dstack key URI v1");
    file = BIO_new_file(path, "w");
    CU_ASSERT_FATAL(file != NULL);
    {
        char *p;
        long n = BIO_get_mem_data(mem, &p);

        CU_ASSERT(BIO_write(file, p, (int)n) == (int)n);
    }
    BIO_free(file);

    for (int round = 0; round < 2; round++) {
        BIO *in = round == 0 ? mem : BIO_new_file(path, "r");

        CU_ASSERT_FATAL(in != NULL);
        ERR_clear_error();
        ERR_raise_data(ERR_LIB_SYS, ENOENT, "an error the caller left queued");
        got = read_key(in);
        CU_ASSERT(got != NULL && EVP_PKEY_eq(got, expected) == 1);
        EVP_PKEY_free(got);
        e = ERR_get_error_all(NULL, NULL, NULL, &data, &flags);
        CU_ASSERT(ERR_GET_LIB(e) == ERR_LIB_SYS && ERR_GET_REASON(e) == ENOENT);
        CU_ASSERT(ERR_peek_error() == 0);
        if (round == 1)
            BIO_free(in);
    }
    ERR_clear_error();
    BIO_free(mem);
    unlink(path);
    EVP_PKEY_free(expected);
}

/* Load → unload → load in the same library context, then in a fresh one: the provider's
 * teardown frees its resolver and child context, and a second instance works the same. */
static void test_unload_reload(void)
{
    EVP_PKEY *first = test_load_key(provs.libctx, URI), *again = NULL;
    int round;

    CU_ASSERT_FATAL(first != NULL);
    for (round = 0; round < 2; round++) {
        CU_ASSERT_FATAL(OSSL_PROVIDER_unload(provs.dstack) == 1);
        provs.dstack = NULL;
        CU_ASSERT(OSSL_PROVIDER_available(provs.libctx, "dstack") == 0);
        ERR_set_mark();
        again = test_load_key(provs.libctx, URI);
        ERR_pop_to_mark();
        CU_ASSERT(again == NULL); /* no dstack scheme while unloaded */
        EVP_PKEY_free(again);
        provs.dstack = OSSL_PROVIDER_load(provs.libctx, "dstack");
        CU_ASSERT_FATAL(provs.dstack != NULL);
        again = test_load_key(provs.libctx, URI);
        CU_ASSERT(again != NULL && EVP_PKEY_eq(again, first) == 1);
        EVP_PKEY_free(again);
    }
    test_provs_unload(&provs);
    CU_ASSERT_FATAL(test_provs_load(&provs));
    again = test_load_key(provs.libctx, URI);
    CU_ASSERT(again != NULL && EVP_PKEY_eq(again, first) == 1);
    EVP_PKEY_free(again);
    EVP_PKEY_free(first);
}

static void test_teardown(void)
{
    test_provs_unload(&provs);
}

int main(void)
{
    static const test_case cases[] = {
        {"load providers", test_setup},
        {"expect: none, PKEY, PUBKEY, CERT, CRL, PARAMS", test_expectations},
        {"PUBKEY matches the private key", test_pubkey_matches},
        {"failed load: error, then EOF, then nothing", test_failed_load_then_eof},
        {"search criteria refused", test_search_refused},
        {"reference PEM among other PEM blocks", test_reference_among_pem_blocks},
        {"combined file with an error already queued", test_combined_with_queued_error},
        {"unload and load again", test_unload_reload},
        {"unload", test_teardown},
        {NULL, NULL},
    };

    return test_run_suite("provider_store", cases);
}
