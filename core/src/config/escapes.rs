//! Java `.properties` escaping, which Kafka Connect's files use and Sluice keeps: a backslash
//! before a character other than `t n r f u \` is dropped (`\S` reads as `S`), and a backslash
//! at the end of a line continues the value on the next line. A regex or an escape character
//! written as it would be anywhere else then silently means something else; these checks find
//! where that happened.

/// One warning per value of the `.properties` `text` in which a backslash was dropped or
/// continues the line, naming the key, what was written, what it reads as, and the fix.
pub fn properties_escape_warnings(text: &str) -> Vec<String> {
    let mut warnings = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with('!') {
            continue;
        }
        let Some((key, value)) = split_key(trimmed) else {
            continue;
        };
        let chars: Vec<char> = value.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            if chars[i] != '\\' {
                i += 1;
                continue;
            }
            match chars.get(i + 1) {
                None => {
                    let next = lines.peek().map(|l| l.trim()).unwrap_or_default();
                    warnings.push(format!(
                        "{key}: the value ends with a backslash, which in a .properties file continues the value on the next line ({next:?} is read as part of it); write \\\\ for one backslash"
                    ));
                }
                Some('t' | 'n' | 'r' | 'f' | 'u' | '\\') => {}
                Some(&c) => warnings.push(format!(
                    "{key}: \"\\{c}\" reads as \"{c}\" (a .properties file drops a backslash before other characters, as Kafka Connect's does); write \"\\\\{c}\" to keep the backslash"
                )),
            }
            i += 2;
        }
    }
    warnings
}

/// The key and the raw value of a properties line (`key=value`, `key: value` or `key value`).
fn split_key(line: &str) -> Option<(&str, &str)> {
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '=' | ':' | ' ' | '\t' => {
                let key = &line[..i];
                let rest = line[i..].trim_start_matches([' ', '\t']);
                let rest = rest
                    .strip_prefix(['=', ':'])
                    .unwrap_or(rest)
                    .trim_start_matches([' ', '\t']);
                return Some((key, rest));
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropped_and_continuing_backslashes_are_found() {
        let w = properties_escape_warnings(
            "# comment \\S\nread.text.regex=^(?P<date>\\S+) ERROR (?P<msg>.*)$\nok.key=a\\\\Sb\\tc\ncsv.escape.char=\\\nnext.key = x\n",
        );
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(
            w[0].starts_with("read.text.regex: \"\\S\" reads as \"S\"")
                && w[0].contains("\"\\\\S\""),
            "{w:?}"
        );
        assert!(
            w[1].starts_with("csv.escape.char: the value ends with a backslash")
                && w[1].contains("\"next.key = x\""),
            "{w:?}"
        );
        // What the reader makes of it, to be sure the warning tells the truth.
        let parsed = super::super::parse_properties("r=^\\S+$\n").unwrap();
        assert_eq!(parsed["r"], "^S+$");
    }
}
