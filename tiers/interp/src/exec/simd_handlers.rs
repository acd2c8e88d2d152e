//! Handlers of the SIMD instructions. A v128 lives in two consecutive slots, low half first; the
//! lane arithmetic is in [`crate::simd`].
//!
//! Every handler here reads a vector operand as two slots even where the operator takes a scalar
//! there (`splat`, shift counts, `replace_lane` values): the slot after any operand slot is still
//! inside the frame (a local's is at most `num_locals`, a stack operand's at most the frame's
//! spare top slot), so the read is in bounds, and the operator uses only the low bits.

use super::*;
use crate::simd;

/// Reads the v128 at slots `s`, `s + 1`.
macro_rules! r128 {
    ($bp:ident, $s:expr) => {{
        let s = $s;
        u128::from(r!($bp, s)) | (u128::from(r!($bp, s + 1)) << 64)
    }};
}

/// Writes a v128 to slots `s`, `s + 1`.
macro_rules! w128 {
    ($bp:ident, $s:expr, $v:expr) => {{
        let (s, v): (u32, u128) = ($s, $v);
        w!($bp, s, v as u64);
        w!($bp, s + 1, (v >> 64) as u64);
    }};
}

handler!(SimdUnary { op, lane, dst, src } (ip, bp, mem, mem_len, cx) {
    let v = simd::unary(op, lane, r128!(bp, src));
    if op.wide_result() {
        w128!(bp, dst, v);
    } else {
        w!(bp, dst, v as u64);
    }
    dispatch!(next(ip), bp, mem, mem_len, cx)
});

handler!(SimdBinary { op, lane, dst, a, b } (ip, bp, mem, mem_len, cx) {
    let v = simd::binary(op, lane, r128!(bp, a), r128!(bp, b));
    w128!(bp, dst, v);
    dispatch!(next(ip), bp, mem, mem_len, cx)
});

handler!(V128Bitselect { base } (ip, bp, mem, mem_len, cx) {
    let v = simd::bitselect(r128!(bp, base), r128!(bp, base + 2), r128!(bp, base + 4));
    w128!(bp, base, v);
    dispatch!(next(ip), bp, mem, mem_len, cx)
});

handler!(I8x16Shuffle { base, lanes } (ip, bp, mem, mem_len, cx) {
    let lanes = &cx.f().shuffles[lanes as usize];
    let v = simd::shuffle(r128!(bp, base), r128!(bp, base + 2), lanes);
    w128!(bp, base, v);
    dispatch!(next(ip), bp, mem, mem_len, cx)
});

/// Reads `n` (at most 16) bytes at `addr + offset` into the low bits, or returns the trap exit.
macro_rules! read_bytes {
    ($ip:ident, $bp:ident, $mem:ident, $len:ident, $cx:ident, $addr:expr, $offset:expr, $n:expr) => {{
        let n: usize = $n;
        let ea = effective!($ip, $bp, $len, $cx, $addr, $offset, n as u64);
        let mut buf = [0u8; 16];
        // SAFETY: `ea + n <= mem_len` was checked, `mem` holds `mem_len` bytes, `n <= 16`.
        unsafe { core::ptr::copy_nonoverlapping($mem.add(ea), buf.as_mut_ptr(), n) };
        u128::from_le_bytes(buf)
    }};
}

/// Writes the low `n` (at most 16) bytes of `v` at `addr + offset`, or returns the trap exit.
macro_rules! write_bytes {
    ($ip:ident, $bp:ident, $mem:ident, $len:ident, $cx:ident, $addr:expr, $offset:expr, $n:expr, $v:expr) => {{
        let n: usize = $n;
        let ea = effective!($ip, $bp, $len, $cx, $addr, $offset, n as u64);
        let buf = u128::to_le_bytes($v);
        // SAFETY: `ea + n <= mem_len` was checked, `mem` holds `mem_len` bytes, `n <= 16`.
        unsafe { core::ptr::copy_nonoverlapping(buf.as_ptr(), $mem.add(ea), n) };
    }};
}

handler!(V128Load { kind, dst, addr, offset } (ip, bp, mem, mem_len, cx) {
    let raw = read_bytes!(ip, bp, mem, mem_len, cx, addr, offset, kind.bytes());
    w128!(bp, dst, kind.convert(raw));
    dispatch!(next(ip), bp, mem, mem_len, cx)
});

handler!(V128LoadLane { bytes, lane, base, offset } (ip, bp, mem, mem_len, cx) {
    let raw = read_bytes!(ip, bp, mem, mem_len, cx, base, offset, bytes as usize);
    let v = simd::load_lane(r128!(bp, base + 1), bytes, lane, raw);
    w128!(bp, base, v);
    dispatch!(next(ip), bp, mem, mem_len, cx)
});

handler!(V128Store { addr, val, offset } (ip, bp, mem, mem_len, cx) {
    write_bytes!(ip, bp, mem, mem_len, cx, addr, offset, 16, r128!(bp, val));
    dispatch!(next(ip), bp, mem, mem_len, cx)
});

handler!(V128StoreLane { bytes, lane, addr, val, offset } (ip, bp, mem, mem_len, cx) {
    let v = simd::lane_bits(r128!(bp, val), bytes, lane);
    write_bytes!(ip, bp, mem, mem_len, cx, addr, offset, bytes as usize, v);
    dispatch!(next(ip), bp, mem, mem_len, cx)
});

handler!(GlobalGetV128 { dst, global } (ip, bp, mem, mem_len, cx) {
    w128!(bp, dst, cx.ex().globals.get128(global));
    dispatch!(next(ip), bp, mem, mem_len, cx)
});

handler!(GlobalSetV128 { src, global } (ip, bp, mem, mem_len, cx) {
    cx.ex().globals.set128(global, r128!(bp, src));
    dispatch!(next(ip), bp, mem, mem_len, cx)
});
