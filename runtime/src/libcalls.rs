//! Runtime functions that compiled code of every compiled tier calls (by absolute address, C
//! convention, `extern "sysv64"`): everything that needs the store — memory and table growth, bulk operations, segment drops, fuel slices —
//! and the host-call trampoline target.
//!
//! Each takes the calling instance's context first. Those that can trap return a trap code
//! ([`TrapKind::code`], 0 for success); compiled code branches to its trap block on non-zero.
//! Their signatures (all integer arguments, 32-bit results) are documented on each constant.
//!
//! Safety contract (for every function here): `vmctx` is a context of [`Store::vm`] whose
//! `shared.store` points to the store currently running compiled code, and no Rust reference
//! to that store is live in the caller (a tier's `invoke` only holds a raw pointer while
//! compiled code runs).

use alloc::vec;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;

use crate::store::{InstanceId, Store};
use crate::trap::{Trap, TrapKind};
use crate::vmctx::{trap_kind_from_code, VmCtx};

/// `fuel(vmctx) -> trap code`: the slice ran out; charge it and start the next one.
pub const FUEL: usize = 0;
/// `memory_grow(vmctx, delta) -> old pages or -1`.
pub const MEMORY_GROW: usize = 1;
/// `memory_fill(vmctx, dst, value, len) -> trap code`.
pub const MEMORY_FILL: usize = 2;
/// `memory_copy(vmctx, dst, src, len) -> trap code`.
pub const MEMORY_COPY: usize = 3;
/// `memory_init(vmctx, segment, dst, src, len) -> trap code`.
pub const MEMORY_INIT: usize = 4;
/// `data_drop(vmctx, segment)`.
pub const DATA_DROP: usize = 5;
/// `table_grow(vmctx, table, init, delta) -> old size or -1`.
pub const TABLE_GROW: usize = 6;
/// `table_fill(vmctx, table, dst, value, len) -> trap code`.
pub const TABLE_FILL: usize = 7;
/// `table_copy(vmctx, dst_table, src_table, dst, src, len) -> trap code`.
pub const TABLE_COPY: usize = 8;
/// `table_init(vmctx, table, segment, dst, src, len) -> trap code`.
pub const TABLE_INIT: usize = 9;
/// `elem_drop(vmctx, segment)`.
pub const ELEM_DROP: usize = 10;
/// `host_call(caller_vmctx, func_addr, buf)`: calls a host function, or a wasm function through
/// the store's tier (forwarders of the tier manager, [`crate::tiering`]), with arguments and
/// results in `buf` (one 64-bit slot each); a trap is recorded in `VmShared`.
pub const HOST_CALL: usize = 11;

/// The address of runtime function `which`.
pub fn address(which: usize) -> usize {
    match which {
        FUEL => fuel as *const () as usize,
        MEMORY_GROW => memory_grow as *const () as usize,
        MEMORY_FILL => memory_fill as *const () as usize,
        MEMORY_COPY => memory_copy as *const () as usize,
        MEMORY_INIT => memory_init as *const () as usize,
        DATA_DROP => data_drop as *const () as usize,
        TABLE_GROW => table_grow as *const () as usize,
        TABLE_FILL => table_fill as *const () as usize,
        TABLE_COPY => table_copy as *const () as usize,
        TABLE_INIT => table_init as *const () as usize,
        ELEM_DROP => elem_drop as *const () as usize,
        HOST_CALL => host_call as *const () as usize,
        _ => unreachable!("unknown runtime function {which}"),
    }
}

/// The store and calling instance behind `vmctx`.
///
/// # Safety
/// See the module docs.
unsafe fn env<'a>(vmctx: *mut VmCtx) -> (&'a mut Store, InstanceId) {
    // SAFETY: the module contract: `vmctx` is live and `shared.store` is the running store,
    // not otherwise borrowed while compiled code runs.
    unsafe {
        let inst = InstanceId((*vmctx).instance as u32);
        let store = &mut *(*(*vmctx).shared).store;
        (store, inst)
    }
}

fn code(r: Result<(), TrapKind>) -> u32 {
    match r {
        Ok(()) => 0,
        Err(k) => k.code(),
    }
}

/// Charges the fuel of the slice that just ran out, asks the platform whether to go on and
/// starts a new slice. Also used by the tier's `invoke` (with an empty slice) to start running.
pub fn next_slice(store: &mut Store) -> Result<(), TrapKind> {
    let shared = &mut store.vm.shared;
    if shared.interrupt.swap(0, Ordering::Relaxed) != 0 {
        shared.fuel.store(0, Ordering::Relaxed);
        shared.fuel_budget = 0;
        return Err(TrapKind::Interrupted);
    }
    let left = shared.fuel.load(Ordering::Relaxed);
    let used = (shared.fuel_budget - left).max(0) as u64;
    shared.fuel_budget = 0;
    shared.fuel.store(0, Ordering::Relaxed);
    let budget = store.next_fuel_slice(used)? as i64;
    let shared = &mut store.vm.shared;
    shared.fuel_budget = budget;
    shared.fuel.store(budget, Ordering::Relaxed);
    Ok(())
}

/// Accounts the unfinished slice (when the outermost call into compiled code returns).
pub fn flush_fuel(store: &mut Store) {
    let shared = &mut store.vm.shared;
    let left = shared.fuel.load(Ordering::Relaxed);
    let used = (shared.fuel_budget - left).max(0) as u64;
    shared.fuel_budget = 0;
    shared.fuel.store(0, Ordering::Relaxed);
    // Running out exactly here is reported by the next slice, not by a finished call.
    let _ = store.account_fuel(used);
}

extern "sysv64" fn fuel(vmctx: *mut VmCtx) -> u32 {
    // SAFETY: module contract.
    let (store, _) = unsafe { env(vmctx) };
    code(next_slice(store))
}

fn memory_index(store: &Store, inst: InstanceId) -> u32 {
    store.instance(inst).memories[0]
}

extern "sysv64" fn memory_grow(vmctx: *mut VmCtx, delta: u32) -> u32 {
    // SAFETY: module contract.
    let (store, inst) = unsafe { env(vmctx) };
    let m = memory_index(store, inst);
    let r = store.memories[m as usize].grow(delta as u64).map_or(u32::MAX, |old| old as u32);
    store.vm_refresh();
    r
}

fn range_ok(start: u32, len: u32, size: usize) -> bool {
    (start as u64 + len as u64) <= size as u64
}

extern "sysv64" fn memory_fill(vmctx: *mut VmCtx, dst: u32, value: u32, len: u32) -> u32 {
    // SAFETY: module contract.
    let (store, inst) = unsafe { env(vmctx) };
    let m = memory_index(store, inst);
    let data = &mut store.memories[m as usize].data;
    if !range_ok(dst, len, data.len()) {
        return TrapKind::MemoryOutOfBounds.code();
    }
    data[dst as usize..(dst + len) as usize].fill(value as u8);
    0
}

extern "sysv64" fn memory_copy(vmctx: *mut VmCtx, dst: u32, src: u32, len: u32) -> u32 {
    // SAFETY: module contract.
    let (store, inst) = unsafe { env(vmctx) };
    let m = memory_index(store, inst);
    let data = &mut store.memories[m as usize].data;
    if !range_ok(dst, len, data.len()) || !range_ok(src, len, data.len()) {
        return TrapKind::MemoryOutOfBounds.code();
    }
    data.copy_within(src as usize..(src + len) as usize, dst as usize);
    0
}

extern "sysv64" fn memory_init(vmctx: *mut VmCtx, seg: u32, dst: u32, src: u32, len: u32) -> u32 {
    // SAFETY: module contract.
    let (store, inst) = unsafe { env(vmctx) };
    let i = store.instance(inst);
    let (m, d) = (i.memories[0], i.datas[seg as usize]);
    code(store.memory_init(m, d, dst, src, len).map_err(|t| t.kind))
}

extern "sysv64" fn data_drop(vmctx: *mut VmCtx, seg: u32) {
    // SAFETY: module contract.
    let (store, inst) = unsafe { env(vmctx) };
    let d = store.instance(inst).datas[seg as usize];
    let r = &mut store.datas[d as usize].range;
    *r = r.start..r.start;
}

extern "sysv64" fn table_grow(vmctx: *mut VmCtx, table: u32, init: u64, delta: u32) -> u32 {
    // SAFETY: module contract.
    let (store, inst) = unsafe { env(vmctx) };
    let t = store.instance(inst).tables[table as usize];
    let r = store.tables[t as usize].grow(delta as u64, init).map_or(u32::MAX, |old| old as u32);
    store.vm_refresh();
    r
}

extern "sysv64" fn table_fill(vmctx: *mut VmCtx, table: u32, dst: u32, value: u64, len: u32) -> u32 {
    // SAFETY: module contract.
    let (store, inst) = unsafe { env(vmctx) };
    let t = store.instance(inst).tables[table as usize];
    let elems = &mut store.tables[t as usize].elems;
    if !range_ok(dst, len, elems.len()) {
        return TrapKind::TableOutOfBounds.code();
    }
    elems[dst as usize..(dst + len) as usize].fill(value);
    0
}

extern "sysv64" fn table_copy(vmctx: *mut VmCtx, dt: u32, st: u32, dst: u32, src: u32, len: u32) -> u32 {
    // SAFETY: module contract.
    let (store, inst) = unsafe { env(vmctx) };
    let i = store.instance(inst);
    let (dt, st) = (i.tables[dt as usize] as usize, i.tables[st as usize] as usize);
    if !range_ok(dst, len, store.tables[dt].elems.len()) || !range_ok(src, len, store.tables[st].elems.len()) {
        return TrapKind::TableOutOfBounds.code();
    }
    let (d, s, n) = (dst as usize, src as usize, len as usize);
    if dt == st {
        store.tables[dt].elems.copy_within(s..s + n, d);
    } else {
        let items: Vec<u64> = store.tables[st].elems[s..s + n].to_vec();
        store.tables[dt].elems[d..d + n].copy_from_slice(&items);
    }
    0
}

extern "sysv64" fn table_init(vmctx: *mut VmCtx, table: u32, seg: u32, dst: u32, src: u32, len: u32) -> u32 {
    // SAFETY: module contract.
    let (store, inst) = unsafe { env(vmctx) };
    let i = store.instance(inst);
    let (t, e) = (i.tables[table as usize], i.elems[seg as usize]);
    code(store.table_init(t, e, dst, src, len).map_err(|t| t.kind))
}

extern "sysv64" fn elem_drop(vmctx: *mut VmCtx, seg: u32) {
    // SAFETY: module contract.
    let (store, inst) = unsafe { env(vmctx) };
    let e = store.instance(inst).elems[seg as usize];
    store.elems[e as usize].items = Vec::new();
}

extern "sysv64" fn host_call(caller_vmctx: *mut VmCtx, func: u32, buf: *mut u64) {
    let mark = crate::tiering::native_sp();
    // SAFETY: module contract.
    let (store, inst) = unsafe { env(caller_vmctx) };
    let ty = store.funcs[func as usize].ty.clone();
    // Slots, not values: a v128 takes two (the encoding of `crate::types`).
    let (np, nr) = (ty.param_slots(), ty.result_slots());
    // SAFETY: the trampoline passes a buffer of max(np, nr) (at least one) 8-byte slots.
    let args: Vec<u64> = unsafe { core::slice::from_raw_parts(buf, np) }.to_vec();
    let mut results = vec![0u64; nr];
    let r = match store.funcs[func as usize].kind {
        crate::store::FuncKind::Host(_) => store.call_host(func, Some(inst), &args, &mut results),
        // A forwarder of a function the compiled tiers do not run (mixed tiers): the store's
        // tier (the tier manager) runs it where it is.
        crate::store::FuncKind::Wasm { .. } => {
            crate::tiering::call_from_compiled(store, func, &args, &mut results, mark)
        }
    };
    store.vm_refresh();
    match r {
        // SAFETY: as above; `nr` slots fit.
        Ok(()) => unsafe { core::slice::from_raw_parts_mut(buf, nr) }.copy_from_slice(&results),
        Err(t) => {
            let shared = &mut store.vm.shared;
            shared.trap_code = t.kind.code();
            shared.pending = Some(t);
        }
    }
}

/// Reads and clears the trap record of compiled code; `None` if nothing trapped.
pub fn take_trap(store: &mut Store) -> Option<Trap> {
    let shared = &mut store.vm.shared;
    if shared.trap_code == 0 {
        return None;
    }
    let loc = (shared.trap_has_loc != 0).then_some((shared.trap_func, shared.trap_offset));
    let mut trap = shared.pending.take().unwrap_or_else(|| Trap::new(trap_kind_from_code(shared.trap_code)));
    if trap.func.is_none() && !matches!(trap.kind, TrapKind::Exit(_)) {
        if let Some((f, o)) = loc {
            trap.func = Some(f);
            trap.offset = Some(o);
        }
    }
    shared.clear_trap();
    Some(trap)
}
