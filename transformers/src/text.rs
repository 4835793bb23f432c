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

enum Source {
    Lines(LineReader),
    Tags(ChunkCursor),
}

/// One record found, before it is checked and converted.
enum Found {
    /// The record's bytes, starting at this object offset.
    Data(u64, Vec<u8>),
    /// A record longer than the limit, starting at this offset, with its length.
    TooLong(u64, u64),
}

struct Run {
    source: Source,
    mode: Mode,
    trim: bool,
    max_record_size: usize,
    key: String,
    index: u64,
    skip: u64,
    done: bool,
    /// Lines that did not match the regex (`regex` mode).
    unmatched: u64,
}

impl ReadRecords for Run {
    async fn next(&mut self) -> Option<sluice_core::Result<SchemaAndValue>> {
        loop {
            if self.done {
                return None;
            }
            let found = match self.find().await {
                Some(Ok(found)) => found,
                Some(Err((offset, e))) => {
                    self.done = true;
                    return Some(Err(record_error(
                        &self.key, self.index, offset, false, None, e,
                    )));
                }
                None => {
                    self.done = true;
                    if let Mode::Regex(re, _) = &self.mode {
                        if self.index == 0 && self.unmatched > 0 {
                            warn!(object = %self.key, regex = %re.as_str(), lines = self.unmatched,
                                "no line of the object matched read.text.regex, so it yields no record; check the regex (in a .properties file a backslash escapes the next character: write \\\\S for the regex \\S)");
                        }
                    }
                    return None;
                }
            };
            let index = self.index;
            self.index += 1;
            if index < self.skip {
                continue;
            }
            return Some(match found {
                Found::Data(offset, bytes) => match String::from_utf8(bytes) {
                    Ok(text) => match &self.mode {
                        Mode::Regex(re, Some(schema)) => Ok(captured(re, schema, &text, self.trim)),
                        _ => {
                            let text = if self.trim {
                                text.trim().to_owned()
                            } else {
                                text
                            };
                            Ok(SchemaAndValue::new(Schema::string(), Value::String(text)))
                        }
                    },
                    Err(e) => Err(record_error(
                        &self.key,
                        index,
                        offset,
                        true,
                        Some(e.as_bytes()),
                        Error::InvalidUtf8 {
                            source: e.utf8_error(),
                        },
                    )),
                },
                Found::TooLong(offset, size) => Err(record_error(
                    &self.key,
                    index,
                    offset,
                    true,
                    None,
                    Error::RecordTooLarge {
                        size,
                        limit: self.max_record_size,
                    },
                )),
            });
        }
    }
}

impl Run {
    /// The next record, `None` at the end, an unrecoverable error with its offset.
    async fn find(&mut self) -> Option<Result<Found, (u64, Error)>> {
        let limit = self.max_record_size;
        match (&mut self.source, &self.mode) {
            (Source::Tags(bytes), Mode::Tags { start, end }) => {
                next_tagged(bytes, start, end, limit).await
            }
            (Source::Lines(reader), Mode::Line) => match reader.next_line().await? {
                Ok(line) => Some(Ok(line_found(line.start, line.kind))),
                Err(e) => Some(Err(read_failed(e))),
            },
            (Source::Lines(reader), Mode::Regex(re, _)) => loop {
                match reader.next_line().await? {
                    Ok(line) => match line.kind {
                        LineKind::Data(data) => {
                            // Invalid UTF-8 is matched lossily, then reported as the record's error.
                            let text = String::from_utf8_lossy(&data);
                            if re.is_match(&text) {
                                return Some(Ok(Found::Data(line.start, data.to_vec())));
                            }
                            self.unmatched += 1;
                        }
                        // A line too long to hold cannot be matched: reported, not silently dropped.
                        LineKind::TooLong { len, .. } => {
                            return Some(Ok(Found::TooLong(line.start, len)))
                        }
                    },
                    Err(e) => return Some(Err(read_failed(e))),
                }
            },
            (
                Source::Lines(reader),
                Mode::Lines {
                    start,
                    end,
                    last_missing,
                },
            ) => {
                let trim = self.trim;
                let matches = |line: &[u8], wanted: &str| {
                    let line = String::from_utf8_lossy(line);
                    if trim {
                        line.trim() == wanted.trim()
                    } else {
                        line == wanted
                    }
                };
                // Some((start offset, bytes so far or None once over the limit, length)).
                let mut open: Option<(u64, Option<Vec<u8>>, u64)> = None;
                loop {
                    let line = match reader.next_line().await {
                        Some(Ok(line)) => line,
                        Some(Err(e)) => return Some(Err(read_failed(e))),
                        None => {
                            return match open {
                                Some((offset, Some(buf), _)) if *last_missing => {
                                    Some(Ok(Found::Data(offset, buf)))
                                }
                                Some((offset, None, len)) if *last_missing => {
                                    Some(Ok(Found::TooLong(offset, len)))
                                }
                                _ => None,
                            }
                        }
                    };
                    let (data, line_len) = match &line.kind {
                        LineKind::Data(d) => (Some(d.clone()), d.len() as u64),
                        LineKind::TooLong { len, .. } => (None, *len),
                    };
                    match &mut open {
                        None => {
                            if data.as_deref().is_some_and(|d| matches(d, start)) {
                                let d = data.unwrap_or_default();
                                open = Some((line.start, Some(d.to_vec()), line_len));
                            }
                        }
                        Some((offset, buf, len)) => {
                            *len += 1 + line_len;
                            match (buf.as_mut(), &data) {
                                (Some(b), Some(d)) if *len <= limit as u64 => {
                                    b.push(b'\n');
                                    b.extend_from_slice(d);
                                }
                                _ => *buf = None,
                            }
                            if data.as_deref().is_some_and(|d| matches(d, end)) {
                                let (offset, len) = (*offset, *len);
                                return Some(Ok(match open.take().and_then(|o| o.1) {
                                    Some(b) => Found::Data(offset, b),
                                    None => Found::TooLong(offset, len),
                                }));
                            }
                        }
                    }
                }
            }
            _ => unreachable!("the source matches the mode"),
        }
    }
}

fn line_found(start: u64, kind: LineKind) -> Found {
    match kind {
        LineKind::Data(d) => Found::Data(start, d.to_vec()),
        LineKind::TooLong { len, .. } => Found::TooLong(start, len),
    }
}

fn read_failed(e: ReadError) -> (u64, Error) {
    (e.start, Error::Io { source: e.source })
}

/// The next text from a start to an end tag in `bytes`, holding at most the limit plus a tag's
/// length.
async fn next_tagged(
    bytes: &mut ChunkCursor,
    start: &[u8],
    end: &[u8],
    limit: usize,
) -> Option<Result<Found, (u64, Error)>> {
    // Find the start tag.
    match bytes.skip_past(start).await {
        Ok(true) => {}
        Ok(false) => return None,
        Err(e) => return Some(Err((bytes.offset(), Error::Io { source: e }))),
    }
    let record_start = bytes.offset() - start.len() as u64;
    // Collect up to the end tag.
    let mut buf: Option<Vec<u8>> = Some(start.to_vec());
    let mut tail: Vec<u8> = Vec::new();
    let mut len = start.len() as u64;
    loop {
        match bytes.fill().await {
            Ok(true) => {}
            Ok(false) => {
                return Some(Err((
                    record_start,
                    Error::Malformed {
                        format: "text",
                        message: "the object ends before the end tag of this record".into(),
                    },
                )))
            }
            Err(e) => return Some(Err((record_start, Error::Io { source: e }))),
        }
        // Search the last bytes of what came before plus this chunk.
        let chunk = bytes.chunk();
        let kept = tail.len();
        tail.extend_from_slice(chunk);
        let found = memchr::memmem::find(&tail, end);
        let n = match found {
            Some(i) => i + end.len() - kept,
            None => chunk.len(),
        };
        len += n as u64;
        if let Some(b) = buf.as_mut() {
            if len <= limit as u64 {
                b.extend_from_slice(&chunk[..n]);
            } else {
                buf = None;
            }
        }
        bytes.advance(n);
        if found.is_some() {
            return Some(Ok(match buf {
                Some(b) => Found::Data(record_start, b),
                None => Found::TooLong(record_start, len),
            }));
        }
        let keep = end.len() - 1;
        if tail.len() > keep {
            tail.drain(..tail.len() - keep);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::chunked;
    use futures::executor::block_on;
    use futures::StreamExt;
    use proptest::prelude::*;

    type Item = Result<String, (u64, Option<u64>, bool, String)>;

    fn run(mode: TextMode, trim: bool, input: &[u8], cuts: &[usize], skip: u64) -> Vec<Item> {
        run_limit(mode, trim, input, cuts, skip, 1000)
    }

    fn run_limit(
        mode: TextMode,
        trim: bool,
        input: &[u8],
        cuts: &[usize],
        skip: u64,
        limit: usize,
    ) -> Vec<Item> {
        let t = TextTransformer::new(&TransformerOptions {
            text: TextOptions { mode, trim },
            max_record_size: limit,
            ..Default::default()
        })
        .unwrap();
        block_on(
            t.records("o.txt".into(), chunked(input, cuts), skip)
                .collect::<Vec<_>>(),
        )
        .into_iter()
        .map(|r| match r {
            Ok(SchemaAndValue {
                value: Value::String(s),
                schema: Some(schema),
            }) => {
                assert_eq!(schema, Schema::string());
                Ok(s)
            }
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

    fn ok(items: &[&str]) -> Vec<Item> {
        items.iter().map(|s| Ok(s.to_string())).collect()
    }

    #[test]
    fn lines_are_records_empty_ones_too() {
        let input = b"a\r\n\n  b  \nlast";
        assert_eq!(
            run(TextMode::Line, false, input, &[], 0),
            ok(&["a", "", "  b  ", "last"])
        );
        assert_eq!(
            run(TextMode::Line, true, input, &[2, 5], 2),
            ok(&["b", "last"])
        );
        let items = run(TextMode::Line, false, b"x\n\xff\ny", &[], 0);
        let (i, off, rec, msg) = items[1].clone().unwrap_err();
        assert_eq!((i, off, rec), (1, Some(2), true));
        assert!(msg.contains("UTF-8"), "{msg}");
        assert_eq!(items[2], Ok("y".into()));
    }

    #[test]
    fn regex_mode_keeps_matching_lines() {
        let mode = TextMode::Regex("^[0-9]+,".into());
        let input = b"header\n1,a\nskip me\n22,b\n,c\n";
        assert_eq!(
            run(mode.clone(), false, input, &[3], 0),
            ok(&["1,a", "22,b"])
        );
        assert_eq!(run(mode, false, input, &[3], 1), ok(&["22,b"]));
    }

    #[test]
    fn named_groups_make_struct_records() {
        let t = TextTransformer::new(&TransformerOptions {
            text: TextOptions {
                mode: TextMode::Regex(
                    r"^(?P<date>\S+) ERROR (?P<msg>.*?)(?: \[(?P<code>\d+)\])?$".into(),
                ),
                trim: false,
            },
            ..Default::default()
        })
        .unwrap();
        let input =
            b"2024-01-01 INFO fine\n2024-01-02 ERROR disk full [28]\n2024-01-03 ERROR boom\n";
        let got = block_on(
            t.records("o.log".into(), chunked(input, &[7]), 0)
                .collect::<Vec<_>>(),
        );
        let rows: Vec<Vec<Value>> = got
            .into_iter()
            .map(|r| {
                let sv = r.unwrap();
                let schema = sv.schema.as_ref().unwrap();
                let names: Vec<&str> = schema.fields().iter().map(|f| f.name()).collect();
                assert_eq!(names, ["date", "msg", "code"]);
                let Value::Struct(s) = sv.value else { panic!() };
                s.values().to_vec()
            })
            .collect();
        assert_eq!(
            rows,
            [
                vec![
                    Value::from("2024-01-02"),
                    Value::from("disk full"),
                    Value::from("28")
                ],
                vec![Value::from("2024-01-03"), Value::from("boom"), Value::Null],
            ]
        );
    }

    #[test]
    fn a_regex_that_lost_its_backslash_matches_nothing_and_says_so() {
        // `\S` read from a .properties file arrives as `S`: no line matches; the run warns
        // (checked by the end-to-end test) and yields no record rather than failing.
        let mode = TextMode::Regex("^(?P<date>S+) ERROR (?P<msg>.*)$".into());
        assert_eq!(run(mode, false, b"2024-01-02 ERROR x\n", &[], 0), ok(&[]));
    }

    #[test]
    fn tags_mode_spans_lines_and_chunks() {
        let mode = TextMode::StartEndTag {
            start: "<r>".into(),
            end: "</r>".into(),
        };
        let input = b"junk <r>one\ntwo</r> between <r></r><r>three</r>tail";
        for cuts in [
            vec![],
            vec![6, 7, 8, 17, 18, 19],
            (0..input.len()).collect(),
        ] {
            assert_eq!(
                run(mode.clone(), false, input, &cuts, 0),
                ok(&["<r>one\ntwo</r>", "<r></r>", "<r>three</r>"]),
                "{cuts:?}"
            );
            assert_eq!(
                run(mode.clone(), false, input, &cuts, 2),
                ok(&["<r>three</r>"])
            );
        }
        let items = run(mode.clone(), false, b"<r>a</r><r>unfinished", &[], 0);
        assert_eq!(items[0], Ok("<r>a</r>".into()));
        let (i, off, rec, msg) = items[1].clone().unwrap_err();
        assert_eq!((i, off, rec), (1, Some(8), false));
        assert!(msg.contains("end tag"), "{msg}");
        let items = run_limit(mode, false, b"<r>0123456789</r><r>x</r>", &[4], 0, 10);
        let (i, off, rec, msg) = items[0].clone().unwrap_err();
        assert_eq!((i, off, rec), (0, Some(0), true));
        assert!(msg.contains("17 bytes"), "{msg}");
        assert_eq!(items[1], Ok("<r>x</r>".into()));
    }

    #[test]
    fn start_end_lines_group_lines() {
        let mode = |last| TextMode::StartEndLine {
            start: "BEGIN".into(),
            end: "END".into(),
            last_end_line_missing: last,
        };
        let input = b"x\nBEGIN\na\nb\nEND\nnoise\n BEGIN \nc\n END\nBEGIN\nopen";
        assert_eq!(
            run(mode(false), false, input, &[], 0),
            ok(&["BEGIN\na\nb\nEND"])
        );
        assert_eq!(
            run(mode(true), true, input, &[5, 9], 0),
            ok(&["BEGIN\na\nb\nEND", "BEGIN \nc\n END", "BEGIN\nopen"])
        );
        assert_eq!(run(mode(true), true, input, &[], 2), ok(&["BEGIN\nopen"]));
        let blank = TextMode::StartEndLine {
            start: "R".into(),
            end: String::new(),
            last_end_line_missing: true,
        };
        assert_eq!(
            run(blank, true, b"R\n1\n\nR\n2\n", &[], 0),
            ok(&["R\n1", "R\n2"])
        );
    }

    #[test]
    fn config_needs_the_mode_keys() {
        let mut s = TextSettings {
            mode: "regex".into(),
            regex: None,
            start_tag: None,
            end_tag: None,
            start_line: None,
            end_line: None,
            trim: false,
            last_end_line_missing: false,
        };
        assert!(TextOptions::from_settings(&s).is_err());
        s.regex = Some("(".into());
        assert!(TextOptions::from_settings(&s)
            .unwrap_err()
            .to_string()
            .contains("read.text.regex"));
        s.regex = Some("a+".into());
        assert_eq!(
            TextOptions::from_settings(&s).unwrap().mode,
            TextMode::Regex("a+".into())
        );
    }

    proptest! {
        #[test]
        fn resuming_tags_yields_the_remaining_records(
            parts in proptest::collection::vec("[a-c<>/r\n]{0,6}", 0..10),
            cuts in proptest::collection::vec(0usize..100, 0..10),
        ) {
            let doc: String = parts.iter().map(|p| format!("<r>{p}</r>..")).collect();
            let mode = TextMode::StartEndTag { start: "<r>".into(), end: "</r>".into() };
            let full = run(mode.clone(), false, doc.as_bytes(), &[], 0);
            let n = full.len();
            for skip in [0, 1, n / 2, n, n + 1] {
                let resumed = run(mode.clone(), false, doc.as_bytes(), &cuts, skip as u64);
                prop_assert_eq!(&resumed[..], &full[skip.min(n)..]);
            }
        }
    }
}
