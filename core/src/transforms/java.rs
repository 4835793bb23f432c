//! Java's `SimpleDateFormat` patterns (the letters Connect users write in `timestamp.format`),
//! formatting in UTC as Connect's transforms do.

use chrono::{DateTime, Datelike, Timelike, Utc};

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Literal(String),
    /// A pattern letter repeated `count` times.
    Field(char, usize),
}

/// A parsed `SimpleDateFormat` pattern.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct DateFormat(Vec<Token>);

const LETTERS: &str = "yMdHhkKmsSEaDZX";

impl DateFormat {
    /// Parses `pattern`: letters `y M d H h k K m s S E a D Z X`, text in single quotes (`''`
    /// for a quote); other ASCII letters are refused.
    pub(super) fn parse(pattern: &str) -> Result<Self, String> {
        let mut tokens = Vec::new();
        let mut chars = pattern.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\'' {
                if chars.peek() == Some(&'\'') {
                    chars.next();
                    tokens.push(Token::Literal("'".into()));
                    continue;
                }
                let mut text = String::new();
                loop {
                    match chars.next() {
                        None => return Err(format!("unterminated quote in {pattern:?}")),
                        Some('\'') if chars.peek() == Some(&'\'') => {
                            chars.next();
                            text.push('\'');
                        }
                        Some('\'') => break,
                        Some(t) => text.push(t),
                    }
                }
                tokens.push(Token::Literal(text));
            } else if c.is_ascii_alphabetic() {
                if !LETTERS.contains(c) {
                    return Err(format!(
                        "pattern letter {c:?} is not supported (supported: {}); quote literal text with '",
                        LETTERS.chars().map(String::from).collect::<Vec<_>>().join(" ")
                    ));
                }
                let mut count = 1;
                while chars.peek() == Some(&c) {
                    chars.next();
                    count += 1;
                }
                tokens.push(Token::Field(c, count));
            } else {
                tokens.push(Token::Literal(c.to_string()));
            }
        }
        Ok(DateFormat(tokens))
    }

    /// `millis` since the epoch formatted in UTC.
    pub(super) fn format(&self, millis: i64) -> String {
        let t = DateTime::<Utc>::from_timestamp_millis(millis).unwrap_or_default();
        let mut out = String::new();
        let pad = |out: &mut String, v: i64, n: usize| out.push_str(&format!("{v:0n$}"));
        for token in &self.0 {
            match token {
                Token::Literal(s) => out.push_str(s),
                Token::Field(c, n) => {
                    let n = *n;
                    match c {
                        'y' if n == 2 => pad(&mut out, i64::from(t.year().rem_euclid(100)), 2),
                        'y' => pad(&mut out, i64::from(t.year()), n),
                        'M' if n >= 4 => out.push_str(&t.format("%B").to_string()),
                        'M' if n == 3 => out.push_str(&t.format("%b").to_string()),
                        'M' => pad(&mut out, i64::from(t.month()), n),
                        'd' => pad(&mut out, i64::from(t.day()), n),
                        'D' => pad(&mut out, i64::from(t.ordinal()), n),
                        'H' => pad(&mut out, i64::from(t.hour()), n),
                        'k' => pad(
                            &mut out,
                            i64::from(if t.hour() == 0 { 24 } else { t.hour() }),
                            n,
                        ),
                        'K' => pad(&mut out, i64::from(t.hour() % 12), n),
                        'h' => pad(&mut out, i64::from(t.hour12().1), n),
                        'm' => pad(&mut out, i64::from(t.minute()), n),
                        's' => pad(&mut out, i64::from(t.second()), n),
                        'S' => pad(&mut out, i64::from(t.timestamp_subsec_millis()), n),
                        'E' if n >= 4 => out.push_str(&t.format("%A").to_string()),
                        'E' => out.push_str(&t.format("%a").to_string()),
                        'a' => out.push_str(if t.hour12().0 { "PM" } else { "AM" }),
                        'Z' => out.push_str("+0000"),
                        _ => out.push('Z'), // 'X': ISO 8601 zone, "Z" for UTC
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::DateFormat;

    #[test]
    fn formats_like_simple_date_format_in_utc() {
        // 2017-07-14T02:40:00.123Z, a Friday.
        let t = 1_500_000_000_123;
        let cases = [
            ("yyyyMMdd", "20170714"),
            ("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'", "2017-07-14T02:40:00.123Z"),
            ("yy.M.d h:mm a", "17.7.14 2:40 AM"),
            ("EEE, d MMM yyyy", "Fri, 14 Jul 2017"),
            ("EEEE MMMM D", "Friday July 195"),
            ("HH 'o''clock' Z X", "02 o'clock +0000 Z"),
            ("''", "'"),
        ];
        for (pattern, expected) in cases {
            assert_eq!(
                DateFormat::parse(pattern).unwrap().format(t),
                expected,
                "{pattern}"
            );
        }
        assert!(DateFormat::parse("yyyy-ww").unwrap_err().contains("'w'"));
        assert!(DateFormat::parse("'open").is_err());
    }
}
