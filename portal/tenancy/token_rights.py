"""What an API token's scope allows, checked once for every request that carries one.

A read-scoped token may only use the safe methods (GET, HEAD, OPTIONS), on every endpoint: org
endpoints, staff (platform) endpoints, the Prometheus API and any view added later, whatever its own
permission classes say. `READ_ONLY_POSTS` is the one, deliberately short, exception list: routes whose POST
is a read. Session logins are not tokens and are governed by roles alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse

from portal.tenancy.models import ApiToken, TokenScope

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Prometheus's HTTP API takes every read as a form POST too (for queries too long for a URL); they change
# nothing. Dashboard and rule previews are editor tools and stay write-only on purpose.
READ_ONLY_POSTS = frozenset({
    "prom-query", "prom-query-range", "prom-series", "prom-labels", "prom-label-values", "prom-metadata",
})


def scope_allows(scope: str, method: str, view_name: str | None) -> bool:
    if scope == TokenScope.WRITE or method in SAFE_METHODS:
        return True
    return method == "POST" and view_name in READ_ONLY_POSTS


READ_ONLY_MESSAGE = "This token is read-only; use a write-scoped token."


class TokenRightsMiddleware:
    """Answers 403 before any view runs when a read-scoped API token asks to change something.

    A token that does not authenticate is left to the view, which answers 401 with the reason.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func: Any, view_args: Any,
                     view_kwargs: Any) -> HttpResponse | None:
        # Imported here: DRF's settings import this module (through permissions) before portal.errors loads.
        from portal.errors import json_error
        from portal.tenancy.auth import TokenError, authenticate_api_token, bearer_token

        method = request.method or "GET"
        if method in SAFE_METHODS:
            return None
        raw = bearer_token(request)
        if raw is None or ApiToken.parse_lookup(raw) is None:
            return None  # no token, or an ingest token: those grant nothing but telemetry writes
        try:
            _, ctx = authenticate_api_token(raw)
        except TokenError:
            return None
        match = request.resolver_match
        if scope_allows(ctx.scope, method, match.view_name if match else None):
            return None
        return json_error(403, "permission_denied", READ_ONLY_MESSAGE)
