"""The status endpoint: /metrics, and liveness that ignores dependencies while readiness reflects them."""

import json
import urllib.error
import urllib.request

from newswire.service import Health, StatusServer


def _get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_health_endpoints():
    health = Health("test", liveness_window_seconds=60)
    server = StatusServer(health, "127.0.0.1", 0).start()
    try:
        base = f"http://127.0.0.1:{server.port}"
        assert _get(base + "/healthz")[0] == 200
        status, body = _get(base + "/readyz")
        assert status == 503 and json.loads(body)["detail"] == "starting"
        health.set_ready(True)
        assert _get(base + "/readyz")[0] == 200
        health.set_ready(False, "store unavailable")
        # A dependency outage makes the service NotReady but never fails liveness.
        assert _get(base + "/readyz")[0] == 503 and _get(base + "/healthz")[0] == 200
        status, body = _get(base + "/metrics")
        assert status == 200 and "newswire_build_info" in body
        assert _get(base + "/nope")[0] == 404
    finally:
        server.stop()


def test_liveness_fails_when_the_loop_stops_beating():
    health = Health("test", liveness_window_seconds=0.0)
    health._beat -= 1  # the loop last beat a second ago, longer than the window
    assert health.alive()[0] is False
    health.liveness_window = 5
    health.beat()
    assert health.alive()[0] is True
