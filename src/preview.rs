//! `sluice validate --preview N`: the first N keys under the connector's prefix and what each
//! maps to (topic, Kafka partition, start offset, task), or why it is not read — the same
//! decisions the running source makes ([`KeyMatcher`], [`Distribution`], the routing).

use futures::StreamExt;
use sluice_core::config::ConnectorConfig;
use sluice_core::distribution::Distribution;
use sluice_core::matcher::{How, KeyMatcher};
use sluice_core::metrics::SkipReason;
use sluice_core::{Error, Result};

/// One line per key: `key -> topic T, partition P, start_offset O, task N` or
/// `key -> not read: reason`; then a count line.
///
/// # Errors
/// The backend cannot be built or the listing fails (the store's error, its secrets hidden).
pub async fn preview(config: &ConnectorConfig, n: usize) -> Result<String> {
    let registry = sluice_worker::registry::current();
    let backend = sluice_worker::registry::build_backend(&registry, config).map_err(|source| {
        Error::Store {
            bucket: sluice_sources::bucket_name(config),
            object: None,
            source,
        }
    })?;
    let matcher = config
        .file_name_template
        .as_ref()
        .map(|t| KeyMatcher::new(t, backend.prefix(), config.template_match));
    let mut out = String::new();
    let (mut shown, mut taken) = (0usize, 0usize);
    let mut listing = backend.list(None);
    while shown < n {
        let Some(meta) = listing.next().await else {
            break;
        };
        let meta = meta.map_err(|e| Error::Store {
            bucket: backend.bucket().to_owned(),
            object: None,
            source: Box::new(e),
        })?;
        shown += 1;
        let key = meta.location.as_ref();
        let line = match describe(config, matcher.as_ref(), key, meta.size) {
            Ok(line) => {
                taken += 1;
                line
            }
            Err(why) => format!("not read: {why}"),
        };
        out.push_str(&format!("  {key} -> {line}\n"));
    }
    out.push_str(&format!(
        "  {shown} keys shown under {:?} of {}, {taken} of them read by the connector\n",
        backend.prefix().unwrap_or(""),
        backend.bucket()
    ));
    Ok(out)
}

/// What the connector makes of `key`, or why it does not read it.
fn describe(
    config: &ConnectorConfig,
    matcher: Option<&KeyMatcher>,
    key: &str,
    size: u64,
) -> std::result::Result<String, String> {
    if size == 0 {
        return Err(SkipReason::Empty.to_string());
    }
    if config.native_start_key.as_deref().is_some_and(|s| key <= s) {
        return Err(format!(
            "{} (native.start.key {:?})",
            SkipReason::Filtered,
            config.native_start_key.as_deref().unwrap_or_default()
        ));
    }
    let km = match matcher {
        Some(m) => Some(m.matches(key).ok_or_else(|| {
            let t = m.template().as_str();
            format!("{} {t:?}", SkipReason::NoTemplateMatch)
        })?),
        None => None,
    };
    let values = km.as_ref().map(|k| &k.values);
    let topic = config
        .routing
        .topic(key, values, config.topic.as_deref())
        .ok_or("no rule of topic.regex.list matches it")?;
    let task = Distribution::task_for(
        config.distribution_type,
        key,
        values,
        config.tasks_max.max(1),
    );
    let mut line = format!("topic {topic}");
    match config.routing.partition(values) {
        Some(p) => line.push_str(&format!(", partition {p}")),
        None => line.push_str(", partition chosen by the producer"),
    }
    if let Some(o) = values.and_then(|v| v.start_offset) {
        line.push_str(&format!(", start_offset {o}"));
    }
    line.push_str(&format!(", task {task}"));
    if let Some(km) = &km {
        match km.how {
            How::WholeKey => {}
            How::UnderPrefix => line.push_str(" (template relative to the prefix)"),
            How::AivenSearch => line.push_str(" (found by Aiven's unanchored search only)"),
        }
        if let Some(a) = &km.aiven_differs {
            line.push_str(&format!(
                "; Aiven's connector would read topic {:?}, partition {:?}, start_offset {:?}",
                a.topic, a.partition, a.start_offset
            ));
        }
    }
    Ok(line)
}
