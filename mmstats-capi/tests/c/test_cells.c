/*
 * Unit tests of the inline cells (mmstats_inline.h): updates through a
 * cell read back the same as through the checked calls, and the checked
 * calls' updates show through the cell, for hosted and firmware counters,
 * gauges and float gauges; zeroed cells and failed *_to_cell calls;
 * wrapping; a cell outliving a moved firmware handle and the closing of
 * its file. Built twice by tests/c_programs.rs and .ci/steps/82-capi.sh,
 * under AddressSanitizer and UBSan: as is (the __atomic builtins on this
 * host) and with -DMMSTATS_CELL_PORTABLE (the library's portable calls).
 *
 *   ./test_cells DIR   (DIR: an empty private directory for stats files)
 *
 * Prints "<mode>: N checks, 0 failures" and exits 0 when every check passed.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>

#include "mmstats.h"

#include "check.h"

static void test_zeroed_cells(void) {
    mmstats_counter_cell counter = {0};
    mmstats_gauge_cell gauge = {0};
    mmstats_float_cell gauge_f = {0};
    uint64_t u = 7;
    int64_t i = 7;
    double d = 7.0;
    EXPECT(mmstats_counter_cell_incr(counter), MMSTATS_NULL_ARGUMENT);
    EXPECT(mmstats_counter_cell_add(counter, 3), MMSTATS_NULL_ARGUMENT);
    EXPECT(mmstats_counter_cell_get(counter, &u), MMSTATS_NULL_ARGUMENT);
    EXPECT(mmstats_gauge_cell_set(gauge, 1), MMSTATS_NULL_ARGUMENT);
    EXPECT(mmstats_gauge_cell_add(gauge, 1), MMSTATS_NULL_ARGUMENT);
    EXPECT(mmstats_gauge_cell_get(gauge, &i), MMSTATS_NULL_ARGUMENT);
    EXPECT(mmstats_float_cell_set(gauge_f, 1.0), MMSTATS_NULL_ARGUMENT);
    EXPECT(mmstats_float_cell_add(gauge_f, 1.0), MMSTATS_NULL_ARGUMENT);
    EXPECT(mmstats_float_cell_get(gauge_f, &d), MMSTATS_NULL_ARGUMENT);
    CHECK(u == 7 && i == 7 && d == 7.0); /* outputs untouched */
    /* The portable calls refuse NULL too. */
    CHECK(mmstats_cell_load_portable(NULL) == 0);
    mmstats_cell_store_portable(NULL, 1);
}

/* ---- firmware ---------------------------------------------------------- */

static uint64_t words[2048];
static mmstats_fw_region region;

static void test_firmware_cells(void) {
    OK(mmstats_fw_region_create(&region, words, 2048, NULL));
    mmstats_field_spec spec = {0};
    mmstats_fw_counter counter = {0};
    mmstats_fw_gauge gauge = {0};
    mmstats_fw_float temp = {0};
    mmstats_counter_cell ccell = {0};
    mmstats_gauge_cell gcell = {0};
    mmstats_float_cell fcell = {0};

    /* Not filled yet: no cell, the output stays zeroed. */
    EXPECT(mmstats_fw_counter_to_cell(&counter, &ccell), MMSTATS_BAD_HANDLE);
    CHECK(ccell.word == NULL);
    EXPECT(mmstats_fw_counter_to_cell(NULL, &ccell), MMSTATS_NULL_ARGUMENT);
    EXPECT(mmstats_fw_gauge_to_cell(&gauge, &gcell), MMSTATS_BAD_HANDLE);
    EXPECT(mmstats_fw_float_to_cell(&temp, &fcell), MMSTATS_BAD_HANDLE);
    /* A handle of another kind is refused. */
    EXPECT(mmstats_fw_gauge_to_cell((const mmstats_fw_gauge *)&counter, &gcell),
           MMSTATS_BAD_HANDLE);

    spec.name = "packets";
    OK(mmstats_fw_region_counter(&region, &spec, &counter));
    spec.name = "queue";
    OK(mmstats_fw_region_gauge(&region, &spec, &gauge));
    spec.name = "temperature";
    OK(mmstats_fw_region_float(&region, &spec, &temp));
    EXPECT(mmstats_fw_counter_to_cell(&counter, NULL), MMSTATS_NULL_ARGUMENT);
    OK(mmstats_fw_counter_to_cell(&counter, &ccell));
    OK(mmstats_fw_gauge_to_cell(&gauge, &gcell));
    OK(mmstats_fw_float_to_cell(&temp, &fcell));
    /* The cell points into the words buffer, not into the handle. */
    CHECK((const void *)ccell.word >= (const void *)words &&
          (const void *)ccell.word < (const void *)(words + 2048));

    /* Counter: cell and checked calls interleaved, read back both ways. */
    uint64_t u = 0, v = 0;
    for (int n = 0; n < 1000; n++) {
        OK(mmstats_counter_cell_incr(ccell));
        OK(mmstats_fw_counter_incr(&counter));
    }
    OK(mmstats_counter_cell_add(ccell, 500));
    OK(mmstats_fw_counter_get(&counter, &u));
    OK(mmstats_counter_cell_get(ccell, &v));
    CHECK(u == 2500 && v == 2500);
    OK(mmstats_fw_counter_add(&counter, 5));
    OK(mmstats_counter_cell_get(ccell, &v));
    CHECK(v == 2505);
    /* Wraps at 2^64, as mmstats_fw_counter_add does. */
    OK(mmstats_counter_cell_add(ccell, UINT64_MAX));
    OK(mmstats_fw_counter_get(&counter, &u));
    CHECK(u == 2504);

    /* Gauge: negative values, wrapping adds. */
    int64_t i = 0, j = 0;
    OK(mmstats_gauge_cell_set(gcell, -3));
    OK(mmstats_fw_gauge_get(&gauge, &i));
    CHECK(i == -3);
    OK(mmstats_gauge_cell_add(gcell, -10));
    OK(mmstats_fw_gauge_add(&gauge, 4));
    OK(mmstats_gauge_cell_get(gcell, &j));
    OK(mmstats_fw_gauge_get(&gauge, &i));
    CHECK(i == -9 && j == -9);
    OK(mmstats_gauge_cell_set(gcell, INT64_MAX));
    OK(mmstats_gauge_cell_add(gcell, 1));
    OK(mmstats_fw_gauge_get(&gauge, &i));
    CHECK(i == INT64_MIN);
    OK(mmstats_fw_gauge_set(&gauge, 42));
    OK(mmstats_gauge_cell_get(gcell, &j));
    CHECK(j == 42);

    /* Float gauge: the same double bits both ways. */
    double d = 0, e = 0;
    OK(mmstats_float_cell_set(fcell, 21.5));
    OK(mmstats_fw_float_get(&temp, &d));
    CHECK(d == 21.5);
    OK(mmstats_float_cell_add(fcell, 0.25));
    OK(mmstats_fw_float_add(&temp, -1.5));
    OK(mmstats_float_cell_get(fcell, &e));
    OK(mmstats_fw_float_get(&temp, &d));
    CHECK(d == 20.25 && e == 20.25);
    OK(mmstats_float_cell_set(fcell, -0.0));
    OK(mmstats_fw_float_get(&temp, &d));
    CHECK(d == 0.0 && 1.0 / d < 0); /* the sign bit survives */

    /* The handle may move (memcpy) and its old storage be zeroed: the cell
     * still names the same word. */
    mmstats_fw_counter moved;
    memcpy(&moved, &counter, sizeof moved);
    memset(&counter, 0, sizeof counter);
    EXPECT(mmstats_fw_counter_incr(&counter), MMSTATS_BAD_HANDLE);
    OK(mmstats_counter_cell_incr(ccell));
    OK(mmstats_fw_counter_get(&moved, &u));
    CHECK(u == 2505);
    OK(mmstats_fw_region_close(&region));
}

/* ---- hosted ------------------------------------------------------------ */

static void test_hosted_cells(const char *dir) {
    mmstats_file_options options = {0};
    options.name = "cells_test";
    options.dir = dir;
    mmstats_file *file = NULL;
    OK(mmstats_file_create(&options, &file));
    mmstats_field_spec spec = {0};
    mmstats_counter *counter = NULL;
    mmstats_gauge *gauge = NULL;
    mmstats_float *temp = NULL;
    spec.name = "hits";
    OK(mmstats_file_counter(file, &spec, &counter));
    spec.name = "depth";
    OK(mmstats_file_gauge(file, &spec, &gauge));
    spec.name = "temp";
    OK(mmstats_file_float(file, &spec, &temp));

    mmstats_counter_cell ccell = {0};
    mmstats_gauge_cell gcell = {0};
    mmstats_float_cell fcell = {0};
    EXPECT(mmstats_counter_to_cell(NULL, &ccell), MMSTATS_NULL_ARGUMENT);
    EXPECT(mmstats_counter_to_cell(counter, NULL), MMSTATS_NULL_ARGUMENT);
    EXPECT(mmstats_gauge_to_cell(NULL, &gcell), MMSTATS_NULL_ARGUMENT);
    EXPECT(mmstats_float_to_cell(NULL, &fcell), MMSTATS_NULL_ARGUMENT);
    CHECK(ccell.word == NULL && gcell.word == NULL && fcell.word == NULL);
    OK(mmstats_counter_to_cell(counter, &ccell));
    OK(mmstats_gauge_to_cell(gauge, &gcell));
    OK(mmstats_float_to_cell(temp, &fcell));

    uint64_t u = 0, v = 0;
    for (int n = 0; n < 100000; n++) OK(mmstats_counter_cell_incr(ccell));
    OK(mmstats_counter_incr(counter));
    OK(mmstats_counter_add(counter, 10));
    OK(mmstats_counter_get(counter, &u));
    OK(mmstats_counter_cell_get(ccell, &v));
    CHECK(u == 100011 && v == 100011);

    int64_t i = 0;
    OK(mmstats_gauge_cell_set(gcell, 10));
    OK(mmstats_gauge_add(gauge, -15));
    OK(mmstats_gauge_cell_add(gcell, 2));
    OK(mmstats_gauge_get(gauge, &i));
    CHECK(i == -3);

    double d = 0;
    OK(mmstats_float_set(temp, 1.5));
    OK(mmstats_float_cell_add(fcell, 2.25));
    OK(mmstats_float_get(temp, &d));
    CHECK(d == 3.75);

    /* The file's handle goes; the field handles keep the mapping, so the
     * cells stay valid until their handles are freed. */
    mmstats_file_close(file);
    OK(mmstats_counter_cell_add(ccell, 9));
    OK(mmstats_counter_get(counter, &u));
    CHECK(u == 100020);
    mmstats_counter_free(counter);
    mmstats_gauge_free(gauge);
    mmstats_float_free(temp);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    test_zeroed_cells();
    test_firmware_cells();
    test_hosted_cells(argv[1]);
    printf("%s: %d checks, %d failures\n",
           MMSTATS_CELL_NATIVE ? "native __atomic cells" : "portable cells", checks, failures);
    return failures == 0 ? 0 : 1;
}
