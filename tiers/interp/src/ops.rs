//! Numeric semantics of WebAssembly operators that Rust's operators do not give directly:
//! NaN-aware min/max, round-to-nearest-even, checked float-to-int truncation, exact NaN
//! conversion between f32 and f64. Written once so that soft-float (kernel) and SSE (user
//! space) builds compute bit-identical results.

use kwasm_runtime::TrapKind;

/// `f32.min`.
pub fn f32_min(a: f32, b: f32) -> f32 {
    if a.is_nan() || b.is_nan() {
        return f32::from_bits(0x7fc0_0000);
    }
    if a == b {
        return f32::from_bits(a.to_bits() | b.to_bits());
    }
    if a < b {
        a
    } else {
        b
    }
}

/// `f32.max`.
pub fn f32_max(a: f32, b: f32) -> f32 {
    if a.is_nan() || b.is_nan() {
        return f32::from_bits(0x7fc0_0000);
    }
    if a == b {
        return f32::from_bits(a.to_bits() & b.to_bits());
    }
    if a > b {
        a
    } else {
        b
    }
}

/// `f64.min`.
pub fn f64_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        return f64::from_bits(0x7ff8_0000_0000_0000);
    }
    if a == b {
        return f64::from_bits(a.to_bits() | b.to_bits());
    }
    if a < b {
        a
    } else {
        b
    }
}

/// `f64.max`.
pub fn f64_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        return f64::from_bits(0x7ff8_0000_0000_0000);
    }
    if a == b {
        return f64::from_bits(a.to_bits() & b.to_bits());
    }
    if a > b {
        a
    } else {
        b
    }
}

/// Canonical quiet NaN for f32 results of unary ops on NaN inputs where the spec allows any
/// arithmetic NaN; keeps the input payload with the quiet bit set.
fn quiet32(a: f32) -> f32 {
    f32::from_bits(a.to_bits() | 0x0040_0000)
}

fn quiet64(a: f64) -> f64 {
    f64::from_bits(a.to_bits() | 0x0008_0000_0000_0000)
}

/// `f32.nearest` (round half to even).
pub fn f32_nearest(a: f32) -> f32 {
    if a.is_nan() {
        return quiet32(a);
    }
    libm::rintf(a)
}

/// `f64.nearest`.
pub fn f64_nearest(a: f64) -> f64 {
    if a.is_nan() {
        return quiet64(a);
    }
    libm::rint(a)
}

/// `f32.ceil`.
pub fn f32_ceil(a: f32) -> f32 {
    if a.is_nan() {
        return quiet32(a);
    }
    libm::ceilf(a)
}

/// `f32.floor`.
pub fn f32_floor(a: f32) -> f32 {
    if a.is_nan() {
        return quiet32(a);
    }
    libm::floorf(a)
}

/// `f32.trunc`.
pub fn f32_trunc(a: f32) -> f32 {
    if a.is_nan() {
        return quiet32(a);
    }
    libm::truncf(a)
}

/// `f32.sqrt`.
pub fn f32_sqrt(a: f32) -> f32 {
    if a.is_nan() {
        return quiet32(a);
    }
    libm::sqrtf(a)
}

/// `f64.ceil`.
pub fn f64_ceil(a: f64) -> f64 {
    if a.is_nan() {
        return quiet64(a);
    }
    libm::ceil(a)
}

/// `f64.floor`.
pub fn f64_floor(a: f64) -> f64 {
    if a.is_nan() {
        return quiet64(a);
    }
    libm::floor(a)
}

/// `f64.trunc`.
pub fn f64_trunc(a: f64) -> f64 {
    if a.is_nan() {
        return quiet64(a);
    }
    libm::trunc(a)
}

/// `f64.sqrt`.
pub fn f64_sqrt(a: f64) -> f64 {
    if a.is_nan() {
        return quiet64(a);
    }
    libm::sqrt(a)
}

/// `f32.demote_f64` with the NaN payload handling of x86 (`cvtsd2ss`), made explicit so that
/// soft-float builds agree bit for bit.
pub fn demote(a: f64) -> f32 {
    if a.is_nan() {
        let bits = a.to_bits();
        let sign = ((bits >> 63) as u32) << 31;
        let payload = ((bits >> 29) & 0x003f_ffff) as u32;
        return f32::from_bits(sign | 0x7fc0_0000 | payload);
    }
    a as f32
}

/// `f64.promote_f32` (see [`demote`] for why NaNs are handled by hand).
pub fn promote(a: f32) -> f64 {
    if a.is_nan() {
        let bits = a.to_bits();
        let sign = ((bits >> 31) as u64) << 63;
        let payload = ((bits & 0x003f_ffff) as u64) << 29;
        return f64::from_bits(sign | 0x7ff8_0000_0000_0000 | payload);
    }
    a as f64
}

macro_rules! checked_trunc {
    ($name:ident, $from:ty, $to:ty, $lo:expr, $hi:expr, $trunc:path) => {
        /// Trapping float-to-int truncation.
        pub fn $name(a: $from) -> Result<$to, TrapKind> {
            if a.is_nan() {
                return Err(TrapKind::InvalidConversionToInteger);
            }
            let t = $trunc(a);
            // `lo` is exclusive: trunc(a) must be > lo; `hi` is exclusive: trunc(a) < hi.
            if t <= $lo || t >= $hi {
                return Err(TrapKind::IntegerOverflow);
            }
            Ok(t as $to)
        }
    };
}

checked_trunc!(i32_trunc_f32, f32, i32, -2147483904.0f32, 2147483648.0f32, libm::truncf);
checked_trunc!(u32_trunc_f32, f32, u32, -1.0f32, 4294967296.0f32, libm::truncf);
checked_trunc!(i32_trunc_f64, f64, i32, -2147483649.0f64, 2147483648.0f64, libm::trunc);
checked_trunc!(u32_trunc_f64, f64, u32, -1.0f64, 4294967296.0f64, libm::trunc);
checked_trunc!(i64_trunc_f32, f32, i64, -9223373136366403584.0f32, 9223372036854775808.0f32, libm::truncf);
checked_trunc!(u64_trunc_f32, f32, u64, -1.0f32, 18446744073709551616.0f32, libm::truncf);
checked_trunc!(i64_trunc_f64, f64, i64, -9223372036854777856.0f64, 9223372036854775808.0f64, libm::trunc);
checked_trunc!(u64_trunc_f64, f64, u64, -1.0f64, 18446744073709551616.0f64, libm::trunc);
