#include "test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <dstack/keys.h>

#include <CUnit/Basic.h>

int test_run_suite(const char *suite_name, const test_case *cases)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite suite = CU_add_suite(suite_name, NULL, NULL);
    if (suite == NULL)
        goto fail;
    for (const test_case *tc = cases; tc->name != NULL; tc++)
        if (CU_add_test(suite, tc->name, tc->fn) == NULL)
            goto fail;
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    unsigned ran = CU_get_number_of_tests_run();
    CU_cleanup_registry();
    if (ran == 0) {
        fprintf(stderr, "%s: no test ran\n", suite_name);
        return 1;
    }
    return failed == 0 ? 0 : 1;
fail:
    CU_cleanup_registry();
    return 2;
}

int test_run_split_suite(const char *suite_name, const test_case *cases, const test_case *upstream)
{
    const char *mode = getenv("DSTACK_TEST_UPSTREAM");
    const char *fixtures = getenv("DSTACK_FIXTURES");
    char probe[4096];
    struct stat st;

    if (mode == NULL || strcmp(mode, "1") != 0)
        return test_run_suite(suite_name, cases);
    snprintf(probe, sizeof(probe), "%s/dstack", fixtures != NULL ? fixtures : "");
    if (fixtures == NULL || *fixtures == '\0' || stat(probe, &st) != 0 || !S_ISDIR(st.st_mode)) {
        printf("SKIP: upstream fixtures not found at %s (set DSTACK_FIXTURES)\n",
               fixtures != NULL && *fixtures != '\0' ? fixtures : "(unset)");
        return TEST_SKIP;
    }
    return test_run_suite(suite_name, upstream);
}

const char *test_env(const char *name)
{
    const char *v = getenv(name);
    if (v == NULL || *v == '\0') {
        fprintf(stderr, "test: environment variable %s is not set (run through ctest)\n", name);
        exit(2);
    }
    return v;
}

uint8_t *test_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap + 1);
    size_t r;
    while (buf != NULL && (r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            uint8_t *nb = realloc(buf, cap * 2 + 1);
            if (nb == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf == NULL)
        return NULL;
    buf[n] = 0;
    if (len != NULL)
        *len = n;
    return buf;
}

uint8_t *test_read_fixture(const char *relpath, size_t *len)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", test_env("DSTACK_FIXTURES"), relpath);
    uint8_t *buf = test_read_file(path, len);
    if (buf == NULL) {
        fprintf(stderr, "test: cannot read fixture %s\n", path);
        exit(2);
    }
    return buf;
}

uint8_t *test_dev_appkeys(size_t *len)
{
    const char *tmp = getenv("TMPDIR");
    char dir[4096], path[4200];
    uint8_t *buf = NULL;
    int status = -1;
    pid_t pid;

    snprintf(dir, sizeof(dir), "%s/dev-appkeys.XXXXXX", tmp != NULL && *tmp ? tmp : "/tmp");
    if (mkdtemp(dir) == NULL) {
        perror("test: mkdtemp");
        exit(2);
    }
    snprintf(path, sizeof(path), "%s/appkeys.json", dir);
    pid = fork();
    if (pid == 0) {
        execl(test_env("DSTACK_SIM"), "dstack-sim", "--write-appkeys", path, (char *)NULL);
        perror("test: exec dstack-sim");
        _exit(127);
    }
    if (pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0)
        buf = test_read_file(path, len);
    unlink(path);
    rmdir(dir);
    if (buf == NULL) {
        fprintf(stderr, "test: %s --write-appkeys failed\n", test_env("DSTACK_SIM"));
        exit(2);
    }
    return buf;
}

void test_env_hex(const char *name, uint8_t *out, size_t len)
{
    const char *hex = test_env(name);
    size_t n = 0;

    if (!dstack_hex_decode(hex, strlen(hex), out, len, &n) || n != len) {
        fprintf(stderr, "test: %s is not %zu bytes of hex\n", name, len);
        exit(2);
    }
}

char *test_hex(const uint8_t *buf, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    char *out = malloc(len * 2 + 1);
    if (out == NULL)
        abort();
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[buf[i] >> 4];
        out[2 * i + 1] = digits[buf[i] & 15];
    }
    out[len * 2] = 0;
    return out;
}
