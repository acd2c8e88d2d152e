//! The target: x86-64 built from explicit flags, never from the host CPU, so that the kernel
//! build (which cannot run host detection) and user space produce the same code.
//!
//! The ISA level is x86-64-v2 (SSE3, SSSE3, SSE4.1, SSE4.2, POPCNT, CMPXCHG16B): SSE4.1 gives
//! `roundss/roundsd` for `ceil`/`floor`/`trunc`/`nearest` without runtime-library calls, so the
//! generated code never needs a relocation. Every x86-64 CPU since 2009 has these.

use cranelift_codegen::isa::{self, OwnedTargetIsa};
use cranelift_codegen::settings::{self, Configurable};
use kwasm_runtime::Error;

/// Shared Cranelift flags: optimize for speed; no probestack calls (they would need a runtime
/// symbol: compiled code checks the stack limit itself), no unwind info, no PIC.
const SHARED_FLAGS: &[(&str, &str)] = &[
    ("opt_level", "speed"),
    ("enable_probestack", "false"),
    ("unwind_info", "false"),
    ("is_pic", "false"),
    ("enable_verifier", "false"),
    ("enable_multi_ret_implicit_sret", "true"),
    ("preserve_frame_pointers", "true"),
];

/// x86-64 feature flags (x86-64-v2).
const X86_FLAGS: &[&str] = &["has_sse3", "has_ssse3", "has_sse41", "has_sse42", "has_popcnt", "has_cmpxchg16b"];

fn setting_error(name: &str, e: impl core::fmt::Debug) -> Error {
    Error::Other(alloc::format!("optimizing tier: Cranelift setting {name}: {e:?}"))
}

/// The x86-64 ISA with kwasm's explicit flags.
pub fn x86_64() -> Result<OwnedTargetIsa, Error> {
    let mut shared = settings::builder();
    for (k, v) in SHARED_FLAGS {
        shared.set(k, v).map_err(|e| setting_error(k, e))?;
    }
    if cfg!(debug_assertions) {
        shared.set("enable_verifier", "true").map_err(|e| setting_error("enable_verifier", e))?;
    }
    let mut b = isa::lookup_by_name("x86_64").map_err(|e| setting_error("x86_64", e))?;
    for f in X86_FLAGS {
        b.enable(f).map_err(|e| setting_error(f, e))?;
    }
    b.finish(settings::Flags::new(shared)).map_err(|e| setting_error("finish", e))
}
