//! Chooses the dispatch backend of the interpreter (see `src/exec.rs`).
//!
//! `kwasm_tail_dispatch` is set when the build optimizes (opt-level 2, 3, s or z) for a target
//! on which LLVM turns calls in tail position into jumps (x86-64, AArch64). Unoptimized builds
//! use the loop backend, which runs the same handlers without relying on that optimization.

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=OPT_LEVEL");
    println!("cargo::rustc-check-cfg=cfg(kwasm_tail_dispatch)");
    let opt = std::env::var("OPT_LEVEL").unwrap_or_default();
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let optimizing = matches!(opt.as_str(), "2" | "3" | "s" | "z");
    let tail_calls = matches!(arch.as_str(), "x86_64" | "aarch64");
    if optimizing && tail_calls {
        println!("cargo::rustc-cfg=kwasm_tail_dispatch");
    }
}
