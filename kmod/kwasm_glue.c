// SPDX-License-Identifier: GPL-2.0
/*
 * kwasm.ko C glue: the parts of the module for which Linux 6.12 has no Rust bindings.
 *
 *  - /dev/kwasm, a misc device (no `miscdevice` Rust abstraction before 6.13). Opening it needs
 *    CAP_SYS_ADMIN, or membership in the group given by the `group` module parameter.
 *  - /sys/kernel/kwasm/: one read/write file per knob of the runtime's knob table (the table
 *    lives in the runtime, kmod/rt, and is reached through kwasm_rt_knob_*), and stats/.
 *  - Allocation and panic helpers for the Rust runtime staticlib (kmod/rt, linked twice: rt.o,
 *    built with SSE, and rt_soft.o, soft-float, API renamed kwasm_rtsoft_*).
 *  - The kernel FPU sections every entry into the SSE runtime runs in (knob fpu_mode: notifier,
 *    bracket), and the choice of runtime per open file (fpu_mode=soft: rt_soft.o, no FPU use).
 *
 * Module init/exit live in kwasm_main.rs (`module!`), which calls kwasm_glue_init/exit.
 */
#include <linux/atomic.h>
#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/execmem.h>
#include <linux/fs.h>
#include <linux/kobject.h>
#include <linux/log2.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/objtool.h>
#include <linux/percpu.h>
#include <linux/preempt.h>
#include <linux/random.h>
#include <linux/sched/signal.h>
#include <linux/timekeeping.h>
#include <linux/vmalloc.h>
#include <linux/file.h>
#include <linux/slab.h>
#include <linux/sysfs.h>
#include <linux/uaccess.h>

#include <asm/cpufeature.h>
#include <asm/set_memory.h>
#include <asm/fpu/api.h>
#include <asm/fpu/types.h>
#include <asm/fpu/xcr.h>

#include "kwasm_rt.h"
#include "kwasm_rt_kernel.h"

/* The interface between this file and kwasm_main.rs. */
int kwasm_glue_init(void);                          /* C, called by the Rust module init */
void kwasm_glue_exit(void);                         /* C, called by the Rust module drop */
long kwasm_rs_ioctl(void **inst, unsigned int cmd, unsigned long arg); /* Rust */
long kwasm_glue_rt_ioctl(void **inst, uint32_t cmd, void *buf, size_t len); /* C, called by Rust */

/* ---- module parameter ------------------------------------------------------------------------ */

static int group = -1;
module_param(group, int, 0444);
MODULE_PARM_DESC(group,
		 "Group id (in the initial user namespace) whose members may open /dev/kwasm; -1 (default): CAP_SYS_ADMIN only");

/* ---- statistics ------------------------------------------------------------------------------ */

static atomic64_t stat_opens = ATOMIC64_INIT(0);
static atomic64_t stat_open_denied = ATOMIC64_INIT(0);
static atomic64_t stat_ioctls = ATOMIC64_INIT(0);
static atomic64_t stat_knob_writes = ATOMIC64_INIT(0);
static atomic64_t stat_knob_rejected = ATOMIC64_INIT(0);
static atomic_t stat_open_files = ATOMIC_INIT(0);
static atomic_long_t stat_stack_peak = ATOMIC_LONG_INIT(0);

/* ---- allocator and panic helpers for the Rust runtime ---------------------------------------- */

/*
 * Memory for the runtime's global allocator. kvmalloc: kmalloc for small blocks, vmalloc when
 * physically contiguous pages are not available. Failure returns NULL (no warning: a wasm module
 * can ask for a lot), which the runtime turns into a clean error where it can: linear memory and
 * table growth use try_reserve, so memory.grow returns -1. kvmalloc refuses more than INT_MAX bytes.
 * Alignment: kmalloc gives 8 bytes; power-of-two sizes up to KMALLOC_MAX_CACHE_SIZE are naturally
 * aligned; larger blocks (page allocator or vmalloc) are page aligned. So a larger alignment is
 * met by rounding the size up; alignments above a page are refused.
 */
void *kwasm_kalloc(size_t size, size_t align, int zero)
{
	gfp_t gfp = GFP_KERNEL_ACCOUNT | __GFP_NOWARN | (zero ? __GFP_ZERO : 0);

	if (align > PAGE_SIZE || size == 0 || size > INT_MAX)
		return NULL;
	/* Big blocks (linear memories, tables) may fail, but must not call the OOM killer. */
	if (size > 16 * PAGE_SIZE)
		gfp |= __GFP_RETRY_MAYFAIL;
	if (align > ARCH_KMALLOC_MINALIGN) {
		size = max(size, align);
		if (size <= KMALLOC_MAX_CACHE_SIZE)
			size = roundup_pow_of_two(size);
	}
	return kvmalloc(size, gfp);
}

void kwasm_kfree(void *ptr)
{
	kvfree(ptr);
}

/*
 * The runtime's fallback when a small allocation (at most PAGE_ALLOC_COSTLY_ORDER, 32 KiB:
 * KWASM_NOFAIL_MAX in kmod/rt/src/kernel.rs) failed: __GFP_NOFAIL, the kernel's own answer for allocations whose
 * caller cannot handle failure. Small requests "never fail" for a normal task; they do fail for an
 * OOM victim, a task with a fatal signal charging a memcg at its limit, or under fault injection,
 * and then NOFAIL may use the memory reserves. The runtime sees memory instead of a panic (BUG());
 * the task, if it is dying, stops at its next fuel slice. The page allocator warns about NOFAIL only
 * above the costly order, so this never warns.
 */
void *kwasm_kalloc_nofail(size_t size, size_t align, int zero)
{
	gfp_t gfp = GFP_KERNEL_ACCOUNT | __GFP_NOFAIL | (zero ? __GFP_ZERO : 0);

	if (align > ARCH_KMALLOC_MINALIGN)
		size = roundup_pow_of_two(max(size, align));
	if (size == 0 || size > (PAGE_SIZE << PAGE_ALLOC_COSTLY_ORDER) || align > PAGE_SIZE)
		return NULL;
	return kmalloc(size, gfp);
}

/*
 * Fault injection for the runtime heap (vm-test): with heap_limit > 0, a runtime allocation that
 * would take the runtime's heap (stats/heap_bytes) past it fails as if the kernel had refused it.
 */
unsigned long kwasm_heap_limit;
module_param_named(heap_limit, kwasm_heap_limit, ulong, 0644);
MODULE_PARM_DESC(heap_limit,
		 "Test knob: runtime allocations that would exceed this many bytes of runtime heap fail (0: no limit)");

/*
 * A Rust panic inside the runtime is a kwasm bug: report it and BUG(), which kills the calling
 * task with an oops (the kernel keeps running unless panic_on_oops is set).
 */
void kwasm_rt_abort(const unsigned char *msg, size_t len)
{
	pr_emerg("kwasm: runtime panic: %.*s\n", (int)min_t(size_t, len, 1024), msg);
	BUG();
}

/* ---- host services for the runtime's kernel Platform (kmod/rt/src/kernel.rs) ----------------- */

int kwasm_copy_from_user(void *dst, u64 src, size_t len)
{
	return copy_from_user(dst, u64_to_user_ptr(src), len) ? -EFAULT : 0;
}

int kwasm_copy_to_user(u64 dst, const void *src, size_t len)
{
	return copy_to_user(u64_to_user_ptr(dst), src, len) ? -EFAULT : 0;
}

static const struct file_operations kwasm_fops;

/*
 * A reference to the caller's open file `fd`, or NULL. A /dev/kwasm file is refused: the
 * instance would hold a reference to the file that owns it, a cycle that is never released.
 */
void *kwasm_fget(int fd)
{
	struct file *file = fd < 0 ? NULL : fget(fd);

	if (file && file->f_op == &kwasm_fops) {
		fput(file);
		return NULL;
	}
	return file;
}

void kwasm_fput(void *file)
{
	if (file)
		fput(file);
}

/* Writes/reads at the file position (none for streams); returns bytes or -errno. */
long kwasm_kwrite(void *f, const void *buf, size_t len)
{
	struct file *file = f;
	loff_t pos = file->f_pos;
	ssize_t n;

	if (!(file->f_mode & FMODE_WRITE))
		return -EBADF;
	n = kernel_write(file, buf, len, (file->f_mode & FMODE_STREAM) ? NULL : &pos);
	if (n > 0 && !(file->f_mode & FMODE_STREAM))
		file->f_pos = pos;
	return n;
}

long kwasm_kread(void *f, void *buf, size_t len)
{
	struct file *file = f;
	loff_t pos = file->f_pos;
	ssize_t n;

	if (!(file->f_mode & FMODE_READ))
		return -EBADF;
	n = kernel_read(file, buf, len, (file->f_mode & FMODE_STREAM) ? NULL : &pos);
	if (n > 0 && !(file->f_mode & FMODE_STREAM))
		file->f_pos = pos;
	return n;
}

u64 kwasm_clock_ns(int realtime)
{
	return realtime ? ktime_get_real_ns() : ktime_get_ns();
}

void kwasm_random(void *buf, size_t len)
{
	get_random_bytes(buf, len);
}

/* Between fuel slices: 1 = stop (a fatal signal is pending), else yield if asked to. */
int kwasm_check_interrupt(void)
{
	if (fatal_signal_pending(current))
		return 1;
	cond_resched();
	return 0;
}

/* ---- FPU sections for the SSE runtime (knob fpu_mode) ---------------------------------------- */

/*
 * rt.o is built with SSE (kmod/rt/x86_64-kwasm_sse-none.json): its float arithmetic, and
 * compiler_builtins' memcpy, use XMM registers and MXCSR. The kernel saves a task's user FPU
 * state only around kernel_fpu_begin/end, so every entry into rt.o runs inside a kernel FPU
 * section (struct kwasm_fpu), opened by kwasm_fpu_enter and closed by kwasm_fpu_leave:
 *
 *  - bracket: kernel_fpu_begin_mask()/kernel_fpu_end(): preemption is off inside. The section
 *    is ended and begun again at every fuel-slice boundary (kwasm_fpu_check_interrupt: the task
 *    may be preempted or migrate there, and a fatal signal is seen) and around every glue call
 *    that may sleep. Registers do not survive the gap; none is live there (see below).
 *  - notifier: the section stays open while wasm runs preemptibly; a preempt notifier saves the
 *    registers (XSAVE into kwasm_fpu.xsave) and ends the section when the task is switched out,
 *    and begins it again on whatever CPU the task resumes on and restores them (XRSTOR). The exact
 *    sequence, and why it works on 6.12's FPU code, is in kmod/README.md ("FPU").
 *
 * In both modes rt.o's calls into the glue that may sleep, fault or use the FPU themselves go
 * through the kwasm_fpu_* wrappers below (cargo xtask kmod renames rt.o's undefined symbols to
 * them and fails if one is missing): the section is suspended around the call. That is safe
 * without saving anything: XMM registers are caller-saved in the C ABI, so no float value is live
 * across the call, and resuming reloads the default MXCSR and x87 control word that Rust code
 * expects. The per-CPU pointer kwasm_fpu_cur names the section open on this CPU (it moves with
 * the task in notifier mode), so that a wrapper finds it without an argument.
 *
 * rt_soft.o (fpu_mode=soft) never touches FPU registers and runs without any of this.
 */
enum kwasm_fpu_mode { KWASM_FPU_NOTIFIER, KWASM_FPU_BRACKET, KWASM_FPU_SOFT, KWASM_FPU_MODES };
/* The knob's value names, in runtime/src/knobs.rs FPU_MODES order (checked at init). */
static const char *const kwasm_fpu_mode_names[KWASM_FPU_MODES] = { "notifier", "bracket", "soft" };

/* XSAVE components the runtime (and later JIT code) may use: x87, SSE, AVX (standard format). */
#define KWASM_XSAVE_FEATURES (XFEATURE_MASK_FP | XFEATURE_MASK_SSE | XFEATURE_MASK_YMM)
/* Legacy area (512) + XSAVE header (64) + AVX upper halves (256), rounded up. */
#define KWASM_XSAVE_SIZE 1024

struct kwasm_fpu {
	/* notifier mode: KWASM_XSAVE_SIZE bytes, 64-byte aligned, standard-format XSAVE area (or
	 * FXSAVE without XSAVE), zeroed before first use: XRSTOR faults on a header with reserved
	 * bits set. Kernel memory only. */
	u8 *xsave;
	struct preempt_notifier pn;
	enum kwasm_fpu_mode mode;
	/* This section holds the CPU's kernel FPU claim (changed only with preemption off). */
	bool owned;
	/* CPU of the last sched_out (to count migrations). */
	int cpu;
};

static DEFINE_PER_CPU(struct kwasm_fpu *, kwasm_fpu_cur);
static u64 kwasm_xsave_mask; /* 0: no XSAVE, use FXSAVE (x87 + SSE only) */
static bool kwasm_preempt_notifiers_on;
static u32 kwasm_fpu_mode_knob = U32_MAX; /* index of fpu_mode in the knob table */

static atomic64_t stat_fpu_sections = ATOMIC64_INIT(0);
static atomic64_t stat_fpu_suspends = ATOMIC64_INIT(0);
static atomic64_t stat_fpu_slices = ATOMIC64_INIT(0);
static atomic64_t stat_fpu_sched_out = ATOMIC64_INIT(0);
static atomic64_t stat_fpu_migrations = ATOMIC64_INIT(0);

static void kwasm_fpu_save(struct kwasm_fpu *f)
{
	if (kwasm_xsave_mask)
		asm volatile("xsave64 %0"
			     : "+m"(*(u8(*)[KWASM_XSAVE_SIZE])f->xsave)
			     : "a"((u32)kwasm_xsave_mask), "d"((u32)(kwasm_xsave_mask >> 32))
			     : "memory");
	else
		asm volatile("fxsave64 %0" : "+m"(*(u8(*)[KWASM_XSAVE_SIZE])f->xsave) : : "memory");
}

static void kwasm_fpu_restore(struct kwasm_fpu *f)
{
	if (kwasm_xsave_mask)
		asm volatile("xrstor64 %0"
			     :
			     : "m"(*(u8(*)[KWASM_XSAVE_SIZE])f->xsave), "a"((u32)kwasm_xsave_mask), "d"((u32)(kwasm_xsave_mask >> 32))
			     : "memory");
	else
		asm volatile("fxrstor64 %0" : : "m"(*(u8(*)[KWASM_XSAVE_SIZE])f->xsave) : "memory");
}

/*
 * Switched out (irqs off, runqueue locked, preemption off): keep the wasm registers and give the
 * CPU's FPU claim back. The task's TIF_NEED_FPU_LOAD is set (kernel_fpu_begin saved the user
 * state), so switch_fpu_prepare will not save these registers over the user state.
 */
static void kwasm_fpu_sched_out(struct preempt_notifier *pn, struct task_struct *next)
{
	struct kwasm_fpu *f = container_of(pn, struct kwasm_fpu, pn);

	if (!f->owned)
		return;
	WARN_ON_ONCE(!test_thread_flag(TIF_NEED_FPU_LOAD));
	kwasm_fpu_save(f);
	f->cpu = smp_processor_id();
	this_cpu_write(kwasm_fpu_cur, NULL);
	/* kernel_fpu_end's preempt_enable must not reach zero inside the scheduler. */
	preempt_disable();
	kernel_fpu_end();
	atomic64_inc(&stat_fpu_sched_out);
}

/* Switched in (irqs on, preemption off), maybe on another CPU: claim its FPU and reload. */
static void kwasm_fpu_sched_in(struct preempt_notifier *pn, int cpu)
{
	struct kwasm_fpu *f = container_of(pn, struct kwasm_fpu, pn);

	if (!f->owned)
		return;
	/* Saves nothing (TIF_NEED_FPU_LOAD is set), invalidates the CPU's register owner cache. */
	kernel_fpu_begin_mask(0);
	kwasm_fpu_restore(f);
	WARN_ON_ONCE(this_cpu_read(kwasm_fpu_cur));
	this_cpu_write(kwasm_fpu_cur, f);
	if (cpu != f->cpu)
		atomic64_inc(&stat_fpu_migrations);
	/* Undo kernel_fpu_begin's preempt_disable (the scheduler's own count keeps this from
	 * rescheduling here): the section stays open, preemptible. */
	preempt_enable();
}

static struct preempt_ops kwasm_fpu_preempt_ops = {
	.sched_in = kwasm_fpu_sched_in,
	.sched_out = kwasm_fpu_sched_out,
};

/* Opens the section (preemptible afterwards in notifier mode, not in bracket mode). */
static void kwasm_fpu_enter(struct kwasm_fpu *f, enum kwasm_fpu_mode mode)
{
	f->mode = mode;
	f->owned = false;
	if (WARN_ON_ONCE(mode == KWASM_FPU_NOTIFIER && (!f->xsave || !kwasm_preempt_notifiers_on)))
		f->mode = KWASM_FPU_BRACKET;
	kernel_fpu_begin_mask(KFPU_387 | KFPU_MXCSR);
	WARN_ON_ONCE(this_cpu_read(kwasm_fpu_cur));
	f->owned = true;
	this_cpu_write(kwasm_fpu_cur, f);
	atomic64_inc(&stat_fpu_sections);
	if (f->mode == KWASM_FPU_NOTIFIER) {
		preempt_notifier_init(&f->pn, &kwasm_fpu_preempt_ops);
		preempt_notifier_register(&f->pn);
		preempt_enable();
	}
}

/* Ends the CPU's claim if this section holds it. Preemption must be off. */
static void kwasm_fpu_release_claim(struct kwasm_fpu *f)
{
	if (!f->owned)
		return;
	this_cpu_write(kwasm_fpu_cur, NULL);
	f->owned = false;
	/* In notifier mode the section runs preemptible: give kernel_fpu_end a count to drop. */
	if (f->mode == KWASM_FPU_NOTIFIER)
		preempt_disable();
	kernel_fpu_end();
}

static void kwasm_fpu_leave(struct kwasm_fpu *f)
{
	preempt_disable();
	kwasm_fpu_release_claim(f);
	if (f->mode == KWASM_FPU_NOTIFIER)
		preempt_notifier_unregister(&f->pn);
	preempt_enable();
}

/* Suspends the section open on this CPU, if any (before a glue call that may sleep). Also used
 * by kwasm_wasi.c's wrappers. */
struct kwasm_fpu *kwasm_fpu_suspend(void);
struct kwasm_fpu *kwasm_fpu_suspend(void)
{
	struct kwasm_fpu *f;

	preempt_disable();
	f = this_cpu_read(kwasm_fpu_cur);
	if (f) {
		kwasm_fpu_release_claim(f);
		atomic64_inc(&stat_fpu_suspends);
	}
	preempt_enable();
	return f;
}

/* Opens the section again after the call, on whatever CPU we are on now. */
void kwasm_fpu_resume(struct kwasm_fpu *f);
void kwasm_fpu_resume(struct kwasm_fpu *f)
{
	if (!f)
		return;
	kernel_fpu_begin_mask(KFPU_387 | KFPU_MXCSR);
	f->owned = true;
	this_cpu_write(kwasm_fpu_cur, f);
	if (f->mode == KWASM_FPU_NOTIFIER)
		preempt_enable();
}

/*
 * The wrappers rt.o (SSE) calls instead of the glue functions above: the section is suspended
 * around the call. Names: kwasm_fpu_<name> for kwasm_<name> (cargo xtask kmod checks that each
 * exists). kwasm_clock_ns and kwasm_random are called directly (no sleep, no FPU). The wrappers
 * of kwasm_wasi.c's functions are at the end of that file.
 */
#define KWASM_FPU_HOST_CALL(ret, wrapper, fn, params, args)        \
	ret wrapper params;                                        \
	ret wrapper params                                         \
	{                                                          \
		struct kwasm_fpu *fpu__ = kwasm_fpu_suspend();    \
		ret r = fn args;                                   \
		kwasm_fpu_resume(fpu__);                           \
		return r;                                          \
	}
#define KWASM_FPU_HOST_CALL_VOID(wrapper, fn, params, args)        \
	void wrapper params;                                       \
	void wrapper params                                        \
	{                                                          \
		struct kwasm_fpu *fpu__ = kwasm_fpu_suspend();    \
		fn args;                                           \
		kwasm_fpu_resume(fpu__);                           \
	}

KWASM_FPU_HOST_CALL(void *, kwasm_fpu_kalloc, kwasm_kalloc, (size_t size, size_t align, int zero),
		    (size, align, zero))
KWASM_FPU_HOST_CALL(void *, kwasm_fpu_kalloc_nofail, kwasm_kalloc_nofail,
		    (size_t size, size_t align, int zero), (size, align, zero))
KWASM_FPU_HOST_CALL_VOID(kwasm_fpu_kfree, kwasm_kfree, (void *ptr), (ptr))
KWASM_FPU_HOST_CALL(int, kwasm_fpu_copy_from_user, kwasm_copy_from_user,
		    (void *dst, u64 src, size_t len), (dst, src, len))
KWASM_FPU_HOST_CALL(int, kwasm_fpu_copy_to_user, kwasm_copy_to_user,
		    (u64 dst, const void *src, size_t len), (dst, src, len))
KWASM_FPU_HOST_CALL(void *, kwasm_fpu_fget, kwasm_fget, (int fd), (fd))
KWASM_FPU_HOST_CALL_VOID(kwasm_fpu_fput, kwasm_fput, (void *file), (file))
KWASM_FPU_HOST_CALL(long, kwasm_fpu_kwrite, kwasm_kwrite, (void *f, const void *buf, size_t len),
		    (f, buf, len))
KWASM_FPU_HOST_CALL(long, kwasm_fpu_kread, kwasm_kread, (void *f, void *buf, size_t len),
		    (f, buf, len))

/* ---- executable memory for the JIT tiers (rt built with features optimizing/baseline) -------- */
#ifdef KWASM_JIT

/*
 * W^X through the three functions our kernel patch exports (patches/0001-export-execmem-for-jit,
 * the primitives the BPF JIT uses): RW + NX memory in the module area, filled with int3; once the
 * code is written, read-only + executable (set_memory_rox also fixes the direct-map alias); freed
 * with its permissions reset (VM_FLUSH_RESET_PERMS). All three may sleep, so rt.o (SSE) reaches
 * them through the kwasm_fpu_rt_exec_* wrappers below, outside its FPU section.
 */
void *kwasm_rt_exec_alloc(size_t len)
{
	void *p;

	if (!len || !PAGE_ALIGNED(len))
		return NULL;
	p = execmem_alloc(EXECMEM_DEFAULT, len);
	if (p)
		memset(p, 0xcc, len);
	return p;
}

int kwasm_rt_exec_protect(void *ptr, size_t len)
{
	if (!PAGE_ALIGNED(ptr) || !len || !PAGE_ALIGNED(len))
		return -EINVAL;
	return set_memory_rox((unsigned long)ptr, len >> PAGE_SHIFT);
}

void kwasm_rt_exec_free(void *ptr, size_t len)
{
	(void)len;
	execmem_free(ptr);
}

KWASM_FPU_HOST_CALL(void *, kwasm_fpu_rt_exec_alloc, kwasm_rt_exec_alloc, (size_t len), (len))
KWASM_FPU_HOST_CALL(int, kwasm_fpu_rt_exec_protect, kwasm_rt_exec_protect, (void *ptr, size_t len), (ptr, len))
KWASM_FPU_HOST_CALL_VOID(kwasm_fpu_rt_exec_free, kwasm_rt_exec_free, (void *ptr, size_t len), (ptr, len))
#endif /* KWASM_JIT */

/* A runtime panic: leave the section, so that BUG() does not oops with preemption off. */
void __noreturn kwasm_fpu_rt_abort(const unsigned char *msg, size_t len);
void __noreturn kwasm_fpu_rt_abort(const unsigned char *msg, size_t len)
{
	kwasm_fpu_suspend();
	kwasm_rt_abort(msg, len);
}

/*
 * Between fuel slices. notifier: the section stays open (preemption is on; nothing to do but
 * the signal check). bracket: end the section, which is where a pending reschedule happens
 * (preempt_enable; under full PREEMPT cond_resched is a no-op), then begin it again.
 */
int kwasm_fpu_check_interrupt(void);
int kwasm_fpu_check_interrupt(void)
{
	struct kwasm_fpu *f;
	int stop;

	preempt_disable();
	f = this_cpu_read(kwasm_fpu_cur);
	preempt_enable();
	if (!f || f->mode == KWASM_FPU_NOTIFIER)
		return kwasm_check_interrupt();
	atomic64_inc(&stat_fpu_slices);
	f = kwasm_fpu_suspend();
	stop = kwasm_check_interrupt();
	kwasm_fpu_resume(f);
	return stop;
}

/* ---- the two runtimes --------------------------------------------------------------------------- */

/* rt_soft.o's API: rt.o's, renamed by cargo xtask kmod. */
#define KWASM_RTSOFT(fn) extern typeof(kwasm_rt_##fn) kwasm_rtsoft_##fn
KWASM_RTSOFT(knob_count);
KWASM_RTSOFT(knob_name);
KWASM_RTSOFT(knob_show);
KWASM_RTSOFT(knob_store);
KWASM_RTSOFT(knob_get);
KWASM_RTSOFT(knobs_reset);
KWASM_RTSOFT(kheap_bytes);
KWASM_RTSOFT(kheap_peak);
KWASM_RTSOFT(kheap_failures);
KWASM_RTSOFT(instances_live);
KWASM_RTSOFT(instances_total);
KWASM_RTSOFT(ioctl);
KWASM_RTSOFT(instance_free);
KWASM_RTSOFT(stat_count);
KWASM_RTSOFT(stat_name);
KWASM_RTSOFT(stat_values);
KWASM_RTSOFT(instance_stat_count);
KWASM_RTSOFT(instance_stat_name);
KWASM_RTSOFT(instance_stats_get);
KWASM_RTSOFT(instance_stats_put);

/* What a file's state is made by and must be used with. */
struct kwasm_rt {
	bool sse;
	long (*ioctl)(void **inst, uint32_t cmd, void *buf, size_t len);
	void (*instance_free)(void *inst);
	const uint64_t *(*instance_stats_get)(void *inst);
	void (*instance_stats_put)(const uint64_t *stats);
};

static const struct kwasm_rt kwasm_rt_sse = {
	.sse = true,
	.ioctl = kwasm_rt_ioctl,
	.instance_free = kwasm_rt_instance_free,
	.instance_stats_get = kwasm_rt_instance_stats_get,
	.instance_stats_put = kwasm_rt_instance_stats_put,
};
static const struct kwasm_rt kwasm_rt_soft = {
	.sse = false,
	.ioctl = kwasm_rtsoft_ioctl,
	.instance_free = kwasm_rtsoft_instance_free,
	.instance_stats_get = kwasm_rtsoft_instance_stats_get,
	.instance_stats_put = kwasm_rtsoft_instance_stats_put,
};

/*
 * Every call from here into rt.o goes through kwasm_sse_call: rt.o's SSE code assumes the C ABI's
 * 16-byte stack alignment at calls (it keeps XMM values in stack slots with movaps), but kernel
 * C code is built with -mpreferred-stack-boundary=3 and keeps only 8. So the stack is aligned
 * here, and fn(a, b, c, d) called (every rt.o entry takes at most four integer arguments; the
 * result is rax).
 */
static noinline unsigned long kwasm_sse_call(const void *fn, unsigned long a, unsigned long b,
					     unsigned long c, unsigned long d)
{
	unsigned long ret;

	asm volatile("movq %%rsp, %%rbx\n\t"
		     "andq $-16, %%rsp\n\t"
		     "call *%%rax\n\t"
		     "movq %%rbx, %%rsp\n\t"
		     : "=a"(ret), "+D"(a), "+S"(b), "+d"(c), "+c"(d)
		     : "a"(fn)
		     : "rbx", "r8", "r9", "r10", "r11", "memory", "cc");
	return ret;
}
/* objtool cannot follow the realigned stack pointer. */
STACK_FRAME_NON_STANDARD(kwasm_sse_call);

#define KWASM_SSE4(fn, a, b, c, d)                                                           \
	kwasm_sse_call((const void *)(fn), (unsigned long)(a), (unsigned long)(b),            \
		       (unsigned long)(c), (unsigned long)(d))

/*
 * Short calls into rt.o outside an ioctl (sysfs, init, exit, release): fn(args...) in a bracket
 * section on the caller's stack, through kwasm_sse_call; the result converted to ret.
 */
#define KWASM_SSE_CALL(ret, fn, a, b, c, d)                            \
	({                                                             \
		struct kwasm_fpu __f = {};                             \
		unsigned long __r;                                     \
		kwasm_fpu_enter(&__f, KWASM_FPU_BRACKET);              \
		__r = KWASM_SSE4(fn, a, b, c, d);                      \
		kwasm_fpu_leave(&__f);                                 \
		(ret) __r;                                             \
	})

/* The FPU mode runs started now get (the fpu_mode knob, read from rt_soft.o: no FPU needed). */
static enum kwasm_fpu_mode kwasm_fpu_mode_now(void)
{
	u64 v = kwasm_fpu_mode_knob == U32_MAX ? KWASM_FPU_BRACKET : kwasm_rtsoft_knob_get(kwasm_fpu_mode_knob);

	return v < KWASM_FPU_MODES ? v : KWASM_FPU_BRACKET;
}

/* ---- statistics: /sys/kernel/kwasm/stats/<counter>, /sys/kernel/kwasm/instances/<id>/ ---------- */

/*
 * The runtime counts (kmod/rt/src/stats.rs; names and order from runtime/src/kstats.rs) into
 * arrays of 64-bit atomics that stay valid while read here without a lock: a global array per
 * runtime (the two are summed), and one array per store (a LOAD'ed program or a session), shared
 * by reference count, that outlives the store until its directory is gone. A file's directory is
 * created after the ioctl that gave it state and removed when the state goes (RELEASE, close).
 */
#define KWASM_STAT_NAME_MAX 64

struct kwasm_stat_attr {
	struct kobj_attribute attr;
	u32 index;
	char name[KWASM_STAT_NAME_MAX];
};

static const u64 *rt_stat_values_sse, *rt_stat_values_soft;
static struct kwasm_stat_attr *rt_stat_attrs, *inst_stat_attrs;
static struct attribute **rt_stat_attr_list, **inst_stat_attr_list;
static struct attribute_group rt_stat_group = { .name = "stats" };
static struct attribute_group inst_stat_group;
static const struct attribute_group *inst_stat_groups[] = { &inst_stat_group, NULL };
static bool rt_stat_group_merged;
static struct kobject *kwasm_kobj; /* /sys/kernel/kwasm (see "/sys/kernel/kwasm" below) */
static struct kobject *kwasm_instances_kobj;
static atomic64_t kwasm_inst_next_id = ATOMIC64_INIT(0);
static u32 inst_stat_pid = U32_MAX; /* index of "pid", written here (the runtime leaves it 0) */

struct kwasm_inst_dir {
	struct kobject kobj;
	const struct kwasm_rt *rt;
	const u64 *stats;
};

static ssize_t rt_stat_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	struct kwasm_stat_attr *sa = container_of(attr, struct kwasm_stat_attr, attr);

	return sysfs_emit(buf, "%llu\n", READ_ONCE(rt_stat_values_soft[sa->index]) +
						READ_ONCE(rt_stat_values_sse[sa->index]));
}

static ssize_t inst_stat_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	struct kwasm_stat_attr *sa = container_of(attr, struct kwasm_stat_attr, attr);
	struct kwasm_inst_dir *d = container_of(kobj, struct kwasm_inst_dir, kobj);

	return sysfs_emit(buf, "%llu\n", READ_ONCE(d->stats[sa->index]));
}

/* The last reference to a directory is gone (no show can run): drop the runtime's counters. */
static void kwasm_inst_dir_release(struct kobject *kobj)
{
	struct kwasm_inst_dir *d = container_of(kobj, struct kwasm_inst_dir, kobj);

	if (d->rt->sse)
		KWASM_SSE_CALL(long, d->rt->instance_stats_put, d->stats, 0, 0, 0);
	else
		d->rt->instance_stats_put(d->stats);
	kfree(d);
}

static const struct kobj_type kwasm_inst_ktype = {
	.release = kwasm_inst_dir_release,
	.sysfs_ops = &kobj_sysfs_ops,
	.default_groups = inst_stat_groups,
};

/* One attribute per name, names from the (soft) runtime: attrs/list sized n (+ NULL). */
static int kwasm_stat_attrs(u32 n, long (*name)(uint32_t, char *, size_t),
			    ssize_t (*show)(struct kobject *, struct kobj_attribute *, char *),
			    struct kwasm_stat_attr **attrs, struct attribute ***list)
{
	u32 i;

	*attrs = kcalloc(n, sizeof(**attrs), GFP_KERNEL);
	*list = kcalloc(n + 1, sizeof(**list), GFP_KERNEL);
	if (!*attrs || !*list)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		struct kwasm_stat_attr *sa = &(*attrs)[i];

		if (name(i, sa->name, sizeof(sa->name)) <= 0)
			return -EINVAL;
		sa->index = i;
		sysfs_attr_init(&sa->attr.attr);
		sa->attr.attr.name = sa->name;
		sa->attr.attr.mode = 0444;
		sa->attr.show = show;
		(*list)[i] = &sa->attr.attr;
	}
	return 0;
}

static void kwasm_stats_exit(void)
{
	if (kwasm_instances_kobj)
		kobject_put(kwasm_instances_kobj);
	kwasm_instances_kobj = NULL;
	if (rt_stat_group_merged)
		sysfs_unmerge_group(kwasm_kobj, &rt_stat_group);
	rt_stat_group_merged = false;
	kfree(rt_stat_attrs);
	kfree(rt_stat_attr_list);
	kfree(inst_stat_attrs);
	kfree(inst_stat_attr_list);
	rt_stat_attrs = inst_stat_attrs = NULL;
	rt_stat_attr_list = inst_stat_attr_list = NULL;
}

/* After kwasm_sysfs_init: the runtime's counters merged into stats/, and instances/. */
static int kwasm_stats_init(void)
{
	u32 i, n = kwasm_rtsoft_instance_stat_count();
	int err;

	rt_stat_values_soft = kwasm_rtsoft_stat_values();
	rt_stat_values_sse = KWASM_SSE_CALL(const u64 *, kwasm_rt_stat_values, 0, 0, 0, 0);
	err = kwasm_stat_attrs(kwasm_rtsoft_stat_count(), kwasm_rtsoft_stat_name, rt_stat_show,
			       &rt_stat_attrs, &rt_stat_attr_list);
	if (!err)
		err = kwasm_stat_attrs(n, kwasm_rtsoft_instance_stat_name, inst_stat_show,
				       &inst_stat_attrs, &inst_stat_attr_list);
	if (err)
		goto fail;
	for (i = 0; i < n; i++)
		if (!strcmp(inst_stat_attrs[i].name, "pid"))
			inst_stat_pid = i;
	rt_stat_group.attrs = rt_stat_attr_list;
	inst_stat_group.attrs = inst_stat_attr_list;
	err = sysfs_merge_group(kwasm_kobj, &rt_stat_group);
	if (err)
		goto fail;
	rt_stat_group_merged = true;
	kwasm_instances_kobj = kobject_create_and_add("instances", kwasm_kobj);
	if (!kwasm_instances_kobj) {
		err = -ENOMEM;
		goto fail;
	}
	return 0;
fail:
	kwasm_stats_exit();
	return err;
}

/* ---- /dev/kwasm ------------------------------------------------------------------------------ */

static bool kwasm_may_open(void)
{
	if (capable(CAP_SYS_ADMIN))
		return true;
	if (group >= 0) {
		kgid_t gid = make_kgid(&init_user_ns, (gid_t)group);

		if (gid_valid(gid) && in_group_p(gid))
			return true;
	}
	return false;
}

/* Per open file: at most one loaded instance (owned by the runtime), ioctls serialized. */
struct kwasm_file {
	struct mutex lock;
	void *inst;
	/* The runtime that made inst, and the FPU mode of its calls: chosen by fpu_mode while the
	 * file has no state (so a LOAD or SESSION keeps the mode current at its start). */
	const struct kwasm_rt *rt;
	enum kwasm_fpu_mode fpu_mode;
	/* The running ioctl's FPU section (above its stack, see kwasm_ioctl). */
	struct kwasm_fpu *fpu;
	/* /sys/kernel/kwasm/instances/<id>/ while the file has state (see "statistics"). */
	struct kwasm_inst_dir *dir;
};

/* After an ioctl: a directory for a file that got state, none for one that lost it. Failing to
 * create one is not an error of the ioctl (the counters are statistics); it is retried next time. */
static void kwasm_inst_dir_sync(struct kwasm_file *kf)
{
	struct kwasm_inst_dir *d;
	const u64 *stats;

	if (!kf->inst && kf->dir) {
		kobject_del(&kf->dir->kobj);
		kobject_put(&kf->dir->kobj);
		kf->dir = NULL;
	}
	if (!kf->inst || kf->dir || !kwasm_instances_kobj)
		return;
	stats = kf->rt->sse ? KWASM_SSE_CALL(const u64 *, kf->rt->instance_stats_get, kf->inst, 0, 0, 0)
			    : kf->rt->instance_stats_get(kf->inst);
	if (!stats)
		return;
	if (inst_stat_pid != U32_MAX)
		WRITE_ONCE(*(u64 *)&stats[inst_stat_pid], task_tgid_nr(current));
	d = kzalloc(sizeof(*d), GFP_KERNEL_ACCOUNT);
	if (!d) {
		if (kf->rt->sse)
			KWASM_SSE_CALL(long, kf->rt->instance_stats_put, stats, 0, 0, 0);
		else
			kf->rt->instance_stats_put(stats);
		return;
	}
	d->rt = kf->rt;
	d->stats = stats;
	if (kobject_init_and_add(&d->kobj, &kwasm_inst_ktype, kwasm_instances_kobj, "%lld",
				 (long long)atomic64_inc_return(&kwasm_inst_next_id))) {
		kobject_put(&d->kobj); /* releases d and the counters */
		return;
	}
	kf->dir = d;
}

static void kwasm_inst_dir_drop(struct kwasm_file *kf)
{
	if (kf->dir) {
		kobject_del(&kf->dir->kobj);
		kobject_put(&kf->dir->kobj);
		kf->dir = NULL;
	}
}

static int kwasm_open(struct inode *inode, struct file *file)
{
	struct kwasm_file *kf;

	if (!kwasm_may_open()) {
		atomic64_inc(&stat_open_denied);
		return -EPERM;
	}
	kf = kzalloc(sizeof(*kf), GFP_KERNEL_ACCOUNT);
	if (!kf)
		return -ENOMEM;
	mutex_init(&kf->lock);
	file->private_data = kf;
	atomic64_inc(&stat_opens);
	atomic_inc(&stat_open_files);
	return 0;
}

static int kwasm_release(struct inode *inode, struct file *file)
{
	struct kwasm_file *kf = file->private_data;

	/* Last reference: no ioctl can be running. */
	kwasm_inst_dir_drop(kf);
	if (kf->inst && kf->rt->sse)
		KWASM_SSE_CALL(long, kf->rt->instance_free, kf->inst, 0, 0, 0);
	else if (kf->inst)
		kf->rt->instance_free(kf->inst);
	mutex_destroy(&kf->lock);
	kfree(kf);
	atomic_dec(&stat_open_files);
	return 0;
}

/*
 * The runtime (validation, instantiation, the interpreter, WASI) runs on its own stack: the task
 * stack is 16 KiB and wasmparser's validation alone needs about as much. The stack is vmalloc'd,
 * so the page below it is unmapped (the previous vmap area's guard page or a hole): an overflow
 * faults instead of corrupting memory.
 */
#define KWASM_STACK_SIZE (256 * 1024)
#define KWASM_STACK_PAINT 0xa5

/* Placed right above an ioctl's stack (the top end: an overflow runs into the guard below,
 * never into this): the FPU section and, for notifier mode, its XSAVE area. */
struct kwasm_ioctl_frame {
	u8 xsave[KWASM_XSAVE_SIZE] __aligned(64);
	struct kwasm_fpu fpu;
};

struct kwasm_stack_call {
	void **inst;
	unsigned int cmd;
	unsigned long arg;
	long ret;
};

/*
 * Called by kwasm_main.rs (on the runtime stack, argument struct already copied in) for every
 * ioctl: the file's runtime handles it, the SSE one inside an FPU section of the file's mode.
 */
long kwasm_glue_rt_ioctl(void **inst, uint32_t cmd, void *buf, size_t len)
{
	struct kwasm_file *kf = container_of(inst, struct kwasm_file, inst);
	long ret;

	if (!kf->inst) {
		kf->fpu_mode = kwasm_fpu_mode_now();
		kf->rt = kf->fpu_mode == KWASM_FPU_SOFT ? &kwasm_rt_soft : &kwasm_rt_sse;
	}
	if (!kf->rt->sse) {
		ret = kf->rt->ioctl(inst, cmd, buf, len);
		kwasm_inst_dir_sync(kf);
		return ret;
	}
	kwasm_fpu_enter(kf->fpu, kf->fpu_mode);
	ret = (long)KWASM_SSE4(kf->rt->ioctl, inst, cmd, buf, len);
	kwasm_fpu_leave(kf->fpu);
	kwasm_inst_dir_sync(kf);
	return ret;
}

static void kwasm_ioctl_on_stack(void *p)
{
	struct kwasm_stack_call *c = p;

	c->ret = kwasm_rs_ioctl(c->inst, c->cmd, c->arg);
}

/* Calls fn(arg) with the stack pointer at top (16-byte aligned), then switches back. */
static noinline void kwasm_call_on_stack(void (*fn)(void *), void *arg, void *top)
{
	asm volatile("movq %%rsp, %%rbx\n\t"
		     "movq %[top], %%rsp\n\t"
		     "call *%[fn]\n\t"
		     "movq %%rbx, %%rsp\n\t"
		     : [fn] "+a"(fn), "+D"(arg), [top] "+S"(top)
		     :
		     : "rbx", "rcx", "rdx", "r8", "r9", "r10", "r11", "memory", "cc");
}
/* objtool cannot follow a stack switch; the unwinder guesses across it (UNWINDER_GUESS). */
STACK_FRAME_NON_STANDARD(kwasm_call_on_stack);

static long kwasm_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct kwasm_file *kf = file->private_data;
	struct kwasm_stack_call call = { .inst = &kf->inst, .cmd = cmd, .arg = arg, .ret = -EIO };
	void *stack;

	unsigned long used, peak;
	size_t i;

	struct kwasm_ioctl_frame *frame;

	atomic64_inc(&stat_ioctls);
	stack = vmalloc(KWASM_STACK_SIZE + sizeof(*frame));
	if (!stack)
		return -ENOMEM;
	/* Painted, so that the deepest use can be measured afterwards (stats/stack_peak_bytes). */
	memset(stack, KWASM_STACK_PAINT, KWASM_STACK_SIZE);
	/* vmalloc memory is page aligned, so the frame is 64-byte aligned. */
	frame = stack + KWASM_STACK_SIZE;
	memset(frame, 0, sizeof(*frame));
	frame->fpu.xsave = frame->xsave;
	if (mutex_lock_killable(&kf->lock)) {
		vfree(stack);
		return -EINTR;
	}
	kf->fpu = &frame->fpu;
	kwasm_call_on_stack(kwasm_ioctl_on_stack, &call,
			    (void *)(((unsigned long)stack + KWASM_STACK_SIZE) & ~15UL));
	kf->fpu = NULL;
	mutex_unlock(&kf->lock);
	for (i = 0; i < KWASM_STACK_SIZE && ((u8 *)stack)[i] == KWASM_STACK_PAINT; i++)
		;
	used = KWASM_STACK_SIZE - i;
	peak = atomic_long_read(&stat_stack_peak);
	while (used > peak && !atomic_long_try_cmpxchg(&stat_stack_peak, &peak, used))
		;
	vfree(stack);
	return call.ret;
}

static const struct file_operations kwasm_fops = {
	.owner = THIS_MODULE,
	.open = kwasm_open,
	.release = kwasm_release,
	.unlocked_ioctl = kwasm_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

static struct miscdevice kwasm_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "kwasm",
	.fops = &kwasm_fops,
	/* Set in kwasm_glue_init: 0600 (root only), or 0666 with `group` (kwasm_open checks). */
	.mode = 0600,
};

/* ---- /sys/kernel/kwasm ----------------------------------------------------------------------- */

#define KWASM_KNOB_NAME_MAX 64

struct kwasm_knob_attr {
	struct kobj_attribute attr;
	u32 index;
	char name[KWASM_KNOB_NAME_MAX];
};

static struct kobject *kwasm_kobj;
static struct kwasm_knob_attr *knob_attrs;
static struct attribute **knob_attr_list;
static struct attribute_group knob_group;
static bool knob_group_created, stats_group_created;

static ssize_t knob_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	struct kwasm_knob_attr *ka = container_of(attr, struct kwasm_knob_attr, attr);

	/* Both runtimes hold the same values (knob_store sets both); the soft one needs no FPU. */
	return kwasm_rtsoft_knob_show(ka->index, buf, PAGE_SIZE);
}

static ssize_t knob_store(struct kobject *kobj, struct kobj_attribute *attr, const char *buf,
			  size_t count)
{
	struct kwasm_knob_attr *ka = container_of(attr, struct kwasm_knob_attr, attr);
	int err;

	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	err = kwasm_rtsoft_knob_store(ka->index, buf, count);
	/* Same parser, same table: what one accepts, the other does. */
	if (!err)
		WARN_ON_ONCE(KWASM_SSE_CALL(int, kwasm_rt_knob_store, ka->index, buf, count, 0));
	if (err) {
		atomic64_inc(&stat_knob_rejected);
		return err;
	}
	atomic64_inc(&stat_knob_writes);
	return count;
}

#define KWASM_STAT_ATTR(_name, _expr)                                                            \
	static ssize_t _name##_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf) \
	{                                                                                         \
		return sysfs_emit(buf, "%lld\n", (long long)(_expr));                             \
	}                                                                                         \
	static struct kobj_attribute stat_attr_##_name = __ATTR_RO(_name)

KWASM_STAT_ATTR(opens, atomic64_read(&stat_opens));
KWASM_STAT_ATTR(open_denied, atomic64_read(&stat_open_denied));
KWASM_STAT_ATTR(open_files, atomic_read(&stat_open_files));
KWASM_STAT_ATTR(ioctls, atomic64_read(&stat_ioctls));
KWASM_STAT_ATTR(knob_writes, atomic64_read(&stat_knob_writes));
KWASM_STAT_ATTR(knob_rejected, atomic64_read(&stat_knob_rejected));
/* The two runtimes count separately; the statistics are their sums. */
#define KWASM_RT_SUM(fn) (kwasm_rtsoft_##fn() + KWASM_SSE_CALL(u64, kwasm_rt_##fn, 0, 0, 0, 0))
KWASM_STAT_ATTR(heap_bytes, KWASM_RT_SUM(kheap_bytes));
KWASM_STAT_ATTR(heap_peak_bytes, KWASM_RT_SUM(kheap_peak));
KWASM_STAT_ATTR(heap_alloc_failures, KWASM_RT_SUM(kheap_failures));
KWASM_STAT_ATTR(instances_live, KWASM_RT_SUM(instances_live));
KWASM_STAT_ATTR(instances_total, KWASM_RT_SUM(instances_total));
KWASM_STAT_ATTR(fpu_sections, atomic64_read(&stat_fpu_sections));
KWASM_STAT_ATTR(fpu_suspends, atomic64_read(&stat_fpu_suspends));
KWASM_STAT_ATTR(fpu_slices, atomic64_read(&stat_fpu_slices));
KWASM_STAT_ATTR(fpu_sched_out, atomic64_read(&stat_fpu_sched_out));
KWASM_STAT_ATTR(fpu_migrations, atomic64_read(&stat_fpu_migrations));
KWASM_STAT_ATTR(fpu_xsave_mask, kwasm_xsave_mask);
KWASM_STAT_ATTR(stack_size_bytes, KWASM_STACK_SIZE);
KWASM_STAT_ATTR(stack_peak_bytes, atomic_long_read(&stat_stack_peak));

static struct attribute *stats_attrs[] = {
	&stat_attr_opens.attr,
	&stat_attr_open_denied.attr,
	&stat_attr_open_files.attr,
	&stat_attr_ioctls.attr,
	&stat_attr_knob_writes.attr,
	&stat_attr_knob_rejected.attr,
	&stat_attr_heap_bytes.attr,
	&stat_attr_heap_peak_bytes.attr,
	&stat_attr_heap_alloc_failures.attr,
	&stat_attr_instances_live.attr,
	&stat_attr_instances_total.attr,
	&stat_attr_stack_size_bytes.attr,
	&stat_attr_stack_peak_bytes.attr,
	&stat_attr_fpu_sections.attr,
	&stat_attr_fpu_suspends.attr,
	&stat_attr_fpu_slices.attr,
	&stat_attr_fpu_sched_out.attr,
	&stat_attr_fpu_migrations.attr,
	&stat_attr_fpu_xsave_mask.attr,
	NULL,
};

static const struct attribute_group stats_group = {
	.name = "stats",
	.attrs = stats_attrs,
};

static void kwasm_sysfs_exit(void)
{
	if (stats_group_created)
		sysfs_remove_group(kwasm_kobj, &stats_group);
	if (knob_group_created)
		sysfs_remove_group(kwasm_kobj, &knob_group);
	stats_group_created = knob_group_created = false;
	if (kwasm_kobj)
		kobject_put(kwasm_kobj);
	kwasm_kobj = NULL;
	kfree(knob_attr_list);
	knob_attr_list = NULL;
	kfree(knob_attrs);
	knob_attrs = NULL;
}

static int kwasm_sysfs_init(void)
{
	u32 n = kwasm_rtsoft_knob_count();
	u32 i;
	int err;

	knob_attrs = kcalloc(n, sizeof(*knob_attrs), GFP_KERNEL);
	knob_attr_list = kcalloc(n + 1, sizeof(*knob_attr_list), GFP_KERNEL);
	if (!knob_attrs || !knob_attr_list) {
		err = -ENOMEM;
		goto fail;
	}
	for (i = 0; i < n; i++) {
		struct kwasm_knob_attr *ka = &knob_attrs[i];
		long len = kwasm_rtsoft_knob_name(i, ka->name, sizeof(ka->name));

		if (len <= 0) {
			pr_err("kwasm: knob %u has no usable name (%ld)\n", i, len);
			err = -EINVAL;
			goto fail;
		}
		ka->index = i;
		/* Dynamically allocated attributes need their own lockdep key. */
		sysfs_attr_init(&ka->attr.attr);
		ka->attr.attr.name = ka->name;
		ka->attr.attr.mode = 0644;
		ka->attr.show = knob_show;
		ka->attr.store = knob_store;
		knob_attr_list[i] = &ka->attr.attr;
	}
	knob_group.attrs = knob_attr_list;

	kwasm_kobj = kobject_create_and_add("kwasm", kernel_kobj);
	if (!kwasm_kobj) {
		err = -ENOMEM;
		goto fail;
	}
	err = sysfs_create_group(kwasm_kobj, &knob_group);
	if (err)
		goto fail;
	knob_group_created = true;
	err = sysfs_create_group(kwasm_kobj, &stats_group);
	if (err)
		goto fail;
	stats_group_created = true;
	return 0;
fail:
	kwasm_sysfs_exit();
	return err;
}

/* ---- init / exit (called from kwasm_main.rs) ------------------------------------------------- */

/*
 * Both runtimes' knobs to their defaults; the fpu_mode knob located and its value names checked
 * against kwasm_fpu_mode_names (the knob table is the runtime's); the XSAVE components chosen;
 * preempt notifiers switched on.
 */
static int kwasm_fpu_init(void)
{
	char name[KWASM_KNOB_NAME_MAX];
	u32 i, n = kwasm_rtsoft_knob_count();

	kwasm_rtsoft_knobs_reset();
	KWASM_SSE_CALL(long, kwasm_rt_knobs_reset, 0, 0, 0, 0);
	for (i = 0; i < n; i++)
		if (kwasm_rtsoft_knob_name(i, name, sizeof(name)) > 0 && !strcmp(name, "fpu_mode"))
			kwasm_fpu_mode_knob = i;
	if (kwasm_fpu_mode_knob == U32_MAX) {
		pr_err("kwasm: the runtime has no fpu_mode knob\n");
		return -EINVAL;
	}
	for (i = 0; i < KWASM_FPU_MODES; i++) {
		const char *v = kwasm_fpu_mode_names[i];

		if (kwasm_rtsoft_knob_store(kwasm_fpu_mode_knob, v, strlen(v)) ||
		    kwasm_rtsoft_knob_get(kwasm_fpu_mode_knob) != i) {
			pr_err("kwasm: fpu_mode value %u is not '%s' in the runtime's knob table\n", i, v);
			return -EINVAL;
		}
	}
	kwasm_rtsoft_knobs_reset();
	if (!boot_cpu_has(X86_FEATURE_FXSR) || !boot_cpu_has(X86_FEATURE_XMM2)) {
		pr_err("kwasm: the CPU lacks FXSR/SSE2\n");
		return -ENODEV;
	}
	if (boot_cpu_has(X86_FEATURE_OSXSAVE))
		kwasm_xsave_mask = xgetbv(XCR_XFEATURE_ENABLED_MASK) & KWASM_XSAVE_FEATURES;
	preempt_notifier_inc();
	kwasm_preempt_notifiers_on = true;
	return 0;
}

static void kwasm_fpu_exit(void)
{
	if (kwasm_preempt_notifiers_on)
		preempt_notifier_dec();
	kwasm_preempt_notifiers_on = false;
}

int kwasm_glue_init(void)
{
	int err;

	if (group < -1) {
		pr_err("kwasm: group=%d is invalid (use -1 or a gid)\n", group);
		return -EINVAL;
	}
	err = kwasm_fpu_init();
	if (err)
		return err;
	err = kwasm_sysfs_init();
	if (err) {
		kwasm_fpu_exit();
		return err;
	}
	err = kwasm_stats_init();
	if (err) {
		kwasm_sysfs_exit();
		kwasm_fpu_exit();
		return err;
	}
	kwasm_misc.mode = group >= 0 ? 0666 : 0600;
	err = misc_register(&kwasm_misc);
	if (err) {
		kwasm_stats_exit();
		kwasm_sysfs_exit();
		kwasm_fpu_exit();
		return err;
	}
	pr_info("kwasm: /dev/kwasm ready (%s), %u knobs in /sys/kernel/kwasm\n",
		group >= 0 ? "CAP_SYS_ADMIN or group member" : "CAP_SYS_ADMIN only",
		kwasm_rtsoft_knob_count());
	return 0;
}

void kwasm_glue_exit(void)
{
	misc_deregister(&kwasm_misc);
	kwasm_stats_exit();
	kwasm_sysfs_exit();
	kwasm_fpu_exit();
	pr_info("kwasm: unloaded (runtime heap in use at exit: %llu bytes)\n", (unsigned long long)KWASM_RT_SUM(kheap_bytes));
}
