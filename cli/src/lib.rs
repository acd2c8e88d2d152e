//! The `kwasm` command line, as a library so that tests can drive it in-process.
//!
//! Subcommands live in one module each: `run` (WASI programs), `wast` (spec scripts).

pub mod compile;
pub mod guard;
pub mod kernel_loader;
pub mod platform;
pub mod run;
pub mod wast;

use std::sync::Arc;

use kwasm_runtime::knobs::{Knob, TIER_NAMES};
use kwasm_runtime::{Knobs, Tier};

/// The tier object for the `tier` knob's value.
pub fn make_tier(knobs: &Knobs) -> Arc<dyn Tier> {
    match TIER_NAMES[knobs.get(Knob::Tier) as usize] {
        "baseline" => Arc::new(kwasm_baseline::BaselineTier),
        "optimizing" => Arc::new(kwasm_optimizing::OptimizingTier::new()),
        _ => Arc::new(kwasm_interp::Interpreter::new()),
    }
}
