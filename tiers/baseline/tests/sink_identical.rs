//! The baseline codegen through our no_std `CodeSink` and through dynasmrt's assembler must give
//! byte-identical machine code for **every function** of the spec suite's modules and of the
//! compute workloads (issue 4, item 2).
//!
//! Each module is instantiated in a store on the interpreter with stand-in imports of the right
//! types (the codegen reads the instance: function addresses for direct calls, type ids for
//! `call_indirect`), then every defined function is compiled twice. An instantiation that fails
//! after the instance exists (a trapping start function or segment) still has its functions
//! compiled; modules that cannot be instantiated at all (e.g. a memory too large to allocate)
//! are counted and reported, and must stay a small minority.
//!
//! Needs the spec testsuite (`KWASM_TESTSUITE`, else `../shared/testsuite`) and the workloads'
//! wasm toolchain (`experiments/build.sh`); a missing input fails the test, never skips it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use kwasm_baseline::emit::{CodeSink, DynasmrtEmitter};
use kwasm_runtime::module::ExternType;
use kwasm_runtime::platform::NullPlatform;
use kwasm_runtime::{FuncAddr, Knobs, Module, Store, Trap, Val, ValType};
use wast::parser::{self, ParseBuffer};
use wast::{QuoteWat, Wast, WastDirective, WastExecute, Wat};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn testsuite_dir() -> PathBuf {
    match std::env::var_os("KWASM_TESTSUITE") {
        Some(dir) => PathBuf::from(dir),
        None => repo_root().join("../shared/testsuite"),
    }
}

/// What was compared.
#[derive(Default, Debug)]
struct Tally {
    modules: usize,
    functions: usize,
    code_bytes: usize,
    /// Functions the codegen refused identically on both emitters (e.g. SIMD), by message.
    refused: usize,
    /// Modules whose instance could not be created (nothing to compile), with the reason.
    not_instantiated: Vec<String>,
    mismatches: Vec<String>,
}

/// Compiles `func` with both emitters and records the comparison.
fn compare_function(store: &Store, func: FuncAddr, what: &str, tally: &mut Tally) {
    let ours = kwasm_baseline::compile_code_with(store, func, || Ok(CodeSink::new(0)));
    let theirs = kwasm_baseline::compile_code_with(store, func, || {
        DynasmrtEmitter::new().map_err(|e| kwasm_runtime::Error::Other(e.to_string()))
    });
    tally.functions += 1;
    match (ours, theirs) {
        (Ok(ours), Ok(theirs)) => {
            tally.code_bytes += ours.0.len() + ours.1.as_ref().map_or(0, Vec::len);
            if ours != theirs {
                tally.mismatches.push(format!("{what}: function {func} differs"));
            }
        }
        (Err(a), Err(b)) if a.to_string() == b.to_string() => tally.refused += 1,
        (a, b) => tally.mismatches.push(format!(
            "{what}: function {func}: sink {:?} vs dynasmrt {:?}",
            a.map(|c| c.0.len()),
            b.map(|c| c.0.len())
        )),
    }
}

fn zero(ty: ValType) -> Val {
    match ty {
        ValType::I32 => Val::I32(0),
        ValType::I64 => Val::I64(0),
        ValType::F32 => Val::F32(0),
        ValType::F64 => Val::F64(0),
        ValType::V128 => Val::V128(0),
        ValType::FuncRef => Val::FuncRef(None),
        ValType::ExternRef => Val::ExternRef(None),
    }
}

/// Instantiates `bytes` with stand-ins for its imports and compares every defined function.
fn compare_module(bytes: &[u8], what: &str, tally: &mut Tally) {
    let Ok(module) = Module::new(bytes) else { return };
    tally.modules += 1;
    let module = Arc::new(module);
    let mut store = Store::new(Arc::new(kwasm_interp::Interpreter::new()), Knobs::default(), Box::new(NullPlatform));
    let mut imports = Vec::new();
    for imp in &module.imports {
        let ext = match &imp.ty {
            ExternType::Func(t) => {
                let ty = module.types[*t as usize].clone();
                kwasm_runtime::Extern::Func(
                    store.host_func(ty, Arc::new(|_, _, _| Err(Trap::host("stand-in import called")))),
                )
            }
            ExternType::Table(t) => match store.alloc_table(*t, 0) {
                Ok(t) => kwasm_runtime::Extern::Table(t),
                Err(e) => return tally.not_instantiated.push(format!("{what}: table import: {e}")),
            },
            ExternType::Memory(m) => match store.alloc_memory(*m) {
                Ok(m) => kwasm_runtime::Extern::Memory(m),
                Err(e) => return tally.not_instantiated.push(format!("{what}: memory import: {e}")),
            },
            ExternType::Global(g) => kwasm_runtime::Extern::Global(store.alloc_global(*g, zero(g.ty))),
        };
        imports.push(ext);
    }
    let before = store.instances.len();
    let result = store.instantiate(module, &imports);
    if store.instances.len() == before {
        let reason = result.err().map(|e| e.to_string()).unwrap_or_default();
        return tally.not_instantiated.push(format!("{what}: {reason}"));
    }
    // The module's functions and the host trampolines of its stand-in imports.
    for f in 0..store.funcs.len() as FuncAddr {
        compare_function(&store, f, what, tally);
    }
}

/// Every module (valid or not; invalid ones are dropped by `compare_module`) a script defines.
fn script_modules(path: &Path) -> Vec<Vec<u8>> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut lexer = wast::lexer::Lexer::new(&text);
    lexer.allow_confusing_unicode(true);
    let buf = ParseBuffer::new_with_lexer(lexer).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let script = parser::parse::<Wast<'_>>(&buf).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = Vec::new();
    for d in script.directives {
        let bytes = match d {
            WastDirective::Module(mut m) | WastDirective::ModuleDefinition(mut m) => match m {
                QuoteWat::QuoteComponent(..) | QuoteWat::Wat(Wat::Component(_)) => None,
                _ => m.encode().ok(),
            },
            WastDirective::AssertUnlinkable { module: Wat::Module(mut m), .. }
            | WastDirective::AssertTrap { exec: WastExecute::Wat(Wat::Module(mut m)), .. }
            | WastDirective::AssertReturn { exec: WastExecute::Wat(Wat::Module(mut m)), .. } => m.encode().ok(),
            _ => None,
        };
        out.extend(bytes);
    }
    out
}

fn wast_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "wast"))
        .collect();
    files.sort();
    files
}

fn report(name: &str, tally: &Tally) {
    println!(
        "{name}: {} modules, {} functions compiled on both emitters ({} bytes of code), {} refused identically by \
         the codegen, {} modules not instantiable, {} mismatches",
        tally.modules,
        tally.functions,
        tally.code_bytes,
        tally.refused,
        tally.not_instantiated.len(),
        tally.mismatches.len()
    );
    for m in tally.not_instantiated.iter().take(20) {
        println!("  not instantiated: {m}");
    }
    for m in tally.mismatches.iter().take(50) {
        println!("  MISMATCH {m}");
    }
}

#[test]
fn spec_suite_functions_are_identical() {
    let root = testsuite_dir();
    assert!(root.is_dir(), "spec testsuite not found at {} (set KWASM_TESTSUITE)", root.display());
    // The scripts the spec test runs: SIMD is not in the baseline tier (nor validated by kwasm).
    let mut files: Vec<PathBuf> = wast_files(&root)
        .into_iter()
        .filter(|p| !p.file_name().unwrap_or_default().to_string_lossy().starts_with("simd_"))
        .collect();
    for p in ["tail-call", "extended-const"] {
        files.extend(wast_files(&root.join("proposals").join(p)));
    }
    let mut tally = Tally::default();
    for file in &files {
        let name = file.file_name().unwrap_or_default().to_string_lossy().into_owned();
        for bytes in script_modules(file) {
            compare_module(&bytes, &name, &mut tally);
        }
    }
    report("spec suite", &tally);
    assert!(tally.mismatches.is_empty(), "{} functions differ between the emitters", tally.mismatches.len());
    assert!(tally.functions > 4_000, "too few functions compiled ({}): the comparison did not run", tally.functions);
    assert!(tally.not_instantiated.len() * 50 < tally.modules, "too many modules not instantiated");
}

/// The workloads whose manifest line (`experiments/compute/workloads.tsv`, column 5) needs `simd`.
fn simd_workloads(root: &Path) -> Vec<String> {
    let path = root.join("experiments/compute/workloads.tsv");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split('\t').collect::<Vec<_>>())
        .filter(|f| f.get(4).is_some_and(|needs| needs.split(',').any(|n| n.trim() == "simd")))
        .map(|f| f[0].to_string())
        .collect()
}

#[test]
fn workload_functions_are_identical() {
    let root = repo_root();
    let out = Command::new("bash")
        .arg(root.join("experiments/build.sh"))
        .current_dir(&root)
        .stdin(Stdio::null())
        .output()
        .expect("cannot run bash experiments/build.sh");
    assert!(
        out.status.success(),
        "experiments/build.sh failed (the wasm toolchain is needed):\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = root.join("experiments/build/wasm");
    let mut wasm: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "wasm"))
        .collect();
    wasm.sort();
    assert!(wasm.len() >= 8, "expected the 8 compute workloads in {}", dir.display());
    // The baseline tier has no SIMD: workloads the manifest marks `simd` are not its input.
    let simd = simd_workloads(&root);
    wasm.retain(|p| {
        let keep = !p.file_stem().is_some_and(|s| simd.iter().any(|n| s == n.as_str()));
        if !keep {
            println!(
                "workloads: {} not compiled (needs SIMD, which the baseline tier does not implement)",
                p.display()
            );
        }
        keep
    });
    let mut tally = Tally::default();
    for path in &wasm {
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let name = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
        compare_module(&bytes, &name, &mut tally);
    }
    report("workloads", &tally);
    assert!(tally.mismatches.is_empty(), "{} functions differ between the emitters", tally.mismatches.len());
    assert_eq!(tally.refused, 0, "the codegen refused workload functions");
    assert!(tally.not_instantiated.is_empty(), "workloads not instantiated: {:?}", tally.not_instantiated);
}
