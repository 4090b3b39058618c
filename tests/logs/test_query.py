"""The search language: parse trees, SQL shapes for both engines, and errors with positions."""

from __future__ import annotations

import pytest

from logs_app.query import QueryError, parse, split_org_terms
from logs_app.query.ast import And, Field, MatchAll, Not, Or, Text
from logs_app.query.sql import compile_query


def test_field_filters_and_implicit_and() -> None:
    node = parse("level=error service=api-router user=42 correlation_id=req-9f")
    assert isinstance(node, And)
    assert [(f.name, f.op, f.value) for f in node.children if isinstance(f, Field)] == [
        ("level", "=", "error"), ("service", "=", "api-router"), ("user", "=", "42"), ("correlation_id", "=", "req-9f")]


def test_numeric_comparisons_with_units_in_milliseconds() -> None:
    node = parse("latency>500ms status>=500 duration<1.5s")
    assert isinstance(node, And)
    numbers = [c.number for c in node.children if isinstance(c, Field)]
    assert numbers == [500.0, 500.0, 1500.0]


def test_text_phrases_or_not_minus_parentheses_regex() -> None:
    node = parse('auth_failure OR "connection reset" -level=debug NOT (a OR b) body~"conn.*reset"')
    assert isinstance(node, Or)
    assert node.children[0] == Text("auth_failure", 0)
    rest = node.children[1]
    assert isinstance(rest, And)
    assert rest.children[0] == Text("connection reset", 16, phrase=True)
    assert isinstance(rest.children[1], Not)
    assert isinstance(rest.children[2], Not) and isinstance(rest.children[2].child, Or)
    assert rest.children[3] == Field("body", "~", "conn.*reset", 61)


def test_and_keyword_and_lowercase_words() -> None:
    assert parse("a AND b") == And((Text("a", 0), Text("b", 6)))
    assert parse("error and timeout") == And((Text("error", 0), Text("and", 6), Text("timeout", 10)))
    assert parse("") == MatchAll()
    assert parse("   ") == MatchAll()


@pytest.mark.parametrize(("query", "position", "fragment"), [
    ("level=", 6, "Expected a value"),
    ("(level=error OR x", 17, "Missing ')'"),
    ("level=error)", 11, "Unbalanced ')'"),
    ("latency>fast", 8, "needs a number"),
    ('body~"("', 5, "Invalid regular expression"),
    ('"unterminated', 0, "Unterminated"),
    ("=error", 0, "needs a field name"),
    ("a OR", 4, "Unexpected end"),
    ("()", 1, "Empty parentheses"),
    ("a ! b", 2, "Expected '!='"),
])
def test_errors_carry_positions(query: str, position: int, fragment: str) -> None:
    with pytest.raises(QueryError) as e:
        parse(query)
    assert e.value.position == position
    assert fragment in e.value.message
    assert e.value.details()["caret"].index("^") == position


def test_unknown_level_is_an_error_at_compile_time() -> None:
    with pytest.raises(QueryError) as e:
        compile_query("level=loud", "sqlite")
    assert e.value.position == 0


def test_values_never_reach_sql_text() -> None:
    evil = "x'; DROP TABLE logs_record; --"
    for vendor in ("postgresql", "sqlite"):
        sql, params = compile_query(f'service="{evil}" "{evil}" attr.k="{evil}"', vendor)
        assert "DROP" not in sql
        assert evil in params


def test_level_comparison_uses_severity_order() -> None:
    sql, params = compile_query("level>=warn", "sqlite")
    assert params == ["warn", "error", "fatal"]
    sql, params = compile_query("level=warning", "postgresql")
    assert params == ["warn"]


def test_like_wildcards_are_escaped() -> None:
    _, params = compile_query("100%_done", "postgresql")
    assert params == ["%100\\%\\_done%"]


def test_org_terms_split_only_at_top_level() -> None:
    rest, orgs = split_org_terms(parse("org=globex level=error"))
    assert [o.value for o in orgs] == ["globex"]
    assert rest == Field("level", "=", "error", 11)
    with pytest.raises(QueryError) as e:
        split_org_terms(parse("level=error OR org=globex"))
    assert e.value.position == 15
    with pytest.raises(QueryError):
        split_org_terms(parse("-org=globex"))


def test_nesting_and_length_are_bounded() -> None:
    with pytest.raises(QueryError):
        parse("(" * 200 + "a" + ")" * 200)
    with pytest.raises(QueryError):
        parse("a " * 3000)


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_ALPHABET = st.sampled_from(list('abz019 _-.:"\\()=!~<>ANDORNT%\x00é\t') + ["AND", "OR", "NOT", "level", "ms"])


@settings(max_examples=400, deadline=None)
@given(st.lists(_ALPHABET, max_size=30).map("".join))
def test_any_input_parses_or_fails_with_a_position(q: str) -> None:
    try:
        node = parse(q)
        for vendor in ("postgresql", "sqlite"):
            sql, params = compile_query(node, vendor)
            assert sql.count("%s") == len(params)
    except QueryError as e:
        assert 0 <= e.position <= len(q)
