//! Errors that are not traps: invalid modules, link failures, unsupported features, limits.

use alloc::string::String;
use core::fmt;

use crate::trap::Trap;

/// An error from loading, linking or instantiating a module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// The binary is malformed or does not validate.
    Invalid {
        /// Validator message.
        message: String,
        /// Byte offset in the binary.
        offset: usize,
    },
    /// The module uses something kwasm does not implement (yet).
    Unsupported(String),
    /// An import could not be satisfied.
    Unlinkable(String),
    /// A trap during instantiation (segment initialization or the start function).
    Trap(Trap),
    /// A configured limit (knob) or an allocation failure.
    Resource(String),
    /// Anything else with a message.
    Other(String),
}

impl From<Trap> for Error {
    fn from(t: Trap) -> Error {
        Error::Trap(t)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Invalid { message, offset } => {
                write!(f, "invalid module: {message} (at offset 0x{offset:x})")
            }
            Error::Unsupported(m) => write!(f, "not supported by kwasm: {m}"),
            Error::Unlinkable(m) => write!(f, "unlinkable: {m}"),
            Error::Trap(t) => write!(f, "{t}"),
            Error::Resource(m) => write!(f, "resource limit: {m}"),
            Error::Other(m) => f.write_str(m),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Error {}
#[cfg(feature = "std")]
impl std::error::Error for Trap {}

impl From<wasmparser::BinaryReaderError> for Error {
    fn from(e: wasmparser::BinaryReaderError) -> Error {
        Error::Invalid { message: e.message().into(), offset: e.offset() as usize }
    }
}
