"""Ingest services for both receivers: decode → translate → admit (org forced, limits) → forward.

Every refusal is per series or per data point and reported back; only what stops the whole request
(bad body, rate limit, full queue, backend down) raises ServiceError.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)

from metrics_in_app import delta, destination, remote_pb
from metrics_in_app.forwarder import FORWARDER, QueueFull
from metrics_in_app.limits import COUNTERS, OrgLimits, limits_for
from metrics_in_app.otlp_translate import Translator
from metrics_in_app.rejections import Rejections
from metrics_in_app.series import Admitted, OrgLabel, admit, describe
from portal.backends.errors import BackendTimeout, BackendUnavailable
from portal.error_codes import BACKEND_PROMETHEUS
from portal.errors import ServiceError
from portal.tenancy.models import Organization


@dataclass
class IngestResult:
    received: int = 0
    written: int = 0
    rejections: Rejections = field(default_factory=Rejections)


def _rate_limit(org: Organization, limits: OrgLimits, n: int, rej: Rejections) -> None:
    if n and not COUNTERS.take_rate(org.pk, n, limits.samples_per_second):
        rej.add("rate_limited", n, "rate limit")  # counted in /metrics by the caller's finally
        raise ServiceError(429, "rate_limited",
                           f"Organization {org.slug} is over its limit of {limits.samples_per_second} samples per "
                           "second; retry after the time in Retry-After.",
                           {"limit": "samples_per_second", "value": limits.samples_per_second},
                           headers={"Retry-After": "1"})


def _admit_all(org: Organization, label: OrgLabel, limits: OrgLimits,
               items: Iterable[tuple[dict[str, str], Any]], rej: Rejections) -> list[Admitted]:
    admitted = [a for labels, samples in items if (a := admit(labels, samples, label, limits, rej)) is not None]
    refused = COUNTERS.admit_series(org.pk, [a.fingerprint for a in admitted], limits.max_active_series)
    if not refused:
        return admitted
    kept = []
    for a in admitted:
        if a.fingerprint in refused:
            rej.add("active_series", len(a.samples),
                    f"{describe(a.labels)}: new series over the limit of {limits.max_active_series} active series")
        else:
            kept.append(a)
    return kept


def _forward(org: Organization, admitted: list[Admitted], metadata: dict[str, tuple[int, str, str]],
             rej: Rejections) -> int:
    if not admitted:
        return 0
    target = destination.write_target(org)
    retry_after = str(settings.METRICS_IN_RETRY_AFTER_SECONDS)
    try:
        return FORWARDER.forward(target, admitted, metadata, rej)
    except QueueFull as e:
        rej.add("queue_full", sum(len(a.samples) for a in admitted), "queue full")
        raise ServiceError(429, "queue_full", "The forwarding queue is full; retry after the time in Retry-After.",
                           headers={"Retry-After": retry_after}) from e
    except (BackendUnavailable, BackendTimeout) as e:  # after retrying until the forward deadline
        rej.add("backend_unavailable", sum(len(a.samples) for a in admitted), "backend unavailable")
        raise ServiceError(503, "backend_unavailable", str(e),
                           {"backend": BACKEND_PROMETHEUS, "target": e.backend},
                           headers={"Retry-After": retry_after}) from e


def ingest_remote_write(org: Organization, body: bytes) -> IngestResult:
    try:
        wr = remote_pb.WriteRequest.FromString(body)
    except DecodeError as e:
        raise ServiceError(400, "parse_error", f"The body is not a remote-write WriteRequest: {e}.") from e
    result = IngestResult()
    rej = result.rejections
    try:
        result.received = sum(len(ts.samples) for ts in wr.timeseries)
        limits = limits_for(org)
        _rate_limit(org, limits, result.received, rej)
        label = destination.org_label(org)
        items = (({lb.name: lb.value for lb in ts.labels}, ts.samples) for ts in wr.timeseries)
        admitted = _admit_all(org, label, limits, items, rej)
        metadata = {m.metric_family_name: (m.type, m.help, m.unit) for m in wr.metadata}
        result.written = _forward(org, admitted, metadata, rej)
        return result
    finally:
        rej.count_metrics(str(org.pk))


def ingest_otlp(org: Organization, req: ExportMetricsServiceRequest) -> IngestResult:
    result = IngestResult()
    rej = result.rejections
    try:
        store = delta.DeltaStore(org.pk)
        translated = Translator(store, rej, int(time.time() * 1000)).run(req)
        result.received = translated.points
        limits = limits_for(org)
        _rate_limit(org, limits, sum(len(s) for s in translated.series.values()), rej)
        label = destination.org_label(org)
        items = ((dict(key), sorted(samples)) for key, samples in translated.series.items())
        admitted = _admit_all(org, label, limits, items, rej)
        result.written = _forward(org, admitted, translated.metadata, rej)
        store.commit()
        return result
    finally:
        rej.count_metrics(str(org.pk))


def otlp_response(result: IngestResult) -> ExportMetricsServiceResponse:
    """The 200 answer; partial_success only when something was refused (the spec leaves it empty otherwise)."""
    resp = ExportMetricsServiceResponse()
    if result.rejections.count:
        resp.partial_success.rejected_data_points = min(result.rejections.count, max(result.received, 1))
        resp.partial_success.error_message = result.rejections.message()
    return resp
