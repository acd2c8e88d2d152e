//! The execution loop.
//!
//! Values live on one heap-allocated value stack; calls push a small record on a heap-allocated
//! frame stack, so wasm recursion never recurses on the native (kernel) stack. The loop charges
//! fuel at function entries and loop headers and returns to the platform between fuel slices.
//!
//! The hot loop reads slots and linear memory through raw pointers. Its invariants, established
//! by the translator and maintained here, are:
//! - every slot an instruction names is below its function's `frame_size`;
//! - on entry to a function, `base + frame_size <= stack.len()` (the stack grows at calls only,
//!   and every pointer derived from it is refreshed after a call);
//! - `mem`/`mem_len` describe the current instance's memory 0 and are refreshed after anything
//!   that can move or resize it (calls, returns, `memory.grow`, host calls);
//! - `ip` always points into the current function's code (it ends in `Return` or a jump);
//!   branch offsets are relative to the instruction after the branch.

use alloc::vec;
use alloc::vec::Vec;

use kwasm_runtime::knobs::Knob;
use kwasm_runtime::platform::Interruption;
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

/// One activation of the interpreter (one embedder call).
pub struct Executor<'t> {
    tier: &'t Interpreter,
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
}

/// Result of looking up a callee.
enum Callee {
    Wasm(*const InterpFunc),
    Host(FuncAddr),
}

const INITIAL_STACK: usize = 1024;

impl<'t> Executor<'t> {
    /// Prepares an activation with the store's limits.
    pub fn new(tier: &'t Interpreter, store: &Store) -> Self {
        let max_stack = store.knobs.get(Knob::MaxValueStack) as usize;
        Executor {
            tier,
            stack: vec![0; INITIAL_STACK.min(max_stack)],
            frames: Vec::new(),
            max_stack,
            max_depth: store.knobs.get(Knob::MaxCallDepth) as usize,
            slice_budget: 0,
            slice_left: 0,
            base: 0,
            inst: InstanceId(0),
            globals: Globals { addrs: core::ptr::null(), values: core::ptr::null_mut() },
        }
    }

    fn callee(&self, store: &Store, addr: FuncAddr) -> Result<Callee, Trap> {
        match store.funcs[addr as usize].kind {
            FuncKind::Host(_) => Ok(Callee::Host(addr)),
            FuncKind::Wasm { .. } => {
                let code = store.code(addr, self.tier).map_err(|e| Trap::host(alloc::format!("{e}")))?;
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
        let need = base + f.frame_size as usize;
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
        self.stack[base + f.num_params as usize..base + f.num_locals as usize].fill(0);
        Ok(())
    }

    /// Starts a fuel slice.
    fn refuel(&mut self, store: &mut Store) -> Result<(), TrapKind> {
        let used = (self.slice_budget - self.slice_left) as u64;
        store.fuel_used = store.fuel_used.saturating_add(used);
        if store.fuel_left != u64::MAX {
            if used > store.fuel_left {
                store.fuel_left = 0;
                return Err(TrapKind::OutOfFuel);
            }
            store.fuel_left -= used;
        }
        self.slice_budget = 0;
        self.slice_left = 0;
        if used > 0 && store.platform.check_interrupt() == Interruption::Stop {
            return Err(TrapKind::Interrupted);
        }
        let slice = store.knobs.get(Knob::FuelSlice).min(i64::MAX as u64);
        let budget = slice.min(store.fuel_left) as i64;
        if budget == 0 {
            return Err(TrapKind::OutOfFuel);
        }
        self.slice_budget = budget;
        self.slice_left = budget;
        Ok(())
    }

    /// Accounts the fuel of the unfinished slice.
    fn flush_fuel(&mut self, store: &mut Store) {
        let used = (self.slice_budget - self.slice_left).max(0) as u64;
        store.fuel_used = store.fuel_used.saturating_add(used);
        if store.fuel_left != u64::MAX {
            store.fuel_left = store.fuel_left.saturating_sub(used);
        }
        self.slice_budget = 0;
        self.slice_left = 0;
    }

    /// Calls `func` with `args`, writing `results`.
    pub fn invoke(&mut self, store: &mut Store, func: FuncAddr, args: &[u64], results: &mut [u64]) -> Result<(), Trap> {
        let entry = match self.callee(store, func)? {
            Callee::Host(addr) => return store.call_host(addr, None, args, results),
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

    #[allow(clippy::too_many_lines)]
    fn run(&mut self, store: &mut Store, entry: *const InterpFunc) -> Result<(), Trap> {
        // SAFETY: see the module docs; `entry` is owned by the store.
        let mut f: &InterpFunc = unsafe { &*entry };
        let mut ip: *const Instr = f.code.as_ptr();
        self.base = 0;
        let mut bp: *mut u64 = self.stack.as_mut_ptr();
        self.inst = f.instance;
        self.globals = Globals::of(store, self.inst);
        let (mut mem, mut mem_len) = memory_of(store, self.inst);
        self.slice_left -= f.entry_fuel as i64;

        macro_rules! r {
            ($s:expr) => {
                // SAFETY: slot < frame_size and base + frame_size <= stack.len() (module docs).
                unsafe { *bp.add($s as usize) }
            };
        }
        macro_rules! w {
            ($s:expr, $v:expr) => {{
                let v: u64 = $v;
                // SAFETY: as for `r!`.
                unsafe { *bp.add($s as usize) = v }
            }};
        }
        macro_rules! trap {
            ($kind:expr) => {
                return Err(Trap::at($kind, f.func_index, offset_at(f, ip)))
            };
        }
        macro_rules! bin {
            ($dst:expr, $a:expr, $b:expr, $op:expr) => {{
                let op = $op;
                let v = op(SlotVal::from_slot(r!($a)), SlotVal::from_slot(r!($b)));
                w!($dst, SlotVal::to_slot(v));
            }};
        }
        macro_rules! bin_trap {
            ($dst:expr, $a:expr, $b:expr, $op:expr) => {{
                let op = $op;
                match op(SlotVal::from_slot(r!($a)), SlotVal::from_slot(r!($b))) {
                    Ok(v) => w!($dst, SlotVal::to_slot(v)),
                    Err(k) => trap!(k),
                }
            }};
        }
        macro_rules! un {
            ($dst:expr, $src:expr, $op:expr) => {{
                let op = $op;
                let v = op(SlotVal::from_slot(r!($src)));
                w!($dst, SlotVal::to_slot(v));
            }};
        }
        macro_rules! un_trap {
            ($dst:expr, $src:expr, $op:expr) => {{
                let op = $op;
                match op(SlotVal::from_slot(r!($src))) {
                    Ok(v) => w!($dst, SlotVal::to_slot(v)),
                    Err(k) => trap!(k),
                }
            }};
        }
        macro_rules! effective {
            ($addr:expr, $offset:expr, $n:expr) => {{
                let ea = (r!($addr) as u32 as u64) + $offset as u64;
                if ea + $n > mem_len as u64 {
                    trap!(TrapKind::MemoryOutOfBounds);
                }
                ea as usize
            }};
        }
        macro_rules! load {
            ($dst:expr, $addr:expr, $offset:expr, $n:literal, $conv:expr) => {{
                let ea = effective!($addr, $offset, $n);
                // SAFETY: `ea + n <= mem_len` was checked and `mem` holds `mem_len` bytes.
                let bytes: [u8; $n] = unsafe { core::ptr::read_unaligned(mem.add(ea) as *const [u8; $n]) };
                let conv = $conv;
                w!($dst, SlotVal::to_slot(conv(bytes)));
            }};
        }
        macro_rules! store {
            ($addr:expr, $val:expr, $offset:expr, $n:literal, $conv:expr) => {{
                let ea = effective!($addr, $offset, $n);
                let conv = $conv;
                let bytes: [u8; $n] = conv(r!($val));
                // SAFETY: `ea + n <= mem_len` was checked and `mem` holds `mem_len` bytes.
                unsafe { core::ptr::write_unaligned(mem.add(ea) as *mut [u8; $n], bytes) };
            }};
        }
        macro_rules! fuel {
            ($n:expr) => {{
                self.slice_left -= $n as i64;
                if self.slice_left < 0 {
                    if let Err(k) = self.refuel(store) {
                        trap!(k);
                    }
                }
            }};
        }
        // Switches execution to `callee` with its frame at `new_base`; `keep_frame` for tail calls.
        // Switches execution to `callee` with its frame at `new_base`; `$tail` replaces the frame.
        macro_rules! enter {
            ($callee:expr, $new_base:expr, $tail:expr) => {{
                let callee: *const InterpFunc = $callee;
                // SAFETY: owned by the store (see `callee`).
                let cf = unsafe { &*callee };
                let new_base: usize = $new_base;
                if !$tail {
                    if self.frames.len() >= self.max_depth {
                        trap!(TrapKind::CallStackExhausted);
                    }
                    self.frames.push(Frame { ret_ip: ip, base: self.base, func: f as *const InterpFunc });
                }
                if let Err(k) = self.enter_frame(new_base, cf) {
                    if !$tail {
                        self.frames.pop();
                    }
                    trap!(k);
                }
                f = cf;
                ip = f.code.as_ptr();
                self.base = new_base;
                bp = self.stack.as_mut_ptr().wrapping_add(new_base);
                if f.instance != self.inst {
                    self.inst = f.instance;
                    self.globals = Globals::of(store, self.inst);
                    (mem, mem_len) = memory_of(store, self.inst);
                }
                fuel!(f.entry_fuel);
            }};
        }
        macro_rules! call_host {
            ($addr:expr, $new_base:expr) => {{
                let addr: FuncAddr = $addr;
                let nb: usize = $new_base;
                let ty = store.funcs[addr as usize].ty.clone();
                let (np, nr) = (ty.params.len(), ty.results.len());
                if nb + np.max(nr) > self.stack.len() {
                    trap!(TrapKind::CallStackExhausted);
                }
                let args: Vec<u64> = self.stack[nb..nb + np].to_vec();
                let mut res = vec![0u64; nr];
                if let Err(mut t) = store.call_host(addr, Some(self.inst), &args, &mut res) {
                    if t.func.is_none() && !matches!(t.kind, TrapKind::Exit(_)) {
                        t.func = Some(f.func_index);
                        t.offset = Some(offset_at(f, ip));
                    }
                    return Err(t);
                }
                self.stack[nb..nb + nr].copy_from_slice(&res);
                bp = self.stack.as_mut_ptr().wrapping_add(self.base);
                (mem, mem_len) = memory_of(store, self.inst);
                self.globals = Globals::of(store, self.inst);
            }};
        }
        macro_rules! jump {
            ($rel:expr) => {
                // SAFETY: the translator made every branch offset land inside the current code.
                ip = unsafe { ip.offset($rel as i32 as isize) }
            };
        }
        macro_rules! resolve {
            ($addr:expr) => {
                match self.callee(store, $addr) {
                    Ok(c) => c,
                    Err(t) => return Err(t),
                }
            };
        }
        macro_rules! indirect {
            ($index:expr, $aux:expr) => {{
                let (type_index, table_index) = f.indirect[$aux as usize];
                let idata = store.instance(self.inst);
                let table = &store.tables[idata.tables[table_index as usize] as usize];
                let i = r!($index) as u32 as usize;
                let Some(&raw) = table.elems.get(i) else { trap!(TrapKind::UndefinedElement) };
                if raw == 0 {
                    trap!(TrapKind::IndirectCallToNull);
                }
                let addr = (raw - 1) as FuncAddr;
                if store.funcs[addr as usize].type_id != idata.type_ids[type_index as usize] {
                    trap!(TrapKind::IndirectCallTypeMismatch);
                }
                addr
            }};
        }

        loop {
            // SAFETY: `ip` points into the current code (module docs).
            let instr = unsafe { *ip };
            // SAFETY: code ends in `Return` or a jump, so `ip + 1` stays in bounds or one past.
            ip = unsafe { ip.add(1) };
            #[cfg(feature = "op-stats")]
            stats::count(&instr);
            match instr {
                Instr::Const { dst, lo, hi } => w!(dst, (hi as u64) << 32 | lo as u64),
                Instr::Copy { dst, src } => w!(dst, r!(src)),
                Instr::CopyRange { dst, src, n } => {
                    for i in 0..n {
                        w!(dst + i, r!(src + i));
                    }
                }
                Instr::I32AddImm { dst, a, imm } => w!(dst, (r!(a) as u32).wrapping_add(imm as u32) as u64),
                Instr::I64AddImm { dst, a, imm } => w!(dst, r!(a).wrapping_add(imm as i64 as u64)),
                Instr::Br { target } => jump!(target),
                Instr::BrIfEqz { cond, target } => {
                    if r!(cond) as u32 == 0 {
                        jump!(target);
                    }
                }
                Instr::BrIfNez { cond, target } => {
                    if r!(cond) as u32 != 0 {
                        jump!(target);
                    }
                }
                Instr::BrIfI32Eq { a, b, target } => {
                    if r!(a) as u32 == r!(b) as u32 {
                        jump!(target);
                    }
                }
                Instr::BrIfI32Ne { a, b, target } => {
                    if r!(a) as u32 != r!(b) as u32 {
                        jump!(target);
                    }
                }
                Instr::BrIfI32LtS { a, b, target } => {
                    if (r!(a) as u32 as i32) < r!(b) as u32 as i32 {
                        jump!(target);
                    }
                }
                Instr::BrIfI32LtU { a, b, target } => {
                    if (r!(a) as u32) < r!(b) as u32 {
                        jump!(target);
                    }
                }
                Instr::BrIfI32GeS { a, b, target } => {
                    if r!(a) as u32 as i32 >= r!(b) as u32 as i32 {
                        jump!(target);
                    }
                }
                Instr::BrIfI32GeU { a, b, target } => {
                    if r!(a) as u32 >= r!(b) as u32 {
                        jump!(target);
                    }
                }
                Instr::BrTable { index, len } => {
                    let i = (r!(index) as u32).min(len - 1);
                    // SAFETY: `len` entries follow the `BrTable`.
                    ip = unsafe { ip.add(i as usize) };
                }
                Instr::Fuel { n } => fuel!(n),
                Instr::Return {} => match self.frames.pop() {
                    None => return Ok(()),
                    Some(fr) => {
                        // SAFETY: frames only hold functions owned by the store.
                        f = unsafe { &*fr.func };
                        ip = fr.ret_ip;
                        self.base = fr.base;
                        bp = self.stack.as_mut_ptr().wrapping_add(fr.base);
                        if f.instance != self.inst {
                            self.inst = f.instance;
                            self.globals = Globals::of(store, self.inst);
                        }
                        // The callee may have grown the memory.
                        (mem, mem_len) = memory_of(store, self.inst);
                    }
                },
                Instr::Unreachable {} => trap!(TrapKind::Unreachable),
                Instr::Call { func, base: rel } => {
                    let addr = store.instance(self.inst).funcs[func as usize];
                    match resolve!(addr) {
                        Callee::Wasm(cf) => enter!(cf, self.base + rel as usize, false),
                        Callee::Host(h) => call_host!(h, self.base + rel as usize),
                    }
                }
                Instr::CallIndirect { index, base: rel, aux } => {
                    let addr = indirect!(index, aux);
                    match resolve!(addr) {
                        Callee::Wasm(cf) => enter!(cf, self.base + rel as usize, false),
                        Callee::Host(h) => call_host!(h, self.base + rel as usize),
                    }
                }
                Instr::ReturnCall { func, src } => {
                    let addr = store.instance(self.inst).funcs[func as usize];
                    self.move_tail_args(store, addr, src as usize);
                    match resolve!(addr) {
                        Callee::Wasm(cf) => enter!(cf, self.base, true),
                        Callee::Host(h) => {
                            call_host!(h, self.base);
                            ip = &RETURN;
                        }
                    }
                }
                Instr::ReturnCallIndirect { index, src, aux } => {
                    let addr = indirect!(index, aux);
                    self.move_tail_args(store, addr, src as usize);
                    match resolve!(addr) {
                        Callee::Wasm(cf) => enter!(cf, self.base, true),
                        Callee::Host(h) => {
                            call_host!(h, self.base);
                            ip = &RETURN;
                        }
                    }
                }
                Instr::Select { dst, b, cond } => {
                    if r!(cond) as u32 == 0 {
                        w!(dst, r!(b));
                    }
                }
                Instr::GlobalGet { dst, global } => w!(dst, self.globals.get(global)),
                Instr::GlobalSet { src, global } => self.globals.set(global, r!(src)),
                Instr::MemorySize { dst } => w!(dst, (mem_len / kwasm_runtime::store::PAGE_SIZE) as u64),
                Instr::MemoryGrow { dst } => {
                    let m = store.instance(self.inst).memories[0];
                    let delta = r!(dst) as u32 as u64;
                    let r = store.memories[m as usize].grow(delta).map_or(u32::MAX, |old| old as u32);
                    w!(dst, r as u64);
                    (mem, mem_len) = memory_of(store, self.inst);
                }
                Instr::MemoryFill { base: b } => {
                    let (d, v, n) = (r!(b) as u32 as usize, r!(b + 1) as u8, r!(b + 2) as u32 as usize);
                    if d.checked_add(n).is_none_or(|e| e > mem_len) {
                        trap!(TrapKind::MemoryOutOfBounds);
                    }
                    let m = store.instance(self.inst).memories[0];
                    store.memories[m as usize].data[d..d + n].fill(v);
                }
                Instr::MemoryCopy { base: b } => {
                    let (d, s, n) = (r!(b) as u32 as usize, r!(b + 1) as u32 as usize, r!(b + 2) as u32 as usize);
                    if d.checked_add(n).is_none_or(|e| e > mem_len) || s.checked_add(n).is_none_or(|e| e > mem_len) {
                        trap!(TrapKind::MemoryOutOfBounds);
                    }
                    let m = store.instance(self.inst).memories[0];
                    store.memories[m as usize].data.copy_within(s..s + n, d);
                }
                Instr::MemoryInit { base: b, data } => {
                    let idata = store.instance(self.inst);
                    let (m, dseg) = (idata.memories[0], idata.datas[data as usize]);
                    let (d, s, n) = (r!(b) as u32, r!(b + 1) as u32, r!(b + 2) as u32);
                    if let Err(t) = store.memory_init(m, dseg, d, s, n) {
                        trap!(t.kind);
                    }
                }
                Instr::DataDrop { data } => {
                    let dseg = store.instance(self.inst).datas[data as usize];
                    let seg = &mut store.datas[dseg as usize];
                    seg.range = seg.range.start..seg.range.start;
                }
                Instr::TableGet { dst, table } => {
                    let t = store.instance(self.inst).tables[table as usize];
                    let i = r!(dst) as u32 as usize;
                    match store.tables[t as usize].elems.get(i) {
                        Some(&v) => w!(dst, v),
                        None => trap!(TrapKind::TableOutOfBounds),
                    }
                }
                Instr::TableSet { base: b, table } => {
                    let t = store.instance(self.inst).tables[table as usize];
                    let (i, v) = (r!(b) as u32 as usize, r!(b + 1));
                    match store.tables[t as usize].elems.get_mut(i) {
                        Some(slot) => *slot = v,
                        None => trap!(TrapKind::TableOutOfBounds),
                    }
                }
                Instr::TableSize { dst, table } => {
                    let t = store.instance(self.inst).tables[table as usize];
                    w!(dst, store.tables[t as usize].elems.len() as u64);
                }
                Instr::TableGrow { base: b, table } => {
                    let t = store.instance(self.inst).tables[table as usize];
                    let (init, n) = (r!(b), r!(b + 1) as u32 as u64);
                    let r = store.tables[t as usize].grow(n, init).map_or(u32::MAX, |old| old as u32);
                    w!(b, r as u64);
                }
                Instr::TableFill { base: b, table } => {
                    let t = store.instance(self.inst).tables[table as usize];
                    let (i, v, n) = (r!(b) as u32 as usize, r!(b + 1), r!(b + 2) as u32 as usize);
                    let elems = &mut store.tables[t as usize].elems;
                    if i.checked_add(n).is_none_or(|e| e > elems.len()) {
                        trap!(TrapKind::TableOutOfBounds);
                    }
                    elems[i..i + n].fill(v);
                }
                Instr::TableCopy { base: b, aux } => {
                    let (dt, st) = f.table_pairs[aux as usize];
                    let idata = store.instance(self.inst);
                    let (dt, st) = (idata.tables[dt as usize] as usize, idata.tables[st as usize] as usize);
                    let (d, s, n) = (r!(b) as u32 as usize, r!(b + 1) as u32 as usize, r!(b + 2) as u32 as usize);
                    let (dl, sl) = (store.tables[dt].elems.len(), store.tables[st].elems.len());
                    if d.checked_add(n).is_none_or(|e| e > dl) || s.checked_add(n).is_none_or(|e| e > sl) {
                        trap!(TrapKind::TableOutOfBounds);
                    }
                    if dt == st {
                        store.tables[dt].elems.copy_within(s..s + n, d);
                    } else {
                        let src: Vec<u64> = store.tables[st].elems[s..s + n].to_vec();
                        store.tables[dt].elems[d..d + n].copy_from_slice(&src);
                    }
                }
                Instr::TableInit { base: b, aux } => {
                    let (table, elem) = f.table_pairs[aux as usize];
                    let idata = store.instance(self.inst);
                    let (t, e) = (idata.tables[table as usize], idata.elems[elem as usize]);
                    let (d, s, n) = (r!(b) as u32, r!(b + 1) as u32, r!(b + 2) as u32);
                    if let Err(t) = store.table_init(t, e, d, s, n) {
                        trap!(t.kind);
                    }
                }
                Instr::ElemDrop { elem } => {
                    let e = store.instance(self.inst).elems[elem as usize];
                    store.elems[e as usize].items = Vec::new();
                }
                Instr::RefFunc { dst, func } => {
                    let addr = store.instance(self.inst).funcs[func as usize];
                    w!(dst, addr as u64 + 1);
                }
                Instr::RefIsNull { dst, src } => w!(dst, (r!(src) == 0) as u64),

                Instr::I32Eq { dst, a, b } => bin!(dst, a, b, |x: u32, y: u32| x == y),
                Instr::I32Ne { dst, a, b } => bin!(dst, a, b, |x: u32, y: u32| x != y),
                Instr::I32LtS { dst, a, b } => bin!(dst, a, b, |x: i32, y: i32| x < y),
                Instr::I32LtU { dst, a, b } => bin!(dst, a, b, |x: u32, y: u32| x < y),
                Instr::I32GtS { dst, a, b } => bin!(dst, a, b, |x: i32, y: i32| x > y),
                Instr::I32GtU { dst, a, b } => bin!(dst, a, b, |x: u32, y: u32| x > y),
                Instr::I32LeS { dst, a, b } => bin!(dst, a, b, |x: i32, y: i32| x <= y),
                Instr::I32LeU { dst, a, b } => bin!(dst, a, b, |x: u32, y: u32| x <= y),
                Instr::I32GeS { dst, a, b } => bin!(dst, a, b, |x: i32, y: i32| x >= y),
                Instr::I32GeU { dst, a, b } => bin!(dst, a, b, |x: u32, y: u32| x >= y),
                Instr::I64Eq { dst, a, b } => bin!(dst, a, b, |x: u64, y: u64| x == y),
                Instr::I64Ne { dst, a, b } => bin!(dst, a, b, |x: u64, y: u64| x != y),
                Instr::I64LtS { dst, a, b } => bin!(dst, a, b, |x: i64, y: i64| x < y),
                Instr::I64LtU { dst, a, b } => bin!(dst, a, b, |x: u64, y: u64| x < y),
                Instr::I64GtS { dst, a, b } => bin!(dst, a, b, |x: i64, y: i64| x > y),
                Instr::I64GtU { dst, a, b } => bin!(dst, a, b, |x: u64, y: u64| x > y),
                Instr::I64LeS { dst, a, b } => bin!(dst, a, b, |x: i64, y: i64| x <= y),
                Instr::I64LeU { dst, a, b } => bin!(dst, a, b, |x: u64, y: u64| x <= y),
                Instr::I64GeS { dst, a, b } => bin!(dst, a, b, |x: i64, y: i64| x >= y),
                Instr::I64GeU { dst, a, b } => bin!(dst, a, b, |x: u64, y: u64| x >= y),
                Instr::F32Eq { dst, a, b } => bin!(dst, a, b, |x: f32, y: f32| x == y),
                Instr::F32Ne { dst, a, b } => bin!(dst, a, b, |x: f32, y: f32| x != y),
                Instr::F32Lt { dst, a, b } => bin!(dst, a, b, |x: f32, y: f32| x < y),
                Instr::F32Gt { dst, a, b } => bin!(dst, a, b, |x: f32, y: f32| x > y),
                Instr::F32Le { dst, a, b } => bin!(dst, a, b, |x: f32, y: f32| x <= y),
                Instr::F32Ge { dst, a, b } => bin!(dst, a, b, |x: f32, y: f32| x >= y),
                Instr::F64Eq { dst, a, b } => bin!(dst, a, b, |x: f64, y: f64| x == y),
                Instr::F64Ne { dst, a, b } => bin!(dst, a, b, |x: f64, y: f64| x != y),
                Instr::F64Lt { dst, a, b } => bin!(dst, a, b, |x: f64, y: f64| x < y),
                Instr::F64Gt { dst, a, b } => bin!(dst, a, b, |x: f64, y: f64| x > y),
                Instr::F64Le { dst, a, b } => bin!(dst, a, b, |x: f64, y: f64| x <= y),
                Instr::F64Ge { dst, a, b } => bin!(dst, a, b, |x: f64, y: f64| x >= y),

                Instr::I32Add { dst, a, b } => bin!(dst, a, b, |x: u32, y: u32| x.wrapping_add(y)),
                Instr::I32Sub { dst, a, b } => bin!(dst, a, b, |x: u32, y: u32| x.wrapping_sub(y)),
                Instr::I32Mul { dst, a, b } => bin!(dst, a, b, |x: u32, y: u32| x.wrapping_mul(y)),
                Instr::I32DivS { dst, a, b } => bin_trap!(dst, a, b, |x: i32, y: i32| match y {
                    0 => Err(TrapKind::IntegerDivideByZero),
                    -1 if x == i32::MIN => Err(TrapKind::IntegerOverflow),
                    _ => Ok(x / y),
                }),
                Instr::I32DivU { dst, a, b } => {
                    bin_trap!(dst, a, b, |x: u32, y: u32| x.checked_div(y).ok_or(TrapKind::IntegerDivideByZero))
                }
                Instr::I32RemS { dst, a, b } => bin_trap!(dst, a, b, |x: i32, y: i32| if y == 0 {
                    Err(TrapKind::IntegerDivideByZero)
                } else {
                    Ok(x.wrapping_rem(y))
                }),
                Instr::I32RemU { dst, a, b } => {
                    bin_trap!(dst, a, b, |x: u32, y: u32| x.checked_rem(y).ok_or(TrapKind::IntegerDivideByZero))
                }
                Instr::I32And { dst, a, b } => bin!(dst, a, b, |x: u32, y: u32| x & y),
                Instr::I32Or { dst, a, b } => bin!(dst, a, b, |x: u32, y: u32| x | y),
                Instr::I32Xor { dst, a, b } => bin!(dst, a, b, |x: u32, y: u32| x ^ y),
                Instr::I32Shl { dst, a, b } => bin!(dst, a, b, |x: u32, y: u32| x.wrapping_shl(y)),
                Instr::I32ShrS { dst, a, b } => bin!(dst, a, b, |x: i32, y: u32| x.wrapping_shr(y)),
                Instr::I32ShrU { dst, a, b } => bin!(dst, a, b, |x: u32, y: u32| x.wrapping_shr(y)),
                Instr::I32Rotl { dst, a, b } => bin!(dst, a, b, |x: u32, y: u32| x.rotate_left(y % 32)),
                Instr::I32Rotr { dst, a, b } => bin!(dst, a, b, |x: u32, y: u32| x.rotate_right(y % 32)),
                Instr::I64Add { dst, a, b } => bin!(dst, a, b, |x: u64, y: u64| x.wrapping_add(y)),
                Instr::I64Sub { dst, a, b } => bin!(dst, a, b, |x: u64, y: u64| x.wrapping_sub(y)),
                Instr::I64Mul { dst, a, b } => bin!(dst, a, b, |x: u64, y: u64| x.wrapping_mul(y)),
                Instr::I64DivS { dst, a, b } => bin_trap!(dst, a, b, |x: i64, y: i64| match y {
                    0 => Err(TrapKind::IntegerDivideByZero),
                    -1 if x == i64::MIN => Err(TrapKind::IntegerOverflow),
                    _ => Ok(x / y),
                }),
                Instr::I64DivU { dst, a, b } => {
                    bin_trap!(dst, a, b, |x: u64, y: u64| x.checked_div(y).ok_or(TrapKind::IntegerDivideByZero))
                }
                Instr::I64RemS { dst, a, b } => bin_trap!(dst, a, b, |x: i64, y: i64| if y == 0 {
                    Err(TrapKind::IntegerDivideByZero)
                } else {
                    Ok(x.wrapping_rem(y))
                }),
                Instr::I64RemU { dst, a, b } => {
                    bin_trap!(dst, a, b, |x: u64, y: u64| x.checked_rem(y).ok_or(TrapKind::IntegerDivideByZero))
                }
                Instr::I64And { dst, a, b } => bin!(dst, a, b, |x: u64, y: u64| x & y),
                Instr::I64Or { dst, a, b } => bin!(dst, a, b, |x: u64, y: u64| x | y),
                Instr::I64Xor { dst, a, b } => bin!(dst, a, b, |x: u64, y: u64| x ^ y),
                Instr::I64Shl { dst, a, b } => bin!(dst, a, b, |x: u64, y: u64| x.wrapping_shl(y as u32)),
                Instr::I64ShrS { dst, a, b } => bin!(dst, a, b, |x: i64, y: u64| x.wrapping_shr(y as u32)),
                Instr::I64ShrU { dst, a, b } => bin!(dst, a, b, |x: u64, y: u64| x.wrapping_shr(y as u32)),
                Instr::I64Rotl { dst, a, b } => bin!(dst, a, b, |x: u64, y: u64| x.rotate_left((y % 64) as u32)),
                Instr::I64Rotr { dst, a, b } => bin!(dst, a, b, |x: u64, y: u64| x.rotate_right((y % 64) as u32)),
                Instr::F32Add { dst, a, b } => bin!(dst, a, b, |x: f32, y: f32| x + y),
                Instr::F32Sub { dst, a, b } => bin!(dst, a, b, |x: f32, y: f32| x - y),
                Instr::F32Mul { dst, a, b } => bin!(dst, a, b, |x: f32, y: f32| x * y),
                Instr::F32Div { dst, a, b } => bin!(dst, a, b, |x: f32, y: f32| x / y),
                Instr::F32Min { dst, a, b } => bin!(dst, a, b, ops::f32_min),
                Instr::F32Max { dst, a, b } => bin!(dst, a, b, ops::f32_max),
                Instr::F32Copysign { dst, a, b } => {
                    bin!(dst, a, b, |x: u32, y: u32| (x & 0x7fff_ffff) | (y & 0x8000_0000))
                }
                Instr::F64Add { dst, a, b } => bin!(dst, a, b, |x: f64, y: f64| x + y),
                Instr::F64Sub { dst, a, b } => bin!(dst, a, b, |x: f64, y: f64| x - y),
                Instr::F64Mul { dst, a, b } => bin!(dst, a, b, |x: f64, y: f64| x * y),
                Instr::F64Div { dst, a, b } => bin!(dst, a, b, |x: f64, y: f64| x / y),
                Instr::F64Min { dst, a, b } => bin!(dst, a, b, ops::f64_min),
                Instr::F64Max { dst, a, b } => bin!(dst, a, b, ops::f64_max),
                Instr::F64Copysign { dst, a, b } => {
                    bin!(dst, a, b, |x: u64, y: u64| (x & !(1 << 63)) | (y & (1 << 63)))
                }

                Instr::I32Eqz { dst, src } => un!(dst, src, |x: u32| x == 0),
                Instr::I64Eqz { dst, src } => un!(dst, src, |x: u64| x == 0),
                Instr::I32Clz { dst, src } => un!(dst, src, |x: u32| x.leading_zeros()),
                Instr::I32Ctz { dst, src } => un!(dst, src, |x: u32| x.trailing_zeros()),
                Instr::I32Popcnt { dst, src } => un!(dst, src, |x: u32| x.count_ones()),
                Instr::I64Clz { dst, src } => un!(dst, src, |x: u64| x.leading_zeros() as u64),
                Instr::I64Ctz { dst, src } => un!(dst, src, |x: u64| x.trailing_zeros() as u64),
                Instr::I64Popcnt { dst, src } => un!(dst, src, |x: u64| x.count_ones() as u64),
                Instr::F32Abs { dst, src } => un!(dst, src, |x: u32| x & 0x7fff_ffff),
                Instr::F32Neg { dst, src } => un!(dst, src, |x: u32| x ^ 0x8000_0000),
                Instr::F32Ceil { dst, src } => un!(dst, src, ops::f32_ceil),
                Instr::F32Floor { dst, src } => un!(dst, src, ops::f32_floor),
                Instr::F32Trunc { dst, src } => un!(dst, src, ops::f32_trunc),
                Instr::F32Nearest { dst, src } => un!(dst, src, ops::f32_nearest),
                Instr::F32Sqrt { dst, src } => un!(dst, src, ops::f32_sqrt),
                Instr::F64Abs { dst, src } => un!(dst, src, |x: u64| x & !(1 << 63)),
                Instr::F64Neg { dst, src } => un!(dst, src, |x: u64| x ^ (1 << 63)),
                Instr::F64Ceil { dst, src } => un!(dst, src, ops::f64_ceil),
                Instr::F64Floor { dst, src } => un!(dst, src, ops::f64_floor),
                Instr::F64Trunc { dst, src } => un!(dst, src, ops::f64_trunc),
                Instr::F64Nearest { dst, src } => un!(dst, src, ops::f64_nearest),
                Instr::F64Sqrt { dst, src } => un!(dst, src, ops::f64_sqrt),
                Instr::I32WrapI64 { dst, src } => un!(dst, src, |x: u64| x as u32),
                Instr::I32TruncF32S { dst, src } => un_trap!(dst, src, ops::i32_trunc_f32),
                Instr::I32TruncF32U { dst, src } => un_trap!(dst, src, ops::u32_trunc_f32),
                Instr::I32TruncF64S { dst, src } => un_trap!(dst, src, ops::i32_trunc_f64),
                Instr::I32TruncF64U { dst, src } => un_trap!(dst, src, ops::u32_trunc_f64),
                Instr::I64ExtendI32S { dst, src } => un!(dst, src, |x: i32| x as i64),
                Instr::I64ExtendI32U { dst, src } => un!(dst, src, |x: u32| x as u64),
                Instr::I64TruncF32S { dst, src } => un_trap!(dst, src, ops::i64_trunc_f32),
                Instr::I64TruncF32U { dst, src } => un_trap!(dst, src, ops::u64_trunc_f32),
                Instr::I64TruncF64S { dst, src } => un_trap!(dst, src, ops::i64_trunc_f64),
                Instr::I64TruncF64U { dst, src } => un_trap!(dst, src, ops::u64_trunc_f64),
                Instr::F32ConvertI32S { dst, src } => un!(dst, src, |x: i32| x as f32),
                Instr::F32ConvertI32U { dst, src } => un!(dst, src, |x: u32| x as f32),
                Instr::F32ConvertI64S { dst, src } => un!(dst, src, |x: i64| x as f32),
                Instr::F32ConvertI64U { dst, src } => un!(dst, src, |x: u64| x as f32),
                Instr::F32DemoteF64 { dst, src } => un!(dst, src, ops::demote),
                Instr::F64ConvertI32S { dst, src } => un!(dst, src, |x: i32| x as f64),
                Instr::F64ConvertI32U { dst, src } => un!(dst, src, |x: u32| x as f64),
                Instr::F64ConvertI64S { dst, src } => un!(dst, src, |x: i64| x as f64),
                Instr::F64ConvertI64U { dst, src } => un!(dst, src, |x: u64| x as f64),
                Instr::F64PromoteF32 { dst, src } => un!(dst, src, ops::promote),
                Instr::I32Extend8S { dst, src } => un!(dst, src, |x: u32| x as i8 as i32),
                Instr::I32Extend16S { dst, src } => un!(dst, src, |x: u32| x as i16 as i32),
                Instr::I64Extend8S { dst, src } => un!(dst, src, |x: u64| x as i8 as i64),
                Instr::I64Extend16S { dst, src } => un!(dst, src, |x: u64| x as i16 as i64),
                Instr::I64Extend32S { dst, src } => un!(dst, src, |x: u64| x as i32 as i64),
                Instr::I32TruncSatF32S { dst, src } => un!(dst, src, |x: f32| x as i32),
                Instr::I32TruncSatF32U { dst, src } => un!(dst, src, |x: f32| x as u32),
                Instr::I32TruncSatF64S { dst, src } => un!(dst, src, |x: f64| x as i32),
                Instr::I32TruncSatF64U { dst, src } => un!(dst, src, |x: f64| x as u32),
                Instr::I64TruncSatF32S { dst, src } => un!(dst, src, |x: f32| x as i64),
                Instr::I64TruncSatF32U { dst, src } => un!(dst, src, |x: f32| x as u64),
                Instr::I64TruncSatF64S { dst, src } => un!(dst, src, |x: f64| x as i64),
                Instr::I64TruncSatF64U { dst, src } => un!(dst, src, |x: f64| x as u64),

                Instr::I32Load { dst, addr, offset } => load!(dst, addr, offset, 4, u32::from_le_bytes),
                Instr::I64Load { dst, addr, offset } => load!(dst, addr, offset, 8, u64::from_le_bytes),
                Instr::F32Load { dst, addr, offset } => load!(dst, addr, offset, 4, u32::from_le_bytes),
                Instr::F64Load { dst, addr, offset } => load!(dst, addr, offset, 8, u64::from_le_bytes),
                Instr::I32Load8S { dst, addr, offset } => load!(dst, addr, offset, 1, |b: [u8; 1]| b[0] as i8 as i32),
                Instr::I32Load8U { dst, addr, offset } => load!(dst, addr, offset, 1, |b: [u8; 1]| b[0] as u32),
                Instr::I32Load16S { dst, addr, offset } => {
                    load!(dst, addr, offset, 2, |b| i16::from_le_bytes(b) as i32)
                }
                Instr::I32Load16U { dst, addr, offset } => {
                    load!(dst, addr, offset, 2, |b| u16::from_le_bytes(b) as u32)
                }
                Instr::I64Load8S { dst, addr, offset } => load!(dst, addr, offset, 1, |b: [u8; 1]| b[0] as i8 as i64),
                Instr::I64Load8U { dst, addr, offset } => load!(dst, addr, offset, 1, |b: [u8; 1]| b[0] as u64),
                Instr::I64Load16S { dst, addr, offset } => {
                    load!(dst, addr, offset, 2, |b| i16::from_le_bytes(b) as i64)
                }
                Instr::I64Load16U { dst, addr, offset } => {
                    load!(dst, addr, offset, 2, |b| u16::from_le_bytes(b) as u64)
                }
                Instr::I64Load32S { dst, addr, offset } => {
                    load!(dst, addr, offset, 4, |b| i32::from_le_bytes(b) as i64)
                }
                Instr::I64Load32U { dst, addr, offset } => {
                    load!(dst, addr, offset, 4, |b| u32::from_le_bytes(b) as u64)
                }
                Instr::I32Store { addr, val, offset } => {
                    store!(addr, val, offset, 4, |v: u64| (v as u32).to_le_bytes())
                }
                Instr::I64Store { addr, val, offset } => store!(addr, val, offset, 8, |v: u64| v.to_le_bytes()),
                Instr::F32Store { addr, val, offset } => {
                    store!(addr, val, offset, 4, |v: u64| (v as u32).to_le_bytes())
                }
                Instr::F64Store { addr, val, offset } => store!(addr, val, offset, 8, |v: u64| v.to_le_bytes()),
                Instr::I32Store8 { addr, val, offset } => store!(addr, val, offset, 1, |v: u64| [v as u8]),
                Instr::I32Store16 { addr, val, offset } => {
                    store!(addr, val, offset, 2, |v: u64| (v as u16).to_le_bytes())
                }
                Instr::I64Store8 { addr, val, offset } => store!(addr, val, offset, 1, |v: u64| [v as u8]),
                Instr::I64Store16 { addr, val, offset } => {
                    store!(addr, val, offset, 2, |v: u64| (v as u16).to_le_bytes())
                }
                Instr::I64Store32 { addr, val, offset } => {
                    store!(addr, val, offset, 4, |v: u64| (v as u32).to_le_bytes())
                }
            }
        }
    }

    /// Moves the arguments of a tail call of `addr` from `src` to the start of the current frame.
    fn move_tail_args(&mut self, store: &Store, addr: FuncAddr, src: usize) {
        let np = store.funcs[addr as usize].ty.params.len();
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

/// Module offset of the instruction before `ip` (the one executing), for trap locations.
fn offset_at(f: &InterpFunc, ip: *const Instr) -> u32 {
    let start = f.code.as_ptr() as usize;
    let pc = (ip as usize).wrapping_sub(start) / core::mem::size_of::<Instr>();
    // pc == 0: trapped on entry (fuel, stack), before the first instruction.
    f.offsets.get(pc.saturating_sub(1)).copied().unwrap_or(0)
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
}
