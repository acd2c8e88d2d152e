//! Decoding and validation: turns a binary into a [`Module`], the immutable description that
//! instances are made from. Function bodies stay in the original bytes; tiers translate them.

use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::ops::Range;

use wasmparser::{Parser, Payload, Validator, WasmFeatures};

use crate::error::Error;
use crate::types::{FuncType, ValType};

/// The WebAssembly features kwasm accepts: Wasm 2.0 (including fixed-width SIMD; not relaxed
/// SIMD, which is not part of 2.0), plus extended constant expressions and tail calls.
///
/// Validation accepts SIMD for every tier; a tier that does not implement it refuses to compile
/// a function that uses it ([`crate::Error::Unsupported`], see [`is_simd_operator`]).
pub fn features() -> WasmFeatures {
    WasmFeatures::WASM2.union(WasmFeatures::EXTENDED_CONST).union(WasmFeatures::TAIL_CALL)
}

macro_rules! define_is_simd_operator {
    ($( @$proposal:ident $op:ident $({ $($arg:ident: $argty:ty),* })? => $visit:ident ($($ann:tt)*) )*) => {
        /// Whether `op` belongs to the SIMD proposals (fixed-width or relaxed): tiers without
        /// SIMD use it to name SIMD in their [`Error::Unsupported`] message.
        pub fn is_simd_operator(op: &wasmparser::Operator<'_>) -> bool {
            #[allow(unreachable_patterns)]
            match op {
                $( wasmparser::Operator::$op { .. } => define_is_simd_operator!(@simd $proposal), )*
                _ => false,
            }
        }
    };
    (@simd simd) => { true };
    (@simd relaxed_simd) => { true };
    (@simd $other:ident) => { false };
}
wasmparser::for_each_operator!(define_is_simd_operator);

/// An operator of a constant expression (global initializers, segment offsets, element items).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ConstOp {
    /// `i32.const`.
    I32(i32),
    /// `i64.const`.
    I64(i64),
    /// `f32.const` (bits).
    F32(u32),
    /// `f64.const` (bits).
    F64(u64),
    /// `v128.const`.
    V128(u128),
    /// `ref.null` of this type.
    RefNull(ValType),
    /// `ref.func` (module function index).
    RefFunc(u32),
    /// `global.get` (module global index).
    GlobalGet(u32),
    /// `i32.add`.
    I32Add,
    /// `i32.sub`.
    I32Sub,
    /// `i32.mul`.
    I32Mul,
    /// `i64.add`.
    I64Add,
    /// `i64.sub`.
    I64Sub,
    /// `i64.mul`.
    I64Mul,
}

/// A constant expression.
pub type ConstExpr = Vec<ConstOp>;

/// Limits of a memory or table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Initial size (pages or elements).
    pub min: u64,
    /// Maximum size, if any.
    pub max: Option<u64>,
}

/// A table type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TableType {
    /// Element type (funcref or externref).
    pub elem: ValType,
    /// Size limits.
    pub limits: Limits,
}

/// A global type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GlobalType {
    /// Value type.
    pub ty: ValType,
    /// Whether `global.set` is allowed.
    pub mutable: bool,
}

/// What an import or export refers to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExternType {
    /// A function of this type index (imports) / this function index (exports).
    Func(u32),
    /// A table.
    Table(TableType),
    /// A memory (limits in pages).
    Memory(Limits),
    /// A global.
    Global(GlobalType),
}

/// An import.
#[derive(Clone, Debug)]
pub struct Import {
    /// Module name.
    pub module: String,
    /// Field name.
    pub name: String,
    /// What is imported (functions carry their type index).
    pub ty: ExternType,
}

/// Kinds of exported items.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportKind {
    /// Function.
    Func,
    /// Table.
    Table,
    /// Memory.
    Memory,
    /// Global.
    Global,
}

/// An export.
#[derive(Clone, Debug)]
pub struct Export {
    /// Export name.
    pub name: String,
    /// Kind of item.
    pub kind: ExportKind,
    /// Index in the module's index space of that kind.
    pub index: u32,
}

/// How an element segment is used.
#[derive(Clone, Debug)]
pub enum ElemMode {
    /// Copied by `table.init`.
    Passive,
    /// Copied into a table at instantiation.
    Active {
        /// Table index.
        table: u32,
        /// Offset expression.
        offset: ConstExpr,
    },
    /// Only declares functions for `ref.func`; dropped at instantiation.
    Declared,
}

/// An element segment.
#[derive(Clone, Debug)]
pub struct ElemSegment {
    /// Mode.
    pub mode: ElemMode,
    /// Element type.
    pub ty: ValType,
    /// One constant expression per element.
    pub items: Vec<ConstExpr>,
}

/// How a data segment is used.
#[derive(Clone, Debug)]
pub enum DataMode {
    /// Copied by `memory.init`.
    Passive,
    /// Copied into a memory at instantiation.
    Active {
        /// Memory index.
        memory: u32,
        /// Offset expression.
        offset: ConstExpr,
    },
}

/// A data segment; its bytes are a range of the module binary.
#[derive(Clone, Debug)]
pub struct DataSegment {
    /// Mode.
    pub mode: DataMode,
    /// Where the bytes are in [`Module::bytes`].
    pub range: Range<usize>,
}

/// A function body: where it is in the binary.
#[derive(Clone, Debug)]
pub struct FuncBody {
    /// Range of the body (locals + code) in [`Module::bytes`]; offsets are module offsets.
    pub range: Range<usize>,
}

/// A decoded and validated module.
#[derive(Debug)]
pub struct Module {
    /// The binary (kept in the `Vec` it arrived in: [`Module::from_vec`] takes it without a copy).
    pub bytes: Arc<Vec<u8>>,
    /// Function types of the type section.
    pub types: Vec<FuncType>,
    /// Imports in order.
    pub imports: Vec<Import>,
    /// Type index of every function, imported ones first.
    pub funcs: Vec<u32>,
    /// Number of imported functions.
    pub num_imported_funcs: u32,
    /// Every table, imported ones first.
    pub tables: Vec<TableType>,
    /// Number of imported tables.
    pub num_imported_tables: u32,
    /// Every memory, imported ones first.
    pub memories: Vec<Limits>,
    /// Number of imported memories.
    pub num_imported_memories: u32,
    /// Every global, imported ones first.
    pub globals: Vec<GlobalType>,
    /// Number of imported globals.
    pub num_imported_globals: u32,
    /// Initializers of the defined globals.
    pub global_inits: Vec<ConstExpr>,
    /// Exports.
    pub exports: Vec<Export>,
    /// Start function.
    pub start: Option<u32>,
    /// Element segments.
    pub elems: Vec<ElemSegment>,
    /// Data segments.
    pub datas: Vec<DataSegment>,
    /// Bodies of the defined functions.
    pub bodies: Vec<FuncBody>,
    /// Total size of the code section in bytes (for translation-speed measurements).
    pub code_size: usize,
    /// Function names from the name section (index, name).
    pub func_names: Vec<(u32, String)>,
}

fn limits_mem(m: &wasmparser::MemoryType) -> Result<Limits, Error> {
    if m.memory64 || m.shared {
        return Err(Error::Unsupported("64-bit or shared memories".into()));
    }
    Ok(Limits { min: m.initial, max: m.maximum })
}

fn table_type(t: &wasmparser::TableType) -> Result<TableType, Error> {
    let elem = ValType::from_ref_type(t.element_type)
        .ok_or_else(|| Error::Unsupported("typed function references in tables".into()))?;
    if t.table64 || t.shared {
        return Err(Error::Unsupported("64-bit or shared tables".into()));
    }
    Ok(TableType { elem, limits: Limits { min: t.initial, max: t.maximum } })
}

fn val_type(t: wasmparser::ValType) -> Result<ValType, Error> {
    ValType::from_wasmparser(t).ok_or_else(|| Error::Unsupported("GC reference types".into()))
}

fn global_type(g: &wasmparser::GlobalType) -> Result<GlobalType, Error> {
    if g.shared {
        return Err(Error::Unsupported("shared globals".into()));
    }
    Ok(GlobalType { ty: val_type(g.content_type)?, mutable: g.mutable })
}

/// Decodes a constant expression.
pub fn const_expr(expr: &wasmparser::ConstExpr<'_>) -> Result<ConstExpr, Error> {
    use wasmparser::Operator as O;
    let mut out = Vec::new();
    let mut reader = expr.get_operators_reader();
    while !reader.eof() {
        let op = reader.read()?;
        out.push(match op {
            O::I32Const { value } => ConstOp::I32(value),
            O::I64Const { value } => ConstOp::I64(value),
            O::F32Const { value } => ConstOp::F32(value.bits()),
            O::F64Const { value } => ConstOp::F64(value.bits()),
            O::V128Const { value } => ConstOp::V128(u128::from_le_bytes(*value.bytes())),
            O::RefNull { hty } => {
                let ty = match hty {
                    wasmparser::HeapType::Abstract { ty: wasmparser::AbstractHeapType::Func, .. } => ValType::FuncRef,
                    wasmparser::HeapType::Abstract { ty: wasmparser::AbstractHeapType::Extern, .. } => {
                        ValType::ExternRef
                    }
                    _ => return Err(Error::Unsupported("typed function references".into())),
                };
                ConstOp::RefNull(ty)
            }
            O::RefFunc { function_index } => ConstOp::RefFunc(function_index),
            O::GlobalGet { global_index } => ConstOp::GlobalGet(global_index),
            O::I32Add => ConstOp::I32Add,
            O::I32Sub => ConstOp::I32Sub,
            O::I32Mul => ConstOp::I32Mul,
            O::I64Add => ConstOp::I64Add,
            O::I64Sub => ConstOp::I64Sub,
            O::I64Mul => ConstOp::I64Mul,
            O::End => continue,
            other => return Err(Error::Unsupported(alloc::format!("constant expression operator {other:?}"))),
        });
    }
    Ok(out)
}

/// Makes room for a section's `count` items (at most one per byte of the section, so a lying
/// count cannot ask for more than the binary could hold) before they are pushed: a module's
/// vectors are allocated fallibly, and running out of memory is a clean [`Error::Resource`] (what
/// the kernel host needs; see kmod/rt/src/kernel.rs, "Allocation failure policy").
fn reserve<T>(v: &mut Vec<T>, count: u32, section_bytes: usize) -> Result<(), Error> {
    v.try_reserve((count as usize).min(section_bytes))
        .map_err(|_| Error::Resource(alloc::format!("no memory for {count} module items")))
}

/// Length in bytes of a section's range.
fn section_len(r: &core::ops::Range<u64>) -> usize {
    r.end.saturating_sub(r.start) as usize
}

impl Module {
    /// Decodes and validates a binary module.
    pub fn new(bytes: &[u8]) -> Result<Module, Error> {
        // The copy is the largest allocation a module makes: fallible, so that a host without
        // memory to spare (the kernel) gets an error instead of an abort.
        let mut owned = Vec::new();
        owned
            .try_reserve_exact(bytes.len())
            .map_err(|_| Error::Resource(alloc::format!("no memory for a {}-byte module", bytes.len())))?;
        owned.extend_from_slice(bytes);
        Module::from_vec(owned)
    }

    /// Decodes and validates a binary module, keeping `bytes` as the module's copy (no second
    /// allocation of its size).
    pub fn from_vec(bytes: Vec<u8>) -> Result<Module, Error> {
        let mut validator = Validator::new_with_features(features());
        let bytes: Arc<Vec<u8>> = Arc::new(bytes);
        let mut m = Module {
            bytes: bytes.clone(),
            types: Vec::new(),
            imports: Vec::new(),
            funcs: Vec::new(),
            num_imported_funcs: 0,
            tables: Vec::new(),
            num_imported_tables: 0,
            memories: Vec::new(),
            num_imported_memories: 0,
            globals: Vec::new(),
            num_imported_globals: 0,
            global_inits: Vec::new(),
            exports: Vec::new(),
            start: None,
            elems: Vec::new(),
            datas: Vec::new(),
            bodies: Vec::new(),
            code_size: 0,
            func_names: Vec::new(),
        };
        let mut allocs = wasmparser::FuncValidatorAllocations::default();
        // The parser decodes with every feature by default (e.g. 64-bit memory limits, which
        // would accept overlong 32-bit LEBs); decode only what kwasm validates.
        let mut parser = Parser::new(0);
        parser.set_features(features());
        for payload in parser.parse_all(&bytes) {
            let payload = payload?;
            match validator.payload(&payload)? {
                wasmparser::ValidPayload::Func(func, body) => {
                    let mut fv = func.into_validator(core::mem::take(&mut allocs));
                    fv.validate(&body)?;
                    allocs = fv.into_allocations();
                }
                wasmparser::ValidPayload::End(_) => {}
                _ => {}
            }
            m.absorb(payload)?;
        }
        Ok(m)
    }

    fn absorb(&mut self, payload: Payload<'_>) -> Result<(), Error> {
        match payload {
            Payload::TypeSection(r) => {
                reserve(&mut self.types, r.count(), section_len(&r.range()))?;
                for ft in r.into_iter_err_on_gc_types() {
                    let ft = ft?;
                    let params = ft.params().iter().map(|t| val_type(*t)).collect::<Result<_, _>>()?;
                    let results = ft.results().iter().map(|t| val_type(*t)).collect::<Result<_, _>>()?;
                    self.types.push(FuncType { params, results });
                }
            }
            Payload::ImportSection(r) => {
                reserve(&mut self.imports, r.count(), section_len(&r.range()))?;
                for imp in r.into_imports() {
                    let imp = imp?;
                    let ty = match imp.ty {
                        wasmparser::TypeRef::Func(t) | wasmparser::TypeRef::FuncExact(t) => {
                            self.funcs.push(t);
                            self.num_imported_funcs += 1;
                            ExternType::Func(t)
                        }
                        wasmparser::TypeRef::Table(t) => {
                            let t = table_type(&t)?;
                            self.tables.push(t);
                            self.num_imported_tables += 1;
                            ExternType::Table(t)
                        }
                        wasmparser::TypeRef::Memory(mt) => {
                            let l = limits_mem(&mt)?;
                            self.memories.push(l);
                            self.num_imported_memories += 1;
                            ExternType::Memory(l)
                        }
                        wasmparser::TypeRef::Global(g) => {
                            let g = global_type(&g)?;
                            self.globals.push(g);
                            self.num_imported_globals += 1;
                            ExternType::Global(g)
                        }
                        wasmparser::TypeRef::Tag(_) => {
                            return Err(Error::Unsupported("exception handling tags".into()))
                        }
                    };
                    self.imports.push(Import { module: imp.module.to_string(), name: imp.name.to_string(), ty });
                }
            }
            Payload::FunctionSection(r) => {
                reserve(&mut self.funcs, r.count(), section_len(&r.range()))?;
                for t in r {
                    self.funcs.push(t?);
                }
            }
            Payload::TableSection(r) => {
                reserve(&mut self.tables, r.count(), section_len(&r.range()))?;
                for t in r {
                    let t = t?;
                    let tt = table_type(&t.ty)?;
                    match t.init {
                        wasmparser::TableInit::RefNull => {}
                        wasmparser::TableInit::Expr(_) => {
                            return Err(Error::Unsupported("table initializer expressions".into()))
                        }
                    }
                    self.tables.push(tt);
                }
            }
            Payload::MemorySection(r) => {
                reserve(&mut self.memories, r.count(), section_len(&r.range()))?;
                for mt in r {
                    self.memories.push(limits_mem(&mt?)?);
                }
            }
            Payload::GlobalSection(r) => {
                reserve(&mut self.globals, r.count(), section_len(&r.range()))?;
                reserve(&mut self.global_inits, r.count(), section_len(&r.range()))?;
                for g in r {
                    let g = g?;
                    self.globals.push(global_type(&g.ty)?);
                    self.global_inits.push(const_expr(&g.init_expr)?);
                }
            }
            Payload::ExportSection(r) => {
                reserve(&mut self.exports, r.count(), section_len(&r.range()))?;
                for e in r {
                    let e = e?;
                    let kind = match e.kind {
                        wasmparser::ExternalKind::Func | wasmparser::ExternalKind::FuncExact => ExportKind::Func,
                        wasmparser::ExternalKind::Table => ExportKind::Table,
                        wasmparser::ExternalKind::Memory => ExportKind::Memory,
                        wasmparser::ExternalKind::Global => ExportKind::Global,
                        wasmparser::ExternalKind::Tag => {
                            return Err(Error::Unsupported("exception handling tags".into()))
                        }
                    };
                    self.exports.push(Export { name: e.name.to_string(), kind, index: e.index });
                }
            }
            Payload::StartSection { func, .. } => self.start = Some(func),
            Payload::ElementSection(r) => {
                reserve(&mut self.elems, r.count(), section_len(&r.range()))?;
                for e in r {
                    let e = e?;
                    let (ty, items) = match e.items {
                        wasmparser::ElementItems::Functions(fs) => {
                            let mut items = Vec::new();
                            for f in fs {
                                items.push(alloc::vec![ConstOp::RefFunc(f?)]);
                            }
                            (ValType::FuncRef, items)
                        }
                        wasmparser::ElementItems::Expressions(rt, es) => {
                            let ty = ValType::from_ref_type(rt)
                                .ok_or_else(|| Error::Unsupported("typed function references".into()))?;
                            let mut items = Vec::new();
                            for x in es {
                                items.push(const_expr(&x?)?);
                            }
                            (ty, items)
                        }
                    };
                    let mode = match e.kind {
                        wasmparser::ElementKind::Passive => ElemMode::Passive,
                        wasmparser::ElementKind::Declared => ElemMode::Declared,
                        wasmparser::ElementKind::Active { table_index, offset_expr } => {
                            ElemMode::Active { table: table_index.unwrap_or(0), offset: const_expr(&offset_expr)? }
                        }
                    };
                    self.elems.push(ElemSegment { mode, ty, items });
                }
            }
            Payload::DataSection(r) => {
                reserve(&mut self.datas, r.count(), section_len(&r.range()))?;
                for d in r {
                    let d = d?;
                    let end = d.range.end as usize;
                    let start = end - d.data.len();
                    let mode = match d.kind {
                        wasmparser::DataKind::Passive => DataMode::Passive,
                        wasmparser::DataKind::Active { memory_index, offset_expr } => {
                            DataMode::Active { memory: memory_index, offset: const_expr(&offset_expr)? }
                        }
                    };
                    self.datas.push(DataSegment { mode, range: start..end });
                }
            }
            Payload::CodeSectionStart { count, unchecked_range, .. } => {
                self.code_size = (unchecked_range.end - unchecked_range.start) as usize;
                reserve(&mut self.bodies, count, self.code_size)?;
            }
            Payload::CodeSectionEntry(body) => {
                let r = body.range();
                self.bodies.push(FuncBody { range: r.start as usize..r.end as usize });
            }
            Payload::CustomSection(c) => {
                if let wasmparser::KnownCustom::Name(names) = c.as_known() {
                    for n in names.into_iter().flatten() {
                        if let wasmparser::Name::Function(map) = n {
                            for naming in map.into_iter().flatten() {
                                self.func_names.push((naming.index, naming.name.to_string()));
                            }
                        }
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// The type of function `index` (module function index space).
    pub fn func_type(&self, index: u32) -> &FuncType {
        &self.types[self.funcs[index as usize] as usize]
    }

    /// A wasmparser reader for the body of defined function `def_index`.
    pub fn body_reader(&self, def_index: u32) -> wasmparser::FunctionBody<'_> {
        let range = self.bodies[def_index as usize].range.clone();
        wasmparser::FunctionBody::new(wasmparser::BinaryReader::new(&self.bytes[range.clone()], range.start as u64))
    }

    /// The name of function `index` from the name section, if any.
    pub fn func_name(&self, index: u32) -> Option<&str> {
        self.func_names.iter().find(|(i, _)| *i == index).map(|(_, n)| n.as_str())
    }

    /// Finds an export by name.
    pub fn export(&self, name: &str) -> Option<&Export> {
        self.exports.iter().find(|e| e.name == name)
    }
}
