//! Mapping Arrow (what the Parquet reader decodes) to Connect: schemas and values.

use super::*;

/// The Connect struct schema of a Parquet file's Arrow fields.
pub(crate) fn connect_schema(fields: &arrow_schema::Fields) -> Result<Schema, String> {
    let mut b = SchemaBuilder::struct_();
    for f in fields {
        b = b.field(f.name().clone(), field_schema(f, f.name())?);
    }
    b.try_build().map_err(|e| e.to_string())
}

fn is_uuid(f: &Field) -> bool {
    f.metadata()
        .get("ARROW:extension:name")
        .is_some_and(|n| n == "arrow.uuid")
}

/// The Connect schema of one Arrow field; `path` names it for messages.
fn field_schema(f: &Field, path: &str) -> Result<Schema, String> {
    let b = data_type_schema(f.data_type(), f, path)?;
    Ok(if f.is_nullable() { b.optional() } else { b }.build())
}

fn data_type_schema(t: &DataType, f: &Field, path: &str) -> Result<SchemaBuilder, String> {
    Ok(match t {
        DataType::Null => SchemaBuilder::new(Type::String),
        DataType::Boolean => SchemaBuilder::new(Type::Boolean),
        DataType::Int8 => SchemaBuilder::new(Type::Int8),
        DataType::Int16 | DataType::UInt8 => SchemaBuilder::new(Type::Int16),
        DataType::Int32 | DataType::UInt16 => SchemaBuilder::new(Type::Int32),
        DataType::Int64 | DataType::UInt32 | DataType::UInt64 => SchemaBuilder::new(Type::Int64),
        DataType::Float16 | DataType::Float32 => SchemaBuilder::new(Type::Float32),
        DataType::Float64 => SchemaBuilder::new(Type::Float64),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            SchemaBuilder::new(Type::String)
        }
        DataType::FixedSizeBinary(16) if is_uuid(f) => SchemaBuilder::new(Type::String),
        DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_) => SchemaBuilder::new(Type::Bytes),
        DataType::Decimal32(p, s)
        | DataType::Decimal64(p, s)
        | DataType::Decimal128(p, s)
        | DataType::Decimal256(p, s) => {
            logical::decimal(i32::from(*s)).parameter(PRECISION_PARAM, p.to_string())
        }
        DataType::Date32 | DataType::Date64 => logical::date(),
        DataType::Time32(_) | DataType::Time64(_) => logical::time(),
        DataType::Timestamp(_, _) => logical::timestamp(),
        DataType::Duration(_) => SchemaBuilder::new(Type::Int64),
        DataType::List(item)
        | DataType::LargeList(item)
        | DataType::ListView(item)
        | DataType::LargeListView(item)
        | DataType::FixedSizeList(item, _) => {
            SchemaBuilder::array(field_schema(item, &format!("{path}[]"))?)
        }
        DataType::Struct(fields) => {
            let mut b = SchemaBuilder::struct_();
            for c in fields {
                b = b.field(
                    c.name().clone(),
                    field_schema(c, &format!("{path}.{}", c.name()))?,
                );
            }
            b
        }
        DataType::Map(entries, _) => {
            let DataType::Struct(kv) = entries.data_type() else {
                return Err(format!("{path}: a map whose entries are not a struct"));
            };
            if kv.len() != 2 {
                return Err(format!("{path}: a map whose entries do not have 2 fields"));
            }
            let key = data_type_schema(kv[0].data_type(), &kv[0], &format!("{path}.key"))?.build();
            SchemaBuilder::map(key, field_schema(&kv[1], &format!("{path}.value"))?)
        }
        DataType::Dictionary(_, values) => data_type_schema(values, f, path)?,
        other => {
            return Err(format!(
                "{path}: the Arrow type {other} has no Connect equivalent"
            ))
        }
    })
}

/// The rows of `batch` as Connect structs (or why a row cannot be converted).
pub(super) fn batch_rows(
    batch: &RecordBatch,
    schema: &Schema,
) -> Result<Vec<Result<Value, String>>, String> {
    let mut columns = Vec::with_capacity(batch.num_columns());
    for (field, array) in schema.fields().iter().zip(batch.columns()) {
        columns.push(
            values(array.as_ref(), field.schema())
                .map_err(|e| format!("column {:?}: {e}", field.name()))?
                .into_iter(),
        );
    }
    let mut rows = Vec::with_capacity(batch.num_rows());
    for _ in 0..batch.num_rows() {
        let mut st = Struct::new(schema.clone()).map_err(|e| e.to_string())?;
        let mut row: Result<(), String> = Ok(());
        for (field, column) in schema.fields().iter().zip(columns.iter_mut()) {
            match column.next().expect("one value per row") {
                Ok(v) => {
                    if row.is_ok() {
                        if let Err(e) = st.set(field.name(), v) {
                            row = Err(format!("column {:?}: {e}", field.name()));
                        }
                    }
                }
                Err(e) => {
                    if row.is_ok() {
                        row = Err(format!("column {:?}: {e}", field.name()));
                    }
                }
            }
        }
        rows.push(row.map(|()| Value::Struct(st)));
    }
    Ok(rows)
}

/// One Connect value per element of `array` (mapped to `schema`), or an error for an element
/// that does not fit (e.g. an unsigned 64-bit value beyond int64).
fn values(array: &dyn Array, schema: &Schema) -> Result<Vec<Result<Value, String>>, String> {
    let n = array.len();
    let ok =
        |vals: Vec<Value>| -> Vec<Result<Value, String>> { vals.into_iter().map(Ok).collect() };
    macro_rules! prim {
        ($t:ty, $f:expr) => {{
            let a = array.as_primitive::<$t>();
            ok((0..n)
                .map(|i| {
                    if a.is_null(i) {
                        Value::Null
                    } else {
                        $f(a.value(i))
                    }
                })
                .collect())
        }};
    }
    let floor = |v: i64, d: i64| v.div_euclid(d);
    Ok(match array.data_type() {
        DataType::Null => ok(vec![Value::Null; n]),
        DataType::Boolean => {
            let a = array.as_boolean();
            ok((0..n)
                .map(|i| {
                    if a.is_null(i) {
                        Value::Null
                    } else {
                        Value::Boolean(a.value(i))
                    }
                })
                .collect())
        }
        DataType::Int8 => prim!(Int8Type, Value::Int8),
        DataType::Int16 => prim!(Int16Type, Value::Int16),
        DataType::Int32 => prim!(Int32Type, Value::Int32),
        DataType::Int64 => prim!(Int64Type, Value::Int64),
        DataType::UInt8 => prim!(UInt8Type, |v: u8| Value::Int16(i16::from(v))),
        DataType::UInt16 => prim!(UInt16Type, |v: u16| Value::Int32(i32::from(v))),
        DataType::UInt32 => prim!(UInt32Type, |v: u32| Value::Int64(i64::from(v))),
        DataType::UInt64 => {
            let a = array.as_primitive::<UInt64Type>();
            (0..n)
                .map(|i| {
                    if a.is_null(i) {
                        Ok(Value::Null)
                    } else {
                        i64::try_from(a.value(i))
                            .map(Value::Int64)
                            .map_err(|_| format!("the uint64 value {} is beyond int64", a.value(i)))
                    }
                })
                .collect()
        }
        DataType::Float16 => prim!(Float16Type, |v: HalfF16| Value::Float32(v.to_f32())),
        DataType::Float32 => prim!(Float32Type, Value::Float32),
        DataType::Float64 => prim!(Float64Type, Value::Float64),
        DataType::Utf8 => {
            let a = array.as_string::<i32>();
            ok(a.iter()
                .map(|v| v.map_or(Value::Null, |s| Value::String(s.to_owned())))
                .collect())
        }
        DataType::LargeUtf8 => {
            let a = array.as_string::<i64>();
            ok(a.iter()
                .map(|v| v.map_or(Value::Null, |s| Value::String(s.to_owned())))
                .collect())
        }
        DataType::Utf8View => {
            let a = array.as_string_view();
            ok(a.iter()
                .map(|v| v.map_or(Value::Null, |s| Value::String(s.to_owned())))
                .collect())
        }
        DataType::Binary => {
            let a = array.as_binary::<i32>();
            ok(a.iter()
                .map(|v| v.map_or(Value::Null, |b| Value::Bytes(b.to_vec())))
                .collect())
        }
        DataType::LargeBinary => {
            let a = array.as_binary::<i64>();
            ok(a.iter()
                .map(|v| v.map_or(Value::Null, |b| Value::Bytes(b.to_vec())))
                .collect())
        }
        DataType::BinaryView => {
            let a = array.as_binary_view();
            ok(a.iter()
                .map(|v| v.map_or(Value::Null, |b| Value::Bytes(b.to_vec())))
                .collect())
        }
        DataType::FixedSizeBinary(_) => {
            let a = array.as_fixed_size_binary();
            let uuid = schema.type_() == Type::String;
            ok(a.iter()
                .map(|v| match v {
                    None => Value::Null,
                    Some(b) if uuid => Value::String(format_uuid(b)),
                    Some(b) => Value::Bytes(b.to_vec()),
                })
                .collect())
        }
        DataType::Decimal32(..) => prim!(Decimal32Type, |v: i32| logical::decimal_value(
            i128::from(v)
        )),
        DataType::Decimal64(..) => prim!(Decimal64Type, |v: i64| logical::decimal_value(
            i128::from(v)
        )),
        DataType::Decimal128(..) => prim!(Decimal128Type, logical::decimal_value),
        DataType::Decimal256(..) => prim!(Decimal256Type, |v: arrow_buffer::i256| Value::Bytes(
            minimal_twos_complement(&v.to_be_bytes()).to_vec()
        )),
        DataType::Date32 => prim!(Date32Type, Value::Int32),
        DataType::Date64 => prim!(Date64Type, |v: i64| Value::Int32(
            floor(v, 86_400_000) as i32
        )),
        DataType::Time32(TimeUnit::Second) => {
            prim!(Time32SecondType, |v: i32| Value::Int32(v * 1000))
        }
        DataType::Time32(_) => prim!(Time32MillisecondType, Value::Int32),
        DataType::Time64(TimeUnit::Microsecond) => {
            prim!(Time64MicrosecondType, |v: i64| Value::Int32(
                floor(v, 1000) as i32
            ))
        }
        DataType::Time64(_) => {
            prim!(Time64NanosecondType, |v: i64| Value::Int32(
                floor(v, 1_000_000) as i32
            ))
        }
        DataType::Timestamp(TimeUnit::Second, _) => {
            prim!(TimestampSecondType, |v: i64| Value::Int64(
                v.saturating_mul(1000)
            ))
        }
        DataType::Timestamp(TimeUnit::Millisecond, _) => {
            prim!(TimestampMillisecondType, Value::Int64)
        }
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            prim!(TimestampMicrosecondType, |v: i64| Value::Int64(floor(
                v, 1000
            )))
        }
        DataType::Timestamp(TimeUnit::Nanosecond, _) => {
            prim!(TimestampNanosecondType, |v: i64| Value::Int64(floor(
                v, 1_000_000
            )))
        }
        DataType::Duration(TimeUnit::Second) => prim!(DurationSecondType, Value::Int64),
        DataType::Duration(TimeUnit::Millisecond) => prim!(DurationMillisecondType, Value::Int64),
        DataType::Duration(TimeUnit::Microsecond) => prim!(DurationMicrosecondType, Value::Int64),
        DataType::Duration(TimeUnit::Nanosecond) => prim!(DurationNanosecondType, Value::Int64),
        DataType::List(_) => {
            let a = array.as_list::<i32>();
            let offsets: Vec<usize> = a.offsets().iter().map(|o| *o as usize).collect();
            nested(array, a.values().as_ref(), &offsets, schema)?
        }
        DataType::LargeList(_) => {
            let a = array.as_list::<i64>();
            let offsets: Vec<usize> = a.offsets().iter().map(|o| *o as usize).collect();
            nested(array, a.values().as_ref(), &offsets, schema)?
        }
        DataType::FixedSizeList(_, size) => {
            let a = array.as_fixed_size_list();
            let size = *size as usize;
            let offsets: Vec<usize> = (0..=n).map(|i| i * size).collect();
            nested(array, a.values().as_ref(), &offsets, schema)?
        }
        DataType::Struct(_) => {
            let a = array.as_struct();
            let mut columns = Vec::new();
            for (field, child) in schema.fields().iter().zip(a.columns()) {
                columns.push(values(child.as_ref(), field.schema())?.into_iter());
            }
            let mut out = Vec::with_capacity(n);
            for i in 0..n {
                let mut row: Result<Struct, String> =
                    Struct::new(schema.clone()).map_err(|e| e.to_string());
                for (field, column) in schema.fields().iter().zip(columns.iter_mut()) {
                    let v = column.next().expect("one value per row");
                    if let Ok(st) = row.as_mut() {
                        match v {
                            Ok(v) => {
                                if let Err(e) = st.set(field.name(), v) {
                                    row = Err(format!("{}: {e}", field.name()));
                                }
                            }
                            Err(e) => row = Err(format!("{}: {e}", field.name())),
                        }
                    }
                }
                out.push(if array.is_null(i) {
                    Ok(Value::Null)
                } else {
                    row.map(Value::Struct)
                });
            }
            out
        }
        DataType::Map(_, _) => {
            let a = array.as_map();
            let key_schema = schema.key_schema().ok_or("map schema without keys")?;
            let value_schema = schema.value_schema().ok_or("map schema without values")?;
            let keys = values(a.keys().as_ref(), key_schema)?;
            let vals = values(a.values().as_ref(), value_schema)?;
            let offsets: Vec<usize> = a.offsets().iter().map(|o| *o as usize).collect();
            (0..n)
                .map(|i| {
                    if array.is_null(i) {
                        return Ok(Value::Null);
                    }
                    let mut entries = Vec::with_capacity(offsets[i + 1] - offsets[i]);
                    for j in offsets[i]..offsets[i + 1] {
                        entries.push((keys[j].clone()?, vals[j].clone()?));
                    }
                    Ok(Value::Map(entries))
                })
                .collect()
        }
        DataType::Dictionary(_, _) => {
            let a = array
                .as_any_dictionary_opt()
                .ok_or("a dictionary array of an unsupported key type")?;
            let dict = values(a.values().as_ref(), schema)?;
            a.normalized_keys()
                .into_iter()
                .enumerate()
                .map(|(i, k)| {
                    if array.is_null(i) {
                        Ok(Value::Null)
                    } else {
                        dict.get(k).cloned().unwrap_or(Ok(Value::Null))
                    }
                })
                .collect()
        }
        other => return Err(format!("the Arrow type {other} has no Connect equivalent")),
    })
}

type HalfF16 = <Float16Type as arrow_array::ArrowPrimitiveType>::Native;

/// List values: the elements of row `i` are `child[offsets[i]..offsets[i + 1]]`.
fn nested(
    array: &dyn Array,
    child: &dyn Array,
    offsets: &[usize],
    schema: &Schema,
) -> Result<Vec<Result<Value, String>>, String> {
    let items = schema.value_schema().ok_or("array schema without items")?;
    let start = offsets.first().copied().unwrap_or(0);
    let end = offsets.last().copied().unwrap_or(0);
    let child_values = values(child.slice(start, end - start).as_ref(), items)?;
    Ok((0..array.len())
        .map(|i| {
            if array.is_null(i) {
                return Ok(Value::Null);
            }
            child_values[offsets[i] - start..offsets[i + 1] - start]
                .iter()
                .cloned()
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array)
        })
        .collect())
}

fn format_uuid(b: &[u8]) -> String {
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    if hex.len() != 32 {
        return hex;
    }
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}
