/*
 * Unit tests of the mmstats C ABI: every function, NULL and stale handles,
 * every error code the calls can produce. Built with
 * -fsanitize=address,undefined against libmmstats.a and run by
 * tests/c_programs.rs and .ci/steps/82-capi.sh:
 *
 *   ./test_abi DIR     (DIR: an empty private directory for stats files)
 *
 * Exits 0 when every check passed, 1 otherwise (each failure is printed).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/stat.h>

#include "mmstats.h"

#include "check.h"

static void test_status_names(void) {
    CHECK(strcmp(mmstats_status_name(MMSTATS_OK), "MMSTATS_OK") == 0);
    CHECK(strcmp(mmstats_status_name(MMSTATS_FULL), "MMSTATS_FULL") == 0);
    CHECK(strcmp(mmstats_status_name(MMSTATS_UNKNOWN_GROUP), "MMSTATS_UNKNOWN_GROUP") == 0);
    for (int code = 0; code <= MMSTATS_UNKNOWN_GROUP; code++) {
        CHECK(strncmp(mmstats_status_name(code), "MMSTATS_", 8) == 0);
        CHECK(strcmp(mmstats_status_name(code), "MMSTATS_UNKNOWN") != 0);
        CHECK(strcmp(mmstats_status_message(code), "unknown status") != 0);
    }
    CHECK(strcmp(mmstats_status_name(MMSTATS_UNKNOWN_GROUP + 1), "MMSTATS_UNKNOWN") == 0);
    CHECK(strcmp(mmstats_status_name(-1), "MMSTATS_UNKNOWN") == 0);
    CHECK(strcmp(mmstats_status_message(-1), "unknown status") == 0);
    CHECK(strcmp(mmstats_status_message(MMSTATS_OK), "success") == 0);
}

/* ---- firmware layer ---------------------------------------------------- */

static uint64_t words[4096];
static mmstats_fw_region region;

static void test_firmware_region(void) {
    mmstats_fw_region_options options = {0};
    options.labels = true;
    options.pid = 42;

    EXPECT(mmstats_fw_region_create(NULL, words, 4096, &options), MMSTATS_NULL_ARGUMENT);
    EXPECT(mmstats_fw_region_create(&region, NULL, 4096, &options), MMSTATS_NULL_ARGUMENT);
    EXPECT(mmstats_fw_region_create(&region, (uint64_t *)((char *)words + 4), 100, &options),
           MMSTATS_MISALIGNED);
    EXPECT(mmstats_fw_region_create(&region, words, 4, &options), MMSTATS_REGION_TOO_SMALL);
    /* Not created yet: every region call refuses the zeroed struct. */
    EXPECT(mmstats_fw_region_heartbeat(&region, 1), MMSTATS_BAD_HANDLE);
    EXPECT(mmstats_fw_region_set_prefix(&region, "x."), MMSTATS_BAD_HANDLE);
    EXPECT(mmstats_fw_region_close(&region), MMSTATS_BAD_HANDLE);
    EXPECT(mmstats_fw_region_heartbeat(NULL, 1), MMSTATS_NULL_ARGUMENT);
    EXPECT(mmstats_fw_region_set_prefix(NULL, "x."), MMSTATS_NULL_ARGUMENT);
    EXPECT(mmstats_fw_region_close(NULL), MMSTATS_NULL_ARGUMENT);

    OK(mmstats_fw_region_create(&region, words, 4096, NULL)); /* defaults */
    OK(mmstats_fw_region_create(&region, words, 4096, &options));
    OK(mmstats_fw_region_heartbeat(&region, 1700000000000000000ull));
    OK(mmstats_fw_region_set_prefix(&region, "fw."));
    EXPECT(mmstats_fw_region_set_prefix(&region, NULL), MMSTATS_NULL_ARGUMENT);
    EXPECT(mmstats_fw_region_set_prefix(&region, "\xff\xfe"), MMSTATS_INVALID_UTF8);
}

/* Writes the region's words as a raw image (for `mmdump --image`). */
static void dump_words(const char *dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/firmware.img", dir);
    FILE *out = fopen(path, "wb");
    CHECK(out != NULL);
    if (out) {
        CHECK(fwrite(words, sizeof words, 1, out) == 1);
        fclose(out);
    }
}

static void test_firmware_fields(const char *dir) {
    mmstats_field_spec spec = {0};
    mmstats_fw_counter counter = {0};
    mmstats_fw_gauge gauge = {0};
    mmstats_fw_float temperature = {0};
    mmstats_fw_text text = {0};
    mmstats_fw_histogram histogram = {0};
    uint64_t u = 0;
    int64_t i = 0;
    double d = 0;
    size_t stored = 0;

    /* Handles never filled: refused, never used. */
    EXPECT(mmstats_fw_counter_incr(&counter), MMSTATS_BAD_HANDLE);
    EXPECT(mmstats_fw_counter_get(&counter, &u), MMSTATS_BAD_HANDLE);
    EXPECT(mmstats_fw_gauge_set(&gauge, 1), MMSTATS_BAD_HANDLE);
    EXPECT(mmstats_fw_float_set(&temperature, 1), MMSTATS_BAD_HANDLE);
    EXPECT(mmstats_fw_text_set(&text, "x", NULL), MMSTATS_BAD_HANDLE);
    EXPECT(mmstats_fw_histogram_record(&histogram, 1), MMSTATS_BAD_HANDLE);
    /* NULL handles. */
    EXPECT(mmstats_fw_counter_incr(NULL), MMSTATS_NULL_ARGUMENT);
    EXPECT(mmstats_fw_counter_add(NULL, 1), MMSTATS_NULL_ARGUMENT);
    EXPECT(mmstats_fw_counter_get(NULL, &u), MMSTATS_NULL_ARGUMENT);
    EXPECT(mmstats_fw_gauge_set(NULL, 1), MMSTATS_NULL_ARGUMENT);
    EXPECT(mmstats_fw_gauge_add(NULL, 1), MMSTATS_NULL_ARGUMENT);
    EXPECT(mmstats_fw_gauge_get(NULL, &i), MMSTATS_NULL_ARGUMENT);
    EXPECT(mmstats_fw_float_set(NULL, 1), MMSTATS_NULL_ARGUMENT);
    EXPECT(mmstats_fw_float_add(NULL, 1), MMSTATS_NULL_ARGUMENT);
    EXPECT(mmstats_fw_float_get(NULL, &d), MMSTATS_NULL_ARGUMENT);
    EXPECT(mmstats_fw_text_set(NULL, "x", NULL), MMSTATS_NULL_ARGUMENT);
    EXPECT(mmstats_fw_histogram_record(NULL, 1), MMSTATS_NULL_ARGUMENT);
    EXPECT(mmstats_fw_histogram_record_n(NULL, 1, 1), MMSTATS_NULL_ARGUMENT);
    EXPECT(mmstats_fw_histogram_count(NULL, &u), MMSTATS_NULL_ARGUMENT);

    /* Adding: argument errors. */
    EXPECT(mmstats_fw_region_counter(&region, NULL, &counter), MMSTATS_NULL_ARGUMENT);
    EXPECT(mmstats_fw_region_counter(&region, &spec, &counter), MMSTATS_NULL_ARGUMENT); /* no name */
    char long_name[200];
    memset(long_name, 'x', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = 0;
    spec.name = long_name; /* above the 120-byte limit */
    EXPECT(mmstats_fw_region_counter(&region, &spec, &counter), MMSTATS_INVALID_NAME);
    spec.name = "bad\x01name";
    EXPECT(mmstats_fw_region_counter(&region, &spec, &counter), MMSTATS_INVALID_NAME);
    spec.name = "\xc3\x28";
    EXPECT(mmstats_fw_region_counter(&region, &spec, &counter), MMSTATS_INVALID_UTF8);
    spec.name = "packets";
    EXPECT(mmstats_fw_region_counter(NULL, &spec, &counter), MMSTATS_NULL_ARGUMENT);
    EXPECT(mmstats_fw_region_counter(&region, &spec, NULL), MMSTATS_NULL_ARGUMENT);
    spec.unit = 999;
    EXPECT(mmstats_fw_region_counter(&region, &spec, &counter), MMSTATS_INVALID_PARAMETER);
    spec.unit = MMSTATS_UNIT_EVENTS;
    spec.label_count = 1; /* labels NULL */
    EXPECT(mmstats_fw_region_counter(&region, &spec, &counter), MMSTATS_NULL_ARGUMENT);
    mmstats_label many[9];
    for (int k = 0; k < 9; k++) {
        many[k].key = "k";
        many[k].value = "v";
    }
    spec.labels = many;
    spec.label_count = 9;
    EXPECT(mmstats_fw_region_counter(&region, &spec, &counter), MMSTATS_INVALID_LABELS);
    mmstats_label bad_key[] = {{"1bad", "v"}};
    spec.labels = bad_key;
    spec.label_count = 1;
    EXPECT(mmstats_fw_region_counter(&region, &spec, &counter), MMSTATS_INVALID_LABELS);
    mmstats_label null_value[] = {{"core", NULL}};
    spec.labels = null_value;
    EXPECT(mmstats_fw_region_counter(&region, &spec, &counter), MMSTATS_NULL_ARGUMENT);
    CHECK(counter._magic == 0); /* failed calls write nothing */

    mmstats_label core[] = {{"core", "0"}};
    spec.labels = core;
    OK(mmstats_fw_region_counter(&region, &spec, &counter));
    OK(mmstats_fw_counter_incr(&counter));
    OK(mmstats_fw_counter_add(&counter, 41));
    OK(mmstats_fw_counter_get(&counter, &u));
    CHECK(u == 42);
    EXPECT(mmstats_fw_counter_get(&counter, NULL), MMSTATS_NULL_ARGUMENT);

    mmstats_field_spec gspec = {0};
    gspec.name = "queue";
    OK(mmstats_fw_region_gauge(&region, &gspec, &gauge));
    OK(mmstats_fw_gauge_set(&gauge, -5));
    OK(mmstats_fw_gauge_add(&gauge, 2));
    OK(mmstats_fw_gauge_get(&gauge, &i));
    CHECK(i == -3);
    EXPECT(mmstats_fw_gauge_get(&gauge, NULL), MMSTATS_NULL_ARGUMENT);

    /* A handle of another kind is refused, not misread. */
    EXPECT(mmstats_fw_counter_incr((mmstats_fw_counter *)&gauge), MMSTATS_BAD_HANDLE);
    EXPECT(mmstats_fw_gauge_set((mmstats_fw_gauge *)&counter, 1), MMSTATS_BAD_HANDLE);

    mmstats_field_spec fspec = {0};
    fspec.name = "temperature";
    fspec.unit = MMSTATS_UNIT_CELSIUS;
    OK(mmstats_fw_region_float(&region, &fspec, &temperature));
    OK(mmstats_fw_float_set(&temperature, 20.5));
    OK(mmstats_fw_float_add(&temperature, 1.0));
    OK(mmstats_fw_float_get(&temperature, &d));
    CHECK(d == 21.5);
    EXPECT(mmstats_fw_float_get(&temperature, NULL), MMSTATS_NULL_ARGUMENT);

    mmstats_field_spec tspec = {0};
    tspec.name = "state";
    tspec.capacity = 5000;
    EXPECT(mmstats_fw_region_text(&region, &tspec, &text), MMSTATS_INVALID_PARAMETER);
    tspec.capacity = 4;
    OK(mmstats_fw_region_text(&region, &tspec, &text));
    OK(mmstats_fw_text_set(&text, "hello", &stored));
    CHECK(stored == 4); /* cut to the capacity */
    OK(mmstats_fw_text_set(&text, "ok", NULL));
    EXPECT(mmstats_fw_text_set(&text, NULL, NULL), MMSTATS_NULL_ARGUMENT);
    EXPECT(mmstats_fw_text_set(&text, "\xff", NULL), MMSTATS_INVALID_UTF8);

    mmstats_field_spec hspec = {0};
    hspec.name = "latency";
    hspec.precision = 13;
    EXPECT(mmstats_fw_region_histogram(&region, &hspec, &histogram), MMSTATS_INVALID_PARAMETER);
    hspec.precision = 300; /* does not fit the format's byte */
    EXPECT(mmstats_fw_region_histogram(&region, &hspec, &histogram), MMSTATS_INVALID_PARAMETER);
    hspec.precision = 4;
    hspec.highest = 1000000;
    OK(mmstats_fw_region_histogram(&region, &hspec, &histogram));
    OK(mmstats_fw_histogram_record(&histogram, 10));
    OK(mmstats_fw_histogram_record_n(&histogram, 20, 3));
    OK(mmstats_fw_histogram_count(&histogram, &u));
    CHECK(u == 4);
    EXPECT(mmstats_fw_histogram_count(&histogram, NULL), MMSTATS_NULL_ARGUMENT);

    dump_words(dir); /* the CI step reads it back with mmdump --image */

    /* Closing empties the region struct; the handles still write into the
     * buffer (stale but allowed: the buffer is static). */
    OK(mmstats_fw_region_close(&region));
    EXPECT(mmstats_fw_region_counter(&region, &gspec, &counter), MMSTATS_BAD_HANDLE);
    EXPECT(mmstats_fw_region_heartbeat(&region, 2), MMSTATS_BAD_HANDLE);
    OK(mmstats_fw_counter_incr(&counter));
    OK(mmstats_fw_counter_get(&counter, &u));
    CHECK(u == 43);
}

static void test_firmware_limits(void) {
    static uint64_t small[1024];
    mmstats_fw_region r = {0};
    mmstats_fw_region_options options = {0};
    options.table_capacity = 2; /* no label room */
    OK(mmstats_fw_region_create(&r, small, 1024, &options));
    mmstats_field_spec spec = {0};
    mmstats_fw_counter c = {0};
    mmstats_label core[] = {{"core", "0"}};
    spec.name = "labelled";
    spec.labels = core;
    spec.label_count = 1;
    EXPECT(mmstats_fw_region_counter(&r, &spec, &c), MMSTATS_NO_LABEL_ROOM);
    spec.labels = NULL;
    spec.label_count = 0;
    spec.name = "a";
    OK(mmstats_fw_region_counter(&r, &spec, &c));
    spec.name = "b";
    OK(mmstats_fw_region_counter(&r, &spec, &c));
    spec.name = "c";
    EXPECT(mmstats_fw_region_counter(&r, &spec, &c), MMSTATS_FULL);
    options.table_capacity = 100000000;
    EXPECT(mmstats_fw_region_create(&r, small, 1024, &options), MMSTATS_REGION_TOO_LARGE);
}

/* ---- hosted layer ------------------------------------------------------ */

static void test_hosted(const char *dir) {
    mmstats_file_options options = {0};
    mmstats_file *file = NULL;
    EXPECT(mmstats_file_create(NULL, &file), MMSTATS_NULL_ARGUMENT);
    EXPECT(mmstats_file_create(&options, &file), MMSTATS_NULL_ARGUMENT); /* no name */
    options.name = "abi_test";
    options.dir = dir;
    EXPECT(mmstats_file_create(&options, NULL), MMSTATS_NULL_ARGUMENT);
    options.dir = "\xff";
    EXPECT(mmstats_file_create(&options, &file), MMSTATS_INVALID_UTF8);
    options.dir = dir;
    options.prefix = "t.";
    OK(mmstats_file_create(&options, &file));
    CHECK(file != NULL);

    /* The name is taken while this writer lives. */
    mmstats_file *second = NULL;
    EXPECT(mmstats_file_create(&options, &second), MMSTATS_NAME_TAKEN);
    CHECK(second == NULL);

    char path[4096];
    size_t needed = 0;
    EXPECT(mmstats_file_path(file, path, 4, &needed), MMSTATS_BUFFER_TOO_SMALL);
    CHECK(needed > strlen(dir));
    EXPECT(mmstats_file_path(file, NULL, 0, &needed), MMSTATS_BUFFER_TOO_SMALL);
    OK(mmstats_file_path(file, path, needed + 1, NULL));
    CHECK(strlen(path) == needed);
    CHECK(strncmp(path, dir, strlen(dir)) == 0);
    CHECK(strstr(path, "abi_test") != NULL);
    EXPECT(mmstats_file_path(NULL, path, sizeof path, NULL), MMSTATS_NULL_ARGUMENT);
    OK(mmstats_file_heartbeat(file));
    EXPECT(mmstats_file_heartbeat(NULL), MMSTATS_NULL_ARGUMENT);
    OK(mmstats_file_set_keep(file, false));
    EXPECT(mmstats_file_set_keep(NULL, true), MMSTATS_NULL_ARGUMENT);

    mmstats_field_spec spec = {0};
    mmstats_counter *counter = NULL;
    EXPECT(mmstats_file_counter(file, NULL, &counter), MMSTATS_NULL_ARGUMENT);
    EXPECT(mmstats_file_counter(NULL, &spec, &counter), MMSTATS_NULL_ARGUMENT);
    spec.name = "hits";
    EXPECT(mmstats_file_counter(file, &spec, NULL), MMSTATS_NULL_ARGUMENT);
    OK(mmstats_file_counter(file, &spec, &counter));
    mmstats_counter *again = NULL;
    EXPECT(mmstats_file_counter(file, &spec, &again), MMSTATS_DUPLICATE_NAME);
    CHECK(again == NULL);
    mmstats_label l1[] = {{"code", "200"}};
    spec.labels = l1;
    spec.label_count = 1;
    OK(mmstats_file_counter(file, &spec, &again)); /* same name, other labels */
    mmstats_label bad[] = {{"code", ""}};
    spec.labels = bad;
    mmstats_counter *bad_counter = NULL;
    EXPECT(mmstats_file_counter(file, &spec, &bad_counter), MMSTATS_INVALID_LABELS);

    uint64_t u = 0;
    OK(mmstats_counter_incr(counter));
    OK(mmstats_counter_add(counter, 9));
    OK(mmstats_counter_get(counter, &u));
    CHECK(u == 10);
    EXPECT(mmstats_counter_incr(NULL), MMSTATS_NULL_ARGUMENT);
    EXPECT(mmstats_counter_add(NULL, 1), MMSTATS_NULL_ARGUMENT);
    EXPECT(mmstats_counter_get(NULL, &u), MMSTATS_NULL_ARGUMENT);
    EXPECT(mmstats_counter_get(counter, NULL), MMSTATS_NULL_ARGUMENT);

    mmstats_field_spec gspec = {0};
    gspec.name = "depth";
    mmstats_gauge *gauge = NULL;
    int64_t i = 0;
    OK(mmstats_file_gauge(file, &gspec, &gauge));
    OK(mmstats_gauge_set(gauge, 7));
    OK(mmstats_gauge_add(gauge, -10));
    OK(mmstats_gauge_get(gauge, &i));
    CHECK(i == -3);
    EXPECT(mmstats_gauge_set(NULL, 1), MMSTATS_NULL_ARGUMENT);
    EXPECT(mmstats_gauge_add(NULL, 1), MMSTATS_NULL_ARGUMENT);
    EXPECT(mmstats_gauge_get(NULL, &i), MMSTATS_NULL_ARGUMENT);
    EXPECT(mmstats_gauge_get(gauge, NULL), MMSTATS_NULL_ARGUMENT);
    EXPECT(mmstats_file_gauge(NULL, &gspec, &gauge), MMSTATS_NULL_ARGUMENT);

    mmstats_field_spec fspec = {0};
    fspec.name = "ratio";
    fspec.unit = MMSTATS_UNIT_RATIO;
    mmstats_float *ratio = NULL;
    double d = 0;
    OK(mmstats_file_float(file, &fspec, &ratio));
    OK(mmstats_float_set(ratio, 0.25));
    OK(mmstats_float_add(ratio, 0.5));
    OK(mmstats_float_get(ratio, &d));
    CHECK(d == 0.75);
    EXPECT(mmstats_float_set(NULL, 1), MMSTATS_NULL_ARGUMENT);
    EXPECT(mmstats_float_add(NULL, 1), MMSTATS_NULL_ARGUMENT);
    EXPECT(mmstats_float_get(NULL, &d), MMSTATS_NULL_ARGUMENT);
    EXPECT(mmstats_float_get(ratio, NULL), MMSTATS_NULL_ARGUMENT);
    EXPECT(mmstats_file_float(NULL, &fspec, &ratio), MMSTATS_NULL_ARGUMENT);

    mmstats_field_spec tspec = {0};
    tspec.name = "version";
    tspec.capacity = 3;
    mmstats_text *text = NULL;
    size_t stored = 0;
    OK(mmstats_file_text(file, &tspec, &text));
    OK(mmstats_text_set(text, "v1.2.3", &stored));
    CHECK(stored == 3);
    OK(mmstats_text_set(text, "v1", NULL));
    EXPECT(mmstats_text_set(NULL, "x", NULL), MMSTATS_NULL_ARGUMENT);
    EXPECT(mmstats_text_set(text, NULL, NULL), MMSTATS_NULL_ARGUMENT);
    EXPECT(mmstats_text_set(text, "\xff", NULL), MMSTATS_INVALID_UTF8);
    EXPECT(mmstats_file_text(NULL, &tspec, &text), MMSTATS_NULL_ARGUMENT);

    mmstats_field_spec hspec = {0};
    hspec.name = "latency";
    hspec.unit = MMSTATS_UNIT_NANOSECONDS;
    mmstats_histogram *histogram = NULL;
    OK(mmstats_file_histogram(file, &hspec, &histogram));
    OK(mmstats_histogram_record(histogram, 100));
    OK(mmstats_histogram_record_n(histogram, 200, 4));
    OK(mmstats_histogram_count(histogram, &u));
    CHECK(u == 5);
    EXPECT(mmstats_histogram_record(NULL, 1), MMSTATS_NULL_ARGUMENT);
    EXPECT(mmstats_histogram_record_n(NULL, 1, 1), MMSTATS_NULL_ARGUMENT);
    EXPECT(mmstats_histogram_count(NULL, &u), MMSTATS_NULL_ARGUMENT);
    EXPECT(mmstats_histogram_count(histogram, NULL), MMSTATS_NULL_ARGUMENT);
    EXPECT(mmstats_file_histogram(NULL, &hspec, &histogram), MMSTATS_NULL_ARGUMENT);

    /* Closing the file leaves its handles valid: they keep it mapped. */
    mmstats_file_close(file);
    OK(mmstats_counter_incr(counter));
    OK(mmstats_counter_get(counter, &u));
    CHECK(u == 11);
    OK(mmstats_gauge_set(gauge, 1));
    OK(mmstats_float_set(ratio, 1.0));
    OK(mmstats_text_set(text, "v2", NULL));
    OK(mmstats_histogram_record(histogram, 1));

    /* Freeing NULL does nothing; freeing each handle once. */
    mmstats_file_close(NULL);
    mmstats_counter_free(NULL);
    mmstats_gauge_free(NULL);
    mmstats_float_free(NULL);
    mmstats_text_free(NULL);
    mmstats_histogram_free(NULL);
    mmstats_counter_free(counter);
    mmstats_counter_free(again);
    mmstats_gauge_free(gauge);
    mmstats_float_free(ratio);
    mmstats_text_free(text);
    mmstats_histogram_free(histogram); /* last one: the file is unlinked */

    /* Unlinked with the last handle, so the name is free again; a kept
     * file stays after close. */
    options.keep = true;
    OK(mmstats_file_create(&options, &file));
    mmstats_file_close(file);
    FILE *kept = fopen(path, "rb");
    CHECK(kept != NULL);
    if (kept) fclose(kept);
    remove(path);
}

static void test_hosted_places(const char *dir) {
    /* A POSIX shm object instead of a file. */
    mmstats_file_options options = {0};
    char name[64];
    snprintf(name, sizeof name, "capi_test_%ld", (long)getpid());
    options.name = name;
    options.shm = true;
    mmstats_file *file = NULL;
    OK(mmstats_file_create(&options, &file));
    char path[4096];
    OK(mmstats_file_path(file, path, sizeof path, NULL));
    CHECK(strncmp(path, "/dev/shm/", 9) == 0);
    FILE *shm = fopen(path, "rb");
    CHECK(shm != NULL);
    if (shm) fclose(shm);
    mmstats_file_close(file); /* unlinked: not kept */
    CHECK(fopen(path, "rb") == NULL);

    /* A directory anyone may write in is not trusted. */
    char open_dir[4096];
    snprintf(open_dir, sizeof open_dir, "%s/world-writable", dir);
    CHECK(mkdir(open_dir, 0700) == 0);
    CHECK(chmod(open_dir, 0777) == 0);
    mmstats_file_options untrusted = {0};
    untrusted.name = "refused";
    untrusted.dir = open_dir;
    file = NULL;
    EXPECT(mmstats_file_create(&untrusted, &file), MMSTATS_UNTRUSTED_DIRECTORY);
    CHECK(file == NULL);
    rmdir(open_dir);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    test_status_names();
    test_firmware_region();
    test_firmware_fields(argv[1]);
    test_firmware_limits();
    test_hosted(argv[1]);
    test_hosted_places(argv[1]);
    printf("%d checks, %d failures\n", checks, failures);
    return failures == 0 ? 0 : 1;
}
