//! Differential test: random valid modules from `wasm-smith` run by the interpreter and by the
//! optimizing tier; results, traps (kind), memory and globals must agree after every call.
//!
//! The batch is deterministic (fixed seeds); `KWASM_OPT_DIFF_SEEDS=N` (and `KWASM_OPT_DIFF_START=S`)
//! run a longer batch, e.g. `KWASM_OPT_DIFF_SEEDS=20000 cargo test -p kwasm-optimizing --release`.

mod common;

use std::sync::Arc;

use arbitrary::Unstructured;
use common::ExecOnly;
use kwasm_runtime::knobs::Knob;
use kwasm_runtime::{Extern, Knobs, Linker, Module, Store, Tier, Val, ValType};

#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Values(Vec<Val>),
    Trap(String),
}

#[derive(Debug, Clone, PartialEq)]
struct Observation {
    outcome: Outcome,
    memories: Vec<(String, u64)>,
    globals: Vec<(String, Val)>,
}

fn config() -> wasm_smith::Config {
    wasm_smith::Config {
        simd_enabled: false,
        relaxed_simd_enabled: false,
        threads_enabled: false,
        shared_everything_threads_enabled: false,
        exceptions_enabled: false,
        gc_enabled: false,
        wide_arithmetic_enabled: false,
        custom_page_sizes_enabled: false,
        custom_descriptors_enabled: false,
        memory64_enabled: false,
        compact_imports_enabled: false,
        tail_call_enabled: true,
        max_memories: 1,
        max_memory32_bytes: 4 * 65536,
        max_table_elements: 1000,
        max_imports: 0,
        min_funcs: 1,
        max_funcs: 12,
        max_instructions: 300,
        export_everything: true,
        canonicalize_nans: true,
        allow_start_export: true,
        ..Default::default()
    }
}

/// A deterministic byte stream per seed (xorshift64*).
fn seed_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8
        })
        .collect()
}

fn generate(seed: u64) -> Option<Vec<u8>> {
    let data = seed_bytes(seed, 8192);
    let mut u = Unstructured::new(&data);
    let mut m = wasm_smith::Module::new(config(), &mut u).ok()?;
    m.ensure_termination(2_000).ok()?;
    Some(m.to_bytes())
}

fn args_for(params: &[ValType], round: u64) -> Vec<Val> {
    params
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let v = ((round * 7 + i as u64 * 13) % 5) as usize;
            let ints = [0i64, 1, -1, 0x7fff_ffff, i64::MIN];
            match t {
                ValType::I32 => Val::I32(ints[v] as i32),
                ValType::I64 => Val::I64(ints[v]),
                ValType::F32 => Val::F32((ints[v] as f32).to_bits()),
                ValType::F64 => Val::F64((ints[v] as f64).to_bits()),
                ValType::FuncRef => Val::FuncRef(None),
                ValType::ExternRef => Val::ExternRef(None),
                ValType::V128 => Val::V128(0),
            }
        })
        .collect()
}

fn checksum(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ *b as u64).wrapping_mul(0x100_0000_01b3))
        ^ bytes.len() as u64
}

/// References are compared by nullness only (addresses are equal too, but keep it robust).
fn erase(v: &Val) -> Val {
    match v {
        Val::FuncRef(r) => Val::FuncRef(r.map(|_| 0)),
        other => *other,
    }
}

fn run(bytes: &[u8], tier: Arc<dyn Tier>) -> Vec<Observation> {
    let mut knobs = Knobs::default();
    knobs.set(Knob::MaxCallDepth, 5_000).unwrap();
    let mut store = Store::new(tier, knobs, Box::new(ExecOnly));
    let module = Arc::new(Module::new(bytes).expect("wasm-smith output validates"));
    let mut obs = Vec::new();
    let inst = match Linker::new().instantiate(&mut store, module.clone()) {
        Ok(i) => i,
        Err(kwasm_runtime::Error::Trap(t)) => {
            let outcome = Outcome::Trap(t.kind.message().to_string());
            obs.push(Observation { outcome, memories: vec![], globals: vec![] });
            return obs;
        }
        Err(e) => panic!("instantiation failed: {e}"),
    };
    let observe = |store: &Store, outcome: Outcome| {
        let mut memories = Vec::new();
        let mut globals = Vec::new();
        for e in &module.exports {
            match store.export(inst, &e.name) {
                Some(Extern::Memory(m)) => memories.push((e.name.clone(), checksum(&store.memories[m as usize].data))),
                Some(Extern::Global(g)) => globals.push((e.name.clone(), erase(&store.global_value(g)))),
                _ => {}
            }
        }
        Observation { outcome, memories, globals }
    };
    obs.push(observe(&store, Outcome::Values(vec![])));
    for round in 0..2 {
        for e in &module.exports {
            let Some(Extern::Func(f)) = store.export(inst, &e.name) else { continue };
            let ty = store.funcs[f as usize].ty.clone();
            let outcome = match store.call(f, &args_for(&ty.params, round)) {
                Ok(vals) => Outcome::Values(vals.iter().map(erase).collect()),
                Err(t) => Outcome::Trap(t.kind.message().to_string()),
            };
            obs.push(observe(&store, outcome));
        }
    }
    obs
}

#[test]
fn optimizing_agrees_with_interpreter_on_random_modules() {
    let start: u64 = std::env::var("KWASM_OPT_DIFF_START").ok().and_then(|s| s.parse().ok()).unwrap_or(0);
    let seeds: u64 = std::env::var("KWASM_OPT_DIFF_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(300);
    // Compiled code recurses on the native stack: give it room like `kwasm wast` does.
    let (compared, calls) = std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(move || {
            let (mut compared, mut calls) = (0u64, 0usize);
            for seed in start..start + seeds {
                let Some(bytes) = generate(seed) else { continue };
                let reference = run(&bytes, Arc::new(kwasm_interp::Interpreter::new()));
                let ours = run(&bytes, Arc::new(kwasm_optimizing::OptimizingTier::new()));
                if ours != reference {
                    let path = std::env::temp_dir().join(format!("kwasm-opt-diff-{seed}.wasm"));
                    std::fs::write(&path, &bytes).unwrap();
                    let first = ours.iter().zip(&reference).position(|(a, b)| a != b);
                    panic!(
                        "seed {seed}: optimizing disagrees with the interpreter (module saved to {}); first \
                         difference at step {first:?}:\n  optimizing: {:?}\n  interp:     {:?}",
                        path.display(),
                        first.map(|i| &ours[i]),
                        first.map(|i| &reference[i]),
                    );
                }
                compared += 1;
                calls += reference.len();
            }
            (compared, calls)
        })
        .unwrap()
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p));
    println!("differential: {compared} modules, {calls} observations");
    assert!(compared > seeds / 2, "too few modules generated: {compared} of {seeds}");
}
