//! Header converters (`header.converter`, Kafka Connect's `HeaderConverter`): how each record
//! header's value becomes bytes.
//!
//! * `org.apache.kafka.connect.storage.SimpleHeaderConverter` (the default, as in Connect):
//!   `Values.convertToString` of the value as UTF-8: a string as it is, a number or boolean as
//!   its text;
//! * `org.apache.kafka.connect.storage.StringConverter`: the value's text as UTF-8;
//! * `org.apache.kafka.connect.json.JsonConverter`: the value as JSON, in the
//!   `{"schema":...,"payload":...}` envelope with `header.converter.schemas.enable=true` (its
//!   default, as for values).
//!
//! A record's headers hold the bytes `SimpleHeaderConverter` writes ([`Header`]): Sluice's own
//! (`sluice.*`), `InsertHeader`'s and `HeaderFrom`'s are Connect strings, so the other converters
//! take each header as a Connect `STRING` (schema `string`, required); a header value that is
//! not UTF-8 (restored by `input.envelope` from a sink's backup) is the original record's bytes
//! and is written as it is by every header converter.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use super::{converter_from_config, Converter};
use crate::data::{Schema, SchemaAndValue, Value};
use crate::error::{Error, Result};
use crate::record::Header;

/// `SimpleHeaderConverter`'s class name.
pub const SIMPLE_HEADER_CONVERTER: &str = "org.apache.kafka.connect.storage.SimpleHeaderConverter";

/// Class names accepted by `header.converter`.
pub const HEADER_CONVERTERS: &[&str] = &[
    SIMPLE_HEADER_CONVERTER,
    "org.apache.kafka.connect.storage.StringConverter",
    "org.apache.kafka.connect.json.JsonConverter",
    "SimpleHeaderConverter",
    "StringConverter",
    "JsonConverter",
    "simple",
    "string",
    "json",
];

/// A header converter.
#[derive(Debug, Clone, Default)]
pub enum HeaderConverter {
    /// `SimpleHeaderConverter`: the header bytes as they are (they are its output).
    #[default]
    Simple,
    /// `StringConverter` or `JsonConverter`: each header as a Connect string, converted.
    Converter(Arc<dyn Converter>),
}

impl HeaderConverter {
    /// Builds the header converter `class` with its settings (the `header.converter.` prefix
    /// removed).
    ///
    /// # Errors
    /// [`Error::Config`] naming `header.converter` or the `header.converter.` setting.
    pub fn from_config(class: &str, settings: &BTreeMap<String, String>) -> Result<Self> {
        let class = class.trim();
        if !HEADER_CONVERTERS.contains(&class) {
            let hint = super::suggest(class, HEADER_CONVERTERS.iter().copied())
                .map(|s| format!("; did you mean {s:?}?"))
                .unwrap_or_default();
            return Err(Error::config(format!(
                "header.converter: {class:?} is not a header converter Sluice has{hint} Accepted: {}",
                HEADER_CONVERTERS.join(", ")
            )));
        }
        if matches!(
            class,
            SIMPLE_HEADER_CONVERTER | "SimpleHeaderConverter" | "simple"
        ) {
            if let Some(key) = settings.keys().next() {
                return Err(Error::config(format!(
                    "header.converter.{key}: SimpleHeaderConverter takes no settings; remove it"
                )));
            }
            return Ok(HeaderConverter::Simple);
        }
        // The value converter's checks, its messages naming this converter's keys.
        converter_from_config(class, settings, false)
            .map(HeaderConverter::Converter)
            .map_err(|e| match e {
                Error::Config { context, problems } => Error::Config {
                    context,
                    problems: problems
                        .into_iter()
                        .map(|p| p.replace("value.converter", "header.converter"))
                        .collect(),
                },
                other => other,
            })
    }

    /// The bytes of `header` for a record to `topic`; `None` for a null header value.
    ///
    /// # Errors
    /// [`Error::Convert`] naming the header, when the converter cannot write it.
    pub fn convert<'h>(&self, topic: &str, header: &'h Header) -> Result<Option<Cow<'h, [u8]>>> {
        let HeaderConverter::Converter(c) = self else {
            return Ok(Some(Cow::Borrowed(&header.value)));
        };
        let Ok(text) = std::str::from_utf8(&header.value) else {
            return Ok(Some(Cow::Borrowed(&header.value)));
        };
        let data = SchemaAndValue::new(Schema::string(), Value::String(text.to_owned()));
        c.from_connect_data(topic, &data)
            .map(|b| b.map(Cow::Owned))
            .map_err(|e| Error::Convert {
                part: "header",
                topic: topic.to_owned(),
                source: format!("header {:?}: {e}", header.key).into(),
            })
    }

    /// True for `SimpleHeaderConverter` (headers are sent as they are).
    pub fn is_simple(&self) -> bool {
        matches!(self, HeaderConverter::Simple)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn bytes(c: &HeaderConverter, h: &Header) -> Option<Vec<u8>> {
        c.convert("t", h).unwrap().map(|b| b.into_owned())
    }

    #[test]
    fn each_converter_writes_connects_bytes() {
        let key = Header::string("sluice.object.key", "orders/2024-01-01.jsonl");
        let index = Header::string("sluice.record.index", "42");
        let quoted = Header::string("q", "say \"hi\"\\");
        let simple = HeaderConverter::from_config(SIMPLE_HEADER_CONVERTER, &settings(&[])).unwrap();
        assert!(simple.is_simple());
        assert_eq!(bytes(&simple, &key).unwrap(), b"orders/2024-01-01.jsonl");
        assert_eq!(bytes(&simple, &index).unwrap(), b"42");
        let string = HeaderConverter::from_config(
            "org.apache.kafka.connect.storage.StringConverter",
            &settings(&[]),
        )
        .unwrap();
        assert_eq!(bytes(&string, &key).unwrap(), b"orders/2024-01-01.jsonl");
        let json = HeaderConverter::from_config(
            "org.apache.kafka.connect.json.JsonConverter",
            &settings(&[]),
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(bytes(&json, &index).unwrap()).unwrap(),
            r#"{"schema":{"type":"string","optional":false},"payload":"42"}"#
        );
        let json = HeaderConverter::from_config(
            "JsonConverter",
            &settings(&[("schemas.enable", "false")]),
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(bytes(&json, &quoted).unwrap()).unwrap(),
            r#""say \"hi\"\\""#
        );
        // Bytes restored from a backup are the original record's: written as they are.
        let raw = Header {
            key: "raw".into(),
            value: vec![0xff, 0x00, 0x01],
        };
        assert_eq!(bytes(&json, &raw).unwrap(), [0xff, 0x00, 0x01]);
    }

    #[test]
    fn problems_name_the_header_converters_keys() {
        let err = HeaderConverter::from_config("SimpleHeaderConvertor", &settings(&[]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("did you mean \"SimpleHeaderConverter\"?"),
            "{err}"
        );
        let err = HeaderConverter::from_config(
            "org.apache.kafka.connect.converters.ByteArrayConverter",
            &settings(&[]),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("not a header converter"), "{err}");
        let err =
            HeaderConverter::from_config("JsonConverter", &settings(&[("schemas.enabled", "x")]))
                .unwrap_err()
                .to_string();
        assert!(
            err.contains("header.converter.schemas.enabled")
                && err.contains("did you mean header.converter.schemas.enable?"),
            "{err}"
        );
        let err = HeaderConverter::from_config("simple", &settings(&[("schemas.enable", "x")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("takes no settings"), "{err}");
    }
}
