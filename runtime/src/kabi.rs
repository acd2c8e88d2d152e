//! The `/dev/kwasm` ioctl ABI (version 2), the Rust side of `kmod/include/uapi/kwasm.h`.
//!
//! Version 1: VERSION, LOAD, RUN, RELEASE (a WASI command per open file). Version 2 adds, without
//! changing any version-1 struct or number, a *session* per open file: a store with the
//! `spectest` host module in which modules are compiled, instantiated, registered under import
//! names, their exports invoked with typed arguments and their globals read (SESSION, COMPILE,
//! INSTANTIATE, REGISTER, INVOKE, GET; `FEATURE_SESSION`). `kwasm wast --loader kernel` drives
//! the spec suite through it.
//!
//! Version 3 gives LOAD's WASI program what `kwasm run` gives it in user space: `listen_fd` (a
//! listening socket preopened as fd 3, `FEATURE_LISTEN`) and `preopens`/`npreopens` (directories
//! preopened after it, `FEATURE_PREOPEN_DIRS`), in fields that were reserved (zero) before; the
//! struct's size and every other field are unchanged.
//!
//! Used by the kwasm CLI (`kwasm run --loader kernel`) and by the kernel module. The C header is
//! the other definition; `cargo xtask kmod` compiles static assertions generated from these types
//! (sizes and every field offset) against it, so the two cannot drift. Everything here is plain
//! data: `#[repr(C)]`, integers only, no padding.

use core::mem::size_of;

/// ABI version spoken by this runtime.
pub const ABI_VERSION: u32 = 3;
/// ioctl "type" byte (unassigned in the kernel's ioctl-number list).
pub const IOC_MAGIC: u32 = 0xB9;

const IOC_NONE: u32 = 0;
const IOC_WRITE: u32 = 1;
const IOC_READ: u32 = 2;

const fn ioc(dir: u32, nr: u32, size: usize) -> u32 {
    (dir << 30) | ((size as u32) << 16) | (IOC_MAGIC << 8) | nr
}

/// `KWASM_IOC_VERSION`: fills a [`Version`].
pub const IOC_VERSION: u32 = ioc(IOC_READ, 0, size_of::<Version>());
/// `KWASM_IOC_LOAD`: reads a [`Load`].
pub const IOC_LOAD: u32 = ioc(IOC_WRITE, 1, size_of::<Load>());
/// `KWASM_IOC_RUN`: reads and fills a [`RunResult`].
pub const IOC_RUN: u32 = ioc(IOC_READ | IOC_WRITE, 2, size_of::<RunResult>());
/// `KWASM_IOC_RELEASE`: drops the loaded instance.
pub const IOC_RELEASE: u32 = ioc(IOC_NONE, 3, 0);

/// `KWASM_IOC_SESSION`: reads a [`Session`]; turns the open file into a session (ABI 2).
pub const IOC_SESSION: u32 = ioc(IOC_WRITE, 4, size_of::<Session>());
/// `KWASM_IOC_COMPILE`: reads and fills a [`Compile`] (ABI 2).
pub const IOC_COMPILE: u32 = ioc(IOC_READ | IOC_WRITE, 5, size_of::<Compile>());
/// `KWASM_IOC_INSTANTIATE`: reads and fills an [`Instantiate`] (ABI 2).
pub const IOC_INSTANTIATE: u32 = ioc(IOC_READ | IOC_WRITE, 6, size_of::<Instantiate>());
/// `KWASM_IOC_REGISTER`: reads a [`Register`] (ABI 2).
pub const IOC_REGISTER: u32 = ioc(IOC_WRITE, 7, size_of::<Register>());
/// `KWASM_IOC_INVOKE`: reads and fills an [`Invoke`] (ABI 2).
pub const IOC_INVOKE: u32 = ioc(IOC_READ | IOC_WRITE, 8, size_of::<Invoke>());
/// `KWASM_IOC_GET`: reads and fills a [`Get`] (ABI 2).
pub const IOC_GET: u32 = ioc(IOC_READ | IOC_WRITE, 9, size_of::<Get>());

/// `KWASM_FEATURE_RUN`: LOAD/RUN/RELEASE are implemented by the module.
pub const FEATURE_RUN: u64 = 1 << 0;
/// `KWASM_FEATURE_SESSION`: SESSION/COMPILE/INSTANTIATE/REGISTER/INVOKE/GET are implemented.
pub const FEATURE_SESSION: u64 = 1 << 1;
/// `KWASM_FEATURE_LISTEN`: LOAD takes `listen_fd`, a listening socket preopened as WASI fd 3 (ABI 3).
pub const FEATURE_LISTEN: u64 = 1 << 2;
/// `KWASM_FEATURE_PREOPEN_DIRS`: LOAD takes `preopens` (directories beneath which the program may
/// open files; ABI 3).
pub const FEATURE_PREOPEN_DIRS: u64 = 1 << 3;
/// Most directories one LOAD may preopen.
pub const MAX_PREOPENS: u64 = 64;

/// `KWASM_SESSION_SPECTEST`: define the reference interpreter's `spectest` module for imports.
pub const SESSION_SPECTEST: u64 = 1 << 0;
/// `KWASM_COMPILE_VALIDATE_ONLY`: decode and validate, keep nothing (`module` is not set).
pub const COMPILE_VALIDATE_ONLY: u64 = 1 << 0;
/// `KWASM_GET_GLOBAL`: the value of the global exported as `name`.
pub const GET_GLOBAL: u32 = 0;
/// `KWASM_GET_FUNC`: a funcref to function `index` of the instance (its store address).
pub const GET_FUNC: u32 = 1;

/// `KWASM_STATUS_OK`: the operation succeeded.
pub const STATUS_OK: u32 = 0;
/// `KWASM_STATUS_INVALID`: the module is malformed or does not validate.
pub const STATUS_INVALID: u32 = 1;
/// `KWASM_STATUS_UNLINKABLE`: an import could not be satisfied.
pub const STATUS_UNLINKABLE: u32 = 2;
/// `KWASM_STATUS_TRAP`: a trap (in the call, or in instantiation); `trap_*` say which.
pub const STATUS_TRAP: u32 = 3;
/// `KWASM_STATUS_ERROR`: another failure (unsupported feature, resource limit).
pub const STATUS_ERROR: u32 = 4;

/// Value type codes of [`Val`] (the wasm binary encoding's type bytes).
pub const VAL_I32: u32 = 0x7f;
/// i64.
pub const VAL_I64: u32 = 0x7e;
/// f32 (bits in `lo`).
pub const VAL_F32: u32 = 0x7d;
/// f64 (bits in `lo`).
pub const VAL_F64: u32 = 0x7c;
/// v128 (low half in `lo`, high half in `hi`).
pub const VAL_V128: u32 = 0x7b;
/// funcref (store address in `lo`, or `VAL_NULL`).
pub const VAL_FUNCREF: u32 = 0x70;
/// externref (host value in `lo`, or `VAL_NULL`).
pub const VAL_EXTERNREF: u32 = 0x6f;
/// `flags` bit of a reference [`Val`]: the null reference.
pub const VAL_NULL: u32 = 1;

/// `struct kwasm_version`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Version {
    /// The module's ABI version.
    pub abi_version: u32,
    /// Knobs in `/sys/kernel/kwasm`.
    pub knob_count: u32,
    /// `FEATURE_*` bits.
    pub features: u64,
}

/// `struct kwasm_load`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Load {
    /// `size_of::<Load>()`.
    pub size: u64,
    /// User pointer to the module bytes.
    pub wasm: u64,
    /// Length of the module.
    pub wasm_len: u64,
    /// argv strings, each NUL-terminated, back to back.
    pub args: u64,
    /// Total bytes of `args`.
    pub args_len: u64,
    /// `NAME=value` strings, each NUL-terminated, back to back.
    pub env: u64,
    /// Total bytes of `env`.
    pub env_len: u64,
    /// Caller fd used as WASI fd 0, or -1.
    pub stdin_fd: i32,
    /// Caller fd used as WASI fd 1, or -1.
    pub stdout_fd: i32,
    /// Caller fd used as WASI fd 2, or -1.
    pub stderr_fd: i32,
    /// Listening socket preopened as WASI fd 3, or -1.
    pub listen_fd: i32,
    /// 0: the `max_memory_pages` knob.
    pub max_memory_pages: u64,
    /// 0: the `fuel` knob.
    pub fuel: u64,
    /// Must be 0.
    pub flags: u64,
    /// User pointer to `npreopens` [`Preopen`]s (ABI 3; 0 when `npreopens` is 0).
    pub preopens: u64,
    /// Number of preopened directories (at most [`MAX_PREOPENS`]).
    pub npreopens: u64,
    /// Must be 0.
    pub reserved: [u64; 2],
}

/// `struct kwasm_preopen`: a directory of the caller preopened for the program (ABI 3). Its WASI
/// fd follows stdio and the listening socket, in array order.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Preopen {
    /// The caller's fd of the directory (any open mode, `O_PATH` included).
    pub fd: i32,
    /// Must be 0.
    pub reserved: u32,
    /// User pointer to the guest path (UTF-8, not NUL-terminated), e.g. `/data` or `.`.
    pub path: u64,
    /// Length of the guest path (1..=4096 bytes).
    pub path_len: u64,
}

/// `struct kwasm_run_result`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunResult {
    /// `size_of::<RunResult>()`, set by the caller.
    pub size: u64,
    /// `OUTCOME_*`.
    pub outcome: u32,
    /// `proc_exit` code.
    pub exit_code: u32,
    /// Trap kind number.
    pub trap_kind: u32,
    /// Function index of the trap, or `u32::MAX`.
    pub trap_func: u32,
    /// Code offset of the trap, or `u64::MAX`.
    pub trap_offset: u64,
    /// Fuel consumed.
    pub fuel_used: u64,
    /// Wall time of the run in ns.
    pub run_ns: u64,
    /// Zero.
    pub reserved: [u64; 4],
}

/// `struct kwasm_session` (SESSION).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Session {
    /// `size_of::<Session>()`.
    pub size: u64,
    /// `SESSION_*` bits.
    pub flags: u64,
    /// 0: the `max_memory_pages` knob (else the smaller of the two).
    pub max_memory_pages: u64,
    /// 0: the `fuel` knob; else the fuel for the whole session.
    pub fuel: u64,
    /// Must be 0.
    pub reserved: [u64; 4],
}

/// `struct kwasm_outcome`: how COMPILE, INSTANTIATE or INVOKE ended.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// `STATUS_*`.
    pub status: u32,
    /// Trap kind number ([`trap_number`]) for `STATUS_TRAP`.
    pub trap_kind: u32,
    /// Function index of the trap, or `u32::MAX`.
    pub trap_func: u32,
    /// Must be 0.
    pub reserved: u32,
    /// Code offset of the trap, or `u64::MAX`.
    pub trap_offset: u64,
    /// User pointer to a buffer for the error message (UTF-8, not NUL-terminated), or 0.
    pub msg: u64,
    /// Its capacity in bytes.
    pub msg_cap: u64,
    /// Set: bytes of the message written (cut at `msg_cap`).
    pub msg_len: u64,
}

/// `struct kwasm_val`: a typed wasm value.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Val {
    /// `VAL_*` type code.
    pub ty: u32,
    /// `VAL_NULL` for a null reference, else 0.
    pub flags: u32,
    /// The value's bits (low half of a v128).
    pub lo: u64,
    /// High half of a v128, else 0.
    pub hi: u64,
}

/// `struct kwasm_compile` (COMPILE).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Compile {
    /// `size_of::<Compile>()`.
    pub size: u64,
    /// User pointer to the module bytes.
    pub wasm: u64,
    /// Their length.
    pub wasm_len: u64,
    /// `COMPILE_*` bits.
    pub flags: u64,
    /// Set: the module's handle in the session (`STATUS_OK`, not `COMPILE_VALIDATE_ONLY`).
    pub module: u32,
    /// Must be 0.
    pub reserved0: u32,
    /// Set: `STATUS_OK` or `STATUS_INVALID`/`STATUS_ERROR` with a message.
    pub outcome: Outcome,
    /// Must be 0.
    pub reserved: [u64; 2],
}

/// `struct kwasm_instantiate` (INSTANTIATE).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Instantiate {
    /// `size_of::<Instantiate>()`.
    pub size: u64,
    /// A module handle from COMPILE.
    pub module: u32,
    /// Set: the instance's id (`STATUS_OK`).
    pub instance: u32,
    /// Set: `STATUS_OK`, `STATUS_UNLINKABLE`, `STATUS_TRAP` or `STATUS_ERROR`.
    pub outcome: Outcome,
    /// Must be 0.
    pub reserved: [u64; 2],
}

/// `struct kwasm_register` (REGISTER): makes an instance's exports importable as `name`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Register {
    /// `size_of::<Register>()`.
    pub size: u64,
    /// An instance id from INSTANTIATE.
    pub instance: u32,
    /// Must be 0.
    pub reserved0: u32,
    /// User pointer to the import module name (UTF-8).
    pub name: u64,
    /// Its length.
    pub name_len: u64,
    /// Must be 0.
    pub reserved: [u64; 2],
}

/// `struct kwasm_invoke` (INVOKE): calls an exported function.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Invoke {
    /// `size_of::<Invoke>()`.
    pub size: u64,
    /// An instance id from INSTANTIATE.
    pub instance: u32,
    /// Number of arguments at `args`.
    pub nargs: u32,
    /// User pointer to the export name (UTF-8).
    pub name: u64,
    /// Its length.
    pub name_len: u64,
    /// User pointer to `nargs` [`Val`]s.
    pub args: u64,
    /// User pointer to room for `results_cap` [`Val`]s.
    pub results: u64,
    /// Capacity of `results`.
    pub results_cap: u32,
    /// Set: number of results written (`STATUS_OK`).
    pub nresults: u32,
    /// Set: fuel consumed by the call.
    pub fuel_used: u64,
    /// Set: `STATUS_OK` or `STATUS_TRAP`.
    pub outcome: Outcome,
    /// Must be 0.
    pub reserved: [u64; 2],
}

/// `struct kwasm_get` (GET): reads an exported global, or names a function of an instance.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Get {
    /// `size_of::<Get>()`.
    pub size: u64,
    /// An instance id from INSTANTIATE.
    pub instance: u32,
    /// `GET_GLOBAL` or `GET_FUNC`.
    pub what: u32,
    /// `GET_FUNC`: the function index in the instance.
    pub index: u64,
    /// `GET_GLOBAL`: user pointer to the export name (UTF-8).
    pub name: u64,
    /// Its length.
    pub name_len: u64,
    /// Set: the value.
    pub value: Val,
    /// Must be 0.
    pub reserved: [u64; 2],
}

/// Encodes a runtime value.
pub fn val_to_abi(v: &crate::Val) -> Val {
    use crate::Val as V;
    let (ty, flags, lo, hi) = match *v {
        V::I32(x) => (VAL_I32, 0, u64::from(x as u32), 0),
        V::I64(x) => (VAL_I64, 0, x as u64, 0),
        V::F32(b) => (VAL_F32, 0, u64::from(b), 0),
        V::F64(b) => (VAL_F64, 0, b, 0),
        V::V128(x) => (VAL_V128, 0, x as u64, (x >> 64) as u64),
        V::FuncRef(None) => (VAL_FUNCREF, VAL_NULL, 0, 0),
        V::FuncRef(Some(a)) => (VAL_FUNCREF, 0, u64::from(a), 0),
        V::ExternRef(None) => (VAL_EXTERNREF, VAL_NULL, 0, 0),
        V::ExternRef(Some(n)) => (VAL_EXTERNREF, 0, u64::from(n), 0),
    };
    Val { ty, flags, lo, hi }
}

/// Decodes a value; `None` for an unknown type, unknown flags or bits outside the type's range.
pub fn val_from_abi(v: &Val) -> Option<crate::Val> {
    use crate::Val as V;
    let null = match v.flags {
        0 => false,
        VAL_NULL if matches!(v.ty, VAL_FUNCREF | VAL_EXTERNREF) => true,
        _ => return None,
    };
    if v.hi != 0 && v.ty != VAL_V128 {
        return None;
    }
    let small = |x: u64| u32::try_from(x).ok();
    Some(match v.ty {
        VAL_I32 => V::I32(small(v.lo)? as i32),
        VAL_I64 => V::I64(v.lo as i64),
        VAL_F32 => V::F32(small(v.lo)?),
        VAL_F64 => V::F64(v.lo),
        VAL_V128 => V::V128(u128::from(v.lo) | (u128::from(v.hi) << 64)),
        VAL_FUNCREF if null => V::FuncRef(None),
        VAL_FUNCREF => V::FuncRef(Some(small(v.lo)?)),
        VAL_EXTERNREF if null => V::ExternRef(None),
        VAL_EXTERNREF => V::ExternRef(Some(small(v.lo)?)),
        _ => return None,
    })
}

/// The program called `proc_exit` (or `_start` returned: code 0).
pub const OUTCOME_EXIT: u32 = 0;
/// The program trapped.
pub const OUTCOME_TRAP: u32 = 1;
/// A fatal signal stopped the program.
pub const OUTCOME_KILLED: u32 = 2;

/// `trap_kind` of [`RunResult`] for a trap (stable ABI numbers: append only; 0 is unused because
/// `proc_exit` is reported as [`OUTCOME_EXIT`]).
pub fn trap_number(kind: &crate::TrapKind) -> u32 {
    use crate::TrapKind as K;
    match kind {
        K::Exit(_) => 0,
        K::Unreachable => 1,
        K::MemoryOutOfBounds => 2,
        K::TableOutOfBounds => 3,
        K::IntegerDivideByZero => 4,
        K::IntegerOverflow => 5,
        K::InvalidConversionToInteger => 6,
        K::UndefinedElement => 7,
        K::IndirectCallToNull => 8,
        K::IndirectCallTypeMismatch => 9,
        K::CallStackExhausted => 10,
        K::OutOfFuel => 11,
        K::Interrupted => 12,
        K::Host(_) => 13,
    }
}

/// The trap kind for a `trap_kind` number (a host failure comes back without its message).
pub fn trap_from_number(n: u32) -> Option<crate::TrapKind> {
    use crate::TrapKind as K;
    Some(match n {
        1 => K::Unreachable,
        2 => K::MemoryOutOfBounds,
        3 => K::TableOutOfBounds,
        4 => K::IntegerDivideByZero,
        5 => K::IntegerOverflow,
        6 => K::InvalidConversionToInteger,
        7 => K::UndefinedElement,
        8 => K::IndirectCallToNull,
        9 => K::IndirectCallTypeMismatch,
        10 => K::CallStackExhausted,
        11 => K::OutOfFuel,
        12 => K::Interrupted,
        13 => K::Host(alloc::string::String::from("host function failed (in the kernel)")),
        _ => return None,
    })
}

/// One checked fact of the layout: (C expression, expected value), e.g.
/// `("sizeof(struct kwasm_load)", 128)`. `cargo xtask kmod` turns these into `_Static_assert`s
/// compiled against the uapi header.
pub fn layout_facts() -> alloc::vec::Vec<(alloc::string::String, u64)> {
    use alloc::format;
    use core::mem::offset_of;
    let mut v = alloc::vec::Vec::new();
    macro_rules! facts {
        ($rs:ty, $c:literal, [$($f:ident),*]) => {
            v.push((format!("sizeof(struct {})", $c), size_of::<$rs>() as u64));
            $( v.push((format!("offsetof(struct {}, {})", $c, stringify!($f)), offset_of!($rs, $f) as u64)); )*
        };
    }
    facts!(Version, "kwasm_version", [abi_version, knob_count, features]);
    facts!(
        Load,
        "kwasm_load",
        [
            size,
            wasm,
            wasm_len,
            args,
            args_len,
            env,
            env_len,
            stdin_fd,
            stdout_fd,
            stderr_fd,
            listen_fd,
            max_memory_pages,
            fuel,
            flags,
            preopens,
            npreopens,
            reserved
        ]
    );
    facts!(Preopen, "kwasm_preopen", [fd, reserved, path, path_len]);
    facts!(
        RunResult,
        "kwasm_run_result",
        [size, outcome, exit_code, trap_kind, trap_func, trap_offset, fuel_used, run_ns, reserved]
    );
    facts!(Session, "kwasm_session", [size, flags, max_memory_pages, fuel, reserved]);
    facts!(Outcome, "kwasm_outcome", [status, trap_kind, trap_func, reserved, trap_offset, msg, msg_cap, msg_len]);
    facts!(Val, "kwasm_val", [ty, flags, lo, hi]);
    facts!(Compile, "kwasm_compile", [size, wasm, wasm_len, flags, module, reserved0, outcome, reserved]);
    facts!(Instantiate, "kwasm_instantiate", [size, module, instance, outcome, reserved]);
    facts!(Register, "kwasm_register", [size, instance, reserved0, name, name_len, reserved]);
    facts!(
        Invoke,
        "kwasm_invoke",
        [size, instance, nargs, name, name_len, args, results, results_cap, nresults, fuel_used, outcome, reserved]
    );
    facts!(Get, "kwasm_get", [size, instance, what, index, name, name_len, value, reserved]);
    for (name, value) in [
        ("KWASM_IOC_SESSION", IOC_SESSION),
        ("KWASM_IOC_COMPILE", IOC_COMPILE),
        ("KWASM_IOC_INSTANTIATE", IOC_INSTANTIATE),
        ("KWASM_IOC_REGISTER", IOC_REGISTER),
        ("KWASM_IOC_INVOKE", IOC_INVOKE),
        ("KWASM_IOC_GET", IOC_GET),
        ("KWASM_GET_GLOBAL", GET_GLOBAL),
        ("KWASM_GET_FUNC", GET_FUNC),
        ("KWASM_STATUS_OK", STATUS_OK),
        ("KWASM_STATUS_INVALID", STATUS_INVALID),
        ("KWASM_STATUS_UNLINKABLE", STATUS_UNLINKABLE),
        ("KWASM_STATUS_TRAP", STATUS_TRAP),
        ("KWASM_STATUS_ERROR", STATUS_ERROR),
        ("KWASM_VAL_I32", VAL_I32),
        ("KWASM_VAL_I64", VAL_I64),
        ("KWASM_VAL_F32", VAL_F32),
        ("KWASM_VAL_F64", VAL_F64),
        ("KWASM_VAL_V128", VAL_V128),
        ("KWASM_VAL_FUNCREF", VAL_FUNCREF),
        ("KWASM_VAL_EXTERNREF", VAL_EXTERNREF),
        ("KWASM_VAL_NULL", VAL_NULL),
    ] {
        v.push((name.into(), u64::from(value)));
    }
    v.push(("KWASM_FEATURE_SESSION".into(), FEATURE_SESSION));
    v.push(("KWASM_FEATURE_LISTEN".into(), FEATURE_LISTEN));
    v.push(("KWASM_FEATURE_PREOPEN_DIRS".into(), FEATURE_PREOPEN_DIRS));
    v.push(("KWASM_MAX_PREOPENS".into(), MAX_PREOPENS));
    v.push(("KWASM_SESSION_SPECTEST".into(), SESSION_SPECTEST));
    v.push(("KWASM_COMPILE_VALIDATE_ONLY".into(), COMPILE_VALIDATE_ONLY));
    v.push(("KWASM_ABI_VERSION".into(), u64::from(ABI_VERSION)));
    v.push(("KWASM_IOC_MAGIC".into(), u64::from(IOC_MAGIC)));
    v.push(("KWASM_IOC_VERSION".into(), u64::from(IOC_VERSION)));
    v.push(("KWASM_IOC_LOAD".into(), u64::from(IOC_LOAD)));
    v.push(("KWASM_IOC_RUN".into(), u64::from(IOC_RUN)));
    v.push(("KWASM_IOC_RELEASE".into(), u64::from(IOC_RELEASE)));
    v.push(("KWASM_FEATURE_RUN".into(), FEATURE_RUN));
    v.push(("KWASM_OUTCOME_EXIT".into(), u64::from(OUTCOME_EXIT)));
    v.push(("KWASM_OUTCOME_TRAP".into(), u64::from(OUTCOME_TRAP)));
    v.push(("KWASM_OUTCOME_KILLED".into(), u64::from(OUTCOME_KILLED)));
    v
}
