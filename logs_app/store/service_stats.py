# ruff: noqa: S608 - SQL is assembled from constant column names, constant quantile levels and the stores'
# own org/window sources; every value (org, window, service, endpoint, limits) is a bound parameter.
"""Per-service aggregates of spans, computed by the store's engine: nothing here reads every span.

What the service pages (logs_app/service_page.py) and the performance API show:

- `services`: every service that served a request in the window, with its headline numbers;
- `totals` / `series`: one service's requests, errors and latency p50/p95/p99, whole window or per bucket;
- `endpoints`: per (service, endpoint) requests, errors and latency, top N by count or by p95;
- `operations`: per span name (all spans of the service, not only requests) count, errors, p95, max;
- `requests`: the slowest or the failed spans of a service with their trace ids;
- `service_map`: calls between services (a span whose parent ran in another service).

A *request* is an entry span: kind server or consumer, or a root span (no parent). Its *endpoint* is
`METHOD http.route` when the span has a route, else the span name (as OTel names server spans).

Percentiles are the same definition on every engine: linear interpolation between the two nearest ranks
(PostgreSQL's `percentile_cont`, ClickHouse's `quantilesExactInclusive`; on SQLite the two ranks are picked
by `row_number()` over the group ordered by duration and weighted in SQL). So the three stores agree
exactly on the same spans.

Each store gets a dialect (`stats_for(store)`): the org-and-window source of its span rows, the bucket and
endpoint expressions, and how it groups with percentiles. Every statement starts from that source, so
every statement carries the org condition.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from logs_app.store.records import from_us, to_us

if TYPE_CHECKING:
    from logs_app.store.base import LogStore
    from portal.tenancy.models import Organization

QUANTILES = (0.5, 0.95, 0.99)
ENTRY = "(kind IN ('server', 'consumer') OR parent_span_id = '')"
IS_ERROR = "CASE WHEN status = 'error' THEN 1 ELSE 0 END"


@dataclass(frozen=True)
class Latency:
    """Requests (or spans), errors and the duration distribution of one group."""

    count: int
    errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float

    @property
    def error_share(self) -> float:
        return self.errors / self.count if self.count else 0.0

    def as_dict(self, seconds: float | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in asdict(self).items()}
        out["error_share"] = round(self.error_share, 4)
        if seconds is not None:
            out["rate_per_s"] = round(self.count / seconds, 6) if seconds > 0 else 0.0
        return out


EMPTY = Latency(0, 0, 0.0, 0.0, 0.0, 0.0)


@dataclass(frozen=True)
class Grouped:
    keys: tuple[Any, ...]
    latency: Latency


@dataclass(frozen=True)
class RequestRow:
    """One span of a service, as listed under "slowest" or "failed"."""

    trace_id: str
    span_id: str
    name: str
    endpoint: str
    start: datetime
    duration_ms: float
    status: str

    def as_dict(self) -> dict[str, Any]:
        return {"trace_id": self.trace_id, "span_id": self.span_id, "name": self.name, "endpoint": self.endpoint,
                "start": self.start.isoformat(), "duration_ms": round(self.duration_ms, 3), "status": self.status}


# -- dialects --------------------------------------------------------------------------------------------

class Dialect:
    """How one engine spells the pieces; `source` is the org-scoped span rows every statement starts from."""

    def __init__(self, store: LogStore) -> None:
        self.store = store

    def run(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = self.store._run(sql, params)  # type: ignore[attr-defined]
        return rows

    def source(self, org: Organization, s_us: int | None, e_us: int | None,
               service: str | None) -> tuple[str, list[Any]]:
        """`<rows> WHERE <org> [AND window] [AND service]`: a FROM clause a statement may extend with AND."""
        sql = "logs_span WHERE org_id = %s"
        params: list[Any] = [org.pk]
        if s_us is not None:
            sql += " AND start_us >= %s"
            params.append(s_us)
        if e_us is not None:
            sql += " AND start_us < %s"
            params.append(e_us)
        if service is not None:
            sql += " AND service = %s"
            params.append(service)
        return sql, params

    def log_source(self, org: Organization, service: str) -> tuple[str, list[Any]]:
        return "logs_record WHERE org_id = %s AND service = %s", [org.pk, service]

    bucket = "(start_us - %s) / %s"

    def attr(self, key: str) -> str:
        raise NotImplementedError

    def endpoint(self) -> str:
        """`METHOD route` when the span has an http.route, else its name (NULLIF/|| propagate NULL)."""
        route, method, old_method = self.attr("http.route"), self.attr("http.request.method"), self.attr("http.method")
        return (f"CASE WHEN COALESCE({route}, '') <> '' THEN COALESCE(NULLIF({method}, '') || ' ', "
                f"NULLIF({old_method}, '') || ' ', '') || {route} ELSE name END")

    def grouped(self, base: str, nkeys: int) -> str:
        """Rows `k0..kN, n, errors, p50, p95, p99, dmax` of `base` (columns k0..kN, d, e) grouped by the keys."""
        raise NotImplementedError


def _keys(nkeys: int) -> str:
    return ", ".join(f"k{i}" for i in range(nkeys))


def _group_by(nkeys: int) -> str:
    return f" GROUP BY {_keys(nkeys)}" if nkeys else ""


class PostgresDialect(Dialect):
    def attr(self, key: str) -> str:
        return f"(attributes->>'{key}')"

    def endpoint(self) -> str:
        # Stored at ingest (a generated column of the same expression, logs_app/store/schema.py), so that
        # the covering indexes hold it and the aggregates never read the heap.
        return "endpoint"

    def grouped(self, base: str, nkeys: int) -> str:
        keys = _keys(nkeys) + ", " if nkeys else ""
        pcts = ", ".join(f"percentile_cont({q}) WITHIN GROUP (ORDER BY d) AS p{_pname(q)}" for q in QUANTILES)
        return f"SELECT {keys}count(*) AS n, sum(e) AS errors, {pcts}, max(d) AS dmax FROM ({base}) b{_group_by(nkeys)}"


class SQLiteDialect(Dialect):
    def attr(self, key: str) -> str:
        return f"json_extract(attributes, '$.\"{key}\"')"

    def grouped(self, base: str, nkeys: int) -> str:
        # Ordered-rank selection: r is a row's 0-based rank by duration in its group, c the group's size;
        # the quantile sits at h = (c - 1) * q, between ranks floor(h) and floor(h) + 1.
        keys = _keys(nkeys) + ", " if nkeys else ""
        part = f"PARTITION BY {_keys(nkeys)}" if nkeys else ""
        pcts = []
        for q in QUANTILES:
            h = f"((c - 1) * {q})"
            lo = f"CAST({h} AS INTEGER)"
            pcts.append(f"sum(CASE WHEN r = {lo} THEN d * (1 - ({h} - {lo})) WHEN r = {lo} + 1 THEN d * ({h} - {lo}) "
                        f"ELSE 0 END) AS p{_pname(q)}")
        ranked = (f"SELECT {keys}d, e, row_number() OVER ({part} ORDER BY d) - 1 AS r, count(*) OVER ({part}) AS c "
                  f"FROM ({base}) b")
        return (f"SELECT {keys}count(*) AS n, sum(e) AS errors, {', '.join(pcts)}, max(d) AS dmax "
                f"FROM ({ranked}) ranked{_group_by(nkeys)}")


class ClickHouseDialect(Dialect):
    bucket = "intDiv(start_us - %s, %s)"

    def attr(self, key: str) -> str:
        return f"JSONExtractString(attributes, '{key}')"

    def endpoint(self) -> str:
        route, method, old_method = self.attr("http.route"), self.attr("http.request.method"), self.attr("http.method")
        return (f"if({route} != '', concat(multiIf({method} != '', concat({method}, ' '), {old_method} != '', "
                f"concat({old_method}, ' '), ''), {route}), name)")

    def grouped(self, base: str, nkeys: int) -> str:
        keys = _keys(nkeys) + ", " if nkeys else ""
        levels = ", ".join(str(q) for q in QUANTILES)
        pcts = ", ".join(f"q[{i + 1}] AS p{_pname(q)}" for i, q in enumerate(QUANTILES))
        inner = (f"SELECT {keys}count() AS n, sum(e) AS errors, quantilesExactInclusive({levels})(d) AS q, "
                 f"max(d) AS dmax FROM ({base}) AS b{_group_by(nkeys)}")
        return f"SELECT {keys}n, errors, {pcts}, dmax FROM ({inner}) AS g"


class ClickHouseOtelDialect(ClickHouseDialect):
    """The Collector's tables, through the store's org-scoped view (clickhouse_otel.py `_view`)."""

    def attr(self, key: str) -> str:
        return f"attributes['{key}']"

    def source(self, org: Organization, s_us: int | None, e_us: int | None,
               service: str | None) -> tuple[str, list[Any]]:
        inner, inner_params = ("ServiceName = %s", [service]) if service is not None else ("", [])
        view, params = self.store._view("spans", org, s_us, e_us, inner, inner_params)  # type: ignore[attr-defined]
        return f"{view} AS s WHERE 1 = 1", list(params)

    def log_source(self, org: Organization, service: str) -> tuple[str, list[Any]]:
        view, params = self.store._view("logs", org, None, None, "ServiceName = %s", [service])  # type: ignore[attr-defined]
        return f"{view} AS l WHERE 1 = 1", list(params)


_DIALECTS: dict[str, type[Dialect]] = {"postgres": PostgresDialect, "sqlite": SQLiteDialect,
                                       "clickhouse": ClickHouseDialect, "clickhouse-otel": ClickHouseOtelDialect}


def _pname(q: float) -> str:
    return str(round(q * 100))


class UnsupportedStore(NotImplementedError):
    """A store adapter (Loki, Tempo) without service aggregates."""


# -- the aggregates ----------------------------------------------------------------------------------------

class ServiceStats:
    def __init__(self, dialect: Dialect) -> None:
        self.d = dialect

    def _grouped(self, org: Organization, start: datetime, end: datetime, service: str | None,
                 keys: Sequence[tuple[str, list[Any]]], *, entry_only: bool = True, where: str = "",
                 where_params: Sequence[Any] = (), order: str = "", limit: int | None = None) -> list[Grouped]:
        source, source_params = self.d.source(org, to_us(start), to_us(end), service)
        key_sql = "".join(f"{expr} AS k{i}, " for i, (expr, _) in enumerate(keys))
        key_params = [p for _, ps in keys for p in ps]
        cond = (f" AND {ENTRY}" if entry_only else "") + (f" AND {where}" if where else "")
        base = f"SELECT {key_sql}duration_ms AS d, {IS_ERROR} AS e FROM {source}{cond}"
        sql = f"SELECT * FROM ({self.d.grouped(base, len(keys))}) AS x"
        params: list[Any] = [*key_params, *source_params, *where_params]
        if order:
            sql += f" ORDER BY {order}"
        if limit is not None:
            sql += " LIMIT %s"
            params.append(limit)
        out = []
        for row in self.d.run(sql, params):
            nk = len(keys)
            n = int(row[nk] or 0)
            if n == 0:
                continue  # an aggregate without GROUP BY over no rows
            p50, p95, p99, dmax = (_num(v) for v in row[nk + 2:nk + 6])
            out.append(Grouped(tuple(row[:nk]), Latency(n, int(row[nk + 1] or 0), p50, p95, p99, dmax)))
        return out

    def services(self, org: Organization, start: datetime, end: datetime) -> list[tuple[str, Latency]]:
        """Each service that served a request in [start, end), with its numbers, by name."""
        rows = self._grouped(org, start, end, None, [("service", [])], order="k0")
        return [(str(g.keys[0]), g.latency) for g in rows]

    def totals(self, org: Organization, service: str, start: datetime, end: datetime) -> Latency:
        rows = self._grouped(org, start, end, service, [])
        return rows[0].latency if rows else EMPTY

    def series(self, org: Organization, service: str, start: datetime, end: datetime,
               buckets: int = 60) -> tuple[int, list[tuple[datetime, Latency]]]:
        """(step in µs, [(bucket start, numbers)]) over `buckets` equal slices; empty slices included."""
        s_us, e_us = to_us(start), to_us(end)
        step = max(1, -(-(e_us - s_us) // max(1, buckets)))
        rows = self._grouped(org, start, end, service, [(self.d.bucket, [s_us, step])])
        found = {int(g.keys[0]): g.latency for g in rows}
        return step, [(from_us(s_us + i * step), found.get(i, EMPTY)) for i in range(buckets)]

    def endpoints(self, org: Organization, start: datetime, end: datetime, service: str | None = None,
                  limit: int | None = None, by: str = "count", endpoint: str | None = None
                  ) -> list[tuple[str, str, Latency]]:
        """(service, endpoint, numbers) of requests; top `limit` by count (or by p95), ties by name."""
        order = "n DESC, k0, k1" if by == "count" else "p95 DESC, k0, k1"
        where, where_params = (f"{self.d.endpoint()} = %s", [endpoint]) if endpoint is not None else ("", [])
        rows = self._grouped(org, start, end, service, [("service", []), (self.d.endpoint(), [])], order=order,
                             limit=limit, where=where, where_params=where_params)
        return [(str(g.keys[0]), str(g.keys[1]), g.latency) for g in rows]

    def operations(self, org: Organization, service: str, start: datetime, end: datetime,
                   limit: int = 10) -> list[tuple[str, Latency]]:
        """Span names of the service (every span, not only requests), slowest p95 first."""
        rows = self._grouped(org, start, end, service, [("name", [])], entry_only=False,
                             order="p95 DESC, k0", limit=limit)
        return [(str(g.keys[0]), g.latency) for g in rows]

    def endpoint_histogram(self, org: Organization, service: str, endpoint: str, start: datetime, end: datetime,
                           bounds_ms: Sequence[float]) -> list[int]:
        """Requests of one endpoint per duration bucket: ≤ bounds[0], ≤ bounds[1], …, > bounds[-1]."""
        source, params = self.d.source(org, to_us(start), to_us(end), service)
        cumulative = ", ".join(f"sum(CASE WHEN duration_ms <= {float(b)!r} THEN 1 ELSE 0 END)" for b in bounds_ms)
        rows = self.d.run(f"SELECT count(*), {cumulative} FROM {source} AND {ENTRY} AND {self.d.endpoint()} = %s",
                          [*params, endpoint])
        total, *le = (int(v or 0) for v in rows[0]) if rows else (0, *([0] * len(bounds_ms)))
        counts, previous = [], 0
        for c in [*le, total]:
            counts.append(c - previous)
            previous = c
        return counts

    def requests(self, org: Organization, service: str, start: datetime, end: datetime, *, failed: bool,
                 limit: int = 10) -> list[RequestRow]:
        """The slowest requests of the service (failed=False), or its newest failed spans (failed=True)."""
        source, params = self.d.source(org, to_us(start), to_us(end), service)
        cond, order = ("status = 'error'", "start_us DESC") if failed else (ENTRY, "duration_ms DESC, start_us DESC")
        rows = self.d.run(f"SELECT trace_id, span_id, name, {self.d.endpoint()}, start_us, duration_ms, status "
                          f"FROM {source} AND {cond} ORDER BY {order} LIMIT %s", [*params, limit])
        return [RequestRow(str(t), str(s), str(n), str(ep), from_us(int(st)), float(d), str(status))
                for t, s, n, ep, st, d, status in rows]

    def exists(self, org: Organization, service: str) -> bool:
        """Whether the org has ever sent a span or a log record of this service (any time the store holds)."""
        source, params = self.d.source(org, None, None, service)
        if self.d.run(f"SELECT 1 FROM {source} LIMIT 1", params):
            return True
        source, params = self.d.log_source(org, service)
        return bool(self.d.run(f"SELECT 1 FROM {source} LIMIT 1", params))

    def service_map(self, org: Organization, start: datetime,
                    end: datetime) -> tuple[list[tuple[str, int, int]], list[tuple[str, str, int, int, float]]]:
        """Nodes (service, spans, errors) and edges (parent service, child service, calls, errors, avg ms):
        a call is a span whose parent span (in the window) ran in another service."""
        source, params = self.d.source(org, to_us(start), to_us(end), None)
        nodes = self.d.run(f"SELECT service, count(*), sum({IS_ERROR}) FROM {source} GROUP BY service "
                           "ORDER BY service", params)
        cols = "service, trace_id, span_id, parent_span_id, duration_ms, status"
        edges = self.d.run(
            f"SELECT p.service, c.service, count(*), sum(CASE WHEN c.status = 'error' THEN 1 ELSE 0 END), "
            f"avg(c.duration_ms) FROM (SELECT {cols} FROM {source} AND parent_span_id <> '') AS c "
            f"JOIN (SELECT {cols} FROM {source}) AS p ON p.trace_id = c.trace_id AND p.span_id = c.parent_span_id "
            "WHERE p.service <> c.service GROUP BY p.service, c.service ORDER BY p.service, c.service",
            [*params, *params])
        return ([(str(s), int(n), int(e or 0)) for s, n, e in nodes],
                [(str(a), str(b), int(n), int(e or 0), float(avg)) for a, b, n, e, avg in edges])


def _num(value: Any) -> float:
    if value is None:
        return 0.0
    f = float(value)
    return 0.0 if math.isnan(f) else f


def stats_for(store: LogStore) -> ServiceStats:
    dialect = _DIALECTS.get(store.name)
    if dialect is None:
        raise UnsupportedStore(f"The {store.name} store has no service aggregates.")
    return ServiceStats(dialect(store))
