//! Building a registry converter from its configuration: the `key.converter.*` /
//! `value.converter.*` settings checked, the registry client made.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use super::avro::AvroOptions;
use super::client::{self, Auth, ClientConfig, RegistryClient};
use super::json_schema::JsonSchemaOptions;
use super::settings::{
    ADDITIONAL_PROPERTIES, AUTO_REGISTER, BEARER_CLUSTER, BEARER_POOL, BEARER_SOURCE, BEARER_TOKEN,
    CACHE_SIZE, CREDENTIALS_SOURCE, DECIMAL_FORMAT, KEY_STRATEGY, LATEST_STRICT, MAX_SCHEMAS,
    META_DATA, NORMALIZE, OPTIONAL_NONREQUIRED, SR_USER_INFO, TRUSTSTORE_LOCATION, TRUSTSTORE_TYPE,
    URL, USER_INFO, USE_LATEST, VALUE_STRATEGY,
};
use super::{Format, RegistryConverter, Strategy, AVRO, PROTOBUF};
use crate::convert::Converter;
use crate::error::Error;

/// Builds a registry converter of class `short` ([`AVRO`] or [`JSON_SCHEMA`](super::JSON_SCHEMA)) from its settings
/// (the settings were checked against [`SETTINGS`](super::SETTINGS) by the caller); `prefix` is `key.converter` or
/// `value.converter`, for messages. Every problem is added to `problems`.
pub(crate) fn build(
    short: &'static str,
    settings: &BTreeMap<String, String>,
    is_key: bool,
    prefix: &str,
    problems: &mut Vec<String>,
) -> Option<Arc<dyn Converter>> {
    let get = |name: &str| {
        settings
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    };
    let boolean = |name: &str, default: bool, problems: &mut Vec<String>| match get(name) {
        None => default,
        Some(v) if v.eq_ignore_ascii_case("true") => true,
        Some(v) if v.eq_ignore_ascii_case("false") => false,
        Some(v) => {
            problems.push(format!(
                "{prefix}.{name} = {v:?} is not valid: expected true or false"
            ));
            default
        }
    };
    let auto_register = boolean(AUTO_REGISTER, true, problems);
    let use_latest = boolean(USE_LATEST, false, problems);
    let latest_strict = boolean(LATEST_STRICT, true, problems);
    let normalize = boolean(NORMALIZE, false, problems);
    let format = if short == AVRO {
        Format::Avro(AvroOptions {
            connect_meta_data: boolean(META_DATA, true, problems),
        })
    } else if short == PROTOBUF {
        Format::Protobuf(super::super::protobuf::options(settings, prefix, problems))
    } else {
        let _ = boolean(OPTIONAL_NONREQUIRED, false, problems);
        let decimal_format = match get(DECIMAL_FORMAT) {
            None => super::super::DecimalFormat::Base64,
            Some(v) if v.eq_ignore_ascii_case("BASE64") => super::super::DecimalFormat::Base64,
            Some(v) if v.eq_ignore_ascii_case("NUMERIC") => super::super::DecimalFormat::Numeric,
            Some(v) => {
                problems.push(format!(
                    "{prefix}.{DECIMAL_FORMAT} = {v:?} is not valid: expected BASE64 or NUMERIC"
                ));
                super::super::DecimalFormat::Base64
            }
        };
        Format::Json(JsonSchemaOptions {
            additional_properties: boolean(ADDITIONAL_PROPERTIES, true, problems),
            decimal_format,
        })
    };
    for name in [MAX_SCHEMAS, CACHE_SIZE] {
        if let Some(v) = get(name) {
            if v.parse::<i32>().is_err() {
                problems.push(format!(
                    "{prefix}.{name} = {v:?} is not valid: expected an integer"
                ));
            }
        }
    }
    let strategy_key = if is_key { KEY_STRATEGY } else { VALUE_STRATEGY };
    let mut strategy = Strategy::Topic;
    for name in [KEY_STRATEGY, VALUE_STRATEGY] {
        if let Some(v) = get(name) {
            match Strategy::parse(v) {
                Some(s) if name == strategy_key => strategy = s,
                Some(_) => {}
                None => problems.push(format!(
                    "{prefix}.{name} = {v:?} is not valid: expected TopicNameStrategy, \
                     RecordNameStrategy or TopicRecordNameStrategy (package \
                     io.confluent.kafka.serializers.subject); custom strategy classes cannot be \
                     loaded"
                )),
            }
        }
    }

    // Where the registry is, and the credentials.
    let mut urls = Vec::new();
    let mut url_info = None;
    match get(URL) {
        None => problems.push(format!(
            "{prefix}.{URL}: required by the {} (the Schema Registry's URL, e.g. \
             http://localhost:8081)",
            class_of(short)
        )),
        Some(list) => {
            for u in list.split(',').map(str::trim).filter(|u| !u.is_empty()) {
                let (clean, info) = client::split_user_info(u);
                if !(clean.starts_with("http://") || clean.starts_with("https://")) {
                    problems.push(format!(
                        "{prefix}.{URL}: {clean:?} is not an http:// or https:// URL"
                    ));
                }
                if url_info.is_none() {
                    url_info = info;
                }
                urls.push(clean);
            }
        }
    }
    let user_info = get(USER_INFO).or_else(|| get(SR_USER_INFO));
    let bearer = get(BEARER_SOURCE);
    let auth = match (bearer, get(CREDENTIALS_SOURCE).unwrap_or("URL")) {
        (Some(b), _) if b.eq_ignore_ascii_case("STATIC_TOKEN") => match get(BEARER_TOKEN) {
            Some(token) => Auth::Bearer {
                token: token.to_owned(),
                logical_cluster: get(BEARER_CLUSTER).map(str::to_owned),
                identity_pool: get(BEARER_POOL).map(str::to_owned),
            },
            None => {
                problems.push(format!(
                    "{prefix}.{BEARER_TOKEN}: required with {BEARER_SOURCE}=STATIC_TOKEN"
                ));
                Auth::None
            }
        },
        (Some(b), _) => {
            problems.push(format!(
                "{prefix}.{BEARER_SOURCE} = {b:?} is not valid: only STATIC_TOKEN is supported \
                 (OAuth token fetching is not built in; fetch the token and pass it as \
                 {BEARER_TOKEN}, or use basic auth)"
            ));
            Auth::None
        }
        (None, s) if s.eq_ignore_ascii_case("USER_INFO") => match user_info {
            Some(info) => match info.split_once(':') {
                Some((user, password)) => Auth::Basic {
                    user: user.to_owned(),
                    password: password.to_owned(),
                },
                None => {
                    problems.push(format!(
                        "{prefix}.{USER_INFO}: expected user:password (the value is hidden)"
                    ));
                    Auth::None
                }
            },
            None => {
                problems.push(format!(
                    "{prefix}.{USER_INFO}: required with {CREDENTIALS_SOURCE}=USER_INFO \
                     (user:password; Confluent Cloud: API key:secret)"
                ));
                Auth::None
            }
        },
        (None, s) if s.eq_ignore_ascii_case("URL") => match url_info {
            Some((user, password)) => Auth::Basic { user, password },
            None => Auth::None,
        },
        (None, s) => {
            problems.push(format!(
                "{prefix}.{CREDENTIALS_SOURCE} = {s:?} is not valid: expected URL or USER_INFO \
                 (SASL_INHERIT is not supported: give the registry's credentials in \
                 {USER_INFO})"
            ));
            Auth::None
        }
    };
    if let Some(t) = get(TRUSTSTORE_TYPE) {
        if !t.eq_ignore_ascii_case("PEM") {
            problems.push(format!(
                "{prefix}.{TRUSTSTORE_TYPE} = {t:?} is not supported: only PEM is read (convert \
                 a JKS store: keytool -exportcert -rfc -keystore store.jks -alias ALIAS > ca.pem)"
            ));
        }
    }
    if !problems.is_empty() {
        return None;
    }
    let config = ClientConfig {
        urls,
        auth,
        ca_pem: get(TRUSTSTORE_LOCATION).map(std::path::PathBuf::from),
    };
    let client = match RegistryClient::new(config, prefix) {
        Ok(c) => c,
        Err(Error::Config { problems: p, .. }) => {
            problems.extend(p);
            return None;
        }
        Err(e) => {
            problems.push(format!("{prefix}.{URL}: {e}"));
            return None;
        }
    };
    Some(Arc::new(RegistryConverter {
        format,
        class: class_of(short),
        client,
        is_key,
        strategy,
        auto_register,
        use_latest,
        latest_strict,
        normalize,
        cache: Mutex::default(),
    }))
}

fn class_of(short: &str) -> &'static str {
    if short == AVRO {
        "AvroConverter"
    } else if short == PROTOBUF {
        "ProtobufConverter"
    } else {
        "JsonSchemaConverter"
    }
}
