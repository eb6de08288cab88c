/* A preload library for the secure-heap experiment of tests/hostile/test_fork_stress.c: it
 * interposes CRYPTO_secure_malloc_init so that OpenSSL's secure heap is never created (the
 * project's dstack_secure_heap_init() asks for it on first use, client/crypto/pkey_util.c).
 * OPENSSL_secure_malloc and friends then fall back to the ordinary heap, as they do whenever
 * the arena cannot be made. Not part of the product and not used by any test by default. */
#include <stddef.h>

#include <openssl/crypto.h>

int CRYPTO_secure_malloc_init(size_t size, size_t minsize)
{
    (void)size;
    (void)minsize;
    return 0;
}
