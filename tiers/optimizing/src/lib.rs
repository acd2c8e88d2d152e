//! kwasm's optimizing tier: wasm → Cranelift IR ([`translate`]) → x86-64 machine code.
//!
//! `no_std` + `alloc`, so that the same tier can run inside the kernel module: the ISA is built
//! from explicit flags ([`isa`]), never from host detection; machine code goes into memory from
//! [`kwasm_runtime::Platform::alloc_exec`] (written while RW, then switched to RX — never RWX);
//! there are no relocations to resolve because every call goes through the function table in the
//! context or through an absolute runtime-function address materialized as a constant.
//!
//! Fixed-width SIMD (v128) is translated too (`translate/simd.rs`); it needs the x86-64-v2 level
//! that [`isa`] fixes for every platform.
//!
//! Compiled code follows the shared convention of [`kwasm_runtime::vmctx`]. Every function gets,
//! in one executable region, its body (the shared `tail` convention) and an *entry trampoline*
//! (C convention) through which [`Tier::invoke`] enters it. Host functions get a *host
//! trampoline* in the shared convention that forwards to [`kwasm_runtime::Store::call_host`].
//!
//! Safety checks are explicit: bounds checks on every memory and table access, divide checks,
//! float→int range checks, a native stack limit check on function entry and a fuel check on
//! function entry and loop headers. A trap is a record in `VmShared` plus ordinary returns.
//!
//! The one exception is guard-region addressing (`bounds_mode = guard`, user space): when
//! memory 0 is a guarded reservation ([`kwasm_runtime::memory::MemoryData::Guarded`]), accesses
//! whose static offset fits the guard go unchecked; each carries a Cranelift trap code from
//! which [`translate::GuardedAccesses`] recovers its wasm offset, so the tier knows, for every
//! faulting instruction, the trap location. [`Tier::invoke`] then enters compiled code through
//! the platform's [`kwasm_runtime::platform::GuardSupport::run`], which turns a fault at such an
//! instruction into "out of bounds memory access" at that location, abandoning the compiled
//! frames up to the entry.
#![no_std]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod fuel_stub;
pub mod isa;
mod libcalls;
mod phis;
pub mod translate;

use alloc::format;
use alloc::string::ToString;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;

use cranelift_codegen::binemit::Reloc;
use cranelift_codegen::control::ControlPlane;
use cranelift_codegen::ir::types::{I32, I64};
use cranelift_codegen::ir::ExternalName;
use cranelift_codegen::ir::TrapCode;
use cranelift_codegen::ir::{AbiParam, Function, InstBuilder, Signature, UserFuncName};
use cranelift_codegen::isa::{CallConv, OwnedTargetIsa, TargetFrontendConfig};
use cranelift_codegen::Context;
use cranelift_codegen::FinalizedRelocTarget;
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use kwasm_runtime::knobs::Knob;
use kwasm_runtime::platform::{install_code, CompiledEntry, ExecRegion, FaultSite, TrapSites};
use kwasm_runtime::store::FuncKind;
use kwasm_runtime::tier::{CompiledCode, Tier, TierId};
use kwasm_runtime::types::FuncType;
use kwasm_runtime::vmctx::{FuncSlot, SLOT_CODE, SLOT_VMCTX};
use kwasm_runtime::{Error, FuncAddr, Store, Trap, TrapKind};

use crate::fuel_stub::StubCall;
use crate::translate::{
    clif_type, ctx_flags, load_slots, stack_buffer, store_slots, wasm_signature, FuncEnv, GuardedAccesses,
};

/// Native stack bytes allowed per permitted wasm call level (`max_call_depth` × this is the
/// stack budget of compiled code, measured from the first entry).
pub const STACK_BYTES_PER_CALL: u64 = 256;

/// The optimizing tier.
pub struct OptimizingTier {
    isa: OwnedTargetIsa,
    /// The fuel stub's machine code (see [`fuel_stub`]), compiled once.
    fuel_stub: Result<Vec<u8>, Error>,
}

impl core::fmt::Debug for OptimizingTier {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "OptimizingTier({})", self.isa.name())
    }
}

impl Default for OptimizingTier {
    fn default() -> Self {
        Self::new()
    }
}

impl OptimizingTier {
    /// Creates the tier with the default ISA ([`isa::x86_64`]).
    pub fn new() -> Self {
        let isa = isa::x86_64().expect("the built-in x86-64 flags are valid");
        let fuel_stub = fuel_stub::compile(&isa);
        OptimizingTier { isa, fuel_stub }
    }
}

/// A compiled function: machine code in an executable region.
pub struct OptFunc {
    region: ExecRegion,
    /// Offset of the body (shared convention) in the region.
    body: usize,
    /// Length of the body in bytes.
    body_len: usize,
    /// Module function index (for trap locations; 0 for host trampolines).
    func_index: u32,
    /// Unchecked memory accesses (guard mode): (body offset of the faulting instruction, wasm
    /// offset of the access), sorted by body offset.
    fault_sites: FaultSites,
    /// Offset of the entry trampoline (C convention), if any.
    entry: Option<usize>,
    /// Size of the machine code in bytes (statistics).
    pub code_size: usize,
}

impl core::fmt::Debug for OptFunc {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "OptFunc({} bytes at {:p})", self.code_size, self.region.ptr)
    }
}

impl OptFunc {
    /// Address of the body in the shared convention.
    pub fn body_ptr(&self) -> *const u8 {
        self.region.ptr.wrapping_add(self.body)
    }
}

/// (body offset of a faulting instruction, wasm offset of its access), sorted by body offset.
type FaultSites = Vec<(u32, u32)>;

type EntryFn = unsafe extern "sysv64" fn(*const FuncSlot, *mut u64);

/// Machine code of one Cranelift function.
struct Emitted {
    code: Vec<u8>,
    /// Unchecked memory accesses (guard mode): (body offset, wasm offset), sorted.
    fault_sites: FaultSites,
    /// Calls to the fuel stub, for [`fuel_stub::link`].
    stub_calls: Vec<StubCall>,
}

/// Compiles one Cranelift function and returns its machine code, where each faulting
/// instruction of the unchecked memory accesses of `guarded` (guard mode) is, and its calls to
/// the fuel stub (the one relocation compiled code may have).
fn emit(isa: &OwnedTargetIsa, func: Function, guarded: &GuardedAccesses) -> Result<Emitted, Error> {
    let mut ctx = Context::for_function(func);
    let code = ctx
        .compile(&**isa, &mut ControlPlane::default())
        .map_err(|e| Error::Other(format!("optimizing tier: Cranelift failed: {:?}", e.inner)))?;
    let mut stub_calls = Vec::new();
    for r in code.buffer.relocs() {
        // Compiled code declares exactly one external function, the fuel stub.
        match (&r.kind, &r.target) {
            (Reloc::X86CallPCRel4, FinalizedRelocTarget::ExternalName(ExternalName::User(_))) => {
                stub_calls.push(StubCall { offset: r.offset, addend: r.addend })
            }
            _ => {
                return Err(Error::Unsupported(format!(
                    "optimizing tier: Cranelift emitted a relocation ({:?} to {:?}) it has no resolver for",
                    r.kind, r.target
                )))
            }
        }
    }
    let mut sites = Vec::new();
    if !guarded.offsets.is_empty() {
        let srclocs = code.buffer.get_srclocs_sorted();
        for t in code.buffer.traps() {
            // Only user codes mark unchecked accesses; Cranelift's own codes (conversion
            // checks it emits itself) sit behind our explicit checks and never fire.
            let raw = t.code.as_raw().get();
            if TrapCode::user(raw).is_none() {
                continue;
            }
            let at = srclocs.partition_point(|l| l.end <= t.offset);
            let srcloc = srclocs.get(at).filter(|l| l.start <= t.offset && !l.loc.is_default()).map(|l| l.loc.bits());
            let off = guarded.site(raw, srcloc).ok_or_else(|| {
                Error::Other(format!("optimizing tier: a faulting access at code offset {} has no wasm site", t.offset))
            })?;
            sites.push((t.offset, off));
        }
        sites.sort_unstable();
    }
    Ok(Emitted { code: code.code_buffer().to_vec(), fault_sites: sites, stub_calls })
}

/// The entry trampoline for functions of type `ty`:
/// `extern "sysv64" fn(slot: *const FuncSlot, buf: *mut u64)`.
fn entry_trampoline(ty: &FuncType, frontend: TargetFrontendConfig) -> Result<Function, Error> {
    let mut sig = Signature::new(CallConv::SystemV);
    sig.params.push(AbiParam::new(I64));
    sig.params.push(AbiParam::new(I64));
    let mut func = Function::with_name_signature(UserFuncName::user(1, 0), sig);
    let mut fctx = FunctionBuilderContext::new();
    let mut b = FunctionBuilder::new(&mut func, &mut fctx);
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    b.seal_block(entry);
    let (slot, buf) = (b.block_params(entry)[0], b.block_params(entry)[1]);
    let code = b.ins().load(I64, ctx_flags(), slot, SLOT_CODE);
    let vmctx = b.ins().load(I64, ctx_flags(), slot, SLOT_VMCTX);
    let mut args = vec![vmctx, vmctx];
    let mut at = 0;
    for p in &ty.params {
        let (v, next) = load_slots(&mut b, clif_type(*p)?, buf, at);
        args.push(v);
        at = next;
    }
    let callee_sig = b.import_signature(wasm_signature(ty)?);
    let call = b.ins().call_indirect(callee_sig, code, &args);
    let results = b.inst_results(call).to_vec();
    let mut at = 0;
    for r in results {
        at = store_slots(&mut b, r, buf, at);
    }
    b.ins().return_(&[]);
    b.finalize(frontend);
    Ok(func)
}

/// The host trampoline of host function `addr` of type `ty`, in the shared convention: spills
/// the arguments to a stack buffer and calls the runtime's `host_call`.
fn host_trampoline(ty: &FuncType, addr: FuncAddr, frontend: TargetFrontendConfig) -> Result<Function, Error> {
    let sig = wasm_signature(ty)?;
    let mut func = Function::with_name_signature(UserFuncName::user(2, addr), sig);
    let mut fctx = FunctionBuilderContext::new();
    let mut b = FunctionBuilder::new(&mut func, &mut fctx);
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    b.seal_block(entry);
    let params = b.block_params(entry).to_vec();
    let caller_vmctx = params[1];
    let n = ty.param_slots().max(ty.result_slots()).max(1);
    let buf = stack_buffer(&mut b, (n * 8) as u32);
    let mut at = 0;
    for p in &params[2..] {
        at = store_slots(&mut b, *p, buf, at);
    }
    let hsig = b.import_signature(libcalls::signature(libcalls::HOST_CALL));
    let target = b.ins().iconst(I64, libcalls::address(libcalls::HOST_CALL) as i64);
    let a = b.ins().iconst(I32, addr as i64);
    b.ins().call_indirect(hsig, target, &[caller_vmctx, a, buf]);
    let mut results = Vec::new();
    let mut at = 0;
    for r in &ty.results {
        let (v, next) = load_slots(&mut b, clif_type(*r)?, buf, at);
        results.push(v);
        at = next;
    }
    b.ins().return_(&results);
    b.finalize(frontend);
    Ok(func)
}

/// Copies `parts` into one new executable region (see [`install_code`]).
fn install(store: &Store, parts: &[&[u8]]) -> Result<(ExecRegion, Vec<usize>), Error> {
    install_code(store.platform.as_ref(), "optimizing tier", parts)
}

/// Where one function's machine code is (for profilers' symbol maps).
#[derive(Clone, Debug)]
pub struct CodeRange {
    /// Address of the body.
    pub start: usize,
    /// Length of the body in bytes.
    pub len: usize,
    /// The function's store address.
    pub func: FuncAddr,
}

/// Every function body the optimizing tier has compiled in `store` (host trampolines included).
pub fn code_ranges(store: &Store) -> Vec<CodeRange> {
    let mut out = Vec::new();
    for (addr, f) in store.funcs.iter().enumerate() {
        let Some(code) = f.code[TierId::Optimizing as usize].get() else { continue };
        let Some(of) = code.downcast_ref::<OptFunc>() else { continue };
        out.push(CodeRange { start: of.body_ptr() as usize, len: of.body_len, func: addr as FuncAddr });
    }
    out
}

/// The unchecked accesses of all of a store's optimizing-tier code, for the fault handler.
struct StoreFaultSites {
    store: *const Store,
}

impl TrapSites for StoreFaultSites {
    fn lookup(&self, pc: usize) -> Option<FaultSite> {
        // SAFETY: the store outlives the guarded call that this value serves, and while compiled
        // code runs nothing changes the store's code slots; this only reads them.
        let store = unsafe { &*self.store };
        for f in &store.funcs {
            let Some(code) = f.code[TierId::Optimizing as usize].get() else { continue };
            let Some(of) = code.downcast_ref::<OptFunc>() else { continue };
            let start = of.region.ptr as usize + of.body;
            if pc < start || pc >= start + of.body_len {
                continue;
            }
            let off = (pc - start) as u32;
            let i = of.fault_sites.binary_search_by_key(&off, |s| s.0).ok()?;
            return Some(FaultSite { func: of.func_index, offset: of.fault_sites[i].1 });
        }
        None
    }
}

impl OptimizingTier {
    /// Compiles every function of the store that has no code in its function-table slot yet,
    /// and installs it there.
    fn fill_slots(&self, store: &mut Store) -> Result<(), Error> {
        store.vm_refresh();
        let mut missing = Vec::new();
        for (addr, slot) in store.vm.slots.iter().enumerate() {
            if slot.code.is_null() {
                missing.push(addr as FuncAddr);
            }
        }
        for addr in missing {
            let code = store.code(addr, self)?;
            let f = code.downcast_ref::<OptFunc>().ok_or_else(|| Error::Other("foreign code in slot".into()))?;
            let p = f.body_ptr();
            store.vm.slots[addr as usize].code = p;
        }
        Ok(())
    }
}

impl Tier for OptimizingTier {
    fn id(&self) -> TierId {
        TierId::Optimizing
    }

    fn compile(&self, store: &Store, func: FuncAddr) -> Result<CompiledCode, Error> {
        isa::check_host()?;
        let f = &store.funcs[func as usize];
        let ty = f.ty.clone();
        let none = GuardedAccesses::default();
        let (body, entry, func_index) = match f.kind {
            FuncKind::Host(_) => {
                let body = emit(&self.isa, host_trampoline(&ty, func, self.isa.frontend_config())?, &none)?;
                (body, None, 0)
            }
            FuncKind::Wasm { instance, func_index } => {
                let inst = store.instance(instance);
                let env =
                    FuncEnv { store, inst, module: &inst.module, func_index, frontend: self.isa.frontend_config() };
                let mut clif = Function::new();
                let mut fctx = FunctionBuilderContext::new();
                let guarded = translate::translate_function(&env, &mut clif, &mut fctx)?;
                let body = emit(&self.isa, clif, &guarded)?;
                let entry = emit(&self.isa, entry_trampoline(&ty, self.isa.frontend_config())?, &none)?;
                (body, Some(entry.code), func_index)
            }
        };
        let Emitted { code: mut body, fault_sites, stub_calls } = body;
        // The fuel stub, when the body calls it, is part 0 of the region (see `fuel_stub`).
        let stub: &[u8] = if stub_calls.is_empty() {
            &[]
        } else {
            let stub = self.fuel_stub.as_ref().map_err(Clone::clone)?;
            fuel_stub::link(&mut body, &stub_calls, fuel_stub::body_offset(stub.len()))?;
            stub
        };
        let code_size = stub.len() + body.len() + entry.as_ref().map_or(0, Vec::len);
        let mut parts: Vec<&[u8]> = Vec::with_capacity(3);
        if !stub.is_empty() {
            parts.push(stub);
        }
        parts.push(&body);
        if let Some(e) = &entry {
            parts.push(e);
        }
        let (region, offsets) = install(store, &parts)?;
        let first = usize::from(!stub.is_empty());
        if !stub.is_empty() && offsets[first] != fuel_stub::body_offset(stub.len()) {
            return Err(Error::Other("optimizing tier: code region layout changed under the fuel stub".to_string()));
        }
        Ok(Arc::new(OptFunc {
            region,
            body: offsets[first],
            body_len: body.len(),
            func_index,
            fault_sites,
            entry: offsets.get(first + 1).copied(),
            code_size,
        }))
    }

    fn compile_forwarder(&self, store: &Store, func: FuncAddr) -> Result<CompiledCode, Error> {
        let ty = store.funcs[func as usize].ty.clone();
        let none = GuardedAccesses::default();
        let body = emit(&self.isa, host_trampoline(&ty, func, self.isa.frontend_config())?, &none)?.code;
        let (region, offsets) = install(store, &[&body])?;
        Ok(Arc::new(OptFunc {
            region,
            body: offsets[0],
            body_len: body.len(),
            func_index: 0,
            fault_sites: Vec::new(),
            entry: None,
            code_size: body.len(),
        }))
    }

    fn slot_code(&self, code: &CompiledCode) -> Option<*const u8> {
        code.downcast_ref::<OptFunc>().map(OptFunc::body_ptr)
    }

    fn invoke(&self, store: &mut Store, func: FuncAddr, args: &[u64], results: &mut [u64]) -> Result<(), Trap> {
        if let FuncKind::Host(_) = store.funcs[func as usize].kind {
            return store.call_host(func, None, args, results);
        }
        self.fill_slots(store).map_err(|e| Trap::host(e.to_string()))?;
        let entry_ptr = {
            let code = store.code(func, self).map_err(|e| Trap::host(e.to_string()))?;
            let f = code.downcast_ref::<OptFunc>().ok_or_else(|| Trap::host("foreign code in the optimizing slot"))?;
            let off = f.entry.ok_or_else(|| Trap::host("function has no entry trampoline"))?;
            f.region.ptr.wrapping_add(off)
        };
        // SAFETY: the region is RX memory owned by the store's code slot (which lives as long as
        // the store) and holds a function compiled with the `EntryFn` signature at this offset.
        let entry: EntryFn = unsafe { core::mem::transmute::<*mut u8, EntryFn>(entry_ptr) };
        let outermost = store.vm.shared.depth == 0;
        if outermost {
            let here = 0u8;
            let sp = &here as *const u8 as u64;
            let budget = store.knobs.get(Knob::MaxCallDepth).saturating_mul(STACK_BYTES_PER_CALL);
            store.vm.shared.stack_limit = sp.saturating_sub(budget);
            store.vm.shared.clear_trap();
            libcalls::next_slice(store).map_err(Trap::new)?;
        }
        // Guarded memories need faults turned into traps (the platform's runner does that).
        let guard_run = if store.memories.iter().any(|m| m.data.is_guarded()) {
            let support = store.platform.guard_support().ok_or_else(|| {
                Trap::host("bounds_mode=guard: the platform has guarded memories but no way to catch their faults")
            })?;
            Some(support.run)
        } else {
            None
        };
        let mut buf = vec![0u64; args.len().max(results.len()).max(1)];
        buf[..args.len()].copy_from_slice(args);
        let slot: *const FuncSlot = &store.vm.slots[func as usize];
        store.vm.shared.depth += 1;
        let store_ptr: *mut Store = store;
        store.vm.shared.store = store_ptr;
        let fault = match guard_run {
            // SAFETY: as below; in addition, compiled code holds no resources in its frames, so
            // abandoning them at a faulting access is fine, and `sites` reads the store's code
            // only (which nothing changes while compiled code runs).
            Some(run) => unsafe {
                let sites = StoreFaultSites { store: store_ptr };
                let entry: CompiledEntry = core::mem::transmute::<EntryFn, CompiledEntry>(entry);
                run(entry, slot.cast(), buf.as_mut_ptr(), &sites)
            },
            None => {
                // SAFETY: every slot holds code compiled for the store (`fill_slots`), the
                // contexts are fresh (`vm_refresh`), `buf` has a slot per argument and result,
                // and from here until the call returns the store is only used through
                // `store_ptr` (by runtime functions).
                unsafe { entry(slot, buf.as_mut_ptr()) };
                None
            }
        };
        // SAFETY: the compiled code has returned; `store_ptr` is the `store` we were given.
        let store = unsafe { &mut *store_ptr };
        if let Some(site) = fault {
            // A faulting access abandoned every frame up to here: record the trap as the first
            // (and only) trap site would have.
            let shared = &mut store.vm.shared;
            shared.trap_code = TrapKind::MemoryOutOfBounds.code();
            shared.trap_has_loc = 1;
            shared.trap_func = site.func;
            shared.trap_offset = site.offset;
        }
        store.vm.shared.depth -= 1;
        if outermost {
            libcalls::flush_fuel(store);
        }
        if let Some(t) = libcalls::take_trap(store) {
            return Err(t);
        }
        results.copy_from_slice(&buf[..results.len()]);
        Ok(())
    }
}
