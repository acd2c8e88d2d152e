//! [`StdPlatform`]: the kwasm [`Platform`] for Linux user space.
//!
//! Host handles are the process's raw file descriptors. Everything that resolves a guest path
//! goes through `openat2(2)` with `RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS`, so the kernel itself
//! refuses `..`, absolute paths and symlinks that would leave the directory handle; operations on
//! a directory entry (mkdir, unlink, rename, lstat) resolve the parent that way and then act on
//! the last component with a `*at` call that does not follow symlinks.

use std::ffi::{CStr, CString};
use std::io;
use std::os::raw::c_int;
use std::time::Duration;

use kwasm_runtime::platform::{
    Clock, DirEntry, Errno, ExecRegion, FileKind, FileStat, GuardSupport, HostHandle, Interruption, OpenOptions,
    Platform, PollRequest, Whence,
};
use kwasm_runtime::wasi::errno;

/// The user-space platform: std plus raw Linux system calls.
#[derive(Debug, Default)]
pub struct StdPlatform {}

impl StdPlatform {
    /// Creates the platform.
    pub fn new() -> StdPlatform {
        StdPlatform {}
    }
}

/// Translates a host `errno` into the WASI errno with the same meaning.
pub fn wasi_errno(host: c_int) -> Errno {
    match host {
        libc::E2BIG => errno::TOOBIG,
        libc::EACCES => errno::ACCES,
        libc::EADDRINUSE => errno::ADDRINUSE,
        libc::EADDRNOTAVAIL => errno::ADDRNOTAVAIL,
        libc::EAFNOSUPPORT => errno::AFNOSUPPORT,
        libc::EAGAIN => errno::AGAIN,
        libc::EALREADY => errno::ALREADY,
        libc::EBADF => errno::BADF,
        libc::EBADMSG => errno::BADMSG,
        libc::EBUSY => errno::BUSY,
        libc::ECANCELED => errno::CANCELED,
        libc::ECHILD => errno::CHILD,
        libc::ECONNABORTED => errno::CONNABORTED,
        libc::ECONNREFUSED => errno::CONNREFUSED,
        libc::ECONNRESET => errno::CONNRESET,
        libc::EDEADLK => errno::DEADLK,
        libc::EDESTADDRREQ => errno::DESTADDRREQ,
        libc::EDOM => errno::DOM,
        libc::EDQUOT => errno::DQUOT,
        libc::EEXIST => errno::EXIST,
        libc::EFAULT => errno::FAULT,
        libc::EFBIG => errno::FBIG,
        libc::EHOSTUNREACH => errno::HOSTUNREACH,
        libc::EIDRM => errno::IDRM,
        libc::EILSEQ => errno::ILSEQ,
        libc::EINPROGRESS => errno::INPROGRESS,
        libc::EINTR => errno::INTR,
        libc::EINVAL => errno::INVAL,
        libc::EIO => errno::IO,
        libc::EISCONN => errno::ISCONN,
        libc::EISDIR => errno::ISDIR,
        libc::ELOOP => errno::LOOP,
        libc::EMFILE => errno::MFILE,
        libc::EMLINK => errno::MLINK,
        libc::EMSGSIZE => errno::MSGSIZE,
        libc::EMULTIHOP => errno::MULTIHOP,
        libc::ENAMETOOLONG => errno::NAMETOOLONG,
        libc::ENETDOWN => errno::NETDOWN,
        libc::ENETRESET => errno::NETRESET,
        libc::ENETUNREACH => errno::NETUNREACH,
        libc::ENFILE => errno::NFILE,
        libc::ENOBUFS => errno::NOBUFS,
        libc::ENODEV => errno::NODEV,
        libc::ENOENT => errno::NOENT,
        libc::ENOEXEC => errno::NOEXEC,
        libc::ENOLCK => errno::NOLCK,
        libc::ENOLINK => errno::NOLINK,
        libc::ENOMEM => errno::NOMEM,
        libc::ENOMSG => errno::NOMSG,
        libc::ENOPROTOOPT => errno::NOPROTOOPT,
        libc::ENOSPC => errno::NOSPC,
        libc::ENOSYS => errno::NOSYS,
        libc::ENOTCONN => errno::NOTCONN,
        libc::ENOTDIR => errno::NOTDIR,
        libc::ENOTEMPTY => errno::NOTEMPTY,
        libc::ENOTRECOVERABLE => errno::NOTRECOVERABLE,
        libc::ENOTSOCK => errno::NOTSOCK,
        libc::ENOTSUP => errno::NOTSUP,
        libc::ENOTTY => errno::NOTTY,
        libc::ENXIO => errno::NXIO,
        libc::EOVERFLOW => errno::OVERFLOW,
        libc::EOWNERDEAD => errno::OWNERDEAD,
        libc::EPERM => errno::PERM,
        libc::EPIPE => errno::PIPE,
        libc::EPROTO => errno::PROTO,
        libc::EPROTONOSUPPORT => errno::PROTONOSUPPORT,
        libc::EPROTOTYPE => errno::PROTOTYPE,
        libc::ERANGE => errno::RANGE,
        libc::EROFS => errno::ROFS,
        libc::ESPIPE => errno::SPIPE,
        libc::ESRCH => errno::SRCH,
        libc::ESTALE => errno::STALE,
        libc::ETIMEDOUT => errno::TIMEDOUT,
        libc::ETXTBSY => errno::TXTBSY,
        libc::EXDEV => errno::XDEV,
        _ => errno::IO,
    }
}

/// The WASI errno of the last failed libc call.
pub(crate) fn last_errno() -> Errno {
    wasi_errno(io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO))
}

/// Runs a libc call returning -1 on failure, retrying when a signal interrupted it.
fn retry<T: Copy + PartialOrd + Default>(mut call: impl FnMut() -> T) -> Result<T, Errno> {
    loop {
        let r = call();
        if r >= T::default() {
            return Ok(r);
        }
        let e = last_errno();
        if e != errno::INTR {
            return Err(e);
        }
    }
}

/// A host handle as a file descriptor (`EBADF` if it cannot be one).
fn fd(h: HostHandle) -> Result<c_int, Errno> {
    c_int::try_from(h).map_err(|_| errno::BADF)
}

/// A guest path as a C string (`EINVAL` for an embedded NUL, which the runtime rejects earlier).
fn c_path(path: &str) -> Result<CString, Errno> {
    CString::new(path).map_err(|_| errno::INVAL)
}

/// An fd that is closed when dropped (for the temporary parent directories of `*_at` calls).
struct OwnedFd(c_int);

impl Drop for OwnedFd {
    fn drop(&mut self) {
        // SAFETY: the fd was opened by `openat2` below, is owned by this value and closed once.
        unsafe { libc::close(self.0) };
    }
}

/// `struct open_how` of `openat2(2)` (libc's is `#[non_exhaustive]`, so it cannot be built
/// without `unsafe`; this first version of the struct is what every kernel since 5.6 accepts).
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// `openat2(dir, path, flags, mode)` beneath `dir`: `..`, absolute paths and symlinks (also in
/// the middle of the path) cannot leave `dir`; "magic" /proc links are refused outright. An
/// attempted escape is `ENOTCAPABLE`, WASI's word for it.
fn openat_beneath(dir: c_int, path: &str, flags: c_int, mode: u32) -> Result<c_int, Errno> {
    let cpath = c_path(path)?;
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC) as u64,
        mode: if flags & libc::O_CREAT != 0 { u64::from(mode) } else { 0 },
        resolve: libc::RESOLVE_BENEATH | libc::RESOLVE_NO_MAGICLINKS,
    };
    let r = retry(|| {
        // SAFETY: `cpath` is a valid NUL-terminated string and `how` a valid `open_how` whose size
        // is passed along; both outlive the call. The kernel only reads them.
        unsafe { libc::syscall(libc::SYS_openat2, dir, cpath.as_ptr(), &how as *const OpenHow, size_of_val(&how)) }
    });
    match r {
        Ok(new_fd) => Ok(new_fd as c_int),
        Err(errno::XDEV) => Err(errno::NOTCAPABLE),
        Err(e) => Err(e),
    }
}

/// Splits `path` into its parent directory (opened beneath `dir` as an `O_PATH` fd) and its last
/// component. A last component of `..` or `.` is refused: acting on it would touch the parent's
/// entry or the directory itself, not an entry beneath `dir`.
fn parent_beneath(dir: c_int, path: &str) -> Result<(OwnedFd, CString), Errno> {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return Err(if path.is_empty() { errno::NOENT } else { errno::NOTCAPABLE });
    }
    let (parent, last) = match trimmed.rfind('/') {
        Some(0) => return Err(errno::NOTCAPABLE),
        Some(i) => (&trimmed[..i], &trimmed[i + 1..]),
        None => (".", trimmed),
    };
    match last {
        ".." => return Err(errno::NOTCAPABLE),
        "." => return Err(errno::INVAL),
        _ => {}
    }
    let pfd = openat_beneath(dir, parent, libc::O_PATH | libc::O_DIRECTORY, 0)?;
    Ok((OwnedFd(pfd), c_path(last)?))
}

fn timespec_ns(ts: &libc::timespec) -> u64 {
    (ts.tv_sec as u64).saturating_mul(1_000_000_000).saturating_add(ts.tv_nsec as u64)
}

fn clock_id(clock: Clock) -> libc::clockid_t {
    match clock {
        Clock::Realtime => libc::CLOCK_REALTIME,
        Clock::Monotonic => libc::CLOCK_MONOTONIC,
        Clock::ProcessCpu => libc::CLOCK_PROCESS_CPUTIME_ID,
        Clock::ThreadCpu => libc::CLOCK_THREAD_CPUTIME_ID,
    }
}

fn file_kind(mode: libc::mode_t) -> FileKind {
    match mode & libc::S_IFMT {
        libc::S_IFREG => FileKind::Regular,
        libc::S_IFDIR => FileKind::Directory,
        libc::S_IFCHR => FileKind::CharDevice,
        libc::S_IFBLK => FileKind::BlockDevice,
        libc::S_IFLNK => FileKind::Symlink,
        libc::S_IFSOCK => {
            // stat cannot tell stream from datagram sockets; kwasm only hands out stream sockets.
            FileKind::SocketStream
        }
        _ => FileKind::Unknown,
    }
}

fn file_stat(st: &libc::stat) -> FileStat {
    let ns = |s: i64, n: i64| (s.max(0) as u64).saturating_mul(1_000_000_000).saturating_add(n.max(0) as u64);
    FileStat {
        dev: st.st_dev,
        ino: st.st_ino,
        kind: Some(file_kind(st.st_mode)),
        nlink: st.st_nlink,
        size: st.st_size.max(0) as u64,
        atim: ns(st.st_atime, st.st_atime_nsec),
        mtim: ns(st.st_mtime, st.st_mtime_nsec),
        ctim: ns(st.st_ctime, st.st_ctime_nsec),
    }
}

fn fstat(fd: c_int) -> Result<FileStat, Errno> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: `st` is a writable buffer of the size `fstat` fills.
    retry(|| unsafe { libc::fstat(fd, st.as_mut_ptr()) })?;
    // SAFETY: `fstat` succeeded, so it initialized `st`.
    Ok(file_stat(unsafe { &st.assume_init() }))
}

/// Unmaps a JIT code region (the [`ExecRegion::release`] of [`StdPlatform`]).
///
/// # Safety
/// `ptr..ptr + len` must be a mapping made by [`StdPlatform::alloc_exec`] and not used afterwards.
unsafe fn munmap_region(ptr: *mut u8, len: usize) {
    // SAFETY: the caller passes a mapping of exactly this size that nothing uses any more.
    unsafe { libc::munmap(ptr.cast(), len) };
}

impl Platform for StdPlatform {
    fn alloc_exec(&self, len: usize) -> Result<ExecRegion, Errno> {
        let page = 4096;
        let len = len.max(1).checked_next_multiple_of(page).ok_or(errno::NOMEM)?;
        // SAFETY: an anonymous private mapping at an address of the kernel's choice touches no
        // existing memory.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(last_errno());
        }
        Ok(ExecRegion { ptr: p.cast(), len, executable: false, release: munmap_region })
    }

    fn protect_exec(&self, region: &mut ExecRegion) -> Result<(), Errno> {
        // SAFETY: the region is a mapping of exactly `len` bytes that we own; flipping it to
        // read + execute (W^X: it stops being writable) does not invalidate any Rust reference.
        if unsafe { libc::mprotect(region.ptr.cast(), region.len, libc::PROT_READ | libc::PROT_EXEC) } != 0 {
            return Err(last_errno());
        }
        region.executable = true;
        Ok(())
    }

    fn guard_support(&self) -> Option<GuardSupport> {
        Some(crate::guard::support())
    }

    fn check_interrupt(&mut self) -> Interruption {
        // Ctrl-C keeps its default meaning (the process dies), so there is nothing to check.
        Interruption::Continue
    }

    fn clock_time(&mut self, clock: Clock) -> Result<u64, Errno> {
        let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: `ts` is a valid, writable timespec.
        retry(|| unsafe { libc::clock_gettime(clock_id(clock), &mut ts) })?;
        Ok(timespec_ns(&ts))
    }

    fn clock_resolution(&mut self, clock: Clock) -> Result<u64, Errno> {
        let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: `ts` is a valid, writable timespec.
        retry(|| unsafe { libc::clock_getres(clock_id(clock), &mut ts) })?;
        Ok(timespec_ns(&ts))
    }

    fn random(&mut self, buf: &mut [u8]) -> Result<(), Errno> {
        let mut done = 0;
        while done < buf.len() {
            let rest = &mut buf[done..];
            // SAFETY: `rest` is a writable buffer of `rest.len()` bytes.
            let n = retry(|| unsafe { libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), 0) })?;
            done += n as usize;
        }
        Ok(())
    }

    fn read(&mut self, h: HostHandle, buf: &mut [u8], offset: Option<u64>) -> Result<usize, Errno> {
        let fd = fd(h)?;
        let n = match offset {
            None => {
                // SAFETY: `buf` is a writable buffer of `buf.len()` bytes.
                retry(|| unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) })?
            }
            Some(off) => {
                let off = libc::off_t::try_from(off).map_err(|_| errno::INVAL)?;
                // SAFETY: as above.
                retry(|| unsafe { libc::pread(fd, buf.as_mut_ptr().cast(), buf.len(), off) })?
            }
        };
        Ok(n as usize)
    }

    fn write(&mut self, h: HostHandle, buf: &[u8], offset: Option<u64>) -> Result<usize, Errno> {
        let fd = fd(h)?;
        let n = match offset {
            None => {
                // SAFETY: `buf` is a readable buffer of `buf.len()` bytes.
                retry(|| unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) })?
            }
            Some(off) => {
                let off = libc::off_t::try_from(off).map_err(|_| errno::INVAL)?;
                // SAFETY: as above.
                retry(|| unsafe { libc::pwrite(fd, buf.as_ptr().cast(), buf.len(), off) })?
            }
        };
        Ok(n as usize)
    }

    fn seek(&mut self, h: HostHandle, offset: i64, whence: Whence) -> Result<u64, Errno> {
        let fd = fd(h)?;
        let whence = match whence {
            Whence::Start => libc::SEEK_SET,
            Whence::Current => libc::SEEK_CUR,
            Whence::End => libc::SEEK_END,
        };
        // SAFETY: lseek only takes integers.
        let pos = retry(|| unsafe { libc::lseek(fd, offset, whence) })?;
        Ok(pos as u64)
    }

    fn stat(&mut self, h: HostHandle) -> Result<FileStat, Errno> {
        fstat(fd(h)?)
    }

    fn close(&mut self, h: HostHandle) -> Result<(), Errno> {
        let fd = fd(h)?;
        // SAFETY: the handle was handed out by this platform (or given to WASI by the embedder)
        // and the runtime closes it once. EINTR is not retried: on Linux the fd is gone anyway.
        if unsafe { libc::close(fd) } < 0 {
            return Err(last_errno());
        }
        Ok(())
    }

    fn open_at(&mut self, dir: HostHandle, path: &str, opts: OpenOptions) -> Result<HostHandle, Errno> {
        let mut flags = match (opts.read, opts.write) {
            (_, false) => libc::O_RDONLY,
            (false, true) => libc::O_WRONLY,
            (true, true) => libc::O_RDWR,
        };
        for (on, flag) in [
            (opts.create, libc::O_CREAT),
            (opts.exclusive, libc::O_EXCL),
            (opts.truncate, libc::O_TRUNC),
            (opts.append, libc::O_APPEND),
            (opts.directory, libc::O_DIRECTORY),
            (opts.nofollow, libc::O_NOFOLLOW),
            (opts.nonblock, libc::O_NONBLOCK),
        ] {
            if on {
                flags |= flag;
            }
        }
        let new_fd = openat_beneath(fd(dir)?, path, flags, 0o666)?;
        Ok(new_fd as HostHandle)
    }

    fn stat_at(&mut self, dir: HostHandle, path: &str, follow: bool) -> Result<FileStat, Errno> {
        // An O_PATH open beneath `dir` and fstat: following a symlink stays beneath `dir` too,
        // which `fstatat` on the parent would not guarantee.
        let flags = libc::O_PATH | if follow { 0 } else { libc::O_NOFOLLOW };
        let file = OwnedFd(openat_beneath(fd(dir)?, path, flags, 0)?);
        fstat(file.0)
    }

    fn mkdir_at(&mut self, dir: HostHandle, path: &str) -> Result<(), Errno> {
        let (parent, name) = parent_beneath(fd(dir)?, path)?;
        // SAFETY: `name` is a valid C string; `parent` an open directory fd.
        retry(|| unsafe { libc::mkdirat(parent.0, name.as_ptr(), 0o777) })?;
        Ok(())
    }

    fn unlink_at(&mut self, dir: HostHandle, path: &str) -> Result<(), Errno> {
        let (parent, name) = parent_beneath(fd(dir)?, path)?;
        if path.ends_with('/') {
            // "file/" names a directory; unlinking one is EISDIR, a file is not a directory.
            let st = self.stat_at(dir, path.trim_end_matches('/'), false)?;
            return Err(if st.kind == Some(FileKind::Directory) { errno::ISDIR } else { errno::NOTDIR });
        }
        // SAFETY: `name` is a valid C string; `parent` an open directory fd.
        retry(|| unsafe { libc::unlinkat(parent.0, name.as_ptr(), 0) })?;
        Ok(())
    }

    fn rmdir_at(&mut self, dir: HostHandle, path: &str) -> Result<(), Errno> {
        let (parent, name) = parent_beneath(fd(dir)?, path)?;
        // SAFETY: `name` is a valid C string; `parent` an open directory fd.
        retry(|| unsafe { libc::unlinkat(parent.0, name.as_ptr(), libc::AT_REMOVEDIR) })?;
        Ok(())
    }

    fn rename_at(&mut self, from_dir: HostHandle, from: &str, to_dir: HostHandle, to: &str) -> Result<(), Errno> {
        let (from_parent, from_name) = parent_beneath(fd(from_dir)?, from)?;
        let (to_parent, to_name) = parent_beneath(fd(to_dir)?, to)?;
        // SAFETY: both names are valid C strings; both parents open directory fds.
        retry(|| unsafe { libc::renameat(from_parent.0, from_name.as_ptr(), to_parent.0, to_name.as_ptr()) })?;
        Ok(())
    }

    fn read_dir(&mut self, dir: HostHandle) -> Result<Vec<DirEntry>, Errno> {
        let dir = fd(dir)?;
        // `fdopendir` takes ownership of its fd, and the guest's fd must stay open: list a
        // duplicate (which shares the file offset, hence the rewind).
        // SAFETY: dup only takes an integer.
        let dup = retry(|| unsafe { libc::fcntl(dir, libc::F_DUPFD_CLOEXEC, 0) })?;
        // SAFETY: `dup` is an open fd that we own; on success the DIR owns it.
        let stream = unsafe { libc::fdopendir(dup) };
        if stream.is_null() {
            let e = last_errno();
            // SAFETY: `fdopendir` failed, so `dup` is still ours to close.
            unsafe { libc::close(dup) };
            return Err(e);
        }
        // SAFETY: `stream` is a valid DIR.
        unsafe { libc::rewinddir(stream) };
        let mut entries = Vec::new();
        let result = loop {
            // SAFETY: readdir reports end and errors through errno, so clear it first.
            unsafe { *libc::__errno_location() = 0 };
            // SAFETY: `stream` is a valid DIR; the entry stays valid until the next readdir.
            let ent = unsafe { libc::readdir(stream) };
            if ent.is_null() {
                // SAFETY: reading errno.
                let e = unsafe { *libc::__errno_location() };
                break if e == 0 { Ok(()) } else { Err(wasi_errno(e)) };
            }
            // SAFETY: `ent` points to a valid dirent whose name is NUL-terminated.
            let (ino, d_type, name) = unsafe {
                let ent = &*ent;
                (ent.d_ino, ent.d_type, CStr::from_ptr(ent.d_name.as_ptr()))
            };
            let kind = match d_type {
                libc::DT_REG => FileKind::Regular,
                libc::DT_DIR => FileKind::Directory,
                libc::DT_LNK => FileKind::Symlink,
                libc::DT_CHR => FileKind::CharDevice,
                libc::DT_BLK => FileKind::BlockDevice,
                libc::DT_SOCK => FileKind::SocketStream,
                _ => FileKind::Unknown,
            };
            entries.push(DirEntry { ino, kind, name: name.to_string_lossy().into_owned() });
        };
        // SAFETY: `stream` is valid and closed once (which also closes `dup`).
        unsafe { libc::closedir(stream) };
        result.map(|()| entries)
    }

    fn sync(&mut self, h: HostHandle, data_only: bool) -> Result<(), Errno> {
        let fd = fd(h)?;
        // SAFETY: fsync/fdatasync only take an integer.
        retry(|| unsafe {
            if data_only {
                libc::fdatasync(fd)
            } else {
                libc::fsync(fd)
            }
        })?;
        Ok(())
    }

    fn set_size(&mut self, h: HostHandle, size: u64) -> Result<(), Errno> {
        let fd = fd(h)?;
        let size = libc::off_t::try_from(size).map_err(|_| errno::FBIG)?;
        // SAFETY: ftruncate only takes integers.
        retry(|| unsafe { libc::ftruncate(fd, size) })?;
        Ok(())
    }

    fn sock_recv(&mut self, sock: HostHandle, buf: &mut [u8], peek: bool, wait_all: bool) -> Result<usize, Errno> {
        let fd = fd(sock)?;
        let flags = if peek { libc::MSG_PEEK } else { 0 } | if wait_all { libc::MSG_WAITALL } else { 0 };
        // SAFETY: `buf` is a writable buffer of `buf.len()` bytes.
        let n = retry(|| unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), flags) })?;
        Ok(n as usize)
    }

    fn sock_accept(&mut self, listener: HostHandle, nonblock: bool) -> Result<HostHandle, Errno> {
        let fd = fd(listener)?;
        let flags = libc::SOCK_CLOEXEC | if nonblock { libc::SOCK_NONBLOCK } else { 0 };
        // SAFETY: null address buffers are allowed: the peer address is not wanted.
        let conn = retry(|| unsafe { libc::accept4(fd, std::ptr::null_mut(), std::ptr::null_mut(), flags) })?;
        Ok(conn as HostHandle)
    }

    fn sock_shutdown(&mut self, sock: HostHandle, how: u8) -> Result<(), Errno> {
        let fd = fd(sock)?;
        let how = match how {
            1 => libc::SHUT_RD,
            2 => libc::SHUT_WR,
            3 => libc::SHUT_RDWR,
            _ => return Err(errno::INVAL),
        };
        // SAFETY: shutdown only takes integers.
        retry(|| unsafe { libc::shutdown(fd, how) })?;
        Ok(())
    }

    fn set_nonblocking(&mut self, h: HostHandle, nonblock: bool) -> Result<(), Errno> {
        let fd = fd(h)?;
        // SAFETY: fcntl(F_GETFL) only takes integers.
        let flags = retry(|| unsafe { libc::fcntl(fd, libc::F_GETFL) })?;
        let flags = if nonblock { flags | libc::O_NONBLOCK } else { flags & !libc::O_NONBLOCK };
        // SAFETY: fcntl(F_SETFL) only takes integers.
        retry(|| unsafe { libc::fcntl(fd, libc::F_SETFL, flags) })?;
        Ok(())
    }

    fn poll(&mut self, requests: &[PollRequest], timeout_ns: Option<u64>) -> Result<Vec<bool>, Errno> {
        let mut fds = Vec::with_capacity(requests.len());
        for r in requests {
            let events = if r.read { libc::POLLIN } else { libc::POLLOUT };
            fds.push(libc::pollfd { fd: fd(r.handle)?, events, revents: 0 });
        }
        let ts = timeout_ns.map(|ns| libc::timespec {
            tv_sec: (ns / 1_000_000_000).min(i64::MAX as u64) as libc::time_t,
            tv_nsec: (ns % 1_000_000_000) as libc::c_long,
        });
        let ts_ptr = ts.as_ref().map_or(std::ptr::null(), |t| t as *const libc::timespec);
        // SAFETY: `fds` holds `fds.len()` valid pollfds; `ts_ptr` is null or points to `ts`,
        // which lives until the call returns; the signal mask pointer may be null.
        let n = unsafe { libc::ppoll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ts_ptr, std::ptr::null()) };
        if n < 0 {
            // EINTR included: the runtime waits again for what is left.
            return Err(last_errno());
        }
        // Errors and hang-ups count as ready: the next read or write reports them.
        Ok(fds.iter().map(|p| p.revents != 0).collect())
    }

    fn sleep(&mut self, ns: u64) -> Result<(), Errno> {
        std::thread::sleep(Duration::from_nanos(ns));
        Ok(())
    }

    fn yield_now(&mut self) {
        std::thread::yield_now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kernel module translates Linux errno numbers with `errno::from_linux` (no libc there);
    /// it must agree with user space's table for every errno libc knows.
    #[test]
    fn kernel_errno_table_matches_libc() {
        for e in 1..=133 {
            assert_eq!(errno::from_linux(e), wasi_errno(e), "errno {e}");
        }
    }
}
