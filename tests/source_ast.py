"""`ast.parse` for the source-scanning tests, robust to CPython 3.11.7's "AST constructor recursion depth
mismatch" (python/cpython#106905): in a long process the interpreter's recursion counter can drift, and the
AST conversion then refuses a perfectly good file. Such a file is parsed again in a fresh interpreter and
its tree sent back pickled (AST nodes pickle)."""

from __future__ import annotations

import ast
import pickle
import subprocess
import sys
from pathlib import Path

_CHILD = "import ast, pickle, sys; sys.stdout.buffer.write(pickle.dumps(ast.parse(sys.stdin.read(), sys.argv[1])))"


def parse(source: str, filename: str = "<unknown>") -> ast.Module:
    try:
        return ast.parse(source, filename)
    except SystemError:
        run = subprocess.run([sys.executable, "-c", _CHILD, filename], input=source.encode(), capture_output=True,
                             check=True, timeout=60)
        tree = pickle.loads(run.stdout)  # noqa: S301 - our own child's output
        assert isinstance(tree, ast.Module)
        return tree


def parse_file(path: Path, filename: str | None = None) -> ast.Module:
    return parse(path.read_text(), filename or str(path))
