//! Wasm → Cranelift IR, one function at a time, in one pass over the operators.
//!
//! The translator mirrors the wasm operand stack with SSA values, keeps locals in
//! `cranelift-frontend` variables and maps every wasm block to Cranelift blocks whose parameters
//! carry the block results (loop headers carry the loop parameters). Compiled code follows the
//! shared convention of [`kwasm_runtime::vmctx`]: every access to memory, globals, tables and
//! other functions goes through the context pointer, every trap is an explicit check that
//! branches to one cold trap block per function, which records the trap in `VmShared` and returns.

use alloc::format;
use alloc::vec::Vec;

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::immediates::{Ieee32, Ieee64};
use cranelift_codegen::ir::types::{F32, F64, I32, I64, I8};
use cranelift_codegen::ir::{
    AbiParam, AliasRegion, AliasRegionData, Block, BlockArg, BlockCall, ExtFuncData, ExternalName, FuncRef, Function,
    InstBuilder, JumpTableData, MemFlagsData as MemFlags, SigRef, Signature, SourceLoc, StackSlotData, StackSlotKind,
    TrapCode, Type, UserFuncName, Value,
};
use cranelift_codegen::isa::CallConv;
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext, Variable};
use kwasm_runtime::memory::GUARD_MAX_STATIC_END;
use kwasm_runtime::module::Module;
use kwasm_runtime::store::InstanceData;
use kwasm_runtime::types::FuncType;
use kwasm_runtime::vmctx::{
    SHARED_FUEL, SHARED_STACK_LIMIT, SHARED_TRAP_CODE, SHARED_TRAP_FUNC, SHARED_TRAP_HAS_LOC, SHARED_TRAP_OFFSET,
    SLOT_CODE, SLOT_SIZE, SLOT_TYPE_ID, SLOT_VMCTX, TABLE_DESC_LEN, TABLE_DESC_SIZE, VMCTX_GLOBALS, VMCTX_MEM_BASE,
    VMCTX_MEM_LEN, VMCTX_SHARED, VMCTX_SLOTS, VMCTX_TABLES,
};
use kwasm_runtime::{Error, Store, TrapKind, ValType};
use wasmparser::{BlockType, Operator};

use crate::libcalls;

mod simd;

/// The Cranelift type of a wasm value type (references are i64 [`kwasm_runtime::types::RawRef`]s).
pub fn clif_type(t: ValType) -> Result<Type, Error> {
    Ok(match t {
        ValType::I32 => I32,
        ValType::I64 => I64,
        ValType::F32 => F32,
        ValType::F64 => F64,
        ValType::FuncRef | ValType::ExternRef => I64,
        ValType::V128 => simd::V128,
    })
}

/// An `Unsupported` error naming what this tier cannot compile.
pub fn unsupported(what: &str) -> Error {
    Error::Unsupported(format!("optimizing tier: {what}"))
}

/// The signature of a wasm function of type `ty` in the shared convention:
/// `(callee_vmctx, caller_vmctx, params...) -> results`, Cranelift `tail`.
pub fn wasm_signature(ty: &FuncType) -> Result<Signature, Error> {
    let mut sig = Signature::new(CallConv::Tail);
    sig.params.push(AbiParam::new(I64));
    sig.params.push(AbiParam::new(I64));
    for p in &ty.params {
        sig.params.push(AbiParam::new(clif_type(*p)?));
    }
    for r in &ty.results {
        sig.returns.push(AbiParam::new(clif_type(*r)?));
    }
    Ok(sig)
}

/// Flags for loads of context fields (never trap, aligned).
pub fn ctx_flags() -> MemFlags {
    MemFlags::trusted()
}

/// Appends `v` extended to a full 64-bit slot (ints zero-extended, floats as bits).
pub fn to_slot(b: &mut FunctionBuilder<'_>, v: Value) -> Value {
    let ty = b.func.dfg.value_type(v);
    match ty {
        I32 => b.ins().uextend(I64, v),
        F32 => {
            let i = b.ins().bitcast(I32, MemFlags::new(), v);
            b.ins().uextend(I64, i)
        }
        F64 => b.ins().bitcast(I64, MemFlags::new(), v),
        _ => v,
    }
}

/// Flags of an argument/result buffer slot: 8-aligned, so a v128 (two slots) may be unaligned
/// for its 16 bytes.
fn buf_flags(ty: Type) -> MemFlags {
    if ty.is_vector() {
        MemFlags::new().with_notrap()
    } else {
        MemFlags::trusted()
    }
}

/// Stores `v` into the argument/result buffer `buf` at 64-bit slot `at` in the runtime's slot
/// encoding ([`to_slot`]; a v128 takes two slots, low half first) and returns the next slot.
pub fn store_slots(b: &mut FunctionBuilder<'_>, v: Value, buf: Value, at: usize) -> usize {
    let ty = b.func.dfg.value_type(v);
    let v = to_slot(b, v);
    b.ins().store(buf_flags(ty), v, buf, (at * 8) as i32);
    at + (ty.bytes() as usize).div_ceil(8).max(1)
}

/// Loads a value of Cranelift type `ty` from the argument/result buffer `buf` at 64-bit slot
/// `at` (the inverse of [`store_slots`]) and returns it with the next slot.
pub fn load_slots(b: &mut FunctionBuilder<'_>, ty: Type, buf: Value, at: usize) -> (Value, usize) {
    let v = b.ins().load(ty, buf_flags(ty), buf, (at * 8) as i32);
    (v, at + (ty.bytes() as usize).div_ceil(8).max(1))
}

/// A zero of type `ty`.
pub fn zero(b: &mut FunctionBuilder<'_>, ty: Type) -> Value {
    match ty {
        F32 => b.ins().f32const(Ieee32::with_bits(0)),
        F64 => b.ins().f64const(Ieee64::with_bits(0)),
        _ if ty.is_vector() => simd::vconst(b, ty, 0),
        _ => b.ins().iconst(ty, 0),
    }
}

/// Context fields: aligned, never trap, disjoint from wasm memory, globals and tables.
fn cf(r: [AliasRegion; 3]) -> MemFlags {
    MemFlags::trusted().with_alias_region(Some(r[0]))
}

/// Globals and table elements: aligned, checked, disjoint from linear memory.
fn tf(r: [AliasRegion; 3]) -> MemFlags {
    MemFlags::trusted().with_alias_region(Some(r[1]))
}

/// A global's value of type `ty`: as [`tf`], but a v128 global's 16 bytes are only 8-aligned.
fn gf(r: [AliasRegion; 3], ty: Type) -> MemFlags {
    if ty.is_vector() {
        MemFlags::new().with_notrap().with_alias_region(Some(r[1]))
    } else {
        tf(r)
    }
}

/// Linear memory: bounds already checked; may be unaligned.
fn hf(r: [AliasRegion; 3]) -> MemFlags {
    MemFlags::new().with_notrap().with_alias_region(Some(r[2]))
}

fn block_args(vals: &[Value]) -> Vec<BlockArg> {
    vals.iter().map(|v| BlockArg::Value(*v)).collect()
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
    /// Where control goes after `end` (block params = results).
    end: Block,
    /// Loop header (block params = loop params).
    header: Option<Block>,
    /// The `else` arm of an `if` (no params: the if's params are `if_params`).
    else_block: Option<Block>,
    if_params: Vec<Value>,
    /// Whether the `else` arm is reachable (the `if` was).
    else_reachable: bool,
    params: Vec<Type>,
    results: Vec<Type>,
    /// Operand-stack height below the block's parameters.
    height: usize,
    /// Whether some branch targets `end`.
    end_reached: bool,
}

/// Everything needed to translate one function.
pub struct FuncEnv<'a> {
    /// The store (read only during compilation).
    pub store: &'a Store,
    /// The function's instance.
    pub inst: &'a InstanceData,
    /// Its module.
    pub module: &'a Module,
    /// Its index in the module's function index space.
    pub func_index: u32,
    /// The target's frontend configuration.
    pub frontend: cranelift_codegen::isa::TargetFrontendConfig,
}

fn regions_desc(i: u32) -> &'static str {
    ["vmctx", "globals and tables", "linear memory"][i as usize]
}

struct Trans<'a, 'b> {
    env: &'a FuncEnv<'a>,
    b: FunctionBuilder<'b>,
    vmctx: Value,
    locals: Vec<(Variable, Type)>,
    stack: Vec<Value>,
    ctrl: Vec<Frame>,
    reachable: bool,
    dead_depth: u32,
    trap_block: Block,
    results: Vec<Type>,
    offset: u32,
    /// Fuel sites: the `iconst` of the charge to patch and the operators counted so far.
    fuel: Vec<(cranelift_codegen::ir::Inst, u32)>,
    sigs: Vec<(u32, SigRef)>,
    libcall_sigs: Vec<(usize, SigRef)>,
    /// The fuel stub, once imported.
    fuel_stub: Option<FuncRef>,
    /// Alias regions: context, globals + tables, linear memory.
    regions: [AliasRegion; 3],
    /// The fuel counter of the slice (spilled to `VmShared::fuel` around calls and returns).
    fuel_var: Variable,
    /// Base and length of memory 0 (reloaded after anything that may move the memory).
    mem_base: Variable,
    mem_len: Variable,
    /// Bounds checks done in the current straight-line region: (wasm address, checked end).
    /// Memory never shrinks, so a check stays valid until control flow merges.
    checked: Vec<(Value, u64)>,
    /// Whether the function calls anything (else it needs no stack check and no entry fuel
    /// check: it cannot recurse, and without loops it runs a bounded number of operators).
    calls: bool,
    /// Whether the function keeps a fuel counter at all (it calls something or has loops).
    uses_fuel: bool,
    /// Whether memory 0 is guarded ([`kwasm_runtime::memory::MemoryData::Guarded`]): accesses
    /// whose static end fits the guard region go unchecked and fault instead; its base never moves.
    guarded: bool,
    /// The wasm offset of every unchecked (faulting) access, by ordinal; see [`GuardedAccesses`].
    guarded_accesses: Vec<u32>,
}

/// User trap codes cycle through `1..=GUARD_CODES` over a function's unchecked accesses, so that
/// a fault maps back to its access exactly even when Cranelift merged the load into the
/// instruction that uses it (that instruction carries the user's source location, but the
/// load's trap code): see [`GuardedAccesses::site`].
pub const GUARD_CODES: u32 = 250;

/// The unchecked memory accesses of a translated function (guard mode).
#[derive(Debug, Default, Clone)]
pub struct GuardedAccesses {
    /// Wasm byte offset of each access, by ordinal (in translation order, i.e. offset order).
    pub offsets: Vec<u32>,
}

impl GuardedAccesses {
    /// The wasm offset of the access behind a Cranelift trap record with user code `code` in
    /// machine code whose source location is `srcloc` (a wasm offset, `None` if unknown).
    ///
    /// A faulting instruction is either the access itself (source location = its offset) or an
    /// instruction that merged the load; a load can only be merged into its user when nothing
    /// with side effects (like another faulting access) comes between them, so it is the latest
    /// access with that code at or before the user's offset.
    pub fn site(&self, code: u8, srcloc: Option<u32>) -> Option<u32> {
        let k = (code as u32).checked_sub(1)?;
        let mut found = None;
        let mut i = k as usize;
        while i < self.offsets.len() {
            let off = self.offsets[i];
            if srcloc.is_some_and(|s| off > s) {
                break;
            }
            found = Some(off);
            i += GUARD_CODES as usize;
        }
        found
    }
}

/// Translates module function `env.func_index` into `func`.
pub fn translate_function(
    env: &FuncEnv<'_>,
    func: &mut Function,
    fctx: &mut FunctionBuilderContext,
) -> Result<GuardedAccesses, Error> {
    let ty = env.module.func_type(env.func_index);
    func.signature = wasm_signature(ty)?;
    func.name = UserFuncName::user(0, env.func_index);
    let def = env.func_index - env.module.num_imported_funcs;
    let body = env.module.body_reader(def);
    let regions = [0u32, 1, 2].map(|i| {
        func.dfg.alias_regions.insert(AliasRegionData { user_id: i + 1, description: regions_desc(i).into() })
    });
    let (mut calls, mut loops) = (false, false);
    let mut scan = body.get_operators_reader()?;
    while !scan.eof() {
        match scan.read()? {
            Operator::Call { .. }
            | Operator::CallIndirect { .. }
            | Operator::ReturnCall { .. }
            | Operator::ReturnCallIndirect { .. } => calls = true,
            Operator::Loop { .. } => loops = true,
            _ => {}
        }
    }
    let guarded = env.inst.memories.first().is_some_and(|&m| env.store.memories[m as usize].data.is_guarded());
    let mut b = FunctionBuilder::new(func, fctx);
    b.set_srcloc(SourceLoc::new(body.range().start as u32));
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    b.seal_block(entry);
    let params: Vec<Value> = b.block_params(entry).to_vec();
    let vmctx = params[0];
    let mut locals = Vec::new();
    for (i, p) in ty.params.iter().enumerate() {
        let t = clif_type(*p)?;
        let var = b.declare_var(t);
        b.def_var(var, params[2 + i]);
        locals.push((var, t));
    }
    let mut locals_reader = body.get_locals_reader()?;
    let mut total = locals.len() as u64;
    for _ in 0..locals_reader.get_count() {
        let (n, t) = locals_reader.read()?;
        total += n as u64;
        if total > 50_000 {
            return Err(Error::Resource(format!("function {} has {total} locals", env.func_index)));
        }
        let vt = ValType::from_wasmparser(t).ok_or_else(|| unsupported("GC reference types"))?;
        let t = clif_type(vt)?;
        for _ in 0..n {
            let var = b.declare_var(t);
            let z = zero(&mut b, t);
            b.def_var(var, z);
            locals.push((var, t));
        }
    }
    let results: Vec<Type> = ty.results.iter().map(|t| clif_type(*t)).collect::<Result<_, _>>()?;
    let (fuel_var, mem_base, mem_len) = (b.declare_var(I64), b.declare_var(I64), b.declare_var(I64));
    let trap_block = b.create_block();
    b.set_cold_block(trap_block);
    b.append_block_param(trap_block, I32);
    b.append_block_param(trap_block, I32);
    let end = b.create_block();
    for t in &results {
        b.append_block_param(end, *t);
    }
    let mut t = Trans {
        env,
        b,
        vmctx,
        locals,
        stack: Vec::new(),
        ctrl: Vec::new(),
        reachable: true,
        dead_depth: 0,
        trap_block,
        results: results.clone(),
        offset: body.range().start as u32,
        fuel: Vec::new(),
        sigs: Vec::new(),
        libcall_sigs: Vec::new(),
        fuel_stub: None,
        regions,
        fuel_var,
        mem_base,
        mem_len,
        checked: Vec::new(),
        calls,
        uses_fuel: calls || loops,
        guarded,
        guarded_accesses: Vec::new(),
    };
    if t.uses_fuel {
        t.reload_fuel();
    }
    t.reload_memory(true);
    t.ctrl.push(Frame {
        kind: Kind::Func,
        end,
        header: None,
        else_block: None,
        if_params: Vec::new(),
        else_reachable: false,
        params: Vec::new(),
        results,
        height: 0,
        end_reached: false,
    });
    if t.calls {
        t.stack_check();
        t.fuel_check();
    }
    let mut reader = body.get_operators_reader()?;
    while !reader.eof() {
        let (op, offset) = reader.read_with_offset()?;
        t.offset = offset as u32;
        t.b.set_srcloc(SourceLoc::new(offset as u32));
        t.op(op)?;
    }
    // The final `end` switched to the function's end block: return its parameters.
    t.finish_fuel();
    t.emit_trap_block();
    t.b.seal_all_blocks();
    t.b.finalize(env.frontend);
    let guarded_accesses = t.guarded_accesses;
    crate::phis::remove_trivial_params(func);
    Ok(GuardedAccesses { offsets: guarded_accesses })
}

impl Trans<'_, '_> {
    fn pop(&mut self) -> Value {
        self.stack.pop().expect("validated wasm: operand stack underflow")
    }

    fn pop_n(&mut self, n: usize) -> Vec<Value> {
        let at = self.stack.len() - n;
        self.stack.split_off(at)
    }

    fn push(&mut self, v: Value) {
        self.stack.push(v);
    }

    fn iconst32(&mut self, v: u32) -> Value {
        self.b.ins().iconst(I32, v as i64)
    }

    /// Branches to a cold trap site with `kind` if `cond` (an integer) is non-zero. The site
    /// materializes the trap code and offset itself, so the hot path carries no arguments.
    fn trap_if(&mut self, cond: Value, kind: TrapKind) {
        let site = self.b.create_block();
        self.b.set_cold_block(site);
        let cont = self.b.create_block();
        self.b.ins().brif(cond, site, &[], cont, &[]);
        self.b.switch_to_block(site);
        self.b.seal_block(site);
        let code = self.iconst32(kind.code());
        let off = self.iconst32(self.offset);
        let tb = self.trap_block;
        self.b.ins().jump(tb, &block_args(&[code, off]));
        self.b.switch_to_block(cont);
        self.b.seal_block(cont);
    }

    /// Branches to the trap block with the dynamic trap `code` if `cond` is non-zero.
    fn trap_if_code(&mut self, cond: Value, code: Value) {
        let site = self.b.create_block();
        self.b.set_cold_block(site);
        self.b.append_block_param(site, I32);
        let cont = self.b.create_block();
        self.b.ins().brif(cond, site, &block_args(&[code]), cont, &[]);
        self.b.switch_to_block(site);
        self.b.seal_block(site);
        let code = self.b.block_params(site)[0];
        let off = self.iconst32(self.offset);
        let tb = self.trap_block;
        self.b.ins().jump(tb, &block_args(&[code, off]));
        self.b.switch_to_block(cont);
        self.b.seal_block(cont);
    }

    /// Unconditional trap: ends the current block; what follows is unreachable.
    fn trap(&mut self, kind: TrapKind) {
        let code = self.iconst32(kind.code());
        let off = self.iconst32(self.offset);
        let tb = self.trap_block;
        self.b.ins().jump(tb, &block_args(&[code, off]));
        self.reachable = false;
    }

    /// After a call: if the callee trapped, unwind (record this location if none yet).
    fn check_trap_after_call(&mut self) {
        let shared = self.shared();
        let code = self.b.ins().load(I32, cf(self.regions), shared, SHARED_TRAP_CODE);
        self.trap_if_code(code, code);
    }

    fn emit_trap_block(&mut self) {
        let tb = self.trap_block;
        self.b.switch_to_block(tb);
        let p = self.b.block_params(tb).to_vec();
        let (code, off) = (p[0], p[1]);
        let sh = self.shared();
        let f = cf(self.regions);
        self.spill_fuel();
        self.b.ins().store(f, code, sh, SHARED_TRAP_CODE);
        let has = self.b.ins().load(I32, f, sh, SHARED_TRAP_HAS_LOC);
        let old_func = self.b.ins().load(I32, f, sh, SHARED_TRAP_FUNC);
        let old_off = self.b.ins().load(I32, f, sh, SHARED_TRAP_OFFSET);
        let me = self.iconst32(self.env.func_index);
        let func = self.b.ins().select(has, old_func, me);
        let off = self.b.ins().select(has, old_off, off);
        let one = self.iconst32(1);
        self.b.ins().store(f, one, sh, SHARED_TRAP_HAS_LOC);
        self.b.ins().store(f, func, sh, SHARED_TRAP_FUNC);
        self.b.ins().store(f, off, sh, SHARED_TRAP_OFFSET);
        let zeros: Vec<Value> = self.results.clone().into_iter().map(|t| zero(&mut self.b, t)).collect();
        self.b.ins().return_(&zeros);
    }

    /// Traps "call stack exhausted" when the native stack pointer is below the limit.
    fn stack_check(&mut self) {
        let sp = self.b.ins().get_stack_pointer(I64);
        let shared = self.shared();
        let limit = self.b.ins().load(I64, cf(self.regions), shared, SHARED_STACK_LIMIT);
        let below = self.b.ins().icmp(IntCC::UnsignedLessThan, sp, limit);
        self.trap_if(below, TrapKind::CallStackExhausted);
    }

    /// Charges fuel (patched with the operator count later) and calls the runtime when the
    /// slice ran out. The hot path is a subtract and a branch on a register: the interrupt flag
    /// is honoured by the runtime at the end of the slice (within `fuel_slice` operators), which
    /// keeps loads and a fence-like atomic out of every loop iteration.
    fn fuel_check(&mut self) {
        let n = self.b.ins().iconst(I64, 0);
        let inst = self.b.func.dfg.value_def(n).unwrap_inst();
        self.fuel.push((inst, 0));
        let left = self.b.use_var(self.fuel_var);
        let left = self.b.ins().isub(left, n);
        self.b.def_var(self.fuel_var, left);
        let stop = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, left, 0);
        let slow = self.b.create_block();
        let cont = self.b.create_block();
        self.b.set_cold_block(slow);
        self.b.ins().brif(stop, slow, &[], cont, &[]);
        self.b.switch_to_block(slow);
        self.b.seal_block(slow);
        let stub = self.fuel_stub();
        self.spill_fuel();
        self.b.ins().call(stub, &[self.vmctx]);
        self.reload_fuel();
        self.check_trap_after_call();
        self.b.ins().jump(cont, &[]);
        self.b.switch_to_block(cont);
        self.b.seal_block(cont);
    }

    /// The fuel stub (imported on first use): the runtime's fuel function behind a call that
    /// clobbers no register, see [`crate::fuel_stub`].
    fn fuel_stub(&mut self) -> FuncRef {
        if let Some(f) = self.fuel_stub {
            return f;
        }
        let signature = self.b.import_signature(crate::fuel_stub::signature());
        let name = self.b.func.declare_imported_user_function(crate::fuel_stub::NAME);
        let f = self.b.import_function(ExtFuncData {
            name: ExternalName::user(name),
            signature,
            colocated: true,
            patchable: false,
        });
        self.fuel_stub = Some(f);
        f
    }

    /// The `VmShared` pointer, loaded where it is used (it never changes, so the load is
    /// read-only and merges with others nearby) rather than kept live across the whole function,
    /// which costs a register or a spill slot in large functions.
    fn shared(&mut self) -> Value {
        self.b.ins().load(I64, cf(self.regions).with_readonly(), self.vmctx, VMCTX_SHARED)
    }

    /// Stores the fuel counter for the runtime (before calls and returns).
    fn spill_fuel(&mut self) {
        if !self.uses_fuel {
            return;
        }
        let v = self.b.use_var(self.fuel_var);
        let shared = self.shared();
        self.b.ins().store(cf(self.regions), v, shared, SHARED_FUEL);
    }

    /// Reloads the fuel counter (after calls).
    fn reload_fuel(&mut self) {
        if !self.uses_fuel {
            return;
        }
        let shared = self.shared();
        let v = self.b.ins().load(I64, cf(self.regions), shared, SHARED_FUEL);
        self.b.def_var(self.fuel_var, v);
    }

    /// Loads base and length of memory 0 (at entry, and after calls that may grow it; a guarded
    /// memory's base never moves, so then only its length is reloaded).
    fn reload_memory(&mut self, entry: bool) {
        if entry || !self.guarded {
            let base = self.b.ins().load(I64, cf(self.regions), self.vmctx, VMCTX_MEM_BASE);
            self.b.def_var(self.mem_base, base);
        }
        let len = self.b.ins().load(I64, cf(self.regions), self.vmctx, VMCTX_MEM_LEN);
        self.b.def_var(self.mem_len, len);
    }

    fn end_fuel_site(&mut self) {
        if let Some((inst, n)) = self.fuel.pop() {
            self.b.func.dfg.insts[inst] = cranelift_codegen::ir::InstructionData::UnaryImm {
                opcode: cranelift_codegen::ir::Opcode::Iconst,
                imm: (n.max(1) as i64).into(),
            };
        }
    }

    fn finish_fuel(&mut self) {
        while !self.fuel.is_empty() {
            self.end_fuel_site();
        }
    }

    fn libcall(&mut self, which: usize, args: &[Value]) -> Vec<Value> {
        let sig = match self.libcall_sigs.iter().find(|(w, _)| *w == which) {
            Some((_, s)) => *s,
            None => {
                let s = self.b.import_signature(libcalls::signature(which));
                self.libcall_sigs.push((which, s));
                s
            }
        };
        let addr = self.b.ins().iconst(I64, libcalls::address(which) as i64);
        self.spill_fuel();
        let call = self.b.ins().call_indirect(sig, addr, args);
        let results = self.b.inst_results(call).to_vec();
        self.reload_fuel();
        if which == libcalls::MEMORY_GROW {
            self.reload_memory(false);
        }
        results
    }

    /// A runtime call that returns a trap code (0: fine).
    fn libcall_checked(&mut self, which: usize, args: &[Value]) {
        let r = self.libcall(which, args);
        self.trap_if_code(r[0], r[0]);
    }

    fn sig_for_type(&mut self, type_index: u32) -> Result<SigRef, Error> {
        if let Some((_, s)) = self.sigs.iter().find(|(t, _)| *t == type_index) {
            return Ok(*s);
        }
        let sig = wasm_signature(&self.env.module.types[type_index as usize])?;
        let s = self.b.import_signature(sig);
        self.sigs.push((type_index, s));
        Ok(s)
    }

    fn ctx_load(&mut self, off: i32) -> Value {
        self.b.ins().load(I64, cf(self.regions), self.vmctx, off)
    }

    /// Checks `addr + offset + size <= mem_len` and returns the native address of `addr` and
    /// the flags of the access. In a guarded memory an access whose static end fits the guard
    /// region is not checked: it faults, with a trap code recorded in `guarded_accesses`.
    fn heap_addr(&mut self, addr: Value, offset: u64, size: u32) -> (Value, i32, MemFlags) {
        let a = self.b.ins().uextend(I64, addr);
        let need = offset + size as u64;
        let mut flags = hf(self.regions);
        if self.guarded && need <= GUARD_MAX_STATIC_END {
            let ordinal = self.guarded_accesses.len() as u32;
            self.guarded_accesses.push(self.offset);
            let code = TrapCode::user((ordinal % GUARD_CODES + 1) as u8).expect("user trap codes go up to 250");
            flags = MemFlags::new().with_trap_code(Some(code)).with_alias_region(Some(self.regions[2]));
        } else if !self.checked.iter().any(|(v, end)| *v == addr && *end >= need) {
            let len = self.b.use_var(self.mem_len);
            let end = self.b.ins().iadd_imm_s(a, need as i64);
            let oob = self.b.ins().icmp(IntCC::UnsignedGreaterThan, end, len);
            self.trap_if(oob, TrapKind::MemoryOutOfBounds);
            self.checked.push((addr, need));
        }
        let base = self.b.use_var(self.mem_base);
        let p = self.b.ins().iadd(base, a);
        if offset <= i32::MAX as u64 {
            (p, offset as i32, flags)
        } else {
            (self.b.ins().iadd_imm_s(p, offset as i64), 0, flags)
        }
    }

    fn load(&mut self, memarg: wasmparser::MemArg, ty: Type, size: u32, kind: LoadKind) {
        let addr = self.pop();
        let (p, off, f) = self.heap_addr(addr, memarg.offset, size);
        let v = match kind {
            LoadKind::Plain => self.b.ins().load(ty, f, p, off),
            LoadKind::S8 => self.b.ins().sload8(ty, f, p, off),
            LoadKind::U8 => self.b.ins().uload8(ty, f, p, off),
            LoadKind::S16 => self.b.ins().sload16(ty, f, p, off),
            LoadKind::U16 => self.b.ins().uload16(ty, f, p, off),
            LoadKind::S32 => self.b.ins().sload32(f, p, off),
            LoadKind::U32 => self.b.ins().uload32(f, p, off),
        };
        self.push(v);
    }

    fn store(&mut self, memarg: wasmparser::MemArg, size: u32) {
        let val = self.pop();
        let addr = self.pop();
        let (p, off, f) = self.heap_addr(addr, memarg.offset, size);
        let vty = self.b.func.dfg.value_type(val);
        match (size, vty.bytes()) {
            (1, _) => self.b.ins().istore8(f, val, p, off),
            (2, _) => self.b.ins().istore16(f, val, p, off),
            (4, 8) => self.b.ins().istore32(f, val, p, off),
            _ => self.b.ins().store(f, val, p, off),
        };
    }

    /// Address of the value of module global `g`.
    fn global_addr(&mut self, g: u32) -> Value {
        let table = self.ctx_load(VMCTX_GLOBALS);
        self.b.ins().load(I64, cf(self.regions), table, (g * 8) as i32)
    }

    /// The `TableDesc` address of module table `t`.
    fn table_desc(&mut self, t: u32) -> Value {
        let tables = self.ctx_load(VMCTX_TABLES);
        self.b.ins().iadd_imm_s(tables, t as i64 * TABLE_DESC_SIZE as i64)
    }

    /// Checks `index < len(table)` (trap `kind`) and returns the element address.
    fn table_elem_addr(&mut self, t: u32, index: Value, kind: TrapKind) -> Value {
        let desc = self.table_desc(t);
        let len = self.b.ins().load(I64, cf(self.regions), desc, TABLE_DESC_LEN);
        let i = self.b.ins().uextend(I64, index);
        let oob = self.b.ins().icmp(IntCC::UnsignedGreaterThanOrEqual, i, len);
        self.trap_if(oob, kind);
        let base = self.b.ins().load(I64, cf(self.regions), desc, 0);
        let off = self.b.ins().ishl_imm_s(i, 3);
        self.b.ins().iadd(base, off)
    }

    /// Calls through function-table slot address `slot` with wasm type `type_index`.
    fn call_slot(&mut self, slot: Value, type_index: u32, tail: bool) -> Result<(), Error> {
        let sig = self.sig_for_type(type_index)?;
        let nparams = self.env.module.types[type_index as usize].params.len();
        let code = self.b.ins().load(I64, cf(self.regions), slot, SLOT_CODE);
        let callee_vmctx = self.b.ins().load(I64, cf(self.regions), slot, SLOT_VMCTX);
        let mut args = alloc::vec![callee_vmctx, self.vmctx];
        args.extend(self.pop_n(nparams));
        self.spill_fuel();
        if tail {
            self.b.ins().return_call_indirect(sig, code, &args);
            self.reachable = false;
        } else {
            let call = self.b.ins().call_indirect(sig, code, &args);
            let results = self.b.inst_results(call).to_vec();
            self.reload_fuel();
            self.reload_memory(false);
            self.check_trap_after_call();
            self.stack.extend(results);
        }
        Ok(())
    }

    fn direct_slot(&mut self, function_index: u32) -> Value {
        let addr = self.env.inst.funcs[function_index as usize];
        let slots = self.ctx_load(VMCTX_SLOTS);
        self.b.ins().iadd_imm_s(slots, addr as i64 * SLOT_SIZE)
    }

    fn indirect_slot(&mut self, type_index: u32, table: u32) -> Value {
        let index = self.pop();
        let elem = self.table_elem_addr(table, index, TrapKind::UndefinedElement);
        let raw = self.b.ins().load(I64, tf(self.regions), elem, 0);
        let null = self.b.ins().icmp_imm_s(IntCC::Equal, raw, 0);
        self.trap_if(null, TrapKind::IndirectCallToNull);
        let slots = self.ctx_load(VMCTX_SLOTS);
        let idx = self.b.ins().iadd_imm_s(raw, -1);
        let off = self.b.ins().imul_imm_s(idx, SLOT_SIZE);
        let slot = self.b.ins().iadd(slots, off);
        let tid = self.b.ins().load(I64, cf(self.regions), slot, SLOT_TYPE_ID);
        let want = self.env.inst.type_ids[type_index as usize] as i64;
        let bad = self.b.ins().icmp_imm_s(IntCC::NotEqual, tid, want);
        self.trap_if(bad, TrapKind::IndirectCallTypeMismatch);
        slot
    }

    fn block_type(&self, bt: BlockType) -> Result<(Vec<Type>, Vec<Type>), Error> {
        Ok(match bt {
            BlockType::Empty => (Vec::new(), Vec::new()),
            BlockType::Type(t) => {
                let vt = ValType::from_wasmparser(t).ok_or_else(|| unsupported("GC reference types"))?;
                (Vec::new(), alloc::vec![clif_type(vt)?])
            }
            BlockType::FuncType(i) => {
                let ft = &self.env.module.types[i as usize];
                (
                    ft.params.iter().map(|t| clif_type(*t)).collect::<Result<_, _>>()?,
                    ft.results.iter().map(|t| clif_type(*t)).collect::<Result<_, _>>()?,
                )
            }
        })
    }

    fn new_block_with(&mut self, types: &[Type]) -> Block {
        let blk = self.b.create_block();
        for t in types {
            self.b.append_block_param(blk, *t);
        }
        blk
    }

    /// Jumps to the target of a branch to `depth` with the top values as arguments.
    fn branch_args(&mut self, depth: u32) -> (Block, Vec<Value>) {
        let idx = self.ctrl.len() - 1 - depth as usize;
        let (target, n) = {
            let fr = &self.ctrl[idx];
            match fr.kind {
                Kind::Loop => (fr.header.expect("loop header"), fr.params.len()),
                _ => (fr.end, fr.results.len()),
            }
        };
        if self.ctrl[idx].kind != Kind::Loop {
            self.ctrl[idx].end_reached = true;
        }
        let args = self.stack[self.stack.len() - n..].to_vec();
        (target, args)
    }

    fn un_i(&mut self, f: impl FnOnce(&mut FunctionBuilder<'_>, Value) -> Value) {
        let a = self.pop();
        let v = f(&mut self.b, a);
        self.push(v);
    }

    fn bin(&mut self, f: impl FnOnce(&mut FunctionBuilder<'_>, Value, Value) -> Value) {
        let b = self.pop();
        let a = self.pop();
        let v = f(&mut self.b, a, b);
        self.push(v);
    }

    fn icmp(&mut self, cc: IntCC) {
        self.bin(|b, x, y| {
            let c = b.ins().icmp(cc, x, y);
            b.ins().uextend(I32, c)
        });
    }

    fn fcmp(&mut self, cc: FloatCC) {
        self.bin(|b, x, y| {
            let c = b.ins().fcmp(cc, x, y);
            b.ins().uextend(I32, c)
        });
    }

    fn eqz(&mut self) {
        self.un_i(|b, x| {
            let c = b.ins().icmp_imm_s(IntCC::Equal, x, 0);
            b.ins().uextend(I32, c)
        });
    }

    fn div(&mut self, signed: bool, rem: bool) {
        let y = self.pop();
        let x = self.pop();
        let ty = self.b.func.dfg.value_type(y);
        let z = self.b.ins().icmp_imm_s(IntCC::Equal, y, 0);
        self.trap_if(z, TrapKind::IntegerDivideByZero);
        let v = match (signed, rem) {
            (false, false) => self.b.ins().udiv(x, y),
            (false, true) => self.b.ins().urem(x, y),
            (true, false) => {
                let min = if ty == I32 { i32::MIN as i64 } else { i64::MIN };
                let is_min = self.b.ins().icmp_imm_s(IntCC::Equal, x, min);
                let is_m1 = self.b.ins().icmp_imm_s(IntCC::Equal, y, -1);
                let ovf = self.b.ins().band(is_min, is_m1);
                self.trap_if(ovf, TrapKind::IntegerOverflow);
                self.b.ins().sdiv(x, y)
            }
            (true, true) => {
                // `MIN rem -1` is 0 in wasm; divide by 1 instead so no hardware trap can happen.
                let is_m1 = self.b.ins().icmp_imm_s(IntCC::Equal, y, -1);
                let one = self.b.ins().iconst(ty, 1);
                let d = self.b.ins().select(is_m1, one, y);
                self.b.ins().srem(x, d)
            }
        };
        self.push(v);
    }

    /// Trapping float → int conversion: NaN traps "invalid conversion", out of range "overflow".
    fn trunc(&mut self, to: Type, signed: bool) {
        let x = self.pop();
        let from = self.b.func.dfg.value_type(x);
        let nan = self.b.ins().fcmp(FloatCC::Unordered, x, x);
        self.trap_if(nan, TrapKind::InvalidConversionToInteger);
        // (lower bound, whether it is inclusive, upper bound (exclusive)).
        let (lo, lo_incl, hi): (f64, bool, f64) = match (to, signed) {
            (I32, true) if from == F32 => (-2147483648.0, true, 2147483648.0),
            (I32, true) => (-2147483649.0, false, 2147483648.0),
            (I32, false) => (-1.0, false, 4294967296.0),
            (_, true) => (-9223372036854775808.0, true, 9223372036854775808.0),
            (_, false) => (-1.0, false, 18446744073709551616.0),
        };
        let (lo_v, hi_v) = if from == F32 {
            (self.b.ins().f32const(lo as f32), self.b.ins().f32const(hi as f32))
        } else {
            (self.b.ins().f64const(lo), self.b.ins().f64const(hi))
        };
        let lo_ok =
            self.b.ins().fcmp(if lo_incl { FloatCC::GreaterThanOrEqual } else { FloatCC::GreaterThan }, x, lo_v);
        let hi_ok = self.b.ins().fcmp(FloatCC::LessThan, x, hi_v);
        let ok = self.b.ins().band(lo_ok, hi_ok);
        let bad = self.b.ins().icmp_imm_s(IntCC::Equal, ok, 0);
        self.trap_if(bad, TrapKind::IntegerOverflow);
        let v = if signed { self.b.ins().fcvt_to_sint(to, x) } else { self.b.ins().fcvt_to_uint(to, x) };
        self.push(v);
    }

    fn op(&mut self, op: Operator<'_>) -> Result<(), Error> {
        use Operator as O;
        if !self.reachable {
            match op {
                O::Block { .. } | O::Loop { .. } | O::If { .. } => {
                    self.dead_depth += 1;
                    return Ok(());
                }
                O::Else if self.dead_depth == 0 => {}
                O::End if self.dead_depth == 0 => {}
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
        if matches!(
            op,
            O::Block { .. }
                | O::Loop { .. }
                | O::If { .. }
                | O::Else
                | O::End
                | O::Br { .. }
                | O::BrIf { .. }
                | O::BrTable { .. }
                | O::Return
        ) {
            self.checked.clear();
        }
        match op {
            O::Nop => {}
            O::Unreachable => self.trap(TrapKind::Unreachable),
            O::Block { blockty } => {
                let (params, results) = self.block_type(blockty)?;
                let end = self.new_block_with(&results);
                let height = self.stack.len() - params.len();
                self.ctrl.push(Frame {
                    kind: Kind::Block,
                    end,
                    header: None,
                    else_block: None,
                    if_params: Vec::new(),
                    else_reachable: false,
                    params,
                    results,
                    height,
                    end_reached: false,
                });
            }
            O::Loop { blockty } => {
                let (params, results) = self.block_type(blockty)?;
                let header = self.new_block_with(&params);
                let end = self.new_block_with(&results);
                let args = self.pop_n(params.len());
                self.b.ins().jump(header, &block_args(&args));
                self.b.switch_to_block(header);
                let hp = self.b.block_params(header).to_vec();
                let height = self.stack.len();
                self.stack.extend(hp);
                self.ctrl.push(Frame {
                    kind: Kind::Loop,
                    end,
                    header: Some(header),
                    else_block: None,
                    if_params: Vec::new(),
                    else_reachable: false,
                    params,
                    results,
                    height,
                    end_reached: false,
                });
                self.fuel_check();
            }
            O::If { blockty } => {
                let (params, results) = self.block_type(blockty)?;
                let cond = self.pop();
                let then_b = self.b.create_block();
                let else_b = self.b.create_block();
                let end = self.new_block_with(&results);
                self.b.ins().brif(cond, then_b, &[], else_b, &[]);
                self.b.seal_block(then_b);
                self.b.seal_block(else_b);
                self.b.switch_to_block(then_b);
                let height = self.stack.len() - params.len();
                let if_params = self.stack[height..].to_vec();
                self.ctrl.push(Frame {
                    kind: Kind::If,
                    end,
                    header: None,
                    else_block: Some(else_b),
                    if_params,
                    else_reachable: true,
                    params,
                    results,
                    height,
                    end_reached: false,
                });
            }
            O::Else => {
                let fr = self.ctrl.last_mut().expect("validated: else inside if");
                if self.reachable {
                    let n = fr.results.len();
                    let end = fr.end;
                    fr.end_reached = true;
                    let args = self.stack[self.stack.len() - n..].to_vec();
                    self.b.ins().jump(end, &block_args(&args));
                }
                let fr = self.ctrl.last_mut().expect("validated: else inside if");
                fr.kind = Kind::Else;
                let else_b = fr.else_block.take().expect("if has an else block");
                let params = fr.if_params.clone();
                self.reachable = fr.else_reachable;
                self.stack.truncate(fr.height);
                self.stack.extend(params);
                self.b.switch_to_block(else_b);
            }
            O::End => self.end()?,
            O::Br { relative_depth } => {
                let (target, args) = self.branch_args(relative_depth);
                self.b.ins().jump(target, &block_args(&args));
                self.reachable = false;
            }
            O::BrIf { relative_depth } => {
                let cond = self.pop();
                let (target, args) = self.branch_args(relative_depth);
                let cont = self.b.create_block();
                self.b.ins().brif(cond, target, &block_args(&args), cont, &[]);
                self.b.switch_to_block(cont);
                self.b.seal_block(cont);
            }
            O::BrTable { targets } => {
                let index = self.pop();
                let mut depths: Vec<u32> = targets.targets().collect::<Result<_, _>>()?;
                depths.push(targets.default());
                // One trampoline block per distinct depth carries the branch arguments.
                let mut tramp: Vec<(u32, Block)> = Vec::new();
                let mut calls = Vec::with_capacity(depths.len());
                for &d in &depths {
                    let blk = match tramp.iter().find(|(x, _)| *x == d) {
                        Some((_, b)) => *b,
                        None => {
                            let b = self.b.create_block();
                            tramp.push((d, b));
                            b
                        }
                    };
                    calls.push(BlockCall::new(blk, core::iter::empty(), &mut self.b.func.dfg.value_lists));
                }
                let def = calls.pop().expect("default target");
                let jt = self.b.create_jump_table(JumpTableData::new(def, &calls));
                self.b.ins().br_table(index, jt);
                for (d, blk) in tramp {
                    self.b.switch_to_block(blk);
                    self.b.seal_block(blk);
                    let (target, args) = self.branch_args(d);
                    self.b.ins().jump(target, &block_args(&args));
                }
                self.reachable = false;
            }
            O::Return => {
                let (target, args) = self.branch_args(self.ctrl.len() as u32 - 1);
                self.b.ins().jump(target, &block_args(&args));
                self.reachable = false;
            }
            O::Call { function_index } => {
                let slot = self.direct_slot(function_index);
                let t = self.env.module.funcs[function_index as usize];
                self.call_slot(slot, t, false)?;
            }
            O::ReturnCall { function_index } => {
                let slot = self.direct_slot(function_index);
                let t = self.env.module.funcs[function_index as usize];
                self.call_slot(slot, t, true)?;
            }
            O::CallIndirect { type_index, table_index } => {
                let slot = self.indirect_slot(type_index, table_index);
                self.call_slot(slot, type_index, false)?;
            }
            O::ReturnCallIndirect { type_index, table_index } => {
                let slot = self.indirect_slot(type_index, table_index);
                self.call_slot(slot, type_index, true)?;
            }
            O::Drop => {
                self.pop();
            }
            O::Select | O::TypedSelect { .. } => {
                let c = self.pop();
                let y = self.pop();
                let x = self.pop();
                let v = self.b.ins().select(c, x, y);
                self.push(v);
            }
            O::LocalGet { local_index } => {
                let (var, _) = self.locals[local_index as usize];
                let v = self.b.use_var(var);
                self.push(v);
            }
            O::LocalSet { local_index } => {
                let v = self.pop();
                self.b.def_var(self.locals[local_index as usize].0, v);
            }
            O::LocalTee { local_index } => {
                let v = *self.stack.last().expect("validated");
                self.b.def_var(self.locals[local_index as usize].0, v);
            }
            O::GlobalGet { global_index } => {
                let ty = clif_type(self.env.module.globals[global_index as usize].ty)?;
                let p = self.global_addr(global_index);
                let v = self.b.ins().load(ty, gf(self.regions, ty), p, 0);
                self.push(v);
            }
            O::GlobalSet { global_index } => {
                let v = self.pop();
                let v = to_slot(&mut self.b, v);
                let p = self.global_addr(global_index);
                let ty = self.b.func.dfg.value_type(v);
                self.b.ins().store(gf(self.regions, ty), v, p, 0);
            }
            O::I32Load { memarg } => self.load(memarg, I32, 4, LoadKind::Plain),
            O::I64Load { memarg } => self.load(memarg, I64, 8, LoadKind::Plain),
            O::F32Load { memarg } => self.load(memarg, F32, 4, LoadKind::Plain),
            O::F64Load { memarg } => self.load(memarg, F64, 8, LoadKind::Plain),
            O::I32Load8S { memarg } => self.load(memarg, I32, 1, LoadKind::S8),
            O::I32Load8U { memarg } => self.load(memarg, I32, 1, LoadKind::U8),
            O::I32Load16S { memarg } => self.load(memarg, I32, 2, LoadKind::S16),
            O::I32Load16U { memarg } => self.load(memarg, I32, 2, LoadKind::U16),
            O::I64Load8S { memarg } => self.load(memarg, I64, 1, LoadKind::S8),
            O::I64Load8U { memarg } => self.load(memarg, I64, 1, LoadKind::U8),
            O::I64Load16S { memarg } => self.load(memarg, I64, 2, LoadKind::S16),
            O::I64Load16U { memarg } => self.load(memarg, I64, 2, LoadKind::U16),
            O::I64Load32S { memarg } => self.load(memarg, I64, 4, LoadKind::S32),
            O::I64Load32U { memarg } => self.load(memarg, I64, 4, LoadKind::U32),
            O::I32Store { memarg } | O::F32Store { memarg } => self.store(memarg, 4),
            O::I64Store { memarg } | O::F64Store { memarg } => self.store(memarg, 8),
            O::I32Store8 { memarg } | O::I64Store8 { memarg } => self.store(memarg, 1),
            O::I32Store16 { memarg } | O::I64Store16 { memarg } => self.store(memarg, 2),
            O::I64Store32 { memarg } => self.store(memarg, 4),
            O::MemorySize { .. } => {
                let len = self.b.use_var(self.mem_len);
                let pages = self.b.ins().ushr_imm_s(len, 16);
                let v = self.b.ins().ireduce(I32, pages);
                self.push(v);
            }
            O::MemoryGrow { .. } => {
                let delta = self.pop();
                let r = self.libcall(libcalls::MEMORY_GROW, &[self.vmctx, delta]);
                self.push(r[0]);
            }
            O::MemoryFill { .. } => {
                let a = self.pop_n(3);
                self.libcall_checked(libcalls::MEMORY_FILL, &[self.vmctx, a[0], a[1], a[2]]);
            }
            O::MemoryCopy { .. } => {
                let a = self.pop_n(3);
                self.libcall_checked(libcalls::MEMORY_COPY, &[self.vmctx, a[0], a[1], a[2]]);
            }
            O::MemoryInit { data_index, .. } => {
                let a = self.pop_n(3);
                let seg = self.iconst32(data_index);
                self.libcall_checked(libcalls::MEMORY_INIT, &[self.vmctx, seg, a[0], a[1], a[2]]);
            }
            O::DataDrop { data_index } => {
                let seg = self.iconst32(data_index);
                self.libcall(libcalls::DATA_DROP, &[self.vmctx, seg]);
            }
            O::TableGet { table } => {
                let i = self.pop();
                let p = self.table_elem_addr(table, i, TrapKind::TableOutOfBounds);
                let v = self.b.ins().load(I64, tf(self.regions), p, 0);
                self.push(v);
            }
            O::TableSet { table } => {
                let v = self.pop();
                let i = self.pop();
                let p = self.table_elem_addr(table, i, TrapKind::TableOutOfBounds);
                self.b.ins().store(tf(self.regions), v, p, 0);
            }
            O::TableSize { table } => {
                let desc = self.table_desc(table);
                let len = self.b.ins().load(I64, cf(self.regions), desc, TABLE_DESC_LEN);
                let v = self.b.ins().ireduce(I32, len);
                self.push(v);
            }
            O::TableGrow { table } => {
                let a = self.pop_n(2);
                let t = self.iconst32(table);
                let r = self.libcall(libcalls::TABLE_GROW, &[self.vmctx, t, a[0], a[1]]);
                self.push(r[0]);
            }
            O::TableFill { table } => {
                let a = self.pop_n(3);
                let t = self.iconst32(table);
                self.libcall_checked(libcalls::TABLE_FILL, &[self.vmctx, t, a[0], a[1], a[2]]);
            }
            O::TableCopy { dst_table, src_table } => {
                let a = self.pop_n(3);
                let d = self.iconst32(dst_table);
                let s = self.iconst32(src_table);
                self.libcall_checked(libcalls::TABLE_COPY, &[self.vmctx, d, s, a[0], a[1], a[2]]);
            }
            O::TableInit { elem_index, table } => {
                let a = self.pop_n(3);
                let t = self.iconst32(table);
                let e = self.iconst32(elem_index);
                self.libcall_checked(libcalls::TABLE_INIT, &[self.vmctx, t, e, a[0], a[1], a[2]]);
            }
            O::ElemDrop { elem_index } => {
                let e = self.iconst32(elem_index);
                self.libcall(libcalls::ELEM_DROP, &[self.vmctx, e]);
            }
            O::RefNull { .. } => {
                let v = self.b.ins().iconst(I64, 0);
                self.push(v);
            }
            O::RefIsNull => self.eqz(),
            O::RefFunc { function_index } => {
                let addr = self.env.inst.funcs[function_index as usize];
                let v = self.b.ins().iconst(I64, addr as i64 + 1);
                self.push(v);
            }
            O::I32Const { value } => {
                let v = self.b.ins().iconst(I32, value as u32 as i64);
                self.push(v);
            }
            O::I64Const { value } => {
                let v = self.b.ins().iconst(I64, value);
                self.push(v);
            }
            O::F32Const { value } => {
                let v = self.b.ins().f32const(Ieee32::with_bits(value.bits()));
                self.push(v);
            }
            O::F64Const { value } => {
                let v = self.b.ins().f64const(Ieee64::with_bits(value.bits()));
                self.push(v);
            }
            O::I32Eqz | O::I64Eqz => self.eqz(),
            O::I32Eq | O::I64Eq => self.icmp(IntCC::Equal),
            O::I32Ne | O::I64Ne => self.icmp(IntCC::NotEqual),
            O::I32LtS | O::I64LtS => self.icmp(IntCC::SignedLessThan),
            O::I32LtU | O::I64LtU => self.icmp(IntCC::UnsignedLessThan),
            O::I32GtS | O::I64GtS => self.icmp(IntCC::SignedGreaterThan),
            O::I32GtU | O::I64GtU => self.icmp(IntCC::UnsignedGreaterThan),
            O::I32LeS | O::I64LeS => self.icmp(IntCC::SignedLessThanOrEqual),
            O::I32LeU | O::I64LeU => self.icmp(IntCC::UnsignedLessThanOrEqual),
            O::I32GeS | O::I64GeS => self.icmp(IntCC::SignedGreaterThanOrEqual),
            O::I32GeU | O::I64GeU => self.icmp(IntCC::UnsignedGreaterThanOrEqual),
            O::F32Eq | O::F64Eq => self.fcmp(FloatCC::Equal),
            O::F32Ne | O::F64Ne => self.fcmp(FloatCC::NotEqual),
            O::F32Lt | O::F64Lt => self.fcmp(FloatCC::LessThan),
            O::F32Gt | O::F64Gt => self.fcmp(FloatCC::GreaterThan),
            O::F32Le | O::F64Le => self.fcmp(FloatCC::LessThanOrEqual),
            O::F32Ge | O::F64Ge => self.fcmp(FloatCC::GreaterThanOrEqual),
            O::I32Clz | O::I64Clz => self.un_i(|b, x| b.ins().clz(x)),
            O::I32Ctz | O::I64Ctz => self.un_i(|b, x| b.ins().ctz(x)),
            O::I32Popcnt | O::I64Popcnt => self.un_i(|b, x| b.ins().popcnt(x)),
            O::I32Add | O::I64Add => self.bin(|b, x, y| b.ins().iadd(x, y)),
            O::I32Sub | O::I64Sub => self.bin(|b, x, y| b.ins().isub(x, y)),
            O::I32Mul | O::I64Mul => self.bin(|b, x, y| b.ins().imul(x, y)),
            O::I32DivS | O::I64DivS => self.div(true, false),
            O::I32DivU | O::I64DivU => self.div(false, false),
            O::I32RemS | O::I64RemS => self.div(true, true),
            O::I32RemU | O::I64RemU => self.div(false, true),
            O::I32And | O::I64And => self.bin(|b, x, y| b.ins().band(x, y)),
            O::I32Or | O::I64Or => self.bin(|b, x, y| b.ins().bor(x, y)),
            O::I32Xor | O::I64Xor => self.bin(|b, x, y| b.ins().bxor(x, y)),
            O::I32Shl | O::I64Shl => self.bin(|b, x, y| b.ins().ishl(x, y)),
            O::I32ShrS | O::I64ShrS => self.bin(|b, x, y| b.ins().sshr(x, y)),
            O::I32ShrU | O::I64ShrU => self.bin(|b, x, y| b.ins().ushr(x, y)),
            O::I32Rotl | O::I64Rotl => self.bin(|b, x, y| b.ins().rotl(x, y)),
            O::I32Rotr | O::I64Rotr => self.bin(|b, x, y| b.ins().rotr(x, y)),
            O::F32Add | O::F64Add => self.bin(|b, x, y| b.ins().fadd(x, y)),
            O::F32Sub | O::F64Sub => self.bin(|b, x, y| b.ins().fsub(x, y)),
            O::F32Mul | O::F64Mul => self.bin(|b, x, y| b.ins().fmul(x, y)),
            O::F32Div | O::F64Div => self.bin(|b, x, y| b.ins().fdiv(x, y)),
            O::F32Min | O::F64Min => self.bin(|b, x, y| b.ins().fmin(x, y)),
            O::F32Max | O::F64Max => self.bin(|b, x, y| b.ins().fmax(x, y)),
            O::F32Copysign | O::F64Copysign => self.bin(|b, x, y| b.ins().fcopysign(x, y)),
            O::F32Abs | O::F64Abs => self.un_i(|b, x| b.ins().fabs(x)),
            O::F32Neg | O::F64Neg => self.un_i(|b, x| b.ins().fneg(x)),
            O::F32Ceil | O::F64Ceil => self.un_i(|b, x| b.ins().ceil(x)),
            O::F32Floor | O::F64Floor => self.un_i(|b, x| b.ins().floor(x)),
            O::F32Trunc | O::F64Trunc => self.un_i(|b, x| b.ins().trunc(x)),
            O::F32Nearest | O::F64Nearest => self.un_i(|b, x| b.ins().nearest(x)),
            O::F32Sqrt | O::F64Sqrt => self.un_i(|b, x| b.ins().sqrt(x)),
            O::I32WrapI64 => self.un_i(|b, x| b.ins().ireduce(I32, x)),
            O::I64ExtendI32S => self.un_i(|b, x| b.ins().sextend(I64, x)),
            O::I64ExtendI32U => self.un_i(|b, x| b.ins().uextend(I64, x)),
            O::I32TruncF32S | O::I32TruncF64S => self.trunc(I32, true),
            O::I32TruncF32U | O::I32TruncF64U => self.trunc(I32, false),
            O::I64TruncF32S | O::I64TruncF64S => self.trunc(I64, true),
            O::I64TruncF32U | O::I64TruncF64U => self.trunc(I64, false),
            O::I32TruncSatF32S | O::I32TruncSatF64S => self.un_i(|b, x| b.ins().fcvt_to_sint_sat(I32, x)),
            O::I32TruncSatF32U | O::I32TruncSatF64U => self.un_i(|b, x| b.ins().fcvt_to_uint_sat(I32, x)),
            O::I64TruncSatF32S | O::I64TruncSatF64S => self.un_i(|b, x| b.ins().fcvt_to_sint_sat(I64, x)),
            O::I64TruncSatF32U | O::I64TruncSatF64U => self.un_i(|b, x| b.ins().fcvt_to_uint_sat(I64, x)),
            O::F32ConvertI32S | O::F32ConvertI64S => self.un_i(|b, x| b.ins().fcvt_from_sint(F32, x)),
            O::F32ConvertI32U | O::F32ConvertI64U => self.un_i(|b, x| b.ins().fcvt_from_uint(F32, x)),
            O::F64ConvertI32S | O::F64ConvertI64S => self.un_i(|b, x| b.ins().fcvt_from_sint(F64, x)),
            O::F64ConvertI32U | O::F64ConvertI64U => self.un_i(|b, x| b.ins().fcvt_from_uint(F64, x)),
            O::F32DemoteF64 => self.un_i(|b, x| b.ins().fdemote(F32, x)),
            O::F64PromoteF32 => self.un_i(|b, x| b.ins().fpromote(F64, x)),
            O::I32ReinterpretF32 => self.un_i(|b, x| b.ins().bitcast(I32, MemFlags::new(), x)),
            O::I64ReinterpretF64 => self.un_i(|b, x| b.ins().bitcast(I64, MemFlags::new(), x)),
            O::F32ReinterpretI32 => self.un_i(|b, x| b.ins().bitcast(F32, MemFlags::new(), x)),
            O::F64ReinterpretI64 => self.un_i(|b, x| b.ins().bitcast(F64, MemFlags::new(), x)),
            O::I32Extend8S => self.un_i(|b, x| {
                let n = b.ins().ireduce(I8, x);
                b.ins().sextend(I32, n)
            }),
            O::I32Extend16S => self.un_i(|b, x| {
                let n = b.ins().ireduce(cranelift_codegen::ir::types::I16, x);
                b.ins().sextend(I32, n)
            }),
            O::I64Extend8S => self.un_i(|b, x| {
                let n = b.ins().ireduce(I8, x);
                b.ins().sextend(I64, n)
            }),
            O::I64Extend16S => self.un_i(|b, x| {
                let n = b.ins().ireduce(cranelift_codegen::ir::types::I16, x);
                b.ins().sextend(I64, n)
            }),
            O::I64Extend32S => self.un_i(|b, x| {
                let n = b.ins().ireduce(I32, x);
                b.ins().sextend(I64, n)
            }),
            other => return self.simd(other),
        }
        Ok(())
    }

    fn end(&mut self) -> Result<(), Error> {
        let fr = self.ctrl.pop().expect("validated: end matches a frame");
        if fr.kind == Kind::Loop {
            self.end_fuel_site();
        }
        let mut end_reached = fr.end_reached;
        if self.reachable {
            let n = fr.results.len();
            let args = self.stack[self.stack.len() - n..].to_vec();
            self.b.ins().jump(fr.end, &block_args(&args));
            end_reached = true;
        }
        if let Some(else_b) = fr.else_block {
            // An `if` without `else`: the false arm passes the parameters through.
            self.b.switch_to_block(else_b);
            self.b.ins().jump(fr.end, &block_args(&fr.if_params));
            end_reached |= fr.else_reachable;
        }
        if let Some(h) = fr.header {
            self.b.seal_block(h);
        }
        self.stack.truncate(fr.height);
        self.b.switch_to_block(fr.end);
        self.b.seal_block(fr.end);
        let results = self.b.block_params(fr.end).to_vec();
        self.stack.extend(results);
        self.reachable = end_reached;
        if fr.kind == Kind::Func {
            self.spill_fuel();
            if end_reached {
                let vals = self.stack.clone();
                self.b.ins().return_(&vals);
            } else {
                // Nothing reaches the end; the block still needs a terminator.
                let zeros: Vec<Value> = self.results.clone().into_iter().map(|t| zero(&mut self.b, t)).collect();
                self.b.ins().return_(&zeros);
            }
        } else if !end_reached {
            // Unreachable continuation: keep translating into it (Cranelift drops it), but
            // skip operators until the enclosing frame ends, like the validator does.
        }
        Ok(())
    }
}

/// How a load extends its value.
#[derive(Clone, Copy)]
enum LoadKind {
    Plain,
    S8,
    U8,
    S16,
    U16,
    S32,
    U32,
}

/// A stack slot of `bytes` bytes (8-byte aligned) in the function being built.
pub fn stack_buffer(b: &mut FunctionBuilder<'_>, bytes: u32) -> Value {
    let slot = b.create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, bytes.max(8), 3));
    b.ins().stack_addr(I64, slot, 0)
}
