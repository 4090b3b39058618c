"""The one way a page hands data to its script: a dict the view builds here and base.html renders as
`<script type="application/json" id="page-config">` (read by static/portal/kernel.js as Portal.config)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.middleware.csrf import get_token

from portal.tenancy.context import OrgContext


def page_config(request: HttpRequest, page: str, **extra: Any) -> dict[str, Any]:
    """What every org page's script needs (org, API root, CSRF token, rights), plus the page's own data."""
    ctx: OrgContext = request.org_ctx  # type: ignore[attr-defined]
    return {"page": page, "org": ctx.org.slug, "api": "/api/v1", "base": f"/o/{ctx.org.slug}",
            "csrf": get_token(request), "can_write": ctx.can_write, "is_staff": ctx.is_staff, **extra}
