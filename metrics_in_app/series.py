"""The one place a series is admitted: org label forced, per-series limits checked, fingerprint taken.

Both receivers (OTLP after translation, remote write after decoding) hand every series here, so no path
can write a series without the token's org in the org label. A label the sender called like the org
label is kept as `exported_<org label>`, exactly as Prometheus does for a scraped label colliding with a
target label under `honor_labels: false`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from metrics_in_app.limits import OrgLimits
from metrics_in_app.rejections import Rejections

_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*\Z")
_METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*\Z")


@dataclass(frozen=True)
class OrgLabel:
    name: str
    value: str

    @property
    def exported(self) -> str:
        return f"exported_{self.name}"


@dataclass
class Admitted:
    labels: list[tuple[str, str]]
    samples: Any  # list[tuple[int, float]] or a protobuf repeated Sample container
    fingerprint: bytes


def fingerprint(labels: Sequence[tuple[str, str]]) -> bytes:
    h = hashlib.blake2b(digest_size=8)
    for name, value in labels:
        h.update(name.encode())
        h.update(b"\xff")
        h.update(value.encode())
        h.update(b"\xfe")
    return h.digest()


def admit(labels: dict[str, str], samples: Any, org: OrgLabel, limits: OrgLimits,
          rej: Rejections) -> Admitted | None:
    """Force the org label and check one series; None (and a rejection recorded) when it is refused."""
    n_samples = len(samples)
    name = labels.get("__name__", "")
    if not name or not _METRIC_NAME.match(name):
        rej.add("invalid_name", n_samples, f"invalid or missing metric name {name[:100]!r}")
        return None
    claimed = labels.pop(org.name, None)
    if claimed:
        labels[org.exported] = claimed
    labels[org.name] = org.value
    out = []
    for k, v in labels.items():
        if v == "":
            continue  # an empty label value means "no such label" in Prometheus
        if len(k) > limits.max_label_name_length:
            rej.add("label_name_length", n_samples,
                    f"{name}: label name {k[:40]!r}… is longer than the limit of {limits.max_label_name_length}")
            return None
        if len(v) > limits.max_label_value_length:
            rej.add("label_value_length", n_samples,
                    f"{name}: value of label {k!r} is longer than the limit of {limits.max_label_value_length}")
            return None
        if k != "__name__" and not _LABEL_NAME.match(k):
            rej.add("invalid_label", n_samples, f"{name}: invalid label name {k[:60]!r}")
            return None
        out.append((k, v))
    if len(out) - 1 > limits.max_labels_per_series:  # __name__ is not counted, as in Mimir's limit
        rej.add("labels_per_series", n_samples,
                f"{name}: {len(out) - 1} labels exceed the limit of {limits.max_labels_per_series} labels per series")
        return None
    out.sort()
    return Admitted(out, samples, fingerprint(out))


def describe(labels: Iterable[tuple[str, str]]) -> str:
    """`name{a="b",…}` for messages."""
    d = dict(labels)
    name = d.pop("__name__", "")
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(d.items()))
    return f"{name}{{{inner}}}"[:300]
