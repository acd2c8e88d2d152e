//! kwasm's bounded interpreter tier.
//!
//! Translation ([`translate`]) turns each validated function once into compact register-style
//! code ([`code`]); execution ([`exec`]) runs it with heap-allocated value and frame stacks, in
//! fuel slices that return to the platform in between. Translation is lazy: a function is
//! translated on its first call.
#![no_std]
#![warn(missing_docs)]

extern crate alloc;

pub mod code;
pub mod exec;
mod ops;
pub mod simd;
pub mod translate;

use alloc::sync::Arc;

use kwasm_runtime::tier::{CompiledCode, Tier, TierId};
use kwasm_runtime::{Error, FuncAddr, Store, Trap};

/// The interpreter tier.
#[derive(Default, Debug)]
pub struct Interpreter;

impl Interpreter {
    /// Creates the tier.
    pub fn new() -> Self {
        Interpreter
    }
}

impl Tier for Interpreter {
    fn id(&self) -> TierId {
        TierId::Interp
    }

    fn compile(&self, store: &Store, func: FuncAddr) -> Result<CompiledCode, Error> {
        Ok(Arc::new(translate::translate(store, func)?))
    }

    fn invoke(&self, store: &mut Store, func: FuncAddr, args: &[u64], results: &mut [u64]) -> Result<(), Trap> {
        exec::Executor::new(store).invoke(store, func, args, results)
    }
}
