//! The `csv` format: delimited text read with `csv-core` as it streams by.
//!
//! Columns are named by the header row (`csv.first.row.as.header`), by `csv.column.names`, or
//! `_c0`, `_c1`, ... Each row becomes a struct whose fields are all optional: strings by default,
//! typed by `csv.column.types`, or inferred from the first `csv.infer.rows` rows. A row with
//! another number of fields than there are columns, a field that does not parse as its column's
//! type, or invalid UTF-8 is a recoverable record error: the next rows are still read. A row is
//! held in memory alone, at most `transformer.max.record.size` bytes.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use sluice_core::data::{logical, Schema, SchemaAndValue, SchemaBuilder, Struct, Value};
use sluice_core::object::{ByteStream, ObjectInput};
use sluice_core::transformer::{RecordStream, Transformer};

use crate::cursor::ChunkCursor;
use crate::{
    open_then, positive, record_error, record_stream, Compression, Error, ReadRecords,
    TransformerOptions,
};
use sluice_core::config::defs::{self, key, optional};
use sluice_core::config::{KeySet, Keys, Owner};

/// The keys of the `csv` format, declared beside its code.
pub(crate) const KEYS: KeySet = KeySet {
    owner: Owner::Format("csv"),
    doc: "Delimited text with a header row or configured column names (see docs/formats.md).",
    keys: &[
        key(
            "csv.first.row.as.header",
            defs::Kind::Bool,
            "true",
            "`csv` format: the first row names the columns and is not a record. With `csv.column.names` set too, the header row is skipped and the configured names win.",
        ),
        optional(
            "csv.column.names",
            defs::Kind::List,
            "`csv` format: the column names, comma-separated. Without them and without a header row, columns are named `_c0`, `_c1`, ...",
        ),
        key(
            "csv.separator.char",
            defs::Kind::String,
            ",",
            "`csv` format: the field separator: one character, `\\t` for a tab, or a decimal character code of two or more digits (`09` = tab, `59` = `;`).",
        ),
        key(
            "csv.quote.char",
            defs::Kind::String,
            "\"",
            "`csv` format: the quote character (same forms as `csv.separator.char`). A quote inside a quoted field is written twice.",
        ),
        optional(
            "csv.escape.char",
            defs::Kind::String,
            "`csv` format: an escape character inside quoted fields (e.g. `\\`), in addition to doubled quotes (same forms as `csv.separator.char`). Unset: none.",
        ),
        optional(
            "csv.column.types",
            defs::Kind::List,
            "`csv` format: typed columns, `name:type` comma-separated; types: string, boolean, int8, int16, int32, int64, float32, float64, date (YYYY-MM-DD), time (HH:MM:SS[.fff]), timestamp (ISO 8601; UTC unless an offset is given), decimal(precision,scale), bytes (base64). Unlisted columns are strings. An empty field of a non-string column is null.",
        ),
        key(
            "csv.infer.types",
            defs::Kind::Bool,
            "false",
            "`csv` format: infer the types of columns not listed in `csv.column.types` from the first `csv.infer.rows` rows (boolean, int64, float64, else string); a later value that does not fit is a record error.",
        ),
        key(
            "csv.infer.rows",
            defs::POSITIVE,
            "100",
            "`csv` format: how many rows `csv.infer.types` looks at (held in memory meanwhile).",
        ),
    ],
    prefixes: &[],
    check: None,
};

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
    fn parse(text: &str) -> Option<Self> {
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

    fn name(self) -> String {
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
    fn schema(self) -> Schema {
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
    fn value(self, text: &str) -> Option<Value> {
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
fn parse_timestamp(t: &str) -> Option<i64> {
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
fn parse_decimal(t: &str, scale: u32) -> Option<i128> {
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

/// Settings of the `csv` format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvOptions {
    /// The first row names the columns (`csv.first.row.as.header`, default true).
    pub header: bool,
    /// Configured column names (`csv.column.names`); they win over the header row.
    pub column_names: Option<Vec<String>>,
    /// Field separator (`csv.separator.char`, default `,`).
    pub separator: u8,
    /// Quote character (`csv.quote.char`, default `"`).
    pub quote: u8,
    /// Escape character inside quotes (`csv.escape.char`, default none).
    pub escape: Option<u8>,
    /// Typed columns by name (`csv.column.types`).
    pub column_types: Vec<(String, ColumnType)>,
    /// Infer the types of the other columns (`csv.infer.types`, default false).
    pub infer_types: bool,
    /// Rows looked at to infer types (`csv.infer.rows`, default 100).
    pub infer_rows: usize,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            header: true,
            column_names: None,
            separator: b',',
            quote: b'"',
            escape: None,
            column_types: Vec::new(),
            infer_types: false,
            infer_rows: 100,
        }
    }
}

/// The `csv.*` settings, as written (the `csv` transformer parses the characters and types).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvSettings {
    /// `csv.first.row.as.header`.
    pub first_row_as_header: bool,
    /// `csv.column.names`, split at commas and trimmed.
    pub column_names: Option<Vec<String>>,
    /// `csv.separator.char`.
    pub separator_char: String,
    /// `csv.quote.char`.
    pub quote_char: String,
    /// `csv.escape.char`.
    pub escape_char: Option<String>,
    /// `csv.column.types` (`name:type` pairs; `decimal(p,s)` holds a comma, so it is kept whole).
    pub column_types: Option<String>,
    /// `csv.infer.types`.
    pub infer_types: bool,
    /// `csv.infer.rows`.
    pub infer_rows: usize,
}

impl CsvSettings {
    /// The `csv.*` settings of `r`, defaults applied.
    ///
    /// # Errors
    /// [`sluice_core::Error::Config`] when a key is declared by no registered component.
    pub fn read(r: &Keys<'_>) -> sluice_core::Result<Self> {
        Ok(CsvSettings {
            first_row_as_header: r.bool("csv.first.row.as.header")?,
            column_names: r.raw("csv.column.names")?.map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            }),
            separator_char: r.string("csv.separator.char")?.unwrap_or_default(),
            quote_char: r.string("csv.quote.char")?.unwrap_or_default(),
            escape_char: r.string("csv.escape.char")?,
            column_types: r.string("csv.column.types")?,
            infer_types: r.bool("csv.infer.types")?,
            infer_rows: r.int("csv.infer.rows")? as usize,
        })
    }
}

impl CsvOptions {
    /// The options the `csv.*` settings ask for.
    ///
    /// # Errors
    /// [`Error::Config`] naming the key when a character or a column type does not parse.
    pub fn from_settings(s: &CsvSettings) -> Result<Self, Error> {
        let escape = match &s.escape_char {
            Some(e) => Some(parse_char("csv.escape.char", e)?),
            None => None,
        };
        let options = CsvOptions {
            header: s.first_row_as_header,
            column_names: s.column_names.clone(),
            separator: parse_char("csv.separator.char", &s.separator_char)?,
            quote: parse_char("csv.quote.char", &s.quote_char)?,
            escape,
            column_types: match &s.column_types {
                Some(t) => parse_column_types(t)?,
                None => Vec::new(),
            },
            infer_types: s.infer_types,
            infer_rows: s.infer_rows,
        };
        Ok(options)
    }
}

/// One ASCII character: itself, `\t`, or a decimal code of two or more digits.
fn parse_char(key: &'static str, v: &str) -> Result<u8, Error> {
    let bad = || Error::Config {
        key,
        message: format!(
            "{v:?} is not one ASCII character, `\\t`, or a decimal character code such as 44"
        ),
    };
    match v {
        "\\t" => Ok(b'\t'),
        _ if v.len() == 1 && v.is_ascii() => Ok(v.as_bytes()[0]),
        _ if v.len() >= 2 && v.bytes().all(|b| b.is_ascii_digit()) => {
            let code: u32 = v.parse().map_err(|_| bad())?;
            u8::try_from(code).ok().filter(u8::is_ascii).ok_or_else(bad)
        }
        _ => Err(bad()),
    }
}

/// `name:type` pairs separated by commas (commas inside parentheses belong to the type).
fn parse_column_types(v: &str) -> Result<Vec<(String, ColumnType)>, Error> {
    let mut items = Vec::new();
    let mut depth = 0;
    let mut current = String::new();
    for c in v.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                items.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    items.push(current);
    let mut out = Vec::new();
    for item in items.iter().map(|i| i.trim()).filter(|i| !i.is_empty()) {
        let parsed = item.rsplit_once(':').and_then(|(name, t)| {
            let name = name.trim();
            (!name.is_empty())
                .then_some(())
                .and(ColumnType::parse(t).map(|t| (name.to_owned(), t)))
        });
        match parsed {
            Some(p) => out.push(p),
            None => {
                return Err(Error::Config {
                    key: "csv.column.types",
                    message: format!("{item:?} is not `name:type` with a type among string, boolean, int8, int16, int32, int64, float32, float64, date, time, timestamp, decimal(precision,scale)"),
                })
            }
        }
    }
    Ok(out)
}

/// Reads `csv` objects; see the module documentation.
#[derive(Debug, Clone)]
pub(crate) struct CsvTransformer {
    options: CsvOptions,
    max_record_size: usize,
    compression: Compression,
}

impl CsvTransformer {
    pub(crate) fn new(options: &TransformerOptions) -> Result<Self, Error> {
        positive(
            "transformer.max.record.size",
            options.max_record_size,
            "the largest CSV row",
        )?;
        let csv = &options.csv;
        if csv.separator == csv.quote || Some(csv.separator) == csv.escape {
            return Err(Error::Config {
                key: "csv.separator.char",
                message: "must differ from csv.quote.char and csv.escape.char".into(),
            });
        }
        if csv.infer_types && csv.infer_rows == 0 {
            return Err(Error::Config {
                key: "csv.infer.rows",
                message: "must be positive".into(),
            });
        }
        Ok(CsvTransformer {
            options: csv.clone(),
            max_record_size: options.max_record_size,
            compression: options.compression,
        })
    }

    /// The records of the object `key` whose bytes are `bytes`, skipping the first `skip`.
    pub(crate) fn records(&self, key: String, bytes: ByteStream, skip: u64) -> RecordStream {
        let o = &self.options;
        let reader = csv_core::ReaderBuilder::new()
            .delimiter(o.separator)
            .quote(o.quote)
            .escape(o.escape)
            .double_quote(true)
            .build();
        let run = Run {
            rows: RowReader {
                reader,
                bytes: ChunkCursor::new(bytes),
                finished: false,
                output: vec![0; 1024],
                ends: vec![0; 32],
                limit: self.max_record_size,
            },
            options: self.options.clone(),
            key,
            columns: None,
            pending: std::collections::VecDeque::new(),
            index: 0,
            skip,
            done: false,
        };
        record_stream(run)
    }
}

impl Transformer for CsvTransformer {
    fn transform(&self, input: ObjectInput, skip: u64) -> RecordStream {
        open_then(
            self,
            input,
            self.compression,
            (true, true),
            skip,
            Self::records,
        )
    }

    fn name(&self) -> &'static str {
        "csv"
    }
}

/// One row as read.
enum Row {
    /// The fields' bytes, starting at this object offset.
    Fields(u64, Vec<Vec<u8>>),
    /// A row longer than the limit, at this offset, with its length; not kept.
    TooLong(u64, u64),
}

/// Reads rows with `csv-core`, holding one row at most `limit` bytes long.
struct RowReader {
    reader: csv_core::Reader,
    /// The object's bytes. Once the stream has ended, csv-core is fed empty input until it says
    /// `End`.
    bytes: ChunkCursor,
    /// csv-core said `End` (or the stream failed).
    finished: bool,
    output: Vec<u8>,
    ends: Vec<usize>,
    limit: usize,
}

impl RowReader {
    async fn next(&mut self) -> Option<Result<Row, (u64, std::io::Error)>> {
        use csv_core::ReadRecordResult as R;
        if self.finished {
            return None;
        }
        let start = self.bytes.offset();
        let (mut nout_total, mut nends_total) = (0usize, 0usize);
        let mut too_long = false;
        loop {
            // Empty (the end of the stream) once `fill` is false.
            if let Err(e) = self.bytes.fill().await {
                self.finished = true;
                return Some(Err((start, e)));
            }
            let (res, nin, nout, nend) = self.reader.read_record(
                self.bytes.chunk(),
                &mut self.output[nout_total..],
                &mut self.ends[nends_total..],
            );
            self.bytes.advance(nin);
            nout_total += nout;
            nends_total += nend;
            let len = self.bytes.offset() - start;
            if !too_long && len > self.limit as u64 {
                too_long = true;
            }
            if too_long {
                // Keep parsing to find the row's end, but none of it.
                nout_total = 0;
                nends_total = 0;
            }
            match res {
                R::InputEmpty => {}
                R::OutputFull => {
                    if !too_long {
                        let grown = (self.output.len() * 2).min(self.limit.max(1024) + 1024);
                        self.output.resize(grown.max(self.output.len() + 1), 0);
                    }
                }
                R::OutputEndsFull => {
                    if !too_long {
                        let grown = self.ends.len() * 2;
                        self.ends.resize(grown, 0);
                    }
                }
                R::Record => {
                    if too_long {
                        return Some(Ok(Row::TooLong(start, len)));
                    }
                    let mut fields = Vec::with_capacity(nends_total);
                    let mut from = 0;
                    for &end in &self.ends[..nends_total] {
                        fields.push(self.output[from..end].to_vec());
                        from = end;
                    }
                    self.shrink();
                    return Some(Ok(Row::Fields(start, fields)));
                }
                R::End => {
                    self.finished = true;
                    return None;
                }
            }
        }
    }

    /// Gives back a buffer grown by one very long row.
    fn shrink(&mut self) {
        if self.output.len() > 1 << 20 {
            self.output = vec![0; 1024];
        }
        if self.ends.len() > 1 << 16 {
            self.ends = vec![0; 32];
        }
    }
}

/// The columns, once known.
struct Columns {
    names: Vec<String>,
    types: Vec<ColumnType>,
    schema: Schema,
}

struct Run {
    rows: RowReader,
    options: CsvOptions,
    key: String,
    columns: Option<Columns>,
    /// Rows read ahead to infer types, with their record index.
    pending: std::collections::VecDeque<(u64, Row)>,
    /// Index of the next record read from `rows`.
    index: u64,
    skip: u64,
    done: bool,
}

impl ReadRecords for Run {
    async fn next(&mut self) -> Option<sluice_core::Result<SchemaAndValue>> {
        if self.done {
            return None;
        }
        if self.columns.is_none() {
            match self.start().await {
                Ok(true) => {}
                Ok(false) => {
                    self.done = true;
                    return None;
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
        loop {
            let (index, row) = match self.pending.pop_front() {
                Some(p) => p,
                None => match self.rows.next().await {
                    Some(Ok(row)) => {
                        let index = self.index;
                        self.index += 1;
                        (index, row)
                    }
                    Some(Err((offset, source))) => {
                        self.done = true;
                        return Some(Err(record_error(
                            &self.key,
                            self.index,
                            offset,
                            false,
                            None,
                            Error::Io { source },
                        )));
                    }
                    None => {
                        self.done = true;
                        return None;
                    }
                },
            };
            if index < self.skip {
                continue;
            }
            return Some(self.convert(index, row));
        }
    }
}

impl Run {
    /// Reads the header (or takes the configured names) and, when inferring, the sample rows.
    /// `Ok(false)` for an object without any row.
    async fn start(&mut self) -> sluice_core::Result<bool> {
        let header = if self.options.header {
            match self.rows.next().await {
                None => return Ok(false),
                Some(Err((offset, source))) => {
                    return Err(record_error(
                        &self.key,
                        0,
                        offset,
                        false,
                        None,
                        Error::Io { source },
                    ))
                }
                Some(Ok(Row::TooLong(offset, size))) => {
                    return Err(self.header_error(
                        offset,
                        Error::RecordTooLarge {
                            size,
                            limit: self.rows.limit,
                        },
                    ))
                }
                Some(Ok(Row::Fields(offset, fields))) => {
                    let mut names = Vec::with_capacity(fields.len());
                    for f in fields {
                        match String::from_utf8(f) {
                            Ok(n) => names.push(n.trim().to_owned()),
                            Err(e) => {
                                return Err(self.header_error(
                                    offset,
                                    Error::InvalidUtf8 {
                                        source: e.utf8_error(),
                                    },
                                ))
                            }
                        }
                    }
                    Some(names)
                }
            }
        } else {
            None
        };
        // Read ahead the rows needed to name columns or infer types.
        let ahead = if self.options.infer_types {
            self.options.infer_rows
        } else if header.is_none() && self.options.column_names.is_none() {
            1
        } else {
            0
        };
        while self.pending.len() < ahead {
            match self.rows.next().await {
                Some(Ok(row)) => {
                    self.pending.push_back((self.index, row));
                    self.index += 1;
                }
                // The error comes again (the reader is finished) after the sample rows.
                Some(Err((offset, source))) => {
                    self.pending.clear();
                    return Err(record_error(
                        &self.key,
                        self.index,
                        offset,
                        false,
                        None,
                        Error::Io { source },
                    ));
                }
                None => break,
            }
        }
        let from_header = self.options.column_names.is_none() && header.is_some();
        let names = match (self.options.column_names.clone(), header) {
            (Some(names), _) => names,
            (None, Some(names)) => names,
            (None, None) => {
                let width = self
                    .pending
                    .iter()
                    .find_map(|(_, r)| match r {
                        Row::Fields(_, f) => Some(f.len()),
                        Row::TooLong(..) => None,
                    })
                    .unwrap_or(0);
                (0..width).map(|i| format!("_c{i}")).collect()
            }
        };
        if let Some((first, dup)) = names
            .iter()
            .enumerate()
            .find_map(|(j, n)| names[..j].iter().position(|m| m == n).map(|i| (i, j)))
        {
            let (name, a, b) = (&names[dup], first + 1, dup + 1);
            let e = if from_header {
                Error::Malformed {
                    format: "csv",
                    message: format!(
                        "the header row names column {name:?} twice (columns {a} and {b}); rename one in the file, or name the columns with csv.column.names"
                    ),
                }
            } else {
                Error::Config {
                    key: "csv.column.names",
                    message: format!("names column {name:?} twice (positions {a} and {b})"),
                }
            };
            return Err(self.header_error(0, e));
        }
        let mut types = Vec::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            let configured = self
                .options
                .column_types
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, t)| *t);
            types.push(match configured {
                Some(t) => t,
                None if self.options.infer_types => self.infer(i),
                None => ColumnType::String,
            });
        }
        let mut builder = SchemaBuilder::struct_();
        for (name, t) in names.iter().zip(&types) {
            builder = builder.field(name.clone(), t.schema());
        }
        let schema = builder.try_build().map_err(|e| {
            self.header_error(
                0,
                Error::Config {
                    key: "csv.column.names",
                    message: format!("the columns do not make a schema: {e}"),
                },
            )
        })?;
        self.columns = Some(Columns {
            names,
            types,
            schema,
        });
        Ok(true)
    }

    /// The type the sample rows' values of column `i` fit.
    fn infer(&self, i: usize) -> ColumnType {
        let candidates = [ColumnType::Int64, ColumnType::Float64, ColumnType::Boolean];
        let values: Vec<&str> = self
            .pending
            .iter()
            .filter_map(|(_, r)| match r {
                Row::Fields(_, f) => f.get(i),
                Row::TooLong(..) => None,
            })
            .filter_map(|f| std::str::from_utf8(f).ok())
            .filter(|v| !v.trim().is_empty())
            .collect();
        if values.is_empty() {
            return ColumnType::String;
        }
        candidates
            .into_iter()
            .find(|t| values.iter().all(|v| t.value(v).is_some()))
            .unwrap_or(ColumnType::String)
    }

    fn header_error(&self, offset: u64, e: Error) -> sluice_core::Error {
        record_error(&self.key, 0, offset, false, None, e)
    }

    fn convert(&self, index: u64, row: Row) -> sluice_core::Result<SchemaAndValue> {
        let columns = self.columns.as_ref().expect("columns are known");
        let (offset, fields) = match row {
            Row::Fields(offset, fields) => (offset, fields),
            Row::TooLong(offset, size) => {
                return Err(record_error(
                    &self.key,
                    index,
                    offset,
                    true,
                    None,
                    Error::RecordTooLarge {
                        size,
                        limit: self.rows.limit,
                    },
                ))
            }
        };
        let raw = || fields.join(&[self.options.separator][..]);
        let fail = |e: Error| record_error(&self.key, index, offset, true, Some(&raw()), e);
        if fields.len() != columns.names.len() {
            return Err(fail(Error::RaggedRow {
                expected: columns.names.len(),
                found: fields.len(),
            }));
        }
        let mut values = Struct::new(columns.schema.clone()).map_err(|e| fail(internal(e)))?;
        for ((name, t), field) in columns.names.iter().zip(&columns.types).zip(&fields) {
            let text =
                std::str::from_utf8(field).map_err(|source| fail(Error::InvalidUtf8 { source }))?;
            if text.is_empty() || (*t != ColumnType::String && text.trim().is_empty()) {
                if *t == ColumnType::String {
                    values.set(name, Value::String(String::new()))
                } else {
                    continue;
                }
            } else {
                let value = t.value(text).ok_or_else(|| {
                    fail(Error::InvalidField {
                        column: name.clone(),
                        type_: t.name(),
                        value: text.to_owned(),
                    })
                })?;
                values.set(name, value)
            }
            .map_err(|e| fail(internal(e)))?;
        }
        Ok(SchemaAndValue::new(
            columns.schema.clone(),
            Value::Struct(values),
        ))
    }
}

fn internal(e: sluice_core::Error) -> Error {
    Error::UnmappableValue {
        message: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{chunked, failing};
    use futures::executor::block_on;
    use futures::StreamExt;
    use proptest::prelude::*;

    fn run_with(
        options: CsvOptions,
        input: &[u8],
        cuts: &[usize],
        skip: u64,
    ) -> Vec<sluice_core::Result<SchemaAndValue>> {
        let t = CsvTransformer::new(&TransformerOptions {
            csv: options,
            max_record_size: 256,
            ..Default::default()
        })
        .unwrap();
        block_on(
            t.records("o.csv".into(), chunked(input, cuts), skip)
                .collect::<Vec<_>>(),
        )
    }

    /// A row's fields, or the error's (index, offset, recoverable, message).
    type RowResult = Result<Vec<String>, (u64, Option<u64>, bool, String)>;

    /// Each record as its fields' display strings, or the error's (index, offset, recoverable, message).
    fn rows(options: CsvOptions, input: &[u8], cuts: &[usize], skip: u64) -> Vec<RowResult> {
        run_with(options, input, cuts, skip)
            .into_iter()
            .map(|r| match r {
                Ok(SchemaAndValue {
                    value: Value::Struct(s),
                    ..
                }) => Ok(s.values().iter().map(|v| v.to_string()).collect()),
                Ok(other) => panic!("{other:?}"),
                Err(sluice_core::Error::Record {
                    record_index,
                    byte_offset,
                    recoverable,
                    source,
                    ..
                }) => Err((record_index, byte_offset, recoverable, source.to_string())),
                Err(other) => panic!("{other:?}"),
            })
            .collect()
    }

    fn ok(rows: &[&[&str]]) -> Vec<RowResult> {
        rows.iter()
            .map(|r| Ok(r.iter().map(|s| s.to_string()).collect()))
            .collect()
    }

    #[test]
    fn header_quotes_and_escapes() {
        let input = b"id,name\r\n1,\"a, \"\"quoted\"\"\nname\"\n2,plain\n\n3,\n";
        assert_eq!(
            rows(CsvOptions::default(), input, &[3, 9, 20], 0),
            ok(&[&["1", "a, \"quoted\"\nname"], &["2", "plain"], &["3", ""]])
        );
        let schema = run_with(CsvOptions::default(), input, &[], 0)[0]
            .as_ref()
            .unwrap()
            .schema
            .clone()
            .unwrap();
        assert_eq!(
            schema.field("name").unwrap().schema(),
            &Schema::optional_string()
        );
        let o = CsvOptions {
            separator: b';',
            escape: Some(b'\\'),
            header: false,
            ..Default::default()
        };
        assert_eq!(
            rows(o, b"a;\"b\\\"c\";d\n", &[], 0),
            ok(&[&["a", "b\"c", "d"]])
        );
    }

    #[test]
    fn configured_names_no_header_and_generated_names() {
        let o = CsvOptions {
            header: false,
            column_names: Some(vec!["x".into(), "y".into()]),
            ..Default::default()
        };
        let r = run_with(o, b"1,2\n", &[], 0);
        let s = r[0].as_ref().unwrap().schema.clone().unwrap();
        assert_eq!(s.fields()[1].name(), "y");
        let o = CsvOptions {
            header: false,
            ..Default::default()
        };
        let r = run_with(o.clone(), b"1,2\n3,4\n", &[], 1);
        assert_eq!(r.len(), 1);
        let s = r[0].as_ref().unwrap().schema.clone().unwrap();
        assert_eq!(s.fields()[0].name(), "_c0");
        assert_eq!(rows(o, b"1,2\n3,4\n", &[], 1), ok(&[&["3", "4"]]));
    }

    #[test]
    fn ragged_rows_and_bad_values_are_recoverable() {
        let o = CsvOptions {
            column_types: vec![("n".into(), ColumnType::Int32)],
            ..Default::default()
        };
        let input = b"n,s\n1,a\n2\n3,b,c\nx,d\n\xff,e\n4,\"f\"\n,g\n";
        let r = rows(o, input, &[], 0);
        assert_eq!(r.len(), 7, "{r:?}");
        assert_eq!(r[0], Ok(vec!["1".into(), "a".into()]));
        let (i, off, rec, msg) = r[1].clone().unwrap_err();
        assert_eq!((i, off, rec), (1, Some(8), true));
        assert!(msg.contains("1 fields but there are 2 columns"), "{msg}");
        assert!(r[2].clone().unwrap_err().3.contains("3 fields"));
        assert!(r[3]
            .clone()
            .unwrap_err()
            .3
            .contains("\"x\" is not a valid int32"));
        assert!(r[4].clone().unwrap_err().3.contains("UTF-8"));
        assert_eq!(r[5], Ok(vec!["4".into(), "f".into()]));
        assert_eq!(r[6], Ok(vec!["null".into(), "g".into()]));
    }

    #[test]
    fn types_parse_and_infer() {
        let o = CsvOptions {
            column_types: parse_column_types(
                "d:date, t:time, ts:timestamp, p:decimal(5,2), b:boolean, f:float32",
            )
            .unwrap(),
            infer_types: true,
            infer_rows: 2,
            ..Default::default()
        };
        let input = b"d,t,ts,p,b,f,i,x\n1970-01-02,00:00:01.5,1970-01-01T00:00:01.250Z,-1.5,TRUE,0.5,7,1\n,,1970-01-01 01:00:00+01:00,123.45,false,,8,y\n2000-01-01,,,,,,z,\n";
        let r = run_with(o, input, &[10], 0);
        assert_eq!(r.len(), 3, "{r:?}");
        let first = r[0].as_ref().unwrap();
        let schema = first.schema.as_ref().unwrap();
        assert_eq!(
            schema.field("i").unwrap().schema(),
            &Schema::optional_int64()
        );
        assert_eq!(
            schema.field("x").unwrap().schema(),
            &Schema::optional_string()
        );
        assert_eq!(
            schema
                .field("p")
                .unwrap()
                .schema()
                .parameters()
                .get("scale")
                .map(String::as_str),
            Some("2")
        );
        let Value::Struct(s) = &first.value else {
            panic!()
        };
        assert_eq!(s.get("d"), Some(&Value::Int32(1)));
        assert_eq!(s.get("t"), Some(&Value::Int32(1500)));
        assert_eq!(s.get("ts"), Some(&Value::Int64(1250)));
        assert_eq!(s.get("p"), Some(&logical::decimal_value(-150)));
        assert_eq!(s.get("b"), Some(&Value::Boolean(true)));
        assert_eq!(s.get("f"), Some(&Value::Float32(0.5)));
        let Value::Struct(s) = &r[1].as_ref().unwrap().value else {
            panic!()
        };
        assert_eq!(s.get("ts"), Some(&Value::Int64(0)));
        assert_eq!(s.get("p"), Some(&logical::decimal_value(12345)));
        assert_eq!(s.get("d"), Some(&Value::Null));
        // A later value that does not fit the inferred type.
        let e = r[2].as_ref().unwrap_err().to_string();
        assert!(
            e.contains("column \"i\": \"z\" is not a valid int64"),
            "{e}"
        );
        assert!(parse_column_types("a:decimal(2,3)").is_err());
        assert!(parse_column_types("a").is_err());
        assert!(parse_char("csv.separator.char", "59").unwrap() == b';');
        assert!(parse_char("csv.separator.char", "\\t").unwrap() == b'\t');
        assert!(parse_char("csv.separator.char", "ab").is_err());
        assert_eq!(parse_decimal("1.230", 2), Some(123));
        assert_eq!(parse_decimal("1.234", 2), None);
        assert_eq!(parse_decimal(".5", 1), Some(5));
    }

    #[test]
    fn an_over_long_row_is_skipped_and_an_io_error_ends() {
        let long = "y".repeat(300);
        let input = format!("a\n1\n{long}\n2\n");
        let r = rows(CsvOptions::default(), input.as_bytes(), &[7, 50], 0);
        assert_eq!(r.len(), 3, "{r:?}");
        let (i, off, rec, msg) = r[1].clone().unwrap_err();
        assert_eq!((i, off, rec), (1, Some(4), true));
        assert!(msg.contains("bytes long"), "{msg}");
        assert_eq!(r[2], Ok(vec!["2".into()]));

        let t = CsvTransformer::new(&TransformerOptions::default()).unwrap();
        let items = block_on(
            t.records("o.csv".into(), failing(&[b"a\n1\n2"], b"\n3\n"), 0)
                .collect::<Vec<_>>(),
        );
        assert_eq!(items.len(), 2, "{items:?}");
        assert!(items[1]
            .as_ref()
            .unwrap_err()
            .to_string()
            .contains("connection reset"));
    }

    #[test]
    fn empty_objects_have_no_records() {
        assert!(rows(CsvOptions::default(), b"", &[], 0).is_empty());
        assert!(rows(CsvOptions::default(), b"a,b\n", &[], 0).is_empty());
    }

    proptest! {
        #[test]
        fn chunking_and_resuming_never_change_the_records(
            cells in proptest::collection::vec(proptest::collection::vec("[a-c,\"\n ]{0,5}", 2), 0..12),
            cuts in proptest::collection::vec(0usize..200, 0..20),
            infer in any::<bool>(),
        ) {
            let mut doc = String::from("a,b\n");
            for row in &cells {
                let quoted: Vec<String> = row.iter().map(|c| format!("\"{}\"", c.replace('"', "\"\""))).collect();
                doc.push_str(&quoted.join(","));
                doc.push('\n');
            }
            let o = CsvOptions { infer_types: infer, infer_rows: 3, ..Default::default() };
            let full = rows(o.clone(), doc.as_bytes(), &[], 0);
            prop_assert_eq!(full.len(), cells.len());
            let n = full.len();
            for skip in [0, 1, n / 2, n, n + 1] {
                let resumed = rows(o.clone(), doc.as_bytes(), &cuts, skip as u64);
                prop_assert_eq!(&resumed[..], &full[skip.min(n)..]);
            }
        }
    }

    #[test]
    fn a_duplicate_header_name_names_the_header_row_and_the_column() {
        let got = rows(CsvOptions::default(), b"id,name,id\n1,a,2\n", &[], 0);
        let Err((0, _, false, err)) = &got[0] else {
            panic!("{got:?}")
        };
        assert!(
            err.contains("header row names column \"id\" twice (columns 1 and 3)"),
            "{err}"
        );
        assert!(!err.contains("invalid csv.column.names"), "{err}");
        let configured = CsvOptions {
            column_names: Some(vec!["a".into(), "a".into()]),
            ..CsvOptions::default()
        };
        let got = rows(configured, b"x,y\n1,2\n", &[], 0);
        let Err((_, _, _, err)) = &got[0] else {
            panic!("{got:?}")
        };
        assert!(
            err.contains("csv.column.names") && err.contains("\"a\" twice"),
            "{err}"
        );
    }
}
