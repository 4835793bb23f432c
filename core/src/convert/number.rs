//! Number formatting exactly as Java prints it: `Double.toString`, `Float.toString` (JDK 19+, the
//! shortest-digit algorithm) and `BigDecimal.toString`.

use std::cmp::Ordering;

/// Formats an f64 as Java's `Double.toString` does (JDK 19+): `1.0`, `0.001`, `1.0E7`, `1.0E-4`,
/// `-0.0`, `NaN`, `Infinity`, `4.9E-324`.
pub fn java_double_to_string(v: f64) -> String {
    if let Some(s) = special(v.is_nan(), v.is_infinite(), v == 0.0, v.is_sign_negative()) {
        return s.to_owned();
    }
    let abs = v.abs();
    let mut buf = ryu::Buffer::new();
    let (mut digits, mut exp) = parse_decimal(buf.format_finite(abs));
    if digits.len() == 1 && abs < f64::MIN_POSITIVE {
        (digits, exp) = subnormal_two_digits(abs.to_bits(), 1074, digits, exp, |s| {
            s.parse::<f64>().ok() == Some(abs)
        });
    }
    layout(v.is_sign_negative(), &digits, exp)
}

/// Formats an f32 as Java's `Float.toString` does (JDK 19+): `0.1`, `1.0E10`, `1.4E-45`, ...
pub fn java_float_to_string(v: f32) -> String {
    if let Some(s) = special(v.is_nan(), v.is_infinite(), v == 0.0, v.is_sign_negative()) {
        return s.to_owned();
    }
    let abs = v.abs();
    let mut buf = ryu::Buffer::new();
    let (mut digits, mut exp) = parse_decimal(buf.format_finite(abs));
    if digits.len() == 1 && abs < f32::MIN_POSITIVE {
        (digits, exp) = subnormal_two_digits(u64::from(abs.to_bits()), 149, digits, exp, |s| {
            s.parse::<f32>().ok() == Some(abs)
        });
    }
    layout(v.is_sign_negative(), &digits, exp)
}

fn special(nan: bool, infinite: bool, zero: bool, negative: bool) -> Option<&'static str> {
    Some(match (nan, infinite, zero, negative) {
        (true, ..) => "NaN",
        (_, true, _, false) => "Infinity",
        (_, true, _, true) => "-Infinity",
        (_, _, true, false) => "0.0",
        (_, _, true, true) => "-0.0",
        _ => return None,
    })
}

/// Splits a positive decimal such as `123.45`, `1e-7` or `1.5e16` into its significant digits
/// (ASCII, no leading or trailing zeros) and the exponent of the first digit (scientific notation).
fn parse_decimal(s: &str) -> (Vec<u8>, i32) {
    let (mantissa, exp) = match s.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.parse::<i32>().expect("formatter exponent")),
        None => (s, 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let mut digits: Vec<u8> = int_part.bytes().chain(frac_part.bytes()).collect();
    let mut point = int_part.len() as i32;
    let leading = digits.iter().take_while(|&&d| d == b'0').count();
    digits.drain(..leading);
    point -= leading as i32;
    while digits.len() > 1 && digits.last() == Some(&b'0') {
        digits.pop();
    }
    if digits.is_empty() {
        digits.push(b'0');
    }
    (digits, point + exp - 1)
}

/// Java's layout of `digits × 10^exp` (first digit at `exp`): plain with at least one fractional
/// digit when `10^-3 <= |v| < 10^7`, otherwise `d.ddd` + `E` + exponent.
fn layout(negative: bool, digits: &[u8], exp: i32) -> String {
    let mut out = String::with_capacity(digits.len() + 8);
    if negative {
        out.push('-');
    }
    let push = |out: &mut String, d: &[u8]| out.extend(d.iter().map(|&b| b as char));
    if (-3..7).contains(&exp) {
        if exp >= 0 {
            let int_len = exp as usize + 1;
            if digits.len() <= int_len {
                push(&mut out, digits);
                out.extend(std::iter::repeat_n('0', int_len - digits.len()));
                out.push_str(".0");
            } else {
                push(&mut out, &digits[..int_len]);
                out.push('.');
                push(&mut out, &digits[int_len..]);
            }
        } else {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', (-exp - 1) as usize));
            push(&mut out, digits);
        }
    } else {
        out.push(digits[0] as char);
        out.push('.');
        if digits.len() > 1 {
            push(&mut out, &digits[1..]);
        } else {
            out.push('0');
        }
        out.push('E');
        out.push_str(&exp.to_string());
    }
    out
}

/// Java (JDK 19+) differs from plain shortest-digit output in one case: when a single digit
/// suffices, Java picks the decimal of length 1 *or 2* closest to the value. That can only differ
/// for subnormals (e.g. `Double.MIN_VALUE` is `4.9E-324`, not `5.0E-324`).
///
/// `mantissa × 2^-neg_exp2` is the exact value; `digit × 10^exp` the one-digit decimal found.
fn subnormal_two_digits(
    mantissa: u64,
    neg_exp2: u32,
    digits: Vec<u8>,
    exp: i32,
    rounds_to_value: impl Fn(&str) -> bool,
) -> (Vec<u8>, i32) {
    // Candidates c × 10^k with 10 <= c <= 99 at the two scales that can be nearest, plus the
    // one-digit decimal itself (as c = digit × 10, k = exp - 1).
    let kmin = exp - 2;
    let scaled_value = Big::from_u64(mantissa).mul_pow10((-kmin) as u32);
    let mut candidates: Vec<(u64, i32)> = vec![(u64::from(digits[0] - b'0') * 10, exp - 1)];
    for k in [exp - 2, exp - 1] {
        // floor(value / 10^k) = floor(mantissa × 10^-k / 2^neg_exp2)
        let q = Big::from_u64(mantissa)
            .mul_pow10((-k) as u32)
            .shr_to_u64(neg_exp2);
        for c in [q, q + 1] {
            if (10..=99).contains(&c) && rounds_to_value(&format!("{c}e{k}")) {
                candidates.push((c, k));
            }
        }
    }
    let distance = |&(c, k): &(u64, i32)| {
        let scaled = Big::from_u64(c).mul_pow10((k - kmin) as u32).shl(neg_exp2);
        scaled.abs_diff(&scaled_value)
    };
    let best = candidates
        .iter()
        .min_by(|a, b| {
            distance(a)
                .cmp(&distance(b))
                .then_with(|| (a.0 % 2).cmp(&(b.0 % 2)))
        })
        .copied()
        .expect("at least the one-digit candidate");
    let (mut digits, exp) = parse_decimal(&format!("{}e{}", best.0, best.1));
    digits.truncate(2);
    (digits, exp)
}

/// `BigDecimal.toString()` of the decimal whose unscaled value is the big-endian two's complement
/// `unscaled` (as Java's `BigInteger.toByteArray`) and whose scale is `scale`: plain notation when
/// the scale is non-negative and the adjusted exponent is at least -6 (`123.45`, `0.00`), otherwise
/// scientific (`1E-10`, `1.23E+4`).
pub(crate) fn big_decimal_to_string(unscaled: &[u8], scale: i32) -> String {
    let negative = unscaled.first().is_some_and(|b| b & 0x80 != 0);
    let magnitude: Vec<u8> = if negative {
        // Two's complement negation: invert and add one.
        let mut m: Vec<u8> = unscaled.iter().map(|b| !b).collect();
        for b in m.iter_mut().rev() {
            let (v, carry) = b.overflowing_add(1);
            *b = v;
            if !carry {
                break;
            }
        }
        m
    } else {
        unscaled.to_vec()
    };
    let coeff = Big::from_be_bytes(&magnitude).to_decimal();
    let coeff = coeff.as_bytes();
    let mut out = String::with_capacity(coeff.len() + 8);
    if negative {
        out.push('-');
    }
    let push = |out: &mut String, d: &[u8]| out.extend(d.iter().map(|&b| b as char));
    if scale == 0 {
        push(&mut out, coeff);
        return out;
    }
    let adjusted = -i64::from(scale) + (coeff.len() as i64 - 1);
    if scale >= 0 && adjusted >= -6 {
        let pad = i64::from(scale) - coeff.len() as i64;
        if pad >= 0 {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', pad as usize));
            push(&mut out, coeff);
        } else {
            let int_len = (-pad) as usize;
            push(&mut out, &coeff[..int_len]);
            out.push('.');
            push(&mut out, &coeff[int_len..]);
        }
    } else {
        out.push(coeff[0] as char);
        if coeff.len() > 1 {
            out.push('.');
            push(&mut out, &coeff[1..]);
        }
        if adjusted != 0 {
            out.push('E');
            if adjusted > 0 {
                out.push('+');
            }
            out.push_str(&adjusted.to_string());
        }
    }
    out
}

/// Just enough of an unsigned big integer for the formatting above: little-endian 32-bit limbs.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Big(Vec<u32>);

impl Big {
    fn from_u64(v: u64) -> Self {
        let mut b = Big(vec![v as u32, (v >> 32) as u32]);
        b.trim();
        b
    }

    fn from_be_bytes(bytes: &[u8]) -> Self {
        let mut limbs = Vec::with_capacity(bytes.len() / 4 + 1);
        for chunk in bytes.rchunks(4) {
            let mut limb = 0u32;
            for &b in chunk {
                limb = (limb << 8) | u32::from(b);
            }
            limbs.push(limb);
        }
        let mut b = Big(limbs);
        b.trim();
        b
    }

    fn trim(&mut self) {
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
    }

    fn mul_small(mut self, m: u32) -> Self {
        let mut carry = 0u64;
        for limb in &mut self.0 {
            let v = u64::from(*limb) * u64::from(m) + carry;
            *limb = v as u32;
            carry = v >> 32;
        }
        if carry > 0 {
            self.0.push(carry as u32);
        }
        self
    }

    fn mul_pow10(mut self, mut n: u32) -> Self {
        while n >= 9 {
            self = self.mul_small(1_000_000_000);
            n -= 9;
        }
        self.mul_small(10u32.pow(n))
    }

    fn shl(self, bits: u32) -> Self {
        let (words, bits) = ((bits / 32) as usize, bits % 32);
        let mut limbs = vec![0u32; words];
        let mut carry = 0u32;
        for limb in self.0 {
            if bits == 0 {
                limbs.push(limb);
            } else {
                limbs.push((limb << bits) | carry);
                carry = limb >> (32 - bits);
            }
        }
        if carry > 0 {
            limbs.push(carry);
        }
        let mut b = Big(limbs);
        b.trim();
        b
    }

    /// `floor(self / 2^bits)`, saturating at `u64::MAX`.
    fn shr_to_u64(&self, bits: u32) -> u64 {
        let (words, bits) = ((bits / 32) as usize, bits % 32);
        let limb = |i: usize| u64::from(self.0.get(i).copied().unwrap_or(0));
        if self.0.len() > words + 3 {
            return u64::MAX;
        }
        let wide = limb(words) | (limb(words + 1) << 32);
        let top = limb(words + 2);
        if bits == 0 {
            if top != 0 {
                return u64::MAX;
            }
            return wide;
        }
        if top >> bits != 0 {
            return u64::MAX;
        }
        (wide >> bits) | (top << (64 - bits))
    }

    fn abs_diff(&self, other: &Big) -> Big {
        let (big, small) = if self >= other {
            (self, other)
        } else {
            (other, self)
        };
        let mut limbs = Vec::with_capacity(big.0.len());
        let mut borrow = 0i64;
        for (i, &l) in big.0.iter().enumerate() {
            let mut v = i64::from(l) - i64::from(small.0.get(i).copied().unwrap_or(0)) - borrow;
            borrow = 0;
            if v < 0 {
                v += 1 << 32;
                borrow = 1;
            }
            limbs.push(v as u32);
        }
        let mut b = Big(limbs);
        b.trim();
        b
    }

    /// Decimal digits (`"0"` for zero).
    fn to_decimal(&self) -> String {
        let mut limbs = self.0.clone();
        let mut chunks = Vec::new();
        while !limbs.is_empty() {
            let mut rem = 0u64;
            for limb in limbs.iter_mut().rev() {
                let v = (rem << 32) | u64::from(*limb);
                *limb = (v / 1_000_000_000) as u32;
                rem = v % 1_000_000_000;
            }
            while limbs.last() == Some(&0) {
                limbs.pop();
            }
            chunks.push(rem as u32);
        }
        let mut out = chunks.pop().unwrap_or(0).to_string();
        for c in chunks.iter().rev() {
            out.push_str(&format!("{c:09}"));
        }
        out
    }
}

impl PartialOrd for Big {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Big {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0
            .len()
            .cmp(&other.0.len())
            .then_with(|| self.0.iter().rev().cmp(other.0.iter().rev()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn doubles_format_as_java() {
        let cases: &[(f64, &str)] = &[
            (0.1, "0.1"),
            (1.0, "1.0"),
            (100.0, "100.0"),
            (1e7, "1.0E7"),
            (9_999_999.0, "9999999.0"),
            (1.0e-4, "1.0E-4"),
            (0.001, "0.001"),
            (0.00123, "0.00123"),
            (123456.789, "123456.789"),
            (1.5e10, "1.5E10"),
            (1.0e10, "1.0E10"),
            (1.234e-5, "1.234E-5"),
            (-1.5, "-1.5"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (f64::MIN_POSITIVE, "2.2250738585072014E-308"),
            (f64::MAX, "1.7976931348623157E308"),
            (f64::MIN, "-1.7976931348623157E308"),
            (f64::EPSILON, "2.220446049250313E-16"),
            (1e23, "1.0E23"),
            (2e-3, "0.002"),
            (1.0 / 3.0, "0.3333333333333333"),
            (12345678.9, "1.23456789E7"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
            // Subnormals where Java prefers the closer two-digit decimal.
            (f64::from_bits(1), "4.9E-324"),
            (f64::from_bits(2), "9.9E-324"),
            (f64::from_bits(3), "1.5E-323"),
            (-f64::from_bits(1), "-4.9E-324"),
        ];
        for &(v, want) in cases {
            assert_eq!(java_double_to_string(v), want, "{v:e}");
        }
    }

    #[test]
    fn floats_format_as_java() {
        let cases: &[(f32, &str)] = &[
            (0.1, "0.1"),
            (1.0, "1.0"),
            (100.0, "100.0"),
            (1e7, "1.0E7"),
            (1.0e-4, "1.0E-4"),
            (0.001, "0.001"),
            (1.5e10, "1.5E10"),
            (3.4028235e38, "3.4028235E38"),
            (f32::MIN_POSITIVE, "1.1754944E-38"), // JDK <= 18 printed 1.17549435E-38
            (-0.0, "-0.0"),
            (f32::NAN, "NaN"),
            (f32::NEG_INFINITY, "-Infinity"),
            (f32::from_bits(1), "1.4E-45"),
            (f32::from_bits(2), "2.8E-45"),
        ];
        for &(v, want) in cases {
            assert_eq!(java_float_to_string(v), want, "{v:e}");
        }
    }

    proptest! {
        #[test]
        fn doubles_round_trip(bits in any::<u64>()) {
            let v = f64::from_bits(bits);
            prop_assume!(v.is_finite());
            let s = java_double_to_string(v);
            prop_assert_eq!(s.parse::<f64>().unwrap().to_bits(), v.to_bits(), "{}", s);
        }

        #[test]
        fn floats_round_trip(bits in any::<u32>()) {
            let v = f32::from_bits(bits);
            prop_assume!(v.is_finite());
            let s = java_float_to_string(v);
            prop_assert_eq!(s.parse::<f32>().unwrap().to_bits(), v.to_bits(), "{}", s);
        }

        #[test]
        fn tiny_subnormals_round_trip(m in 1u64..2000) {
            let v = f64::from_bits(m);
            let s = java_double_to_string(v);
            prop_assert_eq!(s.parse::<f64>().unwrap(), v, "{}", s);
        }

        #[test]
        fn big_decimal_coefficients_match(v in any::<i128>(), scale in -3i32..12) {
            let crate::data::Value::Bytes(b) = crate::data::logical::decimal_value(v) else {
                unreachable!()
            };
            let s = big_decimal_to_string(&b, scale);
            let digits: String = s.chars().take_while(|c| *c != 'E').filter(char::is_ascii_digit).collect();
            let digits = digits.trim_start_matches('0');
            let want = v.unsigned_abs().to_string();
            prop_assert_eq!(if digits.is_empty() { "0" } else { digits }, want.as_str(), "{}", s);
        }
    }

    #[test]
    fn big_decimals_format_as_java() {
        let d = |v: i128, scale| {
            let crate::data::Value::Bytes(b) = crate::data::logical::decimal_value(v) else {
                unreachable!()
            };
            big_decimal_to_string(&b, scale)
        };
        assert_eq!(d(12345, 2), "123.45");
        assert_eq!(d(-12345, 2), "-123.45");
        assert_eq!(d(12345, 0), "12345");
        assert_eq!(d(5, 3), "0.005");
        assert_eq!(d(-5, 1), "-0.5");
        assert_eq!(d(0, 2), "0.00");
        assert_eq!(d(0, 0), "0");
        assert_eq!(d(1, 6), "0.000001");
        assert_eq!(d(1, 7), "1E-7");
        assert_eq!(d(0, 10), "0E-10");
        assert_eq!(d(123, 10), "1.23E-8");
        assert_eq!(d(123, -2), "1.23E+4");
        assert_eq!(d(1, -2), "1E+2");
        assert_eq!(d(123456789, 3), "123456.789");
        assert_eq!(d(i128::MIN, 0), i128::MIN.to_string());
        assert_eq!(d(i128::MAX, 0), i128::MAX.to_string());
        // Longer than 16 bytes: 2^130.
        let mut b = vec![0x04];
        b.extend([0u8; 16]);
        assert_eq!(
            big_decimal_to_string(&b, 0),
            "1361129467683753853853498429727072845824"
        );
        // Non-minimal encodings have the same value.
        assert_eq!(big_decimal_to_string(&[0x00, 0x00, 0x01], 1), "0.1");
        assert_eq!(big_decimal_to_string(&[0xff, 0xff], 0), "-1");
    }
}
