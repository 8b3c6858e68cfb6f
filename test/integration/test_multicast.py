"""Multicast (RFC 7252 section 8) against a real coapd in a namespace: the
kernel side sends GET /.well-known/core with coap-client-notls to the
All-CoAP-Nodes group 224.0.1.187 (routed through the TAP); coapd, which
joined the group by IGMP, answers with a NON after a random delay within
Leisure, and only when there is something to say."""
import json
import time

import pytest

from netlab import Coapd, coap_client

GROUP = "coap://224.0.1.187"


@pytest.fixture
def device(ns):
    d = Coapd(ns, args=["--leisure", "1",
                        "--resource", "/lamp,rt=light,multicast,value=on",
                        "--resource", "/quiet,rt=light,value=off"])
    ns.sh("ip route add 224.0.0.0/4 dev coap0")
    try:
        yield d
    finally:
        assert d.stop() == 0, d.read_log()


def group_get(ns, path, *extra):
    start = time.monotonic()
    r = coap_client(ns, "-N", "-v", "6", "-B", "3", *extra, f"{GROUP}{path}")
    return r.stdout.decode() + r.stderr.decode(), time.monotonic() - start


def test_discovery_to_the_group_gets_a_non_within_leisure(ns, device):
    out, _ = group_get(ns, "/.well-known/core?rt=light")
    assert "t:NON c:2.05" in out, out
    assert '</lamp>;ct=0;rt="light"' in out and '</quiet>' in out, out
    # A group request makes no session (a flood of them grows nothing).
    assert device.sessions() == [], device.sessions()


def test_only_matching_filters_and_marked_resources_answer(ns, device):
    out, _ = group_get(ns, "/.well-known/core?rt=nothing-matches")
    assert "c:2.05" not in out and "c:4." not in out, out
    out, _ = group_get(ns, "/quiet")  # not marked multicast
    assert "c:2.05" not in out and "c:4." not in out, out
    out, _ = group_get(ns, "/no/such/thing")  # never an error to a group
    assert "c:4." not in out, out
    out, _ = group_get(ns, "/lamp")
    assert "t:NON c:2.05" in out and "on" in out, out


def test_multicast_off_joins_no_group(ns):
    d = Coapd(ns, args=["--multicast", "off", "--leisure", "0"])
    try:
        ns.sh("ip route add 224.0.0.0/4 dev coap0")
        out, _ = group_get(ns, "/.well-known/core")
        assert "c:2.05" not in out, out
        # Unicast discovery still works.
        r = coap_client(ns, "-B", "3", "coap://192.0.2.2/.well-known/core")
        assert b"</time>" in r.stdout, r
    finally:
        assert d.stop() == 0, d.read_log()


def test_ipv6_link_local_group(ns):
    d = Coapd(ns, args=["--leisure", "1", "--ipv6", "fd00:c0a9::2/64",
                        "--host-ipv6", "fd00:c0a9::1/64"])
    try:
        r = coap_client(ns, "-N", "-v", "6", "-B", "3", "coap://[ff02::fd%coap0]/.well-known/core")
        out = r.stdout.decode() + r.stderr.decode()
        assert "t:NON c:2.05" in out and "</time>" in out, out
    finally:
        assert d.stop() == 0, d.read_log()


def test_coapctl_discover_lists_a_server_that_joined_the_group(ns, device):
    # coap-server-notls on the kernel side, joined to All-CoAP-Nodes on coap0.
    ns.popen(["coap-server-notls", "-g", "224.0.1.187", "-G", "coap0"])
    time.sleep(0.5)
    # libcoap's server answers a group request after a random delay within
    # its Leisure (5 s by default).
    r = device.ctl("--json", "discover", "--wait", "6")
    assert r.returncode == 0, r.stderr
    nodes = json.loads(r.stdout)["nodes"]
    peers = [n for n in nodes if n["address"].startswith("192.0.2.1:")]
    assert len(peers) == 1, nodes
    assert "</.well-known/core>" in peers[0]["links"] or "</time>" in peers[0]["links"], peers
    human = device.ctl("discover", "--wait", "6")
    assert human.returncode == 0 and human.stdout.startswith("192.0.2.1:"), human
    bad = device.ctl("discover", "--group", "192.0.2.1")
    assert bad.returncode == 1 and "not a multicast group" in bad.stderr, bad


def test_discover_with_nobody_there_says_so(ns, device):
    r = device.ctl("discover", "--wait", "0.5")
    assert r.returncode == 0 and r.stdout == "no node answered\n", r
