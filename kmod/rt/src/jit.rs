//! Running the test module with a JIT tier: [`kwasm_rt_selftest_tier`], and [`HostExecPlatform`],
//! which gets executable memory from the host through `kwasm_rt_exec_*` (the C test host: mmap,
//! then mprotect to read + execute; the kernel glue: its own W^X allocator).

use alloc::boxed::Box;
use alloc::sync::Arc;

use kwasm_runtime::platform::{Errno, ExecRegion, Platform};
use kwasm_runtime::tier::Tier;
use kwasm_runtime::wasi::errno::{ACCES, NOMEM};

use crate::{run_test_module, set_last_error, KWASM_RT_ENOTIER, KWASM_RT_OK};

/// Tier number of the interpreter for [`kwasm_rt_selftest_tier`].
pub const KWASM_RT_TIER_INTERP: u32 = 0;
/// Tier number of the baseline (singlepass, dynasm) tier.
pub const KWASM_RT_TIER_BASELINE: u32 = 1;
/// Tier number of the optimizing (Cranelift) tier.
pub const KWASM_RT_TIER_OPTIMIZING: u32 = 2;

extern "C" {
    /// Provided by the host: `len` bytes (a multiple of the page size) of read + write memory,
    /// page aligned, or null.
    fn kwasm_rt_exec_alloc(len: usize) -> *mut u8;
    /// Provided by the host: makes `ptr..ptr + len` (from `kwasm_rt_exec_alloc`) read + execute
    /// and no longer writable; returns 0 or a negative errno.
    fn kwasm_rt_exec_protect(ptr: *mut u8, len: usize) -> i32;
    /// Provided by the host: releases memory from `kwasm_rt_exec_alloc`.
    fn kwasm_rt_exec_free(ptr: *mut u8, len: usize);
}

const PAGE: usize = 4096;

/// A [`Platform`] with nothing but executable memory, from the host.
#[derive(Debug, Default, Clone, Copy)]
pub struct HostExecPlatform;

/// The [`ExecRegion::release`] of [`HostExecPlatform`].
///
/// # Safety
/// `ptr..ptr + len` must come from `kwasm_rt_exec_alloc` and not be used afterwards.
unsafe fn release(ptr: *mut u8, len: usize) {
    // SAFETY: the caller passes an allocation of exactly this size that nothing uses any more.
    unsafe { kwasm_rt_exec_free(ptr, len) }
}

impl Platform for HostExecPlatform {
    fn alloc_exec(&self, len: usize) -> Result<ExecRegion, Errno> {
        let len = len.max(1).checked_next_multiple_of(PAGE).ok_or(NOMEM)?;
        // SAFETY: the host function has no preconditions; it returns fresh memory or null.
        let ptr = unsafe { kwasm_rt_exec_alloc(len) };
        if ptr.is_null() {
            return Err(NOMEM);
        }
        Ok(ExecRegion { ptr, len, executable: false, release })
    }

    fn protect_exec(&self, region: &mut ExecRegion) -> Result<(), Errno> {
        // SAFETY: the region came from `kwasm_rt_exec_alloc` with this length; the runtime holds
        // no Rust reference into it while the protection changes.
        if unsafe { kwasm_rt_exec_protect(region.ptr, region.len) } != 0 {
            return Err(ACCES);
        }
        region.executable = true;
        Ok(())
    }
}

/// The tier for a [`kwasm_rt_selftest_tier`] number, if it is built in.
fn tier(number: u32) -> Option<Arc<dyn Tier>> {
    match number {
        KWASM_RT_TIER_INTERP => Some(Arc::new(kwasm_interp::Interpreter::new())),
        #[cfg(feature = "baseline")]
        KWASM_RT_TIER_BASELINE => Some(Arc::new(kwasm_baseline::BaselineTier)),
        #[cfg(feature = "optimizing")]
        KWASM_RT_TIER_OPTIMIZING => Some(Arc::new(kwasm_optimizing::OptimizingTier::new())),
        _ => None,
    }
}

/// Like [`crate::kwasm_rt_selftest`], but compiles and runs the test module with tier `tier`
/// (`KWASM_RT_TIER_*`) over [`HostExecPlatform`]. Returns `KWASM_RT_ENOTIER` for a tier not
/// built into this library.
///
/// # Safety
///
/// `result` must be valid for a write of an `i64`. Calls must not overlap. Compiling with
/// Cranelift needs about 64 KiB of stack: call this on a stack with room for that.
#[no_mangle]
pub unsafe extern "C" fn kwasm_rt_selftest_tier(tier_number: u32, func: u32, arg: i64, result: *mut i64) -> i32 {
    let Some(tier) = tier(tier_number) else {
        set_last_error(format_args!("tier {tier_number} is not built into this library"));
        return KWASM_RT_ENOTIER;
    };
    match run_test_module(tier, Box::new(HostExecPlatform), func, arg) {
        Ok(value) => {
            // SAFETY: the caller guarantees that `result` is valid for writes.
            unsafe { result.write(value) };
            set_last_error(format_args!(""));
            KWASM_RT_OK
        }
        Err(code) => code,
    }
}
