/*
 * Start-up for the Cortex-M3 of QEMU's lm3s6965evb, in C: the vector table
 * (initial stack pointer, reset and the exception handlers this example
 * uses), and the reset handler that copies .data from flash, zeroes .bss
 * (where the stats buffer lives) and calls main. Symbols come from
 * link.ld.
 */
#include <stdint.h>

extern uint32_t stack_top;
extern uint32_t data_start, data_end, data_load, bss_start, bss_end;

int main(void);
void systick_handler(void);
void reset_handler(void);

/* Any fault: stop here (a debugger or QEMU's monitor sees the PC). */
static void halt_handler(void) {
    for (;;) {
    }
}

typedef void (*vector)(void);

/* Cortex-M vector table: stack top, then exceptions 1..15. */
__attribute__((section(".vector_table"), used)) static const vector vector_table[16] = {
    (vector)&stack_top,
    reset_handler,   /* 1 reset */
    halt_handler,    /* 2 NMI */
    halt_handler,    /* 3 HardFault */
    halt_handler,    /* 4 MemManage */
    halt_handler,    /* 5 BusFault */
    halt_handler,    /* 6 UsageFault */
    0,               /* 7-10 reserved */
    0,
    0,
    0,
    halt_handler,    /* 11 SVCall */
    halt_handler,    /* 12 DebugMonitor */
    0,               /* 13 reserved */
    halt_handler,    /* 14 PendSV */
    systick_handler, /* 15 SysTick */
};

void reset_handler(void) {
    /* Word by word through volatile pointers, so the compiler does not
     * turn the loops into memcpy/memset calls before .data exists. */
    volatile uint32_t *to = &data_start;
    const volatile uint32_t *from = &data_load;
    while (to < &data_end) *to++ = *from++;
    for (volatile uint32_t *z = &bss_start; z < &bss_end;) *z++ = 0;
    main();
    for (;;) {
    }
}
