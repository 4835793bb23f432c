#!/usr/bin/env python3
"""The pipeline a user would write instead of Sluice: the benchmark baseline.

Lists the objects (plain file reads for a local folder, boto3 for S3), reads them one after the
other, splits each into records, optionally parses each record and builds the same value bytes
Sluice produces (compact JSON, as Kafka Connect's JsonConverter with schemas.enable=false), and
produces them with confluent-kafka with the same key (the object key), the same headers and the
same producer settings as Sluice (idempotent, acks=all, linger.ms=5, murmur2 partitioner). Then
flushes and prints one line: `delivered N records, F failed, B bytes of input`.

Modes:
  parse        jsonl: json.loads + json.dumps per line; csv: csv.reader rows -> JSON object per row
               (header row names the columns, every value a string, as Sluice's csv format);
               bytes: 64 KiB chunks (nothing to parse).
  passthrough  jsonl/csv: each line as it is (no parsing); bytes: as parse.

Used by `sluice-bench` (scripts/bench.sh); runs on its own too:
  baseline.py --format jsonl --mode parse --local DIR --bootstrap 127.0.0.1:9092 --topic t
"""

import argparse
import codecs
import csv
import io
import json
import os
import sys

from confluent_kafka import KafkaException, Producer


def local_objects(root, prefix):
    keys = []
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            path = os.path.join(dirpath, name)
            key = os.path.relpath(path, root).replace(os.sep, "/")
            if key.startswith(prefix) and os.path.getsize(path) > 0:
                keys.append(key)
    keys.sort()
    for key in keys:
        st = os.stat(os.path.join(root, key))
        # object_store's LocalFileSystem ETag, which Sluice sends as a header.
        etag = f"{st.st_ino:x}-{st.st_mtime_ns // 1000:x}-{st.st_size:x}"
        yield key, etag, lambda key=key: open(os.path.join(root, key), "rb")


def s3_objects(endpoint, bucket, prefix):
    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    for page in pages:
        for obj in page.get("Contents", []):
            if obj["Size"] > 0:
                key = obj["Key"]
                yield key, obj["ETag"], lambda key=key: s3.get_object(Bucket=bucket, Key=key)["Body"]


def lines(stream):
    """Lines of a binary stream, without the line end; empty lines skipped (as Sluice's jsonl)."""
    if hasattr(stream, "iter_lines"):  # botocore StreamingBody
        for line in stream.iter_lines(chunk_size=1 << 20):
            if line:
                yield line
        return
    with stream:
        for line in stream:
            line = line.rstrip(b"\r\n")
            if line:
                yield line


def chunks(stream, size):
    while True:
        buf = stream.read(size)
        if not buf:
            break
        # A short read from a socket is not the end: fill the chunk as Sluice does.
        while len(buf) < size:
            more = stream.read(size - len(buf))
            if not more:
                break
            buf += more
        yield buf
    if hasattr(stream, "close"):
        stream.close()


def csv_records(stream, parse):
    if not parse:
        first = True
        for line in lines(stream):
            if first:  # the header row is not a record
                first = False
                continue
            yield line
        return
    if isinstance(stream, io.BufferedIOBase):  # a local file
        text = io.TextIOWrapper(stream, encoding="utf-8", newline="")
    else:  # an S3 body
        text = codecs.getreader("utf-8")(stream)
    reader = csv.reader(text)
    header = next(reader, None)
    for row in reader:
        yield json.dumps(dict(zip(header, row)), separators=(",", ":"), ensure_ascii=False).encode()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--format", choices=["jsonl", "csv", "bytes"], required=True)
    ap.add_argument("--mode", choices=["parse", "passthrough"], default="parse")
    ap.add_argument("--local", help="folder used as the bucket")
    ap.add_argument("--s3-endpoint")
    ap.add_argument("--bucket", default="", help="S3 bucket (with --s3-endpoint)")
    ap.add_argument("--prefix", default="")
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--chunk", type=int, default=65536, help="bytes format: chunk size")
    args = ap.parse_args()

    if args.local:
        objects = local_objects(args.local, args.prefix)
        bucket = args.local
    else:
        objects = s3_objects(args.s3_endpoint, args.bucket, args.prefix)
        bucket = args.bucket

    failed = [0]

    def on_error(err, _msg):
        if err is not None:
            failed[0] += 1

    producer = Producer(
        {
            "bootstrap.servers": args.bootstrap,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
            "partitioner": "murmur2_random",
            "client.id": "baseline",
            # Only failures call back into Python: a correct pipeline must see them, and
            # successful deliveries then cost nothing.
            "delivery.report.only.error": True,
            "on_delivery": on_error,
        }
    )
    produced = 0
    input_bytes = 0
    parse = args.mode == "parse"
    for key, etag, opener in objects:
        stream = opener()
        if args.format == "bytes":
            records = chunks(stream, args.chunk)
        elif args.format == "csv":
            records = csv_records(stream, parse)
        elif parse:
            records = (
                json.dumps(json.loads(line), separators=(",", ":"), ensure_ascii=False).encode()
                for line in lines(stream)
            )
        else:
            records = lines(stream)
        kb = key.encode()
        for index, value in enumerate(records):
            input_bytes += len(value)
            headers = [
                ("sluice.bucket", bucket),
                ("sluice.object.key", kb),
                ("sluice.object.etag", etag),
                ("sluice.record.index", str(index)),
            ]
            while True:
                try:
                    producer.produce(args.topic, value, kb, headers=headers)
                    break
                except BufferError:
                    producer.poll(0.05)
            produced += 1
            if produced % 10000 == 0:
                producer.poll(0)
    left = producer.flush(300)
    if left:
        raise KafkaException(f"{left} records still undelivered after 300 s")
    delivered = produced - failed[0]
    print(f"delivered {delivered} records, {failed[0]} failed, {input_bytes} bytes of records")
    sys.exit(0 if failed[0] == 0 else 1)


if __name__ == "__main__":
    main()
