"""portal.backends.prometheus: error classification for fault shapes a real Prometheus cannot be made
to produce (a proxy's HTML 502, a non-JSON 200, an auth wall), via httpx.MockTransport. The shapes a
real backend does produce are tested against the real binaries elsewhere."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from portal.backends.errors import BackendError, BackendRejected, BackendTimeout, BackendUnavailable
from portal.backends.prometheus import PrometheusClient, is_bad_query


def client(handler: Callable[[httpx.Request], httpx.Response]) -> PrometheusClient:
    return PrometheusClient("http://backend.invalid", name="prom-x", timeout=1.0,
                            transport=httpx.MockTransport(handler))


@pytest.mark.parametrize(("response", "exc"), [
    (httpx.Response(502, text="<html>Bad Gateway</html>"), BackendUnavailable),
    (httpx.Response(503, json={"status": "error", "errorType": "unavailable", "error": "x"}), BackendUnavailable),
    (httpx.Response(503, json={"status": "error", "errorType": "timeout", "error": "query timed out"}),
     BackendTimeout),
    (httpx.Response(504, text="gateway timeout"), BackendTimeout),
    (httpx.Response(400, json={"status": "error", "errorType": "bad_data", "error": "parse error"}),
     BackendRejected),
    (httpx.Response(422, json={"status": "error", "errorType": "execution", "error": "too many samples"}),
     BackendRejected),
    (httpx.Response(401, text="unauthorized"), BackendRejected),
    (httpx.Response(429, text="slow down"), BackendUnavailable),
    (httpx.Response(200, text="not json"), BackendError),
    (httpx.Response(500, text="boom"), BackendUnavailable),
])
def test_error_classes(response: httpx.Response, exc: type[BackendError]) -> None:
    with pytest.raises(exc) as e:
        client(lambda _: response).query("up")
    assert type(e.value) is exc
    assert e.value.backend == "prom-x"
    assert e.value.transient is (exc in (BackendUnavailable, BackendTimeout))
    assert e.value.status == response.status_code


def test_only_the_query_itself_is_the_askers_fault() -> None:
    """A 400/422 (bad PromQL, too many samples) is answered to the user as such; a 401/404 (our
    credentials, a wrong path) is the operator's problem."""
    def refusal(status: int, error_type: str = "") -> BackendRejected:
        return BackendRejected("p", "x", status=status, error_type=error_type)

    assert is_bad_query(refusal(400, "bad_data")) and is_bad_query(refusal(422, "execution"))
    assert not is_bad_query(refusal(401)) and not is_bad_query(refusal(404))
    assert not is_bad_query(BackendUnavailable("p", "x", status=503))


def test_transient_errors_are_retried_once_permanent_never() -> None:
    calls: list[int] = []

    def flaky(_: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) == 1:
            return httpx.Response(503, text="restarting")
        return httpx.Response(200, json={"status": "success", "data": {"resultType": "vector", "result": []}})

    assert client(flaky).query("up") == {"resultType": "vector", "result": []}
    assert len(calls) == 2

    calls.clear()

    def bad(_: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(400, json={"status": "error", "errorType": "bad_data", "error": "nope"})

    with pytest.raises(BackendRejected):
        client(bad).query("up")
    assert len(calls) == 1


def test_repeated_match_and_form_encoding() -> None:
    seen: list[httpx.Request] = []

    def record(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        return httpx.Response(200, json={"status": "success", "data": []})

    client(record).series(['up{org_id="a"}', 'x{org_id="a"}'], "1", "2")
    body = seen[0].content.decode()
    assert body.count("match%5B%5D=") == 2 and "start=1" in body and "end=2" in body
    assert seen[0].url.params.get("match[]") is None  # parameters travel in the form only
