//! `sock_*` functions on the preopened listening socket and the connections it accepts.

use super::abi::{fdflags, riflags, sdflags};
use super::fd::{gather, scatter};
use super::table::{FdEntry, FdKind};
use super::{errno, Args, Env, WasiResult};
use crate::platform::{Errno, HostHandle};

/// The handle of `fd` if it may be a connected socket. Stdio is allowed too: a program started
/// by a super-server gets its connection as stdin/stdout.
fn connected(env: &Env<'_>, fd: u32) -> Result<HostHandle, Errno> {
    let e = env.ctx.fds.get(fd)?;
    match e.kind {
        FdKind::Socket | FdKind::Stdio => Ok(e.handle),
        _ => Err(errno::NOTSOCK),
    }
}

/// `sock_accept(fd, flags: fdflags, result_fd_ptr)`.
pub(crate) fn sock_accept(env: &mut Env<'_>, a: &Args<'_>) -> WasiResult {
    let (fd, flags, out) = (a.u32(0), a.u32(1), a.u32(2));
    let e = env.ctx.fds.get(fd)?;
    if e.kind != FdKind::Listener {
        return Err(if e.kind == FdKind::Socket { errno::INVAL } else { errno::NOTSOCK });
    }
    if flags & !u32::from(fdflags::NONBLOCK) != 0 {
        return Err(errno::INVAL);
    }
    env.mem.range(out, 4)?;
    let nonblock = flags & u32::from(fdflags::NONBLOCK) != 0;
    let h = env.platform.sock_accept(e.handle, nonblock)?;
    let mut entry = FdEntry::new(h, FdKind::Socket, true);
    if nonblock {
        entry.flags = fdflags::NONBLOCK;
    }
    match env.ctx.fds.insert(entry) {
        Ok(new_fd) => env.mem.put_u32(out, new_fd),
        Err(e) => {
            let _ = env.platform.close(h);
            Err(e)
        }
    }
}

/// `sock_recv(fd, ri_data, ri_data_len, ri_flags, ro_datalen_ptr, ro_flags_ptr)`.
pub(crate) fn sock_recv(env: &mut Env<'_>, a: &Args<'_>) -> WasiResult {
    let h = connected(env, a.u32(0))?;
    let flags = a.u32(3);
    if flags & !u32::from(riflags::RECV_PEEK | riflags::RECV_WAITALL) != 0 {
        return Err(errno::INVAL);
    }
    let (len_out, flags_out) = (a.u32(4), a.u32(5));
    env.mem.range(len_out, 4)?;
    env.mem.range(flags_out, 2)?;
    let iov = env.mem.iovecs(a.u32(1), a.u32(2))?;
    let peek = flags & u32::from(riflags::RECV_PEEK) != 0;
    let wait_all = flags & u32::from(riflags::RECV_WAITALL) != 0;
    let platform = &mut *env.platform;
    let n = scatter(&mut env.mem, &iov, |buf| platform.sock_recv(h, buf, peek, wait_all))?;
    env.mem.put_u32(len_out, n as u32)?;
    // `roflags`: kwasm never truncates (stream sockets only).
    env.mem.put_u16(flags_out, 0)
}

/// `sock_send(fd, si_data, si_data_len, si_flags, so_datalen_ptr)`.
pub(crate) fn sock_send(env: &mut Env<'_>, a: &Args<'_>) -> WasiResult {
    let h = connected(env, a.u32(0))?;
    if a.u32(3) != 0 {
        // preview1 defines no send flags.
        return Err(errno::INVAL);
    }
    let out = a.u32(4);
    env.mem.range(out, 4)?;
    let iov = env.mem.iovecs(a.u32(1), a.u32(2))?;
    let platform = &mut *env.platform;
    let n = gather(&env.mem, &iov, |buf| platform.write(h, buf, None))?;
    env.mem.put_u32(out, n as u32)
}

/// `sock_shutdown(fd, how: sdflags)`.
pub(crate) fn sock_shutdown(env: &mut Env<'_>, a: &Args<'_>) -> WasiResult {
    let h = connected(env, a.u32(0))?;
    let how = a.u32(1);
    let both = u32::from(sdflags::RD | sdflags::WR);
    if how == 0 || how & !both != 0 {
        return Err(errno::INVAL);
    }
    env.platform.sock_shutdown(h, how as u8)
}
