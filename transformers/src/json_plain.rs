//! The JSON fast path: a `jsonl` line that is already written exactly as Kafka Connect's
//! `JsonConverter` with `schemas.enable=false` would write the value Sluice parses from it is
//! passed on as those bytes, without building the value and writing it out again.
//!
//! [`is_plain`] decides that in one pass over the line, without allocating: the JSON grammar,
//! strictly, plus the converter's forms — no whitespace, strings escaped as Jackson escapes them
//! (only `"`, `\` and the control characters, the short escapes where Jackson uses them and
//! `\u00XX` in upper case otherwise), integers that fit in int64 (`-0` reads as a float),
//! fractions and exponents exactly as Java's `Double.toString` writes the double they parse to,
//! and no object with a repeated key (the converter keeps one). Anything else, valid or not,
//! takes the slow path: parsed into Connect data and written by the converter, so errors and
//! output are the slow path's own. The property test below holds the two paths equal.

use std::collections::HashSet;

use sluice_core::convert::{java_double_to_string, Converter, JsonConverter, JsonConverterConfig};
use sluice_core::data::{SchemaAndValue, Value};

use crate::{json_value, Error};

/// Deeper nesting takes the slow path (whose parser stops at 128 levels with its own error).
const MAX_DEPTH: u32 = 100;

/// Above this many members an object's repeated keys are found through a hash set.
const LINEAR_KEYS: usize = 32;

/// Writes values as `JsonConverter` with `schemas.enable=false` does (the slow path's output).
#[derive(Debug)]
pub(crate) struct PlainJson(JsonConverter);

impl PlainJson {
    pub(crate) fn new() -> Self {
        PlainJson(JsonConverter::new(JsonConverterConfig {
            schemas_enable: false,
            ..JsonConverterConfig::default()
        }))
    }

    /// The record of one JSON text, its value as the bytes `JsonConverter` with
    /// `schemas.enable=false` writes for it: [`Value::Bytes`], or [`Value::Null`] for `null`
    /// (the converter's tombstone). Errors are those of [`json_value::parse_record`].
    pub(crate) fn record(&self, text: &str) -> Result<SchemaAndValue, Error> {
        if is_plain(text) && text != "null" {
            return Ok(SchemaAndValue::schemaless(Value::Bytes(
                text.as_bytes().to_vec(),
            )));
        }
        let parsed = json_value::parse_record(text, false)?;
        match self.0.from_connect_data("", &parsed) {
            Ok(Some(bytes)) => Ok(SchemaAndValue::schemaless(Value::Bytes(bytes))),
            Ok(None) => Ok(parsed),
            // Parsed JSON holds no structs, the one thing the converter rejects.
            Err(e) => Err(Error::UnmappableValue {
                message: e.to_string(),
            }),
        }
    }
}

/// Whether `text` is one JSON value written exactly as `JsonConverter` (`schemas.enable=false`)
/// writes the schemaless value parsed from it (see the module's documentation).
pub(crate) fn is_plain(text: &str) -> bool {
    let mut s = Scanner {
        text,
        b: text.as_bytes(),
        i: 0,
        keys: Vec::new(),
    };
    s.value(0) && s.i == s.b.len()
}

struct Scanner<'a> {
    text: &'a str,
    b: &'a [u8],
    i: usize,
    /// The keys of the objects open at this point, innermost last.
    keys: Vec<&'a [u8]>,
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn value(&mut self, depth: u32) -> bool {
        match self.peek() {
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => self.string().is_some(),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => false,
        }
    }

    fn literal(&mut self, word: &[u8]) -> bool {
        let found = self.b[self.i..].starts_with(word);
        self.i += word.len();
        found
    }

    fn array(&mut self, depth: u32) -> bool {
        if depth > MAX_DEPTH {
            return false;
        }
        self.i += 1;
        if self.peek() == Some(b']') {
            self.i += 1;
            return true;
        }
        loop {
            if !self.value(depth) {
                return false;
            }
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return true;
                }
                _ => return false,
            }
        }
    }

    fn object(&mut self, depth: u32) -> bool {
        if depth > MAX_DEPTH {
            return false;
        }
        self.i += 1;
        if self.peek() == Some(b'}') {
            self.i += 1;
            return true;
        }
        let first = self.keys.len();
        let mut many: Option<HashSet<&'a [u8]>> = None;
        let plain = loop {
            // Canonical strings are equal exactly when the strings they write are.
            let Some(key) = self.string() else {
                break false;
            };
            let repeated = match &mut many {
                Some(set) => !set.insert(key),
                None => {
                    let repeated = self.keys[first..].contains(&key);
                    self.keys.push(key);
                    if self.keys.len() - first > LINEAR_KEYS {
                        many = Some(self.keys[first..].iter().copied().collect());
                    }
                    repeated
                }
            };
            if repeated || self.peek() != Some(b':') {
                break false;
            }
            self.i += 1;
            if !self.value(depth) {
                break false;
            }
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    break true;
                }
                _ => break false,
            }
        };
        self.keys.truncate(first);
        plain
    }

    /// A string in the converter's form: its bytes between the quotes.
    fn string(&mut self) -> Option<&'a [u8]> {
        if self.peek() != Some(b'"') {
            return None;
        }
        let b = self.b;
        let start = self.i + 1;
        let mut i = start;
        loop {
            // The next quote or backslash (memchr's vector search), and no control character
            // before it; no closing quote at all: not a string.
            let run = memchr::memchr2(b'"', b'\\', &b[i..])?;
            if has_control(&b[i..i + run]) {
                return None;
            }
            i += run;
            if b[i] == b'"' {
                self.i = i + 1;
                return Some(&b[start..i]);
            }
            i += plain_escape(&b[i..])?;
        }
    }

    fn number(&mut self) -> bool {
        let b = self.b;
        let start = self.i;
        let mut i = start;
        let digits = |mut i: usize| {
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            i
        };
        if b[i] == b'-' {
            i += 1;
        }
        match b.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => i = digits(i),
            _ => return false,
        }
        let mut float = false;
        if b.get(i) == Some(&b'.') {
            let end = digits(i + 1);
            if end == i + 1 {
                return false;
            }
            i = end;
            float = true;
        }
        if matches!(b.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(b.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            let end = digits(i);
            if end == i {
                return false;
            }
            i = end;
            float = true;
        }
        self.i = i;
        let token = &self.text[start..i];
        if float {
            // The double the slow path's parser reads, written back as Java writes it; most
            // decimals are seen to be so from their digits alone.
            plain_decimal(token)
                || serde_json::from_str::<f64>(token)
                    .is_ok_and(|v| v.is_finite() && java_double_to_string(v) == token)
        } else {
            // `-0` is read as the float -0.0; beyond int64 as a float or an error.
            token != "-0" && token.parse::<i64>().is_ok()
        }
    }
}

/// The length of the escape at the start of `s` (which starts with `\`) when Jackson writes
/// that character so: `\"`, `\\`, `\b \t \n \f \r`, and `\u00XX` (upper case) for the other
/// control characters.
fn plain_escape(s: &[u8]) -> Option<usize> {
    match *s.get(1)? {
        b'"' | b'\\' | b'b' | b't' | b'n' | b'f' | b'r' => Some(2),
        b'u' => {
            let hex = s.get(2..6)?;
            let upper = |c: u8| matches!(c, b'0'..=b'9' | b'A'..=b'F');
            let short = matches!(hex, b"0008" | b"0009" | b"000A" | b"000C" | b"000D");
            (hex[..2] == *b"00" && matches!(hex[2], b'0' | b'1') && upper(hex[3]) && !short)
                .then_some(6)
        }
        _ => None,
    }
}

/// Whether the JSON number `token` is a decimal that Java's `Double.toString` writes back as it
/// is, seen from its digits alone (`false` says nothing: the caller then parses and writes).
///
/// That holds for `I.F` without an exponent whose value is 0 or lies in [10^-3, 10^7), which
/// Java writes without an exponent; with at most 15 significant digits, so the double read is
/// the correctly rounded one (the parser's significand stays below 2^53 and the power of ten is
/// exact) and no other decimal of at most 15 digits reads as the same double, which makes the
/// digits themselves its shortest form; and without trailing zeros in `F` beyond the one digit
/// Java always writes (`1.0`, not `1.50`).
fn plain_decimal(token: &str) -> bool {
    let unsigned = token.strip_prefix('-').unwrap_or(token);
    let Some((int, frac)) = unsigned.split_once('.') else {
        return false;
    };
    if frac.is_empty() || !frac.bytes().all(|c| c.is_ascii_digit()) {
        return false;
    }
    if frac.len() > 1 && frac.ends_with('0') {
        return false;
    }
    if int == "0" {
        if frac == "0" {
            // Zero, and minus zero: "0.0" and "-0.0".
            return true;
        }
        // At least 10^-3, at most 15 significant digits.
        let zeros = frac.bytes().take_while(|&c| c == b'0').count();
        zeros <= 2 && frac.len() - zeros <= 15
    } else {
        // Below 10^7 (the grammar allows no leading zero), at most 15 significant digits.
        (1..=7).contains(&int.len()) && int.len() + frac.len() <= 15
    }
}

/// Whether any byte of `s` is a control character (below 0x20). A minimum over the bytes,
/// which the compiler turns into vector instructions, unlike a search that stops early.
fn has_control(s: &[u8]) -> bool {
    s.iter().fold(u8::MAX, |m, &c| m.min(c)) < 0x20
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use sluice_core::convert::ByteArrayConverter;

    /// The slow path's bytes for `text`: parsed, then written by the converter; or its error.
    fn slow(text: &str) -> Result<Option<Vec<u8>>, String> {
        let parsed = json_value::parse_record(text, false).map_err(|e| e.to_string())?;
        Ok(PlainJson::new()
            .0
            .from_connect_data("t", &parsed)
            .expect("parsed JSON converts"))
    }

    /// The fast path's bytes for `text`, as the byte array converter sends them.
    fn fast(text: &str) -> Result<Option<Vec<u8>>, String> {
        let record = PlainJson::new().record(text).map_err(|e| e.to_string())?;
        Ok(ByteArrayConverter
            .from_connect_data("t", &record)
            .expect("bytes or null convert"))
    }

    fn same(text: &str) {
        assert_eq!(fast(text), slow(text), "{text:?}");
    }

    #[test]
    fn plain_forms_pass_and_others_do_not() {
        for text in [
            r#"{"a":1,"b":[true,false,null],"c":{"d":"e"},"f":-12,"g":1.5}"#,
            "\"a\\\"b\\\\c\\n\\t\\r\\b\\f\\u0000\\u001F\u{7f}é😀\"",
            "1.0E10",
            "1.0E-5",
            "0.001",
            "-9223372036854775808",
            "[]",
            "{}",
            "0",
        ] {
            assert!(is_plain(text), "{text:?} is plain");
            same(text);
        }
        for text in [
            r#"{"a": 1}"#,
            " 1",
            "1 ",
            r#""\/""#,
            r#""\u0041""#,
            r#""\u001f""#,
            r#""\u007F""#,
            r#""\u000A""#,
            r#""\ud83d\ude00""#,
            "1.50",
            "1e5",
            "1E5",
            "-0",
            "-0.0e0",
            "9223372036854775808",
            "01",
            "1.",
            ".5",
            "1e",
            r#"{"a":1,"a":2}"#,
            "[1,]",
            "[1",
            "tru",
            "nul",
            "",
            "\"abc",
            "{\"a\"}",
            "NaN",
            // Control characters as they are, anywhere in a string, the last one below space
            // included.
            "\"\u{1f}\"",
            "\"a\u{0}\"",
            "[\"a\",\"0123456789abcdef0123456789abcdef\u{1}x\"]",
        ] {
            assert!(!is_plain(text), "{text:?} is not plain");
            same(text);
        }
    }

    /// The float check of the slow way: parse the token, write it back as Java does.
    fn written_back(token: &str) -> bool {
        serde_json::from_str::<f64>(token)
            .is_ok_and(|v| v.is_finite() && java_double_to_string(v) == token)
    }

    #[test]
    fn decimals_seen_plain_from_their_digits() {
        for t in [
            "1.0",
            "0.5",
            "0.0",
            "-0.0",
            "0.001",
            "-0.001",
            "9999999.9",
            "123.45",
            "100.0",
            "0.123456789012345",
            "12345.6789012345",
        ] {
            assert!(plain_decimal(t), "{t}");
            assert!(written_back(t), "{t}");
        }
        // Not decided from the digits: trailing zeros, below 10^-3, from 10^7 on, more than
        // 15 significant digits, exponents, integers.
        for t in [
            "1.50",
            "0.10",
            "0.00",
            "0.0001",
            "10000000.0",
            "1234567.123456789",
            "0.1234567890123456",
            "1.0E10",
            "1.0E-4",
            "1",
            "-0",
            "1.",
        ] {
            assert!(!plain_decimal(t), "{t}");
        }
    }

    #[test]
    fn null_is_a_tombstone_and_deep_nesting_takes_the_slow_path() {
        assert_eq!(fast("null"), Ok(None));
        let deep = format!("{}{}", "[".repeat(101), "]".repeat(101));
        assert!(!is_plain(&deep));
        same(&deep);
        let too_deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert!(fast(&too_deep).is_err());
        same(&too_deep);
    }

    #[test]
    fn repeated_keys_are_found_among_many() {
        let members: Vec<String> = (0..100).map(|i| format!("\"k{i}\":{i}")).collect();
        let wide = format!("{{{}}}", members.join(","));
        assert!(is_plain(&wide));
        let repeated = format!("{{{},\"k7\":0}}", members.join(","));
        assert!(!is_plain(&repeated));
        same(&repeated);
        // Equal keys in different objects are not repeats.
        assert!(is_plain(r#"{"a":{"a":{"a":1}},"b":{"a":2}}"#));
    }

    /// JSON text in many forms: whitespace, escapes, number spellings, repeated keys.
    fn json_text() -> impl Strategy<Value = String> {
        let ws = prop_oneof![Just(""), Just(""), Just(""), Just(" "), Just("\t")];
        let string = prop_oneof![
            "[a-z]{0,6}",
            "\\PC{0,4}",
            Just("\\u0041".to_string()),
            Just("\\u00e9".to_string()),
            Just("\\u001F".to_string()),
            Just("\\u001f".to_string()),
            Just("\\n\\\"\\\\".to_string()),
            Just("\\/".to_string()),
            Just("\\ud83d\\ude00".to_string()),
            Just("\u{7f}\u{2028}".to_string()),
            "[a-z]{0,40}[\\x00-\\x1f][a-z]{0,3}",
            // The edges around the last control character.
            "[a-z]{0,40}[\\x1e-\\x21][a-z]{0,3}",
        ]
        .prop_map(|s| format!("\"{}\"", s.replace('"', "\\\"")));
        let number = prop_oneof![
            any::<i64>().prop_map(|i| i.to_string()),
            any::<u64>().prop_map(|i| i.to_string()),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(java_double_to_string),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(|f| format!("{f:?}")),
            any::<f32>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(|f| format!("{f:e}")),
            Just("-0".to_string()),
            Just("1E400".to_string()),
            Just("0.10".to_string()),
            Just("123456789012345678901234567890".to_string()),
        ];
        let leaf = prop_oneof![
            string.clone(),
            number,
            Just("true".to_string()),
            Just("false".to_string()),
            Just("null".to_string()),
        ];
        leaf.prop_recursive(4, 32, 6, move |inner| {
            let key = prop_oneof![
                4 => "[a-c]{1,2}".prop_map(|k| format!("\"{k}\"")),
                1 => Just("\"\\u0061\"".to_string()),
            ];
            prop_oneof![
                (prop::collection::vec(inner.clone(), 0..5), ws.clone())
                    .prop_map(|(items, w)| format!("[{w}{}]", items.join(&format!(",{w}")))),
                (prop::collection::vec((key, inner), 0..5), ws.clone()).prop_map(|(members, w)| {
                    let members: Vec<String> = members
                        .into_iter()
                        .map(|(k, v)| format!("{k}:{w}{v}"))
                        .collect();
                    format!("{{{}}}", members.join(","))
                }),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        /// The fast path gives exactly the slow path's bytes or error, for any text.
        #[test]
        fn the_fast_path_equals_the_slow_path(text in json_text()) {
            prop_assert_eq!(fast(&text), slow(&text), "{:?}", text);
        }

        /// And it is taken for what the converter writes: its own output is plain.
        #[test]
        fn the_converters_output_is_plain(text in json_text()) {
            if let Ok(Some(bytes)) = slow(&text) {
                let written = String::from_utf8(bytes).expect("the converter writes UTF-8");
                // NaN and the infinities are written quoted, as strings.
                prop_assert!(is_plain(&written), "{:?} from {:?}", written, text);
                prop_assert_eq!(fast(&written), Ok(Some(written.clone().into_bytes())));
            }
        }

        /// A decimal seen plain from its digits is plain the slow way too.
        #[test]
        fn a_decimal_seen_plain_from_its_digits_is_written_back_so(
            minus in any::<bool>(),
            int in prop_oneof![Just("0".to_string()), "[1-9][0-9]{0,8}"],
            frac in prop_oneof!["[0-9]{1,18}", "0{0,4}[0-9]{1,3}"],
        ) {
            let t = format!("{}{int}.{frac}", if minus { "-" } else { "" });
            if plain_decimal(&t) {
                prop_assert!(written_back(&t), "{}", t);
            }
        }

        /// And what Java writes for a short decimal in the plain range is seen so.
        #[test]
        fn short_decimals_as_java_writes_them_are_seen_plain(n in 0i64..1_000_000_000, scale in 0u32..10) {
            let t = java_double_to_string(n as f64 / 10f64.powi(scale as i32));
            let significant = t.trim_start_matches(['0', '.']).bytes().filter(u8::is_ascii_digit).count();
            if !t.contains('E') && significant <= 15 {
                prop_assert!(plain_decimal(&t), "{}", t);
            }
        }

        /// Arbitrary bytes: the same answer, and never a panic.
        #[test]
        fn arbitrary_text_gives_the_same_answer(text in "\\PC{0,40}") {
            prop_assert_eq!(fast(&text), slow(&text));
        }
    }
}
