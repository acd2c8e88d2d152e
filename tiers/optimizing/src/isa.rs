//! The target: x86-64 built from explicit flags, never from the host CPU, so that the kernel
//! build (which cannot run host detection) and user space produce the same code.
//!
//! The ISA level is x86-64-v2 (SSE3, SSSE3, SSE4.1, SSE4.2, POPCNT, CMPXCHG16B), the same fixed
//! set on every platform, so that a module compiles to the same code in the kernel and in user
//! space and no platform has to report CPU features to the tier:
//! - SSE4.1 gives `roundss/roundsd` (and `roundps/roundpd` for SIMD) for
//!   `ceil`/`floor`/`trunc`/`nearest` without runtime-library calls, so the generated code never
//!   needs a relocation;
//! - SIMD (wasm v128) needs SSSE3 (`pshufb`: swizzle, shuffles, popcnt), SSE4.1 (`pmins*`/`pmaxs*`,
//!   `pmovsx`/`pmovzx` widening, `packusdw`, `pblendvb`, `ptest`, `pinsr*`/`pextr*`, `pmulld`)
//!   and SSE4.2 (`pcmpgtq` for the i64x2 comparisons). Without them Cranelift has no lowering
//!   for many vector instructions.
//!
//! Every x86-64 CPU since 2009 has these. Nothing above v2 (AVX, AVX2, AVX-512, BMI, LZCNT) is
//! used even where the CPU has it: one set of flags means one set of generated code to test.
//!
//! Per platform: user space (the `std` feature) checks the running CPU once ([`check_host`]) and
//! refuses to compile with a clear error on a CPU without v2, instead of dying of an illegal
//! instruction; the kernel build (no `std`) cannot ask the CPU from Rust and assumes v2: the
//! kernel module is meant for x86-64-v2 machines, and the test VM (`cargo xtask vm`, QEMU TCG
//! `-cpu max`) provides all of it. The kernel module saves and restores the whole XMM/YMM state
//! around wasm (kmod/README.md, "FPU"), so SIMD code needs nothing beyond what floats need.

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

/// The x86-64-v2 CPU features of [`X86_FLAGS`], by the names the CPU reports them under.
#[cfg(all(feature = "std", target_arch = "x86_64"))]
fn missing_host_features() -> alloc::vec::Vec<&'static str> {
    let mut missing = alloc::vec::Vec::new();
    macro_rules! need {
        ($($f:tt),*) => {$(
            if !std::is_x86_feature_detected!($f) {
                missing.push($f);
            }
        )*};
    }
    need!("sse3", "ssse3", "sse4.1", "sse4.2", "popcnt", "cmpxchg16b");
    missing
}

/// Checks that the CPU running this process has every feature the generated code uses (user
/// space only; see the module docs for the kernel). The CPU's answer is cached by `std`.
pub fn check_host() -> Result<(), Error> {
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    {
        let missing = missing_host_features();
        if !missing.is_empty() {
            return Err(Error::Unsupported(alloc::format!(
                "optimizing tier: this CPU lacks {} (the tier generates x86-64-v2 code: SSE3, SSSE3, SSE4.1, \
                 SSE4.2, POPCNT, CMPXCHG16B); use --tier interp",
                missing.join(", ")
            )));
        }
    }
    Ok(())
}
