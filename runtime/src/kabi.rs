//! The `/dev/kwasm` ioctl ABI (version 1), the Rust side of `kmod/include/uapi/kwasm.h`.
//!
//! Used by the kwasm CLI (`kwasm run --loader kernel`) and by the kernel module. The C header is
//! the other definition; `cargo xtask kmod` compiles static assertions generated from these types
//! (sizes and every field offset) against it, so the two cannot drift. Everything here is plain
//! data: `#[repr(C)]`, integers only, no padding.

use core::mem::size_of;

/// ABI version spoken by this runtime.
pub const ABI_VERSION: u32 = 1;
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

/// `KWASM_FEATURE_RUN`: LOAD/RUN/RELEASE are implemented by the module.
pub const FEATURE_RUN: u64 = 1 << 0;

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
    /// Must be 0.
    pub reserved: [u64; 4],
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
            reserved
        ]
    );
    facts!(
        RunResult,
        "kwasm_run_result",
        [size, outcome, exit_code, trap_kind, trap_func, trap_offset, fuel_used, run_ns, reserved]
    );
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
