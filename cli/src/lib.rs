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

/// The store's tier for the knobs: the `tier` knob's tier alone (`tier_up=0`, no
/// `tier_mix_seed`), else the tier manager over every tier of this binary.
pub fn make_tier(knobs: &Knobs) -> Arc<dyn Tier> {
    if knobs.get(Knob::TierUp) != 0 || knobs.get(Knob::TierMixSeed) != 0 {
        let tiers: kwasm_runtime::tiering::TierSet = [
            Some(Arc::new(kwasm_interp::Interpreter::new())),
            Some(Arc::new(kwasm_baseline::BaselineTier)),
            Some(Arc::new(kwasm_optimizing::OptimizingTier::new())),
        ];
        return Arc::new(kwasm_runtime::tiering::Managed::new(tiers, knobs));
    }
    match TIER_NAMES[knobs.get(Knob::Tier) as usize] {
        "baseline" => Arc::new(kwasm_baseline::BaselineTier),
        "optimizing" => Arc::new(kwasm_optimizing::OptimizingTier::new()),
        _ => Arc::new(kwasm_interp::Interpreter::new()),
    }
}

/// Applies a `--tier` value: `auto` (start in the interpreter, promote hot functions:
/// `tier=interp tier_up=1`) or one tier name (that tier only: `tier=NAME tier_up=0`).
pub fn set_tier(knobs: &mut Knobs, value: &str) -> Result<(), String> {
    if value == "auto" {
        knobs.set_text("tier=interp")?;
        return knobs.set(Knob::TierUp, 1);
    }
    knobs.set_text(&format!("tier={value}"))?;
    knobs.set(Knob::TierUp, 0)
}
