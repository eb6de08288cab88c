/* The growing text buffer behind libdstack's writers (client/base/text_internal.h): appends
 * and formats keep a NUL-terminated text, a limit or a failed format sticks, take() hands the
 * text over once and leaves the builder empty. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/text_internal.h"
#include "test_util.h"

static void test_append_and_format(void)
{
    dstack_text t = {0};
    char big[1000];
    size_t len = 0;
    char *s;

    memset(big, 'x', sizeof(big));
    dstack_text_append(&t, "ab", 2);
    dstack_text_appendf(&t, "-%d-%s", 42, "c");
    CU_ASSERT_STRING_EQUAL(t.p, "ab-42-c");
    dstack_text_append(&t, big, sizeof(big)); /* grows past the first allocation */
    dstack_text_append(&t, NULL, 0);
    CU_ASSERT_EQUAL(t.len, 7 + sizeof(big));
    CU_ASSERT_EQUAL(t.p[t.len], '\0');
    s = dstack_text_take(&t, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(len, 7 + sizeof(big));
    CU_ASSERT_EQUAL(memcmp(s, "ab-42-cxxx", 10), 0);
    CU_ASSERT_PTR_NULL(t.p);
    CU_ASSERT_EQUAL(t.len, 0);
    free(s);
    s = dstack_text_take(&t, &len); /* nothing appended: "", not a failure */
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_STRING_EQUAL(s, "");
    CU_ASSERT_EQUAL(len, 0);
    free(s);
}

static void test_limit_sticks(void)
{
    dstack_text t = {.limit = 8};
    size_t len = 99;

    dstack_text_append(&t, "12345678", 8); /* exactly the limit */
    CU_ASSERT_FALSE(t.failed);
    dstack_text_append(&t, "9", 1);
    CU_ASSERT_TRUE(t.failed);
    dstack_text_appendf(&t, "%s", ""); /* nothing after a failure */
    CU_ASSERT_PTR_NULL(dstack_text_take(&t, &len));
    CU_ASSERT_EQUAL(len, 0);
    CU_ASSERT_PTR_NULL(t.p);
    CU_ASSERT_FALSE(t.failed); /* empty again, the limit kept */
    CU_ASSERT_EQUAL(t.limit, 8);
    dstack_text_appendf(&t, "%s", "123456789");
    CU_ASSERT_TRUE(t.failed);
    free(dstack_text_take(&t, NULL));
}

static void test_oversized_append_fails(void)
{
    dstack_text t = {0};

    dstack_text_append(&t, "a", 1);
    dstack_text_append(&t, "", SIZE_MAX - 1); /* length arithmetic must not wrap */
    CU_ASSERT_TRUE(t.failed);
    CU_ASSERT_PTR_NULL(dstack_text_take(&t, NULL));
}

int main(void)
{
    static const test_case cases[] = {
        {"appends and formats, take hands the text over", test_append_and_format},
        {"a limit is a sticky failure", test_limit_sticks},
        {"an append whose length would wrap fails", test_oversized_append_fails},
        {NULL, NULL},
    };
    return test_run_suite("text", cases);
}
