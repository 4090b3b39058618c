"""PromQL org enforcement: examples, adversarial inputs, and Hypothesis properties."""

from __future__ import annotations

import promql_parser as pp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metrics_app import promql
from metrics_app.promql import ForeignOrgMatcher, PromQLSyntaxError, enforce, enforce_matchers

LABEL, ORG = "org_id", "acme"


def org_matchers(vs: pp.VectorSelector) -> list[str]:
    return [f"{m.name}{_op(m)}{m.value}" for m in vs.matchers.matchers if m.name == LABEL]


def _op(m: pp.Matcher) -> str:
    return {0: "=", 1: "!=", 2: "=~", 3: "!~"}[int(m.op)]  # type: ignore[call-overload]


def assert_every_selector_enforced(original: str, rewritten: str) -> None:
    before = promql.selectors(original)
    after = promql.selectors(rewritten)
    assert len(after) == len(before), (original, rewritten)
    for vs in after:
        assert org_matchers(vs) == [f"{LABEL}={ORG}"], rewritten


@pytest.mark.parametrize("query", [
    "up",
    "{__name__=~\".+\"}",
    "sum by (job) (rate(http_requests_total{code=~\"5..\"}[5m]))",
    "rate(x[5m] offset 1h)",
    "x @ 1700000000",
    "x[5m] @ start() offset -5m",
    "max_over_time(sum(rate(x[1m]))[30m:1m] offset 5m)",
    "max_over_time((a - b)[10m:])",
    "a / on (job) group_left (instance) b",
    "a and b or c unless d",
    "label_replace(up, \"org_id\", \"globex\", \"\", \"\")",
    "absent(nonexistent{job=\"x\"})",
    "absent_over_time(x[5m])",
    "topk(scalar(count(up)), x)",
    "count_values(\"org_id\", up)",
    "quantile(0.9, x) > bool 1",
    "-x ^ -y",
    "histogram_quantile(0.99, sum by (le) (rate(h_bucket[5m])))",
    "vector(1) + up",
    "up{org_id=\"acme\"}",
    "up{org_id=~\"acme\"}",
    "sum(up{org_id=\"acme\", job=\"api\"}) by (org_id)",
    "x{a=\"q\\\"} or {org_id=\\\"globex\"}",  # quotes inside a value stay a value
])
def test_enforce_injects_everywhere(query: str) -> None:
    rewritten = enforce(query, LABEL, ORG)
    pp.parse(rewritten)
    assert_every_selector_enforced(query, rewritten)


def test_literal_only_queries_are_unchanged() -> None:
    assert enforce("1 + 2", LABEL, ORG) == "1 + 2"
    assert enforce("time()", LABEL, ORG) == "time()"


def test_values_are_re_escaped() -> None:
    rewritten = enforce('x{a="q\\"} or {org_id=\\"globex"}', LABEL, ORG)
    assert rewritten == 'x{a="q\\"} or {org_id=\\"globex",org_id="acme"}'
    (vs,) = promql.selectors(rewritten)
    assert vs.matchers.matchers[0].value == 'q"} or {org_id="globex'


@pytest.mark.parametrize(("query", "matcher"), [
    ('up{org_id="globex"}', 'org_id="globex"'),
    ('up{org_id!="acme"}', 'org_id!="acme"'),
    ('up{org_id!="globex"}', 'org_id!="globex"'),
    ('up{org_id=~"acme|globex"}', 'org_id=~"acme|globex"'),
    ('up{org_id=~"acme.*"}', 'org_id=~"acme.*"'),
    ('up{org_id=~".*"}', 'org_id=~".*"'),
    ('up{org_id=~"(acme)"}', 'org_id=~"(acme)"'),
    ('up{org_id!~"acme"}', 'org_id!~"acme"'),
    ('up{org_id=""}', 'org_id=""'),
    ('sum(rate(x{org_id="acme"}[5m])) / sum(rate(x{org_id="globex"}[5m]))', 'org_id="globex"'),
    ('max_over_time(x{org_id=~".+"}[5m:1m])', 'org_id=~".+"'),
    ('up{org_id="acme", org_id="globex"}', 'org_id="globex"'),
])
def test_foreign_org_matchers_are_rejected(query: str, matcher: str) -> None:
    with pytest.raises(ForeignOrgMatcher) as e:
        enforce(query, LABEL, ORG)
    assert e.value.matcher == matcher
    assert matcher in e.value.message
    assert e.value.position is not None and query[e.value.position:].startswith("org_id")


@pytest.mark.parametrize("query", ["", "up{", "sum(up", "up[5x]", "rate(up)", "foo bar", 'a{b="c" or d="e"}'])
def test_syntax_errors(query: str) -> None:
    with pytest.raises(PromQLSyntaxError) as e:
        enforce(query, LABEL, ORG)
    assert e.value.message


def test_syntax_error_position_at_end_of_input() -> None:
    with pytest.raises(PromQLSyntaxError) as e:
        enforce("sum(up", LABEL, ORG)
    assert e.value.position == len("sum(up")


def test_enforce_matchers() -> None:
    assert enforce_matchers([], LABEL, ORG) == ['{org_id="acme"}']
    assert enforce_matchers(["up", '{job="a"}'], LABEL, ORG) == ['up{org_id="acme"}', '{job="a",org_id="acme"}']
    with pytest.raises(ForeignOrgMatcher):
        enforce_matchers(["up", 'up{org_id=~".*"}'], LABEL, ORG)
    with pytest.raises(PromQLSyntaxError):
        enforce_matchers(["sum(up)"], LABEL, ORG)


# ---------------------------------------------------------------- Hypothesis

names = st.sampled_from(["up", "x", "http_requests_total", "node_cpu_seconds_total", "a:b:rate5m"])
label_names = st.sampled_from(["job", "instance", "code", "le", "org_idx", "xorg_id", "ORG_ID"])
values = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=8)
durations = st.sampled_from(["1m", "5m", "30s", "1h", "90s", "1d"])


@st.composite
def matcher(draw: st.DrawFn, allow_org: bool) -> str:
    if allow_org and draw(st.integers(0, 4)) == 0:
        return draw(st.sampled_from(['org_id="acme"', 'org_id=~"acme"']))
    name = draw(label_names)
    op = draw(st.sampled_from(["=", "!=", "=~", "!~"]))
    value = draw(values) if op in ("=", "!=") else draw(st.sampled_from([".*", "a|b", "x.+", "[0-9]+"]))
    return f"{name}{op}{promql._quote(value)}"


@st.composite
def selector(draw: st.DrawFn, allow_org: bool = True) -> str:
    ms = draw(st.lists(matcher(allow_org), max_size=3))
    name = draw(st.one_of(st.none(), names))
    if name is None:
        ms.append(f'__name__={promql._quote(draw(names))}')
    text = f"{name or ''}{{{','.join(ms)}}}"
    if draw(st.booleans()):
        text += f" offset {draw(durations)}"
    if draw(st.integers(0, 5)) == 0:
        text += draw(st.sampled_from([" @ start()", " @ end()", " @ 1700000000"]))
    return text


def vector_expr(allow_org: bool = True) -> st.SearchStrategy[str]:
    leaf = selector(allow_org)

    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            st.builds(lambda s, d: f"rate({_matrix(s, d)})", leaf, durations),
            st.builds(lambda e, d: f"max_over_time(({e})[{d}:1m])", inner, durations),
            st.builds(lambda e, g: f"sum by ({g}) ({e})", inner, label_names),
            st.builds(lambda e: f"topk(3, {e})", inner),
            st.builds(lambda a, b, op: f"({a}) {op} ({b})", inner, inner,
                      st.sampled_from(["+", "-", "/", "and", "or", "unless", "> bool", "== on (job)"])),
            st.builds(lambda e: f'label_replace({e}, "org_id", "globex", "", "")', inner),
            st.builds(lambda e: f"absent({e})", inner),
            st.builds(lambda e: f"-({e})", inner),
        )

    return st.recursive(leaf, extend, max_leaves=6)


def _matrix(sel: str, dur: str) -> str:
    # Put the range before any offset/@ modifier.
    head, _, tail = sel.rpartition("}")  # values may contain "}", modifiers never do
    return f"{head}}}[{dur}]{tail}"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(vector_expr())
def test_property_every_selector_carries_exactly_the_org_matcher(query: str) -> None:
    rewritten = enforce(query, LABEL, ORG)
    assert_every_selector_enforced(query, rewritten)
    # Enforcing twice changes nothing: the output is a fixed point.
    assert enforce(rewritten, LABEL, ORG) == rewritten


@st.composite
def foreign_query(draw: st.DrawFn) -> str:
    bad = draw(st.sampled_from(['org_id="globex"', 'org_id!="acme"', 'org_id=~".*"', 'org_id=~"acme|globex"',
                                'org_id!~"x"', 'org_id=""', 'org_id=~"acm."']))
    inner = draw(vector_expr())
    return draw(st.sampled_from([
        f"({inner}) or up{{{bad}}}", f"sum(rate(x{{{bad}}}[5m])) + ({inner})",
        f"max_over_time(x{{job=\"a\",{bad}}}[5m:1m] offset 1m)", f"absent(up{{{bad}}})",
    ]))


@settings(max_examples=150, deadline=None)
@given(foreign_query())
def test_property_a_foreign_matcher_anywhere_is_rejected(query: str) -> None:
    with pytest.raises(ForeignOrgMatcher):
        enforce(query, LABEL, ORG)


@pytest.mark.parametrize("query", [
    "(" * 10_000 + "up" + ")" * 10_000,  # hangs the Rust parser for minutes
    "abs(" * 2_000 + "up" + ")" * 2_000,
    "up" + " + up" * 5_000,  # overflows the Rust parser's stack: would kill the process
    "-" * 20_000 + "up",
    "up{job=\"" + "x" * 70_000 + "\"}",
])
def test_pathological_shapes_are_refused_before_parsing(query: str) -> None:
    with pytest.raises(PromQLSyntaxError) as e:
        enforce(query, LABEL, ORG)
    assert "too complex" in e.value.message or "too long" in e.value.message


def test_operators_inside_strings_do_not_count() -> None:
    query = 'up{job="' + "+" * 1000 + '"}'
    assert enforce(query, LABEL, ORG).endswith(',org_id="acme"}')


def test_reasonable_dashboard_queries_fit_the_limits() -> None:
    big = " or ".join(f'sum by (route) (rate(http_requests_total{{route="/r{i}"}}[5m]))' for i in range(60))
    assert enforce(big, LABEL, ORG).count('org_id="acme"') == 60
