//! Connect's predicates: `TopicNameMatches`, `HasHeaderKey`, `RecordIsTombstone`.

use std::sync::Arc;

use regex::Regex;

use super::options::Options;
use super::routers::compile_java_regex;
use super::Predicate;
use crate::data::Value;
use crate::record::SourceRecord;

#[derive(Debug)]
struct TopicNameMatches(Regex);

pub(super) fn build_topic_name_matches(o: &mut Options<'_>) -> Option<Arc<dyn Predicate>> {
    let pattern = o.required(
        "pattern",
        "the regular expression the whole topic name must match",
    )?;
    let (whole, _) = compile_java_regex(o, "pattern", &pattern)?;
    Some(Arc::new(TopicNameMatches(whole)))
}

impl Predicate for TopicNameMatches {
    fn test(&self, r: &SourceRecord) -> bool {
        self.0.is_match(&r.topic)
    }
}

#[derive(Debug)]
struct HasHeaderKey(String);

pub(super) fn build_has_header_key(o: &mut Options<'_>) -> Option<Arc<dyn Predicate>> {
    let name = o.required("name", "the header name")?;
    Some(Arc::new(HasHeaderKey(name)))
}

impl Predicate for HasHeaderKey {
    fn test(&self, r: &SourceRecord) -> bool {
        r.headers.iter().any(|h| h.key == self.0)
    }
}

#[derive(Debug)]
struct RecordIsTombstone;

pub(super) fn build_record_is_tombstone(_: &mut Options<'_>) -> Option<Arc<dyn Predicate>> {
    Some(Arc::new(RecordIsTombstone))
}

impl Predicate for RecordIsTombstone {
    fn test(&self, r: &SourceRecord) -> bool {
        r.value.value == Value::Null
    }
}
