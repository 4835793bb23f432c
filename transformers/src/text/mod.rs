//! The `text` format, with the modes of Lenses' stream-reactor sources (`read.text.*`): one record
//! per line, per line matching a regex, per text between a start and an end tag, or per group of
//! lines between a start and an end line. Each record is a required Connect `string`.

use regex::Regex;
use sluice_core::data::{Schema, SchemaAndValue, SchemaBuilder, Struct, Type, Value};
use sluice_core::object::{ByteStream, ObjectInput};
use sluice_core::transformer::{RecordStream, Transformer};
use tracing::warn;

use crate::cursor::ChunkCursor;
use crate::lines::{LineKind, LineReader, ReadError};
use crate::{
    open_then, positive, record_error, record_stream, Compression, Error, ReadRecords,
    TransformerOptions,
};
use sluice_core::config::defs::{self, key, optional};
use sluice_core::config::{KeySet, Keys, Owner};

/// The keys of the `text` format, declared beside its code.
pub(crate) const KEYS: KeySet = KeySet {
    owner: Owner::Format("text"),
    doc: "Lines, regex-matched lines or text between markers (see docs/formats.md).",
    keys: &[
        key(
            "read.text.mode",
            defs::Kind::Enum(&["line", "regex", "startEndTag", "startEndLine"]),
            "line",
            "`text` format (Lenses' modes): `line` = one record per line; `regex` = one record per line matching `read.text.regex`, other lines dropped; `startEndTag` = one record per text from `read.text.start.tag` to `read.text.end.tag` (tags included, may span lines); `startEndLine` = one record per group of lines from a line equal to `read.text.start.line` to a line equal to `read.text.end.line` (joined with `\\n`).",
        ),
        optional(
            "read.text.regex",
            defs::Kind::String,
            "`text` format, `read.text.mode=regex`: the regular expression (Rust `regex` syntax) a line must match somewhere to be a record.",
        ),
        optional(
            "read.text.start.tag",
            defs::Kind::String,
            "`text` format, `read.text.mode=startEndTag`: the text that opens a record.",
        ),
        optional(
            "read.text.end.tag",
            defs::Kind::String,
            "`text` format, `read.text.mode=startEndTag`: the text that closes a record.",
        ),
        optional(
            "read.text.start.line",
            defs::Kind::String,
            "`text` format, `read.text.mode=startEndLine`: the line that opens a record.",
        ),
        optional(
            "read.text.end.line",
            defs::Kind::String,
            "`text` format, `read.text.mode=startEndLine`: the line that closes a record. Unset: an empty line closes it.",
        ),
        key(
            "read.text.trim",
            defs::Kind::Bool,
            "false",
            "`text` format: trim leading and trailing whitespace of each record (of each line before matching, in `startEndLine` mode).",
        ),
        key(
            "read.text.last.end.line.missing",
            defs::Kind::Bool,
            "false",
            "`text` format, `read.text.mode=startEndLine`: at the end of the object, a record whose end line never came is still a record (otherwise it is dropped).",
        ),
    ],
    prefixes: &[],
    check: Some(check),
};

/// The `read.text.*` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextSettings {
    /// `read.text.mode`: `line`, `regex`, `startEndTag` or `startEndLine`.
    pub mode: String,
    /// `read.text.regex`.
    pub regex: Option<String>,
    /// `read.text.start.tag`.
    pub start_tag: Option<String>,
    /// `read.text.end.tag`.
    pub end_tag: Option<String>,
    /// `read.text.start.line`.
    pub start_line: Option<String>,
    /// `read.text.end.line`.
    pub end_line: Option<String>,
    /// `read.text.trim`.
    pub trim: bool,
    /// `read.text.last.end.line.missing`.
    pub last_end_line_missing: bool,
}

impl TextSettings {
    /// The `read.text.*` settings of `r`, defaults applied.
    ///
    /// # Errors
    /// [`sluice_core::Error::Config`] when a key is declared by no registered component.
    pub fn read(r: &Keys<'_>) -> sluice_core::Result<Self> {
        Ok(TextSettings {
            mode: r.string("read.text.mode")?.unwrap_or_default(),
            regex: r.string("read.text.regex")?,
            start_tag: r.string("read.text.start.tag")?,
            end_tag: r.string("read.text.end.tag")?,
            start_line: r.string("read.text.start.line")?,
            end_line: r.string("read.text.end.line")?,
            trim: r.bool("read.text.trim")?,
            last_end_line_missing: r.bool("read.text.last.end.line.missing")?,
        })
    }
}

/// Problems the key types alone do not catch: a `read.text.mode` without the keys it needs, a
/// regex that does not compile. Checked whatever `input.format` is.
fn check(r: &Keys<'_>) -> sluice_core::Result<Vec<String>> {
    let mut problems = Vec::new();
    let mode = r.raw("read.text.mode")?.unwrap_or("line");
    let needs: &[&str] = match mode {
        "regex" => &["read.text.regex"],
        "startEndTag" => &["read.text.start.tag", "read.text.end.tag"],
        "startEndLine" => &["read.text.start.line"],
        _ => &[],
    };
    for key in needs {
        if r.raw(key)?.is_none() {
            problems.push(format!("{key}: required with read.text.mode={mode}"));
        }
    }
    if let Some(re) = r.raw("read.text.regex")? {
        if let Err(e) = Regex::new(re) {
            problems.push(format!(
                "read.text.regex: not a valid regular expression: {e}"
            ));
        }
    }
    Ok(problems)
}

/// How a `text` object is cut into records (`read.text.mode` and its keys).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum TextMode {
    /// One record per line (`line`), empty lines included.
    #[default]
    Line,
    /// One record per line in which the regex (`read.text.regex`) finds a match (`regex`); other
    /// lines are dropped.
    Regex(String),
    /// One record per text from `start` to the next `end` (`startEndTag`), both included; text
    /// outside them is dropped.
    StartEndTag {
        /// `read.text.start.tag`.
        start: String,
        /// `read.text.end.tag`.
        end: String,
    },
    /// One record per group of lines from a line equal to `start` to the next line equal to
    /// `end` (`startEndLine`), both included, joined with `\n`; lines outside are dropped.
    StartEndLine {
        /// `read.text.start.line`.
        start: String,
        /// `read.text.end.line` (empty: a blank line ends the record).
        end: String,
        /// `read.text.last.end.line.missing`: at the end of the object, a record still open is
        /// a record (otherwise dropped).
        last_end_line_missing: bool,
    },
}

/// Settings of the `text` format.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TextOptions {
    /// How records are found.
    pub mode: TextMode,
    /// Trim whitespace around each record (`read.text.trim`); in `startEndLine` mode, lines are
    /// trimmed before being compared with the start and end lines.
    pub trim: bool,
}

impl TextOptions {
    /// The options the `read.text.*` settings ask for.
    ///
    /// # Errors
    /// [`Error::Config`] when a mode misses its keys or the regex does not compile.
    pub fn from_settings(s: &TextSettings) -> Result<Self, Error> {
        let missing = |key: &'static str| Error::Config {
            key,
            message: format!("required with read.text.mode={}", s.mode),
        };
        let mode = match s.mode.as_str() {
            "" | "line" => TextMode::Line,
            "regex" => {
                let re = s.regex.clone().ok_or_else(|| missing("read.text.regex"))?;
                Regex::new(&re).map_err(|e| Error::Config {
                    key: "read.text.regex",
                    message: format!("not a valid regular expression: {e}"),
                })?;
                TextMode::Regex(re)
            }
            "startEndTag" => TextMode::StartEndTag {
                start: s
                    .start_tag
                    .clone()
                    .ok_or_else(|| missing("read.text.start.tag"))?,
                end: s
                    .end_tag
                    .clone()
                    .ok_or_else(|| missing("read.text.end.tag"))?,
            },
            "startEndLine" => TextMode::StartEndLine {
                start: s
                    .start_line
                    .clone()
                    .ok_or_else(|| missing("read.text.start.line"))?,
                end: s.end_line.clone().unwrap_or_default(),
                last_end_line_missing: s.last_end_line_missing,
            },
            other => {
                return Err(Error::Config {
                    key: "read.text.mode",
                    message: format!(
                        "{other:?} is not one of line, regex, startEndTag, startEndLine"
                    ),
                })
            }
        };
        Ok(TextOptions { mode, trim: s.trim })
    }
}

/// Reads `text` objects; see the module documentation.
#[derive(Debug, Clone)]
pub(crate) struct TextTransformer {
    mode: Mode,
    trim: bool,
    max_record_size: usize,
    compression: Compression,
}

/// [`TextMode`] ready to run.
#[derive(Debug, Clone)]
enum Mode {
    Line,
    /// The regex, and with named groups the struct schema of a record (one optional string
    /// field per group, in the regex's order).
    Regex(Regex, Option<Schema>),
    Tags {
        start: Vec<u8>,
        end: Vec<u8>,
    },
    Lines {
        start: String,
        end: String,
        last_missing: bool,
    },
}

impl TextTransformer {
    pub(crate) fn new(options: &TransformerOptions) -> Result<Self, Error> {
        positive(
            "transformer.max.record.size",
            options.max_record_size,
            "the largest text record",
        )?;
        let mode = match &options.text.mode {
            TextMode::Line => Mode::Line,
            TextMode::Regex(re) => {
                let re = Regex::new(re).map_err(|e| Error::Config {
                    key: "read.text.regex",
                    message: format!("not a valid regular expression: {e}"),
                })?;
                let schema = named_groups_schema(&re)?;
                Mode::Regex(re, schema)
            }
            TextMode::StartEndTag { start, end } => {
                if start.is_empty() || end.is_empty() {
                    return Err(Error::Config {
                        key: "read.text.start.tag",
                        message: "the start and end tags must not be empty".into(),
                    });
                }
                Mode::Tags {
                    start: start.as_bytes().to_vec(),
                    end: end.as_bytes().to_vec(),
                }
            }
            TextMode::StartEndLine {
                start,
                end,
                last_end_line_missing,
            } => Mode::Lines {
                start: start.clone(),
                end: end.clone(),
                last_missing: *last_end_line_missing,
            },
        };
        Ok(TextTransformer {
            mode,
            trim: options.text.trim,
            max_record_size: options.max_record_size,
            compression: options.compression,
        })
    }

    /// The records of the object `key` whose bytes are `bytes`, skipping the first `skip`.
    pub(crate) fn records(&self, key: String, bytes: ByteStream, skip: u64) -> RecordStream {
        let source = match &self.mode {
            Mode::Tags { .. } => Source::Tags(ChunkCursor::new(bytes)),
            _ => Source::Lines(LineReader::new(bytes, self.max_record_size)),
        };
        let run = Run {
            source,
            mode: self.mode.clone(),
            trim: self.trim,
            max_record_size: self.max_record_size,
            key,
            index: 0,
            skip,
            done: false,
            unmatched: 0,
        };
        record_stream(run)
    }
}

impl Transformer for TextTransformer {
    fn transform(&self, input: ObjectInput, skip: u64) -> RecordStream {
        let lines = !matches!(self.mode, Mode::Tags { .. });
        open_then(
            self,
            input,
            self.compression,
            (true, lines),
            skip,
            Self::records,
        )
    }

    fn name(&self) -> &'static str {
        "text"
    }
}

/// With named groups, a `regex` record is a struct: one optional string field per named group,
/// in the regex's order. Unnamed groups are not fields. `None` without named groups (the record
/// is the line, a string).
fn named_groups_schema(re: &Regex) -> Result<Option<Schema>, Error> {
    let names: Vec<&str> = re.capture_names().flatten().collect();
    if names.is_empty() {
        return Ok(None);
    }
    let mut builder = SchemaBuilder::struct_();
    for name in names {
        builder = builder.field(name, SchemaBuilder::new(Type::String).optional().build());
    }
    builder.try_build().map(Some).map_err(|e| Error::Config {
        key: "read.text.regex",
        message: format!("its named groups do not make a record schema: {e}"),
    })
}

/// The struct of a matching line's named groups (a group that took no part is null).
fn captured(re: &Regex, schema: &Schema, text: &str, trim: bool) -> SchemaAndValue {
    let caps = re.captures(text);
    let mut record = Struct::new(schema.clone()).expect("a struct schema");
    for name in re.capture_names().flatten() {
        let value = caps
            .as_ref()
            .and_then(|c| c.name(name))
            .map(|m| {
                let v = m.as_str();
                Value::String(if trim { v.trim() } else { v }.to_owned())
            })
            .unwrap_or(Value::Null);
        record
            .set(name, value)
            .expect("the schema has an optional string field per named group");
    }
    SchemaAndValue::new(schema.clone(), Value::Struct(record))
}

mod run;
use run::*;

#[cfg(test)]
mod tests;
