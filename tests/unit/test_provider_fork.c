/* The provider after fork(): the parent loads a key, then 4 children each load and sign
 * with their own agent connection (the resolver is re-created in the child, architecture.md §5);
 * the parent keeps working afterwards. */
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_provider_common.h"

#define N_CHILDREN 4

static int child_main(int index)
{
    test_provs p;
    EVP_PKEY *shared = NULL, *own = NULL;
    char uri[64];
    int ok = 0;

    /* A fresh library context in the child, and the inherited one: both must work. */
    if (!test_provs_load(&p))
        goto done;
    snprintf(uri, sizeof(uri), "dstack:tls/child-%d?cert=none", index);
    own = test_load_key(p.libctx, uri);
    shared = test_load_key(p.libctx, "dstack:/test/path?cert=none");
    ok = own != NULL && shared != NULL && test_sign_verify(p.libctx, own, own) &&
         test_sign_verify(p.libctx, shared, shared);
done:
    EVP_PKEY_free(own);
    EVP_PKEY_free(shared);
    test_provs_unload(&p);
    return ok ? 0 : 1;
}

static void test_fork_children_load_and_sign(void)
{
    test_provs p;
    EVP_PKEY *parent_key, *again;
    pid_t pids[N_CHILDREN];
    int i, status;

    CU_ASSERT_FATAL(test_provs_load(&p));
    parent_key = test_load_key(p.libctx, "dstack:/test/path?cert=none");
    CU_ASSERT_PTR_NOT_NULL_FATAL(parent_key);
    CU_ASSERT(test_sign_verify(p.libctx, parent_key, parent_key));

    for (i = 0; i < N_CHILDREN; i++) {
        pids[i] = fork();
        CU_ASSERT_FATAL(pids[i] >= 0);
        if (pids[i] == 0) {
            /* The inherited context (resolver created by the parent) must reconnect. */
            EVP_PKEY *k = test_load_key(p.libctx, "dstack:/test/path?cert=none&purpose=child");
            int rc = (k != NULL && test_sign_verify(p.libctx, k, parent_key)) ? 0 : 1;

            EVP_PKEY_free(k);
            rc |= child_main(i) << 1;
            fflush(NULL);
            _exit(rc);
        }
    }
    for (i = 0; i < N_CHILDREN; i++) {
        CU_ASSERT_EQUAL(waitpid(pids[i], &status, 0), pids[i]);
        CU_ASSERT(WIFEXITED(status));
        CU_ASSERT_EQUAL(WEXITSTATUS(status), 0);
    }

    /* The parent's own resolver is untouched by its children. */
    again = test_load_key(p.libctx, "dstack:/test/path?cert=none");
    CU_ASSERT_PTR_NOT_NULL(again);
    if (again != NULL)
        CU_ASSERT(EVP_PKEY_eq(again, parent_key) == 1);
    EVP_PKEY_free(again);
    EVP_PKEY_free(parent_key);
    test_provs_unload(&p);
}

int main(void)
{
    static const test_case cases[] = {
        {"fork: 4 children load and sign", test_fork_children_load_and_sign},
        {NULL, NULL},
    };

    return test_run_suite("provider_fork", cases);
}
