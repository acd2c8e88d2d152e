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
//! - `pc` always indexes the current function's code (it ends in `Return` or a jump).

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
    ret_pc: usize,
    base: usize,
    func: *const InterpFunc,
}

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
        let mut code: *const Instr = f.code.as_ptr();
        let mut pc: usize = 0;
        let mut base: usize = 0;
        let mut bp: *mut u64 = self.stack.as_mut_ptr();
        let mut inst: InstanceId = f.instance;
        let (mut mem, mut mem_len) = memory_of(store, inst);
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
                return Err(Trap::at($kind, f.func_index, f.offsets[pc - 1]))
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
        macro_rules! enter {
            ($callee:expr, $new_base:expr, $tail:expr) => {{
                let callee: *const InterpFunc = $callee;
                // SAFETY: owned by the store (see `callee`).
                let cf = unsafe { &*callee };
                if !$tail {
                    if self.frames.len() >= self.max_depth {
                        trap!(TrapKind::CallStackExhausted);
                    }
                    self.frames.push(Frame { ret_pc: pc, base, func: f as *const InterpFunc });
                }
                if let Err(k) = self.enter_frame($new_base, cf) {
                    if !$tail {
                        self.frames.pop();
                    }
                    trap!(k);
                }
                f = cf;
                code = f.code.as_ptr();
                pc = 0;
                base = $new_base;
                bp = self.stack.as_mut_ptr().wrapping_add(base);
                if f.instance != inst {
                    inst = f.instance;
                }
                (mem, mem_len) = memory_of(store, inst);
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
                if let Err(mut t) = store.call_host(addr, Some(inst), &args, &mut res) {
                    if t.func.is_none() && !matches!(t.kind, TrapKind::Exit(_)) {
                        t.func = Some(f.func_index);
                        t.offset = Some(f.offsets[pc - 1]);
                    }
                    return Err(t);
                }
                self.stack[nb..nb + nr].copy_from_slice(&res);
                bp = self.stack.as_mut_ptr().wrapping_add(base);
                (mem, mem_len) = memory_of(store, inst);
            }};
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
                let idata = store.instance(inst);
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
            // SAFETY: `pc` indexes the current code (module docs).
            let instr = unsafe { *code.add(pc) };
            pc += 1;
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
                Instr::Br { target } => pc = target as usize,
                Instr::BrIfEqz { cond, target } => {
                    if r!(cond) as u32 == 0 {
                        pc = target as usize;
                    }
                }
                Instr::BrIfNez { cond, target } => {
                    if r!(cond) as u32 != 0 {
                        pc = target as usize;
                    }
                }
                Instr::BrIfI32Eq { a, b, target } => {
                    if r!(a) as u32 == r!(b) as u32 {
                        pc = target as usize;
                    }
                }
                Instr::BrIfI32Ne { a, b, target } => {
                    if r!(a) as u32 != r!(b) as u32 {
                        pc = target as usize;
                    }
                }
                Instr::BrIfI32LtS { a, b, target } => {
                    if (r!(a) as u32 as i32) < r!(b) as u32 as i32 {
                        pc = target as usize;
                    }
                }
                Instr::BrIfI32LtU { a, b, target } => {
                    if (r!(a) as u32) < r!(b) as u32 {
                        pc = target as usize;
                    }
                }
                Instr::BrIfI32GeS { a, b, target } => {
                    if r!(a) as u32 as i32 >= r!(b) as u32 as i32 {
                        pc = target as usize;
                    }
                }
                Instr::BrIfI32GeU { a, b, target } => {
                    if r!(a) as u32 >= r!(b) as u32 {
                        pc = target as usize;
                    }
                }
                Instr::BrTable { index, len } => {
                    let i = (r!(index) as u32).min(len - 1);
                    pc += i as usize;
                }
                Instr::Fuel { n } => fuel!(n),
                Instr::Return {} => match self.frames.pop() {
                    None => return Ok(()),
                    Some(fr) => {
                        // SAFETY: frames only hold functions owned by the store.
                        f = unsafe { &*fr.func };
                        code = f.code.as_ptr();
                        pc = fr.ret_pc;
                        base = fr.base;
                        bp = self.stack.as_mut_ptr().wrapping_add(base);
                        inst = f.instance;
                        (mem, mem_len) = memory_of(store, inst);
                    }
                },
                Instr::Unreachable {} => trap!(TrapKind::Unreachable),
                Instr::Call { func, base: rel } => {
                    let addr = store.instance(inst).funcs[func as usize];
                    match resolve!(addr) {
                        Callee::Wasm(cf) => enter!(cf, base + rel as usize, false),
                        Callee::Host(h) => call_host!(h, base + rel as usize),
                    }
                }
                Instr::CallIndirect { index, base: rel, aux } => {
                    let addr = indirect!(index, aux);
                    match resolve!(addr) {
                        Callee::Wasm(cf) => enter!(cf, base + rel as usize, false),
                        Callee::Host(h) => call_host!(h, base + rel as usize),
                    }
                }
                Instr::ReturnCall { func, src } => {
                    let addr = store.instance(inst).funcs[func as usize];
                    self.tail_call(store, addr, base, src as usize, &mut pc, &mut f, &mut code)?;
                    bp = self.stack.as_mut_ptr().wrapping_add(base);
                    inst = f.instance;
                    (mem, mem_len) = memory_of(store, inst);
                }
                Instr::ReturnCallIndirect { index, src, aux } => {
                    let addr = indirect!(index, aux);
                    self.tail_call(store, addr, base, src as usize, &mut pc, &mut f, &mut code)?;
                    bp = self.stack.as_mut_ptr().wrapping_add(base);
                    inst = f.instance;
                    (mem, mem_len) = memory_of(store, inst);
                }
                Instr::Select { dst, b, cond } => {
                    if r!(cond) as u32 == 0 {
                        w!(dst, r!(b));
                    }
                }
                Instr::GlobalGet { dst, global } => {
                    let g = store.instance(inst).globals[global as usize];
                    w!(dst, store.globals[g as usize].value);
                }
                Instr::GlobalSet { src, global } => {
                    let g = store.instance(inst).globals[global as usize];
                    store.globals[g as usize].value = r!(src);
                }
                Instr::MemorySize { dst } => w!(dst, (mem_len / kwasm_runtime::store::PAGE_SIZE) as u64),
                Instr::MemoryGrow { dst } => {
                    let m = store.instance(inst).memories[0];
                    let delta = r!(dst) as u32 as u64;
                    let r = store.memories[m as usize].grow(delta).map_or(u32::MAX, |old| old as u32);
                    w!(dst, r as u64);
                    (mem, mem_len) = memory_of(store, inst);
                }
                Instr::MemoryFill { base: b } => {
                    let (d, v, n) = (r!(b) as u32 as usize, r!(b + 1) as u8, r!(b + 2) as u32 as usize);
                    if d.checked_add(n).is_none_or(|e| e > mem_len) {
                        trap!(TrapKind::MemoryOutOfBounds);
                    }
                    let m = store.instance(inst).memories[0];
                    store.memories[m as usize].data[d..d + n].fill(v);
                }
                Instr::MemoryCopy { base: b } => {
                    let (d, s, n) = (r!(b) as u32 as usize, r!(b + 1) as u32 as usize, r!(b + 2) as u32 as usize);
                    if d.checked_add(n).is_none_or(|e| e > mem_len) || s.checked_add(n).is_none_or(|e| e > mem_len) {
                        trap!(TrapKind::MemoryOutOfBounds);
                    }
                    let m = store.instance(inst).memories[0];
                    store.memories[m as usize].data.copy_within(s..s + n, d);
                }
                Instr::MemoryInit { base: b, data } => {
                    let idata = store.instance(inst);
                    let (m, dseg) = (idata.memories[0], idata.datas[data as usize]);
                    let (d, s, n) = (r!(b) as u32, r!(b + 1) as u32, r!(b + 2) as u32);
                    if let Err(t) = store.memory_init(m, dseg, d, s, n) {
                        trap!(t.kind);
                    }
                }
                Instr::DataDrop { data } => {
                    let dseg = store.instance(inst).datas[data as usize];
                    let seg = &mut store.datas[dseg as usize];
                    seg.range = seg.range.start..seg.range.start;
                }
                Instr::TableGet { dst, table } => {
                    let t = store.instance(inst).tables[table as usize];
                    let i = r!(dst) as u32 as usize;
                    match store.tables[t as usize].elems.get(i) {
                        Some(&v) => w!(dst, v),
                        None => trap!(TrapKind::TableOutOfBounds),
                    }
                }
                Instr::TableSet { base: b, table } => {
                    let t = store.instance(inst).tables[table as usize];
                    let (i, v) = (r!(b) as u32 as usize, r!(b + 1));
                    match store.tables[t as usize].elems.get_mut(i) {
                        Some(slot) => *slot = v,
                        None => trap!(TrapKind::TableOutOfBounds),
                    }
                }
                Instr::TableSize { dst, table } => {
                    let t = store.instance(inst).tables[table as usize];
                    w!(dst, store.tables[t as usize].elems.len() as u64);
                }
                Instr::TableGrow { base: b, table } => {
                    let t = store.instance(inst).tables[table as usize];
                    let (init, n) = (r!(b), r!(b + 1) as u32 as u64);
                    let r = store.tables[t as usize].grow(n, init).map_or(u32::MAX, |old| old as u32);
                    w!(b, r as u64);
                }
                Instr::TableFill { base: b, table } => {
                    let t = store.instance(inst).tables[table as usize];
                    let (i, v, n) = (r!(b) as u32 as usize, r!(b + 1), r!(b + 2) as u32 as usize);
                    let elems = &mut store.tables[t as usize].elems;
                    if i.checked_add(n).is_none_or(|e| e > elems.len()) {
                        trap!(TrapKind::TableOutOfBounds);
                    }
                    elems[i..i + n].fill(v);
                }
                Instr::TableCopy { base: b, aux } => {
                    let (dt, st) = f.table_pairs[aux as usize];
                    let idata = store.instance(inst);
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
                    let idata = store.instance(inst);
                    let (t, e) = (idata.tables[table as usize], idata.elems[elem as usize]);
                    let (d, s, n) = (r!(b) as u32, r!(b + 1) as u32, r!(b + 2) as u32);
                    if let Err(t) = store.table_init(t, e, d, s, n) {
                        trap!(t.kind);
                    }
                }
                Instr::ElemDrop { elem } => {
                    let e = store.instance(inst).elems[elem as usize];
                    store.elems[e as usize].items = Vec::new();
                }
                Instr::RefFunc { dst, func } => {
                    let addr = store.instance(inst).funcs[func as usize];
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
                Instr::I32DivU { dst, a, b } => bin_trap!(dst, a, b, |x: u32, y: u32| x.checked_div(y).ok_or(TrapKind::IntegerDivideByZero)),
                Instr::I32RemS { dst, a, b } => bin_trap!(dst, a, b, |x: i32, y: i32| if y == 0 {
                    Err(TrapKind::IntegerDivideByZero)
                } else {
                    Ok(x.wrapping_rem(y))
                }),
                Instr::I32RemU { dst, a, b } => bin_trap!(dst, a, b, |x: u32, y: u32| x.checked_rem(y).ok_or(TrapKind::IntegerDivideByZero)),
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
                Instr::I64DivU { dst, a, b } => bin_trap!(dst, a, b, |x: u64, y: u64| x.checked_div(y).ok_or(TrapKind::IntegerDivideByZero)),
                Instr::I64RemS { dst, a, b } => bin_trap!(dst, a, b, |x: i64, y: i64| if y == 0 {
                    Err(TrapKind::IntegerDivideByZero)
                } else {
                    Ok(x.wrapping_rem(y))
                }),
                Instr::I64RemU { dst, a, b } => bin_trap!(dst, a, b, |x: u64, y: u64| x.checked_rem(y).ok_or(TrapKind::IntegerDivideByZero)),
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
                Instr::F32Copysign { dst, a, b } => bin!(dst, a, b, |x: u32, y: u32| (x & 0x7fff_ffff) | (y & 0x8000_0000)),
                Instr::F64Add { dst, a, b } => bin!(dst, a, b, |x: f64, y: f64| x + y),
                Instr::F64Sub { dst, a, b } => bin!(dst, a, b, |x: f64, y: f64| x - y),
                Instr::F64Mul { dst, a, b } => bin!(dst, a, b, |x: f64, y: f64| x * y),
                Instr::F64Div { dst, a, b } => bin!(dst, a, b, |x: f64, y: f64| x / y),
                Instr::F64Min { dst, a, b } => bin!(dst, a, b, ops::f64_min),
                Instr::F64Max { dst, a, b } => bin!(dst, a, b, ops::f64_max),
                Instr::F64Copysign { dst, a, b } => bin!(dst, a, b, |x: u64, y: u64| (x & !(1 << 63)) | (y & (1 << 63))),

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
                Instr::I32Load16S { dst, addr, offset } => load!(dst, addr, offset, 2, |b| i16::from_le_bytes(b) as i32),
                Instr::I32Load16U { dst, addr, offset } => load!(dst, addr, offset, 2, |b| u16::from_le_bytes(b) as u32),
                Instr::I64Load8S { dst, addr, offset } => load!(dst, addr, offset, 1, |b: [u8; 1]| b[0] as i8 as i64),
                Instr::I64Load8U { dst, addr, offset } => load!(dst, addr, offset, 1, |b: [u8; 1]| b[0] as u64),
                Instr::I64Load16S { dst, addr, offset } => load!(dst, addr, offset, 2, |b| i16::from_le_bytes(b) as i64),
                Instr::I64Load16U { dst, addr, offset } => load!(dst, addr, offset, 2, |b| u16::from_le_bytes(b) as u64),
                Instr::I64Load32S { dst, addr, offset } => load!(dst, addr, offset, 4, |b| i32::from_le_bytes(b) as i64),
                Instr::I64Load32U { dst, addr, offset } => load!(dst, addr, offset, 4, |b| u32::from_le_bytes(b) as u64),
                Instr::I32Store { addr, val, offset } => store!(addr, val, offset, 4, |v: u64| (v as u32).to_le_bytes()),
                Instr::I64Store { addr, val, offset } => store!(addr, val, offset, 8, |v: u64| v.to_le_bytes()),
                Instr::F32Store { addr, val, offset } => store!(addr, val, offset, 4, |v: u64| (v as u32).to_le_bytes()),
                Instr::F64Store { addr, val, offset } => store!(addr, val, offset, 8, |v: u64| v.to_le_bytes()),
                Instr::I32Store8 { addr, val, offset } => store!(addr, val, offset, 1, |v: u64| [v as u8]),
                Instr::I32Store16 { addr, val, offset } => store!(addr, val, offset, 2, |v: u64| (v as u16).to_le_bytes()),
                Instr::I64Store8 { addr, val, offset } => store!(addr, val, offset, 1, |v: u64| [v as u8]),
                Instr::I64Store16 { addr, val, offset } => store!(addr, val, offset, 2, |v: u64| (v as u16).to_le_bytes()),
                Instr::I64Store32 { addr, val, offset } => store!(addr, val, offset, 4, |v: u64| (v as u32).to_le_bytes()),
            }
        }
    }

    /// Replaces the current frame with a call of `addr`, whose arguments are at `src` in the
    /// current frame. A host callee runs right away and the current function returns.
    #[allow(clippy::too_many_arguments)]
    fn tail_call(
        &mut self,
        store: &mut Store,
        addr: FuncAddr,
        base: usize,
        src: usize,
        pc: &mut usize,
        f: &mut &InterpFunc,
        code: &mut *const Instr,
    ) -> Result<(), Trap> {
        let here = (f.func_index, f.offsets[*pc - 1]);
        let np = store.funcs[addr as usize].ty.params.len();
        self.stack.copy_within(base + src..base + src + np, base);
        match self.callee(store, addr)? {
            Callee::Wasm(cf) => {
                // SAFETY: owned by the store (see `callee`).
                let cf = unsafe { &*cf };
                self.enter_frame(base, cf).map_err(|k| Trap::at(k, here.0, here.1))?;
                *f = cf;
                *code = cf.code.as_ptr();
                *pc = 0;
                self.slice_left -= cf.entry_fuel as i64;
                if self.slice_left < 0 {
                    self.refuel(store).map_err(|k| Trap::at(k, here.0, here.1))?;
                }
            }
            Callee::Host(h) => {
                let nr = store.funcs[addr as usize].ty.results.len();
                let args: Vec<u64> = self.stack[base..base + np].to_vec();
                let mut res = vec![0u64; nr];
                if base + nr > self.stack.len() {
                    return Err(Trap::at(TrapKind::CallStackExhausted, here.0, here.1));
                }
                store.call_host(h, Some(f.instance), &args, &mut res)?;
                self.stack[base..base + nr].copy_from_slice(&res);
                // Continue at a synthetic return: jump to the function's final `Return`.
                *pc = f.code.iter().position(|i| matches!(i, Instr::Return {})).unwrap_or(0);
            }
        }
        Ok(())
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
