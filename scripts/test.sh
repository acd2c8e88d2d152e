#!/usr/bin/env bash
# kwasm's complete test run, the one command CI runs (.ci/run). Works on a fresh Debian 12
# machine with rustup as root (it installs the Debian packages it needs) and is quick to start on
# a prepared one. Steps, each with a banner and its duration; the first failure stops the run:
#
#   1. cargo fmt --check            (the workspace and kmod/rt)
#   2. cargo clippy -D warnings     (every workspace crate and target; kmod/rt with no features,
#                                    with `kernel`, and with the JIT tiers)
#   3. cargo test --workspace       (unit tests, the spec suite, WASI end-to-end, workloads)
#   4. cargo xtask nostd-check      (runtime + interp as a no_std staticlib for the kernel target,
#                                    symbol/relocation checks, run from a C host; then the same
#                                    with the optimizing and baseline tiers, compiling and running
#                                    wasm with Cranelift and dynasm + our sink; cold ~7 min, cached
#                                    in target/nostd-jit)
#   5. cargo xtask kernel           (the Rust-for-Linux test kernel: installs the Debian packages
#                                    and bindgen-cli it needs, builds once, then a cache hit in
#                                    ${KWASM_CACHE:-~/.cache/kwasm}; ~7-18 min cold on 2 cores)
#   6. cargo xtask vm-test          (kwasm.ko in that kernel under QEMU: sysfs knobs, /dev/kwasm,
#                                    the compute workloads and the whole spec suite in kernel mode,
#                                    SIGKILL, garbage ioctls, rmmod; a few minutes)
#   7. cargo xtask vm-test --tiers baseline,optimizing   (one kwasm.ko with both JIT tiers in its
#                                    SSE runtime, one boot: per tier the workloads, the whole spec
#                                    suite in kernel mode compiled by that JIT, traps, SIGKILL, fuel,
#                                    allocation failures, guard mode refused; then timings per tier;
#                                    ~10 min warm: 8.7 min of it the VM under TCG; cold, the
#                                    JIT runtime build adds ~13 min)
#
# The spec suite needs the WebAssembly testsuite: $KWASM_TESTSUITE, else ../shared/testsuite next
# to the repository. It is checked up front so that a missing suite fails in seconds.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# shellcheck source=scripts/lib.sh
source "$root/scripts/lib.sh"

run_start=$SECONDS
summary=()
current=""
step_start=$SECONDS

# Steps run with errexit in force (not under `if`, which would switch it off inside them); a
# failing command ends the script, and this trap names the step that failed.
on_exit() {
    local rc=$?
    if [[ $rc -ne 0 && -n "$current" ]]; then
        echo "=== FAILED: $current (exit $rc, after $((SECONDS - step_start)) s; whole run $((SECONDS - run_start)) s)" >&2
    fi
}
trap on_exit EXIT

step() {
    current="$1"
    shift
    echo
    echo "=== [$(date +%H:%M:%S)] $current"
    echo "=== \$ $*"
    step_start=$SECONDS
    "$@"
    summary+=("$(printf '%-28s %5d s' "$current" $((SECONDS - step_start)))")
    echo "=== ok: $current ($((SECONDS - step_start)) s)"
    current=""
}

setup() {
    ensure_apt_packages "${USER_SPACE_PACKAGES[@]}" "${KERNEL_TARGET_PACKAGES[@]}"
    ensure_rust rustfmt clippy
    local suite="${KWASM_TESTSUITE:-$root/../shared/testsuite}"
    if [[ ! -d "$suite" ]]; then
        echo "error: WebAssembly spec testsuite not found at $suite" >&2
        echo "  set KWASM_TESTSUITE to a directory holding the Wasm 2.0 core .wast files" >&2
        echo "  (WebAssembly/testsuite @ 7ef86dd) and proposals/{tail-call,extended-const}" >&2
        return 1
    fi
    echo "testsuite: $suite"
    echo "toolchain: $(cargo --version), $(rustc --version); kernel target: $(/usr/bin/rustc --version)"
}

# kmod/rt is a workspace of its own (a no_std staticlib for the kernel target), so it is named
# explicitly; its host-target clippy uses a target directory of its own.
fmt_check() {
    cargo fmt --all --check
    cargo fmt --manifest-path kmod/rt/Cargo.toml --check
}

clippy_check() {
    cargo clippy --workspace --all-targets --locked -- -D warnings
    local feature
    for feature in "" kernel optimizing,baseline; do
        CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}/nostd/host-clippy" \
            cargo clippy --manifest-path kmod/rt/Cargo.toml ${feature:+--features "$feature"} -- -D warnings
    done
}

step "set-up (packages, rustup)" setup
step "rustfmt" fmt_check
step "clippy" clippy_check
step "tests" cargo test --workspace --locked
step "nostd-check" cargo xtask nostd-check
step "kernel (cached build)" cargo xtask kernel
step "vm-test (QEMU)" cargo xtask vm-test
step "vm-test JIT (QEMU)" cargo xtask vm-test --tiers baseline,optimizing

echo
echo "=== all steps passed in $((SECONDS - run_start)) s"
printf '  %s\n' "${summary[@]}"
