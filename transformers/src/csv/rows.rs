//! Rows read with `csv-core`, one at a time.

use super::*;

/// One row as read.
pub(super) enum Row {
    /// The fields' bytes, starting at this object offset.
    Fields(u64, Vec<Vec<u8>>),
    /// A row longer than the limit, at this offset, with its length; not kept.
    TooLong(u64, u64),
}

/// Reads rows with `csv-core`, holding one row at most `limit` bytes long.
pub(super) struct RowReader {
    pub(super) reader: csv_core::Reader,
    /// The object's bytes. Once the stream has ended, csv-core is fed empty input until it says
    /// `End`.
    pub(super) bytes: ChunkCursor,
    /// csv-core said `End` (or the stream failed).
    pub(super) finished: bool,
    pub(super) output: Vec<u8>,
    pub(super) ends: Vec<usize>,
    pub(super) limit: usize,
}

impl RowReader {
    pub(super) async fn next(&mut self) -> Option<Result<Row, (u64, std::io::Error)>> {
        use csv_core::ReadRecordResult as R;
        if self.finished {
            return None;
        }
        let start = self.bytes.offset();
        let (mut nout_total, mut nends_total) = (0usize, 0usize);
        let mut too_long = false;
        loop {
            // Empty (the end of the stream) once `fill` is false.
            if let Err(e) = self.bytes.fill().await {
                self.finished = true;
                return Some(Err((start, e)));
            }
            let (res, nin, nout, nend) = self.reader.read_record(
                self.bytes.chunk(),
                &mut self.output[nout_total..],
                &mut self.ends[nends_total..],
            );
            self.bytes.advance(nin);
            nout_total += nout;
            nends_total += nend;
            let len = self.bytes.offset() - start;
            if !too_long && len > self.limit as u64 {
                too_long = true;
            }
            if too_long {
                // Keep parsing to find the row's end, but none of it.
                nout_total = 0;
                nends_total = 0;
            }
            match res {
                R::InputEmpty => {}
                R::OutputFull => {
                    if !too_long {
                        let grown = (self.output.len() * 2).min(self.limit.max(1024) + 1024);
                        self.output.resize(grown.max(self.output.len() + 1), 0);
                    }
                }
                R::OutputEndsFull => {
                    if !too_long {
                        let grown = self.ends.len() * 2;
                        self.ends.resize(grown, 0);
                    }
                }
                R::Record => {
                    if too_long {
                        return Some(Ok(Row::TooLong(start, len)));
                    }
                    let mut fields = Vec::with_capacity(nends_total);
                    let mut from = 0;
                    for &end in &self.ends[..nends_total] {
                        fields.push(self.output[from..end].to_vec());
                        from = end;
                    }
                    self.shrink();
                    return Some(Ok(Row::Fields(start, fields)));
                }
                R::End => {
                    self.finished = true;
                    return None;
                }
            }
        }
    }

    /// Gives back a buffer grown by one very long row.
    fn shrink(&mut self) {
        if self.output.len() > 1 << 20 {
            self.output = vec![0; 1024];
        }
        if self.ends.len() > 1 << 16 {
            self.ends = vec![0; 32];
        }
    }
}
