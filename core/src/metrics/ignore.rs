//! [`IgnoreReason`]: why an object notification does not lead to a read (counted by reason).

use std::fmt;

/// Why a notification does not lead to an object read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IgnoreReason {
    /// S3's `s3:TestEvent`, sent when a notification configuration is saved.
    TestEvent,
    /// Another kind of event (a deletion, ...).
    OtherEvent,
    /// The message is not an event Sluice knows (logged with its beginning).
    Malformed,
    /// The event names another bucket (container).
    OtherBucket,
    /// The key is not under the configured prefix.
    OutsidePrefix,
    /// The object is gone (deleted after the event): nothing to read.
    Deleted,
}

impl IgnoreReason {
    /// Every reason, in the order metrics list them.
    pub const ALL: [IgnoreReason; 6] = [
        IgnoreReason::TestEvent,
        IgnoreReason::OtherEvent,
        IgnoreReason::Malformed,
        IgnoreReason::OtherBucket,
        IgnoreReason::OutsidePrefix,
        IgnoreReason::Deleted,
    ];

    /// The reason's name in metrics (`test_event`, `other_event`, ...).
    pub fn name(self) -> &'static str {
        match self {
            IgnoreReason::TestEvent => "test_event",
            IgnoreReason::OtherEvent => "other_event",
            IgnoreReason::Malformed => "malformed",
            IgnoreReason::OtherBucket => "other_bucket",
            IgnoreReason::OutsidePrefix => "outside_prefix",
            IgnoreReason::Deleted => "deleted",
        }
    }

    /// The reason's position in [`IgnoreReason::ALL`].
    pub fn index(self) -> usize {
        IgnoreReason::ALL
            .iter()
            .position(|r| *r == self)
            .unwrap_or(0)
    }
}

impl fmt::Display for IgnoreReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IgnoreReason::TestEvent => "a test event",
            IgnoreReason::OtherEvent => "not an object-created event",
            IgnoreReason::Malformed => "not an event Sluice understands",
            IgnoreReason::OtherBucket => "about another bucket",
            IgnoreReason::OutsidePrefix => "about a key outside the prefix",
            IgnoreReason::Deleted => "about an object that no longer exists",
        })
    }
}
