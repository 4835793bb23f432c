//! Turning rows into records: columns, inference, conversion.

use super::*;

/// The columns, once known.
pub(super) struct Columns {
    pub(super) names: Vec<String>,
    pub(super) types: Vec<ColumnType>,
    pub(super) schema: Schema,
}

pub(super) struct Run {
    pub(super) rows: RowReader,
    pub(super) options: CsvOptions,
    pub(super) key: String,
    pub(super) columns: Option<Columns>,
    /// Rows read ahead to infer types, with their record index.
    pub(super) pending: std::collections::VecDeque<(u64, Row)>,
    /// Index of the next record read from `rows`.
    pub(super) index: u64,
    pub(super) skip: u64,
    pub(super) done: bool,
}

impl ReadRecords for Run {
    async fn next(&mut self) -> Option<sluice_core::Result<SchemaAndValue>> {
        if self.done {
            return None;
        }
        if self.columns.is_none() {
            match self.start().await {
                Ok(true) => {}
                Ok(false) => {
                    self.done = true;
                    return None;
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
        loop {
            let (index, row) = match self.pending.pop_front() {
                Some(p) => p,
                None => match self.rows.next().await {
                    Some(Ok(row)) => {
                        let index = self.index;
                        self.index += 1;
                        (index, row)
                    }
                    Some(Err((offset, source))) => {
                        self.done = true;
                        return Some(Err(record_error(
                            &self.key,
                            self.index,
                            offset,
                            false,
                            None,
                            Error::Io { source },
                        )));
                    }
                    None => {
                        self.done = true;
                        return None;
                    }
                },
            };
            if index < self.skip {
                continue;
            }
            return Some(self.convert(index, row));
        }
    }
}

impl Run {
    /// Reads the header (or takes the configured names) and, when inferring, the sample rows.
    /// `Ok(false)` for an object without any row.
    pub(super) async fn start(&mut self) -> sluice_core::Result<bool> {
        let header = if self.options.header {
            match self.rows.next().await {
                None => return Ok(false),
                Some(Err((offset, source))) => {
                    return Err(record_error(
                        &self.key,
                        0,
                        offset,
                        false,
                        None,
                        Error::Io { source },
                    ))
                }
                Some(Ok(Row::TooLong(offset, size))) => {
                    return Err(self.header_error(
                        offset,
                        Error::RecordTooLarge {
                            size,
                            limit: self.rows.limit,
                        },
                    ))
                }
                Some(Ok(Row::Fields(offset, fields))) => {
                    let mut names = Vec::with_capacity(fields.len());
                    for f in fields {
                        match String::from_utf8(f) {
                            Ok(n) => names.push(n.trim().to_owned()),
                            Err(e) => {
                                return Err(self.header_error(
                                    offset,
                                    Error::InvalidUtf8 {
                                        source: e.utf8_error(),
                                    },
                                ))
                            }
                        }
                    }
                    Some(names)
                }
            }
        } else {
            None
        };
        // Read ahead the rows needed to name columns or infer types.
        let ahead = if self.options.infer_types {
            self.options.infer_rows
        } else if header.is_none() && self.options.column_names.is_none() {
            1
        } else {
            0
        };
        while self.pending.len() < ahead {
            match self.rows.next().await {
                Some(Ok(row)) => {
                    self.pending.push_back((self.index, row));
                    self.index += 1;
                }
                // The error comes again (the reader is finished) after the sample rows.
                Some(Err((offset, source))) => {
                    self.pending.clear();
                    return Err(record_error(
                        &self.key,
                        self.index,
                        offset,
                        false,
                        None,
                        Error::Io { source },
                    ));
                }
                None => break,
            }
        }
        let from_header = self.options.column_names.is_none() && header.is_some();
        let names = match (self.options.column_names.clone(), header) {
            (Some(names), _) => names,
            (None, Some(names)) => names,
            (None, None) => {
                let width = self
                    .pending
                    .iter()
                    .find_map(|(_, r)| match r {
                        Row::Fields(_, f) => Some(f.len()),
                        Row::TooLong(..) => None,
                    })
                    .unwrap_or(0);
                (0..width).map(|i| format!("_c{i}")).collect()
            }
        };
        if let Some((first, dup)) = names
            .iter()
            .enumerate()
            .find_map(|(j, n)| names[..j].iter().position(|m| m == n).map(|i| (i, j)))
        {
            let (name, a, b) = (&names[dup], first + 1, dup + 1);
            let e = if from_header {
                Error::Malformed {
                    format: "csv",
                    message: format!(
                        "the header row names column {name:?} twice (columns {a} and {b}); rename one in the file, or name the columns with csv.column.names"
                    ),
                }
            } else {
                Error::Config {
                    key: "csv.column.names",
                    message: format!("names column {name:?} twice (positions {a} and {b})"),
                }
            };
            return Err(self.header_error(0, e));
        }
        let mut types = Vec::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            let configured = self
                .options
                .column_types
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, t)| *t);
            types.push(match configured {
                Some(t) => t,
                None if self.options.infer_types => self.infer(i),
                None => ColumnType::String,
            });
        }
        let mut builder = SchemaBuilder::struct_();
        for (name, t) in names.iter().zip(&types) {
            builder = builder.field(name.clone(), t.schema());
        }
        let schema = builder.try_build().map_err(|e| {
            self.header_error(
                0,
                Error::Config {
                    key: "csv.column.names",
                    message: format!("the columns do not make a schema: {e}"),
                },
            )
        })?;
        self.columns = Some(Columns {
            names,
            types,
            schema,
        });
        Ok(true)
    }

    /// The type the sample rows' values of column `i` fit.
    pub(super) fn infer(&self, i: usize) -> ColumnType {
        let candidates = [ColumnType::Int64, ColumnType::Float64, ColumnType::Boolean];
        let values: Vec<&str> = self
            .pending
            .iter()
            .filter_map(|(_, r)| match r {
                Row::Fields(_, f) => f.get(i),
                Row::TooLong(..) => None,
            })
            .filter_map(|f| std::str::from_utf8(f).ok())
            .filter(|v| !v.trim().is_empty())
            .collect();
        if values.is_empty() {
            return ColumnType::String;
        }
        candidates
            .into_iter()
            .find(|t| values.iter().all(|v| t.value(v).is_some()))
            .unwrap_or(ColumnType::String)
    }

    fn header_error(&self, offset: u64, e: Error) -> sluice_core::Error {
        record_error(&self.key, 0, offset, false, None, e)
    }

    fn convert(&self, index: u64, row: Row) -> sluice_core::Result<SchemaAndValue> {
        let columns = self.columns.as_ref().expect("columns are known");
        let (offset, fields) = match row {
            Row::Fields(offset, fields) => (offset, fields),
            Row::TooLong(offset, size) => {
                return Err(record_error(
                    &self.key,
                    index,
                    offset,
                    true,
                    None,
                    Error::RecordTooLarge {
                        size,
                        limit: self.rows.limit,
                    },
                ))
            }
        };
        let raw = || fields.join(&[self.options.separator][..]);
        let fail = |e: Error| record_error(&self.key, index, offset, true, Some(&raw()), e);
        if fields.len() != columns.names.len() {
            return Err(fail(Error::RaggedRow {
                expected: columns.names.len(),
                found: fields.len(),
            }));
        }
        let mut values = Struct::new(columns.schema.clone()).map_err(|e| fail(internal(e)))?;
        for ((name, t), field) in columns.names.iter().zip(&columns.types).zip(&fields) {
            let text =
                std::str::from_utf8(field).map_err(|source| fail(Error::InvalidUtf8 { source }))?;
            if text.is_empty() || (*t != ColumnType::String && text.trim().is_empty()) {
                if *t == ColumnType::String {
                    values.set(name, Value::String(String::new()))
                } else {
                    continue;
                }
            } else {
                let value = t.value(text).ok_or_else(|| {
                    fail(Error::InvalidField {
                        column: name.clone(),
                        type_: t.name(),
                        value: text.to_owned(),
                    })
                })?;
                values.set(name, value)
            }
            .map_err(|e| fail(internal(e)))?;
        }
        Ok(SchemaAndValue::new(
            columns.schema.clone(),
            Value::Struct(values),
        ))
    }
}

fn internal(e: sluice_core::Error) -> Error {
    Error::UnmappableValue {
        message: e.to_string(),
    }
}
