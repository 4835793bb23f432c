//! `InsertHeader` (adds a header with a literal value) and `DropHeaders` (removes headers by
//! name).

use std::sync::Arc;

use super::options::Options;
use super::Transformation;
use crate::error::Result;
use crate::record::{Header, SourceRecord};

#[derive(Debug)]
struct InsertHeader {
    header: String,
    value: String,
}

pub(super) fn build_insert(o: &mut Options<'_>) -> Option<Arc<dyn Transformation>> {
    let header = o.string("header");
    let value = o.string("value.literal");
    if header.is_none() {
        o.problem("header", "required: the name of the header");
    }
    if value.is_none() {
        o.problem("value.literal", "required: the header's value");
    }
    Some(Arc::new(InsertHeader {
        header: header?,
        value: value?,
    }))
}

impl Transformation for InsertHeader {
    fn apply(&self, mut r: SourceRecord) -> Result<Option<SourceRecord>> {
        // Connect parses the literal (`Values.parseString`) and its `SimpleHeaderConverter`
        // writes it back as the same text; headers here are that text.
        r.headers
            .push(Header::string(self.header.clone(), &self.value));
        Ok(Some(r))
    }
}

#[derive(Debug)]
struct DropHeaders {
    headers: Vec<String>,
}

pub(super) fn build_drop(o: &mut Options<'_>) -> Option<Arc<dyn Transformation>> {
    let headers = o.list("headers");
    if headers.is_empty() {
        o.problem(
            "headers",
            "required: the names of the headers to remove, comma-separated",
        );
    }
    Some(Arc::new(DropHeaders { headers }))
}

impl Transformation for DropHeaders {
    fn apply(&self, mut r: SourceRecord) -> Result<Option<SourceRecord>> {
        r.headers.retain(|h| !self.headers.contains(&h.key));
        Ok(Some(r))
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{chain, config_err, record, run};
    use crate::data::SchemaAndValue;
    use crate::record::Header;

    #[test]
    fn insert_and_drop_headers() {
        let c = chain(&[
            ("type", "org.apache.kafka.connect.transforms.InsertHeader"),
            ("header", "source"),
            ("value.literal", "sluice"),
        ]);
        let mut r = record(SchemaAndValue::null());
        r.headers.push(Header::string("source", "old"));
        let out = run(&c, r);
        // Added, not replaced: Kafka headers may repeat, as in Connect.
        assert_eq!(
            out.headers,
            vec![
                Header::string("source", "old"),
                Header::string("source", "sluice")
            ]
        );

        let c = chain(&[
            ("type", "org.apache.kafka.connect.transforms.DropHeaders"),
            ("headers", "a, b"),
        ]);
        let mut r = record(SchemaAndValue::null());
        for k in ["a", "c", "b", "a"] {
            r.headers.push(Header::string(k, "v"));
        }
        assert_eq!(run(&c, r).headers, vec![Header::string("c", "v")]);

        let e = config_err(&[
            ("type", "org.apache.kafka.connect.transforms.InsertHeader"),
            ("header", "h"),
        ]);
        assert!(e.contains("transforms.a.value.literal: required"), "{e}");
        let e = config_err(&[("type", "org.apache.kafka.connect.transforms.DropHeaders")]);
        assert!(e.contains("transforms.a.headers: required"), "{e}");
    }
}
