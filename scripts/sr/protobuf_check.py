"""Independent checks of Sluice's ProtobufConverter with Python's protobuf and protoc.

  protobuf_check.py unit DIR
      For each DIR/<case>.proto and DIR/<case>.bin written by the Rust unit tests
      (SLUICE_PROTOBUF_DUMP=DIR): compile the text with protoc (grpcio-tools), parse the bytes into
      the generated class, serialize it again and require the same bytes; print each message.

  protobuf_check.py e2e REGISTRY_URL BOOTSTRAP TOPIC SOURCE FORMAT COUNT
      Consume COUNT records of TOPIC; for each, fetch its schema (and the subject's version list)
      from the registry, compile the registered text with protoc, decode the record with
      confluent_kafka's ProtobufDeserializer given the generated class, and compare every record
      (as a multiset: partitions reorder them) with the records of SOURCE (FORMAT jsonl, avro, or
      dump: the JSON lines scripts/sr/source_dump.py printed for a source).
      Prints one JSON line of what was seen; exits non-zero on any mismatch.

The imported Confluent and Google types are not all in grpcio-tools (it has google/protobuf/*), so
google/type/*.proto come from googleapis-common-protos, and Confluent's two are declared here from
their documented field numbers: confluent/type/decimal.proto and confluent/meta.proto (the
field_meta option).
Confluent's registered text uses the (confluent.field_meta) option without importing
confluent/meta.proto (Java's parser does not need it); protoc does, so the import is added
before compiling when the text uses the option and lacks it.
"""

import base64
import datetime as dt
import decimal
import struct
import time
import json
import os
import sys
import tempfile
import urllib.request
import uuid

from grpc_tools import protoc
import grpc_tools
from google.type import date_pb2

KNOWN = {
    "confluent/meta.proto": """syntax = "proto3";
package confluent;
import "google/protobuf/descriptor.proto";
message Meta {
  string doc = 1;
  map<string, string> params = 2;
  repeated string tags = 3;
}
extend google.protobuf.FieldOptions { Meta field_meta = 1088; }
""",
    "confluent/type/decimal.proto": """syntax = "proto3";
package confluent.type;
message Decimal {
  bytes value = 1;
  uint32 precision = 2;
  int32 scale = 3;
}
""",
}

_counter = [0]


def compile_text(text, workdir):
    """Compiles one .proto text with protoc into its own descriptor pool; returns the class of
    the file's first message (the one Confluent's message indexes [0] name)."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
    if "(confluent.field_meta)" in text and '"confluent/meta.proto"' not in text:
        lines = text.split("\n")
        at = 0
        for i, l in enumerate(lines):
            if l.startswith("syntax") or l.startswith("package"):
                at = i
        lines.insert(at + 1, 'import "confluent/meta.proto";')
        text = "\n".join(lines)
    for path, body in KNOWN.items():
        full = os.path.join(workdir, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w") as f:
            f.write(body)
    _counter[0] += 1
    name = f"sluice_case_{_counter[0]}.proto"
    with open(os.path.join(workdir, name), "w") as f:
        f.write(text)
    include = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    # googleapis-common-protos ships google/type/*.proto beside its modules.
    site = os.path.dirname(os.path.dirname(os.path.dirname(date_pb2.__file__)))
    out = os.path.join(workdir, name + ".pb")
    rc = protoc.main(["protoc", f"-I{workdir}", f"-I{include}", f"-I{site}", "--include_imports",
                      f"--descriptor_set_out={out}", name])
    if rc != 0:
        raise SystemExit(f"protoc failed ({rc}) on:\n{text}")
    fds = descriptor_pb2.FileDescriptorSet()
    fds.ParseFromString(open(out, "rb").read())
    pool = descriptor_pool.DescriptorPool()
    for fd in fds.file:
        pool.Add(fd)
    main = next(fd for fd in fds.file if fd.name == name)
    full_name = (main.package + "." if main.package else "") + main.message_type[0].name
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(full_name))


def unit(directory):
    from google.protobuf import text_format
    work = tempfile.mkdtemp(prefix="protobuf-unit-", dir=os.environ.get("TMPDIR"))
    cases = sorted(f[:-6] for f in os.listdir(directory) if f.endswith(".proto"))
    if not cases:
        raise SystemExit(f"no cases in {directory}")
    for case in cases:
        text = open(os.path.join(directory, case + ".proto")).read()
        data = open(os.path.join(directory, case + ".bin"), "rb").read()
        cls = compile_text(text, work)
        msg = cls()
        msg.ParseFromString(data)
        again = msg.SerializeToString()
        status = "same bytes" if again == data else f"DIFFERENT: python {again.hex()} rust {data.hex()}"
        print(f"== {case}: {len(data)} bytes, {status}")
        print(text_format.MessageToString(msg, as_one_line=True))
        if again != data:
            sys.exit(1)


def to_python(msg):
    """A decoded message as plain Python values: structs as dicts, map entries as dicts,
    Decimal / Date / TimeOfDay / Timestamp / wrappers as Connect's values (Decimal, days since
    the epoch, milliseconds of the day, milliseconds since the epoch, the wrapped value); a
    message field that is not set is None."""
    name = msg.DESCRIPTOR.full_name
    if name == "confluent.type.Decimal":
        unscaled = int.from_bytes(msg.value, "big", signed=True)
        return decimal.Decimal(unscaled).scaleb(-msg.scale)
    if name == "google.type.Date":
        return (dt.date(msg.year, msg.month, msg.day) - dt.date(1970, 1, 1)).days
    if name == "google.type.TimeOfDay":
        return ((msg.hours * 60 + msg.minutes) * 60 + msg.seconds) * 1000 + msg.nanos // 1_000_000
    if name == "google.protobuf.Timestamp":
        return msg.seconds * 1000 + msg.nanos // 1_000_000
    if name.startswith("google.protobuf.") and name.endswith("Value"):
        return msg.value
    out = {}
    for f in msg.DESCRIPTOR.fields:
        v = getattr(msg, f.name)
        is_msg = f.type == f.TYPE_MESSAGE
        if f.is_repeated:
            if is_msg and f.message_type.name.endswith("Entry") and \
                    [x.name for x in f.message_type.fields] == ["key", "value"]:
                out[f.name] = {canon_key(to_field(e, e.DESCRIPTOR.fields[0])): to_field(e, e.DESCRIPTOR.fields[1])
                               for e in v}
            else:
                out[f.name] = [to_python(x) if is_msg else x for x in v]
        else:
            out[f.name] = to_field(msg, f)
    return out


def to_field(msg, f):
    if f.is_repeated:
        return to_python(msg)[f.name]
    if f.type == f.TYPE_MESSAGE:
        return to_python(getattr(msg, f.name)) if msg.HasField(f.name) else None
    return getattr(msg, f.name)


def canon_key(k):
    return k if isinstance(k, str) else json.dumps(canon(k))


def canon(v):
    """A comparable form. Proto3 cannot tell null from its type's default (0, "", false, empty
    bytes), so both become None; a struct stays a dict."""
    if v is None or (not isinstance(v, (dict, list)) and not isinstance(v, decimal.Decimal) and not v):
        return None
    if isinstance(v, bool):
        return v
    if isinstance(v, dict) and list(v) == ["decimal"]:
        return canon(decimal.Decimal(v["decimal"]))
    if isinstance(v, dict) and list(v) == ["bytes"]:
        return canon(bytes.fromhex(v["bytes"]))
    if isinstance(v, dict):
        return {k: canon(x) for k, x in sorted(v.items())}
    if isinstance(v, list):
        return [canon(x) for x in v]
    if isinstance(v, (bytes, bytearray)):
        return "b64:" + base64.b64encode(v).decode()
    if isinstance(v, decimal.Decimal):
        return None if v == 0 else "dec:" + format(v.normalize(), "f")
    if isinstance(v, float):
        return repr(float(v))
    return v


def avro_source(path):
    """The Avro fixture's records as Connect would carry them (see scripts/fixtures/generate.py):
    time and timestamp in milliseconds, a multi-type union as a struct of one field per type."""
    import fastavro
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
    def conv(v):
        if isinstance(v, dt.datetime):
            if v.tzinfo is None:
                v = v.replace(tzinfo=dt.timezone.utc)
            d = v - epoch
            return (d.days * 86_400 + d.seconds) * 1000 + d.microseconds // 1000
        if isinstance(v, dt.date):
            return (v - dt.date(1970, 1, 1)).days
        if isinstance(v, dt.time):
            return ((v.hour * 60 + v.minute) * 60 + v.second) * 1000 + v.microsecond // 1000
        if isinstance(v, dict):
            return {k: conv(x) for k, x in v.items()}
        if isinstance(v, list):
            return [conv(x) for x in v]
        if isinstance(v, uuid.UUID):
            return str(v)
        return v
    out = []
    with open(path, "rb") as f:
        for r in fastavro.reader(f):
            r = conv(r)
            if "multi" in r and r["multi"] is not None:
                m = r["multi"]
                r["multi"] = {"int": m if isinstance(m, int) and not isinstance(m, bool) else None,
                              "string": m if isinstance(m, str) else None,
                              "double": m if isinstance(m, float) else None}
            if isinstance(r.get("f"), float):
                r["f"] = float(struct.unpack("<f", struct.pack("<f", r["f"]))[0])
            out.append(r)
    return out


def e2e(url, bootstrap, topic, source, fmt, count):
    from confluent_kafka import Consumer
    from confluent_kafka.serialization import MessageField, SerializationContext
    from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer
    work = tempfile.mkdtemp(prefix="protobuf-e2e-", dir=os.environ.get("TMPDIR"))
    if fmt == "jsonl":
        expected = [json.loads(l, parse_float=float) for l in open(source) if l.strip()]
    elif fmt == "avro":
        expected = avro_source(source)
    elif fmt == "dump":
        # The JSON lines of scripts/sr/source_dump.py (normalize.py's form).
        expected = [json.loads(l) for l in open(source) if l.strip()]
    else:
        raise SystemExit(f"unknown source format {fmt}")
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"protobuf-check-{os.getpid()}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False,
                         "session.timeout.ms": 6000})
    consumer.subscribe([topic])
    values, deadline = [], time.time() + 120
    while len(values) < count and time.time() < deadline:
        m = consumer.poll(1.0)
        if m is None or m.error():
            continue
        values.append(m.value())
    consumer.close()
    classes, texts, decoded = {}, {}, []
    for v in values:
        if v[0] != 0:
            raise SystemExit(f"magic byte {v[0]} is not 0")
        sid = int.from_bytes(v[1:5], "big")
        if sid not in classes:
            with urllib.request.urlopen(f"{url}/schemas/ids/{sid}") as r:
                body = json.load(r)
            if body.get("schemaType") != "PROTOBUF":
                raise SystemExit(f"schema {sid} is {body.get('schemaType')}, not PROTOBUF")
            texts[sid] = body["schema"]
            classes[sid] = ProtobufDeserializer(compile_text(body["schema"], work),
                                                {"use.deprecated.format": False})
        msg = classes[sid](v, SerializationContext(topic, MessageField.VALUE))
        decoded.append(to_python(msg))
    got = sorted(json.dumps(canon(d), sort_keys=True) for d in decoded)
    want = sorted(json.dumps(canon(d), sort_keys=True) for d in expected)
    report = {"consumed": len(values), "decoded": len(decoded), "expected": len(expected),
              "schema_ids": sorted(classes), "equal": got == want}
    print(json.dumps(report))
    if got != want:
        missing = [w for w in want if w not in set(got)][:3]
        extra = [g for g in got if g not in set(want)][:3]
        print("first expected not seen:", *missing, sep="\n  ", file=sys.stderr)
        print("first seen not expected:", *extra, sep="\n  ", file=sys.stderr)
        sys.exit(1)
    for sid, text in texts.items():
        print(f"-- schema {sid}:\n{text}", file=sys.stderr)


if __name__ == "__main__":
    if sys.argv[1] == "unit":
        unit(sys.argv[2])
    elif sys.argv[1] == "e2e":
        e2e(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6], int(sys.argv[7]))
    else:
        raise SystemExit(f"unknown mode {sys.argv[1]}")
