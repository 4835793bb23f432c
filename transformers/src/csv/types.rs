//! Column types (`csv.column.types`) and parsing a field as its type.

use super::*;

/// The type of a CSV column (`csv.column.types`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// `string`: the text as is.
    String,
    /// `boolean`: `true` or `false`, any case.
    Boolean,
    /// `int8`.
    Int8,
    /// `int16`.
    Int16,
    /// `int32`.
    Int32,
    /// `int64`.
    Int64,
    /// `float32`.
    Float32,
    /// `float64`.
    Float64,
    /// `date`: `YYYY-MM-DD`, a Connect Date.
    Date,
    /// `time`: `HH:MM:SS[.fff...]`, a Connect Time (milliseconds, finer digits dropped).
    Time,
    /// `timestamp`: ISO 8601 / RFC 3339 with `T` or a space; UTC unless an offset is given; a
    /// Connect Timestamp (milliseconds, finer digits dropped).
    Timestamp,
    /// `decimal(precision,scale)`: a Connect Decimal with that scale.
    Decimal {
        /// Total digits (checked).
        precision: u32,
        /// Digits after the point.
        scale: u32,
    },
}

impl ColumnType {
    pub(super) fn parse(text: &str) -> Option<Self> {
        let t = text.trim().to_ascii_lowercase();
        Some(match t.as_str() {
            "string" => ColumnType::String,
            "boolean" => ColumnType::Boolean,
            "int8" => ColumnType::Int8,
            "int16" => ColumnType::Int16,
            "int32" => ColumnType::Int32,
            "int64" => ColumnType::Int64,
            "float32" => ColumnType::Float32,
            "float64" => ColumnType::Float64,
            "date" => ColumnType::Date,
            "time" => ColumnType::Time,
            "timestamp" => ColumnType::Timestamp,
            _ => {
                let inner = t.strip_prefix("decimal(")?.strip_suffix(')')?;
                let (p, s) = inner.split_once(',')?;
                let precision: u32 = p.trim().parse().ok()?;
                let scale: u32 = s.trim().parse().ok()?;
                if precision == 0 || precision > 38 || scale > precision {
                    return None;
                }
                ColumnType::Decimal { precision, scale }
            }
        })
    }

    pub(super) fn name(self) -> String {
        match self {
            ColumnType::String => "string".into(),
            ColumnType::Boolean => "boolean".into(),
            ColumnType::Int8 => "int8".into(),
            ColumnType::Int16 => "int16".into(),
            ColumnType::Int32 => "int32".into(),
            ColumnType::Int64 => "int64".into(),
            ColumnType::Float32 => "float32".into(),
            ColumnType::Float64 => "float64".into(),
            ColumnType::Date => "date".into(),
            ColumnType::Time => "time".into(),
            ColumnType::Timestamp => "timestamp".into(),
            ColumnType::Decimal { precision, scale } => format!("decimal({precision},{scale})"),
        }
    }

    /// The optional Connect schema of a column of this type.
    pub(super) fn schema(self) -> Schema {
        match self {
            ColumnType::String => Schema::optional_string(),
            ColumnType::Boolean => Schema::optional_boolean(),
            ColumnType::Int8 => Schema::optional_int8(),
            ColumnType::Int16 => Schema::optional_int16(),
            ColumnType::Int32 => Schema::optional_int32(),
            ColumnType::Int64 => Schema::optional_int64(),
            ColumnType::Float32 => Schema::optional_float32(),
            ColumnType::Float64 => Schema::optional_float64(),
            ColumnType::Date => logical::date().optional().build(),
            ColumnType::Time => logical::time().optional().build(),
            ColumnType::Timestamp => logical::timestamp().optional().build(),
            ColumnType::Decimal { precision, scale } => logical::decimal(scale as i32)
                .parameter("connect.decimal.precision", precision.to_string())
                .optional()
                .build(),
        }
    }

    /// The value of a non-empty field, `None` when it does not parse.
    pub(super) fn value(self, text: &str) -> Option<Value> {
        let t = text.trim();
        Some(match self {
            ColumnType::String => Value::String(text.to_owned()),
            ColumnType::Boolean => match t.to_ascii_lowercase().as_str() {
                "true" => Value::Boolean(true),
                "false" => Value::Boolean(false),
                _ => return None,
            },
            ColumnType::Int8 => Value::Int8(t.parse().ok()?),
            ColumnType::Int16 => Value::Int16(t.parse().ok()?),
            ColumnType::Int32 => Value::Int32(t.parse().ok()?),
            ColumnType::Int64 => Value::Int64(t.parse().ok()?),
            ColumnType::Float32 => Value::Float32(t.parse().ok()?),
            ColumnType::Float64 => Value::Float64(t.parse().ok()?),
            ColumnType::Date => {
                let d = NaiveDate::parse_from_str(t, "%Y-%m-%d").ok()?;
                let epoch = NaiveDate::from_ymd_opt(1970, 1, 1)?;
                Value::Int32(i32::try_from((d - epoch).num_days()).ok()?)
            }
            ColumnType::Time => {
                let time = NaiveTime::parse_from_str(t, "%H:%M:%S%.f").ok()?;
                let ms = time.num_seconds_from_midnight() * 1000 + time.nanosecond() / 1_000_000;
                Value::Int32(ms as i32)
            }
            ColumnType::Timestamp => Value::Int64(parse_timestamp(t)?),
            ColumnType::Decimal { precision, scale } => {
                let unscaled = parse_decimal(t, scale)?;
                if unscaled.unsigned_abs() >= 10u128.pow(precision) {
                    return None;
                }
                logical::decimal_value(unscaled)
            }
        })
    }
}

/// Milliseconds since the epoch of an ISO 8601 timestamp (UTC unless it carries an offset).
pub(super) fn parse_timestamp(t: &str) -> Option<i64> {
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Some(dt.timestamp_millis());
    }
    for format in ["%Y-%m-%d %H:%M:%S%.f%#z", "%Y-%m-%dT%H:%M:%S%.f%#z"] {
        if let Ok(dt) = DateTime::parse_from_str(t, format) {
            return Some(dt.timestamp_millis());
        }
    }
    let naive = t.strip_suffix('Z').unwrap_or(t);
    for format in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d"] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(naive, format) {
            return Some(dt.and_utc().timestamp_millis());
        }
    }
    NaiveDate::parse_from_str(naive, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|dt| dt.and_utc().timestamp_millis())
}

/// The unscaled value of a decimal number with `scale` digits after the point; more digits than
/// that (other than trailing zeros) do not fit.
pub(super) fn parse_decimal(t: &str, scale: u32) -> Option<i128> {
    let (negative, digits) = match t.as_bytes().first()? {
        b'-' => (true, &t[1..]),
        b'+' => (false, &t[1..]),
        _ => (false, t),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let frac = frac.trim_end_matches('0');
    if frac.len() > scale as usize {
        return None;
    }
    let mut unscaled: i128 = 0;
    for b in int.bytes().chain(frac.bytes()) {
        unscaled = unscaled
            .checked_mul(10)?
            .checked_add(i128::from(b - b'0'))?;
    }
    unscaled = unscaled.checked_mul(10i128.checked_pow(scale - frac.len() as u32)?)?;
    Some(if negative { -unscaled } else { unscaled })
}
