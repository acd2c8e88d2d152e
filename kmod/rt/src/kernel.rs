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
    fn kwasm_kfree(ptr: *mut u8);
}

struct KernelAlloc;

static HEAP_BYTES: AtomicUsize = AtomicUsize::new(0);
static HEAP_PEAK: AtomicUsize = AtomicUsize::new(0);
static HEAP_FAILURES: AtomicU64 = AtomicU64::new(0);

impl KernelAlloc {
    fn account(&self, p: *mut u8, size: usize) -> *mut u8 {
        if p.is_null() {
            HEAP_FAILURES.fetch_add(1, Ordering::Relaxed);
        } else {
            let now = HEAP_BYTES.fetch_add(size, Ordering::Relaxed) + size;
            HEAP_PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
}

// SAFETY: kvmalloc returns blocks that are disjoint, at least `size` bytes, and aligned as
// `kwasm_kalloc` documents for `align` (it returns null when it cannot honour the alignment).
unsafe impl GlobalAlloc for KernelAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: plain allocation call; the size is non-zero (GlobalAlloc contract).
        let p = unsafe { kwasm_kalloc(layout.size(), layout.align(), 0) };
        self.account(p, layout.size())
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as in `alloc`, with __GFP_ZERO.
        let p = unsafe { kwasm_kalloc(layout.size(), layout.align(), 1) };
        self.account(p, layout.size())
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        HEAP_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` came from `kwasm_kalloc` (GlobalAlloc contract).
        unsafe { kwasm_kfree(ptr) }
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

/// Handles ioctl `cmd` whose argument struct (already copied from user space when the command
/// reads one) is `buf[..len]`; results are written back into `buf` (copied out by the caller when
/// the command writes one). Returns a non-negative value or a negative errno.
///
/// # Safety
/// `buf` must be valid for reads and writes of `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn kwasm_rt_ioctl(cmd: u32, buf: *mut u8, len: usize) -> c_long {
    use kwasm_runtime::kabi;
    match cmd {
        kabi::IOC_VERSION => {
            let v = kabi::Version { abi_version: kabi::ABI_VERSION, knob_count: KNOBS.len() as u32, features: 0 };
            if len != core::mem::size_of::<kabi::Version>() {
                return -(EINVAL as c_long);
            }
            // SAFETY: `buf` is valid for `len` bytes (caller contract), exactly the struct's
            // size; `write_unaligned` needs no alignment.
            unsafe { buf.cast::<kabi::Version>().write_unaligned(v) };
            0
        }
        _ => -ENOTTY,
    }
}
