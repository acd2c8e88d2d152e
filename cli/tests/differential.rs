//! Differential testing: random valid modules from `wasm-smith`, run by every kwasm tier that is
//! implemented and by an independent engine (wasmi) as the oracle; results, traps, exported
//! memories and exported globals must agree after every call.
//!
//! Beyond wasmi's coarse trap classes, the kwasm configurations must agree with each other
//! exactly: every trap's kind, function and byte offset as the interpreter reports it. (This
//! harness replaces the optimizing tier's own interpreter-vs-optimizing differential test.)
//!
//! A second batch generates SIMD (fixed-width v128, Wasm 2.0; wasmi implements it with its `simd`
//! feature) for the configurations whose tier implements SIMD; the baseline tier does not, so it
//! sits that batch out (the test prints so).
//!
//! The batch is deterministic (fixed seeds) so that `cargo test` is repeatable; set
//! `KWASM_DIFF_SEEDS=N` (and optionally `KWASM_DIFF_START=S`, `KWASM_DIFF_SECONDS=T` to stop
//! after T seconds) for a longer run: `cargo xtask fuzz` does that. The first mismatch fails
//! the run and leaves the module in the temp directory as `kwasm-diff-SEED.wasm`.

use std::sync::Arc;

use arbitrary::Unstructured;
use kwasm_runtime::knobs::Knob;
use kwasm_runtime::{Extern, Knobs, Linker, Module, Store, TrapKind, Val, ValType};

/// What a call (or instantiation) did, in engine-neutral terms.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Values(Vec<Value>),
    Trap(&'static str),
}

/// A value with reference identity erased (function references cannot be compared across engines).
#[derive(Debug, Clone, PartialEq)]
enum Value {
    I32(i32),
    I64(i64),
    F32(u32),
    F64(u64),
    V128(u128),
    Ref { null: bool },
}

/// Everything observable after one step.
#[derive(Debug, Clone, PartialEq)]
struct Observation {
    outcome: Outcome,
    memories: Vec<(String, u64)>,
    globals: Vec<(String, Value)>,
}

/// The generator's configuration; `simd` adds fixed-width SIMD (never relaxed SIMD).
fn config(simd: bool) -> wasm_smith::Config {
    wasm_smith::Config {
        simd_enabled: simd,
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
        ..wasm_smith::Config::default()
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

fn generate(seed: u64, simd: bool) -> Option<Vec<u8>> {
    let data = seed_bytes(seed, 8192);
    let mut u = Unstructured::new(&data);
    let mut m = wasm_smith::Module::new(config(simd), &mut u).ok()?;
    m.ensure_termination(2_000).ok()?;
    Some(m.to_bytes())
}

/// Arguments for a function: a few deterministic values per type.
fn args_for(params: &[ValType], round: u64) -> Vec<Val> {
    params
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let v = (round * 7 + i as u64 * 13) % 5;
            let ints = [0i64, 1, -1, 0x7fff_ffff, i64::MIN];
            match t {
                ValType::I32 => Val::I32(ints[v as usize] as i32),
                ValType::I64 => Val::I64(ints[v as usize]),
                ValType::F32 => Val::F32((ints[v as usize] as f32).to_bits()),
                ValType::F64 => Val::F64((ints[v as usize] as f64).to_bits()),
                ValType::FuncRef => Val::FuncRef(None),
                ValType::ExternRef => Val::ExternRef(None),
                // Lanes of every width see zeros, ones and sign bits.
                ValType::V128 => {
                    Val::V128(((ints[v as usize] as u64 as u128) << 64) | (round * 0x0102_8081 + i as u64) as u128)
                }
            }
        })
        .collect()
}

fn kwasm_value(v: &Val) -> Value {
    match *v {
        Val::I32(x) => Value::I32(x),
        Val::I64(x) => Value::I64(x),
        Val::F32(x) => Value::F32(x),
        Val::F64(x) => Value::F64(x),
        Val::FuncRef(r) | Val::ExternRef(r) => Value::Ref { null: r.is_none() },
        Val::V128(x) => Value::V128(x),
    }
}

fn kwasm_trap(kind: &TrapKind) -> &'static str {
    match kind {
        TrapKind::Unreachable => "unreachable",
        TrapKind::MemoryOutOfBounds => "memory",
        TrapKind::TableOutOfBounds | TrapKind::UndefinedElement => "table",
        TrapKind::IntegerDivideByZero => "div0",
        TrapKind::IntegerOverflow => "overflow",
        TrapKind::InvalidConversionToInteger => "conversion",
        TrapKind::IndirectCallToNull => "null",
        TrapKind::IndirectCallTypeMismatch => "signature",
        TrapKind::CallStackExhausted => "stack",
        _ => "other",
    }
}

fn wasmi_trap(e: &wasmi::Error) -> &'static str {
    use wasmi::TrapCode as T;
    match e.as_trap_code() {
        Some(T::UnreachableCodeReached) => "unreachable",
        Some(T::MemoryOutOfBounds) => "memory",
        Some(T::TableOutOfBounds) => "table",
        Some(T::IntegerDivisionByZero) => "div0",
        Some(T::IntegerOverflow) => "overflow",
        Some(T::BadConversionToInteger) => "conversion",
        Some(T::IndirectCallToNull) => "null",
        Some(T::BadSignature) => "signature",
        Some(T::StackOverflow) => "stack",
        // wasmi reports segment initialization failures as instantiation errors, not trap codes.
        _ => {
            let msg = e.to_string();
            if msg.contains("out of bounds table access") {
                "table"
            } else if msg.contains("out of bounds memory access") {
                "memory"
            } else {
                "other"
            }
        }
    }
}

/// A kwasm trap in full: kind (message), function index and byte offset.
type TrapDetail = Option<(String, Option<u32>, Option<u32>)>;

/// Runs every exported function of `bytes` twice with kwasm configured by the knob
/// assignments `config`; also returns each step's trap in full.
fn run_kwasm(bytes: &[u8], config: &[&str]) -> (Vec<Observation>, Vec<TrapDetail>) {
    let mut knobs = Knobs::default();
    for k in config {
        knobs.set_text(k).unwrap();
    }
    knobs.set(Knob::MaxCallDepth, 5_000).unwrap();
    let mut store = Store::new(kwasm_cli::make_tier(&knobs), knobs, Box::new(kwasm_cli::platform::StdPlatform::new()));
    let module = Arc::new(Module::new(bytes).expect("wasm-smith output validates in kwasm"));
    let mut obs = Vec::new();
    let mut details: Vec<TrapDetail> = Vec::new();
    let detail = |t: &kwasm_runtime::Trap| Some((t.kind.message().to_string(), t.func, t.offset));
    let inst = match Linker::new().instantiate(&mut store, module.clone()) {
        Ok(i) => i,
        Err(kwasm_runtime::Error::Trap(t)) => {
            if std::env::var("KWASM_DIFF_DEBUG").is_ok() {
                eprintln!("{config:?}: instantiation trap {t:?}; {:?}", store.tiering.events);
                let tiers: Vec<_> = (0..store.funcs.len()).map(|f| store.tiering.tier_of(f as u32)).collect();
                eprintln!("tiers {tiers:?}");
            }
            obs.push(Observation { outcome: Outcome::Trap(kwasm_trap(&t.kind)), memories: vec![], globals: vec![] });
            details.push(detail(&t));
            return (obs, details);
        }
        Err(e) => panic!("kwasm instantiation failed: {e}"),
    };
    // Both engines visit exports in name order.
    let mut names: Vec<String> = module.exports.iter().map(|e| e.name.clone()).collect();
    names.sort();
    let observe = |store: &Store, outcome: Outcome| {
        let mut memories = Vec::new();
        let mut globals = Vec::new();
        for name in &names {
            match store.export(inst, name) {
                Some(Extern::Memory(m)) => memories.push((name.clone(), checksum(&store.memories[m as usize].data))),
                Some(Extern::Global(g)) => globals.push((name.clone(), kwasm_value(&store.global_value(g)))),
                _ => {}
            }
        }
        Observation { outcome, memories, globals }
    };
    obs.push(observe(&store, Outcome::Values(vec![])));
    details.push(None);
    for round in 0..2 {
        for name in &names {
            let Some(Extern::Func(f)) = store.export(inst, name) else { continue };
            let ty = store.funcs[f as usize].ty.clone();
            let outcome = match store.call(f, &args_for(&ty.params, round)) {
                Ok(vals) => {
                    details.push(None);
                    Outcome::Values(vals.iter().map(kwasm_value).collect())
                }
                Err(t) => {
                    details.push(detail(&t));
                    Outcome::Trap(kwasm_trap(&t.kind))
                }
            };
            obs.push(observe(&store, outcome));
        }
    }
    (obs, details)
}

fn checksum(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ *b as u64).wrapping_mul(0x100_0000_01b3))
        ^ bytes.len() as u64
}

fn wasmi_value(v: &wasmi::Val) -> Value {
    match v {
        wasmi::Val::I32(x) => Value::I32(*x),
        wasmi::Val::I64(x) => Value::I64(*x),
        wasmi::Val::F32(x) => Value::F32(x.to_bits()),
        wasmi::Val::F64(x) => Value::F64(x.to_bits()),
        wasmi::Val::FuncRef(r) => Value::Ref { null: r.is_null() },
        wasmi::Val::ExternRef(r) => Value::Ref { null: r.is_null() },
        wasmi::Val::V128(x) => Value::V128(x.as_u128()),
    }
}

fn to_wasmi(v: &Val) -> wasmi::Val {
    match *v {
        Val::I32(x) => wasmi::Val::I32(x),
        Val::I64(x) => wasmi::Val::I64(x),
        Val::F32(x) => wasmi::Val::F32(f32::from_bits(x).into()),
        Val::F64(x) => wasmi::Val::F64(f64::from_bits(x).into()),
        Val::FuncRef(_) => wasmi::Val::FuncRef(wasmi::Nullable::Null),
        Val::ExternRef(_) => wasmi::Val::ExternRef(wasmi::Nullable::Null),
        Val::V128(x) => wasmi::Val::V128(x.into()),
    }
}

fn val_type_of(t: &wasmi::ValType) -> ValType {
    match t {
        wasmi::ValType::I32 => ValType::I32,
        wasmi::ValType::I64 => ValType::I64,
        wasmi::ValType::F32 => ValType::F32,
        wasmi::ValType::F64 => ValType::F64,
        wasmi::ValType::FuncRef => ValType::FuncRef,
        wasmi::ValType::ExternRef => ValType::ExternRef,
        wasmi::ValType::V128 => ValType::V128,
    }
}

/// The same protocol as [`run_kwasm`], on wasmi.
fn run_wasmi(bytes: &[u8]) -> Vec<Observation> {
    let mut cfg = wasmi::Config::default();
    cfg.set_max_recursion_depth(5_000);
    let engine = wasmi::Engine::new(&cfg);
    let module = wasmi::Module::new(&engine, bytes).expect("wasm-smith output validates in wasmi");
    let mut store = wasmi::Store::new(&engine, ());
    let linker = wasmi::Linker::<()>::new(&engine);
    let mut obs = Vec::new();
    let inst = match linker.instantiate_and_start(&mut store, &module) {
        Ok(i) => i,
        Err(e) => {
            if std::env::var("KWASM_DIFF_DEBUG").is_ok() {
                eprintln!("wasmi instantiation: {e}");
            }
            obs.push(Observation { outcome: Outcome::Trap(wasmi_trap(&e)), memories: vec![], globals: vec![] });
            return obs;
        }
    };
    let mut names: Vec<String> = module.exports().map(|e| e.name().to_string()).collect();
    names.sort();
    let observe = |store: &wasmi::Store<()>, outcome: Outcome| {
        let mut memories = Vec::new();
        let mut globals = Vec::new();
        for name in &names {
            match inst.get_export(store, name) {
                Some(wasmi::Extern::Memory(m)) => memories.push((name.clone(), checksum(m.data(store)))),
                Some(wasmi::Extern::Global(g)) => globals.push((name.clone(), wasmi_value(&g.get(store)))),
                _ => {}
            }
        }
        Observation { outcome, memories, globals }
    };
    obs.push(observe(&store, Outcome::Values(vec![])));
    for round in 0..2 {
        for name in &names {
            let Some(wasmi::Extern::Func(f)) = inst.get_export(&store, name) else { continue };
            let ty = f.ty(&store);
            let params: Vec<ValType> = ty.params().iter().map(val_type_of).collect();
            let args: Vec<wasmi::Val> = args_for(&params, round).iter().map(to_wasmi).collect();
            let mut results: Vec<wasmi::Val> = ty.results().iter().map(|t| wasmi::Val::default_for_ty(*t)).collect();
            let outcome = match f.call(&mut store, &args, &mut results) {
                Ok(()) => Outcome::Values(results.iter().map(wasmi_value).collect()),
                Err(e) => Outcome::Trap(wasmi_trap(&e)),
            };
            obs.push(observe(&store, outcome));
        }
    }
    obs
}

/// The kwasm configurations under test (knob assignments). A tier joins this list when it is
/// implemented. The first one is the reference for trap details. The last two mix tiers: tier-up
/// with tiny thresholds and short fuel slices (functions promoted on their 2nd/5th call or loop
/// iteration, also in the middle of a loop), and a per-function tier assignment by seed.
const TIERS: &[&[&str]] = &[
    &["tier=interp"],
    &["tier=baseline"],
    &["tier=optimizing"],
    &["tier=optimizing", "bounds_mode=guard"],
    &["tier=interp", "tier_up=1", "baseline_threshold=2", "optimizing_threshold=5", "fuel_slice=500"],
    &["tier=interp", "tier_mix_seed=7"],
];

/// The configurations of the SIMD batch: those whose tier implements SIMD.
const SIMD_TIERS: &[&[&str]] = &[
    &["tier=interp"],
    &["tier=optimizing"],
    &["tier=optimizing", "bounds_mode=guard"],
    // Mixed tiers: v128 functions the baseline tier refuses stay in (or fall back to) a tier
    // that runs them, while their callers and callees move.
    &["tier=interp", "tier_up=1", "baseline_threshold=2", "optimizing_threshold=5", "fuel_slice=500"],
    &["tier=interp", "tier_mix_seed=7"],
];

/// Saves the module of a failing seed and fails with the first differing step.
fn mismatch<T: std::fmt::Debug + PartialEq>(seed: u64, bytes: &[u8], what: &str, ours: &[T], theirs: &[T]) -> ! {
    let path = std::env::temp_dir().join(format!("kwasm-diff-{seed}.wasm"));
    std::fs::write(&path, bytes).unwrap();
    let first = ours.iter().zip(theirs).position(|(a, b)| a != b);
    panic!(
        "seed {seed}: {what} (module saved to {}); first difference at step {first:?}:\n  ours:   {:?}\n  theirs: {:?}",
        path.display(),
        first.map(|i| &ours[i]),
        first.map(|i| &theirs[i]),
    );
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|s| s.parse().ok())
}

#[test]
fn tiers_agree_with_an_independent_engine_on_random_modules() {
    run_batch(false, TIERS, 300);
}

#[test]
fn simd_tiers_agree_with_an_independent_engine_on_random_simd_modules() {
    println!("differential SIMD batch: tier=baseline not run (the baseline tier does not implement SIMD)");
    run_batch(true, SIMD_TIERS, 200);
}

/// Number of SIMD operators in the function bodies of `bytes` (a valid module).
fn simd_operators(bytes: &[u8]) -> usize {
    let module = Module::new(bytes).expect("wasm-smith output validates in kwasm");
    (0..module.bodies.len() as u32)
        .map(|def| {
            let mut ops = module.body_reader(def).get_operators_reader().expect("operators");
            let mut n = 0;
            while !ops.eof() {
                n += usize::from(kwasm_runtime::module::is_simd_operator(&ops.read().expect("operator")));
            }
            n
        })
        .sum()
}

/// Generates `default_seeds` modules (`simd`: with SIMD) and compares every configuration of
/// `tiers` with wasmi and with the first configuration's trap details.
fn run_batch(simd: bool, tiers: &'static [&'static [&'static str]], default_seeds: u64) {
    let start = env_u64("KWASM_DIFF_START").unwrap_or(0);
    let seeds = env_u64("KWASM_DIFF_SEEDS").unwrap_or(default_seeds);
    let deadline = env_u64("KWASM_DIFF_SECONDS").map(|t| std::time::Instant::now() + std::time::Duration::from_secs(t));
    // Compiled code recurses on the native stack: give it room like `kwasm wast` does.
    let (tried, compared, calls, simd_ops) = std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(move || {
            let (mut tried, mut compared, mut calls, mut simd_ops) = (0u64, 0u64, 0usize, 0usize);
            for seed in start..start + seeds {
                if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
                    break;
                }
                tried += 1;
                let Some(bytes) = generate(seed, simd) else { continue };
                simd_ops += simd_operators(&bytes);
                let reference = run_wasmi(&bytes);
                let mut interp_details: Option<Vec<TrapDetail>> = None;
                for tier in tiers {
                    let (ours, details) = run_kwasm(&bytes, tier);
                    if ours != reference {
                        mismatch(seed, &bytes, &format!("{tier:?} disagrees with wasmi"), &ours, &reference);
                    }
                    match &interp_details {
                        None => interp_details = Some(details),
                        Some(want) if *want != details => mismatch(
                            seed,
                            &bytes,
                            &format!("{tier:?} traps differently from {:?}", tiers[0]),
                            &details,
                            want,
                        ),
                        Some(_) => {}
                    }
                }
                compared += 1;
                calls += reference.len();
            }
            (tried, compared, calls, simd_ops)
        })
        .unwrap()
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p));
    println!(
        "differential{}: seeds {start}..{}: {compared} modules ({simd_ops} SIMD operators), {calls} observations per \
         configuration, {tiers:?}",
        if simd { " (SIMD)" } else { "" },
        start + tried
    );
    if simd {
        assert!(simd_ops > compared as usize, "the SIMD batch generated too few SIMD operators: {simd_ops}");
    }
    assert!(compared > tried / 2, "too few modules generated: {compared} of {tried}");
}
