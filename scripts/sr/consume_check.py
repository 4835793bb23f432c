"""Consumes a topic from the beginning with Confluent's Python client and decodes each value
with confluent-kafka's AvroDeserializer or JSONDeserializer against a Schema Registry, then
prints one JSON line per record: partition, offset, key, headers, the schema id of the wire
format and the decoded value (normalized by normalize.py). Stops once COUNT records came and
nothing more arrives for two seconds, or after TIMEOUT seconds.

  python consume_check.py BOOTSTRAP TOPIC REGISTRY_URL avro|json COUNT [TIMEOUT]"""

import json
import struct
import sys
import time

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.schema_registry.json_schema import JSONDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

from normalize import normalize


def main():
    bootstrap, topic, url, fmt, count = sys.argv[1:6]
    count = int(count)
    timeout = float(sys.argv[6]) if len(sys.argv) > 6 else 60.0
    registry = SchemaRegistryClient({"url": url})
    if fmt == "avro":
        deserialize = AvroDeserializer(registry)
    elif fmt == "json":
        deserialize = JSONDeserializer(None, schema_registry_client=registry)
    else:
        raise SystemExit(f"unknown format {fmt}")
    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": f"sr-check-{time.time_ns()}",
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
    })
    meta = consumer.list_topics(topic, timeout=10)
    partitions = sorted(meta.topics[topic].partitions)
    consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
    seen = 0
    start = last = time.monotonic()
    out = sys.stdout
    while True:
        now = time.monotonic()
        if now - start > timeout or (seen >= count and now - last > 2.0):
            break
        m = consumer.poll(0.2)
        if m is None:
            continue
        if m.error():
            raise SystemExit(f"consume error: {m.error()}")
        last = time.monotonic()
        seen += 1
        raw = m.value()
        ctx = SerializationContext(m.topic(), MessageField.VALUE, m.headers())
        value = None if raw is None else deserialize(raw, ctx)
        out.write(json.dumps({
            "partition": m.partition(),
            "offset": m.offset(),
            "key": None if m.key() is None else m.key().decode("utf-8", "replace"),
            "headers": {k: (v or b"").decode("utf-8", "replace") for k, v in (m.headers() or [])},
            "schema_id": None if raw is None else struct.unpack(">bI", raw[:5])[1],
            "value": normalize(value),
        }, sort_keys=True))
        out.write("\n")
    consumer.close()


if __name__ == "__main__":
    main()
