//! Translation of validated wasm function bodies into [`InterpFunc`] code, in one pass.
//!
//! The translator mirrors the wasm operand stack at compile time. Each entry is either already in
//! its *canonical* slot (`num_locals + stack position`) or still lives in a local (`local.get` is
//! deferred until the value must be moved). Deferred locals are materialized before anything that
//! could change the local or merge control flow, so the run-time code never needs to know.
//!
//! Stack positions, like frame slots, count 64-bit slots: a v128 is two entries (low half,
//! then high half; [`Translator::hi`] marks high halves), so heights, branch moves and call
//! arguments need no type information, and each half moves like any other slot.

use alloc::format;
use alloc::vec::Vec;

use kwasm_runtime::module::Module;
use kwasm_runtime::store::FuncKind;
use kwasm_runtime::{Error, FuncAddr, FuncType, Store, ValType};
use wasmparser::{BlockType, Operator};

use crate::code::{Instr, InterpFunc, Slot};
use crate::simd::{self, Form, LoadKind};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Opd {
    /// In its canonical slot.
    Canonical,
    /// The current value of this local.
    Local(u32),
    /// A constant not yet written anywhere.
    Const(u64),
}

/// Where a branch move takes its value from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Src {
    Slot(Slot),
    Const(u64),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CtrlKind {
    Func,
    Block,
    Loop,
    If,
    Else,
}

struct Ctrl {
    kind: CtrlKind,
    /// The block type (for the types of the values pushed at `else` and `end`).
    ty: BlockType,
    /// Operand-stack height below the block's parameters.
    height: usize,
    /// Parameter and result slots.
    params: u32,
    results: u32,
    /// Loop header (branch target of a loop).
    start: u32,
    /// Forward jumps to patch with the end address.
    patches: Vec<usize>,
    /// The conditional jump of an `if` that goes to the `else` arm (or the end).
    else_jump: Option<usize>,
}

struct Translator<'m> {
    module: &'m Module,
    code: Vec<Instr>,
    offsets: Vec<u32>,
    offset: u32,
    num_locals: u32,
    /// Slot and type of each local, when some local is a v128 (otherwise local `i` is slot `i`).
    locals: Option<Vec<(Slot, ValType)>>,
    stack: Vec<Opd>,
    /// Whether the stack entry at each position is the high half of a v128 (valid below
    /// `stack.len()`; written by every push).
    hi: Vec<bool>,
    max_height: usize,
    ctrl: Vec<Ctrl>,
    /// Index of the last instruction if it wrote the canonical slot of the stack top.
    last_result: Option<usize>,
    reachable: bool,
    /// Nesting depth of blocks opened inside unreachable code (skipped entirely).
    dead_depth: u32,
    /// Fuel counters: the `Fuel` instruction to patch (None for the function entry) and count.
    fuel: Vec<(Option<usize>, u32)>,
    indirect: Vec<(u32, u32)>,
    table_pairs: Vec<(u32, u32)>,
    shuffles: Vec<[u8; 16]>,
}

fn unsupported(what: &str) -> Error {
    Error::Unsupported(format!("{what} (the interpreter covers Wasm 2.0)"))
}

/// Translates the function at store address `func`.
pub fn translate(store: &Store, func: FuncAddr) -> Result<InterpFunc, Error> {
    let f = &store.funcs[func as usize];
    let FuncKind::Wasm { instance, func_index } = f.kind else {
        return Err(Error::Other("host functions are not translated".into()));
    };
    let module = &store.instance(instance).module;
    let def = func_index - module.num_imported_funcs;
    let ty = module.func_type(func_index);
    let body = module.body_reader(def);
    let mut num_locals = ty.params.len() as u64;
    let mut local_groups = Vec::new();
    for l in body.get_locals_reader()? {
        let (n, t) = l?;
        let t = ValType::from_wasmparser(t).ok_or_else(|| unsupported("GC reference types"))?;
        num_locals += n as u64;
        if num_locals > 1 << 20 {
            return Err(Error::Resource(format!("function {func_index} has {num_locals} locals")));
        }
        local_groups.push((n, t));
    }
    // Only functions with v128 locals pay for a local-to-slot map.
    let locals = if ty.params.contains(&ValType::V128) || local_groups.iter().any(|g| g.1 == ValType::V128) {
        let mut map = Vec::new();
        map.try_reserve_exact(num_locals as usize)
            .map_err(|_| Error::Resource("no memory to translate a function".into()))?;
        let mut slot = 0;
        let groups = local_groups.iter().flat_map(|&(n, t)| core::iter::repeat_n(t, n as usize));
        for t in ty.params.iter().copied().chain(groups) {
            map.push((slot, t));
            slot += t.slots() as Slot;
        }
        num_locals = slot as u64;
        Some(map)
    } else {
        None
    };
    let mut t = Translator {
        module,
        code: Vec::new(),
        offsets: Vec::new(),
        offset: 0,
        num_locals: num_locals as u32,
        locals,
        stack: Vec::new(),
        hi: Vec::new(),
        max_height: 0,
        ctrl: Vec::new(),
        last_result: None,
        reachable: true,
        dead_depth: 0,
        fuel: alloc::vec![(None, 0)],
        indirect: Vec::new(),
        table_pairs: Vec::new(),
        shuffles: Vec::new(),
    };
    t.ctrl.push(Ctrl {
        kind: CtrlKind::Func,
        ty: BlockType::Empty,
        height: 0,
        params: 0,
        results: ty.result_slots() as u32,
        start: 0,
        patches: Vec::new(),
        else_jump: None,
    });
    let mut reader = body.get_operators_reader()?;
    while !reader.eof() {
        let (op, offset) = reader.read_with_offset()?;
        t.offset = offset as u32;
        t.reserve_for_op()?;
        t.op(op)?;
    }
    t.make_branches_relative();
    let frame_size = t.num_locals as usize + t.max_height + 1;
    if frame_size > u32::MAX as usize / 2 {
        return Err(Error::Resource("function frame too large".into()));
    }
    Ok(InterpFunc {
        code: t.code,
        offsets: t.offsets,
        frame_size: frame_size as u32,
        num_params: ty.param_slots() as u32,
        num_locals: t.num_locals,
        num_results: ty.result_slots() as u32,
        entry_fuel: t.fuel[0].1.max(1),
        func_index,
        addr: func,
        instance,
        indirect: t.indirect,
        table_pairs: t.table_pairs,
        shuffles: t.shuffles,
    })
}

impl Translator<'_> {
    fn canonical(&self, pos: usize) -> Slot {
        self.num_locals + pos as Slot
    }

    /// Where the operand at `pos` lives; constants must be materialized first.
    fn slot_of(&self, pos: usize) -> Slot {
        match self.stack[pos] {
            Opd::Canonical => self.canonical(pos),
            Opd::Local(l) => l,
            Opd::Const(_) => unreachable!("constant operand used as a slot without materializing"),
        }
    }

    fn src_of(&self, pos: usize) -> Src {
        match self.stack[pos] {
            Opd::Const(v) => Src::Const(v),
            _ => Src::Slot(self.slot_of(pos)),
        }
    }

    fn top_const(&self) -> Option<u64> {
        match self.stack.last() {
            Some(Opd::Const(v)) => Some(*v),
            _ => None,
        }
    }

    /// Emits `dst = src`.
    fn emit_move(&mut self, dst: Slot, src: Src) {
        match src {
            Src::Slot(s) => {
                if s != dst {
                    self.emit(Instr::Copy { dst, src: s });
                }
            }
            Src::Const(v) => {
                self.emit(Instr::Const { dst, lo: v as u32, hi: (v >> 32) as u32 });
            }
        }
    }

    /// Pushes an operand (a whole value, or one half of a v128: `hi` for the high half).
    fn push_entry(&mut self, opd: Opd, hi: bool) {
        let pos = self.stack.len();
        self.stack.push(opd);
        if pos < self.hi.len() {
            self.hi[pos] = hi;
        } else {
            self.hi.push(hi);
        }
        self.max_height = self.max_height.max(self.stack.len());
    }

    fn push(&mut self) {
        self.push_entry(Opd::Canonical, false);
    }

    /// Pushes a computed value of type `ty` (two entries for a v128).
    fn push_typed(&mut self, ty: ValType) {
        self.push();
        if ty == ValType::V128 {
            self.push_entry(Opd::Canonical, true);
        }
    }

    /// Whether the top of the stack is the high half of a v128.
    fn top_is_v128(&self) -> bool {
        self.hi[self.stack.len() - 1]
    }

    /// Pops a v128 and returns its (low) slot; both halves end up in two consecutive slots.
    fn pop_v128(&mut self) -> Slot {
        let h = self.stack.len();
        let slot = match (self.stack[h - 2], self.stack[h - 1]) {
            (Opd::Local(lo), Opd::Local(hi)) if hi == lo + 1 => lo,
            _ => {
                self.materialize(h - 2);
                self.materialize(h - 1);
                self.canonical(h - 2)
            }
        };
        self.stack.truncate(h - 2);
        slot
    }

    /// Emits an instruction that writes a v128 as the new stack top and pushes it.
    fn emit_result_v128(&mut self, make: impl FnOnce(Slot) -> Instr) {
        let dst = self.canonical(self.stack.len());
        self.emit(make(dst));
        self.push_typed(ValType::V128);
    }

    /// The slot and type of local `index`.
    fn local(&self, index: u32) -> (Slot, ValType) {
        match &self.locals {
            Some(map) => map[index as usize],
            // Only the width matters here: every non-v128 local takes one slot.
            None => (index, ValType::I64),
        }
    }

    /// Pushes the values of a block's parameters (`results == false`) or results.
    fn push_block_values(&mut self, bt: BlockType, results: bool) {
        let module = self.module;
        match bt {
            BlockType::Empty => {}
            BlockType::Type(t) => {
                if results {
                    self.push_typed(ValType::from_wasmparser(t).unwrap_or(ValType::I64));
                }
            }
            BlockType::FuncType(i) => {
                let ft = &module.types[i as usize];
                for t in if results { &ft.results } else { &ft.params } {
                    self.push_typed(*t);
                }
            }
        }
    }

    fn pop(&mut self) -> Slot {
        let pos = self.stack.len() - 1;
        if let Opd::Const(_) = self.stack[pos] {
            self.materialize(pos);
        }
        let s = self.slot_of(pos);
        self.stack.pop();
        s
    }

    /// Makes room, fallibly, for everything one operator may add: a few instructions plus one
    /// move per operand on the stack (a branch or `end` moves at most the whole stack), a few
    /// operands and a control frame. The pushes that follow then never allocate, so running out of
    /// memory while translating is a clean [`Error::Resource`] instead of an abort (the kernel
    /// host needs this).
    fn reserve_for_op(&mut self) -> Result<(), Error> {
        let instrs = 16 + self.stack.len();
        let oom = |_| Error::Resource("no memory to translate a function".into());
        self.code.try_reserve(instrs).map_err(oom)?;
        self.offsets.try_reserve(instrs).map_err(oom)?;
        self.stack.try_reserve(16).map_err(oom)?;
        self.hi.try_reserve(self.stack.len() + 16).map_err(oom)?;
        self.ctrl.try_reserve(1).map_err(oom)
    }

    fn pc(&self) -> u32 {
        self.code.len() as u32
    }

    fn emit(&mut self, i: Instr) -> usize {
        self.code.push(i);
        self.offsets.push(self.offset);
        self.last_result = None;
        self.code.len() - 1
    }

    /// Emits an instruction that writes the new stack top and pushes it.
    fn emit_result(&mut self, make: impl FnOnce(Slot) -> Instr) {
        let dst = self.canonical(self.stack.len());
        let idx = self.emit(make(dst));
        self.push();
        self.last_result = Some(idx);
    }

    fn materialize(&mut self, pos: usize) {
        let src = match self.stack[pos] {
            Opd::Canonical => return,
            Opd::Local(l) => Src::Slot(l),
            Opd::Const(v) => Src::Const(v),
        };
        let dst = self.canonical(pos);
        self.emit_move(dst, src);
        self.stack[pos] = Opd::Canonical;
    }

    fn materialize_top(&mut self, n: usize) {
        let h = self.stack.len();
        for pos in h - n..h {
            self.materialize(pos);
        }
    }

    fn materialize_all(&mut self) {
        for pos in 0..self.stack.len() {
            self.materialize(pos);
        }
    }

    fn materialize_local(&mut self, local: u32) {
        for pos in 0..self.stack.len() {
            if self.stack[pos] == Opd::Local(local) {
                self.materialize(pos);
            }
        }
    }

    fn unary(&mut self, make: fn(Slot, Slot) -> Instr) {
        let src = self.pop();
        self.emit_result(|dst| make(dst, src));
    }

    fn binary(&mut self, make: fn(Slot, Slot, Slot) -> Instr) {
        let b = self.pop();
        let a = self.pop();
        self.emit_result(|dst| make(dst, a, b));
    }

    /// A binary operator whose right operand may be an immediate: with a constant on top of the
    /// stack that fits (`wide`: i64 operators need the value to fit in i32 sign-extended), emits
    /// the immediate form.
    fn binary_imm(&mut self, wide: bool, make: fn(Slot, Slot, Slot) -> Instr, make_imm: fn(Slot, Slot, i32) -> Instr) {
        if let Some(c) = self.top_const() {
            let imm = if wide { i32::try_from(c as i64).ok() } else { Some(c as u32 as i32) };
            if let Some(imm) = imm {
                self.stack.pop();
                let a = self.pop();
                self.emit_result(|dst| make_imm(dst, a, imm));
                return;
            }
        }
        self.binary(make);
    }

    /// `sub` with a constant becomes `add` of the negated constant.
    fn sub_imm(&mut self, wide: bool, make: fn(Slot, Slot, Slot) -> Instr) {
        if let Some(c) = self.top_const() {
            let neg = if wide {
                (c as i64).checked_neg().and_then(|n| i32::try_from(n).ok())
            } else {
                Some((c as u32 as i32).wrapping_neg())
            };
            if let Some(imm) = neg {
                self.stack.pop();
                let a = self.pop();
                if wide {
                    self.emit_result(|dst| Instr::I64AddImm { dst, a, imm });
                } else {
                    self.emit_result(|dst| Instr::I32AddImm { dst, a, imm });
                }
                return;
            }
        }
        self.binary(make);
    }

    fn load(&mut self, offset: u64, make: fn(Slot, Slot, u32) -> Instr) {
        let addr = self.pop();
        self.emit_result(|dst| make(dst, addr, offset as u32));
    }

    fn store(&mut self, offset: u64, make: fn(Slot, Slot, u32) -> Instr) {
        if let Some(c) = self.top_const() {
            let probe = make(0, 0, 0);
            let imm = match probe {
                Instr::I32Store { .. } => Some((true, c as u32 as i32)),
                Instr::I64Store { .. } => i32::try_from(c as i64).ok().map(|i| (false, i)),
                _ => None,
            };
            if let Some((is32, imm)) = imm {
                self.stack.pop();
                let addr = self.pop();
                let offset = offset as u32;
                self.emit(if is32 {
                    Instr::I32StoreImm { addr, imm, offset }
                } else {
                    Instr::I64StoreImm { addr, imm, offset }
                });
                return;
            }
        }
        let val = self.pop();
        let addr = self.pop();
        self.emit(make(addr, val, offset as u32));
    }

    fn constant(&mut self, v: u64) {
        self.push_entry(Opd::Const(v), false);
        self.last_result = None;
    }

    fn block_arity(&self, bt: BlockType) -> Result<(u32, u32), Error> {
        Ok(match bt {
            BlockType::Empty => (0, 0),
            BlockType::Type(t) => {
                let t = ValType::from_wasmparser(t).ok_or_else(|| unsupported("GC reference types"))?;
                (0, t.slots() as u32)
            }
            BlockType::FuncType(i) => {
                let ft = &self.module.types[i as usize];
                (ft.param_slots() as u32, ft.result_slots() as u32)
            }
        })
    }

    fn push_ctrl(&mut self, kind: CtrlKind, bt: BlockType) -> Result<(), Error> {
        let (params, results) = self.block_arity(bt)?;
        self.materialize_all();
        let start = self.pc();
        self.ctrl.push(Ctrl {
            kind,
            ty: bt,
            height: self.stack.len() - params as usize,
            params,
            results,
            start,
            patches: Vec::new(),
            else_jump: None,
        });
        Ok(())
    }

    /// Turns absolute branch targets into offsets from the instruction after the branch, so the
    /// executor needs no code base pointer to jump.
    fn make_branches_relative(&mut self) {
        for i in 0..self.code.len() {
            if let Some(t) = branch_target_mut(&mut self.code[i]) {
                *t = (*t as i64 - (i as i64 + 1)) as i32 as u32;
            }
        }
    }

    fn patch(&mut self, idx: usize, target: u32) {
        match branch_target_mut(&mut self.code[idx]) {
            Some(t) => *t = target,
            None => unreachable!("patching a non-branch {:?}", self.code[idx]),
        }
    }

    /// Emits a jump instruction to label `depth` (forward targets are patched later).
    fn jump_instr(&mut self, depth: u32, instr: Instr) {
        let label = self.ctrl.len() - 1 - depth as usize;
        let idx = self.emit(instr);
        if self.ctrl[label].kind == CtrlKind::Loop {
            let start = self.ctrl[label].start;
            self.patch(idx, start);
        } else {
            self.ctrl[label].patches.push(idx);
        }
    }

    fn label_arity(&self, depth: u32) -> usize {
        let c = &self.ctrl[self.ctrl.len() - 1 - depth as usize];
        (if c.kind == CtrlKind::Loop { c.params } else { c.results }) as usize
    }

    /// The moves a branch to `depth` needs: (dst, src) pairs, in a safe order.
    fn branch_moves(&self, depth: u32) -> Vec<(Slot, Src)> {
        let label = self.ctrl.len() - 1 - depth as usize;
        let arity = self.label_arity(depth);
        let h = self.stack.len();
        let dst_base = if label == 0 { 0 } else { self.canonical(self.ctrl[label].height) };
        (0..arity)
            .map(|i| (dst_base + i as Slot, self.src_of(h - arity + i)))
            .filter(|(d, s)| *s != Src::Slot(*d))
            .collect()
    }

    /// Emits the moves and the jump of a taken branch to `depth`.
    fn emit_branch(&mut self, depth: u32) {
        if depth as usize == self.ctrl.len() - 1 {
            self.emit_return();
            return;
        }
        for (dst, src) in self.branch_moves(depth) {
            self.emit_move(dst, src);
        }
        self.jump_instr(depth, Instr::Br { target: 0 });
    }

    /// Emits the moves of the results into slots `0..n` and the `Return`. Does not change the
    /// compile-time stack, because conditional returns (`br_if`, `br_table`) fall through.
    fn emit_return(&mut self) {
        let n = self.ctrl[0].results as usize;
        let h = self.stack.len();
        if n == 1 {
            let src = self.src_of(h - 1);
            self.emit_move(0, src);
        } else if n > 1 {
            // Results may come from locals that earlier moves would overwrite: stage them in
            // their canonical slots first, which lie above every result slot.
            for pos in h - n..h {
                if self.stack[pos] != Opd::Canonical {
                    let (dst, src) = (self.canonical(pos), self.src_of(pos));
                    self.emit_move(dst, src);
                }
            }
            let src = self.canonical(h - n);
            if src != 0 {
                self.emit(Instr::CopyRange { dst: 0, src, n: n as u32 });
            }
        }
        self.emit(Instr::Return {});
    }

    fn set_unreachable(&mut self) {
        self.reachable = false;
    }

    /// If the stack top was just computed by a fusable comparison, removes it and returns the
    /// fused conditional branch builder; `negate` asks for the branch-if-false form.
    fn take_compare(&mut self, negate: bool) -> Option<Instr> {
        let idx = self.last_result?;
        if idx + 1 != self.code.len() {
            return None;
        }
        let t = 0;
        let fused = match (self.code[idx], negate) {
            (Instr::I32Eq { a, b, .. }, false) | (Instr::I32Ne { a, b, .. }, true) => {
                Instr::BrIfI32Eq { a, b, target: t }
            }
            (Instr::I32Ne { a, b, .. }, false) | (Instr::I32Eq { a, b, .. }, true) => {
                Instr::BrIfI32Ne { a, b, target: t }
            }
            (Instr::I32LtS { a, b, .. }, false) | (Instr::I32GeS { a, b, .. }, true) => {
                Instr::BrIfI32LtS { a, b, target: t }
            }
            (Instr::I32LtU { a, b, .. }, false) | (Instr::I32GeU { a, b, .. }, true) => {
                Instr::BrIfI32LtU { a, b, target: t }
            }
            (Instr::I32GeS { a, b, .. }, false) | (Instr::I32LtS { a, b, .. }, true) => {
                Instr::BrIfI32GeS { a, b, target: t }
            }
            (Instr::I32GeU { a, b, .. }, false) | (Instr::I32LtU { a, b, .. }, true) => {
                Instr::BrIfI32GeU { a, b, target: t }
            }
            (Instr::I32GtS { a, b, .. }, false) | (Instr::I32LeS { a, b, .. }, true) => {
                Instr::BrIfI32LtS { a: b, b: a, target: t }
            }
            (Instr::I32GtU { a, b, .. }, false) | (Instr::I32LeU { a, b, .. }, true) => {
                Instr::BrIfI32LtU { a: b, b: a, target: t }
            }
            (Instr::I32LeS { a, b, .. }, false) | (Instr::I32GtS { a, b, .. }, true) => {
                Instr::BrIfI32GeS { a: b, b: a, target: t }
            }
            (Instr::I32LeU { a, b, .. }, false) | (Instr::I32GtU { a, b, .. }, true) => {
                Instr::BrIfI32GeU { a: b, b: a, target: t }
            }
            (Instr::I32EqImm { a, imm, .. }, false) | (Instr::I32NeImm { a, imm, .. }, true) => {
                Instr::BrIfI32EqImm { a, imm, target: t }
            }
            (Instr::I32NeImm { a, imm, .. }, false) | (Instr::I32EqImm { a, imm, .. }, true) => {
                Instr::BrIfI32NeImm { a, imm, target: t }
            }
            (Instr::I32LtSImm { a, imm, .. }, false) | (Instr::I32GeSImm { a, imm, .. }, true) => {
                Instr::BrIfI32LtSImm { a, imm, target: t }
            }
            (Instr::I32LtUImm { a, imm, .. }, false) | (Instr::I32GeUImm { a, imm, .. }, true) => {
                Instr::BrIfI32LtUImm { a, imm, target: t }
            }
            (Instr::I32GeSImm { a, imm, .. }, false) | (Instr::I32LtSImm { a, imm, .. }, true) => {
                Instr::BrIfI32GeSImm { a, imm, target: t }
            }
            (Instr::I32GeUImm { a, imm, .. }, false) | (Instr::I32LtUImm { a, imm, .. }, true) => {
                Instr::BrIfI32GeUImm { a, imm, target: t }
            }
            // a > imm  <=>  a >= imm + 1;  a <= imm  <=>  a < imm + 1 (when imm + 1 does not wrap).
            (Instr::I32GtSImm { a, imm, .. }, false) | (Instr::I32LeSImm { a, imm, .. }, true) if imm != i32::MAX => {
                Instr::BrIfI32GeSImm { a, imm: imm + 1, target: t }
            }
            (Instr::I32LeSImm { a, imm, .. }, false) | (Instr::I32GtSImm { a, imm, .. }, true) if imm != i32::MAX => {
                Instr::BrIfI32LtSImm { a, imm: imm + 1, target: t }
            }
            (Instr::I32GtUImm { a, imm, .. }, false) | (Instr::I32LeUImm { a, imm, .. }, true)
                if imm as u32 != u32::MAX =>
            {
                Instr::BrIfI32GeUImm { a, imm: (imm as u32 + 1) as i32, target: t }
            }
            (Instr::I32LeUImm { a, imm, .. }, false) | (Instr::I32GtUImm { a, imm, .. }, true)
                if imm as u32 != u32::MAX =>
            {
                Instr::BrIfI32LtUImm { a, imm: (imm as u32 + 1) as i32, target: t }
            }
            (Instr::I32Eqz { src, .. }, false) => Instr::BrIfEqz { cond: src, target: t },
            (Instr::I32Eqz { src, .. }, true) => Instr::BrIfNez { cond: src, target: t },
            _ => return None,
        };
        self.code.pop();
        self.offsets.pop();
        self.last_result = None;
        self.stack.pop();
        Some(fused)
    }

    /// Pops an i32 condition and returns a conditional jump that is taken when the condition is
    /// true (`negate == false`) or false (`negate == true`); its target is filled in later.
    fn cond_jump(&mut self, negate: bool) -> Instr {
        if let Some(fused) = self.take_compare(negate) {
            return fused;
        }
        let cond = self.pop();
        if negate {
            Instr::BrIfEqz { cond, target: 0 }
        } else {
            Instr::BrIfNez { cond, target: 0 }
        }
    }

    fn local_set(&mut self, index: u32, tee: bool) {
        let (local, ty) = self.local(index);
        if ty == ValType::V128 {
            self.local_set_v128(local, tee);
            return;
        }
        let pos = self.stack.len() - 1;
        if let Opd::Const(v) = self.stack[pos] {
            self.stack.pop();
            self.materialize_local(local);
            self.emit_move(local, Src::Const(v));
            if tee {
                self.push_entry(Opd::Const(v), false);
            }
            return;
        }
        let top_is_fresh = self.stack[pos] == Opd::Canonical
            && self.last_result == Some(self.code.len() - 1)
            && !self.stack.contains(&Opd::Local(local));
        if top_is_fresh {
            let canonical = self.canonical(pos);
            let last = self.code.len() - 1;
            if let Some(dst) = self.code[last].result_slot_mut() {
                if *dst == canonical {
                    *dst = local;
                    self.last_result = None;
                    self.stack.pop();
                    if tee {
                        self.push_entry(Opd::Local(local), false);
                    }
                    return;
                }
            }
        }
        let src = self.pop();
        self.materialize_local(local);
        if src != local {
            self.emit(Instr::Copy { dst: local, src });
        }
        if tee {
            self.push_entry(Opd::Local(local), false);
        }
    }

    /// `local.set`/`local.tee` of the v128 local at slots `local..local+2`.
    fn local_set_v128(&mut self, local: Slot, tee: bool) {
        let src = self.pop_v128();
        self.materialize_local(local);
        self.materialize_local(local + 1);
        if src != local {
            self.emit(Instr::Copy { dst: local, src });
            self.emit(Instr::Copy { dst: local + 1, src: src + 1 });
        }
        if tee {
            self.push_entry(Opd::Local(local), false);
            self.push_entry(Opd::Local(local + 1), true);
        }
    }

    /// A call of a function of type `ty` whose arguments are on top of the stack.
    fn call(&mut self, ty: &FuncType, make: impl FnOnce(Slot) -> Instr) {
        let type_params = ty.param_slots();
        self.materialize_top(type_params);
        let base = self.canonical(self.stack.len() - type_params);
        self.stack.truncate(self.stack.len() - type_params);
        self.emit(make(base));
        for t in &ty.results {
            self.push_typed(*t);
        }
    }

    /// A generic SIMD operator of `form` (see [`simd::Form`]).
    fn simd(&mut self, op: simd::SimdOp, lane: u8, form: Form) {
        use Instr as I;
        match form {
            Form::VecToVec => {
                let src = self.pop_v128();
                self.emit_result_v128(|dst| I::SimdUnary { op, lane, dst, src });
            }
            Form::Splat => {
                let src = self.pop();
                self.emit_result_v128(|dst| I::SimdUnary { op, lane, dst, src });
            }
            Form::VecToI32 | Form::ExtractLane => {
                let src = self.pop_v128();
                self.emit_result(|dst| I::SimdUnary { op, lane, dst, src });
            }
            Form::VecVecToVec => {
                let b = self.pop_v128();
                let a = self.pop_v128();
                self.emit_result_v128(|dst| I::SimdBinary { op, lane, dst, a, b });
            }
            Form::VecI32ToVec | Form::ReplaceLane => {
                let b = self.pop();
                let a = self.pop_v128();
                self.emit_result_v128(|dst| I::SimdBinary { op, lane, dst, a, b });
            }
        }
    }

    /// `v128.loadN_lane` (`bytes` = N/8).
    fn load_lane(&mut self, bytes: u8, lane: u8, offset: u64) {
        let base = self.operands(3);
        self.emit(Instr::V128LoadLane { bytes, lane, base, offset: offset as u32 });
        self.push_typed(ValType::V128);
    }

    /// `v128.storeN_lane` (`bytes` = N/8).
    fn store_lane(&mut self, bytes: u8, lane: u8, offset: u64) {
        let val = self.pop_v128();
        let addr = self.pop();
        self.emit(Instr::V128StoreLane { bytes, lane, addr, val, offset: offset as u32 });
    }

    /// Materializes the top `n` operands, pops them and returns the slot of the lowest.
    fn operands(&mut self, n: usize) -> Slot {
        self.materialize_top(n);
        let base = self.canonical(self.stack.len() - n);
        self.stack.truncate(self.stack.len() - n);
        base
    }

    fn op(&mut self, op: Operator<'_>) -> Result<(), Error> {
        use Instr as I;
        use Operator as O;
        if !self.reachable {
            match op {
                O::Block { .. } | O::Loop { .. } | O::If { .. } => {
                    self.dead_depth += 1;
                    return Ok(());
                }
                O::End if self.dead_depth > 0 => {
                    self.dead_depth -= 1;
                    return Ok(());
                }
                O::Else if self.dead_depth == 0 => {}
                O::End => {}
                _ => return Ok(()),
            }
        }
        if let Some(f) = self.fuel.last_mut() {
            f.1 = f.1.saturating_add(1);
        }
        match op {
            O::Nop => {}
            O::Unreachable => {
                self.emit(I::Unreachable {});
                self.set_unreachable();
            }
            O::Block { blockty } => self.push_ctrl(CtrlKind::Block, blockty)?,
            O::Loop { blockty } => {
                self.push_ctrl(CtrlKind::Loop, blockty)?;
                let idx = self.emit(I::Fuel { n: 0 });
                self.fuel.push((Some(idx), 0));
            }
            O::If { blockty } => {
                let jump = self.cond_jump(true);
                self.push_ctrl(CtrlKind::If, blockty)?;
                let idx = self.emit(jump);
                self.ctrl.last_mut().unwrap().else_jump = Some(idx);
            }
            O::Else => {
                let (height, params, results) = {
                    let c = self.ctrl.last().unwrap();
                    (c.height, c.params, c.results)
                };
                if self.reachable {
                    self.materialize_top(results as usize);
                    let idx = self.emit(I::Br { target: 0 });
                    self.ctrl.last_mut().unwrap().patches.push(idx);
                }
                let here = self.pc();
                if let Some(j) = self.ctrl.last_mut().unwrap().else_jump.take() {
                    self.patch(j, here);
                }
                self.ctrl.last_mut().unwrap().kind = CtrlKind::Else;
                self.stack.truncate(height);
                let bt = self.ctrl.last().unwrap().ty;
                self.push_block_values(bt, false);
                debug_assert_eq!(self.stack.len(), height + params as usize);
                self.reachable = true;
                self.last_result = None;
            }
            O::End => {
                let c = self.ctrl.pop().unwrap();
                if c.kind == CtrlKind::Func {
                    if self.reachable {
                        self.ctrl.push(c);
                        self.emit_return();
                        self.ctrl.pop();
                    }
                    return Ok(());
                }
                if self.reachable {
                    self.materialize_top(c.results as usize);
                }
                if c.kind == CtrlKind::Loop {
                    let (idx, n) = self.fuel.pop().unwrap();
                    if let Some(idx) = idx {
                        self.code[idx] = I::Fuel { n: n.max(1) };
                    }
                }
                let here = self.pc();
                for p in c.patches {
                    self.patch(p, here);
                }
                if let Some(j) = c.else_jump {
                    self.patch(j, here);
                }
                self.stack.truncate(c.height);
                self.push_block_values(c.ty, true);
                debug_assert_eq!(self.stack.len(), c.height + c.results as usize);
                self.reachable = true;
                self.last_result = None;
            }
            O::Br { relative_depth } => {
                self.emit_branch(relative_depth);
                self.set_unreachable();
            }
            O::BrIf { relative_depth } => {
                let is_return = relative_depth as usize == self.ctrl.len() - 1;
                let jump_if_true = self.cond_jump(false);
                if !is_return && self.branch_moves(relative_depth).is_empty() {
                    self.jump_instr(relative_depth, jump_if_true);
                } else {
                    let skip = self.emit(negate_jump(jump_if_true));
                    self.emit_branch(relative_depth);
                    let here = self.pc();
                    self.patch(skip, here);
                    self.last_result = None;
                }
            }
            O::BrTable { targets } => {
                let index = self.pop();
                let depths: Vec<u32> =
                    targets.targets().chain(core::iter::once(Ok(targets.default()))).collect::<Result<_, _>>()?;
                let arity = self.label_arity(targets.default());
                self.materialize_top(arity);
                self.emit(I::BrTable { index, len: depths.len() as u32 });
                let first = self.code.len();
                for &d in &depths {
                    let plain = d as usize != self.ctrl.len() - 1 && self.branch_moves(d).is_empty();
                    if plain {
                        self.jump_instr(d, I::Br { target: 0 });
                    } else {
                        self.emit(I::Br { target: u32::MAX });
                    }
                }
                for (i, &d) in depths.iter().enumerate() {
                    if let I::Br { target: u32::MAX } = self.code[first + i] {
                        let here = self.pc();
                        self.code[first + i] = I::Br { target: here };
                        self.emit_branch(d);
                    }
                }
                self.set_unreachable();
            }
            O::Return => {
                self.emit_return();
                self.set_unreachable();
            }
            O::Call { function_index } => {
                let ty = self.module.func_type(function_index);
                self.call(ty, |base| I::Call { func: function_index, base });
            }
            O::CallIndirect { type_index, table_index } => {
                let index = self.pop();
                let ty = &self.module.types[type_index as usize];
                let aux = self.indirect.len() as u32;
                self.indirect.push((type_index, table_index));
                self.call(ty, |base| I::CallIndirect { index, base, aux });
            }
            O::ReturnCall { function_index } => {
                let n = self.module.func_type(function_index).param_slots();
                let src = self.operands(n);
                self.emit(I::ReturnCall { func: function_index, src });
                self.set_unreachable();
            }
            O::ReturnCallIndirect { type_index, table_index } => {
                let index = self.pop();
                let n = self.module.types[type_index as usize].param_slots();
                let src = self.operands(n);
                let aux = self.indirect.len() as u32;
                self.indirect.push((type_index, table_index));
                self.emit(I::ReturnCallIndirect { index, src, aux });
                self.set_unreachable();
            }
            O::Drop => {
                if self.top_is_v128() {
                    self.stack.pop();
                }
                self.stack.pop();
                self.last_result = None;
            }
            O::Select | O::TypedSelect { .. } if self.stack.len() >= 3 && self.hi[self.stack.len() - 2] => {
                // Two v128 operands: one select per half, with the same condition.
                let cond = self.pop();
                let b = self.pop_v128();
                let pos = self.stack.len() - 2;
                self.materialize(pos);
                self.materialize(pos + 1);
                self.stack.truncate(pos);
                let dst = self.canonical(pos);
                self.emit(I::Select { dst, b, cond });
                self.emit(I::Select { dst: dst + 1, b: b + 1, cond });
                self.push_typed(ValType::V128);
            }
            O::Select | O::TypedSelect { .. } => {
                let cond = self.pop();
                let b = self.pop();
                let pos = self.stack.len() - 1;
                self.materialize(pos);
                self.stack.pop();
                let dst = self.canonical(pos);
                self.emit(I::Select { dst, b, cond });
                self.push();
            }
            O::I32ReinterpretF32 | O::F32ReinterpretI32 | O::I64ReinterpretF64 | O::F64ReinterpretI64 => {
                // Slots hold bit patterns: nothing to do.
            }
            O::TypedSelectMulti { .. } => return Err(unsupported("multi-value select")),
            O::LocalGet { local_index } => {
                let (slot, ty) = self.local(local_index);
                self.push_entry(Opd::Local(slot), false);
                if ty == ValType::V128 {
                    self.push_entry(Opd::Local(slot + 1), true);
                }
                self.last_result = None;
            }
            O::LocalSet { local_index } => self.local_set(local_index, false),
            O::LocalTee { local_index } => self.local_set(local_index, true),
            O::GlobalGet { global_index } if self.module.globals[global_index as usize].ty == ValType::V128 => {
                self.emit_result_v128(|dst| I::GlobalGetV128 { dst, global: global_index });
            }
            O::GlobalSet { global_index } if self.module.globals[global_index as usize].ty == ValType::V128 => {
                let src = self.pop_v128();
                self.emit(I::GlobalSetV128 { src, global: global_index });
            }
            O::GlobalGet { global_index } => self.emit_result(|dst| I::GlobalGet { dst, global: global_index }),
            O::GlobalSet { global_index } => {
                let src = self.pop();
                self.emit(I::GlobalSet { src, global: global_index });
            }
            O::I32Load { memarg } => self.load(memarg.offset, |dst, addr, offset| I::I32Load { dst, addr, offset }),
            O::I64Load { memarg } => self.load(memarg.offset, |dst, addr, offset| I::I64Load { dst, addr, offset }),
            O::F32Load { memarg } => self.load(memarg.offset, |dst, addr, offset| I::F32Load { dst, addr, offset }),
            O::F64Load { memarg } => self.load(memarg.offset, |dst, addr, offset| I::F64Load { dst, addr, offset }),
            O::I32Load8S { memarg } => self.load(memarg.offset, |dst, addr, offset| I::I32Load8S { dst, addr, offset }),
            O::I32Load8U { memarg } => self.load(memarg.offset, |dst, addr, offset| I::I32Load8U { dst, addr, offset }),
            O::I32Load16S { memarg } => {
                self.load(memarg.offset, |dst, addr, offset| I::I32Load16S { dst, addr, offset })
            }
            O::I32Load16U { memarg } => {
                self.load(memarg.offset, |dst, addr, offset| I::I32Load16U { dst, addr, offset })
            }
            O::I64Load8S { memarg } => self.load(memarg.offset, |dst, addr, offset| I::I64Load8S { dst, addr, offset }),
            O::I64Load8U { memarg } => self.load(memarg.offset, |dst, addr, offset| I::I64Load8U { dst, addr, offset }),
            O::I64Load16S { memarg } => {
                self.load(memarg.offset, |dst, addr, offset| I::I64Load16S { dst, addr, offset })
            }
            O::I64Load16U { memarg } => {
                self.load(memarg.offset, |dst, addr, offset| I::I64Load16U { dst, addr, offset })
            }
            O::I64Load32S { memarg } => {
                self.load(memarg.offset, |dst, addr, offset| I::I64Load32S { dst, addr, offset })
            }
            O::I64Load32U { memarg } => {
                self.load(memarg.offset, |dst, addr, offset| I::I64Load32U { dst, addr, offset })
            }
            O::I32Store { memarg } => self.store(memarg.offset, |addr, val, offset| I::I32Store { addr, val, offset }),
            O::I64Store { memarg } => self.store(memarg.offset, |addr, val, offset| I::I64Store { addr, val, offset }),
            O::F32Store { memarg } => self.store(memarg.offset, |addr, val, offset| I::F32Store { addr, val, offset }),
            O::F64Store { memarg } => self.store(memarg.offset, |addr, val, offset| I::F64Store { addr, val, offset }),
            O::I32Store8 { memarg } => {
                self.store(memarg.offset, |addr, val, offset| I::I32Store8 { addr, val, offset })
            }
            O::I32Store16 { memarg } => {
                self.store(memarg.offset, |addr, val, offset| I::I32Store16 { addr, val, offset })
            }
            O::I64Store8 { memarg } => {
                self.store(memarg.offset, |addr, val, offset| I::I64Store8 { addr, val, offset })
            }
            O::I64Store16 { memarg } => {
                self.store(memarg.offset, |addr, val, offset| I::I64Store16 { addr, val, offset })
            }
            O::I64Store32 { memarg } => {
                self.store(memarg.offset, |addr, val, offset| I::I64Store32 { addr, val, offset })
            }
            O::MemorySize { .. } => self.emit_result(|dst| I::MemorySize { dst }),
            O::MemoryGrow { .. } => {
                let dst = self.operands(1);
                self.emit(I::MemoryGrow { dst });
                self.push();
            }
            O::MemoryFill { .. } => {
                let base = self.operands(3);
                self.emit(I::MemoryFill { base });
            }
            O::MemoryCopy { .. } => {
                let base = self.operands(3);
                self.emit(I::MemoryCopy { base });
            }
            O::MemoryInit { data_index, .. } => {
                let base = self.operands(3);
                self.emit(I::MemoryInit { base, data: data_index });
            }
            O::DataDrop { data_index } => {
                self.emit(I::DataDrop { data: data_index });
            }
            O::TableGet { table } => {
                let dst = self.operands(1);
                self.emit(I::TableGet { dst, table });
                self.push();
            }
            O::TableSet { table } => {
                let base = self.operands(2);
                self.emit(I::TableSet { base, table });
            }
            O::TableSize { table } => self.emit_result(|dst| I::TableSize { dst, table }),
            O::TableGrow { table } => {
                let base = self.operands(2);
                self.emit(I::TableGrow { base, table });
                self.push();
            }
            O::TableFill { table } => {
                let base = self.operands(3);
                self.emit(I::TableFill { base, table });
            }
            O::TableCopy { dst_table, src_table } => {
                let base = self.operands(3);
                let aux = self.table_pairs.len() as u32;
                self.table_pairs.push((dst_table, src_table));
                self.emit(I::TableCopy { base, aux });
            }
            O::TableInit { elem_index, table } => {
                let base = self.operands(3);
                let aux = self.table_pairs.len() as u32;
                self.table_pairs.push((table, elem_index));
                self.emit(I::TableInit { base, aux });
            }
            O::ElemDrop { elem_index } => {
                self.emit(I::ElemDrop { elem: elem_index });
            }
            O::RefNull { .. } => self.constant(0),
            O::RefIsNull => self.unary(|dst, src| I::RefIsNull { dst, src }),
            O::RefFunc { function_index } => self.emit_result(|dst| I::RefFunc { dst, func: function_index }),
            O::I32Const { value } => self.constant(value as u32 as u64),
            O::I64Const { value } => self.constant(value as u64),
            O::F32Const { value } => self.constant(value.bits() as u64),
            O::F64Const { value } => self.constant(value.bits()),
            O::I32Sub => self.sub_imm(false, |dst, a, b| I::I32Sub { dst, a, b }),
            O::I64Sub => self.sub_imm(true, |dst, a, b| I::I64Sub { dst, a, b }),
            O::V128Const { value } => {
                let v = u128::from_le_bytes(*value.bytes());
                self.constant(v as u64);
                self.push_entry(Opd::Const((v >> 64) as u64), true);
            }
            O::V128Bitselect => {
                let base = self.operands(6);
                self.emit(I::V128Bitselect { base });
                self.push_typed(ValType::V128);
            }
            O::I8x16Shuffle { lanes } => {
                let base = self.operands(4);
                let index = self.shuffles.len() as u32;
                self.shuffles
                    .try_reserve(1)
                    .map_err(|_| Error::Resource("no memory to translate a function".into()))?;
                self.shuffles.push(lanes);
                self.emit(I::I8x16Shuffle { base, lanes: index });
                self.push_typed(ValType::V128);
            }
            O::V128Store { memarg } => {
                let val = self.pop_v128();
                let addr = self.pop();
                self.emit(I::V128Store { addr, val, offset: memarg.offset as u32 });
            }
            O::V128Load8Lane { memarg, lane } => self.load_lane(1, lane, memarg.offset),
            O::V128Load16Lane { memarg, lane } => self.load_lane(2, lane, memarg.offset),
            O::V128Load32Lane { memarg, lane } => self.load_lane(4, lane, memarg.offset),
            O::V128Load64Lane { memarg, lane } => self.load_lane(8, lane, memarg.offset),
            O::V128Store8Lane { memarg, lane } => self.store_lane(1, lane, memarg.offset),
            O::V128Store16Lane { memarg, lane } => self.store_lane(2, lane, memarg.offset),
            O::V128Store32Lane { memarg, lane } => self.store_lane(4, lane, memarg.offset),
            O::V128Store64Lane { memarg, lane } => self.store_lane(8, lane, memarg.offset),
            other if LoadKind::of(&other).is_some() => {
                let (kind, offset) = LoadKind::of(&other).unwrap_or((LoadKind::V128, 0));
                let addr = self.pop();
                self.emit_result_v128(|dst| I::V128Load { kind, dst, addr, offset: offset as u32 });
            }
            other if simd::classify(&other).is_some() => {
                let Some((op, lane, form)) = simd::classify(&other) else { unreachable!() };
                self.simd(op, lane, form);
            }
            other => {
                if let Some((wide, make, make_imm)) = binary_imm_instr(&other) {
                    self.binary_imm(wide, make, make_imm);
                } else if let Some(make) = binary_instr(&other) {
                    self.binary(make);
                } else if let Some(make) = unary_instr(&other) {
                    self.unary(make);
                } else {
                    return Err(unsupported(&format!("operator {other:?}")));
                }
            }
        }
        Ok(())
    }
}

type MakeBin = fn(Slot, Slot, Slot) -> Instr;
type MakeImm = fn(Slot, Slot, i32) -> Instr;

macro_rules! map_binary_imm {
    ($($op:ident => $imm:ident, $wide:expr;)*) => {
        /// Binary operators with an immediate form: (is i64, register form, immediate form).
        fn binary_imm_instr(op: &Operator<'_>) -> Option<(bool, MakeBin, MakeImm)> {
            Some(match op {
                $( Operator::$op => ($wide, |dst, a, b| Instr::$op { dst, a, b }, |dst, a, imm| Instr::$imm { dst, a, imm }), )*
                _ => return None,
            })
        }
    };
}

map_binary_imm! {
    I32Add => I32AddImm, false; I32Mul => I32MulImm, false; I32And => I32AndImm, false;
    I32Or => I32OrImm, false; I32Xor => I32XorImm, false; I32Shl => I32ShlImm, false;
    I32ShrS => I32ShrSImm, false; I32ShrU => I32ShrUImm, false;
    I32Eq => I32EqImm, false; I32Ne => I32NeImm, false; I32LtS => I32LtSImm, false; I32LtU => I32LtUImm, false;
    I32GtS => I32GtSImm, false; I32GtU => I32GtUImm, false; I32LeS => I32LeSImm, false; I32LeU => I32LeUImm, false;
    I32GeS => I32GeSImm, false; I32GeU => I32GeUImm, false;
    I64Add => I64AddImm, true; I64Mul => I64MulImm, true; I64And => I64AndImm, true; I64Or => I64OrImm, true;
    I64Xor => I64XorImm, true; I64Shl => I64ShlImm, true; I64ShrS => I64ShrSImm, true; I64ShrU => I64ShrUImm, true;
}

fn branch_target_mut(i: &mut Instr) -> Option<&mut u32> {
    match i {
        Instr::Br { target: t }
        | Instr::BrIfEqz { target: t, .. }
        | Instr::BrIfNez { target: t, .. }
        | Instr::BrIfI32Eq { target: t, .. }
        | Instr::BrIfI32Ne { target: t, .. }
        | Instr::BrIfI32LtS { target: t, .. }
        | Instr::BrIfI32LtU { target: t, .. }
        | Instr::BrIfI32GeS { target: t, .. }
        | Instr::BrIfI32GeU { target: t, .. }
        | Instr::BrIfI32EqImm { target: t, .. }
        | Instr::BrIfI32NeImm { target: t, .. }
        | Instr::BrIfI32LtSImm { target: t, .. }
        | Instr::BrIfI32LtUImm { target: t, .. }
        | Instr::BrIfI32GeSImm { target: t, .. }
        | Instr::BrIfI32GeUImm { target: t, .. } => Some(t),
        _ => None,
    }
}

fn negate_jump(i: Instr) -> Instr {
    match i {
        Instr::BrIfNez { cond, target } => Instr::BrIfEqz { cond, target },
        Instr::BrIfEqz { cond, target } => Instr::BrIfNez { cond, target },
        Instr::BrIfI32Eq { a, b, target } => Instr::BrIfI32Ne { a, b, target },
        Instr::BrIfI32Ne { a, b, target } => Instr::BrIfI32Eq { a, b, target },
        Instr::BrIfI32LtS { a, b, target } => Instr::BrIfI32GeS { a, b, target },
        Instr::BrIfI32GeS { a, b, target } => Instr::BrIfI32LtS { a, b, target },
        Instr::BrIfI32LtU { a, b, target } => Instr::BrIfI32GeU { a, b, target },
        Instr::BrIfI32GeU { a, b, target } => Instr::BrIfI32LtU { a, b, target },
        Instr::BrIfI32EqImm { a, imm, target } => Instr::BrIfI32NeImm { a, imm, target },
        Instr::BrIfI32NeImm { a, imm, target } => Instr::BrIfI32EqImm { a, imm, target },
        Instr::BrIfI32LtSImm { a, imm, target } => Instr::BrIfI32GeSImm { a, imm, target },
        Instr::BrIfI32GeSImm { a, imm, target } => Instr::BrIfI32LtSImm { a, imm, target },
        Instr::BrIfI32LtUImm { a, imm, target } => Instr::BrIfI32GeUImm { a, imm, target },
        Instr::BrIfI32GeUImm { a, imm, target } => Instr::BrIfI32LtUImm { a, imm, target },
        other => other,
    }
}

macro_rules! map_binary {
    ($($op:ident),* $(,)?) => {
        fn binary_instr(op: &Operator<'_>) -> Option<fn(Slot, Slot, Slot) -> Instr> {
            Some(match op {
                $( Operator::$op => |dst, a, b| Instr::$op { dst, a, b }, )*
                _ => return None,
            })
        }
    };
}

macro_rules! map_unary {
    ($($op:ident),* $(,)?) => {
        fn unary_instr(op: &Operator<'_>) -> Option<fn(Slot, Slot) -> Instr> {
            Some(match op {
                $( Operator::$op => |dst, src| Instr::$op { dst, src }, )*
                _ => return None,
            })
        }
    };
}

map_binary! {
    I32Eq, I32Ne, I32LtS, I32LtU, I32GtS, I32GtU, I32LeS, I32LeU, I32GeS, I32GeU,
    I64Eq, I64Ne, I64LtS, I64LtU, I64GtS, I64GtU, I64LeS, I64LeU, I64GeS, I64GeU,
    F32Eq, F32Ne, F32Lt, F32Gt, F32Le, F32Ge,
    F64Eq, F64Ne, F64Lt, F64Gt, F64Le, F64Ge,
    I32Mul, I32DivS, I32DivU, I32RemS, I32RemU,
    I32And, I32Or, I32Xor, I32Shl, I32ShrS, I32ShrU, I32Rotl, I32Rotr,
    I64Mul, I64DivS, I64DivU, I64RemS, I64RemU,
    I64And, I64Or, I64Xor, I64Shl, I64ShrS, I64ShrU, I64Rotl, I64Rotr,
    F32Add, F32Sub, F32Mul, F32Div, F32Min, F32Max, F32Copysign,
    F64Add, F64Sub, F64Mul, F64Div, F64Min, F64Max, F64Copysign,
}

map_unary! {
    I32Eqz, I64Eqz,
    I32Clz, I32Ctz, I32Popcnt, I64Clz, I64Ctz, I64Popcnt,
    F32Abs, F32Neg, F32Ceil, F32Floor, F32Trunc, F32Nearest, F32Sqrt,
    F64Abs, F64Neg, F64Ceil, F64Floor, F64Trunc, F64Nearest, F64Sqrt,
    I32WrapI64, I32TruncF32S, I32TruncF32U, I32TruncF64S, I32TruncF64U,
    I64ExtendI32S, I64ExtendI32U, I64TruncF32S, I64TruncF32U, I64TruncF64S, I64TruncF64U,
    F32ConvertI32S, F32ConvertI32U, F32ConvertI64S, F32ConvertI64U, F32DemoteF64,
    F64ConvertI32S, F64ConvertI32U, F64ConvertI64S, F64ConvertI64U, F64PromoteF32,
    I32Extend8S, I32Extend16S, I64Extend8S, I64Extend16S, I64Extend32S,
    I32TruncSatF32S, I32TruncSatF32U, I32TruncSatF64S, I32TruncSatF64U,
    I64TruncSatF32S, I64TruncSatF32U, I64TruncSatF64S, I64TruncSatF64U,
}
