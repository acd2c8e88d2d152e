//! Trampolines between the embedder's C convention, the runtime and the shared convention.

use dynasm::dynasm;
use kwasm_runtime::libcalls;
use kwasm_runtime::vmctx::{SLOT_CODE, SLOT_VMCTX};
use kwasm_runtime::{Error, FuncType};

use crate::abi::{Loc, Sig, Ty};
use crate::emit::Emitter;

macro_rules! asm {
    ($ops:expr ; $($t:tt)*) => {
        dynasm!($ops ; .arch x64 ; $($t)*)
    };
}

/// The entry trampoline for functions of type `ty`:
/// `extern "sysv64" fn(slot: *const FuncSlot, buf: *mut u64)`, one 64-bit slot per argument
/// in and per result out (i32/f32 zero-extended).
pub fn entry<E: Emitter>(ops: &mut E, ty: &FuncType) -> Result<(), Error> {
    let sig = Sig::new(ty)?;
    let extra = (sig.ret_area + sig.stack_args) as i32;
    asm!(ops ; push rbp ; mov rbp, rsp ; push rbx ; push r12 ; mov rbx, rsi);
    if extra > 0 {
        asm!(ops ; sub rsp, extra);
    }
    for (i, loc) in sig.args.iter().enumerate() {
        if let Loc::Stack(off) = *loc {
            let (src, off) = (8 * i as i32, off as i32);
            asm!(ops ; mov rax, [rbx + src] ; mov [rsp + off], rax);
        }
    }
    asm!(ops ; mov r11, [rdi + SLOT_CODE] ; mov r10, [rdi + SLOT_VMCTX]);
    for (i, loc) in sig.args.iter().enumerate() {
        let src = 8 * i as i32;
        match *loc {
            Loc::Gpr(r) => asm!(ops ; mov Rq(r), [rbx + src]),
            Loc::Xmm(x) => asm!(ops ; movsd Rx(x), QWORD [rbx + src]),
            Loc::Stack(_) => {}
        }
    }
    let (cv, kv) = (sig.callee_vmctx, sig.caller_vmctx);
    asm!(ops ; mov Rq(cv), r10 ; mov Rq(kv), r10);
    if sig.sret {
        let sa = sig.stack_args as i32;
        asm!(ops ; lea rdi, [rsp + sa]);
    }
    asm!(ops ; call r11);
    for (i, loc) in sig.rets.iter().enumerate() {
        let dst = 8 * i as i32;
        let t = sig.results[i];
        match (*loc, t) {
            (Loc::Gpr(r), Ty::I32) => asm!(ops ; mov Rd(r), Rd(r) ; mov [rbx + dst], Rq(r)),
            (Loc::Gpr(r), _) => asm!(ops ; mov [rbx + dst], Rq(r)),
            (Loc::Xmm(x), Ty::F32) => {
                asm!(ops ; movss DWORD [rbx + dst], Rx(x) ; mov DWORD [rbx + dst + 4], 0)
            }
            (Loc::Xmm(x), _) => asm!(ops ; movsd QWORD [rbx + dst], Rx(x)),
            (Loc::Stack(off), t) => {
                let off = off as i32;
                if t.is_64() {
                    asm!(ops ; mov r11, [rsp + off] ; mov [rbx + dst], r11);
                } else {
                    asm!(ops ; mov r11d, [rsp + off] ; mov [rbx + dst], r11);
                }
            }
        }
    }
    asm!(ops ; lea rsp, [rbp - 16] ; pop r12 ; pop rbx ; pop rbp ; ret);
    Ok(())
}

/// The host trampoline of host function `addr` of type `ty`, in the shared convention: spills
/// the arguments to a stack buffer and calls the runtime's `host_call`.
pub fn host<E: Emitter>(ops: &mut E, ty: &FuncType, addr: u32) -> Result<(), Error> {
    let sig = Sig::new(ty)?;
    let k = sig.params.len().max(sig.results.len()).max(1) as i32;
    let frame = (8 * k + 8 + 15) / 16 * 16;
    asm!(ops ; push rbp ; mov rbp, rsp ; sub rsp, frame);
    if sig.sret {
        asm!(ops ; mov [rbp - 8], rdi);
    }
    for (i, loc) in sig.args.iter().enumerate() {
        let dst = 8 * i as i32;
        let t = sig.params[i];
        match (*loc, t) {
            (Loc::Gpr(r), Ty::I32) => asm!(ops ; mov Rd(r), Rd(r) ; mov [rsp + dst], Rq(r)),
            (Loc::Gpr(r), _) => asm!(ops ; mov [rsp + dst], Rq(r)),
            (Loc::Xmm(x), Ty::F32) => {
                asm!(ops ; movss DWORD [rsp + dst], Rx(x) ; mov DWORD [rsp + dst + 4], 0)
            }
            (Loc::Xmm(x), _) => asm!(ops ; movsd QWORD [rsp + dst], Rx(x)),
            (Loc::Stack(off), t) => {
                let src = 16 + off as i32;
                if t.is_64() {
                    asm!(ops ; mov rax, [rbp + src] ; mov [rsp + dst], rax);
                } else {
                    asm!(ops ; mov eax, [rbp + src] ; mov [rsp + dst], rax);
                }
            }
        }
    }
    let kv = sig.caller_vmctx;
    let target = libcalls::address(libcalls::HOST_CALL) as i64;
    asm!(ops
        ; mov rdi, Rq(kv)
        ; mov esi, addr as i32
        ; mov rdx, rsp
        ; mov rax, QWORD target
        ; call rax
    );
    for (i, loc) in sig.rets.iter().enumerate() {
        if let Loc::Stack(off) = *loc {
            let (src, off) = (8 * i as i32, off as i32);
            asm!(ops ; mov r11, [rbp - 8] ; movsd xmm15, QWORD [rsp + src] ; movsd QWORD [r11 + off], xmm15);
        }
    }
    for (i, loc) in sig.rets.iter().enumerate() {
        let src = 8 * i as i32;
        let t = sig.results[i];
        match (*loc, t) {
            (Loc::Gpr(r), Ty::I32) => asm!(ops ; mov Rd(r), [rsp + src]),
            (Loc::Gpr(r), _) => asm!(ops ; mov Rq(r), [rsp + src]),
            (Loc::Xmm(x), Ty::F32) => asm!(ops ; movss Rx(x), DWORD [rsp + src]),
            (Loc::Xmm(x), _) => asm!(ops ; movsd Rx(x), QWORD [rsp + src]),
            (Loc::Stack(_), _) => {}
        }
    }
    asm!(ops ; mov rsp, rbp ; pop rbp);
    if sig.stack_args == 0 {
        asm!(ops ; ret);
    } else {
        let n = sig.stack_args as i16;
        asm!(ops ; ret n);
    }
    Ok(())
}
