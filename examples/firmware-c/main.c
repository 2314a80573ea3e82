/*
 * Example firmware in C for QEMU's lm3s6965evb (a Cortex-M3), linked
 * against the no_std libmmstats.a: publishes its stats in a static mmstats
 * region, so that a RAM dump (debug probe, crash dump, emulator) can be
 * read back with `mmdump --image`. The C twin of examples/firmware-cortex-m.
 *
 * - a 16 KiB buffer of 8-byte words in .bss (zeroed by startup.c), with
 *   room for labels;
 * - counters (one with labels, two through inline cells), a gauge, two
 *   float gauges, two strings and a labelled histogram, updated by a main
 *   loop of LOOPS iterations with values a reader can predict;
 * - one counter written by the SysTick handler (its one writer), through
 *   an inline cell;
 * - when the loop is done, fw.state says "done" and the CPU sleeps (the
 *   SysTick keeps counting), so the RAM can be dumped at leisure.
 *
 * Build: `make` in this directory (libmmstats.a for thumbv7m-none-eabi
 * with cargo, then arm-none-eabi-gcc); run: `make run` (QEMU; Ctrl-a x
 * quits); read: QEMU monitor `stop`, `pmemsave 0x20000000 0x10000
 * "ram.bin"`, then `mmdump --image ram.bin --base 0x20000000`.
 * mmdump/tests/firmware_c_qemu.rs does all of that and checks every value.
 */
#include <stdint.h>

#include "mmstats.h"

/* Iterations of the main loop; mmdump/tests/firmware_c_qemu.rs expects it. */
#define LOOPS 100000u

/* SysTick (Cortex-M system timer): 1 kHz at the board's 12 MHz clock. */
#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define TICK_RELOAD (12000u - 1u)

#define STATS_WORDS 2048u

/* The region: 16 KiB of RAM, 8-byte aligned as uint64_t is (128 here so
 * that a dump shows it on a round address). */
static uint64_t stats_words[STATS_WORDS] __attribute__((aligned(128)));
/* The writer's state and the handles: caller-provided storage, zeroed. */
static mmstats_fw_region region;
static mmstats_fw_counter loops, ticks, packets_rx, packets_tx;
static mmstats_fw_gauge queue;
static mmstats_fw_float temperature, voltage;
static mmstats_fw_text state, build;
static mmstats_fw_histogram latency;

/* The SysTick handler's cell: filled before the interrupt is enabled and
 * never written again; the handler is the counter's one writer. */
static mmstats_counter_cell ticks_cell;

/* The first failed call, for a debugger (0: none). */
volatile mmstats_status first_error = MMSTATS_OK;
volatile int first_error_line = 0;

static int failed(mmstats_status status, int line) {
    if (status != MMSTATS_OK && first_error == MMSTATS_OK) {
        first_error = status;
        first_error_line = line;
    }
    return status != MMSTATS_OK;
}
#define TRY(call)                                  \
    do {                                           \
        if (failed((call), __LINE__)) goto broken; \
    } while (0)

void systick_handler(void) {
    mmstats_counter_cell_incr(ticks_cell);
}

int main(void) {
    mmstats_fw_region_options options = {0};
    options.labels = true; /* room for labels in every table entry */
    options.table_capacity = 16;
    /* No pid, start time or clock on a firmware: those stay 0 ("unknown"). */
    TRY(mmstats_fw_region_create(&region, stats_words, STATS_WORDS, &options));
    TRY(mmstats_fw_region_set_prefix(&region, "fw."));

    mmstats_field_spec spec = {0};
    spec.name = "state";
    spec.capacity = 24;
    TRY(mmstats_fw_region_text(&region, &spec, &state));
    TRY(mmstats_fw_text_set(&state, "booting", NULL));

    mmstats_field_spec build_spec = {0};
    build_spec.name = "build";
    build_spec.capacity = 32;
    TRY(mmstats_fw_region_text(&region, &build_spec, &build));
    TRY(mmstats_fw_text_set(&build, "firmware-c 0.1.0", NULL));

    mmstats_field_spec loops_spec = {0};
    loops_spec.name = "loops";
    loops_spec.description = "main loop iterations";
    TRY(mmstats_fw_region_counter(&region, &loops_spec, &loops));

    mmstats_field_spec ticks_spec = {0};
    ticks_spec.name = "ticks";
    ticks_spec.description = "SysTick interrupts, 1 kHz";
    TRY(mmstats_fw_region_counter(&region, &ticks_spec, &ticks));

    /* One name, two label sets: two fields. */
    mmstats_label rx[] = {{"dir", "rx"}, {"port", "0"}};
    mmstats_label tx[] = {{"dir", "tx"}, {"port", "0"}};
    mmstats_field_spec packets_spec = {0};
    packets_spec.name = "packets";
    packets_spec.unit = MMSTATS_UNIT_EVENTS;
    packets_spec.labels = rx;
    packets_spec.label_count = 2;
    TRY(mmstats_fw_region_counter(&region, &packets_spec, &packets_rx));
    packets_spec.labels = tx;
    TRY(mmstats_fw_region_counter(&region, &packets_spec, &packets_tx));

    mmstats_field_spec queue_spec = {0};
    queue_spec.name = "queue.depth";
    queue_spec.description = "messages waiting";
    TRY(mmstats_fw_region_gauge(&region, &queue_spec, &queue));

    mmstats_field_spec temp_spec = {0};
    temp_spec.name = "temperature";
    temp_spec.unit = MMSTATS_UNIT_CELSIUS;
    TRY(mmstats_fw_region_float(&region, &temp_spec, &temperature));

    mmstats_field_spec volt_spec = {0};
    volt_spec.name = "supply";
    volt_spec.unit = MMSTATS_UNIT_VOLTS;
    TRY(mmstats_fw_region_float(&region, &volt_spec, &voltage));

    mmstats_label core[] = {{"core", "0"}};
    mmstats_field_spec latency_spec = {0};
    latency_spec.name = "isr.latency";
    latency_spec.unit = MMSTATS_UNIT_MICROSECONDS;
    latency_spec.labels = core;
    latency_spec.label_count = 1;
    latency_spec.precision = 2;
    latency_spec.highest = 1u << 16;
    TRY(mmstats_fw_region_histogram(&region, &latency_spec, &latency));

    /* Inline cells for the hot counters (on this chip they call the
     * library's interrupt-masking load and store: no 64-bit atomics). */
    mmstats_counter_cell loops_cell = {0};
    mmstats_gauge_cell queue_cell = {0};
    mmstats_float_cell temp_cell = {0};
    TRY(mmstats_fw_counter_to_cell(&loops, &loops_cell));
    TRY(mmstats_fw_counter_to_cell(&ticks, &ticks_cell));
    TRY(mmstats_fw_gauge_to_cell(&queue, &queue_cell));
    TRY(mmstats_fw_float_to_cell(&temperature, &temp_cell));

    SYST_RVR = TICK_RELOAD;
    SYST_CVR = 0;
    SYST_CSR = 0x7u; /* enable, interrupt, core clock */

    TRY(mmstats_fw_text_set(&state, "running", NULL));
    for (uint32_t i = 0; i < LOOPS; i++) {
        mmstats_counter_cell_incr(loops_cell);
        TRY(mmstats_fw_counter_add(&packets_rx, i % 3));
        if (i % 4 == 0) TRY(mmstats_fw_counter_incr(&packets_tx));
        mmstats_gauge_cell_set(queue_cell, (int64_t)(i % 16) - 8);
        mmstats_float_cell_set(temp_cell, 20.0 + (double)(i % 100) / 10.0);
        if (i % 1000 == 999) TRY(mmstats_fw_float_add(&voltage, 0.5));
        TRY(mmstats_fw_histogram_record(&latency, 100 + i % 1000));
    }
    TRY(mmstats_fw_text_set(&state, "done", NULL));
    for (;;) __asm__ volatile("wfi");

broken:
    mmstats_fw_text_set(&state, "error", NULL);
    for (;;) __asm__ volatile("wfi");
}
