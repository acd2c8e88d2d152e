//! `cargo xtask …`: project automation (benchmarks, kernel-target checks; later kernel build and VM).

mod bench;
mod fuzz;
mod kernel;
mod kmod;
mod nostd;
mod vm;

use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <command>
  bench [ARGS]       build the compute workloads and compare native vs kwasm tiers
  fuzz [ARGS]        long differential run (wasm-smith modules, every tier vs wasmi)
  nostd-check        build runtime + interp as a no_std staticlib for x86_64-unknown-none
  kernel [--path]    build (or reuse the cached) Rust-for-Linux test kernel
  kmod               build kwasm.ko (target/kmod/kwasm.ko) against that kernel
  vm-test            boot the kernel in QEMU and run the kwasm.ko test suite inside
  vm [--add FILE]... -- COMMAND...
                     boot with kwasm.ko loaded, run COMMAND in /work, exit with its status";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("bench") => bench::main(&args[1..]),
        Some("fuzz") => fuzz::main(&args[1..]),
        Some("nostd-check") => nostd::main(&args[1..]),
        Some("kernel") => kernel::main(&args[1..]),
        Some("kmod") => kmod::main(&args[1..]),
        Some("vm-test") => vm::vm_test(&args[1..]),
        Some("vm") => vm::vm(&args[1..]),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}
