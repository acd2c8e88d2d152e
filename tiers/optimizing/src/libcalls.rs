//! Runtime functions that compiled code calls: they live in [`kwasm_runtime::libcalls`] (shared
//! with the baseline tier); this module adds their Cranelift signatures.

use cranelift_codegen::ir::types::{I32, I64};
use cranelift_codegen::ir::{AbiParam, Signature};
use cranelift_codegen::isa::CallConv;
pub use kwasm_runtime::libcalls::*;

/// The Cranelift signature of runtime function `which`.
pub fn signature(which: usize) -> Signature {
    let mut s = Signature::new(CallConv::SystemV);
    let (params, results): (&[_], &[_]) = match which {
        FUEL => (&[I64], &[I32]),
        MEMORY_GROW => (&[I64, I32], &[I32]),
        MEMORY_FILL | MEMORY_COPY => (&[I64, I32, I32, I32], &[I32]),
        MEMORY_INIT => (&[I64, I32, I32, I32, I32], &[I32]),
        DATA_DROP | ELEM_DROP => (&[I64, I32], &[]),
        TABLE_GROW => (&[I64, I32, I64, I32], &[I32]),
        TABLE_FILL => (&[I64, I32, I32, I64, I32], &[I32]),
        TABLE_COPY | TABLE_INIT => (&[I64, I32, I32, I32, I32, I32], &[I32]),
        HOST_CALL => (&[I64, I32, I64], &[]),
        _ => unreachable!("unknown runtime function {which}"),
    };
    s.params.extend(params.iter().map(|t| AbiParam::new(*t)));
    s.returns.extend(results.iter().map(|t| AbiParam::new(*t)));
    s
}
