"""Allocation-failure injection (issue 12, item 3): coapd runs with
test/failmalloc preloaded, which fails a fraction of the data path's
allocations (lwIP's pbufs, segments and pcbs, mbedTLS's buffers and
sessions) for a few seconds, while UDP, TCP, DTLS and coapd's own client
requests go on. coapd must not crash, must lose what it cannot allocate
without hanging (counted: rx_no_memory, udp_send_failures), and must serve
everything again once allocations succeed."""

import os
import time

import pytest

from netlab import BUILD, COAP_SERVER, SANITIZER, Coapd, coap_client, wait_for

FAILMALLOC = BUILD / "lib" / "libfailmalloc.so"
pytestmark = [
    pytest.mark.skipif(bool(SANITIZER), reason="sanitizers bring their own allocator"),
    pytest.mark.skipif(not FAILMALLOC.exists(), reason="libfailmalloc.so not built"),
]
PSK_CLIENT = "coap-client-openssl"


def start(ns, tmp_path, rate, after, duration):
    psk = tmp_path / "psk"
    psk.write_text("dev1 secret\n")
    env = dict(os.environ, LD_PRELOAD=str(FAILMALLOC),
               COAPD_FAILMALLOC=f"rate={rate},after={after},for={duration},seed=7")
    d = Coapd(ns, env=env, args=["--psk-file", psk])
    return d, time.monotonic() - 0.5  # started about when coapd's constructor ran


def everything_works(ns, d):
    """UDP, TCP and DTLS GETs from libcoap's clients, and a request from
    coapd's own stack to a kernel-side server: all answered."""
    for uri in ("coap://192.0.2.2/time", "coap+tcp://192.0.2.2/time"):
        r = coap_client(ns, "-B", "5", uri)
        assert r.returncode == 0 and r.stdout, (uri, r.stderr)
    r = ns.exec([PSK_CLIENT, "-B", "5", "-u", "dev1", "-k", "secret", "coaps://192.0.2.2/time"],
                timeout=20)
    assert r.returncode == 0 and r.stdout, r.stderr
    assert d.ctl("get", "coap://192.0.2.1:5700/time", "--timeout", "5").returncode == 0
    assert d.ctl("get", "coap+tcp://192.0.2.1:5700/time", "--timeout", "5").returncode == 0


def traffic_while_failing(ns, d, until):
    outcomes = {"ok": 0, "failed": 0}
    while time.monotonic() < until:
        for argv in (["-B", "2", "coap://192.0.2.2/time"], ["-B", "2", "coap+tcp://192.0.2.2/time"]):
            ok = coap_client(ns, *argv, timeout=10).returncode == 0
            outcomes["ok" if ok else "failed"] += 1
        r = ns.exec([PSK_CLIENT, "-B", "2", "-u", "dev1", "-k", "secret",
                     "coaps://192.0.2.2/time"], timeout=10)
        outcomes["ok" if r.returncode == 0 else "failed"] += 1
        for uri in ("coap://192.0.2.1:5700/time", "coap+tcp://192.0.2.1:5700/time"):
            rc = d.ctl("get", uri, "--timeout", "2").returncode
            outcomes["ok" if rc == 0 else "failed"] += 1
            assert rc in (0, 5, 6), f"coapctl get {uri}: exit {rc}"
        assert d.proc.poll() is None, d.read_log()[-3000:]
    return outcomes


def check_recovered(ns, d):
    everything_works(ns, d)
    # Nothing left behind by what failed: sessions and pcbs settle.
    wait_for(lambda: d.stats()["lwip"]["tcp_active"] == 0, timeout=30,
             message="TCP connections closed")
    assert d.ctl("status").returncode == 0


@pytest.mark.parametrize("rate", [0.05, 0.3, 1.0])
def test_failing_allocations_are_survived_counted_and_recovered_from(ns, tmp_path, rate):
    d, started = start(ns, tmp_path, rate, after=3, duration=6)
    # After coapd: its address on the TAP's kernel side exists now.
    ns.popen([COAP_SERVER, "-A", "192.0.2.1", "-p", "5700"])
    try:
        wait_for(lambda: d.ctl("get", "coap://192.0.2.1:5700/time", "--timeout", "1").returncode
                 == 0, timeout=3, message="the kernel-side server")
        everything_works(ns, d)  # before the window
        wait_for(lambda: time.monotonic() - started > 3.2, timeout=10, message="window")
        outcomes = traffic_while_failing(ns, d, started + 9)
        wait_for(lambda: time.monotonic() - started > 9.5, timeout=10, message="window's end")
        check_recovered(ns, d)
        counters = d.stats()["counters"]
        if rate == 1.0:
            # Every frame coapd read in the window was lost, and counted.
            assert outcomes["ok"] == 0, outcomes
            assert counters["rx_no_memory"] > 0, counters
    finally:
        rc = d.stop(timeout=30)
    log = d.read_log()
    assert rc == 0, log[-3000:]
    line = [l for l in log.splitlines() if l.startswith("failmalloc:")]
    assert line, log[-2000:]
    failed = int(line[-1].split()[1])
    assert failed > 0, line  # the injection really happened
