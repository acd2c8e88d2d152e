//! The interface every execution tier implements.
//!
//! A tier turns validated function bodies into something it can run (interpreter code, machine
//! code) and runs them against a [`Store`]. The store keeps one compiled-code slot per tier per
//! function ([`Store::code`]); a tier fills its own slot lazily on first call.

use alloc::sync::Arc;
use core::any::Any;

use crate::error::Error;
use crate::store::{FuncAddr, Store};
use crate::trap::Trap;

/// Compiled code of one function, owned by the store, opaque to everyone but its tier.
pub type CompiledCode = Arc<dyn Any + Send + Sync>;

/// Index of a tier, used for compiled-code slots and statistics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
pub enum TierId {
    /// The bounded interpreter.
    Interp = 0,
    /// The singlepass baseline JIT.
    Baseline = 1,
    /// The optimizing (Cranelift) JIT.
    Optimizing = 2,
}

/// Number of tiers (size of per-function code slot arrays).
pub const NUM_TIERS: usize = 3;

/// An execution tier.
pub trait Tier: Send + Sync {
    /// Which tier this is.
    fn id(&self) -> TierId;

    /// Compiles (translates) the wasm function at `func` for this tier. Host functions need no
    /// compilation. Errors are translation failures or unsupported features, never traps.
    fn compile(&self, store: &Store, func: FuncAddr) -> Result<CompiledCode, Error>;

    /// Calls `func` with `args` (already type-checked by the caller), writing `results`; both in
    /// the slot encoding of [`crate::types`] (one slot per value, v128 as two slots, low half
    /// first). Runs until return or trap.
    fn invoke(&self, store: &mut Store, func: FuncAddr, args: &[u64], results: &mut [u64]) -> Result<(), Trap>;
}
