//! `fd_*` functions: I/O, seeking, metadata, preopens, directory listing and fd management.

use alloc::vec::Vec;

use super::abi::{fdflags, filetype, size, whence, PREOPENTYPE_DIR, PREOPENTYPE_SOCKET};
use super::mem::{set_u16, set_u32, set_u64, Mem};
use super::table::{filetype_of, FdKind};
use super::{errno, Args, Env, WasiResult};
use crate::platform::{Errno, FileStat, Whence};

/// Largest bounce buffer used to turn a multi-buffer `fd_read`/`fd_write` into one host call.
/// Bigger requests are served partially, which `readv`/`writev` callers must handle anyway.
const BOUNCE_MAX: usize = 1 << 20;

/// Runs one host read `op` for the guest buffers `iov`, with `readv` semantics: a single host
/// call, so a terminal or socket never blocks for a second buffer after the first was filled.
pub(crate) fn scatter(
    mem: &mut Mem<'_>,
    iov: &[(u32, u32)],
    mut op: impl FnMut(&mut [u8]) -> Result<usize, Errno>,
) -> Result<usize, Errno> {
    let mut bufs = iov.iter().copied().filter(|&(_, len)| len > 0);
    let Some(first) = bufs.next() else {
        return Ok(0);
    };
    let total: usize = iov.iter().map(|&(_, len)| len as usize).fold(0, usize::saturating_add);
    if first.1 as usize == total || first.1 as usize >= BOUNCE_MAX {
        // One buffer (or a first buffer big enough on its own): read straight into guest memory.
        let n = op(mem.slice_mut(first.0, first.1)?)?;
        return Ok(n.min(first.1 as usize));
    }
    let mut bounce = Vec::new();
    bounce.try_reserve_exact(total.min(BOUNCE_MAX)).map_err(|_| errno::NOMEM)?;
    bounce.resize(total.min(BOUNCE_MAX), 0);
    let n = op(&mut bounce)?.min(bounce.len());
    let mut done = 0;
    for &(ptr, len) in iov {
        if done == n {
            break;
        }
        let k = (len as usize).min(n - done);
        mem.write(ptr, &bounce[done..done + k])?;
        done += k;
    }
    Ok(n)
}

/// Runs one host write `op` for the guest buffers `iov`, with `writev` semantics (one host call,
/// so lines written with several buffers stay together on a pipe).
pub(crate) fn gather(
    mem: &Mem<'_>,
    iov: &[(u32, u32)],
    mut op: impl FnMut(&[u8]) -> Result<usize, Errno>,
) -> Result<usize, Errno> {
    let mut bufs = iov.iter().copied().filter(|&(_, len)| len > 0);
    let Some(first) = bufs.next() else {
        return Ok(0);
    };
    let total: usize = iov.iter().map(|&(_, len)| len as usize).fold(0, usize::saturating_add);
    if first.1 as usize == total || first.1 as usize >= BOUNCE_MAX {
        let n = op(mem.slice(first.0, first.1)?)?;
        return Ok(n.min(first.1 as usize));
    }
    let mut bounce = Vec::new();
    bounce.try_reserve_exact(total.min(BOUNCE_MAX)).map_err(|_| errno::NOMEM)?;
    for &(ptr, len) in iov {
        let room = BOUNCE_MAX - bounce.len();
        if room == 0 {
            break;
        }
        bounce.extend_from_slice(mem.slice(ptr, len.min(room as u32))?);
    }
    Ok(op(&bounce)?.min(bounce.len()))
}

fn read_common(env: &mut Env<'_>, a: &Args<'_>, offset: Option<u64>, out: u32) -> WasiResult {
    let e = env.ctx.fds.get(a.u32(0))?;
    if e.kind == FdKind::Dir {
        return Err(errno::ISDIR);
    }
    let h = e.handle;
    env.mem.range(out, 4)?;
    let iov = env.mem.iovecs(a.u32(1), a.u32(2))?;
    let platform = &mut *env.platform;
    let n = scatter(&mut env.mem, &iov, |buf| platform.read(h, buf, offset))?;
    env.mem.put_u32(out, n as u32)
}

fn write_common(env: &mut Env<'_>, a: &Args<'_>, offset: Option<u64>, out: u32) -> WasiResult {
    let e = env.ctx.fds.get(a.u32(0))?;
    if e.kind == FdKind::Dir {
        return Err(errno::ISDIR);
    }
    let h = e.handle;
    env.mem.range(out, 4)?;
    let iov = env.mem.iovecs(a.u32(1), a.u32(2))?;
    let platform = &mut *env.platform;
    let n = gather(&env.mem, &iov, |buf| platform.write(h, buf, offset))?;
    env.mem.put_u32(out, n as u32)
}

/// `fd_read(fd, iovs, iovs_len, nread_ptr)`.
pub(crate) fn fd_read(env: &mut Env<'_>, a: &Args<'_>) -> WasiResult {
    read_common(env, a, None, a.u32(3))
}

/// `fd_pread(fd, iovs, iovs_len, offset: u64, nread_ptr)`.
pub(crate) fn fd_pread(env: &mut Env<'_>, a: &Args<'_>) -> WasiResult {
    read_common(env, a, Some(a.u64(3)), a.u32(4))
}

/// `fd_write(fd, iovs, iovs_len, nwritten_ptr)`.
pub(crate) fn fd_write(env: &mut Env<'_>, a: &Args<'_>) -> WasiResult {
    write_common(env, a, None, a.u32(3))
}

/// `fd_pwrite(fd, iovs, iovs_len, offset: u64, nwritten_ptr)`.
pub(crate) fn fd_pwrite(env: &mut Env<'_>, a: &Args<'_>) -> WasiResult {
    write_common(env, a, Some(a.u64(3)), a.u32(4))
}

fn seek(env: &mut Env<'_>, fd: u32, offset: i64, whence: Whence, out: u32) -> WasiResult {
    let e = env.ctx.fds.get(fd)?;
    if matches!(e.kind, FdKind::Socket | FdKind::Listener) {
        return Err(errno::SPIPE);
    }
    let h = e.handle;
    env.mem.range(out, 8)?;
    let pos = env.platform.seek(h, offset, whence)?;
    env.mem.put_u64(out, pos)
}

/// `fd_seek(fd, offset: i64, whence: u8, newoffset_ptr)`.
pub(crate) fn fd_seek(env: &mut Env<'_>, a: &Args<'_>) -> WasiResult {
    let w = match u8::try_from(a.u32(2)) {
        Ok(whence::SET) => Whence::Start,
        Ok(whence::CUR) => Whence::Current,
        Ok(whence::END) => Whence::End,
        _ => return Err(errno::INVAL),
    };
    seek(env, a.u32(0), a.u64(1) as i64, w, a.u32(3))
}

/// `fd_tell(fd, offset_ptr)`.
pub(crate) fn fd_tell(env: &mut Env<'_>, a: &Args<'_>) -> WasiResult {
    seek(env, a.u32(0), 0, Whence::Current, a.u32(1))
}

/// `fd_close(fd)`.
pub(crate) fn fd_close(env: &mut Env<'_>, a: &Args<'_>) -> WasiResult {
    let e = env.ctx.fds.remove(a.u32(0))?;
    if e.owned {
        env.platform.close(e.handle)?;
    }
    Ok(())
}

/// `fd_fdstat_get(fd, fdstat_ptr)`.
pub(crate) fn fd_fdstat_get(env: &mut Env<'_>, a: &Args<'_>) -> WasiResult {
    let e = env.ctx.fds.get(a.u32(0))?;
    env.mem.range(a.u32(1), size::FDSTAT)?;
    let ft = e.filetype(env.platform);
    let (base, inheriting) = e.rights(ft);
    let mut rec = [0u8; size::FDSTAT as usize];
    rec[0] = ft;
    set_u16(&mut rec, 2, e.flags);
    set_u64(&mut rec, 8, base);
    set_u64(&mut rec, 16, inheriting);
    env.mem.write(a.u32(1), &rec)
}

/// `fd_fdstat_set_flags(fd, flags: u16)`. Only `NONBLOCK` can be changed after opening (as in
/// wasmtime); asking for another change is `ENOTSUP`.
pub(crate) fn fd_fdstat_set_flags(env: &mut Env<'_>, a: &Args<'_>) -> WasiResult {
    let flags = u16::try_from(a.u32(1)).map_err(|_| errno::INVAL)?;
    let known = fdflags::APPEND | fdflags::DSYNC | fdflags::NONBLOCK | fdflags::RSYNC | fdflags::SYNC;
    if flags & !known != 0 {
        return Err(errno::INVAL);
    }
    let e = env.ctx.fds.get_mut(a.u32(0))?;
    if (flags ^ e.flags) & !fdflags::NONBLOCK != 0 {
        return Err(errno::NOTSUP);
    }
    let nonblock = flags & fdflags::NONBLOCK != 0;
    if nonblock != (e.flags & fdflags::NONBLOCK != 0) {
        env.platform.set_nonblocking(e.handle, nonblock)?;
    }
    e.flags = flags;
    Ok(())
}

/// `fd_fdstat_set_rights(fd, base: u64, inheriting: u64)`: rights can only shrink.
pub(crate) fn fd_fdstat_set_rights(env: &mut Env<'_>, a: &Args<'_>) -> WasiResult {
    let (base, inheriting) = (a.u64(1), a.u64(2));
    let e = env.ctx.fds.get(a.u32(0))?;
    let ft = e.filetype(env.platform);
    let (have_base, have_inheriting) = e.rights(ft);
    if base & !have_base != 0 || inheriting & !have_inheriting != 0 {
        return Err(errno::NOTCAPABLE);
    }
    let e = env.ctx.fds.get_mut(a.u32(0))?;
    e.rights_base = base;
    e.rights_inheriting = inheriting;
    Ok(())
}

/// Encodes a `filestat`.
pub(crate) fn filestat_bytes(st: &FileStat) -> [u8; size::FILESTAT as usize] {
    let mut rec = [0u8; size::FILESTAT as usize];
    set_u64(&mut rec, 0, st.dev);
    set_u64(&mut rec, 8, st.ino);
    rec[16] = st.kind.map_or(filetype::UNKNOWN, filetype_of);
    set_u64(&mut rec, 24, st.nlink);
    set_u64(&mut rec, 32, st.size);
    set_u64(&mut rec, 40, st.atim);
    set_u64(&mut rec, 48, st.mtim);
    set_u64(&mut rec, 56, st.ctim);
    rec
}

/// `fd_filestat_get(fd, filestat_ptr)`.
pub(crate) fn fd_filestat_get(env: &mut Env<'_>, a: &Args<'_>) -> WasiResult {
    let h = env.ctx.fds.get(a.u32(0))?.handle;
    env.mem.range(a.u32(1), size::FILESTAT)?;
    let st = env.platform.stat(h)?;
    env.mem.write(a.u32(1), &filestat_bytes(&st))
}

/// `fd_filestat_set_size(fd, size: u64)`.
pub(crate) fn fd_filestat_set_size(env: &mut Env<'_>, a: &Args<'_>) -> WasiResult {
    let e = env.ctx.fds.get(a.u32(0))?;
    if e.kind != FdKind::File {
        return Err(errno::INVAL);
    }
    env.platform.set_size(e.handle, a.u64(1))
}

/// `fd_prestat_get(fd, prestat_ptr)`.
pub(crate) fn fd_prestat_get(env: &mut Env<'_>, a: &Args<'_>) -> WasiResult {
    let e = env.ctx.fds.get(a.u32(0))?;
    let mut rec = [0u8; size::PRESTAT as usize];
    match (&e.preopen, e.kind) {
        (Some(name), _) => {
            rec[0] = PREOPENTYPE_DIR;
            set_u32(&mut rec, 4, u32::try_from(name.len()).map_err(|_| errno::OVERFLOW)?);
        }
        (None, FdKind::Listener) => rec[0] = PREOPENTYPE_SOCKET,
        _ => return Err(errno::BADF),
    }
    env.mem.write(a.u32(1), &rec)
}

/// `fd_prestat_dir_name(fd, path, path_len)`.
pub(crate) fn fd_prestat_dir_name(env: &mut Env<'_>, a: &Args<'_>) -> WasiResult {
    let e = env.ctx.fds.get(a.u32(0))?;
    let name = e.preopen.as_ref().ok_or(errno::BADF)?;
    if (a.u32(2) as usize) < name.len() {
        return Err(errno::NAMETOOLONG);
    }
    env.mem.write(a.u32(1), name.as_bytes())
}

/// `fd_readdir(fd, buf, buf_len, cookie: u64, bufused_ptr)`.
///
/// The cookie of an entry is its index in the listing plus one. The listing is read from the
/// platform at cookie 0 (open, rewind) and cached for the calls that continue it, so a listing
/// that spans several calls is consistent.
pub(crate) fn fd_readdir(env: &mut Env<'_>, a: &Args<'_>) -> WasiResult {
    let (buf, buf_len, cookie, used_ptr) = (a.u32(1), a.u32(2), a.u64(3), a.u32(4));
    let e = env.ctx.fds.get(a.u32(0))?;
    if e.kind != FdKind::Dir {
        return Err(errno::NOTDIR);
    }
    env.mem.range(used_ptr, 4)?;
    env.mem.range(buf, buf_len)?;
    let h = e.handle;
    if cookie == 0 || e.dir_cache.is_empty() {
        let entries = env.platform.read_dir(h)?;
        env.ctx.fds.get_mut(a.u32(0))?.dir_cache = entries;
    }
    let entries = &env.ctx.fds.get(a.u32(0))?.dir_cache;
    let mut used: u32 = 0;
    for (i, d) in entries.iter().enumerate().skip(usize::try_from(cookie).unwrap_or(usize::MAX)) {
        let mut rec = [0u8; size::DIRENT as usize];
        set_u64(&mut rec, 0, i as u64 + 1);
        set_u64(&mut rec, 8, d.ino);
        set_u32(&mut rec, 16, u32::try_from(d.name.len()).map_err(|_| errno::OVERFLOW)?);
        rec[20] = filetype_of(d.kind);
        // The last entry is cut off when the buffer is full: callers detect "more to come" by
        // `bufused == buf_len` and call again with the last complete entry's cookie.
        for part in [&rec[..], d.name.as_bytes()] {
            let room = (buf_len - used) as usize;
            let k = part.len().min(room);
            env.mem.write(buf.wrapping_add(used), &part[..k])?;
            used += k as u32;
        }
        if used == buf_len {
            break;
        }
    }
    env.mem.put_u32(used_ptr, used)
}

/// `fd_sync(fd)`.
pub(crate) fn fd_sync(env: &mut Env<'_>, a: &Args<'_>) -> WasiResult {
    let h = env.ctx.fds.get(a.u32(0))?.handle;
    env.platform.sync(h, false)
}

/// `fd_datasync(fd)`.
pub(crate) fn fd_datasync(env: &mut Env<'_>, a: &Args<'_>) -> WasiResult {
    let h = env.ctx.fds.get(a.u32(0))?.handle;
    env.platform.sync(h, true)
}

/// `fd_advise(fd, offset: u64, len: u64, advice: u8)`: advice is only a hint, so it is checked
/// and otherwise ignored.
pub(crate) fn fd_advise(env: &mut Env<'_>, a: &Args<'_>) -> WasiResult {
    env.ctx.fds.get(a.u32(0))?;
    if a.u32(3) > 5 {
        return Err(errno::INVAL);
    }
    Ok(())
}

/// `fd_allocate(fd, offset: u64, len: u64)`: not implemented.
pub(crate) fn fd_allocate(env: &mut Env<'_>, a: &Args<'_>) -> WasiResult {
    env.ctx.fds.get(a.u32(0))?;
    Err(errno::NOSYS)
}

/// `fd_renumber(from, to)`: moves `from` to `to`, closing what was at `to`.
pub(crate) fn fd_renumber(env: &mut Env<'_>, a: &Args<'_>) -> WasiResult {
    if let Some(old) = env.ctx.fds.renumber(a.u32(0), a.u32(1))? {
        if old.owned {
            let _ = env.platform.close(old.handle);
        }
    }
    Ok(())
}
