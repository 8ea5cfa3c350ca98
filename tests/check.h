/* A small test harness: named tests in one program, run one per ctest entry.
 * CHECK prints the failed expression with file and line and fails the test. */
#ifndef JF_TEST_CHECK_H
#define JF_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern int check_failures;

#define CHECK(cond)                                                                             \
    do {                                                                                        \
        if (!(cond)) {                                                                          \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);          \
            check_failures++;                                                                   \
            return;                                                                             \
        }                                                                                       \
    } while (0)

#define CHECK_MSG(cond, ...)                                                                    \
    do {                                                                                        \
        if (!(cond)) {                                                                          \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond);          \
            fprintf(stderr, __VA_ARGS__);                                                       \
            fputc('\n', stderr);                                                                \
            check_failures++;                                                                   \
            return;                                                                             \
        }                                                                                       \
    } while (0)

/* Checks a jf_status call; prints `err.msg` (a jf_error named err must be in scope). */
#define CHECK_OK(call)                                                                          \
    do {                                                                                        \
        err.msg[0] = 0;                                                                         \
        int s_ = (int)(call);                                                                   \
        if (s_ != 0) {                                                                          \
            fprintf(stderr, "%s:%d: %s returned %d: %s\n", __FILE__, __LINE__, #call, s_,       \
                    err.msg);                                                                   \
            check_failures++;                                                                   \
            return;                                                                             \
        }                                                                                       \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                      \
    do {                                                                                        \
        long long a_ = (long long)(a), b_ = (long long)(b);                                     \
        if (a_ != b_) {                                                                         \
            fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%lld vs %lld)\n", __FILE__, __LINE__, \
                    #a, #b, a_, b_);                                                            \
            check_failures++;                                                                   \
            return;                                                                             \
        }                                                                                       \
    } while (0)

#define CHECK_STR(a, b)                                                                         \
    do {                                                                                        \
        const char *a_ = (a), *b_ = (b);                                                        \
        if (!a_ || !b_ || strcmp(a_, b_)) {                                                     \
            fprintf(stderr, "%s:%d: CHECK failed: %s == %s (\"%s\" vs \"%s\")\n", __FILE__,     \
                    __LINE__, #a, #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)");                  \
            check_failures++;                                                                   \
            return;                                                                             \
        }                                                                                       \
    } while (0)

typedef struct test_case {
    const char *name;
    void (*fn)(void);
} test_case;

/* main(): runs the test named by argv[1], or all of them; returns non-zero on failure. */
#define TEST_MAIN(cases)                                                                        \
    int check_failures = 0;                                                                     \
    int main(int argc, char **argv)                                                             \
    {                                                                                           \
        int ran = 0;                                                                            \
        atexit(cleanup);                                                                        \
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {                         \
            if (argc > 1 && strcmp(argv[1], cases[i].name))                                     \
                continue;                                                                       \
            int before = check_failures;                                                        \
            cases[i].fn();                                                                      \
            printf("%s %s\n", check_failures == before ? "ok  " : "FAIL", cases[i].name);       \
            ran++;                                                                              \
        }                                                                                       \
        if (!ran) {                                                                             \
            fprintf(stderr, "no test named %s\n", argc > 1 ? argv[1] : "");                     \
            return 2;                                                                           \
        }                                                                                       \
        return check_failures ? 1 : 0;                                                          \
    }

#endif
