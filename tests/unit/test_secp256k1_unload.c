/* The process-wide libsecp256k1 context is released when libdstack goes away:
 *  - dlopen/use/dlclose of libdstack.so, as OpenSSL does with the provider and engine, leaves
 *    nothing behind (LeakSanitizer checks this in the sanitizer pass);
 *  - a call made after libdstack's destructor has run (here: from a later destructor of this
 *    program, which links libdstack statically) fails cleanly instead of using freed memory.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <dstack/keys.h>

#include "test_util.h"

typedef dstack_status (*pubkey_fn)(const uint8_t[32], uint8_t[33], dstack_error *);

static const uint8_t one[32] = {[31] = 1};
#define G_COMPRESSED "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"

static void test_dlclose(void)
{
    char path[4096];
    uint8_t pub[33];
    dstack_error err;

    snprintf(path, sizeof(path), "%s/client/libdstack.so", test_env("DSTACK_BUILD_DIR"));
    for (int round = 0; round < 3; round++) {
        void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        pubkey_fn fn;

        if (lib == NULL)
            fprintf(stderr, "\n  dlopen: %s\n", dlerror());
        CU_ASSERT_PTR_NOT_NULL_FATAL(lib);
        *(void **)&fn = dlsym(lib, "dstack_secp256k1_pubkey");
        CU_ASSERT_PTR_NOT_NULL_FATAL(fn);
        CU_ASSERT_EQUAL(fn(one, pub, &err), DSTACK_OK);
        CU_ASSERT_HEX_EQUAL(pub, 33, G_COMPRESSED);
        CU_ASSERT_EQUAL(dlclose(lib), 0);
    }
}

static void test_static_use(void)
{
    uint8_t pub[33];
    dstack_error err;

    CU_ASSERT_EQUAL(dstack_secp256k1_pubkey(one, pub, &err), DSTACK_OK);
    CU_ASSERT_HEX_EQUAL(pub, 33, G_COMPRESSED);
}

/* Priority 101 runs after libdstack's default-priority destructor. */
__attribute__((destructor(101))) static void after_libdstack_destructor(void)
{
    uint8_t pub[33], sig[65] = {1}, digest[32] = {1}, addr[20];
    dstack_error err;

    if (dstack_secp256k1_pubkey(one, pub, &err) != DSTACK_ERR_INTERNAL ||
        strstr(err.message, "libsecp256k1 context") == NULL ||
        dstack_secp256k1_recover(sig, digest, pub, &err) != DSTACK_ERR_INTERNAL ||
        dstack_eth_address(pub, addr, &err) != DSTACK_ERR_INTERNAL) {
        fprintf(stderr, "FAIL: secp256k1 context still usable after libdstack's destructor\n");
        _exit(1);
    }
    fprintf(stderr, "after destructor: calls fail cleanly (%s)\n", err.message);
}

int main(void)
{
    static const test_case cases[] = {
        {"dlopen/dlclose libdstack.so", test_dlclose},
        {"statically linked use", test_static_use},
        {NULL, NULL},
    };
    return test_run_suite("secp256k1_unload", cases);
}
