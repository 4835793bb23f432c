//! Reading the container: header, blocks, sync markers, records.

use super::*;

/// One record of a decoded block, ready to convert (or the error standing for it).
type Pending = Result<(u64, u64, AvroValue), sluice_core::Error>;

/// The error standing for record `index` (at byte `offset`) of a container that is not valid
/// Avro; `recoverable` when reading can go on after it.
fn malformed(
    key: &str,
    index: u64,
    offset: u64,
    recoverable: bool,
    message: impl Into<String>,
) -> sluice_core::Error {
    let message = message.into();
    record_error(
        key,
        index,
        offset,
        recoverable,
        None,
        Error::Malformed {
            format: "avro",
            message,
        },
    )
}

pub(super) struct Run {
    reader: ByteReader,
    key: String,
    max_block_size: usize,
    header: Option<Header>,
    /// The rest of the current block's records.
    block: std::vec::IntoIter<Pending>,
    /// Index of the first record of the next block.
    index: u64,
    skip: u64,
    done: bool,
}

impl ReadRecords for Run {
    async fn next(&mut self) -> Option<sluice_core::Result<SchemaAndValue>> {
        loop {
            if let Some(item) = self.block.next() {
                return Some(match item {
                    Ok((index, offset, value)) => self.convert(index, offset, value),
                    Err(e) => Err(e),
                });
            }
            if self.done {
                return None;
            }
            if self.header.is_none() {
                match self.read_header().await {
                    Ok(h) => self.header = Some(h),
                    Err((offset, e)) => {
                        self.done = true;
                        return Some(Err(record_error(&self.key, 0, offset, false, None, e)));
                    }
                }
            }
            if let Err(e) = self.read_block().await {
                self.done = true;
                return Some(Err(e));
            }
        }
    }
}

impl Run {
    /// A reader of the object `key`, skipping its first `skip` records.
    pub(super) fn new(reader: ByteReader, key: String, max_block_size: usize, skip: u64) -> Self {
        Run {
            reader,
            key,
            max_block_size,
            header: None,
            block: Vec::new().into_iter(),
            index: 0,
            skip,
            done: false,
        }
    }

    async fn read_header(&mut self) -> Result<Header, (u64, Error)> {
        let at = |r: &ByteReader, e: ReadError, what: &str| (r.offset(), e.into_error(what));
        let magic = self
            .reader
            .exact(4)
            .await
            .map_err(|e| (0, e.into_error("the file header")))?;
        if magic != MAGIC {
            return Err((
                0,
                Error::Malformed {
                    format: "avro",
                    message: format!(
                        "bad magic bytes {magic:02x?}: not an Avro object container file (expected \"Obj\\x01\")"
                    ),
                },
            ));
        }
        let mut metadata: HashMap<String, Vec<u8>> = HashMap::new();
        loop {
            let count = match self.reader.long().await {
                Ok(Some(c)) => c,
                Ok(None) => return Err(at(&self.reader, ReadError::Truncated, "the file header")),
                Err(e) => return Err(at(&self.reader, e, "the file header")),
            };
            if count == 0 {
                break;
            }
            if count < 0 {
                // A block size follows a negative count.
                if let Err(e) = self.reader.long().await {
                    return Err(at(&self.reader, e, "the file header"));
                }
            }
            for _ in 0..count.unsigned_abs() {
                let key = self.bytes_field().await?;
                let value = self.bytes_field().await?;
                let r = &self.reader;
                let key = String::from_utf8(key).map_err(|_| {
                    at(
                        r,
                        ReadError::Malformed("a metadata key is not UTF-8".into()),
                        "the file header",
                    )
                })?;
                metadata.insert(key, value);
            }
        }
        let r = &mut self.reader;
        let sync: [u8; 16] = r
            .exact(16)
            .await
            .map_err(|e| at(r, e, "the file header"))?
            .try_into()
            .expect("16 bytes");
        let offset = r.offset();
        let codec_name = metadata
            .get("avro.codec")
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .unwrap_or_else(|| "null".into());
        let codec: Codec = codec_name.parse().map_err(|_| {
            (
                offset,
                Error::Malformed {
                    format: "avro",
                    message: format!("unsupported codec {codec_name:?}: supported are null, deflate, snappy, zstandard, bzip2, xz"),
                },
            )
        })?;
        let schema_json = metadata.get("avro.schema").ok_or_else(|| {
            (
                offset,
                Error::Malformed {
                    format: "avro",
                    message: "the header has no avro.schema".into(),
                },
            )
        })?;
        let avro = AvroSchema::parse_str(&String::from_utf8_lossy(schema_json)).map_err(|e| {
            (
                offset,
                Error::Avro {
                    source: Box::new(e),
                },
            )
        })?;
        let mapping =
            Mapping::new(avro).map_err(|message| (offset, Error::UnmappableSchema { message }))?;
        Ok(Header {
            codec,
            sync,
            mapping: Arc::new(mapping),
        })
    }

    /// An Avro `bytes`/`string` in the header (bounded by the block limit).
    async fn bytes_field(&mut self) -> Result<Vec<u8>, (u64, Error)> {
        let r = &mut self.reader;
        let len = match r.long().await {
            Ok(Some(l)) => l,
            Ok(None) => {
                return Err((
                    r.offset(),
                    ReadError::Truncated.into_error("the file header"),
                ))
            }
            Err(e) => return Err((r.offset(), e.into_error("the file header"))),
        };
        // Header entries (the schema above all) may be larger than blocks.
        let limit = self.max_block_size.max(HEADER_ENTRY_LIMIT) as u64;
        if len < 0 || len as u64 > limit {
            return Err((
                r.offset(),
                ReadError::Malformed(format!("a metadata entry of {len} bytes"))
                    .into_error("the file header"),
            ));
        }
        r.exact(len as usize)
            .await
            .map_err(|e| (r.offset(), e.into_error("the file header")))
    }

    /// Reads the next block into `self.block`; at the end of the file, sets `done`. An error is
    /// unrecoverable; recoverable block errors are queued in `self.block`.
    async fn read_block(&mut self) -> sluice_core::Result<()> {
        let header = self.header.as_ref().expect("header read");
        let (codec, sync, mapping) = (header.codec, header.sync, header.mapping.clone());
        let start = self.reader.offset();
        let first = self.index;
        let fail = |offset: u64, e: ReadError, what: &str| {
            record_error(&self.key, first, offset, false, None, e.into_error(what))
        };
        let count = match self.reader.long().await {
            Ok(Some(c)) => c,
            Ok(None) => {
                self.done = true;
                return Ok(());
            }
            Err(e) => return Err(fail(start, e, "a block header")),
        };
        let size = match self.reader.long().await {
            Ok(Some(s)) => s,
            Ok(None) => return Err(fail(start, ReadError::Truncated, "a block header")),
            Err(e) => return Err(fail(start, e, "a block header")),
        };
        if count < 0 || size < 0 {
            return self
                .resync(
                    start,
                    first,
                    &sync,
                    1,
                    "a block header with a negative count or size",
                )
                .await;
        }
        let count = count as u64;
        if size as u64 > self.max_block_size as u64 {
            // Too large to hold; passed over whole (its records are reported as one error).
            self.reader
                .skip(size as u64)
                .await
                .map_err(|e| fail(start, e, "a block"))?;
            self.check_sync(start, first, &sync).await?;
            self.index += count;
            let last = (first + count).saturating_sub(1);
            if count > 0 && last >= self.skip {
                self.block = vec![Err(record_error(
                    &self.key,
                    last,
                    start,
                    true,
                    None,
                    Error::RecordTooLarge {
                        size: size as u64,
                        limit: self.max_block_size,
                    },
                ))]
                .into_iter();
            }
            return Ok(());
        }
        // Resume: a block delivered before is skipped, neither decompressed nor decoded.
        let data = if first + count <= self.skip {
            self.reader
                .skip(size as u64)
                .await
                .map_err(|e| fail(start, e, "a block"))?;
            None
        } else {
            Some(
                self.reader
                    .exact(size as usize)
                    .await
                    .map_err(|e| fail(start, e, "a block"))?,
            )
        };
        let marker = self
            .reader
            .exact(16)
            .await
            .map_err(|e| fail(start, e, "a block's sync marker"))?;
        if marker != sync {
            // The block's bytes cannot be trusted (nor its count): find the next sync marker.
            return self
                .resync(
                    start,
                    first,
                    &sync,
                    count.max(1),
                    "the block does not end with the file's sync marker: it is corrupt",
                )
                .await;
        }
        self.index += count;
        let Some(mut data) = data else {
            return Ok(());
        };
        let last = (first + count).saturating_sub(1);
        if count == 0 {
            return Ok(());
        }
        if let Err(e) = codec.decompress(&mut data) {
            self.block = vec![Err(malformed(
                &self.key,
                last,
                start,
                true,
                format!(
                    "the block of records {first}..={last} cannot be decompressed ({}): {e}",
                    codec_name(codec)
                ),
            ))]
            .into_iter();
            return Ok(());
        }
        self.block = self
            .decode(&mapping, &data, first, count, start)
            .into_iter();
        Ok(())
    }

    /// Decodes the records of one block, from `max(first, skip)` on.
    fn decode(
        &self,
        mapping: &Mapping,
        data: &[u8],
        first: u64,
        count: u64,
        start: u64,
    ) -> Vec<Pending> {
        let reader =
            match apache_avro::reader::datum::GenericDatumReader::builder(&mapping.avro).build() {
                Ok(r) => r,
                Err(e) => {
                    return vec![Err(record_error(
                        &self.key,
                        first + count - 1,
                        start,
                        true,
                        None,
                        Error::Avro {
                            source: Box::new(e),
                        },
                    ))]
                }
            };
        let mut cursor = std::io::Cursor::new(data);
        let mut out = Vec::new();
        for i in 0..count {
            let index = first + i;
            match reader.read_value(&mut cursor) {
                Ok(v) => {
                    if index >= self.skip {
                        out.push(Ok((index, start, v)));
                    }
                }
                Err(e) => {
                    // Records have no delimiters: the rest of the block cannot be read.
                    let last = first + count - 1;
                    out.push(Err(malformed(&self.key, last, start, true, format!("record {index} of the block of records {first}..={last} cannot be decoded, nor the rest of the block: {e}"))));
                    return out;
                }
            }
        }
        out
    }

    async fn check_sync(
        &mut self,
        start: u64,
        first: u64,
        sync: &[u8; 16],
    ) -> sluice_core::Result<()> {
        let marker = self.reader.exact(16).await.map_err(|e| {
            record_error(
                &self.key,
                first,
                start,
                false,
                None,
                e.into_error("a block's sync marker"),
            )
        })?;
        if &marker[..] != sync {
            return Err(malformed(
                &self.key,
                first,
                start,
                false,
                "a block does not end with the file's sync marker: the file is corrupt",
            ));
        }
        Ok(())
    }

    /// A corrupt block at `start`: reported as one error covering `count` records, then reading
    /// goes on after the next sync marker (or ends when there is none).
    async fn resync(
        &mut self,
        start: u64,
        first: u64,
        sync: &[u8; 16],
        count: u64,
        why: &str,
    ) -> sluice_core::Result<()> {
        let found = self.reader.seek_past(sync).await.map_err(|e| {
            record_error(
                &self.key,
                first,
                start,
                false,
                None,
                e.into_error("a corrupt block"),
            )
        })?;
        self.index += count;
        let last = first + count - 1;
        let error = malformed(
            &self.key,
            last,
            start,
            found,
            format!(
                "{why}; records {first}..={last} are lost{}",
                if found {
                    ", reading goes on at the next block"
                } else {
                    " and no later block was found"
                }
            ),
        );
        if !found {
            self.done = true;
        }
        // Records before the resume point were handled before the restart, this error too.
        if last >= self.skip || !found {
            self.block = vec![Err(error)].into_iter();
        }
        Ok(())
    }

    /// The Connect record for `value`, record `index` of the block at `offset`.
    fn convert(
        &self,
        index: u64,
        offset: u64,
        value: AvroValue,
    ) -> sluice_core::Result<SchemaAndValue> {
        let mapping = &self.header.as_ref().expect("header read").mapping;
        mapping
            .value(&mapping.avro, &mapping.connect, value)
            .map(|v| SchemaAndValue::new(mapping.connect.clone(), v))
            .map_err(|message| {
                record_error(
                    &self.key,
                    index,
                    offset,
                    true,
                    None,
                    Error::UnmappableValue { message },
                )
            })
    }
}

fn codec_name(codec: Codec) -> &'static str {
    codec.into()
}
