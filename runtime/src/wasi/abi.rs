//! Numbers and memory layouts of the preview1 ABI (from `wasi_snapshot_preview1.witx`) that the
//! host functions need. Struct layouts are given as byte offsets because guest memory is read and
//! written field by field (little-endian, no alignment assumptions).

/// `filetype` values.
pub mod filetype {
    /// Unknown or inaccessible.
    pub const UNKNOWN: u8 = 0;
    /// Block device.
    pub const BLOCK_DEVICE: u8 = 1;
    /// Character device.
    pub const CHARACTER_DEVICE: u8 = 2;
    /// Directory.
    pub const DIRECTORY: u8 = 3;
    /// Regular file.
    pub const REGULAR_FILE: u8 = 4;
    /// Datagram socket.
    pub const SOCKET_DGRAM: u8 = 5;
    /// Stream socket.
    pub const SOCKET_STREAM: u8 = 6;
    /// Symbolic link.
    pub const SYMBOLIC_LINK: u8 = 7;
}

/// `fdflags` bits.
pub mod fdflags {
    /// Append mode.
    pub const APPEND: u16 = 1 << 0;
    /// Synchronized data integrity writes.
    pub const DSYNC: u16 = 1 << 1;
    /// Non-blocking mode.
    pub const NONBLOCK: u16 = 1 << 2;
    /// Synchronized read I/O.
    pub const RSYNC: u16 = 1 << 3;
    /// Synchronized file integrity writes.
    pub const SYNC: u16 = 1 << 4;
}

/// `oflags` bits of `path_open`.
pub mod oflags {
    /// Create the file if it does not exist.
    pub const CREAT: u16 = 1 << 0;
    /// Fail unless it is a directory.
    pub const DIRECTORY: u16 = 1 << 1;
    /// Fail if it exists.
    pub const EXCL: u16 = 1 << 2;
    /// Truncate to size 0.
    pub const TRUNC: u16 = 1 << 3;
}

/// `lookupflags`: follow a symlink in the last path component.
pub const LOOKUP_SYMLINK_FOLLOW: u32 = 1;

/// `rights` bits.
pub mod rights {
    /// `fd_datasync`.
    pub const FD_DATASYNC: u64 = 1 << 0;
    /// `fd_read` / `sock_recv`.
    pub const FD_READ: u64 = 1 << 1;
    /// `fd_seek` (implies `fd_tell`).
    pub const FD_SEEK: u64 = 1 << 2;
    /// `fd_fdstat_set_flags`.
    pub const FD_FDSTAT_SET_FLAGS: u64 = 1 << 3;
    /// `fd_sync`.
    pub const FD_SYNC: u64 = 1 << 4;
    /// `fd_tell`.
    pub const FD_TELL: u64 = 1 << 5;
    /// `fd_write` / `sock_send`.
    pub const FD_WRITE: u64 = 1 << 6;
    /// `fd_advise`.
    pub const FD_ADVISE: u64 = 1 << 7;
    /// `fd_allocate`.
    pub const FD_ALLOCATE: u64 = 1 << 8;
    /// `path_create_directory`.
    pub const PATH_CREATE_DIRECTORY: u64 = 1 << 9;
    /// `path_open` with `CREAT`.
    pub const PATH_CREATE_FILE: u64 = 1 << 10;
    /// `path_link` source.
    pub const PATH_LINK_SOURCE: u64 = 1 << 11;
    /// `path_link` target.
    pub const PATH_LINK_TARGET: u64 = 1 << 12;
    /// `path_open`.
    pub const PATH_OPEN: u64 = 1 << 13;
    /// `fd_readdir`.
    pub const FD_READDIR: u64 = 1 << 14;
    /// `path_readlink`.
    pub const PATH_READLINK: u64 = 1 << 15;
    /// `path_rename` source.
    pub const PATH_RENAME_SOURCE: u64 = 1 << 16;
    /// `path_rename` target.
    pub const PATH_RENAME_TARGET: u64 = 1 << 17;
    /// `path_filestat_get`.
    pub const PATH_FILESTAT_GET: u64 = 1 << 18;
    /// `path_filestat_set_size`.
    pub const PATH_FILESTAT_SET_SIZE: u64 = 1 << 19;
    /// `path_filestat_set_times`.
    pub const PATH_FILESTAT_SET_TIMES: u64 = 1 << 20;
    /// `fd_filestat_get`.
    pub const FD_FILESTAT_GET: u64 = 1 << 21;
    /// `fd_filestat_set_size`.
    pub const FD_FILESTAT_SET_SIZE: u64 = 1 << 22;
    /// `fd_filestat_set_times`.
    pub const FD_FILESTAT_SET_TIMES: u64 = 1 << 23;
    /// `path_symlink`.
    pub const PATH_SYMLINK: u64 = 1 << 24;
    /// `path_remove_directory`.
    pub const PATH_REMOVE_DIRECTORY: u64 = 1 << 25;
    /// `path_unlink_file`.
    pub const PATH_UNLINK_FILE: u64 = 1 << 26;
    /// `poll_oneoff` on this fd.
    pub const POLL_FD_READWRITE: u64 = 1 << 27;
    /// `sock_shutdown`.
    pub const SOCK_SHUTDOWN: u64 = 1 << 28;
    /// `sock_accept`.
    pub const SOCK_ACCEPT: u64 = 1 << 29;
    /// Every right.
    pub const ALL: u64 = (1 << 30) - 1;

    /// What a regular file supports.
    pub const REGULAR_FILE: u64 = FD_DATASYNC
        | FD_READ
        | FD_SEEK
        | FD_FDSTAT_SET_FLAGS
        | FD_SYNC
        | FD_TELL
        | FD_WRITE
        | FD_ADVISE
        | FD_ALLOCATE
        | FD_FILESTAT_GET
        | FD_FILESTAT_SET_SIZE
        | FD_FILESTAT_SET_TIMES
        | POLL_FD_READWRITE;
    /// What a terminal, pipe or other stream supports: no seeking. wasi-libc's `isatty` is
    /// "character device without `FD_SEEK`/`FD_TELL`", so this matters.
    pub const STREAM: u64 = REGULAR_FILE & !(FD_SEEK | FD_TELL);
    /// What a directory supports.
    pub const DIRECTORY: u64 = FD_DATASYNC
        | FD_FDSTAT_SET_FLAGS
        | FD_SYNC
        | FD_ADVISE
        | PATH_CREATE_DIRECTORY
        | PATH_CREATE_FILE
        | PATH_LINK_SOURCE
        | PATH_LINK_TARGET
        | PATH_OPEN
        | FD_READDIR
        | PATH_READLINK
        | PATH_RENAME_SOURCE
        | PATH_RENAME_TARGET
        | PATH_FILESTAT_GET
        | PATH_FILESTAT_SET_SIZE
        | PATH_FILESTAT_SET_TIMES
        | FD_FILESTAT_GET
        | FD_FILESTAT_SET_TIMES
        | PATH_SYMLINK
        | PATH_REMOVE_DIRECTORY
        | PATH_UNLINK_FILE;
    /// What a connected socket supports.
    pub const SOCKET: u64 =
        FD_READ | FD_WRITE | FD_FDSTAT_SET_FLAGS | FD_FILESTAT_GET | POLL_FD_READWRITE | SOCK_SHUTDOWN;
    /// What a listening socket supports.
    pub const LISTENER: u64 = FD_FDSTAT_SET_FLAGS | FD_FILESTAT_GET | POLL_FD_READWRITE | SOCK_ACCEPT;
}

/// `whence` values of `fd_seek`.
pub mod whence {
    /// From the start.
    pub const SET: u8 = 0;
    /// From the current position.
    pub const CUR: u8 = 1;
    /// From the end.
    pub const END: u8 = 2;
}

/// `clockid` values.
pub mod clockid {
    /// Wall clock.
    pub const REALTIME: u32 = 0;
    /// Monotonic clock.
    pub const MONOTONIC: u32 = 1;
    /// Process CPU time.
    pub const PROCESS_CPUTIME_ID: u32 = 2;
    /// Thread CPU time.
    pub const THREAD_CPUTIME_ID: u32 = 3;
}

/// `eventtype` values of `poll_oneoff`.
pub mod eventtype {
    /// A clock timeout.
    pub const CLOCK: u8 = 0;
    /// An fd became readable.
    pub const FD_READ: u8 = 1;
    /// An fd became writable.
    pub const FD_WRITE: u8 = 2;
}

/// `subclockflags`: the timeout is an absolute time of the clock.
pub const SUBSCRIPTION_CLOCK_ABSTIME: u16 = 1;

/// `riflags` of `sock_recv`.
pub mod riflags {
    /// Peek without consuming.
    pub const RECV_PEEK: u16 = 1 << 0;
    /// Wait for the whole buffer.
    pub const RECV_WAITALL: u16 = 1 << 1;
}

/// `sdflags` of `sock_shutdown`.
pub mod sdflags {
    /// Shut down reading.
    pub const RD: u8 = 1 << 0;
    /// Shut down writing.
    pub const WR: u8 = 1 << 1;
}

/// `preopentype`: a directory. (kwasm also reports [`PREOPENTYPE_SOCKET`] for `--tcplisten`.)
pub const PREOPENTYPE_DIR: u8 = 0;
/// Not part of preview1: the tag kwasm reports for a preopened listening socket so that guests
/// keep scanning for preopened directories behind it. wasi-libc stops scanning at the first
/// `EBADF` and aborts on any other error, but skips unknown tags; Go skips non-directory tags.
pub const PREOPENTYPE_SOCKET: u8 = 1;

/// Sizes of the ABI structures.
pub mod size {
    /// `iovec` / `ciovec`: `buf: u32, buf_len: u32`.
    pub const IOVEC: u32 = 8;
    /// `fdstat`: `filetype u8 @0, flags u16 @2, rights_base u64 @8, rights_inheriting u64 @16`.
    pub const FDSTAT: u32 = 24;
    /// `filestat`: `dev @0, ino @8, filetype u8 @16, nlink @24, size @32, atim @40, mtim @48,
    /// ctim @56`.
    pub const FILESTAT: u32 = 64;
    /// `prestat`: `tag u8 @0, pr_name_len u32 @4`.
    pub const PRESTAT: u32 = 8;
    /// `dirent` header: `d_next u64 @0, d_ino u64 @8, d_namlen u32 @16, d_type u8 @20`.
    pub const DIRENT: u32 = 24;
    /// `subscription`: `userdata u64 @0, tag u8 @8, clock {id u32 @16, timeout u64 @24,
    /// precision u64 @32, flags u16 @40} | fd_readwrite {fd u32 @16}`.
    pub const SUBSCRIPTION: u32 = 48;
    /// `event`: `userdata u64 @0, error u16 @8, type u8 @10, nbytes u64 @16, flags u16 @24`.
    pub const EVENT: u32 = 32;
}
