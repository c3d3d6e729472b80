"""Arbiter's /metrics scraped by a real Prometheus (Debian's `prometheus`, started here with the
admin token as its bearer credential), and the figures read back through Prometheus' HTTP API:
the decisions made here, the HTTP door's requests and their latency histogram."""
import json
import os
import subprocess
import urllib.parse
import urllib.request

from harness import Server, free_port, wait_until


def query(port, expression):
    """The instant vector Prometheus answers for `expression`: [(labels, value)]."""
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": expression})
    with urllib.request.urlopen(url, timeout=10) as response:
        answer = json.loads(response.read())
    assert answer["status"] == "success", answer
    return [(r["metric"], float(r["value"][1])) for r in answer["data"]["result"]]


def single(port, expression):
    result = query(port, expression)
    return result[0][1] if len(result) == 1 else None


def test_prometheus_scrapes_the_metrics_and_answers_for_them(tmp_path):
    server = Server.launch(customers=2000)
    prometheus = None
    try:
        port = free_port()
        config = tmp_path / "prometheus.yml"
        config.write_text(f"""
global: {{scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s}}
scrape_configs:
  - job_name: arbiter
    metrics_path: /metrics
    authorization: {{type: Bearer, credentials_file: {os.path.join(server.workdir, "admin-token")}}}
    static_configs: [{{targets: ["127.0.0.1:{server.port}"]}}]
""")
        log = open(tmp_path / "prometheus.log", "wb")
        prometheus = subprocess.Popen(
            ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}",
             f"--web.listen-address=127.0.0.1:{port}"], stdout=log, stderr=subprocess.STDOUT)
        def scraping():
            try:
                return single(port, 'up{job="arbiter"}') == 1
            except OSError:  # not listening yet
                return False
        wait_until(scraping, timeout=60, interval=0.5, message="Prometheus to scrape Arbiter (up == 1)")
        for i in range(25):
            server.post("/v1/decide", {"customerId": str(100000 + i), "channel": "CHANNEL_WEB", "maxOffers": 2})
        decided = wait_until(lambda: single(port, 'arbiter_decisions_total{channel="web"}') == 25, timeout=30,
                             interval=0.5, message="25 web decisions in Prometheus")
        assert decided
        requests = single(port, 'arbiter_requests_total{door="http",method="POST /v1/decide",code="200"}')
        assert requests == 25, requests
        latency = single(port, 'arbiter_request_duration_seconds_count{door="http",method="POST /v1/decide"}')
        assert latency == 25, latency
        # The histogram's buckets are cumulative, in seconds: every decision took under 2.5 s.
        slowest = single(port, 'arbiter_request_duration_seconds_bucket{door="http",method="POST /v1/decide",le="2.5"}')
        assert slowest == 25, slowest
        # Prometheus computes a quantile from them, as a dashboard would.
        p99 = single(port, 'histogram_quantile(0.99, sum by (le) (arbiter_request_duration_seconds_bucket'
                           '{door="http",method="POST /v1/decide"}))')
        assert p99 is not None and 0 < p99 < 2.5, p99
        info = query(port, 'arbiter_bundle_info{role="live"}')
        assert [labels["bundle"] for labels, _ in info] == ["demo"], info
        assert single(port, "arbiter_store_customers") == 2000
    finally:
        if prometheus:
            prometheus.terminate()
            prometheus.wait(timeout=30)
        server.stop()
