//! The registry converters' settings: their short and class names, the setting keys with their
//! table ([`SETTINGS`]), and which of them hold secrets.

use super::PROTOBUF;
use crate::convert::ConverterSetting;

/// Short name of the Avro converter.
pub const AVRO: &str = "avro";
/// Short name of the JSON Schema converter.
pub const JSON_SCHEMA: &str = "json_schema";

/// The class names of the registry converters, with their short names.
pub(crate) const CLASSES: &[(&str, &str)] = &[
    ("io.confluent.connect.avro.AvroConverter", AVRO),
    ("io.confluent.connect.json.JsonSchemaConverter", JSON_SCHEMA),
    ("avro", AVRO),
    ("json_schema", JSON_SCHEMA),
    ("protobuf", PROTOBUF),
    ("io.confluent.connect.protobuf.ProtobufConverter", PROTOBUF),
    ("AvroConverter", AVRO),
    ("JsonSchemaConverter", JSON_SCHEMA),
    ("ProtobufConverter", PROTOBUF),
];

const BOTH: &[&str] = &[AVRO, JSON_SCHEMA, PROTOBUF];

pub(super) const URL: &str = "schema.registry.url";
pub(super) const CREDENTIALS_SOURCE: &str = "basic.auth.credentials.source";
pub(super) const USER_INFO: &str = "basic.auth.user.info";
pub(super) const SR_USER_INFO: &str = "schema.registry.basic.auth.user.info";
pub(super) const BEARER_SOURCE: &str = "bearer.auth.credentials.source";
pub(super) const BEARER_TOKEN: &str = "bearer.auth.token";
pub(super) const BEARER_CLUSTER: &str = "bearer.auth.logical.cluster";
pub(super) const BEARER_POOL: &str = "bearer.auth.identity.pool.id";
pub(super) const TRUSTSTORE_LOCATION: &str = "schema.registry.ssl.truststore.location";
pub(super) const TRUSTSTORE_TYPE: &str = "schema.registry.ssl.truststore.type";
const TRUSTSTORE_PASSWORD: &str = "schema.registry.ssl.truststore.password";
pub(super) const AUTO_REGISTER: &str = "auto.register.schemas";
pub(super) const USE_LATEST: &str = "use.latest.version";
pub(super) const LATEST_STRICT: &str = "latest.compatibility.strict";
pub(super) const KEY_STRATEGY: &str = "key.subject.name.strategy";
pub(super) const VALUE_STRATEGY: &str = "value.subject.name.strategy";
pub(super) const NORMALIZE: &str = "normalize.schemas";
pub(super) const MAX_SCHEMAS: &str = "max.schemas.per.subject";
pub(super) const CACHE_SIZE: &str = "schemas.cache.size";
pub(super) const META_DATA: &str = "connect.meta.data";
pub(super) const DECIMAL_FORMAT: &str = "decimal.format";
pub(super) const ADDITIONAL_PROPERTIES: &str = "object.additional.properties";
pub(super) const OPTIONAL_NONREQUIRED: &str = "use.optional.for.nonrequired";

const TOPIC_NAME_STRATEGY: &str = "io.confluent.kafka.serializers.subject.TopicNameStrategy";

/// The settings of the registry converters (see [`super::super::converter_settings`]).
pub(crate) static SETTINGS: &[ConverterSetting] = &[
    ConverterSetting {
        classes: BOTH,
        name: URL,
        default: "",
        doc: "Required. The Schema Registry's URL; several, comma-separated, are tried in turn \
              (failover). `https://user:password@host` gives basic auth credentials with \
              `basic.auth.credentials.source=URL`.",
    },
    ConverterSetting {
        classes: BOTH,
        name: CREDENTIALS_SOURCE,
        default: "URL",
        doc: "Where basic auth credentials come from: URL (the user info of \
              `schema.registry.url`, none when it has none) or USER_INFO (`basic.auth.user.info`).",
    },
    ConverterSetting {
        classes: BOTH,
        name: USER_INFO,
        default: "",
        doc: "`user:password` for basic auth with `basic.auth.credentials.source=USER_INFO` \
              (Confluent Cloud: the Schema Registry API key and secret). Secret: never shown.",
    },
    ConverterSetting {
        classes: BOTH,
        name: SR_USER_INFO,
        default: "",
        doc: "Same as `basic.auth.user.info`. Secret: never shown.",
    },
    ConverterSetting {
        classes: BOTH,
        name: BEARER_SOURCE,
        default: "",
        doc: "STATIC_TOKEN: authenticate with `bearer.auth.token` instead of basic auth.",
    },
    ConverterSetting {
        classes: BOTH,
        name: BEARER_TOKEN,
        default: "",
        doc: "The bearer token of `bearer.auth.credentials.source=STATIC_TOKEN`. Secret: never \
              shown.",
    },
    ConverterSetting {
        classes: BOTH,
        name: BEARER_CLUSTER,
        default: "",
        doc: "Confluent Cloud's Schema Registry cluster id, sent with a bearer token \
              (`target-sr-cluster`).",
    },
    ConverterSetting {
        classes: BOTH,
        name: BEARER_POOL,
        default: "",
        doc: "Confluent Cloud's identity pool id, sent with a bearer token.",
    },
    ConverterSetting {
        classes: BOTH,
        name: TRUSTSTORE_LOCATION,
        default: "",
        doc: "A PEM file of the CA certificates that sign the registry's HTTPS certificate \
              (instead of the system's).",
    },
    ConverterSetting {
        classes: BOTH,
        name: TRUSTSTORE_TYPE,
        default: "PEM",
        doc: "PEM (the only type read; convert a JKS or PKCS12 store with keytool / openssl).",
    },
    ConverterSetting {
        classes: BOTH,
        name: TRUSTSTORE_PASSWORD,
        default: "",
        doc: "Accepted for Confluent's configurations; a PEM truststore has no password. \
              Secret: never shown.",
    },
    ConverterSetting {
        classes: BOTH,
        name: AUTO_REGISTER,
        default: "true",
        doc: "Register each new schema under its subject (true), or only look it up and fail the \
              record when it is not registered (false).",
    },
    ConverterSetting {
        classes: BOTH,
        name: USE_LATEST,
        default: "false",
        doc: "With `auto.register.schemas=false`: write with the subject's latest registered \
              schema (Avro values are resolved to it).",
    },
    ConverterSetting {
        classes: BOTH,
        name: LATEST_STRICT,
        default: "true",
        doc: "With `use.latest.version`: fail a record whose schema the latest version cannot \
              read (Avro).",
    },
    ConverterSetting {
        classes: BOTH,
        name: KEY_STRATEGY,
        default: TOPIC_NAME_STRATEGY,
        doc: "Subject of key schemas: TopicNameStrategy (`<topic>-key`), RecordNameStrategy \
              (the record's full name) or TopicRecordNameStrategy (`<topic>-<record name>`), \
              with or without the `io.confluent.kafka.serializers.subject.` package.",
    },
    ConverterSetting {
        classes: BOTH,
        name: VALUE_STRATEGY,
        default: TOPIC_NAME_STRATEGY,
        doc: "Subject of value schemas (`<topic>-value` by default); as \
              `key.subject.name.strategy`.",
    },
    ConverterSetting {
        classes: BOTH,
        name: NORMALIZE,
        default: "false",
        doc: "Ask the registry to normalize schemas when registering and looking them up.",
    },
    ConverterSetting {
        classes: BOTH,
        name: MAX_SCHEMAS,
        default: "1000",
        doc: "Accepted for compatibility with Confluent's converters (an integer); schemas are \
              cached for the converter's life.",
    },
    ConverterSetting {
        classes: BOTH,
        name: CACHE_SIZE,
        default: "1000",
        doc: "Accepted for compatibility with Confluent's converters (an integer); has no effect.",
    },
    ConverterSetting {
        classes: &[AVRO],
        name: META_DATA,
        default: "true",
        doc: "Annotate Avro schemas with the Connect schema's name, version, doc, parameters and \
              defaults (`connect.name`, `connect.version`, ...), as AvroData does.",
    },
    ConverterSetting {
        classes: &[JSON_SCHEMA],
        name: DECIMAL_FORMAT,
        default: "BASE64",
        doc: "How Decimal values are written: BASE64 (a string, base64 of the unscaled bytes) or \
              NUMERIC (a JSON number).",
    },
    ConverterSetting {
        classes: &[JSON_SCHEMA],
        name: ADDITIONAL_PROPERTIES,
        default: "true",
        doc: "Whether object schemas allow properties they do not list \
              (`additionalProperties`).",
    },
    ConverterSetting {
        classes: &[JSON_SCHEMA],
        name: OPTIONAL_NONREQUIRED,
        default: "false",
        doc: "Accepted for Confluent's configurations (it changes how JSON is read back into \
              Connect data, not what is written).",
    },
];

/// Whether the value of registry converter setting `name` is a secret (never shown).
pub fn is_secret_setting(name: &str) -> bool {
    matches!(name, USER_INFO | SR_USER_INFO | BEARER_TOKEN) || name.ends_with(".password")
}
