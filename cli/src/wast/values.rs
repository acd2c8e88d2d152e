//! Conversions between script values (`wast`'s argument and result patterns) and [`Val`].

use kwasm_runtime::Val;
use wast::core::{AbstractHeapType, HeapType, NanPattern, V128Pattern, WastArgCore, WastRetCore};
use wast::token::{Index, F32, F64};
use wast::{WastArg, WastRet};

/// Converts an `invoke` argument.
pub fn arg(a: &WastArg<'_>) -> Result<Val, String> {
    let WastArg::Core(a) = a else {
        return Err("component-model argument".into());
    };
    Ok(match a {
        WastArgCore::I32(v) => Val::I32(*v),
        WastArgCore::I64(v) => Val::I64(*v),
        WastArgCore::F32(v) => Val::F32(v.bits),
        WastArgCore::F64(v) => Val::F64(v.bits),
        WastArgCore::V128(v) => Val::V128(u128::from_le_bytes(v.to_le_bytes())),
        WastArgCore::RefNull(ht) => match abstract_heap_type(ht) {
            Some(AbstractHeapType::Func) => Val::FuncRef(None),
            Some(AbstractHeapType::Extern) => Val::ExternRef(None),
            _ => return Err(format!("unsupported null reference type {ht:?}")),
        },
        WastArgCore::RefExtern(n) => Val::ExternRef(Some(*n)),
        WastArgCore::RefHost(_) => return Err("ref.host is a GC-proposal value".into()),
    })
}

fn abstract_heap_type(ht: &HeapType<'_>) -> Option<AbstractHeapType> {
    match ht {
        HeapType::Abstract { shared: false, ty } => Some(*ty),
        _ => None,
    }
}

/// Checks one result against its expected pattern. `func_addr` resolves the numeric index of a
/// `ref.func N` pattern to a store address (in the instance the call went to).
pub fn check(expected: &WastRet<'_>, actual: &Val, func_addr: &dyn Fn(u32) -> Option<u32>) -> Result<(), String> {
    let WastRet::Core(expected) = expected else {
        return Err("component-model result pattern".into());
    };
    if matches_core(expected, actual, func_addr)? {
        Ok(())
    } else {
        Err(format!("got {}, expected {}", show(actual), show_pattern(expected)))
    }
}

fn matches_core(e: &WastRetCore<'_>, a: &Val, func_addr: &dyn Fn(u32) -> Option<u32>) -> Result<bool, String> {
    Ok(match (e, a) {
        (WastRetCore::I32(e), Val::I32(a)) => e == a,
        (WastRetCore::I64(e), Val::I64(a)) => e == a,
        (WastRetCore::F32(e), Val::F32(a)) => f32_matches(e, *a),
        (WastRetCore::F64(e), Val::F64(a)) => f64_matches(e, *a),
        (WastRetCore::V128(e), Val::V128(a)) => v128_matches(e, *a),
        (WastRetCore::RefNull(ht), Val::FuncRef(None)) => null_of(ht, AbstractHeapType::Func),
        (WastRetCore::RefNull(ht), Val::ExternRef(None)) => null_of(ht, AbstractHeapType::Extern),
        (WastRetCore::RefExtern(None), Val::ExternRef(Some(_))) => true,
        (WastRetCore::RefExtern(Some(e)), Val::ExternRef(Some(a))) => e == a,
        (WastRetCore::RefFunc(None), Val::FuncRef(Some(_))) => true,
        (WastRetCore::RefFunc(Some(Index::Num(n, _))), Val::FuncRef(Some(a))) => {
            func_addr(*n).ok_or_else(|| format!("ref.func {n}: no such function in the instance"))? == *a
        }
        (WastRetCore::RefFunc(Some(Index::Id(id))), Val::FuncRef(Some(_))) => {
            // Symbolic names are gone once the module is encoded; the 2.0 suite never does this.
            return Err(format!("cannot resolve symbolic ref.func ${}", id.name()));
        }
        (WastRetCore::Either(alts), a) => {
            for alt in alts {
                if matches_core(alt, a, func_addr)? {
                    return Ok(true);
                }
            }
            false
        }
        (
            WastRetCore::RefHost(_)
            | WastRetCore::RefAny
            | WastRetCore::RefEq
            | WastRetCore::RefArray
            | WastRetCore::RefStruct
            | WastRetCore::RefI31
            | WastRetCore::RefI31Shared,
            _,
        ) => return Err("GC-proposal result pattern".into()),
        _ => false,
    })
}

/// Whether a null of `kind` satisfies `(ref.null HT?)`: no type means any null.
fn null_of(ht: &Option<HeapType<'_>>, kind: AbstractHeapType) -> bool {
    match ht {
        None => true,
        Some(ht) => abstract_heap_type(ht) == Some(kind),
    }
}

/// `nan:canonical`: only the quiet bit set in the payload (either sign).
/// `nan:arithmetic`: exponent all ones and the quiet bit set (either sign, any other payload).
fn f32_matches(e: &NanPattern<F32>, a: u32) -> bool {
    match e {
        NanPattern::CanonicalNan => a & 0x7fff_ffff == 0x7fc0_0000,
        NanPattern::ArithmeticNan => a & 0x7fc0_0000 == 0x7fc0_0000,
        // Bitwise, so that explicit NaN payloads (`nan:0x200000`) and signed zeros are checked.
        NanPattern::Value(v) => v.bits == a,
    }
}

/// See [`f32_matches`].
fn f64_matches(e: &NanPattern<F64>, a: u64) -> bool {
    match e {
        NanPattern::CanonicalNan => a & 0x7fff_ffff_ffff_ffff == 0x7ff8_0000_0000_0000,
        NanPattern::ArithmeticNan => a & 0x7ff8_0000_0000_0000 == 0x7ff8_0000_0000_0000,
        NanPattern::Value(v) => v.bits == a,
    }
}

fn v128_matches(e: &V128Pattern, a: u128) -> bool {
    let b = a.to_le_bytes();
    let lane = |i: usize, n: usize| -> u64 {
        let mut buf = [0u8; 8];
        buf[..n].copy_from_slice(&b[i * n..i * n + n]);
        u64::from_le_bytes(buf)
    };
    match e {
        V128Pattern::I8x16(v) => v.iter().enumerate().all(|(i, x)| lane(i, 1) == *x as u8 as u64),
        V128Pattern::I16x8(v) => v.iter().enumerate().all(|(i, x)| lane(i, 2) == *x as u16 as u64),
        V128Pattern::I32x4(v) => v.iter().enumerate().all(|(i, x)| lane(i, 4) == *x as u32 as u64),
        V128Pattern::I64x2(v) => v.iter().enumerate().all(|(i, x)| lane(i, 8) == *x as u64),
        V128Pattern::F32x4(v) => v.iter().enumerate().all(|(i, x)| f32_matches(x, lane(i, 4) as u32)),
        V128Pattern::F64x2(v) => v.iter().enumerate().all(|(i, x)| f64_matches(x, lane(i, 8))),
    }
}

/// A value the way the scripts write it, with float bits for exactness.
pub fn show(v: &Val) -> String {
    match v {
        Val::I32(x) => format!("i32:{x}"),
        Val::I64(x) => format!("i64:{x}"),
        Val::F32(b) => format!("f32:{}(0x{b:08x})", f32::from_bits(*b)),
        Val::F64(b) => format!("f64:{}(0x{b:016x})", f64::from_bits(*b)),
        Val::V128(x) => format!("v128:0x{x:032x}"),
        Val::FuncRef(None) => "ref.null func".into(),
        Val::ExternRef(None) => "ref.null extern".into(),
        Val::FuncRef(Some(a)) => format!("ref.func@{a}"),
        Val::ExternRef(Some(n)) => format!("ref.extern {n}"),
    }
}

fn show_pattern(p: &WastRetCore<'_>) -> String {
    let nan32 = |p: &NanPattern<F32>| match p {
        NanPattern::CanonicalNan => "nan:canonical".to_string(),
        NanPattern::ArithmeticNan => "nan:arithmetic".to_string(),
        NanPattern::Value(v) => format!("{}(0x{:08x})", f32::from_bits(v.bits), v.bits),
    };
    let nan64 = |p: &NanPattern<F64>| match p {
        NanPattern::CanonicalNan => "nan:canonical".to_string(),
        NanPattern::ArithmeticNan => "nan:arithmetic".to_string(),
        NanPattern::Value(v) => format!("{}(0x{:016x})", f64::from_bits(v.bits), v.bits),
    };
    match p {
        WastRetCore::I32(x) => format!("i32:{x}"),
        WastRetCore::I64(x) => format!("i64:{x}"),
        WastRetCore::F32(x) => format!("f32:{}", nan32(x)),
        WastRetCore::F64(x) => format!("f64:{}", nan64(x)),
        WastRetCore::RefNull(None) => "ref.null".into(),
        WastRetCore::RefNull(Some(ht)) => match abstract_heap_type(ht) {
            Some(AbstractHeapType::Func) => "ref.null func".into(),
            Some(AbstractHeapType::Extern) => "ref.null extern".into(),
            _ => format!("ref.null {ht:?}"),
        },
        WastRetCore::RefExtern(Some(n)) => format!("ref.extern {n}"),
        WastRetCore::RefExtern(None) => "ref.extern".into(),
        WastRetCore::RefFunc(None) => "ref.func".into(),
        WastRetCore::RefFunc(Some(i)) => format!("ref.func {i:?}"),
        WastRetCore::Either(alts) => {
            format!("either({})", alts.iter().map(show_pattern).collect::<Vec<_>>().join(" | "))
        }
        other => format!("{other:?}"),
    }
}
