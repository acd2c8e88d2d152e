//! Statistics for `/sys/kernel/kwasm/stats/` and `/sys/kernel/kwasm/instances/<id>/` (names and
//! order: `kwasm_runtime::kstats`). Counters are atomics, so the glue reads them from sysfs while
//! a run is going on without taking any lock: a global array here, and one [`InstanceStats`] per
//! store (a LOAD'ed program or a session), shared with the glue by reference count.

use alloc::sync::Arc;
use core::ffi::{c_char, c_long};
use core::sync::atomic::{AtomicU64, Ordering};

use kwasm_runtime::kstats::{self, GLOBAL_COUNT, INSTANCE};
use kwasm_runtime::{Store, TrapKind};

/// The global counters, in `kstats::global()` order.
static GLOBAL: [AtomicU64; GLOBAL_COUNT] = [const { AtomicU64::new(0) }; GLOBAL_COUNT];

fn add(i: usize, n: u64) {
    GLOBAL[i].fetch_add(n, Ordering::Relaxed);
}

/// One store's counters, in `kstats::INSTANCE` order.
#[repr(C)]
pub struct InstanceStats {
    vals: [AtomicU64; INSTANCE.len()],
}

const PID: usize = kstats::instance("pid");
const SESSION: usize = kstats::instance("session");
const INSTANCES: usize = kstats::instance("instances");
const CALLS: usize = kstats::instance("calls");
const FUEL: usize = kstats::instance("fuel_used");
const RUN_NS: usize = kstats::instance("run_ns");
const TRAPS: usize = kstats::instance("traps");
const MEMORY: usize = kstats::instance("memory_bytes");

impl InstanceStats {
    /// Counters for a new store (`session`: made by SESSION rather than LOAD).
    pub fn new(session: bool) -> Arc<InstanceStats> {
        let s = Arc::new(InstanceStats { vals: [const { AtomicU64::new(0) }; INSTANCE.len()] });
        s.vals[SESSION].store(u64::from(session), Ordering::Relaxed);
        // PID is written by the glue, which knows the calling task.
        let _ = PID;
        s
    }

    fn add(&self, i: usize, n: u64) {
        self.vals[i].fetch_add(n, Ordering::Relaxed);
    }

    /// `n` new wasm instances in the store.
    pub fn instances(&self, n: u64) {
        self.add(INSTANCES, n);
    }

    /// A trap during instantiation (a start function or segment).
    pub fn instantiate_trap(&self, kind: &TrapKind) {
        self.add(TRAPS, 1);
        trap(kind);
    }

    /// A finished RUN (`invoke` false) or INVOKE call: time, fuel, outcome.
    pub fn call(&self, store: &Store, invoke: bool, ns: u64, fuel: u64, outcome: Option<&TrapKind>) {
        add(if invoke { kstats::INVOKES } else { kstats::RUNS }, 1);
        add(kstats::FUEL_USED, fuel);
        if let Some(i) = kstats::time_ns(store.knobs.get(kwasm_runtime::knobs::Knob::Tier)) {
            add(i, ns);
        }
        self.add(CALLS, 1);
        self.add(FUEL, fuel);
        self.add(RUN_NS, ns);
        match outcome {
            // Returning from _start ends a program like proc_exit(0); an export just returns.
            None if invoke => {}
            None | Some(TrapKind::Exit(_)) => add(kstats::EXITS, 1),
            Some(k) => {
                self.add(TRAPS, 1);
                trap(k);
            }
        }
    }

    /// Records the store's linear memory size (after every ioctl on it).
    pub fn memory(&self, store: &Store) {
        let bytes: usize = store.memories.iter().map(|m| m.data.len()).sum();
        self.vals[MEMORY].store(bytes as u64, Ordering::Relaxed);
    }
}

fn trap(kind: &TrapKind) {
    if let Some(i) = kstats::trap(kwasm_runtime::kabi::trap_number(kind)) {
        add(i, 1);
    }
}

/// Number of global counters.
#[no_mangle]
pub extern "C" fn kwasm_rt_stat_count() -> u32 {
    GLOBAL_COUNT as u32
}

/// Global counter `i`'s name, NUL-terminated, into `buf`; its length, `-EINVAL` or `-ENOSPC`.
///
/// # Safety
/// `buf` must be valid for writes of `cap` bytes.
#[no_mangle]
pub unsafe extern "C" fn kwasm_rt_stat_name(i: u32, buf: *mut c_char, cap: usize) -> c_long {
    let names = kstats::global();
    let Some((name, _)) = names.get(i as usize) else { return -(super::EINVAL as c_long) };
    // SAFETY: forwarded caller contract.
    unsafe { super::copy_out(name.as_bytes(), buf, cap, true) }
}

/// The global counters: `kwasm_rt_stat_count()` 64-bit values, valid for the module's lifetime,
/// to be read with single 64-bit loads.
#[no_mangle]
pub extern "C" fn kwasm_rt_stat_values() -> *const u64 {
    GLOBAL.as_ptr().cast::<u64>()
}

/// Number of per-store counters.
#[no_mangle]
pub extern "C" fn kwasm_rt_instance_stat_count() -> u32 {
    INSTANCE.len() as u32
}

/// Per-store counter `i`'s name, NUL-terminated, into `buf`.
///
/// # Safety
/// `buf` must be valid for writes of `cap` bytes.
#[no_mangle]
pub unsafe extern "C" fn kwasm_rt_instance_stat_name(i: u32, buf: *mut c_char, cap: usize) -> c_long {
    let Some((name, _)) = INSTANCE.get(i as usize) else { return -(super::EINVAL as c_long) };
    // SAFETY: forwarded caller contract.
    unsafe { super::copy_out(name.as_bytes(), buf, cap, true) }
}

/// A reference to the counters of the store in a file's slot (NULL for an empty slot): an array
/// of `kwasm_rt_instance_stat_count()` 64-bit values that stays valid, also after the store is
/// freed, until `kwasm_rt_instance_stats_put`.
///
/// # Safety
/// `inst` must be NULL or a slot value made by this runtime, not used concurrently.
#[no_mangle]
pub unsafe extern "C" fn kwasm_rt_instance_stats_get(inst: *mut core::ffi::c_void) -> *const u64 {
    // SAFETY: forwarded caller contract.
    match unsafe { super::state_stats(inst) } {
        Some(s) => Arc::into_raw(s).cast::<u64>(),
        None => core::ptr::null(),
    }
}

/// Drops a reference from `kwasm_rt_instance_stats_get` (NULL: nothing).
///
/// # Safety
/// `p` must come from `kwasm_rt_instance_stats_get` of this runtime and be dropped once.
#[no_mangle]
pub unsafe extern "C" fn kwasm_rt_instance_stats_put(p: *const u64) {
    if !p.is_null() {
        // SAFETY: `p` is `Arc::into_raw` of an `InstanceStats` whose first field is the array
        // (`vals` is its only field), returned exactly once.
        drop(unsafe { Arc::from_raw(p.cast::<InstanceStats>()) });
    }
}
