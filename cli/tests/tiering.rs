//! Mixed-tier execution and the tier manager (`kwasm_runtime::tiering`): promotion really
//! happens (timeline, slot code), calls cross tiers both ways, and traps, interrupts and fuel
//! deep in a mixed stack behave as in single-tier runs.

use std::sync::Arc;

use kwasm_cli::platform::StdPlatform;
use kwasm_runtime::knobs::Knob;
use kwasm_runtime::tier::TierId;
use kwasm_runtime::tiering::{self, EventKind, Managed, TierSet};
use kwasm_runtime::{Extern, FuncAddr, InstanceId, Knobs, Linker, Module, Store, Trap, TrapKind, Val};

fn all_tiers() -> TierSet {
    [
        Some(Arc::new(kwasm_interp::Interpreter::new())),
        Some(Arc::new(kwasm_baseline::BaselineTier)),
        Some(Arc::new(kwasm_optimizing::OptimizingTier::new())),
    ]
}

/// A store on the tier manager (attached) with `knobs` plus `tier_up=1`, and `wat` instantiated.
fn managed_store(knobs: &[&str], wat: &str) -> (Store, InstanceId) {
    let mut k = Knobs::default();
    k.set(Knob::TierUp, 1).unwrap();
    for a in knobs {
        k.set_text(a).unwrap();
    }
    let managed = Arc::new(Managed::new(all_tiers(), &k));
    let mut store = Store::new(managed.clone(), k, Box::new(StdPlatform::new()));
    managed.attach(&mut store);
    let module = Arc::new(Module::new(&wat::parse_str(wat).unwrap()).unwrap());
    let inst = Linker::new().instantiate(&mut store, module).unwrap();
    (store, inst)
}

fn func(store: &Store, inst: InstanceId, name: &str) -> FuncAddr {
    match store.export(inst, name) {
        Some(Extern::Func(f)) => f,
        other => panic!("no function export {name}: {other:?}"),
    }
}

const HOT: &str = r#"(module
    (func $sq (export "sq") (param i32) (result i32) (i32.mul (local.get 0) (local.get 0)))
    (func (export "sum") (param $n i32) (result i32) (local $i i32) (local $acc i32)
        (block $done (loop $next
            (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
            (local.set $acc (i32.add (local.get $acc) (call $sq (local.get $i))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $next)))
        (local.get $acc)))"#;

fn sum_of_squares(n: i32) -> i32 {
    (0..n).fold(0i32, |acc, i| acc.wrapping_add(i.wrapping_mul(i)))
}

#[test]
fn a_hot_function_is_promoted_to_baseline_then_optimizing() {
    // Short slices: baseline code counts, the runtime promotes at slice ends.
    let (mut s, inst) = managed_store(&["baseline_threshold=10", "optimizing_threshold=50", "fuel_slice=100"], HOT);
    let (sum, sq) = (func(&s, inst, "sum"), func(&s, inst, "sq"));
    assert_eq!(s.call(sum, &[Val::I32(5)]).unwrap(), vec![Val::I32(sum_of_squares(5))]);
    assert_eq!(s.tiering.tier_of(sq), Some(TierId::Interp));
    assert!(s.tiering.events.is_empty(), "{:?}", s.tiering.events);

    assert_eq!(s.call(sum, &[Val::I32(20)]).unwrap(), vec![Val::I32(sum_of_squares(20))]);
    assert_eq!(s.tiering.tier_of(sq), Some(TierId::Baseline));
    let baseline_code = s.vm.slots[sq as usize].code;
    assert!(!baseline_code.is_null());

    assert_eq!(s.call(sum, &[Val::I32(100)]).unwrap(), vec![Val::I32(sum_of_squares(100))]);
    assert_eq!(s.tiering.tier_of(sq), Some(TierId::Optimizing), "{:?}", s.tiering.events);
    let optimizing_code = s.vm.slots[sq as usize].code;
    assert!(!optimizing_code.is_null() && optimizing_code != baseline_code, "the slot was patched");

    let ev: Vec<_> = s.tiering.events.iter().filter(|e| e.func == sq).collect();
    assert_eq!(ev.len(), 2, "{ev:?}");
    assert_eq!((ev[0].from, ev[0].to, ev[0].kind.clone()), (TierId::Interp, TierId::Baseline, EventKind::Promoted));
    assert_eq!((ev[1].from, ev[1].to), (TierId::Baseline, TierId::Optimizing));
    assert!(ev[0].hotness >= 10 && ev[1].hotness >= 50 && ev[0].ordinal < ev[1].ordinal);
    assert!(s.tiering.promotions[TierId::Optimizing as usize] >= 1);
    assert!(
        tiering::summary(&s.tiering).starts_with("promotions: baseline 2, optimizing"),
        "{}",
        tiering::summary(&s.tiering)
    );
}

#[test]
fn loop_iterations_promote_at_the_end_of_a_fuel_slice() {
    // `sum` is called once, but its loop runs 5000 times: promoted mid-run (the running frame
    // finishes in the interpreter), so the next call runs compiled code.
    let (mut s, inst) =
        managed_store(&["baseline_threshold=1000", "optimizing_threshold=100000000", "fuel_slice=2000"], HOT);
    let sum = func(&s, inst, "sum");
    assert_eq!(s.call(sum, &[Val::I32(5000)]).unwrap(), vec![Val::I32(sum_of_squares(5000))]);
    assert_eq!(
        s.tiering.tier_of(sum),
        Some(TierId::Baseline),
        "hotness {} fuel {} {:?}",
        s.vm.slots[sum as usize].hotness,
        s.fuel_used,
        s.tiering.events
    );
    assert_eq!(s.call(sum, &[Val::I32(7)]).unwrap(), vec![Val::I32(sum_of_squares(7))]);
}

/// f0 → f1 → f2 → f3 → f4: each calls the next with its argument plus one; f4 divides by its
/// argument minus 4 (traps when the chain started at 0) or spins forever when asked to.
const CHAIN: &str = r#"(module
    (func $f0 (export "f0") (param i32) (result i32) (call $f1 (i32.add (local.get 0) (i32.const 1))))
    (func $f1 (param i32) (result i32) (call $f2 (i32.add (local.get 0) (i32.const 1))))
    (func $f2 (param i32) (result i32) (call $f3 (i32.add (local.get 0) (i32.const 1))))
    (func $f3 (param i32) (result i32) (call $f4 (i32.add (local.get 0) (i32.const 1))))
    (func $f4 (param i32) (result i32)
        (if (i32.eq (local.get 0) (i32.const 100)) (then (loop $spin (br $spin))))
        (i32.div_u (i32.const 1000) (i32.sub (local.get 0) (i32.const 4)))))"#;

/// The chain with f0 interpreted, f1 baseline, f2 optimizing, f3 interpreted, f4 `last`.
fn mixed_chain(last: TierId, knobs: &[&str]) -> (Store, FuncAddr) {
    let mut k = vec!["baseline_threshold=1000000", "optimizing_threshold=1000000"];
    k.extend_from_slice(knobs);
    let (mut s, inst) = managed_store(&k, CHAIN);
    let f0 = func(&s, inst, "f0");
    let tiers = [TierId::Interp, TierId::Baseline, TierId::Optimizing, TierId::Interp, last];
    for (i, t) in tiers.iter().enumerate() {
        tiering::place(&mut s, f0 + i as FuncAddr, *t).unwrap();
    }
    (s, f0)
}

fn single_tier_trap(arg: i32) -> Trap {
    let mut s = Store::new(Arc::new(kwasm_interp::Interpreter::new()), Knobs::default(), Box::new(StdPlatform::new()));
    let module = Arc::new(Module::new(&wat::parse_str(CHAIN).unwrap()).unwrap());
    let inst = Linker::new().instantiate(&mut s, module).unwrap();
    let f0 = func(&s, inst, "f0");
    s.call(f0, &[Val::I32(arg)]).unwrap_err()
}

#[test]
fn a_trap_deep_in_a_mixed_stack_keeps_kind_function_and_offset() {
    let want = single_tier_trap(0);
    assert_eq!((want.kind.clone(), want.func), (TrapKind::IntegerDivideByZero, Some(4)));
    for last in [TierId::Interp, TierId::Baseline, TierId::Optimizing] {
        let (mut s, f0) = mixed_chain(last, &[]);
        assert_eq!(s.call(f0, &[Val::I32(1)]).unwrap(), vec![Val::I32(1000)], "{last:?}");
        let t = s.call(f0, &[Val::I32(0)]).unwrap_err();
        assert_eq!((t.kind.clone(), t.func, t.offset), (want.kind.clone(), want.func, want.offset), "{last:?}");
        // The store is usable after the trap.
        assert_eq!(s.call(f0, &[Val::I32(6)]).unwrap(), vec![Val::I32(1000 / 6)], "{last:?}");
    }
}

#[test]
fn another_thread_interrupts_a_loop_deep_in_a_mixed_stack() {
    for last in [TierId::Interp, TierId::Baseline, TierId::Optimizing] {
        let (mut s, f0) = mixed_chain(last, &["fuel_slice=10000"]);
        let shared = &*s.vm.shared as *const kwasm_runtime::vmctx::VmShared as usize;
        let t = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(100));
            // SAFETY: the store (and its boxed shared record) outlives this thread, which is
            // joined below, and `request_interrupt` only touches atomics.
            unsafe { (*(shared as *const kwasm_runtime::vmctx::VmShared)).request_interrupt() };
        });
        let trap = s.call(f0, &[Val::I32(96)]).unwrap_err();
        t.join().unwrap();
        assert_eq!(trap.kind, TrapKind::Interrupted, "{last:?}");
        assert_eq!(s.call(f0, &[Val::I32(6)]).unwrap(), vec![Val::I32(1000 / 6)], "{last:?}");
    }
}

#[test]
fn fuel_runs_out_deep_in_a_mixed_stack_and_is_charged_once() {
    for last in [TierId::Interp, TierId::Baseline, TierId::Optimizing] {
        let (mut s, f0) = mixed_chain(last, &["fuel=200000", "fuel_slice=1000"]);
        let trap = s.call(f0, &[Val::I32(96)]).unwrap_err();
        assert_eq!(trap.kind, TrapKind::OutOfFuel, "{last:?}");
        assert_eq!(trap.func, Some(4), "{last:?}");
        // Every slice of every tier was charged to the one budget, none twice (the last slice
        // may overshoot by the operators of its last fuel site, as in single-tier runs).
        assert!((200000..200000 + 100).contains(&s.fuel_used), "{last:?}: {}", s.fuel_used);
    }
}

#[test]
fn a_tier_that_cannot_compile_a_function_is_skipped_not_an_error() {
    // The baseline tier refuses guard-region addressing: functions go straight to optimizing.
    let (mut s, inst) = managed_store(&["bounds_mode=guard", "baseline_threshold=2", "optimizing_threshold=4"], HOT);
    let (sum, sq) = (func(&s, inst, "sum"), func(&s, inst, "sq"));
    assert_eq!(s.call(sum, &[Val::I32(30)]).unwrap(), vec![Val::I32(sum_of_squares(30))]);
    let ev: Vec<_> = s.tiering.events.iter().filter(|e| e.func == sq).collect();
    assert!(ev.iter().any(|e| e.to == TierId::Baseline && matches!(e.kind, EventKind::Refused(_))), "{ev:?}");
    assert_eq!(s.tiering.tier_of(sq), Some(TierId::Optimizing));
    assert!(s.tiering.refusals >= 1);
}

/// Runs two functions calling each other forever, `a` interpreted and `b` in each compiled tier,
/// on a thread with `thread_stack` bytes, with `knobs` and the store told it has
/// `native_stack` bytes; each run must trap "call stack exhausted" (not overflow the thread).
fn assert_mutual_recursion_is_bounded(knobs: &[&str], native_stack: Option<u64>, thread_stack: usize) {
    let wat = r#"(module
        (func $a (export "a") (param i64) (result i64) (i64.add (i64.const 1) (call $b (local.get 0))))
        (func $b (param i64) (result i64) (i64.add (i64.const 1) (call $a (local.get 0)))))"#;
    let knobs: Vec<&str> =
        knobs.iter().copied().chain(["baseline_threshold=1000000", "optimizing_threshold=1000000"]).collect();
    let run = || {
        for t in [TierId::Baseline, TierId::Optimizing] {
            let (mut s, inst) = managed_store(&knobs, wat);
            s.tiering.native_stack_bytes = native_stack;
            let a = func(&s, inst, "a");
            tiering::place(&mut s, a + 1, t).unwrap();
            let trap = s.call(a, &[Val::I64(0)]).unwrap_err();
            assert_eq!(trap.kind, TrapKind::CallStackExhausted, "{t:?}");
        }
    };
    std::thread::scope(|sc| {
        std::thread::Builder::new().stack_size(thread_stack).spawn_scoped(sc, run).unwrap().join().unwrap()
    });
}

#[test]
fn recursion_across_tiers_is_bounded_like_a_single_tier_run() {
    // Interpreter activations between compiled frames use native stack: a thread with room.
    assert_mutual_recursion_is_bounded(&["max_call_depth=500"], None, 256 << 20);
}

#[test]
fn a_declared_native_stack_bounds_mixed_recursion_below_max_call_depth() {
    // The default max_call_depth would allow ~320 MiB of mixed stack; this thread has 32 MiB.
    // Told so (as `kwasm run` does when the system refuses a big stack), the manager traps
    // "call stack exhausted" instead of overflowing the thread's stack.
    assert_mutual_recursion_is_bounded(&[], Some(8 << 20), 32 << 20);
}

#[test]
fn a_simd_function_skips_the_tier_that_cannot_compile_it() {
    // The baseline tier has no SIMD: a hot v128 function stays in the interpreter when the
    // baseline threshold is reached (the refusal is in the timeline) and goes straight to the
    // optimizing tier at its threshold.
    let wat = r#"(module
        (func $dot (param i32 i32) (result i32)
            (i32x4.extract_lane 0 (i32x4.mul (i32x4.splat (local.get 0)) (i32x4.splat (local.get 1)))))
        (func (export "f") (param i32) (result i32) (call $dot (local.get 0) (i32.const 7))))"#;
    let (mut s, inst) = managed_store(&["baseline_threshold=2", "optimizing_threshold=6"], wat);
    let f = func(&s, inst, "f");
    let dot = f - 1;
    for i in 0..4 {
        assert_eq!(s.call(f, &[Val::I32(i)]).unwrap(), vec![Val::I32(7 * i)]);
    }
    assert_eq!(s.tiering.tier_of(dot), Some(TierId::Interp), "{:?}", s.tiering.events);
    for i in 0..4 {
        assert_eq!(s.call(f, &[Val::I32(i)]).unwrap(), vec![Val::I32(7 * i)]);
    }
    assert_eq!(s.tiering.tier_of(dot), Some(TierId::Optimizing), "{:?}", s.tiering.events);
    let ev: Vec<_> = s.tiering.events.iter().filter(|e| e.func == dot).collect();
    assert_eq!(ev.len(), 2, "{ev:?}");
    assert!(matches!(ev[0].kind, EventKind::Refused(_)) && ev[0].to == TierId::Baseline, "{ev:?}");
    assert!(ev[1].kind == EventKind::Promoted && ev[1].from == TierId::Interp && ev[1].to == TierId::Optimizing);
}

#[test]
fn a_function_its_start_tier_refuses_falls_back() {
    // Pinned to baseline (tier=baseline, tier_up=0) under the tier manager: the v128 function
    // falls back to the highest tier that compiles it; the other stays in baseline.
    let wat = r#"(module
        (func $dot (param i32 i32) (result i32)
            (i32x4.extract_lane 0 (i32x4.mul (i32x4.splat (local.get 0)) (i32x4.splat (local.get 1)))))
        (func (export "f") (param i32) (result i32) (call $dot (local.get 0) (i32.const 7))))"#;
    // Seed 2 starts function 0 (`dot`) in baseline.
    let (mut s, inst) = managed_store(&["tier=baseline", "tier_up=0", "tier_mix_seed=2"], wat);
    let f = func(&s, inst, "f");
    assert_eq!(s.call(f, &[Val::I32(6)]).unwrap(), vec![Val::I32(42)]);
    let dot = f - 1;
    let ev: Vec<_> = s.tiering.events.iter().filter(|e| e.func == dot).collect();
    assert_eq!(s.tiering.tier_of(dot), Some(TierId::Optimizing), "{ev:?}");
    assert_eq!(ev.len(), 2, "{ev:?}");
    assert!(matches!(ev[0].kind, EventKind::Refused(_)) && ev[0].to == TierId::Baseline, "{ev:?}");
    assert!(ev[1].kind == EventKind::FellBack && ev[1].to == TierId::Optimizing, "{ev:?}");
}
