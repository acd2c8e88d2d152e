//! The `spectest` host module that spec scripts import from, as the reference interpreter
//! defines it (`interpreter/host/spectest.ml`). Shared by the user-space spec runner
//! (`kwasm wast`) and kwasm.ko's sessions (`KWASM_SESSION_SPECTEST`), so that both run the
//! scripts against the very same definitions.

use alloc::sync::Arc;

use crate::module::{GlobalType, Limits, TableType};
use crate::{Error, Extern, FuncType, Linker, Store, Val, ValType};

/// Allocates the `spectest` items in `store` and defines them in `linker` under `spectest`.
pub fn define(store: &mut Store, linker: &mut Linker) -> Result<(), Error> {
    define_prints(store, linker);
    define_globals(store, linker);
    let table =
        store.alloc_table(TableType { elem: ValType::FuncRef, limits: Limits { min: 10, max: Some(20) } }, 0)?;
    linker.define("spectest", "table", Extern::Table(table));
    let memory = store.alloc_memory(Limits { min: 1, max: Some(2) })?;
    linker.define("spectest", "memory", Extern::Memory(memory));
    Ok(())
}

/// The `print*` functions. The reference interpreter writes their arguments to stdout; here they
/// do nothing, because the scripts never assert on that output and it would bury the report.
fn define_prints(store: &mut Store, linker: &mut Linker) {
    use ValType::{F32, F64, I32, I64};
    let prints: [(&str, &[ValType]); 7] = [
        ("print", &[]),
        ("print_i32", &[I32]),
        ("print_i64", &[I64]),
        ("print_f32", &[F32]),
        ("print_f64", &[F64]),
        ("print_i32_f32", &[I32, F32]),
        ("print_f64_f64", &[F64, F64]),
    ];
    for (name, params) in prints {
        let f = store.host_func(FuncType::new(params, []), Arc::new(|_, _, _| Ok(())));
        linker.define("spectest", name, Extern::Func(f));
    }
}

/// The immutable globals `global_i32` = 666, `global_i64` = 666, `global_f32` = 666.6 and
/// `global_f64` = 666.6.
fn define_globals(store: &mut Store, linker: &mut Linker) {
    let globals = [
        ("global_i32", Val::I32(666)),
        ("global_i64", Val::I64(666)),
        ("global_f32", Val::F32(666.6f32.to_bits())),
        ("global_f64", Val::F64(666.6f64.to_bits())),
    ];
    for (name, value) in globals {
        let g = store.alloc_global(GlobalType { ty: value.ty(), mutable: false }, value);
        linker.define("spectest", name, Extern::Global(g));
    }
}
