//! The store: every function, memory, table, global and segment of every instance, addressed by
//! index ("address" in the spec's terms), plus the execution environment (tier, knobs, platform,
//! WASI state). Instances of different modules live in one store so that they can share imports.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use core::cell::OnceCell;
use core::ops::Range;

use crate::error::Error;
use crate::knobs::{Knob, Knobs, BOUNDS_MODES};
use crate::memory::{MemoryData, GUARD_RESERVATION};
use crate::module::{
    ConstExpr, ConstOp, DataMode, ElemMode, ExportKind, ExternType, GlobalType, Limits, Module, TableType,
};
use crate::platform::Platform;
use crate::tier::{CompiledCode, Tier, NUM_TIERS};
use crate::trap::{Trap, TrapKind};
use crate::types::{FuncType, RawRef, Val, ValType};

/// Size of a linear-memory page.
pub const PAGE_SIZE: usize = 65536;

/// Address of a function in the store.
pub type FuncAddr = u32;

/// Identifies an instance in the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InstanceId(pub u32);

/// Something an instance exports or imports, by store address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Extern {
    /// A function.
    Func(FuncAddr),
    /// A table.
    Table(u32),
    /// A memory.
    Memory(u32),
    /// A global.
    Global(u32),
}

/// What a host function sees of its caller.
pub struct Caller<'a> {
    /// The whole store.
    pub store: &'a mut Store,
    /// The calling instance (None when called directly from the embedder).
    pub instance: Option<InstanceId>,
}

impl Caller<'_> {
    /// The caller's exported `memory`, else its first memory, as a store memory index.
    pub fn memory_index(&self) -> Option<u32> {
        let inst = &self.store.instances[self.instance?.0 as usize];
        match inst.export("memory") {
            Some(Extern::Memory(m)) => Some(m),
            _ => inst.memories.first().copied(),
        }
    }

    /// The caller's memory bytes (see [`Caller::memory_index`]).
    pub fn memory(&mut self) -> Option<&mut [u8]> {
        let m = self.memory_index()?;
        Some(&mut self.store.memories[m as usize].data)
    }
}

/// A host function: gets the caller, the arguments, and writes the results.
pub type HostFunc = Arc<dyn Fn(&mut Caller<'_>, &[Val], &mut [Val]) -> Result<(), Trap> + Send + Sync>;

/// What a function is.
#[derive(Clone)]
pub enum FuncKind {
    /// Defined in wasm.
    Wasm {
        /// Owning instance.
        instance: InstanceId,
        /// Index in the module's function index space.
        func_index: u32,
    },
    /// Provided by the host.
    Host(HostFunc),
}

/// A function instance.
pub struct FuncInst {
    /// Its signature.
    pub ty: Arc<FuncType>,
    /// Canonical type id: two functions have the same id iff their signatures are equal.
    pub type_id: u32,
    /// Wasm or host.
    pub kind: FuncKind,
    /// Compiled code, one write-once slot per tier (see [`crate::tier::TierId`]).
    pub code: [OnceCell<CompiledCode>; NUM_TIERS],
}

/// A linear memory.
#[derive(Debug)]
pub struct Memory {
    /// The bytes; the length is always a multiple of [`PAGE_SIZE`].
    pub data: MemoryData,
    /// Declared limits (pages).
    pub limits: Limits,
    /// The effective maximum in pages: the declared maximum capped by `max_memory_pages`.
    pub max_pages: u64,
}

impl Memory {
    /// Size in pages.
    pub fn pages(&self) -> u64 {
        (self.data.len() / PAGE_SIZE) as u64
    }

    /// Grows by `delta` pages; returns the old size in pages, or `None` (the wasm `-1`).
    pub fn grow(&mut self, delta: u64) -> Option<u64> {
        let old = self.pages();
        let new = old.checked_add(delta)?;
        if new > self.max_pages {
            return None;
        }
        let new_len = usize::try_from(new).ok()?.checked_mul(PAGE_SIZE)?;
        self.data.grow_to(new_len).then_some(old)
    }
}

/// A table.
#[derive(Debug)]
pub struct Table {
    /// Elements ([`RawRef`]: 0 is null).
    pub elems: Vec<RawRef>,
    /// Declared type.
    pub ty: TableType,
    /// Effective maximum number of elements.
    pub max: u64,
}

impl Table {
    /// Grows by `delta` elements set to `init`; returns the old size or `None` (the wasm `-1`).
    pub fn grow(&mut self, delta: u64, init: RawRef) -> Option<u64> {
        let old = self.elems.len() as u64;
        let new = old.checked_add(delta)?;
        if new > self.max {
            return None;
        }
        self.elems.try_reserve_exact(delta as usize).ok()?;
        self.elems.resize(new as usize, init);
        Some(old)
    }
}

/// A global.
///
/// `value` and `hi` are adjacent (`repr(C)`): the address of `value` that compiled code gets
/// ([`crate::vmctx`]) points at the whole 16-byte little-endian value of a v128 global.
#[derive(Debug)]
#[repr(C)]
pub struct Global {
    /// Type.
    pub ty: GlobalType,
    /// Value as a slot (see [`Val::to_slot`]); the low half of a v128.
    pub value: u64,
    /// The high half of a v128 value; zero for every other type.
    pub hi: u64,
}

impl Global {
    /// A global of type `ty` holding `value` (of that type).
    pub fn new(ty: GlobalType, value: Val) -> Global {
        let hi = if let Val::V128(v) = value { (v >> 64) as u64 } else { 0 };
        Global { ty, value: value.to_slot(), hi }
    }

    /// The value as a v128 (meaningful for v128 globals).
    pub fn value128(&self) -> u128 {
        u128::from(self.value) | (u128::from(self.hi) << 64)
    }

    /// The value.
    pub fn get(&self) -> Val {
        Val::from_slots(self.ty.ty, &[self.value, self.hi])
    }
}

/// An element segment instance (empty once dropped).
#[derive(Debug)]
pub struct ElemInst {
    /// Element type.
    pub ty: ValType,
    /// The references.
    pub items: Vec<RawRef>,
}

/// A data segment instance: bytes of a module binary (empty range once dropped).
#[derive(Debug)]
pub struct DataInst {
    /// The module binary.
    pub bytes: Arc<Vec<u8>>,
    /// Where the segment is in it.
    pub range: Range<usize>,
}

impl DataInst {
    /// The segment's bytes.
    pub fn data(&self) -> &[u8] {
        &self.bytes[self.range.clone()]
    }
}

/// An instance: the module plus the store addresses of everything its index spaces name.
pub struct InstanceData {
    /// The module.
    pub module: Arc<Module>,
    /// Function addresses by module function index.
    pub funcs: Vec<FuncAddr>,
    /// Table addresses.
    pub tables: Vec<u32>,
    /// Memory addresses.
    pub memories: Vec<u32>,
    /// Global addresses.
    pub globals: Vec<u32>,
    /// Element segment addresses.
    pub elems: Vec<u32>,
    /// Data segment addresses.
    pub datas: Vec<u32>,
    /// Canonical type id of each module type index.
    pub type_ids: Vec<u32>,
    /// Exports by name.
    pub exports: BTreeMap<String, Extern>,
}

impl InstanceData {
    /// Looks up an export.
    pub fn export(&self, name: &str) -> Option<Extern> {
        self.exports.get(name).copied()
    }
}

/// Everything that exists at run time.
pub struct Store {
    /// The tier that runs code.
    pub tier: Arc<dyn Tier>,
    /// Configuration.
    pub knobs: Knobs,
    /// The host.
    pub platform: Box<dyn Platform>,
    /// WASI state, if WASI is set up.
    pub wasi: Option<crate::wasi::WasiCtx>,
    /// Functions.
    pub funcs: Vec<FuncInst>,
    /// Memories.
    pub memories: Vec<Memory>,
    /// Tables.
    pub tables: Vec<Table>,
    /// Globals.
    pub globals: Vec<Global>,
    /// Element segments.
    pub elems: Vec<ElemInst>,
    /// Data segments.
    pub datas: Vec<DataInst>,
    /// Instances.
    pub instances: Vec<InstanceData>,
    /// Canonical function types (index = type id).
    pub types: Vec<Arc<FuncType>>,
    /// Fuel left for the whole program (`u64::MAX` when unlimited).
    pub fuel_left: u64,
    /// Fuel consumed so far (statistics).
    pub fuel_used: u64,
    /// Fuel accounted since the platform was last asked whether to go on.
    pub fuel_unchecked: u64,
    /// What compiled tiers' code points into (contexts, function table): see [`crate::vmctx`].
    pub vm: crate::vmctx::VmState,
    /// The tier manager's per-function state (inactive unless [`Store::tier`] is a
    /// [`crate::tiering::Managed`]).
    pub tiering: crate::tiering::TierState,
}

fn new_code_slots() -> [OnceCell<CompiledCode>; NUM_TIERS] {
    [OnceCell::new(), OnceCell::new(), OnceCell::new()]
}

impl Store {
    /// Creates an empty store.
    pub fn new(tier: Arc<dyn Tier>, knobs: Knobs, platform: Box<dyn Platform>) -> Store {
        let fuel = knobs.get(Knob::Fuel);
        Store {
            tier,
            knobs,
            platform,
            wasi: None,
            funcs: Vec::new(),
            memories: Vec::new(),
            tables: Vec::new(),
            globals: Vec::new(),
            elems: Vec::new(),
            datas: Vec::new(),
            instances: Vec::new(),
            types: Vec::new(),
            fuel_left: if fuel == 0 { u64::MAX } else { fuel },
            fuel_used: 0,
            fuel_unchecked: 0,
            vm: crate::vmctx::VmState::default(),
            tiering: crate::tiering::TierState::default(),
        }
    }

    /// The canonical id of a function type, registering it if new.
    pub fn intern_type(&mut self, ty: &FuncType) -> u32 {
        if let Some(i) = self.types.iter().position(|t| **t == *ty) {
            return i as u32;
        }
        self.types.push(Arc::new(ty.clone()));
        (self.types.len() - 1) as u32
    }

    /// Adds a host function.
    pub fn host_func(&mut self, ty: FuncType, f: HostFunc) -> FuncAddr {
        let type_id = self.intern_type(&ty);
        self.funcs.push(FuncInst {
            ty: self.types[type_id as usize].clone(),
            type_id,
            kind: FuncKind::Host(f),
            code: new_code_slots(),
        });
        (self.funcs.len() - 1) as FuncAddr
    }

    /// Adds a standalone memory (for host-provided imports).
    pub fn alloc_memory(&mut self, limits: Limits) -> Result<u32, Error> {
        let cap = self.knobs.get(Knob::MaxMemoryPages);
        let max_pages = limits.max.unwrap_or(65536).min(cap);
        if limits.min > max_pages {
            return Err(Error::Resource(format!(
                "memory of {} pages exceeds the limit of {} pages (knob max_memory_pages)",
                limits.min, max_pages
            )));
        }
        let len = limits.min as usize * PAGE_SIZE;
        let data = if BOUNDS_MODES[self.knobs.get(Knob::BoundsMode) as usize] == "guard" {
            let guard = self.platform.guard_support().ok_or_else(|| {
                Error::Unsupported(
                    "bounds_mode=guard: this platform has no guard-region support (it is a user-space \
                     feature; the kernel uses bounds_mode=explicit)"
                        .into(),
                )
            })?;
            let region = (guard.reserve)(GUARD_RESERVATION as usize, len).map_err(|e| {
                Error::Resource(format!(
                    "bounds_mode=guard: cannot reserve {} GiB of address space for a memory (WASI errno {e})",
                    GUARD_RESERVATION >> 30
                ))
            })?;
            MemoryData::Guarded(region)
        } else {
            let mut data = Vec::new();
            data.try_reserve_exact(len)
                .map_err(|_| Error::Resource(format!("cannot allocate {} pages of linear memory", limits.min)))?;
            data.resize(len, 0);
            MemoryData::Heap(data)
        };
        self.memories.push(Memory { data, limits, max_pages });
        Ok((self.memories.len() - 1) as u32)
    }

    /// Adds a standalone table filled with `init`.
    pub fn alloc_table(&mut self, ty: TableType, init: RawRef) -> Result<u32, Error> {
        let cap = self.knobs.get(Knob::MaxTableElements);
        let max = ty.limits.max.unwrap_or(u32::MAX as u64).min(cap);
        if ty.limits.min > max {
            return Err(Error::Resource(format!(
                "table of {} elements exceeds the limit of {max} (knob max_table_elements)",
                ty.limits.min
            )));
        }
        let mut elems = Vec::new();
        elems.try_reserve_exact(ty.limits.min as usize).map_err(|_| Error::Resource("cannot allocate table".into()))?;
        elems.resize(ty.limits.min as usize, init);
        self.tables.push(Table { elems, ty, max });
        Ok((self.tables.len() - 1) as u32)
    }

    /// Adds a standalone global.
    pub fn alloc_global(&mut self, ty: GlobalType, value: Val) -> u32 {
        self.globals.push(Global::new(ty, value));
        (self.globals.len() - 1) as u32
    }

    /// The instance data of `id`.
    pub fn instance(&self, id: InstanceId) -> &InstanceData {
        &self.instances[id.0 as usize]
    }

    /// An export of an instance.
    pub fn export(&self, id: InstanceId, name: &str) -> Option<Extern> {
        self.instance(id).export(name)
    }

    /// The value of a global.
    pub fn global_value(&self, global: u32) -> Val {
        self.globals[global as usize].get()
    }

    /// The type of an extern, as an import would declare it.
    pub fn extern_type(&self, ext: Extern) -> ExternType {
        match ext {
            Extern::Func(f) => ExternType::Func(self.funcs[f as usize].type_id),
            Extern::Table(t) => {
                let t = &self.tables[t as usize];
                ExternType::Table(TableType {
                    elem: t.ty.elem,
                    limits: Limits { min: t.elems.len() as u64, max: t.ty.limits.max },
                })
            }
            Extern::Memory(m) => {
                let m = &self.memories[m as usize];
                ExternType::Memory(Limits { min: m.pages(), max: m.limits.max })
            }
            Extern::Global(g) => ExternType::Global(self.globals[g as usize].ty),
        }
    }

    /// Evaluates a constant expression to its value in slot form, widened to 128 bits (only a
    /// v128 uses the upper half).
    fn eval_const(&self, expr: &ConstExpr, globals: &[u32], funcs: &[FuncAddr]) -> u128 {
        let mut stack: Vec<u128> = Vec::with_capacity(4);
        for op in expr {
            let v = match *op {
                ConstOp::I32(v) => u128::from(v as u32),
                ConstOp::I64(v) => u128::from(v as u64),
                ConstOp::F32(v) => u128::from(v),
                ConstOp::F64(v) => u128::from(v),
                ConstOp::V128(v) => v,
                ConstOp::RefNull(_) => 0,
                ConstOp::RefFunc(f) => u128::from(funcs[f as usize] as u64 + 1),
                ConstOp::GlobalGet(g) => self.globals[globals[g as usize] as usize].value128(),
                ConstOp::I32Add | ConstOp::I32Sub | ConstOp::I32Mul => {
                    let b = stack.pop().unwrap_or(0) as u32;
                    let a = stack.pop().unwrap_or(0) as u32;
                    u128::from(match *op {
                        ConstOp::I32Add => a.wrapping_add(b),
                        ConstOp::I32Sub => a.wrapping_sub(b),
                        _ => a.wrapping_mul(b),
                    })
                }
                ConstOp::I64Add | ConstOp::I64Sub | ConstOp::I64Mul => {
                    let b = stack.pop().unwrap_or(0) as u64;
                    let a = stack.pop().unwrap_or(0) as u64;
                    u128::from(match *op {
                        ConstOp::I64Add => a.wrapping_add(b),
                        ConstOp::I64Sub => a.wrapping_sub(b),
                        _ => a.wrapping_mul(b),
                    })
                }
            };
            stack.push(v);
        }
        stack.pop().unwrap_or(0)
    }

    /// Instantiates `module` with `imports` given in the module's import order. Runs segment
    /// initialization and the start function. As in Wasm 2.0, a trap during initialization leaves
    /// the effects of earlier segments in place.
    pub fn instantiate(&mut self, module: Arc<Module>, imports: &[Extern]) -> Result<InstanceId, Error> {
        if self.instances.len() as u64 >= self.knobs.get(Knob::MaxInstances) {
            return Err(Error::Resource(format!(
                "too many instances (knob max_instances = {})",
                self.knobs.get(Knob::MaxInstances)
            )));
        }
        if imports.len() != module.imports.len() {
            return Err(Error::Unlinkable(format!("expected {} imports, got {}", module.imports.len(), imports.len())));
        }
        let id = InstanceId(self.instances.len() as u32);
        let type_ids: Vec<u32> = module.types.iter().map(|t| self.intern_type(t)).collect();
        let mut funcs = Vec::with_capacity(module.funcs.len());
        let mut tables = Vec::with_capacity(module.tables.len());
        let mut memories = Vec::with_capacity(module.memories.len());
        let mut globals = Vec::with_capacity(module.globals.len());
        for (imp, ext) in module.imports.iter().zip(imports) {
            let actual = self.extern_type(*ext);
            let ok = match (&imp.ty, &actual) {
                (ExternType::Func(t), ExternType::Func(id)) => type_ids[*t as usize] == *id,
                (ExternType::Table(want), ExternType::Table(have)) => {
                    want.elem == have.elem && limits_match(&want.limits, &have.limits)
                }
                (ExternType::Memory(want), ExternType::Memory(have)) => limits_match(want, have),
                (ExternType::Global(want), ExternType::Global(have)) => want == have,
                _ => false,
            };
            if !ok {
                return Err(Error::Unlinkable(format!("incompatible import type for {}::{}", imp.module, imp.name)));
            }
            match *ext {
                Extern::Func(f) => funcs.push(f),
                Extern::Table(t) => tables.push(t),
                Extern::Memory(m) => memories.push(m),
                Extern::Global(g) => globals.push(g),
            }
        }
        for (i, &t) in module.funcs.iter().enumerate().skip(module.num_imported_funcs as usize) {
            let type_id = type_ids[t as usize];
            self.funcs.push(FuncInst {
                ty: self.types[type_id as usize].clone(),
                type_id,
                kind: FuncKind::Wasm { instance: id, func_index: i as u32 },
                code: new_code_slots(),
            });
            funcs.push((self.funcs.len() - 1) as FuncAddr);
        }
        for t in &module.tables[module.num_imported_tables as usize..] {
            tables.push(self.alloc_table(*t, 0)?);
        }
        for m in &module.memories[module.num_imported_memories as usize..] {
            memories.push(self.alloc_memory(*m)?);
        }
        for (ty, init) in module.globals[module.num_imported_globals as usize..].iter().zip(&module.global_inits) {
            let value = self.eval_const(init, &globals, &funcs);
            self.globals.push(Global { ty: *ty, value: value as u64, hi: (value >> 64) as u64 });
            globals.push((self.globals.len() - 1) as u32);
        }
        let mut elems = Vec::with_capacity(module.elems.len());
        for seg in &module.elems {
            let items = seg.items.iter().map(|e| self.eval_const(e, &globals, &funcs) as RawRef).collect();
            self.elems.push(ElemInst { ty: seg.ty, items });
            elems.push((self.elems.len() - 1) as u32);
        }
        let mut datas = Vec::with_capacity(module.datas.len());
        for seg in &module.datas {
            self.datas.push(DataInst { bytes: module.bytes.clone(), range: seg.range.clone() });
            datas.push((self.datas.len() - 1) as u32);
        }
        let mut exports = BTreeMap::new();
        for e in &module.exports {
            let ext = match e.kind {
                ExportKind::Func => Extern::Func(funcs[e.index as usize]),
                ExportKind::Table => Extern::Table(tables[e.index as usize]),
                ExportKind::Memory => Extern::Memory(memories[e.index as usize]),
                ExportKind::Global => Extern::Global(globals[e.index as usize]),
            };
            exports.insert(e.name.to_string(), ext);
        }
        self.instances.push(InstanceData {
            module: module.clone(),
            funcs,
            tables,
            memories,
            globals,
            elems,
            datas,
            type_ids,
            exports,
        });
        let inst = &self.instances[id.0 as usize];
        let (elems, datas, tables, memories, globals, funcs) = (
            inst.elems.clone(),
            inst.datas.clone(),
            inst.tables.clone(),
            inst.memories.clone(),
            inst.globals.clone(),
            inst.funcs.clone(),
        );
        for (i, seg) in module.elems.iter().enumerate() {
            match &seg.mode {
                ElemMode::Active { table, offset } => {
                    let off = self.eval_const(offset, &globals, &funcs) as u32;
                    let n = self.elems[elems[i] as usize].items.len() as u32;
                    self.table_init(tables[*table as usize], elems[i], off, 0, n)?;
                    self.elems[elems[i] as usize].items = Vec::new();
                }
                ElemMode::Declared => self.elems[elems[i] as usize].items = Vec::new(),
                ElemMode::Passive => {}
            }
        }
        for (i, seg) in module.datas.iter().enumerate() {
            if let DataMode::Active { memory, offset } = &seg.mode {
                let off = self.eval_const(offset, &globals, &funcs) as u32;
                let n = self.datas[datas[i] as usize].range.len() as u32;
                self.memory_init(memories[*memory as usize], datas[i], off, 0, n)?;
                let d = &mut self.datas[datas[i] as usize];
                d.range = d.range.start..d.range.start;
            }
        }
        if let Some(start) = module.start {
            let f = funcs[start as usize];
            self.call(f, &[])?;
        }
        Ok(id)
    }

    /// `table.init`: copies `n` elements of segment `elem` from `src` to table `table` at `dst`.
    pub fn table_init(&mut self, table: u32, elem: u32, dst: u32, src: u32, n: u32) -> Result<(), Trap> {
        let seg = &self.elems[elem as usize].items;
        let t = &mut self.tables[table as usize].elems;
        let (s, d, n) = (src as usize, dst as usize, n as usize);
        if s.checked_add(n).is_none_or(|e| e > seg.len()) || d.checked_add(n).is_none_or(|e| e > t.len()) {
            return Err(TrapKind::TableOutOfBounds.into());
        }
        t[d..d + n].copy_from_slice(&seg[s..s + n]);
        Ok(())
    }

    /// `memory.init`: copies `n` bytes of data segment `data` from `src` to memory `mem` at `dst`.
    pub fn memory_init(&mut self, mem: u32, data: u32, dst: u32, src: u32, n: u32) -> Result<(), Trap> {
        let seg = &self.datas[data as usize];
        let bytes = &seg.bytes[seg.range.clone()];
        let m = &mut self.memories[mem as usize].data;
        let (s, d, n) = (src as usize, dst as usize, n as usize);
        if s.checked_add(n).is_none_or(|e| e > bytes.len()) || d.checked_add(n).is_none_or(|e| e > m.len()) {
            return Err(TrapKind::MemoryOutOfBounds.into());
        }
        m[d..d + n].copy_from_slice(&bytes[s..s + n]);
        Ok(())
    }

    /// Accounts `used` fuel units of a finished slice: statistics, and the total when `fuel` is
    /// set (`Err(OutOfFuel)` once it is spent). Every tier reports its slices through here.
    pub fn account_fuel(&mut self, used: u64) -> Result<(), TrapKind> {
        self.fuel_used = self.fuel_used.saturating_add(used);
        self.fuel_unchecked = self.fuel_unchecked.saturating_add(used);
        if self.fuel_left != u64::MAX {
            if used > self.fuel_left {
                self.fuel_left = 0;
                return Err(TrapKind::OutOfFuel);
            }
            self.fuel_left -= used;
        }
        Ok(())
    }

    /// Ends a fuel slice that used `used` units and starts the next one: accounts the fuel, lets
    /// the platform check for signals or stop the program (only after real work, so that a
    /// program cannot be stopped before it ran at all), and returns the next slice's budget
    /// (`fuel_slice`, capped by the fuel left). The one slice protocol of every tier.
    pub fn next_fuel_slice(&mut self, used: u64) -> Result<u64, TrapKind> {
        self.account_fuel(used)?;
        // A slice ended after work, or slices cut short by calls between tiers (each crossing
        // ends one side's slice early, see `crate::tiering`) added up to a whole slice.
        let slice_end = used > 0 || self.fuel_unchecked >= self.knobs.get(Knob::FuelSlice);
        if slice_end {
            self.fuel_unchecked = 0;
            if self.platform.check_interrupt() == crate::platform::Interruption::Stop {
                return Err(TrapKind::Interrupted);
            }
        }
        // Requests through `VmShared::request_interrupt` stop every tier, not only compiled code.
        if self.vm.shared.interrupt.swap(0, core::sync::atomic::Ordering::Relaxed) != 0 {
            return Err(TrapKind::Interrupted);
        }
        if slice_end && self.tiering.is_active() {
            crate::tiering::at_slice_end(self);
        }
        let budget = self.knobs.get(Knob::FuelSlice).min(i64::MAX as u64).min(self.fuel_left);
        if budget == 0 {
            return Err(TrapKind::OutOfFuel);
        }
        Ok(budget)
    }

    /// Calls a function with typed arguments, returning typed results.
    pub fn call(&mut self, func: FuncAddr, args: &[Val]) -> Result<Vec<Val>, Trap> {
        let ty = self.funcs[func as usize].ty.clone();
        if args.len() != ty.params.len() || args.iter().zip(&ty.params).any(|(a, t)| a.ty() != *t) {
            return Err(Trap::host(format!("argument mismatch: function expects {ty}")));
        }
        let arg_slots = Val::to_slots(args);
        let mut res_slots = vec![0u64; ty.result_slots()];
        let tier = self.tier.clone();
        tier.invoke(self, func, &arg_slots, &mut res_slots)?;
        Ok(Val::from_slot_seq(&ty.results, &res_slots))
    }

    /// Calls host function `func` on behalf of `caller` with slot-encoded arguments and results
    /// (see [`crate::types`]: a v128 takes two slots).
    /// Tiers use this for every call that lands on a host function.
    pub fn call_host(
        &mut self,
        func: FuncAddr,
        caller: Option<InstanceId>,
        args: &[u64],
        results: &mut [u64],
    ) -> Result<(), Trap> {
        let f = &self.funcs[func as usize];
        let FuncKind::Host(h) = &f.kind else {
            return Err(Trap::host("call_host on a wasm function"));
        };
        let (h, ty) = (h.clone(), f.ty.clone());
        let argv = Val::from_slot_seq(&ty.params, args);
        let mut resv: Vec<Val> = ty.results.iter().map(|t| Val::default_of(*t)).collect();
        h(&mut Caller { store: self, instance: caller }, &argv, &mut resv)?;
        for (v, t) in resv.iter().zip(&ty.results) {
            if v.ty() != *t {
                return Err(Trap::host(format!("host function returned {} where {t} was expected", v.ty())));
            }
        }
        for (dst, src) in results.iter_mut().zip(Val::to_slots(&resv)) {
            *dst = src;
        }
        Ok(())
    }

    /// The compiled code of `func` for `tier`, compiling it on first use.
    pub fn code(&self, func: FuncAddr, tier: &dyn Tier) -> Result<&CompiledCode, Error> {
        let slot = &self.funcs[func as usize].code[tier.id() as usize];
        if let Some(c) = slot.get() {
            return Ok(c);
        }
        self.platform.compiling(tier.id(), true);
        let c = tier.compile(self, func);
        self.platform.compiling(tier.id(), false);
        let c = c?;
        Ok(slot.get_or_init(|| c))
    }
}

fn limits_match(want: &Limits, have: &Limits) -> bool {
    have.min >= want.min
        && match (want.max, have.max) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(w), Some(h)) => h <= w,
        }
}

/// Resolves imports by (module, name), the way `wasmtime`'s linker does.
#[derive(Default, Clone)]
pub struct Linker {
    defs: BTreeMap<(String, String), Extern>,
}

impl Linker {
    /// An empty linker.
    pub fn new() -> Linker {
        Linker::default()
    }

    /// Defines one item.
    pub fn define(&mut self, module: &str, name: &str, ext: Extern) {
        self.defs.insert((module.into(), name.into()), ext);
    }

    /// Defines every export of `instance` under module name `module`.
    pub fn define_instance(&mut self, store: &Store, module: &str, instance: InstanceId) {
        for (name, ext) in &store.instance(instance).exports {
            self.define(module, name, *ext);
        }
    }

    /// Looks up a definition.
    pub fn get(&self, module: &str, name: &str) -> Option<Extern> {
        self.defs.get(&(module.into(), name.into())).copied()
    }

    /// Resolves the imports of `module` and instantiates it.
    pub fn instantiate(&self, store: &mut Store, module: Arc<Module>) -> Result<InstanceId, Error> {
        let mut imports = Vec::with_capacity(module.imports.len());
        for imp in &module.imports {
            let ext = self
                .get(&imp.module, &imp.name)
                .ok_or_else(|| Error::Unlinkable(format!("unknown import: {}::{}", imp.module, imp.name)))?;
            imports.push(ext);
        }
        store.instantiate(module, &imports)
    }
}
