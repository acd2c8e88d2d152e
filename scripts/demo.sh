#!/usr/bin/env bash
# Builds kwasm and the bundled WASI demo (experiments/demo/hello.c, compiled with clang-19 for
# wasm32-wasi) and runs it with `kwasm run`, with a preopened directory, an environment variable
# and arguments. Installs the Debian packages it needs when missing (root or sudo).
#
# Usage: scripts/demo.sh [--tier interp] [ARGS for the demo...]
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# shellcheck source=scripts/lib.sh
source "$root/scripts/lib.sh"

tier=interp
if [[ "${1:-}" == "--tier" ]]; then
    tier="$2"
    shift 2
fi
args=("$@")
[[ ${#args[@]} -gt 0 ]] || args=(from the kwasm demo)

ensure_apt_packages "${USER_SPACE_PACKAGES[@]}"
ensure_rust

echo "== building kwasm (cargo build --release -p kwasm-cli)"
cargo build --release -p kwasm-cli
kwasm="${CARGO_TARGET_DIR:-$root/target}/release/kwasm"

out="${CARGO_TARGET_DIR:-$root/target}/demo"
mkdir -p "$out/sandbox"
echo "== compiling experiments/demo/hello.c to wasm32-wasi (clang-19, wasi-libc)"
clang-19 --target=wasm32-wasi --sysroot=/usr -O2 -Wall -Wextra -Wl,--strip-all \
    -o "$out/hello.wasm" experiments/demo/hello.c

cmd=("$kwasm" run --tier "$tier" --dir "$out/sandbox::/sandbox" --env "DEMO_USER=${USER:-$(id -un)}"
    "$out/hello.wasm" "${args[@]}")
echo "== running: ${cmd[*]}"
"${cmd[@]}"
echo "== done: the module ran under kwasm's $tier tier; it wrote $out/sandbox/kwasm-demo.txt"
