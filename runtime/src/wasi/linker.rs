//! Registration of every preview1 function with its exact signature.

use alloc::sync::Arc;
use alloc::vec;

use super::{errno, fd, path_ops, poll, proc, sock, Args, Env, WasiResult};
use crate::store::{Caller, Extern, HostFunc, Linker, Store};
use crate::trap::{Trap, TrapKind};
use crate::types::{FuncType, Val, ValType};

/// The import module name of WASI preview1.
pub const MODULE: &str = "wasi_snapshot_preview1";

/// A WASI function body: reads its arguments, returns success or an errno.
type Body = fn(&mut Env<'_>, &Args<'_>) -> WasiResult;

const I: ValType = ValType::I32;
const L: ValType = ValType::I64;

/// Functions kwasm does not implement: present, so that modules importing them link, but they
/// answer `ENOSYS`.
fn nosys(_env: &mut Env<'_>, _a: &Args<'_>) -> WasiResult {
    Err(errno::NOSYS)
}

/// Every preview1 function except `proc_exit` (which returns nothing and ends the program), with
/// its parameter types; all of them return one i32 errno.
const FUNCS: &[(&str, &[ValType], Body)] = &[
    ("args_get", &[I, I], proc::args_get),
    ("args_sizes_get", &[I, I], proc::args_sizes_get),
    ("environ_get", &[I, I], proc::environ_get),
    ("environ_sizes_get", &[I, I], proc::environ_sizes_get),
    ("clock_res_get", &[I, I], proc::clock_res_get),
    ("clock_time_get", &[I, L, I], proc::clock_time_get),
    ("fd_advise", &[I, L, L, I], fd::fd_advise),
    ("fd_allocate", &[I, L, L], fd::fd_allocate),
    ("fd_close", &[I], fd::fd_close),
    ("fd_datasync", &[I], fd::fd_datasync),
    ("fd_fdstat_get", &[I, I], fd::fd_fdstat_get),
    ("fd_fdstat_set_flags", &[I, I], fd::fd_fdstat_set_flags),
    ("fd_fdstat_set_rights", &[I, L, L], fd::fd_fdstat_set_rights),
    ("fd_filestat_get", &[I, I], fd::fd_filestat_get),
    ("fd_filestat_set_size", &[I, L], fd::fd_filestat_set_size),
    ("fd_filestat_set_times", &[I, L, L, I], nosys),
    ("fd_pread", &[I, I, I, L, I], fd::fd_pread),
    ("fd_prestat_get", &[I, I], fd::fd_prestat_get),
    ("fd_prestat_dir_name", &[I, I, I], fd::fd_prestat_dir_name),
    ("fd_pwrite", &[I, I, I, L, I], fd::fd_pwrite),
    ("fd_read", &[I, I, I, I], fd::fd_read),
    ("fd_readdir", &[I, I, I, L, I], fd::fd_readdir),
    ("fd_renumber", &[I, I], fd::fd_renumber),
    ("fd_seek", &[I, L, I, I], fd::fd_seek),
    ("fd_sync", &[I], fd::fd_sync),
    ("fd_tell", &[I, I], fd::fd_tell),
    ("fd_write", &[I, I, I, I], fd::fd_write),
    ("path_create_directory", &[I, I, I], path_ops::path_create_directory),
    ("path_filestat_get", &[I, I, I, I, I], path_ops::path_filestat_get),
    ("path_filestat_set_times", &[I, I, I, I, L, L, I], nosys),
    ("path_link", &[I, I, I, I, I, I, I], nosys),
    ("path_open", &[I, I, I, I, I, L, L, I, I], path_ops::path_open),
    ("path_readlink", &[I, I, I, I, I, I], nosys),
    ("path_remove_directory", &[I, I, I], path_ops::path_remove_directory),
    ("path_rename", &[I, I, I, I, I, I], path_ops::path_rename),
    ("path_symlink", &[I, I, I, I, I], nosys),
    ("path_unlink_file", &[I, I, I], path_ops::path_unlink_file),
    ("poll_oneoff", &[I, I, I, I], poll::poll_oneoff),
    ("proc_raise", &[I], nosys),
    ("random_get", &[I, I], proc::random_get),
    ("sched_yield", &[], proc::sched_yield),
    ("sock_accept", &[I, I, I], sock::sock_accept),
    ("sock_recv", &[I, I, I, I, I, I], sock::sock_recv),
    ("sock_send", &[I, I, I, I, I], sock::sock_send),
    ("sock_shutdown", &[I, I], sock::sock_shutdown),
];

/// Wraps a body as a host function returning its errno.
fn host(body: Body) -> HostFunc {
    Arc::new(move |caller: &mut Caller<'_>, args: &[Val], results: &mut [Val]| -> Result<(), Trap> {
        let mut env = Env::from_caller(caller)?;
        let errno = match body(&mut env, &Args(args)) {
            Ok(()) => errno::SUCCESS,
            Err(e) => e,
        };
        if let Some(r) = results.first_mut() {
            *r = Val::I32(i32::from(errno));
        }
        Ok(())
    })
}

/// `proc_exit(code)`: records the code and ends the program with [`TrapKind::Exit`].
fn proc_exit() -> HostFunc {
    Arc::new(|caller: &mut Caller<'_>, args: &[Val], _results: &mut [Val]| -> Result<(), Trap> {
        let code = Args(args).u32(0) as i32;
        if let Some(ctx) = caller.store.wasi.as_mut() {
            ctx.exit_code = Some(code);
        }
        Err(Trap::new(TrapKind::Exit(code)))
    })
}

/// Registers every `wasi_snapshot_preview1` function in `linker`, as host functions of `store`.
/// The functions use `store.wasi`, which must be set before the program calls them (calling
/// them without a [`super::WasiCtx`] traps).
pub fn add_to_linker(linker: &mut Linker, store: &mut Store) {
    for &(name, params, body) in FUNCS {
        let addr = store.host_func(FuncType::new(params, vec![ValType::I32]), host(body));
        linker.define(MODULE, name, Extern::Func(addr));
    }
    let addr = store.host_func(FuncType::new([ValType::I32], alloc::vec::Vec::new()), proc_exit());
    linker.define(MODULE, "proc_exit", Extern::Func(addr));
}
