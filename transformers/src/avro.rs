//! The `avro` format (in progress).

use sluice_core::object::ObjectInput;
use sluice_core::transformer::{RecordStream, Transformer};

use crate::{Error, TransformerOptions};

#[derive(Debug, Clone)]
pub(crate) struct AvroTransformer {}

impl AvroTransformer {
    pub(crate) fn new(_options: &TransformerOptions) -> Result<Self, Error> {
        Ok(AvroTransformer {})
    }
}

impl Transformer for AvroTransformer {
    fn transform(&self, _input: ObjectInput, _skip: u64) -> RecordStream {
        Box::pin(futures::stream::empty())
    }

    fn name(&self) -> &'static str {
        "avro"
    }
}
