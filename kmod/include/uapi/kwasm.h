/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR Apache-2.0 */
/*
 * /dev/kwasm ioctl ABI, version 3.
 *
 * Defined once here for C; runtime/src/kabi.rs has the same types for Rust (the kwasm CLI and the
 * module's Rust code). `cargo xtask kmod` compiles a check that every size and field offset below
 * equals the Rust definition, so the two cannot drift.
 *
 * Rules: every struct starts with `size` (the caller's sizeof) so it can grow; reserved fields
 * must be zero; pointers are __u64. Versions only add: a version-1 caller keeps working.
 *
 * Version 1: VERSION, LOAD, RUN, RELEASE: one WASI command per open file.
 * Version 2: a *session* per open file (SESSION, then COMPILE, INSTANTIATE, REGISTER, INVOKE,
 * GET): a store in which modules are compiled and instantiated, their exports called with typed
 * arguments and their globals read, with the spec suite's `spectest` host module on request
 * (`kwasm wast --loader kernel` runs the WebAssembly spec scripts this way). A file is either a
 * LOAD/RUN file or a session, never both (-EBUSY / -EINVAL).
 * Version 3: LOAD takes a listening socket (listen_fd, WASI fd 3) and preopened directories
 * (preopens/npreopens, in what were reserved fields), as `kwasm run --tcplisten/--dir` does.
 */
#ifndef _UAPI_LINUX_KWASM_H
#define _UAPI_LINUX_KWASM_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define KWASM_ABI_VERSION 3
/* 0xB9 is unassigned in Documentation/userspace-api/ioctl/ioctl-number.rst (6.12). */
#define KWASM_IOC_MAGIC 0xB9

/* KWASM_IOC_VERSION: what the loaded module speaks. */
struct kwasm_version {
	__u32 abi_version; /* KWASM_ABI_VERSION of the module */
	__u32 knob_count;  /* knobs in /sys/kernel/kwasm */
	__u64 features;    /* KWASM_FEATURE_* bits */
};
#define KWASM_FEATURE_RUN (1ULL << 0)     /* LOAD/RUN/RELEASE are implemented */
#define KWASM_FEATURE_SESSION (1ULL << 1) /* the version-2 session ioctls are implemented */
#define KWASM_FEATURE_LISTEN (1ULL << 2)  /* LOAD takes listen_fd (version 3) */
#define KWASM_FEATURE_PREOPEN_DIRS (1ULL << 3) /* LOAD takes preopens (version 3) */
#define KWASM_MAX_PREOPENS 64

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
	__u64 preopens;         /* user pointer to npreopens struct kwasm_preopen (version 3) */
	__u64 npreopens;        /* at most KWASM_MAX_PREOPENS */
	__u64 reserved[2];      /* must be 0 */
};

/* A directory preopened for a LOAD'ed program: WASI fds after stdio and the socket, in order. */
struct kwasm_preopen {
	__s32 fd;       /* caller's fd of the directory (O_PATH is fine) */
	__u32 reserved; /* must be 0 */
	__u64 path;     /* user pointer to the guest path, UTF-8, no NUL */
	__u64 path_len; /* 1..4096 */
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

/* ---- version 2: sessions ---- */

/* KWASM_IOC_SESSION: turn this open file into a session (once; not after LOAD). */
struct kwasm_session {
	__u64 size;             /* sizeof(struct kwasm_session) */
	__u64 flags;            /* KWASM_SESSION_* */
	__u64 max_memory_pages; /* 0: the max_memory_pages knob (else the smaller) */
	__u64 fuel;             /* 0: the fuel knob; else fuel for the whole session */
	__u64 reserved[4];      /* must be 0 */
};
#define KWASM_SESSION_SPECTEST (1ULL << 0) /* define the spec suite's `spectest` module */

/* How COMPILE, INSTANTIATE and INVOKE ended (an errno means the request itself was bad). */
struct kwasm_outcome {
	__u32 status;      /* KWASM_STATUS_* */
	__u32 trap_kind;   /* runtime TrapKind number (KWASM_STATUS_TRAP) */
	__u32 trap_func;   /* function index of the trap, or ~0 */
	__u32 reserved;    /* must be 0 */
	__u64 trap_offset; /* code offset of the trap, or ~0 */
	__u64 msg;         /* user buffer for the error message (UTF-8, no NUL), or 0 */
	__u64 msg_cap;     /* its size */
	__u64 msg_len;     /* set: bytes written (cut at msg_cap) */
};
#define KWASM_STATUS_OK 0
#define KWASM_STATUS_INVALID 1    /* malformed or invalid module */
#define KWASM_STATUS_UNLINKABLE 2 /* an import could not be satisfied */
#define KWASM_STATUS_TRAP 3       /* a trap, in the call or during instantiation */
#define KWASM_STATUS_ERROR 4      /* unsupported feature, resource limit, ... */

/* A typed wasm value; type codes are the binary format's. */
struct kwasm_val {
	__u32 ty;    /* KWASM_VAL_* (the value's type) */
	__u32 flags; /* KWASM_VAL_NULL for a null reference, else 0 */
	__u64 lo;    /* the bits (f32/f64: IEEE bits; funcref: store address; v128: low half) */
	__u64 hi;    /* v128: high half; else 0 */
};
#define KWASM_VAL_I32 0x7f
#define KWASM_VAL_I64 0x7e
#define KWASM_VAL_F32 0x7d
#define KWASM_VAL_F64 0x7c
#define KWASM_VAL_V128 0x7b
#define KWASM_VAL_FUNCREF 0x70
#define KWASM_VAL_EXTERNREF 0x6f
#define KWASM_VAL_NULL 1

/* KWASM_IOC_COMPILE: decode and validate a module; keep it in the session as `module`. */
struct kwasm_compile {
	__u64 size;      /* sizeof(struct kwasm_compile) */
	__u64 wasm;      /* user pointer to the module bytes */
	__u64 wasm_len;
	__u64 flags;     /* KWASM_COMPILE_* */
	__u32 module;    /* set: handle (KWASM_STATUS_OK, not VALIDATE_ONLY) */
	__u32 reserved0; /* must be 0 */
	struct kwasm_outcome outcome;
	__u64 reserved[2];
};
#define KWASM_COMPILE_VALIDATE_ONLY (1ULL << 0) /* keep nothing */

/* KWASM_IOC_INSTANTIATE: instantiate a compiled module with the session's imports. */
struct kwasm_instantiate {
	__u64 size;     /* sizeof(struct kwasm_instantiate) */
	__u32 module;   /* from COMPILE */
	__u32 instance; /* set: instance id (KWASM_STATUS_OK) */
	struct kwasm_outcome outcome;
	__u64 reserved[2];
};

/* KWASM_IOC_REGISTER: make an instance's exports importable under module name `name`. */
struct kwasm_register {
	__u64 size;      /* sizeof(struct kwasm_register) */
	__u32 instance;
	__u32 reserved0; /* must be 0 */
	__u64 name;      /* user pointer to the name (UTF-8) */
	__u64 name_len;
	__u64 reserved[2];
};

/* KWASM_IOC_INVOKE: call the function an instance exports as `name`, in kernel mode. */
struct kwasm_invoke {
	__u64 size;        /* sizeof(struct kwasm_invoke) */
	__u32 instance;
	__u32 nargs;       /* number of struct kwasm_val at args */
	__u64 name;        /* user pointer to the export name (UTF-8) */
	__u64 name_len;
	__u64 args;        /* user pointer to nargs struct kwasm_val */
	__u64 results;     /* user pointer to room for results_cap struct kwasm_val */
	__u32 results_cap;
	__u32 nresults;    /* set: results written (KWASM_STATUS_OK) */
	__u64 fuel_used;   /* set: fuel the call consumed */
	struct kwasm_outcome outcome;
	__u64 reserved[2];
};

/* KWASM_IOC_GET: the value of an exported global, or a funcref to a function of an instance. */
struct kwasm_get {
	__u64 size;     /* sizeof(struct kwasm_get) */
	__u32 instance;
	__u32 what;     /* KWASM_GET_* */
	__u64 index;    /* KWASM_GET_FUNC: function index in the instance */
	__u64 name;     /* KWASM_GET_GLOBAL: user pointer to the export name (UTF-8) */
	__u64 name_len;
	struct kwasm_val value; /* set */
	__u64 reserved[2];
};
#define KWASM_GET_GLOBAL 0
#define KWASM_GET_FUNC 1

#define KWASM_IOC_VERSION _IOR(KWASM_IOC_MAGIC, 0x00, struct kwasm_version)
#define KWASM_IOC_LOAD _IOW(KWASM_IOC_MAGIC, 0x01, struct kwasm_load)
#define KWASM_IOC_RUN _IOWR(KWASM_IOC_MAGIC, 0x02, struct kwasm_run_result)
#define KWASM_IOC_RELEASE _IO(KWASM_IOC_MAGIC, 0x03)
#define KWASM_IOC_SESSION _IOW(KWASM_IOC_MAGIC, 0x04, struct kwasm_session)
#define KWASM_IOC_COMPILE _IOWR(KWASM_IOC_MAGIC, 0x05, struct kwasm_compile)
#define KWASM_IOC_INSTANTIATE _IOWR(KWASM_IOC_MAGIC, 0x06, struct kwasm_instantiate)
#define KWASM_IOC_REGISTER _IOW(KWASM_IOC_MAGIC, 0x07, struct kwasm_register)
#define KWASM_IOC_INVOKE _IOWR(KWASM_IOC_MAGIC, 0x08, struct kwasm_invoke)
#define KWASM_IOC_GET _IOWR(KWASM_IOC_MAGIC, 0x09, struct kwasm_get)

#endif /* _UAPI_LINUX_KWASM_H */
