//! kwasm's bounded interpreter tier (being written).
#![no_std]
extern crate alloc;

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
    fn compile(&self, _store: &Store, _func: FuncAddr) -> Result<CompiledCode, Error> {
        Err(Error::Unsupported("interpreter not yet written".into()))
    }
    fn invoke(&self, store: &mut Store, func: FuncAddr, args: &[u64], results: &mut [u64]) -> Result<(), Trap> {
        store.call_host(func, None, args, results)
    }
}
