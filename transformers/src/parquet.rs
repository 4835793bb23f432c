//! The `parquet` format (in progress).

use sluice_core::object::ObjectInput;
use sluice_core::transformer::{RecordStream, Transformer};

use crate::{Error, TransformerOptions};

#[derive(Debug, Clone)]
pub(crate) struct ParquetTransformer {}

impl ParquetTransformer {
    pub(crate) fn new(_options: &TransformerOptions) -> Result<Self, Error> {
        Ok(ParquetTransformer {})
    }
}

impl Transformer for ParquetTransformer {
    fn transform(&self, _input: ObjectInput, _skip: u64) -> RecordStream {
        Box::pin(futures::stream::empty())
    }

    fn name(&self) -> &'static str {
        "parquet"
    }
}
