//! Guard-region addressing in user space (`bounds_mode = guard`): linear memories reserved with
//! an inaccessible tail, and a SIGSEGV/SIGBUS handler that turns a fault at one of compiled
//! code's unchecked accesses into a trap.
//!
//! A memory is a `PROT_NONE` reservation ([`kwasm_runtime::memory::GUARD_RESERVATION`] bytes,
//! `MAP_NORESERVE`) whose first `len` bytes are read + write; growing makes more of it
//! accessible with `mprotect`, so the base never moves.
//!
//! Compiled code runs inside [`run_catching_faults`]: a small assembly shim saves the
//! callee-saved registers and the stack pointer, then calls the code. When the code faults, the
//! handler asks the running call's [`TrapSites`] whether the faulting instruction is an
//! unchecked access; if so it records the site and rewrites the signal context so that the
//! thread resumes in the shim with the saved stack pointer, which restores the registers and
//! returns "faulted" to the tier (every compiled frame in between is dropped: they hold no
//! resources). Any other fault goes to the handler that was installed before ours (Rust's stack
//! overflow reporter, or the default action), so real crashes stay crashes.

use std::cell::Cell;
use std::os::raw::{c_int, c_void};
use std::sync::Once;

use kwasm_runtime::platform::{CompiledEntry, Errno, FaultSite, GuardSupport, GuardedRegion, TrapSites};
use kwasm_runtime::wasi::errno;

use crate::platform::last_errno;

/// The guard-region support of [`crate::platform::StdPlatform`].
pub fn support() -> GuardSupport {
    GuardSupport { reserve, run: run_catching_faults }
}

/// Unmaps a reservation (the [`GuardedRegion::release`] of this platform).
///
/// # Safety
/// `ptr..ptr + reserved` must be a reservation made by [`reserve`], unused afterwards.
unsafe fn release(ptr: *mut u8, reserved: usize) {
    // SAFETY: the caller passes a whole reservation that nothing uses any more.
    unsafe { libc::munmap(ptr.cast(), reserved) };
}

/// Makes `ptr + old..ptr + new` read + write (the [`GuardedRegion::grow`] of this platform).
///
/// # Safety
/// The range must lie inside a reservation made by [`reserve`].
unsafe fn grow(ptr: *mut u8, old: usize, new: usize) -> Result<(), Errno> {
    // SAFETY: the caller guarantees the range is part of our own reservation, whose bytes
    // past the accessible length are not referenced by anyone (they were inaccessible).
    let r = unsafe { libc::mprotect(ptr.add(old).cast(), new - old, libc::PROT_READ | libc::PROT_WRITE) };
    if r != 0 {
        return Err(last_errno());
    }
    Ok(())
}

/// Reserves `reserved` bytes of address space of which the first `len` are accessible.
fn reserve(reserved: usize, len: usize) -> Result<GuardedRegion, Errno> {
    if len > reserved {
        return Err(errno::INVAL);
    }
    // SAFETY: a fresh anonymous mapping at an address of the kernel's choice touches no existing
    // memory; PROT_NONE + MAP_NORESERVE costs address space only.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            reserved,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(last_errno());
    }
    // Owned from here on: an early return releases the reservation.
    let mut region = GuardedRegion { ptr: p.cast(), reserved, len: 0, grow, release };
    if len > 0 {
        // SAFETY: `0..len` lies inside the reservation just made.
        unsafe { grow(region.ptr, 0, len)? };
        region.len = len;
    }
    Ok(region)
}

/// The guarded call running on this thread (innermost), for the signal handler.
struct ActiveCall {
    /// Stack pointer inside the shim to resume at (written by the shim).
    resume_sp: u64,
    /// Who knows the unchecked accesses of the running code.
    sites: *const (dyn TrapSites + 'static),
    /// The site that faulted, set by the handler.
    fault: Option<FaultSite>,
}

thread_local! {
    /// The innermost guarded call of this thread (null: none). A const-initialized `Cell` of a
    /// pointer needs no lazy setup and no destructor, so the signal handler may read it.
    static ACTIVE: Cell<*mut ActiveCall> = const { Cell::new(std::ptr::null_mut()) };
}

// The shim: `kwasm_guard_call(entry, a, b, resume_sp_out) -> 0 | 1`. It saves the callee-saved
// registers (System V), stores the stack pointer for the handler, calls `entry(a, b)` and
// returns 0; the handler resumes at `kwasm_guard_resume` with that stack pointer and rax = 1.
std::arch::global_asm!(
    ".text",
    ".p2align 4",
    ".globl kwasm_guard_call",
    ".type kwasm_guard_call,@function",
    "kwasm_guard_call:",
    "push rbp",
    "mov rbp, rsp",
    "push rbx",
    "push r12",
    "push r13",
    "push r14",
    "push r15",
    "sub rsp, 8",
    "mov [rcx], rsp",
    "mov rax, rdi",
    "mov rdi, rsi",
    "mov rsi, rdx",
    "call rax",
    "xor eax, eax",
    ".globl kwasm_guard_resume",
    "kwasm_guard_resume:",
    "add rsp, 8",
    "pop r15",
    "pop r14",
    "pop r13",
    "pop r12",
    "pop rbx",
    "pop rbp",
    "ret",
    ".size kwasm_guard_call, . - kwasm_guard_call",
);

unsafe extern "sysv64" {
    fn kwasm_guard_call(entry: CompiledEntry, a: *const u8, b: *mut u64, resume_sp: *mut u64) -> u64;
    fn kwasm_guard_resume();
}

/// Runs `entry(a, b)`, turning a fault at one of `sites`' accesses into `Some(site)` (see the
/// module docs). The [`GuardSupport::run`] of this platform.
///
/// # Safety
/// As [`kwasm_runtime::platform::RunCatchingFaults`]: `entry` is compiled code that may be
/// abandoned at its unchecked accesses, `a` and `b` its arguments, `sites` valid and unchanged
/// during the call.
unsafe fn run_catching_faults(
    entry: CompiledEntry,
    a: *const u8,
    b: *mut u64,
    sites: &dyn TrapSites,
) -> Option<FaultSite> {
    install_handlers();
    // SAFETY: only the lifetime is erased; the pointer is used only while this call runs (the
    // handler finds it through ACTIVE, which is restored before returning).
    let sites: *const (dyn TrapSites + 'static) = unsafe { std::mem::transmute(sites as *const dyn TrapSites) };
    let mut call = ActiveCall { resume_sp: 0, sites, fault: None };
    let call_ptr: *mut ActiveCall = &mut call;
    let outer = ACTIVE.with(|a| a.replace(call_ptr));
    // SAFETY: the shim follows the System V convention and calls `entry(a, b)` as the caller
    // promised is fine; `resume_sp` points into `call`, alive for the whole call.
    let faulted = unsafe { kwasm_guard_call(entry, a, b, std::ptr::addr_of_mut!((*call_ptr).resume_sp)) };
    ACTIVE.with(|a| a.set(outer));
    // SAFETY: the handler (the only other writer) has finished: the shim returned.
    let fault = unsafe { std::ptr::read_volatile(std::ptr::addr_of!((*call_ptr).fault)) };
    if faulted != 0 {
        fault
    } else {
        None
    }
}

/// The signal actions that were installed before ours (SIGSEGV, SIGBUS), to pass other faults on.
static mut PREVIOUS: [std::mem::MaybeUninit<libc::sigaction>; 2] =
    [std::mem::MaybeUninit::uninit(), std::mem::MaybeUninit::uninit()];
static INSTALL: Once = Once::new();
const SIGNALS: [c_int; 2] = [libc::SIGSEGV, libc::SIGBUS];

/// Installs the fault handler for SIGSEGV and SIGBUS once per process.
fn install_handlers() {
    INSTALL.call_once(|| {
        for (i, &sig) in SIGNALS.iter().enumerate() {
            // SAFETY: a zeroed sigaction is a valid "no flags, empty mask" value; `PREVIOUS` is
            // written only here, inside `call_once`, before our handler can run.
            unsafe {
                let mut act: libc::sigaction = std::mem::zeroed();
                act.sa_sigaction = on_fault as *const () as usize;
                act.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_NODEFER;
                libc::sigemptyset(&mut act.sa_mask);
                let prev = std::ptr::addr_of_mut!(PREVIOUS[i]).cast::<libc::sigaction>();
                if libc::sigaction(sig, &act, prev) != 0 {
                    panic!("kwasm: cannot install the guard-region fault handler: {}", std::io::Error::last_os_error());
                }
            }
        }
    });
}

/// The SIGSEGV/SIGBUS handler: see the module docs.
extern "C" fn on_fault(sig: c_int, info: *mut libc::siginfo_t, ctx: *mut c_void) {
    let uc = ctx.cast::<libc::ucontext_t>();
    // SAFETY: the kernel passes a valid ucontext for SA_SIGINFO handlers; ACTIVE points to a
    // live ActiveCall while its guarded call runs on this thread (the only time it is set), and
    // its `sites` only reads.
    unsafe {
        let gregs = &mut (*uc).uc_mcontext.gregs;
        let pc = gregs[libc::REG_RIP as usize] as usize;
        let call = ACTIVE.try_with(|a| a.get()).unwrap_or(std::ptr::null_mut());
        if !call.is_null() {
            if let Some(site) = (*(*call).sites).lookup(pc) {
                (*call).fault = Some(site);
                gregs[libc::REG_RSP as usize] = (*call).resume_sp as i64;
                gregs[libc::REG_RIP as usize] = kwasm_guard_resume as *const () as usize as i64;
                gregs[libc::REG_RAX as usize] = 1;
                return;
            }
        }
        pass_on(sig, info, ctx);
    }
}

/// Hands a fault that is not ours to the previous handler: calls it, or, for the default
/// action, restores it and returns so that the faulting instruction faults again and the
/// process dies with the signal as it would have without kwasm.
///
/// # Safety
/// Only from [`on_fault`], with its arguments, after [`install_handlers`].
unsafe fn pass_on(sig: c_int, info: *mut libc::siginfo_t, ctx: *mut c_void) {
    let i = if sig == libc::SIGBUS { 1 } else { 0 };
    // SAFETY: `PREVIOUS` was fully written before the handler was installed and is never
    // written again.
    let prev = unsafe { &*std::ptr::addr_of!(PREVIOUS[i]).cast::<libc::sigaction>() };
    let handler = prev.sa_sigaction;
    if handler == libc::SIG_DFL || handler == libc::SIG_IGN {
        // SAFETY: resetting a signal to its default action is always allowed.
        unsafe { libc::signal(sig, libc::SIG_DFL) };
    } else if prev.sa_flags & libc::SA_SIGINFO != 0 {
        // SAFETY: the previous handler was installed with SA_SIGINFO, so it has this type.
        let f: extern "C" fn(c_int, *mut libc::siginfo_t, *mut c_void) = unsafe { std::mem::transmute(handler) };
        f(sig, info, ctx);
    } else {
        // SAFETY: a plain handler takes the signal number only.
        let f: extern "C" fn(c_int) = unsafe { std::mem::transmute(handler) };
        f(sig);
    }
}
