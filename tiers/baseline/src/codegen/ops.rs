//! The operators: dispatch, arithmetic, conversions, memory, globals and tables.

use super::control::Callee;
use super::*;

#[derive(Clone, Copy)]
enum IntOp {
    Add,
    Sub,
    Mul,
    And,
    Or,
    Xor,
}

#[derive(Clone, Copy)]
enum ShiftOp {
    Shl,
    ShrS,
    ShrU,
    Rotl,
    Rotr,
}

#[derive(Clone, Copy)]
enum FOp {
    Add,
    Sub,
    Mul,
    Div,
}

impl<E: Emitter> Cg<'_, E> {
    pub(super) fn op(&mut self, op: Operator<'_>) -> Result<(), Error> {
        use Operator as O;
        if !self.reachable {
            match op {
                O::Block { .. } | O::Loop { .. } | O::If { .. } => {
                    self.dead_depth += 1;
                    return Ok(());
                }
                O::Else | O::End if self.dead_depth == 0 => {}
                O::End => {
                    self.dead_depth -= 1;
                    return Ok(());
                }
                _ => return Ok(()),
            }
        }
        if let Some(site) = self.fuel.last_mut() {
            site.1 = site.1.saturating_add(1);
        }
        if !matches!(op, O::BrIf { .. } | O::If { .. } | O::Select | O::TypedSelect { .. } | O::I32Eqz) {
            self.materialize_flags();
        }
        match op {
            O::Nop => {}
            O::Unreachable => {
                let l = self.trap_label(TrapKind::Unreachable);
                asm!(self.ops ; jmp =>l);
                self.reachable = false;
            }
            O::Block { blockty } => self.op_block(blockty, Kind::Block)?,
            O::Loop { blockty } => self.op_block(blockty, Kind::Loop)?,
            O::If { blockty } => self.op_block(blockty, Kind::If)?,
            O::Else => self.op_else(),
            O::End => self.op_end(),
            O::Br { relative_depth } => {
                let idx = self.ctrl.len() - 1 - relative_depth as usize;
                self.branch(idx);
                self.reachable = false;
            }
            O::BrIf { relative_depth } => self.op_br_if(relative_depth),
            O::BrTable { targets } => self.op_br_table(targets)?,
            O::Return => {
                self.return_seq();
                self.reachable = false;
            }
            O::Call { function_index } => {
                let addr = self.env.inst.funcs[function_index as usize];
                let ty = self.env.module.func_type(function_index).clone();
                self.call(&ty, Callee::Direct(addr), false)?;
            }
            O::ReturnCall { function_index } => {
                let addr = self.env.inst.funcs[function_index as usize];
                let ty = self.env.module.func_type(function_index).clone();
                self.call(&ty, Callee::Direct(addr), true)?;
            }
            O::CallIndirect { type_index, table_index } => {
                self.indirect_slot(type_index, table_index);
                let ty = self.env.module.types[type_index as usize].clone();
                self.call(&ty, Callee::Indirect, false)?;
            }
            O::ReturnCallIndirect { type_index, table_index } => {
                self.indirect_slot(type_index, table_index);
                let ty = self.env.module.types[type_index as usize].clone();
                self.call(&ty, Callee::Indirect, true)?;
            }
            O::Drop => {
                let v = self.pop();
                self.free(v);
            }
            O::Select | O::TypedSelect { .. } => self.select(),
            O::LocalGet { local_index } => {
                let t = self.locals[local_index as usize];
                self.push(t, Where::Local(local_index));
            }
            O::LocalSet { local_index } => {
                let v = self.pop();
                self.set_local(local_index, v);
                self.free(v);
            }
            O::LocalTee { local_index } => {
                let v = self.pop();
                self.set_local(local_index, v);
                match v.at {
                    Where::Gpr(_) | Where::Xmm(_) => self.push(v.ty, v.at),
                    _ => self.push(v.ty, Where::Local(local_index)),
                }
            }
            O::GlobalGet { global_index } => self.global_get(global_index)?,
            O::GlobalSet { global_index } => self.global_set(global_index),
            O::I32Load { memarg } => self.load(memarg, LoadKind::I32),
            O::I64Load { memarg } => self.load(memarg, LoadKind::I64),
            O::F32Load { memarg } => self.load(memarg, LoadKind::F32),
            O::F64Load { memarg } => self.load(memarg, LoadKind::F64),
            O::I32Load8S { memarg } => self.load(memarg, LoadKind::I32S8),
            O::I32Load8U { memarg } => self.load(memarg, LoadKind::I32U8),
            O::I32Load16S { memarg } => self.load(memarg, LoadKind::I32S16),
            O::I32Load16U { memarg } => self.load(memarg, LoadKind::I32U16),
            O::I64Load8S { memarg } => self.load(memarg, LoadKind::I64S8),
            O::I64Load8U { memarg } => self.load(memarg, LoadKind::I64U8),
            O::I64Load16S { memarg } => self.load(memarg, LoadKind::I64S16),
            O::I64Load16U { memarg } => self.load(memarg, LoadKind::I64U16),
            O::I64Load32S { memarg } => self.load(memarg, LoadKind::I64S32),
            O::I64Load32U { memarg } => self.load(memarg, LoadKind::I64U32),
            O::I32Store { memarg } | O::F32Store { memarg } => self.store(memarg, 4),
            O::I64Store { memarg } | O::F64Store { memarg } => self.store(memarg, 8),
            O::I32Store8 { memarg } | O::I64Store8 { memarg } => self.store(memarg, 1),
            O::I32Store16 { memarg } | O::I64Store16 { memarg } => self.store(memarg, 2),
            O::I64Store32 { memarg } => self.store(memarg, 4),
            O::MemorySize { .. } => {
                let r = self.alloc_gpr();
                asm!(self.ops ; mov Rq(r), [r15 + VMCTX_MEM_LEN] ; shr Rq(r), 16);
                self.push(Ty::I32, Where::Gpr(r));
            }
            O::MemoryGrow { .. } => self.libcall(libcalls::MEMORY_GROW, &[], 1, true, false),
            O::MemoryFill { .. } => self.libcall(libcalls::MEMORY_FILL, &[], 3, false, true),
            O::MemoryCopy { .. } => self.libcall(libcalls::MEMORY_COPY, &[], 3, false, true),
            O::MemoryInit { data_index, .. } => self.libcall(libcalls::MEMORY_INIT, &[data_index], 3, false, true),
            O::DataDrop { data_index } => self.libcall(libcalls::DATA_DROP, &[data_index], 0, false, false),
            O::TableGet { table } => {
                let v = self.pop();
                let ri = self.gpr(v);
                self.table_elem(table, ri, TrapKind::TableOutOfBounds);
                asm!(self.ops ; mov Rq(ri), [r11 + Rq(ri) * 8]);
                self.push(Ty::I64, Where::Gpr(ri));
            }
            O::TableSet { table } => {
                let v = self.pop();
                let rv = self.gpr(v);
                let i = self.pop();
                let ri = self.gpr(i);
                self.table_elem(table, ri, TrapKind::TableOutOfBounds);
                asm!(self.ops ; mov [r11 + Rq(ri) * 8], Rq(rv));
                self.free_gpr(ri);
                self.free_gpr(rv);
            }
            O::TableSize { table } => {
                let r = self.alloc_gpr();
                let d = (table as i32) * TABLE_DESC_SIZE + TABLE_DESC_LEN;
                asm!(self.ops ; mov r11, [r15 + VMCTX_TABLES] ; mov Rd(r), [r11 + d]);
                self.push(Ty::I32, Where::Gpr(r));
            }
            O::TableGrow { table } => self.libcall(libcalls::TABLE_GROW, &[table], 2, true, false),
            O::TableFill { table } => self.libcall(libcalls::TABLE_FILL, &[table], 3, false, true),
            O::TableCopy { dst_table, src_table } => {
                self.libcall(libcalls::TABLE_COPY, &[dst_table, src_table], 3, false, true)
            }
            O::TableInit { elem_index, table } => {
                self.libcall(libcalls::TABLE_INIT, &[table, elem_index], 3, false, true)
            }
            O::ElemDrop { elem_index } => self.libcall(libcalls::ELEM_DROP, &[elem_index], 0, false, false),
            O::RefNull { .. } => self.push(Ty::I64, Where::Imm(0)),
            O::RefIsNull => self.eqz(),
            O::RefFunc { function_index } => {
                let addr = self.env.inst.funcs[function_index as usize];
                self.push(Ty::I64, Where::Imm(addr as u64 + 1));
            }
            O::I32Const { value } => self.push(Ty::I32, Where::Imm(value as u32 as u64)),
            O::I64Const { value } => self.push(Ty::I64, Where::Imm(value as u64)),
            O::F32Const { value } => self.push(Ty::F32, Where::Imm(value.bits() as u64)),
            O::F64Const { value } => self.push(Ty::F64, Where::Imm(value.bits())),
            O::I32Eqz | O::I64Eqz => self.eqz(),
            O::I32Eq | O::I64Eq => self.cmp(Cc::E),
            O::I32Ne | O::I64Ne => self.cmp(Cc::Ne),
            O::I32LtS | O::I64LtS => self.cmp(Cc::L),
            O::I32LtU | O::I64LtU => self.cmp(Cc::B),
            O::I32GtS | O::I64GtS => self.cmp(Cc::G),
            O::I32GtU | O::I64GtU => self.cmp(Cc::A),
            O::I32LeS | O::I64LeS => self.cmp(Cc::Le),
            O::I32LeU | O::I64LeU => self.cmp(Cc::Be),
            O::I32GeS | O::I64GeS => self.cmp(Cc::Ge),
            O::I32GeU | O::I64GeU => self.cmp(Cc::Ae),
            O::F32Eq | O::F64Eq => self.fcmp_eq(true),
            O::F32Ne | O::F64Ne => self.fcmp_eq(false),
            O::F32Lt | O::F64Lt => self.fcmp(true, Cc::A),
            O::F32Gt | O::F64Gt => self.fcmp(false, Cc::A),
            O::F32Le | O::F64Le => self.fcmp(true, Cc::Ae),
            O::F32Ge | O::F64Ge => self.fcmp(false, Cc::Ae),
            O::I32Clz | O::I64Clz => self.bitcount(0),
            O::I32Ctz | O::I64Ctz => self.bitcount(1),
            O::I32Popcnt | O::I64Popcnt => self.bitcount(2),
            O::I32Add | O::I64Add => self.binop(IntOp::Add),
            O::I32Sub | O::I64Sub => self.binop(IntOp::Sub),
            O::I32Mul | O::I64Mul => self.binop(IntOp::Mul),
            O::I32And | O::I64And => self.binop(IntOp::And),
            O::I32Or | O::I64Or => self.binop(IntOp::Or),
            O::I32Xor | O::I64Xor => self.binop(IntOp::Xor),
            O::I32DivS | O::I64DivS => self.div(true, false),
            O::I32DivU | O::I64DivU => self.div(false, false),
            O::I32RemS | O::I64RemS => self.div(true, true),
            O::I32RemU | O::I64RemU => self.div(false, true),
            O::I32Shl | O::I64Shl => self.shift(ShiftOp::Shl),
            O::I32ShrS | O::I64ShrS => self.shift(ShiftOp::ShrS),
            O::I32ShrU | O::I64ShrU => self.shift(ShiftOp::ShrU),
            O::I32Rotl | O::I64Rotl => self.shift(ShiftOp::Rotl),
            O::I32Rotr | O::I64Rotr => self.shift(ShiftOp::Rotr),
            O::F32Add | O::F64Add => self.fbin(FOp::Add),
            O::F32Sub | O::F64Sub => self.fbin(FOp::Sub),
            O::F32Mul | O::F64Mul => self.fbin(FOp::Mul),
            O::F32Div | O::F64Div => self.fbin(FOp::Div),
            O::F32Min | O::F64Min => self.fminmax(true),
            O::F32Max | O::F64Max => self.fminmax(false),
            O::F32Copysign | O::F64Copysign => self.copysign(),
            O::F32Abs | O::F64Abs => self.fsign(true),
            O::F32Neg | O::F64Neg => self.fsign(false),
            O::F32Sqrt | O::F64Sqrt => {
                let v = self.pop();
                let x = self.xmm(v);
                sse!(self.ops, sqrtss, sqrtsd, v.ty.is_64(), x, x);
                self.push(v.ty, Where::Xmm(x));
            }
            O::F32Nearest | O::F64Nearest => self.round(0),
            O::F32Floor | O::F64Floor => self.round(1),
            O::F32Ceil | O::F64Ceil => self.round(2),
            O::F32Trunc | O::F64Trunc => self.round(3),
            O::I32WrapI64 => {
                let v = self.pop();
                let r = self.gpr(v);
                asm!(self.ops ; mov Rd(r), Rd(r));
                self.push(Ty::I32, Where::Gpr(r));
            }
            O::I64ExtendI32S => {
                let v = self.pop();
                let r = self.gpr(v);
                asm!(self.ops ; movsxd Rq(r), Rd(r));
                self.push(Ty::I64, Where::Gpr(r));
            }
            O::I64ExtendI32U => {
                let v = self.pop();
                let r = self.gpr(v);
                asm!(self.ops ; mov Rd(r), Rd(r));
                self.push(Ty::I64, Where::Gpr(r));
            }
            O::I32Extend8S => self.sext(Ty::I32, 8),
            O::I32Extend16S => self.sext(Ty::I32, 16),
            O::I64Extend8S => self.sext(Ty::I64, 8),
            O::I64Extend16S => self.sext(Ty::I64, 16),
            O::I64Extend32S => self.sext(Ty::I64, 32),
            O::I32TruncF32S | O::I32TruncF64S => self.trunc(Ty::I32, true, false),
            O::I32TruncF32U | O::I32TruncF64U => self.trunc(Ty::I32, false, false),
            O::I64TruncF32S | O::I64TruncF64S => self.trunc(Ty::I64, true, false),
            O::I64TruncF32U | O::I64TruncF64U => self.trunc(Ty::I64, false, false),
            O::I32TruncSatF32S | O::I32TruncSatF64S => self.trunc(Ty::I32, true, true),
            O::I32TruncSatF32U | O::I32TruncSatF64U => self.trunc(Ty::I32, false, true),
            O::I64TruncSatF32S | O::I64TruncSatF64S => self.trunc(Ty::I64, true, true),
            O::I64TruncSatF32U | O::I64TruncSatF64U => self.trunc(Ty::I64, false, true),
            O::F32ConvertI32S | O::F32ConvertI64S => self.convert(Ty::F32, true),
            O::F32ConvertI32U | O::F32ConvertI64U => self.convert(Ty::F32, false),
            O::F64ConvertI32S | O::F64ConvertI64S => self.convert(Ty::F64, true),
            O::F64ConvertI32U | O::F64ConvertI64U => self.convert(Ty::F64, false),
            O::F32DemoteF64 => {
                let v = self.pop();
                let x = self.xmm(v);
                asm!(self.ops ; cvtsd2ss Rx(x), Rx(x));
                self.push(Ty::F32, Where::Xmm(x));
            }
            O::F64PromoteF32 => {
                let v = self.pop();
                let x = self.xmm(v);
                asm!(self.ops ; cvtss2sd Rx(x), Rx(x));
                self.push(Ty::F64, Where::Xmm(x));
            }
            O::I32ReinterpretF32 | O::I64ReinterpretF64 => {
                let v = self.pop();
                let t = if v.ty == Ty::F32 { Ty::I32 } else { Ty::I64 };
                let at = match v.at {
                    Where::Xmm(_) => Where::Gpr(self.gpr(v)),
                    other => other,
                };
                self.push(t, at);
            }
            O::F32ReinterpretI32 | O::F64ReinterpretI64 => {
                let v = self.pop();
                let t = if v.ty == Ty::I32 { Ty::F32 } else { Ty::F64 };
                let at = match v.at {
                    Where::Gpr(_) => Where::Xmm(self.xmm(v)),
                    other => other,
                };
                self.push(t, at);
            }
            other if kwasm_runtime::module::is_simd_operator(&other) => {
                return Err(unsupported(&format!("SIMD operator {other:?} (this tier does not implement SIMD)")))
            }
            other => return Err(unsupported(&format!("operator {other:?}"))),
        }
        Ok(())
    }

    fn set_local(&mut self, i: u32, v: Val) {
        // Values on the stack that still read this local lazily take its old value first.
        let lo = self.local_off(i);
        for d in 0..self.stack.len() {
            if self.stack[d].at == Where::Local(i) {
                let o = self.canon(d);
                asm!(self.ops ; mov r11, [rbp + lo] ; mov [rbp + o], r11);
                self.stack[d].at = Where::Mem(o);
            }
        }
        if v.at != Where::Local(i) {
            self.store_val(v, lo);
        }
    }

    fn global_get(&mut self, g: u32) -> Result<(), Error> {
        let t = Ty::of(self.env.module.globals[g as usize].ty)?;
        let go = (g * 8) as i32;
        asm!(self.ops ; mov r11, [r15 + VMCTX_GLOBALS] ; mov r11, [r11 + go]);
        match t {
            Ty::I32 => {
                let r = self.alloc_gpr();
                asm!(self.ops ; mov Rd(r), [r11]);
                self.push(t, Where::Gpr(r));
            }
            Ty::I64 => {
                let r = self.alloc_gpr();
                asm!(self.ops ; mov Rq(r), [r11]);
                self.push(t, Where::Gpr(r));
            }
            Ty::F32 => {
                let x = self.alloc_xmm();
                asm!(self.ops ; movss Rx(x), DWORD [r11]);
                self.push(t, Where::Xmm(x));
            }
            Ty::F64 => {
                let x = self.alloc_xmm();
                asm!(self.ops ; movsd Rx(x), QWORD [r11]);
                self.push(t, Where::Xmm(x));
            }
        }
        Ok(())
    }

    fn global_set(&mut self, g: u32) {
        let v = self.pop();
        // Globals hold full 64-bit slots: i32 and f32 values zero-extended.
        let r = match v.at {
            Where::Xmm(x) => {
                let r = self.alloc_gpr();
                if v.ty.is_64() {
                    asm!(self.ops ; movq Rq(r), Rx(x));
                } else {
                    asm!(self.ops ; movd Rd(r), Rx(x));
                }
                self.free_xmm(x);
                r
            }
            _ => self.gpr(v),
        };
        let go = (g * 8) as i32;
        asm!(self.ops ; mov r11, [r15 + VMCTX_GLOBALS] ; mov r11, [r11 + go] ; mov [r11], Rq(r));
        self.free_gpr(r);
    }

    /// Checks `ri < len(table)` (trap `kind`) and leaves the table base in r11.
    fn table_elem(&mut self, table: u32, ri: u8, kind: TrapKind) {
        let l = self.trap_label(kind);
        let d = (table as i32) * TABLE_DESC_SIZE;
        let len_off = d + TABLE_DESC_LEN;
        asm!(self.ops
            ; mov r11, [r15 + VMCTX_TABLES]
            ; cmp Rq(ri), QWORD [r11 + len_off]
            ; jae =>l
            ; mov r11, [r11 + d]
        );
    }

    /// Pops a table index, checks it and the callee's type, and stores the slot address in the
    /// callee-slot scratch slot.
    fn indirect_slot(&mut self, type_index: u32, table: u32) {
        let v = self.pop();
        let ri = self.gpr(v);
        self.table_elem(table, ri, TrapKind::UndefinedElement);
        let null = self.trap_label(TrapKind::IndirectCallToNull);
        let bad = self.trap_label(TrapKind::IndirectCallTypeMismatch);
        let want = self.env.inst.type_ids[type_index as usize] as i64;
        let so = self.callee_slot_off();
        asm!(self.ops
            ; mov Rq(ri), [r11 + Rq(ri) * 8]
            ; test Rq(ri), Rq(ri)
            ; jz =>null
            ; shl Rq(ri), 5
            ; add Rq(ri), [r15 + VMCTX_SLOTS]
            ; sub Rq(ri), SLOT_SIZE as i32
            ; mov r11, QWORD want
            ; cmp [Rq(ri) + SLOT_TYPE_ID], r11
            ; jne =>bad
            ; mov [rbp + so], Rq(ri)
        );
        self.free_gpr(ri);
    }

    fn select(&mut self) {
        let c = self.pop();
        let b = self.pop();
        let a = self.pop();
        let cc = match c.at {
            Where::Flags(cc) => cc,
            _ => {
                let rc = self.gpr(c);
                asm!(self.ops ; test Rd(rc), Rd(rc));
                self.free_gpr(rc);
                Cc::Ne
            }
        };
        // Everything from here on is flags-preserving until the cmov/jcc.
        if a.ty.is_float() {
            let xa = self.xmm(a);
            let xb = self.xmm(b);
            let skip = self.label();
            self.jcc(cc, skip);
            asm!(self.ops ; movaps Rx(xa), Rx(xb) ; =>skip);
            self.free_xmm(xb);
            self.push(a.ty, Where::Xmm(xa));
        } else {
            let ra = self.gpr(a);
            let s = match b.at {
                Where::Imm(_) => Src::Reg(self.gpr(b)),
                _ => self.src(b),
            };
            self.cmov(cc.not(), a.ty.is_64(), ra, s);
            self.push(a.ty, Where::Gpr(ra));
        }
    }

    fn eqz(&mut self) {
        let v = self.pop();
        if let Where::Flags(cc) = v.at {
            self.push(Ty::I32, Where::Flags(cc.not()));
            return;
        }
        let r = self.gpr(v);
        if v.ty.is_64() {
            asm!(self.ops ; test Rq(r), Rq(r));
        } else {
            asm!(self.ops ; test Rd(r), Rd(r));
        }
        self.free_gpr(r);
        self.push(Ty::I32, Where::Flags(Cc::E));
    }

    fn cmp(&mut self, cc: Cc) {
        let mut b = self.pop();
        let mut a = self.pop();
        let mut cc = cc;
        if matches!(a.at, Where::Imm(_)) && !matches!(b.at, Where::Imm(_)) {
            core::mem::swap(&mut a, &mut b);
            cc = cc.swap();
        }
        let w = a.ty.is_64();
        let ra = self.gpr(a);
        let s = self.src(b);
        alu!(self.ops, cmp, w, ra, s);
        self.free_src(s);
        self.free_gpr(ra);
        self.push(Ty::I32, Where::Flags(cc));
    }

    fn binop(&mut self, op: IntOp) {
        let mut b = self.pop();
        let mut a = self.pop();
        let commutes = !matches!(op, IntOp::Sub);
        if commutes && matches!(a.at, Where::Imm(_)) && !matches!(b.at, Where::Imm(_)) {
            core::mem::swap(&mut a, &mut b);
        }
        let w = a.ty.is_64();
        let ra = self.gpr(a);
        let s = self.src(b);
        match op {
            IntOp::Add => alu!(self.ops, add, w, ra, s),
            IntOp::Sub => alu!(self.ops, sub, w, ra, s),
            IntOp::And => alu!(self.ops, and, w, ra, s),
            IntOp::Or => alu!(self.ops, or, w, ra, s),
            IntOp::Xor => alu!(self.ops, xor, w, ra, s),
            IntOp::Mul => match s {
                Src::Imm(i) => {
                    if w {
                        asm!(self.ops ; imul Rq(ra), Rq(ra), i);
                    } else {
                        asm!(self.ops ; imul Rd(ra), Rd(ra), i);
                    }
                }
                s => alu_rm!(self.ops, imul, w, ra, s),
            },
        }
        self.free_src(s);
        self.push(a.ty, Where::Gpr(ra));
    }

    fn shift(&mut self, op: ShiftOp) {
        let b = self.pop();
        let mut a = self.pop();
        let w = a.ty.is_64();
        if let Where::Imm(c) = b.at {
            let c = (c & if w { 63 } else { 31 }) as i8;
            let ra = self.gpr(a);
            macro_rules! sh {
                ($op:ident) => {
                    if w {
                        asm!(self.ops ; $op Rq(ra), c)
                    } else {
                        asm!(self.ops ; $op Rd(ra), c)
                    }
                };
            }
            match op {
                ShiftOp::Shl => sh!(shl),
                ShiftOp::ShrS => sh!(sar),
                ShiftOp::ShrU => sh!(shr),
                ShiftOp::Rotl => sh!(rol),
                ShiftOp::Rotr => sh!(ror),
            }
            self.push(a.ty, Where::Gpr(ra));
            return;
        }
        if a.at == Where::Gpr(RCX) {
            let n = self.alloc_gpr();
            asm!(self.ops ; mov Rq(n), rcx);
            self.free_gpr(RCX);
            a.at = Where::Gpr(n);
        }
        if b.at != Where::Gpr(RCX) {
            self.take_gpr(RCX);
            self.load_gpr(b, RCX);
        }
        let ra = self.gpr(a);
        macro_rules! sh {
            ($op:ident) => {
                if w {
                    asm!(self.ops ; $op Rq(ra), cl)
                } else {
                    asm!(self.ops ; $op Rd(ra), cl)
                }
            };
        }
        match op {
            ShiftOp::Shl => sh!(shl),
            ShiftOp::ShrS => sh!(sar),
            ShiftOp::ShrU => sh!(shr),
            ShiftOp::Rotl => sh!(rol),
            ShiftOp::Rotr => sh!(ror),
        }
        self.free_gpr(RCX);
        self.push(a.ty, Where::Gpr(ra));
    }

    fn div(&mut self, signed: bool, rem: bool) {
        let mut b = self.pop();
        let mut a = self.pop();
        let w = a.ty.is_64();
        // Reserve rax and rdx; move operands that sit there elsewhere.
        for r in [RAX, RDX] {
            let owned_by_op = a.at == Where::Gpr(r) || b.at == Where::Gpr(r);
            if !owned_by_op {
                self.take_gpr(r);
            }
        }
        if let Where::Gpr(r) = b.at {
            if r == RAX || r == RDX {
                let n = self.alloc_gpr();
                asm!(self.ops ; mov Rq(n), Rq(r));
                b.at = Where::Gpr(n);
            }
        }
        let rb = self.gpr(b);
        match a.at {
            Where::Gpr(RAX) => {}
            Where::Gpr(RDX) => {
                asm!(self.ops ; mov rax, rdx);
            }
            _ => {
                self.load_gpr(a, RAX);
            }
        }
        a.at = Where::Gpr(RAX);
        let _ = a;
        let zero = self.trap_label(TrapKind::IntegerDivideByZero);
        if w {
            asm!(self.ops ; test Rq(rb), Rq(rb) ; jz =>zero);
        } else {
            asm!(self.ops ; test Rd(rb), Rd(rb) ; jz =>zero);
        }
        let done = self.label();
        if signed {
            let normal = self.label();
            if w {
                asm!(self.ops ; cmp Rq(rb), -1 ; jne =>normal);
            } else {
                asm!(self.ops ; cmp Rd(rb), -1 ; jne =>normal);
            }
            if rem {
                asm!(self.ops ; xor edx, edx ; jmp =>done);
            } else {
                let ovf = self.trap_label(TrapKind::IntegerOverflow);
                if w {
                    asm!(self.ops ; mov r11, QWORD i64::MIN ; cmp rax, r11 ; je =>ovf);
                } else {
                    asm!(self.ops ; cmp eax, i32::MIN ; je =>ovf);
                }
            }
            asm!(self.ops ; =>normal);
            if w {
                asm!(self.ops ; cqo ; idiv Rq(rb));
            } else {
                asm!(self.ops ; cdq ; idiv Rd(rb));
            }
        } else if w {
            asm!(self.ops ; xor edx, edx ; div Rq(rb));
        } else {
            asm!(self.ops ; xor edx, edx ; div Rd(rb));
        }
        asm!(self.ops ; =>done);
        self.free_gpr(rb);
        let (res, other) = if rem { (RDX, RAX) } else { (RAX, RDX) };
        self.free_gpr(other);
        let t = if w { Ty::I64 } else { Ty::I32 };
        self.push(t, Where::Gpr(res));
    }

    /// clz (0), ctz (1), popcnt (2).
    fn bitcount(&mut self, which: u8) {
        let v = self.pop();
        let w = v.ty.is_64();
        let r = self.gpr(v);
        match (which, w) {
            (0, true) => asm!(self.ops ; mov r11, -1 ; bsr Rq(r), Rq(r) ; cmovz Rq(r), r11 ; neg Rq(r) ; add Rq(r), 63),
            (0, false) => {
                asm!(self.ops ; mov r11d, -1 ; bsr Rd(r), Rd(r) ; cmovz Rd(r), r11d ; neg Rd(r) ; add Rd(r), 31)
            }
            (1, true) => asm!(self.ops ; mov r11d, 64 ; bsf Rq(r), Rq(r) ; cmovz Rq(r), r11),
            (1, false) => asm!(self.ops ; mov r11d, 32 ; bsf Rd(r), Rd(r) ; cmovz Rd(r), r11d),
            (_, true) => asm!(self.ops ; popcnt Rq(r), Rq(r)),
            (_, false) => asm!(self.ops ; popcnt Rd(r), Rd(r)),
        }
        self.push(v.ty, Where::Gpr(r));
    }

    fn sext(&mut self, t: Ty, bits: u8) {
        let v = self.pop();
        let r = self.gpr(v);
        match (t, bits) {
            (Ty::I32, 8) => asm!(self.ops ; movsx Rd(r), Rb(r)),
            (Ty::I32, _) => asm!(self.ops ; movsx Rd(r), Rw(r)),
            (_, 8) => asm!(self.ops ; movsx Rq(r), Rb(r)),
            (_, 16) => asm!(self.ops ; movsx Rq(r), Rw(r)),
            _ => asm!(self.ops ; movsxd Rq(r), Rd(r)),
        }
        self.push(t, Where::Gpr(r));
    }

    fn fbin(&mut self, op: FOp) {
        let b = self.pop();
        let a = self.pop();
        let w = a.ty.is_64();
        let xa = self.xmm(a);
        if let Where::Local(_) | Where::Mem(_) = b.at {
            // The second operand straight from its frame slot.
            let o = self.mem_of(b);
            macro_rules! m {
                ($ss:ident, $sd:ident) => {
                    if w {
                        asm!(self.ops ; $sd Rx(xa), QWORD [rbp + o])
                    } else {
                        asm!(self.ops ; $ss Rx(xa), DWORD [rbp + o])
                    }
                };
            }
            match op {
                FOp::Add => m!(addss, addsd),
                FOp::Sub => m!(subss, subsd),
                FOp::Mul => m!(mulss, mulsd),
                FOp::Div => m!(divss, divsd),
            }
            self.push(a.ty, Where::Xmm(xa));
            return;
        }
        let xb = self.xmm(b);
        match op {
            FOp::Add => sse!(self.ops, addss, addsd, w, xa, xb),
            FOp::Sub => sse!(self.ops, subss, subsd, w, xa, xb),
            FOp::Mul => sse!(self.ops, mulss, mulsd, w, xa, xb),
            FOp::Div => sse!(self.ops, divss, divsd, w, xa, xb),
        }
        self.free_xmm(xb);
        self.push(a.ty, Where::Xmm(xa));
    }

    fn fminmax(&mut self, min: bool) {
        let b = self.pop();
        let a = self.pop();
        let w = a.ty.is_64();
        let xa = self.xmm(a);
        let xb = self.xmm(b);
        let (nan, eq, done) = (self.label(), self.label(), self.label());
        sse!(self.ops, ucomiss, ucomisd, w, xa, xb);
        asm!(self.ops ; jp =>nan ; je =>eq);
        if min {
            sse!(self.ops, minss, minsd, w, xa, xb);
        } else {
            sse!(self.ops, maxss, maxsd, w, xa, xb);
        }
        asm!(self.ops ; jmp =>done ; =>eq);
        // Equal operands: only the signs of zeros can differ (min: -0 wins, max: +0 wins).
        if min {
            asm!(self.ops ; orps Rx(xa), Rx(xb));
        } else {
            asm!(self.ops ; andps Rx(xa), Rx(xb));
        }
        asm!(self.ops ; jmp =>done ; =>nan);
        sse!(self.ops, addss, addsd, w, xa, xb);
        asm!(self.ops ; =>done);
        self.free_xmm(xb);
        self.push(a.ty, Where::Xmm(xa));
    }

    fn fsign(&mut self, abs: bool) {
        let v = self.pop();
        let x = self.xmm(v);
        match (v.ty.is_64(), abs) {
            (true, true) => asm!(self.ops ; mov r11, QWORD i64::MAX ; movq xmm15, r11 ; andpd Rx(x), xmm15),
            (true, false) => asm!(self.ops ; mov r11, QWORD i64::MIN ; movq xmm15, r11 ; xorpd Rx(x), xmm15),
            (false, true) => asm!(self.ops ; mov r11d, i32::MAX ; movd xmm15, r11d ; andps Rx(x), xmm15),
            (false, false) => asm!(self.ops ; mov r11d, i32::MIN ; movd xmm15, r11d ; xorps Rx(x), xmm15),
        }
        self.push(v.ty, Where::Xmm(x));
    }

    fn copysign(&mut self) {
        let b = self.pop();
        let a = self.pop();
        let xa = self.xmm(a);
        let xb = self.xmm(b);
        let t = self.alloc_gpr();
        if a.ty.is_64() {
            asm!(self.ops
                ; movq r11, Rx(xa) ; btr r11, 63
                ; movq Rq(t), Rx(xb) ; shr Rq(t), 63 ; shl Rq(t), 63
                ; or r11, Rq(t) ; movq Rx(xa), r11
            );
        } else {
            asm!(self.ops
                ; movd r11d, Rx(xa) ; btr r11d, 31
                ; movd Rd(t), Rx(xb) ; and Rd(t), i32::MIN
                ; or r11d, Rd(t) ; movd Rx(xa), r11d
            );
        }
        self.free_gpr(t);
        self.free_xmm(xb);
        self.push(a.ty, Where::Xmm(xa));
    }

    fn round(&mut self, mode: i8) {
        let v = self.pop();
        let x = self.xmm(v);
        if v.ty.is_64() {
            asm!(self.ops ; roundsd Rx(x), Rx(x), mode);
        } else {
            asm!(self.ops ; roundss Rx(x), Rx(x), mode);
        }
        self.push(v.ty, Where::Xmm(x));
    }

    fn fcmp(&mut self, swap: bool, cc: Cc) {
        let b = self.pop();
        let a = self.pop();
        let w = a.ty.is_64();
        let xa = self.xmm(a);
        let xb = self.xmm(b);
        if swap {
            sse!(self.ops, ucomiss, ucomisd, w, xb, xa);
        } else {
            sse!(self.ops, ucomiss, ucomisd, w, xa, xb);
        }
        self.free_xmm(xa);
        self.free_xmm(xb);
        self.push(Ty::I32, Where::Flags(cc));
    }

    fn fcmp_eq(&mut self, eq: bool) {
        let b = self.pop();
        let a = self.pop();
        let w = a.ty.is_64();
        let xa = self.xmm(a);
        let xb = self.xmm(b);
        let r = self.alloc_gpr();
        sse!(self.ops, ucomiss, ucomisd, w, xa, xb);
        if eq {
            asm!(self.ops ; sete Rb(r) ; setnp r11b ; and Rb(r), r11b ; movzx Rd(r), Rb(r));
        } else {
            asm!(self.ops ; setne Rb(r) ; setp r11b ; or Rb(r), r11b ; movzx Rd(r), Rb(r));
        }
        self.free_xmm(xa);
        self.free_xmm(xb);
        self.push(Ty::I32, Where::Gpr(r));
    }

    fn convert(&mut self, to: Ty, signed: bool) {
        let v = self.pop();
        let r = self.gpr(v);
        let x = self.alloc_xmm();
        let d = to == Ty::F64;
        if v.ty == Ty::I32 && signed {
            if d {
                asm!(self.ops ; cvtsi2sd Rx(x), Rd(r));
            } else {
                asm!(self.ops ; cvtsi2ss Rx(x), Rd(r));
            }
        } else if v.ty == Ty::I32 || signed {
            // u32 values are zero-extended: convert as i64.
            if d {
                asm!(self.ops ; cvtsi2sd Rx(x), Rq(r));
            } else {
                asm!(self.ops ; cvtsi2ss Rx(x), Rq(r));
            }
        } else {
            let (big, done) = (self.label(), self.label());
            asm!(self.ops ; test Rq(r), Rq(r) ; js =>big);
            if d {
                asm!(self.ops ; cvtsi2sd Rx(x), Rq(r));
            } else {
                asm!(self.ops ; cvtsi2ss Rx(x), Rq(r));
            }
            // Halve (keeping the low bit for rounding), convert, double.
            asm!(self.ops ; jmp =>done ; =>big ; mov r11, Rq(r) ; and r11d, 1 ; shr Rq(r), 1 ; or Rq(r), r11);
            if d {
                asm!(self.ops ; cvtsi2sd Rx(x), Rq(r) ; addsd Rx(x), Rx(x));
            } else {
                asm!(self.ops ; cvtsi2ss Rx(x), Rq(r) ; addss Rx(x), Rx(x));
            }
            asm!(self.ops ; =>done);
        }
        self.free_gpr(r);
        self.push(to, Where::Xmm(x));
    }

    /// Loads float constant `c` (of the width of `w64`) into xmm15.
    fn fconst15(&mut self, w64: bool, c: f64) {
        if w64 {
            asm!(self.ops ; mov r11, QWORD c.to_bits() as i64 ; movq xmm15, r11);
        } else {
            asm!(self.ops ; mov r11d, (c as f32).to_bits() as i32 ; movd xmm15, r11d);
        }
    }

    /// Float → int; trapping (`sat` false) or saturating.
    fn trunc(&mut self, to: Ty, signed: bool, sat: bool) {
        let v = self.pop();
        let w = v.ty.is_64();
        let x = self.xmm(v);
        let r = self.alloc_gpr();
        let (lo, lo_incl, hi): (f64, bool, f64) = match (to, signed) {
            (Ty::I32, true) if !w => (-2147483648.0, true, 2147483648.0),
            (Ty::I32, true) => (-2147483649.0, false, 2147483648.0),
            (Ty::I32, false) => (-1.0, false, 4294967296.0),
            (_, true) => (-9223372036854775808.0, true, 9223372036854775808.0),
            (_, false) => (-1.0, false, 18446744073709551616.0),
        };
        let done = self.label();
        let (l_nan, l_lo, l_hi) = if sat {
            (self.label(), self.label(), self.label())
        } else {
            let n = self.trap_label(TrapKind::InvalidConversionToInteger);
            let o = self.trap_label(TrapKind::IntegerOverflow);
            (n, o, o)
        };
        sse!(self.ops, ucomiss, ucomisd, w, x, x);
        asm!(self.ops ; jp =>l_nan);
        self.fconst15(w, lo);
        sse!(self.ops, ucomiss, ucomisd, w, x, 15);
        if lo_incl {
            asm!(self.ops ; jb =>l_lo);
        } else {
            asm!(self.ops ; jbe =>l_lo);
        }
        self.fconst15(w, hi);
        sse!(self.ops, ucomiss, ucomisd, w, x, 15);
        asm!(self.ops ; jae =>l_hi);
        match (to, signed) {
            (Ty::I32, true) => {
                if w {
                    asm!(self.ops ; cvttsd2si Rd(r), Rx(x));
                } else {
                    asm!(self.ops ; cvttss2si Rd(r), Rx(x));
                }
            }
            (Ty::I32, false) | (_, true) => {
                if w {
                    asm!(self.ops ; cvttsd2si Rq(r), Rx(x));
                } else {
                    asm!(self.ops ; cvttss2si Rq(r), Rx(x));
                }
                if to == Ty::I32 {
                    asm!(self.ops ; mov Rd(r), Rd(r));
                }
            }
            _ => {
                // u64: values ≥ 2^63 convert after subtracting 2^63.
                let big = self.label();
                self.fconst15(w, 9223372036854775808.0);
                sse!(self.ops, ucomiss, ucomisd, w, x, 15);
                asm!(self.ops ; jae =>big);
                if w {
                    asm!(self.ops ; cvttsd2si Rq(r), Rx(x));
                } else {
                    asm!(self.ops ; cvttss2si Rq(r), Rx(x));
                }
                asm!(self.ops ; jmp =>done ; =>big);
                if w {
                    asm!(self.ops ; subsd Rx(x), xmm15 ; cvttsd2si Rq(r), Rx(x));
                } else {
                    asm!(self.ops ; subss Rx(x), xmm15 ; cvttss2si Rq(r), Rx(x));
                }
                asm!(self.ops ; btc Rq(r), 63);
            }
        }
        if sat {
            let (min, max): (i64, i64) = match (to, signed) {
                (Ty::I32, true) => (i32::MIN as i64, i32::MAX as i64),
                (Ty::I32, false) => (0, u32::MAX as i64),
                (_, true) => (i64::MIN, i64::MAX),
                (_, false) => (0, -1),
            };
            asm!(self.ops
                ; jmp =>done
                ; =>l_nan
                ; xor Rd(r), Rd(r)
                ; jmp =>done
                ; =>l_lo
                ; mov Rq(r), QWORD min
                ; jmp =>done
                ; =>l_hi
                ; mov Rq(r), QWORD max
            );
        }
        asm!(self.ops ; =>done);
        self.free_xmm(x);
        self.push(to, Where::Gpr(r));
    }

    /// Pops an address, checks `[addr + offset, + size)` against the memory length and returns
    /// `(index register, displacement)` for `[r14 + index + displacement]`.
    fn heap_addr(&mut self, offset: u64, size: u32) -> (u8, i32) {
        let a = self.pop();
        let oob = self.trap_label(TrapKind::MemoryOutOfBounds);
        if let Where::Imm(c) = a.at {
            let ea = c as u32 as u64 + offset;
            let lim = ea + size as u64;
            if lim <= i32::MAX as u64 {
                asm!(self.ops ; cmp QWORD [r15 + VMCTX_MEM_LEN], lim as i32 ; jb =>oob);
            } else {
                asm!(self.ops ; mov r11, QWORD lim as i64 ; cmp [r15 + VMCTX_MEM_LEN], r11 ; jb =>oob);
            }
            let r = self.alloc_gpr();
            if ea <= i32::MAX as u64 {
                asm!(self.ops ; xor Rd(r), Rd(r));
                return (r, ea as i32);
            }
            asm!(self.ops ; mov Rq(r), QWORD ea as i64);
            return (r, 0);
        }
        let ra = self.gpr(a);
        let end = offset + size as u64;
        if end <= i32::MAX as u64 {
            asm!(self.ops ; lea r11, [Rq(ra) + end as i32]);
        } else {
            asm!(self.ops ; mov r11, QWORD end as i64 ; add r11, Rq(ra));
        }
        asm!(self.ops ; cmp r11, [r15 + VMCTX_MEM_LEN] ; ja =>oob);
        if offset <= i32::MAX as u64 {
            (ra, offset as i32)
        } else {
            asm!(self.ops ; mov r11, QWORD offset as i64 ; add Rq(ra), r11);
            (ra, 0)
        }
    }

    fn load(&mut self, m: wasmparser::MemArg, kind: LoadKind) {
        use LoadKind as K;
        let size = match kind {
            K::I32 | K::F32 | K::I64S32 | K::I64U32 => 4,
            K::I64 | K::F64 => 8,
            K::I32S8 | K::I32U8 | K::I64S8 | K::I64U8 => 1,
            _ => 2,
        };
        let (i, o) = self.heap_addr(m.offset, size);
        let (ty, at) = match kind {
            K::F32 | K::F64 => {
                let x = self.alloc_xmm();
                if let K::F32 = kind {
                    asm!(self.ops ; movss Rx(x), DWORD [r14 + Rq(i) + o]);
                } else {
                    asm!(self.ops ; movsd Rx(x), QWORD [r14 + Rq(i) + o]);
                }
                self.free_gpr(i);
                (if let K::F32 = kind { Ty::F32 } else { Ty::F64 }, Where::Xmm(x))
            }
            _ => {
                let t = match kind {
                    K::I32 | K::I32S8 | K::I32U8 | K::I32S16 | K::I32U16 => Ty::I32,
                    _ => Ty::I64,
                };
                match kind {
                    K::I32 | K::I64U32 => asm!(self.ops ; mov Rd(i), DWORD [r14 + Rq(i) + o]),
                    K::I64 => asm!(self.ops ; mov Rq(i), QWORD [r14 + Rq(i) + o]),
                    K::I32S8 => asm!(self.ops ; movsx Rd(i), BYTE [r14 + Rq(i) + o]),
                    K::I32U8 | K::I64U8 => asm!(self.ops ; movzx Rd(i), BYTE [r14 + Rq(i) + o]),
                    K::I32S16 => asm!(self.ops ; movsx Rd(i), WORD [r14 + Rq(i) + o]),
                    K::I32U16 | K::I64U16 => asm!(self.ops ; movzx Rd(i), WORD [r14 + Rq(i) + o]),
                    K::I64S8 => asm!(self.ops ; movsx Rq(i), BYTE [r14 + Rq(i) + o]),
                    K::I64S16 => asm!(self.ops ; movsx Rq(i), WORD [r14 + Rq(i) + o]),
                    K::I64S32 => asm!(self.ops ; movsxd Rq(i), DWORD [r14 + Rq(i) + o]),
                    K::F32 | K::F64 => unreachable!(),
                }
                (t, Where::Gpr(i))
            }
        };
        self.push(ty, at);
    }

    fn store(&mut self, m: wasmparser::MemArg, size: u32) {
        let v = self.pop();
        if v.ty.is_float() {
            let x = self.xmm(v);
            let (i, o) = self.heap_addr(m.offset, size);
            if size == 4 {
                asm!(self.ops ; movss DWORD [r14 + Rq(i) + o], Rx(x));
            } else {
                asm!(self.ops ; movsd QWORD [r14 + Rq(i) + o], Rx(x));
            }
            self.free_gpr(i);
            self.free_xmm(x);
            return;
        }
        let imm = match v.at {
            Where::Imm(bits) if size < 8 || bits as i64 == bits as i32 as i64 => Some(bits as i32),
            _ => None,
        };
        let r = if imm.is_none() { Some(self.gpr(v)) } else { None };
        let (i, o) = self.heap_addr(m.offset, size);
        match (imm, r, size) {
            (Some(c), _, 1) => asm!(self.ops ; mov BYTE [r14 + Rq(i) + o], c as i8),
            (Some(c), _, 2) => asm!(self.ops ; mov WORD [r14 + Rq(i) + o], c as i16),
            (Some(c), _, 4) => asm!(self.ops ; mov DWORD [r14 + Rq(i) + o], c),
            (Some(c), _, _) => asm!(self.ops ; mov QWORD [r14 + Rq(i) + o], c),
            (None, Some(r), 1) => asm!(self.ops ; mov [r14 + Rq(i) + o], Rb(r)),
            (None, Some(r), 2) => asm!(self.ops ; mov [r14 + Rq(i) + o], Rw(r)),
            (None, Some(r), 4) => asm!(self.ops ; mov [r14 + Rq(i) + o], Rd(r)),
            (None, Some(r), _) => asm!(self.ops ; mov [r14 + Rq(i) + o], Rq(r)),
            (None, None, _) => unreachable!(),
        }
        self.free_gpr(i);
        if let Some(r) = r {
            self.free_gpr(r);
        }
    }
}
