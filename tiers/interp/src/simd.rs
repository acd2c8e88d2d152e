//! Lane semantics of the fixed-width SIMD operators of Wasm 2.0 (`v128`), on `u128` values in
//! little-endian lane order (lane 0 is the least significant).
//!
//! Float lanes follow exactly the rules of the scalar float operators in [`crate::ops`] (NaN-aware
//! min/max, libm rounding, explicit NaN handling in demote/promote), so that the SSE and the
//! soft-float kernel builds compute bit-identical results; integer lanes are plain Rust.
//!
//! The interpreter's generic SIMD instructions ([`crate::code::Instr::SimdUnary`] and
//! [`crate::code::Instr::SimdBinary`]) name a [`SimdOp`]; its variants carry the names of
//! `wasmparser`'s operators so that translation is a table lookup ([`classify`]).

use wasmparser::Operator;

use crate::ops;

/// How a SIMD operator without memory or shuffle immediates takes and gives its operands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// v128 → v128.
    VecToVec,
    /// v128 → i32 (tests and bitmasks).
    VecToI32,
    /// scalar (one slot) → v128 (`splat`).
    Splat,
    /// v128, v128 → v128.
    VecVecToVec,
    /// v128, i32 → v128 (shifts).
    VecI32ToVec,
    /// v128 → scalar lane (`extract_lane`, lane immediate).
    ExtractLane,
    /// v128, scalar → v128 (`replace_lane`, lane immediate).
    ReplaceLane,
}

macro_rules! simd_ops {
    ($( $form:ident { $($op:ident),* $(,)? } )*) => {
        /// A SIMD operator the generic SIMD instructions compute (named after `wasmparser`).
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(u8)]
        #[allow(missing_docs)]
        pub enum SimdOp {
            $( $($op,)* )*
        }

        impl SimdOp {
            /// How the operator takes and gives its operands.
            pub fn form(self) -> Form {
                match self {
                    $( $(SimdOp::$op)|* => Form::$form, )*
                }
            }
        }

        /// The [`SimdOp`], lane immediate (0 if none) and [`Form`] of `op`, if it is one of the
        /// operators the generic SIMD instructions compute.
        pub fn classify(op: &Operator<'_>) -> Option<(SimdOp, u8, Form)> {
            #[allow(unused_variables)]
            let simd = match *op {
                $( $(Operator::$op { .. } => SimdOp::$op,)* )*
                _ => return None,
            };
            let lane = match *op {
                Operator::I8x16ExtractLaneS { lane }
                | Operator::I8x16ExtractLaneU { lane }
                | Operator::I8x16ReplaceLane { lane }
                | Operator::I16x8ExtractLaneS { lane }
                | Operator::I16x8ExtractLaneU { lane }
                | Operator::I16x8ReplaceLane { lane }
                | Operator::I32x4ExtractLane { lane }
                | Operator::I32x4ReplaceLane { lane }
                | Operator::I64x2ExtractLane { lane }
                | Operator::I64x2ReplaceLane { lane }
                | Operator::F32x4ExtractLane { lane }
                | Operator::F32x4ReplaceLane { lane }
                | Operator::F64x2ExtractLane { lane }
                | Operator::F64x2ReplaceLane { lane } => lane,
                _ => 0,
            };
            Some((simd, lane, simd.form()))
        }
    };
}

simd_ops! {
    VecToVec {
        V128Not,
        I8x16Abs, I8x16Neg, I8x16Popcnt, I16x8Abs, I16x8Neg, I32x4Abs, I32x4Neg, I64x2Abs, I64x2Neg,
        I16x8ExtAddPairwiseI8x16S, I16x8ExtAddPairwiseI8x16U, I32x4ExtAddPairwiseI16x8S, I32x4ExtAddPairwiseI16x8U,
        I16x8ExtendLowI8x16S, I16x8ExtendHighI8x16S, I16x8ExtendLowI8x16U, I16x8ExtendHighI8x16U,
        I32x4ExtendLowI16x8S, I32x4ExtendHighI16x8S, I32x4ExtendLowI16x8U, I32x4ExtendHighI16x8U,
        I64x2ExtendLowI32x4S, I64x2ExtendHighI32x4S, I64x2ExtendLowI32x4U, I64x2ExtendHighI32x4U,
        F32x4Ceil, F32x4Floor, F32x4Trunc, F32x4Nearest, F32x4Abs, F32x4Neg, F32x4Sqrt,
        F64x2Ceil, F64x2Floor, F64x2Trunc, F64x2Nearest, F64x2Abs, F64x2Neg, F64x2Sqrt,
        I32x4TruncSatF32x4S, I32x4TruncSatF32x4U, F32x4ConvertI32x4S, F32x4ConvertI32x4U,
        I32x4TruncSatF64x2SZero, I32x4TruncSatF64x2UZero, F64x2ConvertLowI32x4S, F64x2ConvertLowI32x4U,
        F32x4DemoteF64x2Zero, F64x2PromoteLowF32x4,
    }
    VecToI32 {
        V128AnyTrue, I8x16AllTrue, I16x8AllTrue, I32x4AllTrue, I64x2AllTrue,
        I8x16Bitmask, I16x8Bitmask, I32x4Bitmask, I64x2Bitmask,
    }
    Splat { I8x16Splat, I16x8Splat, I32x4Splat, I64x2Splat, F32x4Splat, F64x2Splat }
    VecVecToVec {
        V128And, V128AndNot, V128Or, V128Xor, I8x16Swizzle,
        I8x16Eq, I8x16Ne, I8x16LtS, I8x16LtU, I8x16GtS, I8x16GtU, I8x16LeS, I8x16LeU, I8x16GeS, I8x16GeU,
        I16x8Eq, I16x8Ne, I16x8LtS, I16x8LtU, I16x8GtS, I16x8GtU, I16x8LeS, I16x8LeU, I16x8GeS, I16x8GeU,
        I32x4Eq, I32x4Ne, I32x4LtS, I32x4LtU, I32x4GtS, I32x4GtU, I32x4LeS, I32x4LeU, I32x4GeS, I32x4GeU,
        I64x2Eq, I64x2Ne, I64x2LtS, I64x2GtS, I64x2LeS, I64x2GeS,
        F32x4Eq, F32x4Ne, F32x4Lt, F32x4Gt, F32x4Le, F32x4Ge,
        F64x2Eq, F64x2Ne, F64x2Lt, F64x2Gt, F64x2Le, F64x2Ge,
        I8x16NarrowI16x8S, I8x16NarrowI16x8U, I16x8NarrowI32x4S, I16x8NarrowI32x4U,
        I8x16Add, I8x16AddSatS, I8x16AddSatU, I8x16Sub, I8x16SubSatS, I8x16SubSatU,
        I8x16MinS, I8x16MinU, I8x16MaxS, I8x16MaxU, I8x16AvgrU,
        I16x8Q15MulrSatS,
        I16x8Add, I16x8AddSatS, I16x8AddSatU, I16x8Sub, I16x8SubSatS, I16x8SubSatU, I16x8Mul,
        I16x8MinS, I16x8MinU, I16x8MaxS, I16x8MaxU, I16x8AvgrU,
        I16x8ExtMulLowI8x16S, I16x8ExtMulHighI8x16S, I16x8ExtMulLowI8x16U, I16x8ExtMulHighI8x16U,
        I32x4Add, I32x4Sub, I32x4Mul, I32x4MinS, I32x4MinU, I32x4MaxS, I32x4MaxU, I32x4DotI16x8S,
        I32x4ExtMulLowI16x8S, I32x4ExtMulHighI16x8S, I32x4ExtMulLowI16x8U, I32x4ExtMulHighI16x8U,
        I64x2Add, I64x2Sub, I64x2Mul,
        I64x2ExtMulLowI32x4S, I64x2ExtMulHighI32x4S, I64x2ExtMulLowI32x4U, I64x2ExtMulHighI32x4U,
        F32x4Add, F32x4Sub, F32x4Mul, F32x4Div, F32x4Min, F32x4Max, F32x4PMin, F32x4PMax,
        F64x2Add, F64x2Sub, F64x2Mul, F64x2Div, F64x2Min, F64x2Max, F64x2PMin, F64x2PMax,
    }
    VecI32ToVec {
        I8x16Shl, I8x16ShrS, I8x16ShrU, I16x8Shl, I16x8ShrS, I16x8ShrU,
        I32x4Shl, I32x4ShrS, I32x4ShrU, I64x2Shl, I64x2ShrS, I64x2ShrU,
    }
    ExtractLane {
        I8x16ExtractLaneS, I8x16ExtractLaneU, I16x8ExtractLaneS, I16x8ExtractLaneU,
        I32x4ExtractLane, I64x2ExtractLane, F32x4ExtractLane, F64x2ExtractLane,
    }
    ReplaceLane {
        I8x16ReplaceLane, I16x8ReplaceLane, I32x4ReplaceLane, I64x2ReplaceLane, F32x4ReplaceLane, F64x2ReplaceLane,
    }
}

impl SimdOp {
    /// Whether the result is a v128 (two slots) rather than a scalar (one slot).
    pub fn wide_result(self) -> bool {
        !matches!(self.form(), Form::VecToI32 | Form::ExtractLane)
    }
}

/// A lane type: how it is cut out of and put back into a `u128`.
trait Lane: Copy + Default {
    const BYTES: usize;
    fn get(v: u128, i: usize) -> Self;
    fn put(self, i: usize) -> u128;
}

macro_rules! int_lane {
    ($($t:ty => $u:ty),*) => {$(
        impl Lane for $t {
            const BYTES: usize = core::mem::size_of::<$t>();
            #[inline(always)]
            fn get(v: u128, i: usize) -> Self {
                (v >> (i * Self::BYTES * 8)) as $u as $t
            }
            #[inline(always)]
            fn put(self, i: usize) -> u128 {
                (self as $u as u128) << (i * Self::BYTES * 8)
            }
        }
    )*};
}
int_lane!(i8 => u8, u8 => u8, i16 => u16, u16 => u16, i32 => u32, u32 => u32, i64 => u64, u64 => u64);

impl Lane for f32 {
    const BYTES: usize = 4;
    #[inline(always)]
    fn get(v: u128, i: usize) -> Self {
        f32::from_bits(u32::get(v, i))
    }
    #[inline(always)]
    fn put(self, i: usize) -> u128 {
        self.to_bits().put(i)
    }
}

impl Lane for f64 {
    const BYTES: usize = 8;
    #[inline(always)]
    fn get(v: u128, i: usize) -> Self {
        f64::from_bits(u64::get(v, i))
    }
    #[inline(always)]
    fn put(self, i: usize) -> u128 {
        self.to_bits().put(i)
    }
}

#[inline(always)]
const fn lanes<T>() -> usize {
    16 / core::mem::size_of::<T>()
}

/// Lane-wise `f(a)`.
#[inline(always)]
fn map<T: Lane, R: Lane>(a: u128, f: impl Fn(T) -> R) -> u128 {
    (0..lanes::<T>()).fold(0, |acc, i| acc | f(T::get(a, i)).put(i))
}

/// Lane-wise `f(a, b)`.
#[inline(always)]
fn zip<T: Lane, R: Lane>(a: u128, b: u128, f: impl Fn(T, T) -> R) -> u128 {
    (0..lanes::<T>()).fold(0, |acc, i| acc | f(T::get(a, i), T::get(b, i)).put(i))
}

/// Lane-wise comparison: all ones where `f` holds.
#[inline(always)]
fn cmp<T: Lane>(a: u128, b: u128, f: impl Fn(T, T) -> bool) -> u128 {
    let mask = u128::MAX >> (128 - T::BYTES * 8);
    (0..lanes::<T>())
        .fold(0, |acc, i| if f(T::get(a, i), T::get(b, i)) { acc | mask << (i * T::BYTES * 8) } else { acc })
}

/// Widens the low (`high == false`) or high half of the narrow lanes `T` into lanes `R`.
#[inline(always)]
fn extend<T: Lane, R: Lane>(a: u128, high: bool, f: impl Fn(T) -> R) -> u128 {
    let n = lanes::<R>();
    let first = if high { n } else { 0 };
    (0..n).fold(0, |acc, i| acc | f(T::get(a, first + i)).put(i))
}

/// Widening multiply of the low or high halves.
#[inline(always)]
fn extmul<T: Lane, R: Lane>(a: u128, b: u128, high: bool, f: impl Fn(T, T) -> R) -> u128 {
    let n = lanes::<R>();
    let first = if high { n } else { 0 };
    (0..n).fold(0, |acc, i| acc | f(T::get(a, first + i), T::get(b, first + i)).put(i))
}

/// Sums adjacent pairs of lanes `T` into lanes `R`.
#[inline(always)]
fn pairwise<T: Lane, R: Lane>(a: u128, f: impl Fn(T, T) -> R) -> u128 {
    (0..lanes::<R>()).fold(0, |acc, i| acc | f(T::get(a, 2 * i), T::get(a, 2 * i + 1)).put(i))
}

/// Narrows the lanes of `a` then `b` with saturation `f`.
#[inline(always)]
fn narrow<T: Lane, R: Lane>(a: u128, b: u128, f: impl Fn(T) -> R) -> u128 {
    let n = lanes::<T>();
    (0..n).fold(0, |acc, i| acc | f(T::get(a, i)).put(i) | f(T::get(b, i)).put(n + i))
}

/// One bit per lane: the lane's sign bit.
#[inline(always)]
fn bitmask<T: Lane + Into<i64>>(a: u128) -> u128 {
    (0..lanes::<T>()).fold(0, |acc, i| acc | (u128::from(T::get(a, i).into() < 0) << i))
}

#[inline(always)]
fn all_true<T: Lane + PartialEq>(a: u128) -> u128 {
    u128::from((0..lanes::<T>()).all(|i| T::get(a, i) != T::default()))
}

#[inline(always)]
fn splat<T: Lane>(x: T) -> u128 {
    (0..lanes::<T>()).fold(0, |acc, i| acc | x.put(i))
}

fn f32_pmin(a: f32, b: f32) -> f32 {
    if b < a {
        b
    } else {
        a
    }
}

fn f32_pmax(a: f32, b: f32) -> f32 {
    if a < b {
        b
    } else {
        a
    }
}

fn f64_pmin(a: f64, b: f64) -> f64 {
    if b < a {
        b
    } else {
        a
    }
}

fn f64_pmax(a: f64, b: f64) -> f64 {
    if a < b {
        b
    } else {
        a
    }
}

/// A v128 → v128, v128 → i32, scalar → v128 (`splat`, scalar in the low bits of `a`) or
/// v128 → scalar lane operator. Scalar results are slot-encoded (i32 zero-extended) in the low
/// 64 bits.
pub fn unary(op: SimdOp, lane: u8, a: u128) -> u128 {
    use SimdOp as S;
    let lane = lane as usize;
    match op {
        S::V128Not => !a,
        S::I8x16Abs => map(a, |x: i8| x.wrapping_abs()),
        S::I8x16Neg => map(a, |x: i8| x.wrapping_neg()),
        S::I8x16Popcnt => map(a, |x: u8| x.count_ones() as u8),
        S::I16x8Abs => map(a, |x: i16| x.wrapping_abs()),
        S::I16x8Neg => map(a, |x: i16| x.wrapping_neg()),
        S::I32x4Abs => map(a, |x: i32| x.wrapping_abs()),
        S::I32x4Neg => map(a, |x: i32| x.wrapping_neg()),
        S::I64x2Abs => map(a, |x: i64| x.wrapping_abs()),
        S::I64x2Neg => map(a, |x: i64| x.wrapping_neg()),
        S::I16x8ExtAddPairwiseI8x16S => pairwise(a, |x: i8, y: i8| x as i16 + y as i16),
        S::I16x8ExtAddPairwiseI8x16U => pairwise(a, |x: u8, y: u8| x as u16 + y as u16),
        S::I32x4ExtAddPairwiseI16x8S => pairwise(a, |x: i16, y: i16| x as i32 + y as i32),
        S::I32x4ExtAddPairwiseI16x8U => pairwise(a, |x: u16, y: u16| x as u32 + y as u32),
        S::I16x8ExtendLowI8x16S => extend(a, false, |x: i8| x as i16),
        S::I16x8ExtendHighI8x16S => extend(a, true, |x: i8| x as i16),
        S::I16x8ExtendLowI8x16U => extend(a, false, |x: u8| x as u16),
        S::I16x8ExtendHighI8x16U => extend(a, true, |x: u8| x as u16),
        S::I32x4ExtendLowI16x8S => extend(a, false, |x: i16| x as i32),
        S::I32x4ExtendHighI16x8S => extend(a, true, |x: i16| x as i32),
        S::I32x4ExtendLowI16x8U => extend(a, false, |x: u16| x as u32),
        S::I32x4ExtendHighI16x8U => extend(a, true, |x: u16| x as u32),
        S::I64x2ExtendLowI32x4S => extend(a, false, |x: i32| x as i64),
        S::I64x2ExtendHighI32x4S => extend(a, true, |x: i32| x as i64),
        S::I64x2ExtendLowI32x4U => extend(a, false, |x: u32| x as u64),
        S::I64x2ExtendHighI32x4U => extend(a, true, |x: u32| x as u64),
        S::F32x4Ceil => map(a, ops::f32_ceil),
        S::F32x4Floor => map(a, ops::f32_floor),
        S::F32x4Trunc => map(a, ops::f32_trunc),
        S::F32x4Nearest => map(a, ops::f32_nearest),
        S::F32x4Sqrt => map(a, ops::f32_sqrt),
        S::F32x4Abs => a & !(0x8000_0000u128 * splat(1u32)),
        S::F32x4Neg => a ^ (0x8000_0000u128 * splat(1u32)),
        S::F64x2Ceil => map(a, ops::f64_ceil),
        S::F64x2Floor => map(a, ops::f64_floor),
        S::F64x2Trunc => map(a, ops::f64_trunc),
        S::F64x2Nearest => map(a, ops::f64_nearest),
        S::F64x2Sqrt => map(a, ops::f64_sqrt),
        S::F64x2Abs => a & !(0x8000_0000_0000_0000u128 * splat(1u64)),
        S::F64x2Neg => a ^ (0x8000_0000_0000_0000u128 * splat(1u64)),
        // `as` from float to int saturates and maps NaN to 0: the `trunc_sat` semantics.
        S::I32x4TruncSatF32x4S => map(a, |x: f32| x as i32),
        S::I32x4TruncSatF32x4U => map(a, |x: f32| x as u32),
        S::F32x4ConvertI32x4S => map(a, |x: i32| x as f32),
        S::F32x4ConvertI32x4U => map(a, |x: u32| x as f32),
        // Two f64 lanes into i32 lanes 0 and 1; lanes 2 and 3 are zero.
        S::I32x4TruncSatF64x2SZero => (0..2).fold(0, |acc, i| acc | (f64::get(a, i) as i32).put(i)),
        S::I32x4TruncSatF64x2UZero => (0..2).fold(0, |acc, i| acc | (f64::get(a, i) as u32).put(i)),
        S::F64x2ConvertLowI32x4S => extend(a, false, |x: i32| x as f64),
        S::F64x2ConvertLowI32x4U => extend(a, false, |x: u32| x as f64),
        S::F32x4DemoteF64x2Zero => (0..2).fold(0, |acc, i| acc | ops::demote(f64::get(a, i)).put(i)),
        S::F64x2PromoteLowF32x4 => extend(a, false, ops::promote),
        S::V128AnyTrue => u128::from(a != 0),
        S::I8x16AllTrue => all_true::<u8>(a),
        S::I16x8AllTrue => all_true::<u16>(a),
        S::I32x4AllTrue => all_true::<u32>(a),
        S::I64x2AllTrue => all_true::<u64>(a),
        S::I8x16Bitmask => bitmask::<i8>(a),
        S::I16x8Bitmask => bitmask::<i16>(a),
        S::I32x4Bitmask => bitmask::<i32>(a),
        S::I64x2Bitmask => bitmask::<i64>(a),
        S::I8x16Splat => splat(a as u8),
        S::I16x8Splat => splat(a as u16),
        S::I32x4Splat | S::F32x4Splat => splat(a as u32),
        S::I64x2Splat | S::F64x2Splat => splat(a as u64),
        S::I8x16ExtractLaneS => u128::from(i8::get(a, lane) as i32 as u32),
        S::I8x16ExtractLaneU => u128::from(u8::get(a, lane)),
        S::I16x8ExtractLaneS => u128::from(i16::get(a, lane) as i32 as u32),
        S::I16x8ExtractLaneU => u128::from(u16::get(a, lane)),
        S::I32x4ExtractLane | S::F32x4ExtractLane => u128::from(u32::get(a, lane)),
        S::I64x2ExtractLane | S::F64x2ExtractLane => u128::from(u64::get(a, lane)),
        _ => unreachable_op(op),
    }
}

/// A v128, v128 → v128, v128, i32 → v128 (shift) or v128, scalar → v128 (`replace_lane`)
/// operator; a scalar `b` is in its low bits.
pub fn binary(op: SimdOp, lane: u8, a: u128, b: u128) -> u128 {
    use SimdOp as S;
    let lane = lane as usize;
    match op {
        S::V128And => a & b,
        S::V128AndNot => a & !b,
        S::V128Or => a | b,
        S::V128Xor => a ^ b,
        S::I8x16Swizzle => map(b, |i: u8| if i < 16 { u8::get(a, i as usize) } else { 0 }),
        S::I8x16Eq => cmp(a, b, |x: u8, y| x == y),
        S::I8x16Ne => cmp(a, b, |x: u8, y| x != y),
        S::I8x16LtS => cmp(a, b, |x: i8, y| x < y),
        S::I8x16LtU => cmp(a, b, |x: u8, y| x < y),
        S::I8x16GtS => cmp(a, b, |x: i8, y| x > y),
        S::I8x16GtU => cmp(a, b, |x: u8, y| x > y),
        S::I8x16LeS => cmp(a, b, |x: i8, y| x <= y),
        S::I8x16LeU => cmp(a, b, |x: u8, y| x <= y),
        S::I8x16GeS => cmp(a, b, |x: i8, y| x >= y),
        S::I8x16GeU => cmp(a, b, |x: u8, y| x >= y),
        S::I16x8Eq => cmp(a, b, |x: u16, y| x == y),
        S::I16x8Ne => cmp(a, b, |x: u16, y| x != y),
        S::I16x8LtS => cmp(a, b, |x: i16, y| x < y),
        S::I16x8LtU => cmp(a, b, |x: u16, y| x < y),
        S::I16x8GtS => cmp(a, b, |x: i16, y| x > y),
        S::I16x8GtU => cmp(a, b, |x: u16, y| x > y),
        S::I16x8LeS => cmp(a, b, |x: i16, y| x <= y),
        S::I16x8LeU => cmp(a, b, |x: u16, y| x <= y),
        S::I16x8GeS => cmp(a, b, |x: i16, y| x >= y),
        S::I16x8GeU => cmp(a, b, |x: u16, y| x >= y),
        S::I32x4Eq => cmp(a, b, |x: u32, y| x == y),
        S::I32x4Ne => cmp(a, b, |x: u32, y| x != y),
        S::I32x4LtS => cmp(a, b, |x: i32, y| x < y),
        S::I32x4LtU => cmp(a, b, |x: u32, y| x < y),
        S::I32x4GtS => cmp(a, b, |x: i32, y| x > y),
        S::I32x4GtU => cmp(a, b, |x: u32, y| x > y),
        S::I32x4LeS => cmp(a, b, |x: i32, y| x <= y),
        S::I32x4LeU => cmp(a, b, |x: u32, y| x <= y),
        S::I32x4GeS => cmp(a, b, |x: i32, y| x >= y),
        S::I32x4GeU => cmp(a, b, |x: u32, y| x >= y),
        S::I64x2Eq => cmp(a, b, |x: u64, y| x == y),
        S::I64x2Ne => cmp(a, b, |x: u64, y| x != y),
        S::I64x2LtS => cmp(a, b, |x: i64, y| x < y),
        S::I64x2GtS => cmp(a, b, |x: i64, y| x > y),
        S::I64x2LeS => cmp(a, b, |x: i64, y| x <= y),
        S::I64x2GeS => cmp(a, b, |x: i64, y| x >= y),
        S::F32x4Eq => cmp(a, b, |x: f32, y| x == y),
        S::F32x4Ne => cmp(a, b, |x: f32, y| x != y),
        S::F32x4Lt => cmp(a, b, |x: f32, y| x < y),
        S::F32x4Gt => cmp(a, b, |x: f32, y| x > y),
        S::F32x4Le => cmp(a, b, |x: f32, y| x <= y),
        S::F32x4Ge => cmp(a, b, |x: f32, y| x >= y),
        S::F64x2Eq => cmp(a, b, |x: f64, y| x == y),
        S::F64x2Ne => cmp(a, b, |x: f64, y| x != y),
        S::F64x2Lt => cmp(a, b, |x: f64, y| x < y),
        S::F64x2Gt => cmp(a, b, |x: f64, y| x > y),
        S::F64x2Le => cmp(a, b, |x: f64, y| x <= y),
        S::F64x2Ge => cmp(a, b, |x: f64, y| x >= y),
        S::I8x16NarrowI16x8S => narrow(a, b, |x: i16| x.clamp(i8::MIN as i16, i8::MAX as i16) as i8),
        S::I8x16NarrowI16x8U => narrow(a, b, |x: i16| x.clamp(0, u8::MAX as i16) as u8),
        S::I16x8NarrowI32x4S => narrow(a, b, |x: i32| x.clamp(i16::MIN as i32, i16::MAX as i32) as i16),
        S::I16x8NarrowI32x4U => narrow(a, b, |x: i32| x.clamp(0, u16::MAX as i32) as u16),
        S::I8x16Add => zip(a, b, |x: u8, y| x.wrapping_add(y)),
        S::I8x16AddSatS => zip(a, b, |x: i8, y| x.saturating_add(y)),
        S::I8x16AddSatU => zip(a, b, |x: u8, y| x.saturating_add(y)),
        S::I8x16Sub => zip(a, b, |x: u8, y| x.wrapping_sub(y)),
        S::I8x16SubSatS => zip(a, b, |x: i8, y| x.saturating_sub(y)),
        S::I8x16SubSatU => zip(a, b, |x: u8, y| x.saturating_sub(y)),
        S::I8x16MinS => zip(a, b, |x: i8, y| x.min(y)),
        S::I8x16MinU => zip(a, b, |x: u8, y| x.min(y)),
        S::I8x16MaxS => zip(a, b, |x: i8, y| x.max(y)),
        S::I8x16MaxU => zip(a, b, |x: u8, y| x.max(y)),
        S::I8x16AvgrU => zip(a, b, |x: u8, y| ((x as u16 + y as u16 + 1) >> 1) as u8),
        S::I16x8Q15MulrSatS => {
            zip(a, b, |x: i16, y| ((x as i32 * y as i32 + 0x4000) >> 15).clamp(i16::MIN as i32, i16::MAX as i32) as i16)
        }
        S::I16x8Add => zip(a, b, |x: u16, y| x.wrapping_add(y)),
        S::I16x8AddSatS => zip(a, b, |x: i16, y| x.saturating_add(y)),
        S::I16x8AddSatU => zip(a, b, |x: u16, y| x.saturating_add(y)),
        S::I16x8Sub => zip(a, b, |x: u16, y| x.wrapping_sub(y)),
        S::I16x8SubSatS => zip(a, b, |x: i16, y| x.saturating_sub(y)),
        S::I16x8SubSatU => zip(a, b, |x: u16, y| x.saturating_sub(y)),
        S::I16x8Mul => zip(a, b, |x: u16, y| x.wrapping_mul(y)),
        S::I16x8MinS => zip(a, b, |x: i16, y| x.min(y)),
        S::I16x8MinU => zip(a, b, |x: u16, y| x.min(y)),
        S::I16x8MaxS => zip(a, b, |x: i16, y| x.max(y)),
        S::I16x8MaxU => zip(a, b, |x: u16, y| x.max(y)),
        S::I16x8AvgrU => zip(a, b, |x: u16, y| ((x as u32 + y as u32 + 1) >> 1) as u16),
        S::I16x8ExtMulLowI8x16S => extmul(a, b, false, |x: i8, y: i8| x as i16 * y as i16),
        S::I16x8ExtMulHighI8x16S => extmul(a, b, true, |x: i8, y: i8| x as i16 * y as i16),
        S::I16x8ExtMulLowI8x16U => extmul(a, b, false, |x: u8, y: u8| x as u16 * y as u16),
        S::I16x8ExtMulHighI8x16U => extmul(a, b, true, |x: u8, y: u8| x as u16 * y as u16),
        S::I32x4Add => zip(a, b, |x: u32, y| x.wrapping_add(y)),
        S::I32x4Sub => zip(a, b, |x: u32, y| x.wrapping_sub(y)),
        S::I32x4Mul => zip(a, b, |x: u32, y| x.wrapping_mul(y)),
        S::I32x4MinS => zip(a, b, |x: i32, y| x.min(y)),
        S::I32x4MinU => zip(a, b, |x: u32, y| x.min(y)),
        S::I32x4MaxS => zip(a, b, |x: i32, y| x.max(y)),
        S::I32x4MaxU => zip(a, b, |x: u32, y| x.max(y)),
        S::I32x4DotI16x8S => (0..4).fold(0, |acc, i| {
            let lo = i16::get(a, 2 * i) as i32 * i16::get(b, 2 * i) as i32;
            let hi = i16::get(a, 2 * i + 1) as i32 * i16::get(b, 2 * i + 1) as i32;
            acc | lo.wrapping_add(hi).put(i)
        }),
        S::I32x4ExtMulLowI16x8S => extmul(a, b, false, |x: i16, y: i16| x as i32 * y as i32),
        S::I32x4ExtMulHighI16x8S => extmul(a, b, true, |x: i16, y: i16| x as i32 * y as i32),
        S::I32x4ExtMulLowI16x8U => extmul(a, b, false, |x: u16, y: u16| x as u32 * y as u32),
        S::I32x4ExtMulHighI16x8U => extmul(a, b, true, |x: u16, y: u16| x as u32 * y as u32),
        S::I64x2Add => zip(a, b, |x: u64, y| x.wrapping_add(y)),
        S::I64x2Sub => zip(a, b, |x: u64, y| x.wrapping_sub(y)),
        S::I64x2Mul => zip(a, b, |x: u64, y| x.wrapping_mul(y)),
        S::I64x2ExtMulLowI32x4S => extmul(a, b, false, |x: i32, y: i32| x as i64 * y as i64),
        S::I64x2ExtMulHighI32x4S => extmul(a, b, true, |x: i32, y: i32| x as i64 * y as i64),
        S::I64x2ExtMulLowI32x4U => extmul(a, b, false, |x: u32, y: u32| x as u64 * y as u64),
        S::I64x2ExtMulHighI32x4U => extmul(a, b, true, |x: u32, y: u32| x as u64 * y as u64),
        S::F32x4Add => zip(a, b, |x: f32, y| x + y),
        S::F32x4Sub => zip(a, b, |x: f32, y| x - y),
        S::F32x4Mul => zip(a, b, |x: f32, y| x * y),
        S::F32x4Div => zip(a, b, |x: f32, y| x / y),
        S::F32x4Min => zip(a, b, ops::f32_min),
        S::F32x4Max => zip(a, b, ops::f32_max),
        S::F32x4PMin => zip(a, b, f32_pmin),
        S::F32x4PMax => zip(a, b, f32_pmax),
        S::F64x2Add => zip(a, b, |x: f64, y| x + y),
        S::F64x2Sub => zip(a, b, |x: f64, y| x - y),
        S::F64x2Mul => zip(a, b, |x: f64, y| x * y),
        S::F64x2Div => zip(a, b, |x: f64, y| x / y),
        S::F64x2Min => zip(a, b, ops::f64_min),
        S::F64x2Max => zip(a, b, ops::f64_max),
        S::F64x2PMin => zip(a, b, f64_pmin),
        S::F64x2PMax => zip(a, b, f64_pmax),
        // Shift counts are taken modulo the lane width.
        S::I8x16Shl => map(a, |x: u8| x << (b as u32 % 8)),
        S::I8x16ShrS => map(a, |x: i8| x >> (b as u32 % 8)),
        S::I8x16ShrU => map(a, |x: u8| x >> (b as u32 % 8)),
        S::I16x8Shl => map(a, |x: u16| x << (b as u32 % 16)),
        S::I16x8ShrS => map(a, |x: i16| x >> (b as u32 % 16)),
        S::I16x8ShrU => map(a, |x: u16| x >> (b as u32 % 16)),
        S::I32x4Shl => map(a, |x: u32| x << (b as u32 % 32)),
        S::I32x4ShrS => map(a, |x: i32| x >> (b as u32 % 32)),
        S::I32x4ShrU => map(a, |x: u32| x >> (b as u32 % 32)),
        S::I64x2Shl => map(a, |x: u64| x << (b as u32 % 64)),
        S::I64x2ShrS => map(a, |x: i64| x >> (b as u32 % 64)),
        S::I64x2ShrU => map(a, |x: u64| x >> (b as u32 % 64)),
        S::I8x16ReplaceLane => replace::<u8>(a, lane, b),
        S::I16x8ReplaceLane => replace::<u16>(a, lane, b),
        S::I32x4ReplaceLane | S::F32x4ReplaceLane => replace::<u32>(a, lane, b),
        S::I64x2ReplaceLane | S::F64x2ReplaceLane => replace::<u64>(a, lane, b),
        _ => unreachable_op(op),
    }
}

/// `a` with lane `lane` (of type `T`) replaced by the low bits of `x`.
fn replace<T: Lane>(a: u128, lane: usize, x: u128) -> u128 {
    let bits = T::BYTES * 8;
    let mask = (u128::MAX >> (128 - bits)) << (lane * bits);
    (a & !mask) | ((x << (lane * bits)) & mask)
}

/// `v128.bitselect`: bits of `a` where `c` is set, of `b` elsewhere.
pub fn bitselect(a: u128, b: u128, c: u128) -> u128 {
    (a & c) | (b & !c)
}

/// `i8x16.shuffle`: lane `i` of the result is byte `lanes[i]` of `a ++ b` (validation
/// guarantees `lanes[i] < 32`).
pub fn shuffle(a: u128, b: u128, lanes: &[u8; 16]) -> u128 {
    let bytes = |i: u8| if i < 16 { u8::get(a, i as usize) } else { u8::get(b, (i & 15) as usize) };
    (0..16).fold(0, |acc, i| acc | bytes(lanes[i]).put(i))
}

/// The memory forms of `v128.load*` that make a whole vector out of some bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
#[allow(missing_docs)]
pub enum LoadKind {
    V128,
    I8x8S,
    I8x8U,
    I16x4S,
    I16x4U,
    I32x2S,
    I32x2U,
    Splat8,
    Splat16,
    Splat32,
    Splat64,
    Zero32,
    Zero64,
}

impl LoadKind {
    /// The [`LoadKind`] of a load operator, if it is one.
    pub fn of(op: &Operator<'_>) -> Option<(LoadKind, u64)> {
        use Operator as O;
        Some(match *op {
            O::V128Load { memarg } => (LoadKind::V128, memarg.offset),
            O::V128Load8x8S { memarg } => (LoadKind::I8x8S, memarg.offset),
            O::V128Load8x8U { memarg } => (LoadKind::I8x8U, memarg.offset),
            O::V128Load16x4S { memarg } => (LoadKind::I16x4S, memarg.offset),
            O::V128Load16x4U { memarg } => (LoadKind::I16x4U, memarg.offset),
            O::V128Load32x2S { memarg } => (LoadKind::I32x2S, memarg.offset),
            O::V128Load32x2U { memarg } => (LoadKind::I32x2U, memarg.offset),
            O::V128Load8Splat { memarg } => (LoadKind::Splat8, memarg.offset),
            O::V128Load16Splat { memarg } => (LoadKind::Splat16, memarg.offset),
            O::V128Load32Splat { memarg } => (LoadKind::Splat32, memarg.offset),
            O::V128Load64Splat { memarg } => (LoadKind::Splat64, memarg.offset),
            O::V128Load32Zero { memarg } => (LoadKind::Zero32, memarg.offset),
            O::V128Load64Zero { memarg } => (LoadKind::Zero64, memarg.offset),
            _ => return None,
        })
    }

    /// Bytes read from memory.
    pub fn bytes(self) -> usize {
        match self {
            LoadKind::V128 => 16,
            LoadKind::I8x8S | LoadKind::I8x8U | LoadKind::I16x4S | LoadKind::I16x4U => 8,
            LoadKind::I32x2S | LoadKind::I32x2U | LoadKind::Splat64 | LoadKind::Zero64 => 8,
            LoadKind::Splat8 => 1,
            LoadKind::Splat16 => 2,
            LoadKind::Splat32 | LoadKind::Zero32 => 4,
        }
    }

    /// The vector made of the [`LoadKind::bytes`] little-endian bytes in the low bits of `raw`.
    pub fn convert(self, raw: u128) -> u128 {
        match self {
            LoadKind::V128 | LoadKind::Zero32 | LoadKind::Zero64 => raw,
            LoadKind::I8x8S => extend(raw, false, |x: i8| x as i16),
            LoadKind::I8x8U => extend(raw, false, |x: u8| x as u16),
            LoadKind::I16x4S => extend(raw, false, |x: i16| x as i32),
            LoadKind::I16x4U => extend(raw, false, |x: u16| x as u32),
            LoadKind::I32x2S => extend(raw, false, |x: i32| x as i64),
            LoadKind::I32x2U => extend(raw, false, |x: u32| x as u64),
            LoadKind::Splat8 => splat(raw as u8),
            LoadKind::Splat16 => splat(raw as u16),
            LoadKind::Splat32 => splat(raw as u32),
            LoadKind::Splat64 => splat(raw as u64),
        }
    }
}

/// `v128.loadN_lane`: `a` with lane `lane` of `bytes`-byte lanes replaced by `raw`.
pub fn load_lane(a: u128, bytes: u8, lane: u8, raw: u128) -> u128 {
    match bytes {
        1 => replace::<u8>(a, lane as usize, raw),
        2 => replace::<u16>(a, lane as usize, raw),
        4 => replace::<u32>(a, lane as usize, raw),
        _ => replace::<u64>(a, lane as usize, raw),
    }
}

/// `v128.storeN_lane`: lane `lane` of `bytes`-byte lanes of `a`, in the low bits.
pub fn lane_bits(a: u128, bytes: u8, lane: u8) -> u128 {
    let bits = bytes as usize * 8;
    (a >> (lane as usize * bits)) & (u128::MAX >> (128 - bits))
}

#[cold]
fn unreachable_op(op: SimdOp) -> u128 {
    // The translator only emits an operator in the instruction whose form it has; getting here
    // is a translator bug, never input-dependent. Computing zero keeps execution memory-safe.
    debug_assert!(false, "SIMD operator {op:?} in the wrong instruction form");
    0
}
