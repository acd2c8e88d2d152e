//! The JIT compilers' emergency reserve (module builds with a JIT tier only).
//!
//! Cranelift (and the baseline tier's assembler) allocate with Rust's infallible collections: a
//! failed allocation cannot be reported, it ends in `handle_alloc_error` → panic → `BUG()`. Up
//! to 32 KiB the allocator never fails (`__GFP_NOFAIL`, see "Allocation failure policy" in
//! `kernel.rs`); a compiler's larger blocks (instruction and value vectors of big functions, the
//! emitted code buffer) would. So while a JIT compiles (`Platform::compiling`), a large
//! allocation that kvmalloc refuses is carved from this static pool instead, and once any block
//! of the pool is in use, installing compiled code is refused (`in_use`, checked by the kernel
//! platform's `alloc_exec`): the compile finishes on reserve memory, fails with a clean
//! out-of-memory error, drops its temporaries and so gives the reserve back.
//!
//! The pool is a first-fit free list of extents (coalesced on free, reset when the last block
//! goes): a doomed compile keeps allocating and freeing growing vectors, and what it needs is its
//! peak of live large blocks, not their total (a bump region that reused nothing ran out at
//! 8 MiB). A spin lock guards the list; it is taken only when kvmalloc has already failed, for a
//! few hundred instructions, and nothing inside it allocates or sleeps. (A task in `fpu_mode`
//! notifier can be preempted while holding it; a spinner in bracket mode has preemption off, so
//! with every CPU spinning in bracket mode at once the holder could not run again: a deadlock
//! that needs as many concurrent failing bracket-mode compiles as CPUs plus a preempted holder.)
//! A compile whose live large blocks exceed [`RESERVE_BYTES`] after kvmalloc failed still
//! panics.

use core::alloc::Layout;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Size of the pool. It lives in the module's `.bss` (no allocation that could fail).
pub const RESERVE_BYTES: usize = 8 << 20;
/// Most free extents tracked; a free that would need more is dropped until the pool empties.
const MAX_EXTENTS: usize = 256;

#[repr(C, align(4096))]
struct Pool(UnsafeCell<[u8; RESERVE_BYTES]>);

/// The free list: extents `(offset, len)` sorted by offset, never adjacent (coalesced).
struct FreeList {
    extents: [(usize, usize); MAX_EXTENTS],
    n: usize,
    live: usize,
}

struct Locked(UnsafeCell<FreeList>);

// SAFETY: blocks of the pool are handed out disjointly by the free list, and the free list is
// only touched with `LOCK` held.
unsafe impl Sync for Pool {}
// SAFETY: the free list is only read or written with `LOCK` held.
unsafe impl Sync for Locked {}

static POOL: Pool = Pool(UnsafeCell::new([0; RESERVE_BYTES]));
static LIST: Locked = Locked(UnsafeCell::new(FreeList { extents: [(0, RESERVE_BYTES); MAX_EXTENTS], n: 1, live: 0 }));
static LOCK: AtomicBool = AtomicBool::new(false);
/// Live blocks (a copy of `FreeList::live` readable without the lock).
static LIVE: AtomicUsize = AtomicUsize::new(0);
/// JIT compiles in progress on any CPU.
static COMPILING: AtomicUsize = AtomicUsize::new(0);

fn base() -> usize {
    POOL.0.get() as usize
}

/// Runs `f` on the free list with the lock held.
fn with_list<R>(f: impl FnOnce(&mut FreeList) -> R) -> R {
    while LOCK.compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed).is_err() {
        core::hint::spin_loop();
    }
    // SAFETY: the lock is held, so this is the only reference to the list.
    let r = f(unsafe { &mut *LIST.0.get() });
    LOCK.store(false, Ordering::Release);
    r
}

impl FreeList {
    fn remove(&mut self, i: usize) {
        self.extents.copy_within(i + 1..self.n, i);
        self.n -= 1;
    }

    fn insert(&mut self, i: usize, e: (usize, usize)) -> bool {
        if self.n == MAX_EXTENTS {
            return false;
        }
        self.extents.copy_within(i..self.n, i + 1);
        self.extents[i] = e;
        self.n += 1;
        true
    }

    /// First fit; the alignment padding before the block stays free.
    fn take(&mut self, size: usize, align: usize) -> Option<usize> {
        for i in 0..self.n {
            let (off, len) = self.extents[i];
            let start = off.checked_next_multiple_of(align)?;
            let pad = start - off;
            if pad.checked_add(size).is_none_or(|need| need > len) {
                continue;
            }
            let rest = (start + size, len - pad - size);
            match (pad > 0, rest.1 > 0) {
                (false, false) => self.remove(i),
                (false, true) => self.extents[i] = rest,
                (true, false) => self.extents[i] = (off, pad),
                (true, true) => {
                    if !self.insert(i + 1, rest) {
                        continue;
                    }
                    self.extents[i] = (off, pad);
                }
            }
            self.live += 1;
            return Some(start);
        }
        None
    }

    /// Gives `off..off + len` back, merging it with its neighbours.
    fn give(&mut self, off: usize, len: usize) {
        self.live -= 1;
        if self.live == 0 {
            self.extents[0] = (0, RESERVE_BYTES);
            self.n = 1;
            return;
        }
        let i = self.extents[..self.n].partition_point(|e| e.0 < off);
        let joins_prev = i > 0 && self.extents[i - 1].0 + self.extents[i - 1].1 == off;
        let joins_next = i < self.n && off + len == self.extents[i].0;
        match (joins_prev, joins_next) {
            (true, true) => {
                self.extents[i - 1].1 += len + self.extents[i].1;
                self.remove(i);
            }
            (true, false) => self.extents[i - 1].1 += len,
            (false, true) => self.extents[i] = (off, len + self.extents[i].1),
            (false, false) => {
                // No room to track it: lost until the pool empties.
                let _ = self.insert(i, (off, len));
            }
        }
    }

    /// Takes `extra` bytes from the free extent that starts at `end`, if it has them.
    fn extend(&mut self, end: usize, extra: usize) -> bool {
        let i = self.extents[..self.n].partition_point(|e| e.0 < end);
        if i == self.n || self.extents[i].0 != end || self.extents[i].1 < extra {
            return false;
        }
        if self.extents[i].1 == extra {
            self.remove(i);
        } else {
            self.extents[i] = (end + extra, self.extents[i].1 - extra);
        }
        true
    }
}

/// A JIT compile starts (`true`) or ends (`false`).
pub fn compiling(active: bool) {
    if active {
        COMPILING.fetch_add(1, Ordering::Relaxed);
    } else {
        COMPILING.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Whether any block of the pool is in use (then no compiled code is installed).
pub fn in_use() -> bool {
    LIVE.load(Ordering::Acquire) != 0
}

/// A block for `layout` from the pool, if a JIT compile is running and it fits; else null.
pub fn carve(layout: Layout, zero: bool) -> *mut u8 {
    if COMPILING.load(Ordering::Relaxed) == 0 {
        return core::ptr::null_mut();
    }
    // Offsets are aligned as addresses: the pool is page aligned, layouts ask for at most a page.
    let Some(start) = with_list(|l| {
        let r = l.take(layout.size(), layout.align());
        LIVE.store(l.live, Ordering::Release);
        r
    }) else {
        return core::ptr::null_mut();
    };
    let p = (base() + start) as *mut u8;
    if zero {
        // SAFETY: `start..start + size` lies inside the pool and was just handed to us alone.
        unsafe { core::ptr::write_bytes(p, 0, layout.size()) };
    }
    p
}

/// Whether `ptr` is a block of the pool.
pub fn owns(ptr: *mut u8) -> bool {
    let p = ptr as usize;
    p >= base() && p < base() + RESERVE_BYTES
}

/// Frees the pool block `ptr` of `size` bytes.
pub fn release(ptr: *mut u8, size: usize) {
    with_list(|l| {
        l.give(ptr as usize - base(), size);
        LIVE.store(l.live, Ordering::Release);
    });
}

/// Grows the pool block `ptr` from `old` to `new` bytes in place if the free extent right after
/// it has room: what a growing vector asks for again and again.
pub fn grow_in_place(ptr: *mut u8, old: usize, new: usize) -> bool {
    if new <= old {
        return false;
    }
    let end = ptr as usize - base() + old;
    with_list(|l| l.extend(end, new - old))
}
