"""Prometheus remote-write 1.0 messages (prometheus/prompb types.proto + remote.proto), built at import.

Only the fields the gateway reads or writes are declared; anything else a sender puts in (exemplars,
native histograms) survives a parse/serialize round trip as unknown fields, so it is forwarded as is.
"""

from __future__ import annotations

from typing import Any

import cramjam
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_F = descriptor_pb2.FieldDescriptorProto


def _field(msg: descriptor_pb2.DescriptorProto, name: str, number: int, ftype: int, *,
           repeated: bool = False, type_name: str = "") -> None:
    f = msg.field.add(name=name, number=number, type=ftype,
                      label=_F.LABEL_REPEATED if repeated else _F.LABEL_OPTIONAL)
    if type_name:
        f.type_name = type_name


def _build() -> descriptor_pool.DescriptorPool:
    fd = descriptor_pb2.FileDescriptorProto(name="portal_prompb_remote.proto", package="prometheus", syntax="proto3")
    sample = fd.message_type.add(name="Sample")
    _field(sample, "value", 1, _F.TYPE_DOUBLE)
    _field(sample, "timestamp", 2, _F.TYPE_INT64)
    label = fd.message_type.add(name="Label")
    _field(label, "name", 1, _F.TYPE_STRING)
    _field(label, "value", 2, _F.TYPE_STRING)
    ts = fd.message_type.add(name="TimeSeries")
    _field(ts, "labels", 1, _F.TYPE_MESSAGE, repeated=True, type_name=".prometheus.Label")
    _field(ts, "samples", 2, _F.TYPE_MESSAGE, repeated=True, type_name=".prometheus.Sample")
    meta = fd.message_type.add(name="MetricMetadata")
    _field(meta, "type", 1, _F.TYPE_INT32)  # MetricType enum, kept as int: 0 unknown … 7 stateset
    _field(meta, "metric_family_name", 2, _F.TYPE_STRING)
    _field(meta, "help", 4, _F.TYPE_STRING)
    _field(meta, "unit", 5, _F.TYPE_STRING)
    wr = fd.message_type.add(name="WriteRequest")
    _field(wr, "timeseries", 1, _F.TYPE_MESSAGE, repeated=True, type_name=".prometheus.TimeSeries")
    _field(wr, "metadata", 3, _F.TYPE_MESSAGE, repeated=True, type_name=".prometheus.MetricMetadata")
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fd)
    return pool


_POOL = _build()
WriteRequest: Any = message_factory.GetMessageClass(_POOL.FindMessageTypeByName("prometheus.WriteRequest"))
TimeSeries: Any = message_factory.GetMessageClass(_POOL.FindMessageTypeByName("prometheus.TimeSeries"))
Sample: Any = message_factory.GetMessageClass(_POOL.FindMessageTypeByName("prometheus.Sample"))

# MetricMetadata.MetricType values.
COUNTER, GAUGE, HISTOGRAM, SUMMARY = 1, 2, 3, 5


def encode(req: Any) -> bytes:
    """Serialize and snappy-compress (block format, as remote write 1.0 requires)."""
    return bytes(cramjam.snappy.compress_raw(req.SerializeToString()))


def snappy_length(body: bytes) -> int:
    """The uncompressed length a snappy block announces (a varint prefix), read before decompressing."""
    result, shift = 0, 0
    for i, byte in enumerate(body[:10]):
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result
        shift += 7
        if i >= 4:
            break
    raise ValueError("not a snappy block")
