//! Value types, function types and runtime values.
//!
//! # Slot encoding
//! Wherever values cross between the runtime and a tier as raw 64-bit *slots* (arguments and
//! results of [`crate::Tier::invoke`], [`crate::Store::call_host`], interpreter frames), each value
//! takes [`ValType::slots`] consecutive slots: i32/f32 in the low 32 bits of one slot (upper bits
//! zero), i64/f64 as one slot, references as one slot ([`RawRef`]), and **v128 as two slots, low
//! 64 bits first** (so a v128 laid out in memory slot after slot is its little-endian 16 bytes).
//! [`Val::push_slots`] and [`Val::from_slots`] are the one implementation of this encoding.

use alloc::vec::Vec;
use core::fmt;

/// A WebAssembly value type.
///
/// `V128` (fixed-width SIMD, Wasm 2.0) passes validation; tiers that do not implement SIMD refuse
/// to compile functions that use it with [`crate::Error::Unsupported`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ValType {
    /// 32-bit integer.
    I32,
    /// 64-bit integer.
    I64,
    /// 32-bit IEEE float.
    F32,
    /// 64-bit IEEE float.
    F64,
    /// 128-bit vector (two value slots).
    V128,
    /// Nullable function reference.
    FuncRef,
    /// Nullable external reference.
    ExternRef,
}

impl ValType {
    /// Converts a wasmparser value type; `None` for types kwasm does not know (GC types).
    pub fn from_wasmparser(ty: wasmparser::ValType) -> Option<ValType> {
        use wasmparser::ValType as W;
        Some(match ty {
            W::I32 => ValType::I32,
            W::I64 => ValType::I64,
            W::F32 => ValType::F32,
            W::F64 => ValType::F64,
            W::V128 => ValType::V128,
            W::Ref(r) => Self::from_ref_type(r)?,
        })
    }

    /// Converts a wasmparser reference type (only `funcref` and `externref` are known).
    pub fn from_ref_type(r: wasmparser::RefType) -> Option<ValType> {
        if r == wasmparser::RefType::FUNCREF {
            Some(ValType::FuncRef)
        } else if r == wasmparser::RefType::EXTERNREF {
            Some(ValType::ExternRef)
        } else {
            None
        }
    }

    /// Number of 64-bit value slots a value of this type occupies (see the module docs).
    pub fn slots(self) -> usize {
        if self == ValType::V128 {
            2
        } else {
            1
        }
    }

    /// Whether this is a reference type.
    pub fn is_ref(self) -> bool {
        matches!(self, ValType::FuncRef | ValType::ExternRef)
    }
}

impl fmt::Display for ValType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ValType::I32 => "i32",
            ValType::I64 => "i64",
            ValType::F32 => "f32",
            ValType::F64 => "f64",
            ValType::V128 => "v128",
            ValType::FuncRef => "funcref",
            ValType::ExternRef => "externref",
        })
    }
}

/// A function signature.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct FuncType {
    /// Parameter types.
    pub params: Vec<ValType>,
    /// Result types.
    pub results: Vec<ValType>,
}

impl FuncType {
    /// Creates a function type.
    pub fn new(params: impl Into<Vec<ValType>>, results: impl Into<Vec<ValType>>) -> Self {
        FuncType { params: params.into(), results: results.into() }
    }

    /// Number of slots the parameters occupy (v128 counts two).
    pub fn param_slots(&self) -> usize {
        slots_of(&self.params)
    }

    /// Number of slots the results occupy (v128 counts two).
    pub fn result_slots(&self) -> usize {
        slots_of(&self.results)
    }

    /// Whether a parameter or result is a v128.
    pub fn uses_v128(&self) -> bool {
        self.params.iter().chain(&self.results).any(|t| *t == ValType::V128)
    }
}

/// Number of slots a sequence of values of `types` occupies.
pub fn slots_of(types: &[ValType]) -> usize {
    types.iter().map(|t| t.slots()).sum()
}

impl fmt::Display for FuncType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(")?;
        for (i, p) in self.params.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{p}")?;
        }
        f.write_str(") -> (")?;
        for (i, r) in self.results.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{r}")?;
        }
        f.write_str(")")
    }
}

/// A reference value as stored in tables, globals and value slots: 0 is null, otherwise the
/// referenced function address (or host extern value) plus one.
pub type RawRef = u64;

/// A WebAssembly runtime value. Floats are kept as bit patterns so NaN payloads survive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Val {
    /// i32 value.
    I32(i32),
    /// i64 value.
    I64(i64),
    /// f32 value as its bits.
    F32(u32),
    /// f64 value as its bits.
    F64(u64),
    /// v128 value.
    V128(u128),
    /// Function reference (store address), or null.
    FuncRef(Option<u32>),
    /// External reference (host-chosen number), or null.
    ExternRef(Option<u32>),
}

impl Val {
    /// The type of this value.
    pub fn ty(&self) -> ValType {
        match self {
            Val::I32(_) => ValType::I32,
            Val::I64(_) => ValType::I64,
            Val::F32(_) => ValType::F32,
            Val::F64(_) => ValType::F64,
            Val::V128(_) => ValType::V128,
            Val::FuncRef(_) => ValType::FuncRef,
            Val::ExternRef(_) => ValType::ExternRef,
        }
    }

    /// The default (zero / null) value of a type.
    pub fn default_of(ty: ValType) -> Val {
        match ty {
            ValType::I32 => Val::I32(0),
            ValType::I64 => Val::I64(0),
            ValType::F32 => Val::F32(0),
            ValType::F64 => Val::F64(0),
            ValType::V128 => Val::V128(0),
            ValType::FuncRef => Val::FuncRef(None),
            ValType::ExternRef => Val::ExternRef(None),
        }
    }

    /// Encodes a single-slot value into one 64-bit slot (a v128 gives its low half only: use
    /// [`Val::push_slots`] for values of any type).
    pub fn to_slot(&self) -> u64 {
        match *self {
            Val::I32(v) => v as u32 as u64,
            Val::I64(v) => v as u64,
            Val::F32(v) => v as u64,
            Val::F64(v) => v,
            Val::V128(v) => v as u64,
            Val::FuncRef(r) | Val::ExternRef(r) => r.map_or(0, |a| a as u64 + 1),
        }
    }

    /// Appends the value's slots (one, or two for v128: low half first).
    pub fn push_slots(&self, out: &mut Vec<u64>) {
        match *self {
            Val::V128(v) => {
                out.push(v as u64);
                out.push((v >> 64) as u64);
            }
            _ => out.push(self.to_slot()),
        }
    }

    /// Decodes a value of type `ty` from the start of `slots`, which holds at least
    /// [`ValType::slots`] of `ty` slots.
    pub fn from_slots(ty: ValType, slots: &[u64]) -> Val {
        if ty == ValType::V128 {
            Val::V128(u128::from(slots[0]) | (u128::from(slots[1]) << 64))
        } else {
            Val::from_slot(ty, slots[0])
        }
    }

    /// Encodes `vals` in slots (see the module docs).
    pub fn to_slots(vals: &[Val]) -> Vec<u64> {
        let mut out = Vec::with_capacity(vals.len() * 2);
        for v in vals {
            v.push_slots(&mut out);
        }
        out
    }

    /// Decodes values of `types` from `slots` (which holds [`slots_of`]`(types)` slots).
    pub fn from_slot_seq(types: &[ValType], slots: &[u64]) -> Vec<Val> {
        let mut at = 0;
        types
            .iter()
            .map(|t| {
                let v = Val::from_slots(*t, &slots[at..]);
                at += t.slots();
                v
            })
            .collect()
    }

    /// Decodes a single-slot value of type `ty` from one 64-bit slot (a v128 gets only its low
    /// half: use [`Val::from_slots`] for values of any type).
    pub fn from_slot(ty: ValType, slot: u64) -> Val {
        let as_ref = |s: u64| if s == 0 { None } else { Some((s - 1) as u32) };
        match ty {
            ValType::I32 => Val::I32(slot as u32 as i32),
            ValType::I64 => Val::I64(slot as i64),
            ValType::F32 => Val::F32(slot as u32),
            ValType::F64 => Val::F64(slot),
            ValType::V128 => Val::V128(slot as u128),
            ValType::FuncRef => Val::FuncRef(as_ref(slot)),
            ValType::ExternRef => Val::ExternRef(as_ref(slot)),
        }
    }

    /// The i32 payload, if this is an i32.
    pub fn i32(&self) -> Option<i32> {
        if let Val::I32(v) = self {
            Some(*v)
        } else {
            None
        }
    }

    /// The i64 payload, if this is an i64.
    pub fn i64(&self) -> Option<i64> {
        if let Val::I64(v) = self {
            Some(*v)
        } else {
            None
        }
    }
}

impl fmt::Display for Val {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Val::I32(v) => write!(f, "{v}"),
            Val::I64(v) => write!(f, "{v}"),
            Val::F32(v) => write!(f, "{}", f32::from_bits(*v)),
            Val::F64(v) => write!(f, "{}", f64::from_bits(*v)),
            Val::V128(v) => write!(f, "0x{v:032x}"),
            Val::FuncRef(None) | Val::ExternRef(None) => f.write_str("null"),
            Val::FuncRef(Some(a)) => write!(f, "func@{a}"),
            Val::ExternRef(Some(a)) => write!(f, "extern@{a}"),
        }
    }
}
