//! [`SkipReason`]: why a listed object is not read (counted by reason).

use std::fmt;

/// Why a listed object is not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SkipReason {
    /// `file.name.template` does not take its key.
    NoTemplateMatch,
    /// Zero bytes: nothing to read.
    Empty,
    /// Filtered out by a setting (an `input.envelope=confluent` side file).
    Filtered,
    /// Another task of the connector reads it (`distribution.type`, `tasks.max`).
    OtherTask,
}

impl SkipReason {
    /// Every reason, in the order summaries list them.
    pub const ALL: [SkipReason; 4] = [
        SkipReason::NoTemplateMatch,
        SkipReason::Empty,
        SkipReason::Filtered,
        SkipReason::OtherTask,
    ];

    /// The reason's name in metrics and JSON (`no_template_match`, `empty`, `filtered`,
    /// `other_task`).
    pub fn name(self) -> &'static str {
        match self {
            SkipReason::NoTemplateMatch => "no_template_match",
            SkipReason::Empty => "empty",
            SkipReason::Filtered => "filtered",
            SkipReason::OtherTask => "other_task",
        }
    }

    /// The reason's position in [`SkipReason::ALL`].
    pub fn index(self) -> usize {
        match self {
            SkipReason::NoTemplateMatch => 0,
            SkipReason::Empty => 1,
            SkipReason::Filtered => 2,
            SkipReason::OtherTask => 3,
        }
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SkipReason::NoTemplateMatch => "matched no file.name.template",
            SkipReason::Empty => "empty (0 bytes)",
            SkipReason::Filtered => "filtered out",
            SkipReason::OtherTask => "read by another task",
        })
    }
}
