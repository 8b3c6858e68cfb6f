"""Host network safety: coapd never takes an address or subnet the host (here:
the namespace) already uses, moves its embedded defaults to a free
documentation subnet, and sets the kernel side of its TAP over rtnetlink,
IPv6 without DAD, removing exactly what it added.

The namespace's "LAN" is one end of a veth pair (this kernel has no dummy
driver) holding 192.0.2.2/24 with the default route via 192.0.2.1: the
machine of issue 13."""

import re
import socket
import time

import pytest

from netlab import COAPD, Coapd, coap_payload, wait_for


def make_lan(ns, *prefixes, gateway="192.0.2.1"):
    ns.sh("ip link add lan0 type veth peer name lan1 && ip link set lan0 up && ip link set lan1 up")
    for p in prefixes:
        ns.sh(f"ip addr add {p} dev lan0")
    if gateway:
        ns.sh(f"ip route add default via {gateway} dev lan0")


def host_view(ns):
    """The namespace's addresses and routes, as the user would compare them."""
    return (ns.sh("ip -o addr show dev lan0").stdout,
            ns.sh("ip route show table main").stdout,
            ns.sh("ip -6 route show table main").stdout)


def refused(ns, *args):
    """Runs coapd that must refuse to start: (exit code, stderr lines)."""
    r = ns.exec([COAPD, "--tap", "coap0", "--control-socket", f"/tmp/{ns.name}.sock", *args],
                timeout=10)
    return r.returncode, r.stderr.decode(errors="replace").splitlines()


def no_tap(ns):
    return ns.sh("ip link show coap0", check=False).returncode != 0


def test_defaults_move_to_198_51_100_and_serve_leaving_the_host_alone(ns):
    make_lan(ns, "192.0.2.2/24")
    before = host_view(ns)
    d = Coapd(ns, address=None, host=None)
    try:
        status = d.ctl_json("status")
        assert status["host_address"] == "198.51.100.1/24"
        assert any(a["address"] == "198.51.100.2/24" for a in status["addresses"]), status
        assert status["address_note"] == (
            "192.0.2.0/24 is taken (overlaps 192.0.2.2/24 on lan0); using 198.51.100.0/24")
        ready = [line for line in d.read_log().splitlines() if "coapd ready" in line]
        assert ready and "CoAP on 198.51.100.2/24" in ready[0], d.read_log()
        assert "using 198.51.100.0/24" in ready[0]
        text = d.ctl("status").stdout
        assert "Address note:" in text and "using 198.51.100.0/24" in text, text
        payload, err = coap_payload(ns, "-B", "5", "coap://198.51.100.2/.well-known/core")
        assert b"</status>" in payload, err
        # The LAN's address and routes are as they were; coapd's own route is
        # the TAP's.
        assert host_view(ns)[0] == before[0]
        routes = ns.sh("ip route show table main").stdout
        assert "198.51.100.0/24 dev coap0" in routes, routes
        assert "192.0.2.0/24 dev lan0" in routes and "default via 192.0.2.1 dev lan0" in routes
        assert routes.count("192.0.2.0/24") == 1, routes
    finally:
        assert d.stop() == 0, d.read_log()
    assert host_view(ns) == before


def test_third_subnet_when_two_are_taken(ns):
    make_lan(ns, "192.0.2.2/24", "198.51.100.7/24")
    d = Coapd(ns, address=None, host=None)
    try:
        assert d.ctl_json("status")["host_address"] == "203.0.113.1/24"
        payload, err = coap_payload(ns, "-B", "5", "coap://203.0.113.2/.well-known/core")
        assert b"</status>" in payload, err
    finally:
        assert d.stop() == 0, d.read_log()


def test_all_default_subnets_taken_exits_2_naming_each(ns):
    make_lan(ns, "192.0.2.2/24", "198.51.100.7/24", "203.0.113.9/24")
    before = host_view(ns)
    rc, lines = refused(ns)
    assert rc == 2
    assert lines == [
        "coapd: no free subnet for coapd's default addresses: 192.0.2.0/24 is taken (overlaps "
        "192.0.2.2/24 on lan0), 198.51.100.0/24 is taken (overlaps 198.51.100.7/24 on lan0), "
        "203.0.113.0/24 is taken (overlaps 203.0.113.9/24 on lan0); choose addresses with "
        "--address and --host-address"]
    assert no_tap(ns)
    assert host_view(ns) == before


@pytest.mark.parametrize("args, message", [
    (["--address", "192.0.2.50/24", "--host-address", "10.9.0.1/24"],
     "--address 192.0.2.50/24 overlaps 192.0.2.2/24 on lan0"),
    (["--address", "10.9.0.2/24", "--host-address", "192.0.2.77/24"],
     "--host-address 192.0.2.77/24 overlaps 192.0.2.2/24 on lan0"),
    (["--address", "10.9.0.2/32", "--host-address", "192.0.2.1/32"],
     "--host-address 192.0.2.1/32 is the host's default gateway (via lan0)"),
    (["--address", "10.9.0.2/24", "--host-address", "10.9.0.1/24", "--ipv6", "fd00:c0a9::2/64",
      "--host-ipv6", "fd00:c0a9::1/64"],
     "--ipv6 fd00:c0a9::2/64 overlaps fd00:c0a9::5/64 on lan0"),
], ids=["address", "host-address", "gateway", "ipv6"])
def test_explicit_conflicting_addresses_exit_2_naming_interface_and_address(ns, args, message):
    make_lan(ns, "192.0.2.2/24", "fd00:c0a9::5/64")
    before = host_view(ns)
    rc, lines = refused(ns, *args)
    assert rc == 2
    assert len(lines) == 1 and lines[0].startswith("coapd: " + message), lines
    assert no_tap(ns)
    assert host_view(ns) == before


def test_ipv6_tcp_request_the_instant_coapd_is_ready(ns):
    # DAD on, as on a normal host (Netns turns it off for the other tests).
    ns.sh("sysctl -qw net.ipv6.conf.default.accept_dad=1 net.ipv6.conf.all.accept_dad=1")
    d = Coapd(ns, args=["--ipv6", "fd00:c0a9::2/64", "--host-ipv6", "fd00:c0a9::1/64"],
              wait_ready=False)
    try:
        wait_for(lambda: "coapd ready" in d.read_log(), timeout=15, interval=0.005,
                 message="the ready line")
        assert "fd00:c0a9::1/64" in ns.sh("ip -6 -o addr show dev coap0").stdout
        assert "fd00:c0a9::1" not in ns.sh("ip -6 -o addr show dev coap0 tentative").stdout
        s = ns.socket(socket.AF_INET6)
        s.settimeout(3)
        started = time.time()
        s.connect(("fd00:c0a9::2", 5683))
        assert time.time() - started < 1.0
        s.close()
        payload, err = coap_payload(ns, "-B", "3", "coap+tcp://[fd00:c0a9::2]/.well-known/core")
        assert b"</status>" in payload, err
    finally:
        assert d.stop() == 0, d.read_log()


def test_persistent_tap_keeps_only_what_it_had(ns):
    ns.sh("ip tuntap add coap0 mode tap && ip addr add 10.77.0.1/24 dev coap0")
    d = Coapd(ns, args=["--host-ipv6", "fd00:c0a9::1/64", "--ipv6", "fd00:c0a9::2/64"])
    try:
        shown = ns.sh("ip -o addr show dev coap0").stdout
        assert "192.0.2.1/24" in shown and "fd00:c0a9::1/64" in shown, shown
    finally:
        assert d.stop() == 0, d.read_log()
    shown = ns.sh("ip -o addr show dev coap0").stdout
    assert "10.77.0.1/24" in shown
    assert "192.0.2.1" not in shown and "fd00:c0a9::1" not in shown, shown


def test_host_address_none_leaves_the_users_addresses(ns):
    ns.sh("ip tuntap add coap0 mode tap && ip addr add 192.0.2.1/24 dev coap0 && "
          "ip link set coap0 up")
    d = Coapd(ns, host="none")
    try:
        payload, err = coap_payload(ns, "-B", "5", "coap://192.0.2.2/.well-known/core")
        assert b"</status>" in payload, err
        assert d.ctl_json("status")["host_address"] == "none"
    finally:
        assert d.stop() == 0, d.read_log()
    assert re.search(r"inet 192\.0\.2\.1/24", ns.sh("ip -o addr show dev coap0").stdout)
