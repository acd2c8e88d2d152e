//! Test support: a platform that only provides executable memory.

use kwasm_runtime::platform::{Errno, ExecRegion, Platform};

/// A platform with nothing but executable memory (mmap/mprotect), for compiled tiers.
pub struct ExecOnly;

/// Releases a mapping made by [`ExecOnly::alloc_exec`].
///
/// # Safety
/// `ptr..ptr + len` must be such a mapping, unused afterwards.
unsafe fn unmap(ptr: *mut u8, len: usize) {
    // SAFETY: the caller passes a mapping made by `alloc_exec` that nothing uses any more.
    unsafe { libc::munmap(ptr.cast(), len) };
}

impl Platform for ExecOnly {
    fn alloc_exec(&self, len: usize) -> Result<ExecRegion, Errno> {
        let len = len.max(1).next_multiple_of(4096);
        // SAFETY: a fresh anonymous mapping touches no existing memory.
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
        assert_ne!(p, libc::MAP_FAILED, "mmap failed");
        Ok(ExecRegion { ptr: p.cast(), len, executable: false, release: unmap })
    }

    fn protect_exec(&self, region: &mut ExecRegion) -> Result<(), Errno> {
        // SAFETY: the region is our own mapping of `len` bytes.
        let r = unsafe { libc::mprotect(region.ptr.cast(), region.len, libc::PROT_READ | libc::PROT_EXEC) };
        assert_eq!(r, 0, "mprotect failed");
        region.executable = true;
        Ok(())
    }
}
