//! The settings of the `csv` format and their parsing.

use super::*;

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
pub(super) fn parse_char(key: &'static str, v: &str) -> Result<u8, Error> {
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
pub(super) fn parse_column_types(v: &str) -> Result<Vec<(String, ColumnType)>, Error> {
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
