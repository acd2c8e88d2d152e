//! The guest's file descriptor table: WASI fd numbers mapped to host handles plus the per-fd
//! state WASI needs (kind, rights mask, flags, preopen name, directory listing cache).

use alloc::string::String;
use alloc::vec::Vec;

use super::abi::{filetype, rights};
use super::errno;
use crate::platform::{DirEntry, Errno, FileKind, HostHandle, Platform};

/// Most fds a guest may have open at once. Every fd holds a host resource, and in the kernel
/// those are not free, so a runaway guest gets `EMFILE` instead of exhausting the host.
pub const MAX_FDS: usize = 4096;

/// What kind of object an fd refers to (decides which operations make sense).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FdKind {
    /// Standard input/output/error as given by the embedder.
    Stdio,
    /// A file (or anything not covered below) opened with `path_open`.
    File,
    /// A directory: the base of `path_*` calls and `fd_readdir`.
    Dir,
    /// A connected stream socket.
    Socket,
    /// A listening socket (`--tcplisten`).
    Listener,
}

/// One open fd.
#[derive(Debug)]
pub(crate) struct FdEntry {
    /// The host object.
    pub handle: HostHandle,
    /// What it is.
    pub kind: FdKind,
    /// Rights the guest may still use (narrowed by `fd_fdstat_set_rights`); reported rights are
    /// this mask intersected with what the object supports.
    pub rights_base: u64,
    /// Rights handed on to fds opened through this one.
    pub rights_inheriting: u64,
    /// `fdflags` (append, non-blocking) as last set.
    pub flags: u16,
    /// The guest path of a preopened directory.
    pub preopen: Option<String>,
    /// Whether closing the fd closes the host handle (not for the embedder's stdio handles).
    pub owned: bool,
    /// Directory entries read at cookie 0 and served to following `fd_readdir` calls.
    pub dir_cache: Vec<DirEntry>,
}

impl FdEntry {
    /// A new entry with all rights.
    pub(crate) fn new(handle: HostHandle, kind: FdKind, owned: bool) -> FdEntry {
        FdEntry {
            handle,
            kind,
            rights_base: rights::ALL,
            rights_inheriting: rights::ALL,
            flags: 0,
            preopen: None,
            owned,
            dir_cache: Vec::new(),
        }
    }

    /// The WASI filetype, asking the platform (stdio may be a terminal, a pipe or a file) and
    /// falling back to what the kind implies when the platform cannot tell.
    pub(crate) fn filetype(&self, platform: &mut dyn Platform) -> u8 {
        match platform.stat(self.handle).ok().and_then(|s| s.kind) {
            Some(kind) => filetype_of(kind),
            None => match self.kind {
                FdKind::Stdio => filetype::CHARACTER_DEVICE,
                FdKind::Dir => filetype::DIRECTORY,
                FdKind::Socket | FdKind::Listener => filetype::SOCKET_STREAM,
                FdKind::File => filetype::UNKNOWN,
            },
        }
    }

    /// The `(base, inheriting)` rights to report for an object of `filetype`.
    pub(crate) fn rights(&self, filetype: u8) -> (u64, u64) {
        let (base, inheriting) = match (self.kind, filetype) {
            (FdKind::Listener, _) => (rights::LISTENER, 0),
            (FdKind::Socket, _) => (rights::SOCKET, 0),
            (_, filetype::DIRECTORY) => (rights::DIRECTORY, rights::DIRECTORY | rights::REGULAR_FILE),
            (_, filetype::REGULAR_FILE | filetype::BLOCK_DEVICE) => (rights::REGULAR_FILE, 0),
            _ => (rights::STREAM, 0),
        };
        (base & self.rights_base, inheriting & self.rights_inheriting)
    }
}

/// The WASI filetype number of a platform file kind.
pub(crate) fn filetype_of(kind: FileKind) -> u8 {
    match kind {
        FileKind::Unknown => filetype::UNKNOWN,
        FileKind::BlockDevice => filetype::BLOCK_DEVICE,
        FileKind::CharDevice => filetype::CHARACTER_DEVICE,
        FileKind::Directory => filetype::DIRECTORY,
        FileKind::Regular => filetype::REGULAR_FILE,
        FileKind::SocketDgram => filetype::SOCKET_DGRAM,
        FileKind::SocketStream => filetype::SOCKET_STREAM,
        FileKind::Symlink => filetype::SYMBOLIC_LINK,
    }
}

/// The fd table.
#[derive(Debug, Default)]
pub(crate) struct FdTable {
    slots: Vec<Option<FdEntry>>,
}

impl FdTable {
    /// The entry of `fd`, or `EBADF`.
    pub(crate) fn get(&self, fd: u32) -> Result<&FdEntry, Errno> {
        self.slots.get(fd as usize).and_then(Option::as_ref).ok_or(errno::BADF)
    }

    /// The entry of `fd`, writable, or `EBADF`.
    pub(crate) fn get_mut(&mut self, fd: u32) -> Result<&mut FdEntry, Errno> {
        self.slots.get_mut(fd as usize).and_then(Option::as_mut).ok_or(errno::BADF)
    }

    /// The entry of `fd` if it is a directory (`EBADF` if closed, `ENOTDIR` otherwise).
    pub(crate) fn dir(&self, fd: u32) -> Result<&FdEntry, Errno> {
        let e = self.get(fd)?;
        if e.kind == FdKind::Dir {
            Ok(e)
        } else {
            Err(errno::NOTDIR)
        }
    }

    /// Puts `entry` at exactly `fd` (used while building the context); the slot must be free.
    pub(crate) fn set(&mut self, fd: u32, entry: FdEntry) {
        let i = fd as usize;
        if self.slots.len() <= i {
            self.slots.resize_with(i + 1, || None);
        }
        self.slots[i] = Some(entry);
    }

    /// Puts `entry` at the lowest free fd (POSIX habit) and returns that fd.
    pub(crate) fn insert(&mut self, entry: FdEntry) -> Result<u32, Errno> {
        if let Some(i) = self.slots.iter().position(Option::is_none) {
            self.slots[i] = Some(entry);
            return Ok(i as u32);
        }
        if self.slots.len() >= MAX_FDS {
            return Err(errno::MFILE);
        }
        self.slots.try_reserve(1).map_err(|_| errno::NOMEM)?;
        self.slots.push(Some(entry));
        Ok((self.slots.len() - 1) as u32)
    }

    /// Removes `fd` from the table, returning its entry.
    pub(crate) fn remove(&mut self, fd: u32) -> Result<FdEntry, Errno> {
        let entry = self.slots.get_mut(fd as usize).and_then(Option::take).ok_or(errno::BADF)?;
        // Trailing free slots would only slow down `insert`.
        while matches!(self.slots.last(), Some(None)) {
            self.slots.pop();
        }
        Ok(entry)
    }

    /// Moves `from` to `to`, returning what was at `to` (for the caller to close).
    pub(crate) fn renumber(&mut self, from: u32, to: u32) -> Result<Option<FdEntry>, Errno> {
        self.get(from)?;
        if to as usize >= MAX_FDS {
            return Err(errno::BADF);
        }
        if from == to {
            return Ok(None);
        }
        let entry = self.remove(from)?;
        let i = to as usize;
        if self.slots.len() <= i {
            self.slots.resize_with(i + 1, || None);
        }
        Ok(self.slots[i].replace(entry))
    }

    /// Takes every entry out of the table.
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = FdEntry> + '_ {
        self.slots.drain(..).flatten()
    }
}
