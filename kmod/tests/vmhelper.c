// SPDX-License-Identifier: Apache-2.0
/*
 * vmhelper: small syscall-level probes for the kwasm VM tests (kmod/tests/vm-test.sh), built
 * statically by `cargo xtask vm-test`. Each probe prints "ok" or the errno name (EINVAL, EPERM...)
 * of the failing call on stdout, so that the shell can compare exact results.
 *
 *   vmhelper open PATH                 open(PATH, O_RDWR)
 *   vmhelper ioctl PATH CMD [ARG]      open + ioctl(fd, CMD, ARG) (CMD, ARG: C integer syntax)
 *   vmhelper write PATH TEXT           open(O_WRONLY) + one write(TEXT); TEXT "<empty>" writes 0 bytes,
 *                                      "<newline>" writes "\n"
 *   vmhelper read PATH                 prints the file's content (first 4 KiB) as is
 *   vmhelper version PATH              KWASM_IOC_VERSION: prints "ABI KNOBS FEATURES" or the errno
 *   vmhelper run FILE.wasm [ARGS...]   LOAD + RUN through /dev/kwasm with our stdio; prints
 *                                      "KWASM-RUN outcome=N exit=N trap=N func=N offset=N ns=N fuel=N" on
 *                                      stderr and exits with the program's exit code (134 on a trap)
 *   vmhelper runempty PATH             KWASM_IOC_RUN with nothing loaded
 *   vmhelper killtime FILE.wasm MS      runs FILE in a child, SIGKILLs it after MS ms; prints
 *                                      "killed ms=N" (time from kill to reaped) or what happened
 *   vmhelper garbage N SEED FILE.wasm  N garbage ioctls (random commands, sizes, pointers, load
 *                                      structs, mutated copies of FILE); prints "done N errno:count..."
 *   vmhelper sgarbage N SEED FILE.wasm N garbage sessions (ABI 2): SESSION, then random COMPILE,
 *                                      INSTANTIATE, REGISTER, INVOKE, GET (random fields, handles,
 *                                      pointers, counts, mutated copies of FILE) and LOAD/RUN on a
 *                                      session; prints "done N ioctls M errno:count..."
 *   vmhelper sessionerr /dev/kwasm     misuse of the session ABI; prints the errno of each case
 *   vmhelper echoclient PORT CONNS PAR BYTES
 *                                      a client of an echo server on 127.0.0.1:PORT: CONNS
 *                                      connections, PAR open at a time, each sending BYTES bytes (a
 *                                      pattern, in chunks of up to 1500) and reading every byte back
 *                                      (checked); connects retry for 20 s while the server starts.
 *                                      Prints "ok CONNS conns TOTAL bytes MS ms RATE conn/s" or what
 *                                      went wrong
 *   vmhelper fpuvictim SECONDS         FPU integrity victim: loads random patterns into XMM0-15 (YMM0-15
 *                                      with AVX), the x87 stack and control word and a non-default
 *                                      MXCSR, calls sched_yield() with them loaded, checks them;
 *                                      repeats for SECONDS; prints "ok yields=N" or "CORRUPT ..."
 *   vmhelper fpurun FILE.wasm [ARGS]   like run, but RUN is made by a raw syscall with such patterns
 *                                      loaded and checked afterwards ("caller-fpu ok" on stderr),
 *                                      while a child moves the process between CPUs every ms
 *   vmhelper sessionstats FILE.wasm N  a session: COMPILE FILE, INSTANTIATE it up to N times (stops at the
 *                                      first failure), INVOKE _start on instance 0, then reads this
 *                                      process's /sys/kernel/kwasm/instances/<id>/; prints
 *                                      "instantiated=K status=S invoke=S dirs=D session=.. instances=..
 *                                      calls=.. traps=.. fuel=F/F'" (F: the INVOKE's fuel, F': sysfs)
 *   vmhelper timed COMMAND...          runs COMMAND (its stdout is ours), prints "ms=N" (wall time from
 *                                      fork to reaped, CLOCK_MONOTONIC) on stderr, exits with its status
 *   vmhelper as UID GID PROBE...       drop supplementary groups, setgid(GID), setuid(UID), probe
 *   vmhelper nocap PROBE...            stay uid 0 but drop CAP_SYS_ADMIN (effective, permitted), probe
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <stdint.h>
#include "uapi/kwasm.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <cpuid.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <time.h>
#include <sys/syscall.h>
#include <unistd.h>

static int report(int rc)
{
	if (rc < 0) {
		const char *name = strerrorname_np(errno);
		printf("%s\n", name ? name : "E?");
	} else {
		printf("ok\n");
	}
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: vmhelper open|ioctl|write|read|as|nocap ...\n");
	return 2;
}

static int fpu_run_ioctl(int dev, struct kwasm_run_result *r);

static int run_wasm(int argc, char **argv, int fpu_check)
{
	const char *file = argv[0];
	int wfd = open(file, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (wfd < 0 || fstat(wfd, &st)) {
		perror(file);
		return 2;
	}
	char *wasm = malloc(st.st_size ? st.st_size : 1);
	if (!wasm || read(wfd, wasm, st.st_size) != st.st_size) {
		perror("read");
		return 2;
	}
	/* argv block: basename of the file first, like `kwasm run`. */
	const char *base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
	size_t args_len = strlen(base) + 1;
	for (int i = 1; i < argc; i++)
		args_len += strlen(argv[i]) + 1;
	char *args = malloc(args_len), *p = args;
	p = stpcpy(p, base) + 1;
	for (int i = 1; i < argc; i++)
		p = stpcpy(p, argv[i]) + 1;

	int dev = open("/dev/kwasm", O_RDWR | O_CLOEXEC);
	if (dev < 0) {
		perror("/dev/kwasm");
		return 2;
	}
	struct kwasm_load l = {
		.size = sizeof(l),
		.wasm = (uintptr_t)wasm,
		.wasm_len = st.st_size,
		.args = (uintptr_t)args,
		.args_len = args_len,
		.stdin_fd = 0,
		.stdout_fd = 1,
		.stderr_fd = 2,
		.listen_fd = -1,
	};
	if (ioctl(dev, KWASM_IOC_LOAD, &l) < 0) {
		printf("LOAD %s\n", strerrorname_np(errno));
		return 2;
	}
	struct kwasm_run_result r = { .size = sizeof(r) };
	if ((fpu_check ? fpu_run_ioctl(dev, &r) : ioctl(dev, KWASM_IOC_RUN, &r)) < 0) {
		printf("RUN %s\n", strerrorname_np(errno));
		return 2;
	}
	fprintf(stderr, "KWASM-RUN outcome=%u exit=%u trap=%u func=%d offset=%lld ns=%llu fuel=%llu\n",
		r.outcome, r.exit_code, r.trap_kind, (int)r.trap_func, (long long)r.trap_offset,
		(unsigned long long)r.run_ns, (unsigned long long)r.fuel_used);
	if (r.outcome == KWASM_OUTCOME_EXIT)
		return r.exit_code & 0xff;
	return r.outcome == KWASM_OUTCOME_KILLED ? 137 : 134;
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int killtime(const char *file, int ms)
{
	pid_t pid = fork();
	if (pid == 0) {
		char *av[] = { (char *)file, NULL };
		int fd = open("/dev/null", O_WRONLY);
		dup2(fd, 1);
		_exit(run_wasm(1, av, 0));
	}
	usleep(ms * 1000);
	int status;
	if (waitpid(pid, &status, WNOHANG) == pid) {
		printf("exited-early status=%d\n", status);
		return 0;
	}
	double t0 = now_ms();
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	double dt = now_ms() - t0;
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
		printf("killed ms=%.1f\n", dt);
	else
		printf("not-killed status=%d\n", status);
	return 0;
}

static uint64_t rng_state;
static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* A pointer that is NULL, unmapped, a kernel address, misaligned or valid. */
static uint64_t garbage_ptr(void *valid)
{
	switch (rnd() % 6) {
	case 0: return 0;
	case 1: return 0xffff888000000000ULL + (rnd() & 0xffffff);
	case 2: return rnd();
	case 3: return (uintptr_t)valid + 1;
	default: return (uintptr_t)valid;
	}
}

static int garbage(int n, uint64_t seed, const char *file)
{
	int wfd = open(file, O_RDONLY);
	struct stat st;
	if (wfd < 0 || fstat(wfd, &st))
		return report(-1);
	size_t wlen = st.st_size;
	unsigned char *orig = malloc(wlen), *wasm = malloc(wlen);
	if (read(wfd, orig, wlen) != (ssize_t)wlen)
		return report(-1);
	static unsigned char buf[65536];
	int counts[200] = { 0 }, ok = 0;
	rng_state = seed | 1;
	for (int i = 0; i < n; i++) {
		int dev = open("/dev/kwasm", O_RDWR | O_CLOEXEC);
		if (dev < 0)
			return report(dev);
		for (size_t k = 0; k < sizeof(buf); k += 8)
			*(uint64_t *)(buf + k) = rnd();
		int kind = rnd() % 4, rc;
		if (kind == 0) {
			/* Any command in our magic, any size and direction, random pointer. */
			unsigned long cmd = ((rnd() % 4) << 30) | ((rnd() & 0x3fff) << 16) | (0xB9 << 8) | (rnd() % 8);
			rc = ioctl(dev, cmd, garbage_ptr(buf));
		} else {
			/* A LOAD: random fields, or a plausible struct with one field broken. */
			struct kwasm_load l;
			memcpy(wasm, orig, wlen);
			for (int m = rnd() % 8; m > 0; m--)
				wasm[rnd() % wlen] = rnd();
			if (kind == 1) {
				memcpy(&l, buf, sizeof(l));
			} else {
				memset(&l, 0, sizeof(l));
				l.size = sizeof(l);
				l.wasm = (uintptr_t)wasm;
				l.wasm_len = wlen;
				l.stdin_fd = -1;
				l.stdout_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
				l.stderr_fd = -1;
				l.listen_fd = -1;
				l.fuel = 100000;
				switch (rnd() % 12) {
				case 0: l.wasm = garbage_ptr(wasm); break;
				case 1: l.wasm_len = rnd() % (2 * wlen + 1); break;
				case 2: l.args = garbage_ptr(buf); l.args_len = rnd() % 100000; break;
				case 3: l.env = (uintptr_t)buf; l.env_len = rnd() % 64; break;
				case 4: l.stdin_fd = rnd() % 64; break;
				case 5: l.size = rnd() % 256; break;
				case 6: l.reserved[rnd() % 2] = rnd(); break;
				case 7: l.wasm_len = rnd(); break;
				/* ABI 3: any fd as the listening socket; preopen arrays of garbage. */
				case 8: l.listen_fd = (int)(rnd() % 70) - 2; break;
				case 9: l.preopens = garbage_ptr(buf); l.npreopens = rnd() % 80; break;
				default: break; /* a mutated module as is */
				}
			}
			rc = ioctl(dev, KWASM_IOC_LOAD, &l);
			if (rc == 0 && kind == 3) {
				/* Run what loaded, with little fuel; the outcome does not matter. */
				struct kwasm_run_result r = { .size = sizeof(r) };
				ioctl(dev, KWASM_IOC_RUN, &r);
			}
			if (kind >= 2 && l.stdout_fd > 2)
				close(l.stdout_fd);
		}
		if (rc == 0)
			ok++;
		else if (errno < 200)
			counts[errno]++;
		close(dev);
	}
	printf("done %d ok:%d", n, ok);
	for (int e = 0; e < 200; e++)
		if (counts[e])
			printf(" %s:%d", strerrorname_np(e) ? strerrorname_np(e) : "E?", counts[e]);
	printf("\n");
	return 0;
}

static void count_rc(int rc, int *ok, int *counts)
{
	if (rc == 0)
		(*ok)++;
	else if (errno < 200)
		counts[errno]++;
}

/* Random values for session ioctls: mostly small handles, sometimes anything. */
static uint32_t garbage_handle(void)
{
	return rnd() % 4 ? rnd() % 4 : (uint32_t)rnd();
}

static int session_garbage(int n, uint64_t seed, const char *file)
{
	int wfd = open(file, O_RDONLY);
	struct stat st;
	if (wfd < 0 || fstat(wfd, &st))
		return report(-1);
	size_t wlen = st.st_size;
	unsigned char *orig = malloc(wlen), *wasm = malloc(wlen);
	if (read(wfd, orig, wlen) != (ssize_t)wlen)
		return report(-1);
	static unsigned char buf[65536];
	static struct kwasm_val vals[64];
	static const char *names[] = { "_start", "", "nope", "memory" };
	int counts[200] = { 0 }, ok = 0, calls = 0;
	rng_state = seed | 1;
	for (int i = 0; i < n; i++) {
		int dev = open("/dev/kwasm", O_RDWR | O_CLOEXEC);
		if (dev < 0)
			return report(dev);
		for (size_t k = 0; k < sizeof(buf); k += 8)
			*(uint64_t *)(buf + k) = rnd();
		struct kwasm_session ses = { .size = sizeof(ses), .flags = KWASM_SESSION_SPECTEST, .fuel = 100000 };
		switch (rnd() % 8) {
		case 0: memcpy(&ses, buf, sizeof(ses)); break;
		case 1: ses.flags = rnd(); break;
		case 2: ses.reserved[rnd() % 4] = 1; break;
		default: break;
		}
		count_rc(ioctl(dev, KWASM_IOC_SESSION, &ses), &ok, counts);
		calls++;
		if (rnd() % 2) {
			/* A real instance (handle 0) for the calls below to find. */
			struct kwasm_compile c = { .size = sizeof(c), .wasm = (uintptr_t)orig, .wasm_len = wlen };
			struct kwasm_instantiate a = { .size = sizeof(a) };
			count_rc(ioctl(dev, KWASM_IOC_COMPILE, &c), &ok, counts);
			count_rc(ioctl(dev, KWASM_IOC_INSTANTIATE, &a), &ok, counts);
			calls += 2;
		}
		for (int k = rnd() % 8; k >= 0; k--, calls++) {
			int rc;
			const char *name = names[rnd() % 4];
			switch (rnd() % 7) {
			case 0: case 1: {
				struct kwasm_compile c = { .size = sizeof(c), .wasm = (uintptr_t)wasm, .wasm_len = wlen };
				memcpy(wasm, orig, wlen);
				for (int m = rnd() % 3; m > 0; m--)
					wasm[rnd() % wlen] = rnd();
				c.outcome.msg = (uintptr_t)buf;
				c.outcome.msg_cap = rnd() % 128;
				switch (rnd() % 8) {
				case 0: c.wasm = garbage_ptr(wasm); break;
				case 1: c.wasm_len = rnd(); break;
				case 2: c.outcome.msg = garbage_ptr(buf); break;
				case 3: c.flags = rnd() % 4; break;
				case 4: c.outcome.reserved = 1; break;
				case 5: memcpy(&c, buf, sizeof(c)); break;
				default: break;
				}
				rc = ioctl(dev, KWASM_IOC_COMPILE, &c);
				break;
			}
			case 2: {
				struct kwasm_instantiate a = { .size = sizeof(a), .module = garbage_handle() };
				a.outcome.msg = rnd() % 2 ? (uintptr_t)buf : garbage_ptr(buf);
				a.outcome.msg_cap = rnd() % 256;
				rc = ioctl(dev, KWASM_IOC_INSTANTIATE, &a);
				break;
			}
			case 3: {
				struct kwasm_register r = { .size = sizeof(r), .instance = garbage_handle(),
							    .name = (uintptr_t)name, .name_len = strlen(name) };
				if (rnd() % 3 == 0) {
					r.name = garbage_ptr(buf);
					r.name_len = rnd() % 3 ? rnd() % 100 : rnd();
				}
				rc = ioctl(dev, KWASM_IOC_REGISTER, &r);
				break;
			}
			case 4: case 5: {
				struct kwasm_invoke v = { .size = sizeof(v), .instance = garbage_handle(),
							  .name = (uintptr_t)name, .name_len = strlen(name),
							  .args = (uintptr_t)vals, .results = (uintptr_t)vals,
							  .results_cap = 64 };
				v.outcome.msg = (uintptr_t)buf;
				v.outcome.msg_cap = 64;
				memcpy(vals, buf, sizeof(vals));
				switch (rnd() % 8) {
				case 0: v.nargs = rnd() % 3; break;
				case 1: v.nargs = rnd(); break;
				case 2: v.args = garbage_ptr(vals); v.nargs = 1 + rnd() % 8; break;
				case 3: v.results = garbage_ptr(vals); break;
				case 4: v.results_cap = rnd() % 2 ? 0 : rnd(); break;
				case 5: v.name = garbage_ptr(buf); v.name_len = rnd() % 70000; break;
				case 6: vals[0].ty = KWASM_VAL_I32; vals[0].flags = 0; vals[0].lo = rnd(); vals[0].hi = 0; v.nargs = 1; break;
				default: break;
				}
				rc = ioctl(dev, KWASM_IOC_INVOKE, &v);
				break;
			}
			default: {
				struct kwasm_get g = { .size = sizeof(g), .instance = garbage_handle(), .what = rnd() % 3,
						       .index = rnd() % 3 ? rnd() % 4 : rnd(),
						       .name = (uintptr_t)name, .name_len = strlen(name) };
				if (rnd() % 4 == 0)
					g.name = garbage_ptr(buf);
				rc = ioctl(dev, KWASM_IOC_GET, &g);
				break;
			}
			}
			count_rc(rc, &ok, counts);
		}
		/* The version-1 commands on a session file. */
		if (rnd() % 4 == 0) {
			struct kwasm_load l = { .size = sizeof(l), .wasm = (uintptr_t)orig, .wasm_len = wlen,
						.stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1, .listen_fd = -1,
						.fuel = 100000 /* LOAD succeeds where SESSION failed */ };
			struct kwasm_run_result r = { .size = sizeof(r) };
			count_rc(ioctl(dev, KWASM_IOC_LOAD, &l), &ok, counts);
			count_rc(ioctl(dev, KWASM_IOC_RUN, &r), &ok, counts);
			calls += 2;
		}
		close(dev);
	}
	printf("done %d ioctls %d ok:%d", n, calls, ok);
	for (int e = 0; e < 200; e++)
		if (counts[e])
			printf(" %s:%d", strerrorname_np(e) ? strerrorname_np(e) : "E?", counts[e]);
	printf("\n");
	return 0;
}

/* Misuse of the session ABI, one errno per case. */
static int session_errors(void)
{
	int dev = open("/dev/kwasm", O_RDWR | O_CLOEXEC);
	struct kwasm_compile c = { .size = sizeof(c) };
	struct kwasm_session ses = { .size = sizeof(ses) };
	struct kwasm_run_result r = { .size = sizeof(r) };
	struct kwasm_load l = { .size = sizeof(l), .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1, .listen_fd = -1 };
	struct kwasm_instantiate a = { .size = sizeof(a), .module = 0 };
	struct kwasm_invoke v = { .size = sizeof(v), .instance = 0 };
	const char *e;
#define SHOW(what, call) do { e = (call) == 0 ? "ok" : strerrorname_np(errno); printf("%s=%s ", what, e); } while (0)
	SHOW("compile-nosession", ioctl(dev, KWASM_IOC_COMPILE, &c));
	SHOW("session", ioctl(dev, KWASM_IOC_SESSION, &ses));
	SHOW("session-again", ioctl(dev, KWASM_IOC_SESSION, &ses));
	SHOW("load-on-session", ioctl(dev, KWASM_IOC_LOAD, &l));
	SHOW("run-on-session", ioctl(dev, KWASM_IOC_RUN, &r));
	SHOW("instantiate-nomodule", ioctl(dev, KWASM_IOC_INSTANTIATE, &a));
	SHOW("invoke-noinstance", ioctl(dev, KWASM_IOC_INVOKE, &v));
	ses.size = 8;
	SHOW("session-badsize", ioctl(dev, KWASM_IOC_SESSION, &ses));
#undef SHOW
	printf("\n");
	close(dev);
	return 0;
}

/* A connected socket to 127.0.0.1:port, retrying while nobody listens yet; -1 after 20 s. */
static int echo_connect(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	double give_up = now_ms() + 20000;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (;;) {
		int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (s < 0)
			return -1;
		if (connect(s, (struct sockaddr *)&a, sizeof(a)) == 0)
			return s;
		close(s);
		if (errno != ECONNREFUSED || now_ms() > give_up)
			return -1;
		usleep(20000);
	}
}

static unsigned char echo_byte(long conn, long i)
{
	return (unsigned char)(conn * 31 + i * 7 + (i >> 8));
}

static int echo_client(int port, long conns, long par, long bytes)
{
	static unsigned char out[1500], in[65536];
	int socks[64];
	double t0 = now_ms();
	long done = 0;

	if (conns < 1 || par < 1 || par > 64 || bytes < 0) {
		printf("bad arguments\n");
		return 1;
	}
	while (done < conns) {
		long batch = conns - done < par ? conns - done : par;

		for (long k = 0; k < batch; k++) {
			socks[k] = echo_connect(port);
			if (socks[k] < 0) {
				printf("connect %s\n", strerrorname_np(errno));
				return 1;
			}
		}
		/* Interleave: a chunk to each connection, then read back as much from each. */
		for (long off = 0; off < bytes; off += sizeof(out)) {
			long n = bytes - off < (long)sizeof(out) ? bytes - off : (long)sizeof(out);

			for (long k = 0; k < batch; k++) {
				for (long i = 0; i < n; i++)
					out[i] = echo_byte(done + k, off + i);
				if (write(socks[k], out, n) != n) {
					printf("write %s\n", strerrorname_np(errno));
					return 1;
				}
			}
			for (long k = 0; k < batch; k++) {
				for (long got = 0; got < n;) {
					ssize_t r = read(socks[k], in, n - got);

					if (r <= 0) {
						printf("read %s after %ld of %ld bytes\n", r ? strerrorname_np(errno) : "EOF",
						       off + got, bytes);
						return 1;
					}
					for (long i = 0; i < r; i++)
						if (in[i] != echo_byte(done + k, off + got + i)) {
							printf("mismatch at byte %ld of connection %ld\n", off + got + i, done + k);
							return 1;
						}
					got += r;
				}
			}
		}
		for (long k = 0; k < batch; k++) {
			/* Our side closes; the server must see end of stream and close too. */
			shutdown(socks[k], SHUT_WR);
			if (read(socks[k], in, 1) != 0) {
				printf("no end of stream from the server\n");
				return 1;
			}
			close(socks[k]);
		}
		done += batch;
	}
	double ms = now_ms() - t0;
	printf("ok %ld conns %ld bytes %.0f ms %.1f conn/s\n", conns, conns * bytes, ms, conns * 1000.0 / (ms > 0 ? ms : 1));
	return 0;
}

/* ---- FPU integrity: register patterns held across a syscall ----------------------------------- */

/* The registers a task owns in user space, as loaded/stored by fpu_syscall. */
struct fpu_image {
	uint8_t ymm[16][32]; /* XMM = the low 16 bytes; the high 16 only with AVX */
	uint64_t x87[8];     /* doubles, ST7..ST0 in load order */
	uint16_t fcw;
	uint16_t pad;
	uint32_t mxcsr;
};
_Static_assert(offsetof(struct fpu_image, x87) == 512, "layout used by the asm");
_Static_assert(offsetof(struct fpu_image, fcw) == 576, "layout used by the asm");
_Static_assert(offsetof(struct fpu_image, mxcsr) == 580, "layout used by the asm");

static int have_avx(void)
{
	unsigned a, b, c, d;
	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_OSXSAVE) || !(c & bit_AVX))
		return 0;
	unsigned lo, hi;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return (lo & 6) == 6;
}

#define LOAD_X(n) "movdqu " #n "*32(%[in]), %%xmm" #n "\n\t"
#define LOAD_Y(n) "vmovdqu " #n "*32(%[in]), %%ymm" #n "\n\t"
#define STORE_X(n) "movdqu %%xmm" #n ", " #n "*32(%[out])\n\t"
#define STORE_Y(n) "vmovdqu %%ymm" #n ", " #n "*32(%[out])\n\t"
#define ALL16(M) M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7) M(8) M(9) M(10) M(11) M(12) M(13) M(14) M(15)
#define X87_LOAD "fninit\n\tfldcw 576(%[in])\n\t" \
	"fldl 512(%[in])\n\tfldl 520(%[in])\n\tfldl 528(%[in])\n\tfldl 536(%[in])\n\t" \
	"fldl 544(%[in])\n\tfldl 552(%[in])\n\tfldl 560(%[in])\n\tfldl 568(%[in])\n\t" \
	"ldmxcsr 580(%[in])\n\t"
#define X87_STORE "stmxcsr 580(%[out])\n\tldmxcsr %[dflt]\n\tfnstcw 576(%[out])\n\t" \
	"fstpl 568(%[out])\n\tfstpl 560(%[out])\n\tfstpl 552(%[out])\n\tfstpl 544(%[out])\n\t" \
	"fstpl 536(%[out])\n\tfstpl 528(%[out])\n\tfstpl 520(%[out])\n\tfstpl 512(%[out])\n\tfninit\n\t"
#define FPU_CLOBBERS "rcx", "r11", "memory", "cc", "st", "st(1)", "st(2)", "st(3)", "st(4)", "st(5)", \
	"st(6)", "st(7)", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", \
	"xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15"

/* Loads *in into the registers, makes syscall nr(a0, a1, a2) with them loaded, stores them into
 * *out (then restores the default MXCSR and an empty x87 stack). Returns the syscall's result. */
static long fpu_syscall(const struct fpu_image *in, struct fpu_image *out, int avx, long nr, long a0,
			long a1, long a2)
{
	static const uint32_t dflt = 0x1f80;
	long ret = nr;
	register long r10 __asm__("r10") = 0;
	if (avx)
		__asm__ volatile(ALL16(LOAD_Y) X87_LOAD "syscall\n\t" X87_STORE ALL16(STORE_Y) "vzeroupper\n\t"
				 : "+a"(ret), "+D"(a0), "+S"(a1), "+d"(a2), "+r"(r10)
				 : [in] "b"(in), [out] "r"(out), [dflt] "m"(dflt)
				 : FPU_CLOBBERS);
	else
		__asm__ volatile(ALL16(LOAD_X) X87_LOAD "syscall\n\t" X87_STORE ALL16(STORE_X)
				 : "+a"(ret), "+D"(a0), "+S"(a1), "+d"(a2), "+r"(r10)
				 : [in] "b"(in), [out] "r"(out), [dflt] "m"(dflt)
				 : FPU_CLOBBERS);
	return ret;
}

/* Random register contents: normal doubles on the x87 stack (a signaling NaN would be quieted by
 * fld), rounding toward zero in MXCSR and up in the x87 control word (both non-default). */
static void fpu_pattern(struct fpu_image *img)
{
	for (int r = 0; r < 16; r++)
		for (int i = 0; i < 32; i += 8) {
			uint64_t v = rnd();
			memcpy(&img->ymm[r][i], &v, 8);
		}
	for (int i = 0; i < 8; i++) {
		uint64_t v = rnd();
		uint64_t exp = 1 + (v >> 52) % 2046;
		img->x87[i] = (v & 0x800fffffffffffffull) | exp << 52;
	}
	img->fcw = 0x0a7f;
	img->pad = 0;
	img->mxcsr = 0x7f80;
}

/* Describes the first difference, or returns 0. */
static int fpu_compare(const struct fpu_image *a, const struct fpu_image *b, int avx, char *msg, size_t cap)
{
	for (int r = 0; r < 16; r++)
		if (memcmp(a->ymm[r], b->ymm[r], avx ? 32 : 16)) {
			snprintf(msg, cap, "%smm%d", memcmp(a->ymm[r], b->ymm[r], 16) ? "x" : "ymm-high y", r);
			return 1;
		}
	for (int i = 0; i < 8; i++)
		if (a->x87[i] != b->x87[i]) {
			snprintf(msg, cap, "st%d %016llx != %016llx", 7 - i, (unsigned long long)a->x87[i],
				 (unsigned long long)b->x87[i]);
			return 1;
		}
	if (a->fcw != b->fcw) {
		snprintf(msg, cap, "fcw %04x != %04x", a->fcw, b->fcw);
		return 1;
	}
	if (a->mxcsr != b->mxcsr) {
		snprintf(msg, cap, "mxcsr %08x != %08x", a->mxcsr, b->mxcsr);
		return 1;
	}
	return 0;
}

static int fpu_victim(double seconds)
{
	int avx = have_avx();
	struct fpu_image in, out;
	unsigned long long yields = 0, bad = 0;
	char first[96] = "";
	rng_state = 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid() << 17;
	/* The comparison must see a one-bit change anywhere it looks. */
	fpu_pattern(&in);
	out = in;
	out.ymm[9][avx ? 31 : 15] ^= 0x10;
	char msg0[96];
	if (!fpu_compare(&in, &out, avx, msg0, sizeof(msg0))) {
		printf("CHECKER-BROKEN\n");
		return 1;
	}
	double end = now_ms() + seconds * 1e3;
	while (now_ms() < end) {
		fpu_pattern(&in);
		memset(&out, 0, sizeof(out));
		fpu_syscall(&in, &out, avx, SYS_sched_yield, 0, 0, 0);
		char msg[96];
		if (fpu_compare(&in, &out, avx, msg, sizeof(msg)) && bad++ == 0)
			snprintf(first, sizeof(first), "%s", msg);
		yields++;
	}
	if (bad)
		printf("CORRUPT %llu of %llu yields, first: %s\n", bad, yields, first);
	else
		printf("ok yields=%llu avx=%d\n", yields, avx);
	return 0;
}

/* Moves `pid` to CPU 0, 1, 0, ... every millisecond while it lives (our parent). */
static void migrate_parent(void)
{
	pid_t parent = getppid();
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	for (unsigned long i = 0; getppid() == parent; i++) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(i % ncpu, &set);
		if (sched_setaffinity(parent, sizeof(set), &set))
			break;
		usleep(1000);
	}
	_exit(0);
}

/* The RUN ioctl of fpurun: made with register patterns loaded, checked afterwards. */
static int fpu_run_ioctl(int dev, struct kwasm_run_result *r)
{
	int avx = have_avx();
	struct fpu_image in, out;
	char msg[96];
	rng_state = 0x2545f4914f6cdd1dull ^ (uint64_t)getpid();
	fpu_pattern(&in);
	pid_t mover = sysconf(_SC_NPROCESSORS_ONLN) > 1 ? fork() : -1;
	if (mover == 0)
		migrate_parent();
	long rc = fpu_syscall(&in, &out, avx, SYS_ioctl, dev, KWASM_IOC_RUN, (long)r);
	if (mover > 0) {
		kill(mover, SIGKILL);
		waitpid(mover, NULL, 0);
	}
	if (fpu_compare(&in, &out, avx, msg, sizeof(msg)))
		fprintf(stderr, "caller-fpu CORRUPT %s\n", msg);
	else
		fprintf(stderr, "caller-fpu ok\n");
	if (rc < 0) {
		errno = -rc;
		return -1;
	}
	return 0;
}

/* ---- per-store statistics ----------------------------------------------------------------------- */

/* Reads counter `name` of instances/<id> into *v; 0 on success. */
static int inst_stat(const char *id, const char *name, unsigned long long *v)
{
	char path[256];
	snprintf(path, sizeof(path), "/sys/kernel/kwasm/instances/%s/%s", id, name);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	int ok = fscanf(f, "%llu", v) == 1;
	fclose(f);
	return ok ? 0 : -1;
}

static int session_stats(const char *file, int n)
{
	int wfd = open(file, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (wfd < 0 || fstat(wfd, &st)) {
		perror(file);
		return 2;
	}
	char *wasm = malloc(st.st_size ? st.st_size : 1);
	if (!wasm || read(wfd, wasm, st.st_size) != st.st_size) {
		perror("read");
		return 2;
	}
	int dev = open("/dev/kwasm", O_RDWR | O_CLOEXEC);
	struct kwasm_session ses = { .size = sizeof(ses) };
	struct kwasm_compile c = { .size = sizeof(c), .wasm = (uintptr_t)wasm, .wasm_len = st.st_size };
	if (dev < 0 || ioctl(dev, KWASM_IOC_SESSION, &ses) || ioctl(dev, KWASM_IOC_COMPILE, &c) ||
	    c.outcome.status != KWASM_STATUS_OK) {
		printf("setup failed: %s status %u\n", strerrorname_np(errno), c.outcome.status);
		return 2;
	}
	int k = 0;
	unsigned status = KWASM_STATUS_OK;
	for (; k < n; k++) {
		struct kwasm_instantiate a = { .size = sizeof(a), .module = c.module };
		if (ioctl(dev, KWASM_IOC_INSTANTIATE, &a)) {
			printf("INSTANTIATE %s\n", strerrorname_np(errno));
			return 2;
		}
		status = a.outcome.status;
		if (status != KWASM_STATUS_OK)
			break;
	}
	const char *name = "_start";
	struct kwasm_val result;
	struct kwasm_invoke v = { .size = sizeof(v), .instance = 0, .name = (uintptr_t)name,
				  .name_len = strlen(name), .results = (uintptr_t)&result, .results_cap = 1 };
	if (ioctl(dev, KWASM_IOC_INVOKE, &v)) {
		printf("INVOKE %s\n", strerrorname_np(errno));
		return 2;
	}
	/* Our directory: the one whose pid is ours. */
	char mine[64] = "";
	int dirs = 0;
	FILE *ls = popen("ls /sys/kernel/kwasm/instances", "r");
	char id[64];
	while (ls && fscanf(ls, "%63s", id) == 1) {
		unsigned long long pid;
		dirs++;
		if (!inst_stat(id, "pid", &pid) && pid == (unsigned long long)getpid())
			snprintf(mine, sizeof(mine), "%s", id);
	}
	if (ls)
		pclose(ls);
	printf("instantiated=%d status=%u invoke=%u dirs=%d", k, status, v.outcome.status, dirs);
	if (!mine[0]) {
		printf(" no-directory-for-pid-%d\n", getpid());
		return 0;
	}
	const char *names[] = { "session", "instances", "calls", "traps" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		unsigned long long x = 0;
		inst_stat(mine, names[i], &x);
		printf(" %s=%llu", names[i], x);
	}
	unsigned long long fuel = 0;
	inst_stat(mine, "fuel_used", &fuel);
	printf(" fuel=%llu/%llu\n", (unsigned long long)v.fuel_used, fuel);
	close(dev);
	return 0;
}

/* `timed COMMAND...`: wall time of a whole command (user-mode reference timings). */
static int timed(char **argv)
{
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		return 2;
	}
	if (pid == 0) {
		execvp(argv[0], argv);
		perror(argv[0]);
		_exit(127);
	}
	int status = 0;
	if (waitpid(pid, &status, 0) < 0) {
		perror("waitpid");
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long long ms = (t1.tv_sec - t0.tv_sec) * 1000LL + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	fprintf(stderr, "ms=%lld\n", ms);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int probe(int argc, char **argv)
{
	if (argc < 2)
		return usage();
	const char *cmd = argv[0], *path = argv[1];

	if (!strcmp(cmd, "open") && argc == 2) {
		int fd = open(path, O_RDWR | O_CLOEXEC);
		report(fd);
		return 0;
	}
	if (!strcmp(cmd, "ioctl") && (argc == 3 || argc == 4)) {
		int fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			return report(fd);
		unsigned long req = strtoul(argv[2], NULL, 0);
		unsigned long arg = argc == 4 ? strtoul(argv[3], NULL, 0) : 0;
		return report(ioctl(fd, req, arg));
	}
	if (!strcmp(cmd, "write") && argc == 3) {
		const char *text = !strcmp(argv[2], "<empty>")	 ? ""
				   : !strcmp(argv[2], "<newline>") ? "\n"
								   : argv[2];
		int fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0)
			return report(fd);
		ssize_t n = write(fd, text, strlen(text));
		if (n >= 0 && (size_t)n != strlen(text)) {
			printf("SHORT\n");
			return 0;
		}
		return report(n < 0 ? -1 : 0);
	}
	if (!strcmp(cmd, "read") && argc == 2) {
		char buf[4096];
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return report(fd);
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0)
			return report(-1);
		fwrite(buf, 1, n, stdout);
		return 0;
	}
	if (!strcmp(cmd, "version") && argc == 2) {
		struct kwasm_version v;
		memset(&v, 0xff, sizeof(v));
		int fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			return report(fd);
		if (ioctl(fd, KWASM_IOC_VERSION, &v) < 0)
			return report(-1);
		printf("%u %u %llu\n", v.abi_version, v.knob_count, (unsigned long long)v.features);
		return 0;
	}
	if (!strcmp(cmd, "runempty") && argc == 2) {
		/* RUN on a file with nothing loaded. */
		struct kwasm_run_result r = { .size = sizeof(r) };
		int fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			return report(fd);
		return report(ioctl(fd, KWASM_IOC_RUN, &r));
	}
	if (!strcmp(cmd, "killtime") && argc == 3)
		return killtime(argv[1], atoi(argv[2]));
	if (!strcmp(cmd, "garbage") && argc == 4)
		return garbage(atoi(argv[1]), strtoull(argv[2], NULL, 0), argv[3]);
	if (!strcmp(cmd, "sgarbage") && argc == 4)
		return session_garbage(atoi(argv[1]), strtoull(argv[2], NULL, 0), argv[3]);
	if (!strcmp(cmd, "echoclient") && argc == 5)
		return echo_client(atoi(argv[1]), atol(argv[2]), atol(argv[3]), atol(argv[4]));
	if (!strcmp(cmd, "sessionerr") && argc == 2)
		return session_errors();
	if (!strcmp(cmd, "timed") && argc >= 2)
		return timed(argv + 1);
	if (!strcmp(cmd, "run") && argc >= 2)
		return run_wasm(argc - 1, argv + 1, 0);
	if (!strcmp(cmd, "fpurun") && argc >= 2)
		return run_wasm(argc - 1, argv + 1, 1);
	if (!strcmp(cmd, "sessionstats") && argc == 3)
		return session_stats(argv[1], atoi(argv[2]));
	if (!strcmp(cmd, "fpuvictim") && argc == 2)
		return fpu_victim(atof(argv[1]));
	if (!strcmp(cmd, "as") && argc >= 4) {
		uid_t uid = strtoul(argv[1], NULL, 0);
		gid_t gid = strtoul(argv[2], NULL, 0);
		if (setgroups(0, NULL) || setgid(gid) || setuid(uid)) {
			perror("vmhelper as");
			return 1;
		}
		return probe(argc - 3, argv + 3);
	}
	if (!strcmp(cmd, "nocap") && argc >= 2) {
		struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
		struct __user_cap_data_struct data[2];
		if (syscall(SYS_capget, &hdr, data)) {
			perror("capget");
			return 1;
		}
		data[CAP_SYS_ADMIN / 32].effective &= ~(1u << (CAP_SYS_ADMIN % 32));
		data[CAP_SYS_ADMIN / 32].permitted &= ~(1u << (CAP_SYS_ADMIN % 32));
		data[CAP_SYS_ADMIN / 32].inheritable &= ~(1u << (CAP_SYS_ADMIN % 32));
		if (syscall(SYS_capset, &hdr, data)) {
			perror("capset");
			return 1;
		}
		return probe(argc - 1, argv + 1);
	}
	return usage();
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	return probe(argc - 1, argv + 1);
}
