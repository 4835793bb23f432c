//! Connect's logical types: Decimal, Date, Time and Timestamp.
//!
//! Each is a named schema over a physical type, exactly as in `org.apache.kafka.connect.data`;
//! values are held in the physical form, which is also what converters write.

use super::{Schema, SchemaBuilder, Type, Value};

/// Schema name of the Decimal logical type.
pub const DECIMAL_NAME: &str = "org.apache.kafka.connect.data.Decimal";
/// Parameter carrying a Decimal's scale.
pub const DECIMAL_SCALE: &str = "scale";
/// Schema name of the Date logical type.
pub const DATE_NAME: &str = "org.apache.kafka.connect.data.Date";
/// Schema name of the Time logical type.
pub const TIME_NAME: &str = "org.apache.kafka.connect.data.Time";
/// Schema name of the Timestamp logical type.
pub const TIMESTAMP_NAME: &str = "org.apache.kafka.connect.data.Timestamp";

const MILLIS_PER_DAY: i64 = 86_400_000;

/// A Decimal schema builder with `scale` (bytes holding the unscaled two's complement value).
pub fn decimal(scale: i32) -> SchemaBuilder {
    SchemaBuilder::new(Type::Bytes)
        .name(DECIMAL_NAME)
        .version(1)
        .parameter(DECIMAL_SCALE, scale.to_string())
}

/// A Date schema builder (int32 days since 1970-01-01).
pub fn date() -> SchemaBuilder {
    SchemaBuilder::new(Type::Int32).name(DATE_NAME).version(1)
}

/// A Time schema builder (int32 milliseconds since midnight).
pub fn time() -> SchemaBuilder {
    SchemaBuilder::new(Type::Int32).name(TIME_NAME).version(1)
}

/// A Timestamp schema builder (int64 milliseconds since the epoch).
pub fn timestamp() -> SchemaBuilder {
    SchemaBuilder::new(Type::Int64)
        .name(TIMESTAMP_NAME)
        .version(1)
}

/// The Decimal value for `unscaled` (big-endian minimal two's complement, as Java's
/// `BigInteger.toByteArray`).
pub fn decimal_value(unscaled: i128) -> Value {
    let bytes = unscaled.to_be_bytes();
    // Drop redundant sign bytes while keeping the sign bit of the first remaining byte.
    let mut start = 0;
    while start < bytes.len() - 1 {
        let (b, next) = (bytes[start], bytes[start + 1]);
        if (b == 0x00 && next & 0x80 == 0) || (b == 0xff && next & 0x80 != 0) {
            start += 1;
        } else {
            break;
        }
    }
    Value::Bytes(bytes[start..].to_vec())
}

/// The shortest big-endian two's-complement form of the same integer: redundant sign bytes
/// dropped, as Java's `BigInteger.toByteArray` writes it (Connect decimals are such bytes). An
/// empty input is zero: `[0]`.
pub fn minimal_twos_complement(bytes: &[u8]) -> &[u8] {
    if bytes.is_empty() {
        return &[0];
    }
    let mut start = 0;
    while start + 1 < bytes.len()
        && ((bytes[start] == 0x00 && bytes[start + 1] & 0x80 == 0)
            || (bytes[start] == 0xff && bytes[start + 1] & 0x80 != 0))
    {
        start += 1;
    }
    &bytes[start..]
}

/// The unscaled value of a Decimal's bytes, if it fits in an i128.
pub fn decimal_unscaled(bytes: &[u8]) -> Option<i128> {
    if bytes.is_empty() || bytes.len() > 16 {
        return None;
    }
    let fill = if bytes[0] & 0x80 != 0 { 0xff } else { 0x00 };
    let mut buf = [fill; 16];
    buf[16 - bytes.len()..].copy_from_slice(bytes);
    Some(i128::from_be_bytes(buf))
}

/// The Date value for `days` since the epoch.
pub fn date_value(days: i32) -> Value {
    Value::Int32(days)
}

/// The Time value for `millis` since midnight.
pub fn time_value(millis: i32) -> Value {
    Value::Int32(millis)
}

/// The Timestamp value for `millis` since the epoch.
pub fn timestamp_value(millis: i64) -> Value {
    Value::Int64(millis)
}

/// Checks logical-type constraints of a non-null value (scale parameter present, time within a
/// day). Physical types are checked by the caller.
pub(super) fn validate(schema: &Schema, value: &Value) -> Result<(), String> {
    match (schema.name(), value) {
        (Some(DECIMAL_NAME), Value::Bytes(b)) => {
            let scale = schema.parameters().get(DECIMAL_SCALE);
            if scale.and_then(|s| s.parse::<i32>().ok()).is_none() {
                return Err("Decimal schema without an integer 'scale' parameter".into());
            }
            if b.is_empty() {
                return Err("Decimal value with no bytes".into());
            }
            Ok(())
        }
        (Some(TIME_NAME), Value::Int32(ms)) if !(0..MILLIS_PER_DAY as i32).contains(ms) => {
            Err(format!("Time value {ms} ms is outside one day"))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn twos_complement_is_minimal() {
        use super::minimal_twos_complement as m;
        assert_eq!(m(&[0xff, 0xff, 0x80]), [0x80]);
        assert_eq!(m(&[0x00, 0x00, 0x80]), [0x00, 0x80]);
        assert_eq!(m(&[0x00, 0x00]), [0x00]);
        assert_eq!(m(&[0xff, 0x7f]), [0xff, 0x7f]);
        assert_eq!(m(&[]), [0x00]);
    }

    use super::*;
    use proptest::prelude::*;

    #[test]
    fn decimal_bytes_match_java_biginteger() {
        assert_eq!(decimal_value(0), Value::Bytes(vec![0]));
        assert_eq!(decimal_value(127), Value::Bytes(vec![0x7f]));
        assert_eq!(decimal_value(128), Value::Bytes(vec![0x00, 0x80]));
        assert_eq!(decimal_value(-1), Value::Bytes(vec![0xff]));
        assert_eq!(decimal_value(-128), Value::Bytes(vec![0x80]));
        assert_eq!(decimal_value(-129), Value::Bytes(vec![0xff, 0x7f]));
        // 12345 = 0x3039
        assert_eq!(decimal_value(12345), Value::Bytes(vec![0x30, 0x39]));
    }

    proptest! {
        #[test]
        fn decimal_round_trips(v in any::<i128>()) {
            let Value::Bytes(b) = decimal_value(v) else { unreachable!() };
            prop_assert_eq!(decimal_unscaled(&b), Some(v));
        }
    }

    #[test]
    fn logical_schemas_validate() {
        let d = decimal(2).build();
        d.validate_value(&decimal_value(1050)).unwrap();
        let t = time().build();
        assert!(t.validate_value(&time_value(-1)).is_err());
        t.validate_value(&time_value(1000)).unwrap();
        assert_eq!(timestamp().build().type_(), Type::Int64);
        assert_eq!(date().build().name(), Some(DATE_NAME));
    }
}
