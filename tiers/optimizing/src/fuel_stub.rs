//! The fuel stub: how a fuel check's slow path calls the runtime without clobbering registers.
//!
//! Every loop header checks fuel, and the slow path (once per slice) calls
//! [`kwasm_runtime::libcalls::FUEL`]. Called directly in the C convention, that call clobbers
//! every caller-saved register, including all XMM registers, and the register allocator has to
//! assume it can happen on every iteration: values live across the loop then sit in the few
//! callee-saved registers or in stack slots, reloaded (and often stored back) on every
//! iteration, even though the slow path almost never runs. Measured on matrix.wasm (guard
//! bounds), that costs about half of the loop's time.
//!
//! So the slow path calls this stub instead, in Cranelift's `preserve_all` convention (nothing
//! clobbered; no return value): the stub saves what the C call clobbers in its own prologue,
//! calls the runtime, and leaves the result as the trap code in `VmShared`, where compiled code
//! checks it like after any call. Each function's executable region starts with its own copy of
//! the stub (a few hundred bytes, compiled once per tier), and the body reaches it with a
//! PC-relative call that [`link`] resolves before the region is made executable: no absolute
//! address of the region is needed at compile time, and no relocation remains.

use alloc::format;
use alloc::vec::Vec;

use cranelift_codegen::control::ControlPlane;
use cranelift_codegen::ir::types::{I32, I64};
use cranelift_codegen::ir::{AbiParam, Function, InstBuilder, Signature, UserExternalName, UserFuncName};
use cranelift_codegen::isa::{CallConv, OwnedTargetIsa};
use cranelift_codegen::Context;
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use kwasm_runtime::vmctx::{SHARED_TRAP_CODE, VMCTX_SHARED};
use kwasm_runtime::Error;

use crate::libcalls;
use crate::translate::ctx_flags;

/// The name compiled code calls the stub by (the only user-named function it calls directly).
pub const NAME: UserExternalName = UserExternalName { namespace: 2, index: 0 };

/// The stub's signature: `(vmctx)`, `preserve_all`, no results.
pub fn signature() -> Signature {
    let mut sig = Signature::new(CallConv::PreserveAll);
    sig.params.push(AbiParam::new(I64));
    sig
}

/// Compiles the stub: calls the runtime's fuel function and stores its trap code (0: go on) in
/// `VmShared::trap_code`.
pub fn compile(isa: &OwnedTargetIsa) -> Result<Vec<u8>, Error> {
    let mut func = Function::with_name_signature(UserFuncName::user(NAME.namespace, NAME.index), signature());
    let mut fctx = FunctionBuilderContext::new();
    let mut b = FunctionBuilder::new(&mut func, &mut fctx);
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    b.seal_block(entry);
    let vmctx = b.block_params(entry)[0];
    let sig = b.import_signature(libcalls::signature(libcalls::FUEL));
    let addr = b.ins().iconst(I64, libcalls::address(libcalls::FUEL) as i64);
    let call = b.ins().call_indirect(sig, addr, &[vmctx]);
    let code = b.inst_results(call)[0];
    let shared = b.ins().load(I64, ctx_flags(), vmctx, VMCTX_SHARED);
    debug_assert_eq!(b.func.dfg.value_type(code), I32);
    b.ins().store(ctx_flags(), code, shared, SHARED_TRAP_CODE);
    b.ins().return_(&[]);
    b.finalize(isa.frontend_config());
    let mut ctx = Context::for_function(func);
    let compiled = ctx
        .compile(&**isa, &mut ControlPlane::default())
        .map_err(|e| Error::Other(format!("optimizing tier: Cranelift failed on the fuel stub: {:?}", e.inner)))?;
    if let Some(r) = compiled.buffer.relocs().first() {
        return Err(Error::Unsupported(format!("optimizing tier: the fuel stub has a relocation ({:?})", r.kind)));
    }
    Ok(compiled.code_buffer().to_vec())
}

/// A call to the stub in a function body: the offset of its 32-bit PC-relative field and the
/// relocation's addend.
#[derive(Clone, Copy, Debug)]
pub struct StubCall {
    /// Offset of the displacement field in the body.
    pub offset: u32,
    /// Added to the stub's address (for x86 calls, -4: the displacement counts from the end of
    /// the field).
    pub addend: i64,
}

/// Region offset of the body when the stub (of `stub_len` bytes) is part 0 of the region: parts
/// start 16-byte aligned and in order ([`kwasm_runtime::platform::install_code`]).
pub fn body_offset(stub_len: usize) -> usize {
    stub_len.next_multiple_of(16)
}

/// Writes the displacements of `calls` into `body`, for the stub at region offset 0 and the body
/// at region offset `body_at`.
pub fn link(body: &mut [u8], calls: &[StubCall], body_at: usize) -> Result<(), Error> {
    for c in calls {
        let field = c.offset as usize;
        let place = (body_at + field) as i64;
        let disp = i32::try_from(c.addend - place)
            .map_err(|_| Error::Other(format!("optimizing tier: fuel stub out of reach ({place} bytes)")))?;
        let bytes = body
            .get_mut(field..field + 4)
            .ok_or_else(|| Error::Other(format!("optimizing tier: fuel stub call at {field} outside the body")))?;
        bytes.copy_from_slice(&disp.to_le_bytes());
    }
    Ok(())
}
