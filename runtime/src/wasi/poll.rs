//! `poll_oneoff`: wait for clock timeouts and fd readiness.

use alloc::vec::Vec;

use super::abi::{eventtype, size, SUBSCRIPTION_CLOCK_ABSTIME};
use super::mem::{get_u16, get_u32, get_u64, set_u16, set_u64};
use super::proc::clock;
use super::{errno, Args, Env, WasiResult};
use crate::platform::{Clock, Errno, Interruption, Platform, PollRequest};

/// An event to report.
struct Event {
    userdata: u64,
    error: Errno,
    ty: u8,
}

impl Event {
    fn bytes(&self) -> [u8; size::EVENT as usize] {
        let mut rec = [0u8; size::EVENT as usize];
        set_u64(&mut rec, 0, self.userdata);
        set_u16(&mut rec, 8, self.error);
        rec[10] = self.ty;
        // `fd_readwrite.nbytes` (@16) and `flags` (@24) stay 0: the platform only reports
        // readiness, and wasi-libc's poll() needs nothing more.
        rec
    }
}

fn now(platform: &mut dyn Platform) -> Option<u64> {
    platform.clock_time(Clock::Monotonic).ok()
}

/// `poll_oneoff(in, out, nsubscriptions, nevents_ptr)`.
///
/// Clock subscriptions become a timeout of the platform's `poll` (or `sleep` when no fd is
/// watched); fd subscriptions become poll requests. An fd that is not open produces an error
/// event right away, like wasmtime. Wake-ups with nothing to report (signals) wait again for the
/// rest of the time.
pub(crate) fn poll_oneoff(env: &mut Env<'_>, a: &Args<'_>) -> WasiResult {
    let (inp, out, n, nevents) = (a.u32(0), a.u32(1), a.u32(2), a.u32(3));
    if n == 0 {
        return Err(errno::INVAL);
    }
    env.mem.check_array(inp, n, size::SUBSCRIPTION)?;
    env.mem.check_array(out, n, size::EVENT)?;
    env.mem.range(nevents, 4)?;

    let mut events: Vec<Event> = Vec::new();
    let mut clocks: Vec<(u64, u64)> = Vec::new(); // (userdata, ns from now)
    let mut requests: Vec<PollRequest> = Vec::new();
    let mut fd_subs: Vec<(u64, u8)> = Vec::new(); // (userdata, type), parallel to `requests`
    for i in 0..n {
        // In bounds (checked above), so the address cannot wrap.
        let rec: [u8; size::SUBSCRIPTION as usize] = env.mem.array(inp.wrapping_add(i * size::SUBSCRIPTION))?;
        let userdata = get_u64(&rec, 0);
        match rec[8] {
            eventtype::CLOCK => {
                let timeout = get_u64(&rec, 24);
                let abstime = get_u16(&rec, 40) & SUBSCRIPTION_CLOCK_ABSTIME != 0;
                let remaining = clock(get_u32(&rec, 16)).and_then(|c| {
                    if abstime {
                        Ok(timeout.saturating_sub(env.platform.clock_time(c)?))
                    } else {
                        Ok(timeout)
                    }
                });
                match remaining {
                    Ok(ns) => clocks.push((userdata, ns)),
                    Err(error) => events.push(Event { userdata, error, ty: eventtype::CLOCK }),
                }
            }
            ty @ (eventtype::FD_READ | eventtype::FD_WRITE) => match env.ctx.fds.get(get_u32(&rec, 16)) {
                Ok(e) => {
                    requests.try_reserve(1).map_err(|_| errno::NOMEM)?;
                    requests.push(PollRequest { handle: e.handle, read: ty == eventtype::FD_READ });
                    fd_subs.push((userdata, ty));
                }
                Err(error) => events.push(Event { userdata, error, ty }),
            },
            _ => return Err(errno::INVAL),
        }
    }

    // Errors found above are reported without waiting.
    let mut timeout = if events.is_empty() { clocks.iter().map(|c| c.1).min() } else { Some(0) };
    let start = now(env.platform);
    loop {
        let ready = if requests.is_empty() {
            let ns = timeout.unwrap_or(0);
            if ns > 0 {
                match env.platform.sleep(ns) {
                    // A platform without `sleep` may still wait in `poll`.
                    Err(errno::NOSYS) => {
                        env.platform.poll(&[], Some(ns))?;
                    }
                    Ok(()) => {}
                    // Interrupted: the loop below finds how long was slept and waits again,
                    // unless the host wants the program stopped (then the guest sees INTR and
                    // the next fuel slice stops it).
                    Err(errno::INTR) => {
                        if env.platform.check_interrupt() == Interruption::Stop {
                            return Err(errno::INTR);
                        }
                    }
                    Err(e) => return Err(e),
                }
            }
            Vec::new()
        } else {
            match env.platform.poll(&requests, timeout) {
                Err(errno::INTR) if env.platform.check_interrupt() == Interruption::Continue => Vec::new(),
                r => r?,
            }
        };
        for (r, &(userdata, ty)) in ready.iter().zip(&fd_subs) {
            if *r {
                events.push(Event { userdata, error: errno::SUCCESS, ty });
            }
        }
        // Without a monotonic clock, trust the platform to have waited the whole timeout.
        let elapsed = match (start, now(env.platform)) {
            (Some(s), Some(t)) => t.saturating_sub(s),
            _ => timeout.unwrap_or(0),
        };
        for &(userdata, ns) in &clocks {
            if ns <= elapsed {
                events.push(Event { userdata, error: errno::SUCCESS, ty: eventtype::CLOCK });
            }
        }
        if !events.is_empty() {
            break;
        }
        timeout = clocks.iter().map(|c| c.1.saturating_sub(elapsed)).min();
    }

    let count = events.len().min(n as usize);
    for (i, ev) in events.iter().take(count).enumerate() {
        env.mem.write(out.wrapping_add(i as u32 * size::EVENT), &ev.bytes())?;
    }
    env.mem.put_u32(nevents, count as u32)
}
