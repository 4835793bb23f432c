//! Reading one `text` object: finding its records (lines, matching lines, tagged texts, groups of
//! lines) and checking them.

use super::*;

pub(super) enum Source {
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

pub(super) struct Run {
    pub(super) source: Source,
    pub(super) mode: Mode,
    pub(super) trim: bool,
    pub(super) max_record_size: usize,
    pub(super) key: String,
    pub(super) index: u64,
    pub(super) skip: u64,
    pub(super) done: bool,
    /// Lines that did not match the regex (`regex` mode).
    pub(super) unmatched: u64,
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
