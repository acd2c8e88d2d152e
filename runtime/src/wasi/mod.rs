//! WASI preview1 (`wasi_snapshot_preview1`) over [`crate::Platform`].
//!
//! [`WasiCtx`] holds a program's WASI state (arguments, environment, fd table, exit code) and
//! lives in [`Store::wasi`]; [`add_to_linker`] registers every preview1 function as a host function.
//! The host functions only touch the host through the store's platform, so the same code serves
//! user space and the kernel.
//!
//! Conventions kept throughout:
//! - a guest pointer outside linear memory gives `EFAULT`, never a trap or a panic;
//! - functions kwasm does not implement exist and return `ENOSYS`;
//! - paths are checked lexically (module `path`) and then resolved by the platform beneath the
//!   directory fd, which must stop `..` and symlinks from escaping;
//! - fd numbering follows `wasmtime run`: 0-2 stdio, then the preopened socket (if any), then
//!   the preopened directories.

mod abi;
pub mod errno;
mod fd;
mod linker;
mod mem;
mod path;
mod path_ops;
mod poll;
mod proc;
mod sock;
mod table;
#[cfg(test)]
mod tests;

use alloc::string::String;
use alloc::vec::Vec;

pub use linker::{add_to_linker, MODULE};
pub use table::MAX_FDS;

use crate::platform::{Errno, HostHandle, Platform};
use crate::store::{Caller, Store};
use crate::trap::Trap;
use crate::types::Val;
use mem::Mem;
use table::{FdEntry, FdKind, FdTable};

/// Per-store WASI state: arguments, environment, the file descriptor table and the exit code.
#[derive(Debug, Default)]
pub struct WasiCtx {
    args: Vec<String>,
    env: Vec<String>,
    fds: FdTable,
    exit_code: Option<i32>,
}

impl WasiCtx {
    /// An empty context: no arguments, no environment, no fds at all.
    pub fn new() -> WasiCtx {
        WasiCtx::default()
    }

    /// Starts building a context.
    pub fn builder() -> WasiCtxBuilder {
        WasiCtxBuilder::default()
    }

    /// The program's arguments (argv\[0\] first).
    pub fn args(&self) -> &[String] {
        &self.args
    }

    /// The environment as `KEY=VALUE` strings.
    pub fn env(&self) -> &[String] {
        &self.env
    }

    /// The code the program passed to `proc_exit`, once it has called it.
    pub fn exit_code(&self) -> Option<i32> {
        self.exit_code
    }

    /// Closes every host handle the context owns (preopens, the socket, everything the guest
    /// opened) and empties the fd table. Embedders that outlive the program call this to give the
    /// handles back; the embedder's own stdio handles are left alone.
    pub fn close_all(&mut self, platform: &mut dyn Platform) {
        for entry in self.fds.drain() {
            if entry.owned {
                let _ = platform.close(entry.handle);
            }
        }
    }
}

/// Builds a [`WasiCtx`].
///
/// The fd numbers follow `wasmtime run`: stdin, stdout and stderr are 0, 1 and 2 (left closed if
/// not given), the preopened listening socket is 3, and preopened directories follow in the
/// order they were added.
#[derive(Debug, Default)]
pub struct WasiCtxBuilder {
    args: Vec<String>,
    env: Vec<String>,
    stdio: [Option<HostHandle>; 3],
    socket: Option<HostHandle>,
    dirs: Vec<(HostHandle, String)>,
}

impl WasiCtxBuilder {
    /// Appends one argument (the first one is the program name, argv\[0\]).
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Appends several arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Adds an environment variable.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        let mut kv = String::with_capacity(key.len() + 1 + value.len());
        kv.push_str(key);
        kv.push('=');
        kv.push_str(value);
        self.env.push(kv);
        self
    }

    /// Sets the handle of fd 0. It stays the embedder's: closing fd 0 does not close it.
    pub fn stdin(mut self, h: HostHandle) -> Self {
        self.stdio[0] = Some(h);
        self
    }

    /// Sets the handle of fd 1 (not closed by the context, like [`WasiCtxBuilder::stdin`]).
    pub fn stdout(mut self, h: HostHandle) -> Self {
        self.stdio[1] = Some(h);
        self
    }

    /// Sets the handle of fd 2 (not closed by the context, like [`WasiCtxBuilder::stdin`]).
    pub fn stderr(mut self, h: HostHandle) -> Self {
        self.stdio[2] = Some(h);
        self
    }

    /// Preopens the directory handle `dir` under the guest path `guest_path` (for example `/` or
    /// `.`). The context takes ownership of the handle.
    pub fn preopened_dir(mut self, dir: HostHandle, guest_path: impl Into<String>) -> Self {
        self.dirs.push((dir, guest_path.into()));
        self
    }

    /// Preopens a listening socket as fd 3, as `wasmtime run --tcplisten` does. The guest accepts
    /// connections on it with `sock_accept`. The context takes ownership of the handle.
    pub fn preopened_socket(mut self, listener: HostHandle) -> Self {
        self.socket = Some(listener);
        self
    }

    /// Builds the context.
    pub fn build(self) -> WasiCtx {
        let mut fds = FdTable::default();
        for (fd, h) in self.stdio.iter().enumerate() {
            if let Some(h) = h {
                fds.set(fd as u32, FdEntry::new(*h, FdKind::Stdio, false));
            }
        }
        let mut next = 3;
        if let Some(h) = self.socket {
            fds.set(next, FdEntry::new(h, FdKind::Listener, true));
            next += 1;
        }
        for (h, guest) in self.dirs {
            let mut e = FdEntry::new(h, FdKind::Dir, true);
            e.preopen = Some(guest);
            fds.set(next, e);
            next += 1;
        }
        WasiCtx { args: self.args, env: self.env, fds, exit_code: None }
    }
}

/// What a WASI function works with: the caller's memory, the platform and the WASI state, borrowed
/// from disjoint parts of the store at once.
pub(crate) struct Env<'a> {
    /// The caller's linear memory.
    pub mem: Mem<'a>,
    /// The host.
    pub platform: &'a mut dyn Platform,
    /// The WASI state.
    pub ctx: &'a mut WasiCtx,
}

impl<'a> Env<'a> {
    /// Splits a caller into an [`Env`]; a trap if the store has no WASI context (an embedder bug,
    /// not something the guest did).
    pub(crate) fn from_caller(caller: &'a mut Caller<'_>) -> Result<Env<'a>, Trap> {
        let memory = caller.memory_index();
        let Store { wasi, memories, platform, .. } = &mut *caller.store;
        let ctx = wasi.as_mut().ok_or_else(|| Trap::host("a WASI function was called but the store has no WasiCtx"))?;
        let bytes: &'a mut [u8] = match memory.and_then(|m| memories.get_mut(m as usize)) {
            Some(m) => &mut m.data,
            None => &mut [],
        };
        Ok(Env { mem: Mem::new(bytes), platform: &mut **platform, ctx })
    }
}

/// The arguments of a host call, read leniently: the store has already checked their types
/// against the signature, and a missing one reads as 0 rather than panicking.
pub(crate) struct Args<'a>(pub &'a [Val]);

impl Args<'_> {
    /// Argument `i` as u32 (a pointer, length, fd or flag word).
    pub(crate) fn u32(&self, i: usize) -> u32 {
        match self.0.get(i) {
            Some(Val::I32(v)) => *v as u32,
            Some(Val::I64(v)) => *v as u32,
            _ => 0,
        }
    }

    /// Argument `i` as u64.
    pub(crate) fn u64(&self, i: usize) -> u64 {
        match self.0.get(i) {
            Some(Val::I64(v)) => *v as u64,
            Some(Val::I32(v)) => *v as u32 as u64,
            _ => 0,
        }
    }
}

/// The result type of every WASI function body: success or an errno for the guest.
pub(crate) type WasiResult = Result<(), Errno>;
