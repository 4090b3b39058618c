"""The search language's syntax tree: what the parser produces and every store compiles.

A Loki/Tempo adapter walks the same nodes. Positions are 0-based character offsets in the query.
"""

from __future__ import annotations

from dataclasses import dataclass

COMPARISONS = (">", ">=", "<", "<=")
OPERATORS = ("=", "!=", "~", "!~", *COMPARISONS)


@dataclass(frozen=True)
class Text:
    """Full text: a bare word or a quoted phrase, matched case-insensitively as a substring of the body."""

    value: str
    position: int
    phrase: bool = False


@dataclass(frozen=True)
class Field:
    """`name op value`. For numeric comparisons `number` holds the value (durations in milliseconds) and
    `unit` the literal's unit when it had one (`500ms` → 500.0, "ms"; `500` → 500.0, None). Which attributes
    a duration comparison reads: logs_app/query/durations.py."""

    name: str
    op: str
    value: str
    position: int
    number: float | None = None
    unit: str | None = None


@dataclass(frozen=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    child: Node


@dataclass(frozen=True)
class MatchAll:
    """The empty query."""


Node = Text | Field | And | Or | Not | MatchAll
