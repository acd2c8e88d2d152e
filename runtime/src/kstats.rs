//! The kernel module's statistics: names and meanings of the counters in
//! `/sys/kernel/kwasm/stats/` (global) and `/sys/kernel/kwasm/instances/<id>/` (per store).
//!
//! Defined once here, like the knob table: kmod/rt counts into arrays laid out in this order and
//! exports the names to the C glue (which creates one sysfs file per name), and `cargo xtask kmod`
//! generates `kmod/sysfs-kernel-kwasm` from the same lists.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::knobs::TIER_NAMES;

/// Global counters before the per-tier and per-trap ones: (name, meaning).
const FIXED: &[(&str, &str)] = &[
    ("runs", "RUN ioctls that started a program's _start."),
    ("invokes", "INVOKE ioctls that called an export in a session."),
    ("exits", "Programs that ended by WASI proc_exit or by returning from _start."),
    ("fuel_used", "Fuel units consumed by all wasm code run in the kernel."),
];

/// Trap kinds counted, by their `trap_kind` ABI number (`kabi::trap_number`): (number, name).
pub const TRAP_KINDS: &[(u32, &str)] = &[
    (1, "unreachable"),
    (2, "memory_out_of_bounds"),
    (3, "table_out_of_bounds"),
    (4, "integer_divide_by_zero"),
    (5, "integer_overflow"),
    (6, "invalid_conversion_to_integer"),
    (7, "undefined_element"),
    (8, "indirect_call_to_null"),
    (9, "indirect_call_type_mismatch"),
    (10, "call_stack_exhausted"),
    (11, "out_of_fuel"),
    (12, "interrupted"),
    (13, "host"),
];

/// Number of global counters.
pub const GLOBAL_COUNT: usize = FIXED.len() + TIER_NAMES.len() + TRAP_KINDS.len();

/// Index of `runs`.
pub const RUNS: usize = 0;
/// Index of `invokes`.
pub const INVOKES: usize = 1;
/// Index of `exits`.
pub const EXITS: usize = 2;
/// Index of `fuel_used`.
pub const FUEL_USED: usize = 3;

/// Index of `time_ns_<tier>` for tier number `tier` (the `tier` knob's value).
pub fn time_ns(tier: u64) -> Option<usize> {
    (tier < TIER_NAMES.len() as u64).then(|| FIXED.len() + tier as usize)
}

/// Index of `trap_<kind>` for a `trap_kind` ABI number.
pub fn trap(number: u32) -> Option<usize> {
    TRAP_KINDS.iter().position(|(n, _)| *n == number).map(|i| FIXED.len() + TIER_NAMES.len() + i)
}

/// Every global counter in index order: (sysfs name, meaning).
pub fn global() -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = FIXED.iter().map(|(n, m)| (String::from(*n), String::from(*m))).collect();
    for t in TIER_NAMES {
        v.push((
            format!("time_ns_{t}"),
            format!("Nanoseconds of wasm execution (RUN and INVOKE calls) in the {t} tier."),
        ));
    }
    for (n, name) in TRAP_KINDS {
        v.push((
            format!("trap_{name}"),
            format!("Calls that ended in a trap of kind {n} (trap_kind in the ioctl ABI) since load."),
        ));
    }
    v
}

/// Per-store counters (`/sys/kernel/kwasm/instances/<id>/`), in index order: (name, meaning).
pub const INSTANCE: &[(&str, &str)] = &[
    ("pid", "Process (thread group) id of the task that made the LOAD or SESSION ioctl."),
    ("session", "1 for a session (ABI 2), 0 for a LOAD'ed program."),
    ("instances", "WebAssembly instances in the store (a program: 1; a session: every INSTANTIATE that created one)."),
    ("calls", "RUN/INVOKE calls made into the store."),
    ("fuel_used", "Fuel units its wasm code has consumed."),
    ("run_ns", "Nanoseconds spent running its wasm code (RUN and INVOKE calls)."),
    ("traps", "Calls (and instantiations) that ended in a trap."),
    ("memory_bytes", "Bytes of linear memory of its instances, as of the end of the last ioctl."),
];

/// Index of a per-store counter by name (panics on a name not in [`INSTANCE`]: a programming error).
pub const fn instance(name: &str) -> usize {
    let mut i = 0;
    while i < INSTANCE.len() {
        if str_eq(INSTANCE[i].0, name) {
            return i;
        }
        i += 1;
    }
    panic!("no such per-instance statistic");
}

const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_trap_number_has_a_counter() {
        for n in 1..=13 {
            assert!(crate::kabi::trap_from_number(n).is_some());
            assert!(trap(n).is_some(), "trap number {n}");
        }
        assert!(crate::kabi::trap_from_number(14).is_none());
        assert_eq!(trap(0), None);
        assert_eq!(global().len(), GLOBAL_COUNT);
    }

    #[test]
    fn names_are_unique_and_sysfs_safe() {
        let g = global();
        let names: Vec<&str> = g.iter().map(|(n, _)| n.as_str()).chain(INSTANCE.iter().map(|(n, _)| *n)).collect();
        for n in &names {
            assert!(
                n.len() < 64 && n.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{n}"
            );
        }
        let mut global_names: Vec<&str> = g.iter().map(|(n, _)| n.as_str()).collect();
        global_names.sort();
        global_names.dedup();
        assert_eq!(global_names.len(), GLOBAL_COUNT);
        assert_eq!(time_ns(0), Some(4));
        assert_eq!(g[time_ns(0).unwrap()].0, "time_ns_interp");
        assert_eq!(g[trap(11).unwrap()].0, "trap_out_of_fuel");
        assert_eq!(INSTANCE[instance("traps")].0, "traps");
    }
}
