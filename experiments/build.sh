#!/usr/bin/env bash
# Build every experiments/compute/*.c workload (and experiments/wasi/*.c, the WASI programs:
# echo server, file I/O) twice:
#   experiments/build/wasm/NAME.wasm   clang-19 --target=wasm32-wasi -O2 (wasi-libc)
#   experiments/build/native/NAME      gcc -O2 (glibc), the reference for output and time
#
# A compute workload whose manifest line (compute/workloads.tsv) lists `simd` in its fifth column
# is built for wasm with -msimd128 (fixed-width SIMD; gcc vectorises the native build anyway).
#
# Usage: experiments/build.sh [NAME...]   (default: every workload)
# Environment: CLANG (default clang-19), CC (default gcc), WASI_SYSROOT (default /usr).
# Outputs are rebuilt only when the source or this script is newer, and are
# written through a temporary file so concurrent runs never see half a binary.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
src_dir="$here/compute"
wasi_dir="$here/wasi"
out_dir="$here/build"
clang="${CLANG:-clang-19}"
cc="${CC:-gcc}"
sysroot="${WASI_SYSROOT:-/usr}"
apt_hint="install them with: apt-get install -y clang-19 lld-19 wasi-libc libclang-rt-19-dev-wasm32 gcc"

die() {
    echo "experiments/build.sh: $*" >&2
    exit 1
}

# Fail early and clearly rather than with a linker error halfway through.
command -v "$clang" >/dev/null || die "C compiler '$clang' not found; $apt_hint"
command -v "$cc" >/dev/null || die "C compiler '$cc' not found; $apt_hint"
[[ -f "$sysroot/lib/wasm32-wasi/libc.a" ]] ||
    die "wasi-libc not found at $sysroot/lib/wasm32-wasi/libc.a; $apt_hint"
ld_name="wasm-ld-${clang##*-}"
command -v "$ld_name" >/dev/null || command -v wasm-ld >/dev/null ||
    die "wasm linker ($ld_name or wasm-ld) not found; $apt_hint"
rt="$("$clang" --target=wasm32-wasi -print-libgcc-file-name 2>/dev/null || true)"
[[ -n "$rt" && -f "$rt" ]] ||
    die "compiler-rt builtins for wasm32 not found (${rt:-unknown path}); $apt_hint"

mkdir -p "$out_dir/wasm" "$out_dir/native"

if [[ $# -gt 0 ]]; then
    names=("$@")
else
    names=()
    for f in "$src_dir"/*.c "$wasi_dir"/*.c; do
        names+=("$(basename "$f" .c)")
    done
fi

# stale OUTPUT SOURCE: true when OUTPUT must be rebuilt.
stale() {
    [[ ! -f "$1" || "$2" -nt "$1" || "${BASH_SOURCE[0]}" -nt "$1" ]]
}

for name in "${names[@]}"; do
    src="$src_dir/$name.c"
    [[ -f "$src" ]] || src="$wasi_dir/$name.c"
    [[ -f "$src" ]] || die "no such workload: $name (neither compute/ nor wasi/)"

    wasm="$out_dir/wasm/$name.wasm"
    wasm_flags=()
    if awk -F'\t' -v n="$name" '$1 == n && $5 ~ /(^|,)simd(,|$)/ { found = 1 } END { exit !found }' \
        "$src_dir/workloads.tsv"; then
        wasm_flags+=(-msimd128)
    fi
    if stale "$wasm" "$src"; then
        tmp="$(mktemp "$wasm.XXXXXX")"
        "$clang" --target=wasm32-wasi --sysroot="$sysroot" -O2 "${wasm_flags[@]}" -Wall -o "$tmp" "$src" -lm ||
            { rm -f "$tmp"; die "wasm build of $name failed"; }
        mv -f "$tmp" "$wasm"
        echo "built $wasm"
    fi

    native="$out_dir/native/$name"
    if stale "$native" "$src"; then
        tmp="$(mktemp "$native.XXXXXX")"
        "$cc" -O2 -Wall -o "$tmp" "$src" -lm || { rm -f "$tmp"; die "native build of $name failed"; }
        mv -f "$tmp" "$native"
        echo "built $native"
    fi
done
