//! kwasm runtime core.
//!
//! This crate is `no_std` + `alloc` so that the very same code links into the Linux kernel module
//! (`kmod/`) and into the user-space CLI (`cli/`). It owns everything that is independent of how
//! code is executed: decoding and validation ([`module`]), the store with its instances, memories,
//! tables and globals ([`store`]), traps ([`trap`]), the knob table ([`knobs`]), the interface every
//! execution tier implements ([`tier`]), the interface every host implements ([`platform`]) and
//! WASI preview1 on top of that host interface ([`wasi`]).
#![no_std]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod error;
pub mod kabi;
pub mod knobs;
pub mod kstats;
pub mod libcalls;
pub mod memory;
pub mod module;
pub mod platform;
pub mod spectest;
pub mod store;
pub mod tier;
pub mod tiering;
pub mod trap;
pub mod types;
pub mod vmctx;
pub mod wasi;

pub use error::Error;
pub use knobs::{Knob, Knobs};
pub use module::Module;
pub use platform::Platform;
pub use store::{Caller, Extern, FuncAddr, HostFunc, InstanceId, Linker, Store};
pub use tier::Tier;
pub use trap::{Trap, TrapKind};
pub use types::{FuncType, Val, ValType};
