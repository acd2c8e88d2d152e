//! Fixed-width SIMD (wasm `v128`) operators → Cranelift vector IR.
//!
//! Every v128 value on the operand stack, in locals, block parameters, globals and signatures
//! has the one Cranelift type [`V128`] (`i8x16`); an operator bitcasts its operands to the lane
//! type it works on and its result back. Bitcasts between vector types are free in registers and
//! Cranelift folds chains of them, so this costs nothing and keeps every merge point typed the
//! same way whatever lane view the producer used.
//!
//! Memory accesses (`v128.load`, `store`, the extending, splatting, zero-filling and lane loads
//! and stores) take their address from [`Trans::heap_addr`], the same bounds check (explicit
//! mode) or unchecked faulting access with a trap code (guard mode) as scalar accesses, so trap
//! kinds and locations are the same in both bounds modes.
//!
//! Where x86 needs care the lowering chooses Cranelift instructions whose semantics are wasm's
//! and leaves the x86 detail to Cranelift, which documents them: `fmin`/`fmax` propagate NaN and
//! order -0 < +0; `swizzle` yields 0 for out-of-range indices; shift amounts are taken modulo the
//! lane width; `sqmul_round_sat` saturates `0x8000 × 0x8000`; the saturating conversions give 0
//! for NaN. The `i32x4.trunc_sat_f64x2_*_zero` and `*.dot`/`extadd`/`extmul` shapes follow the
//! exact IR patterns Cranelift's x86 backend recognises (an `i64x2` narrow has no general
//! lowering there). Relaxed SIMD is not supported (the validator rejects it anyway).

use cranelift_codegen::ir::types::{F32X4, F64X2, I16, I16X8, I32X4, I64X2, I8X16};
use cranelift_codegen::ir::{ConstantData, Endianness};

use super::*;

/// The one Cranelift type of every wasm v128 value.
pub const V128: Type = I8X16;

/// Flags of a bitcast between vector types of different lane counts (Cranelift requires the
/// byte order to be explicit there; wasm lanes are little-endian).
fn lanes_flags() -> MemFlags {
    MemFlags::new().with_endianness(Endianness::Little)
}

/// A v128 constant with the bytes of `bits` (little-endian), typed `ty`.
pub fn vconst(b: &mut FunctionBuilder<'_>, ty: Type, bits: u128) -> Value {
    let c = b.func.dfg.constants.insert(ConstantData::from(&bits.to_le_bytes()[..]));
    b.ins().vconst(ty, c)
}

/// Reinterprets vector `v` as `ty` (no-op if it already has that type).
pub fn vcast(b: &mut FunctionBuilder<'_>, v: Value, ty: Type) -> Value {
    if b.func.dfg.value_type(v) == ty {
        v
    } else {
        b.ins().bitcast(ty, lanes_flags(), v)
    }
}

/// How a v128 load fills its vector.
#[derive(Clone, Copy)]
enum VLoad {
    /// `v128.load`.
    Full,
    /// `v128.loadNxM_s/u`: 8 bytes, each lane widened.
    Extend(fn(&mut FunctionBuilder<'_>, MemFlags, Value, i32) -> Value),
    /// `v128.loadN_splat`: one lane of this type copied to every lane of the vector type.
    Splat(Type, Type),
    /// `v128.loadN_zero`: one lane of this type in lane 0 of the vector type, the rest zero.
    Zero(Type, Type),
}

impl Trans<'_, '_> {
    /// Pops a v128 and views it as `ty`.
    fn vpop(&mut self, ty: Type) -> Value {
        let v = self.pop();
        vcast(&mut self.b, v, ty)
    }

    /// Pushes vector `v` as a v128.
    fn vpush(&mut self, v: Value) {
        let v = vcast(&mut self.b, v, V128);
        self.push(v);
    }

    fn vun(&mut self, ty: Type, f: impl FnOnce(&mut FunctionBuilder<'_>, Value) -> Value) {
        let a = self.vpop(ty);
        let v = f(&mut self.b, a);
        self.vpush(v);
    }

    fn vbin(&mut self, ty: Type, f: impl FnOnce(&mut FunctionBuilder<'_>, Value, Value) -> Value) {
        let y = self.vpop(ty);
        let x = self.vpop(ty);
        let v = f(&mut self.b, x, y);
        self.vpush(v);
    }

    fn vicmp(&mut self, ty: Type, cc: IntCC) {
        self.vbin(ty, |b, x, y| b.ins().icmp(cc, x, y));
    }

    fn vfcmp(&mut self, ty: Type, cc: FloatCC) {
        self.vbin(ty, |b, x, y| b.ins().fcmp(cc, x, y));
    }

    /// A shift by an i32 amount (Cranelift takes it modulo the lane width, as wasm does).
    fn vshift(&mut self, ty: Type, f: impl FnOnce(&mut FunctionBuilder<'_>, Value, Value) -> Value) {
        let amount = self.pop();
        let x = self.vpop(ty);
        let v = f(&mut self.b, x, amount);
        self.vpush(v);
    }

    /// `all_true` / `bitmask` style reductions to an i32.
    fn vreduce(&mut self, ty: Type, f: impl FnOnce(&mut FunctionBuilder<'_>, Value) -> Value) {
        let x = self.vpop(ty);
        let r = f(&mut self.b, x);
        let r = if self.b.func.dfg.value_type(r) == I32 { r } else { self.b.ins().uextend(I32, r) };
        self.push(r);
    }

    /// Pops an integer lane value (an i32 for lanes narrower than 32 bits) as lane type `lane`.
    fn pop_lane(&mut self, lane: Type) -> Value {
        let x = self.pop();
        if lane == I8 || lane == I16 {
            self.b.ins().ireduce(lane, x)
        } else {
            x
        }
    }

    fn vsplat(&mut self, ty: Type) {
        let x = self.pop_lane(ty.lane_type());
        let v = self.b.ins().splat(ty, x);
        self.vpush(v);
    }

    fn vextract(&mut self, ty: Type, lane: u8, signed: Option<bool>) {
        let v = self.vpop(ty);
        let x = self.b.ins().extractlane(v, lane);
        let x = match signed {
            Some(true) => self.b.ins().sextend(I32, x),
            Some(false) => self.b.ins().uextend(I32, x),
            None => x,
        };
        self.push(x);
    }

    fn vreplace(&mut self, ty: Type, lane: u8) {
        let x = self.pop_lane(ty.lane_type());
        let v = self.vpop(ty);
        let r = self.b.ins().insertlane(v, x, lane);
        self.vpush(r);
    }

    fn vload(&mut self, memarg: wasmparser::MemArg, size: u32, how: VLoad) {
        let addr = self.pop();
        let (p, off, f) = self.heap_addr(addr, memarg.offset, size);
        let v = match how {
            VLoad::Full => self.b.ins().load(V128, f, p, off),
            VLoad::Extend(load) => load(&mut self.b, f, p, off),
            VLoad::Splat(lane, ty) => {
                let x = self.b.ins().load(lane, f, p, off);
                self.b.ins().splat(ty, x)
            }
            VLoad::Zero(lane, ty) => {
                let x = self.b.ins().load(lane, f, p, off);
                self.b.ins().scalar_to_vector(ty, x)
            }
        };
        self.vpush(v);
    }

    fn vstore(&mut self, memarg: wasmparser::MemArg) {
        let v = self.vpop(V128);
        let addr = self.pop();
        let (p, off, f) = self.heap_addr(addr, memarg.offset, 16);
        self.b.ins().store(f, v, p, off);
    }

    /// `v128.loadN_lane`: wasm operands (address, vector); the access has the lane's size.
    fn vload_lane(&mut self, memarg: wasmparser::MemArg, ty: Type, lane: u8) {
        let v = self.vpop(ty);
        let addr = self.pop();
        let lt = ty.lane_type();
        let (p, off, f) = self.heap_addr(addr, memarg.offset, lt.bytes());
        let x = self.b.ins().load(lt, f, p, off);
        let r = self.b.ins().insertlane(v, x, lane);
        self.vpush(r);
    }

    fn vstore_lane(&mut self, memarg: wasmparser::MemArg, ty: Type, lane: u8) {
        let v = self.vpop(ty);
        let addr = self.pop();
        let lt = ty.lane_type();
        let (p, off, f) = self.heap_addr(addr, memarg.offset, lt.bytes());
        let x = self.b.ins().extractlane(v, lane);
        self.b.ins().store(f, x, p, off);
    }

    /// wasm `pmin`/`pmax`: `pmin(a, b) = b < a ? b : a`, `pmax(a, b) = a < b ? b : a` per lane
    /// (no NaN or signed-zero special cases, unlike `fmin`/`fmax`).
    fn vpminmax(&mut self, ty: Type, max: bool) {
        let b_ = self.vpop(ty);
        let a = self.vpop(ty);
        let mask =
            if max { self.b.ins().fcmp(FloatCC::LessThan, a, b_) } else { self.b.ins().fcmp(FloatCC::LessThan, b_, a) };
        let mask = vcast(&mut self.b, mask, ty);
        let r = self.b.ins().bitselect(mask, b_, a);
        self.vpush(r);
    }

    /// `extmul_low/high`: widen both operands' halves, multiply.
    fn vextmul(&mut self, ty: Type, high: bool, signed: bool) {
        let y = self.vpop(ty);
        let x = self.vpop(ty);
        let widen = |b: &mut FunctionBuilder<'_>, v: Value| match (high, signed) {
            (false, true) => b.ins().swiden_low(v),
            (true, true) => b.ins().swiden_high(v),
            (false, false) => b.ins().uwiden_low(v),
            (true, false) => b.ins().uwiden_high(v),
        };
        let xw = widen(&mut self.b, x);
        let yw = widen(&mut self.b, y);
        let r = self.b.ins().imul(xw, yw);
        self.vpush(r);
    }

    /// `extadd_pairwise`: widen both halves, add adjacent lanes.
    fn vextadd(&mut self, ty: Type, signed: bool) {
        let x = self.vpop(ty);
        let (lo, hi) = if signed {
            (self.b.ins().swiden_low(x), self.b.ins().swiden_high(x))
        } else {
            (self.b.ins().uwiden_low(x), self.b.ins().uwiden_high(x))
        };
        let r = self.b.ins().iadd_pairwise(lo, hi);
        self.vpush(r);
    }

    /// Translates one SIMD operator; anything else is reported unsupported by name.
    pub(super) fn simd(&mut self, op: Operator<'_>) -> Result<(), Error> {
        use Operator as O;
        match op {
            O::V128Load { memarg } => self.vload(memarg, 16, VLoad::Full),
            O::V128Load8x8S { memarg } => self.vload(memarg, 8, VLoad::Extend(|b, f, p, o| b.ins().sload8x8(f, p, o))),
            O::V128Load8x8U { memarg } => self.vload(memarg, 8, VLoad::Extend(|b, f, p, o| b.ins().uload8x8(f, p, o))),
            O::V128Load16x4S { memarg } => {
                self.vload(memarg, 8, VLoad::Extend(|b, f, p, o| b.ins().sload16x4(f, p, o)))
            }
            O::V128Load16x4U { memarg } => {
                self.vload(memarg, 8, VLoad::Extend(|b, f, p, o| b.ins().uload16x4(f, p, o)))
            }
            O::V128Load32x2S { memarg } => {
                self.vload(memarg, 8, VLoad::Extend(|b, f, p, o| b.ins().sload32x2(f, p, o)))
            }
            O::V128Load32x2U { memarg } => {
                self.vload(memarg, 8, VLoad::Extend(|b, f, p, o| b.ins().uload32x2(f, p, o)))
            }
            O::V128Load8Splat { memarg } => self.vload(memarg, 1, VLoad::Splat(I8, I8X16)),
            O::V128Load16Splat { memarg } => self.vload(memarg, 2, VLoad::Splat(I16, I16X8)),
            O::V128Load32Splat { memarg } => self.vload(memarg, 4, VLoad::Splat(I32, I32X4)),
            O::V128Load64Splat { memarg } => self.vload(memarg, 8, VLoad::Splat(I64, I64X2)),
            O::V128Load32Zero { memarg } => self.vload(memarg, 4, VLoad::Zero(I32, I32X4)),
            O::V128Load64Zero { memarg } => self.vload(memarg, 8, VLoad::Zero(I64, I64X2)),
            O::V128Store { memarg } => self.vstore(memarg),
            O::V128Load8Lane { memarg, lane } => self.vload_lane(memarg, I8X16, lane),
            O::V128Load16Lane { memarg, lane } => self.vload_lane(memarg, I16X8, lane),
            O::V128Load32Lane { memarg, lane } => self.vload_lane(memarg, I32X4, lane),
            O::V128Load64Lane { memarg, lane } => self.vload_lane(memarg, I64X2, lane),
            O::V128Store8Lane { memarg, lane } => self.vstore_lane(memarg, I8X16, lane),
            O::V128Store16Lane { memarg, lane } => self.vstore_lane(memarg, I16X8, lane),
            O::V128Store32Lane { memarg, lane } => self.vstore_lane(memarg, I32X4, lane),
            O::V128Store64Lane { memarg, lane } => self.vstore_lane(memarg, I64X2, lane),
            O::V128Const { value } => {
                let v = vconst(&mut self.b, V128, u128::from_le_bytes(*value.bytes()));
                self.push(v);
            }
            O::I8x16Shuffle { lanes } => {
                let y = self.vpop(V128);
                let x = self.vpop(V128);
                let mask = self.b.func.dfg.immediates.push(ConstantData::from(&lanes[..]));
                let r = self.b.ins().shuffle(x, y, mask);
                self.vpush(r);
            }
            O::I8x16ExtractLaneS { lane } => self.vextract(I8X16, lane, Some(true)),
            O::I8x16ExtractLaneU { lane } => self.vextract(I8X16, lane, Some(false)),
            O::I16x8ExtractLaneS { lane } => self.vextract(I16X8, lane, Some(true)),
            O::I16x8ExtractLaneU { lane } => self.vextract(I16X8, lane, Some(false)),
            O::I32x4ExtractLane { lane } => self.vextract(I32X4, lane, None),
            O::I64x2ExtractLane { lane } => self.vextract(I64X2, lane, None),
            O::F32x4ExtractLane { lane } => self.vextract(F32X4, lane, None),
            O::F64x2ExtractLane { lane } => self.vextract(F64X2, lane, None),
            O::I8x16ReplaceLane { lane } => self.vreplace(I8X16, lane),
            O::I16x8ReplaceLane { lane } => self.vreplace(I16X8, lane),
            O::I32x4ReplaceLane { lane } => self.vreplace(I32X4, lane),
            O::I64x2ReplaceLane { lane } => self.vreplace(I64X2, lane),
            O::F32x4ReplaceLane { lane } => self.vreplace(F32X4, lane),
            O::F64x2ReplaceLane { lane } => self.vreplace(F64X2, lane),
            O::I8x16Swizzle => self.vbin(I8X16, |b, x, y| b.ins().swizzle(x, y)),
            O::I8x16Splat => self.vsplat(I8X16),
            O::I16x8Splat => self.vsplat(I16X8),
            O::I32x4Splat => self.vsplat(I32X4),
            O::I64x2Splat => self.vsplat(I64X2),
            O::F32x4Splat => self.vsplat(F32X4),
            O::F64x2Splat => self.vsplat(F64X2),

            O::I8x16Eq => self.vicmp(I8X16, IntCC::Equal),
            O::I8x16Ne => self.vicmp(I8X16, IntCC::NotEqual),
            O::I8x16LtS => self.vicmp(I8X16, IntCC::SignedLessThan),
            O::I8x16LtU => self.vicmp(I8X16, IntCC::UnsignedLessThan),
            O::I8x16GtS => self.vicmp(I8X16, IntCC::SignedGreaterThan),
            O::I8x16GtU => self.vicmp(I8X16, IntCC::UnsignedGreaterThan),
            O::I8x16LeS => self.vicmp(I8X16, IntCC::SignedLessThanOrEqual),
            O::I8x16LeU => self.vicmp(I8X16, IntCC::UnsignedLessThanOrEqual),
            O::I8x16GeS => self.vicmp(I8X16, IntCC::SignedGreaterThanOrEqual),
            O::I8x16GeU => self.vicmp(I8X16, IntCC::UnsignedGreaterThanOrEqual),
            O::I16x8Eq => self.vicmp(I16X8, IntCC::Equal),
            O::I16x8Ne => self.vicmp(I16X8, IntCC::NotEqual),
            O::I16x8LtS => self.vicmp(I16X8, IntCC::SignedLessThan),
            O::I16x8LtU => self.vicmp(I16X8, IntCC::UnsignedLessThan),
            O::I16x8GtS => self.vicmp(I16X8, IntCC::SignedGreaterThan),
            O::I16x8GtU => self.vicmp(I16X8, IntCC::UnsignedGreaterThan),
            O::I16x8LeS => self.vicmp(I16X8, IntCC::SignedLessThanOrEqual),
            O::I16x8LeU => self.vicmp(I16X8, IntCC::UnsignedLessThanOrEqual),
            O::I16x8GeS => self.vicmp(I16X8, IntCC::SignedGreaterThanOrEqual),
            O::I16x8GeU => self.vicmp(I16X8, IntCC::UnsignedGreaterThanOrEqual),
            O::I32x4Eq => self.vicmp(I32X4, IntCC::Equal),
            O::I32x4Ne => self.vicmp(I32X4, IntCC::NotEqual),
            O::I32x4LtS => self.vicmp(I32X4, IntCC::SignedLessThan),
            O::I32x4LtU => self.vicmp(I32X4, IntCC::UnsignedLessThan),
            O::I32x4GtS => self.vicmp(I32X4, IntCC::SignedGreaterThan),
            O::I32x4GtU => self.vicmp(I32X4, IntCC::UnsignedGreaterThan),
            O::I32x4LeS => self.vicmp(I32X4, IntCC::SignedLessThanOrEqual),
            O::I32x4LeU => self.vicmp(I32X4, IntCC::UnsignedLessThanOrEqual),
            O::I32x4GeS => self.vicmp(I32X4, IntCC::SignedGreaterThanOrEqual),
            O::I32x4GeU => self.vicmp(I32X4, IntCC::UnsignedGreaterThanOrEqual),
            O::I64x2Eq => self.vicmp(I64X2, IntCC::Equal),
            O::I64x2Ne => self.vicmp(I64X2, IntCC::NotEqual),
            O::I64x2LtS => self.vicmp(I64X2, IntCC::SignedLessThan),
            O::I64x2GtS => self.vicmp(I64X2, IntCC::SignedGreaterThan),
            O::I64x2LeS => self.vicmp(I64X2, IntCC::SignedLessThanOrEqual),
            O::I64x2GeS => self.vicmp(I64X2, IntCC::SignedGreaterThanOrEqual),
            O::F32x4Eq => self.vfcmp(F32X4, FloatCC::Equal),
            O::F32x4Ne => self.vfcmp(F32X4, FloatCC::NotEqual),
            O::F32x4Lt => self.vfcmp(F32X4, FloatCC::LessThan),
            O::F32x4Gt => self.vfcmp(F32X4, FloatCC::GreaterThan),
            O::F32x4Le => self.vfcmp(F32X4, FloatCC::LessThanOrEqual),
            O::F32x4Ge => self.vfcmp(F32X4, FloatCC::GreaterThanOrEqual),
            O::F64x2Eq => self.vfcmp(F64X2, FloatCC::Equal),
            O::F64x2Ne => self.vfcmp(F64X2, FloatCC::NotEqual),
            O::F64x2Lt => self.vfcmp(F64X2, FloatCC::LessThan),
            O::F64x2Gt => self.vfcmp(F64X2, FloatCC::GreaterThan),
            O::F64x2Le => self.vfcmp(F64X2, FloatCC::LessThanOrEqual),
            O::F64x2Ge => self.vfcmp(F64X2, FloatCC::GreaterThanOrEqual),

            O::V128Not => self.vun(V128, |b, x| b.ins().bnot(x)),
            O::V128And => self.vbin(V128, |b, x, y| b.ins().band(x, y)),
            O::V128AndNot => self.vbin(V128, |b, x, y| b.ins().band_not(x, y)),
            O::V128Or => self.vbin(V128, |b, x, y| b.ins().bor(x, y)),
            O::V128Xor => self.vbin(V128, |b, x, y| b.ins().bxor(x, y)),
            O::V128Bitselect => {
                let c = self.vpop(V128);
                let y = self.vpop(V128);
                let x = self.vpop(V128);
                let r = self.b.ins().bitselect(c, x, y);
                self.vpush(r);
            }
            O::V128AnyTrue => self.vreduce(V128, |b, x| b.ins().vany_true(x)),
            O::I8x16AllTrue => self.vreduce(I8X16, |b, x| b.ins().vall_true(x)),
            O::I16x8AllTrue => self.vreduce(I16X8, |b, x| b.ins().vall_true(x)),
            O::I32x4AllTrue => self.vreduce(I32X4, |b, x| b.ins().vall_true(x)),
            O::I64x2AllTrue => self.vreduce(I64X2, |b, x| b.ins().vall_true(x)),
            O::I8x16Bitmask => self.vreduce(I8X16, |b, x| b.ins().vhigh_bits(I32, x)),
            O::I16x8Bitmask => self.vreduce(I16X8, |b, x| b.ins().vhigh_bits(I32, x)),
            O::I32x4Bitmask => self.vreduce(I32X4, |b, x| b.ins().vhigh_bits(I32, x)),
            O::I64x2Bitmask => self.vreduce(I64X2, |b, x| b.ins().vhigh_bits(I32, x)),

            O::I8x16Abs => self.vun(I8X16, |b, x| b.ins().iabs(x)),
            O::I16x8Abs => self.vun(I16X8, |b, x| b.ins().iabs(x)),
            O::I32x4Abs => self.vun(I32X4, |b, x| b.ins().iabs(x)),
            O::I64x2Abs => self.vun(I64X2, |b, x| b.ins().iabs(x)),
            O::I8x16Neg => self.vun(I8X16, |b, x| b.ins().ineg(x)),
            O::I16x8Neg => self.vun(I16X8, |b, x| b.ins().ineg(x)),
            O::I32x4Neg => self.vun(I32X4, |b, x| b.ins().ineg(x)),
            O::I64x2Neg => self.vun(I64X2, |b, x| b.ins().ineg(x)),
            O::I8x16Popcnt => self.vun(I8X16, |b, x| b.ins().popcnt(x)),
            O::I8x16NarrowI16x8S => self.vbin(I16X8, |b, x, y| b.ins().snarrow(x, y)),
            O::I8x16NarrowI16x8U => self.vbin(I16X8, |b, x, y| b.ins().unarrow(x, y)),
            O::I16x8NarrowI32x4S => self.vbin(I32X4, |b, x, y| b.ins().snarrow(x, y)),
            O::I16x8NarrowI32x4U => self.vbin(I32X4, |b, x, y| b.ins().unarrow(x, y)),

            O::I8x16Shl => self.vshift(I8X16, |b, x, s| b.ins().ishl(x, s)),
            O::I8x16ShrS => self.vshift(I8X16, |b, x, s| b.ins().sshr(x, s)),
            O::I8x16ShrU => self.vshift(I8X16, |b, x, s| b.ins().ushr(x, s)),
            O::I16x8Shl => self.vshift(I16X8, |b, x, s| b.ins().ishl(x, s)),
            O::I16x8ShrS => self.vshift(I16X8, |b, x, s| b.ins().sshr(x, s)),
            O::I16x8ShrU => self.vshift(I16X8, |b, x, s| b.ins().ushr(x, s)),
            O::I32x4Shl => self.vshift(I32X4, |b, x, s| b.ins().ishl(x, s)),
            O::I32x4ShrS => self.vshift(I32X4, |b, x, s| b.ins().sshr(x, s)),
            O::I32x4ShrU => self.vshift(I32X4, |b, x, s| b.ins().ushr(x, s)),
            O::I64x2Shl => self.vshift(I64X2, |b, x, s| b.ins().ishl(x, s)),
            O::I64x2ShrS => self.vshift(I64X2, |b, x, s| b.ins().sshr(x, s)),
            O::I64x2ShrU => self.vshift(I64X2, |b, x, s| b.ins().ushr(x, s)),

            O::I8x16Add => self.vbin(I8X16, |b, x, y| b.ins().iadd(x, y)),
            O::I16x8Add => self.vbin(I16X8, |b, x, y| b.ins().iadd(x, y)),
            O::I32x4Add => self.vbin(I32X4, |b, x, y| b.ins().iadd(x, y)),
            O::I64x2Add => self.vbin(I64X2, |b, x, y| b.ins().iadd(x, y)),
            O::I8x16Sub => self.vbin(I8X16, |b, x, y| b.ins().isub(x, y)),
            O::I16x8Sub => self.vbin(I16X8, |b, x, y| b.ins().isub(x, y)),
            O::I32x4Sub => self.vbin(I32X4, |b, x, y| b.ins().isub(x, y)),
            O::I64x2Sub => self.vbin(I64X2, |b, x, y| b.ins().isub(x, y)),
            O::I16x8Mul => self.vbin(I16X8, |b, x, y| b.ins().imul(x, y)),
            O::I32x4Mul => self.vbin(I32X4, |b, x, y| b.ins().imul(x, y)),
            O::I64x2Mul => self.vbin(I64X2, |b, x, y| b.ins().imul(x, y)),
            O::I8x16AddSatS => self.vbin(I8X16, |b, x, y| b.ins().sadd_sat(x, y)),
            O::I8x16AddSatU => self.vbin(I8X16, |b, x, y| b.ins().uadd_sat(x, y)),
            O::I8x16SubSatS => self.vbin(I8X16, |b, x, y| b.ins().ssub_sat(x, y)),
            O::I8x16SubSatU => self.vbin(I8X16, |b, x, y| b.ins().usub_sat(x, y)),
            O::I16x8AddSatS => self.vbin(I16X8, |b, x, y| b.ins().sadd_sat(x, y)),
            O::I16x8AddSatU => self.vbin(I16X8, |b, x, y| b.ins().uadd_sat(x, y)),
            O::I16x8SubSatS => self.vbin(I16X8, |b, x, y| b.ins().ssub_sat(x, y)),
            O::I16x8SubSatU => self.vbin(I16X8, |b, x, y| b.ins().usub_sat(x, y)),
            O::I8x16MinS => self.vbin(I8X16, |b, x, y| b.ins().smin(x, y)),
            O::I8x16MinU => self.vbin(I8X16, |b, x, y| b.ins().umin(x, y)),
            O::I8x16MaxS => self.vbin(I8X16, |b, x, y| b.ins().smax(x, y)),
            O::I8x16MaxU => self.vbin(I8X16, |b, x, y| b.ins().umax(x, y)),
            O::I16x8MinS => self.vbin(I16X8, |b, x, y| b.ins().smin(x, y)),
            O::I16x8MinU => self.vbin(I16X8, |b, x, y| b.ins().umin(x, y)),
            O::I16x8MaxS => self.vbin(I16X8, |b, x, y| b.ins().smax(x, y)),
            O::I16x8MaxU => self.vbin(I16X8, |b, x, y| b.ins().umax(x, y)),
            O::I32x4MinS => self.vbin(I32X4, |b, x, y| b.ins().smin(x, y)),
            O::I32x4MinU => self.vbin(I32X4, |b, x, y| b.ins().umin(x, y)),
            O::I32x4MaxS => self.vbin(I32X4, |b, x, y| b.ins().smax(x, y)),
            O::I32x4MaxU => self.vbin(I32X4, |b, x, y| b.ins().umax(x, y)),
            O::I8x16AvgrU => self.vbin(I8X16, |b, x, y| b.ins().avg_round(x, y)),
            O::I16x8AvgrU => self.vbin(I16X8, |b, x, y| b.ins().avg_round(x, y)),
            O::I16x8Q15MulrSatS => self.vbin(I16X8, |b, x, y| b.ins().sqmul_round_sat(x, y)),
            O::I32x4DotI16x8S => self.vbin(I16X8, |b, x, y| {
                // The shape Cranelift's x86 backend turns into one `pmaddwd`.
                let (xl, yl) = (b.ins().swiden_low(x), b.ins().swiden_low(y));
                let (xh, yh) = (b.ins().swiden_high(x), b.ins().swiden_high(y));
                let lo = b.ins().imul(xl, yl);
                let hi = b.ins().imul(xh, yh);
                b.ins().iadd_pairwise(lo, hi)
            }),

            O::I16x8ExtAddPairwiseI8x16S => self.vextadd(I8X16, true),
            O::I16x8ExtAddPairwiseI8x16U => self.vextadd(I8X16, false),
            O::I32x4ExtAddPairwiseI16x8S => self.vextadd(I16X8, true),
            O::I32x4ExtAddPairwiseI16x8U => self.vextadd(I16X8, false),
            O::I16x8ExtMulLowI8x16S => self.vextmul(I8X16, false, true),
            O::I16x8ExtMulHighI8x16S => self.vextmul(I8X16, true, true),
            O::I16x8ExtMulLowI8x16U => self.vextmul(I8X16, false, false),
            O::I16x8ExtMulHighI8x16U => self.vextmul(I8X16, true, false),
            O::I32x4ExtMulLowI16x8S => self.vextmul(I16X8, false, true),
            O::I32x4ExtMulHighI16x8S => self.vextmul(I16X8, true, true),
            O::I32x4ExtMulLowI16x8U => self.vextmul(I16X8, false, false),
            O::I32x4ExtMulHighI16x8U => self.vextmul(I16X8, true, false),
            O::I64x2ExtMulLowI32x4S => self.vextmul(I32X4, false, true),
            O::I64x2ExtMulHighI32x4S => self.vextmul(I32X4, true, true),
            O::I64x2ExtMulLowI32x4U => self.vextmul(I32X4, false, false),
            O::I64x2ExtMulHighI32x4U => self.vextmul(I32X4, true, false),
            O::I16x8ExtendLowI8x16S => self.vun(I8X16, |b, x| b.ins().swiden_low(x)),
            O::I16x8ExtendHighI8x16S => self.vun(I8X16, |b, x| b.ins().swiden_high(x)),
            O::I16x8ExtendLowI8x16U => self.vun(I8X16, |b, x| b.ins().uwiden_low(x)),
            O::I16x8ExtendHighI8x16U => self.vun(I8X16, |b, x| b.ins().uwiden_high(x)),
            O::I32x4ExtendLowI16x8S => self.vun(I16X8, |b, x| b.ins().swiden_low(x)),
            O::I32x4ExtendHighI16x8S => self.vun(I16X8, |b, x| b.ins().swiden_high(x)),
            O::I32x4ExtendLowI16x8U => self.vun(I16X8, |b, x| b.ins().uwiden_low(x)),
            O::I32x4ExtendHighI16x8U => self.vun(I16X8, |b, x| b.ins().uwiden_high(x)),
            O::I64x2ExtendLowI32x4S => self.vun(I32X4, |b, x| b.ins().swiden_low(x)),
            O::I64x2ExtendHighI32x4S => self.vun(I32X4, |b, x| b.ins().swiden_high(x)),
            O::I64x2ExtendLowI32x4U => self.vun(I32X4, |b, x| b.ins().uwiden_low(x)),
            O::I64x2ExtendHighI32x4U => self.vun(I32X4, |b, x| b.ins().uwiden_high(x)),

            O::F32x4Ceil => self.vun(F32X4, |b, x| b.ins().ceil(x)),
            O::F32x4Floor => self.vun(F32X4, |b, x| b.ins().floor(x)),
            O::F32x4Trunc => self.vun(F32X4, |b, x| b.ins().trunc(x)),
            O::F32x4Nearest => self.vun(F32X4, |b, x| b.ins().nearest(x)),
            O::F32x4Abs => self.vun(F32X4, |b, x| b.ins().fabs(x)),
            O::F32x4Neg => self.vun(F32X4, |b, x| b.ins().fneg(x)),
            O::F32x4Sqrt => self.vun(F32X4, |b, x| b.ins().sqrt(x)),
            O::F32x4Add => self.vbin(F32X4, |b, x, y| b.ins().fadd(x, y)),
            O::F32x4Sub => self.vbin(F32X4, |b, x, y| b.ins().fsub(x, y)),
            O::F32x4Mul => self.vbin(F32X4, |b, x, y| b.ins().fmul(x, y)),
            O::F32x4Div => self.vbin(F32X4, |b, x, y| b.ins().fdiv(x, y)),
            O::F32x4Min => self.vbin(F32X4, |b, x, y| b.ins().fmin(x, y)),
            O::F32x4Max => self.vbin(F32X4, |b, x, y| b.ins().fmax(x, y)),
            O::F32x4PMin => self.vpminmax(F32X4, false),
            O::F32x4PMax => self.vpminmax(F32X4, true),
            O::F64x2Ceil => self.vun(F64X2, |b, x| b.ins().ceil(x)),
            O::F64x2Floor => self.vun(F64X2, |b, x| b.ins().floor(x)),
            O::F64x2Trunc => self.vun(F64X2, |b, x| b.ins().trunc(x)),
            O::F64x2Nearest => self.vun(F64X2, |b, x| b.ins().nearest(x)),
            O::F64x2Abs => self.vun(F64X2, |b, x| b.ins().fabs(x)),
            O::F64x2Neg => self.vun(F64X2, |b, x| b.ins().fneg(x)),
            O::F64x2Sqrt => self.vun(F64X2, |b, x| b.ins().sqrt(x)),
            O::F64x2Add => self.vbin(F64X2, |b, x, y| b.ins().fadd(x, y)),
            O::F64x2Sub => self.vbin(F64X2, |b, x, y| b.ins().fsub(x, y)),
            O::F64x2Mul => self.vbin(F64X2, |b, x, y| b.ins().fmul(x, y)),
            O::F64x2Div => self.vbin(F64X2, |b, x, y| b.ins().fdiv(x, y)),
            O::F64x2Min => self.vbin(F64X2, |b, x, y| b.ins().fmin(x, y)),
            O::F64x2Max => self.vbin(F64X2, |b, x, y| b.ins().fmax(x, y)),
            O::F64x2PMin => self.vpminmax(F64X2, false),
            O::F64x2PMax => self.vpminmax(F64X2, true),

            O::I32x4TruncSatF32x4S => self.vun(F32X4, |b, x| b.ins().fcvt_to_sint_sat(I32X4, x)),
            O::I32x4TruncSatF32x4U => self.vun(F32X4, |b, x| b.ins().fcvt_to_uint_sat(I32X4, x)),
            O::F32x4ConvertI32x4S => self.vun(I32X4, |b, x| b.ins().fcvt_from_sint(F32X4, x)),
            O::F32x4ConvertI32x4U => self.vun(I32X4, |b, x| b.ins().fcvt_from_uint(F32X4, x)),
            O::I32x4TruncSatF64x2SZero => self.vun(F64X2, |b, x| {
                // Exactly the `snarrow(fcvt_to_sint_sat, vconst 0)` shape x86 lowers (there is
                // no general i64x2 narrow).
                let wide = b.ins().fcvt_to_sint_sat(I64X2, x);
                let zero = vconst(b, I64X2, 0);
                b.ins().snarrow(wide, zero)
            }),
            O::I32x4TruncSatF64x2UZero => self.vun(F64X2, |b, x| {
                let wide = b.ins().fcvt_to_uint_sat(I64X2, x);
                let zero = vconst(b, I64X2, 0);
                b.ins().uunarrow(wide, zero)
            }),
            O::F64x2ConvertLowI32x4S => self.vun(I32X4, |b, x| {
                let wide = b.ins().swiden_low(x);
                b.ins().fcvt_from_sint(F64X2, wide)
            }),
            O::F64x2ConvertLowI32x4U => self.vun(I32X4, |b, x| {
                let wide = b.ins().uwiden_low(x);
                b.ins().fcvt_from_uint(F64X2, wide)
            }),
            O::F32x4DemoteF64x2Zero => self.vun(F64X2, |b, x| b.ins().fvdemote(x)),
            O::F64x2PromoteLowF32x4 => self.vun(F32X4, |b, x| b.ins().fvpromote_low(x)),

            other => return Err(unsupported(&format!("operator {other:?}"))),
        }
        Ok(())
    }
}
