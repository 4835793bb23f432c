//! Connect values → Protobuf binary, byte for byte as Java's `DynamicMessage.writeTo` writes the
//! message Confluent's `ProtobufData.fromConnectData` builds: fields in number order, proto3
//! defaults left out (but kept for `optional` fields and in repeated fields), repeated scalars
//! packed, map entries as messages, nested messages always written.

use chrono::{Datelike, NaiveDate};
use prost::encoding::{encode_key, encode_varint, WireType};

use super::schema::{element, field_number, has_presence, wrapped};
use super::ProtobufOptions;
use crate::data::logical::{
    decimal_unscaled, minimal_twos_complement, DATE_NAME, DECIMAL_NAME, DECIMAL_SCALE,
    TIMESTAMP_NAME, TIME_NAME,
};
use crate::data::{Schema, Struct, Type, Value};
use crate::error::{Error, Result};

const MILLIS_PER_DAY: i64 = 86_400_000;
/// `google.protobuf.Timestamp`'s range: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z.
const TIMESTAMP_SECONDS: std::ops::RangeInclusive<i64> = -62_135_596_800..=253_402_300_799;
/// Days from 1970-01-01 to 1582-10-15, the first day of Java's Gregorian calendar (days before
/// are Julian in `java.util.GregorianCalendar`, which Confluent's Date conversion uses).
const GREGORIAN_CUTOVER_DAYS: i64 = -141_427;

/// Writes values of one Connect schema.
#[derive(Debug, Clone, Copy)]
pub(super) struct Encoder<'o> {
    pub(super) options: &'o ProtobufOptions,
}

impl Encoder<'_> {
    /// The fields of struct `value` (schema `schema`), appended to `out`.
    pub(super) fn write_struct(
        &self,
        schema: &Schema,
        value: &Struct,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        if value.schema() != schema {
            return Err(Error::Data(format!(
                "struct value with schema {:?} for a different struct schema {:?}",
                value.schema().name(),
                schema.name()
            )));
        }
        // Java writes fields in number order; numbers follow the field order unless a field has
        // an io.confluent.connect.protobuf.Tag.
        let mut next = 1;
        let mut numbered = Vec::with_capacity(schema.fields().len());
        for field in schema.fields() {
            numbered.push((field_number(field.schema(), &mut next)?, field));
        }
        if !numbered.windows(2).all(|w| w[0].0 < w[1].0) {
            numbered.sort_by_key(|(n, _)| *n);
        }
        for (number, field) in numbered {
            let fs = field.schema();
            let raw = &value.values()[field.index()];
            // Connect's Struct.get gives the default for a null field; ignore.default.for.nullables
            // reads the value as set.
            let v = match (raw, fs.default_value()) {
                (Value::Null, Some(d)) if !self.options.ignore_default_for_nullables => d,
                _ => raw,
            };
            self.write_field(fs, number, v, has_presence(fs, self.options, false), out)
                .map_err(|e| match e {
                    Error::Data(m) => Error::Data(format!("field {:?}: {m}", field.name())),
                    e => e,
                })?;
        }
        Ok(())
    }

    /// One field (any type); null writes nothing.
    fn write_field(
        &self,
        schema: &Schema,
        number: i32,
        value: &Value,
        presence: bool,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        let tag = tag_of(number)?;
        match (schema.type_(), value) {
            (_, Value::Null) => Ok(()),
            (Type::Array, Value::Array(items)) => {
                if items.is_empty() {
                    return Ok(());
                }
                let es = element(schema)?;
                if items.contains(&Value::Null) {
                    return Err(Error::Data(
                        "an array holds a null element, which Protobuf cannot write (a repeated \
                         field has no nulls): drop the nulls or make the elements structs"
                            .into(),
                    ));
                }
                if self.packed(es) {
                    let mut body = Vec::with_capacity(items.len() * 2);
                    for item in items {
                        self.write_scalar_payload(es, item, &mut body)?;
                    }
                    write_len(tag, &body, out);
                } else {
                    for item in items {
                        self.write_single(es, tag, item, true, out)?;
                    }
                }
                Ok(())
            }
            (Type::Map, Value::Map(entries)) => {
                let (Some(ks), Some(vs)) = (schema.key_schema(), schema.value_schema()) else {
                    return Err(Error::Schema(
                        "map schema without key or value schema".into(),
                    ));
                };
                let mut body = Vec::new();
                for (k, v) in entries {
                    body.clear();
                    self.write_field(ks, 1, k, false, &mut body)?;
                    self.write_field(vs, 2, v, false, &mut body)?;
                    write_len(tag, &body, out);
                }
                Ok(())
            }
            _ => self.write_single(schema, tag, value, presence, out),
        }
    }

    /// Whether a repeated field of `es` elements is packed (proto3 numeric and bool scalars).
    fn packed(&self, es: &Schema) -> bool {
        matches!(
            es.type_(),
            Type::Int8
                | Type::Int16
                | Type::Int32
                | Type::Int64
                | Type::Float32
                | Type::Float64
                | Type::Boolean
        ) && !is_logical(es)
            && !wrapped(es, self.options)
    }

    /// A singular value (or one element of a non-packed repeated field): a scalar, a wrapper, a
    /// logical type's message or a struct's message. `keep_default` writes a scalar even when
    /// it holds its type's default.
    fn write_single(
        &self,
        schema: &Schema,
        tag: u32,
        value: &Value,
        keep_default: bool,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        if is_logical(schema) {
            let mut body = Vec::with_capacity(24);
            logical_body(schema, value, &mut body)?;
            write_len(tag, &body, out);
            return Ok(());
        }
        match (schema.type_(), value) {
            (Type::Struct, Value::Struct(s)) => {
                let mut body = Vec::with_capacity(64);
                self.write_struct(schema, s, &mut body)?;
                write_len(tag, &body, out);
                Ok(())
            }
            _ if wrapped(schema, self.options) => {
                let mut body = Vec::with_capacity(16);
                self.write_scalar(schema, 1, value, false, &mut body)?;
                write_len(tag, &body, out);
                Ok(())
            }
            _ => self.write_scalar(schema, tag, value, keep_default, out),
        }
    }

    /// A scalar field, left out when it holds the default and `keep_default` is false.
    fn write_scalar(
        &self,
        schema: &Schema,
        tag: u32,
        value: &Value,
        keep_default: bool,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        if !keep_default && is_default(value) {
            return Ok(());
        }
        let wire = match value {
            Value::Float32(_) => WireType::ThirtyTwoBit,
            Value::Float64(_) => WireType::SixtyFourBit,
            Value::String(_) | Value::Bytes(_) => WireType::LengthDelimited,
            _ => WireType::Varint,
        };
        check_type(schema, value)?;
        encode_key(tag, wire, out);
        self.write_scalar_payload(schema, value, out)
    }

    /// A scalar's payload without its key (the element of a packed field).
    fn write_scalar_payload(
        &self,
        schema: &Schema,
        value: &Value,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        check_type(schema, value)?;
        match value {
            // int32 is written sign-extended to 64 bits, as protobuf does.
            Value::Int8(v) => encode_varint(i64::from(*v) as u64, out),
            Value::Int16(v) => encode_varint(i64::from(*v) as u64, out),
            Value::Int32(v) => encode_varint(i64::from(*v) as u64, out),
            Value::Int64(v) => encode_varint(*v as u64, out),
            Value::Float32(v) => out.extend_from_slice(&v.to_le_bytes()),
            Value::Float64(v) => out.extend_from_slice(&v.to_le_bytes()),
            Value::Boolean(v) => out.push(u8::from(*v)),
            Value::String(s) => {
                encode_varint(s.len() as u64, out);
                out.extend_from_slice(s.as_bytes());
            }
            Value::Bytes(b) => {
                encode_varint(b.len() as u64, out);
                out.extend_from_slice(b);
            }
            v => {
                return Err(Error::Data(format!(
                    "{} value where a scalar was expected",
                    v.inferred_type().map_or("null", Type::name)
                )))
            }
        }
        Ok(())
    }
}

fn tag_of(number: i32) -> Result<u32> {
    // Protobuf's field numbers: 1 to 2^29 - 1.
    if (1..=536_870_911).contains(&number) {
        Ok(number as u32)
    } else {
        Err(Error::Schema(format!(
            "field number {number} is outside Protobuf's 1..536870911"
        )))
    }
}

fn is_logical(schema: &Schema) -> bool {
    matches!(
        schema.name(),
        Some(DECIMAL_NAME | DATE_NAME | TIME_NAME | TIMESTAMP_NAME)
    )
}

fn check_type(schema: &Schema, value: &Value) -> Result<()> {
    if value.inferred_type() == Some(schema.type_()) {
        Ok(())
    } else {
        Err(Error::Data(format!(
            "{} value for a {} schema",
            value.inferred_type().map_or("null", Type::name),
            schema.type_()
        )))
    }
}

/// Whether a scalar holds proto3's default (0, +0.0, false, empty); -0.0 is not the default.
fn is_default(value: &Value) -> bool {
    match value {
        Value::Int8(v) => *v == 0,
        Value::Int16(v) => *v == 0,
        Value::Int32(v) => *v == 0,
        Value::Int64(v) => *v == 0,
        Value::Float32(v) => v.to_bits() == 0,
        Value::Float64(v) => v.to_bits() == 0,
        Value::Boolean(v) => !*v,
        Value::String(s) => s.is_empty(),
        Value::Bytes(b) => b.is_empty(),
        _ => false,
    }
}

fn write_len(tag: u32, body: &[u8], out: &mut Vec<u8>) {
    encode_key(tag, WireType::LengthDelimited, out);
    encode_varint(body.len() as u64, out);
    out.extend_from_slice(body);
}

fn varint_field(tag: u32, v: u64, out: &mut Vec<u8>) {
    if v != 0 {
        encode_key(tag, WireType::Varint, out);
        encode_varint(v, out);
    }
}

/// The body of a logical type's message: `confluent.type.Decimal`, `google.type.Date`,
/// `google.type.TimeOfDay` or `google.protobuf.Timestamp`.
fn logical_body(schema: &Schema, value: &Value, out: &mut Vec<u8>) -> Result<()> {
    let name = schema.name().unwrap_or_default();
    let bad = |expected: &str| {
        Error::Data(format!(
            "invalid value for {name}: expected {expected}, got {}",
            value.inferred_type().map_or("null", Type::name)
        ))
    };
    match (name, value) {
        (DECIMAL_NAME, Value::Bytes(bytes)) => {
            let scale = schema
                .parameters()
                .get(DECIMAL_SCALE)
                .and_then(|s| s.trim().parse::<i32>().ok())
                .ok_or_else(|| {
                    Error::Data(format!(
                        "{name} schema without an integer '{DECIMAL_SCALE}' parameter"
                    ))
                })?;
            if bytes.is_empty() {
                return Err(Error::Data(format!("{name} value with no bytes")));
            }
            // DecimalUtils.fromBigDecimal: BigInteger.toByteArray, BigDecimal.precision, scale.
            let unscaled = minimal_twos_complement(bytes);
            write_len(1, unscaled, out);
            varint_field(2, decimal_digits(unscaled), out);
            varint_field(3, i64::from(scale) as u64, out);
        }
        (DATE_NAME, Value::Int32(days)) => {
            let (year, month, day) = java_calendar_date(i64::from(*days))?;
            varint_field(1, i64::from(year) as u64, out);
            varint_field(2, u64::from(month), out);
            varint_field(3, u64::from(day), out);
        }
        (TIME_NAME, Value::Int32(ms)) => {
            let ms = i64::from(*ms);
            if !(0..=MILLIS_PER_DAY).contains(&ms) {
                return Err(Error::Data(format!(
                    "{name} value {ms} ms is outside 0..86400000 (one day)"
                )));
            }
            let ms = ms % MILLIS_PER_DAY;
            varint_field(1, (ms / 3_600_000) as u64, out);
            varint_field(2, (ms / 60_000 % 60) as u64, out);
            varint_field(3, (ms / 1000 % 60) as u64, out);
            varint_field(4, (ms % 1000 * 1_000_000) as u64, out);
        }
        (TIMESTAMP_NAME, Value::Int64(ms)) => {
            // Timestamps.fromMillis: seconds and non-negative nanos.
            let seconds = ms.div_euclid(1000);
            let nanos = ms.rem_euclid(1000) * 1_000_000;
            if !TIMESTAMP_SECONDS.contains(&seconds) {
                return Err(Error::Data(format!(
                    "{name} value {ms} ms is outside google.protobuf.Timestamp's range (years \
                     0001 to 9999)"
                )));
            }
            varint_field(1, seconds as u64, out);
            varint_field(2, nanos as u64, out);
        }
        (DECIMAL_NAME, _) => return Err(bad("bytes")),
        (DATE_NAME | TIME_NAME, _) => return Err(bad("int32")),
        _ => return Err(bad("int64")),
    }
    Ok(())
}

/// `BigDecimal.precision()`: the number of decimal digits of the unscaled value (1 for zero).
fn decimal_digits(twos_complement: &[u8]) -> u64 {
    if let Some(v) = decimal_unscaled(twos_complement) {
        let mut m = v.unsigned_abs();
        let mut digits = 1;
        while m >= 10 {
            m /= 10;
            digits += 1;
        }
        return digits;
    }
    // Wider than 128 bits: the magnitude in base 10^9 limbs, by repeated division.
    let negative = twos_complement[0] & 0x80 != 0;
    let mut mag: Vec<u8> = if negative {
        // Two's complement negation: invert and add one.
        let mut m: Vec<u8> = twos_complement.iter().map(|b| !b).collect();
        for b in m.iter_mut().rev() {
            let (s, carry) = b.overflowing_add(1);
            *b = s;
            if !carry {
                break;
            }
        }
        m
    } else {
        twos_complement.to_vec()
    };
    let mut digits = 0u64;
    loop {
        let mut rem = 0u64;
        let mut nonzero = false;
        for b in mag.iter_mut() {
            let cur = (rem << 8) | u64::from(*b);
            *b = (cur / 1_000_000_000) as u8;
            rem = cur % 1_000_000_000;
            nonzero |= *b != 0;
        }
        if !nonzero {
            let mut r = rem;
            while r > 0 {
                r /= 10;
                digits += 1;
            }
            return digits.max(1);
        }
        digits += 9;
    }
}

/// The year, month and day `java.util.GregorianCalendar` (UTC) gives for `days` since
/// 1970-01-01: Gregorian from 1582-10-15, Julian before; the year is the year of its era.
fn java_calendar_date(days: i64) -> Result<(i32, u32, u32)> {
    let (year, month, day) = if days >= GREGORIAN_CUTOVER_DAYS {
        let date = NaiveDate::from_num_days_from_ce_opt((days + 719_163) as i32)
            .ok_or_else(|| Error::Data(format!("Date value {days} days is out of range")))?;
        (i64::from(date.year()), date.month(), date.day())
    } else {
        // Julian calendar from the Julian day number.
        let jdn = days + 2_440_588;
        let c = jdn + 32_082;
        let d = (4 * c + 3).div_euclid(1461);
        let e = c - (1461 * d).div_euclid(4);
        let m = (5 * e + 2).div_euclid(153);
        let day = e - (153 * m + 2).div_euclid(5) + 1;
        let month = m + 3 - 12 * m.div_euclid(10);
        let year = d - 4800 + m.div_euclid(10);
        (year, month as u32, day as u32)
    };
    let year_of_era = if year <= 0 { 1 - year } else { year };
    i32::try_from(year_of_era)
        .map(|y| (y, month, day))
        .map_err(|_| Error::Data(format!("Date value {days} days is out of range")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_follow_javas_calendar() {
        assert_eq!(java_calendar_date(0).unwrap(), (1970, 1, 1));
        assert_eq!(java_calendar_date(-1).unwrap(), (1969, 12, 31));
        assert_eq!(java_calendar_date(19_723).unwrap(), (2024, 1, 1));
        // The Gregorian cutover: the day before 1582-10-15 is Julian 1582-10-04.
        assert_eq!(
            java_calendar_date(GREGORIAN_CUTOVER_DAYS).unwrap(),
            (1582, 10, 15)
        );
        assert_eq!(
            java_calendar_date(GREGORIAN_CUTOVER_DAYS - 1).unwrap(),
            (1582, 10, 4)
        );
        // 0001-01-01 Julian is 719164 days before the epoch in Java (two days more than the
        // proleptic Gregorian 0001-01-03).
        assert_eq!(java_calendar_date(-719_164).unwrap(), (1, 1, 1));
    }

    #[test]
    fn decimal_precision_counts_digits() {
        assert_eq!(decimal_digits(&[0]), 1);
        assert_eq!(decimal_digits(&[0x30, 0x39]), 5); // 12345
        assert_eq!(decimal_digits(&[0xcf, 0xc7]), 5); // -12345
                                                      // 10^40 = 0x1D6329F1C35CA4BFABB9F5610000000000 (17 bytes, past i128).
        let big = [
            0x1d, 0x63, 0x29, 0xf1, 0xc3, 0x5c, 0xa4, 0xbf, 0xab, 0xb9, 0xf5, 0x61, 0x00, 0x00,
            0x00, 0x00, 0x00,
        ];
        assert_eq!(decimal_digits(&big), 41);
    }
}
