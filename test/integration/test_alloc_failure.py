"""Allocation-failure injection (issue 12, item 3): coapd runs with
test/failmalloc preloaded, which fails a fraction of the data path's
allocations (lwIP's pbufs, segments and pcbs, mbedTLS's buffers and
sessions; not lwIP's timers, whose failure lwIP itself asserts on) for a few seconds, while UDP, TCP, DTLS and coapd's own client
requests go on. coapd must not crash, must lose what it cannot allocate
without hanging (counted: rx_no_memory, udp_send_failures), and must serve
everything again once allocations succeed."""

import os
import secrets
import time
from pathlib import Path

import pytest

from netlab import BUILD, COAP_CLIENT, COAP_SERVER, SANITIZER, Coapd, wait_for

FAILMALLOC = BUILD / "lib" / "libfailmalloc.so"
pytestmark = [
    pytest.mark.skipif(bool(SANITIZER), reason="sanitizers bring their own allocator"),
    pytest.mark.skipif(not FAILMALLOC.exists(), reason="libfailmalloc.so not built"),
]
PSK_CLIENT = "coap-client-openssl"


def start(ns, tmp_path, rate):
    """coapd with failmalloc; allocations fail while the returned switch
    file exists."""
    psk = tmp_path / "psk"
    psk.write_text("dev1 secret\n")
    switch = tmp_path / "failing"
    env = dict(os.environ, LD_PRELOAD=str(FAILMALLOC),
               COAPD_FAILMALLOC=f"rate={rate},seed=7,switch={switch}")
    return Coapd(ns, env=env, args=["--psk-file", psk]), switch


def answered(ns, uri, *extra, client=COAP_CLIENT, wait=5):
    """Whether libcoap's client got /time's payload (it exits 0 also when
    nothing came back, and prints its errors on stdout: the payload file
    tells)."""
    out = Path(f"/tmp/{ns.name}-{secrets.token_hex(4)}.out")
    try:
        ns.exec([client, "-B", str(wait), "-o", str(out), *extra, uri], timeout=wait + 15)
        return out.exists() and out.stat().st_size > 0
    finally:
        out.unlink(missing_ok=True)


PSK_ARGS = ("-u", "dev1", "-k", "secret")


def everything_works(ns, d):
    """UDP, TCP and DTLS GETs from libcoap's clients, and requests from
    coapd's own stack to a kernel-side server: all answered."""
    assert answered(ns, "coap://192.0.2.2/time")
    assert answered(ns, "coap+tcp://192.0.2.2/time")
    assert answered(ns, "coaps://192.0.2.2/time", *PSK_ARGS, client=PSK_CLIENT)
    assert d.ctl("get", "coap://192.0.2.1:5700/time", "--timeout", "5").returncode == 0
    assert d.ctl("get", "coap+tcp://192.0.2.1:5700/time", "--timeout", "5").returncode == 0


def traffic_while_failing(ns, d, until):
    outcomes = {"ok": 0, "failed": 0}
    while time.monotonic() < until:
        for ok in (answered(ns, "coap://192.0.2.2/time", wait=2),
                   answered(ns, "coap+tcp://192.0.2.2/time", wait=2),
                   answered(ns, "coaps://192.0.2.2/time", *PSK_ARGS, client=PSK_CLIENT, wait=2)):
            outcomes["ok" if ok else "failed"] += 1
        for uri in ("coap://192.0.2.1:5700/time", "coap+tcp://192.0.2.1:5700/time"):
            rc = d.ctl("get", uri, "--timeout", "2").returncode
            outcomes["ok" if rc == 0 else "failed"] += 1
            assert rc in (0, 5, 6), f"coapctl get {uri}: exit {rc}"
        assert d.proc.poll() is None, d.read_log()[-3000:]
    return outcomes


def check_recovered(ns, d):
    everything_works(ns, d)
    # Nothing left behind by what failed: once coapd's own sessions are
    # closed, no connection remains.
    for s in d.sessions():
        if s["outgoing"]:
            d.ctl("close", s["id"])
    wait_for(lambda: d.stats()["lwip"]["tcp_active"] == 0, timeout=30,
             message="TCP connections closed")
    assert d.ctl("status").returncode == 0


@pytest.mark.parametrize("rate", [0.05, 0.3, 1.0])
def test_failing_allocations_are_survived_counted_and_recovered_from(ns, tmp_path, rate):
    d, switch = start(ns, tmp_path, rate)
    # After coapd: its address on the TAP's kernel side exists now.
    ns.popen([COAP_SERVER, "-A", "192.0.2.1", "-p", "5700"])
    try:
        wait_for(lambda: d.ctl("get", "coap://192.0.2.1:5700/time", "--timeout", "1").returncode
                 == 0, timeout=3, message="the kernel-side server")
        everything_works(ns, d)  # before failures
        before = d.stats()["counters"]
        switch.touch()
        time.sleep(0.05)  # failmalloc looks every 10 ms
        outcomes = traffic_while_failing(ns, d, time.monotonic() + 5)
        switch.unlink()
        time.sleep(0.05)
        counters = d.stats()["counters"]
        check_recovered(ns, d)
        lost = (counters["rx_no_memory"] - before["rx_no_memory"] +
                counters["udp_send_failures"] - before["udp_send_failures"])
        if rate == 1.0:
            # Nothing got through, and what was lost is counted.
            assert outcomes["ok"] == 0, outcomes
            assert lost > 0, counters
    finally:
        rc = d.stop(timeout=30)
    log = d.logpath.read_text(errors="replace")
    assert rc == 0, log[-3000:]
    line = [l for l in log.splitlines() if l.startswith("failmalloc:")]
    assert line, log[-2000:]
    failed = int(line[-1].split()[1])
    assert failed > 0, line  # the injection really happened
