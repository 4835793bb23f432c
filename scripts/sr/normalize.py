"""One plain-JSON form for values decoded by different Python libraries, so the records a
deserializer decodes from Kafka and the records another library reads from the source file
compare with ==: bytes as {"bytes": hex}, decimals as {"decimal": str}, dates as days since the
epoch, times as milliseconds since midnight, timestamps as milliseconds since the epoch (naive
ones taken as UTC; sub-millisecond digits dropped, as Kafka Connect's Timestamp does), UUIDs as
strings, tuples and lists as lists, mappings with their keys as strings."""

import datetime
import decimal
import uuid

EPOCH_DATE = datetime.date(1970, 1, 1)
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def normalize(v):
    if v is None or isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, float):
        return v
    if isinstance(v, (bytes, bytearray, memoryview)):
        return {"bytes": bytes(v).hex()}
    if isinstance(v, decimal.Decimal):
        return {"decimal": str(v)}
    if isinstance(v, datetime.datetime):
        if v.tzinfo is None:
            v = v.replace(tzinfo=datetime.timezone.utc)
        delta = v - EPOCH
        return (delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000)
    if isinstance(v, datetime.date):
        return (v - EPOCH_DATE).days
    if isinstance(v, datetime.time):
        return ((v.hour * 60 + v.minute) * 60 + v.second) * 1000 + v.microsecond // 1000
    if isinstance(v, uuid.UUID):
        return str(v)
    if isinstance(v, dict):
        return {str(k): normalize(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [normalize(x) for x in v]
    raise TypeError(f"cannot normalize {type(v).__name__}: {v!r}")
