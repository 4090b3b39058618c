"""The error vocabulary is closed: every code written in the sources is registered (portal/error_codes.py)
with the status it is used with, and docs/api-errors.md lists exactly the registry."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from portal import error_codes
from tests import source_ast

ROOT = Path(__file__).resolve().parents[2]
# Calls whose (status, code) are their first two arguments.
ERROR_CALLS = {"ServiceError", "json_error", "error_body", "prom_error"}
# Form and serializer validation codes never reach the API: DRF's handler answers them as `invalid`.
NOT_API_CODES = {"ValidationError"}
CODE_SHAPE = re.compile(r"[a-z]+(?:_[a-z]+)*\Z")


def _sources() -> list[Path]:
    files = [*ROOT.glob("portal/**/*.py"), *ROOT.glob("*_app/**/*.py")]
    return sorted(f for f in files if "migrations" not in f.parts)


def _name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def _literal(node: ast.expr | None) -> object:
    return node.value if isinstance(node, ast.Constant) else None


def _strings(node: ast.expr) -> list[str]:
    """The string literals a code expression can evaluate to: `"x"`, `code or "x"`, `"x" if c else "y"`."""
    if isinstance(node, ast.Constant):
        return [node.value] if isinstance(node.value, str) else []
    if isinstance(node, ast.BoolOp):
        return [s for v in node.values for s in _strings(v)]
    if isinstance(node, ast.IfExp):
        return [*_strings(node.body), *_strings(node.orelse)]
    return []


def code_positions(trees: list[ast.AST]) -> dict[str, set[int]]:
    """Helpers that take a `code` parameter (`bad_param(name, code, message)`): name -> its positions."""
    positions: dict[str, set[int]] = {}
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                args = [a.arg for a in [*node.args.posonlyargs, *node.args.args] if a.arg not in ("self", "cls")]
                if "code" in args:
                    positions.setdefault(node.name, set()).add(args.index("code"))
    return positions


def scan(tree: ast.AST, where: str, helpers: dict[str, set[int]] | None = None,
         ) -> tuple[list[tuple[int | None, str, str]], list[str]]:
    """([(status or None, code, where)], [problems with the shape of a code: dynamic ones])."""
    found: list[tuple[int | None, str, str]] = []
    dynamic: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            at = f"{where}:{node.lineno}"
            name = _name(node.func)
            if name in ERROR_CALLS and len(node.args) >= 2:
                status, code = _literal(node.args[0]), node.args[1]
                if isinstance(code, ast.JoinedStr | ast.BinOp):
                    dynamic.append(f"{at}: {name}() builds its code at run time")
                found += [(status if isinstance(status, int) else None, s, at) for s in _strings(code)]
            if name in NOT_API_CODES:
                continue
            for index in (helpers or {}).get(name, set()) if name not in ERROR_CALLS else set():
                if index < len(node.args):
                    found += [(None, s, at) for s in _strings(node.args[index]) if CODE_SHAPE.match(s)]
            for kw in node.keywords:
                if kw.arg == "code":
                    if isinstance(kw.value, ast.JoinedStr | ast.BinOp):
                        dynamic.append(f"{at}: code= built at run time")
                    found += [(None, s, at) for s in _strings(kw.value)]
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            args = node.args
            positional = [*args.posonlyargs, *args.args]
            pairs = list(zip(positional[len(positional) - len(args.defaults):], args.defaults, strict=True))
            pairs += [(a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d is not None]
            for arg, default in pairs:
                if arg.arg == "code" and isinstance(literal := _literal(default), str):
                    found.append((None, literal, f"{where}:{node.lineno}"))
    return found, dynamic


def _scan_sources() -> tuple[list[tuple[int | None, str, str]], list[str]]:
    found: list[tuple[int | None, str, str]] = []
    dynamic: list[str] = []
    trees = {path: source_ast.parse_file(path) for path in _sources()}
    helpers = code_positions(list(trees.values()))
    for path, tree in trees.items():
        f, d = scan(tree, str(path.relative_to(ROOT)), helpers)
        found += f
        dynamic += d
    return found, dynamic


def test_every_code_in_the_sources_is_registered_with_its_status() -> None:
    found, dynamic = _scan_sources()
    problems = [f"{where}: {problem}" for status, code, where in found
                if (problem := error_codes.problem(status, code) if status is not None
                    else None if code in error_codes.CODES else f"error code {code!r} is not registered")]
    assert not dynamic, dynamic
    assert not problems, "\n".join(problems)
    # The scan really sees the sources (a broken walk would pass vacuously).
    assert len({code for _, code, _ in found}) >= 30


@pytest.mark.parametrize(("source", "expected"), [
    ('raise ServiceError(400, "made_up", "m")', [(400, "made_up")]),
    ('json_error(401, "authentication_failed", "m")', [(401, "authentication_failed")]),
    ('raise OutboundRefused("r", code="whatever")', [(None, "whatever")]),
    ('def f(reason: str, code: str = "forbidden_target") -> None: ...', [(None, "forbidden_target")]),
    ('raise forms.ValidationError("m", code="throttled")', []),
    ('raise ServiceError(400, code or "invalid_range", "m")', [(400, "invalid_range")]),
    ('c = 1\njson_error(s, "server_error" if s == 500 else "error", "m")', [(None, "server_error"), (None, "error")]),
    ('bad_param("since", "invalid_duration", "The range is too long.")', [(None, "invalid_duration")]),
    ('bad_param("since", "The range is too long.")', []),
])
def test_the_scan_finds_literal_codes(source: str, expected: list[tuple[int | None, str]]) -> None:
    found, dynamic = scan(ast.parse(source), "x.py", {"bad_param": {1}})
    assert [(s, c) for s, c, _ in found] == expected and not dynamic


def test_the_scan_refuses_codes_built_at_run_time() -> None:
    _, dynamic = scan(ast.parse('ServiceError(503, f"{backend}_unavailable", "m")'), "x.py")
    assert dynamic == ["x.py:1: ServiceError() builds its code at run time"]


def test_a_code_with_the_wrong_status_is_a_problem() -> None:
    assert error_codes.problem(503, "backend_unavailable") is None
    assert "registered with status 503" in str(error_codes.problem(502, "backend_unavailable"))
    assert "not registered" in str(error_codes.problem(400, "bad_query"))
    assert error_codes.problem(418, "error") is None  # the generic fallback keeps the response's status


def test_docs_list_exactly_the_registry() -> None:
    text = error_codes.DOC_PATH.read_text()
    assert error_codes.documented_table(text) == error_codes.render_table(), (
        "docs/api-errors.md is out of date: run `python -m portal.error_codes --write-docs`")
    for code in error_codes.CODES:
        assert f"| `{code}` |" in text


def test_the_emitted_codes_are_checked_during_the_suite() -> None:
    """The conftest hook sees errors built anywhere (ServiceError, error_body, prom_error)."""
    seen: list[tuple[int, str]] = []
    unsubscribe = error_codes.observe(lambda status, code: seen.append((status, code)))
    try:
        from portal.errors import ServiceError, json_error

        ServiceError(404, "not_found", "m")
        json_error(400, "invalid_param", "m")
    finally:
        unsubscribe()
    assert seen == [(404, "not_found"), (400, "invalid_param")]
