//! The host objects of a kernel-mode WASI program and the [`Platform`] operations on them: the
//! caller's files (stdio, files opened beneath a preopened directory), the preopened listening
//! socket and the connections it accepts. The kernel calls are in `kmod/kwasm_wasi.c`.
//!
//! Blocking: every socket call into the kernel is non-blocking; a blocking WASI operation (accept,
//! recv, send on an fd without `NONBLOCK`) waits in `kwasm_wait` (TASK_KILLABLE), never inside
//! the socket layer. A fatal signal ends a wait with `INTR`; the program then stops at its next
//! fuel slice (the kernel platform's `check_interrupt`).
//!
//! [`Platform`]: kwasm_runtime::platform::Platform

use alloc::vec::Vec;
use core::ffi::{c_int, c_long, c_void};

use alloc::string::String;

use kwasm_runtime::platform::{DirEntry, Errno, FileKind, FileStat, HostHandle, OpenOptions, PollRequest, Whence};
use kwasm_runtime::wasi::errno;

extern "C" {
    fn kwasm_fput(file: *mut c_void);
    fn kwasm_sock_listener(fd: c_int, err: *mut c_int) -> *mut c_void;
    fn kwasm_sock_put_listener(sock: *mut c_void);
    fn kwasm_sock_accept(listener: *mut c_void, conn: *mut *mut c_void) -> c_int;
    fn kwasm_sock_release(sock: *mut c_void);
    fn kwasm_sock_recv(sock: *mut c_void, buf: *mut u8, len: usize, peek: c_int) -> c_long;
    fn kwasm_sock_send(sock: *mut c_void, buf: *const u8, len: usize) -> c_long;
    fn kwasm_sock_shutdown(sock: *mut c_void, how: c_int) -> c_int;
    fn kwasm_wait(reqs: *mut PollReq, n: usize, timeout_ns: i64) -> c_int;
    fn kwasm_yield();
    fn kwasm_cpu_time_ns(thread: c_int) -> i64;
    fn kwasm_file_seek(file: *mut c_void, offset: i64, whence: c_int) -> i64;
    fn kwasm_file_stat(file: *mut c_void, out: *mut KStat) -> c_int;
    fn kwasm_file_pread(file: *mut c_void, buf: *mut u8, len: usize, pos: u64) -> c_long;
    fn kwasm_file_pwrite(file: *mut c_void, buf: *const u8, len: usize, pos: u64) -> c_long;
    fn kwasm_file_is_dir(file: *mut c_void) -> c_int;
    fn kwasm_open_beneath(dir: *mut c_void, path: *const u8, how: u32, err: *mut c_int) -> *mut c_void;
    fn kwasm_stat_beneath(dir: *mut c_void, path: *const u8, follow: c_int, out: *mut KStat) -> c_int;
    fn kwasm_mkdir_beneath(dir: *mut c_void, path: *const u8) -> c_int;
    fn kwasm_unlink_beneath(dir: *mut c_void, path: *const u8, rmdir: c_int) -> c_int;
    fn kwasm_rename_beneath(from_dir: *mut c_void, from: *const u8, to_dir: *mut c_void, to: *const u8) -> c_int;
    fn kwasm_read_dir(dir: *mut c_void, records: *mut *mut u8) -> c_long;
    fn kwasm_file_sync(file: *mut c_void, datasync: c_int) -> c_int;
    fn kwasm_file_set_size(file: *mut c_void, size: u64) -> c_int;
    fn kwasm_kfree(ptr: *mut u8);
}

/// `struct kwasm_pollreq` (kwasm_wasi.c).
#[repr(C)]
pub(crate) struct PollReq {
    obj: *mut c_void,
    is_sock: c_int,
    want_write: c_int,
    ready: c_int,
    reserved: c_int,
}

/// `struct kwasm_stat` (kwasm_wasi.c).
#[repr(C)]
#[derive(Default)]
pub(crate) struct KStat {
    dev: u64,
    ino: u64,
    nlink: u64,
    size: u64,
    atim: u64,
    mtim: u64,
    ctim: u64,
    mode: u32,
    reserved: u32,
}

impl KStat {
    fn to_stat(&self) -> FileStat {
        let kind = match self.mode & 0o170000 {
            0o040000 => FileKind::Directory,
            0o100000 => FileKind::Regular,
            0o020000 => FileKind::CharDevice,
            0o060000 => FileKind::BlockDevice,
            0o120000 => FileKind::Symlink,
            0o140000 => FileKind::SocketStream,
            _ => FileKind::Unknown,
        };
        FileStat {
            dev: self.dev,
            ino: self.ino,
            kind: Some(kind),
            nlink: self.nlink,
            size: self.size,
            atim: self.atim,
            mtim: self.mtim,
            ctim: self.ctim,
        }
    }
}

/// `kwasm_open_beneath` option bits (`KW_OPEN_*` in kwasm_wasi.c).
mod open_bits {
    pub const READ: u32 = 0x1;
    pub const WRITE: u32 = 0x2;
    pub const CREATE: u32 = 0x4;
    pub const EXCL: u32 = 0x8;
    pub const TRUNC: u32 = 0x10;
    pub const APPEND: u32 = 0x20;
    pub const DIRECTORY: u32 = 0x40;
    pub const NOFOLLOW: u32 = 0x80;
    pub const NONBLOCK: u32 = 0x100;
}

/// Longest path handed to the kernel (PATH_MAX).
const PATH_MAX: usize = 4096;

/// A kernel result (`>= 0` or `-errno`) as a WASI result.
fn check(r: i64) -> Result<u64, Errno> {
    if r < 0 {
        Err(errno::from_linux((-r) as i32))
    } else {
        Ok(r as u64)
    }
}

/// One host object of the program.
enum Object {
    /// A `struct file` reference (from `fget` or an open beneath a preopen).
    File(*mut c_void),
    /// The preopened listening socket (a reference on its file, from `sockfd_lookup`).
    Listener(*mut c_void),
    /// An accepted connection (a `struct socket` without a file, owned here).
    Conn(*mut c_void),
}

struct Entry {
    object: Object,
    nonblock: bool,
}

impl Drop for Entry {
    fn drop(&mut self) {
        // SAFETY: each pointer is a reference this entry owns, released exactly once here with
        // the function that matches how it was taken.
        unsafe {
            match self.object {
                Object::File(f) => kwasm_fput(f),
                Object::Listener(s) => kwasm_sock_put_listener(s),
                Object::Conn(s) => kwasm_sock_release(s),
            }
        }
    }
}

/// The program's host objects; a [`HostHandle`] is an index. Dropping the table releases all.
#[derive(Default)]
pub(crate) struct Handles(Vec<Option<Entry>>);

// SAFETY: file and socket references may be used and released from any task; the table is only
// used by the task that runs the program (the glue serializes ioctls per file).
unsafe impl Send for Handles {}

/// What a blocking operation does when the kernel says "would block".
enum Blocking {
    /// Return `AGAIN` to the program.
    No,
    /// Wait until the object is ready for reading (`false`) or writing (`true`).
    Wait(bool),
}

impl Handles {
    fn add(&mut self, object: Object, nonblock: bool) -> Result<HostHandle, Errno> {
        let entry = Entry { object, nonblock };
        if let Some(i) = self.0.iter().position(Option::is_none) {
            self.0[i] = Some(entry);
            return Ok(i as HostHandle);
        }
        // On failure `entry` is dropped here, which releases the object.
        self.0.try_reserve(1).map_err(|_| errno::NOMEM)?;
        self.0.push(Some(entry));
        Ok((self.0.len() - 1) as HostHandle)
    }

    /// Adds a file reference the caller owns (it is released with the table).
    pub(crate) fn add_file(&mut self, file: *mut c_void) -> Result<HostHandle, Errno> {
        self.add(Object::File(file), false)
    }

    /// Takes the caller's listening stream socket `fd` (`-errno` for a bad one).
    pub(crate) fn add_listener(&mut self, fd: c_int) -> Result<HostHandle, c_int> {
        let mut err: c_int = 0;
        // SAFETY: plain call; the result is NULL (err set) or a socket reference we now own.
        let sock = unsafe { kwasm_sock_listener(fd, &mut err) };
        if sock.is_null() {
            return Err(if err < 0 { err } else { -22 });
        }
        self.add(Object::Listener(sock), false).map_err(|_| -12)
    }

    fn entry(&self, h: HostHandle) -> Result<&Entry, Errno> {
        self.0.get(h as usize).and_then(Option::as_ref).ok_or(errno::BADF)
    }

    /// The `struct file` behind `h` (only files have one for kernel_read/write).
    pub(crate) fn file(&self, h: HostHandle) -> Result<*mut c_void, Errno> {
        match self.entry(h)?.object {
            Object::File(f) => Ok(f),
            _ => Err(errno::SPIPE),
        }
    }

    fn sock(&self, h: HostHandle) -> Result<(*mut c_void, bool), Errno> {
        let e = self.entry(h)?;
        match e.object {
            Object::Conn(s) => Ok((s, e.nonblock)),
            _ => Err(errno::NOTSOCK),
        }
    }

    fn poll_req(&self, h: HostHandle, write: bool) -> Result<PollReq, Errno> {
        let (obj, is_sock) = match self.entry(h)?.object {
            Object::File(f) => (f, 0),
            Object::Listener(s) | Object::Conn(s) => (s, 1),
        };
        Ok(PollReq { obj, is_sock, want_write: c_int::from(write), ready: 0, reserved: 0 })
    }

    /// Waits for `h` to become ready (see [`Blocking`]); `INTR` on a fatal signal.
    fn wait_one(&self, h: HostHandle, write: bool) -> Result<(), Errno> {
        let mut req = [self.poll_req(h, write)?];
        // SAFETY: `req` is a valid array of one request whose object is alive (owned by the
        // table, which is not changed during the call).
        check(i64::from(unsafe { kwasm_wait(req.as_mut_ptr(), 1, -1) }))?;
        Ok(())
    }

    /// Runs a non-blocking kernel operation, waiting (for a blocking handle) until it stops
    /// saying "would block".
    fn retry<T>(&self, h: HostHandle, mode: Blocking, mut op: impl FnMut() -> Result<T, Errno>) -> Result<T, Errno> {
        loop {
            match op() {
                Err(errno::AGAIN) => match mode {
                    Blocking::No => return Err(errno::AGAIN),
                    Blocking::Wait(write) => self.wait_one(h, write)?,
                },
                r => return r,
            }
        }
    }

    /// `Platform::close`.
    pub(crate) fn close(&mut self, h: HostHandle) -> Result<(), Errno> {
        match self.0.get_mut(h as usize).and_then(Option::take) {
            Some(_) => Ok(()),
            None => Err(errno::BADF),
        }
    }

    /// `Platform::read` on a connection (receive) or at a file offset; `None` for plain file
    /// reads, which the caller does at the file position.
    pub(crate) fn read_special(
        &mut self,
        h: HostHandle,
        buf: &mut [u8],
        offset: Option<u64>,
    ) -> Option<Result<usize, Errno>> {
        match (&self.entry(h).ok()?.object, offset) {
            (Object::Conn(_), None) => Some(self.sock_recv(h, buf, false, false)),
            (Object::File(f), Some(pos)) => {
                // SAFETY: `f` is a live file reference; `buf` is valid for writes of its length.
                let n = unsafe { kwasm_file_pread(*f, buf.as_mut_ptr(), buf.len(), pos) };
                Some(check(n as i64).map(|n| n as usize))
            }
            (_, Some(_)) => Some(Err(errno::SPIPE)),
            (Object::Listener(_), None) => Some(Err(errno::NOTCONN)),
            (Object::File(_), None) => None,
        }
    }

    /// `Platform::write` counterpart of [`Handles::read_special`].
    pub(crate) fn write_special(
        &mut self,
        h: HostHandle,
        buf: &[u8],
        offset: Option<u64>,
    ) -> Option<Result<usize, Errno>> {
        match (&self.entry(h).ok()?.object, offset) {
            (Object::Conn(_), None) => Some(self.sock_send(h, buf)),
            (Object::File(f), Some(pos)) => {
                // SAFETY: `f` is a live file reference; `buf` is valid for reads of its length.
                let n = unsafe { kwasm_file_pwrite(*f, buf.as_ptr(), buf.len(), pos) };
                Some(check(n as i64).map(|n| n as usize))
            }
            (_, Some(_)) => Some(Err(errno::SPIPE)),
            (Object::Listener(_), None) => Some(Err(errno::NOTCONN)),
            (Object::File(_), None) => None,
        }
    }

    /// `Platform::sock_recv`.
    pub(crate) fn sock_recv(
        &mut self,
        h: HostHandle,
        buf: &mut [u8],
        peek: bool,
        wait_all: bool,
    ) -> Result<usize, Errno> {
        let (sock, nonblock) = self.sock(h)?;
        let mut done = 0;
        loop {
            let rest = &mut buf[done..];
            let mode = if nonblock { Blocking::No } else { Blocking::Wait(false) };
            let n = self.retry(h, mode, || {
                // SAFETY: `sock` is a live socket owned by the table; `rest` is valid for writes
                // of its length (the kernel copies with memcpy, no user access).
                check(unsafe { kwasm_sock_recv(sock, rest.as_mut_ptr(), rest.len(), c_int::from(peek)) } as i64)
            });
            match n {
                Ok(n) => {
                    done += n as usize;
                    if !wait_all || peek || n == 0 || done == buf.len() {
                        return Ok(done);
                    }
                }
                Err(errno::AGAIN) if done > 0 => return Ok(done),
                Err(e) => return if done > 0 { Ok(done) } else { Err(e) },
            }
        }
    }

    /// Sends all of `buf` on a blocking connection (less only on an error after some bytes), or
    /// what fits now on a non-blocking one.
    fn sock_send(&mut self, h: HostHandle, buf: &[u8]) -> Result<usize, Errno> {
        let (sock, nonblock) = self.sock(h)?;
        let mut done = 0;
        while done < buf.len() || buf.is_empty() {
            let rest = &buf[done..];
            let mode = if nonblock { Blocking::No } else { Blocking::Wait(true) };
            let n = self.retry(h, mode, || {
                // SAFETY: `sock` is a live socket owned by the table; `rest` is valid for reads.
                check(unsafe { kwasm_sock_send(sock, rest.as_ptr(), rest.len()) } as i64)
            });
            match n {
                Ok(n) => {
                    done += n as usize;
                    if buf.is_empty() || n == 0 || nonblock {
                        break;
                    }
                }
                Err(e) => return if done > 0 { Ok(done) } else { Err(e) },
            }
        }
        Ok(done)
    }

    /// `Platform::sock_accept`.
    pub(crate) fn sock_accept(&mut self, listener: HostHandle, nonblock: bool) -> Result<HostHandle, Errno> {
        let e = self.entry(listener)?;
        let Object::Listener(l) = e.object else { return Err(errno::NOTSOCK) };
        let mode = if e.nonblock { Blocking::No } else { Blocking::Wait(false) };
        let conn = self.retry(listener, mode, || {
            let mut conn: *mut c_void = core::ptr::null_mut();
            // SAFETY: `l` is the live listening socket; `conn` receives a new socket we own.
            check(i64::from(unsafe { kwasm_sock_accept(l, &mut conn) }))?;
            Ok(conn)
        })?;
        self.add(Object::Conn(conn), nonblock)
    }

    /// `Platform::sock_shutdown`.
    pub(crate) fn sock_shutdown(&mut self, h: HostHandle, how: u8) -> Result<(), Errno> {
        let (sock, _) = self.sock(h)?;
        // SAFETY: `sock` is a live socket owned by the table.
        check(i64::from(unsafe { kwasm_sock_shutdown(sock, c_int::from(how)) })).map(drop)
    }

    /// `Platform::set_nonblocking`: a flag of kwasm's own for sockets. The caller's files keep
    /// their mode (their open file description is shared with the caller's process).
    pub(crate) fn set_nonblocking(&mut self, h: HostHandle, nonblock: bool) -> Result<(), Errno> {
        let e = self.0.get_mut(h as usize).and_then(Option::as_mut).ok_or(errno::BADF)?;
        match e.object {
            Object::File(_) => Err(errno::NOTSUP),
            _ => {
                e.nonblock = nonblock;
                Ok(())
            }
        }
    }

    /// `Platform::poll`.
    pub(crate) fn poll(&mut self, requests: &[PollRequest], timeout_ns: Option<u64>) -> Result<Vec<bool>, Errno> {
        let mut reqs = Vec::new();
        reqs.try_reserve_exact(requests.len()).map_err(|_| errno::NOMEM)?;
        for r in requests {
            reqs.push(self.poll_req(r.handle, !r.read)?);
        }
        let timeout = timeout_ns.map_or(-1, |t| t.min(i64::MAX as u64) as i64);
        // SAFETY: `reqs` is a valid array whose objects are alive (owned by the table).
        check(i64::from(unsafe { kwasm_wait(reqs.as_mut_ptr(), reqs.len(), timeout) }))?;
        Ok(reqs.iter().map(|r| r.ready != 0).collect())
    }

    /// `Platform::seek`.
    pub(crate) fn seek(&mut self, h: HostHandle, offset: i64, whence: Whence) -> Result<u64, Errno> {
        let f = self.file(h)?;
        let w = match whence {
            Whence::Start => 0,
            Whence::Current => 1,
            Whence::End => 2,
        };
        // SAFETY: `f` is a live file reference.
        check(unsafe { kwasm_file_seek(f, offset, w) })
    }

    /// `Platform::stat`.
    pub(crate) fn stat(&mut self, h: HostHandle) -> Result<FileStat, Errno> {
        match self.entry(h)?.object {
            Object::File(f) => {
                let mut st = KStat::default();
                // SAFETY: `f` is a live file reference; `st` is a valid out-struct.
                check(i64::from(unsafe { kwasm_file_stat(f, &mut st) }))?;
                Ok(st.to_stat())
            }
            Object::Listener(_) | Object::Conn(_) => {
                Ok(FileStat { kind: Some(FileKind::SocketStream), nlink: 1, ..FileStat::default() })
            }
        }
    }

    /// Whether `h` is a directory (what a preopen must be).
    pub(crate) fn is_dir(&self, h: HostHandle) -> bool {
        self.dir(h).is_ok()
    }

    fn dir(&self, h: HostHandle) -> Result<*mut c_void, Errno> {
        let f = self.file(h).map_err(|_| errno::NOTDIR)?;
        // SAFETY: `f` is a live file reference.
        if unsafe { kwasm_file_is_dir(f) } == 0 {
            return Err(errno::NOTDIR);
        }
        Ok(f)
    }

    /// `Platform::open_at`: opens beneath the directory `dir` (LOOKUP_BENEATH in the kernel).
    pub(crate) fn open_at(&mut self, dir: HostHandle, path: &str, opts: OpenOptions) -> Result<HostHandle, Errno> {
        let d = self.dir(dir)?;
        let c = c_path(path)?;
        let mut how = 0;
        for (on, bit) in [
            (opts.read, open_bits::READ),
            (opts.write, open_bits::WRITE),
            (opts.create, open_bits::CREATE),
            (opts.exclusive, open_bits::EXCL),
            (opts.truncate, open_bits::TRUNC),
            (opts.append, open_bits::APPEND),
            (opts.directory, open_bits::DIRECTORY),
            (opts.nofollow, open_bits::NOFOLLOW),
            (opts.nonblock, open_bits::NONBLOCK),
        ] {
            if on {
                how |= bit;
            }
        }
        let mut err: c_int = 0;
        // SAFETY: `d` is a live directory file; `c` is NUL-terminated; `err` is valid.
        let f = unsafe { kwasm_open_beneath(d, c.as_ptr(), how, &mut err) };
        if f.is_null() {
            return Err(beneath_errno(err));
        }
        self.add_file(f)
    }

    /// `Platform::stat_at`.
    pub(crate) fn stat_at(&mut self, dir: HostHandle, path: &str, follow: bool) -> Result<FileStat, Errno> {
        let d = self.dir(dir)?;
        let c = c_path(path)?;
        let mut st = KStat::default();
        // SAFETY: `d` is a live directory file; `c` is NUL-terminated; `st` is valid.
        let r = unsafe { kwasm_stat_beneath(d, c.as_ptr(), c_int::from(follow), &mut st) };
        if r < 0 {
            return Err(beneath_errno(r));
        }
        Ok(st.to_stat())
    }
}

impl Handles {
    /// `Platform::mkdir_at`.
    pub(crate) fn mkdir_at(&mut self, dir: HostHandle, path: &str) -> Result<(), Errno> {
        let (d, c) = (self.dir(dir)?, c_path(path)?);
        // SAFETY: `d` is a live directory file; `c` is NUL-terminated.
        beneath_result(unsafe { kwasm_mkdir_beneath(d, c.as_ptr()) })
    }

    /// `Platform::unlink_at` (`rmdir`: `Platform::rmdir_at`).
    pub(crate) fn unlink_at(&mut self, dir: HostHandle, path: &str, rmdir: bool) -> Result<(), Errno> {
        let (d, c) = (self.dir(dir)?, c_path(path)?);
        // SAFETY: `d` is a live directory file; `c` is NUL-terminated.
        beneath_result(unsafe { kwasm_unlink_beneath(d, c.as_ptr(), c_int::from(rmdir)) })
    }

    /// `Platform::rename_at`.
    pub(crate) fn rename_at(
        &mut self,
        from_dir: HostHandle,
        from: &str,
        to_dir: HostHandle,
        to: &str,
    ) -> Result<(), Errno> {
        let (fd, td) = (self.dir(from_dir)?, self.dir(to_dir)?);
        let (f, t) = (c_path(from)?, c_path(to)?);
        // SAFETY: both are live directory files; both paths are NUL-terminated.
        beneath_result(unsafe { kwasm_rename_beneath(fd, f.as_ptr(), td, t.as_ptr()) })
    }

    /// `Platform::read_dir`: every entry, `.` and `..` included.
    pub(crate) fn read_dir(&mut self, dir: HostHandle) -> Result<Vec<DirEntry>, Errno> {
        let d = self.dir(dir)?;
        let mut records: *mut u8 = core::ptr::null_mut();
        // SAFETY: `d` is a live directory file; `records` receives a kvmalloc'd block or NULL.
        let len = check(unsafe { kwasm_read_dir(d, &mut records) } as i64)? as usize;
        if records.is_null() {
            return Ok(Vec::new());
        }
        /// Frees the block however the parsing ends.
        struct Block(*mut u8);
        impl Drop for Block {
            fn drop(&mut self) {
                // SAFETY: the block came from kvmalloc in kwasm_read_dir and is freed once.
                unsafe { kwasm_kfree(self.0) }
            }
        }
        let block = Block(records);
        // SAFETY: the kernel wrote `len` initialized bytes at `records`, alive until `block` drops.
        let bytes = unsafe { core::slice::from_raw_parts(block.0, len) };
        let mut out = Vec::new();
        let mut at = 0;
        while at + 12 <= len {
            let ino = u64::from_ne_bytes(bytes[at..at + 8].try_into().map_err(|_| errno::IO)?);
            let ty = bytes[at + 8];
            let n = usize::from(u16::from_ne_bytes([bytes[at + 10], bytes[at + 11]]));
            let name = bytes.get(at + 12..at + 12 + n).ok_or(errno::IO)?;
            let kind = match ty {
                4 => FileKind::Directory,
                8 => FileKind::Regular,
                10 => FileKind::Symlink,
                2 => FileKind::CharDevice,
                6 => FileKind::BlockDevice,
                12 => FileKind::SocketStream,
                _ => FileKind::Unknown,
            };
            out.try_reserve(1).map_err(|_| errno::NOMEM)?;
            let mut s = String::new();
            s.try_reserve_exact(n).map_err(|_| errno::NOMEM)?;
            // Linux names are bytes; WASI wants UTF-8 here, as the user-space platform does.
            s.push_str(&String::from_utf8_lossy(name));
            out.push(DirEntry { ino, kind, name: s });
            at += (12 + n).div_ceil(8) * 8;
        }
        Ok(out)
    }

    /// `Platform::sync`.
    pub(crate) fn sync(&mut self, h: HostHandle, data_only: bool) -> Result<(), Errno> {
        let f = self.file(h).map_err(|_| errno::INVAL)?;
        // SAFETY: `f` is a live file reference.
        check(i64::from(unsafe { kwasm_file_sync(f, c_int::from(data_only)) })).map(drop)
    }

    /// `Platform::set_size`.
    pub(crate) fn set_size(&mut self, h: HostHandle, size: u64) -> Result<(), Errno> {
        let f = self.file(h).map_err(|_| errno::INVAL)?;
        // SAFETY: `f` is a live file reference.
        check(i64::from(unsafe { kwasm_file_set_size(f, size) })).map(drop)
    }
}

/// A create/remove/rename result beneath a preopen.
fn beneath_result(r: c_int) -> Result<(), Errno> {
    if r < 0 {
        Err(beneath_errno(r))
    } else {
        Ok(())
    }
}

/// The WASI errno of a failed lookup beneath a preopen: LOOKUP_BENEATH reports an attempted escape
/// as `EXDEV`, which WASI calls `NOTCAPABLE` (as user mode reports openat2's `EXDEV`).
fn beneath_errno(neg: c_int) -> Errno {
    match errno::from_linux(-neg) {
        errno::XDEV => errno::NOTCAPABLE,
        e => e,
    }
}

/// `path` with a NUL terminator (the runtime already refused paths containing NUL).
fn c_path(path: &str) -> Result<Vec<u8>, Errno> {
    if path.len() >= PATH_MAX {
        return Err(errno::NAMETOOLONG);
    }
    let mut v = Vec::new();
    v.try_reserve_exact(path.len() + 1).map_err(|_| errno::NOMEM)?;
    v.extend_from_slice(path.as_bytes());
    v.push(0);
    Ok(v)
}

/// `Platform::clock_time` for the CPU-time clocks: the calling task (the runtime runs in it), or
/// its process when it has no other threads.
pub(crate) fn cpu_time(thread: bool) -> Result<u64, Errno> {
    // SAFETY: plain call.
    let t = unsafe { kwasm_cpu_time_ns(c_int::from(thread)) };
    if t < 0 {
        Err(errno::NOTSUP)
    } else {
        Ok(t as u64)
    }
}

/// `Platform::sleep`: `INTR` when a fatal signal cut it short.
pub(crate) fn sleep(ns: u64) -> Result<(), Errno> {
    let timeout = ns.min(i64::MAX as u64) as i64;
    // SAFETY: an empty request array (a null pointer with n = 0 is never dereferenced).
    check(i64::from(unsafe { kwasm_wait(core::ptr::null_mut(), 0, timeout) })).map(drop)
}

/// `Platform::yield_now`.
pub(crate) fn yield_now() {
    // SAFETY: plain call in process context.
    unsafe { kwasm_yield() }
}
