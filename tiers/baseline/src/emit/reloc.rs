//! The relocation descriptor byte that `dynasm!` passes to every `*_reloc` call, and how a
//! resolved reference is computed and written.
//!
//! The macro packs two things into one byte: the top two bits say whether the field is encoded
//! relative to the instruction and whether the target is an address or a code offset; the low
//! six bits give the field size (0..=3 → 1, 2, 4, 8 bytes; larger codes are architecture-specific
//! encodings that x64 never uses).

use super::EmitError;

/// How the value written into a relocation's field is derived from its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelocKind {
    /// Relative field, code-offset target (jumps and calls to labels, rip-relative operands).
    Relative,
    /// Absolute field, code-offset target (`.abs64 ->label`): needs the code's base address.
    AbsToRel,
    /// Relative field, absolute target (`call extern addr`): needs the code's base address.
    RelToAbs,
    /// Absolute field, absolute target: the value as given.
    Absolute,
}

/// Size of a relocation's field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelocSize {
    /// 1 byte (`jmp BYTE`, `jcc` short forms).
    Byte,
    /// 2 bytes.
    Word,
    /// 4 bytes (near jumps/calls, rip-relative displacements).
    DWord,
    /// 8 bytes.
    QWord,
}

impl RelocSize {
    /// The field's width in bytes.
    pub fn bytes(self) -> usize {
        match self {
            RelocSize::Byte => 1,
            RelocSize::Word => 2,
            RelocSize::DWord => 4,
            RelocSize::QWord => 8,
        }
    }

    /// Writes `value` little-endian into `field` (exactly `self.bytes()` long) if it fits the
    /// field as a signed number; returns false otherwise, leaving `field` untouched.
    pub fn write(self, field: &mut [u8], value: i64) -> bool {
        let fits = match self {
            RelocSize::Byte => i8::try_from(value).is_ok(),
            RelocSize::Word => i16::try_from(value).is_ok(),
            RelocSize::DWord => i32::try_from(value).is_ok(),
            RelocSize::QWord => true,
        };
        if !fits || field.len() != self.bytes() {
            return false;
        }
        field.copy_from_slice(&value.to_le_bytes()[..self.bytes()]);
        true
    }
}

/// A decoded relocation descriptor byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelocSpec {
    /// How the value is derived.
    pub kind: RelocKind,
    /// The field's size.
    pub size: RelocSize,
}

impl RelocSpec {
    /// Decodes the macro's descriptor byte; `None` for architecture-specific encodings.
    pub fn decode(encoding: u8) -> Option<Self> {
        let kind = match encoding >> 6 {
            0 => RelocKind::Relative,
            1 => RelocKind::AbsToRel,
            2 => RelocKind::RelToAbs,
            _ => RelocKind::Absolute,
        };
        let size = match encoding & 0x3f {
            0 => RelocSize::Byte,
            1 => RelocSize::Word,
            2 => RelocSize::DWord,
            3 => RelocSize::QWord,
            _ => return None,
        };
        Some(RelocSpec { kind, size })
    }
}

/// One reference, positioned: everything needed to compute and write its field once the target
/// is known.
#[derive(Debug, Clone, Copy)]
pub(super) struct Fixup {
    /// The code offset when the reference was made (just after the bytes holding the field).
    pub at: usize,
    /// Bytes back from `at` to the start of the field.
    pub field_offset: u8,
    /// Bytes back from `at` to the point a relative field is measured from.
    pub ref_offset: u8,
    /// Added to the computed value (`->label + 8`).
    pub addend: isize,
    /// Kind and size.
    pub spec: RelocSpec,
}

impl Fixup {
    /// Checks the field lies within the `len` bytes written so far.
    pub fn new(at: usize, field_offset: u8, ref_offset: u8, addend: isize, encoding: u8) -> Result<Self, EmitError> {
        let bad = EmitError::BadRelocation { encoding, at };
        let spec = RelocSpec::decode(encoding).ok_or(bad.clone())?;
        let field_start = at.checked_sub(usize::from(field_offset)).ok_or(bad.clone())?;
        at.checked_sub(usize::from(ref_offset)).ok_or(bad.clone())?;
        // The field must have been written already (the macro emits it before the reloc call).
        if field_start + spec.size.bytes() > at {
            return Err(bad);
        }
        Ok(Fixup { at, field_offset, ref_offset, addend, spec })
    }

    /// The byte range of the field in the code.
    pub fn field(&self) -> core::ops::Range<usize> {
        let start = self.at - usize::from(self.field_offset);
        start..start + self.spec.size.bytes()
    }

    /// The value to store for `target` (a code offset or, for value references, the value),
    /// with the code placed at address `base`. Arithmetic wraps like address arithmetic does.
    pub fn value(&self, target: usize, base: usize) -> i64 {
        let reference_point = self.at - usize::from(self.ref_offset);
        let raw = match self.spec.kind {
            RelocKind::Relative => target.wrapping_sub(reference_point),
            RelocKind::RelToAbs => target.wrapping_sub(reference_point).wrapping_sub(base),
            RelocKind::AbsToRel => target.wrapping_add(base),
            RelocKind::Absolute => target,
        };
        (raw as isize).wrapping_add(self.addend) as i64
    }
}
