//! How a block holds one entry: LEB128 varints, strings front-coded against the one before,
//! and a value either as front-coded canonical text or, for a finished object's offset, in a
//! binary form ([`Finished`]; see the module documentation of `entries`).

use crate::error::Result;

use super::super::finished::{FinishedOffset, HAS_ETAG, HAS_SIZE};
use super::super::value::OffsetMap;
use super::offset_of;

pub(super) fn put_varint(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

pub(super) fn varint(data: &[u8], at: &mut usize) -> usize {
    let (mut n, mut shift) = (0usize, 0);
    loop {
        let b = data[*at];
        *at += 1;
        n |= usize::from(b & 0x7f) << shift;
        if b < 0x80 {
            return n;
        }
        shift += 7;
    }
}

/// The length of the common prefix of `a` and `b`, on a character boundary.
pub(super) fn shared(a: &str, b: &str) -> usize {
    let n = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
    (0..=n).rev().find(|i| a.is_char_boundary(*i)).unwrap_or(0)
}

/// Appends one front-coded string (against `prev`, which becomes it).
pub(super) fn put_front_coded(out: &mut Vec<u8>, prev: &mut String, s: &str) {
    let n = shared(prev, s);
    put_varint(out, n);
    put_varint(out, s.len() - n);
    out.extend_from_slice(&s.as_bytes()[n..]);
    prev.truncate(n);
    prev.push_str(&s[n..]);
}

/// Reads one front-coded string into `prev`.
pub(super) fn front_coded(data: &[u8], at: &mut usize, prev: &mut String) {
    let n = varint(data, at);
    let len = varint(data, at);
    prev.truncate(n);
    // Only whole strings cut on character boundaries are ever written.
    prev.push_str(std::str::from_utf8(&data[*at..*at + len]).unwrap_or_default());
    *at += len;
}

pub(super) const TEXT: u8 = 0;
pub(super) const FINISHED_OFFSET: u8 = 1;

/// A finished object's offset, `{"etag":…,"finished":true,"lastLineUnterminated":…,
/// "recordCount":…,"size":…}` (`etag`, `lastLineUnterminated` and `size` optional), in its
/// binary form (see the module documentation).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Finished {
    /// [`HAS_ETAG`], ... ([`FinishedOffset::flags`]).
    pub(super) flags: u8,
    /// The ETag, when `flags` has [`HAS_ETAG`] (kept as the base of the next ETag's front
    /// coding either way).
    pub(super) etag: String,
    /// Never negative (the binary form writes varints).
    pub(super) record_count: i64,
    /// Never negative; 0 without [`HAS_SIZE`].
    pub(super) size: i64,
}

impl Finished {
    /// The binary form of an offset's canonical text, when it has the finished shape, no
    /// negative number, and renders back to exactly `text`.
    pub(super) fn parse(text: &str) -> Option<Finished> {
        /// The finished shape's fields, read without building a map (every finished object's
        /// offset is parsed here as it is written, and again when the file is loaded).
        /// Anything this reads wrongly is caught below: the form is kept only when it renders
        /// back to `text` exactly.
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Shape<'a> {
            #[serde(borrow, default)]
            etag: Option<std::borrow::Cow<'a, str>>,
            finished: bool,
            #[serde(rename = "lastLineUnterminated", default)]
            unterminated: Option<bool>,
            #[serde(rename = "recordCount")]
            record_count: i64,
            #[serde(default)]
            size: Option<i64>,
        }
        if !text.contains("\"finished\":true") {
            return None;
        }
        let shape: Shape<'_> = serde_json::from_str(text).ok()?;
        let o = FinishedOffset {
            record_count: shape.record_count,
            etag: shape.etag.as_deref(),
            size: shape.size,
            unterminated: shape.unterminated,
        };
        if !shape.finished || o.record_count < 0 || o.size.is_some_and(|s| s < 0) {
            return None;
        }
        let f = Finished {
            flags: o.flags(),
            etag: o.etag.unwrap_or_default().to_owned(),
            record_count: o.record_count,
            size: o.size.unwrap_or(0),
        };
        let mut rendered = String::with_capacity(text.len());
        f.render(&mut rendered);
        (rendered == text).then_some(f)
    }

    /// The offset's fields.
    pub(super) fn offset(&self) -> FinishedOffset<'_> {
        FinishedOffset::from_flags(self.flags, self.record_count, &self.etag, self.size)
    }

    /// Writes the canonical text (keys in order, as `value_text` writes them) into `out`.
    pub(super) fn render(&self, out: &mut String) {
        use std::fmt::Write as _;
        let o = self.offset();
        out.clear();
        out.push('{');
        if let Some(e) = o.etag {
            out.push_str("\"etag\":");
            let mut bytes = std::mem::take(out).into_bytes();
            serde_json::to_writer(&mut bytes, e).expect("JSON written to memory");
            *out = String::from_utf8(bytes).expect("serde_json writes UTF-8");
            out.push(',');
        }
        out.push_str("\"finished\":true");
        if let Some(u) = o.unterminated {
            let _ = write!(out, ",\"lastLineUnterminated\":{u}");
        }
        let _ = write!(out, ",\"recordCount\":{}", o.record_count);
        if let Some(size) = o.size {
            let _ = write!(out, ",\"size\":{size}");
        }
        out.push('}');
    }

    /// Appends the binary form, the ETag front-coded against `prev_etag` (which becomes it).
    pub(super) fn put(&self, out: &mut Vec<u8>, prev_etag: &mut String) {
        out.push(self.flags);
        put_varint(out, self.record_count as usize);
        if self.flags & HAS_SIZE != 0 {
            put_varint(out, self.size as usize);
        }
        if self.flags & HAS_ETAG != 0 {
            put_front_coded(out, prev_etag, &self.etag);
        }
    }

    /// Reads the binary form into `self`, its ETag front-coded against `self.etag`.
    pub(super) fn read(&mut self, data: &[u8], at: &mut usize) {
        self.flags = data[*at];
        *at += 1;
        self.record_count = varint(data, at) as i64;
        self.size = if self.flags & HAS_SIZE != 0 {
            varint(data, at) as i64
        } else {
            0
        };
        if self.flags & HAS_ETAG != 0 {
            front_coded(data, at, &mut self.etag);
        }
    }
}

/// A stored value as the blocks hold it: its canonical text, or a finished offset.
#[derive(Debug, Clone, Copy)]
pub(super) enum Val<'a> {
    Text(&'a str),
    Finished(&'a Finished),
}

impl<'a> Val<'a> {
    /// The canonical text (rendered into `buf` for a finished offset).
    pub(super) fn text<'b>(self, buf: &'b mut String) -> &'b str
    where
        'a: 'b,
    {
        match self {
            Val::Text(t) => t,
            Val::Finished(f) => {
                f.render(buf);
                buf
            }
        }
    }

    /// The offset map.
    pub(super) fn offset(self) -> Result<OffsetMap> {
        match self {
            Val::Text(t) => offset_of(t),
            Val::Finished(f) => Ok(f.offset().to_map()),
        }
    }
}
