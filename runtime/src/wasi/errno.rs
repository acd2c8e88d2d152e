//! WASI preview1 errno values.
#![allow(missing_docs)]

pub const SUCCESS: u16 = 0;
pub const NOSYS: u16 = 52;
