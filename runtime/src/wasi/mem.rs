//! Bounds-checked access to the caller's linear memory. Every guest pointer goes through here, so
//! a bad pointer becomes `EFAULT` for the guest instead of a trap or a host panic.

use alloc::vec::Vec;
use core::ops::Range;

use super::abi::size;
use super::errno;
use crate::platform::Errno;

/// The caller's linear memory (empty if the caller has none: then every pointer faults).
pub(crate) struct Mem<'a> {
    bytes: &'a mut [u8],
}

impl<'a> Mem<'a> {
    /// Wraps memory bytes.
    pub(crate) fn new(bytes: &'a mut [u8]) -> Self {
        Mem { bytes }
    }

    /// The byte range `ptr..ptr+len`, or `EFAULT` if any of it is outside memory.
    pub(crate) fn range(&self, ptr: u32, len: u32) -> Result<Range<usize>, Errno> {
        let start = ptr as usize;
        let end = start.checked_add(len as usize).ok_or(errno::FAULT)?;
        if end > self.bytes.len() {
            return Err(errno::FAULT);
        }
        Ok(start..end)
    }

    /// Checks that `count` records of `record_size` bytes starting at `ptr` lie in memory.
    pub(crate) fn check_array(&self, ptr: u32, count: u32, record_size: u32) -> Result<(), Errno> {
        let len = u32::try_from(u64::from(count) * u64::from(record_size)).map_err(|_| errno::FAULT)?;
        self.range(ptr, len).map(|_| ())
    }

    /// The bytes at `ptr..ptr+len`.
    pub(crate) fn slice(&self, ptr: u32, len: u32) -> Result<&[u8], Errno> {
        let r = self.range(ptr, len)?;
        Ok(&self.bytes[r])
    }

    /// The bytes at `ptr..ptr+len`, writable.
    pub(crate) fn slice_mut(&mut self, ptr: u32, len: u32) -> Result<&mut [u8], Errno> {
        let r = self.range(ptr, len)?;
        Ok(&mut self.bytes[r])
    }

    /// A UTF-8 string at `ptr..ptr+len` (`EILSEQ` if it is not UTF-8, as wasmtime does).
    pub(crate) fn str(&self, ptr: u32, len: u32) -> Result<&str, Errno> {
        core::str::from_utf8(self.slice(ptr, len)?).map_err(|_| errno::ILSEQ)
    }

    /// Reads `N` bytes at `ptr` (structures are read whole, then decoded, so that no field
    /// address is ever computed by adding to an unchecked pointer).
    pub(crate) fn array<const N: usize>(&self, ptr: u32) -> Result<[u8; N], Errno> {
        let s = self.slice(ptr, N as u32)?;
        let mut out = [0; N];
        out.copy_from_slice(s);
        Ok(out)
    }

    /// Writes bytes at `ptr`.
    pub(crate) fn write(&mut self, ptr: u32, data: &[u8]) -> Result<(), Errno> {
        let len = u32::try_from(data.len()).map_err(|_| errno::FAULT)?;
        self.slice_mut(ptr, len)?.copy_from_slice(data);
        Ok(())
    }

    /// Writes a byte.
    pub(crate) fn put_u8(&mut self, ptr: u32, v: u8) -> Result<(), Errno> {
        self.write(ptr, &[v])
    }

    /// Writes a little-endian u16.
    pub(crate) fn put_u16(&mut self, ptr: u32, v: u16) -> Result<(), Errno> {
        self.write(ptr, &v.to_le_bytes())
    }

    /// Writes a little-endian u32.
    pub(crate) fn put_u32(&mut self, ptr: u32, v: u32) -> Result<(), Errno> {
        self.write(ptr, &v.to_le_bytes())
    }

    /// Writes a little-endian u64.
    pub(crate) fn put_u64(&mut self, ptr: u32, v: u64) -> Result<(), Errno> {
        self.write(ptr, &v.to_le_bytes())
    }

    /// Decodes an `iovec` array into `(ptr, len)` pairs, checking that each buffer lies in memory
    /// (so a bad iovec faults before any I/O happens).
    pub(crate) fn iovecs(&self, iovs: u32, count: u32) -> Result<Vec<(u32, u32)>, Errno> {
        self.check_array(iovs, count, size::IOVEC)?;
        let mut out = Vec::new();
        out.try_reserve_exact(count as usize).map_err(|_| errno::NOMEM)?;
        for i in 0..count {
            // In bounds (checked above), so this cannot wrap.
            let rec: [u8; 8] = self.array(iovs.wrapping_add(i * size::IOVEC))?;
            let ptr = u32::from_le_bytes([rec[0], rec[1], rec[2], rec[3]]);
            let len = u32::from_le_bytes([rec[4], rec[5], rec[6], rec[7]]);
            self.range(ptr, len)?;
            out.push((ptr, len));
        }
        Ok(out)
    }
}

/// Reads a little-endian u16 at `off` of a structure read with [`Mem::array`].
pub(crate) fn get_u16(b: &[u8], off: usize) -> u16 {
    u16::from_le_bytes([b[off], b[off + 1]])
}

/// Reads a little-endian u32 at `off` of a structure read with [`Mem::array`].
pub(crate) fn get_u32(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

/// Reads a little-endian u64 at `off` of a structure read with [`Mem::array`].
pub(crate) fn get_u64(b: &[u8], off: usize) -> u64 {
    let mut a = [0; 8];
    a.copy_from_slice(&b[off..off + 8]);
    u64::from_le_bytes(a)
}

/// Stores a little-endian u16 at `off` of a structure about to be written with [`Mem::write`].
pub(crate) fn set_u16(b: &mut [u8], off: usize, v: u16) {
    b[off..off + 2].copy_from_slice(&v.to_le_bytes());
}

/// Stores a little-endian u32 at `off` of a structure about to be written with [`Mem::write`].
pub(crate) fn set_u32(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_le_bytes());
}

/// Stores a little-endian u64 at `off` of a structure about to be written with [`Mem::write`].
pub(crate) fn set_u64(b: &mut [u8], off: usize, v: u64) {
    b[off..off + 8].copy_from_slice(&v.to_le_bytes());
}
