"""What one trace spent its time on: self time per span, the critical path, and two traces side by side.

A trace is a few hundred spans at most (the store caps it), so this runs in Python on the trace the page
already loaded; aggregates over many traces stay in the store.

- Self time: a span's duration minus the part covered by its children (overlapping children counted once).
- Critical path (as Jaeger computes it): walk back from the end of the root; at each point the child that
  finished last before it is what the parent waited for, so its time is critical and the walk continues
  inside it, then resumes at that child's start. Time in a parent between critical children is the parent's.
  A child that started before the previous critical child ended overlaps it and is clipped at that start.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from logs_app.store.records import SpanRecord, to_us


@dataclass(frozen=True)
class SpanTiming:
    self_ms: float
    critical_ms: float  # time of this span on the critical path (0: not on it)


def _children(spans: Sequence[SpanRecord]) -> tuple[list[SpanRecord], dict[str, list[SpanRecord]]]:
    by_id = {s.span_id: s for s in spans}
    children: dict[str, list[SpanRecord]] = defaultdict(list)
    roots = []
    for s in spans:
        if s.parent_span_id and s.parent_span_id in by_id and s.parent_span_id != s.span_id:
            children[s.parent_span_id].append(s)
        else:
            roots.append(s)  # parent not received: analysed as its own root, as the waterfall shows it
    return roots, children


def self_time_us(span: SpanRecord, kids: Sequence[SpanRecord]) -> int:
    start, end = to_us(span.start), to_us(span.end)
    covered, cursor = 0, start
    for k_start, k_end in sorted((max(to_us(k.start), start), min(to_us(k.end), end)) for k in kids):
        if k_end <= cursor:
            continue
        covered += k_end - max(k_start, cursor)
        cursor = k_end
    return max(0, end - start - covered)


def analyse(spans: Sequence[SpanRecord]) -> dict[str, SpanTiming]:
    """span_id → timing, for every span of the trace."""
    roots, children = _children(spans)
    critical: dict[str, int] = defaultdict(int)

    def walk(span: SpanRecord, until: int, depth: int) -> None:
        start = to_us(span.start)
        cursor = min(to_us(span.end), until)
        if depth > 500:  # a malformed, cyclic parent chain: stop rather than recurse forever
            return
        for child in sorted(children.get(span.span_id, []), key=lambda c: to_us(c.end), reverse=True):
            c_start, c_end = max(to_us(child.start), start), min(to_us(child.end), cursor)
            if c_start >= cursor or c_end <= c_start:
                continue  # began after the point reached (overlaps a later critical child) or is empty
            critical[span.span_id] += cursor - c_end
            walk(child, c_end, depth + 1)
            cursor = c_start
            if cursor <= start:
                break
        critical[span.span_id] += max(0, cursor - start)

    # The critical path starts at the root that ends last (a trace with orphaned parts has several roots).
    if roots:
        main = max(roots, key=lambda s: (to_us(s.end), to_us(s.end) - to_us(s.start)))
        walk(main, to_us(main.end), 0)
    return {s.span_id: SpanTiming(self_time_us(s, children.get(s.span_id, [])) / 1000.0,
                                  critical.get(s.span_id, 0) / 1000.0) for s in spans}


@dataclass(frozen=True)
class OperationDiff:
    service: str
    name: str
    count_a: int
    count_b: int
    total_ms_a: float
    total_ms_b: float
    self_ms_a: float
    self_ms_b: float

    @property
    def self_delta_ms(self) -> float:
        return self.self_ms_b - self.self_ms_a


def compare(a: Sequence[SpanRecord], b: Sequence[SpanRecord]) -> list[OperationDiff]:
    """Per operation (service, span name): counts, total and self time in each trace; the biggest change
    in self time first (where B spent its time differently from A), then by name."""
    sums: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0, 0.0, 0.0, 0.0, 0.0])
    for side, spans in ((0, a), (1, b)):
        timing = analyse(spans)
        for s in spans:
            row = sums[(s.service, s.name)]
            row[side] += 1
            row[2 + side] += s.duration_ms
            row[4 + side] += timing[s.span_id].self_ms
    diffs = [OperationDiff(svc, name, int(r[0]), int(r[1]), r[2], r[3], r[4], r[5]) for (svc, name), r in sums.items()]
    return sorted(diffs, key=lambda d: (-abs(d.self_delta_ms), d.service, d.name))
