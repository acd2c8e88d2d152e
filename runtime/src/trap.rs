//! Traps: the precise reason execution stopped abnormally, and where.

use alloc::string::String;
use core::fmt;

/// Why a program trapped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrapKind {
    /// `unreachable` executed.
    Unreachable,
    /// Linear memory access outside the memory.
    MemoryOutOfBounds,
    /// Table access outside the table (incl. `call_indirect` index and bulk table ops).
    TableOutOfBounds,
    /// Integer division or remainder by zero.
    IntegerDivideByZero,
    /// Signed division overflow (`INT_MIN / -1`) or float-to-int overflow.
    IntegerOverflow,
    /// Float-to-int conversion of NaN.
    InvalidConversionToInteger,
    /// `call_indirect` with an index outside the table.
    UndefinedElement,
    /// `call_indirect` on a null table entry.
    IndirectCallToNull,
    /// `call_indirect` whose callee has another signature.
    IndirectCallTypeMismatch,
    /// Call depth or value stack limit exceeded.
    CallStackExhausted,
    /// The total fuel given to the program ran out.
    OutOfFuel,
    /// The platform asked execution to stop (a signal, a kill request).
    Interrupted,
    /// The program called WASI `proc_exit` with this code (not an error, but it ends execution).
    Exit(i32),
    /// A host function failed.
    Host(String),
}

impl TrapKind {
    /// The message the spec test suite uses for this trap (also what the CLI prints).
    pub fn message(&self) -> &str {
        match self {
            TrapKind::Unreachable => "unreachable",
            TrapKind::MemoryOutOfBounds => "out of bounds memory access",
            TrapKind::TableOutOfBounds => "out of bounds table access",
            TrapKind::IntegerDivideByZero => "integer divide by zero",
            TrapKind::IntegerOverflow => "integer overflow",
            TrapKind::InvalidConversionToInteger => "invalid conversion to integer",
            TrapKind::UndefinedElement => "undefined element",
            TrapKind::IndirectCallToNull => "uninitialized element",
            TrapKind::IndirectCallTypeMismatch => "indirect call type mismatch",
            TrapKind::CallStackExhausted => "call stack exhausted",
            TrapKind::OutOfFuel => "out of fuel",
            TrapKind::Interrupted => "interrupted",
            TrapKind::Exit(_) => "exit",
            TrapKind::Host(m) => m,
        }
    }

    /// A small stable number per kind, used for statistics and the kernel ABI.
    pub fn code(&self) -> u32 {
        match self {
            TrapKind::Unreachable => 1,
            TrapKind::MemoryOutOfBounds => 2,
            TrapKind::TableOutOfBounds => 3,
            TrapKind::IntegerDivideByZero => 4,
            TrapKind::IntegerOverflow => 5,
            TrapKind::InvalidConversionToInteger => 6,
            TrapKind::IndirectCallToNull => 7,
            TrapKind::IndirectCallTypeMismatch => 8,
            TrapKind::CallStackExhausted => 9,
            TrapKind::OutOfFuel => 10,
            TrapKind::Interrupted => 11,
            TrapKind::Exit(_) => 12,
            TrapKind::Host(_) => 13,
            TrapKind::UndefinedElement => 14,
        }
    }
}

/// A trap with its location: the function index (in the module's function index space) and the
/// byte offset of the trapping instruction within the module binary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trap {
    /// What happened.
    pub kind: TrapKind,
    /// Function index within its module, if known.
    pub func: Option<u32>,
    /// Byte offset of the instruction within the module, if known.
    pub offset: Option<u32>,
}

impl Trap {
    /// A trap without location.
    pub fn new(kind: TrapKind) -> Trap {
        Trap { kind, func: None, offset: None }
    }

    /// A trap at a location.
    pub fn at(kind: TrapKind, func: u32, offset: u32) -> Trap {
        Trap { kind, func: Some(func), offset: Some(offset) }
    }

    /// A host-function failure.
    pub fn host(msg: impl Into<String>) -> Trap {
        Trap::new(TrapKind::Host(msg.into()))
    }
}

impl From<TrapKind> for Trap {
    fn from(kind: TrapKind) -> Trap {
        Trap::new(kind)
    }
}

impl fmt::Display for Trap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let TrapKind::Exit(code) = self.kind {
            return write!(f, "exit with code {code}");
        }
        write!(f, "trap: {}", self.kind.message())?;
        match (self.func, self.offset) {
            (Some(func), Some(off)) => write!(f, " in function {func} at offset 0x{off:x}"),
            (Some(func), None) => write!(f, " in function {func}"),
            _ => Ok(()),
        }
    }
}
