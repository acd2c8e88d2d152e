//! Control flow, branches, calls, returns and runtime calls.

use super::*;

/// Which function a call goes to.
pub(super) enum Callee {
    /// A store function address known at compile time.
    Direct(u32),
    /// The function slot whose address is in the callee-slot scratch slot.
    Indirect,
}

impl<E: Emitter> Cg<'_, E> {
    pub(super) fn block_type(&self, bt: BlockType) -> Result<(Vec<Ty>, Vec<Ty>), Error> {
        Ok(match bt {
            BlockType::Empty => (Vec::new(), Vec::new()),
            BlockType::Type(t) => {
                let vt = ValType::from_wasmparser(t).ok_or_else(|| unsupported("GC reference types"))?;
                (Vec::new(), vec![Ty::of(vt)?])
            }
            BlockType::FuncType(i) => {
                let ft = &self.env.module.types[i as usize];
                (
                    ft.params.iter().map(|t| Ty::of(*t)).collect::<Result<_, _>>()?,
                    ft.results.iter().map(|t| Ty::of(*t)).collect::<Result<_, _>>()?,
                )
            }
        })
    }

    /// Drops stack values down to `h`, releasing their registers.
    pub(super) fn truncate(&mut self, h: usize) {
        while self.stack.len() > h {
            let v = self.pop();
            self.free(v);
        }
    }

    fn frame_arity(&self, idx: usize) -> usize {
        let fr = &self.ctrl[idx];
        if fr.kind == Kind::Loop {
            fr.params.len()
        } else {
            fr.results.len()
        }
    }

    /// Moves the top `n` values into the slots of depths `h..h+n` (virtual stack unchanged).
    fn move_top(&mut self, h: usize, n: usize) {
        let base = self.stack.len() - n;
        for i in 0..n {
            let v = self.stack[base + i];
            let o = self.canon(h + i);
            self.store_val(v, o);
        }
    }

    /// Whether a branch to frame `idx` needs code besides the jump.
    fn needs_moves(&mut self, idx: usize) -> bool {
        if self.ctrl[idx].kind == Kind::Func {
            return true;
        }
        let n = self.frame_arity(idx);
        let h = self.ctrl[idx].height;
        let base = self.stack.len() - n;
        (0..n).any(|i| {
            let o = self.canon(h + i);
            self.stack[base + i].at != Where::Mem(o)
        })
    }

    /// Emits an unconditional branch to frame `idx` (moves + jump, or the return sequence).
    pub(super) fn branch(&mut self, idx: usize) {
        if self.ctrl[idx].kind == Kind::Func {
            self.return_seq();
            return;
        }
        let n = self.frame_arity(idx);
        let h = self.ctrl[idx].height;
        self.move_top(h, n);
        let t = self.ctrl[idx].target;
        if self.ctrl[idx].kind != Kind::Loop {
            self.ctrl[idx].end_reached = true;
        }
        asm!(self.ops ; jmp =>t);
    }

    /// Puts the top values into the result locations and jumps to the epilogue.
    pub(super) fn return_seq(&mut self) {
        let n = self.sig.results.len();
        let base = self.stack.len() - n;
        if n > 1 {
            for d in base..self.stack.len() {
                self.spill_at(d);
            }
        }
        for i in 0..n {
            let v = self.stack[base + i];
            match self.sig.rets[i] {
                Loc::Gpr(r) => self.put_gpr(v, r),
                Loc::Xmm(x) => self.put_xmm(v, x),
                Loc::Stack(off) => {
                    let so = self.sret_off();
                    let o = self.mem_of(v);
                    let off = off as i32;
                    asm!(self.ops
                        ; mov r11, [rbp + so]
                        ; movsd xmm15, QWORD [rbp + o]
                        ; movsd QWORD [r11 + off], xmm15
                    );
                }
            }
        }
        let e = self.epilogue;
        asm!(self.ops ; jmp =>e);
    }

    /// Copies `v` into general register `r` without touching the allocator state.
    fn put_gpr(&mut self, v: Val, r: u8) {
        match v.at {
            Where::Gpr(s) => {
                if s != r {
                    asm!(self.ops ; mov Rq(r), Rq(s));
                }
            }
            Where::Xmm(_) => unreachable!("integer result in an SSE register"),
            _ => {
                // `load_gpr` only frees registers for register sources, handled above.
                self.load_gpr(v, r);
            }
        }
    }

    /// Copies `v` into SSE register `x` without touching the allocator state.
    fn put_xmm(&mut self, v: Val, x: u8) {
        match v.at {
            Where::Xmm(s) => {
                if s != x {
                    asm!(self.ops ; movaps Rx(x), Rx(s));
                }
            }
            Where::Imm(bits) => asm!(self.ops ; mov r11, QWORD bits as i64 ; movq Rx(x), r11),
            Where::Local(_) | Where::Mem(_) => {
                let o = self.mem_of(v);
                if v.ty.is_64() {
                    asm!(self.ops ; movsd Rx(x), QWORD [rbp + o]);
                } else {
                    asm!(self.ops ; movss Rx(x), DWORD [rbp + o]);
                }
            }
            _ => unreachable!("float result in an integer place"),
        }
    }

    pub(super) fn op_block(&mut self, bt: BlockType, kind: Kind) -> Result<(), Error> {
        let (params, results) = self.block_type(bt)?;
        match kind {
            Kind::Block => {
                self.spill_all();
                let end = self.label();
                let height = self.stack.len() - params.len();
                self.ctrl.push(Frame {
                    kind,
                    target: end,
                    end,
                    else_label: None,
                    params,
                    results,
                    height,
                    end_reached: false,
                    else_reachable: false,
                });
            }
            Kind::Loop => {
                self.spill_all();
                let head = self.label();
                let end = self.label();
                asm!(self.ops ; =>head);
                let height = self.stack.len() - params.len();
                self.ctrl.push(Frame {
                    kind,
                    target: head,
                    end,
                    else_label: None,
                    params,
                    results,
                    height,
                    end_reached: false,
                    else_reachable: false,
                });
                self.fuel_check();
            }
            _ => {
                let cc = self.pop_cond();
                self.spill_all();
                let n = params.len();
                let height = self.stack.len() - n;
                // The else arm needs the parameters after the then arm consumed them: the then
                // arm works on copies above the originals.
                for (i, ty) in params.iter().enumerate() {
                    let src = self.canon(height + i);
                    let dst = self.canon(height + n + i);
                    asm!(self.ops ; mov r11, [rbp + src] ; mov [rbp + dst], r11);
                    self.push(*ty, Where::Mem(dst));
                }
                let else_l = self.label();
                let end = self.label();
                self.jcc(cc.not(), else_l);
                self.ctrl.push(Frame {
                    kind: Kind::If,
                    target: end,
                    end,
                    else_label: Some(else_l),
                    params,
                    results,
                    height,
                    end_reached: false,
                    else_reachable: true,
                });
            }
        }
        Ok(())
    }

    pub(super) fn op_else(&mut self) {
        let idx = self.ctrl.len() - 1;
        if self.reachable {
            self.branch(idx);
        }
        let fr = &mut self.ctrl[idx];
        fr.kind = Kind::Else;
        let else_l = fr.else_label.take().expect("if has an else label");
        let (h, params, reach) = (fr.height, fr.params.clone(), fr.else_reachable);
        self.truncate(h);
        for (i, t) in params.into_iter().enumerate() {
            let o = self.canon(h + i);
            self.push(t, Where::Mem(o));
        }
        asm!(self.ops ; =>else_l);
        self.reachable = reach;
    }

    pub(super) fn op_end(&mut self) {
        let fr = self.ctrl.pop().expect("validated: end matches a frame");
        if fr.kind == Kind::Loop {
            self.end_fuel_site();
        }
        if fr.kind == Kind::Func {
            if self.reachable {
                self.return_seq();
            }
            self.truncate(0);
            return;
        }
        let n = fr.results.len();
        let mut reach = fr.end_reached;
        if self.reachable {
            self.move_top(fr.height, n);
            reach = true;
        }
        if let Some(else_l) = fr.else_label {
            asm!(self.ops ; =>else_l);
            reach |= fr.else_reachable;
        }
        self.truncate(fr.height);
        for (i, t) in fr.results.iter().enumerate() {
            let o = self.canon(fr.height + i);
            self.push(*t, Where::Mem(o));
        }
        let end = fr.end;
        asm!(self.ops ; =>end);
        self.reachable = reach;
    }

    pub(super) fn op_br_if(&mut self, depth: u32) {
        let cc = self.pop_cond();
        self.spill_all();
        let idx = self.ctrl.len() - 1 - depth as usize;
        if self.needs_moves(idx) {
            let skip = self.label();
            self.jcc(cc.not(), skip);
            self.branch(idx);
            asm!(self.ops ; =>skip);
        } else {
            let t = self.ctrl[idx].target;
            if self.ctrl[idx].kind != Kind::Loop {
                self.ctrl[idx].end_reached = true;
            }
            self.jcc(cc, t);
        }
    }

    pub(super) fn op_br_table(&mut self, targets: wasmparser::BrTable<'_>) -> Result<(), Error> {
        let mut depths: Vec<u32> = targets.targets().collect::<Result<_, _>>()?;
        let default = targets.default();
        let v = self.pop();
        let ri = self.gpr(v);
        self.spill_all();
        let mut stubs: Vec<(u32, Label)> = Vec::new();
        let mut stub_for = |cg: &mut Self, d: u32| -> Label {
            if let Some((_, l)) = stubs.iter().find(|(x, _)| *x == d) {
                return *l;
            }
            let l = cg.label();
            stubs.push((d, l));
            l
        };
        let def = stub_for(self, default);
        if !depths.is_empty() {
            let n = depths.len() as i32;
            let table = self.label();
            asm!(self.ops
                ; cmp Rd(ri), n
                ; jae =>def
                ; lea r11, [=>table]
                ; lea Rq(ri), [Rq(ri) + Rq(ri) * 4]
                ; add r11, Rq(ri)
                ; jmp r11
                ; =>table
            );
            for d in depths.drain(..) {
                let l = stub_for(self, d);
                let before = self.pos();
                asm!(self.ops ; jmp =>l);
                if self.pos() - before != 5 {
                    return Err(Error::Other("baseline tier: br_table entry is not a 5-byte jump".into()));
                }
            }
        } else {
            asm!(self.ops ; jmp =>def);
        }
        self.free_gpr(ri);
        for (d, l) in stubs {
            asm!(self.ops ; =>l);
            let idx = self.ctrl.len() - 1 - d as usize;
            self.branch(idx);
        }
        self.reachable = false;
        Ok(())
    }

    /// Loads the address of the function slot of a call into rax.
    fn callee_slot_to_rax(&mut self, callee: &Callee) {
        match *callee {
            Callee::Direct(addr) => {
                let off = addr as i64 * SLOT_SIZE;
                asm!(self.ops ; mov rax, [r15 + VMCTX_SLOTS]);
                if off <= i32::MAX as i64 {
                    asm!(self.ops ; add rax, off as i32);
                } else {
                    asm!(self.ops ; mov r11, QWORD off ; add rax, r11);
                }
            }
            Callee::Indirect => {
                let o = self.callee_slot_off();
                asm!(self.ops ; mov rax, [rbp + o]);
            }
        }
    }

    /// Loads argument `v` (in memory after a spill) into its register.
    fn load_arg(&mut self, v: Val, loc: Loc) {
        match loc {
            Loc::Gpr(r) => self.put_gpr(v, r),
            Loc::Xmm(x) => self.put_xmm(v, x),
            Loc::Stack(_) => unreachable!(),
        }
    }

    /// Calls a wasm function of type `ty` through its function slot.
    pub(super) fn call(&mut self, ty: &FuncType, callee: Callee, tail: bool) -> Result<(), Error> {
        let sig = Sig::new(ty)?;
        self.spill_all();
        let n = sig.params.len();
        let base = self.stack.len() - n;
        let extra = (sig.ret_area + sig.stack_args) as i32;
        if tail {
            return self.return_call(&sig, callee, base);
        }
        if extra > 0 {
            asm!(self.ops ; sub rsp, extra);
        }
        for i in 0..n {
            if let Loc::Stack(off) = sig.args[i] {
                let o = self.mem_of(self.stack[base + i]);
                let off = off as i32;
                asm!(self.ops ; mov rax, [rbp + o] ; mov [rsp + off], rax);
            }
        }
        self.callee_slot_to_rax(&callee);
        asm!(self.ops ; mov r11, [rax + SLOT_CODE] ; mov r10, [rax + SLOT_VMCTX]);
        for i in 0..n {
            if !matches!(sig.args[i], Loc::Stack(_)) {
                let v = self.stack[base + i];
                self.load_arg(v, sig.args[i]);
            }
        }
        let (cv, kv) = (sig.callee_vmctx, sig.caller_vmctx);
        asm!(self.ops ; mov Rq(cv), r10 ; mov Rq(kv), r15);
        if sig.sret {
            let sa = sig.stack_args as i32;
            asm!(self.ops ; lea rdi, [rsp + sa]);
        }
        asm!(self.ops ; call r11);
        self.truncate(base);
        self.after_call(&sig);
        Ok(())
    }

    /// Takes the results of a call, checks for a trap and reloads the memory base.
    fn after_call(&mut self, sig: &Sig) {
        for (i, loc) in sig.rets.iter().enumerate() {
            let t = sig.results[i];
            match *loc {
                Loc::Gpr(r) => {
                    self.take_gpr(r);
                    if t == Ty::I32 {
                        asm!(self.ops ; mov Rd(r), Rd(r));
                    }
                }
                Loc::Xmm(x) => self.xmm_used |= 1 << x,
                Loc::Stack(_) => {}
            }
        }
        for (i, loc) in sig.rets.iter().enumerate() {
            let t = sig.results[i];
            match *loc {
                Loc::Gpr(r) => self.push(t, Where::Gpr(r)),
                Loc::Xmm(x) => self.push(t, Where::Xmm(x)),
                Loc::Stack(off) => {
                    let off = off as i32;
                    if t.is_float() {
                        let x = self.alloc_xmm();
                        asm!(self.ops ; movsd Rx(x), QWORD [rsp + off]);
                        self.push(t, Where::Xmm(x));
                    } else {
                        let r = self.alloc_gpr();
                        asm!(self.ops ; mov Rq(r), [rsp + off]);
                        if t == Ty::I32 {
                            asm!(self.ops ; mov Rd(r), Rd(r));
                        }
                        self.push(t, Where::Gpr(r));
                    }
                }
            }
        }
        if sig.ret_area > 0 {
            let ra = sig.ret_area as i32;
            asm!(self.ops ; add rsp, ra);
        }
        let l = self.label();
        self.traps.push(TrapSite { label: l, code: None, from_shared: true, offset: self.offset });
        asm!(self.ops
            ; mov r11, [r15 + VMCTX_SHARED]
            ; cmp DWORD [r11 + SHARED_TRAP_CODE], 0
            ; jne =>l
            ; mov r14, [r15 + VMCTX_MEM_BASE]
        );
    }

    /// `return_call`: replaces this frame with the callee's.
    fn return_call(&mut self, sig: &Sig, callee: Callee, base: usize) -> Result<(), Error> {
        let n = sig.params.len();
        let out = sig.stack_args as i32;
        let inn = self.sig.stack_args as i32;
        if out > 0 {
            asm!(self.ops ; sub rsp, out);
        }
        for i in 0..n {
            if let Loc::Stack(off) = sig.args[i] {
                let o = self.mem_of(self.stack[base + i]);
                let off = off as i32;
                asm!(self.ops ; mov rax, [rbp + o] ; mov [rsp + off], rax);
            }
        }
        self.callee_slot_to_rax(&callee);
        asm!(self.ops ; mov r11, [rax + SLOT_CODE] ; mov r10, [rax + SLOT_VMCTX]);
        for i in 0..n {
            if !matches!(sig.args[i], Loc::Stack(_)) {
                let v = self.stack[base + i];
                self.load_arg(v, sig.args[i]);
            }
        }
        let (cv, kv) = (sig.callee_vmctx, sig.caller_vmctx);
        asm!(self.ops ; mov Rq(cv), r10 ; mov Rq(kv), r15);
        if sig.sret {
            let so = self.sret_off();
            asm!(self.ops ; mov rdi, [rbp + so]);
        }
        asm!(self.ops
            ; mov rax, [rbp + 8]
            ; mov r10, [rbp]
            ; mov rbx, [rbp - 8]
            ; mov r12, [rbp - 16]
            ; mov r13, [rbp - 24]
            ; mov r14, [rbp - 32]
            ; mov r15, [rbp - 40]
        );
        // The new arguments end where ours end; copy from the top down (the areas may overlap
        // and the destination is always higher).
        let mut off = out - 8;
        while off >= 0 {
            let dst = 16 + inn - out + off;
            asm!(self.ops ; movsd xmm15, QWORD [rsp + off] ; movsd QWORD [rbp + dst], xmm15);
            off -= 8;
        }
        let ra = 8 + inn - out;
        asm!(self.ops
            ; mov [rbp + ra], rax
            ; lea rsp, [rbp + ra]
            ; mov rbp, r10
            ; jmp r11
        );
        self.truncate(base);
        self.reachable = false;
        Ok(())
    }

    /// Calls runtime function `which` with the context, `consts` and the top `n` stack values;
    /// `result`: push its i32 result; `checked`: a non-zero result is a trap code.
    pub(super) fn libcall(&mut self, which: usize, consts: &[u32], n: usize, result: bool, checked: bool) {
        const ARGS: [u8; 6] = [7, 6, 2, 1, 8, 9];
        self.spill_all();
        let base = self.stack.len() - n;
        asm!(self.ops ; mov rdi, r15);
        let mut k = 1;
        for c in consts {
            let r = ARGS[k];
            asm!(self.ops ; mov Rd(r), *c as i32);
            k += 1;
        }
        for i in 0..n {
            let v = self.stack[base + i];
            self.put_gpr(v, ARGS[k]);
            k += 1;
        }
        let addr = libcalls::address(which) as i64;
        asm!(self.ops ; mov rax, QWORD addr ; call rax ; mov r14, [r15 + VMCTX_MEM_BASE]);
        self.truncate(base);
        if checked {
            let l = self.trap_label_eax();
            asm!(self.ops ; test eax, eax ; jnz =>l);
        }
        if result {
            self.take_gpr(RAX);
            asm!(self.ops ; mov eax, eax);
            self.push(Ty::I32, Where::Gpr(RAX));
        }
    }
}
