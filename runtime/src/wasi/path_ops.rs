//! `path_*` functions: everything that names a file by a path beneath a directory fd.
//!
//! Each path is checked lexically first ([`super::path`]) and then handed to the platform, whose
//! `*_at` methods resolve it beneath the directory handle without letting symlinks escape.

use super::abi::{fdflags, oflags, rights, size, LOOKUP_SYMLINK_FOLLOW};
use super::fd::filestat_bytes;
use super::path;
use super::table::{FdEntry, FdKind};
use super::{errno, Args, Env, WasiResult};
use crate::platform::{FileKind, OpenOptions};

/// `path_open(fd, dirflags, path, path_len, oflags, rights_base: u64, rights_inheriting: u64,
/// fdflags, opened_fd_ptr)`.
pub(crate) fn path_open(env: &mut Env<'_>, a: &Args<'_>) -> WasiResult {
    let dir = env.ctx.fds.dir(a.u32(0))?.handle;
    let (dirflags, out) = (a.u32(1), a.u32(8));
    let oflags = u16::try_from(a.u32(4)).map_err(|_| errno::INVAL)?;
    let fdflags = u16::try_from(a.u32(7)).map_err(|_| errno::INVAL)?;
    let (base, inheriting) = (a.u64(5), a.u64(6));
    let known_oflags = oflags::CREAT | oflags::DIRECTORY | oflags::EXCL | oflags::TRUNC;
    if oflags & !known_oflags != 0 || fdflags >= 1 << 5 {
        return Err(errno::INVAL);
    }
    env.mem.range(out, 4)?;
    let p = env.mem.str(a.u32(2), a.u32(3))?;
    path::check(p)?;

    // The access mode follows the requested rights, as in wasmtime: wasi-libc asks for read
    // rights for O_RDONLY and write rights for O_WRONLY.
    let wants_read = base & (rights::FD_READ | rights::FD_READDIR) != 0;
    let write_rights = rights::FD_WRITE | rights::FD_DATASYNC | rights::FD_ALLOCATE | rights::FD_FILESTAT_SET_SIZE;
    let directory = oflags & oflags::DIRECTORY != 0;
    let write = !directory && (base & write_rights != 0 || fdflags & fdflags::APPEND != 0);
    let opts = OpenOptions {
        read: wants_read || !write,
        write,
        create: oflags & oflags::CREAT != 0,
        exclusive: oflags & oflags::EXCL != 0,
        truncate: oflags & oflags::TRUNC != 0,
        append: fdflags & fdflags::APPEND != 0,
        directory,
        nofollow: dirflags & LOOKUP_SYMLINK_FOLLOW == 0,
        nonblock: fdflags & fdflags::NONBLOCK != 0,
    };
    let h = env.platform.open_at(dir, p, opts)?;
    let kind = match env.platform.stat(h).ok().and_then(|s| s.kind) {
        Some(FileKind::Directory) => FdKind::Dir,
        Some(FileKind::SocketStream | FileKind::SocketDgram) => FdKind::Socket,
        None if directory => FdKind::Dir,
        _ => FdKind::File,
    };
    let mut entry = FdEntry::new(h, kind, true);
    entry.rights_base = base;
    entry.rights_inheriting = inheriting;
    // Synchronous-I/O flags are accepted but not remembered: kwasm does not provide them, and
    // reporting them back would claim otherwise.
    entry.flags = fdflags & (fdflags::APPEND | fdflags::NONBLOCK);
    match env.ctx.fds.insert(entry) {
        Ok(fd) => env.mem.put_u32(out, fd),
        Err(e) => {
            let _ = env.platform.close(h);
            Err(e)
        }
    }
}

/// `path_filestat_get(fd, lookupflags, path, path_len, filestat_ptr)`.
pub(crate) fn path_filestat_get(env: &mut Env<'_>, a: &Args<'_>) -> WasiResult {
    let dir = env.ctx.fds.dir(a.u32(0))?.handle;
    let follow = a.u32(1) & LOOKUP_SYMLINK_FOLLOW != 0;
    let out = a.u32(4);
    env.mem.range(out, size::FILESTAT)?;
    let p = env.mem.str(a.u32(2), a.u32(3))?;
    path::check(p)?;
    let st = env.platform.stat_at(dir, p, follow)?;
    env.mem.write(out, &filestat_bytes(&st))
}

/// `path_create_directory(fd, path, path_len)`.
pub(crate) fn path_create_directory(env: &mut Env<'_>, a: &Args<'_>) -> WasiResult {
    let dir = env.ctx.fds.dir(a.u32(0))?.handle;
    let p = env.mem.str(a.u32(1), a.u32(2))?;
    if path::last_component(p) == "." && path::check(p).is_ok() {
        return Err(errno::EXIST);
    }
    path::check_entry(p)?;
    env.platform.mkdir_at(dir, p)
}

/// `path_unlink_file(fd, path, path_len)`.
pub(crate) fn path_unlink_file(env: &mut Env<'_>, a: &Args<'_>) -> WasiResult {
    let dir = env.ctx.fds.dir(a.u32(0))?.handle;
    let p = env.mem.str(a.u32(1), a.u32(2))?;
    path::check_entry(p)?;
    env.platform.unlink_at(dir, p)
}

/// `path_remove_directory(fd, path, path_len)`.
pub(crate) fn path_remove_directory(env: &mut Env<'_>, a: &Args<'_>) -> WasiResult {
    let dir = env.ctx.fds.dir(a.u32(0))?.handle;
    let p = env.mem.str(a.u32(1), a.u32(2))?;
    path::check_entry(p)?;
    env.platform.rmdir_at(dir, p)
}

/// `path_rename(fd, old_path, old_path_len, new_fd, new_path, new_path_len)`.
pub(crate) fn path_rename(env: &mut Env<'_>, a: &Args<'_>) -> WasiResult {
    let from_dir = env.ctx.fds.dir(a.u32(0))?.handle;
    let to_dir = env.ctx.fds.dir(a.u32(3))?.handle;
    let from = env.mem.str(a.u32(1), a.u32(2))?;
    let to = env.mem.str(a.u32(4), a.u32(5))?;
    path::check_entry(from)?;
    path::check_entry(to)?;
    env.platform.rename_at(from_dir, from, to_dir, to)
}
