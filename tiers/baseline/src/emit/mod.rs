//! Where the baseline tier's machine code goes.
//!
//! The codegen writes x86-64 with the `dynasm!` macro (crate `dynasm`). For x64 that macro
//! encodes each instruction at build time and expands to plain method calls on the value named
//! in the invocation (`push`, `extend`, `push_i32`, label definitions, `*_reloc`…), with no path
//! into the `dynasmrt` runtime crate. [`Emitter`] is exactly that method set, plus what a
//! compiler needs around it (fresh dynamic labels, the current offset, patching already written
//! bytes, finishing into a byte vector). The codegen is generic over it, so one code path runs
//! on two emitters:
//!
//! - [`CodeSink`]: our own no_std buffer with label and relocation fixups, used everywhere and
//!   the only choice inside the kernel (`dynasmrt` needs std, upstream issue #30);
//! - `DynasmrtEmitter` (feature `std`): an adapter over `dynasmrt::x64::Assembler`, the
//!   reference implementation; a test proves both give byte-identical code.
//!
//! Rules for code written against this trait:
//! - Write `dynasm!(ops ; .arch x64 ; ...)` inside functions generic over `E: Emitter`, where
//!   `ops: &mut E`; on a concrete type that also implements `core::iter::Extend` the `extend`
//!   call would be ambiguous.
//! - Dynamic labels (`=>label`) are [`DynamicLabel`] values from [`Emitter::new_dynamic_label`].
//! - Only position-independent references are meaningful when the finished bytes are copied into
//!   executable memory elsewhere: label references with relative encoding (jumps, calls,
//!   `[->label]` rip-relative operands, `.rel32`). `extern` targets with relative encoding
//!   (`call extern addr`) and `.abs64 ->label` depend on the address the code runs at; both
//!   emitters compute them for a base address fixed when the emitter is created.
//! - The `Type => field` memory operand shorthands expand to `::std::mem` paths; the codegen
//!   spells offsets out (from `kwasm_runtime::vmctx`) instead, so it builds without std.

mod reloc;
mod sink;

#[cfg(feature = "std")]
mod dynasmrt_adapter;

use alloc::vec::Vec;
use core::fmt;

pub use reloc::{RelocKind, RelocSize, RelocSpec};
pub use sink::CodeSink;

#[cfg(feature = "std")]
pub use dynasmrt_adapter::DynasmrtEmitter;

/// A label whose position is chosen at run time of the compiler (one per wasm block, function
/// entry, trap stub…): created by [`Emitter::new_dynamic_label`], defined once with
/// `=>label` in `dynasm!`, referenced any number of times before or after its definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DynamicLabel(u32);

impl DynamicLabel {
    /// The label's index in creation order (0, 1, 2…), the same numbering `dynasmrt` uses.
    pub fn index(self) -> usize {
        self.0 as usize
    }

    fn from_index(index: usize) -> Option<Self> {
        u32::try_from(index).ok().map(Self)
    }
}

/// Which label an error is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabelRef {
    /// A global label (`->name`).
    Global(&'static str),
    /// A local label (`name:` defined, `>name` / `<name` referenced).
    Local(&'static str),
    /// A dynamic label (`=>label`).
    Dynamic(DynamicLabel),
    /// An absolute or relative value target (`extern value`).
    Value(usize),
}

impl fmt::Display for LabelRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LabelRef::Global(name) => write!(f, "global label ->{name}"),
            LabelRef::Local(name) => write!(f, "local label {name}"),
            LabelRef::Dynamic(label) => write!(f, "dynamic label =>{}", label.index()),
            LabelRef::Value(value) => write!(f, "value target {value:#x}"),
        }
    }
}

/// Why emitting or finishing code failed. None of these is a panic: an emitter records the first
/// problem while the `dynasm!` calls run (they cannot return errors) and reports it when the code
/// is finished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmitError {
    /// A label was defined twice (local labels may be redefined; global and dynamic ones not).
    DuplicateLabel(LabelRef),
    /// A reference to a label that is never defined (or, for `<name`, not defined before it),
    /// or a definition of a dynamic label that was never created.
    UndefinedLabel(LabelRef),
    /// The distance or value does not fit in the relocation's field (e.g. a `jmp BYTE` whose
    /// target is more than 127 bytes away).
    RelocationOutOfRange(LabelRef),
    /// A relocation descriptor the x64 target never produces (an architecture-specific encoding)
    /// or one pointing outside the bytes written so far.
    BadRelocation {
        /// The encoded relocation byte as the macro passed it.
        encoding: u8,
        /// The code offset at which the relocation was requested.
        at: usize,
    },
    /// `align` with an alignment of zero.
    BadAlignment,
    /// A patch outside the bytes written so far.
    PatchOutOfRange {
        /// Where the patch would start.
        at: usize,
        /// How many bytes it would write.
        len: usize,
    },
    /// The code buffer could not grow.
    OutOfMemory,
    /// The reference assembler failed in a way without a finer category (its message).
    Other(alloc::string::String),
}

impl fmt::Display for EmitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EmitError::DuplicateLabel(l) => write!(f, "{l} defined twice"),
            EmitError::UndefinedLabel(l) => write!(f, "{l} is referenced but not defined"),
            EmitError::RelocationOutOfRange(l) => {
                write!(f, "the reference to {l} does not fit in its field")
            }
            EmitError::BadRelocation { encoding, at } => {
                write!(f, "invalid relocation (encoding {encoding:#04x}) at code offset {at}")
            }
            EmitError::BadAlignment => f.write_str("alignment of zero"),
            EmitError::PatchOutOfRange { at, len } => {
                write!(f, "patch of {len} bytes at offset {at} is outside the code written")
            }
            EmitError::OutOfMemory => f.write_str("out of memory for generated code"),
            EmitError::Other(msg) => f.write_str(msg),
        }
    }
}

/// The method set the x64 `dynasm!` macro expands to, plus what a compiler needs around it.
///
/// The methods the macro calls cannot report errors; implementations remember the first one and
/// return it from [`Emitter::finish`]. Offsets count bytes from the start of the code.
pub trait Emitter {
    /// The offset at which the next byte will be written.
    fn offset(&self) -> usize;

    /// Appends one byte.
    fn push(&mut self, byte: u8);

    /// Appends bytes (`extend(b"...")` from the macro's folded constant bytes).
    fn extend(&mut self, bytes: &[u8]);

    /// Pads with `with` until the offset is a multiple of `alignment` (`.align`).
    fn align(&mut self, alignment: usize, with: u8);

    /// Appends a signed byte.
    fn push_i8(&mut self, value: i8) {
        self.push(value as u8);
    }
    /// Appends a little-endian i16.
    fn push_i16(&mut self, value: i16) {
        self.extend(&value.to_le_bytes());
    }
    /// Appends a little-endian i32.
    fn push_i32(&mut self, value: i32) {
        self.extend(&value.to_le_bytes());
    }
    /// Appends a little-endian i64.
    fn push_i64(&mut self, value: i64) {
        self.extend(&value.to_le_bytes());
    }
    /// Appends a little-endian u16.
    fn push_u16(&mut self, value: u16) {
        self.extend(&value.to_le_bytes());
    }
    /// Appends a little-endian u32.
    fn push_u32(&mut self, value: u32) {
        self.extend(&value.to_le_bytes());
    }
    /// Appends a little-endian u64.
    fn push_u64(&mut self, value: u64) {
        self.extend(&value.to_le_bytes());
    }

    /// Defines global label `->name` at the current offset (once per emitter).
    fn global_label(&mut self, name: &'static str);
    /// Defines (a new generation of) local label `name:` at the current offset.
    fn local_label(&mut self, name: &'static str);
    /// Defines dynamic label `=>label` at the current offset (once).
    fn dynamic_label(&mut self, label: DynamicLabel);

    /// A reference to global label `->name` in the bytes just written; `field_offset` counts back
    /// from the current offset to the field, `ref_offset` to the point a relative value is
    /// measured from, `encoding` packs kind and size ([`RelocSpec::decode`]).
    fn global_reloc(
        &mut self,
        name: &'static str,
        target_offset: isize,
        field_offset: u8,
        ref_offset: u8,
        encoding: u8,
    );
    /// A reference to the next definition of local label `>name`.
    fn forward_reloc(
        &mut self,
        name: &'static str,
        target_offset: isize,
        field_offset: u8,
        ref_offset: u8,
        encoding: u8,
    );
    /// A reference to the latest definition of local label `<name`.
    fn backward_reloc(
        &mut self,
        name: &'static str,
        target_offset: isize,
        field_offset: u8,
        ref_offset: u8,
        encoding: u8,
    );
    /// A reference to dynamic label `=>label`.
    fn dynamic_reloc(
        &mut self,
        label: DynamicLabel,
        target_offset: isize,
        field_offset: u8,
        ref_offset: u8,
        encoding: u8,
    );
    /// A reference to a fixed value (`extern value`), resolved immediately.
    fn value_reloc(&mut self, value: usize, field_offset: u8, ref_offset: u8, encoding: u8);

    /// Creates a dynamic label, to be defined later with `=>label`.
    fn new_dynamic_label(&mut self) -> DynamicLabel;

    /// Overwrites bytes already written at `at` (e.g. a frame size known only after the body),
    /// without moving the offset.
    fn patch(&mut self, at: usize, bytes: &[u8]) -> Result<(), EmitError>;

    /// Resolves every pending label reference and returns the code bytes, or the first error
    /// recorded while emitting or resolving.
    fn finish(self) -> Result<Vec<u8>, EmitError>
    where
        Self: Sized;
}
