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

mod options;
mod rows;
mod run;
#[cfg(test)]
mod tests;
mod types;

pub use options::{CsvOptions, CsvSettings};
use rows::{Row, RowReader};
use run::Run;
pub use types::ColumnType;
