"""Metrics (issue 13, item 5): `coapctl stats --prometheus` and
--metrics-listen's GET /metrics, read back with a real parser (Debian's
python3-prometheus-client)."""

import socket

import pytest

from netlab import COAPD, Coapd, coap_client

parser = pytest.importorskip("prometheus_client.parser")


def families(text):
    return {f.name: f for f in parser.text_string_to_metric_families(text)}


def test_stats_prometheus_parses_with_every_counter_and_histograms(ns, coapd):
    for _ in range(5):
        coap_client(ns, "-B", "5", "coap://192.0.2.2/time")
        coap_client(ns, "-B", "5", "coap+tcp://192.0.2.2/time")
    r = coapd.ctl("stats", "--prometheus")
    assert r.returncode == 0, r.stderr
    got = families(r.stdout)
    stats = coapd.stats()
    # prometheus_client names a counter family without its _total suffix.
    for name in stats["counters"]:
        assert got[f"coapd_{name}"].type == "counter", name
    requests = got["coapd_requests"].samples[0].value
    assert requests >= 10 and requests <= stats["counters"]["requests"]
    pcbs = {s.labels["list"]: s.value for s in got["coapd_lwip_pcbs"].samples}
    assert set(pcbs) == set(stats["lwip"]) and pcbs["tcp_listen"] >= 1
    assert got["coapd_sessions"].type == "gauge"
    for h in ("coapd_engine_tcp_wake_latency_seconds", "coapd_engine_udp_wake_latency_seconds"):
        fam = got[h]
        assert fam.type == "histogram"
        buckets = [s for s in fam.samples if s.name.endswith("_bucket")]
        count = [s for s in fam.samples if s.name.endswith("_count")][0].value
        assert buckets[-1].labels["le"] == "+Inf" and buckets[-1].value == count
        values = [b.value for b in buckets]
        assert values == sorted(values)  # cumulative
    assert all(name.startswith("coapd_") for name in got)
    assert r.stdout.count("# HELP ") == r.stdout.count("# TYPE ") == len(got)


def http(ns, port, request, host="127.0.0.1"):
    """Sends raw request bytes to coapd's metrics listener inside the namespace;
    the whole answer (the listener closes after one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = ns.socket(family)
    s.settimeout(10)
    try:
        s.connect((host, port))
        s.sendall(request)
        chunks = []
        while True:
            b = s.recv(65536)
            if not b:
                break
            chunks.append(b)
        return b"".join(chunks)
    finally:
        s.close()


def split_response(raw):
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = dict(l.split(": ", 1) for l in lines[1:])
    return lines[0], headers, body


def test_metrics_listen_serves_the_same_text_over_http(ns):
    d = Coapd(ns, args=["--metrics-listen", "127.0.0.1:9464"])
    try:
        for _ in range(3):
            coap_client(ns, "-B", "5", "coap://192.0.2.2/time")
        raw = http(ns, 9464, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        status, headers, body = split_response(raw)
        assert status == "HTTP/1.1 200 OK", raw[:200]
        assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
        assert int(headers["Content-Length"]) == len(body)
        got = families(body.decode())
        assert got["coapd_requests"].samples[0].value >= 3
        # Every family `coapctl stats --prometheus` prints is served.
        assert set(got) == set(families(d.ctl("stats", "--prometheus").stdout))
        assert got["coapd_engine_udp_wake_latency_seconds"].type == "histogram"
        # A real scraper's request, through urllib inside the namespace.
        r = ns.exec(["python3", "-c",
                     "import urllib.request,sys;"
                     "sys.stdout.write(urllib.request.urlopen("
                     "'http://127.0.0.1:9464/metrics',timeout=10).read().decode())"])
        assert r.returncode == 0, r.stderr
        assert "coapd_requests" in families(r.stdout.decode())
        # HEAD: headers only.
        status, headers, body = split_response(http(ns, 9464, b"HEAD /metrics HTTP/1.0\r\n\r\n"))
        assert status.endswith("200 OK") and body == b"" and int(headers["Content-Length"]) > 0
    finally:
        assert d.stop() == 0, d.read_log()


def test_metrics_listen_refuses_other_paths_methods_and_garbage(ns):
    d = Coapd(ns, args=["--metrics-listen", "[::1]:9465"])
    try:
        assert split_response(http(ns, 9465, b"GET / HTTP/1.1\r\n\r\n", "::1"))[0] == \
            "HTTP/1.1 404 Not Found"
        status, headers, _ = split_response(http(ns, 9465, b"POST /metrics HTTP/1.1\r\n\r\n", "::1"))
        assert status == "HTTP/1.1 405 Method Not Allowed" and headers["Allow"] == "GET, HEAD"
        assert split_response(http(ns, 9465, b"\x16\x03\x01garbage\r\n\r\n", "::1"))[0] == \
            "HTTP/1.1 400 Bad Request"
        # A header without end is cut off at the bound, not buffered for ever.
        try:
            cut = http(ns, 9465, b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 20000, "::1")
        except ConnectionResetError:  # closed with the rest unread
            cut = b""
        assert cut == b""
        assert d.ctl("status").returncode == 0
    finally:
        assert d.stop() == 0, d.read_log()


def test_metrics_listen_bad_value_or_taken_port_is_named(ns):
    r = ns.exec([COAPD, "--metrics-listen", "localhost:9464"])
    assert r.returncode == 2 and b"--metrics-listen" in r.stderr, r.stderr
    r = ns.exec([COAPD, "--metrics-listen", "::1:9464"])
    assert r.returncode == 2 and b"brackets" in r.stderr, r.stderr
    blocker = ns.socket()
    blocker.bind(("127.0.0.1", 9466))
    blocker.listen(1)
    try:
        d = Coapd(ns, args=["--metrics-listen", "127.0.0.1:9466"], wait_ready=False)
        assert d.proc.wait(timeout=20) == 1
        assert "--metrics-listen 127.0.0.1:9466: address already in use" in d.read_log()
    finally:
        blocker.close()
