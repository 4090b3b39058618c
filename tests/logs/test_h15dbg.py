from typing import Any
import pytest
import logs_app.services as s
from tests.logs.test_api import RANGE

@pytest.mark.django_db
def test_dbg(api_bob: Any, monkeypatch: Any) -> None:
    orig = s._store_call
    def wrap(q, fn, *a, **k):
        print("DBG store fn", fn)
        return orig(q, fn, *a, **k)
    monkeypatch.setattr(s, "_store_call", wrap)
    resp = api_bob.get("/api/v1/logs/search", {"q": "level=info", "limit": 3, **RANGE})
    print("DBG", resp.status_code, resp.content[:300])
