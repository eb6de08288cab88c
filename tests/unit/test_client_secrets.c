/* Key material must not be left behind in freed heap memory (architecture.md §10: cleanse secrets).
 *
 * This program replaces malloc/calloc/realloc/free (glibc's __libc_* underneath) so that every
 * block freed by libdstack or json-c is searched for the hex of a key, and realloc() always
 * moves, so a buffer grown by realloc() is caught too. (The receive buffer of the in-house HTTP
 * client is cleansed too; libcurl's, used only for https://, is out of libdstack's reach.)
 * Sanitizer builds own the allocator; there the program reports the test as skipped (ctest
 * SKIP_RETURN_CODE 77).
 */
#include "test_client_util.h"

#include <malloc.h>

#include "agent/json_codec.h"

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif

#ifndef SANITIZED
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void __libc_free(void *);

static char needle[65]; /* hex of the key; empty = not scanning */
static volatile int found;

static void scan(void *p)
{
    size_t n = p != NULL && needle[0] != '\0' ? malloc_usable_size(p) : 0;
    /* 24 hex digits of the key are proof enough; the whole key may straddle a boundary. */
    if (n >= 24 && memmem(p, n, needle + 20, 24) != NULL)
        found = 1;
}

void *malloc(size_t n)
{
    return __libc_malloc(n);
}

void *calloc(size_t a, size_t b)
{
    return __libc_calloc(a, b);
}

void free(void *p)
{
    scan(p);
    __libc_free(p);
}

void *realloc(void *p, size_t n)
{
    if (p == NULL)
        return __libc_malloc(n);
    if (n == 0) {
        free(p);
        return NULL;
    }
    void *q = __libc_malloc(n);
    if (q == NULL)
        return NULL;
    size_t old = malloc_usable_size(p);
    memcpy(q, p, old < n ? old : n);
    free(p);
    return q;
}

#define KEY_HEX "6b65792d6865782d6d7573742d6e6f742d6c65616b2d3031323334353637383930"

static void parse_and_free(const char *text, dstack_status expect)
{
    json_object *obj = NULL;
    const char *why = NULL;
    snprintf(needle, sizeof(needle), "%s", KEY_HEX);
    CU_ASSERT_EQUAL(dstack_json_parse_text(text, strlen(text), &obj, &why), expect);
    dstack_json_scrub_string(obj, "key"); /* what every key RPC does before json_object_put */
    json_object_put(obj);
    needle[0] = '\0';
    CU_ASSERT_FALSE(found);
    if (found)
        fprintf(stderr, "  key hex found in freed heap memory after parsing %.40s...\n", text);
    found = 0;
}

/* A GetKey reply: the key, then longer strings that make json-c grow its scratch buffer. */
static void test_reply_parsed_and_freed(void)
{
    char text[1024];
    char sig[131];
    memset(sig, 'a', 130);
    sig[130] = '\0';
    snprintf(text, sizeof(text), "{\"key\":\"%s\",\"signature_chain\":[\"%s\",\"%s\"]}", KEY_HEX,
             sig, sig);
    parse_and_free(text, DSTACK_OK);
}

/* Replies that fail to parse after the key: json-c frees what it built so far. */
static void test_failed_parse(void)
{
    parse_and_free("{\"key\":\"" KEY_HEX "\",\"x\":", DSTACK_ERR_PROTOCOL);
    parse_and_free("{\"key\":\"" KEY_HEX "\",\"x\": tru}", DSTACK_ERR_PROTOCOL);
    parse_and_free("{\"key\":\"" KEY_HEX "\"} trailing", DSTACK_ERR_PROTOCOL);
    parse_and_free("{\"a\":[{\"key\":\"" KEY_HEX "\"},", DSTACK_ERR_PROTOCOL);
}

int main(void)
{
    static const test_case cases[] = {
        {"GetKey-shaped reply: no key hex in freed memory", test_reply_parsed_and_freed},
        {"failed parses: no key hex in freed memory", test_failed_parse},
        {NULL, NULL},
    };
    return test_run_suite("client_secrets", cases);
}
#else
int main(void)
{
    fprintf(stderr, "skipped: the allocator belongs to the sanitizer in this build\n");
    return 77;
}
#endif
