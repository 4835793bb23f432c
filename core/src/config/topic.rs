//! Kafka's rules for topic names, checked when a connector is configured (a name Kafka would
//! reject otherwise fails only once records are produced).

/// The longest topic name Kafka accepts.
pub const MAX_TOPIC_LENGTH: usize = 249;

/// Why Kafka would reject `name` as a topic name, or `None` when it is valid: 1 to 249
/// characters from `a-z A-Z 0-9 . _ -`, and neither `.` nor `..`.
pub fn topic_name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("a topic name cannot be empty".into());
    }
    if name == "." || name == ".." {
        return Some(format!("{name:?} is not a valid topic name"));
    }
    if name.len() > MAX_TOPIC_LENGTH {
        return Some(format!(
            "the topic name is {} characters long; Kafka allows at most {MAX_TOPIC_LENGTH}",
            name.len()
        ));
    }
    let bad: String = name
        .chars()
        .filter(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        .collect();
    if bad.is_empty() {
        return None;
    }
    let mut shown: Vec<String> = bad.chars().map(|c| format!("{c:?}")).collect();
    shown.dedup();
    Some(format!(
        "{name:?} is not a valid Kafka topic name: {} not allowed (only letters, digits, '.', '_' and '-')",
        shown.join(", ") + if shown.len() == 1 { " is" } else { " are" }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafkas_rules() {
        for ok in ["orders", "a.b_c-D9", "x", &"t".repeat(249)] {
            assert_eq!(topic_name_problem(ok), None, "{ok}");
        }
        let p = topic_name_problem("my topic").unwrap();
        assert!(p.contains("' '") && p.contains("is not allowed"), "{p}");
        let p = topic_name_problem("a/b").unwrap();
        assert!(p.contains("'/'"), "{p}");
        assert!(topic_name_problem(&"t".repeat(250))
            .unwrap()
            .contains("at most 249"));
        assert!(topic_name_problem("..").is_some());
        assert!(topic_name_problem("").is_some());
    }
}
