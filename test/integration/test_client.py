"""coapd as a client: coapctl get/put/post/delete through coapd's own stack,
against Debian's coap-server-notls inside the namespace."""

import json
import time

import pytest

from netlab import Coapd, wait_for


def start_server(ns):
    """coap-server-notls on the kernel side of the TAP (UDP and TCP 5683);
    the TAP must exist first, for the address to be there."""
    p = ns.popen(["coap-server-notls", "-A", "192.0.2.1", "-p", "5683"])
    wait_for(lambda: ":5683" in ns.sh("ss -lnt").stdout, message="coap-server-notls listening")
    return p


@pytest.fixture
def server(ns, coapd):
    p = start_server(ns)
    yield p
    p.kill()
    p.wait()


def test_get_over_udp(ns, coapd, server):
    r = coapd.ctl("get", "coap://192.0.2.1/time")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "2.05 Content"
    assert r.stdout.rstrip().split("\n")[-1].strip(), r.stdout  # the time text


def test_put_get_delete_over_udp_and_tcp(ns, coapd, server):
    for scheme in ("coap", "coap+tcp"):
        uri = f"{scheme}://192.0.2.1/example_data"
        r = coapd.ctl("put", uri, "--payload", f"hello {scheme}", "--content-format", "0")
        assert r.returncode == 0 and r.stdout.startswith("2.0"), r.stdout + r.stderr
        r = coapd.ctl("--json", "get", uri)
        res = json.loads(r.stdout)
        assert res["status"] == "response" and res["code"] == "2.05"
        import base64
        assert base64.b64decode(res["payload_b64"]) == f"hello {scheme}".encode()


def test_error_codes_and_exit_status(ns, coapd, server):
    r = coapd.ctl("get", "coap://192.0.2.1/no-such-thing")
    assert r.returncode == 3 and r.stdout.startswith("4.04"), r
    r = coapd.ctl("get", "--timeout", "1.5", "coap://192.0.2.99/time")  # nobody answers ARP
    assert r.returncode == 5, r
    r = coapd.ctl("get", "coap://not-an-address/time")
    assert r.returncode == 1 and "IP address" in r.stderr, r


def test_tcp_session_is_reused(ns, coapd, server):
    for _ in range(3):
        assert coapd.ctl("get", "coap+tcp://192.0.2.1/time").returncode == 0
    tcp = [s for s in coapd.sessions() if s["protocol"] == "tcp"]
    assert len(tcp) == 1 and tcp[0]["role"] == "client" and tcp[0]["messages_out"] >= 4, tcp


def test_large_response_blockwise(ns, coapd, server):
    body = "".join(chr(ord("A") + i % 26) for i in range(3000))
    assert coapd.ctl("put", "coap://192.0.2.1/example_data", "--payload", body).returncode == 0
    r = coapd.ctl("--json", "get", "coap://192.0.2.1/example_data")
    import base64
    assert base64.b64decode(json.loads(r.stdout)["payload_b64"]).decode() == body


def test_retransmitted_con_when_first_datagrams_dropped(ns):
    d = Coapd(ns, args=["--ack-timeout", "0.5"])
    start_server(ns)
    try:
        ns.sh("nft add table inet t && "
              "nft add chain inet t input '{ type filter hook input priority 0; }' && "
              "nft add rule inet t input udp dport 5683 drop")
        before = d.stats()["counters"]["retransmissions"]
        import subprocess
        from netlab import COAPCTL
        p = subprocess.Popen([COAPCTL, "--socket", d.sock, "get", "--timeout", "20",
                              "coap://192.0.2.1/time"], stdout=subprocess.PIPE, text=True)
        time.sleep(1.2)  # the first transmission and at least one retransmission are lost
        ns.sh("nft delete table inet t")
        out, _ = p.communicate(timeout=30)
        assert p.returncode == 0 and out.startswith("2.05"), out
        assert d.stats()["counters"]["retransmissions"] - before >= 1
    finally:
        ns.sh("nft delete table inet t", check=False)
        assert d.stop() == 0


def test_connect_and_close_outgoing_session(ns, coapd, server):
    r = coapd.ctl("connect", "coap+tcp://192.0.2.1:5683")
    assert r.returncode == 0, r.stderr
    sid = int(r.stdout.split()[1])
    wait_for(lambda: any(s["id"] == sid and s["state"] == "established" for s in coapd.sessions()),
             message="session established")
    r = coapd.ctl("connect", "coap+tcp://192.0.2.1:5683")
    assert int(r.stdout.split()[1]) == sid  # the same session, not a second one
    assert coapd.ctl("get", "coap+tcp://192.0.2.1/time").returncode == 0
    assert coapd.ctl("close", sid).returncode == 0
    wait_for(lambda: not [s for s in coapd.sessions() if s["id"] == sid], message="session gone")
    ev = [e["event"] for e in coapd.events() if e["session_id"] == sid]
    assert ev == ["tcp_connected", "session_connected", "tcp_closed", "session_closed"], ev
