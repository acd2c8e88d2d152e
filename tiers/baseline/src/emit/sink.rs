//! [`CodeSink`]: the no_std emitter — a byte buffer, label tables and pending fixups.
//!
//! Semantics follow what `dynasm!` code expects (and what `dynasmrt`'s assembler does, which the
//! byte-identity test checks): references to labels are resolved when the code is finished, so
//! they may point forward; `>name` means the next definition of local label `name` after the
//! reference and `<name` the latest one before it; `extern` values are written at once.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use super::reloc::Fixup;
use super::{DynamicLabel, EmitError, Emitter, LabelRef};

/// The target of a pending reference.
#[derive(Debug, Clone, Copy)]
enum Target {
    Global(&'static str),
    /// A local label name and the generation (1 = first definition) the reference binds to.
    Local(&'static str, u32),
    Dynamic(DynamicLabel),
}

impl Target {
    fn label(self) -> LabelRef {
        match self {
            Target::Global(name) => LabelRef::Global(name),
            Target::Local(name, _) => LabelRef::Local(name),
            Target::Dynamic(label) => LabelRef::Dynamic(label),
        }
    }
}

/// A no_std code buffer with label definitions and relocation fixups.
#[derive(Debug, Default)]
pub struct CodeSink {
    code: Vec<u8>,
    /// The address the code is assumed to run at, for the few address-dependent references.
    base: usize,
    globals: BTreeMap<&'static str, usize>,
    /// Offsets of each local label's definitions, in order (generation g is index g - 1).
    locals: BTreeMap<&'static str, Vec<usize>>,
    /// Offset of each dynamic label, `None` until defined.
    dynamics: Vec<Option<usize>>,
    pending: Vec<(Target, Fixup)>,
    /// The first problem seen; everything after it is moot and `finish` reports it.
    error: Option<EmitError>,
}

impl CodeSink {
    /// An empty sink for code whose address-dependent references (if any) assume it is placed
    /// at `base`; use 0 for code that is position-independent.
    pub fn new(base: usize) -> Self {
        CodeSink { base, ..Default::default() }
    }

    /// The bytes written so far (label references not yet resolved).
    pub fn bytes(&self) -> &[u8] {
        &self.code
    }

    fn fail(&mut self, error: EmitError) {
        if self.error.is_none() {
            self.error = Some(error);
        }
    }

    /// Grows the buffer without aborting on allocation failure (the kernel must not panic).
    fn reserve(&mut self, additional: usize) -> bool {
        if self.code.try_reserve(additional).is_err() {
            self.fail(EmitError::OutOfMemory);
            return false;
        }
        true
    }

    fn add_reference(&mut self, target: Target, addend: isize, field_offset: u8, ref_offset: u8, encoding: u8) {
        match Fixup::new(self.code.len(), field_offset, ref_offset, addend, encoding) {
            Ok(fixup) => {
                if self.pending.try_reserve(1).is_err() {
                    self.fail(EmitError::OutOfMemory);
                } else {
                    self.pending.push((target, fixup));
                }
            }
            Err(e) => self.fail(e),
        }
    }

    fn resolve(&self, target: Target) -> Result<usize, EmitError> {
        let found = match target {
            Target::Global(name) => self.globals.get(name).copied(),
            Target::Local(name, generation) => {
                let index = (generation as usize).checked_sub(1);
                index.and_then(|index| self.locals.get(name)?.get(index)).copied()
            }
            Target::Dynamic(label) => self.dynamics.get(label.index()).copied().flatten(),
        };
        found.ok_or(EmitError::UndefinedLabel(target.label()))
    }

    fn write_fixup(&mut self, fixup: &Fixup, target: usize, what: LabelRef) -> Result<(), EmitError> {
        let value = fixup.value(target, self.base);
        let field = self.code.get_mut(fixup.field()).ok_or(EmitError::RelocationOutOfRange(what.clone()))?;
        if fixup.spec.size.write(field, value) {
            Ok(())
        } else {
            Err(EmitError::RelocationOutOfRange(what))
        }
    }

    /// The generation a new reference to local label `name` binds to: the latest definition
    /// (`backward`) or the one after it (`forward`); `None` for a backward reference to a label
    /// not yet defined.
    fn local_generation(&self, name: &'static str, forward: bool) -> Option<u32> {
        let defined = self.locals.get(name).map_or(0, |defs| defs.len());
        let defined = u32::try_from(defined).ok()?;
        if forward {
            defined.checked_add(1)
        } else if defined == 0 {
            None
        } else {
            Some(defined)
        }
    }
}

impl Emitter for CodeSink {
    fn offset(&self) -> usize {
        self.code.len()
    }

    fn push(&mut self, byte: u8) {
        if self.reserve(1) {
            self.code.push(byte);
        }
    }

    fn extend(&mut self, bytes: &[u8]) {
        if self.reserve(bytes.len()) {
            self.code.extend_from_slice(bytes);
        }
    }

    fn align(&mut self, alignment: usize, with: u8) {
        if alignment == 0 {
            self.fail(EmitError::BadAlignment);
            return;
        }
        let misalignment = self.code.len() % alignment;
        if misalignment != 0 {
            let padding = alignment - misalignment;
            if self.reserve(padding) {
                self.code.resize(self.code.len() + padding, with);
            }
        }
    }

    fn global_label(&mut self, name: &'static str) {
        let at = self.code.len();
        if self.globals.insert(name, at).is_some() {
            self.fail(EmitError::DuplicateLabel(LabelRef::Global(name)));
        }
    }

    fn local_label(&mut self, name: &'static str) {
        let at = self.code.len();
        let defs = self.locals.entry(name).or_default();
        if defs.try_reserve(1).is_err() {
            self.fail(EmitError::OutOfMemory);
            return;
        }
        defs.push(at);
    }

    fn dynamic_label(&mut self, label: DynamicLabel) {
        let at = self.code.len();
        match self.dynamics.get_mut(label.index()) {
            Some(Some(_)) => self.fail(EmitError::DuplicateLabel(LabelRef::Dynamic(label))),
            Some(slot) => *slot = Some(at),
            None => self.fail(EmitError::UndefinedLabel(LabelRef::Dynamic(label))),
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
        self.add_reference(Target::Global(name), target_offset, field_offset, ref_offset, encoding);
    }

    fn forward_reloc(
        &mut self,
        name: &'static str,
        target_offset: isize,
        field_offset: u8,
        ref_offset: u8,
        encoding: u8,
    ) {
        match self.local_generation(name, true) {
            Some(generation) => {
                self.add_reference(Target::Local(name, generation), target_offset, field_offset, ref_offset, encoding)
            }
            None => self.fail(EmitError::UndefinedLabel(LabelRef::Local(name))),
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
        match self.local_generation(name, false) {
            Some(generation) => {
                self.add_reference(Target::Local(name, generation), target_offset, field_offset, ref_offset, encoding)
            }
            None => self.fail(EmitError::UndefinedLabel(LabelRef::Local(name))),
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
        self.add_reference(Target::Dynamic(label), target_offset, field_offset, ref_offset, encoding);
    }

    fn value_reloc(&mut self, value: usize, field_offset: u8, ref_offset: u8, encoding: u8) {
        let result = Fixup::new(self.code.len(), field_offset, ref_offset, 0, encoding)
            .and_then(|fixup| self.write_fixup(&fixup, value, LabelRef::Value(value)));
        if let Err(e) = result {
            self.fail(e);
        }
    }

    fn new_dynamic_label(&mut self) -> DynamicLabel {
        let index = self.dynamics.len();
        match DynamicLabel::from_index(index) {
            Some(label) if self.dynamics.try_reserve(1).is_ok() => {
                self.dynamics.push(None);
                label
            }
            // Out of labels or memory: hand out a label that can never be defined, so any use
            // of it fails at `finish` (the error below is reported first).
            _ => {
                self.fail(EmitError::OutOfMemory);
                DynamicLabel(u32::MAX)
            }
        }
    }

    fn patch(&mut self, at: usize, bytes: &[u8]) -> Result<(), EmitError> {
        let range = at.checked_add(bytes.len()).map(|end| at..end);
        match range.and_then(|range| self.code.get_mut(range)) {
            Some(dst) => {
                dst.copy_from_slice(bytes);
                Ok(())
            }
            None => Err(EmitError::PatchOutOfRange { at, len: bytes.len() }),
        }
    }

    fn finish(mut self) -> Result<Vec<u8>, EmitError> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        let pending = core::mem::take(&mut self.pending);
        for (target, fixup) in &pending {
            let offset = self.resolve(*target)?;
            self.write_fixup(fixup, offset, target.label())?;
        }
        Ok(self.code)
    }
}
