/* The provider under concurrency: 8 threads load keys through OSSL_STORE at the same time
 * from one library context; every thread gets the same key for the same URI. */
#include <pthread.h>
#include <stdio.h>

#include "test_provider_common.h"

#define N_THREADS 8
#define ROUNDS 4

typedef struct thread_arg {
    OSSL_LIB_CTX *libctx;
    int index;
    EVP_PKEY *shared; /* dstack:/test/path, for comparison */
    int ok;
} thread_arg;

static void *worker(void *varg)
{
    thread_arg *a = varg;
    char uri[96];
    int r;

    a->ok = 1;
    for (r = 0; r < ROUNDS && a->ok; r++) {
        EVP_PKEY *own, *shared;
        const char *alg = (a->index % 3 == 0)   ? "p256"
                          : (a->index % 3 == 1) ? "secp256k1"
                                                : "ed25519";

        snprintf(uri, sizeof(uri), "dstack:tls/thread-%d?alg=%s&cert=none", a->index, alg);
        own = test_load_key(a->libctx, uri);
        shared = test_load_key(a->libctx, "dstack:/test/path?cert=none");
        if (own == NULL || shared == NULL ||
            (r == 0 && a->index % 3 != 2 && !test_sign_verify(a->libctx, own, own)))
            a->ok = 0;
        if (a->shared == NULL && shared != NULL)
            a->shared = shared;
        else
            EVP_PKEY_free(shared);
        EVP_PKEY_free(own);
    }
    return NULL;
}

static void test_threads_load_concurrently(void)
{
    test_provs p;
    pthread_t tids[N_THREADS];
    thread_arg args[N_THREADS];
    int i;

    CU_ASSERT_FATAL(test_provs_load(&p));
    for (i = 0; i < N_THREADS; i++) {
        args[i] = (thread_arg){.libctx = p.libctx, .index = i};
        CU_ASSERT_FATAL(pthread_create(&tids[i], NULL, worker, &args[i]) == 0);
    }
    for (i = 0; i < N_THREADS; i++)
        CU_ASSERT(pthread_join(tids[i], NULL) == 0);
    for (i = 0; i < N_THREADS; i++) {
        CU_ASSERT(args[i].ok);
        CU_ASSERT_PTR_NOT_NULL(args[i].shared);
        if (i > 0 && args[i].shared != NULL && args[0].shared != NULL)
            CU_ASSERT(EVP_PKEY_eq(args[i].shared, args[0].shared) == 1);
    }
    for (i = 0; i < N_THREADS; i++)
        EVP_PKEY_free(args[i].shared);
    test_provs_unload(&p);
}

int main(void)
{
    static const test_case cases[] = {
        {"threads: 8 concurrent loaders", test_threads_load_concurrently},
        {NULL, NULL},
    };

    return test_run_suite("provider_threads", cases);
}
