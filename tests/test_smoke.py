def test_healthz(client):
    assert client.get("/healthz").status_code == 200


def test_prometheus_fixture(prometheus):
    import httpx

    assert httpx.get(prometheus.url + "/api/v1/query", params={"query": "1"}).json()["status"] == "success"
