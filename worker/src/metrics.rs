//! [`ConnectorMetrics`]: one set of counters per task of a connector, summed for the connector.

use std::sync::{Arc, Mutex, PoisonError};

use sluice_core::metrics::{Metrics, MetricsSnapshot, StoreStats, StoreStatsSnapshot};

/// A connector's counters, one [`Metrics`] per task id. A restarted task keeps adding to the
/// counters of its id, so totals never go back; a reconfiguration to fewer tasks keeps the
/// counters of the ids that went away in the connector's totals.
#[derive(Debug, Default)]
pub struct ConnectorMetrics {
    tasks: Mutex<Vec<Arc<Metrics>>>,
    /// Requests to the connector's object store (its tasks share one client).
    store: Arc<StoreStats>,
}

impl ConnectorMetrics {
    /// The counters of task `id` (created on first use).
    pub fn task(&self, id: u32) -> Arc<Metrics> {
        let mut tasks = self.tasks.lock().unwrap_or_else(PoisonError::into_inner);
        let i = id as usize;
        if tasks.len() <= i {
            tasks.resize_with(i + 1, Default::default);
        }
        tasks[i].clone()
    }

    /// The store request counts the connector's backend adds to.
    pub fn store(&self) -> Arc<StoreStats> {
        self.store.clone()
    }

    /// A copy of the store request counts.
    pub fn store_snapshot(&self) -> StoreStatsSnapshot {
        self.store.snapshot()
    }

    /// A copy of each task's counters, by task id.
    pub fn tasks(&self) -> Vec<MetricsSnapshot> {
        let tasks = self.tasks.lock().unwrap_or_else(PoisonError::into_inner);
        tasks.iter().map(|m| m.snapshot()).collect()
    }

    /// The topics the connector's tasks wrote records to, sorted.
    pub fn topics(&self) -> Vec<String> {
        let tasks = self.tasks.lock().unwrap_or_else(PoisonError::into_inner);
        let mut all: Vec<String> = tasks.iter().flat_map(|m| m.topics()).collect();
        all.sort_unstable();
        all.dedup();
        all
    }

    /// Forgets the topics written to.
    pub fn reset_topics(&self) {
        let tasks = self.tasks.lock().unwrap_or_else(PoisonError::into_inner);
        for t in tasks.iter() {
            t.reset_topics();
        }
    }

    /// The connector's totals: the sum over its tasks.
    pub fn snapshot(&self) -> MetricsSnapshot {
        let mut total = MetricsSnapshot::default();
        for t in self.tasks() {
            total += t;
        }
        total
    }
}
