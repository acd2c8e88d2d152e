//! Guard-region addressing (`bounds_mode = guard`) traps exactly like explicit bounds checks:
//! same kind, same function, same byte offset, and memory left untouched by a faulting store,
//! for the access shapes where a fault could be attributed to the wrong instruction (a load
//! merged into its user, pointer chasing, a faulting access in a callee, accesses after growth)
//! and for offsets too large for the guard (checked explicitly even in guard mode).

use std::sync::Arc;

use kwasm_runtime::{Extern, Knobs, Linker, Module, Store, Trap, Val};

const WAT: &str = r#"
(module
  (memory 1 3)
  (data (i32.const 16) "\f0\ff\ff\ff")
  (func (export "add_merged") (param i32) (result i32)
    (i32.add (i32.const 1) (i32.load (local.get 0))))
  (func (export "chase") (param i32) (result i32)
    (i32.load (i32.load (local.get 0))))
  (func (export "f64_merged") (param i32) (result f64)
    (f64.add (f64.const 1) (f64.load offset=8 (local.get 0))))
  (func (export "store_wide") (param i32)
    (i64.store offset=4 (local.get 0) (i64.const -1)))
  (func (export "peek") (param i32) (result i32)
    (i32.load8_u (local.get 0)))
  (func (export "big_offset") (param i32) (result i32)
    (i32.load offset=0xfffffff0 (local.get 0)))
  (func (export "grow_then_load") (param i32) (result i32)
    (drop (memory.grow (i32.const 1)))
    (i32.load (local.get 0)))
  (func $inner (param i32) (result i32)
    (i32.load16_s offset=2 (local.get 0)))
  (func (export "in_callee") (param i32) (result i32)
    (i32.add (call $inner (local.get 0)) (i32.const 5)))
  (func (export "sum") (param $p i32) (param $n i32) (result i64)
    (local $s i64)
    (loop $l
      (local.set $s (i64.add (local.get $s) (i64.load (local.get $p))))
      (local.set $p (i32.add (local.get $p) (i32.const 4096)))
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
    (local.get $s))
)
"#;

/// Every call: (export, arguments).
fn calls() -> Vec<(&'static str, Vec<Val>)> {
    let i = Val::I32;
    vec![
        ("add_merged", vec![i(0)]),
        ("add_merged", vec![i(65533)]),
        ("add_merged", vec![i(-1)]),
        ("chase", vec![i(16)]),
        ("chase", vec![i(65536)]),
        ("f64_merged", vec![i(65528)]),
        ("f64_merged", vec![i(65527)]),
        ("store_wide", vec![i(65524)]),
        ("store_wide", vec![i(65525)]),
        ("peek", vec![i(65529)]),
        ("peek", vec![i(65535)]),
        ("big_offset", vec![i(0)]),
        ("big_offset", vec![i(16)]),
        ("in_callee", vec![i(65534)]),
        ("in_callee", vec![i(65532)]),
        ("sum", vec![i(0), i(16)]),
        ("sum", vec![i(0), i(17)]),
        ("grow_then_load", vec![i(65536)]),
        ("grow_then_load", vec![i(3 * 65536)]),
        ("peek", vec![i(2 * 65536 - 1)]),
        ("sum", vec![i(0), i(48)]),
        ("sum", vec![i(0), i(49)]),
    ]
}

/// (result or trap with its location, memory checksum) after each call.
type Observed = Vec<(Result<Vec<Val>, (String, Option<u32>, Option<u32>)>, u64)>;

fn run(config: &[&str]) -> Observed {
    let mut knobs = Knobs::default();
    for k in config {
        knobs.set_text(k).unwrap();
    }
    let mut store = Store::new(kwasm_cli::make_tier(&knobs), knobs, Box::new(kwasm_cli::platform::StdPlatform::new()));
    let module = Arc::new(Module::new(&wat::parse_str(WAT).unwrap()).unwrap());
    let inst = Linker::new().instantiate(&mut store, module).unwrap();
    let mem = store.instance(inst).memories[0];
    calls()
        .into_iter()
        .map(|(name, args)| {
            let Some(Extern::Func(f)) = store.export(inst, name) else { panic!("no export {name}") };
            let r = store.call(f, &args).map_err(|t: Trap| (format!("{:?}", t.kind), t.func, t.offset));
            let sum =
                store.memories[mem as usize].data.iter().fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(*b as u64));
            (r, sum)
        })
        .collect()
}

#[test]
fn guard_mode_traps_exactly_like_explicit_checks() {
    let explicit = run(&["tier=optimizing"]);
    let interp = run(&["tier=interp"]);
    let guard = run(&["tier=optimizing", "bounds_mode=guard"]);
    let traps = explicit.iter().filter(|(r, _)| r.is_err()).count();
    assert!(traps >= 10, "the calls should trap often: {explicit:?}");
    for (i, (name, _)) in calls().iter().enumerate() {
        assert_eq!(explicit[i], interp[i], "call {i} ({name}): optimizing (explicit) vs interp");
        assert_eq!(guard[i], explicit[i], "call {i} ({name}): guard vs explicit");
    }
    // Every trap names its place.
    for (r, _) in &guard {
        if let Err((_, func, offset)) = r {
            assert!(func.is_some() && offset.is_some(), "trap without location: {r:?}");
        }
    }
}

#[test]
fn guard_mode_is_refused_without_platform_support() {
    let mut knobs = Knobs::default();
    knobs.set_text("bounds_mode=guard").unwrap();
    let mut store = Store::new(kwasm_cli::make_tier(&knobs), knobs, Box::new(kwasm_runtime::platform::NullPlatform));
    let module = Arc::new(Module::new(&wat::parse_str("(module (memory 1))").unwrap()).unwrap());
    let Err(err) = Linker::new().instantiate(&mut store, module) else {
        panic!("a platform without guard support must refuse bounds_mode=guard")
    };
    assert!(err.to_string().contains("bounds_mode=guard"), "{err}");
}

/// A host function that calls back into compiled code whose access faults: the inner call
/// traps (the innermost guarded call catches the fault), the host sees the trap and returns it,
/// and the outer call traps with the inner location; afterwards the store works normally.
#[test]
fn faults_in_reentered_code_are_caught_by_the_innermost_call() {
    use kwasm_runtime::types::FuncType;
    use kwasm_runtime::ValType;
    let mut knobs = Knobs::default();
    knobs.set_text("tier=optimizing").unwrap();
    knobs.set_text("bounds_mode=guard").unwrap();
    let mut store = Store::new(kwasm_cli::make_tier(&knobs), knobs, Box::new(kwasm_cli::platform::StdPlatform::new()));
    let mut linker = Linker::new();
    let call_back = store.host_func(
        FuncType::new([ValType::FuncRef, ValType::I32], [ValType::I32]),
        Arc::new(|caller, args, results| {
            let Val::FuncRef(Some(f)) = args[0] else { return Err(Trap::host("null")) };
            results[0] = caller.store.call(f, &[args[1]])?[0];
            Ok(())
        }),
    );
    linker.define("env", "call_back", Extern::Func(call_back));
    let wat = r#"(module
        (import "env" "call_back" (func $call_back (param funcref i32) (result i32)))
        (memory 1)
        (func $load (param i32) (result i32) (i32.load (local.get 0)))
        (elem declare func $load)
        (func (export "go") (param i32) (result i32)
          (i32.add (call $call_back (ref.func $load) (local.get 0)) (i32.const 1))))"#;
    let module = Arc::new(Module::new(&wat::parse_str(wat).unwrap()).unwrap());
    let inst = linker.instantiate(&mut store, module).unwrap();
    let Some(Extern::Func(go)) = store.export(inst, "go") else { panic!("no go") };
    assert_eq!(store.call(go, &[Val::I32(8)]).unwrap(), vec![Val::I32(1)]);
    let t = store.call(go, &[Val::I32(65535)]).unwrap_err();
    assert_eq!(t.kind, kwasm_runtime::TrapKind::MemoryOutOfBounds, "{t}");
    assert_eq!(t.func, Some(1), "the trap is in $load: {t}");
    assert_eq!(store.call(go, &[Val::I32(0)]).unwrap(), vec![Val::I32(1)]);
}
