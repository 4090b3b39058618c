"""Parser for the log search language (reference: docs/logs.md).

    query   := or_expr?
    or_expr := and_expr ("OR" and_expr)*
    and_expr:= unary (("AND")? unary)*          -- juxtaposition is AND
    unary   := ("NOT" | "-") unary | primary
    primary := "(" or_expr ")" | field | text
    field   := NAME op value                     -- op: = != ~ !~ > >= < <=
    text    := WORD | "quoted phrase"

Keywords are upper case; `and`/`or`/`not` in lower case are plain words. Errors raise QueryError with
the position of the offending character.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from logs_app.query.ast import COMPARISONS, And, Field, MatchAll, Node, Not, Or, Text
from logs_app.query.durations import UNITS_TEXT, DurationLiteralError, parse_literal
from logs_app.query.errors import QueryError

MAX_QUERY_LENGTH = 4000
MAX_DEPTH = 50
_OP_CHARS = "=!~<>"
_STOP = set(" \t\r\n()\"") | set(_OP_CHARS)
_FIELD_NAME = re.compile(r"^[A-Za-z_@][A-Za-z0-9_.\-@/]*\Z")


@dataclass(frozen=True)
class Token:
    kind: str  # WORD, STRING, OP, LPAREN, RPAREN, AND, OR, NOT, MINUS, EOF
    value: str
    position: int


def tokenize(q: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(q)
    while i < n:
        c = q[i]
        if c.isspace():
            i += 1
        elif c == "(":
            tokens.append(Token("LPAREN", c, i))
            i += 1
        elif c == ")":
            tokens.append(Token("RPAREN", c, i))
            i += 1
        elif c == '"':
            start, i, buf = i, i + 1, []
            while i < n and q[i] != '"':
                if q[i] == "\\" and i + 1 < n:
                    i += 1
                buf.append(q[i])
                i += 1
            if i >= n:
                raise QueryError("Unterminated quoted string", start, q)
            tokens.append(Token("STRING", "".join(buf), start))
            i += 1
        elif c in _OP_CHARS:
            two = q[i:i + 2]
            op = two if two in ("!=", "!~", ">=", "<=") else c
            if op == "!":
                raise QueryError("Expected '!=' or '!~'", i, q)
            tokens.append(Token("OP", op, i))
            i += len(op)
        elif c == "-" and (not tokens or tokens[-1].kind != "OP") and i + 1 < n and not q[i + 1].isspace() \
                and not q[i + 1].isdigit():
            tokens.append(Token("MINUS", c, i))
            i += 1
        else:
            start = i
            while i < n and q[i] not in _STOP:
                i += 1
            word = q[start:i]
            prev_is_op = bool(tokens) and tokens[-1].kind == "OP"
            kind = word if word in ("AND", "OR", "NOT") and not prev_is_op else "WORD"
            tokens.append(Token(kind, word, start))
    tokens.append(Token("EOF", "", n))
    return tokens


class _Parser:
    def __init__(self, q: str) -> None:
        self.q = q
        self.tokens = tokenize(q)
        self.i = 0
        self.depth = 0

    def peek(self, offset: int = 0) -> Token:
        return self.tokens[min(self.i + offset, len(self.tokens) - 1)]

    def take(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def fail(self, message: str, tok: Token) -> QueryError:
        return QueryError(message, tok.position, self.q)

    def parse(self) -> Node:
        if self.peek().kind == "EOF":
            return MatchAll()
        node = self.or_expr()
        tok = self.peek()
        if tok.kind == "RPAREN":
            raise self.fail("Unbalanced ')'", tok)
        if tok.kind != "EOF":
            raise self.fail(f"Unexpected {tok.value!r}", tok)
        return node

    def or_expr(self) -> Node:
        parts = [self.and_expr()]
        while self.peek().kind == "OR":
            self.take()
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else Or(tuple(parts))

    def and_expr(self) -> Node:
        parts = [self.unary()]
        while True:
            tok = self.peek()
            if tok.kind == "AND":
                self.take()
                parts.append(self.unary())
            elif tok.kind in ("WORD", "STRING", "LPAREN", "NOT", "MINUS"):
                parts.append(self.unary())
            else:
                break
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def unary(self) -> Node:
        tok = self.peek()
        if tok.kind in ("NOT", "MINUS"):
            self.take()
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise self.fail("Query nested too deeply", tok)
            child = self.unary()
            self.depth -= 1
            return Not(child)
        return self.primary()

    def primary(self) -> Node:
        tok = self.peek()
        if tok.kind == "LPAREN":
            self.take()
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise self.fail("Query nested too deeply", tok)
            if self.peek().kind == "RPAREN":
                raise self.fail("Empty parentheses", self.peek())
            node = self.or_expr()
            close = self.peek()
            if close.kind != "RPAREN":
                raise self.fail(f"Missing ')' to close the '(' at position {tok.position}", close)
            self.take()
            self.depth -= 1
            return node
        if tok.kind == "STRING":
            self.take()
            if not tok.value.strip():
                raise self.fail("Empty phrase", tok)
            return Text(tok.value, tok.position, phrase=True)
        if tok.kind == "WORD":
            self.take()
            if self.peek().kind == "OP":
                return self.field(tok)
            return Text(tok.value, tok.position)
        if tok.kind == "EOF":
            raise self.fail("Unexpected end of query", tok)
        if tok.kind == "OP":
            raise self.fail(f"Operator {tok.value!r} needs a field name before it", tok)
        if tok.kind == "RPAREN":
            raise self.fail("Unbalanced ')'", tok)
        raise self.fail(f"Unexpected {tok.value!r}", tok)

    def field(self, name_tok: Token) -> Field:
        op = self.take()
        if not _FIELD_NAME.match(name_tok.value):
            raise self.fail(f"Invalid field name {name_tok.value!r}", name_tok)
        value_tok = self.peek()
        if value_tok.kind not in ("WORD", "STRING"):
            raise self.fail(f"Expected a value after {op.value!r}", value_tok)
        self.take()
        value = value_tok.value
        number: float | None = None
        unit: str | None = None
        if op.value in COMPARISONS and name_tok.value.lower() != "level":
            # (level comparisons use the severity order, checked by the compiler)
            try:
                literal = parse_literal(value) if value_tok.kind == "WORD" else None
            except DurationLiteralError as e:
                raise self.fail(str(e), value_tok) from e
            if literal is None:
                raise self.fail(f"{op.value!r} needs a number or a duration such as 500ms (units: {UNITS_TEXT}), "
                                f"got {value!r}", value_tok)
            number, unit = literal.ms(), literal.unit
        elif op.value in ("~", "!~"):
            try:
                re.compile(value)
            except re.error as e:
                raise self.fail(f"Invalid regular expression: {e.msg}", value_tok) from e
        return Field(name_tok.value.lower(), op.value, value, name_tok.position, number, unit)


def parse(q: str) -> Node:
    """Parse a query string into an AST; raises QueryError with the position of the problem."""
    if len(q) > MAX_QUERY_LENGTH:
        raise QueryError(f"Query longer than {MAX_QUERY_LENGTH} characters", MAX_QUERY_LENGTH, q[:80])
    return _Parser(q).parse()


def split_org_terms(node: Node) -> tuple[Node, list[Field]]:
    """Take top-level `org=` terms out of the query (the service decides who may use them).

    `org=` anywhere else (inside OR or NOT, or with another operator) is an error: the org of a search
    is one value, never a condition."""
    parts = list(node.children) if isinstance(node, And) else [node]
    orgs = [p for p in parts if isinstance(p, Field) and p.name == "org"]
    rest = [p for p in parts if not (isinstance(p, Field) and p.name == "org")]
    for o in orgs:
        if o.op != "=":
            raise QueryError("org supports only '='", o.position)
    for p in rest:
        bad = _find_org(p)
        if bad is not None:
            raise QueryError("org= may only appear as a top-level AND term", bad.position)
    remaining: Node = MatchAll() if not rest else rest[0] if len(rest) == 1 else And(tuple(rest))
    return remaining, orgs


def _find_org(node: Node) -> Field | None:
    if isinstance(node, Field):
        return node if node.name == "org" else None
    if isinstance(node, (And, Or)):
        for c in node.children:
            found = _find_org(c)
            if found:
                return found
    if isinstance(node, Not):
        return _find_org(node.child)
    return None
