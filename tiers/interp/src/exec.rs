//! Execution: one small handler function per instruction, threaded by tail calls.
//!
//! Values live on one heap-allocated value stack; calls push a small record on a heap-allocated
//! frame stack, so wasm recursion never recurses on the native (kernel) stack. Execution charges
//! fuel at function entries and loop headers and returns to the platform between fuel slices.
//!
//! Dispatch: every handler receives the hot state — instruction pointer, frame base, memory
//! base and length — as arguments (registers), does its work and ends by calling the handler of
//! the next instruction in tail position. In optimized builds for targets where LLVM turns such
//! calls into jumps (`cfg(kwasm_tail_dispatch)`, set by build.rs), this is threaded code with one
//! indirect jump per handler, which predicts far better than one shared `match`. Elsewhere (debug
//! builds) handlers return to a loop instead; both run the same handler bodies. As a safety net
//! against a missed tail call, loop headers and calls check that the native stack has not grown.
//!
//! Handlers read slots and linear memory through raw pointers. Its invariants, established
//! by the translator and maintained here, are:
//! - every slot an instruction names is below its function's `frame_size`;
//! - on entry to a function, `base + frame_size <= stack.len()` (the stack grows at calls only,
//!   and every pointer derived from it is refreshed after a call);
//! - `mem`/`mem_len` describe the current instance's memory 0 and are refreshed after anything
//!   that can move or resize it (calls, returns, `memory.grow`, host calls, bulk memory ops);
//! - `ip` always points into the current function's code (it ends in `Return` or a jump);
//!   branch offsets are relative to the instruction after the branch.

use alloc::vec;
use alloc::vec::Vec;

use kwasm_runtime::knobs::Knob;
use kwasm_runtime::store::FuncKind;
use kwasm_runtime::{FuncAddr, InstanceId, Store, Trap, TrapKind};

use crate::code::{Instr, InterpFunc};
use crate::ops;
use crate::Interpreter;

/// A value that lives in a 64-bit slot.
trait SlotVal: Sized {
    fn from_slot(s: u64) -> Self;
    fn to_slot(self) -> u64;
}

macro_rules! slot_int {
    ($($t:ty => $via:ty),*) => {$(
        impl SlotVal for $t {
            #[inline(always)]
            fn from_slot(s: u64) -> Self { s as $via as $t }
            #[inline(always)]
            fn to_slot(self) -> u64 { self as $via as u64 }
        }
    )*};
}
slot_int!(i32 => u32, u32 => u32, i64 => u64, u64 => u64);

impl SlotVal for bool {
    #[inline(always)]
    fn from_slot(s: u64) -> Self {
        s as u32 != 0
    }
    #[inline(always)]
    fn to_slot(self) -> u64 {
        self as u64
    }
}
impl SlotVal for f32 {
    #[inline(always)]
    fn from_slot(s: u64) -> Self {
        f32::from_bits(s as u32)
    }
    #[inline(always)]
    fn to_slot(self) -> u64 {
        self.to_bits() as u64
    }
}
impl SlotVal for f64 {
    #[inline(always)]
    fn from_slot(s: u64) -> Self {
        f64::from_bits(s)
    }
    #[inline(always)]
    fn to_slot(self) -> u64 {
        self.to_bits()
    }
}

struct Frame {
    ret_ip: *const Instr,
    base: usize,
    func: *const InterpFunc,
}

/// Executed after a host function that was tail-called: returns from the current frame.
static RETURN: Instr = Instr::Return {};

/// The (stateless) tier, for compiling callees on first call.
static INTERPRETER: Interpreter = Interpreter;

/// One activation of the interpreter (one embedder call).
pub struct Executor {
    stack: Vec<u64>,
    frames: Vec<Frame>,
    max_stack: usize,
    max_depth: usize,
    /// Fuel given to the current slice, and what is left of it.
    slice_budget: i64,
    slice_left: i64,
    /// Frame base of the running function (kept out of the hot loop's registers).
    base: usize,
    /// Instance of the running function.
    inst: InstanceId,
    /// The running instance's globals.
    globals: Globals,
    /// Whether the store's tier manager is active: callees may run in other tiers, and calls
    /// and loop iterations are counted (see `kwasm_runtime::tiering`).
    managed: bool,
}

/// Result of looking up a callee.
enum Callee {
    Wasm(*const InterpFunc),
    Host(FuncAddr),
    /// A wasm function the tier manager runs in a compiled tier.
    Compiled(FuncAddr),
}

const INITIAL_STACK: usize = 1024;

impl Executor {
    /// Prepares an activation with the store's limits.
    pub fn new(store: &Store) -> Self {
        let max_stack = store.knobs.get(Knob::MaxValueStack) as usize;
        Executor {
            stack: vec![0; INITIAL_STACK.min(max_stack)],
            frames: Vec::new(),
            max_stack,
            max_depth: store.knobs.get(Knob::MaxCallDepth) as usize,
            slice_budget: 0,
            slice_left: 0,
            base: 0,
            inst: InstanceId(0),
            globals: Globals { addrs: core::ptr::null(), values: core::ptr::null_mut() },
            managed: store.tiering.is_active(),
        }
    }

    fn callee(&self, store: &Store, addr: FuncAddr) -> Result<Callee, Trap> {
        match store.funcs[addr as usize].kind {
            FuncKind::Host(_) => Ok(Callee::Host(addr)),
            FuncKind::Wasm { .. } => {
                let code = store.code(addr, &INTERPRETER).map_err(|e| Trap::host(alloc::format!("{e}")))?;
                let f = code
                    .downcast_ref::<InterpFunc>()
                    .ok_or_else(|| Trap::host("compiled code of another tier in the interpreter slot"))?;
                // The code is owned by the store's write-once slot and lives as long as the store.
                Ok(Callee::Wasm(f as *const InterpFunc))
            }
        }
    }

    /// Makes sure the stack holds a frame of `f` at `base` and zeroes its non-parameter locals.
    fn enter_frame(&mut self, base: usize, f: &InterpFunc) -> Result<(), TrapKind> {
        self.ensure_stack(base + f.frame_size as usize)?;
        self.stack[base + f.num_params as usize..base + f.num_locals as usize].fill(0);
        Ok(())
    }

    /// Grows the value stack to at least `need` slots (within `max_value_stack`).
    fn ensure_stack(&mut self, need: usize) -> Result<(), TrapKind> {
        if need > self.stack.len() {
            if need > self.max_stack {
                return Err(TrapKind::CallStackExhausted);
            }
            let new_len = need.max(self.stack.len() * 2).min(self.max_stack);
            if self.stack.try_reserve_exact(new_len - self.stack.len()).is_err() {
                return Err(TrapKind::CallStackExhausted);
            }
            self.stack.resize(new_len, 0);
        }
        Ok(())
    }

    /// Ends the current fuel slice and starts the next (see [`Store::next_fuel_slice`]).
    fn refuel(&mut self, store: &mut Store) -> Result<(), TrapKind> {
        let used = (self.slice_budget - self.slice_left).max(0) as u64;
        self.slice_budget = 0;
        self.slice_left = 0;
        let budget = store.next_fuel_slice(used)? as i64;
        self.slice_budget = budget;
        self.slice_left = budget;
        Ok(())
    }

    /// Accounts the fuel of the unfinished slice.
    fn flush_fuel(&mut self, store: &mut Store) {
        let used = (self.slice_budget - self.slice_left).max(0) as u64;
        // Running out exactly here is reported by the next slice, not by a finished call.
        let _ = store.account_fuel(used);
        self.slice_budget = 0;
        self.slice_left = 0;
    }

    /// Calls `func` with `args`, writing `results`.
    pub fn invoke(&mut self, store: &mut Store, func: FuncAddr, args: &[u64], results: &mut [u64]) -> Result<(), Trap> {
        let entry = match self.callee(store, func)? {
            Callee::Host(addr) => return store.call_host(addr, None, args, results),
            Callee::Compiled(addr) => return kwasm_runtime::tiering::call_compiled(store, addr, args, results),
            Callee::Wasm(f) => f,
        };
        // SAFETY: `entry` points into code owned by the store (see `callee`).
        let f = unsafe { &*entry };
        self.stack[..args.len()].copy_from_slice(args);
        self.enter_frame(0, f).map_err(|k| Trap::at(k, f.func_index, 0))?;
        let r = self.refuel(store).map_err(Trap::new).and_then(|()| self.run(store, entry));
        self.flush_fuel(store);
        r?;
        results.copy_from_slice(&self.stack[..results.len()]);
        Ok(())
    }

    fn run(&mut self, store: &mut Store, entry: *const InterpFunc) -> Result<(), Trap> {
        // SAFETY: `entry` is owned by the store (see `callee`).
        let f = unsafe { &*entry };
        self.base = 0;
        self.inst = f.instance;
        self.globals = Globals::of(store, self.inst);
        let (mem, mem_len) = memory_of(store, self.inst);
        let bp = self.stack.as_mut_ptr();
        let ip: Ip = f.code.as_ptr();
        self.slice_left -= f.entry_fuel as i64;
        let managed = self.managed;
        let mut cx =
            Cx { ex: self, store, f: entry, trap: None, ip, bp, mem, mem_len, native_sp: native_sp(), managed };
        if cx.ex().slice_left < 0 {
            if let Err(k) = cx.refuel() {
                let _ = cx.trap(k, ip);
                return Err(cx.trap.take().unwrap_or_else(|| Trap::new(TrapKind::OutOfFuel)));
            }
        }
        #[cfg(kwasm_tail_dispatch)]
        let exit = handler_of(ip)(ip, bp, mem, mem_len, &mut cx);
        #[cfg(not(kwasm_tail_dispatch))]
        let exit = loop {
            let (ip, bp, mem, mem_len) = (cx.ip, cx.bp, cx.mem, cx.mem_len);
            match handler_of(ip)(ip, bp, mem, mem_len, &mut cx) {
                Exit::Continue => {}
                other => break other,
            }
        };
        match exit {
            Exit::Done => Ok(()),
            _ => Err(cx.trap.take().unwrap_or_else(|| Trap::host("interpreter stopped without a reason"))),
        }
    }

    /// Moves the arguments of a tail call of `addr` from `src` to the start of the current frame.
    fn move_tail_args(&mut self, store: &Store, addr: FuncAddr, src: usize) {
        let np = store.funcs[addr as usize].ty.param_slots();
        let base = self.base;
        self.stack.copy_within(base + src..base + src + np, base);
    }
}

/// Base pointer and length of memory 0 of `inst` (dangling and 0 when it has none).
fn memory_of(store: &mut Store, inst: InstanceId) -> (*mut u8, usize) {
    match store.instances[inst.0 as usize].memories.first() {
        Some(&m) => {
            let data = &mut store.memories[m as usize].data;
            (data.as_mut_ptr(), data.len())
        }
        None => (core::ptr::NonNull::dangling().as_ptr(), 0),
    }
}

/// Per-opcode execution counts (feature `op-stats`).
#[cfg(feature = "op-stats")]
pub mod stats {
    use core::sync::atomic::{AtomicU64, Ordering};

    use crate::code::Instr;

    static COUNTS: [AtomicU64; 256] = [const { AtomicU64::new(0) }; 256];
    static NAMES: [core::sync::atomic::AtomicPtr<u8>; 256] =
        [const { core::sync::atomic::AtomicPtr::new(core::ptr::null_mut()) }; 256];
    static LENS: [AtomicU64; 256] = [const { AtomicU64::new(0) }; 256];

    pub(crate) fn count(i: &Instr) {
        let op = i.opcode() as usize;
        if COUNTS[op].fetch_add(1, Ordering::Relaxed) == 0 {
            let n = i.name();
            NAMES[op].store(n.as_ptr() as *mut u8, Ordering::Relaxed);
            LENS[op].store(n.len() as u64, Ordering::Relaxed);
        }
    }

    /// (name, count) of every executed opcode, most frequent first.
    pub fn snapshot() -> alloc::vec::Vec<(&'static str, u64)> {
        let mut v = alloc::vec::Vec::new();
        for op in 0..256 {
            let c = COUNTS[op].load(Ordering::Relaxed);
            if c > 0 {
                let p = NAMES[op].load(Ordering::Relaxed);
                let len = LENS[op].load(Ordering::Relaxed) as usize;
                // SAFETY: `p`/`len` come from a `&'static str` stored by `count`.
                let name = unsafe { core::str::from_utf8_unchecked(core::slice::from_raw_parts(p, len)) };
                v.push((name, c));
            }
        }
        v.sort_by(|a, b| b.1.cmp(&a.1));
        v
    }
}

/// Module offset of the instruction at `ip`, for trap locations.
fn offset_at(f: &InterpFunc, ip: *const Instr) -> u32 {
    let start = f.code.as_ptr() as usize;
    let pc = (ip as usize).wrapping_sub(start) / core::mem::size_of::<Instr>();
    f.offsets.get(pc).copied().unwrap_or(0)
}

/// Direct access to the running instance's globals: its global address table and the store's
/// global vector. Neither moves during execution (globals are only added by instantiation); the
/// executor refreshes this after host calls anyway.
struct Globals {
    addrs: *const u32,
    values: *mut kwasm_runtime::store::Global,
}

impl Globals {
    fn of(store: &mut Store, inst: InstanceId) -> Globals {
        Globals { addrs: store.instances[inst.0 as usize].globals.as_ptr(), values: store.globals.as_mut_ptr() }
    }

    #[inline(always)]
    fn get(&self, index: u32) -> u64 {
        // SAFETY: validation guarantees `index` < the instance's global count, and instantiation
        // made every address valid in the store's vector.
        unsafe { (*self.values.add(*self.addrs.add(index as usize) as usize)).value }
    }

    #[inline(always)]
    fn set(&self, index: u32, v: u64) {
        // SAFETY: as for `get`.
        unsafe { (*self.values.add(*self.addrs.add(index as usize) as usize)).value = v }
    }

    /// The value of a v128 global.
    fn get128(&self, index: u32) -> u128 {
        // SAFETY: as for `get`.
        unsafe { (*self.values.add(*self.addrs.add(index as usize) as usize)).value128() }
    }

    /// Sets a v128 global.
    fn set128(&self, index: u32, v: u128) {
        // SAFETY: as for `get`.
        let g = unsafe { &mut *self.values.add(*self.addrs.add(index as usize) as usize) };
        g.value = v as u64;
        g.hi = (v >> 64) as u64;
    }
}

/// Pointer to the current instruction.
pub(crate) type Ip = *const Instr;

/// How a handler finished.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Exit {
    /// The outermost function returned.
    Done,
    /// A trap (or exit) is in [`Cx::trap`].
    Trapped,
    /// Loop backend only: continue with the state saved in the [`Cx`].
    #[allow(dead_code)]
    Continue,
}

/// A handler: executes the instruction at `ip`, then (tail-)dispatches to the next one.
pub(crate) type Handler = fn(Ip, *mut u64, *mut u8, usize, &mut Cx) -> Exit;

/// The cold state of a run, reached through one pointer: the executor, the store, the running
/// function, and the trap that ended the run.
pub(crate) struct Cx {
    ex: *mut Executor,
    store: *mut Store,
    f: *const InterpFunc,
    trap: Option<Trap>,
    // Hot state: saved here by the loop backend, and by calls on their way to the callee.
    ip: Ip,
    bp: *mut u64,
    mem: *mut u8,
    mem_len: usize,
    /// Native stack pointer when the run started (safety net against missed tail calls).
    native_sp: usize,
    /// Copy of [`Executor::managed`].
    managed: bool,
}

/// Native stack growth (bytes) beyond which a run is stopped: handlers must not nest.
const MAX_NATIVE_GROWTH: usize = 64 * 1024;

/// The native stack pointer, read without taking the address of a local (an address-taken local
/// would keep LLVM from turning the handlers' tail calls into jumps).
#[inline(always)]
fn native_sp() -> usize {
    let sp: usize;
    #[cfg(target_arch = "x86_64")]
    // SAFETY: reads a register; no memory access, no side effects.
    unsafe {
        core::arch::asm!("mov {}, rsp", out(reg) sp, options(nomem, nostack, preserves_flags))
    };
    #[cfg(target_arch = "aarch64")]
    // SAFETY: as above.
    unsafe {
        core::arch::asm!("mov {}, sp", out(reg) sp, options(nomem, nostack, preserves_flags))
    };
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        // Only the loop backend runs here; handlers never nest, so there is nothing to check.
        sp = 0;
    }
    sp
}

impl Cx {
    #[inline(always)]
    fn ex(&mut self) -> &mut Executor {
        // SAFETY: `ex` comes from the `&mut Executor` that `run` holds for the whole run, and no
        // other reference to it is used while the run lasts.
        unsafe { &mut *self.ex }
    }

    #[inline(always)]
    fn both(&mut self) -> (&mut Executor, &mut Store) {
        // SAFETY: as for `ex`, with the `&mut Store` given to `run`; store and executor are
        // distinct objects, so the two references never alias.
        unsafe { (&mut *self.ex, &mut *self.store) }
    }

    #[inline(always)]
    fn f(&self) -> &'static InterpFunc {
        // SAFETY: the running function is owned by the store, which outlives the run.
        unsafe { &*self.f }
    }

    /// Records a trap at `ip` and ends the run.
    #[cold]
    #[inline(never)]
    fn trap(&mut self, kind: TrapKind, ip: Ip) -> Exit {
        let f = self.f();
        self.trap = Some(Trap::at(kind, f.func_index, offset_at(f, ip)));
        Exit::Trapped
    }

    #[cold]
    #[inline(never)]
    fn fail(&mut self, t: Trap) -> Exit {
        self.trap = Some(t);
        Exit::Trapped
    }

    #[cold]
    #[inline(never)]
    fn refuel(&mut self) -> Result<(), TrapKind> {
        let (ex, store) = self.both();
        ex.refuel(store)
    }

    /// Counts a loop iteration of the running function for the tier manager. Out of line and
    /// cold so that the `Fuel` handler of single-tier runs only pays for the flag test.
    #[cold]
    #[inline(never)]
    fn count_loop(&mut self) {
        let addr = self.f().addr;
        // SAFETY: as for `both`.
        kwasm_runtime::tiering::count_loop(unsafe { &mut *self.store }, addr);
    }

    /// Charges `n` fuel units; `Err` ends the run.
    #[inline(always)]
    fn fuel(&mut self, n: u32, ip: Ip) -> Result<(), Exit> {
        let ex = self.ex();
        ex.slice_left -= n as i64;
        if ex.slice_left < 0 {
            if let Err(k) = self.refuel() {
                return Err(self.trap(k, ip));
            }
        }
        if self.native_sp.wrapping_sub(native_sp()) > MAX_NATIVE_GROWTH {
            return Err(self.trap(TrapKind::CallStackExhausted, ip));
        }
        Ok(())
    }
}

#[inline(always)]
fn handler_of(ip: Ip) -> Handler {
    // SAFETY: `ip` points at a valid instruction (module docs).
    let op = unsafe { (*ip).opcode() };
    crate::code::HANDLERS[op as usize]
}

#[inline(always)]
fn next(ip: Ip) -> Ip {
    // SAFETY: code ends in `Return` or a jump, so `ip + 1` is in bounds when it is executed.
    unsafe { ip.add(1) }
}

#[inline(always)]
fn jump(ip: Ip, rel: u32) -> Ip {
    // SAFETY: the translator made every branch offset, relative to the next instruction, land
    // inside the current code.
    unsafe { ip.add(1).offset(rel as i32 as isize) }
}

macro_rules! dispatch {
    ($ip:expr, $bp:ident, $mem:ident, $len:ident, $cx:ident) => {{
        let ip: Ip = $ip;
        #[cfg(feature = "op-stats")]
        stats::count(
            // SAFETY: `ip` points at a valid instruction.
            unsafe { &*ip },
        );
        #[cfg(kwasm_tail_dispatch)]
        {
            return handler_of(ip)(ip, $bp, $mem, $len, $cx);
        }
        #[cfg(not(kwasm_tail_dispatch))]
        {
            $cx.ip = ip;
            $cx.bp = $bp;
            $cx.mem = $mem;
            $cx.mem_len = $len;
            return Exit::Continue;
        }
    }};
}

macro_rules! r {
    ($bp:ident, $s:expr) => {
        // SAFETY: slot < frame_size and base + frame_size <= stack.len() (module docs).
        unsafe { *$bp.add($s as usize) }
    };
}

macro_rules! w {
    ($bp:ident, $s:expr, $v:expr) => {{
        let v: u64 = $v;
        // SAFETY: as for `r!`.
        unsafe { *$bp.add($s as usize) = v }
    }};
}

macro_rules! bin {
    ($bp:ident, $dst:expr, $a:expr, $b:expr, $op:expr) => {{
        let op = $op;
        let v = op(SlotVal::from_slot(r!($bp, $a)), SlotVal::from_slot(r!($bp, $b)));
        w!($bp, $dst, SlotVal::to_slot(v));
    }};
}

macro_rules! bin_trap {
    ($ip:ident, $bp:ident, $cx:ident, $dst:expr, $a:expr, $b:expr, $op:expr) => {{
        let op = $op;
        match op(SlotVal::from_slot(r!($bp, $a)), SlotVal::from_slot(r!($bp, $b))) {
            Ok(v) => w!($bp, $dst, SlotVal::to_slot(v)),
            Err(k) => return $cx.trap(k, $ip),
        }
    }};
}

macro_rules! un {
    ($bp:ident, $dst:expr, $src:expr, $op:expr) => {{
        let op = $op;
        let v = op(SlotVal::from_slot(r!($bp, $src)));
        w!($bp, $dst, SlotVal::to_slot(v));
    }};
}

macro_rules! un_trap {
    ($ip:ident, $bp:ident, $cx:ident, $dst:expr, $src:expr, $op:expr) => {{
        let op = $op;
        match op(SlotVal::from_slot(r!($bp, $src))) {
            Ok(v) => w!($bp, $dst, SlotVal::to_slot(v)),
            Err(k) => return $cx.trap(k, $ip),
        }
    }};
}

macro_rules! effective {
    ($ip:ident, $bp:ident, $len:ident, $cx:ident, $addr:expr, $offset:expr, $n:expr) => {{
        let ea = (r!($bp, $addr) as u32 as u64) + $offset as u64;
        if ea + $n > $len as u64 {
            return $cx.trap(TrapKind::MemoryOutOfBounds, $ip);
        }
        ea as usize
    }};
}

macro_rules! load {
    ($ip:ident, $bp:ident, $mem:ident, $len:ident, $cx:ident, $dst:expr, $addr:expr, $offset:expr, $n:literal, $conv:expr) => {{
        let ea = effective!($ip, $bp, $len, $cx, $addr, $offset, $n);
        // SAFETY: `ea + n <= mem_len` was checked and `mem` holds `mem_len` bytes.
        let bytes: [u8; $n] = unsafe { core::ptr::read_unaligned($mem.add(ea) as *const [u8; $n]) };
        let conv = $conv;
        w!($bp, $dst, SlotVal::to_slot(conv(bytes)));
    }};
}

macro_rules! store {
    ($ip:ident, $bp:ident, $mem:ident, $len:ident, $cx:ident, $addr:expr, $val:expr, $offset:expr, $n:literal, $conv:expr) => {{
        let ea = effective!($ip, $bp, $len, $cx, $addr, $offset, $n);
        let conv = $conv;
        let bytes: [u8; $n] = conv(r!($bp, $val));
        // SAFETY: `ea + n <= mem_len` was checked and `mem` holds `mem_len` bytes.
        unsafe { core::ptr::write_unaligned($mem.add(ea) as *mut [u8; $n], bytes) };
    }};
}

/// Defines the handler of one instruction variant: binds its fields, runs the body.
macro_rules! handler {
    ($name:ident { $($field:ident),* } ($ip:ident, $bp:ident, $mem:ident, $len:ident, $cx:ident) $body:block) => {
        #[allow(non_snake_case, unused_variables, unused_mut, unreachable_code, clippy::all)]
        pub(crate) fn $name(mut $ip: Ip, mut $bp: *mut u64, mut $mem: *mut u8, mut $len: usize, $cx: &mut Cx) -> Exit {
            // SAFETY: `HANDLERS` maps every opcode to the handler of its own variant.
            let Instr::$name { $($field),* } = (unsafe { *$ip }) else {
                // SAFETY: see above.
                unsafe { core::hint::unreachable_unchecked() }
            };
            $body
        }
    };
}

/// Switches to `callee` with its frame at `new_base` (`tail`: replacing the current frame).
/// Returns the new (ip, bp, mem, mem_len) or the exit of a trap.
#[inline(always)]
fn enter_wasm(
    cx: &mut Cx,
    ip: Ip,
    callee: *const InterpFunc,
    new_base: usize,
    tail: bool,
    mem: (*mut u8, usize),
) -> Result<(Ip, *mut u64, *mut u8, usize), Exit> {
    // SAFETY: owned by the store (see `callee`).
    let cf: &'static InterpFunc = unsafe { &*callee };
    let caller = cx.f;
    let ex = cx.ex();
    if !tail {
        if ex.frames.len() >= ex.max_depth {
            return Err(cx.trap(TrapKind::CallStackExhausted, ip));
        }
        let base = ex.base;
        ex.frames.push(Frame { ret_ip: next(ip), base, func: caller });
    }
    if let Err(k) = ex.enter_frame(new_base, cf) {
        if !tail {
            ex.frames.pop();
        }
        return Err(cx.trap(k, ip));
    }
    ex.base = new_base;
    let bp = ex.stack.as_mut_ptr().wrapping_add(new_base);
    let mut mem = mem;
    if cf.instance != ex.inst {
        let (ex, store) = cx.both();
        ex.inst = cf.instance;
        ex.globals = Globals::of(store, ex.inst);
        mem = memory_of(store, ex.inst);
    }
    cx.f = cf;
    let entry: Ip = cf.code.as_ptr();
    cx.fuel(cf.entry_fuel, entry)?;
    Ok((entry, bp, mem.0, mem.1))
}

/// Calls host function `addr` with its arguments at frame slot `new_base`; results land there.
/// Returns the refreshed (bp, mem, mem_len).
#[inline(never)]
fn call_host(cx: &mut Cx, ip: Ip, addr: FuncAddr, new_base: usize) -> Result<(*mut u64, *mut u8, usize), Exit> {
    let (ex, store) = cx.both();
    let ty = store.funcs[addr as usize].ty.clone();
    let (np, nr) = (ty.param_slots(), ty.result_slots());
    if new_base + np.max(nr) > ex.stack.len() {
        return Err(cx.trap(TrapKind::CallStackExhausted, ip));
    }
    let args: Vec<u64> = ex.stack[new_base..new_base + np].to_vec();
    let mut res = vec![0u64; nr];
    let inst = ex.inst;
    if let Err(t) = store.call_host(addr, Some(inst), &args, &mut res) {
        return Err(call_trap_at(cx, ip, t));
    }
    Ok(after_call(cx, new_base, &res))
}

/// A trap from a call made at `ip`: located at the call site if the callee gave no location
/// (host functions, runtime errors); `proc_exit` carries none.
fn call_trap_at(cx: &mut Cx, ip: Ip, mut t: Trap) -> Exit {
    if t.func.is_none() && !matches!(t.kind, TrapKind::Exit(_)) {
        let f = cx.f();
        t.func = Some(f.func_index);
        t.offset = Some(offset_at(f, ip));
    }
    cx.fail(t)
}

/// Puts a finished call's results at frame slot `new_base` and returns the refreshed (bp, mem,
/// mem_len): the callee may have grown memory or changed globals' storage.
fn after_call(cx: &mut Cx, new_base: usize, res: &[u64]) -> (*mut u64, *mut u8, usize) {
    let (ex, store) = cx.both();
    ex.stack[new_base..new_base + res.len()].copy_from_slice(res);
    ex.globals = Globals::of(store, ex.inst);
    let bp = ex.stack.as_mut_ptr().wrapping_add(ex.base);
    let (mem, len) = memory_of(store, ex.inst);
    (bp, mem, len)
}

/// Calls wasm function `addr`, which the tier manager runs in a compiled tier, with its
/// arguments at frame slot `new_base`; results land there. The interpreter's fuel slice ends
/// before the call and a new one starts after it. Returns the refreshed (bp, mem, mem_len).
#[inline(never)]
fn call_compiled(cx: &mut Cx, ip: Ip, addr: FuncAddr, new_base: usize) -> Result<(*mut u64, *mut u8, usize), Exit> {
    let (ex, store) = cx.both();
    let ty = store.funcs[addr as usize].ty.clone();
    let (np, nr) = (ty.param_slots(), ty.result_slots());
    if let Err(k) = ex.ensure_stack(new_base + np.max(nr)) {
        return Err(cx.trap(k, ip));
    }
    let args: Vec<u64> = ex.stack[new_base..new_base + np].to_vec();
    let mut res = vec![0u64; nr];
    ex.flush_fuel(store);
    let r = kwasm_runtime::tiering::call_compiled(store, addr, &args, &mut res);
    let r = r.and_then(|()| ex.refuel(store).map_err(Trap::new));
    if let Err(t) = r {
        return Err(call_trap_at(cx, ip, t));
    }
    Ok(after_call(cx, new_base, &res))
}

/// The function a `call_indirect` reaches, after its checks.
#[inline(never)]
fn indirect_target(cx: &mut Cx, ip: Ip, bp: *mut u64, index: u32, aux: u32) -> Result<FuncAddr, Exit> {
    let f = cx.f();
    let (type_index, table_index) = f.indirect[aux as usize];
    let (ex, store) = cx.both();
    let idata = store.instance(ex.inst);
    let table = &store.tables[idata.tables[table_index as usize] as usize];
    let i = r!(bp, index) as u32 as usize;
    let Some(&raw) = table.elems.get(i) else { return Err(cx.trap(TrapKind::UndefinedElement, ip)) };
    if raw == 0 {
        return Err(cx.trap(TrapKind::IndirectCallToNull, ip));
    }
    let addr = (raw - 1) as FuncAddr;
    if store.funcs[addr as usize].type_id != idata.type_ids[type_index as usize] {
        return Err(cx.trap(TrapKind::IndirectCallTypeMismatch, ip));
    }
    Ok(addr)
}

/// The callee `addr` as the interpreter calls it. With the tier manager active, a function in a
/// compiled tier is called there, except by a tail call: a call into compiled code cannot
/// replace the interpreter's frame, so an unbounded chain of tail calls across tiers would grow
/// the native stack. The interpreter runs tail-called functions itself when it can translate
/// them (the chain then stays in this activation, as in a single-tier run).
#[inline(always)]
fn resolve(cx: &mut Cx, addr: FuncAddr, tail: bool) -> Result<Callee, Exit> {
    let (ex, store) = cx.both();
    if ex.managed && matches!(store.funcs[addr as usize].kind, FuncKind::Wasm { .. }) {
        match kwasm_runtime::tiering::on_interp_call(store, addr) {
            Ok(kwasm_runtime::tier::TierId::Interp) => {}
            Ok(_) if tail => {
                if let Ok(c) = ex.callee(store, addr) {
                    return Ok(c);
                }
                return Ok(Callee::Compiled(addr));
            }
            Ok(_) => return Ok(Callee::Compiled(addr)),
            Err(t) => return Err(cx.fail(t)),
        }
    }
    match ex.callee(store, addr) {
        Ok(c) => Ok(c),
        Err(t) => Err(cx.fail(t)),
    }
}

/// Performs a call or tail call of `addr` with arguments at `new_base` and leaves the state to
/// continue with in `cx.ip/bp/mem/mem_len`; `false` means the run ends (trap recorded).
///
/// Kept out of line, with only scalar arguments and a scalar result, so that the calling handler
/// has no address-taken locals and its dispatch stays a jump.
#[inline(never)]
fn call_into(cx: &mut Cx, ip: Ip, addr: FuncAddr, new_base: usize, tail: bool, mem: *mut u8, mem_len: usize) -> bool {
    let r = match resolve(cx, addr, tail) {
        Err(_) => return false,
        Ok(Callee::Wasm(cf)) => enter_wasm(cx, ip, cf, new_base, tail, (mem, mem_len)),
        Ok(Callee::Host(h)) => call_host(cx, ip, h, new_base).map(|(bp, mem, len)| {
            let after: Ip = if tail { &RETURN } else { next(ip) };
            (after, bp, mem, len)
        }),
        Ok(Callee::Compiled(c)) => call_compiled(cx, ip, c, new_base).map(|(bp, mem, len)| {
            let after: Ip = if tail { &RETURN } else { next(ip) };
            (after, bp, mem, len)
        }),
    };
    match r {
        Ok((ip, bp, mem, mem_len)) => {
            (cx.ip, cx.bp, cx.mem, cx.mem_len) = (ip, bp, mem, mem_len);
            true
        }
        Err(_) => false,
    }
}

/// Call or tail call of `addr` with arguments at `new_base`.
macro_rules! do_call {
    ($ip:ident, $bp:ident, $mem:ident, $len:ident, $cx:ident, $addr:expr, $new_base:expr, $tail:expr) => {{
        if !call_into($cx, $ip, $addr, $new_base, $tail, $mem, $len) {
            return Exit::Trapped;
        }
        let (ip2, bp2, mem2, len2) = ($cx.ip, $cx.bp, $cx.mem, $cx.mem_len);
        dispatch!(ip2, bp2, mem2, len2, $cx)
    }};
}

/// The handlers, one per instruction variant (see `code::HANDLERS` for the table).
mod simd_handlers;

pub(crate) mod handlers {
    use super::*;

    pub(crate) use super::simd_handlers::*;

    handler!(I32Eq { dst, a, b } (ip, bp, mem, mem_len, cx) {
        bin!(bp, dst, a, b, |x: u32, y: u32| x == y);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I32Ne { dst, a, b } (ip, bp, mem, mem_len, cx) {
        bin!(bp, dst, a, b, |x: u32, y: u32| x != y);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I32LtS { dst, a, b } (ip, bp, mem, mem_len, cx) {
        bin!(bp, dst, a, b, |x: i32, y: i32| x < y);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I32LtU { dst, a, b } (ip, bp, mem, mem_len, cx) {
        bin!(bp, dst, a, b, |x: u32, y: u32| x < y);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I32GtS { dst, a, b } (ip, bp, mem, mem_len, cx) {
        bin!(bp, dst, a, b, |x: i32, y: i32| x > y);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I32GtU { dst, a, b } (ip, bp, mem, mem_len, cx) {
        bin!(bp, dst, a, b, |x: u32, y: u32| x > y);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I32LeS { dst, a, b } (ip, bp, mem, mem_len, cx) {
        bin!(bp, dst, a, b, |x: i32, y: i32| x <= y);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I32LeU { dst, a, b } (ip, bp, mem, mem_len, cx) {
        bin!(bp, dst, a, b, |x: u32, y: u32| x <= y);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I32GeS { dst, a, b } (ip, bp, mem, mem_len, cx) {
        bin!(bp, dst, a, b, |x: i32, y: i32| x >= y);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I32GeU { dst, a, b } (ip, bp, mem, mem_len, cx) {
        bin!(bp, dst, a, b, |x: u32, y: u32| x >= y);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I64Eq { dst, a, b } (ip, bp, mem, mem_len, cx) {
        bin!(bp, dst, a, b, |x: u64, y: u64| x == y);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I64Ne { dst, a, b } (ip, bp, mem, mem_len, cx) {
        bin!(bp, dst, a, b, |x: u64, y: u64| x != y);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I64LtS { dst, a, b } (ip, bp, mem, mem_len, cx) {
        bin!(bp, dst, a, b, |x: i64, y: i64| x < y);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I64LtU { dst, a, b } (ip, bp, mem, mem_len, cx) {
        bin!(bp, dst, a, b, |x: u64, y: u64| x < y);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I64GtS { dst, a, b } (ip, bp, mem, mem_len, cx) {
        bin!(bp, dst, a, b, |x: i64, y: i64| x > y);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I64GtU { dst, a, b } (ip, bp, mem, mem_len, cx) {
        bin!(bp, dst, a, b, |x: u64, y: u64| x > y);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I64LeS { dst, a, b } (ip, bp, mem, mem_len, cx) {
        bin!(bp, dst, a, b, |x: i64, y: i64| x <= y);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I64LeU { dst, a, b } (ip, bp, mem, mem_len, cx) {
        bin!(bp, dst, a, b, |x: u64, y: u64| x <= y);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I64GeS { dst, a, b } (ip, bp, mem, mem_len, cx) {
        bin!(bp, dst, a, b, |x: i64, y: i64| x >= y);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I64GeU { dst, a, b } (ip, bp, mem, mem_len, cx) {
        bin!(bp, dst, a, b, |x: u64, y: u64| x >= y);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(F32Eq { dst, a, b } (ip, bp, mem, mem_len, cx) {
        bin!(bp, dst, a, b, |x: f32, y: f32| x == y);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(F32Ne { dst, a, b } (ip, bp, mem, mem_len, cx) {
        bin!(bp, dst, a, b, |x: f32, y: f32| x != y);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(F32Lt { dst, a, b } (ip, bp, mem, mem_len, cx) {
        bin!(bp, dst, a, b, |x: f32, y: f32| x < y);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(F32Gt { dst, a, b } (ip, bp, mem, mem_len, cx) {
        bin!(bp, dst, a, b, |x: f32, y: f32| x > y);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(F32Le { dst, a, b } (ip, bp, mem, mem_len, cx) {
        bin!(bp, dst, a, b, |x: f32, y: f32| x <= y);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(F32Ge { dst, a, b } (ip, bp, mem, mem_len, cx) {
        bin!(bp, dst, a, b, |x: f32, y: f32| x >= y);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(F64Eq { dst, a, b } (ip, bp, mem, mem_len, cx) {
        bin!(bp, dst, a, b, |x: f64, y: f64| x == y);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(F64Ne { dst, a, b } (ip, bp, mem, mem_len, cx) {
        bin!(bp, dst, a, b, |x: f64, y: f64| x != y);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(F64Lt { dst, a, b } (ip, bp, mem, mem_len, cx) {
        bin!(bp, dst, a, b, |x: f64, y: f64| x < y);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(F64Gt { dst, a, b } (ip, bp, mem, mem_len, cx) {
        bin!(bp, dst, a, b, |x: f64, y: f64| x > y);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(F64Le { dst, a, b } (ip, bp, mem, mem_len, cx) {
        bin!(bp, dst, a, b, |x: f64, y: f64| x <= y);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(F64Ge { dst, a, b } (ip, bp, mem, mem_len, cx) {
        bin!(bp, dst, a, b, |x: f64, y: f64| x >= y);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I32Add { dst, a, b } (ip, bp, mem, mem_len, cx) {
        bin!(bp, dst, a, b, |x: u32, y: u32| x.wrapping_add(y));
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I32Sub { dst, a, b } (ip, bp, mem, mem_len, cx) {
        bin!(bp, dst, a, b, |x: u32, y: u32| x.wrapping_sub(y));
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I32Mul { dst, a, b } (ip, bp, mem, mem_len, cx) {
        bin!(bp, dst, a, b, |x: u32, y: u32| x.wrapping_mul(y));
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I32DivS { dst, a, b } (ip, bp, mem, mem_len, cx) {
        bin_trap!(ip, bp, cx, dst, a, b, |x: i32, y: i32| match y {
                        0 => Err(TrapKind::IntegerDivideByZero),
                        -1 if x == i32::MIN => Err(TrapKind::IntegerOverflow),
                        _ => Ok(x / y),
                    });
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I32DivU { dst, a, b } (ip, bp, mem, mem_len, cx) {
        bin_trap!(ip, bp, cx, dst, a, b, |x: u32, y: u32| x.checked_div(y).ok_or(TrapKind::IntegerDivideByZero));
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I32RemS { dst, a, b } (ip, bp, mem, mem_len, cx) {
        bin_trap!(ip, bp, cx, dst, a, b, |x: i32, y: i32| if y == 0 {
                        Err(TrapKind::IntegerDivideByZero)
                    } else {
                        Ok(x.wrapping_rem(y))
                    });
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I32RemU { dst, a, b } (ip, bp, mem, mem_len, cx) {
        bin_trap!(ip, bp, cx, dst, a, b, |x: u32, y: u32| x.checked_rem(y).ok_or(TrapKind::IntegerDivideByZero));
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I32And { dst, a, b } (ip, bp, mem, mem_len, cx) {
        bin!(bp, dst, a, b, |x: u32, y: u32| x & y);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I32Or { dst, a, b } (ip, bp, mem, mem_len, cx) {
        bin!(bp, dst, a, b, |x: u32, y: u32| x | y);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I32Xor { dst, a, b } (ip, bp, mem, mem_len, cx) {
        bin!(bp, dst, a, b, |x: u32, y: u32| x ^ y);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I32Shl { dst, a, b } (ip, bp, mem, mem_len, cx) {
        bin!(bp, dst, a, b, |x: u32, y: u32| x.wrapping_shl(y));
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I32ShrS { dst, a, b } (ip, bp, mem, mem_len, cx) {
        bin!(bp, dst, a, b, |x: i32, y: u32| x.wrapping_shr(y));
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I32ShrU { dst, a, b } (ip, bp, mem, mem_len, cx) {
        bin!(bp, dst, a, b, |x: u32, y: u32| x.wrapping_shr(y));
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I32Rotl { dst, a, b } (ip, bp, mem, mem_len, cx) {
        bin!(bp, dst, a, b, |x: u32, y: u32| x.rotate_left(y % 32));
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I32Rotr { dst, a, b } (ip, bp, mem, mem_len, cx) {
        bin!(bp, dst, a, b, |x: u32, y: u32| x.rotate_right(y % 32));
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I64Add { dst, a, b } (ip, bp, mem, mem_len, cx) {
        bin!(bp, dst, a, b, |x: u64, y: u64| x.wrapping_add(y));
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I64Sub { dst, a, b } (ip, bp, mem, mem_len, cx) {
        bin!(bp, dst, a, b, |x: u64, y: u64| x.wrapping_sub(y));
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I64Mul { dst, a, b } (ip, bp, mem, mem_len, cx) {
        bin!(bp, dst, a, b, |x: u64, y: u64| x.wrapping_mul(y));
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I64DivS { dst, a, b } (ip, bp, mem, mem_len, cx) {
        bin_trap!(ip, bp, cx, dst, a, b, |x: i64, y: i64| match y {
                        0 => Err(TrapKind::IntegerDivideByZero),
                        -1 if x == i64::MIN => Err(TrapKind::IntegerOverflow),
                        _ => Ok(x / y),
                    });
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I64DivU { dst, a, b } (ip, bp, mem, mem_len, cx) {
        bin_trap!(ip, bp, cx, dst, a, b, |x: u64, y: u64| x.checked_div(y).ok_or(TrapKind::IntegerDivideByZero));
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I64RemS { dst, a, b } (ip, bp, mem, mem_len, cx) {
        bin_trap!(ip, bp, cx, dst, a, b, |x: i64, y: i64| if y == 0 {
                        Err(TrapKind::IntegerDivideByZero)
                    } else {
                        Ok(x.wrapping_rem(y))
                    });
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I64RemU { dst, a, b } (ip, bp, mem, mem_len, cx) {
        bin_trap!(ip, bp, cx, dst, a, b, |x: u64, y: u64| x.checked_rem(y).ok_or(TrapKind::IntegerDivideByZero));
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I64And { dst, a, b } (ip, bp, mem, mem_len, cx) {
        bin!(bp, dst, a, b, |x: u64, y: u64| x & y);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I64Or { dst, a, b } (ip, bp, mem, mem_len, cx) {
        bin!(bp, dst, a, b, |x: u64, y: u64| x | y);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I64Xor { dst, a, b } (ip, bp, mem, mem_len, cx) {
        bin!(bp, dst, a, b, |x: u64, y: u64| x ^ y);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I64Shl { dst, a, b } (ip, bp, mem, mem_len, cx) {
        bin!(bp, dst, a, b, |x: u64, y: u64| x.wrapping_shl(y as u32));
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I64ShrS { dst, a, b } (ip, bp, mem, mem_len, cx) {
        bin!(bp, dst, a, b, |x: i64, y: u64| x.wrapping_shr(y as u32));
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I64ShrU { dst, a, b } (ip, bp, mem, mem_len, cx) {
        bin!(bp, dst, a, b, |x: u64, y: u64| x.wrapping_shr(y as u32));
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I64Rotl { dst, a, b } (ip, bp, mem, mem_len, cx) {
        bin!(bp, dst, a, b, |x: u64, y: u64| x.rotate_left((y % 64) as u32));
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I64Rotr { dst, a, b } (ip, bp, mem, mem_len, cx) {
        bin!(bp, dst, a, b, |x: u64, y: u64| x.rotate_right((y % 64) as u32));
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(F32Add { dst, a, b } (ip, bp, mem, mem_len, cx) {
        bin!(bp, dst, a, b, |x: f32, y: f32| x + y);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(F32Sub { dst, a, b } (ip, bp, mem, mem_len, cx) {
        bin!(bp, dst, a, b, |x: f32, y: f32| x - y);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(F32Mul { dst, a, b } (ip, bp, mem, mem_len, cx) {
        bin!(bp, dst, a, b, |x: f32, y: f32| x * y);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(F32Div { dst, a, b } (ip, bp, mem, mem_len, cx) {
        bin!(bp, dst, a, b, |x: f32, y: f32| x / y);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(F32Min { dst, a, b } (ip, bp, mem, mem_len, cx) {
        bin!(bp, dst, a, b, ops::f32_min);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(F32Max { dst, a, b } (ip, bp, mem, mem_len, cx) {
        bin!(bp, dst, a, b, ops::f32_max);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(F32Copysign { dst, a, b } (ip, bp, mem, mem_len, cx) {
        bin!(bp, dst, a, b, |x: u32, y: u32| (x & 0x7fff_ffff) | (y & 0x8000_0000));
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(F64Add { dst, a, b } (ip, bp, mem, mem_len, cx) {
        bin!(bp, dst, a, b, |x: f64, y: f64| x + y);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(F64Sub { dst, a, b } (ip, bp, mem, mem_len, cx) {
        bin!(bp, dst, a, b, |x: f64, y: f64| x - y);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(F64Mul { dst, a, b } (ip, bp, mem, mem_len, cx) {
        bin!(bp, dst, a, b, |x: f64, y: f64| x * y);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(F64Div { dst, a, b } (ip, bp, mem, mem_len, cx) {
        bin!(bp, dst, a, b, |x: f64, y: f64| x / y);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(F64Min { dst, a, b } (ip, bp, mem, mem_len, cx) {
        bin!(bp, dst, a, b, ops::f64_min);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(F64Max { dst, a, b } (ip, bp, mem, mem_len, cx) {
        bin!(bp, dst, a, b, ops::f64_max);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(F64Copysign { dst, a, b } (ip, bp, mem, mem_len, cx) {
        bin!(bp, dst, a, b, |x: u64, y: u64| (x & !(1 << 63)) | (y & (1 << 63)));
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I32Eqz { dst, src } (ip, bp, mem, mem_len, cx) {
        un!(bp, dst, src, |x: u32| x == 0);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I64Eqz { dst, src } (ip, bp, mem, mem_len, cx) {
        un!(bp, dst, src, |x: u64| x == 0);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I32Clz { dst, src } (ip, bp, mem, mem_len, cx) {
        un!(bp, dst, src, |x: u32| x.leading_zeros());
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I32Ctz { dst, src } (ip, bp, mem, mem_len, cx) {
        un!(bp, dst, src, |x: u32| x.trailing_zeros());
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I32Popcnt { dst, src } (ip, bp, mem, mem_len, cx) {
        un!(bp, dst, src, |x: u32| x.count_ones());
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I64Clz { dst, src } (ip, bp, mem, mem_len, cx) {
        un!(bp, dst, src, |x: u64| x.leading_zeros() as u64);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I64Ctz { dst, src } (ip, bp, mem, mem_len, cx) {
        un!(bp, dst, src, |x: u64| x.trailing_zeros() as u64);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I64Popcnt { dst, src } (ip, bp, mem, mem_len, cx) {
        un!(bp, dst, src, |x: u64| x.count_ones() as u64);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(F32Abs { dst, src } (ip, bp, mem, mem_len, cx) {
        un!(bp, dst, src, |x: u32| x & 0x7fff_ffff);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(F32Neg { dst, src } (ip, bp, mem, mem_len, cx) {
        un!(bp, dst, src, |x: u32| x ^ 0x8000_0000);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(F32Ceil { dst, src } (ip, bp, mem, mem_len, cx) {
        un!(bp, dst, src, ops::f32_ceil);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(F32Floor { dst, src } (ip, bp, mem, mem_len, cx) {
        un!(bp, dst, src, ops::f32_floor);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(F32Trunc { dst, src } (ip, bp, mem, mem_len, cx) {
        un!(bp, dst, src, ops::f32_trunc);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(F32Nearest { dst, src } (ip, bp, mem, mem_len, cx) {
        un!(bp, dst, src, ops::f32_nearest);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(F32Sqrt { dst, src } (ip, bp, mem, mem_len, cx) {
        un!(bp, dst, src, ops::f32_sqrt);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(F64Abs { dst, src } (ip, bp, mem, mem_len, cx) {
        un!(bp, dst, src, |x: u64| x & !(1 << 63));
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(F64Neg { dst, src } (ip, bp, mem, mem_len, cx) {
        un!(bp, dst, src, |x: u64| x ^ (1 << 63));
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(F64Ceil { dst, src } (ip, bp, mem, mem_len, cx) {
        un!(bp, dst, src, ops::f64_ceil);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(F64Floor { dst, src } (ip, bp, mem, mem_len, cx) {
        un!(bp, dst, src, ops::f64_floor);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(F64Trunc { dst, src } (ip, bp, mem, mem_len, cx) {
        un!(bp, dst, src, ops::f64_trunc);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(F64Nearest { dst, src } (ip, bp, mem, mem_len, cx) {
        un!(bp, dst, src, ops::f64_nearest);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(F64Sqrt { dst, src } (ip, bp, mem, mem_len, cx) {
        un!(bp, dst, src, ops::f64_sqrt);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I32WrapI64 { dst, src } (ip, bp, mem, mem_len, cx) {
        un!(bp, dst, src, |x: u64| x as u32);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I32TruncF32S { dst, src } (ip, bp, mem, mem_len, cx) {
        un_trap!(ip, bp, cx, dst, src, ops::i32_trunc_f32);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I32TruncF32U { dst, src } (ip, bp, mem, mem_len, cx) {
        un_trap!(ip, bp, cx, dst, src, ops::u32_trunc_f32);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I32TruncF64S { dst, src } (ip, bp, mem, mem_len, cx) {
        un_trap!(ip, bp, cx, dst, src, ops::i32_trunc_f64);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I32TruncF64U { dst, src } (ip, bp, mem, mem_len, cx) {
        un_trap!(ip, bp, cx, dst, src, ops::u32_trunc_f64);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I64ExtendI32S { dst, src } (ip, bp, mem, mem_len, cx) {
        un!(bp, dst, src, |x: i32| x as i64);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I64ExtendI32U { dst, src } (ip, bp, mem, mem_len, cx) {
        un!(bp, dst, src, |x: u32| x as u64);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I64TruncF32S { dst, src } (ip, bp, mem, mem_len, cx) {
        un_trap!(ip, bp, cx, dst, src, ops::i64_trunc_f32);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I64TruncF32U { dst, src } (ip, bp, mem, mem_len, cx) {
        un_trap!(ip, bp, cx, dst, src, ops::u64_trunc_f32);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I64TruncF64S { dst, src } (ip, bp, mem, mem_len, cx) {
        un_trap!(ip, bp, cx, dst, src, ops::i64_trunc_f64);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I64TruncF64U { dst, src } (ip, bp, mem, mem_len, cx) {
        un_trap!(ip, bp, cx, dst, src, ops::u64_trunc_f64);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(F32ConvertI32S { dst, src } (ip, bp, mem, mem_len, cx) {
        un!(bp, dst, src, |x: i32| x as f32);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(F32ConvertI32U { dst, src } (ip, bp, mem, mem_len, cx) {
        un!(bp, dst, src, |x: u32| x as f32);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(F32ConvertI64S { dst, src } (ip, bp, mem, mem_len, cx) {
        un!(bp, dst, src, |x: i64| x as f32);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(F32ConvertI64U { dst, src } (ip, bp, mem, mem_len, cx) {
        un!(bp, dst, src, |x: u64| x as f32);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(F32DemoteF64 { dst, src } (ip, bp, mem, mem_len, cx) {
        un!(bp, dst, src, ops::demote);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(F64ConvertI32S { dst, src } (ip, bp, mem, mem_len, cx) {
        un!(bp, dst, src, |x: i32| x as f64);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(F64ConvertI32U { dst, src } (ip, bp, mem, mem_len, cx) {
        un!(bp, dst, src, |x: u32| x as f64);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(F64ConvertI64S { dst, src } (ip, bp, mem, mem_len, cx) {
        un!(bp, dst, src, |x: i64| x as f64);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(F64ConvertI64U { dst, src } (ip, bp, mem, mem_len, cx) {
        un!(bp, dst, src, |x: u64| x as f64);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(F64PromoteF32 { dst, src } (ip, bp, mem, mem_len, cx) {
        un!(bp, dst, src, ops::promote);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I32Extend8S { dst, src } (ip, bp, mem, mem_len, cx) {
        un!(bp, dst, src, |x: u32| x as i8 as i32);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I32Extend16S { dst, src } (ip, bp, mem, mem_len, cx) {
        un!(bp, dst, src, |x: u32| x as i16 as i32);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I64Extend8S { dst, src } (ip, bp, mem, mem_len, cx) {
        un!(bp, dst, src, |x: u64| x as i8 as i64);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I64Extend16S { dst, src } (ip, bp, mem, mem_len, cx) {
        un!(bp, dst, src, |x: u64| x as i16 as i64);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I64Extend32S { dst, src } (ip, bp, mem, mem_len, cx) {
        un!(bp, dst, src, |x: u64| x as i32 as i64);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I32TruncSatF32S { dst, src } (ip, bp, mem, mem_len, cx) {
        un!(bp, dst, src, |x: f32| x as i32);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I32TruncSatF32U { dst, src } (ip, bp, mem, mem_len, cx) {
        un!(bp, dst, src, |x: f32| x as u32);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I32TruncSatF64S { dst, src } (ip, bp, mem, mem_len, cx) {
        un!(bp, dst, src, |x: f64| x as i32);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I32TruncSatF64U { dst, src } (ip, bp, mem, mem_len, cx) {
        un!(bp, dst, src, |x: f64| x as u32);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I64TruncSatF32S { dst, src } (ip, bp, mem, mem_len, cx) {
        un!(bp, dst, src, |x: f32| x as i64);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I64TruncSatF32U { dst, src } (ip, bp, mem, mem_len, cx) {
        un!(bp, dst, src, |x: f32| x as u64);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I64TruncSatF64S { dst, src } (ip, bp, mem, mem_len, cx) {
        un!(bp, dst, src, |x: f64| x as i64);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I64TruncSatF64U { dst, src } (ip, bp, mem, mem_len, cx) {
        un!(bp, dst, src, |x: f64| x as u64);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I32Load { dst, addr, offset } (ip, bp, mem, mem_len, cx) {
        load!(ip, bp, mem, mem_len, cx, dst, addr, offset, 4, u32::from_le_bytes);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I64Load { dst, addr, offset } (ip, bp, mem, mem_len, cx) {
        load!(ip, bp, mem, mem_len, cx, dst, addr, offset, 8, u64::from_le_bytes);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(F32Load { dst, addr, offset } (ip, bp, mem, mem_len, cx) {
        load!(ip, bp, mem, mem_len, cx, dst, addr, offset, 4, u32::from_le_bytes);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(F64Load { dst, addr, offset } (ip, bp, mem, mem_len, cx) {
        load!(ip, bp, mem, mem_len, cx, dst, addr, offset, 8, u64::from_le_bytes);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I32Load8S { dst, addr, offset } (ip, bp, mem, mem_len, cx) {
        load!(ip, bp, mem, mem_len, cx, dst, addr, offset, 1, |b: [u8; 1]| b[0] as i8 as i32);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I32Load8U { dst, addr, offset } (ip, bp, mem, mem_len, cx) {
        load!(ip, bp, mem, mem_len, cx, dst, addr, offset, 1, |b: [u8; 1]| b[0] as u32);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I32Load16S { dst, addr, offset } (ip, bp, mem, mem_len, cx) {
        load!(ip, bp, mem, mem_len, cx, dst, addr, offset, 2, |b| i16::from_le_bytes(b) as i32);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I32Load16U { dst, addr, offset } (ip, bp, mem, mem_len, cx) {
        load!(ip, bp, mem, mem_len, cx, dst, addr, offset, 2, |b| u16::from_le_bytes(b) as u32);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I64Load8S { dst, addr, offset } (ip, bp, mem, mem_len, cx) {
        load!(ip, bp, mem, mem_len, cx, dst, addr, offset, 1, |b: [u8; 1]| b[0] as i8 as i64);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I64Load8U { dst, addr, offset } (ip, bp, mem, mem_len, cx) {
        load!(ip, bp, mem, mem_len, cx, dst, addr, offset, 1, |b: [u8; 1]| b[0] as u64);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I64Load16S { dst, addr, offset } (ip, bp, mem, mem_len, cx) {
        load!(ip, bp, mem, mem_len, cx, dst, addr, offset, 2, |b| i16::from_le_bytes(b) as i64);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I64Load16U { dst, addr, offset } (ip, bp, mem, mem_len, cx) {
        load!(ip, bp, mem, mem_len, cx, dst, addr, offset, 2, |b| u16::from_le_bytes(b) as u64);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I64Load32S { dst, addr, offset } (ip, bp, mem, mem_len, cx) {
        load!(ip, bp, mem, mem_len, cx, dst, addr, offset, 4, |b| i32::from_le_bytes(b) as i64);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I64Load32U { dst, addr, offset } (ip, bp, mem, mem_len, cx) {
        load!(ip, bp, mem, mem_len, cx, dst, addr, offset, 4, |b| u32::from_le_bytes(b) as u64);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I32Store { addr, val, offset } (ip, bp, mem, mem_len, cx) {
        store!(ip, bp, mem, mem_len, cx, addr, val, offset, 4, |v: u64| (v as u32).to_le_bytes());
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I64Store { addr, val, offset } (ip, bp, mem, mem_len, cx) {
        store!(ip, bp, mem, mem_len, cx, addr, val, offset, 8, |v: u64| v.to_le_bytes());
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(F32Store { addr, val, offset } (ip, bp, mem, mem_len, cx) {
        store!(ip, bp, mem, mem_len, cx, addr, val, offset, 4, |v: u64| (v as u32).to_le_bytes());
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(F64Store { addr, val, offset } (ip, bp, mem, mem_len, cx) {
        store!(ip, bp, mem, mem_len, cx, addr, val, offset, 8, |v: u64| v.to_le_bytes());
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I32Store8 { addr, val, offset } (ip, bp, mem, mem_len, cx) {
        store!(ip, bp, mem, mem_len, cx, addr, val, offset, 1, |v: u64| [v as u8]);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I32Store16 { addr, val, offset } (ip, bp, mem, mem_len, cx) {
        store!(ip, bp, mem, mem_len, cx, addr, val, offset, 2, |v: u64| (v as u16).to_le_bytes());
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I64Store8 { addr, val, offset } (ip, bp, mem, mem_len, cx) {
        store!(ip, bp, mem, mem_len, cx, addr, val, offset, 1, |v: u64| [v as u8]);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I64Store16 { addr, val, offset } (ip, bp, mem, mem_len, cx) {
        store!(ip, bp, mem, mem_len, cx, addr, val, offset, 2, |v: u64| (v as u16).to_le_bytes());
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I64Store32 { addr, val, offset } (ip, bp, mem, mem_len, cx) {
        store!(ip, bp, mem, mem_len, cx, addr, val, offset, 4, |v: u64| (v as u32).to_le_bytes());
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(Const { dst, lo, hi } (ip, bp, mem, mem_len, cx) {
        w!(bp, dst, (hi as u64) << 32 | lo as u64);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(Copy { dst, src } (ip, bp, mem, mem_len, cx) {
        w!(bp, dst, r!(bp, src));
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(CopyRange { dst, src, n } (ip, bp, mem, mem_len, cx) {
        for i in 0..n {
                            w!(bp, dst + i, r!(bp, src + i));
                        };
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I32AddImm { dst, a, imm } (ip, bp, mem, mem_len, cx) {
        w!(bp, dst, (r!(bp, a) as u32).wrapping_add(imm as u32) as u64);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I64AddImm { dst, a, imm } (ip, bp, mem, mem_len, cx) {
        w!(bp, dst, r!(bp, a).wrapping_add(imm as i64 as u64));
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(Select { dst, b, cond } (ip, bp, mem, mem_len, cx) {
        if r!(bp, cond) as u32 == 0 {
                            w!(bp, dst, r!(bp, b));
                        };
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(RefIsNull { dst, src } (ip, bp, mem, mem_len, cx) {
        w!(bp, dst, (r!(bp, src) == 0) as u64);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I32MulImm { dst, a, imm } (ip, bp, mem, mem_len, cx) {
        w!(bp, dst, (r!(bp, a) as u32).wrapping_mul(imm as u32) as u64);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I32AndImm { dst, a, imm } (ip, bp, mem, mem_len, cx) {
        w!(bp, dst, (r!(bp, a) as u32 & imm as u32) as u64);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I32OrImm { dst, a, imm } (ip, bp, mem, mem_len, cx) {
        w!(bp, dst, (r!(bp, a) as u32 | imm as u32) as u64);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I32XorImm { dst, a, imm } (ip, bp, mem, mem_len, cx) {
        w!(bp, dst, (r!(bp, a) as u32 ^ imm as u32) as u64);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I32ShlImm { dst, a, imm } (ip, bp, mem, mem_len, cx) {
        w!(bp, dst, (r!(bp, a) as u32).wrapping_shl(imm as u32) as u64);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I32ShrSImm { dst, a, imm } (ip, bp, mem, mem_len, cx) {
        w!(bp, dst, (r!(bp, a) as u32 as i32).wrapping_shr(imm as u32) as u32 as u64);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I32ShrUImm { dst, a, imm } (ip, bp, mem, mem_len, cx) {
        w!(bp, dst, (r!(bp, a) as u32).wrapping_shr(imm as u32) as u64);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I32EqImm { dst, a, imm } (ip, bp, mem, mem_len, cx) {
        w!(bp, dst, (r!(bp, a) as u32 == imm as u32) as u64);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I32NeImm { dst, a, imm } (ip, bp, mem, mem_len, cx) {
        w!(bp, dst, (r!(bp, a) as u32 != imm as u32) as u64);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I32LtSImm { dst, a, imm } (ip, bp, mem, mem_len, cx) {
        w!(bp, dst, ((r!(bp, a) as u32 as i32) < imm) as u64);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I32LtUImm { dst, a, imm } (ip, bp, mem, mem_len, cx) {
        w!(bp, dst, ((r!(bp, a) as u32) < imm as u32) as u64);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I32GtSImm { dst, a, imm } (ip, bp, mem, mem_len, cx) {
        w!(bp, dst, (r!(bp, a) as u32 as i32 > imm) as u64);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I32GtUImm { dst, a, imm } (ip, bp, mem, mem_len, cx) {
        w!(bp, dst, (r!(bp, a) as u32 > imm as u32) as u64);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I32LeSImm { dst, a, imm } (ip, bp, mem, mem_len, cx) {
        w!(bp, dst, (r!(bp, a) as u32 as i32 <= imm) as u64);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I32LeUImm { dst, a, imm } (ip, bp, mem, mem_len, cx) {
        w!(bp, dst, (r!(bp, a) as u32 <= imm as u32) as u64);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I32GeSImm { dst, a, imm } (ip, bp, mem, mem_len, cx) {
        w!(bp, dst, (r!(bp, a) as u32 as i32 >= imm) as u64);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I32GeUImm { dst, a, imm } (ip, bp, mem, mem_len, cx) {
        w!(bp, dst, (r!(bp, a) as u32 >= imm as u32) as u64);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I64MulImm { dst, a, imm } (ip, bp, mem, mem_len, cx) {
        w!(bp, dst, r!(bp, a).wrapping_mul(imm as i64 as u64));
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I64AndImm { dst, a, imm } (ip, bp, mem, mem_len, cx) {
        w!(bp, dst, r!(bp, a) & imm as i64 as u64);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I64OrImm { dst, a, imm } (ip, bp, mem, mem_len, cx) {
        w!(bp, dst, r!(bp, a) | imm as i64 as u64);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I64XorImm { dst, a, imm } (ip, bp, mem, mem_len, cx) {
        w!(bp, dst, r!(bp, a) ^ imm as i64 as u64);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I64ShlImm { dst, a, imm } (ip, bp, mem, mem_len, cx) {
        w!(bp, dst, r!(bp, a).wrapping_shl(imm as u32));
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I64ShrSImm { dst, a, imm } (ip, bp, mem, mem_len, cx) {
        w!(bp, dst, (r!(bp, a) as i64).wrapping_shr(imm as u32) as u64);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I64ShrUImm { dst, a, imm } (ip, bp, mem, mem_len, cx) {
        w!(bp, dst, r!(bp, a).wrapping_shr(imm as u32));
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(BrIfI32EqImm { a, imm, target } (ip, bp, mem, mem_len, cx) {
        let a = r!(bp, a);
        let taken = a as u32 == imm as u32;
        dispatch!(if taken { jump(ip, target) } else { next(ip) }, bp, mem, mem_len, cx)
    });

    handler!(BrIfI32NeImm { a, imm, target } (ip, bp, mem, mem_len, cx) {
        let a = r!(bp, a);
        let taken = a as u32 != imm as u32;
        dispatch!(if taken { jump(ip, target) } else { next(ip) }, bp, mem, mem_len, cx)
    });

    handler!(BrIfI32LtSImm { a, imm, target } (ip, bp, mem, mem_len, cx) {
        let a = r!(bp, a);
        let taken = (a as u32 as i32) < imm;
        dispatch!(if taken { jump(ip, target) } else { next(ip) }, bp, mem, mem_len, cx)
    });

    handler!(BrIfI32LtUImm { a, imm, target } (ip, bp, mem, mem_len, cx) {
        let a = r!(bp, a);
        let taken = (a as u32) < imm as u32;
        dispatch!(if taken { jump(ip, target) } else { next(ip) }, bp, mem, mem_len, cx)
    });

    handler!(BrIfI32GeSImm { a, imm, target } (ip, bp, mem, mem_len, cx) {
        let a = r!(bp, a);
        let taken = a as u32 as i32 >= imm;
        dispatch!(if taken { jump(ip, target) } else { next(ip) }, bp, mem, mem_len, cx)
    });

    handler!(BrIfI32GeUImm { a, imm, target } (ip, bp, mem, mem_len, cx) {
        let a = r!(bp, a);
        let taken = a as u32 >= imm as u32;
        dispatch!(if taken { jump(ip, target) } else { next(ip) }, bp, mem, mem_len, cx)
    });

    handler!(I32StoreImm { addr, imm, offset } (ip, bp, mem, mem_len, cx) {
        store!(ip, bp, mem, mem_len, cx, addr, addr, offset, 4, |_: u64| imm.to_le_bytes());
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(I64StoreImm { addr, imm, offset } (ip, bp, mem, mem_len, cx) {
        store!(ip, bp, mem, mem_len, cx, addr, addr, offset, 8, |_: u64| (imm as i64).to_le_bytes());
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(Br { target } (ip, bp, mem, mem_len, cx) {
        dispatch!(jump(ip, target), bp, mem, mem_len, cx)
    });

    handler!(BrIfEqz { cond, target } (ip, bp, mem, mem_len, cx) {
        let taken = r!(bp, cond) as u32 == 0;
        dispatch!(if taken { jump(ip, target) } else { next(ip) }, bp, mem, mem_len, cx)
    });

    handler!(BrIfNez { cond, target } (ip, bp, mem, mem_len, cx) {
        let taken = r!(bp, cond) as u32 != 0;
        dispatch!(if taken { jump(ip, target) } else { next(ip) }, bp, mem, mem_len, cx)
    });

    handler!(BrIfI32Eq { a, b, target } (ip, bp, mem, mem_len, cx) {
        let (a, b) = (r!(bp, a), r!(bp, b));
        let taken = a as u32 == b as u32;
        dispatch!(if taken { jump(ip, target) } else { next(ip) }, bp, mem, mem_len, cx)
    });
    handler!(BrIfI32Ne { a, b, target } (ip, bp, mem, mem_len, cx) {
        let (a, b) = (r!(bp, a), r!(bp, b));
        let taken = a as u32 != b as u32;
        dispatch!(if taken { jump(ip, target) } else { next(ip) }, bp, mem, mem_len, cx)
    });
    handler!(BrIfI32LtS { a, b, target } (ip, bp, mem, mem_len, cx) {
        let (a, b) = (r!(bp, a), r!(bp, b));
        let taken = (a as u32 as i32) < b as u32 as i32;
        dispatch!(if taken { jump(ip, target) } else { next(ip) }, bp, mem, mem_len, cx)
    });
    handler!(BrIfI32LtU { a, b, target } (ip, bp, mem, mem_len, cx) {
        let (a, b) = (r!(bp, a), r!(bp, b));
        let taken = (a as u32) < b as u32;
        dispatch!(if taken { jump(ip, target) } else { next(ip) }, bp, mem, mem_len, cx)
    });
    handler!(BrIfI32GeS { a, b, target } (ip, bp, mem, mem_len, cx) {
        let (a, b) = (r!(bp, a), r!(bp, b));
        let taken = a as u32 as i32 >= b as u32 as i32;
        dispatch!(if taken { jump(ip, target) } else { next(ip) }, bp, mem, mem_len, cx)
    });
    handler!(BrIfI32GeU { a, b, target } (ip, bp, mem, mem_len, cx) {
        let (a, b) = (r!(bp, a), r!(bp, b));
        let taken = a as u32 >= b as u32;
        dispatch!(if taken { jump(ip, target) } else { next(ip) }, bp, mem, mem_len, cx)
    });

    handler!(BrTable { index, len } (ip, bp, mem, mem_len, cx) {
        let i = (r!(bp, index) as u32).min(len - 1);
        // SAFETY: `len` entries follow the `BrTable`.
        dispatch!(unsafe { ip.add(1 + i as usize) }, bp, mem, mem_len, cx)
    });

    handler!(Fuel { n } (ip, bp, mem, mem_len, cx) {
        if cx.managed {
            cx.count_loop();
        }
        if let Err(e) = cx.fuel(n, ip) {
            return e;
        }
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(Return {} (ip, bp, mem, mem_len, cx) {
        let (ex, store) = cx.both();
        match ex.frames.pop() {
            None => return Exit::Done,
            Some(fr) => {
                // SAFETY: frames only hold functions owned by the store.
                let f: &'static InterpFunc = unsafe { &*fr.func };
                ex.base = fr.base;
                let bp = ex.stack.as_mut_ptr().wrapping_add(fr.base);
                if f.instance != ex.inst {
                    ex.inst = f.instance;
                    ex.globals = Globals::of(store, ex.inst);
                }
                // The callee may have grown the memory.
                let (mem, mem_len) = memory_of(store, ex.inst);
                cx.f = f;
                dispatch!(fr.ret_ip, bp, mem, mem_len, cx)
            }
        }
    });

    handler!(Unreachable {} (ip, bp, mem, mem_len, cx) {
        cx.trap(TrapKind::Unreachable, ip)
    });

    handler!(Call { func, base } (ip, bp, mem, mem_len, cx) {
        let (ex, store) = cx.both();
        let addr = store.instance(ex.inst).funcs[func as usize];
        let new_base = ex.base + base as usize;
        do_call!(ip, bp, mem, mem_len, cx, addr, new_base, false)
    });

    handler!(CallIndirect { index, base, aux } (ip, bp, mem, mem_len, cx) {
        let addr = match indirect_target(cx, ip, bp, index, aux) {
            Ok(a) => a,
            Err(e) => return e,
        };
        let new_base = cx.ex().base + base as usize;
        do_call!(ip, bp, mem, mem_len, cx, addr, new_base, false)
    });

    handler!(ReturnCall { func, src } (ip, bp, mem, mem_len, cx) {
        let (ex, store) = cx.both();
        let addr = store.instance(ex.inst).funcs[func as usize];
        ex.move_tail_args(store, addr, src as usize);
        let base = ex.base;
        do_call!(ip, bp, mem, mem_len, cx, addr, base, true)
    });

    handler!(ReturnCallIndirect { index, src, aux } (ip, bp, mem, mem_len, cx) {
        let addr = match indirect_target(cx, ip, bp, index, aux) {
            Ok(a) => a,
            Err(e) => return e,
        };
        let (ex, store) = cx.both();
        ex.move_tail_args(store, addr, src as usize);
        let base = ex.base;
        do_call!(ip, bp, mem, mem_len, cx, addr, base, true)
    });

    handler!(GlobalGet { dst, global } (ip, bp, mem, mem_len, cx) {
        w!(bp, dst, cx.ex().globals.get(global));
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(GlobalSet { src, global } (ip, bp, mem, mem_len, cx) {
        cx.ex().globals.set(global, r!(bp, src));
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(MemorySize { dst } (ip, bp, mem, mem_len, cx) {
        w!(bp, dst, (mem_len / kwasm_runtime::store::PAGE_SIZE) as u64);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(MemoryGrow { dst } (ip, bp, mem, mem_len, cx) {
        let (ex, store) = cx.both();
        let m = store.instance(ex.inst).memories[0];
        let delta = r!(bp, dst) as u32 as u64;
        let r = store.memories[m as usize].grow(delta).map_or(u32::MAX, |old| old as u32);
        w!(bp, dst, r as u64);
        let (mem, mem_len) = memory_of(store, ex.inst);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(MemoryFill { base } (ip, bp, mem, mem_len, cx) {
        let (d, v, n) = (r!(bp, base) as u32 as usize, r!(bp, base + 1) as u8, r!(bp, base + 2) as u32 as usize);
        if d.checked_add(n).is_none_or(|e| e > mem_len) {
            return cx.trap(TrapKind::MemoryOutOfBounds, ip);
        }
        let (ex, store) = cx.both();
        let m = store.instance(ex.inst).memories[0];
        store.memories[m as usize].data[d..d + n].fill(v);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(MemoryCopy { base } (ip, bp, mem, mem_len, cx) {
        let (d, s, n) = (r!(bp, base) as u32 as usize, r!(bp, base + 1) as u32 as usize, r!(bp, base + 2) as u32 as usize);
        if d.checked_add(n).is_none_or(|e| e > mem_len) || s.checked_add(n).is_none_or(|e| e > mem_len) {
            return cx.trap(TrapKind::MemoryOutOfBounds, ip);
        }
        let (ex, store) = cx.both();
        let m = store.instance(ex.inst).memories[0];
        store.memories[m as usize].data.copy_within(s..s + n, d);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(MemoryInit { base, data } (ip, bp, mem, mem_len, cx) {
        let (ex, store) = cx.both();
        let idata = store.instance(ex.inst);
        let (m, dseg) = (idata.memories[0], idata.datas[data as usize]);
        let (d, s, n) = (r!(bp, base) as u32, r!(bp, base + 1) as u32, r!(bp, base + 2) as u32);
        if let Err(t) = store.memory_init(m, dseg, d, s, n) {
            return cx.trap(t.kind, ip);
        }
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(DataDrop { data } (ip, bp, mem, mem_len, cx) {
        let (ex, store) = cx.both();
        let dseg = store.instance(ex.inst).datas[data as usize];
        let seg = &mut store.datas[dseg as usize];
        seg.range = seg.range.start..seg.range.start;
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(TableGet { dst, table } (ip, bp, mem, mem_len, cx) {
        let (ex, store) = cx.both();
        let t = store.instance(ex.inst).tables[table as usize];
        let i = r!(bp, dst) as u32 as usize;
        match store.tables[t as usize].elems.get(i) {
            Some(&v) => w!(bp, dst, v),
            None => return cx.trap(TrapKind::TableOutOfBounds, ip),
        }
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(TableSet { base, table } (ip, bp, mem, mem_len, cx) {
        let (ex, store) = cx.both();
        let t = store.instance(ex.inst).tables[table as usize];
        let (i, v) = (r!(bp, base) as u32 as usize, r!(bp, base + 1));
        match store.tables[t as usize].elems.get_mut(i) {
            Some(slot) => *slot = v,
            None => return cx.trap(TrapKind::TableOutOfBounds, ip),
        }
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(TableSize { dst, table } (ip, bp, mem, mem_len, cx) {
        let (ex, store) = cx.both();
        let t = store.instance(ex.inst).tables[table as usize];
        w!(bp, dst, store.tables[t as usize].elems.len() as u64);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(TableGrow { base, table } (ip, bp, mem, mem_len, cx) {
        let (ex, store) = cx.both();
        let t = store.instance(ex.inst).tables[table as usize];
        let (init, n) = (r!(bp, base), r!(bp, base + 1) as u32 as u64);
        let r = store.tables[t as usize].grow(n, init).map_or(u32::MAX, |old| old as u32);
        w!(bp, base, r as u64);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(TableFill { base, table } (ip, bp, mem, mem_len, cx) {
        let (ex, store) = cx.both();
        let t = store.instance(ex.inst).tables[table as usize];
        let (i, v, n) = (r!(bp, base) as u32 as usize, r!(bp, base + 1), r!(bp, base + 2) as u32 as usize);
        let elems = &mut store.tables[t as usize].elems;
        if i.checked_add(n).is_none_or(|e| e > elems.len()) {
            return cx.trap(TrapKind::TableOutOfBounds, ip);
        }
        elems[i..i + n].fill(v);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(TableCopy { base, aux } (ip, bp, mem, mem_len, cx) {
        let (dt, st) = cx.f().table_pairs[aux as usize];
        let (ex, store) = cx.both();
        let idata = store.instance(ex.inst);
        let (dt, st) = (idata.tables[dt as usize] as usize, idata.tables[st as usize] as usize);
        let (d, s, n) = (r!(bp, base) as u32 as usize, r!(bp, base + 1) as u32 as usize, r!(bp, base + 2) as u32 as usize);
        let (dl, sl) = (store.tables[dt].elems.len(), store.tables[st].elems.len());
        if d.checked_add(n).is_none_or(|e| e > dl) || s.checked_add(n).is_none_or(|e| e > sl) {
            return cx.trap(TrapKind::TableOutOfBounds, ip);
        }
        if dt == st {
            store.tables[dt].elems.copy_within(s..s + n, d);
        } else {
            let src: Vec<u64> = store.tables[st].elems[s..s + n].to_vec();
            store.tables[dt].elems[d..d + n].copy_from_slice(&src);
        }
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(TableInit { base, aux } (ip, bp, mem, mem_len, cx) {
        let (table, elem) = cx.f().table_pairs[aux as usize];
        let (ex, store) = cx.both();
        let idata = store.instance(ex.inst);
        let (t, e) = (idata.tables[table as usize], idata.elems[elem as usize]);
        let (d, s, n) = (r!(bp, base) as u32, r!(bp, base + 1) as u32, r!(bp, base + 2) as u32);
        if let Err(t) = store.table_init(t, e, d, s, n) {
            return cx.trap(t.kind, ip);
        }
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(ElemDrop { elem } (ip, bp, mem, mem_len, cx) {
        let (ex, store) = cx.both();
        let e = store.instance(ex.inst).elems[elem as usize];
        store.elems[e as usize].items = Vec::new();
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });

    handler!(RefFunc { dst, func } (ip, bp, mem, mem_len, cx) {
        let (ex, store) = cx.both();
        let addr = store.instance(ex.inst).funcs[func as usize];
        w!(bp, dst, addr as u64 + 1);
        dispatch!(next(ip), bp, mem, mem_len, cx)
    });
}
