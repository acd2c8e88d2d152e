//! The interpreter's internal code: a compact register-style instruction set.
//!
//! Every operand is a *slot*, an index into the current frame of the value stack. A frame holds
//! the function's locals (parameters first) followed by its operand-stack temporaries; because the
//! wasm operand-stack height is known statically at every instruction, each wasm operand has a
//! fixed slot, and the translator can read locals in place instead of copying them (a
//! `local.get` costs nothing). Branch targets are precomputed instruction indices; nothing is
//! scanned at run time: branch targets are stored as offsets (as `u32` bit patterns of `i32`)
//! from the instruction after the branch.
//!
//! Values take the slots of the runtime's slot encoding ([`kwasm_runtime::types`]): a v128
//! occupies two consecutive slots, low half first, and slot counts (`num_params`, `num_locals`,
//! `num_results`, call arguments) count slots, not values.

use alloc::vec::Vec;

use kwasm_runtime::InstanceId;

use crate::simd::{LoadKind, SimdOp};

/// Index of a value slot relative to the frame base.
pub type Slot = u32;

macro_rules! define_instrs {
    (
        binary { $($bin:ident),* $(,)? }
        unary { $($un:ident),* $(,)? }
        load { $($load:ident),* $(,)? }
        store { $($store:ident),* $(,)? }
        binary_imm { $($binimm:ident),* $(,)? }
        other { $($(#[$doc:meta])* $other:ident { $($field:ident : $ty:ty),* $(,)? }),* $(,)? }
    ) => {
        /// One interpreter instruction.
        #[derive(Clone, Copy, Debug, PartialEq)]
        #[allow(missing_docs)]
        #[repr(u8)]
        pub enum Instr {
            $( $bin { dst: Slot, a: Slot, b: Slot }, )*
            $( $un { dst: Slot, src: Slot }, )*
            $( $load { dst: Slot, addr: Slot, offset: u32 }, )*
            $( $store { addr: Slot, val: Slot, offset: u32 }, )*
            $( $binimm { dst: Slot, a: Slot, imm: i32 }, )*
            $( $(#[$doc])* $other { $($field: $ty),* }, )*
        }

        /// The handler of every opcode, in variant (discriminant) order.
        pub(crate) static HANDLERS: &[crate::exec::Handler] = &[
            $( crate::exec::handlers::$bin, )*
            $( crate::exec::handlers::$un, )*
            $( crate::exec::handlers::$load, )*
            $( crate::exec::handlers::$store, )*
            $( crate::exec::handlers::$binimm, )*
            $( crate::exec::handlers::$other, )*
        ];

        impl Instr {
            /// The variant's name (for statistics and dumps).
            pub fn name(&self) -> &'static str {
                match self {
                    $( Instr::$bin { .. } => stringify!($bin), )*
                    $( Instr::$un { .. } => stringify!($un), )*
                    $( Instr::$load { .. } => stringify!($load), )*
                    $( Instr::$store { .. } => stringify!($store), )*
                    $( Instr::$binimm { .. } => stringify!($binimm), )*
                    $( Instr::$other { .. } => stringify!($other), )*
                }
            }

            /// The discriminant (index of the variant), for per-opcode statistics.
            pub fn opcode(&self) -> u8 {
                // SAFETY: `Instr` is `repr(u8)`, so its first byte is the discriminant.
                unsafe { *(self as *const Instr).cast::<u8>() }
            }

            /// The slot this instruction writes its single result to, if it is a pure
            /// computation whose destination may be redirected (the `local.set` fusion).
            pub fn result_slot_mut(&mut self) -> Option<&mut Slot> {
                match self {
                    $( Instr::$bin { dst, .. } => Some(dst), )*
                    $( Instr::$un { dst, .. } => Some(dst), )*
                    $( Instr::$load { dst, .. } => Some(dst), )*
                    $( Instr::$binimm { dst, .. } => Some(dst), )*
                    Instr::Const { dst, .. } | Instr::GlobalGet { dst, .. } => Some(dst),
                    _ => None,
                }
            }
        }
    };
}

define_instrs! {
    binary {
        I32Eq, I32Ne, I32LtS, I32LtU, I32GtS, I32GtU, I32LeS, I32LeU, I32GeS, I32GeU,
        I64Eq, I64Ne, I64LtS, I64LtU, I64GtS, I64GtU, I64LeS, I64LeU, I64GeS, I64GeU,
        F32Eq, F32Ne, F32Lt, F32Gt, F32Le, F32Ge,
        F64Eq, F64Ne, F64Lt, F64Gt, F64Le, F64Ge,
        I32Add, I32Sub, I32Mul, I32DivS, I32DivU, I32RemS, I32RemU,
        I32And, I32Or, I32Xor, I32Shl, I32ShrS, I32ShrU, I32Rotl, I32Rotr,
        I64Add, I64Sub, I64Mul, I64DivS, I64DivU, I64RemS, I64RemU,
        I64And, I64Or, I64Xor, I64Shl, I64ShrS, I64ShrU, I64Rotl, I64Rotr,
        F32Add, F32Sub, F32Mul, F32Div, F32Min, F32Max, F32Copysign,
        F64Add, F64Sub, F64Mul, F64Div, F64Min, F64Max, F64Copysign,
    }
    unary {
        I32Eqz, I64Eqz,
        I32Clz, I32Ctz, I32Popcnt, I64Clz, I64Ctz, I64Popcnt,
        F32Abs, F32Neg, F32Ceil, F32Floor, F32Trunc, F32Nearest, F32Sqrt,
        F64Abs, F64Neg, F64Ceil, F64Floor, F64Trunc, F64Nearest, F64Sqrt,
        I32WrapI64, I32TruncF32S, I32TruncF32U, I32TruncF64S, I32TruncF64U,
        I64ExtendI32S, I64ExtendI32U, I64TruncF32S, I64TruncF32U, I64TruncF64S, I64TruncF64U,
        F32ConvertI32S, F32ConvertI32U, F32ConvertI64S, F32ConvertI64U, F32DemoteF64,
        F64ConvertI32S, F64ConvertI32U, F64ConvertI64S, F64ConvertI64U, F64PromoteF32,
        I32Extend8S, I32Extend16S, I64Extend8S, I64Extend16S, I64Extend32S,
        I32TruncSatF32S, I32TruncSatF32U, I32TruncSatF64S, I32TruncSatF64U,
        I64TruncSatF32S, I64TruncSatF32U, I64TruncSatF64S, I64TruncSatF64U,
        Copy, RefIsNull,
    }
    load {
        I32Load, I64Load, F32Load, F64Load,
        I32Load8S, I32Load8U, I32Load16S, I32Load16U,
        I64Load8S, I64Load8U, I64Load16S, I64Load16U, I64Load32S, I64Load32U,
    }
    store {
        I32Store, I64Store, F32Store, F64Store, I32Store8, I32Store16, I64Store8, I64Store16, I64Store32,
    }
    binary_imm {
        I32AddImm, I32MulImm, I32AndImm, I32OrImm, I32XorImm, I32ShlImm, I32ShrSImm, I32ShrUImm,
        I32EqImm, I32NeImm, I32LtSImm, I32LtUImm, I32GtSImm, I32GtUImm, I32LeSImm, I32LeUImm, I32GeSImm, I32GeUImm,
        I64AddImm, I64MulImm, I64AndImm, I64OrImm, I64XorImm, I64ShlImm, I64ShrSImm, I64ShrUImm,
    }
    other {
        /// `dst = hi << 32 | lo` (split so that every instruction stays 16 bytes).
        Const { dst: Slot, lo: u32, hi: u32 },
        /// Copies `n` slots from `src..` to `dst..` (`dst <= src`, copied upwards).
        CopyRange { dst: Slot, src: Slot, n: u32 },
        /// Unconditional jump.
        Br { target: u32 },
        /// Jump if `cond` (i32) is zero.
        BrIfEqz { cond: Slot, target: u32 },
        /// Jump if `cond` (i32) is not zero.
        BrIfNez { cond: Slot, target: u32 },
        /// Jump if `a == b` (i32).
        BrIfI32Eq { a: Slot, b: Slot, target: u32 },
        /// Jump if `a != b` (i32).
        BrIfI32Ne { a: Slot, b: Slot, target: u32 },
        /// Jump if `a < b` signed (i32).
        BrIfI32LtS { a: Slot, b: Slot, target: u32 },
        /// Jump if `a < b` unsigned (i32).
        BrIfI32LtU { a: Slot, b: Slot, target: u32 },
        /// Jump if `a >= b` signed (i32).
        BrIfI32GeS { a: Slot, b: Slot, target: u32 },
        /// Jump if `a >= b` unsigned (i32).
        BrIfI32GeU { a: Slot, b: Slot, target: u32 },
        /// Jump if `a == imm` (i32).
        BrIfI32EqImm { a: Slot, imm: i32, target: u32 },
        /// Jump if `a != imm` (i32).
        BrIfI32NeImm { a: Slot, imm: i32, target: u32 },
        /// Jump if `a < imm` signed (i32).
        BrIfI32LtSImm { a: Slot, imm: i32, target: u32 },
        /// Jump if `a < imm` unsigned (i32).
        BrIfI32LtUImm { a: Slot, imm: i32, target: u32 },
        /// Jump if `a >= imm` signed (i32).
        BrIfI32GeSImm { a: Slot, imm: i32, target: u32 },
        /// Jump if `a >= imm` unsigned (i32).
        BrIfI32GeUImm { a: Slot, imm: i32, target: u32 },
        /// `i32.store` of a constant.
        I32StoreImm { addr: Slot, imm: i32, offset: u32 },
        /// `i64.store` of a constant that fits in i32 (sign-extended).
        I64StoreImm { addr: Slot, imm: i32, offset: u32 },
        /// Jump through a table: `len` [`Instr::Br`] entries follow (the last is the default);
        /// entries whose target needs values moved point at a `CopyRange; Br` stub.
        BrTable { index: Slot, len: u32 },
        /// Charges `n` fuel units; placed at loop headers.
        Fuel { n: u32 },
        /// Returns; results are already in slots `0..`.
        Return {},
        /// Traps with `unreachable`.
        Unreachable {},
        /// Calls module function `func`; the callee's frame starts at slot `base`.
        Call { func: u32, base: Slot },
        /// Calls through a table; `aux` indexes [`InterpFunc::indirect`].
        CallIndirect { index: Slot, base: Slot, aux: u32 },
        /// Tail call: moves `n` arguments from `src` to slot 0 and replaces the current frame.
        ReturnCall { func: u32, src: Slot },
        /// Tail call through a table; `aux` indexes [`InterpFunc::indirect`]; args at `src`.
        ReturnCallIndirect { index: Slot, src: Slot, aux: u32 },
        /// `dst = cond != 0 ? dst : b` (wasm `select`, first operand already in `dst`).
        Select { dst: Slot, b: Slot, cond: Slot },
        /// `global.get`.
        GlobalGet { dst: Slot, global: u32 },
        /// `global.set`.
        GlobalSet { src: Slot, global: u32 },
        /// `memory.size`.
        MemorySize { dst: Slot },
        /// `memory.grow`; delta in `dst`, old size or -1 written to `dst`.
        MemoryGrow { dst: Slot },
        /// `memory.fill` with operands at `base..base+3`.
        MemoryFill { base: Slot },
        /// `memory.copy` with operands at `base..base+3`.
        MemoryCopy { base: Slot },
        /// `memory.init` with operands at `base..base+3`.
        MemoryInit { base: Slot, data: u32 },
        /// `data.drop`.
        DataDrop { data: u32 },
        /// `table.get`; index in `dst`, result written to `dst`.
        TableGet { dst: Slot, table: u32 },
        /// `table.set` with operands at `base..base+2`.
        TableSet { base: Slot, table: u32 },
        /// `table.size`.
        TableSize { dst: Slot, table: u32 },
        /// `table.grow` with operands at `base..base+2`; result written to `base`.
        TableGrow { base: Slot, table: u32 },
        /// `table.fill` with operands at `base..base+3`.
        TableFill { base: Slot, table: u32 },
        /// `table.copy` with operands at `base..base+3`; `aux` indexes [`InterpFunc::table_pairs`].
        TableCopy { base: Slot, aux: u32 },
        /// `table.init` with operands at `base..base+3`; `aux` indexes [`InterpFunc::table_pairs`].
        TableInit { base: Slot, aux: u32 },
        /// `elem.drop`.
        ElemDrop { elem: u32 },
        /// `ref.func`.
        RefFunc { dst: Slot, func: u32 },
        /// A one-operand SIMD operator (see [`SimdOp::form`]); a v128 takes slots `dst..dst+2`.
        SimdUnary { op: SimdOp, lane: u8, dst: Slot, src: Slot },
        /// A two-operand SIMD operator (see [`SimdOp::form`]).
        SimdBinary { op: SimdOp, lane: u8, dst: Slot, a: Slot, b: Slot },
        /// `v128.bitselect` of the vectors at `base`, `base+2`, `base+4`; result at `base`.
        V128Bitselect { base: Slot },
        /// `i8x16.shuffle` of the vectors at `base` and `base+2`, result at `base`; `lanes`
        /// indexes [`InterpFunc::shuffles`].
        I8x16Shuffle { base: Slot, lanes: u32 },
        /// `v128.load` and its extending, splatting and zero-filling forms.
        V128Load { kind: LoadKind, dst: Slot, addr: Slot, offset: u32 },
        /// `v128.loadN_lane` (`bytes` = N/8): address at `base`, vector at `base+1`; result at `base`.
        V128LoadLane { bytes: u8, lane: u8, base: Slot, offset: u32 },
        /// `v128.store`.
        V128Store { addr: Slot, val: Slot, offset: u32 },
        /// `v128.storeN_lane` (`bytes` = N/8).
        V128StoreLane { bytes: u8, lane: u8, addr: Slot, val: Slot, offset: u32 },
        /// `global.get` of a v128 global.
        GlobalGetV128 { dst: Slot, global: u32 },
        /// `global.set` of a v128 global.
        GlobalSetV128 { src: Slot, global: u32 },
    }
}

/// Every instruction is 16 bytes: keep it that way (it is the interpreter's cache footprint).
const _: () = assert!(core::mem::size_of::<Instr>() == 16);

/// A translated function, ready to run.
#[derive(Debug)]
pub struct InterpFunc {
    /// The instructions; always ends in a `Return` or an unconditional jump.
    pub code: Vec<Instr>,
    /// Module byte offset of the wasm operator each instruction came from (for trap locations).
    pub offsets: Vec<u32>,
    /// Slots the frame needs: locals plus the maximum operand-stack height.
    pub frame_size: u32,
    /// Number of parameter slots (a v128 counts two).
    pub num_params: u32,
    /// Number of local slots including parameters (a v128 counts two).
    pub num_locals: u32,
    /// Number of result slots (a v128 counts two).
    pub num_results: u32,
    /// Fuel charged on entry (operators outside loops).
    pub entry_fuel: u32,
    /// Index in the module's function index space.
    pub func_index: u32,
    /// Store address of the function (its hotness counter, for the tier manager).
    pub addr: kwasm_runtime::FuncAddr,
    /// The instance the function belongs to.
    pub instance: InstanceId,
    /// `call_indirect` operands: (module type index, table index).
    pub indirect: Vec<(u32, u32)>,
    /// `table.copy` (dst, src) / `table.init` (table, elem) operand pairs.
    pub table_pairs: Vec<(u32, u32)>,
    /// `i8x16.shuffle` lane immediates.
    pub shuffles: Vec<[u8; 16]>,
}
