//! kwasm's baseline tier: not implemented yet. Every entry point returns a clear
//! `Unsupported` error so that `--tier baseline` fails with a message instead of pretending.
#![no_std]
#![warn(missing_docs)]
extern crate alloc;

pub mod emit;

use kwasm_runtime::tier::{CompiledCode, Tier, TierId};
use kwasm_runtime::{Error, FuncAddr, Store, Trap};

/// The baseline tier (placeholder until its issue lands).
#[derive(Default, Debug)]
pub struct BaselineTier;

/// The message every entry point of this tier gives.
pub const NOT_IMPLEMENTED: &str = "the baseline tier is not implemented yet";

impl Tier for BaselineTier {
    fn id(&self) -> TierId {
        TierId::Baseline
    }
    fn compile(&self, _store: &Store, _func: FuncAddr) -> Result<CompiledCode, Error> {
        Err(Error::Unsupported(NOT_IMPLEMENTED.into()))
    }
    fn invoke(&self, _store: &mut Store, _func: FuncAddr, _args: &[u64], _results: &mut [u64]) -> Result<(), Trap> {
        Err(Trap::host(NOT_IMPLEMENTED))
    }
}
