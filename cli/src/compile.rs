//! `kwasm compile [--tier T] [--repeat N] FILE.wasm`: validates a module and translates every
//! function with a tier, without running anything, and reports the time of each phase and the
//! translation speed in MB/s of code section. This is the measurement `cargo xtask bench` uses.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use kwasm_runtime::store::FuncKind;
use kwasm_runtime::{Knobs, Linker, Module, Store};

/// What one compile measured.
#[derive(Debug, Clone, Copy)]
pub struct CompileStats {
    /// Size of the code section in bytes.
    pub code_bytes: usize,
    /// Number of functions translated.
    pub functions: usize,
    /// Best decode + validate time in seconds.
    pub validate_s: f64,
    /// Best translation time of all functions in seconds.
    pub translate_s: f64,
}

/// Validates `bytes` and translates every defined function with the tier chosen by `knobs`,
/// `repeat` times; keeps the best time of each phase.
pub fn measure(bytes: &[u8], knobs: &Knobs, repeat: usize) -> Result<CompileStats, String> {
    let mut best: Option<CompileStats> = None;
    for _ in 0..repeat.max(1) {
        let t0 = Instant::now();
        let module = Module::new(bytes).map_err(|e| e.to_string())?;
        let validate_s = t0.elapsed().as_secs_f64();
        let code_bytes = module.code_size;
        let mut store =
            Store::new(crate::make_tier(knobs), knobs.clone(), Box::new(crate::platform::StdPlatform::new()));
        // Imports are satisfied by WASI (host functions are not translated); the start function,
        // if any, is not what is measured, so modules with one are instantiated all the same.
        let mut linker = Linker::new();
        kwasm_runtime::wasi::add_to_linker(&mut linker, &mut store);
        let inst = linker.instantiate(&mut store, Arc::new(module)).map_err(|e| e.to_string())?;
        let funcs: Vec<u32> = store.instance(inst).funcs.clone();
        let tier = store.tier.clone();
        let t1 = Instant::now();
        let mut functions = 0;
        for addr in funcs {
            if let FuncKind::Wasm { .. } = store.funcs[addr as usize].kind {
                store.code(addr, tier.as_ref()).map_err(|e| e.to_string())?;
                functions += 1;
            }
        }
        let translate_s = t1.elapsed().as_secs_f64();
        let s = CompileStats { code_bytes, functions, validate_s, translate_s };
        best = Some(match best {
            None => s,
            Some(b) => CompileStats {
                validate_s: b.validate_s.min(s.validate_s),
                translate_s: b.translate_s.min(s.translate_s),
                ..s
            },
        });
    }
    best.ok_or_else(|| "nothing measured".into())
}

/// `kwasm compile`.
pub fn main(args: &[String]) -> ExitCode {
    let mut knobs = Knobs::default();
    let mut repeat = 5;
    let mut file = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let r = match a.as_str() {
            "--tier" => {
                it.next().ok_or("--tier needs a value".to_string()).and_then(|t| knobs.set_text(&format!("tier={t}")))
            }
            "--knob" => it.next().ok_or("--knob needs a value".to_string()).and_then(|k| knobs.set_text(k)),
            "--repeat" => {
                it.next().and_then(|n| n.parse().ok()).map(|n| repeat = n).ok_or("--repeat needs a number".to_string())
            }
            f if !f.starts_with('-') => {
                file = Some(f.to_string());
                Ok(())
            }
            other => Err(format!("unknown option '{other}'")),
        };
        if let Err(e) = r {
            eprintln!("kwasm: {e}");
            return ExitCode::from(2);
        }
    }
    let Some(file) = file else {
        eprintln!("usage: kwasm compile [--tier T] [--knob NAME=VALUE] [--repeat N] FILE.wasm");
        return ExitCode::from(2);
    };
    let bytes = match std::fs::read(&file) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("kwasm: cannot read {file}: {e}");
            return ExitCode::FAILURE;
        }
    };
    match measure(&bytes, &knobs, repeat) {
        Ok(s) => {
            let mbps = |secs: f64| if secs > 0.0 { s.code_bytes as f64 / secs / 1e6 } else { f64::INFINITY };
            println!(
                "code_bytes {} functions {} validate_ms {:.3} translate_ms {:.3} validate_mb_s {:.1} translate_mb_s {:.1}",
                s.code_bytes,
                s.functions,
                s.validate_s * 1e3,
                s.translate_s * 1e3,
                mbps(s.validate_s),
                mbps(s.translate_s)
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("kwasm: {e}");
            ExitCode::FAILURE
        }
    }
}
