//! The kernel module's API (feature `kernel`, see `include/kwasm_rt_kernel.h`).
//!
//! - The knob table for `/sys/kernel/kwasm/`: names, values, parsing — straight from
//!   `kwasm_runtime::knobs`, so the runtime stays the one source of truth. The current values live
//!   here, in atomics, shared by sysfs and (later) every run started through `/dev/kwasm`.
//! - The global allocator over the glue's `kwasm_kalloc`/`kwasm_kfree` (kvmalloc/kvfree), with
//!   statistics. A failed allocation returns null to the caller, as `GlobalAlloc` requires.
//!
//! Errors crossing the C boundary are negative errno values.

use core::alloc::{GlobalAlloc, Layout};
use core::ffi::{c_char, c_int, c_long};
use core::fmt::Write;
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use kwasm_runtime::knobs::{Knob, KnobSpec, Knobs, KNOBS};

/// The JIT compilers' emergency reserve (clean ENOMEM instead of a panic).
#[cfg(any(feature = "optimizing", feature = "baseline"))]
#[path = "compile_reserve.rs"]
mod compile_reserve;
/// sysfs statistics (global and per store).
#[path = "stats.rs"]
mod stats;
use stats::InstanceStats;

const EINVAL: c_int = 22;
const ENOSPC: c_int = 28;

/// Current knob values, in table order (`Knob as usize`).
static KNOB_VALUES: [AtomicU64; KNOBS.len()] = {
    let mut values = [const { AtomicU64::new(0) }; KNOBS.len()];
    let mut i = 0;
    while i < KNOBS.len() {
        values[i] = AtomicU64::new(KNOBS[i].default);
        i += 1;
    }
    values
};

fn spec(i: u32) -> Option<&'static KnobSpec> {
    KNOBS.get(i as usize)
}

/// The current knob values as a [`Knobs`] set (what a new run starts with).
#[allow(dead_code)] // used by the run path (next step of issue 5)
pub fn current_knobs() -> Knobs {
    let mut k = Knobs::default();
    for (knob, v) in Knob::ALL.iter().zip(KNOB_VALUES.iter()) {
        // Values in KNOB_VALUES were range-checked when stored.
        let _ = k.set(*knob, v.load(Ordering::Relaxed));
    }
    k
}

/// Number of knobs.
#[no_mangle]
pub extern "C" fn kwasm_rt_knob_count() -> u32 {
    KNOBS.len() as u32
}

/// Copies a C-string version of `bytes` into `(buf, cap)`; returns the length or `-ENOSPC`.
///
/// # Safety
/// `buf` must be valid for writes of `cap` bytes.
unsafe fn copy_out(bytes: &[u8], buf: *mut c_char, cap: usize, nul: bool) -> c_long {
    let need = bytes.len() + usize::from(nul);
    if buf.is_null() || need > cap {
        return -(ENOSPC as c_long);
    }
    // SAFETY: `buf` is valid for `cap >= need` bytes (caller contract), and `bytes` cannot
    // overlap it (it is Rust-owned memory).
    unsafe {
        core::ptr::copy_nonoverlapping(bytes.as_ptr(), buf.cast::<u8>(), bytes.len());
        if nul {
            buf.add(bytes.len()).write(0);
        }
    }
    bytes.len() as c_long
}

/// Knob `i`'s name, NUL-terminated, into `buf`.
///
/// # Safety
/// `buf` must be valid for writes of `cap` bytes.
#[no_mangle]
pub unsafe extern "C" fn kwasm_rt_knob_name(i: u32, buf: *mut c_char, cap: usize) -> c_long {
    let Some(s) = spec(i) else { return -(EINVAL as c_long) };
    // SAFETY: forwarded caller contract.
    unsafe { copy_out(s.name.as_bytes(), buf, cap, true) }
}

/// Knob `i`'s value and a newline into `buf` (not NUL-terminated).
///
/// # Safety
/// `buf` must be valid for writes of `cap` bytes.
#[no_mangle]
pub unsafe extern "C" fn kwasm_rt_knob_show(i: u32, buf: *mut c_char, cap: usize) -> c_long {
    let Some(s) = spec(i) else { return -(EINVAL as c_long) };
    let mut text = s.render(KNOB_VALUES[i as usize].load(Ordering::Relaxed));
    let _ = text.write_char('\n');
    // SAFETY: forwarded caller contract.
    unsafe { copy_out(text.as_bytes(), buf, cap, false) }
}

/// Parses `text` and sets knob `i`.
///
/// # Safety
/// `text` must be valid for reads of `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn kwasm_rt_knob_store(i: u32, text: *const c_char, len: usize) -> c_int {
    let Some(s) = spec(i) else { return -EINVAL };
    if text.is_null() || len > 4096 {
        return -EINVAL;
    }
    // SAFETY: `text` is valid for `len` bytes (caller contract) and not written while we read.
    let bytes = unsafe { core::slice::from_raw_parts(text.cast::<u8>(), len) };
    let Ok(text) = core::str::from_utf8(bytes) else { return -EINVAL };
    match s.parse(text) {
        Ok(v) => {
            KNOB_VALUES[i as usize].store(v, Ordering::Relaxed);
            0
        }
        Err(_) => -EINVAL,
    }
}

/// Knob `i`'s raw value, `u64::MAX` for a bad index.
#[no_mangle]
pub extern "C" fn kwasm_rt_knob_get(i: u32) -> u64 {
    KNOB_VALUES.get(i as usize).map_or(u64::MAX, |v| v.load(Ordering::Relaxed))
}

/// Resets every knob to its default.
#[no_mangle]
pub extern "C" fn kwasm_rt_knobs_reset() {
    for (v, s) in KNOB_VALUES.iter().zip(KNOBS) {
        v.store(s.default, Ordering::Relaxed);
    }
}

// ---------------------------------------------------------------------------------------------
// Instances (counted by the run path; zero until it exists).

static INSTANCES_LIVE: AtomicU64 = AtomicU64::new(0);
static INSTANCES_TOTAL: AtomicU64 = AtomicU64::new(0);

/// Instances alive now.
#[no_mangle]
pub extern "C" fn kwasm_rt_instances_live() -> u64 {
    INSTANCES_LIVE.load(Ordering::Relaxed)
}

/// Instances created since the module was loaded.
#[no_mangle]
pub extern "C" fn kwasm_rt_instances_total() -> u64 {
    INSTANCES_TOTAL.load(Ordering::Relaxed)
}

// ---------------------------------------------------------------------------------------------
// Global allocator.

extern "C" {
    fn kwasm_kalloc(size: usize, align: usize, zero: c_int) -> *mut u8;
    fn kwasm_kalloc_nofail(size: usize, align: usize, zero: c_int) -> *mut u8;
    fn kwasm_kfree(ptr: *mut u8);
    static kwasm_heap_limit: core::ffi::c_ulong;
}

struct KernelAlloc;

static HEAP_BYTES: AtomicUsize = AtomicUsize::new(0);
static HEAP_PEAK: AtomicUsize = AtomicUsize::new(0);
static HEAP_FAILURES: AtomicU64 = AtomicU64::new(0);

/// Largest allocation that falls back to `__GFP_NOFAIL` when it fails: 32 KiB, the page
/// allocator's `PAGE_ALLOC_COSTLY_ORDER` (3), up to which the kernel itself treats allocations as
/// "too small to fail" and allows NOFAIL without a warning.
///
/// Allocation failure policy (issue 5 item 5). Rust's infallible allocations (`Box::new`,
/// `Vec::push`, ...) cannot report a failure: the allocator returning null ends in
/// `handle_alloc_error` → panic → `BUG()`. So:
/// - requests up to this size never return null: if kvmalloc fails (which the kernel's "too small
///   to fail" rule confines to OOM victims, dying tasks at a memcg limit and fault injection), the
///   glue retries with `__GFP_NOFAIL`, the kernel's mechanism for callers that cannot handle
///   failure (it may dip into the reserves for a dying task, which then stops at its next fuel
///   slice);
/// - larger requests may return null. The per-request big buffers are fallible and give a clean
///   error: the ioctl copies (module bytes, argv/env, names, values), the module's own copy
///   (`Module::from_vec` keeps the copied buffer), linear memory, tables, WASI bounce buffers. What
///   remains infallible above 32 KiB is growth of vectors proportional to a module's
///   declarations or code: wasmparser's validator tables, the module's section vectors, the
///   interpreter's translated code, a store's instance vectors. Those fail only when a > 32 KiB
///   kvmalloc fails (it falls back to vmalloc, and above 64 KiB uses `__GFP_RETRY_MAYFAIL`), and
///   then still panic: a module with declarations or code large enough to need such a block,
///   instantiated while memory is exhausted. The module's section vectors and the interpreter's
///   translation buffers are reserved fallibly before they are filled
///   (`Module::from_vec`'s `reserve`, the translator's `reserve_for_op`).
/// - in a module built with JIT tiers, a large block a JIT compiler asks for while kvmalloc fails
///   comes from the compile reserve, and the compile is then refused (`compile_reserve.rs`).
const KWASM_NOFAIL_MAX: usize = 32 << 10;

impl KernelAlloc {
    fn alloc_with(&self, layout: Layout, zero: c_int) -> *mut u8 {
        let size = layout.size();
        // SAFETY: a plain read of the glue's module parameter (an aligned unsigned long that sysfs
        // may change at any time: a torn or stale value only moves the test limit).
        let limit = unsafe { core::ptr::read_volatile(&raw const kwasm_heap_limit) } as usize;
        let over_limit = limit != 0 && HEAP_BYTES.load(Ordering::Relaxed).saturating_add(size) > limit;
        let mut p = core::ptr::null_mut();
        if !over_limit {
            // SAFETY: plain allocation call; the size is non-zero (GlobalAlloc contract).
            p = unsafe { kwasm_kalloc(size, layout.align(), zero) };
        }
        if p.is_null() {
            HEAP_FAILURES.fetch_add(1, Ordering::Relaxed);
            if size <= KWASM_NOFAIL_MAX {
                // SAFETY: as above; the glue checks size and alignment again.
                p = unsafe { kwasm_kalloc_nofail(size, layout.align(), zero) };
            } else {
                // A JIT compiler's large block: from the reserve, if a compile is running (which
                // then fails cleanly when it installs its code).
                #[cfg(any(feature = "optimizing", feature = "baseline"))]
                {
                    p = compile_reserve::carve(layout, zero != 0);
                }
            }
        }
        if !p.is_null() {
            let now = HEAP_BYTES.fetch_add(size, Ordering::Relaxed) + size;
            HEAP_PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
}

// SAFETY: kvmalloc/kmalloc return blocks that are disjoint, at least `size` bytes, and aligned as
// `kwasm_kalloc`/`kwasm_kalloc_nofail` document for `align` (null when they cannot honour it).
unsafe impl GlobalAlloc for KernelAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.alloc_with(layout, 0)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        self.alloc_with(layout, 1)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        HEAP_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
        #[cfg(any(feature = "optimizing", feature = "baseline"))]
        if compile_reserve::owns(ptr) {
            compile_reserve::release(ptr, layout.size());
            return;
        }
        // SAFETY: `ptr` came from `kwasm_kalloc` (GlobalAlloc contract).
        unsafe { kwasm_kfree(ptr) }
    }

    /// The default (allocate, copy, free), except that a block of the compile reserve at the
    /// pool's top grows in place.
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        #[cfg(any(feature = "optimizing", feature = "baseline"))]
        if compile_reserve::owns(ptr) && compile_reserve::grow_in_place(ptr, layout.size(), new_size) {
            let now = HEAP_BYTES.fetch_add(new_size - layout.size(), Ordering::Relaxed) + new_size - layout.size();
            HEAP_PEAK.fetch_max(now, Ordering::Relaxed);
            return ptr;
        }
        // SAFETY: the caller guarantees (GlobalAlloc contract) that `new_size`, rounded up to
        // `layout.align()`, does not overflow isize, and the alignment is that of a valid layout.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: `new_layout` has a non-zero size (GlobalAlloc contract for realloc).
        let new_ptr = unsafe { self.alloc(new_layout) };
        if !new_ptr.is_null() {
            // SAFETY: both blocks are valid for the smaller of the two sizes and do not overlap
            // (the new one is fresh); `ptr` is then freed with its own layout.
            unsafe {
                core::ptr::copy_nonoverlapping(ptr, new_ptr, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
        }
        new_ptr
    }
}

#[global_allocator]
static KERNEL_ALLOC: KernelAlloc = KernelAlloc;

/// Runtime heap bytes in use.
#[no_mangle]
pub extern "C" fn kwasm_rt_kheap_bytes() -> usize {
    HEAP_BYTES.load(Ordering::Relaxed)
}

/// Runtime heap high-water mark in bytes.
#[no_mangle]
pub extern "C" fn kwasm_rt_kheap_peak() -> usize {
    HEAP_PEAK.load(Ordering::Relaxed)
}

/// Failed runtime heap allocations.
#[no_mangle]
pub extern "C" fn kwasm_rt_kheap_failures() -> u64 {
    HEAP_FAILURES.load(Ordering::Relaxed)
}

// ---------------------------------------------------------------------------------------------
// ioctl commands on kernel copies of the argument structs (see kmod/kwasm_main.rs).

const ENOTTY: c_long = 25;
const EFAULT: c_int = 14;
const EBUSY: c_int = 16;
const ENOMEM: c_int = 12;
const E2BIG: c_int = 7;
const EBADF: c_int = 9;
const ENOEXEC: c_int = 8;
const ENOENT: c_int = 2;
const ENOTDIR: c_int = 20;
const EOPNOTSUPP: c_int = 95;

/// Largest module accepted by LOAD.
const MAX_WASM_BYTES: u64 = 256 << 20;
/// Largest argv or environment block accepted by LOAD.
const MAX_STRINGS_BYTES: u64 = 1 << 20;

extern "C" {
    fn kwasm_copy_from_user(dst: *mut u8, src: u64, len: usize) -> c_int;
    fn kwasm_copy_to_user(dst: u64, src: *const u8, len: usize) -> c_int;
    fn kwasm_fget(fd: c_int) -> *mut c_void;
    fn kwasm_kwrite(file: *mut c_void, buf: *const u8, len: usize) -> c_long;
    fn kwasm_kread(file: *mut c_void, buf: *mut u8, len: usize) -> c_long;
    fn kwasm_clock_ns(realtime: c_int) -> u64;
    fn kwasm_random(buf: *mut u8, len: usize);
    fn kwasm_check_interrupt() -> c_int;
}

use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::ffi::c_void;

use kwasm_runtime::platform::{
    Clock, DirEntry, Errno, FileStat, HostHandle, Interruption, OpenOptions, Platform, PollRequest, Whence,
};

use crate::wasi_host::{self, Handles};
use kwasm_runtime::wasi::{self, WasiCtx, WasiCtxBuilder};
use kwasm_runtime::{Error, Extern, Linker, Module, Store, TrapKind};

/// The kernel's [`Platform`]: host handles are indices into `handles` (the caller's files and
/// sockets a run uses, references taken at LOAD or by the program, released with the instance).
struct KernelPlatform {
    handles: Handles,
}

impl KernelPlatform {
    fn file(&self, h: HostHandle) -> Result<*mut c_void, Errno> {
        self.handles.file(h).map_err(|_| wasi::errno::BADF)
    }
}

fn errno_from_kernel(e: c_long) -> Errno {
    match -e as c_int {
        EBADF => wasi::errno::BADF,
        EFAULT => wasi::errno::FAULT,
        ENOMEM => wasi::errno::NOMEM,
        11 => wasi::errno::AGAIN,
        4 => wasi::errno::INTR,
        32 => wasi::errno::PIPE,
        28 => wasi::errno::NOSPC,
        _ => wasi::errno::IO,
    }
}

impl Platform for KernelPlatform {
    /// JIT code memory from the glue (execmem_alloc, then set_memory_rox: W^X), as in the C
    /// test host; without a JIT tier built in, the default refusal.
    /// Refused while the compile reserve is in use: the code was compiled on emergency memory
    /// (a large allocation failed), and refusing it frees that memory and gives a clean
    /// out-of-memory error.
    #[cfg(any(feature = "optimizing", feature = "baseline"))]
    fn alloc_exec(&self, len: usize) -> Result<kwasm_runtime::platform::ExecRegion, Errno> {
        if compile_reserve::in_use() {
            return Err(wasi::errno::NOMEM);
        }
        crate::jit::HostExecPlatform.alloc_exec(len)
    }

    #[cfg(any(feature = "optimizing", feature = "baseline"))]
    fn compiling(&self, tier: kwasm_runtime::tier::TierId, active: bool) {
        if tier != kwasm_runtime::tier::TierId::Interp {
            compile_reserve::compiling(active);
        }
    }

    #[cfg(any(feature = "optimizing", feature = "baseline"))]
    fn protect_exec(&self, region: &mut kwasm_runtime::platform::ExecRegion) -> Result<(), Errno> {
        crate::jit::HostExecPlatform.protect_exec(region)
    }

    fn check_interrupt(&mut self) -> Interruption {
        // SAFETY: plain call in process context.
        if unsafe { kwasm_check_interrupt() } != 0 {
            Interruption::Stop
        } else {
            Interruption::Continue
        }
    }

    fn clock_time(&mut self, clock: Clock) -> Result<u64, Errno> {
        let realtime = match clock {
            Clock::Realtime => 1,
            Clock::Monotonic => 0,
            Clock::ProcessCpu => return wasi_host::cpu_time(false),
            Clock::ThreadCpu => return wasi_host::cpu_time(true),
        };
        // SAFETY: plain call.
        Ok(unsafe { kwasm_clock_ns(realtime) })
    }

    fn random(&mut self, buf: &mut [u8]) -> Result<(), Errno> {
        // SAFETY: `buf` is valid for writes of its length.
        unsafe { kwasm_random(buf.as_mut_ptr(), buf.len()) };
        Ok(())
    }

    fn read(&mut self, h: HostHandle, buf: &mut [u8], offset: Option<u64>) -> Result<usize, Errno> {
        if let Some(r) = self.handles.read_special(h, buf, offset) {
            return r;
        }
        let f = self.file(h)?;
        // SAFETY: `f` is a live file reference; `buf` is valid for writes of its length.
        let n = unsafe { kwasm_kread(f, buf.as_mut_ptr(), buf.len()) };
        if n < 0 {
            Err(errno_from_kernel(n))
        } else {
            Ok(n as usize)
        }
    }

    fn write(&mut self, h: HostHandle, buf: &[u8], offset: Option<u64>) -> Result<usize, Errno> {
        if let Some(r) = self.handles.write_special(h, buf, offset) {
            return r;
        }
        let f = self.file(h)?;
        // SAFETY: `f` is a live file reference; `buf` is valid for reads of its length.
        let n = unsafe { kwasm_kwrite(f, buf.as_ptr(), buf.len()) };
        if n < 0 {
            Err(errno_from_kernel(n))
        } else {
            Ok(n as usize)
        }
    }

    // ---- WASI host objects beyond stdio (kmod/rt/src/wasi_host.rs, kmod/kwasm_wasi.c) ----

    fn seek(&mut self, h: HostHandle, offset: i64, whence: Whence) -> Result<u64, Errno> {
        self.handles.seek(h, offset, whence)
    }

    fn stat(&mut self, h: HostHandle) -> Result<FileStat, Errno> {
        self.handles.stat(h)
    }

    fn close(&mut self, h: HostHandle) -> Result<(), Errno> {
        self.handles.close(h)
    }

    fn open_at(&mut self, dir: HostHandle, path: &str, opts: OpenOptions) -> Result<HostHandle, Errno> {
        self.handles.open_at(dir, path, opts)
    }

    fn stat_at(&mut self, dir: HostHandle, path: &str, follow: bool) -> Result<FileStat, Errno> {
        self.handles.stat_at(dir, path, follow)
    }

    fn mkdir_at(&mut self, dir: HostHandle, path: &str) -> Result<(), Errno> {
        self.handles.mkdir_at(dir, path)
    }

    fn unlink_at(&mut self, dir: HostHandle, path: &str) -> Result<(), Errno> {
        self.handles.unlink_at(dir, path, false)
    }

    fn rmdir_at(&mut self, dir: HostHandle, path: &str) -> Result<(), Errno> {
        self.handles.unlink_at(dir, path, true)
    }

    fn rename_at(&mut self, from_dir: HostHandle, from: &str, to_dir: HostHandle, to: &str) -> Result<(), Errno> {
        self.handles.rename_at(from_dir, from, to_dir, to)
    }

    fn read_dir(&mut self, dir: HostHandle) -> Result<Vec<DirEntry>, Errno> {
        self.handles.read_dir(dir)
    }

    fn sync(&mut self, h: HostHandle, data_only: bool) -> Result<(), Errno> {
        self.handles.sync(h, data_only)
    }

    fn set_size(&mut self, h: HostHandle, size: u64) -> Result<(), Errno> {
        self.handles.set_size(h, size)
    }

    fn sock_recv(&mut self, sock: HostHandle, buf: &mut [u8], peek: bool, wait_all: bool) -> Result<usize, Errno> {
        self.handles.sock_recv(sock, buf, peek, wait_all)
    }

    fn sock_accept(&mut self, listener: HostHandle, nonblock: bool) -> Result<HostHandle, Errno> {
        self.handles.sock_accept(listener, nonblock)
    }

    fn sock_shutdown(&mut self, sock: HostHandle, how: u8) -> Result<(), Errno> {
        self.handles.sock_shutdown(sock, how)
    }

    fn set_nonblocking(&mut self, h: HostHandle, nonblock: bool) -> Result<(), Errno> {
        self.handles.set_nonblocking(h, nonblock)
    }

    fn poll(&mut self, requests: &[PollRequest], timeout_ns: Option<u64>) -> Result<Vec<bool>, Errno> {
        self.handles.poll(requests, timeout_ns)
    }

    fn sleep(&mut self, ns: u64) -> Result<(), Errno> {
        wasi_host::sleep(ns)
    }

    fn yield_now(&mut self) {
        wasi_host::yield_now()
    }
}

/// A loaded program: its store (with WASI and the kernel platform) and `_start`.
struct KInstance {
    store: Store,
    start: Option<kwasm_runtime::FuncAddr>,
    ran: bool,
    stats: Arc<InstanceStats>,
}

impl Drop for KInstance {
    fn drop(&mut self) {
        INSTANCES_LIVE.fetch_sub(1, Ordering::Relaxed);
    }
}

/// What an open `/dev/kwasm` file holds: a LOAD'ed program (ABI 1) or a session (ABI 2).
enum FileState {
    Program(KInstance),
    Session(Session),
}

/// The counters of the store in a file's slot.
///
/// # Safety
/// `slot` must be NULL or a slot value made by `load` or `session::open`, not used concurrently.
unsafe fn state_stats(slot: *mut c_void) -> Option<Arc<InstanceStats>> {
    // SAFETY: see `state`; only read.
    match unsafe { slot.cast::<FileState>().as_ref() }? {
        FileState::Program(p) => Some(p.stats.clone()),
        FileState::Session(s) => Some(s.stats.clone()),
    }
}

/// The file's state behind its slot (`None`: nothing yet).
fn state(slot: &mut *mut c_void) -> Option<&mut FileState> {
    // SAFETY: a non-null slot holds a `Box<FileState>` made by `load` or `session`; the glue's
    // file lock makes this the only reference while the ioctl runs.
    unsafe { slot.cast::<FileState>().as_mut() }
}

/// Copies `data` to user address `dst`.
fn copy_out_user(dst: u64, data: &[u8]) -> Result<(), c_int> {
    if data.is_empty() {
        return Ok(());
    }
    // SAFETY: `data` is valid for reads of its length; the glue checks the user range.
    if unsafe { kwasm_copy_to_user(dst, data.as_ptr(), data.len()) } != 0 {
        return Err(-EFAULT);
    }
    Ok(())
}

/// Copies `len` bytes from user address `src` into a new vector.
fn copy_user(src: u64, len: u64, max: u64) -> Result<Vec<u8>, c_int> {
    if len > max {
        return Err(-E2BIG);
    }
    let mut v: Vec<u8> = Vec::new();
    v.try_reserve_exact(len as usize).map_err(|_| -ENOMEM)?;
    if len > 0 {
        // SAFETY: `v` has capacity for `len` bytes; `kwasm_copy_from_user` writes at most that
        // many and the length is set only after it succeeded (u8 has no invalid values).
        unsafe {
            if kwasm_copy_from_user(v.as_mut_ptr(), src, len as usize) != 0 {
                return Err(-EFAULT);
            }
            v.set_len(len as usize);
        }
    }
    Ok(v)
}

/// Splits a block of NUL-terminated strings; every string must be UTF-8 and terminated.
fn split_strings(block: &[u8]) -> Result<Vec<String>, c_int> {
    if block.is_empty() {
        return Ok(Vec::new());
    }
    if block.last() != Some(&0) {
        return Err(-EINVAL);
    }
    block[..block.len() - 1]
        .split(|b| *b == 0)
        .map(|s| core::str::from_utf8(s).map(String::from).map_err(|_| -EINVAL))
        .collect()
}

fn load(slot: &mut *mut c_void, l: &kwasm_runtime::kabi::Load) -> Result<(), c_int> {
    if !slot.is_null() {
        return Err(-EBUSY);
    }
    if l.size != core::mem::size_of::<kwasm_runtime::kabi::Load>() as u64
        || l.flags != 0
        || l.reserved.iter().any(|r| *r != 0)
        || l.listen_fd < -1
        || l.npreopens > kwasm_runtime::kabi::MAX_PREOPENS
        || (l.npreopens == 0 && l.preopens != 0)
    {
        return Err(-EINVAL);
    }
    let bytes = copy_user(l.wasm, l.wasm_len, MAX_WASM_BYTES)?;
    let args = split_strings(&copy_user(l.args, l.args_len, MAX_STRINGS_BYTES)?)?;
    let env = split_strings(&copy_user(l.env, l.env_len, MAX_STRINGS_BYTES)?)?;
    let mut knobs = run_knobs(l.max_memory_pages, l.fuel)?;
    let tier = run_tier(&mut knobs)?;
    // Files first (so that a bad fd fails before any work); index = host handle.
    let mut handles = Handles::default();
    let mut builder = WasiCtx::builder();
    for (i, fd) in [l.stdin_fd, l.stdout_fd, l.stderr_fd].into_iter().enumerate() {
        if fd < 0 {
            continue;
        }
        let h = add_caller_file(&mut handles, fd)?;
        builder = match i {
            0 => builder.stdin(h),
            1 => builder.stdout(h),
            _ => builder.stderr(h),
        };
    }
    builder = preopens(&mut handles, builder, l)?;
    builder = builder.args(args);
    for e in &env {
        let (k, v) = e.split_once('=').unwrap_or((e.as_str(), ""));
        builder = builder.env(k, v);
    }
    // The module keeps the buffer copy_user made (fallibly): no second allocation of its size.
    let module = Module::from_vec(bytes).map_err(|e| load_errno(&e))?;
    let mut store = Store::new(tier, knobs, Box::new(KernelPlatform { handles }));
    store.wasi = Some(builder.build());
    let mut linker = Linker::new();
    wasi::add_to_linker(&mut linker, &mut store);
    INSTANCES_TOTAL.fetch_add(1, Ordering::Relaxed);
    INSTANCES_LIVE.fetch_add(1, Ordering::Relaxed);
    let mut inst = KInstance { store, start: None, ran: false, stats: InstanceStats::new(false) };
    let id = match linker.instantiate(&mut inst.store, Arc::new(module)) {
        Ok(id) => id,
        Err(e) => {
            if let Error::Trap(t) = &e {
                inst.stats.instantiate_trap(&t.kind);
            }
            return Err(load_errno(&e));
        }
    };
    inst.stats.instances(1);
    inst.start = match inst.store.export(id, "_start") {
        Some(Extern::Func(f)) => Some(f),
        _ => return Err(-ENOENT),
    };
    *slot = Box::into_raw(Box::new(FileState::Program(inst))).cast::<c_void>();
    Ok(())
}

/// LOAD's errno for a module that cannot be decoded or instantiated: `ENOMEM` when memory ran out
/// (an allocation failed or a limit was hit), else `ENOEXEC`.
fn load_errno(e: &Error) -> c_int {
    match e {
        Error::Resource(_) => -ENOMEM,
        _ => -ENOEXEC,
    }
}

/// Takes a reference to the caller's open file `fd` into `handles`.
fn add_caller_file(handles: &mut Handles, fd: c_int) -> Result<HostHandle, c_int> {
    // SAFETY: plain call; the result is NULL or a reference we own.
    let f = unsafe { kwasm_fget(fd) };
    if f.is_null() {
        return Err(-EBADF);
    }
    // On failure the table has already released `f`.
    handles.add_file(f).map_err(|_| -ENOMEM)
}

/// LOAD's listening socket (WASI fd 3) and preopened directories (ABI 3), in `wasmtime run`'s
/// order.
fn preopens(
    handles: &mut Handles,
    mut builder: WasiCtxBuilder,
    l: &kwasm_runtime::kabi::Load,
) -> Result<WasiCtxBuilder, c_int> {
    use kwasm_runtime::kabi::Preopen;
    if l.listen_fd >= 0 {
        builder = builder.preopened_socket(handles.add_listener(l.listen_fd)?);
    }
    let esize = core::mem::size_of::<Preopen>() as u64;
    let raw = copy_user(l.preopens, l.npreopens * esize, kwasm_runtime::kabi::MAX_PREOPENS * esize)?;
    for chunk in raw.chunks_exact(esize as usize) {
        // SAFETY: `chunk` holds `size_of::<Preopen>()` initialized bytes (plain integers); unaligned read.
        let p = unsafe { chunk.as_ptr().cast::<Preopen>().read_unaligned() };
        if p.reserved != 0 || p.path_len == 0 || p.fd < 0 {
            return Err(-EINVAL);
        }
        let guest = String::from_utf8(copy_user(p.path, p.path_len, 4096)?).map_err(|_| -EINVAL)?;
        if guest.contains('\0') {
            return Err(-EINVAL);
        }
        let h = add_caller_file(handles, p.fd)?;
        if !handles.is_dir(h) {
            return Err(-ENOTDIR);
        }
        builder = builder.preopened_dir(h, guest);
    }
    Ok(builder)
}

fn run(slot: &mut *mut c_void, r: &mut kwasm_runtime::kabi::RunResult) -> Result<(), c_int> {
    use kwasm_runtime::kabi;
    if slot.is_null() || r.size != core::mem::size_of::<kabi::RunResult>() as u64 {
        return Err(-EINVAL);
    }
    let Some(FileState::Program(inst)) = state(slot) else { return Err(-EINVAL) };
    if inst.ran {
        return Err(-EBUSY);
    }
    inst.ran = true;
    let start = inst.start.ok_or(-ENOENT)?;
    // SAFETY: plain call.
    let t0 = unsafe { kwasm_clock_ns(0) };
    let res = inst.store.call(start, &[]);
    // SAFETY: plain call.
    r.run_ns = unsafe { kwasm_clock_ns(0) }.saturating_sub(t0);
    r.fuel_used = inst.store.fuel_used;
    inst.stats.call(&inst.store, false, r.run_ns, r.fuel_used, res.as_ref().err().map(|t| &t.kind));
    r.trap_func = u32::MAX;
    r.trap_offset = u64::MAX;
    match res {
        Ok(_) => {
            r.outcome = kabi::OUTCOME_EXIT;
            r.exit_code = 0;
        }
        Err(t) => match t.kind {
            TrapKind::Exit(code) => {
                r.outcome = kabi::OUTCOME_EXIT;
                r.exit_code = code as u32;
            }
            TrapKind::Interrupted => r.outcome = kabi::OUTCOME_KILLED,
            ref k => {
                r.outcome = kabi::OUTCOME_TRAP;
                r.trap_kind = kabi::trap_number(k);
                r.trap_func = t.func.unwrap_or(u32::MAX);
                r.trap_offset = t.offset.map_or(u64::MAX, u64::from);
            }
        },
    }
    Ok(())
}

/// Handles ioctl `cmd` for the open file whose instance slot is `*inst`, on the argument struct
/// `buf[..len]` (already copied from user space when the command reads one); results are written
/// back into `buf` (copied out by the caller when the command writes one). Returns a
/// non-negative value or a negative errno.
///
/// # Safety
/// `buf` must be valid for reads and writes of `len` bytes; `inst` must point to the file's
/// instance slot (NULL or a pointer made by this module), used by no one else during the call.
#[no_mangle]
pub unsafe extern "C" fn kwasm_rt_ioctl(inst: *mut *mut c_void, cmd: u32, buf: *mut u8, len: usize) -> c_long {
    use kwasm_runtime::kabi;
    if inst.is_null() || buf.is_null() && len != 0 {
        return -(EINVAL as c_long);
    }
    // SAFETY: valid and exclusive for the call (caller contract).
    let slot = unsafe { &mut *inst };
    let r = match cmd {
        kabi::IOC_VERSION if len == core::mem::size_of::<kabi::Version>() => {
            let v = kabi::Version {
                abi_version: kabi::ABI_VERSION,
                knob_count: KNOBS.len() as u32,
                features: kabi::FEATURE_RUN | kabi::FEATURE_SESSION | kabi::FEATURE_LISTEN | kabi::FEATURE_PREOPEN_DIRS,
            };
            // SAFETY: `buf` is valid for `len` bytes, exactly the struct's size; unaligned write.
            unsafe { buf.cast::<kabi::Version>().write_unaligned(v) };
            Ok(())
        }
        kabi::IOC_LOAD if len == core::mem::size_of::<kabi::Load>() => {
            // SAFETY: `buf` holds `len` initialized bytes = one `Load` (plain integers, any bit
            // pattern is valid); unaligned read.
            let l = unsafe { buf.cast::<kabi::Load>().read_unaligned() };
            load(slot, &l)
        }
        kabi::IOC_RUN if len == core::mem::size_of::<kabi::RunResult>() => {
            // SAFETY: as for LOAD, with `RunResult`.
            let mut r = unsafe { buf.cast::<kabi::RunResult>().read_unaligned() };
            let res = run(slot, &mut r);
            if res.is_ok() {
                // SAFETY: `buf` is valid for writes of `len` bytes.
                unsafe { buf.cast::<kabi::RunResult>().write_unaligned(r) };
            }
            res
        }
        kabi::IOC_SESSION if len == core::mem::size_of::<kabi::Session>() => {
            // SAFETY: as for LOAD, with `Session`.
            let a = unsafe { buf.cast::<kabi::Session>().read_unaligned() };
            session::open(slot, &a)
        }
        kabi::IOC_COMPILE if len == core::mem::size_of::<kabi::Compile>() => {
            // SAFETY: as for LOAD, with `Compile`.
            let mut a = unsafe { buf.cast::<kabi::Compile>().read_unaligned() };
            let res = session::compile(slot, &mut a);
            if res.is_ok() {
                // SAFETY: `buf` is valid for writes of `len` bytes.
                unsafe { buf.cast::<kabi::Compile>().write_unaligned(a) };
            }
            res
        }
        kabi::IOC_INSTANTIATE if len == core::mem::size_of::<kabi::Instantiate>() => {
            // SAFETY: as for LOAD, with `Instantiate`.
            let mut a = unsafe { buf.cast::<kabi::Instantiate>().read_unaligned() };
            let res = session::instantiate(slot, &mut a);
            if res.is_ok() {
                // SAFETY: `buf` is valid for writes of `len` bytes.
                unsafe { buf.cast::<kabi::Instantiate>().write_unaligned(a) };
            }
            res
        }
        kabi::IOC_REGISTER if len == core::mem::size_of::<kabi::Register>() => {
            // SAFETY: as for LOAD, with `Register`.
            let a = unsafe { buf.cast::<kabi::Register>().read_unaligned() };
            session::register(slot, &a)
        }
        kabi::IOC_INVOKE if len == core::mem::size_of::<kabi::Invoke>() => {
            // SAFETY: as for LOAD, with `Invoke`.
            let mut a = unsafe { buf.cast::<kabi::Invoke>().read_unaligned() };
            let res = session::invoke(slot, &mut a);
            if res.is_ok() {
                // SAFETY: `buf` is valid for writes of `len` bytes.
                unsafe { buf.cast::<kabi::Invoke>().write_unaligned(a) };
            }
            res
        }
        kabi::IOC_GET if len == core::mem::size_of::<kabi::Get>() => {
            // SAFETY: as for LOAD, with `Get`.
            let mut a = unsafe { buf.cast::<kabi::Get>().read_unaligned() };
            let res = session::get(slot, &mut a);
            if res.is_ok() {
                // SAFETY: `buf` is valid for writes of `len` bytes.
                unsafe { buf.cast::<kabi::Get>().write_unaligned(a) };
            }
            res
        }
        kabi::IOC_RELEASE if len == 0 => {
            // SAFETY: `*slot` is NULL or ours.
            unsafe { kwasm_rt_instance_free(*slot) };
            *slot = core::ptr::null_mut();
            Ok(())
        }
        _ => return -ENOTTY,
    };
    if let Some(st) = state(slot) {
        match st {
            FileState::Program(p) => p.stats.memory(&p.store),
            FileState::Session(s) => s.stats.memory(&s.store),
        }
    }
    match r {
        Ok(()) => 0,
        Err(e) => e as c_long,
    }
}

/// Frees what LOAD or SESSION left in a file's slot (NULL: nothing).
///
/// # Safety
/// `inst` must be NULL or a pointer from LOAD/SESSION that is not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn kwasm_rt_instance_free(inst: *mut c_void) {
    if !inst.is_null() {
        // SAFETY: made by `Box::into_raw` in `load` or `session::open`; ownership returns here once.
        drop(unsafe { Box::from_raw(inst.cast::<FileState>()) });
    }
}

/// The knobs a LOAD or SESSION starts with: the sysfs values, with the caller's memory cap (only
/// ever lower) and fuel. The caller checks the tier with [`run_tier`]. `bounds_mode=guard` is
/// refused with `EOPNOTSUPP`: guard regions need the faults of compiled code turned into traps,
/// which a module cannot do (no exception-table fixups for JIT code; see kmod/README.md), so the
/// kernel uses explicit bounds checks only.
fn run_knobs(max_memory_pages: u64, fuel: u64) -> Result<Knobs, c_int> {
    let mut knobs = current_knobs();
    if kwasm_runtime::knobs::BOUNDS_MODES[knobs.get(Knob::BoundsMode) as usize] != "explicit" {
        return Err(-EOPNOTSUPP);
    }
    if max_memory_pages != 0 {
        let cap = max_memory_pages.min(knobs.get(Knob::MaxMemoryPages));
        knobs.set(Knob::MaxMemoryPages, cap).map_err(|_| -EINVAL)?;
    }
    if fuel != 0 {
        knobs.set(Knob::Fuel, fuel).map_err(|_| -EINVAL)?;
    }
    Ok(knobs)
}

/// Native stack the JIT tiers may use for wasm frames in the kernel. Every ioctl runs the
/// runtime on a 256 KiB stack of the glue's (`stack_size_bytes`); the JITs check `rsp` against
/// a limit `max_call_depth` × their `STACK_BYTES_PER_CALL` below their entry, and that limit must
/// stay well inside the stack, leaving room for the last frame and the runtime functions and
/// host calls made from it. (The interpreter keeps its frames on the heap: no such limit.)
#[cfg(any(feature = "optimizing", feature = "baseline"))]
const KERNEL_JIT_STACK_BYTES: u64 = 128 << 10;

/// The tier the `tier` knob names, if it may run here: the interpreter unless `interp_enabled`
/// is off; the JIT tiers only in a module built with them (rt features `optimizing`, `baseline`),
/// which get executable memory from the glue (`kwasm_rt_exec_*`), compile on the ioctl's own
/// stack and get `max_call_depth` lowered to what [`KERNEL_JIT_STACK_BYTES`] holds. `EINVAL`
/// for anything else, as before the JIT tiers existed.
fn run_tier(knobs: &mut Knobs) -> Result<Arc<dyn kwasm_runtime::Tier>, c_int> {
    #[cfg(any(feature = "optimizing", feature = "baseline"))]
    fn fit_stack(knobs: &mut Knobs, bytes_per_call: u64) -> Result<(), c_int> {
        let depth = knobs.get(Knob::MaxCallDepth).min(KERNEL_JIT_STACK_BYTES / bytes_per_call);
        knobs.set(Knob::MaxCallDepth, depth).map_err(|_| -EINVAL)
    }
    match kwasm_runtime::knobs::TIER_NAMES[knobs.get(Knob::Tier) as usize] {
        "interp" if knobs.get(Knob::InterpEnabled) != 0 => Ok(Arc::new(kwasm_interp::Interpreter::new())),
        #[cfg(feature = "baseline")]
        "baseline" => {
            fit_stack(knobs, kwasm_baseline::STACK_BYTES_PER_CALL)?;
            Ok(Arc::new(kwasm_baseline::BaselineTier))
        }
        #[cfg(feature = "optimizing")]
        "optimizing" => {
            if !cpu_has_x86_64_v2() {
                return Err(-EOPNOTSUPP);
            }
            fit_stack(knobs, kwasm_optimizing::STACK_BYTES_PER_CALL)?;
            Ok(Arc::new(kwasm_optimizing::OptimizingTier::new()))
        }
        _ => Err(-EINVAL),
    }
}

/// Whether this CPU has what the optimizing tier's code assumes (x86-64-v2: SSE3, SSSE3,
/// SSE4.1, SSE4.2, POPCNT, CMPXCHG16B; `tiers/optimizing/src/isa.rs`). User space asks `std`;
/// here CPUID leaf 1 is read directly (the flags are the same on every CPU of a machine), so a
/// LOAD or SESSION on an older CPU gets `EOPNOTSUPP` instead of an invalid-opcode oops.
#[cfg(feature = "optimizing")]
fn cpu_has_x86_64_v2() -> bool {
    const ECX_V2: u32 = (1 << 0) | (1 << 9) | (1 << 13) | (1 << 19) | (1 << 20) | (1 << 23);
    // CPUID leaf 1 exists on every x86-64 CPU; reading it has no side effects.
    let leaf1 = core::arch::x86_64::__cpuid(1);
    leaf1.ecx & ECX_V2 == ECX_V2
}

/// ABI 2: a store per open file in which modules are compiled, instantiated and called.
mod session {
    use super::*;
    use kwasm_runtime::kabi::{self, Outcome};
    use kwasm_runtime::{InstanceId, Trap, Val};

    /// Most modules one session keeps compiled.
    const MAX_MODULES: usize = 100_000;
    /// Longest export or import-module name.
    const MAX_NAME: u64 = 64 << 10;
    /// Most arguments or results of one call.
    const MAX_VALS: u32 = 4096;

    pub(super) struct Session {
        pub(super) store: Store,
        linker: Linker,
        modules: Vec<Arc<Module>>,
        /// Instances this session created (for the live-instance statistic).
        instances: u64,
        pub(super) stats: Arc<InstanceStats>,
    }

    impl Drop for Session {
        fn drop(&mut self) {
            INSTANCES_LIVE.fetch_sub(self.instances, Ordering::Relaxed);
        }
    }

    fn session(slot: &mut *mut c_void) -> Result<&mut Session, c_int> {
        match state(slot) {
            Some(FileState::Session(s)) => Ok(s),
            _ => Err(-EINVAL),
        }
    }

    /// SESSION.
    pub(super) fn open(slot: &mut *mut c_void, a: &kabi::Session) -> Result<(), c_int> {
        if !slot.is_null() {
            return Err(-EBUSY);
        }
        if a.size != core::mem::size_of::<kabi::Session>() as u64
            || a.flags & !kabi::SESSION_SPECTEST != 0
            || a.reserved.iter().any(|r| *r != 0)
        {
            return Err(-EINVAL);
        }
        let mut knobs = run_knobs(a.max_memory_pages, a.fuel)?;
        let tier = run_tier(&mut knobs)?;
        let platform = Box::new(KernelPlatform { handles: Handles::default() });
        let mut store = Store::new(tier, knobs, platform);
        let mut linker = Linker::new();
        if a.flags & kabi::SESSION_SPECTEST != 0 {
            kwasm_runtime::spectest::define(&mut store, &mut linker).map_err(|_| -ENOMEM)?;
        }
        let s = Session { store, linker, modules: Vec::new(), instances: 0, stats: InstanceStats::new(true) };
        *slot = Box::into_raw(Box::new(FileState::Session(s))).cast::<c_void>();
        Ok(())
    }

    /// Checks the caller's part of an outcome block and clears the rest.
    fn start_outcome(o: &mut Outcome) -> Result<(), c_int> {
        if o.reserved != 0 || (o.msg == 0 && o.msg_cap != 0) {
            return Err(-EINVAL);
        }
        o.status = kabi::STATUS_OK;
        o.trap_kind = 0;
        o.trap_func = u32::MAX;
        o.trap_offset = u64::MAX;
        o.msg_len = 0;
        Ok(())
    }

    /// Sets `status` and copies `msg` (cut at the caller's capacity) to the caller's buffer.
    fn finish(o: &mut Outcome, status: u32, msg: &str) -> Result<(), c_int> {
        o.status = status;
        let n = (msg.len() as u64).min(o.msg_cap) as usize;
        if o.msg != 0 && n > 0 {
            copy_out_user(o.msg, &msg.as_bytes()[..n])?;
        }
        o.msg_len = n as u64;
        Ok(())
    }

    fn trap(o: &mut Outcome, t: &Trap) -> Result<(), c_int> {
        o.trap_kind = kabi::trap_number(&t.kind);
        o.trap_func = t.func.unwrap_or(u32::MAX);
        o.trap_offset = t.offset.map_or(u64::MAX, u64::from);
        let msg = match &t.kind {
            TrapKind::Host(m) => m.clone(),
            _ => alloc::format!("{t}"),
        };
        finish(o, kabi::STATUS_TRAP, &msg)
    }

    fn error(o: &mut Outcome, e: &Error) -> Result<(), c_int> {
        let status = match e {
            Error::Trap(t) => return trap(o, t),
            Error::Invalid { .. } => kabi::STATUS_INVALID,
            Error::Unlinkable(_) => kabi::STATUS_UNLINKABLE,
            _ => kabi::STATUS_ERROR,
        };
        finish(o, status, &alloc::format!("{e}"))
    }

    fn name(ptr: u64, len: u64) -> Result<String, c_int> {
        let bytes = copy_user(ptr, len, MAX_NAME)?;
        String::from_utf8(bytes).map_err(|_| -EINVAL)
    }

    fn instance(s: &Session, id: u32) -> Result<InstanceId, c_int> {
        if (id as usize) < s.store.instances.len() {
            Ok(InstanceId(id))
        } else {
            Err(-EINVAL)
        }
    }

    /// COMPILE.
    pub(super) fn compile(slot: &mut *mut c_void, a: &mut kabi::Compile) -> Result<(), c_int> {
        let s = session(slot)?;
        if a.size != core::mem::size_of::<kabi::Compile>() as u64
            || a.flags & !kabi::COMPILE_VALIDATE_ONLY != 0
            || a.reserved0 != 0
            || a.reserved.iter().any(|r| *r != 0)
        {
            return Err(-EINVAL);
        }
        start_outcome(&mut a.outcome)?;
        a.module = u32::MAX;
        let keep = a.flags & kabi::COMPILE_VALIDATE_ONLY == 0;
        if keep && s.modules.len() >= MAX_MODULES {
            return Err(-ENOSPC);
        }
        let bytes = copy_user(a.wasm, a.wasm_len, MAX_WASM_BYTES)?;
        match Module::from_vec(bytes) {
            Ok(m) => {
                if keep {
                    s.modules.try_reserve(1).map_err(|_| -ENOMEM)?;
                    a.module = s.modules.len() as u32;
                    s.modules.push(Arc::new(m));
                }
                Ok(())
            }
            Err(e) => error(&mut a.outcome, &e),
        }
    }

    /// INSTANTIATE.
    pub(super) fn instantiate(slot: &mut *mut c_void, a: &mut kabi::Instantiate) -> Result<(), c_int> {
        let s = session(slot)?;
        if a.size != core::mem::size_of::<kabi::Instantiate>() as u64 || a.reserved.iter().any(|r| *r != 0) {
            return Err(-EINVAL);
        }
        start_outcome(&mut a.outcome)?;
        let module = s.modules.get(a.module as usize).cloned().ok_or(-EINVAL)?;
        a.instance = u32::MAX;
        let before = s.store.instances.len() as u64;
        let res = s.linker.instantiate(&mut s.store, module);
        // A failed instantiation may still have added its instance to the store (a trap in a
        // segment or the start function): count whatever the store now holds.
        let created = s.store.instances.len() as u64 - before;
        s.instances += created;
        INSTANCES_TOTAL.fetch_add(created, Ordering::Relaxed);
        INSTANCES_LIVE.fetch_add(created, Ordering::Relaxed);
        s.stats.instances(created);
        if let Err(Error::Trap(t)) = &res {
            s.stats.instantiate_trap(&t.kind);
        }
        match res {
            Ok(id) => {
                a.instance = id.0;
                Ok(())
            }
            Err(e) => error(&mut a.outcome, &e),
        }
    }

    /// REGISTER.
    pub(super) fn register(slot: &mut *mut c_void, a: &kabi::Register) -> Result<(), c_int> {
        let s = session(slot)?;
        if a.size != core::mem::size_of::<kabi::Register>() as u64
            || a.reserved0 != 0
            || a.reserved.iter().any(|r| *r != 0)
        {
            return Err(-EINVAL);
        }
        let id = instance(s, a.instance)?;
        let name = name(a.name, a.name_len)?;
        s.linker.define_instance(&s.store, &name, id);
        Ok(())
    }

    /// INVOKE.
    pub(super) fn invoke(slot: &mut *mut c_void, a: &mut kabi::Invoke) -> Result<(), c_int> {
        let s = session(slot)?;
        if a.size != core::mem::size_of::<kabi::Invoke>() as u64
            || a.reserved.iter().any(|r| *r != 0)
            || a.nargs > MAX_VALS
            || a.results_cap > MAX_VALS
        {
            return Err(-EINVAL);
        }
        start_outcome(&mut a.outcome)?;
        a.nresults = 0;
        a.fuel_used = 0;
        let id = instance(s, a.instance)?;
        let name = name(a.name, a.name_len)?;
        let Some(Extern::Func(f)) = s.store.export(id, &name) else { return Err(-ENOENT) };
        let vsize = core::mem::size_of::<kabi::Val>() as u64;
        let raw = copy_user(a.args, u64::from(a.nargs) * vsize, u64::from(MAX_VALS) * vsize)?;
        let mut args: Vec<Val> = Vec::new();
        args.try_reserve_exact(a.nargs as usize).map_err(|_| -ENOMEM)?;
        for chunk in raw.chunks_exact(vsize as usize) {
            // SAFETY: `chunk` holds `size_of::<kabi::Val>()` initialized bytes (plain integers);
            // unaligned read.
            let v = unsafe { chunk.as_ptr().cast::<kabi::Val>().read_unaligned() };
            args.push(kabi::val_from_abi(&v).ok_or(-EINVAL)?);
        }
        let ty = s.store.funcs[f as usize].ty.clone();
        if ty.results.len() > a.results_cap as usize {
            return Err(-E2BIG);
        }
        let fuel_before = s.store.fuel_used;
        // SAFETY: plain call.
        let t0 = unsafe { kwasm_clock_ns(0) };
        let res = s.store.call(f, &args);
        // SAFETY: plain call.
        let ns = unsafe { kwasm_clock_ns(0) }.saturating_sub(t0);
        a.fuel_used = s.store.fuel_used.saturating_sub(fuel_before);
        s.stats.call(&s.store, true, ns, a.fuel_used, res.as_ref().err().map(|t| &t.kind));
        match res {
            Ok(vals) => {
                let mut out: Vec<u8> = Vec::new();
                out.try_reserve_exact(vals.len() * vsize as usize).map_err(|_| -ENOMEM)?;
                for v in &vals {
                    // Field by field, in `struct kwasm_val`'s order (no padding).
                    let e = kabi::val_to_abi(v);
                    out.extend_from_slice(&e.ty.to_ne_bytes());
                    out.extend_from_slice(&e.flags.to_ne_bytes());
                    out.extend_from_slice(&e.lo.to_ne_bytes());
                    out.extend_from_slice(&e.hi.to_ne_bytes());
                }
                copy_out_user(a.results, &out)?;
                a.nresults = vals.len() as u32;
                Ok(())
            }
            Err(t) => trap(&mut a.outcome, &t),
        }
    }

    /// GET.
    pub(super) fn get(slot: &mut *mut c_void, a: &mut kabi::Get) -> Result<(), c_int> {
        let s = session(slot)?;
        if a.size != core::mem::size_of::<kabi::Get>() as u64 || a.reserved.iter().any(|r| *r != 0) {
            return Err(-EINVAL);
        }
        let id = instance(s, a.instance)?;
        let v = match a.what {
            kabi::GET_GLOBAL => {
                let name = name(a.name, a.name_len)?;
                match s.store.export(id, &name) {
                    Some(Extern::Global(g)) => s.store.global_value(g),
                    _ => return Err(-ENOENT),
                }
            }
            kabi::GET_FUNC => {
                let funcs = &s.store.instance(id).funcs;
                let addr = usize::try_from(a.index).ok().and_then(|i| funcs.get(i)).ok_or(-ENOENT)?;
                Val::FuncRef(Some(*addr))
            }
            _ => return Err(-EINVAL),
        };
        a.value = kabi::val_to_abi(&v);
        Ok(())
    }
}

use session::Session;
