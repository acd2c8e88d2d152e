// SPDX-License-Identifier: GPL-2.0
/*
 * kwasm.ko C glue: the parts of the module for which Linux 6.12 has no Rust bindings.
 *
 *  - /dev/kwasm, a misc device (no `miscdevice` Rust abstraction before 6.13). Opening it needs
 *    CAP_SYS_ADMIN, or membership in the group given by the `group` module parameter.
 *  - /sys/kernel/kwasm/: one read/write file per knob of the runtime's knob table (the table
 *    lives in the runtime, kmod/rt, and is reached through kwasm_rt_knob_*), and stats/.
 *  - Allocation and panic helpers for the Rust runtime staticlib (kmod/rt, linked as rt.o).
 *
 * Module init/exit live in kwasm_main.rs (`module!`), which calls kwasm_glue_init/exit.
 */
#include <linux/atomic.h>
#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/fs.h>
#include <linux/kobject.h>
#include <linux/log2.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/objtool.h>
#include <linux/random.h>
#include <linux/sched/signal.h>
#include <linux/timekeeping.h>
#include <linux/vmalloc.h>
#include <linux/file.h>
#include <linux/slab.h>
#include <linux/sysfs.h>
#include <linux/uaccess.h>

#include "kwasm_rt.h"
#include "kwasm_rt_kernel.h"

/* The interface between this file and kwasm_main.rs. */
int kwasm_glue_init(void);                          /* C, called by the Rust module init */
void kwasm_glue_exit(void);                         /* C, called by the Rust module drop */
long kwasm_rs_ioctl(void **inst, unsigned int cmd, unsigned long arg); /* Rust */

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
};

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
	kwasm_rt_instance_free(kf->inst);
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

struct kwasm_stack_call {
	void **inst;
	unsigned int cmd;
	unsigned long arg;
	long ret;
};

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

	atomic64_inc(&stat_ioctls);
	stack = vmalloc(KWASM_STACK_SIZE);
	if (!stack)
		return -ENOMEM;
	/* Painted, so that the deepest use can be measured afterwards (stats/stack_peak_bytes). */
	memset(stack, KWASM_STACK_PAINT, KWASM_STACK_SIZE);
	if (mutex_lock_killable(&kf->lock)) {
		vfree(stack);
		return -EINTR;
	}
	kwasm_call_on_stack(kwasm_ioctl_on_stack, &call,
			    (void *)(((unsigned long)stack + KWASM_STACK_SIZE) & ~15UL));
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

	return kwasm_rt_knob_show(ka->index, buf, PAGE_SIZE);
}

static ssize_t knob_store(struct kobject *kobj, struct kobj_attribute *attr, const char *buf,
			  size_t count)
{
	struct kwasm_knob_attr *ka = container_of(attr, struct kwasm_knob_attr, attr);
	int err;

	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	err = kwasm_rt_knob_store(ka->index, buf, count);
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
KWASM_STAT_ATTR(heap_bytes, kwasm_rt_kheap_bytes());
KWASM_STAT_ATTR(heap_peak_bytes, kwasm_rt_kheap_peak());
KWASM_STAT_ATTR(heap_alloc_failures, kwasm_rt_kheap_failures());
KWASM_STAT_ATTR(instances_live, kwasm_rt_instances_live());
KWASM_STAT_ATTR(instances_total, kwasm_rt_instances_total());
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
	u32 n = kwasm_rt_knob_count();
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
		long len = kwasm_rt_knob_name(i, ka->name, sizeof(ka->name));

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

int kwasm_glue_init(void)
{
	int err;

	if (group < -1) {
		pr_err("kwasm: group=%d is invalid (use -1 or a gid)\n", group);
		return -EINVAL;
	}
	err = kwasm_sysfs_init();
	if (err)
		return err;
	kwasm_misc.mode = group >= 0 ? 0666 : 0600;
	err = misc_register(&kwasm_misc);
	if (err) {
		kwasm_sysfs_exit();
		return err;
	}
	pr_info("kwasm: /dev/kwasm ready (%s), %u knobs in /sys/kernel/kwasm\n",
		group >= 0 ? "CAP_SYS_ADMIN or group member" : "CAP_SYS_ADMIN only",
		kwasm_rt_knob_count());
	return 0;
}

void kwasm_glue_exit(void)
{
	misc_deregister(&kwasm_misc);
	kwasm_sysfs_exit();
	pr_info("kwasm: unloaded (runtime heap in use at exit: %zu bytes)\n", kwasm_rt_kheap_bytes());
}
