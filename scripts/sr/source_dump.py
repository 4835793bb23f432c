"""Reads a source file with an independent library and prints each record as one JSON line
(normalized by normalize.py): avro with fastavro, parquet with pyarrow, jsonl with json, csv with
the csv module, typed by --csv-types (name:type,... with int64, float64, boolean, date,
timestamp, decimal(p,s); other columns are strings; empty fields are null).

Run with the fixtures venv (.test-servers/fixtures-venv: pyarrow, fastavro):
  python source_dump.py FORMAT FILE [--csv-types TYPES]"""

import csv
import datetime
import decimal
import json
import re
import sys

from normalize import normalize


def records(fmt, path, csv_types):
    if fmt == "avro":
        import fastavro
        with open(path, "rb") as f:
            yield from fastavro.reader(f)
    elif fmt == "parquet":
        import pyarrow.parquet as pq
        import pyarrow as pa
        table = pq.read_table(path)
        # Nanosecond times do not fit Python's datetime: microseconds (Connect keeps millis).
        for i, f in enumerate(table.schema):
            t = f.type
            if pa.types.is_time64(t) and t.unit == "ns":
                table = table.set_column(i, f.name, table.column(i).cast(pa.time64("us"), safe=False))
            elif pa.types.is_timestamp(t) and t.unit == "ns":
                table = table.set_column(
                    i, f.name, table.column(i).cast(pa.timestamp("us", t.tz), safe=False))
        for row in table.to_pylist():
            yield maps_as_connect(row, table.schema)
    elif fmt == "jsonl":
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    yield json.loads(line)
    elif fmt == "csv":
        # Commas inside decimal(p,s) do not separate columns.
        items = re.split(r",(?![^()]*\))", csv_types) if csv_types else []
        types = dict(t.split(":", 1) for t in items)
        with open(path, encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f):
                yield {k: typed(types.get(k), v) for k, v in row.items()}
    else:
        raise SystemExit(f"unknown format {fmt}")


def maps_as_connect(row, schema):
    """pyarrow gives a map as a list of (key, value) pairs; Connect writes a string-keyed map as a
    map and any other as an array of {key, value} records."""
    import pyarrow as pa

    def conv(v, t):
        if v is None:
            return None
        if pa.types.is_map(t):
            if pa.types.is_string(t.key_type) or pa.types.is_large_string(t.key_type):
                return {k: conv(x, t.item_type) for k, x in v}
            return [{"key": conv(k, t.key_type), "value": conv(x, t.item_type)} for k, x in v]
        if pa.types.is_struct(t):
            return {f.name: conv(v.get(f.name), f.type) for f in t}
        if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
            return [conv(x, t.value_type) for x in v]
        return v

    return {f.name: conv(row.get(f.name), f.type) for f in schema}


def typed(t, v):
    if t is None:
        return v
    if v == "":
        return None
    if t == "int64":
        return int(v)
    if t == "float64":
        return float(v)
    if t == "boolean":
        return v.strip().lower() == "true"
    if t == "date":
        return datetime.date.fromisoformat(v)
    if t == "timestamp":
        return datetime.datetime.fromisoformat(v.replace("Z", "+00:00"))
    if t.startswith("decimal("):
        scale = int(t[len("decimal("):-1].split(",")[1])
        return decimal.Decimal(v).quantize(decimal.Decimal(1).scaleb(-scale))
    raise SystemExit(f"unknown csv type {t}")


def main():
    fmt, path = sys.argv[1], sys.argv[2]
    csv_types = sys.argv[4] if len(sys.argv) > 4 and sys.argv[3] == "--csv-types" else None
    out = sys.stdout
    for r in records(fmt, path, csv_types):
        out.write(json.dumps(normalize(r), sort_keys=True))
        out.write("\n")


if __name__ == "__main__":
    main()
