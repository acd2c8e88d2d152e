//! The interpreter's bounds: fuel, fuel slices with the platform's interruption check, call
//! depth and value-stack limits, and trap locations.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use kwasm_interp::Interpreter;
use kwasm_runtime::knobs::Knob;
use kwasm_runtime::platform::{Interruption, NullPlatform, Platform};
use kwasm_runtime::{Extern, Knobs, Linker, Module, Store, TrapKind, Val};

fn store_with(knobs: Knobs, platform: Box<dyn Platform>) -> Store {
    Store::new(Arc::new(Interpreter::new()), knobs, platform)
}

fn instantiate(store: &mut Store, wat: &str) -> kwasm_runtime::InstanceId {
    let bytes = wat::parse_str(wat).expect("test module parses");
    let module = Module::new(&bytes).expect("test module validates");
    Linker::new().instantiate(store, Arc::new(module)).expect("instantiates")
}

fn func(store: &Store, inst: kwasm_runtime::InstanceId, name: &str) -> u32 {
    match store.export(inst, name) {
        Some(Extern::Func(f)) => f,
        other => panic!("export {name}: {other:?}"),
    }
}

const SPIN: &str = r#"(module (func (export "spin") (loop (br 0))))"#;

#[test]
fn total_fuel_runs_out() {
    let mut knobs = Knobs::default();
    knobs.set(Knob::Fuel, 10_000).unwrap();
    knobs.set(Knob::FuelSlice, 1_000).unwrap();
    let mut store = store_with(knobs, Box::new(NullPlatform));
    let inst = instantiate(&mut store, SPIN);
    let f = func(&store, inst, "spin");
    let trap = store.call(f, &[]).unwrap_err();
    assert_eq!(trap.kind, TrapKind::OutOfFuel);
    assert!(store.fuel_used >= 10_000, "used {}", store.fuel_used);
    assert!(store.fuel_used < 10_000 + 1_000, "used {}", store.fuel_used);
}

/// A platform that lets `allowed` slices pass, then asks to stop.
struct StopAfter {
    checks: Arc<AtomicU32>,
    allowed: u32,
}

impl Platform for StopAfter {
    fn check_interrupt(&mut self) -> Interruption {
        let n = self.checks.fetch_add(1, Ordering::SeqCst) + 1;
        if n > self.allowed {
            Interruption::Stop
        } else {
            Interruption::Continue
        }
    }
}

#[test]
fn runaway_loop_returns_to_platform_between_slices_and_can_be_stopped() {
    let checks = Arc::new(AtomicU32::new(0));
    let mut knobs = Knobs::default();
    knobs.set(Knob::FuelSlice, 500).unwrap();
    let platform = StopAfter { checks: checks.clone(), allowed: 20 };
    let mut store = store_with(knobs, Box::new(platform));
    let inst = instantiate(&mut store, SPIN);
    let f = func(&store, inst, "spin");
    let trap = store.call(f, &[]).unwrap_err();
    assert_eq!(trap.kind, TrapKind::Interrupted);
    assert_eq!(checks.load(Ordering::SeqCst), 21);
    assert!(trap.func == Some(0) && trap.offset.is_some(), "{trap:?}");
}

#[test]
fn slices_do_not_change_results() {
    let wat = r#"(module (func (export "sum") (param i32) (result i64) (local i64)
        (block (loop
          (br_if 1 (i32.eqz (local.get 0)))
          (local.set 1 (i64.add (local.get 1) (i64.extend_i32_u (local.get 0))))
          (local.set 0 (i32.sub (local.get 0) (i32.const 1)))
          (br 0)))
        (local.get 1)))"#;
    for slice in [1u64, 7, 1000, 1 << 40] {
        let mut knobs = Knobs::default();
        knobs.set(Knob::FuelSlice, slice).unwrap();
        let mut store = store_with(knobs, Box::new(NullPlatform));
        let inst = instantiate(&mut store, wat);
        let f = func(&store, inst, "sum");
        assert_eq!(store.call(f, &[Val::I32(100_000)]).unwrap(), vec![Val::I64(5_000_050_000)], "slice {slice}");
    }
}

const RECURSE: &str = r#"(module
  (func $r (export "recurse") (param i32) (result i32)
    (if (result i32) (i32.eqz (local.get 0))
      (then (i32.const 0))
      (else (i32.add (i32.const 1) (call $r (i32.sub (local.get 0) (i32.const 1))))))))"#;

#[test]
fn call_depth_limit_traps_cleanly() {
    let mut knobs = Knobs::default();
    knobs.set(Knob::MaxCallDepth, 100).unwrap();
    let mut store = store_with(knobs, Box::new(NullPlatform));
    let inst = instantiate(&mut store, RECURSE);
    let f = func(&store, inst, "recurse");
    assert_eq!(store.call(f, &[Val::I32(90)]).unwrap(), vec![Val::I32(90)]);
    let trap = store.call(f, &[Val::I32(200)]).unwrap_err();
    assert_eq!(trap.kind, TrapKind::CallStackExhausted);
    // The store stays usable after the trap.
    assert_eq!(store.call(f, &[Val::I32(5)]).unwrap(), vec![Val::I32(5)]);
}

#[test]
fn value_stack_limit_traps_cleanly() {
    let mut knobs = Knobs::default();
    knobs.set(Knob::MaxValueStack, 4096).unwrap();
    let mut store = store_with(knobs, Box::new(NullPlatform));
    let inst = instantiate(&mut store, RECURSE);
    let f = func(&store, inst, "recurse");
    let trap = store.call(f, &[Val::I32(100_000)]).unwrap_err();
    assert_eq!(trap.kind, TrapKind::CallStackExhausted);
}

#[test]
fn deep_recursion_does_not_use_the_native_stack() {
    // 200k wasm frames would overflow any native stack if the interpreter recursed natively.
    let mut knobs = Knobs::default();
    knobs.set(Knob::MaxCallDepth, 300_000).unwrap();
    knobs.set(Knob::MaxValueStack, 1 << 24).unwrap();
    let mut store = store_with(knobs, Box::new(NullPlatform));
    let inst = instantiate(&mut store, RECURSE);
    let f = func(&store, inst, "recurse");
    assert_eq!(store.call(f, &[Val::I32(200_000)]).unwrap(), vec![Val::I32(200_000)]);
}

#[test]
fn trap_reports_function_and_offset() {
    let wat = r#"(module
      (func $a (export "a") (call $b))
      (func $b (i32.const 1) (drop) (unreachable)))"#;
    let bytes = wat::parse_str(wat).unwrap();
    let mut store = store_with(Knobs::default(), Box::new(NullPlatform));
    let module = Module::new(&bytes).unwrap();
    let inst = Linker::new().instantiate(&mut store, Arc::new(module)).unwrap();
    let f = func(&store, inst, "a");
    let trap = store.call(f, &[]).unwrap_err();
    assert_eq!(trap.kind, TrapKind::Unreachable);
    assert_eq!(trap.func, Some(1));
    let off = trap.offset.unwrap() as usize;
    assert_eq!(bytes[off], 0x00, "offset 0x{off:x} must point at the unreachable opcode");
}

#[test]
fn memory_trap_and_division_traps_carry_kinds() {
    let wat = r#"(module (memory 1)
      (func (export "load") (param i32) (result i32) (i32.load (local.get 0)))
      (func (export "div") (param i32 i32) (result i32) (i32.div_s (local.get 0) (local.get 1))))"#;
    let mut store = store_with(Knobs::default(), Box::new(NullPlatform));
    let inst = instantiate(&mut store, wat);
    let load = func(&store, inst, "load");
    let div = func(&store, inst, "div");
    assert_eq!(store.call(load, &[Val::I32(65532)]).unwrap(), vec![Val::I32(0)]);
    assert_eq!(store.call(load, &[Val::I32(65533)]).unwrap_err().kind, TrapKind::MemoryOutOfBounds);
    assert_eq!(store.call(div, &[Val::I32(1), Val::I32(0)]).unwrap_err().kind, TrapKind::IntegerDivideByZero);
    assert_eq!(store.call(div, &[Val::I32(i32::MIN), Val::I32(-1)]).unwrap_err().kind, TrapKind::IntegerOverflow);
}
