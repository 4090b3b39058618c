"""The allow-list for Go templates in org-owned rule labels and annotations.

Prometheus expands every label value and annotation of an alerting rule as a Go `text/template`, and its
`query` function runs PromQL with no org matcher: a template could read any org's series. An org's rule
may therefore only *format* what its own rule produced. This module lexes the template the way Go's
`text/template/parse` lexer does and accepts only:

- text and comments (`{{/* … */}}`), with `{{-` / `-}}` trim markers;
- `$value`, `$labels`, `$externalLabels`, and `$labels.<name>` / `$externalLabels.<name>`;
- string, raw-string, character, number and boolean literals;
- calls and pipelines (`|`, parentheses) of the pure functions in `ALLOWED_FUNCTIONS`;
- `if` / `else` / `else if` / `end` over such pipelines.

Everything else is refused, fail-closed: any other function or identifier (`query`, `first`, `value`,
`label`, `sortByLabel`, `args`, `tmpl`, `safeHtml`, `externalURL`, `pathPrefix`, `graphLink`, `call`, …),
the keywords `with`, `range`, `define`, `template`, `block`, `break`, `continue` and `nil`, variable
declarations and assignments, the dot and its fields, other variables (`$`, `$externalURL`, `$x`),
numbers in other spellings, and any character the lexer cannot classify. Output stays bounded: a `printf`
format must be a literal without argument indexes, `*` or a width/precision above 99, and a field holds
at most one `reReplaceAll`, whose replacement is a literal.

Rules are always owned by an organization (there is no platform-owned rule row), so every rule row goes
through this check; platform rules with full templates belong in Prometheus' own rule files.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

ALLOWED_FUNCTIONS = frozenset({
    # Prometheus formatting helpers: pure functions of their argument.
    "humanize", "humanize1024", "humanizeDuration", "humanizePercentage", "humanizeTimestamp",
    "title", "toUpper", "toLower", "match", "reReplaceAll",
    # Go builtins that only format or compare the values above.
    "printf", "print", "index", "eq", "ne", "lt", "le", "gt", "ge", "and", "or", "not",
})
ALLOWED_VARIABLES = frozenset({"$value", "$labels", "$externalLabels"})
MAP_VARIABLES = frozenset({"$labels", "$externalLabels"})
REFUSED_KEYWORDS = frozenset({"with", "range", "define", "template", "block", "break", "continue", "nil"})
MAX_PRINTF_WIDTH = 99

_SPACE = " \t\r\n"
_NUMBER_RE = re.compile(r"[+-]?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
_PRINTF_VERB_RE = re.compile(r"%([-+# 0]*)(\d*)(?:\.(\d*))?([a-zA-Z%]?)")


class TemplateRefused(ValueError):
    """A template an org's rule may not carry; `position` is a 0-based offset into the field's text."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} (at position {position})")
        self.message = f"{message} (at position {position})"
        self.reason = message
        self.position = position


@dataclass(frozen=True)
class _Token:
    kind: str  # STRING RAW CHAR NUMBER BOOL VAR FIELD IDENT PIPE LPAREN RPAREN
    value: str
    position: int
    spaced: bool  # whitespace right before it (Go chains `.field` only onto an adjacent term)


def _is_alnum(c: str) -> bool:
    return c == "_" or c.isalnum()


def _scan_quoted(text: str, i: int, quote: str) -> int:
    """Index of the closing quote, or of the newline/end where Go would report it unterminated."""
    n = len(text)
    while i < n and text[i] not in (quote, "\n"):
        if text[i] == "\\":
            if i + 1 >= n or text[i + 1] == "\n":
                return n
            i += 1
        i += 1
    return i


def _at_right_delim(text: str, i: int) -> int:
    """Length of the closing delimiter (with its trim marker) starting at i, or 0."""
    if text.startswith("}}", i):
        return 2
    if i < len(text) and text[i] in _SPACE and text.startswith("-}}", i + 1):
        return 4
    return 0


def _lex_action(text: str, start: int) -> tuple[list[_Token], int]:
    """Tokens of the action whose content starts at `start`; returns them and the index after `}}`."""
    tokens: list[_Token] = []
    i, n, spaced = start, len(text), False
    while True:
        if i >= n:
            raise TemplateRefused("unclosed action: '{{' without '}}'", start)
        if close := _at_right_delim(text, i):
            return tokens, i + close
        c = text[i]
        if c in _SPACE:
            i, spaced = i + 1, True
            continue
        begin = i
        if c == '"':
            i = _scan_quoted(text, i + 1, '"')
            if i >= n or text[i] != '"':
                raise TemplateRefused("unterminated string", begin)
            tokens.append(_Token("STRING", text[begin:i + 1], begin, spaced))
            i += 1
        elif c == "`":
            end = text.find("`", i + 1)
            if end < 0:
                raise TemplateRefused("unterminated raw string", begin)
            tokens.append(_Token("RAW", text[begin:end + 1], begin, spaced))
            i = end + 1
        elif c == "'":
            i = _scan_quoted(text, i + 1, "'")
            if i >= n or text[i] != "'":
                raise TemplateRefused("unterminated character constant", begin)
            tokens.append(_Token("CHAR", text[begin:i + 1], begin, spaced))
            i += 1
        elif c == "$":
            i += 1
            while i < n and _is_alnum(text[i]):
                i += 1
            tokens.append(_Token("VAR", text[begin:i], begin, spaced))
        elif c == ".":
            i += 1
            while i < n and _is_alnum(text[i]):
                i += 1
            tokens.append(_Token("FIELD", text[begin:i], begin, spaced))
        elif c in "+-" or c.isdigit():
            m = _NUMBER_RE.match(text, i)
            if m is None or (m.end() < n and (_is_alnum(text[m.end()]) or text[m.end()] == ".")):
                raise TemplateRefused("only plain decimal numbers are allowed", begin)
            tokens.append(_Token("NUMBER", m.group(), begin, spaced))
            i = m.end()
        elif _is_alnum(c):
            while i < n and _is_alnum(text[i]):
                i += 1
            word = text[begin:i]
            tokens.append(_Token("BOOL" if word in ("true", "false") else "IDENT", word, begin, spaced))
        elif c == "|":
            tokens.append(_Token("PIPE", c, begin, spaced))
            i += 1
        elif c == "(":
            tokens.append(_Token("LPAREN", c, begin, spaced))
            i += 1
        elif c == ")":
            tokens.append(_Token("RPAREN", c, begin, spaced))
            i += 1
        elif c in ":=":
            raise TemplateRefused("variable declarations and assignments are not allowed", begin)
        else:
            raise TemplateRefused(f"unexpected {c!r} in a template action", begin)
        spaced = False


class _Pipeline:
    """Recursive descent over one action's tokens: pipeline := command ('|' command)*; command :=
    operand+; operand := literal | allowed variable [.name] | allowed function | '(' pipeline ')'."""

    def __init__(self, tokens: list[_Token], end_position: int) -> None:
        self.tokens = tokens
        self.i = 0
        self.end_position = end_position
        self.rewrites = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def where(self) -> int:
        tok = self.peek()
        return tok.position if tok else self.end_position

    def pipeline(self) -> None:
        self.command()
        while (tok := self.peek()) is not None and tok.kind == "PIPE":
            self.i += 1
            self.command()

    def command(self) -> None:
        first = self.i
        while (tok := self.peek()) is not None and tok.kind not in ("PIPE", "RPAREN"):
            self.operand()
        if self.i == first:
            raise TemplateRefused("missing value in a template action", self.where())
        head = self.tokens[first]
        if head.kind == "IDENT" and head.value == "printf":
            self._check_printf(first)
        if head.kind == "IDENT" and head.value == "reReplaceAll":
            self._check_replacement(first)

    def operand(self) -> None:
        tok = self.tokens[self.i]
        self.i += 1
        if tok.kind in ("STRING", "RAW", "CHAR", "NUMBER", "BOOL"):
            pass
        elif tok.kind == "VAR":
            if tok.value not in ALLOWED_VARIABLES:
                raise TemplateRefused(f"variable {tok.value or '$'!r} is not allowed; use $value, $labels "
                                      "or $externalLabels", tok.position)
            nxt = self.peek()
            if nxt is not None and nxt.kind == "FIELD" and not nxt.spaced:
                if tok.value not in MAP_VARIABLES or len(nxt.value) < 2:
                    raise TemplateRefused(f"{tok.value}{nxt.value} is not allowed", nxt.position)
                self.i += 1
        elif tok.kind == "IDENT":
            if tok.value in ("if", "else", "end") or tok.value in REFUSED_KEYWORDS:
                raise TemplateRefused(f"{tok.value!r} is not allowed here", tok.position)
            if tok.value not in ALLOWED_FUNCTIONS:
                raise TemplateRefused(f"template function {tok.value!r} is not allowed in an organization's "
                                      "rule; only formatting functions are (humanize*, printf, title, "
                                      "toUpper, toLower, match, reReplaceAll, index, comparisons)", tok.position)
        elif tok.kind == "LPAREN":
            self.pipeline()
            close = self.peek()
            if close is None or close.kind != "RPAREN":
                raise TemplateRefused("missing ')'", self.where())
            self.i += 1
        elif tok.kind == "FIELD":
            raise TemplateRefused(f"{tok.value!r}: the template's data is not allowed; use $value, $labels "
                                  "or $externalLabels", tok.position)
        else:
            raise TemplateRefused(f"unexpected {tok.value!r}", tok.position)
        nxt = self.peek()
        if nxt is not None and nxt.kind == "FIELD" and not nxt.spaced:
            raise TemplateRefused(f"field access {nxt.value!r} is not allowed here", nxt.position)

    def _literal_arg(self, head: int, what: str) -> _Token:
        arg = self.tokens[head + 1] if head + 1 < len(self.tokens) else None
        if arg is None or arg.kind not in ("STRING", "RAW"):
            where = arg.position if arg else self.tokens[head].position
            raise TemplateRefused(f"the {what} of {self.tokens[head].value} must be a string literal", where)
        return arg

    def _check_printf(self, head: int) -> None:
        fmt = self._literal_arg(head, "format")
        for m in _PRINTF_VERB_RE.finditer(fmt.value):
            width, precision = m.group(2) or "0", m.group(3) or "0"
            if int(width) > MAX_PRINTF_WIDTH or int(precision) > MAX_PRINTF_WIDTH:
                raise TemplateRefused(f"printf widths and precisions above {MAX_PRINTF_WIDTH} are not allowed",
                                      fmt.position)
        if any(c in fmt.value for c in "*[\\"):
            raise TemplateRefused("printf formats with '*', argument indexes or escapes are not allowed",
                                  fmt.position)

    def _check_replacement(self, head: int) -> None:
        self.rewrites += 1
        if head + 2 >= len(self.tokens) or self.tokens[head + 2].kind not in ("STRING", "RAW"):
            raise TemplateRefused("the replacement of reReplaceAll must be a string literal",
                                  self.tokens[head].position)


def check_template(text: str) -> None:
    """Raise TemplateRefused unless every action of `text` is on the allow-list."""
    i, n = 0, len(text)
    open_ifs: list[int] = []
    rewrites = 0
    while True:
        left = text.find("{{", i)
        if left < 0:
            break
        j = left + 2
        if j + 1 < n and text[j] == "-" and text[j + 1] in _SPACE:
            j += 2
        if text.startswith("/*", j):
            close = text.find("*/", j + 2)
            if close < 0:
                raise TemplateRefused("unclosed comment", left)
            after = close + 2
            if not (delim := _at_right_delim(text, after)):
                raise TemplateRefused("a comment must end right before '}}'", after)
            i = after + delim
            continue
        tokens, i = _lex_action(text, j)
        if not tokens:
            raise TemplateRefused("empty action", left)
        head = tokens[0]
        body = tokens
        if head.kind == "IDENT" and head.value == "end":
            if len(tokens) > 1:
                raise TemplateRefused("'end' takes nothing after it", tokens[1].position)
            if not open_ifs:
                raise TemplateRefused("'end' without 'if'", head.position)
            open_ifs.pop()
            continue
        if head.kind == "IDENT" and head.value == "else":
            if not open_ifs:
                raise TemplateRefused("'else' without 'if'", head.position)
            if len(tokens) == 1:
                continue
            if tokens[1].kind != "IDENT" or tokens[1].value != "if":
                raise TemplateRefused("only 'else' and 'else if' are allowed", tokens[1].position)
            body = tokens[2:]
        elif head.kind == "IDENT" and head.value == "if":
            open_ifs.append(head.position)
            body = tokens[1:]
        elif head.kind == "IDENT" and head.value in REFUSED_KEYWORDS:
            raise TemplateRefused(f"'{head.value}' is not allowed in an organization's rule", head.position)
        if not body:
            raise TemplateRefused("missing condition", head.position)
        parser = _Pipeline(body, i)
        parser.pipeline()
        if parser.i != len(body):
            raise TemplateRefused("unbalanced ')'", body[parser.i].position)
        rewrites += parser.rewrites
        if rewrites > 1:
            raise TemplateRefused("at most one reReplaceAll per field", head.position)
    if open_ifs:
        raise TemplateRefused("'if' without 'end'", open_ifs[-1])


def refused_templates(labels: Mapping[str, object], annotations: Mapping[str, object]
                      ) -> tuple[str, str, TemplateRefused] | None:
    """The first label or annotation whose template is refused: (field, key, error), or None."""
    for field, values in (("labels", labels), ("annotations", annotations)):
        for key, value in values.items():
            try:
                if not isinstance(value, str):
                    raise TemplateRefused("must be text", 0)
                check_template(value)
            except TemplateRefused as exc:
                return field, str(key), exc
    return None
