//! kwasm's baseline tier: a singlepass x86-64 compiler in the style of V8's Liftoff and
//! Wasmtime's Winch. One pass over each function's operators emits machine code directly with
//! the `dynasm!` macro ([`codegen`]); no IR, a virtual value stack instead of a register
//! allocator over an IR.
//!
//! Compiled code follows the shared convention of [`kwasm_runtime::vmctx`] (the optimizing
//! tier's, see [`abi`]), so baseline functions call optimizing ones and vice versa through the
//! function table. Every function gets, in one executable region, its body and an entry
//! trampoline (C convention, [`trampolines::entry`]) through which [`Tier::invoke`] enters it;
//! host functions get a host trampoline ([`trampolines::host`]).
//!
//! Kernel-safe code: explicit bounds checks (`bounds_mode = explicit`; `guard` is refused with
//! [`Error::Unsupported`]), explicit divide and conversion checks, a stack-limit check on entry
//! of every function, fuel checks at entries and loop headers (the runtime honours interrupt requests when a fuel slice ends), never a
//! write below `rsp`, traps as records plus ordinary returns. Executable memory comes from
//! [`kwasm_runtime::Platform::alloc_exec`]: written while RW, then RX — never RWX.
#![no_std]
#![warn(missing_docs)]

extern crate alloc;

pub mod abi;
// `dynasm!` passes dynamic register operands through `.into()`, which clippy flags when they
// already have the target type.
#[allow(clippy::useless_conversion)]
pub mod codegen;
pub mod emit;
#[allow(clippy::useless_conversion)]
pub mod trampolines;

use alloc::format;
use alloc::string::ToString;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;

use kwasm_runtime::knobs::{Knob, BOUNDS_MODES};
use kwasm_runtime::libcalls;
use kwasm_runtime::platform::{install_code, ExecRegion};
use kwasm_runtime::store::FuncKind;
use kwasm_runtime::tier::{CompiledCode, Tier, TierId};
use kwasm_runtime::vmctx::FuncSlot;
use kwasm_runtime::{Error, FuncAddr, Store, Trap};

use crate::emit::{CodeSink, Emitter};

/// A code label of the emitters.
pub type Label = emit::DynamicLabel;

/// Native stack bytes allowed per permitted wasm call level (`max_call_depth` × this is the
/// stack budget of compiled code, measured from the first entry).
pub const STACK_BYTES_PER_CALL: u64 = 256;

/// The baseline tier.
#[derive(Default, Debug)]
pub struct BaselineTier;

/// A compiled function: machine code in an executable region.
pub struct BaselineFunc {
    region: ExecRegion,
    /// Offset of the body (shared convention) in the region.
    body: usize,
    /// Offset of the entry trampoline (C convention), if any.
    entry: Option<usize>,
    /// Size of the machine code in bytes (statistics).
    pub code_size: usize,
}

impl core::fmt::Debug for BaselineFunc {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "BaselineFunc({} bytes at {:p})", self.code_size, self.region.ptr)
    }
}

impl BaselineFunc {
    /// Address of the body in the shared convention.
    pub fn body_ptr(&self) -> *const u8 {
        self.region.ptr.wrapping_add(self.body)
    }
}

type EntryFn = unsafe extern "sysv64" fn(*const FuncSlot, *mut u64);

/// Finishes an emitter into bytes after applying `(position, value)` 32-bit patches.
pub(crate) fn finish<E: Emitter>(mut ops: E, patches: &[(usize, u32)]) -> Result<Vec<u8>, Error> {
    let err = |e: emit::EmitError| Error::Other(format!("baseline tier: emitting code failed: {e}"));
    for &(pos, v) in patches {
        ops.patch(pos, &v.to_le_bytes()).map_err(err)?;
    }
    ops.finish().map_err(err)
}

/// Copies `parts` into one new executable region (see [`install_code`]).
fn install(store: &Store, parts: &[&[u8]]) -> Result<(ExecRegion, Vec<usize>), Error> {
    install_code(store.platform.as_ref(), "baseline tier", parts)
}

/// Compiles the body of store function `func` (a wasm function or a host trampoline) and, for
/// wasm functions, its entry trampoline: `(body, entry)` machine code, written through emitters
/// made by `new_emitter` (the tier uses [`CodeSink`]; tests compare it with dynasmrt's).
pub fn compile_code_with<E: Emitter>(
    store: &Store,
    func: FuncAddr,
    mut new_emitter: impl FnMut() -> Result<E, Error>,
) -> Result<(Vec<u8>, Option<Vec<u8>>), Error> {
    let f = &store.funcs[func as usize];
    let ty = f.ty.clone();
    match f.kind {
        FuncKind::Host(_) => {
            let mut ops = new_emitter()?;
            trampolines::host(&mut ops, &ty, func)?;
            Ok((finish(ops, &[])?, None))
        }
        FuncKind::Wasm { instance, func_index } => {
            let inst = store.instance(instance);
            let env = codegen::FuncEnv { store, inst, module: &inst.module, func_index };
            let body = codegen::compile_function(&env, new_emitter()?)?;
            let mut ops = new_emitter()?;
            trampolines::entry(&mut ops, &ty)?;
            Ok((body, Some(finish(ops, &[])?)))
        }
    }
}

/// [`compile_code_with`] on the tier's own no_std emitter, [`CodeSink`].
pub fn compile_code(store: &Store, func: FuncAddr) -> Result<(Vec<u8>, Option<Vec<u8>>), Error> {
    compile_code_with(store, func, || Ok(CodeSink::new(0)))
}

impl BaselineTier {
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
            let f = code.downcast_ref::<BaselineFunc>().ok_or_else(|| Error::Other("foreign code in slot".into()))?;
            let p = f.body_ptr();
            store.vm.slots[addr as usize].code = p;
        }
        Ok(())
    }
}

impl Tier for BaselineTier {
    fn id(&self) -> TierId {
        TierId::Baseline
    }

    fn compile(&self, store: &Store, func: FuncAddr) -> Result<CompiledCode, Error> {
        if BOUNDS_MODES[store.knobs.get(Knob::BoundsMode) as usize] != "explicit" {
            return Err(Error::Unsupported(
                "baseline tier: bounds_mode=guard (guard-region addressing) is not implemented; use \
                 bounds_mode=explicit"
                    .into(),
            ));
        }
        let (body, entry) = compile_code(store, func)?;
        let code_size = body.len() + entry.as_ref().map_or(0, Vec::len);
        let (region, offsets) = match &entry {
            Some(e) => install(store, &[&body, e])?,
            None => install(store, &[&body])?,
        };
        Ok(Arc::new(BaselineFunc { region, body: offsets[0], entry: offsets.get(1).copied(), code_size }))
    }

    fn compile_forwarder(&self, store: &Store, func: FuncAddr) -> Result<CompiledCode, Error> {
        let ty = store.funcs[func as usize].ty.clone();
        let mut ops = CodeSink::new(0);
        trampolines::host(&mut ops, &ty, func)?;
        let body = finish(ops, &[])?;
        let (region, offsets) = install(store, &[&body])?;
        Ok(Arc::new(BaselineFunc { region, body: offsets[0], entry: None, code_size: body.len() }))
    }

    fn slot_code(&self, code: &CompiledCode) -> Option<*const u8> {
        code.downcast_ref::<BaselineFunc>().map(BaselineFunc::body_ptr)
    }

    fn invoke(&self, store: &mut Store, func: FuncAddr, args: &[u64], results: &mut [u64]) -> Result<(), Trap> {
        if let FuncKind::Host(_) = store.funcs[func as usize].kind {
            return store.call_host(func, None, args, results);
        }
        self.fill_slots(store).map_err(|e| Trap::host(e.to_string()))?;
        let entry_ptr = {
            let code = store.code(func, self).map_err(|e| Trap::host(e.to_string()))?;
            let f =
                code.downcast_ref::<BaselineFunc>().ok_or_else(|| Trap::host("foreign code in the baseline slot"))?;
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
        let mut buf = vec![0u64; args.len().max(results.len()).max(1)];
        buf[..args.len()].copy_from_slice(args);
        let slot: *const FuncSlot = &store.vm.slots[func as usize];
        store.vm.shared.depth += 1;
        let store_ptr: *mut Store = store;
        store.vm.shared.store = store_ptr;
        // SAFETY: every slot holds code compiled for the store (`fill_slots`), the contexts are
        // fresh (`vm_refresh`), `buf` has a slot per argument and result, and from here until
        // the call returns the store is only used through `store_ptr` (by runtime functions).
        unsafe { entry(slot, buf.as_mut_ptr()) };
        // SAFETY: the compiled code has returned; `store_ptr` is the `store` we were given.
        let store = unsafe { &mut *store_ptr };
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
