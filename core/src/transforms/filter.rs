//! `Filter`: drops every record it applies to (use it with a predicate).

use std::sync::Arc;

use super::options::Options;
use super::Transformation;
use crate::error::Result;
use crate::record::SourceRecord;

#[derive(Debug)]
struct Filter;

pub(super) fn build(_: &mut Options<'_>) -> Option<Arc<dyn Transformation>> {
    Some(Arc::new(Filter))
}

impl Transformation for Filter {
    fn apply(&self, _: SourceRecord) -> Result<Option<SourceRecord>> {
        Ok(None)
    }
}
