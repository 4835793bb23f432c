//! Where a source record goes and with which key: the record key (`record.key`), the Kafka
//! partition (`record.partition`) and the topic of each object (`topic`, `{{topic}}` in
//! `file.name.template`, or `topic.regex.list`). Built from the configuration in
//! `config::routing`; applied when the source builds each record. See docs/routing.md.

mod field;
mod key_template;
mod rules;

pub use field::FieldPath;
pub use key_template::KeyTemplate;
pub use rules::TopicRules;

use crate::data::{Schema, SchemaAndValue, Value};
use crate::template::TemplateMatch;

/// `record.key`: what each record's key is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordKey {
    /// `object_key`: the object key, a string.
    ObjectKey,
    /// `none`: a null key.
    None,
    /// `field` with `record.key.field`: a field of the record's value (dotted path), with its
    /// schema.
    Field(FieldPath),
    /// `template` with `record.key.template`: a string from the object key's captures.
    Template(KeyTemplate),
}

/// `record.partition`: which Kafka partition each record goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordPartition {
    /// `template`: the `{{partition}}` of `file.name.template` when it has one, else the
    /// producer's partitioner (murmur2 of the key, as Kafka's Java client).
    Template,
    /// `key_hash`: always the producer's partitioner, even when the template has
    /// `{{partition}}`.
    KeyHash,
    /// `fixed` with `record.partition.fixed`: every record to this partition.
    Fixed(i32),
}

/// Keys, partitions and topic rules of a connector.
#[derive(Debug, Clone, PartialEq)]
pub struct Routing {
    /// `record.key`.
    pub key: RecordKey,
    /// `record.partition`.
    pub partition: RecordPartition,
    /// `topic.regex.list`, when set.
    pub topic_rules: Option<TopicRules>,
}

impl Default for Routing {
    /// Kafka Connect's and Aiven's behaviour: the object key as key, the template's partition.
    fn default() -> Self {
        Routing {
            key: RecordKey::ObjectKey,
            partition: RecordPartition::Template,
            topic_rules: None,
        }
    }
}

impl Routing {
    /// The topic of an object: `{{topic}}` of the template, else the first matching rule of
    /// `topic.regex.list`, else `topic`. `None` when `topic.regex.list` is set and no rule
    /// matches: the object is not read.
    pub fn topic<'a>(
        &'a self,
        object_key: &str,
        matched: Option<&'a TemplateMatch>,
        topic: Option<&'a str>,
    ) -> Option<&'a str> {
        if let Some(t) = matched.and_then(|m| m.topic.as_deref()) {
            return Some(t);
        }
        match &self.topic_rules {
            Some(rules) => rules.topic_for(object_key),
            None => topic,
        }
    }

    /// The partition of every record of an object whose key matched with `matched`; `None`
    /// leaves the choice to the producer.
    pub fn partition(&self, matched: Option<&TemplateMatch>) -> Option<i32> {
        match self.partition {
            RecordPartition::Template => matched.and_then(|m| m.partition),
            RecordPartition::KeyHash => None,
            RecordPartition::Fixed(p) => Some(p),
        }
    }

    /// The key shared by every record of an object (`object_key` or `template`), computed once
    /// per object; `None` for the other choices.
    pub fn object_key(&self, object_key: &str, matched: Option<&TemplateMatch>) -> Option<String> {
        match &self.key {
            RecordKey::ObjectKey => Some(object_key.to_owned()),
            RecordKey::Template(t) => Some(t.render(matched)),
            RecordKey::None | RecordKey::Field(_) => None,
        }
    }

    /// The key of one record: `shared` (from [`Routing::object_key`]) as a string, the field of
    /// `value` for `record.key=field`, or null.
    pub fn record_key(&self, shared: Option<&str>, value: &SchemaAndValue) -> SchemaAndValue {
        match (&self.key, shared) {
            (RecordKey::Field(path), _) => path.get(value),
            (_, Some(k)) => SchemaAndValue::new(Schema::string(), Value::String(k.to_owned())),
            (_, None) => SchemaAndValue::null(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matched(topic: Option<&str>, partition: Option<i32>) -> TemplateMatch {
        TemplateMatch {
            topic: topic.map(Into::into),
            partition,
            ..Default::default()
        }
    }

    #[test]
    fn the_topic_comes_from_the_template_then_the_rules_then_topic() {
        let mut r = Routing::default();
        let m = matched(Some("from-template"), None);
        assert_eq!(r.topic("k", Some(&m), Some("t")), Some("from-template"));
        assert_eq!(r.topic("k", None, Some("t")), Some("t"));
        r.topic_rules = Some(TopicRules::parse("a:^a/").unwrap());
        assert_eq!(r.topic("a/1", None, None), Some("a"));
        assert_eq!(r.topic("b/1", None, None), None, "unrouted");
    }

    #[test]
    fn partitions() {
        let m = matched(None, Some(5));
        let mut r = Routing::default();
        assert_eq!(r.partition(Some(&m)), Some(5));
        assert_eq!(r.partition(None), None);
        r.partition = RecordPartition::KeyHash;
        assert_eq!(r.partition(Some(&m)), None);
        r.partition = RecordPartition::Fixed(2);
        assert_eq!(r.partition(Some(&m)), Some(2));
    }

    #[test]
    fn keys() {
        let value = SchemaAndValue::schemaless(Value::Map(vec![(
            Value::String("id".into()),
            Value::Int64(9),
        )]));
        let m = matched(Some("t"), Some(1));
        let string = |s: &str| SchemaAndValue::new(Schema::string(), Value::String(s.into()));

        let r = Routing::default();
        let shared = r.object_key("dir/o.jsonl", Some(&m));
        assert_eq!(
            r.record_key(shared.as_deref(), &value),
            string("dir/o.jsonl")
        );

        let r = Routing {
            key: RecordKey::Template(KeyTemplate::parse("{{topic}}#{{partition}}").unwrap()),
            ..Routing::default()
        };
        let shared = r.object_key("dir/o.jsonl", Some(&m));
        assert_eq!(r.record_key(shared.as_deref(), &value), string("t#1"));

        let r = Routing {
            key: RecordKey::Field(FieldPath::parse("id").unwrap()),
            ..Routing::default()
        };
        assert_eq!(r.object_key("dir/o.jsonl", Some(&m)), None);
        assert_eq!(
            r.record_key(None, &value),
            SchemaAndValue::schemaless(Value::Int64(9))
        );

        let r = Routing {
            key: RecordKey::None,
            ..Routing::default()
        };
        assert_eq!(r.object_key("o", None), None);
        assert_eq!(r.record_key(None, &value), SchemaAndValue::null());
    }
}
