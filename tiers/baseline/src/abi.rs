//! Where arguments and results live in the shared calling convention
//! ([`kwasm_runtime::vmctx`]): Cranelift's `tail` convention on x86-64, as implemented in
//! `cranelift-codegen`'s `isa/x64/abi.rs`.
//!
//! - Arguments `(callee_vmctx, caller_vmctx, params...)`: integers in rdi, rsi, rdx, rcx, r8, r9
//!   (counted per class), floats in xmm0–xmm7; the rest on the stack in order, 8 bytes each,
//!   the area rounded up to 16 bytes. The *callee* pops that area (`ret n`).
//! - Results: integers in rax, rcx, rdx, rsi, rdi, r8, r9, r10, floats in xmm0–xmm7; the rest go
//!   to a return area (8 bytes each, in order) whose address the caller passes as a hidden first
//!   integer argument (rdi, shifting the others by one register) — Cranelift's
//!   `enable_multi_ret_implicit_sret`, which the optimizing tier enables.
//! - Callee-saved: rbx, rbp, r12–r15 (System V); everything else is clobbered by a call.

use alloc::format;
use alloc::vec::Vec;

use kwasm_runtime::{Error, FuncType, ValType};

/// x86-64 register numbers (the encoding dynasm's `Rq(n)` takes).
pub mod reg {
    /// rax
    pub const RAX: u8 = 0;
    /// rcx
    pub const RCX: u8 = 1;
    /// rdx
    pub const RDX: u8 = 2;
    /// rsi
    pub const RSI: u8 = 6;
    /// rdi
    pub const RDI: u8 = 7;
    /// r8
    pub const R8: u8 = 8;
    /// r9
    pub const R9: u8 = 9;
    /// r10
    pub const R10: u8 = 10;
}

use reg::*;

const ARG_GPRS: [u8; 6] = [RDI, RSI, RDX, RCX, R8, R9];
const RET_GPRS: [u8; 8] = [RAX, RCX, RDX, RSI, RDI, R8, R9, R10];
const FLOAT_REGS: u8 = 8;

/// Where one argument or result lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loc {
    /// A general-purpose register.
    Gpr(u8),
    /// An SSE register.
    Xmm(u8),
    /// Byte offset in the stack-argument area (arguments) or the return area (results).
    Stack(u32),
}

/// The value classes of the convention.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ty {
    /// i32
    I32,
    /// i64 and references
    I64,
    /// f32
    F32,
    /// f64
    F64,
}

impl Ty {
    /// The class of a wasm value type (references are i64 raw references).
    pub fn of(t: ValType) -> Result<Ty, Error> {
        Ok(match t {
            ValType::I32 => Ty::I32,
            ValType::I64 | ValType::FuncRef | ValType::ExternRef => Ty::I64,
            ValType::F32 => Ty::F32,
            ValType::F64 => Ty::F64,
            ValType::V128 => return Err(Error::Unsupported("baseline tier: v128 values (SIMD)".into())),
        })
    }

    /// Whether values of this class live in SSE registers.
    pub fn is_float(self) -> bool {
        matches!(self, Ty::F32 | Ty::F64)
    }

    /// Whether the value is 64 bits wide.
    pub fn is_64(self) -> bool {
        matches!(self, Ty::I64 | Ty::F64)
    }
}

/// The placement of one signature's arguments and results.
#[derive(Clone, Debug)]
pub struct Sig {
    /// Parameter classes.
    pub params: Vec<Ty>,
    /// Result classes.
    pub results: Vec<Ty>,
    /// Callee context register.
    pub callee_vmctx: u8,
    /// Caller context register.
    pub caller_vmctx: u8,
    /// Location of each wasm parameter.
    pub args: Vec<Loc>,
    /// Whether the caller passes a return-area pointer (in rdi).
    pub sret: bool,
    /// Size of the stack-argument area (a multiple of 16; popped by the callee).
    pub stack_args: u32,
    /// Location of each result.
    pub rets: Vec<Loc>,
    /// Size of the return area (a multiple of 16).
    pub ret_area: u32,
}

fn align16(n: u32) -> u32 {
    n.next_multiple_of(16)
}

impl Sig {
    /// The placement for functions of type `ty`.
    pub fn new(ty: &FuncType) -> Result<Sig, Error> {
        let params: Vec<Ty> = ty.params.iter().map(|t| Ty::of(*t)).collect::<Result<_, _>>()?;
        let results: Vec<Ty> = ty.results.iter().map(|t| Ty::of(*t)).collect::<Result<_, _>>()?;
        let (mut gi, mut fi, mut st) = (0usize, 0u8, 0u32);
        let mut rets = Vec::with_capacity(results.len());
        for r in &results {
            let loc = if r.is_float() {
                fi += 1;
                if fi <= FLOAT_REGS {
                    Loc::Xmm(fi - 1)
                } else {
                    Loc::Stack(next(&mut st))
                }
            } else {
                gi += 1;
                if gi <= RET_GPRS.len() {
                    Loc::Gpr(RET_GPRS[gi - 1])
                } else {
                    Loc::Stack(next(&mut st))
                }
            };
            rets.push(loc);
        }
        let sret = st > 0;
        let ret_area = align16(st);
        let (mut gi, mut fi, mut st) = (usize::from(sret), 0u8, 0u32);
        let callee_vmctx = ARG_GPRS[gi];
        let caller_vmctx = ARG_GPRS[gi + 1];
        gi += 2;
        let mut args = Vec::with_capacity(params.len());
        for p in &params {
            let loc = if p.is_float() {
                fi += 1;
                if fi <= FLOAT_REGS {
                    Loc::Xmm(fi - 1)
                } else {
                    Loc::Stack(next(&mut st))
                }
            } else {
                gi += 1;
                if gi <= ARG_GPRS.len() {
                    Loc::Gpr(ARG_GPRS[gi - 1])
                } else {
                    Loc::Stack(next(&mut st))
                }
            };
            args.push(loc);
        }
        if st > 1 << 20 || ret_area > 1 << 20 {
            return Err(Error::Unsupported(format!("baseline tier: signature with {} values", params.len())));
        }
        Ok(Sig { params, results, callee_vmctx, caller_vmctx, args, sret, stack_args: align16(st), rets, ret_area })
    }
}

fn next(st: &mut u32) -> u32 {
    let o = *st;
    *st += 8;
    o
}
