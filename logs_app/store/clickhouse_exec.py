"""The one seam between the ClickHouse store and the engine: `Executor`, run in process or over HTTP.

- `ChdbExecutor`: the engine in this process (`chdb`, ClickHouse as a library). One process at a time per
  data directory and one directory per process; for tests and single-process tools.
- `HttpExecutor`: a ClickHouse server or cluster through `clickhouse-connect` (HTTP).

Statements reach an executor with `{name:Type}` placeholders and a dict of values: ClickHouse's own
server-side query parameters, parsed by the engine as values of the declared type, never as SQL. chdb takes
the values as text in the TabSeparated escaped form (`escape_param`); clickhouse-connect escapes them itself.
`bind()` turns the `%s` fragments the search-language compiler produces into that form.

`LOGS_STORE_URL` picks one: `chdb:///path/to/dir` or `clickhouse://user:password@host:8123/db`
(`clickhouses://` for TLS).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

import orjson
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, OperationalError

Row = tuple[Any, ...]

# The output formats an export may ask for (the name is part of the statement's text, not a parameter).
EXPORT_FORMATS = frozenset({"CSV", "TabSeparatedRaw"})
EXPORT_SETTINGS = {"output_format_csv_crlf_end_of_line": 1, "max_threads": 1}  # RFC 4180 lines; one reader
GZIP_LEVEL = 3


class EngineError(DatabaseError):
    """The engine refused or failed a statement; `code` is ClickHouse's error code (0 when unknown).
    A DatabaseError, so callers answer it as they do the SQL stores' (the OTLP receiver: 503)."""

    def __init__(self, message: str, code: int = 0) -> None:
        super().__init__(message)
        self.code = code


class EngineUnavailable(EngineError, OperationalError):
    """The server could not be reached (an OperationalError, as a lost database connection is)."""


class Executor(Protocol):
    database: str

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        """Run one statement; the rows it returns (none for DDL)."""

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """One INSERT of all `rows` (one part on the server: atomic, and one merge's worth of work)."""

    def export_file(self, sql: str, params: Mapping[str, Any], fmt: str, path: Path, compress: bool) -> None:
        """Write the SELECT's rows to `path` in the engine's output format `fmt` (gzip when `compress`),
        streamed: neither side holds the result."""


def bind(sql: str, params: Sequence[Any]) -> tuple[str, dict[str, Any]]:
    """`%s` placeholders → `{pN:Type}` server-side parameters, typed from the Python values."""
    pieces = sql.split("%s")
    if len(pieces) - 1 != len(params):
        raise ValueError(f"{len(pieces) - 1} placeholders for {len(params)} parameters")
    out = [pieces[0]]
    values: dict[str, Any] = {}
    for i, (value, piece) in enumerate(zip(params, pieces[1:], strict=True)):
        name = f"p{i}"
        out.append(f"{{{name}:{_type_of(value)}}}{piece}")
        values[name] = value
    return "".join(out), values


def _type_of(value: Any) -> str:
    if isinstance(value, bool):
        return "Bool"
    if isinstance(value, int):
        return "Int64"
    if isinstance(value, float):
        return "Float64"
    if isinstance(value, str):
        return "String"
    raise TypeError(f"No ClickHouse parameter type for {type(value).__name__}")


def escape_param(value: Any) -> str:
    """A parameter value as chdb wants it: text in TabSeparated's escaped form."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    text = str(value)
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        text = text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return text


def _code_of(message: str) -> int:
    if message.startswith("Code: "):
        digits = message[6:].split(".", 1)[0]
        if digits.isdigit():
            return int(digits)
    marker = "Code: "
    at = message.find(marker)
    if at >= 0:
        digits = message[at + len(marker):].split(".", 1)[0]
        if digits.isdigit():
            return int(digits)
    return 0


class ChdbExecutor:
    """The engine in process. chdb's connection runs one statement at a time: a lock serialises threads."""

    _sessions: dict[str, Any] = {}  # one session per data directory, for the life of the process

    def __init__(self, path: str, database: str = "portal_logs") -> None:
        from chdb import session

        self.path = path
        self.database = database
        self._lock = threading.Lock()
        if path not in self._sessions:
            self._sessions[path] = session.Session(path)
            self._sessions[path].query("SET output_format_json_quote_64bit_integers = 0")
        self._session = self._sessions[path]
        # Statements name tables without their database, as on a server whose client has a database set.
        self.execute(f"CREATE DATABASE IF NOT EXISTS {database}")
        self.execute(f"USE {database}")

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        text = {k: escape_param(v) for k, v in (params or {}).items()}
        with self._lock:
            try:
                result = self._session.query(sql, "JSONCompactEachRow", params=text)
            except Exception as e:  # chdb raises RuntimeError / ChdbError with the engine's message
                raise EngineError(str(e), _code_of(str(e))) from e
            data = result.bytes() if result is not None else b""
        return [tuple(orjson.loads(line)) for line in data.splitlines() if line]

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        payload = b"".join(orjson.dumps(dict(zip(columns, r, strict=True))) + b"\n" for r in rows)
        with self._lock:
            try:
                inserter = self._session.send_insert(
                    f"INSERT INTO {self.database}.{table} ({', '.join(columns)})", "JSONEachRow")
                with inserter:
                    inserter.append(payload)
                    inserter.finish()
            except Exception as e:
                raise EngineError(str(e), _code_of(str(e))) from e

    def export_file(self, sql: str, params: Mapping[str, Any], fmt: str, path: Path, compress: bool) -> None:
        # INTO OUTFILE: the engine formats, compresses and writes the file itself, block by block.
        if fmt not in EXPORT_FORMATS:
            raise ValueError(f"unknown export format {fmt!r}")
        target = str(path).replace("\\", "\\\\").replace("'", "\\'")
        compression = f" COMPRESSION 'gzip' LEVEL {GZIP_LEVEL}" if compress else ""
        options = ", ".join(f"{k} = {v}" for k, v in EXPORT_SETTINGS.items())
        text = f"{sql} INTO OUTFILE '{target}' TRUNCATE{compression} FORMAT {fmt} SETTINGS {options}"
        self.execute(text, params)


class HttpExecutor:
    """A ClickHouse server over HTTP (clickhouse-connect). Kept thin: the store is tested through chdb."""

    def __init__(self, host: str, port: int, database: str, username: str = "default", password: str = "",
                 secure: bool = False) -> None:
        import clickhouse_connect

        self.database = database
        self._client = clickhouse_connect.get_client(
            host=host, port=port, username=username, password=password, secure=secure, database=database,
            settings={"async_insert": 1, "wait_for_async_insert": 1})

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        from clickhouse_connect.driver import exceptions

        try:
            result = self._client.query(sql, parameters=dict(params or {}))
        except exceptions.OperationalError as e:
            raise EngineUnavailable(str(e)) from e
        except exceptions.ClickHouseError as e:
            raise EngineError(str(e), _code_of(str(e))) from e
        return [tuple(r) for r in result.result_rows]

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        from clickhouse_connect.driver import exceptions

        if not rows:
            return
        try:
            self._client.insert(table, [list(r) for r in rows], column_names=list(columns), database=self.database)
        except exceptions.OperationalError as e:
            raise EngineUnavailable(str(e)) from e
        except exceptions.ClickHouseError as e:
            raise EngineError(str(e), _code_of(str(e))) from e

    def export_file(self, sql: str, params: Mapping[str, Any], fmt: str, path: Path, compress: bool) -> None:
        # The server formats and streams the rows (compressed on the wire); the file is written as they come.
        import gzip

        from clickhouse_connect.driver import exceptions

        if fmt not in EXPORT_FORMATS:
            raise ValueError(f"unknown export format {fmt!r}")
        try:
            stream = self._client.raw_stream(sql, parameters=dict(params), settings=EXPORT_SETTINGS, fmt=fmt)
            with gzip.open(path, "wb", compresslevel=GZIP_LEVEL) if compress else open(path, "wb") as out:
                for chunk in stream:  # raw bytes as the server sends them
                    out.write(chunk)
        except exceptions.OperationalError as e:
            raise EngineUnavailable(str(e)) from e
        except exceptions.ClickHouseError as e:
            raise EngineError(str(e), _code_of(str(e))) from e


def parse_store_url(url: str) -> tuple[str, dict[str, Any]]:
    """("chdb", {path, database}) or ("http", {host, port, database, username, password, secure}) from
    `chdb:///abs/path[?database=name]` or `clickhouse[s]://[user[:password]@]host[:port]/database`."""
    parts = urlsplit(url)
    if parts.scheme == "chdb":
        if not parts.path.startswith("/") or parts.netloc:
            raise ImproperlyConfigured(f"LOGS_STORE_URL={url!r}: expected chdb:///absolute/path/to/dir")
        query = dict(p.split("=", 1) for p in parts.query.split("&") if "=" in p)
        return "chdb", {"path": unquote(parts.path),
                        "database": _database_name(query.get("database", "portal_logs"), url)}
    if parts.scheme in ("clickhouse", "clickhouses"):
        if not parts.hostname:
            raise ImproperlyConfigured(f"LOGS_STORE_URL={url!r}: the server's host is missing")
        secure = parts.scheme == "clickhouses"
        return "http", {"host": parts.hostname, "port": parts.port or (8443 if secure else 8123),
                        "database": _database_name(parts.path.strip("/") or "portal_logs", url),
                        "username": unquote(parts.username or "default"),
                        "password": unquote(parts.password or ""), "secure": secure}
    raise ImproperlyConfigured(f"LOGS_STORE_URL={url!r}: the scheme must be chdb, clickhouse or clickhouses")


def executor_from_url(url: str) -> Executor:
    kind, options = parse_store_url(url)
    return ChdbExecutor(**options) if kind == "chdb" else HttpExecutor(**options)


def _database_name(name: str, url: str) -> str:
    # The database name is part of every statement's text (it cannot be a parameter): letters only.
    if not name.replace("_", "").isalnum() or not name.isascii():
        raise ImproperlyConfigured(f"LOGS_STORE_URL={url!r}: database name {name!r} must be letters, digits, _")
    return name
