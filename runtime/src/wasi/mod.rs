//! WASI preview1 (`wasi_snapshot_preview1`) over [`crate::Platform`].

pub mod errno;

/// Per-store WASI state: arguments, environment, the file descriptor table.
#[derive(Debug, Default)]
pub struct WasiCtx {}
