//! `kwasm`: run WebAssembly programs and spec scripts.

use std::process::ExitCode;

const USAGE: &str = "\
usage:
  kwasm run [--tier auto|interp|baseline|optimizing] [--tier-log FILE] [--dir HOST[::GUEST]] [--env K=V]
            [--tcplisten ADDR] [--fuel N] [--knob NAME=VALUE] [--loader user|kernel] FILE.wasm [ARGS...]
            (--tier auto, the default: interpreter first, hot functions promoted; a tier name pins it)
  kwasm wast [--tier T|auto] [--knob NAME=VALUE] [--loader user|kernel] FILE.wast...
  kwasm compile [--tier T] [--repeat N] FILE.wasm   validate + translate only; prints MB/s
  kwasm knobs          list every knob with its default, range and meaning";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = dispatch(&args);
    #[cfg(feature = "op-stats")]
    for (name, count) in kwasm_interp::exec::stats::snapshot() {
        eprintln!("{count:>14} {name}");
    }
    code
}

fn dispatch(args: &[String]) -> ExitCode {
    match args.first().map(String::as_str) {
        Some("run") => kwasm_cli::run::main(&args[1..]),
        Some("wast") => kwasm_cli::wast::main(&args[1..]),
        Some("compile") => kwasm_cli::compile::main(&args[1..]),
        Some("knobs") => {
            print!("{}", kwasm_runtime::Knobs::default().table());
            ExitCode::SUCCESS
        }
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}
