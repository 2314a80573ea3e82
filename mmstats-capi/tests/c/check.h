/*
 * The checks of the C unit tests (test_abi.c, test_cells.c): CHECK(cond),
 * EXPECT(call, status) and OK(call) count each check and print each failure
 * with its file and line; `failures` and `checks` are the test's totals.
 * Include once, from the test's one .c file, after mmstats.h.
 */
#ifndef MMSTATS_TEST_CHECK_H
#define MMSTATS_TEST_CHECK_H

#include <stdio.h>

static int failures = 0;
static int checks = 0;

#define CHECK(cond)                                                        \
    do {                                                                   \
        checks++;                                                          \
        if (!(cond)) {                                                     \
            failures++;                                                    \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,         \
                    __LINE__, #cond);                                      \
        }                                                                  \
    } while (0)

#define EXPECT(call, want)                                                 \
    do {                                                                   \
        mmstats_status got_ = (call);                                      \
        checks++;                                                          \
        if (got_ != (want)) {                                              \
            failures++;                                                    \
            fprintf(stderr, "%s:%d: %s returned %s, expected %s\n",        \
                    __FILE__, __LINE__, #call, mmstats_status_name(got_),  \
                    mmstats_status_name(want));                            \
        }                                                                  \
    } while (0)

#define OK(call) EXPECT(call, MMSTATS_OK)

#endif
