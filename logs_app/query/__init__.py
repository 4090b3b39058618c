"""The log search language: `parse` (text → AST, errors with positions) and `compile_query` (AST → SQL)."""

from logs_app.query.errors import QueryError
from logs_app.query.parser import parse, split_org_terms

__all__ = ["QueryError", "parse", "split_org_terms"]
