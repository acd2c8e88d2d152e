//! Process-level functions: arguments, environment, clocks, randomness, yielding and exit.

use alloc::string::String;

use super::abi::clockid;
use super::{errno, Args, Env, WasiResult};
use crate::platform::{Clock, Errno};

/// Writes a list of strings the way `args_get`/`environ_get` want: a pointer array at `ptrs` and
/// the NUL-terminated strings packed into `buf`.
fn put_strings(env: &mut Env<'_>, list: &[String], ptrs: u32, buf: u32) -> WasiResult {
    let count = u32::try_from(list.len()).map_err(|_| errno::OVERFLOW)?;
    env.mem.check_array(ptrs, count, 4)?;
    let total = sizes(list)?.1;
    env.mem.range(buf, total)?;
    // Both areas were checked as a whole above, so the address arithmetic below cannot wrap
    // (wrapping_add only keeps a 4 GiB memory's last string from tripping overflow checks).
    let mut at = buf;
    for (i, s) in list.iter().enumerate() {
        env.mem.put_u32(ptrs.wrapping_add(4 * i as u32), at)?;
        env.mem.write(at, s.as_bytes())?;
        env.mem.put_u8(at.wrapping_add(s.len() as u32), 0)?;
        at = at.wrapping_add(s.len() as u32 + 1);
    }
    Ok(())
}

/// `(count, total bytes including NULs)` of a string list.
fn sizes(list: &[String]) -> Result<(u32, u32), Errno> {
    let count = u32::try_from(list.len()).map_err(|_| errno::OVERFLOW)?;
    let total: usize = list.iter().map(|s| s.len() + 1).sum();
    Ok((count, u32::try_from(total).map_err(|_| errno::OVERFLOW)?))
}

fn put_sizes(env: &mut Env<'_>, list_is_env: bool, count_ptr: u32, size_ptr: u32) -> WasiResult {
    let list = if list_is_env { &env.ctx.env } else { &env.ctx.args };
    let (count, total) = sizes(list)?;
    env.mem.range(count_ptr, 4)?;
    env.mem.range(size_ptr, 4)?;
    env.mem.put_u32(count_ptr, count)?;
    env.mem.put_u32(size_ptr, total)
}

/// `args_get(argv, argv_buf)`.
pub(crate) fn args_get(env: &mut Env<'_>, a: &Args<'_>) -> WasiResult {
    let args = core::mem::take(&mut env.ctx.args);
    let r = put_strings(env, &args, a.u32(0), a.u32(1));
    env.ctx.args = args;
    r
}

/// `args_sizes_get(argc_ptr, argv_buf_size_ptr)`.
pub(crate) fn args_sizes_get(env: &mut Env<'_>, a: &Args<'_>) -> WasiResult {
    put_sizes(env, false, a.u32(0), a.u32(1))
}

/// `environ_get(environ, environ_buf)`.
pub(crate) fn environ_get(env: &mut Env<'_>, a: &Args<'_>) -> WasiResult {
    let vars = core::mem::take(&mut env.ctx.env);
    let r = put_strings(env, &vars, a.u32(0), a.u32(1));
    env.ctx.env = vars;
    r
}

/// `environ_sizes_get(count_ptr, buf_size_ptr)`.
pub(crate) fn environ_sizes_get(env: &mut Env<'_>, a: &Args<'_>) -> WasiResult {
    put_sizes(env, true, a.u32(0), a.u32(1))
}

/// The platform clock for a WASI `clockid`.
pub(crate) fn clock(id: u32) -> Result<Clock, Errno> {
    Ok(match id {
        clockid::REALTIME => Clock::Realtime,
        clockid::MONOTONIC => Clock::Monotonic,
        clockid::PROCESS_CPUTIME_ID => Clock::ProcessCpu,
        clockid::THREAD_CPUTIME_ID => Clock::ThreadCpu,
        _ => return Err(errno::INVAL),
    })
}

/// `clock_res_get(id, resolution_ptr)`.
pub(crate) fn clock_res_get(env: &mut Env<'_>, a: &Args<'_>) -> WasiResult {
    let c = clock(a.u32(0))?;
    env.mem.range(a.u32(1), 8)?;
    let res = env.platform.clock_resolution(c)?;
    env.mem.put_u64(a.u32(1), res)
}

/// `clock_time_get(id, precision: u64, time_ptr)`.
pub(crate) fn clock_time_get(env: &mut Env<'_>, a: &Args<'_>) -> WasiResult {
    let c = clock(a.u32(0))?;
    env.mem.range(a.u32(2), 8)?;
    let t = env.platform.clock_time(c)?;
    env.mem.put_u64(a.u32(2), t)
}

/// `random_get(buf, buf_len)`.
pub(crate) fn random_get(env: &mut Env<'_>, a: &Args<'_>) -> WasiResult {
    let buf = env.mem.slice_mut(a.u32(0), a.u32(1))?;
    env.platform.random(buf)
}

/// `sched_yield()`.
pub(crate) fn sched_yield(env: &mut Env<'_>, _a: &Args<'_>) -> WasiResult {
    env.platform.yield_now();
    Ok(())
}
