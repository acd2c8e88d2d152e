//! Runtime-level v128 plumbing, independent of any tier's SIMD support: validation accepts SIMD,
//! v128 globals are initialized from constant expressions (`v128.const`, `global.get` of an
//! imported v128 global) and read back whole, and a tier that does not implement SIMD refuses a
//! v128 function with an error that names SIMD instead of panicking.

use std::sync::Arc;

use kwasm_runtime::module::GlobalType;
use kwasm_runtime::{Error, Extern, Knobs, Linker, Module, Store, Val, ValType};

fn module(text: &str) -> Arc<Module> {
    let buf = wast::parser::ParseBuffer::new(text).unwrap();
    let mut wat = wast::parser::parse::<wast::Wat>(&buf).unwrap();
    Arc::new(Module::new(&wat.encode().unwrap()).expect("valid module"))
}

fn store(tier: &str) -> Store {
    let mut knobs = Knobs::default();
    knobs.set_text(&format!("tier={tier}")).unwrap();
    Store::new(kwasm_cli::make_tier(&knobs), knobs, Box::new(kwasm_cli::platform::StdPlatform::new()))
}

const GLOBALS: &str = r#"(module
  (import "host" "g" (global $imported v128))
  (global (export "const") v128 (v128.const i32x4 0x03020100 0x07060504 0x0b0a0908 0x0f0e0d0c))
  (global (export "copy") v128 (global.get $imported))
  (global (export "mut") (mut v128) (v128.const i64x2 -1 1))
  (func (export "add") (param v128 v128) (result v128) (i8x16.add (local.get 0) (local.get 1))))"#;

#[test]
fn v128_globals_hold_all_128_bits() {
    for tier in ["interp", "baseline", "optimizing"] {
        let mut s = store(tier);
        let imported = 0xfedc_ba98_7654_3210_0123_4567_89ab_cdef_u128;
        let g = s.alloc_global(GlobalType { ty: ValType::V128, mutable: false }, Val::V128(imported));
        let mut linker = Linker::new();
        linker.define("host", "g", Extern::Global(g));
        let inst = linker.instantiate(&mut s, module(GLOBALS)).unwrap_or_else(|e| panic!("{tier}: {e}"));
        let global = |s: &Store, name: &str| match s.export(inst, name) {
            Some(Extern::Global(g)) => s.global_value(g),
            other => panic!("{name}: {other:?}"),
        };
        assert_eq!(global(&s, "const"), Val::V128(0x0f0e0d0c_0b0a0908_07060504_03020100), "{tier}");
        assert_eq!(global(&s, "copy"), Val::V128(imported), "{tier}");
        assert_eq!(global(&s, "mut"), Val::V128(1 << 64 | u64::MAX as u128), "{tier}");
    }
}

#[test]
fn slot_encoding_puts_the_low_half_first() {
    let vals = [Val::I32(-1), Val::V128(0x1111_2222_3333_4444_5555_6666_7777_8888), Val::F64(7)];
    let slots = Val::to_slots(&vals);
    assert_eq!(slots, vec![0xffff_ffff, 0x5555_6666_7777_8888, 0x1111_2222_3333_4444, 7]);
    assert_eq!(Val::from_slot_seq(&[ValType::I32, ValType::V128, ValType::F64], &slots), vals);
}

#[test]
fn tiers_without_simd_refuse_v128_functions_by_name() {
    let mut s = store("baseline");
    let mut linker = Linker::new();
    let g = s.alloc_global(GlobalType { ty: ValType::V128, mutable: false }, Val::V128(0));
    linker.define("host", "g", Extern::Global(g));
    let inst = linker.instantiate(&mut s, module(GLOBALS)).unwrap();
    let Some(Extern::Func(add)) = s.export(inst, "add") else { panic!("no export add") };
    let err = s.call(add, &[Val::V128(1), Val::V128(2)]).expect_err("baseline has no SIMD");
    let msg = err.to_string();
    assert!(msg.contains("SIMD"), "{msg}");
    // The same refusal at compile time, as an `Unsupported` error.
    let tier = s.tier.clone();
    match tier.compile(&s, add) {
        Err(Error::Unsupported(m)) => assert!(m.contains("SIMD"), "{m}"),
        other => panic!("expected Unsupported, got {:?}", other.map(|_| ())),
    }
}
