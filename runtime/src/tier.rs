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

    /// Compiles a *forwarder* for store function `func` (host or wasm): code in the shared
    /// calling convention ([`crate::vmctx`]) that passes every call to the runtime, which runs a
    /// host function itself and a wasm function in whatever tier holds it. The tier manager
    /// ([`crate::tiering`]) puts it into the function-table slot of functions that no compiled
    /// tier runs. Tiers without machine code cannot make one.
    fn compile_forwarder(&self, store: &Store, func: FuncAddr) -> Result<CompiledCode, Error> {
        let _ = (store, func);
        Err(Error::Unsupported(alloc::format!("the {:?} tier makes no forwarders", self.id())))
    }

    /// The entry in the shared calling convention of `code` (made by this tier's
    /// [`Tier::compile`] or [`Tier::compile_forwarder`]): what a function-table slot holds.
    /// `None` for tiers without machine code.
    fn slot_code(&self, code: &CompiledCode) -> Option<*const u8> {
        let _ = code;
        None
    }
}

/// The name of a tier (the `tier` knob's value for it).
pub fn tier_name(id: TierId) -> &'static str {
    crate::knobs::TIER_NAMES[id as usize]
}

impl TierId {
    /// Every tier, lowest first.
    pub const ALL: [TierId; NUM_TIERS] = [TierId::Interp, TierId::Baseline, TierId::Optimizing];

    /// The tier with index `i` (`TierId as usize`).
    pub fn from_index(i: usize) -> Option<TierId> {
        TierId::ALL.get(i).copied()
    }
}
