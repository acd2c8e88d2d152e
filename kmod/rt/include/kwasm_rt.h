/* C interface of kwasm-kmod-rt (kmod/rt/src/lib.rs), the Rust side of kwasm's planned kernel module. */
#ifndef KWASM_RT_H
#define KWASM_RT_H

#ifdef __KERNEL__
#include <linux/types.h>
#else
#include <stddef.h>
#include <stdint.h>
#endif

#define KWASM_RT_OK 0
#define KWASM_RT_EBADFUNC (-1)     /* no such test function */
#define KWASM_RT_EINVALID (-2)     /* decoding or validation failed */
#define KWASM_RT_EINSTANTIATE (-3) /* instantiation failed */
#define KWASM_RT_ENOEXPORT (-4)    /* export missing */
#define KWASM_RT_ETRAP (-5)        /* the function trapped */
#define KWASM_RT_EBADRESULT (-6)   /* unexpected result type */
#define KWASM_RT_ENOTIER (-7)      /* the tier is not built into this library */

#define KWASM_RT_FUNC_FAC 0   /* i64 fac(i64 n) = n! (recursive) */
#define KWASM_RT_FUNC_SUMSQ 1 /* i32 sumsq(i32 n) = sum of i*i for i < n through linear memory; traps for n > 16384 */

/* Validates, instantiates and runs one function of the embedded test module with the interpreter.
 * Returns KWASM_RT_OK and stores the result in *result, or a negative KWASM_RT_E* code. Calls must
 * not overlap. */
int kwasm_rt_selftest(uint32_t func, int64_t arg, int64_t *result);

/* JIT tiers (only in a library built with feature "optimizing" and/or "baseline"). */
#define KWASM_RT_TIER_INTERP 0
#define KWASM_RT_TIER_BASELINE 1
#define KWASM_RT_TIER_OPTIMIZING 2

/* Like kwasm_rt_selftest, with the given KWASM_RT_TIER_*: compiles the test module's functions
 * (into memory from kwasm_rt_exec_*) and runs them. KWASM_RT_ENOTIER if the tier is not built in.
 * A Cranelift compile needs about 64 KiB of stack. */
int kwasm_rt_selftest_tier(uint32_t tier, uint32_t func, int64_t arg, int64_t *result);

/* Provided by the host of a library with a JIT tier: len bytes (a multiple of 4096) of page-aligned
 * read + write memory, or NULL; make it read + execute and not writable (W^X: 0 or -errno); free it. */
void *kwasm_rt_exec_alloc(size_t len);
int kwasm_rt_exec_protect(void *ptr, size_t len);
void kwasm_rt_exec_free(void *ptr, size_t len);

/* NUL-terminated description of the last failure (empty after a success). */
const char *kwasm_rt_last_error(void);

/* High-water mark of the runtime's heap arena, in bytes. */
size_t kwasm_rt_heap_peak(void);

/* Provided by the host: called on a Rust panic with its message (not NUL-terminated); must not
 * return. */
void kwasm_rt_abort(const unsigned char *msg, size_t len) __attribute__((noreturn));

#endif
