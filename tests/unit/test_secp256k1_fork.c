/* fork() while another thread is inside a secp256k1 call: the child's calls work and its exit()
 * — which runs libdstack's destructor, taking the context's write lock — returns
 * (architecture.md §11 "fork()"). Without the child's lock reset a child inheriting a read
 * lock would block in that destructor forever. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <dstack/keys.h>

#include "test_util.h"

#define FORKS 300
#define CHILD_DEADLINE_MS 5000

static const uint8_t one[32] = {[31] = 1};
static atomic_bool stop;
static volatile sig_atomic_t in_child;

/* LeakSanitizer's hook (sanitizer/lsan_interface.h): non-zero skips its check at exit. The
 * children skip it: LSan stops the world to scan, and in a fork child of a threaded parent it
 * can wait for the parent's threads forever ("Running thread … was not suspended") — a hang of
 * the sanitizer runtime, not of the destructor under test. The parent is still checked. */
int __lsan_is_turned_off(void);
int __lsan_is_turned_off(void)
{
    return in_child;
}

static void *busy(void *arg)
{
    uint8_t pub[33];
    dstack_error err;

    (void)arg;
    while (!atomic_load(&stop))
        (void)dstack_secp256k1_pubkey(one, pub, &err);
    return NULL;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void test_fork_during_calls(void)
{
    pthread_t threads[2];
    int hung = 0, failed = 0;

    for (int i = 0; i < 2; i++)
        CU_ASSERT_FATAL(pthread_create(&threads[i], NULL, busy, NULL) == 0);
    for (int n = 0; n < FORKS; n++) {
        int status = 0;
        pid_t pid = fork(), w;
        double start;

        CU_ASSERT_FATAL(pid >= 0);
        if (pid == 0) {
            uint8_t pub[33];
            dstack_error err;
            in_child = 1;
            exit(dstack_secp256k1_pubkey(one, pub, &err) == DSTACK_OK ? 0 : 3); /* destructors */
        }
        start = now_ms();
        while ((w = waitpid(pid, &status, WNOHANG)) == 0 && now_ms() - start < CHILD_DEADLINE_MS) {
            struct timespec pause = {0, 500000};
            nanosleep(&pause, NULL);
        }
        if (w == 0) {
            hung++;
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
        } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            failed++;
        }
    }
    atomic_store(&stop, true);
    for (int i = 0; i < 2; i++)
        pthread_join(threads[i], NULL);
    if (hung || failed)
        fprintf(stderr, "\n  %d of %d children hung, %d failed\n", hung, FORKS, failed);
    CU_ASSERT_EQUAL(hung, 0);
    CU_ASSERT_EQUAL(failed, 0);
}

int main(void)
{
    static const test_case cases[] = {
        {"fork() during secp256k1 calls: the child calls and exits", test_fork_during_calls},
        {NULL, NULL},
    };
    return test_run_suite("secp256k1_fork", cases);
}
