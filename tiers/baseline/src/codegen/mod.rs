//! Wasm → x86-64 in one pass over the operators, no IR.
//!
//! # Values
//! A *virtual value stack* mirrors the wasm operand stack and records where each value lives:
//! an immediate ([`Where::Imm`], folded into instructions), a not-yet-read local
//! ([`Where::Local`]), a register, the CPU flags of a compare that the next operator may fuse into
//! a branch or `select` ([`Where::Flags`]), or its *canonical slot* in the frame
//! ([`Where::Mem`]). Registers are handed out from a small pool and spilled to canonical slots
//! on demand. At every control-flow boundary (block, loop, if, calls) the whole stack is
//! spilled, so every merge point sees all values in their canonical slots; branches move their
//! arguments into the target's slots.
//!
//! # Frame
//! `rbp` frame; callee-saved rbx, r12–r15 below it; then one 8-byte slot per local, two scratch
//! slots (return-area pointer, callee function slot) and one slot per operand-stack depth. The
//! frame size is only known at the end and is patched into the prologue. `r15` holds the
//! context, `r14` the base of memory 0 (reloaded after calls), `r11`/`xmm15` are scratch. Code
//! never writes below `rsp` (kernel interrupts use the same stack).
//!
//! # Traps
//! Every check jumps to an out-of-line stub that loads the trap code and the wasm byte offset and
//! jumps to the function's trap block, which records them in `VmShared` (first site wins) and
//! returns; callers check `VmShared::trap_code` after each call.

use alloc::format;
use alloc::vec;
use alloc::vec::Vec;

use dynasm::dynasm;
use kwasm_runtime::libcalls;
use kwasm_runtime::module::Module;
use kwasm_runtime::store::InstanceData;
use kwasm_runtime::vmctx::{
    SHARED_FUEL, SHARED_STACK_LIMIT, SHARED_TRAP_CODE, SHARED_TRAP_FUNC, SHARED_TRAP_HAS_LOC, SHARED_TRAP_OFFSET,
    SLOT_CODE, SLOT_HOTNESS, SLOT_SIZE, SLOT_TYPE_ID, SLOT_VMCTX, TABLE_DESC_LEN, TABLE_DESC_SIZE, VMCTX_GLOBALS,
    VMCTX_MEM_BASE, VMCTX_MEM_LEN, VMCTX_SHARED, VMCTX_SLOTS, VMCTX_TABLES,
};
use kwasm_runtime::{Error, FuncType, Store, TrapKind, ValType};
use wasmparser::{BlockType, Operator};

use crate::abi::{Loc, Sig, Ty};
use crate::emit::Emitter;
use crate::Label;

/// An `Unsupported` error naming what this tier cannot compile.
pub fn unsupported(what: &str) -> Error {
    Error::Unsupported(format!("baseline tier: {what}"))
}

/// Bytes of callee-saved registers pushed below the saved rbp.
const SAVED: i32 = 40;
/// Registers the allocator hands out (rsp, rbp, r11 (scratch), r14 (memory), r15 (context) never).
const GPR_POOL: [u8; 11] = [0, 1, 2, 3, 6, 7, 8, 9, 10, 12, 13];
/// xmm15 is scratch.
const XMM_POOL: [u8; 15] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14];
const RAX: u8 = 0;
const RCX: u8 = 1;
const RDX: u8 = 2;

/// Condition codes (x86 naming; the unsigned ones also serve float compares).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cc {
    E,
    Ne,
    L,
    Le,
    G,
    Ge,
    B,
    Be,
    A,
    Ae,
}

impl Cc {
    fn not(self) -> Cc {
        use Cc::*;
        match self {
            E => Ne,
            Ne => E,
            L => Ge,
            Ge => L,
            Le => G,
            G => Le,
            B => Ae,
            Ae => B,
            Be => A,
            A => Be,
        }
    }
    /// The condition with the operands swapped (`a cc b` == `b swap(cc) a`).
    fn swap(self) -> Cc {
        use Cc::*;
        match self {
            E => E,
            Ne => Ne,
            L => G,
            G => L,
            Le => Ge,
            Ge => Le,
            B => A,
            A => B,
            Be => Ae,
            Ae => Be,
        }
    }
}

/// Where a value of the virtual stack lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Where {
    /// A constant (raw bits).
    Imm(u64),
    /// The current value of a local (read lazily).
    Local(u32),
    /// A general-purpose register.
    Gpr(u8),
    /// An SSE register.
    Xmm(u8),
    /// The flags of a compare: the i32 value is `cc`.
    Flags(Cc),
    /// A frame slot (`[rbp + offset]`): the value's canonical slot.
    Mem(i32),
}

#[derive(Clone, Copy, Debug)]
struct Val {
    ty: Ty,
    at: Where,
}

/// A source operand of an integer instruction.
#[derive(Clone, Copy)]
enum Src {
    Reg(u8),
    Imm(i32),
    Mem(i32),
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Func,
    Block,
    Loop,
    If,
    Else,
}

struct Frame {
    kind: Kind,
    /// Branch target: the loop header for loops, else the end.
    target: Label,
    end: Label,
    /// The `else` arm of an `if` until `else` is seen.
    else_label: Option<Label>,
    params: Vec<Ty>,
    results: Vec<Ty>,
    /// Stack depth where the frame's parameters (and results) start.
    height: usize,
    /// Whether a branch targets the end.
    end_reached: bool,
    /// Whether the `else` arm is reachable (the `if` was).
    else_reachable: bool,
}

/// An out-of-line trap site.
struct TrapSite {
    label: Label,
    /// The trap code, or `None` when it is already in eax (or, with `from_shared`, in
    /// `VmShared::trap_code`: a callee trapped).
    code: Option<u32>,
    from_shared: bool,
    offset: u32,
}

/// An out-of-line fuel slow path.
struct FuelSlow {
    label: Label,
    back: Label,
    offset: u32,
}

/// Everything needed to compile one function.
pub struct FuncEnv<'a> {
    /// The store (read only during compilation).
    pub store: &'a Store,
    /// The function's instance.
    pub inst: &'a InstanceData,
    /// Its module.
    pub module: &'a Module,
    /// Its index in the module's function index space.
    pub func_index: u32,
}

struct Cg<'a, E: Emitter> {
    env: &'a FuncEnv<'a>,
    ops: E,
    sig: Sig,
    stack: Vec<Val>,
    gpr_used: u16,
    xmm_used: u16,
    ctrl: Vec<Frame>,
    locals: Vec<Ty>,
    /// Highest frame slot index used (+1).
    slots: u32,
    reachable: bool,
    dead_depth: u32,
    offset: u32,
    traps: Vec<TrapSite>,
    fuel_slow: Vec<FuelSlow>,
    /// Open fuel sites: (byte position of the imm32 to patch, operators counted).
    fuel: Vec<(usize, u32)>,
    patches: Vec<(usize, u32)>,
    epilogue: Label,
    trap_block: Label,
}

macro_rules! asm {
    ($ops:expr ; $($t:tt)*) => {
        dynasm!($ops ; .arch x64 ; $($t)*)
    };
}

/// Emits `$op dst, src` for a [`Src`] in 32 or 64 bits.
macro_rules! alu {
    ($ops:expr, $op:ident, $w64:expr, $dst:expr, $src:expr) => {{
        let d = $dst;
        match ($w64, $src) {
            (true, Src::Reg(s)) => asm!($ops ; $op Rq(d), Rq(s)),
            (false, Src::Reg(s)) => asm!($ops ; $op Rd(d), Rd(s)),
            (true, Src::Imm(i)) => asm!($ops ; $op Rq(d), i),
            (false, Src::Imm(i)) => asm!($ops ; $op Rd(d), i),
            (true, Src::Mem(o)) => asm!($ops ; $op Rq(d), QWORD [rbp + o]),
            (false, Src::Mem(o)) => asm!($ops ; $op Rd(d), DWORD [rbp + o]),
        }
    }};
}

/// Emits `$op dst, src` for a register or memory [`Src`] in 32 or 64 bits.
macro_rules! alu_rm {
    ($ops:expr, $op:ident, $w64:expr, $dst:expr, $src:expr) => {{
        let d = $dst;
        match ($w64, $src) {
            (true, Src::Reg(s)) => asm!($ops ; $op Rq(d), Rq(s)),
            (false, Src::Reg(s)) => asm!($ops ; $op Rd(d), Rd(s)),
            (true, Src::Mem(o)) => asm!($ops ; $op Rq(d), QWORD [rbp + o]),
            (false, Src::Mem(o)) => asm!($ops ; $op Rd(d), DWORD [rbp + o]),
            (_, Src::Imm(_)) => unreachable!("no immediate form"),
        }
    }};
}

/// Emits a scalar SSE `$ss`/`$sd` op between two registers.
macro_rules! sse {
    ($ops:expr, $ss:ident, $sd:ident, $w64:expr, $d:expr, $s:expr) => {{
        let (d, s) = ($d, $s);
        if $w64 {
            asm!($ops ; $sd Rx(d), Rx(s));
        } else {
            asm!($ops ; $ss Rx(d), Rx(s));
        }
    }};
}

/// Compiles module function `env.func_index`.
pub fn compile_function<E: Emitter>(env: &FuncEnv<'_>, ops: E) -> Result<Vec<u8>, Error> {
    let ty = env.module.func_type(env.func_index).clone();
    let sig = Sig::new(&ty)?;
    let def = env.func_index - env.module.num_imported_funcs;
    let body = env.module.body_reader(def);
    let mut locals: Vec<Ty> = sig.params.clone();
    let mut lr = body.get_locals_reader()?;
    for _ in 0..lr.get_count() {
        let (n, t) = lr.read()?;
        if locals.len() as u64 + n as u64 > 50_000 {
            return Err(Error::Resource(format!("function {} has too many locals", env.func_index)));
        }
        let vt = ValType::from_wasmparser(t).ok_or_else(|| unsupported("GC reference types"))?;
        let t = Ty::of(vt)?;
        locals.extend(core::iter::repeat_n(t, n as usize));
    }
    let mut ops = ops;
    let epilogue = ops.new_dynamic_label();
    let trap_block = ops.new_dynamic_label();
    let func_end = ops.new_dynamic_label();
    let nlocals = locals.len() as u32;
    let mut cg = Cg {
        env,
        ops,
        sig,
        stack: Vec::new(),
        gpr_used: 0,
        xmm_used: 0,
        ctrl: Vec::new(),
        locals,
        slots: nlocals + 2,
        reachable: true,
        dead_depth: 0,
        offset: body.range().start as u32,
        traps: Vec::new(),
        fuel_slow: Vec::new(),
        fuel: Vec::new(),
        patches: Vec::new(),
        epilogue,
        trap_block,
    };
    let results = cg.sig.results.clone();
    cg.ctrl.push(Frame {
        kind: Kind::Func,
        target: func_end,
        end: func_end,
        else_label: None,
        params: Vec::new(),
        results,
        height: 0,
        end_reached: false,
        else_reachable: false,
    });
    let frame_patch = cg.prologue();
    let mut reader = body.get_operators_reader()?;
    while !reader.eof() {
        let (op, offset) = reader.read_with_offset()?;
        cg.offset = offset as u32;
        cg.op(op)?;
    }
    while let Some((pos, n)) = cg.fuel.pop() {
        cg.patches.push((pos, n.max(1)));
    }
    cg.tail();
    let mut frame = 8 * cg.slots;
    if frame.is_multiple_of(16) {
        frame += 8;
    }
    cg.patches.push((frame_patch, frame));
    let Cg { ops, patches, .. } = cg;
    crate::finish(ops, &patches)
}

impl<E: Emitter> Cg<'_, E> {
    // ----- frame slots -----

    fn slot_off(k: u32) -> i32 {
        -(SAVED + 8 + 8 * k as i32)
    }

    fn local_off(&self, i: u32) -> i32 {
        Self::slot_off(i)
    }

    fn sret_off(&self) -> i32 {
        Self::slot_off(self.locals.len() as u32)
    }

    fn callee_slot_off(&self) -> i32 {
        Self::slot_off(self.locals.len() as u32 + 1)
    }

    /// The canonical slot of stack depth `d`.
    fn canon(&mut self, d: usize) -> i32 {
        let k = self.locals.len() as u32 + 2 + d as u32;
        if k + 1 > self.slots {
            self.slots = k + 1;
        }
        Self::slot_off(k)
    }

    fn label(&mut self) -> Label {
        self.ops.new_dynamic_label()
    }

    fn pos(&self) -> usize {
        self.ops.offset()
    }

    // ----- prologue / epilogue -----

    /// Emits the prologue; returns the position of the frame size to patch.
    fn prologue(&mut self) -> usize {
        asm!(self.ops
            ; push rbp ; mov rbp, rsp
            ; push rbx ; push r12 ; push r13 ; push r14 ; push r15
            ; sub rsp, DWORD 0x7ff0
        );
        let frame_patch = self.pos() - 4;
        let v = self.sig.callee_vmctx;
        asm!(self.ops ; mov r15, Rq(v));
        // Every function checks the stack and charges fuel on entry: deciding per function
        // would need a second pass over the operators, which costs more compile time than the
        // checks cost run time.
        let l = self.trap_label(TrapKind::CallStackExhausted);
        asm!(self.ops
            ; mov r11, [r15 + VMCTX_SHARED]
            ; cmp rsp, [r11 + SHARED_STACK_LIMIT]
            ; jb =>l
        );
        if self.sig.sret {
            let o = self.sret_off();
            asm!(self.ops ; mov [rbp + o], rdi);
        }
        for i in 0..self.sig.params.len() {
            let o = self.local_off(i as u32);
            let t = self.sig.params[i];
            match self.sig.args[i] {
                Loc::Gpr(r) => {
                    if t == Ty::I32 {
                        asm!(self.ops ; mov DWORD [rbp + o], Rd(r) ; mov DWORD [rbp + o + 4], 0);
                    } else {
                        asm!(self.ops ; mov [rbp + o], Rq(r));
                    }
                }
                Loc::Xmm(x) => asm!(self.ops ; movsd QWORD [rbp + o], Rx(x)),
                Loc::Stack(s) => {
                    let src = 16 + s as i32;
                    asm!(self.ops ; mov r11, [rbp + src] ; mov [rbp + o], r11);
                }
            }
        }
        let (np, nl) = (self.sig.params.len() as u32, self.locals.len() as u32);
        if nl - np <= 8 {
            for i in np..nl {
                let o = self.local_off(i);
                asm!(self.ops ; mov QWORD [rbp + o], 0);
            }
        } else {
            // rep stosq upwards from the lowest local.
            let lo = self.local_off(nl - 1);
            let n = (nl - np) as i32;
            asm!(self.ops ; lea rdi, [rbp + lo] ; mov ecx, n ; xor eax, eax ; rep stosq);
        }
        asm!(self.ops ; mov r14, [r15 + VMCTX_MEM_BASE]);
        self.fuel_check();
        frame_patch
    }

    /// Emits the epilogue, the trap block and all out-of-line stubs.
    fn tail(&mut self) {
        let epi = self.epilogue;
        asm!(self.ops
            ; =>epi
            ; lea rsp, [rbp - SAVED]
            ; pop r15 ; pop r14 ; pop r13 ; pop r12 ; pop rbx ; pop rbp
        );
        let n = self.sig.stack_args;
        if n == 0 {
            asm!(self.ops ; ret);
        } else {
            asm!(self.ops ; ret n as i16);
        }
        let tb = self.trap_block;
        let fi = self.env.func_index as i32;
        let skip = self.label();
        asm!(self.ops
            ; =>tb
            ; mov r11, [r15 + VMCTX_SHARED]
            ; mov [r11 + SHARED_TRAP_CODE], eax
            ; cmp DWORD [r11 + SHARED_TRAP_HAS_LOC], 0
            ; jne =>skip
            ; mov DWORD [r11 + SHARED_TRAP_HAS_LOC], 1
            ; mov DWORD [r11 + SHARED_TRAP_FUNC], fi
            ; mov [r11 + SHARED_TRAP_OFFSET], ecx
            ; =>skip
            ; jmp =>epi
        );
        let traps = core::mem::take(&mut self.traps);
        for t in traps {
            let (l, off) = (t.label, t.offset as i32);
            asm!(self.ops ; =>l);
            if let Some(c) = t.code {
                asm!(self.ops ; mov eax, c as i32);
            } else if t.from_shared {
                asm!(self.ops ; mov rax, [r15 + VMCTX_SHARED] ; mov eax, [rax + SHARED_TRAP_CODE]);
            }
            asm!(self.ops ; mov ecx, off ; jmp =>tb);
        }
        let slow = core::mem::take(&mut self.fuel_slow);
        for s in slow {
            let (l, back) = (s.label, s.back);
            let addr = libcalls::address(libcalls::FUEL) as i64;
            let t = self.label();
            self.traps.push(TrapSite { label: t, code: None, from_shared: false, offset: s.offset });
            asm!(self.ops
                ; =>l
                ; mov rdi, r15
                ; mov rax, QWORD addr
                ; call rax
                ; test eax, eax
                ; jnz =>t
                ; jmp =>back
            );
        }
        let traps = core::mem::take(&mut self.traps);
        for t in traps {
            let (l, off) = (t.label, t.offset as i32);
            asm!(self.ops ; =>l ; mov ecx, off ; jmp =>tb);
        }
    }

    /// A new out-of-line trap site for `kind` at the current operator.
    fn trap_label(&mut self, kind: TrapKind) -> Label {
        let label = self.label();
        self.traps.push(TrapSite { label, code: Some(kind.code()), from_shared: false, offset: self.offset });
        label
    }

    /// A trap site whose code is in eax.
    fn trap_label_eax(&mut self) -> Label {
        let label = self.label();
        self.traps.push(TrapSite { label, code: None, from_shared: false, offset: self.offset });
        label
    }

    /// Charges fuel (patched at the end of the site); the runtime, called when the slice runs
    /// out, also honours interrupt requests (shared protocol of `kwasm_runtime::vmctx`).
    fn fuel_check(&mut self) {
        let slow = self.label();
        let back = self.label();
        if let Some(hot) = self.hotness_offset() {
            // Function entry or loop header: one more call or iteration for the tier manager.
            asm!(self.ops
                ; mov r11, [r15 + VMCTX_SLOTS]
                ; add QWORD [r11 + hot], 1
            );
        }
        asm!(self.ops
            ; mov r11, [r15 + VMCTX_SHARED]
            ; sub QWORD [r11 + SHARED_FUEL], DWORD 0x7ff0
        );
        let pos = self.pos() - 4;
        asm!(self.ops ; js =>slow ; =>back);
        self.fuel.push((pos, 0));
        self.fuel_slow.push(FuelSlow { label: slow, back, offset: self.offset });
    }

    /// Offset of this function's hotness counter in the function table, when the tier manager
    /// wants baseline code to count (`kwasm_runtime::tiering`).
    fn hotness_offset(&self) -> Option<i32> {
        if !self.env.store.tiering.counts_in_baseline() {
            return None;
        }
        let addr = *self.env.inst.funcs.get(self.env.func_index as usize)? as i64;
        i32::try_from(addr * SLOT_SIZE + SLOT_HOTNESS as i64).ok()
    }

    fn end_fuel_site(&mut self) {
        if let Some((pos, n)) = self.fuel.pop() {
            self.patches.push((pos, n.max(1)));
        }
    }

    // ----- registers -----

    fn alloc_gpr(&mut self) -> u8 {
        for r in GPR_POOL {
            if self.gpr_used & (1 << r) == 0 {
                self.gpr_used |= 1 << r;
                return r;
            }
        }
        let d = self.stack.iter().position(|v| matches!(v.at, Where::Gpr(_))).expect("a register to spill");
        let Where::Gpr(r) = self.stack[d].at else { unreachable!() };
        self.spill_at(d);
        self.gpr_used |= 1 << r;
        r
    }

    fn alloc_xmm(&mut self) -> u8 {
        for x in XMM_POOL {
            if self.xmm_used & (1 << x) == 0 {
                self.xmm_used |= 1 << x;
                return x;
            }
        }
        let d = self.stack.iter().position(|v| matches!(v.at, Where::Xmm(_))).expect("a register to spill");
        let Where::Xmm(x) = self.stack[d].at else { unreachable!() };
        self.spill_at(d);
        self.xmm_used |= 1 << x;
        x
    }

    /// Makes `r` ours: spills a stack value that holds it. `r` must not be owned already.
    fn take_gpr(&mut self, r: u8) {
        if self.gpr_used & (1 << r) != 0 {
            if let Some(d) = self.stack.iter().position(|v| v.at == Where::Gpr(r)) {
                self.spill_at(d);
            } else {
                panic!("baseline: register {r} is owned by the current operator");
            }
        }
        self.gpr_used |= 1 << r;
    }

    fn free_gpr(&mut self, r: u8) {
        self.gpr_used &= !(1 << r);
    }

    fn free_xmm(&mut self, x: u8) {
        self.xmm_used &= !(1 << x);
    }

    fn free(&mut self, v: Val) {
        match v.at {
            Where::Gpr(r) => self.free_gpr(r),
            Where::Xmm(x) => self.free_xmm(x),
            _ => {}
        }
    }

    // ----- the value stack -----

    fn push(&mut self, ty: Ty, at: Where) {
        self.stack.push(Val { ty, at });
    }

    fn pop(&mut self) -> Val {
        self.stack.pop().expect("validated wasm: operand stack underflow")
    }

    /// Stores the value at depth `d` into its canonical slot.
    fn spill_at(&mut self, d: usize) {
        let v = self.stack[d];
        let o = self.canon(d);
        if v.at == Where::Mem(o) {
            return;
        }
        self.store_val(v, o);
        self.free(v);
        self.stack[d].at = Where::Mem(o);
    }

    /// Spills every value to its canonical slot (flags-preserving code only).
    fn spill_all(&mut self) {
        for d in 0..self.stack.len() {
            self.spill_at(d);
        }
    }

    /// Writes `v` to `[rbp + o]` without changing the virtual stack. Never changes the flags.
    fn store_val(&mut self, v: Val, o: i32) {
        match v.at {
            Where::Imm(bits) => {
                if v.ty.is_64() {
                    if bits as i64 == bits as i32 as i64 {
                        asm!(self.ops ; mov QWORD [rbp + o], bits as i32);
                    } else {
                        asm!(self.ops ; mov r11, QWORD bits as i64 ; mov [rbp + o], r11);
                    }
                } else {
                    asm!(self.ops ; mov DWORD [rbp + o], bits as i32);
                }
            }
            Where::Local(i) => {
                let s = self.local_off(i);
                asm!(self.ops ; mov r11, [rbp + s] ; mov [rbp + o], r11);
            }
            Where::Mem(s) => {
                if s != o {
                    asm!(self.ops ; mov r11, [rbp + s] ; mov [rbp + o], r11);
                }
            }
            Where::Gpr(r) => {
                if v.ty.is_64() {
                    asm!(self.ops ; mov [rbp + o], Rq(r));
                } else {
                    asm!(self.ops ; mov [rbp + o], Rd(r));
                }
            }
            Where::Xmm(x) => {
                if v.ty.is_64() {
                    asm!(self.ops ; movsd QWORD [rbp + o], Rx(x));
                } else {
                    asm!(self.ops ; movss DWORD [rbp + o], Rx(x));
                }
            }
            Where::Flags(cc) => {
                self.setcc(cc, 11);
                asm!(self.ops ; movzx r11d, r11b ; mov [rbp + o], r11d);
            }
        }
    }

    /// Loads `v` into general register `r` (which the caller owns); frees `v`'s own register.
    fn load_gpr(&mut self, v: Val, r: u8) {
        let w64 = v.ty.is_64();
        match v.at {
            Where::Gpr(s) => {
                if s != r {
                    asm!(self.ops ; mov Rq(r), Rq(s));
                    self.free_gpr(s);
                }
            }
            Where::Imm(bits) => {
                if w64 && bits as i64 != bits as u32 as i64 {
                    if bits as i64 == bits as i32 as i64 {
                        asm!(self.ops ; mov Rq(r), bits as i32);
                    } else {
                        asm!(self.ops ; mov Rq(r), QWORD bits as i64);
                    }
                } else {
                    asm!(self.ops ; mov Rd(r), bits as i32);
                }
            }
            Where::Local(_) | Where::Mem(_) => {
                let o = self.mem_of(v);
                if w64 {
                    asm!(self.ops ; mov Rq(r), [rbp + o]);
                } else {
                    asm!(self.ops ; mov Rd(r), [rbp + o]);
                }
            }
            Where::Flags(cc) => {
                self.setcc(cc, r);
                asm!(self.ops ; movzx Rd(r), Rb(r));
            }
            Where::Xmm(x) => {
                if w64 {
                    asm!(self.ops ; movq Rq(r), Rx(x));
                } else {
                    asm!(self.ops ; movd Rd(r), Rx(x));
                }
                self.free_xmm(x);
            }
        }
    }

    fn mem_of(&self, v: Val) -> i32 {
        match v.at {
            Where::Local(i) => self.local_off(i),
            Where::Mem(o) => o,
            _ => unreachable!("not in memory"),
        }
    }

    /// `v` in a general register owned by the caller.
    fn gpr(&mut self, v: Val) -> u8 {
        if let Where::Gpr(r) = v.at {
            return r;
        }
        let r = self.alloc_gpr();
        self.load_gpr(v, r);
        r
    }

    /// `v` in an SSE register owned by the caller.
    fn xmm(&mut self, v: Val) -> u8 {
        match v.at {
            Where::Xmm(x) => x,
            Where::Imm(bits) => {
                let x = self.alloc_xmm();
                if bits == 0 {
                    asm!(self.ops ; xorps Rx(x), Rx(x));
                } else {
                    asm!(self.ops ; mov r11, QWORD bits as i64 ; movq Rx(x), r11);
                }
                x
            }
            Where::Local(_) | Where::Mem(_) => {
                let o = self.mem_of(v);
                let x = self.alloc_xmm();
                if v.ty.is_64() {
                    asm!(self.ops ; movsd Rx(x), QWORD [rbp + o]);
                } else {
                    asm!(self.ops ; movss Rx(x), DWORD [rbp + o]);
                }
                x
            }
            Where::Gpr(r) => {
                let x = self.alloc_xmm();
                if v.ty.is_64() {
                    asm!(self.ops ; movq Rx(x), Rq(r));
                } else {
                    asm!(self.ops ; movd Rx(x), Rd(r));
                }
                self.free_gpr(r);
                x
            }
            Where::Flags(_) => unreachable!("flags are integers"),
        }
    }

    /// `v` as a source operand (immediate if it fits, register or memory).
    fn src(&mut self, v: Val) -> Src {
        match v.at {
            Where::Imm(bits) if !v.ty.is_64() || bits as i64 == bits as i32 as i64 => Src::Imm(bits as i32),
            Where::Gpr(r) => Src::Reg(r),
            Where::Local(_) | Where::Mem(_) => Src::Mem(self.mem_of(v)),
            _ => Src::Reg(self.gpr(v)),
        }
    }

    fn free_src(&mut self, s: Src) {
        if let Src::Reg(r) = s {
            self.free_gpr(r);
        }
    }

    /// Materializes a pending compare on top of the stack.
    fn materialize_flags(&mut self) {
        if let Some(v) = self.stack.last().copied() {
            if let Where::Flags(_) = v.at {
                let r = self.alloc_gpr();
                self.load_gpr(v, r);
                self.stack.last_mut().unwrap().at = Where::Gpr(r);
            }
        }
    }

    // ----- condition codes -----

    fn setcc(&mut self, cc: Cc, r: u8) {
        match cc {
            Cc::E => asm!(self.ops ; sete Rb(r)),
            Cc::Ne => asm!(self.ops ; setne Rb(r)),
            Cc::L => asm!(self.ops ; setl Rb(r)),
            Cc::Le => asm!(self.ops ; setle Rb(r)),
            Cc::G => asm!(self.ops ; setg Rb(r)),
            Cc::Ge => asm!(self.ops ; setge Rb(r)),
            Cc::B => asm!(self.ops ; setb Rb(r)),
            Cc::Be => asm!(self.ops ; setbe Rb(r)),
            Cc::A => asm!(self.ops ; seta Rb(r)),
            Cc::Ae => asm!(self.ops ; setae Rb(r)),
        }
    }

    fn jcc(&mut self, cc: Cc, l: Label) {
        match cc {
            Cc::E => asm!(self.ops ; je =>l),
            Cc::Ne => asm!(self.ops ; jne =>l),
            Cc::L => asm!(self.ops ; jl =>l),
            Cc::Le => asm!(self.ops ; jle =>l),
            Cc::G => asm!(self.ops ; jg =>l),
            Cc::Ge => asm!(self.ops ; jge =>l),
            Cc::B => asm!(self.ops ; jb =>l),
            Cc::Be => asm!(self.ops ; jbe =>l),
            Cc::A => asm!(self.ops ; ja =>l),
            Cc::Ae => asm!(self.ops ; jae =>l),
        }
    }

    fn cmov(&mut self, cc: Cc, w64: bool, d: u8, s: Src) {
        let s = match s {
            Src::Imm(i) => {
                let r = self.alloc_gpr();
                asm!(self.ops ; mov Rd(r), i);
                if w64 {
                    asm!(self.ops ; movsxd Rq(r), Rd(r));
                }
                Src::Reg(r)
            }
            s => s,
        };
        macro_rules! cm {
            ($op:ident) => {
                alu_rm!(self.ops, $op, w64, d, s)
            };
        }
        match cc {
            Cc::E => cm!(cmove),
            Cc::Ne => cm!(cmovne),
            Cc::L => cm!(cmovl),
            Cc::Le => cm!(cmovle),
            Cc::G => cm!(cmovg),
            Cc::Ge => cm!(cmovge),
            Cc::B => cm!(cmovb),
            Cc::Be => cm!(cmovbe),
            Cc::A => cm!(cmova),
            Cc::Ae => cm!(cmovae),
        }
        self.free_src(s);
    }

    /// Pops a condition and returns the condition code under which it is true (flags set).
    fn pop_cond(&mut self) -> Cc {
        let c = self.pop();
        match c.at {
            Where::Flags(cc) => cc,
            _ => {
                let r = self.gpr(c);
                asm!(self.ops ; test Rd(r), Rd(r));
                self.free_gpr(r);
                Cc::Ne
            }
        }
    }
}

/// How a load extends its value.
#[derive(Clone, Copy)]
enum LoadKind {
    I32,
    I64,
    F32,
    F64,
    I32S8,
    I32U8,
    I32S16,
    I32U16,
    I64S8,
    I64U8,
    I64S16,
    I64U16,
    I64S32,
    I64U32,
}

mod control;
mod ops;
