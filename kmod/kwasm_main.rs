// SPDX-License-Identifier: GPL-2.0

//! kwasm.ko: the kwasm WebAssembly runtime inside the Linux kernel.
//!
//! Three parts are linked into one module (see `Kbuild`):
//! - this file: the Rust-for-Linux module (`module!`), module init/exit and the ioctl handler;
//! - `kwasm_glue.c`: what 6.12 has no Rust bindings for (misc device, sysfs, module parameter)
//!   and the allocator/panic helpers of the runtime;
//! - `rt.o`: the kwasm runtime + interpreter, a `no_std` staticlib built by cargo from `rt/`
//!   (every symbol but its `kwasm_rt_*` C API made local).

use kernel::prelude::*;
use kernel::uaccess::UserSlice;

module! {
    type: Kwasm,
    name: "kwasm",
    author: "kwasm project",
    description: "WebAssembly runtime in the kernel: /dev/kwasm, knobs in /sys/kernel/kwasm",
    license: "GPL",
}

extern "C" {
    fn kwasm_glue_init() -> kernel::ffi::c_int;
    fn kwasm_glue_exit();
    fn kwasm_glue_rt_ioctl(
        inst: *mut *mut kernel::ffi::c_void,
        cmd: u32,
        buf: *mut u8,
        len: usize,
    ) -> kernel::ffi::c_long;
}

struct Kwasm;

impl kernel::Module for Kwasm {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        // SAFETY: called once, at module init, before anything else of the module runs.
        let err = unsafe { kwasm_glue_init() };
        if err < 0 {
            return Err(Error::from_errno(err));
        }
        Ok(Kwasm)
    }
}

impl Drop for Kwasm {
    fn drop(&mut self) {
        // SAFETY: init succeeded (else there is no `Kwasm` to drop); called once at unload.
        unsafe { kwasm_glue_exit() };
    }
}

/// Largest ioctl argument struct we copy (the 14-bit size field allows 16 KiB; ours are small).
const MAX_IOCTL_ARG: usize = 256;
const IOC_MAGIC: u32 = 0xB9;

/// `ioctl` on /dev/kwasm (called from `kwasm_glue.c`).
///
/// This side does the user-memory work: it decodes direction and size from `cmd`, copies the
/// argument struct in (`copy_from_user`), lets the runtime (`kwasm_rt_ioctl`, which knows the ABI
/// types of `runtime/src/kabi.rs`, in rt.o or rt_soft.o: `kwasm_glue_rt_ioctl` picks one by
/// `fpu_mode` and opens the FPU section) handle it on a kernel buffer, and copies the
/// result out. Unknown commands get `-ENOTTY`, bad pointers `-EFAULT`.
#[no_mangle]
pub extern "C" fn kwasm_rs_ioctl(inst: *mut *mut kernel::ffi::c_void, cmd: u32, arg: usize) -> kernel::ffi::c_long {
    match ioctl(inst, cmd, arg) {
        Ok(v) => v,
        Err(e) => e.to_errno() as kernel::ffi::c_long,
    }
}

fn ioctl(inst: *mut *mut kernel::ffi::c_void, cmd: u32, arg: usize) -> Result<kernel::ffi::c_long> {
    let dir = cmd >> 30;
    let size = ((cmd >> 16) & 0x3fff) as usize;
    if (cmd >> 8) & 0xff != IOC_MAGIC || size > MAX_IOCTL_ARG {
        return Err(ENOTTY);
    }
    let mut buf = [0u8; MAX_IOCTL_ARG];
    let data = &mut buf[..size];
    let (mut reader, mut writer) = UserSlice::new(arg, size).reader_writer();
    if dir & 1 != 0 {
        reader.read_slice(data)?;
    }
    // SAFETY: `data` is a valid, writable kernel buffer of `size` bytes for the whole call; the
    // runtime reads and writes at most `size` bytes of it. `inst` is the open file's instance
    // slot, valid and exclusively ours while the glue holds the file's lock.
    let ret = unsafe { kwasm_glue_rt_ioctl(inst, cmd, data.as_mut_ptr(), size) };
    if ret < 0 {
        return Err(Error::from_errno(ret as kernel::ffi::c_int));
    }
    if dir & 2 != 0 {
        writer.write_slice(data)?;
    }
    Ok(ret)
}
