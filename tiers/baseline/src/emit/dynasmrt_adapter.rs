//! [`DynasmrtEmitter`]: [`Emitter`] over `dynasmrt::x64::Assembler` (user space only, as dynasmrt
//! needs std). It is the reference the byte-identity test compares [`super::CodeSink`] against.

extern crate std;

use alloc::format;
use alloc::vec::Vec;

use dynasmrt::x64::Assembler;
use dynasmrt::{AssemblyOffset, DynasmApi, DynasmError, DynasmLabelApi, LabelKind, TargetKind};

use super::{DynamicLabel, EmitError, Emitter, LabelRef};

/// Emits through `dynasmrt`'s x64 assembler (which writes into its own mmap'd buffer).
#[derive(Debug)]
pub struct DynasmrtEmitter {
    asm: Assembler,
    /// dynasmrt's label for each of ours, by index (both count from 0, but the mapping keeps the
    /// adapter independent of that detail).
    labels: Vec<dynasmrt::DynamicLabel>,
    /// A failure dynasmrt would turn into a panic (it indexes and unwraps), caught here first.
    error: Option<EmitError>,
}

impl DynasmrtEmitter {
    /// A fresh assembler; fails if dynasmrt cannot map its buffer.
    pub fn new() -> Result<Self, EmitError> {
        let asm = Assembler::new().map_err(|e| EmitError::Other(format!("dynasmrt: {e}")))?;
        Ok(DynasmrtEmitter { asm, labels: Vec::new(), error: None })
    }

    /// The address of dynasmrt's buffer now; it stays there while the code fits the buffer
    /// (one page at first), so `extern` targets near it are reachable with rel32.
    pub fn current_address(&self) -> usize {
        self.asm.reader().lock().as_ptr() as usize
    }

    fn fail(&mut self, error: EmitError) {
        if self.error.is_none() {
            self.error = Some(error);
        }
    }

    fn label(&mut self, label: DynamicLabel) -> Option<dynasmrt::DynamicLabel> {
        let found = self.labels.get(label.index()).copied();
        if found.is_none() {
            self.fail(EmitError::UndefinedLabel(LabelRef::Dynamic(label)));
        }
        found
    }

    /// dynasmrt panics on relocation bytes it does not know or fields outside the buffer; check
    /// the descriptor the same way the sink does before handing it over.
    fn check(&mut self, field_offset: u8, ref_offset: u8, encoding: u8) -> bool {
        let at = self.asm.offset().0;
        match super::reloc::Fixup::new(at, field_offset, ref_offset, 0, encoding) {
            Ok(_) => true,
            Err(e) => {
                self.fail(e);
                false
            }
        }
    }

    /// Like [`Emitter::finish`], also returning the address dynasmrt placed the code at (the
    /// base its address-dependent references were computed for).
    pub fn finish_with_address(mut self) -> Result<(Vec<u8>, usize), EmitError> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        // `finalize` panics if committing fails, so commit first and map the error.
        self.asm.commit().map_err(|e| self.translate(e))?;
        let buffer =
            self.asm.finalize().map_err(|_| EmitError::Other("dynasmrt: the code buffer is still shared".into()))?;
        let address = buffer.as_ptr() as usize;
        Ok((buffer.to_vec(), address))
    }

    fn translate(&self, error: DynasmError) -> EmitError {
        let ours = |label: dynasmrt::DynamicLabel| {
            let index = self.labels.iter().position(|l| *l == label).unwrap_or(usize::MAX);
            DynamicLabel::from_index(index).unwrap_or(DynamicLabel(u32::MAX))
        };
        let label = |kind: LabelKind| match kind {
            LabelKind::Local(name) => LabelRef::Local(name),
            LabelKind::Global(name) => LabelRef::Global(name),
            LabelKind::Dynamic(id) => LabelRef::Dynamic(ours(id)),
        };
        match error {
            DynasmError::DuplicateLabel(kind) => EmitError::DuplicateLabel(label(kind)),
            DynasmError::UnknownLabel(kind) => EmitError::UndefinedLabel(label(kind)),
            DynasmError::ImpossibleRelocation(target) => EmitError::RelocationOutOfRange(match target {
                TargetKind::Local(name) => LabelRef::Local(name),
                TargetKind::Global(name) => LabelRef::Global(name),
                TargetKind::Dynamic(id) => LabelRef::Dynamic(ours(id)),
                TargetKind::Value(value) => LabelRef::Value(value),
                TargetKind::Managed => LabelRef::Value(0),
            }),
            other => EmitError::Other(format!("dynasmrt: {other}")),
        }
    }
}

impl Emitter for DynasmrtEmitter {
    fn offset(&self) -> usize {
        self.asm.offset().0
    }

    fn push(&mut self, byte: u8) {
        self.asm.push(byte);
    }

    fn extend(&mut self, bytes: &[u8]) {
        Extend::extend(&mut self.asm, bytes);
    }

    fn align(&mut self, alignment: usize, with: u8) {
        if alignment == 0 {
            self.fail(EmitError::BadAlignment);
        } else {
            self.asm.align(alignment, with);
        }
    }

    fn global_label(&mut self, name: &'static str) {
        self.asm.global_label(name);
    }

    fn local_label(&mut self, name: &'static str) {
        self.asm.local_label(name);
    }

    fn dynamic_label(&mut self, label: DynamicLabel) {
        if let Some(theirs) = self.label(label) {
            self.asm.dynamic_label(theirs);
        }
    }

    fn global_reloc(
        &mut self,
        name: &'static str,
        target_offset: isize,
        field_offset: u8,
        ref_offset: u8,
        encoding: u8,
    ) {
        if self.check(field_offset, ref_offset, encoding) {
            self.asm.global_reloc(name, target_offset, field_offset, ref_offset, encoding);
        }
    }

    fn forward_reloc(
        &mut self,
        name: &'static str,
        target_offset: isize,
        field_offset: u8,
        ref_offset: u8,
        encoding: u8,
    ) {
        if self.check(field_offset, ref_offset, encoding) {
            self.asm.forward_reloc(name, target_offset, field_offset, ref_offset, encoding);
        }
    }

    fn backward_reloc(
        &mut self,
        name: &'static str,
        target_offset: isize,
        field_offset: u8,
        ref_offset: u8,
        encoding: u8,
    ) {
        if self.check(field_offset, ref_offset, encoding) {
            self.asm.backward_reloc(name, target_offset, field_offset, ref_offset, encoding);
        }
    }

    fn dynamic_reloc(
        &mut self,
        label: DynamicLabel,
        target_offset: isize,
        field_offset: u8,
        ref_offset: u8,
        encoding: u8,
    ) {
        if self.check(field_offset, ref_offset, encoding) {
            if let Some(theirs) = self.label(label) {
                self.asm.dynamic_reloc(theirs, target_offset, field_offset, ref_offset, encoding);
            }
        }
    }

    fn value_reloc(&mut self, value: usize, field_offset: u8, ref_offset: u8, encoding: u8) {
        if self.check(field_offset, ref_offset, encoding) {
            self.asm.value_reloc(value, field_offset, ref_offset, encoding);
        }
    }

    fn new_dynamic_label(&mut self) -> DynamicLabel {
        let theirs = self.asm.new_dynamic_label();
        match DynamicLabel::from_index(self.labels.len()) {
            Some(ours) => {
                self.labels.push(theirs);
                ours
            }
            None => {
                self.fail(EmitError::OutOfMemory);
                DynamicLabel(u32::MAX)
            }
        }
    }

    fn patch(&mut self, at: usize, bytes: &[u8]) -> Result<(), EmitError> {
        let end = at.checked_add(bytes.len()).filter(|end| *end <= self.asm.offset().0);
        if end.is_none() {
            return Err(EmitError::PatchOutOfRange { at, len: bytes.len() });
        }
        // Nothing is committed before `finish`, so every written byte is still in the
        // uncommitted buffer the modifier addresses.
        let mut modifier = self.asm.alter_uncommitted();
        modifier.goto(AssemblyOffset(at));
        Extend::extend(&mut modifier, bytes);
        Ok(())
    }

    fn finish(self) -> Result<Vec<u8>, EmitError> {
        self.finish_with_address().map(|(code, _)| code)
    }
}
