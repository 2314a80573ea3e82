/*
 * The C ABI's counter increment, timed: hosted (mmstats_counter_incr on a
 * stats file) and firmware (mmstats_fw_counter_incr on a static region),
 * each through the checked call and through an inline cell
 * (mmstats_counter_cell_incr, mmstats_inline.h).
 * The Rust side is examples/incr_bench.rs, with the same loop and rounds;
 * bench/run.sh builds and runs both (release builds, -O2).
 *
 *   ./incr_bench DIR   prints one line per case: min/median/max ns per op
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "mmstats.h"

#define OPS 10000000L
#define ROUNDS 15

static double now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void report(const char *name, double *ns) {
    qsort(ns, ROUNDS, sizeof ns[0], by_value);
    printf("%-38s min %.3f  median %.3f  max %.3f ns/op (%d rounds of %ld)\n", name, ns[0],
           ns[ROUNDS / 2], ns[ROUNDS - 1], ROUNDS, OPS);
}

static uint64_t words[8192];

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    double ns[ROUNDS];

    mmstats_file_options options = {0};
    options.name = "incr_bench";
    options.dir = argv[1];
    mmstats_file *file = NULL;
    mmstats_field_spec spec = {0};
    spec.name = "hits";
    mmstats_counter *counter = NULL;
    if (mmstats_file_create(&options, &file) != MMSTATS_OK ||
        mmstats_file_counter(file, &spec, &counter) != MMSTATS_OK) {
        fprintf(stderr, "cannot make the stats file\n");
        return 1;
    }
    for (int r = 0; r < ROUNDS; r++) {
        double start = now_ns();
        for (long i = 0; i < OPS; i++) mmstats_counter_incr(counter);
        ns[r] = (now_ns() - start) / (double)OPS;
    }
    report("C   mmstats_counter_incr (file)", ns);

    mmstats_counter_cell cell = {0};
    if (mmstats_counter_to_cell(counter, &cell) != MMSTATS_OK) {
        fprintf(stderr, "no cell\n");
        return 1;
    }
    for (int r = 0; r < ROUNDS; r++) {
        double start = now_ns();
        for (long i = 0; i < OPS; i++) mmstats_counter_cell_incr(cell);
        ns[r] = (now_ns() - start) / (double)OPS;
    }
    report("C   mmstats_counter_cell_incr (file)", ns);

    static mmstats_fw_region region;
    static mmstats_fw_counter fw;
    if (mmstats_fw_region_create(&region, words, 8192, NULL) != MMSTATS_OK ||
        mmstats_fw_region_counter(&region, &spec, &fw) != MMSTATS_OK) {
        fprintf(stderr, "cannot make the region\n");
        return 1;
    }
    for (int r = 0; r < ROUNDS; r++) {
        double start = now_ns();
        for (long i = 0; i < OPS; i++) mmstats_fw_counter_incr(&fw);
        ns[r] = (now_ns() - start) / (double)OPS;
    }
    report("C   mmstats_fw_counter_incr", ns);

    mmstats_counter_cell fw_cell = {0};
    if (mmstats_fw_counter_to_cell(&fw, &fw_cell) != MMSTATS_OK) {
        fprintf(stderr, "no firmware cell\n");
        return 1;
    }
    for (int r = 0; r < ROUNDS; r++) {
        double start = now_ns();
        for (long i = 0; i < OPS; i++) mmstats_counter_cell_incr(fw_cell);
        ns[r] = (now_ns() - start) / (double)OPS;
    }
    report("C   mmstats_counter_cell_incr (fw)", ns);

    uint64_t fw_total = 0;
    mmstats_fw_counter_get(&fw, &fw_total);
    if (fw_total != 2 * (uint64_t)OPS * ROUNDS) {
        fprintf(stderr, "firmware counter is %llu\n", (unsigned long long)fw_total);
        return 1;
    }

    uint64_t total = 0;
    mmstats_counter_get(counter, &total);
    if (total != 2 * (uint64_t)OPS * ROUNDS) {
        fprintf(stderr, "counter is %llu\n", (unsigned long long)total);
        return 1;
    }
    mmstats_counter_free(counter);
    mmstats_file_close(file);
    return 0;
}
