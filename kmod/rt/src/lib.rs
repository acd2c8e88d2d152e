//! `kwasm-kmod-rt`: the Rust side of kwasm's (planned) Linux kernel module.
//!
//! Today this is a `no_std` staticlib that links the runtime core (`kwasm-runtime`) and the
//! interpreter tier (`kwasm-interp`) with default features off, and exports a C ABI self-test that
//! validates, instantiates and runs a small embedded WebAssembly module. `cargo xtask nostd-check`
//! builds it for `x86_64-unknown-none` with kernel code-generation flags, checks the archive's
//! undefined symbols and relocations, and links it into a C host program that calls the self-test.
//!
//! What a host must provide (see `include/kwasm_rt.h`): `kwasm_rt_abort`, called on a Rust panic.
//! Everything else (memcpy, memset, soft-float and 128-bit integer helpers) comes from the
//! archive's own `compiler_builtins`.
//!
//! The global allocator is a bump allocator over a static arena: enough for the self-test, not for
//! real programs. The kernel glue will replace it with one over `kmalloc`/`vmalloc`.
#![no_std]
#![warn(missing_docs)]

extern crate alloc;

/// The kernel module's API: knob table, kvmalloc allocator, ioctl handling (feature `kernel`).
#[cfg(feature = "kernel")]
pub mod kernel;
/// Host objects of kernel-mode WASI programs: files, sockets, waiting (feature `kernel`).
#[cfg(feature = "kernel")]
mod wasi_host;

/// The JIT tiers' self-test and executable memory from the host (features `optimizing`,
/// `baseline`).
#[cfg(any(feature = "optimizing", feature = "baseline"))]
pub mod jit;

use alloc::boxed::Box;
use alloc::sync::Arc;
use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::ffi::c_char;
use core::fmt::{self, Write};
use core::sync::atomic::{AtomicBool, Ordering};

use kwasm_interp::Interpreter;
use kwasm_runtime::platform::NullPlatform;
use kwasm_runtime::tier::Tier;
use kwasm_runtime::{Extern, Knobs, Module, Platform, Store, Val};

/// The embedded test module, written as bytes so that no WAT assembler is needed at build time.
/// Its text form:
///
/// ```wat
/// (module
///   (memory 1 1)
///   ;; n! for an i64 n, recursively
///   (func $fac (export "fac") (param i64) (result i64)
///     (if (result i64) (i64.lt_u (local.get 0) (i64.const 2))
///       (then (i64.const 1))
///       (else (i64.mul (local.get 0) (call $fac (i64.sub (local.get 0) (i64.const 1)))))))
///   ;; stores i*i at 4*i for i < n, then sums the loads back: sum of i*i for i < n (mod 2^32);
///   ;; n > 16384 runs off the single page and traps
///   (func $sumsq (export "sumsq") (param $n i32) (result i32) (local $i i32) (local $acc i32)
///     (block (loop
///       (br_if 1 (i32.ge_u (local.get $i) (local.get $n)))
///       (i32.store (i32.shl (local.get $i) (i32.const 2)) (i32.mul (local.get $i) (local.get $i)))
///       (local.set $i (i32.add (local.get $i) (i32.const 1)))
///       (br 0)))
///     (local.set $i (i32.const 0))
///     (block (loop
///       (br_if 1 (i32.ge_u (local.get $i) (local.get $n)))
///       (local.set $acc (i32.add (local.get $acc) (i32.load (i32.shl (local.get $i) (i32.const 2)))))
///       (local.set $i (i32.add (local.get $i) (i32.const 1)))
///       (br 0)))
///     (local.get $acc)))
/// ```
#[rustfmt::skip]
pub static TEST_MODULE: [u8; 157] = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version 1
    // type section: [(i64) -> i64, (i32) -> i32]
    0x01, 0x0b, 0x02, 0x60, 0x01, 0x7e, 0x01, 0x7e, 0x60, 0x01, 0x7f, 0x01, 0x7f,
    // function section: fac: type 0, sumsq: type 1
    0x03, 0x03, 0x02, 0x00, 0x01,
    // memory section: one memory, min 1 max 1 page
    0x05, 0x04, 0x01, 0x01, 0x01, 0x01,
    // export section: "fac" func 0, "sumsq" func 1
    0x07, 0x0f, 0x02, 0x03, 0x66, 0x61, 0x63, 0x00, 0x00, 0x05, 0x73, 0x75, 0x6d, 0x73, 0x71, 0x00, 0x01,
    // code section: 2 bodies
    0x0a, 0x6a, 0x02,
    // fac: 23 bytes, no locals
    0x17, 0x00,
    0x20, 0x00, 0x42, 0x02, 0x54,             // local.get 0; i64.const 2; i64.lt_u
    0x04, 0x7e, 0x42, 0x01,                   // if (result i64) i64.const 1
    0x05, 0x20, 0x00, 0x20, 0x00, 0x42, 0x01, // else local.get 0; local.get 0; i64.const 1
    0x7d, 0x10, 0x00, 0x7e,                   // i64.sub; call 0; i64.mul
    0x0b, 0x0b,                               // end (if); end (function)
    // sumsq: 80 bytes, locals: 2 x i32 ($i = 1, $acc = 2)
    0x50, 0x01, 0x02, 0x7f,
    0x02, 0x40, 0x03, 0x40,                   // block; loop
    0x20, 0x01, 0x20, 0x00, 0x4f, 0x0d, 0x01, // br_if 1 (i >= n)
    0x20, 0x01, 0x41, 0x02, 0x74,             // addr = i << 2
    0x20, 0x01, 0x20, 0x01, 0x6c,             // i * i
    0x36, 0x02, 0x00,                         // i32.store align=4
    0x20, 0x01, 0x41, 0x01, 0x6a, 0x21, 0x01, // i += 1
    0x0c, 0x00, 0x0b, 0x0b,                   // br 0; end; end
    0x41, 0x00, 0x21, 0x01,                   // i = 0
    0x02, 0x40, 0x03, 0x40,                   // block; loop
    0x20, 0x01, 0x20, 0x00, 0x4f, 0x0d, 0x01, // br_if 1 (i >= n)
    0x20, 0x02, 0x20, 0x01, 0x41, 0x02, 0x74, // acc, i << 2
    0x28, 0x02, 0x00, 0x6a, 0x21, 0x02,       // i32.load align=4; i32.add; acc = ...
    0x20, 0x01, 0x41, 0x01, 0x6a, 0x21, 0x01, // i += 1
    0x0c, 0x00, 0x0b, 0x0b,                   // br 0; end; end
    0x20, 0x02, 0x0b,                         // local.get acc; end (function)
];

/// Success.
pub const KWASM_RT_OK: i32 = 0;
/// `func` names no function of the test module.
pub const KWASM_RT_EBADFUNC: i32 = -1;
/// Decoding or validation failed.
pub const KWASM_RT_EINVALID: i32 = -2;
/// Instantiation failed.
pub const KWASM_RT_EINSTANTIATE: i32 = -3;
/// The export is missing or has an unexpected kind.
pub const KWASM_RT_ENOEXPORT: i32 = -4;
/// The function trapped.
pub const KWASM_RT_ETRAP: i32 = -5;
/// The function returned something other than one value of the expected type.
pub const KWASM_RT_EBADRESULT: i32 = -6;
/// The requested tier is not built into this library (see the crate features).
pub const KWASM_RT_ENOTIER: i32 = -7;

/// Validates and instantiates [`TEST_MODULE`] in a fresh store with the interpreter tier and a
/// [`NullPlatform`], then calls one of its exports with `arg`: `func` 0 is `fac` (i64 → i64),
/// `func` 1 is `sumsq` (i32 → i32; `arg` is truncated to 32 bits and the i32 result is
/// sign-extended). On success stores the result in `*result` and returns [`KWASM_RT_OK`]; else
/// returns a negative `KWASM_RT_E*` code, and [`kwasm_rt_last_error`] describes the failure.
///
/// # Safety
///
/// `result` must be valid for a write of an `i64`. Not reentrant: calls must not overlap (the
/// error buffer is shared).
#[no_mangle]
pub unsafe extern "C" fn kwasm_rt_selftest(func: u32, arg: i64, result: *mut i64) -> i32 {
    match selftest(func, arg) {
        Ok(value) => {
            // SAFETY: the caller guarantees that `result` is valid for writes.
            unsafe { result.write(value) };
            set_last_error(format_args!(""));
            KWASM_RT_OK
        }
        Err(code) => code,
    }
}

fn selftest(func: u32, arg: i64) -> Result<i64, i32> {
    run_test_module(Arc::new(Interpreter::new()), Box::new(NullPlatform), func, arg)
}

/// Runs export `func` of [`TEST_MODULE`] with `arg` in a fresh store of `tier` over `platform`
/// (see [`kwasm_rt_selftest`]).
fn run_test_module(tier: Arc<dyn Tier>, platform: Box<dyn Platform>, func: u32, arg: i64) -> Result<i64, i32> {
    let (name, arg) = match func {
        0 => ("fac", Val::I64(arg)),
        1 => ("sumsq", Val::I32(arg as i32)),
        _ => {
            set_last_error(format_args!("no test function {func}"));
            return Err(KWASM_RT_EBADFUNC);
        }
    };
    let module = Module::new(&TEST_MODULE).map_err(|e| {
        set_last_error(format_args!("invalid module: {e}"));
        KWASM_RT_EINVALID
    })?;
    let mut store = Store::new(tier, Knobs::default(), platform);
    let instance = store.instantiate(Arc::new(module), &[]).map_err(|e| {
        set_last_error(format_args!("instantiation failed: {e}"));
        KWASM_RT_EINSTANTIATE
    })?;
    let Some(Extern::Func(f)) = store.export(instance, name) else {
        set_last_error(format_args!("no exported function {name:?}"));
        return Err(KWASM_RT_ENOEXPORT);
    };
    let results = store.call(f, &[arg]).map_err(|t| {
        set_last_error(format_args!("{name} trapped: {t}"));
        KWASM_RT_ETRAP
    })?;
    match results.as_slice() {
        [Val::I64(v)] if func == 0 => Ok(*v),
        [Val::I32(v)] if func == 1 => Ok(i64::from(*v)),
        other => {
            set_last_error(format_args!("{name} returned {other:?}"));
            Err(KWASM_RT_EBADRESULT)
        }
    }
}

/// A NUL-terminated description of the last failure of [`kwasm_rt_selftest`] (empty after a
/// success). Valid until the next call.
#[no_mangle]
pub extern "C" fn kwasm_rt_last_error() -> *const c_char {
    LAST_ERROR.0.get().cast::<c_char>().cast_const()
}

/// The most bytes the global allocator has had in use at once (arena high-water mark).
#[no_mangle]
pub extern "C" fn kwasm_rt_heap_peak() -> usize {
    ALLOC.with(|h| h.peak)
}

const LAST_ERROR_LEN: usize = 256;

struct ErrorBuf(UnsafeCell<[u8; LAST_ERROR_LEN]>);

// SAFETY: only written by `kwasm_rt_selftest`, whose callers must not overlap (documented there).
unsafe impl Sync for ErrorBuf {}

static LAST_ERROR: ErrorBuf = ErrorBuf(UnsafeCell::new([0; LAST_ERROR_LEN]));

/// Formats into a fixed buffer, cutting off what does not fit and keeping a final NUL.
struct FixedWriter<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl Write for FixedWriter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = self.buf.len() - 1 - self.len;
        let n = s.len().min(room);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

fn format_into(buf: &mut [u8], args: fmt::Arguments<'_>) -> usize {
    let mut w = FixedWriter { buf, len: 0 };
    let _ = w.write_fmt(args);
    let len = w.len;
    w.buf[len] = 0;
    len
}

fn set_last_error(args: fmt::Arguments<'_>) {
    // SAFETY: see `ErrorBuf`: no concurrent access.
    let buf = unsafe { &mut *LAST_ERROR.0.get() };
    format_into(buf, args);
}

extern "C" {
    /// Provided by the host (the kernel glue: `panic()`; the test host: print and `abort()`).
    /// Receives the panic message (not NUL-terminated) and must not return.
    fn kwasm_rt_abort(msg: *const u8, len: usize) -> !;
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    let mut buf = [0u8; 256];
    let len = format_into(&mut buf, format_args!("kwasm-kmod-rt: {info}"));
    // SAFETY: `buf[..len]` is initialized; the host function never returns.
    unsafe { kwasm_rt_abort(buf.as_ptr(), len) }
}

// ---------------------------------------------------------------------------------------------
// Global allocator: a bump allocator over a static arena, guarded by a spin lock. Freeing the
// most recent block gives its space back, reallocating it grows it in place, and when no block is
// live the whole arena is reused, so repeated self-tests do not run out.

#[cfg(not(all(any(feature = "optimizing", feature = "baseline"), not(feature = "kernel"))))]
const ARENA_SIZE: usize = 1 << 20;
/// Compiling with Cranelift allocates far more than interpreting the test module does (and the
/// bump allocator reuses space only when everything is freed); bss costs nothing in the C host.
#[cfg(all(any(feature = "optimizing", feature = "baseline"), not(feature = "kernel")))]
const ARENA_SIZE: usize = 64 << 20;

#[repr(C, align(4096))]
struct Arena(UnsafeCell<[u8; ARENA_SIZE]>);

// SAFETY: the bytes are handed out in disjoint blocks under `BumpAlloc::lock`.
unsafe impl Sync for Arena {}

static ARENA: Arena = Arena(UnsafeCell::new([0; ARENA_SIZE]));

struct Heap {
    /// Offset of the first free byte.
    top: usize,
    /// Offset of the most recently allocated block (valid while `live > 0`).
    last: usize,
    /// Number of live blocks.
    live: usize,
    /// High-water mark of `top`.
    peak: usize,
}

struct BumpAlloc {
    lock: AtomicBool,
    heap: UnsafeCell<Heap>,
}

// SAFETY: `heap` is only touched with `lock` held.
unsafe impl Sync for BumpAlloc {}

impl BumpAlloc {
    fn with<R>(&self, f: impl FnOnce(&mut Heap) -> R) -> R {
        while self.lock.compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed).is_err() {
            core::hint::spin_loop();
        }
        // SAFETY: the lock is held.
        let r = f(unsafe { &mut *self.heap.get() });
        self.lock.store(false, Ordering::Release);
        r
    }
}

fn arena_base() -> *mut u8 {
    ARENA.0.get().cast::<u8>()
}

// With feature `kernel` the global allocator is kernel::KernelAlloc (kvmalloc) instead.
#[cfg_attr(not(feature = "kernel"), global_allocator)]
static ALLOC: BumpAlloc =
    BumpAlloc { lock: AtomicBool::new(false), heap: UnsafeCell::new(Heap { top: 0, last: 0, live: 0, peak: 0 }) };

unsafe impl GlobalAlloc for BumpAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.with(|h| {
            let base = arena_base() as usize;
            let start = (base + h.top).next_multiple_of(layout.align()) - base;
            match start.checked_add(layout.size()) {
                Some(end) if end <= ARENA_SIZE => {
                    h.top = end;
                    h.last = start;
                    h.live += 1;
                    h.peak = h.peak.max(end);
                    // SAFETY: `start <= ARENA_SIZE`, inside the arena.
                    unsafe { arena_base().add(start) }
                }
                _ => core::ptr::null_mut(),
            }
        })
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        self.with(|h| {
            let off = ptr as usize - arena_base() as usize;
            h.live -= 1;
            if h.live == 0 {
                h.top = 0;
            } else if off == h.last && off + layout.size() == h.top {
                // The most recent block: give its space back (the one before it is unknown, so
                // later frees of older blocks just leak until the arena empties).
                h.top = off;
            }
        })
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let grown = self.with(|h| {
            let off = ptr as usize - arena_base() as usize;
            let in_place = off == h.last && off + layout.size() == h.top;
            match off.checked_add(new_size) {
                Some(end) if in_place && end <= ARENA_SIZE => {
                    h.top = end;
                    h.peak = h.peak.max(end);
                    true
                }
                _ => false,
            }
        });
        if grown {
            return ptr;
        }
        // SAFETY: the caller upholds `GlobalAlloc::realloc`'s contract; `new_size` with the old
        // alignment is a valid layout by that contract.
        unsafe {
            let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
            let new = self.alloc(new_layout);
            if !new.is_null() {
                core::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
            new
        }
    }
}
