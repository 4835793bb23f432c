//! Java's `SimpleDateFormat` patterns (the letters Connect users write in `timestamp.format`),
//! formatting in UTC as Connect's transforms do.

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};

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

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];
const DAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

impl DateFormat {
    /// Parses `text` with this pattern, in UTC, to milliseconds since the epoch. Numeric fields
    /// next to another numeric field take exactly their letter count of digits (`yyyyMMdd`);
    /// otherwise as many digits as there are. The whole text must be used.
    pub(super) fn parse_millis(&self, text: &str) -> Result<i64, String> {
        let (mut year, mut month, mut day, mut hour, mut minute, mut second, mut milli) =
            (1970i64, 1i64, 1i64, 0i64, 0i64, 0i64, 0i64);
        let (mut pm, mut hour12, mut offset_minutes) = (None, false, 0i64);
        let mut rest = text;
        let fail = || format!("{text:?} does not match the pattern");
        for (i, token) in self.0.iter().enumerate() {
            match token {
                Token::Literal(l) => rest = rest.strip_prefix(l.as_str()).ok_or_else(fail)?,
                Token::Field(c, n) => {
                    let numeric_next = matches!(self.0.get(i + 1), Some(Token::Field(c2, n2)) if !matches!((c2, n2), ('M', 3..) | ('E', _) | ('a', _) | ('Z', _) | ('X', _)));
                    let is_text = matches!(
                        (c, n),
                        ('M', 3..) | ('E', _) | ('a', _) | ('Z', _) | ('X', _)
                    );
                    if is_text {
                        let lower = rest.to_ascii_lowercase();
                        match c {
                            'M' | 'E' => {
                                let names: &[&str] = if *c == 'M' { &MONTHS } else { &DAYS };
                                let (idx, len) = names
                                    .iter()
                                    .enumerate()
                                    .find_map(|(i, name)| {
                                        if lower.starts_with(name) {
                                            Some((i, name.len()))
                                        } else if lower.starts_with(&name[..3]) {
                                            Some((i, 3))
                                        } else {
                                            None
                                        }
                                    })
                                    .ok_or_else(fail)?;
                                if *c == 'M' {
                                    month = idx as i64 + 1;
                                }
                                rest = &rest[len..];
                            }
                            'a' => {
                                if lower.starts_with("am") {
                                    pm = Some(false);
                                } else if lower.starts_with("pm") {
                                    pm = Some(true);
                                } else {
                                    return Err(fail());
                                }
                                rest = &rest[2..];
                            }
                            _ => {
                                if let Some(r) = rest.strip_prefix('Z') {
                                    rest = r;
                                } else {
                                    let sign = match rest.chars().next() {
                                        Some('+') => 1,
                                        Some('-') => -1,
                                        _ => return Err(fail()),
                                    };
                                    let digits: String = rest[1..]
                                        .chars()
                                        .take(5)
                                        .filter(|c| c.is_ascii_digit())
                                        .take(4)
                                        .collect();
                                    let used = if rest[1..].get(2..3) == Some(":") {
                                        5
                                    } else {
                                        digits.len()
                                    };
                                    if digits.len() != 4 && digits.len() != 2 {
                                        return Err(fail());
                                    }
                                    let h: i64 = digits[..2].parse().map_err(|_| fail())?;
                                    let m: i64 = digits
                                        .get(2..4)
                                        .map_or(Ok(0), str::parse)
                                        .map_err(|_| fail())?;
                                    offset_minutes = sign * (h * 60 + m);
                                    rest = &rest[1 + used..];
                                }
                            }
                        }
                        continue;
                    }
                    let negative = *c == 'y' && rest.starts_with('-');
                    let body = if negative { &rest[1..] } else { rest };
                    let available = body.bytes().take_while(u8::is_ascii_digit).count();
                    let take = if numeric_next {
                        (*n).min(available)
                    } else {
                        available
                    };
                    if take == 0 {
                        return Err(fail());
                    }
                    let v: i64 = body[..take].parse().map_err(|_| fail())?;
                    let v = if negative { -v } else { v };
                    rest = &body[take..];
                    match c {
                        'y' => year = if *n == 2 && take == 2 { 2000 + v } else { v },
                        'M' => month = v,
                        'd' => day = v,
                        'H' | 'k' => hour = v % 24,
                        'h' | 'K' => {
                            hour = v % 12;
                            hour12 = true;
                        }
                        'm' => minute = v,
                        's' => second = v,
                        'S' => milli = v,
                        _ => {} // 'D': the day of the year is not used to build the date
                    }
                }
            }
        }
        if !rest.is_empty() {
            return Err(format!(
                "{text:?} does not match the pattern: {rest:?} is left over"
            ));
        }
        if hour12 && pm == Some(true) || !hour12 && pm == Some(true) && hour < 12 {
            hour += 12;
        }
        let date =
            NaiveDate::from_ymd_opt(year as i32, month as u32, day as u32).ok_or_else(fail)?;
        let midnight = date
            .and_hms_opt(0, 0, 0)
            .ok_or_else(fail)?
            .and_utc()
            .timestamp_millis();
        Ok(midnight + ((hour * 60 + minute - offset_minutes) * 60 + second) * 1000 + milli)
    }
}

#[cfg(test)]
mod tests {
    use super::DateFormat;

    #[test]
    fn parses_what_it_formats() {
        let t = 1_500_000_000_123;
        for pattern in [
            "yyyyMMdd HHmmssSSS",
            "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'",
            "yyyy-MM-dd'T'HH:mm:ss.SSSX",
            "EEE, d MMM yyyy HH:mm:ss.SSS Z",
            "dd MMMM yyyy hh:mm:ss.SSS a",
        ] {
            let f = DateFormat::parse(pattern).unwrap();
            assert_eq!(
                f.parse_millis(&f.format(t)),
                Ok(t),
                "{pattern}: {}",
                f.format(t)
            );
        }
        let f = DateFormat::parse("yyyy-MM-dd HH:mm Z").unwrap();
        assert_eq!(
            f.parse_millis("2017-07-14 04:40 +0200"),
            Ok(1_500_000_000_000)
        );
        assert!(f.parse_millis("2017-07-14").is_err());
        assert!(f
            .parse_millis("2017-07-14 04:40 +0200x")
            .unwrap_err()
            .contains("left over"));
    }

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
