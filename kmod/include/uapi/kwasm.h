/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR Apache-2.0 */
/*
 * /dev/kwasm ioctl ABI, version 1.
 *
 * Defined once here for C; runtime/src/kabi.rs has the same types for Rust (the kwasm CLI and the
 * module's Rust code). `cargo xtask kmod` compiles a check that every size and field offset below
 * equals the Rust definition, so the two cannot drift.
 *
 * Rules: every struct starts with `size` (the caller's sizeof) so it can grow; reserved fields
 * must be zero; pointers are __u64. Status so far: KWASM_IOC_VERSION is implemented; LOAD, RUN
 * and RELEASE are specified here and answered with -ENOTTY until the run path lands (issue 5).
 */
#ifndef _UAPI_LINUX_KWASM_H
#define _UAPI_LINUX_KWASM_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define KWASM_ABI_VERSION 1
/* 0xB9 is unassigned in Documentation/userspace-api/ioctl/ioctl-number.rst (6.12). */
#define KWASM_IOC_MAGIC 0xB9

/* KWASM_IOC_VERSION: what the loaded module speaks. */
struct kwasm_version {
	__u32 abi_version; /* KWASM_ABI_VERSION of the module */
	__u32 knob_count;  /* knobs in /sys/kernel/kwasm */
	__u64 features;    /* KWASM_FEATURE_* bits */
};
#define KWASM_FEATURE_RUN (1ULL << 0) /* LOAD/RUN/RELEASE are implemented */

/* KWASM_IOC_LOAD: validate and instantiate a WASI module for this open file (one per file). */
struct kwasm_load {
	__u64 size;             /* sizeof(struct kwasm_load) */
	__u64 wasm;             /* user pointer to the module bytes */
	__u64 wasm_len;
	__u64 args;             /* argv strings, each NUL-terminated, back to back (argv[0] first) */
	__u64 args_len;         /* total bytes of args */
	__u64 env;              /* "NAME=value" strings, each NUL-terminated, back to back */
	__u64 env_len;
	__s32 stdin_fd;         /* caller's fds used as WASI fds 0, 1, 2 (-1: none) */
	__s32 stdout_fd;
	__s32 stderr_fd;
	__s32 listen_fd;        /* a listening socket preopened as WASI fd 3, or -1 */
	__u64 max_memory_pages; /* 0: the max_memory_pages knob */
	__u64 fuel;             /* 0: the fuel knob */
	__u64 flags;            /* must be 0 */
	__u64 reserved[4];      /* must be 0 */
};

/* KWASM_IOC_RUN: run `_start` in the calling task, in kernel mode, until exit, trap or signal. */
struct kwasm_run_result {
	__u64 size;        /* sizeof(struct kwasm_run_result), set by the caller */
	__u32 outcome;     /* KWASM_OUTCOME_* */
	__u32 exit_code;   /* proc_exit code (KWASM_OUTCOME_EXIT) */
	__u32 trap_kind;   /* runtime TrapKind number (KWASM_OUTCOME_TRAP) */
	__u32 trap_func;   /* function index of the trap, or ~0 */
	__u64 trap_offset; /* code offset of the trap in the module, or ~0 */
	__u64 fuel_used;
	__u64 run_ns;      /* wall time of the run */
	__u64 reserved[4];
};
#define KWASM_OUTCOME_EXIT 0
#define KWASM_OUTCOME_TRAP 1
#define KWASM_OUTCOME_KILLED 2 /* a fatal signal stopped it */

#define KWASM_IOC_VERSION _IOR(KWASM_IOC_MAGIC, 0x00, struct kwasm_version)
#define KWASM_IOC_LOAD _IOW(KWASM_IOC_MAGIC, 0x01, struct kwasm_load)
#define KWASM_IOC_RUN _IOWR(KWASM_IOC_MAGIC, 0x02, struct kwasm_run_result)
#define KWASM_IOC_RELEASE _IO(KWASM_IOC_MAGIC, 0x03)

#endif /* _UAPI_LINUX_KWASM_H */
