//! What a host must provide to run WebAssembly: clocks, randomness, I/O on host handles,
//! sockets and an interruption check. User space implements it over std (`cli/`), the kernel
//! module over kernel APIs (`kmod/`). The runtime never touches the host except through here.
//!
//! Host resources are named by opaque [`HostHandle`]s that the platform hands out (for example
//! file descriptors of the user-space process). Errors are WASI errno values ([`Errno`]) so that
//! WASI can pass them straight to the guest.

use alloc::string::String;
use alloc::vec::Vec;

/// A WASI errno value (see `wasi::errno`).
pub type Errno = u16;

/// An opaque host resource (file, directory, socket), owned by the platform.
pub type HostHandle = u64;

/// What the platform wants after a fuel slice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interruption {
    /// Keep running.
    Continue,
    /// Stop the program: it traps with [`crate::TrapKind::Interrupted`].
    Stop,
}

/// Memory for machine code from [`Platform::alloc_exec`]: writable until
/// [`Platform::protect_exec`] makes it read + execute (never both writable and executable).
/// Dropping it releases it with the function the platform put in `release`.
#[derive(Debug)]
pub struct ExecRegion {
    /// Start (page aligned).
    pub ptr: *mut u8,
    /// Length in bytes (whole pages).
    pub len: usize,
    /// Whether the region is read + execute now (else read + write).
    pub executable: bool,
    /// Releases `ptr..ptr + len`; called exactly once, by `Drop`.
    pub release: unsafe fn(*mut u8, usize),
}

// SAFETY: the region is plain memory owned by this value; nothing else refers to it mutably.
unsafe impl Send for ExecRegion {}
// SAFETY: shared references only read the fields (and execute the code once it is RX).
unsafe impl Sync for ExecRegion {}

impl Drop for ExecRegion {
    fn drop(&mut self) {
        // SAFETY: `release` came from the platform that allocated exactly this region.
        unsafe { (self.release)(self.ptr, self.len) }
    }
}

/// Linear memory at the start of a larger address-space reservation whose rest is inaccessible
/// (guard-region addressing, `bounds_mode = guard`): an access past `len` but inside `reserved`
/// faults instead of touching other memory. From [`GuardSupport::reserve`]; dropping it releases
/// the whole reservation.
#[derive(Debug)]
pub struct GuardedRegion {
    /// Start of the reservation (page aligned).
    pub ptr: *mut u8,
    /// Bytes reserved (accessible or not).
    pub reserved: usize,
    /// Bytes accessible (read + write) from `ptr`, zero-filled when made accessible.
    pub len: usize,
    /// Makes `ptr + old..ptr + new` accessible (read + write, zero-filled); `new <= reserved`.
    pub grow: unsafe fn(ptr: *mut u8, old: usize, new: usize) -> Result<(), Errno>,
    /// Releases `ptr..ptr + reserved`; called exactly once, by `Drop`.
    pub release: unsafe fn(ptr: *mut u8, reserved: usize),
}

// SAFETY: the region is plain memory owned by this value; nothing else refers to it.
unsafe impl Send for GuardedRegion {}
// SAFETY: shared references only read the fields.
unsafe impl Sync for GuardedRegion {}

impl Drop for GuardedRegion {
    fn drop(&mut self) {
        // SAFETY: `release` came from the platform that reserved exactly this region.
        unsafe { (self.release)(self.ptr, self.reserved) }
    }
}

/// Where compiled code faulted: the wasm function and byte offset of the trapping access.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FaultSite {
    /// Module function index.
    pub func: u32,
    /// Module byte offset of the instruction.
    pub offset: u32,
}

/// Maps a faulting program counter to the wasm access it belongs to. Called from a signal
/// handler, so implementations must only read (no allocation, no locks, no panics).
pub trait TrapSites {
    /// The access at machine-code address `pc`, if `pc` is a guarded memory access.
    fn lookup(&self, pc: usize) -> Option<FaultSite>;
}

/// An entry into compiled code in the platform's C convention (see [`crate::vmctx`]).
pub type CompiledEntry = unsafe extern "sysv64" fn(*const u8, *mut u64);

/// Runs `entry(a, b)`; if the code faults on an address at a `pc` that `sites` knows, the call
/// is abandoned at once (every compiled frame above this call is discarded: they hold no
/// resources) and the site is returned. Any other fault is the host's as usual.
///
/// # Safety
/// `entry` must be compiled code that may be abandoned at any of `sites`' addresses, and `a`,
/// `b` what it expects; `sites` must stay valid (and unchanged) during the call.
pub type RunCatchingFaults =
    unsafe fn(entry: CompiledEntry, a: *const u8, b: *mut u64, sites: &dyn TrapSites) -> Option<FaultSite>;

/// What guard-region addressing needs from the host: reservations with inaccessible tails and a
/// way to turn faults in them into traps. User space has it (mmap + a SIGSEGV handler); the
/// kernel module does not, so there `bounds_mode = guard` is refused.
#[derive(Clone, Copy, Debug)]
pub struct GuardSupport {
    /// Reserves `reserve` bytes of address space of which the first `len` are accessible.
    pub reserve: fn(reserve: usize, len: usize) -> Result<GuardedRegion, Errno>,
    /// Runs compiled code, catching faults at its guarded accesses.
    pub run: RunCatchingFaults,
}

/// A WASI clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clock {
    /// Wall-clock time since the Unix epoch.
    Realtime,
    /// Monotonic time.
    Monotonic,
    /// CPU time of this process.
    ProcessCpu,
    /// CPU time of this thread.
    ThreadCpu,
}

/// The kind of a host file object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// Unknown.
    Unknown,
    /// Block device.
    BlockDevice,
    /// Character device (terminals, /dev/null).
    CharDevice,
    /// Directory.
    Directory,
    /// Regular file.
    Regular,
    /// Datagram socket.
    SocketDgram,
    /// Stream socket.
    SocketStream,
    /// Symbolic link.
    Symlink,
}

/// Metadata of a host file object (WASI `filestat`).
#[derive(Clone, Copy, Debug, Default)]
pub struct FileStat {
    /// Device id.
    pub dev: u64,
    /// Inode.
    pub ino: u64,
    /// Kind of file.
    pub kind: Option<FileKind>,
    /// Link count.
    pub nlink: u64,
    /// Size in bytes.
    pub size: u64,
    /// Access time, ns since epoch.
    pub atim: u64,
    /// Modification time, ns since epoch.
    pub mtim: u64,
    /// Status change time, ns since epoch.
    pub ctim: u64,
}

/// How to open a path (a subset of WASI `oflags` + rights, already decoded).
#[derive(Clone, Copy, Debug, Default)]
pub struct OpenOptions {
    /// Open for reading.
    pub read: bool,
    /// Open for writing.
    pub write: bool,
    /// Create if missing.
    pub create: bool,
    /// Fail if it exists (with `create`).
    pub exclusive: bool,
    /// Truncate to zero length.
    pub truncate: bool,
    /// Append on every write.
    pub append: bool,
    /// Must be a directory.
    pub directory: bool,
    /// Do not follow a symlink in the last component.
    pub nofollow: bool,
    /// Non-blocking I/O.
    pub nonblock: bool,
}

/// Where [`Platform::seek`] counts from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Whence {
    /// From the start.
    Start,
    /// From the current position.
    Current,
    /// From the end.
    End,
}

/// One directory entry.
#[derive(Clone, Debug)]
pub struct DirEntry {
    /// Inode.
    pub ino: u64,
    /// Kind.
    pub kind: FileKind,
    /// Name (no slashes).
    pub name: String,
}

/// A readiness question for [`Platform::poll`].
#[derive(Clone, Copy, Debug)]
pub struct PollRequest {
    /// The handle to watch.
    pub handle: HostHandle,
    /// Wait for readability (else writability).
    pub read: bool,
}

/// Everything the host provides. Every method has a safe default that reports "not supported"
/// (`ENOSYS`/`ENOTSUP`), so a minimal platform (say, a compute-only kernel test) needs only a few.
pub trait Platform: Send {
    /// Called between fuel slices: check for signals, yield the CPU, or ask to stop.
    fn check_interrupt(&mut self) -> Interruption {
        Interruption::Continue
    }

    /// Current time of `clock` in nanoseconds.
    fn clock_time(&mut self, clock: Clock) -> Result<u64, Errno> {
        let _ = clock;
        Err(crate::wasi::errno::NOSYS)
    }

    /// Resolution of `clock` in nanoseconds.
    fn clock_resolution(&mut self, clock: Clock) -> Result<u64, Errno> {
        let _ = clock;
        Ok(1)
    }

    /// Fills `buf` with cryptographically secure random bytes.
    fn random(&mut self, buf: &mut [u8]) -> Result<(), Errno> {
        let _ = buf;
        Err(crate::wasi::errno::NOSYS)
    }

    /// Reads from a handle at its current position (or at `offset` when given).
    fn read(&mut self, h: HostHandle, buf: &mut [u8], offset: Option<u64>) -> Result<usize, Errno> {
        let _ = (h, buf, offset);
        Err(crate::wasi::errno::NOSYS)
    }

    /// Writes to a handle at its current position (or at `offset` when given).
    fn write(&mut self, h: HostHandle, buf: &[u8], offset: Option<u64>) -> Result<usize, Errno> {
        let _ = (h, buf, offset);
        Err(crate::wasi::errno::NOSYS)
    }

    /// Moves the position of a handle; returns the new position.
    fn seek(&mut self, h: HostHandle, offset: i64, whence: Whence) -> Result<u64, Errno> {
        let _ = (h, offset, whence);
        Err(crate::wasi::errno::NOSYS)
    }

    /// Metadata of an open handle.
    fn stat(&mut self, h: HostHandle) -> Result<FileStat, Errno> {
        let _ = h;
        Err(crate::wasi::errno::NOSYS)
    }

    /// Closes a handle the platform gave out.
    fn close(&mut self, h: HostHandle) -> Result<(), Errno> {
        let _ = h;
        Ok(())
    }

    /// Opens `path` relative to the directory handle `dir`. The platform must guarantee that the
    /// result lies beneath `dir`: no `..`, absolute path or symlink may escape it.
    fn open_at(&mut self, dir: HostHandle, path: &str, opts: OpenOptions) -> Result<HostHandle, Errno> {
        let _ = (dir, path, opts);
        Err(crate::wasi::errno::NOSYS)
    }

    /// Metadata of `path` beneath `dir` (same containment rules as [`Platform::open_at`]).
    fn stat_at(&mut self, dir: HostHandle, path: &str, follow: bool) -> Result<FileStat, Errno> {
        let _ = (dir, path, follow);
        Err(crate::wasi::errno::NOSYS)
    }

    /// Creates a directory beneath `dir`.
    fn mkdir_at(&mut self, dir: HostHandle, path: &str) -> Result<(), Errno> {
        let _ = (dir, path);
        Err(crate::wasi::errno::NOSYS)
    }

    /// Removes a file beneath `dir`.
    fn unlink_at(&mut self, dir: HostHandle, path: &str) -> Result<(), Errno> {
        let _ = (dir, path);
        Err(crate::wasi::errno::NOSYS)
    }

    /// Removes an empty directory beneath `dir`.
    fn rmdir_at(&mut self, dir: HostHandle, path: &str) -> Result<(), Errno> {
        let _ = (dir, path);
        Err(crate::wasi::errno::NOSYS)
    }

    /// Renames beneath directories.
    fn rename_at(&mut self, from_dir: HostHandle, from: &str, to_dir: HostHandle, to: &str) -> Result<(), Errno> {
        let _ = (from_dir, from, to_dir, to);
        Err(crate::wasi::errno::NOSYS)
    }

    /// All entries of a directory handle (including `.` and `..`).
    fn read_dir(&mut self, dir: HostHandle) -> Result<Vec<DirEntry>, Errno> {
        let _ = dir;
        Err(crate::wasi::errno::NOSYS)
    }

    /// Flushes a handle's data to stable storage (and its metadata too unless `data_only`).
    fn sync(&mut self, h: HostHandle, data_only: bool) -> Result<(), Errno> {
        let _ = (h, data_only);
        Err(crate::wasi::errno::NOSYS)
    }

    /// Sets the size of a file handle, cutting it or extending it with zeros.
    fn set_size(&mut self, h: HostHandle, size: u64) -> Result<(), Errno> {
        let _ = (h, size);
        Err(crate::wasi::errno::NOSYS)
    }

    /// Receives from a connected socket. `peek` leaves the data queued; `wait_all` waits until
    /// `buf` is full (or the peer closes). The default serves plain receives with
    /// [`Platform::read`] and refuses the flags.
    fn sock_recv(&mut self, sock: HostHandle, buf: &mut [u8], peek: bool, wait_all: bool) -> Result<usize, Errno> {
        if peek || wait_all {
            return Err(crate::wasi::errno::NOTSUP);
        }
        self.read(sock, buf, None)
    }

    /// Accepts a connection on a listening socket handle; `nonblock` makes the new connection
    /// non-blocking (whether accepting blocks depends on the listener's own mode).
    fn sock_accept(&mut self, listener: HostHandle, nonblock: bool) -> Result<HostHandle, Errno> {
        let _ = (listener, nonblock);
        Err(crate::wasi::errno::NOSYS)
    }

    /// Shuts down a connected socket (`how`: 1 read, 2 write, 3 both).
    fn sock_shutdown(&mut self, sock: HostHandle, how: u8) -> Result<(), Errno> {
        let _ = (sock, how);
        Err(crate::wasi::errno::NOSYS)
    }

    /// Sets or clears non-blocking mode of a handle.
    fn set_nonblocking(&mut self, h: HostHandle, nonblock: bool) -> Result<(), Errno> {
        let _ = (h, nonblock);
        Err(crate::wasi::errno::NOSYS)
    }

    /// Waits until one of `requests` is ready or `timeout_ns` passes (`None`: forever).
    /// Returns one flag per request: ready or not.
    fn poll(&mut self, requests: &[PollRequest], timeout_ns: Option<u64>) -> Result<Vec<bool>, Errno> {
        let _ = (requests, timeout_ns);
        Err(crate::wasi::errno::NOSYS)
    }

    /// Sleeps for `ns` nanoseconds.
    fn sleep(&mut self, ns: u64) -> Result<(), Errno> {
        let _ = ns;
        Err(crate::wasi::errno::NOSYS)
    }

    /// Gives the CPU to someone else for a moment.
    fn yield_now(&mut self) {}

    /// Allocates at least `len` bytes of read + write memory that can later be made executable
    /// (JIT code). The default: unsupported, so compiled tiers refuse to run.
    fn alloc_exec(&self, len: usize) -> Result<ExecRegion, Errno> {
        let _ = len;
        Err(crate::wasi::errno::NOTSUP)
    }

    /// Makes `region` read + execute (and no longer writable). The default: unsupported.
    fn protect_exec(&self, region: &mut ExecRegion) -> Result<(), Errno> {
        let _ = region;
        Err(crate::wasi::errno::NOTSUP)
    }

    /// Called by [`crate::Store::code`] right before `tier` compiles a function (`active` true)
    /// and right after (false), on the same task. The default does nothing; the kernel platform
    /// lets a JIT compiler's large allocations fall back to an emergency reserve while it runs
    /// (and then refuses to install the code: a clean out-of-memory error instead of a panic).
    fn compiling(&self, tier: crate::tier::TierId, active: bool) {
        let _ = (tier, active);
    }

    /// Guard-region addressing support (`bounds_mode = guard`). The default: none, so stores
    /// with that knob refuse to create memories.
    fn guard_support(&self) -> Option<GuardSupport> {
        None
    }

    /// Releases a region early (dropping it does the same).
    fn free_exec(&self, region: ExecRegion) {
        drop(region);
    }
}

/// A platform that provides nothing but the defaults: no I/O, no clocks. Used by the spec test
/// runner and by tests that only compute.
#[derive(Default, Debug, Clone, Copy)]
pub struct NullPlatform;

impl Platform for NullPlatform {}

/// Copies `parts` (each starting 16-byte aligned) into one new executable region of `platform`:
/// written while the region is RW, then switched to RX (never RWX). Returns the region and each
/// part's offset in it. `who` names the compiled tier in error messages.
pub fn install_code(
    platform: &dyn Platform,
    who: &str,
    parts: &[&[u8]],
) -> Result<(ExecRegion, Vec<usize>), crate::Error> {
    let errno_error = |what: &str, errno: u16| {
        crate::Error::Resource(alloc::format!("{who}: the platform cannot {what} (WASI errno {errno})"))
    };
    let mut offsets = Vec::with_capacity(parts.len());
    let mut len = 0usize;
    for p in parts {
        len = len.next_multiple_of(16);
        offsets.push(len);
        len += p.len();
    }
    let mut region = platform.alloc_exec(len).map_err(|e| errno_error("allocate executable memory", e))?;
    if region.len < len || region.executable {
        return Err(crate::Error::Other(alloc::format!("{who}: the platform returned an unusable code region")));
    }
    for (p, off) in parts.iter().zip(&offsets) {
        // SAFETY: `off + p.len() <= len <= region.len`, and the region is writable (not yet RX)
        // memory owned by `region` that nothing else references.
        unsafe { core::ptr::copy_nonoverlapping(p.as_ptr(), region.ptr.add(*off), p.len()) };
    }
    platform.protect_exec(&mut region).map_err(|e| errno_error("make code executable", e))?;
    Ok((region, offsets))
}
