//! The compiled tiers' bounds, one set of cases run on every JIT tier (baseline and optimizing):
//! fuel, interruption (platform and asynchronous), the native stack limit, host calls and their
//! traps, re-entry, and the knobs and platforms they refuse.

use std::sync::Arc;

use kwasm_cli::platform::StdPlatform;
use kwasm_runtime::knobs::Knob;
use kwasm_runtime::platform::{Errno, ExecRegion, Interruption, Platform};
use kwasm_runtime::types::FuncType;
use kwasm_runtime::{Error, Extern, Knobs, Linker, Module, Store, Tier, Trap, TrapKind, Val, ValType};

/// Makes the tier under test.
type MakeTier = fn() -> Arc<dyn Tier>;

fn baseline() -> Arc<dyn Tier> {
    Arc::new(kwasm_baseline::BaselineTier)
}

fn optimizing() -> Arc<dyn Tier> {
    Arc::new(kwasm_optimizing::OptimizingTier::new())
}

/// One `#[test]` per case and tier, named `<tier>::<case>`.
macro_rules! cases_for_each_jit_tier {
    ($($case:ident),* $(,)?) => {
        mod baseline {
            $( #[test] fn $case() { super::$case(super::baseline) } )*
        }
        mod optimizing {
            $( #[test] fn $case() { super::$case(super::optimizing) } )*
        }
    };
}

cases_for_each_jit_tier!(
    runaway_loop_runs_out_of_fuel,
    platform_stops_a_runaway_loop,
    another_thread_interrupts_a_runaway_loop,
    unbounded_recursion_traps_call_stack_exhausted,
    traps_carry_function_index_and_offset,
    host_calls_see_the_caller_and_their_traps_propagate,
    host_functions_can_reenter_compiled_code,
    guard_bounds_mode_without_platform_support_is_refused_clearly,
    a_platform_without_executable_memory_is_an_error,
);

/// Executable memory (the std platform's) and nothing else: no guard-region support, no
/// interruption, no WASI.
#[derive(Default)]
struct ExecOnly(StdPlatform);

impl Platform for ExecOnly {
    fn alloc_exec(&self, len: usize) -> Result<ExecRegion, Errno> {
        self.0.alloc_exec(len)
    }
    fn protect_exec(&self, region: &mut ExecRegion) -> Result<(), Errno> {
        self.0.protect_exec(region)
    }
}

fn store(tier: MakeTier, knobs: Knobs, platform: Box<dyn Platform>) -> Store {
    Store::new(tier(), knobs, platform)
}

fn instantiate(store: &mut Store, linker: &Linker, wat: &str) -> kwasm_runtime::InstanceId {
    let bytes = wat::parse_str(wat).expect("valid wat");
    let module = Arc::new(Module::new(&bytes).expect("valid module"));
    linker.instantiate(store, module).expect("instantiates")
}

fn func(store: &Store, inst: kwasm_runtime::InstanceId, name: &str) -> u32 {
    match store.export(inst, name) {
        Some(Extern::Func(f)) => f,
        other => panic!("no function {name}: {other:?}"),
    }
}

const SPIN: &str = r#"(module (func (export "spin") (loop $l (br $l))))"#;

fn runaway_loop_runs_out_of_fuel(tier: MakeTier) {
    let mut knobs = Knobs::default();
    knobs.set(Knob::Fuel, 5_000_000).unwrap();
    knobs.set(Knob::FuelSlice, 100_000).unwrap();
    let mut s = store(tier, knobs, Box::new(ExecOnly::default()));
    let inst = instantiate(&mut s, &Linker::new(), SPIN);
    let f = func(&s, inst, "spin");
    let t = s.call(f, &[]).unwrap_err();
    assert_eq!(t.kind, TrapKind::OutOfFuel);
    assert_eq!(s.fuel_left, 0);
    assert!(s.fuel_used >= 5_000_000, "fuel used {}", s.fuel_used);
}

/// Executable memory plus a `check_interrupt` that stops after a few slices.
struct StopAfter(u32, StdPlatform);

impl Platform for StopAfter {
    fn check_interrupt(&mut self) -> Interruption {
        self.0 = self.0.saturating_sub(1);
        if self.0 == 0 {
            Interruption::Stop
        } else {
            Interruption::Continue
        }
    }
    fn alloc_exec(&self, len: usize) -> Result<ExecRegion, Errno> {
        self.1.alloc_exec(len)
    }
    fn protect_exec(&self, region: &mut ExecRegion) -> Result<(), Errno> {
        self.1.protect_exec(region)
    }
}

fn platform_stops_a_runaway_loop(tier: MakeTier) {
    let mut knobs = Knobs::default();
    knobs.set(Knob::FuelSlice, 10_000).unwrap();
    let mut s = store(tier, knobs, Box::new(StopAfter(3, StdPlatform::new())));
    let inst = instantiate(&mut s, &Linker::new(), SPIN);
    let f = func(&s, inst, "spin");
    assert_eq!(s.call(f, &[]).unwrap_err().kind, TrapKind::Interrupted);
}

fn another_thread_interrupts_a_runaway_loop(tier: MakeTier) {
    let mut s = store(tier, Knobs::default(), Box::new(ExecOnly::default()));
    let inst = instantiate(&mut s, &Linker::new(), SPIN);
    let f = func(&s, inst, "spin");
    // The shared record is boxed, so its address is stable while the store lives.
    let shared = &*s.vm.shared as *const kwasm_runtime::vmctx::VmShared as usize;
    let t = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(100));
        // SAFETY: the store (and its boxed shared record) outlives this thread, which is joined
        // below, and `request_interrupt` only touches atomics.
        unsafe { (*(shared as *const kwasm_runtime::vmctx::VmShared)).request_interrupt() };
    });
    assert_eq!(s.call(f, &[]).unwrap_err().kind, TrapKind::Interrupted);
    t.join().unwrap();
}

fn unbounded_recursion_traps_call_stack_exhausted(tier: MakeTier) {
    let mut knobs = Knobs::default();
    knobs.set(Knob::MaxCallDepth, 1000).unwrap();
    let mut s = store(tier, knobs, Box::new(ExecOnly::default()));
    let wat = r#"(module (func $f (export "f") (param i64) (result i64)
        (i64.add (i64.const 1) (call $f (local.get 0)))))"#;
    let inst = instantiate(&mut s, &Linker::new(), wat);
    let f = func(&s, inst, "f");
    let t = s.call(f, &[Val::I64(0)]).unwrap_err();
    assert_eq!(t.kind, TrapKind::CallStackExhausted);
    assert_eq!(t.func, Some(0));
}

fn traps_carry_function_index_and_offset(tier: MakeTier) {
    let mut s = store(tier, Knobs::default(), Box::new(ExecOnly::default()));
    let wat = r#"(module (memory 1)
        (func $ok (result i32) (i32.const 0))
        (func (export "oob") (param i32) (result i32) (i32.load offset=4 (local.get 0))))"#;
    let inst = instantiate(&mut s, &Linker::new(), wat);
    let f = func(&s, inst, "oob");
    assert_eq!(s.call(f, &[Val::I32(65528)]).unwrap(), vec![Val::I32(0)]);
    let t = s.call(f, &[Val::I32(65529)]).unwrap_err();
    assert_eq!(t.kind, TrapKind::MemoryOutOfBounds);
    assert_eq!(t.func, Some(1));
    // The offset is the module offset of the `i32.load`: inside the code section, after `$ok`.
    let off = t.offset.expect("offset") as usize;
    let bytes = wat::parse_str(wat).unwrap();
    assert_eq!(bytes[off], 0x28, "offset {off:#x} is not an i32.load");
}

fn host_calls_see_the_caller_and_their_traps_propagate(tier: MakeTier) {
    let mut s = store(tier, Knobs::default(), Box::new(ExecOnly::default()));
    let mut linker = Linker::new();
    // `peek(addr)` reads the caller's memory; `fail()` traps with a message.
    let peek = s.host_func(
        FuncType::new([ValType::I32], [ValType::I32]),
        Arc::new(|caller, args, results| {
            let addr = args[0].i32().unwrap() as usize;
            let mem = caller.memory().ok_or_else(|| Trap::host("no memory"))?;
            results[0] = Val::I32(mem[addr] as i32);
            Ok(())
        }),
    );
    let fail = s.host_func(FuncType::new([], []), Arc::new(|_, _, _| Err(Trap::host("boom"))));
    linker.define("env", "peek", Extern::Func(peek));
    linker.define("env", "fail", Extern::Func(fail));
    let wat = r#"(module
        (import "env" "peek" (func $peek (param i32) (result i32)))
        (import "env" "fail" (func $fail))
        (memory (export "memory") 1)
        (data (i32.const 7) "\2a")
        (func (export "peek7") (result i32) (i32.add (call $peek (i32.const 7)) (i32.const 1)))
        (func (export "fail") (result i32) (call $fail) (i32.const 5)))"#;
    let inst = instantiate(&mut s, &linker, wat);
    assert_eq!(s.call(func(&s, inst, "peek7"), &[]).unwrap(), vec![Val::I32(43)]);
    let t = s.call(func(&s, inst, "fail"), &[]).unwrap_err();
    assert_eq!(t.kind, TrapKind::Host("boom".into()));
    assert_eq!(t.func, Some(3), "the trap is located at the calling wasm function");
    // The store is usable after a trap.
    assert_eq!(s.call(func(&s, inst, "peek7"), &[]).unwrap(), vec![Val::I32(43)]);
}

fn host_functions_can_reenter_compiled_code(tier: MakeTier) {
    let mut s = store(tier, Knobs::default(), Box::new(ExecOnly::default()));
    let mut linker = Linker::new();
    // `twice(f)` calls wasm function address `f` (a funcref) twice through the store.
    let twice = s.host_func(
        FuncType::new([ValType::FuncRef, ValType::I32], [ValType::I32]),
        Arc::new(|caller, args, results| {
            let Val::FuncRef(Some(f)) = args[0] else { return Err(Trap::host("null")) };
            let once = caller.store.call(f, &[args[1]])?;
            let again = caller.store.call(f, &once)?;
            results[0] = again[0];
            Ok(())
        }),
    );
    linker.define("env", "twice", Extern::Func(twice));
    let wat = r#"(module
        (import "env" "twice" (func $twice (param funcref i32) (result i32)))
        (func $inc (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
        (elem declare func $inc)
        (func (export "go") (param i32) (result i32)
          (i32.mul (call $twice (ref.func $inc) (local.get 0)) (i32.const 10))))"#;
    let inst = instantiate(&mut s, &linker, wat);
    assert_eq!(s.call(func(&s, inst, "go"), &[Val::I32(5)]).unwrap(), vec![Val::I32(70)]);
}

/// Guard-region addressing needs the platform's help (reservations, a fault handler); a platform
/// without it (like the kernel's) refuses memories in that mode with a clear error.
fn guard_bounds_mode_without_platform_support_is_refused_clearly(tier: MakeTier) {
    let mut knobs = Knobs::default();
    knobs.set_text("bounds_mode=guard").unwrap();
    let mut s = store(tier, knobs, Box::new(ExecOnly::default()));
    let module = Arc::new(Module::new(&wat::parse_str("(module (memory 1))").unwrap()).unwrap());
    let Err(e) = Linker::new().instantiate(&mut s, module) else { panic!("guard mode without platform support") };
    assert!(matches!(&e, Error::Unsupported(m) if m.contains("bounds_mode=guard")), "{e}");
}

fn a_platform_without_executable_memory_is_an_error(tier: MakeTier) {
    let mut s = store(tier, Knobs::default(), Box::new(kwasm_runtime::platform::NullPlatform));
    let inst = instantiate(&mut s, &Linker::new(), SPIN);
    let f = func(&s, inst, "spin");
    let t = s.call(f, &[]).unwrap_err();
    assert!(matches!(&t.kind, TrapKind::Host(m) if m.contains("executable memory")), "{t}");
}
