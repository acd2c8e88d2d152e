//! WASI preview1 errno values (`wasi_snapshot_preview1` `errno` enum), as returned by every WASI
//! function. [`crate::platform::Platform`] methods report failures with these same numbers so that
//! they can be handed to the guest unchanged.

/// No error occurred.
pub const SUCCESS: u16 = 0;
/// Argument list too long (`E2BIG`).
pub const TOOBIG: u16 = 1;
/// Permission denied.
pub const ACCES: u16 = 2;
/// Address in use.
pub const ADDRINUSE: u16 = 3;
/// Address not available.
pub const ADDRNOTAVAIL: u16 = 4;
/// Address family not supported.
pub const AFNOSUPPORT: u16 = 5;
/// Resource unavailable, or operation would block.
pub const AGAIN: u16 = 6;
/// Connection already in progress.
pub const ALREADY: u16 = 7;
/// Bad file descriptor.
pub const BADF: u16 = 8;
/// Bad message.
pub const BADMSG: u16 = 9;
/// Device or resource busy.
pub const BUSY: u16 = 10;
/// Operation canceled.
pub const CANCELED: u16 = 11;
/// No child processes.
pub const CHILD: u16 = 12;
/// Connection aborted.
pub const CONNABORTED: u16 = 13;
/// Connection refused.
pub const CONNREFUSED: u16 = 14;
/// Connection reset.
pub const CONNRESET: u16 = 15;
/// Resource deadlock would occur.
pub const DEADLK: u16 = 16;
/// Destination address required.
pub const DESTADDRREQ: u16 = 17;
/// Mathematics argument out of domain of function.
pub const DOM: u16 = 18;
/// Reserved (disk quota exceeded).
pub const DQUOT: u16 = 19;
/// File exists.
pub const EXIST: u16 = 20;
/// Bad address: a guest pointer lies outside linear memory.
pub const FAULT: u16 = 21;
/// File too large.
pub const FBIG: u16 = 22;
/// Host is unreachable.
pub const HOSTUNREACH: u16 = 23;
/// Identifier removed.
pub const IDRM: u16 = 24;
/// Illegal byte sequence (for example a path that is not UTF-8).
pub const ILSEQ: u16 = 25;
/// Operation in progress.
pub const INPROGRESS: u16 = 26;
/// Interrupted function.
pub const INTR: u16 = 27;
/// Invalid argument.
pub const INVAL: u16 = 28;
/// I/O error.
pub const IO: u16 = 29;
/// Socket is connected.
pub const ISCONN: u16 = 30;
/// Is a directory.
pub const ISDIR: u16 = 31;
/// Too many levels of symbolic links.
pub const LOOP: u16 = 32;
/// File descriptor value too large.
pub const MFILE: u16 = 33;
/// Too many links.
pub const MLINK: u16 = 34;
/// Message too large.
pub const MSGSIZE: u16 = 35;
/// Reserved (multihop attempted).
pub const MULTIHOP: u16 = 36;
/// Filename too long.
pub const NAMETOOLONG: u16 = 37;
/// Network is down.
pub const NETDOWN: u16 = 38;
/// Connection aborted by network.
pub const NETRESET: u16 = 39;
/// Network unreachable.
pub const NETUNREACH: u16 = 40;
/// Too many files open in system.
pub const NFILE: u16 = 41;
/// No buffer space available.
pub const NOBUFS: u16 = 42;
/// No such device.
pub const NODEV: u16 = 43;
/// No such file or directory.
pub const NOENT: u16 = 44;
/// Executable file format error.
pub const NOEXEC: u16 = 45;
/// No locks available.
pub const NOLCK: u16 = 46;
/// Reserved (link has been severed).
pub const NOLINK: u16 = 47;
/// Not enough space.
pub const NOMEM: u16 = 48;
/// No message of the desired type.
pub const NOMSG: u16 = 49;
/// Protocol not available.
pub const NOPROTOOPT: u16 = 50;
/// No space left on device.
pub const NOSPC: u16 = 51;
/// Function not supported.
pub const NOSYS: u16 = 52;
/// The socket is not connected.
pub const NOTCONN: u16 = 53;
/// Not a directory or a symbolic link to a directory.
pub const NOTDIR: u16 = 54;
/// Directory not empty.
pub const NOTEMPTY: u16 = 55;
/// State not recoverable.
pub const NOTRECOVERABLE: u16 = 56;
/// Not a socket.
pub const NOTSOCK: u16 = 57;
/// Not supported, or operation not supported on socket.
pub const NOTSUP: u16 = 58;
/// Inappropriate I/O control operation.
pub const NOTTY: u16 = 59;
/// No such device or address.
pub const NXIO: u16 = 60;
/// Value too large to be stored in data type.
pub const OVERFLOW: u16 = 61;
/// Previous owner died.
pub const OWNERDEAD: u16 = 62;
/// Operation not permitted.
pub const PERM: u16 = 63;
/// Broken pipe.
pub const PIPE: u16 = 64;
/// Protocol error.
pub const PROTO: u16 = 65;
/// Protocol not supported.
pub const PROTONOSUPPORT: u16 = 66;
/// Protocol wrong type for socket.
pub const PROTOTYPE: u16 = 67;
/// Result too large.
pub const RANGE: u16 = 68;
/// Read-only file system.
pub const ROFS: u16 = 69;
/// Invalid seek.
pub const SPIPE: u16 = 70;
/// No such process.
pub const SRCH: u16 = 71;
/// Reserved (stale file handle).
pub const STALE: u16 = 72;
/// Connection timed out.
pub const TIMEDOUT: u16 = 73;
/// Text file busy.
pub const TXTBSY: u16 = 74;
/// Cross-device link.
pub const XDEV: u16 = 75;
/// Capabilities insufficient: kwasm uses it for every attempt to leave a preopened directory.
pub const NOTCAPABLE: u16 = 76;

/// The symbolic name of an errno value (`"NOENT"`), for diagnostics; `"?"` if unknown.
pub fn name(errno: u16) -> &'static str {
    const NAMES: [&str; 77] = [
        "SUCCESS",
        "2BIG",
        "ACCES",
        "ADDRINUSE",
        "ADDRNOTAVAIL",
        "AFNOSUPPORT",
        "AGAIN",
        "ALREADY",
        "BADF",
        "BADMSG",
        "BUSY",
        "CANCELED",
        "CHILD",
        "CONNABORTED",
        "CONNREFUSED",
        "CONNRESET",
        "DEADLK",
        "DESTADDRREQ",
        "DOM",
        "DQUOT",
        "EXIST",
        "FAULT",
        "FBIG",
        "HOSTUNREACH",
        "IDRM",
        "ILSEQ",
        "INPROGRESS",
        "INTR",
        "INVAL",
        "IO",
        "ISCONN",
        "ISDIR",
        "LOOP",
        "MFILE",
        "MLINK",
        "MSGSIZE",
        "MULTIHOP",
        "NAMETOOLONG",
        "NETDOWN",
        "NETRESET",
        "NETUNREACH",
        "NFILE",
        "NOBUFS",
        "NODEV",
        "NOENT",
        "NOEXEC",
        "NOLCK",
        "NOLINK",
        "NOMEM",
        "NOMSG",
        "NOPROTOOPT",
        "NOSPC",
        "NOSYS",
        "NOTCONN",
        "NOTDIR",
        "NOTEMPTY",
        "NOTRECOVERABLE",
        "NOTSOCK",
        "NOTSUP",
        "NOTTY",
        "NXIO",
        "OVERFLOW",
        "OWNERDEAD",
        "PERM",
        "PIPE",
        "PROTO",
        "PROTONOSUPPORT",
        "PROTOTYPE",
        "RANGE",
        "ROFS",
        "SPIPE",
        "SRCH",
        "STALE",
        "TIMEDOUT",
        "TXTBSY",
        "XDEV",
        "NOTCAPABLE",
    ];
    NAMES.get(errno as usize).copied().unwrap_or("?")
}

/// Translates a Linux errno number (x86-64 and the generic table, as the kernel returns them
/// negated) into the WASI errno with the same meaning; unknown numbers become `IO`. The kernel
/// module uses it for the results of kernel calls; it also knows the kernel-internal restart
/// codes (512-516: interrupted) and `ENOTSUPP` (524).
pub fn from_linux(e: i32) -> u16 {
    match e {
        1 => PERM,
        2 => NOENT,
        3 => SRCH,
        4 | 512..=516 => INTR,
        5 => IO,
        6 => NXIO,
        7 => TOOBIG,
        8 => NOEXEC,
        9 => BADF,
        10 => CHILD,
        11 => AGAIN,
        12 => NOMEM,
        13 => ACCES,
        14 => FAULT,
        16 => BUSY,
        17 => EXIST,
        18 => XDEV,
        19 => NODEV,
        20 => NOTDIR,
        21 => ISDIR,
        22 => INVAL,
        23 => NFILE,
        24 => MFILE,
        25 => NOTTY,
        26 => TXTBSY,
        27 => FBIG,
        28 => NOSPC,
        29 => SPIPE,
        30 => ROFS,
        31 => MLINK,
        32 => PIPE,
        33 => DOM,
        34 => RANGE,
        35 => DEADLK,
        36 => NAMETOOLONG,
        37 => NOLCK,
        38 => NOSYS,
        39 => NOTEMPTY,
        40 => LOOP,
        42 => NOMSG,
        43 => IDRM,
        67 => NOLINK,
        71 => PROTO,
        72 => MULTIHOP,
        74 => BADMSG,
        75 => OVERFLOW,
        84 => ILSEQ,
        88 => NOTSOCK,
        89 => DESTADDRREQ,
        90 => MSGSIZE,
        91 => PROTOTYPE,
        92 => NOPROTOOPT,
        93 => PROTONOSUPPORT,
        95 | 524 => NOTSUP,
        97 => AFNOSUPPORT,
        98 => ADDRINUSE,
        99 => ADDRNOTAVAIL,
        100 => NETDOWN,
        101 => NETUNREACH,
        102 => NETRESET,
        103 => CONNABORTED,
        104 => CONNRESET,
        105 => NOBUFS,
        106 => ISCONN,
        107 => NOTCONN,
        110 => TIMEDOUT,
        111 => CONNREFUSED,
        113 => HOSTUNREACH,
        114 => ALREADY,
        115 => INPROGRESS,
        116 => STALE,
        122 => DQUOT,
        125 => CANCELED,
        130 => OWNERDEAD,
        131 => NOTRECOVERABLE,
        _ => IO,
    }
}
