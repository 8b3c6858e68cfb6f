"""Metrics (issue 13, item 5): `coapctl stats --prometheus`, read back with
a real parser (Debian's python3-prometheus-client)."""

import pytest

from netlab import coap_client

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
