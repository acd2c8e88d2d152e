// SPDX-License-Identifier: GPL-2.0
/*
 * kwasm.ko: host services behind the WASI functions of a LOAD'ed program (kmod/rt/src/wasi_host.rs
 * calls these): the preopened listening socket and the connections it accepts, waiting for
 * readiness and time (poll_oneoff, sleep), CPU-time clocks, seek/stat of the caller's files, and
 * files opened beneath a preopened directory.
 *
 * Rules kept here (see /work/shared/notes/kernel-net-execmem.md):
 *  - socket calls never block inside the socket layer (MSG_DONTWAIT, non-blocking accept); the
 *    only place this module sleeps for I/O is kwasm_wait(), in TASK_KILLABLE (| TASK_NOLOAD), so
 *    SIGKILL (and default-action SIGINT/SIGTERM, which become SIGKILL) ends a wait at once and
 *    the program stops at its next fuel slice; nothing else interrupts it;
 *  - sends use MSG_NOSIGNAL: a reset peer gives -EPIPE, never a SIGPIPE that kills the caller;
 *  - every path a program opens is resolved with LOOKUP_BENEATH (what openat2's RESOLVE_BENEATH
 *    uses), through the exported vfs_path_lookup(): no "..", absolute symlink or racing rename
 *    can leave the preopened directory (the lookup fails with -EXDEV or -EAGAIN instead).
 * Every function is called in the calling task's context, from the runtime's own stack, with
 * preemption enabled and no lock held.
 */
#include <linux/err.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/hrtimer.h>
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/mount.h>
#include <linux/namei.h>
#include <linux/net.h>
#include <linux/poll.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/stat.h>
#include <linux/string.h>
#include <linux/wait.h>
#include <net/sock.h>
#include <net/tcp_states.h>

/* The interface to kmod/rt (declared here: only rt.o calls these). */
struct kwasm_pollreq;
struct kwasm_stat;
void *kwasm_sock_listener(int fd, int *err);
void kwasm_sock_put_listener(void *sock);
int kwasm_sock_accept(void *listener, void **conn);
void kwasm_sock_release(void *sock);
long kwasm_sock_recv(void *sock, void *buf, size_t len, int peek);
long kwasm_sock_send(void *sock, const void *buf, size_t len);
int kwasm_sock_shutdown(void *sock, int how);
int kwasm_wait(struct kwasm_pollreq *reqs, size_t n, s64 timeout_ns);
void kwasm_yield(void);
s64 kwasm_cpu_time_ns(int thread);
long long kwasm_file_seek(void *file, long long offset, int whence);
int kwasm_file_stat(void *f, struct kwasm_stat *out);
long kwasm_file_pread(void *f, void *buf, size_t len, u64 pos);
long kwasm_file_pwrite(void *f, const void *buf, size_t len, u64 pos);
int kwasm_file_is_dir(void *f);
void *kwasm_open_beneath(void *dir, const char *path, u32 how, int *err);
int kwasm_stat_beneath(void *dir, const char *path, int follow, struct kwasm_stat *out);
int kwasm_mkdir_beneath(void *dir, const char *path);
int kwasm_unlink_beneath(void *dir, const char *path, int rmdir);
int kwasm_rename_beneath(void *from_dir, const char *from, void *to_dir, const char *to);
long kwasm_read_dir(void *dir, void **records);
int kwasm_file_sync(void *file, int datasync);
int kwasm_file_set_size(void *file, u64 size);

/* ---- sockets --------------------------------------------------------------------------------- */

/*
 * The caller's listening stream socket `fd` (a reference on its file, released with
 * kwasm_sock_put_listener), or NULL with *err = -EBADF / -ENOTSOCK / -EINVAL (not a listening
 * stream socket).
 */
void *kwasm_sock_listener(int fd, int *err)
{
	struct socket *sock = sockfd_lookup(fd, err);

	if (!sock)
		return NULL;
	if (sock->type != SOCK_STREAM || !sock->sk || READ_ONCE(sock->sk->sk_state) != TCP_LISTEN) {
		sockfd_put(sock);
		*err = -EINVAL;
		return NULL;
	}
	return sock;
}

void kwasm_sock_put_listener(void *s)
{
	struct socket *sock = s;

	sockfd_put(sock);
}

/* One queued connection, or -EAGAIN. The new socket has no struct file (see kwasm_sock_release). */
int kwasm_sock_accept(void *listener, void **conn)
{
	struct socket *newsock = NULL;
	int err = kernel_accept(listener, &newsock, O_NONBLOCK);

	*conn = err ? NULL : newsock;
	return err;
}

/* Closes an accepted connection at once (FIN or RST now, not at task_work time). */
void kwasm_sock_release(void *sock)
{
	sock_release(sock);
}

long kwasm_sock_recv(void *sock, void *buf, size_t len, int peek)
{
	struct kvec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr msg = {};

	return kernel_recvmsg(sock, &msg, &iov, 1, len, MSG_DONTWAIT | (peek ? MSG_PEEK : 0));
}

long kwasm_sock_send(void *sock, const void *buf, size_t len)
{
	struct kvec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg = { .msg_flags = MSG_DONTWAIT | MSG_NOSIGNAL };

	return kernel_sendmsg(sock, &msg, &iov, 1, len);
}

/* how: WASI sdflags (1 = read, 2 = write, 3 = both). */
int kwasm_sock_shutdown(void *sock, int how)
{
	static const enum sock_shutdown_cmd cmds[4] = { 0, SHUT_RD, SHUT_WR, SHUT_RDWR };

	if (how < 1 || how > 3)
		return -EINVAL;
	return kernel_sock_shutdown(sock, cmds[how]);
}

/* ---- waiting --------------------------------------------------------------------------------- */

/* One readiness question; `obj` is a struct file (is_sock == 0) or a struct socket. */
struct kwasm_pollreq {
	void *obj;
	int is_sock;
	int want_write;
	int ready; /* out */
	int reserved;
};

struct kwasm_poller;

struct kwasm_waiter {
	wait_queue_entry_t entry;
	wait_queue_head_t *head;
	struct kwasm_poller *poller;
};

struct kwasm_poller {
	poll_table pt;
	struct task_struct *task;
	bool triggered;
	bool overflow;
	size_t used, cap;
	struct kwasm_waiter *waiters;
};

/*
 * Socket wake-ups pass mode TASK_INTERRUPTIBLE, which would not wake our TASK_KILLABLE sleeper
 * through default_wake_function: wake the task directly.
 */
static int kwasm_wake(wait_queue_entry_t *entry, unsigned int mode, int sync, void *key)
{
	struct kwasm_waiter *w = container_of(entry, struct kwasm_waiter, entry);

	smp_wmb();
	WRITE_ONCE(w->poller->triggered, true);
	wake_up_process(w->poller->task);
	return 0;
}

static void kwasm_queue(struct file *file, wait_queue_head_t *head, poll_table *pt)
{
	struct kwasm_poller *p = container_of(pt, struct kwasm_poller, pt);
	struct kwasm_waiter *w;

	if (p->used == p->cap) {
		/* No room to be woken by this queue: kwasm_wait() polls it every millisecond instead. */
		p->overflow = true;
		return;
	}
	w = &p->waiters[p->used++];
	w->poller = p;
	w->head = head;
	init_waitqueue_func_entry(&w->entry, kwasm_wake);
	add_wait_queue(head, &w->entry);
}

static __poll_t kwasm_poll_one(struct kwasm_pollreq *r, poll_table *pt)
{
	if (r->is_sock) {
		struct socket *sock = r->obj;

		return sock->ops->poll(sock->file, sock, pt);
	}
	return vfs_poll(r->obj, pt);
}

/*
 * Waits until one of reqs[0..n) is ready or timeout_ns passes (< 0: no timeout; n == 0: a plain
 * sleep). Sets each request's `ready`; returns how many are ready, or -EINTR when a fatal signal
 * is pending, or -ENOMEM. Sleeps in TASK_KILLABLE | TASK_NOLOAD, with preemption enabled.
 */
int kwasm_wait(struct kwasm_pollreq *reqs, size_t n, s64 timeout_ns)
{
	struct kwasm_poller p = { .task = current };
	poll_table *pt = &p.pt;
	bool forever = timeout_ns < 0, timed_out = false;
	ktime_t expires = 0;
	int ready = 0;
	size_t i;

	if (n > 4096)
		return -EINVAL;
	p.cap = 2 * n + 2;
	p.waiters = kcalloc(p.cap, sizeof(*p.waiters), GFP_KERNEL_ACCOUNT);
	if (!p.waiters)
		return -ENOMEM;
	init_poll_funcptr(&p.pt, kwasm_queue);
	if (!forever)
		expires = ktime_add_safe(ktime_get(), ns_to_ktime(min_t(s64, timeout_ns, KTIME_MAX / 4)));
	for (;;) {
		ready = 0;
		for (i = 0; i < n; i++) {
			__poll_t want = reqs[i].want_write ? EPOLLOUT | EPOLLERR | EPOLLHUP
							   : EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP;

			if (pt)
				pt->_key = want;
			reqs[i].ready = !!(kwasm_poll_one(&reqs[i], pt) & want);
			ready += reqs[i].ready;
		}
		/* Registered on the first round; later rounds only ask. */
		pt = NULL;
		if (ready || timed_out || (!forever && timeout_ns == 0))
			break;
		if (fatal_signal_pending(current)) {
			ready = -EINTR;
			break;
		}
		set_current_state(TASK_KILLABLE | TASK_NOLOAD);
		if (!READ_ONCE(p.triggered)) {
			if (p.overflow) {
				ktime_t soon = ktime_add_ms(ktime_get(), 1);

				if (!forever && ktime_before(expires, soon))
					soon = expires;
				schedule_hrtimeout_range(&soon, current->timer_slack_ns, HRTIMER_MODE_ABS);
			} else if (forever) {
				schedule();
			} else {
				schedule_hrtimeout_range(&expires, current->timer_slack_ns, HRTIMER_MODE_ABS);
			}
		}
		__set_current_state(TASK_RUNNING);
		smp_store_mb(p.triggered, false);
		if (!forever && !ktime_before(ktime_get(), expires))
			timed_out = true; /* one more round of polls, then report */
	}
	for (i = 0; i < p.used; i++)
		remove_wait_queue(p.waiters[i].head, &p.waiters[i].entry);
	kfree(p.waiters);
	return ready;
}

/* sched_yield. */
void kwasm_yield(void)
{
	yield();
}

/*
 * CPU time in ns of the calling task (thread != 0) or of its process; -ENOTSUPP-like -1 when the
 * process has other threads (their time is not summed here). The runtime runs in the caller's
 * task, so both include the kernel-mode time the program used.
 */
s64 kwasm_cpu_time_ns(int thread)
{
	if (!thread && get_nr_threads(current) != 1)
		return -1;
	return READ_ONCE(current->se.sum_exec_runtime);
}

/* ---- the caller's files: seek, stat, positional I/O ----------------------------------------- */

/* whence: 0 SET, 1 CUR, 2 END. Returns the new offset or -errno (-ESPIPE for pipes). */
long long kwasm_file_seek(void *file, long long offset, int whence)
{
	if (whence < 0 || whence > 2)
		return -EINVAL;
	return vfs_llseek(file, offset, whence);
}

/* The part of a kstat WASI reports (filestat). */
struct kwasm_stat {
	u64 dev, ino, nlink, size, atim, mtim, ctim;
	u32 mode;
	u32 reserved;
};

static void kwasm_fill_stat(struct kwasm_stat *out, const struct kstat *ks)
{
	memset(out, 0, sizeof(*out));
	out->dev = huge_encode_dev(ks->dev);
	out->ino = ks->ino;
	out->nlink = ks->nlink;
	out->size = ks->size;
	out->atim = ktime_to_ns(timespec64_to_ktime(ks->atime));
	out->mtim = ktime_to_ns(timespec64_to_ktime(ks->mtime));
	out->ctim = ktime_to_ns(timespec64_to_ktime(ks->ctime));
	out->mode = ks->mode;
}

int kwasm_file_stat(void *f, struct kwasm_stat *out)
{
	struct file *file = f;
	struct kstat ks;
	int err = vfs_getattr(&file->f_path, &ks, STATX_BASIC_STATS, AT_STATX_SYNC_AS_STAT);

	if (!err)
		kwasm_fill_stat(out, &ks);
	return err;
}

/* pread/pwrite at `pos`, leaving the file position alone. */
long kwasm_file_pread(void *f, void *buf, size_t len, u64 pos)
{
	struct file *file = f;
	loff_t p = pos;

	if (!(file->f_mode & FMODE_READ))
		return -EBADF;
	if (!(file->f_mode & FMODE_PREAD) || (loff_t)pos < 0)
		return -ESPIPE;
	return kernel_read(file, buf, len, &p);
}

long kwasm_file_pwrite(void *f, const void *buf, size_t len, u64 pos)
{
	struct file *file = f;
	loff_t p = pos;

	if (!(file->f_mode & FMODE_WRITE))
		return -EBADF;
	if (!(file->f_mode & FMODE_PWRITE) || (loff_t)pos < 0)
		return -ESPIPE;
	return kernel_write(file, buf, len, &p);
}

/* ---- files beneath a preopened directory ---------------------------------------------------- */

/* kwasm_open_beneath `how` bits (kmod/rt/src/wasi_host.rs). */
#define KW_OPEN_READ 0x1
#define KW_OPEN_WRITE 0x2
#define KW_OPEN_CREATE 0x4
#define KW_OPEN_EXCL 0x8
#define KW_OPEN_TRUNC 0x10
#define KW_OPEN_APPEND 0x20
#define KW_OPEN_DIRECTORY 0x40
#define KW_OPEN_NOFOLLOW 0x80
#define KW_OPEN_NONBLOCK 0x100
#define KW_OPEN_ALL 0x1ff

/* How kwasm confines a program's paths to a preopen (what openat2 RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS does). */
#define KW_LOOKUP_SCOPE (LOOKUP_BENEATH | LOOKUP_NO_MAGICLINKS)

/* A directory reference for kwasm_open_beneath: the caller's fd `fd`, which must be a directory. */
int kwasm_file_is_dir(void *f)
{
	return d_is_dir(((struct file *)f)->f_path.dentry);
}

/*
 * May the caller open `path` (already resolved) the way `flags` asks? What the open(2) path
 * checks in may_open(), for the only kinds kernel mode opens: regular files and directories.
 */
static int kwasm_may_open(const struct path *path, int flags)
{
	struct inode *inode = d_inode(path->dentry);
	int acc = 0;

	if (!inode)
		return -ENOENT;
	if ((flags & O_ACCMODE) != O_WRONLY)
		acc |= MAY_READ;
	if ((flags & O_ACCMODE) != O_RDONLY)
		acc |= MAY_WRITE;
	if (S_ISLNK(inode->i_mode))
		return -ELOOP;
	if (S_ISDIR(inode->i_mode)) {
		if (acc & MAY_WRITE)
			return -EISDIR;
	} else if (!S_ISREG(inode->i_mode)) {
		/* Devices, FIFOs and sockets are not opened in kernel mode. */
		return -EOPNOTSUPP;
	}
	if (IS_APPEND(inode) && (acc & MAY_WRITE) && (!(flags & O_APPEND) || (flags & O_TRUNC)))
		return -EPERM;
	return inode_permission(mnt_idmap(path->mnt), inode, MAY_OPEN | acc);
}

/* Splits "a/b/c" into "a/b" and "c" (in place); a bare name has parent ".". */
static const char *kwasm_split_last(char *path, const char **last)
{
	char *slash;
	size_t len = strlen(path);

	while (len > 1 && path[len - 1] == '/')
		path[--len] = 0;
	slash = strrchr(path, '/');
	if (!slash) {
		*last = path;
		return ".";
	}
	*slash = 0;
	*last = slash + 1;
	return slash == path ? "/" : path;
}

/*
 * Opens `path` (NUL-terminated, relative, checked lexically by the runtime) beneath the directory
 * `dir`. Returns a new struct file reference or NULL with *err set.
 *
 * An existing file is found with vfs_path_lookup(LOOKUP_BENEATH) and opened with dentry_open()
 * after the checks open(2) makes (kwasm_may_open). A missing one with KW_OPEN_CREATE is created
 * by file_open_root() in its parent (itself found beneath `dir`) with O_CREAT | O_EXCL |
 * O_NOFOLLOW, so that the name is never resolved outside the lookup that checked it; if someone
 * else created it meanwhile, the existing-file path runs again.
 */
void *kwasm_open_beneath(void *dir, const char *path, u32 how, int *err)
{
	struct file *d = dir;
	int flags = O_LARGEFILE, tries;
	unsigned int lookup = KW_LOOKUP_SCOPE;

	if (how & ~KW_OPEN_ALL || !(how & (KW_OPEN_READ | KW_OPEN_WRITE)) || !d_is_dir(d->f_path.dentry)) {
		*err = -EINVAL;
		return NULL;
	}
	if ((how & (KW_OPEN_READ | KW_OPEN_WRITE)) == (KW_OPEN_READ | KW_OPEN_WRITE))
		flags |= O_RDWR;
	else if (how & KW_OPEN_WRITE)
		flags |= O_WRONLY;
	if (how & KW_OPEN_APPEND)
		flags |= O_APPEND;
	if (how & KW_OPEN_NONBLOCK)
		flags |= O_NONBLOCK;
	if (how & KW_OPEN_DIRECTORY) {
		flags |= O_DIRECTORY;
		lookup |= LOOKUP_DIRECTORY;
	}
	if (!(how & KW_OPEN_NOFOLLOW))
		lookup |= LOOKUP_FOLLOW;

	for (tries = 0; tries < 8; tries++) {
		struct path p, parent;
		struct file *f;
		const char *last, *pdir;
		char *copy;
		int e = vfs_path_lookup(d->f_path.dentry, d->f_path.mnt, path, lookup, &p);

		if (e == -EAGAIN)
			continue; /* a rename or mount raced with a scoped lookup: try again */
		if (!e) {
			if ((how & (KW_OPEN_CREATE | KW_OPEN_EXCL)) == (KW_OPEN_CREATE | KW_OPEN_EXCL))
				e = -EEXIST;
			else
				e = kwasm_may_open(&p, flags | ((how & KW_OPEN_TRUNC) ? O_TRUNC : 0));
			f = e ? ERR_PTR(e) : dentry_open(&p, flags, current_cred());
			path_put(&p);
			if (!IS_ERR(f) && (how & KW_OPEN_TRUNC) && (f->f_mode & FMODE_WRITE) &&
			    S_ISREG(file_inode(f)->i_mode)) {
				e = vfs_truncate(&f->f_path, 0);
				if (e) {
					fput(f);
					f = ERR_PTR(e);
				}
			}
			if (IS_ERR(f)) {
				*err = PTR_ERR(f);
				return NULL;
			}
			return f;
		}
		if (e != -ENOENT || !(how & KW_OPEN_CREATE) || (how & KW_OPEN_DIRECTORY)) {
			*err = e;
			return NULL;
		}
		copy = kstrdup(path, GFP_KERNEL_ACCOUNT);
		if (!copy) {
			*err = -ENOMEM;
			return NULL;
		}
		pdir = kwasm_split_last(copy, &last);
		if (!*last || !strcmp(last, ".") || !strcmp(last, "..")) {
			kfree(copy);
			*err = -EINVAL;
			return NULL;
		}
		e = vfs_path_lookup(d->f_path.dentry, d->f_path.mnt, pdir,
				    KW_LOOKUP_SCOPE | LOOKUP_FOLLOW | LOOKUP_DIRECTORY, &parent);
		if (e == -EAGAIN) {
			kfree(copy);
			continue;
		}
		if (e) {
			kfree(copy);
			*err = e;
			return NULL;
		}
		f = file_open_root(&parent, last,
				   flags | O_CREAT | O_EXCL | O_NOFOLLOW | ((how & KW_OPEN_TRUNC) ? O_TRUNC : 0),
				   0666);
		path_put(&parent);
		kfree(copy);
		if (PTR_ERR_OR_ZERO(f) == -EEXIST && !(how & KW_OPEN_EXCL))
			continue; /* created by someone else meanwhile: open the existing file */
		if (IS_ERR(f)) {
			*err = PTR_ERR(f);
			return NULL;
		}
		return f;
	}
	*err = -EAGAIN;
	return NULL;
}

/* Metadata of `path` beneath `dir` (same confinement as kwasm_open_beneath). */
int kwasm_stat_beneath(void *dir, const char *path, int follow, struct kwasm_stat *out)
{
	struct file *d = dir;
	struct path p;
	struct kstat ks;
	int e, tries = 0;

	do {
		e = vfs_path_lookup(d->f_path.dentry, d->f_path.mnt, path,
				    KW_LOOKUP_SCOPE | (follow ? LOOKUP_FOLLOW : 0), &p);
	} while (e == -EAGAIN && ++tries < 8);
	if (e)
		return e;
	e = vfs_getattr(&p, &ks, STATX_BASIC_STATS, AT_STATX_SYNC_AS_STAT);
	path_put(&p);
	if (!e)
		kwasm_fill_stat(out, &ks);
	return e;
}

/*
 * Creating, removing and renaming entries beneath a preopen: the parent directory is found with
 * vfs_path_parent_lookup(LOOKUP_BENEATH) from the preopen, locked, and the entry looked up in it
 * (lookup_one_qstr_excl), then the vfs_* operation runs (its permission and LSM inode hooks
 * included), as do_mkdirat/do_unlinkat/do_renameat2 do. The LSM *path* hooks
 * (security_path_mkdir, ...) of those syscalls are not exported to modules and are not called:
 * a path-based LSM (AppArmor, TOMOYO) does not see these changes. Delegations (NFS server) are not
 * broken: an entry with a delegation fails with -EWOULDBLOCK.
 */
struct kwasm_entry {
	struct filename *name;
	struct path parent;
	struct qstr last;
	struct dentry *dentry;
};

static int kwasm_entry_begin(struct file *dir, const char *path, unsigned int flags, struct kwasm_entry *e)
{
	int err, tries = 0;

	if (!d_is_dir(dir->f_path.dentry))
		return -ENOTDIR;
	e->name = getname_kernel(path);
	if (IS_ERR(e->name))
		return PTR_ERR(e->name);
	do {
		err = vfs_path_parent_lookup(e->name, KW_LOOKUP_SCOPE, &e->parent, &e->last, &dir->f_path);
	} while (err == -EAGAIN && ++tries < 8);
	if (err)
		goto put_name;
	err = mnt_want_write(e->parent.mnt);
	if (err)
		goto put_parent;
	inode_lock_nested(d_inode(e->parent.dentry), I_MUTEX_PARENT);
	e->dentry = lookup_one_qstr_excl(&e->last, e->parent.dentry, flags);
	if (!IS_ERR(e->dentry))
		return 0;
	err = PTR_ERR(e->dentry);
	inode_unlock(d_inode(e->parent.dentry));
	mnt_drop_write(e->parent.mnt);
put_parent:
	path_put(&e->parent);
put_name:
	putname(e->name);
	return err;
}

static void kwasm_entry_end(struct kwasm_entry *e)
{
	dput(e->dentry);
	inode_unlock(d_inode(e->parent.dentry));
	mnt_drop_write(e->parent.mnt);
	path_put(&e->parent);
	putname(e->name);
}

int kwasm_mkdir_beneath(void *dir, const char *path)
{
	struct kwasm_entry e;
	umode_t mode = 0777;
	int err = kwasm_entry_begin(dir, path, LOOKUP_CREATE | LOOKUP_EXCL, &e);

	if (err)
		return err;
	if (d_is_positive(e.dentry)) {
		err = -EEXIST;
	} else {
		if (!IS_POSIXACL(d_inode(e.parent.dentry)))
			mode &= ~current_umask();
		err = vfs_mkdir(mnt_idmap(e.parent.mnt), d_inode(e.parent.dentry), e.dentry, mode);
	}
	kwasm_entry_end(&e);
	return err;
}

/* unlink (rmdir == 0) or rmdir (rmdir != 0) of `path` beneath `dir`. */
int kwasm_unlink_beneath(void *dir, const char *path, int rmdir)
{
	struct kwasm_entry e;
	struct inode *victim = NULL;
	int err = kwasm_entry_begin(dir, path, 0, &e);

	if (err)
		return err;
	if (d_is_negative(e.dentry)) {
		err = -ENOENT;
	} else if (rmdir) {
		err = vfs_rmdir(mnt_idmap(e.parent.mnt), d_inode(e.parent.dentry), e.dentry);
	} else if (e.last.name[e.last.len] || d_is_dir(e.dentry)) {
		/* "file/" names a directory, as in do_unlinkat. */
		err = d_is_dir(e.dentry) ? -EISDIR : -ENOTDIR;
	} else {
		/* The last reference is dropped after the parent is unlocked, as in do_unlinkat. */
		victim = d_inode(e.dentry);
		ihold(victim);
		err = vfs_unlink(mnt_idmap(e.parent.mnt), d_inode(e.parent.dentry), e.dentry, NULL);
	}
	kwasm_entry_end(&e);
	if (victim)
		iput(victim);
	return err;
}

/* rename(2) of `from` beneath `from_dir` to `to` beneath `to_dir` (do_renameat2 without flags). */
int kwasm_rename_beneath(void *from_dir, const char *from, void *to_dir, const char *to)
{
	struct file *fd = from_dir, *td = to_dir;
	struct filename *oldname, *newname;
	struct path old_path, new_path;
	struct qstr old_last, new_last;
	struct dentry *old_dentry, *new_dentry, *trap;
	struct renamedata rd = {};
	int err;

	if (!d_is_dir(fd->f_path.dentry) || !d_is_dir(td->f_path.dentry))
		return -ENOTDIR;
	oldname = getname_kernel(from);
	if (IS_ERR(oldname))
		return PTR_ERR(oldname);
	newname = getname_kernel(to);
	if (IS_ERR(newname)) {
		putname(oldname);
		return PTR_ERR(newname);
	}
	err = vfs_path_parent_lookup(oldname, KW_LOOKUP_SCOPE, &old_path, &old_last, &fd->f_path);
	if (err)
		goto put_names;
	err = vfs_path_parent_lookup(newname, KW_LOOKUP_SCOPE, &new_path, &new_last, &td->f_path);
	if (err)
		goto put_old;
	err = -EXDEV;
	if (old_path.mnt != new_path.mnt)
		goto put_new;
	err = mnt_want_write(old_path.mnt);
	if (err)
		goto put_new;
	trap = lock_rename(new_path.dentry, old_path.dentry);
	if (IS_ERR(trap)) {
		err = PTR_ERR(trap);
		goto drop_write;
	}
	old_dentry = lookup_one_qstr_excl(&old_last, old_path.dentry, 0);
	err = PTR_ERR(old_dentry);
	if (IS_ERR(old_dentry))
		goto unlock;
	err = -ENOENT;
	if (d_is_negative(old_dentry))
		goto put_old_dentry;
	new_dentry = lookup_one_qstr_excl(&new_last, new_path.dentry, LOOKUP_RENAME_TARGET);
	err = PTR_ERR(new_dentry);
	if (IS_ERR(new_dentry))
		goto put_old_dentry;
	/* Unless the source is a directory, trailing slashes give -ENOTDIR. */
	err = -ENOTDIR;
	if (!d_is_dir(old_dentry) && (old_last.name[old_last.len] || new_last.name[new_last.len]))
		goto put_new_dentry;
	/* The source must not be an ancestor of the target, nor the target of the source. */
	err = -EINVAL;
	if (old_dentry == trap)
		goto put_new_dentry;
	err = -ENOTEMPTY;
	if (new_dentry == trap)
		goto put_new_dentry;
	rd.old_dir = d_inode(old_path.dentry);
	rd.old_dentry = old_dentry;
	rd.old_mnt_idmap = mnt_idmap(old_path.mnt);
	rd.new_dir = d_inode(new_path.dentry);
	rd.new_dentry = new_dentry;
	rd.new_mnt_idmap = mnt_idmap(new_path.mnt);
	rd.delegated_inode = NULL;
	err = vfs_rename(&rd);
put_new_dentry:
	dput(new_dentry);
put_old_dentry:
	dput(old_dentry);
unlock:
	unlock_rename(new_path.dentry, old_path.dentry);
drop_write:
	mnt_drop_write(old_path.mnt);
put_new:
	path_put(&new_path);
put_old:
	path_put(&old_path);
put_names:
	putname(newname);
	putname(oldname);
	return err;
}

/*
 * Every entry of the directory `dir` (from its start; the position is reset), as records
 * { u64 ino; u8 type (DT_*); u8 pad; u16 name_len; char name[name_len]; } padded to 8 bytes, in
 * one kvmalloc'd block (*records, freed by the caller with kvfree). Returns its length or -errno.
 */
struct kwasm_dir_ctx {
	struct dir_context ctx;
	char *buf;
	size_t len, cap;
	int err;
};

#define KWASM_DIR_MAX (16 << 20)

static bool kwasm_filldir(struct dir_context *ctx, const char *name, int namlen, loff_t offset, u64 ino,
			  unsigned int d_type)
{
	struct kwasm_dir_ctx *c = container_of(ctx, struct kwasm_dir_ctx, ctx);
	size_t rec = ALIGN(12 + (size_t)namlen, 8);
	char *p;

	if (namlen < 0 || namlen > 0xffff) {
		c->err = -EOVERFLOW;
		return false;
	}
	if (c->len + rec > c->cap) {
		size_t cap = max(c->cap * 2, (size_t)4096);
		char *grown;

		while (cap < c->len + rec)
			cap *= 2;
		if (cap > KWASM_DIR_MAX) {
			c->err = -ENOMEM;
			return false;
		}
		grown = kvmalloc(cap, GFP_KERNEL_ACCOUNT);
		if (!grown) {
			c->err = -ENOMEM;
			return false;
		}
		if (c->len)
			memcpy(grown, c->buf, c->len);
		kvfree(c->buf);
		c->buf = grown;
		c->cap = cap;
	}
	p = c->buf + c->len;
	memset(p, 0, rec);
	memcpy(p, &ino, 8);
	p[8] = (char)d_type;
	*(u16 *)(p + 10) = (u16)namlen;
	memcpy(p + 12, name, namlen);
	c->len += rec;
	return true;
}

long kwasm_read_dir(void *dir, void **records)
{
	struct file *file = dir;
	struct kwasm_dir_ctx c = { .ctx.actor = kwasm_filldir };
	loff_t pos;
	int err;

	*records = NULL;
	if (!d_is_dir(file->f_path.dentry))
		return -ENOTDIR;
	pos = vfs_llseek(file, 0, SEEK_SET);
	if (pos < 0)
		return pos;
	err = iterate_dir(file, &c.ctx);
	if (!err)
		err = c.err;
	if (err) {
		kvfree(c.buf);
		return err;
	}
	*records = c.buf;
	return c.len;
}

int kwasm_file_sync(void *file, int datasync)
{
	return vfs_fsync(file, datasync);
}

/* ftruncate: only on a regular file opened for writing (else -EINVAL, as ftruncate(2)). */
int kwasm_file_set_size(void *f, u64 size)
{
	struct file *file = f;

	if (!(file->f_mode & FMODE_WRITE) || !S_ISREG(file_inode(file)->i_mode) || (loff_t)size < 0)
		return -EINVAL;
	return vfs_truncate(&file->f_path, size);
}

/* ---- FPU wrappers for rt.o (SSE) ------------------------------------------------------------ */

/*
 * rt.o runs inside a kernel FPU section and calls the functions above through these wrappers
 * (cargo xtask kmod renames its calls to kwasm_fpu_<name>): the section is suspended around the
 * call, which may sleep, fault or use the FPU. See "FPU sections" in kwasm_glue.c.
 */
struct kwasm_fpu;
struct kwasm_fpu *kwasm_fpu_suspend(void);
void kwasm_fpu_resume(struct kwasm_fpu *f);

#define KWASM_WASI_FPU_CALL(ret, wrapper, fn, params, args) \
	ret wrapper params;                                  \
	ret wrapper params                                   \
	{                                                    \
		struct kwasm_fpu *fpu__ = kwasm_fpu_suspend(); \
		ret r = fn args;                             \
		kwasm_fpu_resume(fpu__);                     \
		return r;                                    \
	}
#define KWASM_WASI_FPU_CALL_VOID(wrapper, fn, params, args) \
	void wrapper params;                                 \
	void wrapper params                                  \
	{                                                    \
		struct kwasm_fpu *fpu__ = kwasm_fpu_suspend(); \
		fn args;                                     \
		kwasm_fpu_resume(fpu__);                     \
	}

KWASM_WASI_FPU_CALL(void *, kwasm_fpu_sock_listener, kwasm_sock_listener, (int fd, int *err), (fd, err))
KWASM_WASI_FPU_CALL_VOID(kwasm_fpu_sock_put_listener, kwasm_sock_put_listener, (void *sock), (sock))
KWASM_WASI_FPU_CALL(int, kwasm_fpu_sock_accept, kwasm_sock_accept, (void *listener, void **conn),
		    (listener, conn))
KWASM_WASI_FPU_CALL_VOID(kwasm_fpu_sock_release, kwasm_sock_release, (void *sock), (sock))
KWASM_WASI_FPU_CALL(long, kwasm_fpu_sock_recv, kwasm_sock_recv,
		    (void *sock, void *buf, size_t len, int peek), (sock, buf, len, peek))
KWASM_WASI_FPU_CALL(long, kwasm_fpu_sock_send, kwasm_sock_send, (void *sock, const void *buf, size_t len),
		    (sock, buf, len))
KWASM_WASI_FPU_CALL(int, kwasm_fpu_sock_shutdown, kwasm_sock_shutdown, (void *sock, int how), (sock, how))
KWASM_WASI_FPU_CALL(int, kwasm_fpu_wait, kwasm_wait, (struct kwasm_pollreq *reqs, size_t n, s64 timeout_ns),
		    (reqs, n, timeout_ns))
KWASM_WASI_FPU_CALL_VOID(kwasm_fpu_yield, kwasm_yield, (void), ())
KWASM_WASI_FPU_CALL(s64, kwasm_fpu_cpu_time_ns, kwasm_cpu_time_ns, (int thread), (thread))
KWASM_WASI_FPU_CALL(long long, kwasm_fpu_file_seek, kwasm_file_seek, (void *file, long long offset, int whence),
		    (file, offset, whence))
KWASM_WASI_FPU_CALL(int, kwasm_fpu_file_stat, kwasm_file_stat, (void *f, struct kwasm_stat *out), (f, out))
KWASM_WASI_FPU_CALL(long, kwasm_fpu_file_pread, kwasm_file_pread, (void *f, void *buf, size_t len, u64 pos),
		    (f, buf, len, pos))
KWASM_WASI_FPU_CALL(long, kwasm_fpu_file_pwrite, kwasm_file_pwrite,
		    (void *f, const void *buf, size_t len, u64 pos), (f, buf, len, pos))
KWASM_WASI_FPU_CALL(int, kwasm_fpu_file_is_dir, kwasm_file_is_dir, (void *f), (f))
KWASM_WASI_FPU_CALL(void *, kwasm_fpu_open_beneath, kwasm_open_beneath,
		    (void *dir, const char *path, u32 how, int *err), (dir, path, how, err))
KWASM_WASI_FPU_CALL(int, kwasm_fpu_stat_beneath, kwasm_stat_beneath,
		    (void *dir, const char *path, int follow, struct kwasm_stat *out), (dir, path, follow, out))
KWASM_WASI_FPU_CALL(int, kwasm_fpu_mkdir_beneath, kwasm_mkdir_beneath, (void *dir, const char *path),
		    (dir, path))
KWASM_WASI_FPU_CALL(int, kwasm_fpu_unlink_beneath, kwasm_unlink_beneath,
		    (void *dir, const char *path, int rmdir), (dir, path, rmdir))
KWASM_WASI_FPU_CALL(int, kwasm_fpu_rename_beneath, kwasm_rename_beneath,
		    (void *from_dir, const char *from, void *to_dir, const char *to), (from_dir, from, to_dir, to))
KWASM_WASI_FPU_CALL(long, kwasm_fpu_read_dir, kwasm_read_dir, (void *dir, void **records), (dir, records))
KWASM_WASI_FPU_CALL(int, kwasm_fpu_file_sync, kwasm_file_sync, (void *file, int datasync), (file, datasync))
KWASM_WASI_FPU_CALL(int, kwasm_fpu_file_set_size, kwasm_file_set_size, (void *file, u64 size), (file, size))
