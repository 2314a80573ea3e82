/*
 * A hosted C writer: a stats file with a counter, a gauge with a label, a
 * float, a string and a histogram. The hot-path counter and gauge are
 * updated through inline cells (mmstats_inline.h: no call into the
 * library); the rest through the checked calls.
 *
 *   cc -Iinclude examples/counter.c target/debug/libmmstats.a -lpthread -ldl -lm -o counter
 *   ./counter DIR N     # N iterations (0: run until killed), file kept in DIR
 *   mmdump dump DIR/c_counter.mmstats
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "mmstats.h"

static int check(mmstats_status status, const char *what) {
    if (status != MMSTATS_OK) {
        fprintf(stderr, "%s: %s (%s)\n", what, mmstats_status_name(status),
                mmstats_status_message(status));
        return 1;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s DIR ITERATIONS\n", argv[0]);
        return 2;
    }
    long iterations = strtol(argv[2], NULL, 10);

    mmstats_file_options options = {0};
    options.name = "c_counter";
    options.dir = argv[1];
    options.prefix = "example.";
    options.keep = true; /* leave the file for readers after exit */
    mmstats_file *file = NULL;
    if (check(mmstats_file_create(&options, &file), "create")) return 1;

    mmstats_field_spec spec = {0};
    mmstats_counter *requests = NULL;
    spec.name = "requests";
    spec.description = "requests handled";
    spec.unit = MMSTATS_UNIT_EVENTS;
    if (check(mmstats_file_counter(file, &spec, &requests), "counter")) return 1;

    mmstats_label worker[] = {{"worker", "1"}};
    mmstats_field_spec depth_spec = {0};
    depth_spec.name = "queue_depth";
    depth_spec.labels = worker;
    depth_spec.label_count = 1;
    mmstats_gauge *depth = NULL;
    if (check(mmstats_file_gauge(file, &depth_spec, &depth), "gauge")) return 1;

    mmstats_field_spec temp_spec = {0};
    temp_spec.name = "temperature";
    temp_spec.unit = MMSTATS_UNIT_CELSIUS;
    mmstats_float *temperature = NULL;
    if (check(mmstats_file_float(file, &temp_spec, &temperature), "float")) return 1;

    mmstats_field_spec status_spec = {0};
    status_spec.name = "status";
    status_spec.capacity = 32;
    mmstats_text *status = NULL;
    if (check(mmstats_file_text(file, &status_spec, &status), "text")) return 1;

    mmstats_field_spec latency_spec = {0};
    latency_spec.name = "latency";
    latency_spec.unit = MMSTATS_UNIT_NANOSECONDS;
    latency_spec.labels = worker;
    latency_spec.label_count = 1;
    mmstats_histogram *latency = NULL;
    if (check(mmstats_file_histogram(file, &latency_spec, &latency), "histogram")) return 1;

    char path[4096];
    if (check(mmstats_file_path(file, path, sizeof path, NULL), "path")) return 1;
    printf("%s\n", path);
    fflush(stdout);

    /* Cells for the hot path: valid while `requests` and `depth` live;
     * this thread stays their one writer. */
    mmstats_counter_cell requests_cell = {0};
    mmstats_gauge_cell depth_cell = {0};
    if (check(mmstats_counter_to_cell(requests, &requests_cell), "counter cell")) return 1;
    if (check(mmstats_gauge_to_cell(depth, &depth_cell), "gauge cell")) return 1;

    check(mmstats_text_set(status, "running", NULL), "text_set");
    for (long i = 0; iterations == 0 || i < iterations; i++) {
        mmstats_counter_cell_incr(requests_cell);
        mmstats_gauge_cell_set(depth_cell, i % 10);
        mmstats_float_set(temperature, 20.0 + (double)(i % 5) / 2.0);
        mmstats_histogram_record(latency, 1000 + (uint64_t)i);
        if (iterations == 0) {
            struct timespec pause = {0, 100 * 1000 * 1000};
            nanosleep(&pause, NULL);
            mmstats_file_heartbeat(file);
        }
    }
    check(mmstats_text_set(status, "done", NULL), "text_set");

    mmstats_counter_free(requests);
    mmstats_gauge_free(depth);
    mmstats_float_free(temperature);
    mmstats_text_free(status);
    mmstats_histogram_free(latency);
    mmstats_file_close(file);
    return 0;
}
