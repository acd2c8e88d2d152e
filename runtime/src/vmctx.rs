//! The one calling convention and context layout shared by every compiled tier.
//!
//! Compiled code (the optimizing tier today, the baseline tier next) reaches everything of the
//! store through a *context pointer* (`vmctx`), one [`VmCtx`] per instance. The layout below is
//! `repr(C)` and its byte offsets are exported as constants (`VMCTX_*`, `SLOT_*`, `SHARED_*`), so
//! code generators never guess. Everything is owned by [`VmState`], a field of the [`Store`].
//!
//! # Context ([`VmCtx`], one per instance)
//! | offset | field       | meaning                                                             |
//! |--------|-------------|---------------------------------------------------------------------|
//! | 0      | `mem_base`  | base of memory 0 (dangling when the instance has no memory)         |
//! | 8      | `mem_len`   | its length in bytes                                                 |
//! | 16     | `globals`   | `*const *mut u64`: per module global index, the value's address     |
//! |        |             | (a v128 global: 16 bytes there, little-endian, low half first)      |
//! | 24     | `tables`    | `*const TableDesc`: per module table index, `{base, len}` (elements)|
//! | 32     | `slots`     | `*const FuncSlot`: the store-wide function table, by store address  |
//! | 40     | `shared`    | `*mut VmShared`: trap record, stack limit, fuel (one per store)     |
//! | 48     | `instance`  | the instance id                                                     |
//!
//! # Function table ([`FuncSlot`], one per store function address, 32 bytes)
//! `{code, vmctx, type_id, hotness}`. `code` is the entry of the function *in the calling
//! convention below*; `vmctx` is the callee's context. Every call between compiled functions
//! (direct, indirect, through imports) loads `code` and `vmctx` from the callee's slot, so a
//! tier-up swaps code for all callers by patching one slot ([`crate::tiering`]). Host functions
//! and functions left in the interpreter get a *forwarder* in their slot
//! ([`crate::Tier::compile_forwarder`]) that has the same signature and passes the call to the
//! runtime (`libcalls` `host_call`), which runs a host function itself and a wasm function in
//! the tier that holds it. `type_id` is the canonical signature id used by `call_indirect`'s
//! type check. `hotness` counts the function's calls plus loop iterations for the tier manager
//! (the interpreter and, when the manager asks for it, baseline code add to it; see
//! [`crate::tiering`]). Table elements are store addresses plus one (0 = null), so
//! `call_indirect` indexes the slots with `elem - 1`.
//!
//! # Calling convention
//! Cranelift's `tail` convention (callee pops its stack arguments, so `return_call` works):
//! `fn(callee_vmctx: ptr, caller_vmctx: ptr, wasm params...) -> wasm results`, with i32/i64/f32/f64
//! as native values, references as i64 ([`crate::types::RawRef`]) and v128 as one 128-bit vector
//! (Cranelift `i8x16`, in an XMM register or a 16-byte stack slot). The caller's context lets
//! trampolines name the calling instance (host functions see it as [`crate::Caller::instance`]).
//! The embedder enters compiled code through a per-function *entry trampoline* in the platform's
//! C convention: `extern "sysv64" fn(slot: *const FuncSlot, args_and_results: *mut u64)`, which
//! reads one 64-bit slot per parameter, calls through `slot`, and writes one slot per result
//! (a v128 takes two slots there, low half first: the encoding of [`crate::types`]).
//!
//! # Traps
//! A trapping function stores the trap code ([`crate::TrapKind::code`]), its module function
//! index and byte offset into [`VmShared`] (the first trap site wins the location) and returns
//! with zero results; every caller checks `VmShared::trap_code` after each call and returns at
//! once if it is set, so the trap unwinds through ordinary returns. The runtime turns the record
//! (or [`VmShared::pending`], for host traps with a message) into a [`crate::Trap`].
//!
//! The exception is a guarded memory ([`crate::memory::MemoryData::Guarded`], `bounds_mode =
//! guard`): there an out-of-bounds access faults. Compiled code is then entered through the
//! platform's [`crate::platform::GuardSupport::run`], which abandons every compiled frame up to
//! the entry on such a fault (they hold no resources) and reports the faulting access; the tier
//! writes the trap record itself. Fuel burnt by the abandoned frames since their last call is
//! not charged. A guarded memory's base never moves.
//!
//! # Stack and interruption
//! Every compiled function compares the native stack pointer with `VmShared::stack_limit` on
//! entry and traps "call stack exhausted" below it. Function entries and loop headers subtract
//! their operator count from the fuel counter (kept in a register, stored to `VmShared::fuel`
//! around calls and returns); when the counter goes negative they call the runtime, which
//! charges the store's fuel, asks the platform ([`crate::platform::Platform::check_interrupt`])
//! and honours [`VmShared::request_interrupt`], which another thread (a signal handler, a kernel
//! kill path) may call at any time: a request takes effect at the end of the running slice, so
//! within `fuel_slice` operators (a tier may also test `VmShared::interrupt` more often).

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicI64, AtomicU32, Ordering};

use crate::store::{Global, Store};
use crate::trap::Trap;

/// Per-instance context; see the module docs for the layout.
#[repr(C)]
#[derive(Debug)]
pub struct VmCtx {
    /// Base of memory 0.
    pub mem_base: *mut u8,
    /// Length of memory 0 in bytes.
    pub mem_len: u64,
    /// Address of each global's value, by module global index.
    pub globals: *const *mut u64,
    /// Each table, by module table index.
    pub tables: *const TableDesc,
    /// The store-wide function table, by store function address.
    pub slots: *const FuncSlot,
    /// State shared by every instance of the store.
    pub shared: *mut VmShared,
    /// The instance this context belongs to.
    pub instance: u64,
}

/// Offset of [`VmCtx::mem_base`].
pub const VMCTX_MEM_BASE: i32 = 0;
/// Offset of [`VmCtx::mem_len`].
pub const VMCTX_MEM_LEN: i32 = 8;
/// Offset of [`VmCtx::globals`].
pub const VMCTX_GLOBALS: i32 = 16;
/// Offset of [`VmCtx::tables`].
pub const VMCTX_TABLES: i32 = 24;
/// Offset of [`VmCtx::slots`].
pub const VMCTX_SLOTS: i32 = 32;
/// Offset of [`VmCtx::shared`].
pub const VMCTX_SHARED: i32 = 40;

/// A table as compiled code sees it.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct TableDesc {
    /// First element ([`crate::types::RawRef`]s).
    pub base: *mut u64,
    /// Number of elements.
    pub len: u64,
}

/// Size of a [`TableDesc`].
pub const TABLE_DESC_SIZE: i32 = 16;
/// Offset of [`TableDesc::len`].
pub const TABLE_DESC_LEN: i32 = 8;

/// One entry of the function table; see the module docs.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct FuncSlot {
    /// Entry in the shared calling convention (null until a tier installs code).
    pub code: *const u8,
    /// The callee's context (null for host functions).
    pub vmctx: *mut VmCtx,
    /// Canonical type id of the function's signature.
    pub type_id: u64,
    /// Calls plus loop iterations counted so far (see [`crate::tiering`]).
    pub hotness: u64,
}

/// Size of a [`FuncSlot`] (a power of two).
pub const SLOT_SIZE: i64 = 32;
/// Offset of [`FuncSlot::code`].
pub const SLOT_CODE: i32 = 0;
/// Offset of [`FuncSlot::vmctx`].
pub const SLOT_VMCTX: i32 = 8;
/// Offset of [`FuncSlot::type_id`].
pub const SLOT_TYPE_ID: i32 = 16;
/// Offset of [`FuncSlot::hotness`].
pub const SLOT_HOTNESS: i32 = 24;

/// State shared by all instances of a store; the `repr(C)` prefix is read by compiled code.
#[repr(C)]
#[derive(Debug)]
pub struct VmShared {
    /// Non-zero ([`crate::TrapKind::code`]) once something trapped.
    pub trap_code: u32,
    /// Non-zero once `trap_func`/`trap_offset` hold the trap location.
    pub trap_has_loc: u32,
    /// Module function index of the trap.
    pub trap_func: u32,
    /// Module byte offset of the trapping instruction.
    pub trap_offset: u32,
    /// Lowest native stack pointer compiled code may run at.
    pub stack_limit: u64,
    /// Fuel left in the current slice. Compiled code keeps it in a register while it runs and
    /// stores it here around every call and return; it calls the runtime when it goes negative.
    pub fuel: AtomicI64,
    /// Set by [`VmShared::request_interrupt`]; the runtime tests it at the end of every fuel
    /// slice (compiled code may test it more often).
    pub interrupt: AtomicU32,
    /// Nesting of runtime entries into compiled code (0: not running).
    pub depth: u32,
    /// The store while compiled code runs (for trampolines and runtime calls).
    pub store: *mut Store,
    /// Fuel given to the current slice.
    pub fuel_budget: i64,
    /// A trap that carries more than a code (host failure, exit), set by trampolines.
    pub pending: Option<Trap>,
}

/// Offset of [`VmShared::trap_code`].
pub const SHARED_TRAP_CODE: i32 = 0;
/// Offset of [`VmShared::trap_has_loc`].
pub const SHARED_TRAP_HAS_LOC: i32 = 4;
/// Offset of [`VmShared::trap_func`].
pub const SHARED_TRAP_FUNC: i32 = 8;
/// Offset of [`VmShared::trap_offset`].
pub const SHARED_TRAP_OFFSET: i32 = 12;
/// Offset of [`VmShared::stack_limit`].
pub const SHARED_STACK_LIMIT: i32 = 16;
/// Offset of [`VmShared::fuel`].
pub const SHARED_FUEL: i32 = 24;
/// Offset of [`VmShared::interrupt`].
pub const SHARED_INTERRUPT: i32 = 32;

const _: () = {
    assert!(core::mem::offset_of!(VmCtx, mem_len) == VMCTX_MEM_LEN as usize);
    assert!(core::mem::offset_of!(VmCtx, globals) == VMCTX_GLOBALS as usize);
    assert!(core::mem::offset_of!(VmCtx, tables) == VMCTX_TABLES as usize);
    assert!(core::mem::offset_of!(VmCtx, slots) == VMCTX_SLOTS as usize);
    assert!(core::mem::offset_of!(VmCtx, shared) == VMCTX_SHARED as usize);
    assert!(core::mem::size_of::<FuncSlot>() == SLOT_SIZE as usize);
    assert!(core::mem::offset_of!(FuncSlot, vmctx) == SLOT_VMCTX as usize);
    assert!(core::mem::offset_of!(FuncSlot, type_id) == SLOT_TYPE_ID as usize);
    assert!(core::mem::offset_of!(FuncSlot, hotness) == SLOT_HOTNESS as usize);
    assert!(core::mem::size_of::<TableDesc>() == TABLE_DESC_SIZE as usize);
    assert!(core::mem::offset_of!(VmShared, trap_has_loc) == SHARED_TRAP_HAS_LOC as usize);
    assert!(core::mem::offset_of!(VmShared, trap_func) == SHARED_TRAP_FUNC as usize);
    assert!(core::mem::offset_of!(VmShared, trap_offset) == SHARED_TRAP_OFFSET as usize);
    assert!(core::mem::offset_of!(VmShared, stack_limit) == SHARED_STACK_LIMIT as usize);
    assert!(core::mem::offset_of!(VmShared, fuel) == SHARED_FUEL as usize);
    assert!(core::mem::offset_of!(VmShared, interrupt) == SHARED_INTERRUPT as usize);
};

impl VmShared {
    /// Asks running compiled code to stop by the end of its current fuel slice (it traps
    /// "interrupted"). Safe to call from another thread through a shared reference.
    pub fn request_interrupt(&self) {
        self.interrupt.store(1, Ordering::Relaxed);
    }

    /// Clears the trap record.
    pub fn clear_trap(&mut self) {
        self.trap_code = 0;
        self.trap_has_loc = 0;
        self.trap_func = 0;
        self.trap_offset = 0;
        self.pending = None;
    }
}

/// Everything compiled code points into, owned by the store ([`Store::vm`]).
///
/// Addresses of memories, tables and globals move when the store grows them, so the runtime
/// calls [`Store::vm_refresh`] before compiled code runs and after anything that may have moved
/// them (memory/table growth, host calls).
#[derive(Debug)]
pub struct VmState {
    /// The shared record (boxed: its address is in every context).
    pub shared: Box<VmShared>,
    /// The function table, by store function address.
    pub slots: Vec<FuncSlot>,
    /// One context per instance, by instance id (boxed: addresses are stable).
    pub ctxs: Vec<Box<VmCtx>>,
    globals: Vec<Vec<*mut u64>>,
    tables: Vec<Vec<TableDesc>>,
}

// SAFETY: the raw pointers all point into the owning store (or are null); the state moves with
// the store and is only used by whoever holds the store mutably.
unsafe impl Send for VmState {}

impl Default for VmState {
    fn default() -> Self {
        VmState {
            shared: Box::new(VmShared {
                trap_code: 0,
                trap_has_loc: 0,
                trap_func: 0,
                trap_offset: 0,
                stack_limit: 0,
                fuel: AtomicI64::new(0),
                interrupt: AtomicU32::new(0),
                depth: 0,
                store: core::ptr::null_mut(),
                fuel_budget: 0,
                pending: None,
            }),
            slots: Vec::new(),
            ctxs: Vec::new(),
            globals: Vec::new(),
            tables: Vec::new(),
        }
    }
}

impl Store {
    /// Brings [`Store::vm`] up to date with the store: one context per instance, one slot per
    /// function (new slots get a null `code`), and every memory/table/global address.
    pub fn vm_refresh(&mut self) {
        let vm = &mut self.vm;
        let shared: *mut VmShared = &mut *vm.shared;
        let first_new = vm.slots.len();
        while vm.slots.len() < self.funcs.len() {
            let f = &self.funcs[vm.slots.len()];
            vm.slots.push(FuncSlot {
                code: core::ptr::null(),
                vmctx: core::ptr::null_mut(),
                type_id: f.type_id as u64,
                hotness: 0,
            });
        }
        while vm.ctxs.len() < self.instances.len() {
            vm.ctxs.push(Box::new(VmCtx {
                mem_base: core::ptr::null_mut(),
                mem_len: 0,
                globals: core::ptr::null(),
                tables: core::ptr::null(),
                slots: core::ptr::null(),
                shared,
                instance: vm.ctxs.len() as u64,
            }));
            vm.globals.push(Vec::new());
            vm.tables.push(Vec::new());
        }
        for (i, inst) in self.instances.iter().enumerate() {
            let ctx = &mut vm.ctxs[i];
            match inst.memories.first() {
                Some(&m) => {
                    let data = &mut self.memories[m as usize].data;
                    ctx.mem_base = data.as_mut_ptr();
                    ctx.mem_len = data.len() as u64;
                }
                None => {
                    ctx.mem_base = core::ptr::NonNull::dangling().as_ptr();
                    ctx.mem_len = 0;
                }
            }
            let g = &mut vm.globals[i];
            g.clear();
            // From a pointer to the whole `Global`, so that the address also covers `hi`, the
            // upper half of a v128 right after `value`.
            g.extend(inst.globals.iter().map(|&a| {
                let global: *mut Global = &mut self.globals[a as usize];
                global.cast::<u8>().wrapping_add(core::mem::offset_of!(Global, value)).cast::<u64>()
            }));
            ctx.globals = g.as_ptr();
            let t = &mut vm.tables[i];
            t.clear();
            t.extend(inst.tables.iter().map(|&a| {
                let elems = &mut self.tables[a as usize].elems;
                TableDesc { base: elems.as_mut_ptr(), len: elems.len() as u64 }
            }));
            ctx.tables = t.as_ptr();
            ctx.slots = vm.slots.as_ptr();
        }
        for (addr, f) in self.funcs.iter().enumerate().skip(first_new) {
            if let crate::store::FuncKind::Wasm { instance, .. } = f.kind {
                if let Some(ctx) = vm.ctxs.get_mut(instance.0 as usize) {
                    vm.slots[addr].vmctx = &mut **ctx;
                }
            }
        }
    }
}

/// The trap kind of a code stored in [`VmShared::trap_code`] (the inverse of
/// [`crate::TrapKind::code`] for the kinds compiled code raises itself).
pub fn trap_kind_from_code(code: u32) -> crate::TrapKind {
    use crate::TrapKind as K;
    match code {
        1 => K::Unreachable,
        2 => K::MemoryOutOfBounds,
        3 => K::TableOutOfBounds,
        4 => K::IntegerDivideByZero,
        5 => K::IntegerOverflow,
        6 => K::InvalidConversionToInteger,
        7 => K::IndirectCallToNull,
        8 => K::IndirectCallTypeMismatch,
        9 => K::CallStackExhausted,
        10 => K::OutOfFuel,
        11 => K::Interrupted,
        14 => K::UndefinedElement,
        other => K::Host(alloc::format!("compiled code reported unknown trap code {other}")),
    }
}
