//! Removal of trivial block parameters ("phis") that `cranelift-frontend` leaves behind.
//!
//! The frontend's SSA construction removes a block parameter when all predecessors pass the same
//! value, but only at the moment the block is sealed, and it does not revisit parameters that
//! become trivial later. Nested loops hit this all the time: a local that an inner loop does not
//! touch but that is read after it is first resolved, when the outer loop is still open, through
//! a merge block inside the inner loop (the fuel check's continuation, the end of an `if`). The
//! inner loop header then gets a parameter whose back edge passes the merge block's parameter,
//! which only later turns out to be the header's own parameter. Such a parameter is constant
//! inside the loop, but it stays a loop-carried value: the register allocator gives it a register
//! or a spill slot and a move on every back edge, and invariant code built from it cannot be
//! hoisted. Cranelift's own `remove_constant_phis` pass only folds parameters whose one incoming
//! value is defined by an instruction, so it leaves these alone when the value is itself a
//! parameter of the enclosing loop's header.
//!
//! This pass is the missing step of the classic algorithm: a parameter whose incoming values,
//! ignoring itself, are all one value `v` becomes an alias of `v`, repeated until nothing changes.

use alloc::vec::Vec;

use cranelift_codegen::entity::SecondaryMap;
use cranelift_codegen::ir::{Block, Function, Value};

/// What flows into a block parameter from its predecessors (itself excluded).
#[derive(Clone, Copy, Default, PartialEq, Eq)]
enum Incoming {
    /// Nothing seen yet (or only the parameter itself: unreachable code).
    #[default]
    Nothing,
    /// Always this value.
    One(Value),
    /// Two or more different values, or something that is not a plain value.
    Many,
}

impl Incoming {
    fn merge(self, v: Value) -> Self {
        match self {
            Incoming::Nothing => Incoming::One(v),
            Incoming::One(w) if w == v => self,
            _ => Incoming::Many,
        }
    }
}

/// Turns every trivial block parameter of `func` into an alias of its one incoming value and drops
/// the matching branch arguments. Entry-block parameters (the function's arguments) stay.
pub fn remove_trivial_params(func: &mut Function) {
    let Some(entry) = func.layout.entry_block() else { return };
    let blocks: Vec<Block> = func.layout.blocks().collect();
    loop {
        let mut incoming: SecondaryMap<Value, Incoming> = SecondaryMap::new();
        for &block in &blocks {
            let Some(term) = func.layout.last_inst(block) else { continue };
            let dfg = &func.dfg;
            for dest in dfg.insts[term].branch_destination(&dfg.jump_tables, &dfg.exception_tables) {
                let target = dest.block(&dfg.value_lists);
                if target == entry {
                    continue;
                }
                let params = dfg.block_params(target);
                for (arg, &param) in dest.args(&dfg.value_lists).zip(params) {
                    incoming[param] = match arg.as_value().map(|v| dfg.resolve_aliases(v)) {
                        Some(v) if v == param => continue,
                        Some(v) => incoming[param].merge(v),
                        None => Incoming::Many,
                    };
                }
            }
        }
        // A parameter whose value is itself a parameter going away this round waits for the next
        // round, so that no alias ever points (in a cycle) at another alias made in the same round.
        let mut removals: Vec<(Block, usize, Value, Value)> = Vec::new();
        for &block in &blocks {
            if block == entry {
                continue;
            }
            for (i, &param) in func.dfg.block_params(block).iter().enumerate() {
                if let Incoming::One(v) = incoming[param] {
                    if !matches!(incoming[v], Incoming::One(_)) {
                        removals.push((block, i, param, v));
                    }
                }
            }
        }
        if removals.is_empty() {
            return;
        }
        // Per block, the parameter indices to drop, highest first so lower indices stay valid.
        let mut dropped: SecondaryMap<Block, Vec<usize>> = SecondaryMap::new();
        for &(block, i, _, _) in &removals {
            dropped[block].push(i);
        }
        for list in dropped.values_mut() {
            list.sort_unstable_by(|a, b| b.cmp(a));
        }
        for &block in &blocks {
            let Some(term) = func.layout.last_inst(block) else { continue };
            let dfg = &mut func.dfg;
            let dests = dfg.insts[term].branch_destination_mut(&mut dfg.jump_tables, &mut dfg.exception_tables);
            for dest in dests {
                let target = dest.block(&dfg.value_lists);
                for &i in &dropped[target] {
                    dest.remove(i, &mut dfg.value_lists);
                }
            }
        }
        for &(_, _, param, v) in &removals {
            func.dfg.remove_block_param(param);
            func.dfg.change_to_alias(param, v);
        }
    }
}
