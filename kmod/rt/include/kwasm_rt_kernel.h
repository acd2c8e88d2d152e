/* Kernel-module API of kwasm-kmod-rt (kmod/rt/src/kernel.rs, feature "kernel"): the runtime's knob
 * table for sysfs, the runtime heap's statistics, and what the glue must provide. Errors are
 * negative errno values. */
#ifndef KWASM_RT_KERNEL_H
#define KWASM_RT_KERNEL_H

#ifdef __KERNEL__
#include <linux/types.h>
#else
#include <stddef.h>
#include <stdint.h>
#endif

/* Number of knobs in the runtime's knob table (runtime/src/knobs.rs). */
uint32_t kwasm_rt_knob_count(void);
/* Copies knob i's name, NUL-terminated, into buf; returns its length, -EINVAL (no such knob) or
 * -ENOSPC (cap too small). */
long kwasm_rt_knob_name(uint32_t i, char *buf, size_t cap);
/* Writes knob i's value followed by '\n' into buf (a number, or a choice name); returns the number
 * of bytes written, -EINVAL or -ENOSPC. Not NUL-terminated. */
long kwasm_rt_knob_show(uint32_t i, char *buf, size_t cap);
/* Parses text (surrounding white space ignored; a number or a choice name) and sets knob i;
 * returns 0, or -EINVAL if the text is not a valid value for the knob. */
int kwasm_rt_knob_store(uint32_t i, const char *text, size_t len);
/* Knob i's raw value (a choice index for choice knobs); ~0 for an invalid i. */
uint64_t kwasm_rt_knob_get(uint32_t i);
/* Resets every knob to its default. */
void kwasm_rt_knobs_reset(void);

/* Runtime heap (through kwasm_kalloc/kwasm_kfree): bytes in use, high-water mark, failed
 * allocations. */
size_t kwasm_rt_kheap_bytes(void);
size_t kwasm_rt_kheap_peak(void);
uint64_t kwasm_rt_kheap_failures(void);
/* Instances alive now / created since load. */
uint64_t kwasm_rt_instances_live(void);
uint64_t kwasm_rt_instances_total(void);

/* Statistics (names and order: runtime/src/kstats.rs). Global counters: their number, counter i's
 * name (NUL-terminated; length, -EINVAL or -ENOSPC), and the array of values (64-bit atomics,
 * valid while the module is loaded). Per store (LOAD'ed program or session): the same for the
 * counters of instances/<id>/; kwasm_rt_instance_stats_get takes a reference to the array of the
 * store in a file's slot (NULL for an empty slot) that stays valid until
 * kwasm_rt_instance_stats_put, also after the store is freed. */
uint32_t kwasm_rt_stat_count(void);
long kwasm_rt_stat_name(uint32_t i, char *buf, size_t cap);
const uint64_t *kwasm_rt_stat_values(void);
uint32_t kwasm_rt_instance_stat_count(void);
long kwasm_rt_instance_stat_name(uint32_t i, char *buf, size_t cap);
const uint64_t *kwasm_rt_instance_stats_get(void *inst);
void kwasm_rt_instance_stats_put(const uint64_t *stats);

/* ioctl cmd on the kernel copy buf[..len] of its argument struct, for the open file whose instance
 * slot is *inst (KWASM_IOC_* of uapi/kwasm.h). Returns >= 0 or -errno. Runs on the module's own
 * stack, with the file's lock held. */
long kwasm_rt_ioctl(void **inst, uint32_t cmd, void *buf, size_t len);
/* Frees what LOAD or SESSION left in a file's slot (NULL: nothing). */
void kwasm_rt_instance_free(void *inst);

/* Host services provided by the glue for the kernel Platform. */
int kwasm_copy_from_user(void *dst, uint64_t user_src, size_t len);
int kwasm_copy_to_user(uint64_t user_dst, const void *src, size_t len);
void *kwasm_fget(int fd);
void kwasm_fput(void *file);
long kwasm_kwrite(void *file, const void *buf, size_t len);
long kwasm_kread(void *file, void *buf, size_t len);
uint64_t kwasm_clock_ns(int realtime);
void kwasm_random(void *buf, size_t len);
int kwasm_check_interrupt(void);

/* Provided by the glue (kwasm_glue.c). kwasm_kalloc returns NULL on failure; align is a power of
 * two; zero != 0 asks for zeroed memory. */
void *kwasm_kalloc(size_t size, size_t align, int zero);
void kwasm_kfree(void *ptr);
/* The fallback for a failed allocation of at most 32 KiB (__GFP_NOFAIL), and the heap_limit
 * test knob (module parameter; 0: none). */
void *kwasm_kalloc_nofail(size_t size, size_t align, int zero);
extern unsigned long kwasm_heap_limit;

#endif
