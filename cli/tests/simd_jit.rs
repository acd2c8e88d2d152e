//! SIMD (v128) in compiled code beyond what the spec scripts exercise: v128 values through the
//! calling convention (more v128 parameters than vector argument registers, several v128
//! results, tail calls, `call_indirect`, host functions and their trampolines, re-entry), in
//! `select`, loop parameters and mutable globals; and every SIMD memory-access form at the edge
//! of memory, where the optimizing tier must trap exactly alike — kind, function, byte offset,
//! memory left untouched — with explicit bounds checks and with guard-region addressing. The
//! interpreter (the reference tier) runs the same calls and must agree exactly.

use std::sync::Arc;

use kwasm_runtime::store::InstanceId;
use kwasm_runtime::types::FuncType;
use kwasm_runtime::{Extern, Knobs, Linker, Module, Store, Trap, Val, ValType};

const WAT: &str = r#"
(module
  (import "host" "mix" (func $mix (param v128 i32 v128) (result v128 v128)))
  (memory 1 3)
  (table 2 funcref)
  (elem (i32.const 0) $sum10 $swap)
  (type $sum_t (func (param v128 v128 v128 v128 v128 v128 v128 v128 v128 v128) (result v128)))
  (type $swap_t (func (param v128 i64 v128) (result v128 v128 i64)))
  (global $acc (mut v128) (v128.const i32x4 0 0 0 0))

  ;; Ten v128 parameters: more than fit in vector argument registers.
  (func $sum10 (type $sum_t)
    (i32x4.add (local.get 0)
      (i32x4.add (local.get 1)
        (i32x4.add (local.get 2)
          (i32x4.add (local.get 3)
            (i32x4.add (local.get 4)
              (i32x4.add (local.get 5)
                (i32x4.add (local.get 6)
                  (i32x4.add (local.get 7)
                    (i32x4.add (local.get 8) (i32x4.mul (local.get 9) (v128.const i32x4 1 2 3 4))))))))))))
  (func (export "call_sum10") (param $x v128) (result v128)
    (call $sum10 (local.get $x) (local.get $x) (local.get $x) (local.get $x) (local.get $x)
                 (local.get $x) (local.get $x) (local.get $x) (local.get $x) (local.get $x)))
  (func (export "indirect_sum10") (param $x v128) (param $i i32) (result v128)
    (call_indirect (type $sum_t) (local.get $x) (local.get $x) (local.get $x) (local.get $x) (local.get $x)
                 (local.get $x) (local.get $x) (local.get $x) (local.get $x) (local.get $x) (local.get $i)))
  (func (export "tail_sum10") (param $x v128) (result v128)
    (return_call $sum10 (local.get $x) (v128.const i32x4 0 0 0 0) (v128.const i32x4 0 0 0 0)
                 (v128.const i32x4 0 0 0 0) (v128.const i32x4 0 0 0 0) (v128.const i32x4 0 0 0 0)
                 (v128.const i32x4 0 0 0 0) (v128.const i32x4 0 0 0 0) (v128.const i32x4 0 0 0 0) (local.get $x)))

  ;; Several results, v128 mixed with scalars.
  (func $swap (type $swap_t) (local.get 2) (local.get 0) (i64.add (local.get 1) (i64.const 1)))
  (func (export "swap") (param v128 i64 v128) (result v128 v128 i64)
    (call $swap (local.get 0) (local.get 1) (local.get 2)))
  (func (export "swap_indirect") (param v128 i64 v128) (result v128 v128 i64)
    (call_indirect (type $swap_t) (local.get 0) (local.get 1) (local.get 2) (i32.const 1)))

  ;; Host function with v128 parameters and results (the host trampoline's slot encoding).
  (func (export "via_host") (param v128 v128) (result v128)
    (call $mix (local.get 0) (i32.const 3) (local.get 1))
    (i8x16.sub))

  (func (export "select") (param v128 v128 i32) (result v128)
    (select (local.get 0) (local.get 1) (local.get 2)))
  (func (export "select_typed") (param v128 v128 i32) (result v128)
    (select (result v128) (local.get 0) (local.get 1) (local.get 2)))

  ;; A v128 loop parameter and a v128 global updated on every iteration.
  (func (export "loop") (param $n i32) (result v128)
    (global.set $acc (v128.const i32x4 0 0 0 0))
    (v128.const i64x2 1 -1)
    (loop $l (param v128) (result v128)
      (global.set $acc (i64x2.add (global.get $acc) (i64x2.shl (v128.const i64x2 1 1) (local.get $n))))
      (i64x2.add (v128.const i64x2 2 3))
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
    (global.get $acc)
    (v128.xor))

  ;; Every memory-access form, for the edge-of-memory comparison.
  (func (export "load") (param i32) (result v128) (v128.load offset=4 (local.get 0)))
  (func (export "load_add") (param i32) (result v128)
    (i32x4.add (v128.const i32x4 1 1 1 1) (v128.load (local.get 0))))
  (func (export "load8x8_s") (param i32) (result v128) (v128.load8x8_s (local.get 0)))
  (func (export "load32x2_u") (param i32) (result v128) (v128.load32x2_u offset=8 (local.get 0)))
  (func (export "load16_splat") (param i32) (result v128) (v128.load16_splat (local.get 0)))
  (func (export "load64_splat") (param i32) (result v128) (v128.load64_splat (local.get 0)))
  (func (export "load32_zero") (param i32) (result v128) (v128.load32_zero (local.get 0)))
  (func (export "load8_lane") (param i32) (result v128)
    (v128.load8_lane 15 (local.get 0) (v128.const i64x2 -1 -1)))
  (func (export "load64_lane") (param i32) (result v128)
    (v128.load64_lane offset=2 1 (local.get 0) (v128.const i64x2 -1 -1)))
  (func (export "store") (param i32)
    (v128.store offset=1 (local.get 0) (v128.const i8x16 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16)))
  (func (export "store16_lane") (param i32)
    (v128.store16_lane 7 (local.get 0) (v128.const i16x8 1 2 3 4 5 6 7 -2)))
  (func (export "store32_lane") (param i32)
    (v128.store32_lane offset=4 2 (local.get 0) (v128.const i32x4 1 2 -3 4)))
  (func (export "big_offset") (param i32) (result v128) (v128.load offset=0xfffffff0 (local.get 0)))
  (func $inner (param i32) (result v128) (v128.load64_zero (local.get 0)))
  (func (export "in_callee") (param i32) (result v128)
    (i8x16.add (call $inner (local.get 0)) (v128.const i8x16 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1)))
  (func (export "grow_then_store") (param i32)
    (drop (memory.grow (i32.const 1)))
    (v128.store (local.get 0) (v128.const i64x2 -1 -1)))
  (data (i32.const 0) "\00\01\02\03\04\05\06\07\08\09\0a\0b\0c\0d\0e\0f\80\81\82\83\84\85\86\87\88\89\8a\8b\8c\8d\8e\8f")
  (data (i32.const 65520) "\f0\f1\f2\f3\f4\f5\f6\f7\f8\f9\fa\fb\fc\fd\fe\ff")
)
"#;

fn i32x4(l: [i32; 4]) -> u128 {
    l.iter().enumerate().fold(0, |v, (i, x)| v | (u128::from(*x as u32) << (32 * i)))
}

fn i64x2(l: [i64; 2]) -> u128 {
    u128::from(l[0] as u64) | (u128::from(l[1] as u64) << 64)
}

fn store_for(config: &[&str]) -> (Store, InstanceId) {
    let mut knobs = Knobs::default();
    for k in config {
        knobs.set_text(k).unwrap();
    }
    let mut store = Store::new(kwasm_cli::make_tier(&knobs), knobs, Box::new(kwasm_cli::platform::StdPlatform::new()));
    // mix(a, n, b) = (a + n in every byte, b): checks the order and halves of the slots.
    let mix = store.host_func(
        FuncType::new([ValType::V128, ValType::I32, ValType::V128], [ValType::V128, ValType::V128]),
        Arc::new(|_caller, args, results| {
            let (Val::V128(a), Val::I32(n), Val::V128(b)) = (args[0], args[1], args[2]) else {
                return Err(Trap::host("mix: argument types"));
            };
            let bytes: Vec<u8> = a.to_le_bytes().iter().map(|x| x.wrapping_add(n as u8)).collect();
            results[0] = Val::V128(u128::from_le_bytes(bytes.try_into().unwrap()));
            results[1] = Val::V128(b);
            Ok(())
        }),
    );
    let mut linker = Linker::new();
    linker.define("host", "mix", Extern::Func(mix));
    let module = Arc::new(Module::new(&wat::parse_str(WAT).unwrap()).unwrap());
    let inst = linker.instantiate(&mut store, module).unwrap();
    (store, inst)
}

fn call(store: &mut Store, inst: InstanceId, name: &str, args: &[Val]) -> Result<Vec<Val>, Trap> {
    let Some(Extern::Func(f)) = store.export(inst, name) else { panic!("no export {name}") };
    store.call(f, args)
}

#[test]
fn v128_values_cross_calls_selects_loops_and_globals() {
    for tier in ["tier=optimizing", "tier=interp"] {
        v128_values_on(tier);
    }
}

fn v128_values_on(tier: &str) {
    println!("{tier}");
    let (mut s, inst) = store_for(&[tier]);
    let x = i32x4([1, -2, 3, 0x4000_0000]);
    // 9·x + x·(1,2,3,4) lane-wise.
    let sum = i32x4([10, -2 * 11, 3 * 12, 0x4000_0000i32.wrapping_mul(13)]);
    assert_eq!(call(&mut s, inst, "call_sum10", &[Val::V128(x)]).unwrap(), vec![Val::V128(sum)]);
    assert_eq!(call(&mut s, inst, "indirect_sum10", &[Val::V128(x), Val::I32(0)]).unwrap(), vec![Val::V128(sum)]);
    let t = call(&mut s, inst, "indirect_sum10", &[Val::V128(x), Val::I32(1)]).unwrap_err();
    assert_eq!(t.kind, kwasm_runtime::TrapKind::IndirectCallTypeMismatch, "{t}");
    let tail = i32x4([2, -2 * 3, 3 * 4, 0x4000_0000i32.wrapping_mul(5)]);
    assert_eq!(call(&mut s, inst, "tail_sum10", &[Val::V128(x)]).unwrap(), vec![Val::V128(tail)]);

    let (a, b) = (0x0123_4567_89ab_cdef_fedc_ba98_7654_3210u128, u128::MAX - 5);
    let swapped = vec![Val::V128(b), Val::V128(a), Val::I64(8)];
    assert_eq!(call(&mut s, inst, "swap", &[Val::V128(a), Val::I64(7), Val::V128(b)]).unwrap(), swapped);
    assert_eq!(call(&mut s, inst, "swap_indirect", &[Val::V128(a), Val::I64(7), Val::V128(b)]).unwrap(), swapped);

    // via_host(a, b) = (a + 3 per byte) - b per byte.
    let want: Vec<u8> =
        a.to_le_bytes().iter().zip(b.to_le_bytes()).map(|(x, y)| x.wrapping_add(3).wrapping_sub(y)).collect();
    let want = u128::from_le_bytes(want.try_into().unwrap());
    assert_eq!(call(&mut s, inst, "via_host", &[Val::V128(a), Val::V128(b)]).unwrap(), vec![Val::V128(want)]);

    for name in ["select", "select_typed"] {
        assert_eq!(call(&mut s, inst, name, &[Val::V128(a), Val::V128(b), Val::I32(1)]).unwrap(), vec![Val::V128(a)]);
        assert_eq!(call(&mut s, inst, name, &[Val::V128(a), Val::V128(b), Val::I32(0)]).unwrap(), vec![Val::V128(b)]);
    }

    // loop(n): the parameter gains (2, 3) n times; the global sums 1 << k for k = n..1.
    let n = 5i64;
    let param = i64x2([1 + 2 * n, -1 + 3 * n]);
    let acc = (1..=n).map(|k| 1i64 << k).sum::<i64>();
    let want = param ^ i64x2([acc, acc]);
    assert_eq!(call(&mut s, inst, "loop", &[Val::I32(n as i32)]).unwrap(), vec![Val::V128(want)]);
}

/// Every access form with addresses around the end of memory (and after growth).
fn access_calls() -> Vec<(&'static str, i32)> {
    let mut calls = Vec::new();
    let edge = |size: i32, offset: i32| [65536 - size - offset, 65537 - size - offset, -1, 0];
    for (name, size, offset) in [
        ("load", 16, 4),
        ("load_add", 16, 0),
        ("load8x8_s", 8, 0),
        ("load32x2_u", 8, 8),
        ("load16_splat", 2, 0),
        ("load64_splat", 8, 0),
        ("load32_zero", 4, 0),
        ("load8_lane", 1, 0),
        ("load64_lane", 8, 2),
        ("store", 16, 1),
        ("store16_lane", 2, 0),
        ("store32_lane", 4, 4),
        ("in_callee", 8, 0),
    ] {
        for a in edge(size, offset) {
            calls.push((name, a));
        }
    }
    calls.extend([("big_offset", 0), ("big_offset", 16), ("grow_then_store", 65536), ("grow_then_store", 3 * 65536)]);
    calls.extend([("load", 2 * 65536 - 20), ("load", 2 * 65536 - 19)]);
    calls
}

type Observed = Vec<(Result<Vec<Val>, (String, Option<u32>, Option<u32>)>, u64)>;

fn run_accesses(config: &[&str]) -> Observed {
    let (mut s, inst) = store_for(config);
    let mem = s.instance(inst).memories[0];
    access_calls()
        .into_iter()
        .map(|(name, a)| {
            let r = call(&mut s, inst, name, &[Val::I32(a)]).map_err(|t| (format!("{:?}", t.kind), t.func, t.offset));
            let sum =
                s.memories[mem as usize].data.iter().fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(*b as u64));
            (r, sum)
        })
        .collect()
}

#[test]
fn simd_accesses_trap_alike_in_both_bounds_modes() {
    let explicit = run_accesses(&["tier=optimizing"]);
    let guard = run_accesses(&["tier=optimizing", "bounds_mode=guard"]);
    // The interpreter, the reference tier, must agree too: values, trap kinds and locations.
    let interp = run_accesses(&["tier=interp"]);
    let calls = access_calls();
    for (i, (name, a)) in calls.iter().enumerate() {
        assert_eq!(interp[i], explicit[i], "call {i} ({name} {a}): interpreter vs optimizing");
    }
    let traps = explicit.iter().filter(|(r, _)| r.is_err()).count();
    assert!(traps >= 25, "the calls should trap often: {explicit:?}");
    for (i, (name, a)) in calls.iter().enumerate() {
        assert_eq!(guard[i], explicit[i], "call {i} ({name} {a}): guard vs explicit");
        if let (Err((_, func, offset)), _) = &explicit[i] {
            assert!(func.is_some() && offset.is_some(), "{name} {a}: trap without location");
        }
    }
    // Spot checks of values: the last 16 bytes of the first page, and a widening load.
    let at = |name: &str, a: i32| calls.iter().position(|c| *c == (name, a)).unwrap();
    let last16 = u128::from_le_bytes(core::array::from_fn(|i| 0xf0 + i as u8));
    assert_eq!(explicit[at("load", 65516)].0, Ok(vec![Val::V128(last16)]));
    let sext: u128 = (0..8).fold(0, |v, i| v | (u128::from(0xfff8u16 + i as u16) << (16 * i)));
    assert_eq!(explicit[at("load8x8_s", 65528)].0, Ok(vec![Val::V128(sext)]));
    assert!(explicit[at("load", 65517)].0.is_err() && explicit[at("store", 65519)].0.is_ok());
}
