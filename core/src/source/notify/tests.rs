//! The tracker: a message is deleted only once every object it waits for is committed,
//! released when it holds only other tasks' objects, left when it cannot be settled now.

use super::*;
use crate::offsets::RECORD_COUNT;

#[derive(Debug, Default)]
struct FakeQueue {
    done: Mutex<Vec<String>>,
}

#[async_trait::async_trait]
impl NotificationQueue for FakeQueue {
    fn name(&self) -> &str {
        "fake"
    }
    async fn receive(&self) -> Result<Vec<QueueMessage>, BoxError> {
        Ok(Vec::new())
    }
    async fn delete(&self, m: &QueueMessage) -> Result<(), BoxError> {
        self.done
            .lock()
            .unwrap()
            .push(format!("delete {} {}", m.id, m.receipt));
        Ok(())
    }
    async fn release(&self, m: &QueueMessage) -> Result<(), BoxError> {
        self.done
            .lock()
            .unwrap()
            .push(format!("release {} {}", m.id, m.receipt));
        Ok(())
    }
}

fn tracker() -> (Arc<FakeQueue>, Tracker) {
    let q = Arc::new(FakeQueue::default());
    let t = Tracker {
        state: Mutex::default(),
        queue: q.clone(),
        object_field: "object",
        task: "t-0".into(),
    };
    (q, t)
}

fn message(id: &str, receipt: &str) -> QueueMessage {
    QueueMessage {
        id: id.into(),
        receipt: receipt.into(),
        events: Vec::new(),
    }
}

fn offsets(key: &str, finished: bool) -> Vec<(OffsetMap, OffsetMap)> {
    let mut p = OffsetMap::new();
    p.insert("bucket".into(), OffsetValue::String("b".into()));
    p.insert("object".into(), OffsetValue::String(key.into()));
    let mut o = OffsetMap::new();
    o.insert(RECORD_COUNT.into(), OffsetValue::Long(3));
    if finished {
        o.insert(FINISHED.into(), OffsetValue::Bool(true));
    }
    vec![(p, o)]
}

/// Lets the spawned deletes and releases run (current-thread runtime: they run when the test
/// yields), then returns what the queue was asked.
async fn done(q: &FakeQueue) -> Vec<String> {
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    std::mem::take(&mut *q.done.lock().unwrap())
}

#[tokio::test]
async fn a_message_is_deleted_only_once_its_object_is_committed_finished() {
    let (q, t) = tracker();
    t.opened("a");
    assert!(t.arrived(&message("m1", "r1")));
    assert!(t.wait("m1", "a"));
    t.seal("m1");
    assert!(done(&q).await.is_empty(), "a is being read");
    t.committed(&offsets("a", false));
    assert!(done(&q).await.is_empty(), "a is committed only part way");
    // Delivered again meanwhile (visibility timeout): the newest receipt is the one to use.
    assert!(!t.arrived(&message("m1", "r2")), "not looked at twice");
    t.committed(&offsets("a", true));
    assert_eq!(done(&q).await, ["delete m1 r2"]);
    t.committed(&offsets("a", true));
    assert!(done(&q).await.is_empty(), "settled once");
}

#[tokio::test]
async fn a_message_waits_for_every_object_and_duplicates_wait_together() {
    let (q, t) = tracker();
    t.opened("a");
    t.opened("b");
    t.arrived(&message("m1", "r1"));
    assert!(t.wait("m1", "a"));
    assert!(t.wait("m1", "b"));
    t.seal("m1");
    // A duplicate notification of a, arriving while a is read.
    t.arrived(&message("m2", "r"));
    assert!(t.wait("m2", "a"));
    t.seal("m2");
    t.committed(&offsets("a", true));
    assert_eq!(done(&q).await, ["delete m2 r"]);
    t.committed(&offsets("b", true));
    assert_eq!(done(&q).await, ["delete m1 r1"]);
}

#[tokio::test]
async fn a_message_about_nothing_pending_is_settled_when_sealed() {
    let (q, t) = tracker();
    t.arrived(&message("done", "r"));
    assert!(
        !t.wait("done", "finished-long-ago"),
        "not open: nothing to wait for"
    );
    t.mark("done", |h| h.mine = true);
    t.seal("done");
    t.arrived(&message("other", "r"));
    t.mark("other", |h| h.other_task = true);
    t.seal("other");
    t.arrived(&message("later", "r"));
    t.mark("later", |h| h.leave = true);
    t.seal("later");
    assert_eq!(done(&q).await, ["delete done r", "release other r"]);
    // A left message is forgotten: its next delivery is looked at afresh.
    assert!(t.arrived(&message("later", "r2")));
}

#[tokio::test]
async fn a_message_with_this_tasks_object_is_deleted_even_with_another_tasks_one() {
    let (q, t) = tracker();
    t.opened("mine");
    t.arrived(&message("m", "r"));
    t.mark("m", |h| h.other_task = true);
    assert!(t.wait("m", "mine"));
    t.seal("m");
    t.committed(&offsets("mine", true));
    assert_eq!(done(&q).await, ["delete m r"]);
}

#[tokio::test]
async fn a_left_message_is_not_deleted_when_its_other_objects_commit() {
    let (q, t) = tracker();
    t.opened("a");
    t.arrived(&message("m", "r"));
    assert!(t.wait("m", "a"));
    t.mark("m", |h| h.leave = true);
    t.seal("m");
    t.committed(&offsets("a", true));
    assert!(done(&q).await.is_empty());
}
