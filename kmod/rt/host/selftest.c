/* A user-space C host for the no_std kwasm-kmod-rt object built by `cargo xtask nostd-check`.
 *
 * It links the same relocatable object the kernel module will link (kernel code model, static
 * relocations, every symbol but the kwasm_rt_* API made local), calls the self-test on a painted
 * stack of its own, checks the results and reports the stack and heap the runtime used. Exit
 * status 0 means every check passed. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>

#include "kwasm_rt.h"

void kwasm_rt_abort(const unsigned char *msg, size_t len) {
    fprintf(stderr, "selftest: Rust panic: %.*s\n", (int)len, (const char *)msg);
    abort();
}

#define STACK_SIZE (1024 * 1024)
#define PAINT 0xa5

static unsigned char *stack;
static ucontext_t main_ctx, test_ctx;
static int failures;

static void check(const char *what, uint32_t func, int64_t arg, int want_rc, int64_t want) {
    int64_t got = 0;
    int rc = kwasm_rt_selftest(func, arg, &got);
    if (rc != want_rc || (rc == KWASM_RT_OK && got != want)) {
        printf("  FAIL %-16s rc %d (want %d), result %lld (want %lld): %s\n", what, rc, want_rc, (long long)got,
               (long long)want, kwasm_rt_last_error());
        failures++;
    } else if (rc == KWASM_RT_OK) {
        printf("  ok   %-16s = %lld\n", what, (long long)got);
    } else {
        printf("  ok   %-16s -> rc %d: %s\n", what, rc, kwasm_rt_last_error());
    }
}

static void run_checks(void) {
    check("fac(0)", KWASM_RT_FUNC_FAC, 0, KWASM_RT_OK, 1);
    check("fac(20)", KWASM_RT_FUNC_FAC, 20, KWASM_RT_OK, 2432902008176640000LL);
    check("sumsq(1000)", KWASM_RT_FUNC_SUMSQ, 1000, KWASM_RT_OK, 332833500);
    check("sumsq(16384)", KWASM_RT_FUNC_SUMSQ, 16384, KWASM_RT_OK, 1297440768);
    check("sumsq(16385)", KWASM_RT_FUNC_SUMSQ, 16385, KWASM_RT_ETRAP, 0);
    check("func 7", 7, 0, KWASM_RT_EBADFUNC, 0);
    /* After the failures above the runtime must still work (heap reuse, no leaked state). */
    check("fac(20) again", KWASM_RT_FUNC_FAC, 20, KWASM_RT_OK, 2432902008176640000LL);
}

int main(void) {
    stack = malloc(STACK_SIZE);
    if (!stack) {
        perror("malloc");
        return 1;
    }
    memset(stack, PAINT, STACK_SIZE);
    getcontext(&test_ctx);
    test_ctx.uc_stack.ss_sp = stack;
    test_ctx.uc_stack.ss_size = STACK_SIZE;
    test_ctx.uc_link = &main_ctx;
    makecontext(&test_ctx, run_checks, 0);
    if (swapcontext(&main_ctx, &test_ctx) != 0) {
        perror("swapcontext");
        return 1;
    }
    size_t untouched = 0;
    while (untouched < STACK_SIZE && stack[untouched] == PAINT)
        untouched++;
    printf("  stack used: %zu KiB (of a %d KiB stack; a kernel task stack is 16 KiB)\n",
           (STACK_SIZE - untouched + 1023) / 1024, STACK_SIZE / 1024);
    printf("  heap peak:  %zu KiB\n", (kwasm_rt_heap_peak() + 1023) / 1024);
    if (failures) {
        printf("selftest: %d check(s) failed\n", failures);
        return 1;
    }
    printf("selftest: all checks passed\n");
    return 0;
}
