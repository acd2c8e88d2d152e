//! The bytes of a linear memory: a heap vector (explicit bounds checks) or a guarded
//! reservation (`bounds_mode = guard`: the memory sits at the start of [`GUARD_RESERVATION`]
//! bytes of address space whose inaccessible rest turns any out-of-bounds access by a 32-bit
//! index into a fault, so compiled code may skip the check).

use alloc::vec::Vec;
use core::ops::{Deref, DerefMut};

use crate::platform::GuardedRegion;

/// Address space reserved per guarded memory: 8 GiB. A 32-bit index (< 4 GiB) plus a static
/// offset and access size of at most [`GUARD_MAX_STATIC_END`] ends inside it.
pub const GUARD_RESERVATION: u64 = 8 << 30;

/// The largest `offset + access size` that compiled code may leave to the guard region.
pub const GUARD_MAX_STATIC_END: u64 = GUARD_RESERVATION - (1 << 32);

/// Storage of a linear memory; dereferences to its accessible bytes.
#[derive(Debug)]
pub enum MemoryData {
    /// A heap vector: the base moves when it grows; compiled code checks every access.
    Heap(Vec<u8>),
    /// A guarded reservation: the base never moves; accesses past the end fault.
    Guarded(GuardedRegion),
}

impl MemoryData {
    /// Whether accesses past the end fault (then the base address never changes).
    pub fn is_guarded(&self) -> bool {
        matches!(self, MemoryData::Guarded(_))
    }

    /// Grows to `new_len` bytes (zero-filled); `false` if the memory cannot be had.
    pub fn grow_to(&mut self, new_len: usize) -> bool {
        match self {
            MemoryData::Heap(v) => {
                let Some(extra) = new_len.checked_sub(v.len()) else { return false };
                if v.try_reserve_exact(extra).is_err() {
                    return false;
                }
                v.resize(new_len, 0);
                true
            }
            MemoryData::Guarded(r) => {
                if new_len < r.len || new_len > r.reserved {
                    return false;
                }
                if new_len == r.len {
                    return true;
                }
                // SAFETY: `r.len..new_len` lies inside the reservation the platform gave us.
                if unsafe { (r.grow)(r.ptr, r.len, new_len) }.is_err() {
                    return false;
                }
                r.len = new_len;
                true
            }
        }
    }
}

impl Deref for MemoryData {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            MemoryData::Heap(v) => v,
            // SAFETY: the first `len` bytes of the reservation are accessible memory owned by
            // the region, which lives as long as `self`.
            MemoryData::Guarded(r) => unsafe { core::slice::from_raw_parts(r.ptr, r.len) },
        }
    }
}

impl DerefMut for MemoryData {
    fn deref_mut(&mut self) -> &mut [u8] {
        match self {
            MemoryData::Heap(v) => v,
            // SAFETY: as in `deref`, and `&mut self` makes the access exclusive.
            MemoryData::Guarded(r) => unsafe { core::slice::from_raw_parts_mut(r.ptr, r.len) },
        }
    }
}
