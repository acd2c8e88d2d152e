/* A user-space C host for the no_std kwasm-kmod-rt object built by `cargo xtask nostd-check`.
 *
 * It links the same relocatable object the kernel module will link (kernel code model, static
 * relocations, every symbol but the kwasm_rt_* API made local), calls the self-test on a painted
 * stack of its own, checks the results and reports the stack and heap the runtime used. Exit
 * status 0 means every check passed.
 *
 * Built with -DKWASM_RT_JIT (for a library with the JIT tiers), it also provides executable
 * memory (mmap read + write, then mprotect read + execute: never both writable and executable)
 * and runs the same checks through each JIT tier, each on a freshly painted stack so that the
 * stack a compile takes is measured. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>
#ifdef KWASM_RT_JIT
#include <errno.h>
#include <sys/mman.h>
#endif

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

#ifdef KWASM_RT_JIT
void *kwasm_rt_exec_alloc(size_t len) {
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

int kwasm_rt_exec_protect(void *ptr, size_t len) {
    return mprotect(ptr, len, PROT_READ | PROT_EXEC) == 0 ? 0 : -errno;
}

void kwasm_rt_exec_free(void *ptr, size_t len) {
    munmap(ptr, len);
}
#endif

#ifdef KWASM_RT_JIT
/* The tier under test: -1 is the plain interpreter entry (kwasm_rt_selftest), else KWASM_RT_TIER_*. */
static int current_tier = -1;
#endif

static int run_one(uint32_t func, int64_t arg, int64_t *got) {
#ifdef KWASM_RT_JIT
    if (current_tier >= 0)
        return kwasm_rt_selftest_tier((uint32_t)current_tier, func, arg, got);
#endif
    return kwasm_rt_selftest(func, arg, got);
}

static void check(const char *what, uint32_t func, int64_t arg, int want_rc, int64_t want) {
    int64_t got = 0;
    int rc = run_one(func, arg, &got);
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

/* Runs run_checks on the painted stack; returns the KiB of it used, or -1. */
static long on_painted_stack(void) {
    memset(stack, PAINT, STACK_SIZE);
    getcontext(&test_ctx);
    test_ctx.uc_stack.ss_sp = stack;
    test_ctx.uc_stack.ss_size = STACK_SIZE;
    test_ctx.uc_link = &main_ctx;
    makecontext(&test_ctx, run_checks, 0);
    if (swapcontext(&main_ctx, &test_ctx) != 0) {
        perror("swapcontext");
        return -1;
    }
    size_t untouched = 0;
    while (untouched < STACK_SIZE && stack[untouched] == PAINT)
        untouched++;
    return (long)((STACK_SIZE - untouched + 1023) / 1024);
}

int main(void) {
    stack = malloc(STACK_SIZE);
    if (!stack) {
        perror("malloc");
        return 1;
    }
    long used = on_painted_stack();
    if (used < 0)
        return 1;
    printf("  stack used: %ld KiB (of a %d KiB stack; a kernel task stack is 16 KiB)\n", used, STACK_SIZE / 1024);
#ifdef KWASM_RT_JIT
    static const struct {
        int tier;
        const char *name;
    } tiers[] = {{KWASM_RT_TIER_OPTIMIZING, "optimizing (Cranelift)"}, {KWASM_RT_TIER_BASELINE, "baseline (dynasm, our sink)"}};
    for (size_t i = 0; i < sizeof tiers / sizeof tiers[0]; i++) {
        printf(" tier %s:\n", tiers[i].name);
        current_tier = tiers[i].tier;
        used = on_painted_stack();
        if (used < 0)
            return 1;
        printf("  stack used: %ld KiB (compile + run, of a %d KiB stack)\n", used, STACK_SIZE / 1024);
    }
    /* A tier that is not built in must say so, not crash. */
    int64_t unused;
    if (kwasm_rt_selftest_tier(9, 0, 0, &unused) != KWASM_RT_ENOTIER) {
        printf("  FAIL tier 9 did not give KWASM_RT_ENOTIER\n");
        failures++;
    }
#endif
    printf("  heap peak:  %zu KiB\n", (kwasm_rt_heap_peak() + 1023) / 1024);
    if (failures) {
        printf("selftest: %d check(s) failed\n", failures);
        return 1;
    }
    printf("selftest: all checks passed\n");
    return 0;
}
