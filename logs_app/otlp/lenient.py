"""Lenient twins of the OTLP request messages, for bodies whose strings are not valid UTF-8.

proto3 rejects a whole message when one string field holds invalid UTF-8, which would lose a whole
batch for one bad record. These twins are the same schema with every `string` field turned into
`bytes` (the wire format is identical), so the body parses and each string is decoded with U+FFFD
replacement by the converter (`text()` in convert.py accepts both str and bytes).
"""

from __future__ import annotations

import functools
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

_PREFIX = "lenient."
_ROOTS: dict[str, Any] = {
    "logs": logs_service_pb2.ExportLogsServiceRequest,
    "traces": trace_service_pb2.ExportTraceServiceRequest,
    "metrics": metrics_service_pb2.ExportMetricsServiceRequest,
}


def _files_in_order(file_desc: Any, seen: dict[str, Any]) -> None:
    for dep in file_desc.dependencies:
        _files_in_order(dep, seen)
    seen.setdefault(file_desc.name, file_desc)


def _lenient_proto(fd: Any) -> descriptor_pb2.FileDescriptorProto:
    proto = descriptor_pb2.FileDescriptorProto()
    fd.CopyToProto(proto)
    proto.name = _PREFIX + proto.name
    proto.package = _PREFIX + proto.package
    proto.dependency[:] = [_PREFIX + d for d in proto.dependency]
    proto.ClearField("service")
    proto.options.Clear()

    def fix(msg: descriptor_pb2.DescriptorProto) -> None:
        for field in msg.field:
            if field.type == descriptor_pb2.FieldDescriptorProto.TYPE_STRING:
                field.type = descriptor_pb2.FieldDescriptorProto.TYPE_BYTES
            if field.type_name.startswith("."):
                field.type_name = "." + _PREFIX + field.type_name[1:]
        for nested in msg.nested_type:
            fix(nested)

    for msg in proto.message_type:
        fix(msg)
    return proto


@functools.cache
def lenient_class(signal: str) -> Any:
    """The lenient message class for "logs", "traces" or "metrics" export requests."""
    root = _ROOTS[signal]
    files: dict[str, Any] = {}
    _files_in_order(root.DESCRIPTOR.file, files)
    pool = descriptor_pool.DescriptorPool()
    for fd in files.values():
        pool.Add(_lenient_proto(fd))
    desc = pool.FindMessageTypeByName(_PREFIX + root.DESCRIPTOR.full_name)
    return message_factory.GetMessageClass(desc)
