/* Helpers shared by the CUnit test programs. */
#ifndef DSTACK_TEST_UTIL_H
#define DSTACK_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include <CUnit/CUnit.h>

typedef struct test_case {
    const char *name;
    void (*fn)(void);
} test_case;

/* Runs one suite of cases (NULL-terminated array) in CUnit's basic mode, verbose; returns
 * the process exit status (0 when every assertion passed and nothing failed to run). */
int test_run_suite(const char *suite_name, const test_case *cases);

/* Exit status that ctest reports as "skipped" (SKIP_RETURN_CODE of every registered test). */
#define TEST_SKIP 77

/* A program whose cases are split: `cases` test the project with data it makes itself;
 * `upstream` are about upstream data (real quotes, the official simulator's files) found
 * under $DSTACK_FIXTURES. The test registration runs the program twice; the run with
 * DSTACK_TEST_UPSTREAM=1 executes only `upstream`, and skips (TEST_SKIP, one line naming
 * what is missing) when the fixtures are absent. */
int test_run_split_suite(const char *suite_name, const test_case *cases, const test_case *upstream);

/* Reads $DSTACK_FIXTURES/<relpath> (e.g. "dstack/appkeys.json"): upstream data, only for
 * `upstream` cases. Aborts the program with a message if it cannot. NUL-terminated; free(). */
uint8_t *test_read_fixture(const char *relpath, size_t *len);

/* dstack-sim's built-in development identity as an appkeys.json (`$DSTACK_SIM --write-appkeys`
 * into a temporary file, read and removed): the project's own stand-in for the official
 * simulator's file. Aborts the program if it cannot. NUL-terminated; free(). */
uint8_t *test_dev_appkeys(size_t *len);

/* The hex value of environment variable `name` (e.g. DSTACK_DEV_APP_ID) as exactly `len`
 * bytes, or abort with a message naming it. */
void test_env_hex(const char *name, uint8_t *out, size_t len);

/* Reads any file; NULL on failure. NUL-terminated; free() it. */
uint8_t *test_read_file(const char *path, size_t *len);

/* Lowercase hex of a buffer into a static-per-call malloc'd string; free() it. */
char *test_hex(const uint8_t *buf, size_t len);

/* Environment variable or abort with a message naming it. */
const char *test_env(const char *name);

#define CU_ASSERT_HEX_EQUAL(buf, len, hex)                                                         \
    do {                                                                                           \
        char *h_ = test_hex((buf), (len));                                                         \
        CU_ASSERT_STRING_EQUAL(h_, (hex));                                                         \
        free(h_);                                                                                  \
    } while (0)

#endif
