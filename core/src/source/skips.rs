//! Listed objects that are not read, by reason, and the warnings that make sure none is dropped
//! silently: a listing pass that takes none of the objects it listed, keys taken only by
//! Aiven's unanchored template search, keys Aiven's connector would read with other values,
//! and `topic` set beside a `{{topic}}` template.

use tracing::warn;

use crate::metrics::{Metrics, SkipReason};
use crate::template::{FileNameTemplate, Placeholder, TemplateMatch};

/// Sample keys kept per reason for the warning.
const SAMPLES: usize = 5;
/// Keys reported one by one per kind of template note, per run.
const NOTES: u32 = 3;

/// One pass's skipped objects.
#[derive(Debug, Default)]
pub(super) struct PassSkips {
    counts: [u64; 4],
    samples: Vec<(SkipReason, String)>,
}

impl PassSkips {
    pub(super) fn add(&mut self, reason: SkipReason, key: &str) {
        self.counts[reason.index()] += 1;
        if self.samples.iter().filter(|(r, _)| *r == reason).count() < SAMPLES {
            self.samples.push((reason, key.to_owned()));
        }
    }

    fn total(&self) -> u64 {
        self.counts.iter().sum()
    }
}

/// What was already warned about in this run.
#[derive(Debug, Default)]
pub(super) struct Warned {
    took_nothing: bool,
    aiven_search: u32,
    aiven_differs: u32,
}

impl Warned {
    /// A pass listed objects and took none of them (`taken` and `deferred` are 0): warned once
    /// per run with the template, the prefix, the counts by reason and sample keys. A task
    /// whose every object belongs to other tasks is not warned about.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn took_nothing(
        &mut self,
        metrics: &Metrics,
        task: &str,
        bucket: &str,
        prefix: Option<&str>,
        template: Option<&str>,
        listed: u64,
        skipped: &PassSkips,
    ) {
        let other_tasks = skipped.counts[SkipReason::OtherTask.index()];
        if self.took_nothing || listed == 0 || skipped.total() == other_tasks {
            return;
        }
        self.took_nothing = true;
        let reasons: Vec<String> = SkipReason::ALL
            .iter()
            .filter(|r| skipped.counts[r.index()] > 0)
            .map(|r| format!("{} {r}", skipped.counts[r.index()]))
            .collect();
        let samples: Vec<String> = skipped
            .samples
            .iter()
            .filter(|(r, _)| *r != SkipReason::OtherTask)
            .map(|(r, k)| format!("{k:?} ({})", r.name()))
            .collect();
        metrics.listing_took_nothing(
            task,
            bucket,
            prefix.unwrap_or(""),
            template.unwrap_or("(none)"),
            listed,
            &reasons.join(", "),
            &samples.join(", "),
        );
    }

    /// A key taken only by Aiven's unanchored search.
    pub(super) fn aiven_search(
        &mut self,
        task: &str,
        key: &str,
        template: &str,
        prefix: &str,
        values: &TemplateMatch,
    ) {
        self.aiven_search += 1;
        if self.aiven_search > NOTES {
            return;
        }
        warn!(target: "sluice_core::source", task = %task, object = %key, template = %template, prefix = %prefix, values = %show(values),
            "file.name.template does not describe this key (anchored, whole or relative to the prefix); it is read because Aiven's connector would find the template inside it (file.name.template.match=aiven). Write the whole name relative to the prefix (for example with the extension) to match it exactly, or set file.name.template.match=anchored to skip such keys{}",
            if self.aiven_search == NOTES { "; further keys like this are not logged" } else { "" });
    }

    /// A key Aiven's connector would have read with other values than Sluice uses.
    pub(super) fn aiven_differs(
        &mut self,
        task: &str,
        key: &str,
        template: &str,
        used: &TemplateMatch,
        aiven: &TemplateMatch,
    ) {
        self.aiven_differs += 1;
        if self.aiven_differs > NOTES {
            return;
        }
        warn!(target: "sluice_core::source", task = %task, object = %key, template = %template, sluice = %show(used), aiven = %show(aiven),
            "Aiven's connector, which searches for the template anywhere in the key, would read other values from this key than Sluice's anchored match; Sluice uses its own{}",
            if self.aiven_differs == NOTES { "; further keys like this are not logged" } else { "" });
    }

    /// `topic` beside a template with `{{topic}}`: the template's topic wins in Sluice, the
    /// `topic` key in Aiven's connector. Warned at start.
    pub(super) fn topic_and_template(
        &mut self,
        task: &str,
        topic: Option<&str>,
        template: &FileNameTemplate,
    ) {
        if let (Some(topic), true) = (topic, template.has(Placeholder::Topic)) {
            warn!(target: "sluice_core::source", task = %task, topic = %topic, template = %template,
                "both topic and {{{{topic}}}} in file.name.template are set: Sluice writes each object to the topic its key names, Aiven's connector to `topic`; remove one of them to make it explicit");
        }
    }
}

/// `topic=t partition=1 start_offset=5` of a match.
fn show(m: &TemplateMatch) -> String {
    let mut parts = Vec::new();
    if let Some(t) = &m.topic {
        parts.push(format!("topic={t}"));
    }
    if let Some(p) = m.partition {
        parts.push(format!("partition={p}"));
    }
    if let Some(o) = m.start_offset {
        parts.push(format!("start_offset={o}"));
    }
    if let Some(t) = &m.timestamp {
        parts.push(format!("timestamp={t}"));
    }
    if parts.is_empty() {
        "(no placeholder)".into()
    } else {
        parts.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_bounded_per_reason() {
        let mut s = PassSkips::default();
        for i in 0..20 {
            s.add(SkipReason::NoTemplateMatch, &format!("k{i}"));
        }
        s.add(SkipReason::Empty, "e");
        assert_eq!(s.total(), 21);
        assert_eq!(s.samples.len(), SAMPLES + 1);
    }

    #[test]
    fn a_pass_that_takes_nothing_is_warned_once_but_not_for_other_tasks() {
        let m = Metrics::default();
        let mut w = Warned::default();
        let mut other = PassSkips::default();
        other.add(SkipReason::OtherTask, "a");
        w.took_nothing(&m, "t-0", "b", None, Some("x"), 1, &other);
        assert_eq!(m.snapshot().listings_took_nothing, 0);
        let mut s = PassSkips::default();
        s.add(SkipReason::NoTemplateMatch, "a");
        w.took_nothing(&m, "t-0", "b", None, Some("x"), 1, &s);
        w.took_nothing(&m, "t-0", "b", None, Some("x"), 1, &s);
        assert_eq!(m.snapshot().listings_took_nothing, 1);
    }
}
