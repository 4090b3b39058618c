"""Request body parsers for the API: DRF's, plus one rule every text column needs — no NUL characters
(PostgreSQL cannot store them, so they would otherwise surface as a 500 deep inside a save)."""

from __future__ import annotations

from typing import Any

from django.http import QueryDict
from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.request import Request


def _check(value: Any, depth: int = 0) -> None:
    if depth > 100:
        raise ParseError("The request body is nested too deeply.")
    if isinstance(value, str):
        if "\x00" in value:
            raise ParseError("Text may not contain NUL (\\u0000) characters.")
    elif isinstance(value, dict):
        for k, v in value.items():
            _check(k, depth + 1)
            _check(v, depth + 1)
    elif isinstance(value, list):
        for v in value:
            _check(v, depth + 1)


class JSONParser(parsers.JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        data = super().parse(stream, media_type, parser_context)
        _check(data)
        return data


class FormParser(parsers.FormParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        data = super().parse(stream, media_type, parser_context)
        _check(dict(data.lists()))
        return data


class MultiPartParser(parsers.MultiPartParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        result = super().parse(stream, media_type, parser_context)
        _check(dict(result.data.lists()))
        return result


def json_object(request: Request) -> dict[str, Any]:
    """The body as a JSON object (a form body as a plain dict); anything else is a 400 saying so."""
    from portal.errors import ServiceError  # here, not at the top: DRF imports this module while loading settings

    data = request.data
    if isinstance(data, QueryDict):
        return data.dict()
    if isinstance(data, dict):
        return data
    raise ServiceError(400, "invalid", "The request body must be a JSON object.")
