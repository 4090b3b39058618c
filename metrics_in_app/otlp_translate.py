"""OTLP metrics (ExportMetricsServiceRequest) → Prometheus series, per the OpenTelemetry → Prometheus
compatibility specification.

- resource: `service.name` (prefixed by `service.namespace/`) → `job`, `service.instance.id` → `instance`,
  every other resource attribute on one `target_info` series (value 1) carrying the same job/instance;
- scope: `otel_scope_name` / `otel_scope_version` labels;
- gauge → gauge; monotonic cumulative sum → counter (`_total`); non-monotonic sum → gauge; delta sums and
  histograms → cumulative per series (`delta.py`); explicit-bucket histogram → `_bucket{le}`/`_sum`/
  `_count`; summary → `{quantile}`/`_sum`/`_count`; exponential histograms are refused (this gateway
  writes remote write 1.0, which has no native histograms);
- a point flagged "no recorded value" becomes a Prometheus staleness marker.
Anything refused is refused per data point or per metric with a message, never the whole request.
"""

from __future__ import annotations

import json
import math
import struct
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1 import metrics_pb2

from metrics_in_app import delta, remote_pb
from metrics_in_app.naming import label_name, metric_name
from metrics_in_app.rejections import Rejections

STALE_NAN = struct.unpack("<d", struct.pack("<Q", 0x7FF0000000000002))[0]
FLAG_NO_RECORDED_VALUE = metrics_pb2.DataPointFlags.DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK
DELTA = metrics_pb2.AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA
CUMULATIVE = metrics_pb2.AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE
RESOURCE_PROMOTED = ("service.name", "service.namespace", "service.instance.id")

LabelKey = tuple[tuple[str, str], ...]


@dataclass
class Translated:
    series: dict[LabelKey, list[tuple[int, float]]] = field(default_factory=dict)
    metadata: dict[str, tuple[int, str, str]] = field(default_factory=dict)
    points: int = 0  # data points received (the unit partial success counts in)

    def add(self, labels: dict[str, str], ts_ms: int, value: float) -> None:
        key = tuple(sorted(labels.items()))
        self.series.setdefault(key, []).append((ts_ms, value))


def any_value(v: AnyValue) -> str:
    kind = v.WhichOneof("value")
    if kind == "string_value":
        return str(v.string_value)
    if kind == "bool_value":
        return "true" if v.bool_value else "false"
    if kind == "int_value":
        return str(v.int_value)
    if kind == "double_value":
        return repr(v.double_value)
    if kind == "bytes_value":
        return v.bytes_value.hex()
    if kind == "array_value":
        return json.dumps([any_value(x) for x in v.array_value.values])
    if kind == "kvlist_value":
        return json.dumps({kv.key: any_value(kv.value) for kv in v.kvlist_value.values})
    return ""


def attr_labels(attrs: Iterable[KeyValue]) -> dict[str, str]:
    """Sanitized label names; attributes colliding after sanitizing are joined with ';' (sorted by key)."""
    out: dict[str, str] = {}
    for kv in sorted(attrs, key=lambda kv: kv.key):
        name = label_name(kv.key)
        value = any_value(kv.value)
        out[name] = f"{out[name]};{value}" if name in out else value
    return out


def format_le(bound: float) -> str:
    if math.isinf(bound):
        return "+Inf" if bound > 0 else "-Inf"
    text = repr(float(bound))
    return text[:-2] if text.endswith(".0") else text


def _ms(ns: int, now_ms: int) -> int:
    return ns // 1_000_000 if ns else now_ms


def _value(p: Any) -> float | None:
    kind = p.WhichOneof("value")
    if kind == "as_double":
        return float(p.as_double)
    if kind == "as_int":
        return float(p.as_int)
    return None


@dataclass
class _PendingDelta:
    kind: str  # "sum" or "hist"
    key: str
    labels: dict[str, str]
    name: str
    point: Any


class Translator:
    def __init__(self, store: delta.DeltaStore, rej: Rejections, now_ms: int | None = None) -> None:
        self.store = store
        self.rej = rej
        self.now_ms = now_ms or int(time.time() * 1000)
        self.out = Translated()
        self._pending: list[_PendingDelta] = []
        self._memo: dict[tuple[Any, ...], LabelKey] = {}

    def run(self, req: ExportMetricsServiceRequest) -> Translated:
        for rm in req.resource_metrics:
            self._resource(rm)
        self._resolve_deltas()
        return self.out

    def _resource(self, rm: Any) -> None:
        attrs = {kv.key: kv for kv in rm.resource.attributes}
        base: dict[str, str] = {}
        if "service.name" in attrs:
            job = any_value(attrs["service.name"].value)
            if "service.namespace" in attrs:
                job = f"{any_value(attrs['service.namespace'].value)}/{job}"
            base["job"] = job
        if "service.instance.id" in attrs:
            base["instance"] = any_value(attrs["service.instance.id"].value)
        newest = 0
        for sm in rm.scope_metrics:
            scope = dict(base)
            if sm.scope.name:
                scope["otel_scope_name"] = sm.scope.name
            if sm.scope.version:
                scope["otel_scope_version"] = sm.scope.version
            for metric in sm.metrics:
                newest = max(newest, self._metric(metric, scope))
        others = [kv for key, kv in attrs.items() if key not in RESOURCE_PROMOTED]
        if others and newest:
            info = attr_labels(others)
            info.update(base)
            info["__name__"] = "target_info"
            self.out.add(info, newest, 1.0)
            self.out.metadata.setdefault("target_info", (remote_pb.GAUGE, "Target metadata", ""))

    def _metric(self, m: Any, scope: dict[str, str]) -> int:
        kind = m.WhichOneof("data")
        newest = 0
        if kind == "gauge":
            name = metric_name(m.name, m.unit, gauge=True)
            self.out.metadata.setdefault(name, (remote_pb.GAUGE, m.description, m.unit))
            newest = self._numbers(m.gauge.data_points, name, scope, counter=False)
        elif kind == "sum":
            mono = m.sum.is_monotonic
            name = metric_name(m.name, m.unit, counter=mono, gauge=not mono)
            temporality = m.sum.aggregation_temporality
            if temporality not in (DELTA, CUMULATIVE):
                self._refuse_metric(m, "bad_temporality", f"{m.name}: sum without aggregation temporality")
                return 0
            self.out.metadata.setdefault(name, (remote_pb.COUNTER if mono else remote_pb.GAUGE, m.description, m.unit))
            if temporality == DELTA:
                for p in m.sum.data_points:
                    newest = max(newest, self._defer(p, "sum", name, scope))
            else:
                newest = self._numbers(m.sum.data_points, name, scope, counter=mono)
        elif kind == "histogram":
            name = metric_name(m.name, m.unit)
            temporality = m.histogram.aggregation_temporality
            if temporality not in (DELTA, CUMULATIVE):
                self._refuse_metric(m, "bad_temporality", f"{m.name}: histogram without aggregation temporality")
                return 0
            self.out.metadata.setdefault(name, (remote_pb.HISTOGRAM, m.description, m.unit))
            for p in m.histogram.data_points:
                if not self._valid_histogram(p, m.name):
                    continue
                if temporality == DELTA:
                    newest = max(newest, self._defer(p, "hist", name, scope))
                else:
                    newest = max(newest, self._histogram(p, name, scope, list(p.bucket_counts), p.sum, p.count,
                                                         p.HasField("sum")))
        elif kind == "summary":
            name = metric_name(m.name, m.unit)
            self.out.metadata.setdefault(name, (remote_pb.SUMMARY, m.description, m.unit))
            for p in m.summary.data_points:
                newest = max(newest, self._summary(p, name, scope))
        elif kind == "exponential_histogram":
            self._refuse_metric(m, "unsupported_type",
                                f"{m.name}: exponential histograms are not supported (remote write 1.0 has no "
                                "native histograms); use the SDK's explicit-bucket histogram aggregation")
        else:
            self._refuse_metric(m, "unsupported_type", f"{m.name or '<unnamed>'}: unknown or missing metric type")
        return newest

    def _points(self, m: Any) -> int:
        kind = m.WhichOneof("data")
        return len(getattr(m, kind).data_points) if kind else 1

    def _refuse_metric(self, m: Any, reason: str, message: str) -> None:
        n = self._points(m)
        self.out.points += n
        self.rej.add(reason, n, message)

    def _labels(self, p: Any, name: str, scope: dict[str, str]) -> dict[str, str]:
        labels = attr_labels(p.attributes)
        labels.update(scope)
        labels["__name__"] = name
        return labels

    def _numbers(self, points: Any, name: str, scope: dict[str, str], *, counter: bool) -> int:
        """Gauge and cumulative-sum points: the hot loop of the receiver, so it is written flat (no call
        per point) and the label set of a point is memoized per attribute set."""
        series, memo, now_ms, sid = self.out.series, self._memo, self.now_ms, id(scope)
        newest = 0
        for p in points:
            ns = p.time_unix_nano
            ts = ns // 1_000_000 if ns else now_ms
            if p.flags & FLAG_NO_RECORDED_VALUE:
                value = STALE_NAN
            else:
                kind = p.WhichOneof("value")
                if kind == "as_double":
                    value = p.as_double
                elif kind == "as_int":
                    value = float(p.as_int)
                else:
                    self.rej.add("no_value", 1, f"{name}: data point without a value")
                    continue
                if counter and (value != value or value < 0 or value == math.inf):
                    self.rej.add("invalid_value", 1, f"{name}: a monotonic counter cannot be {value!r}")
                    continue
            memo_key = (sid, name, tuple([(kv.key, kv.value.SerializeToString()) for kv in p.attributes]))
            key = memo.get(memo_key)
            if key is None:
                key = memo[memo_key] = tuple(sorted(self._labels(p, name, scope).items()))
            samples = series.get(key)
            if samples is None:
                samples = series[key] = []
            samples.append((ts, value))
            if ts > newest:
                newest = ts
        self.out.points += len(points)
        return newest

    def _valid_histogram(self, p: Any, name: str) -> bool:
        bounds = list(p.explicit_bounds)
        counts = p.bucket_counts
        problem = ""
        if any(math.isnan(b) for b in bounds):
            problem = "NaN bucket bound"
        elif bounds != sorted(bounds) or len(set(bounds)) != len(bounds):
            problem = "bucket bounds not strictly increasing"
        elif len(counts) not in (0, len(bounds) + 1):
            problem = f"{len(counts)} bucket counts for {len(bounds)} bounds"
        elif p.HasField("sum") and (math.isnan(p.sum) or math.isinf(p.sum)):
            problem = f"histogram sum is {p.sum!r}"
        elif len(counts) and sum(counts) != p.count:
            problem = f"bucket counts add up to {sum(counts)}, count is {p.count}"
        if problem:
            self.out.points += 1
            self.rej.add("invalid_value", 1, f"{name}: {problem}")
            return False
        return True

    def _histogram(self, p: Any, name: str, scope: dict[str, str], counts: list[int], total: float, count: int,
                   has_sum: bool) -> int:
        self.out.points += 1
        ts = _ms(p.time_unix_nano, self.now_ms)
        stale = bool(p.flags & FLAG_NO_RECORDED_VALUE)
        base = attr_labels(p.attributes)
        base.update(scope)
        running = 0
        bounds = [*p.explicit_bounds, math.inf]
        if counts:
            for bound, c in zip(bounds, counts, strict=True):
                running += c
                self.out.add({**base, "__name__": f"{name}_bucket", "le": format_le(bound)}, ts,
                             STALE_NAN if stale else float(running))
        else:
            self.out.add({**base, "__name__": f"{name}_bucket", "le": "+Inf"}, ts, STALE_NAN if stale else float(count))
        if has_sum:
            self.out.add({**base, "__name__": f"{name}_sum"}, ts, STALE_NAN if stale else float(total))
        self.out.add({**base, "__name__": f"{name}_count"}, ts, STALE_NAN if stale else float(count))
        return ts

    def _summary(self, p: Any, name: str, scope: dict[str, str]) -> int:
        self.out.points += 1
        ts = _ms(p.time_unix_nano, self.now_ms)
        stale = bool(p.flags & FLAG_NO_RECORDED_VALUE)
        base = attr_labels(p.attributes)
        base.update(scope)
        if math.isnan(p.sum) and not stale:
            self.rej.add("invalid_value", 1, f"{name}: summary sum is NaN")
            return 0
        for q in p.quantile_values:
            if not 0.0 <= q.quantile <= 1.0:
                self.rej.add("invalid_value", 1, f"{name}: quantile {q.quantile!r} outside [0, 1]")
                return 0
        for q in p.quantile_values:
            self.out.add({**base, "__name__": name, "quantile": format_le(q.quantile)}, ts,
                         STALE_NAN if stale else float(q.value))
        self.out.add({**base, "__name__": f"{name}_sum"}, ts, STALE_NAN if stale else float(p.sum))
        self.out.add({**base, "__name__": f"{name}_count"}, ts, STALE_NAN if stale else float(p.count))
        return ts

    def _defer(self, p: Any, kind: str, name: str, scope: dict[str, str]) -> int:
        labels = self._labels(p, name, scope)
        key = self.store.key(tuple(sorted(labels.items())))
        self._pending.append(_PendingDelta(kind, key, labels, name, p))
        return _ms(p.time_unix_nano, self.now_ms)

    def _resolve_deltas(self) -> None:
        if not self._pending:
            return
        self.store.load([d.key for d in self._pending])
        for d in sorted(self._pending, key=lambda d: d.point.time_unix_nano):
            p = d.point
            if d.kind == "sum":
                value = _value(p)
                if value is None or math.isnan(value) or math.isinf(value):
                    self.out.points += 1
                    self.rej.add("invalid_value", 1, f"{d.name}: delta point value {value!r}")
                    continue
                total = delta.add_sum(self.store, d.key, p.start_time_unix_nano, p.time_unix_nano, value)
                self.out.points += 1
                if total is None:
                    self.rej.add("delta_out_of_order", 1,
                                 f"{d.name}: delta point older than the last one for this series; "
                                 "cannot convert it to cumulative")
                    continue
                self.out.add(d.labels, _ms(p.time_unix_nano, self.now_ms), total)
            else:
                state = delta.add_histogram(self.store, d.key, p.start_time_unix_nano, p.time_unix_nano,
                                            tuple(p.explicit_bounds), list(p.bucket_counts), p.sum, p.count)
                if state is None:
                    self.out.points += 1
                    self.rej.add("delta_out_of_order", 1,
                                 f"{d.name}: delta histogram point older than the last one for this series")
                    continue
                scope = {k: v for k, v in d.labels.items() if k != "__name__"}
                # Attributes are already sanitized into `scope`; clear them on the point to avoid doing it twice.
                plain = metrics_pb2.HistogramDataPoint(time_unix_nano=p.time_unix_nano, flags=p.flags,
                                                       explicit_bounds=p.explicit_bounds)
                self._histogram(plain, d.name, scope, state.counts, state.total, state.count, p.HasField("sum"))
