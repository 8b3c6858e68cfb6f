"""coapctl's request shaping through coapd's stack: NON requests, options
given with -O and --no-response, the caller's token, the block size asked
for, and FETCH/PATCH/iPATCH; against a kernel-socket peer that records what
arrives, and against Debian's coap-server-notls."""

import socket
import struct
import threading
import time

import pytest

from netlab import wait_for

HOST = "192.0.2.1"


def parse(d):
    """(type, code, mid, token, [(number, value)], payload) of a datagram."""
    t, tkl = (d[0] >> 4) & 3, d[0] & 15
    code, mid = d[1], struct.unpack("!H", d[2:4])[0]
    token, i, number, opts = d[4:4 + tkl], 4 + tkl, 0, []
    while i < len(d) and d[i] != 0xFF:
        delta, length = d[i] >> 4, d[i] & 15
        i += 1
        ext = []
        for v in (delta, length):
            if v == 13:
                ext.append(d[i] + 13)
                i += 1
            elif v == 14:
                ext.append(struct.unpack("!H", d[i:i + 2])[0] + 269)
                i += 2
            else:
                ext.append(v)
        number += ext[0]
        opts.append((number, d[i:i + ext[1]]))
        i += ext[1]
    return t, code, mid, token, opts, d[i + 1:] if i < len(d) else b""


class Peer:
    """A UDP CoAP peer on the kernel side: records each request, answers
    2.05 "ok" with the request's token, NON to NON and ACK to CON."""

    def __init__(self, ns, port=5699):
        self.sock = ns.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.IPPROTO_IP, 15, 1)  # IP_FREEBIND
        self.sock.bind((HOST, port))
        self.sock.settimeout(0.2)
        self.requests, self.stop = [], False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while not self.stop:
            try:
                data, addr = self.sock.recvfrom(2048)
            except socket.timeout:
                continue
            t, code, mid, token, opts, payload = parse(data)
            self.requests.append((t, code, token, opts, payload))
            rtype = 1 if t == 1 else 2  # NON -> NON, CON -> ACK
            rmid = (mid + 0x1000) & 0xFFFF if t == 1 else mid
            self.sock.sendto(bytes([0x40 | rtype << 4 | len(token), 0x45]) +
                             struct.pack("!H", rmid) + token + b"\xffok", addr)

    def close(self):
        self.stop = True
        self.thread.join()
        self.sock.close()


@pytest.fixture
def peer(ns, coapd):
    p = Peer(ns)
    yield p
    p.close()


def test_non_request_with_options_and_token(coapd, peer):
    r = coapd.ctl("get", f"coap://{HOST}:5699/a?q=1", "--non", "-O", "2049,hello",
                  "-O", "4,0x0a0b", "-O", "14,300", "--no-response", "4,5", "--token", "c0ffee")
    assert r.returncode == 0 and r.stdout.startswith("2.05"), r.stdout + r.stderr
    t, code, token, opts, _ = peer.requests[-1]
    assert t == 1 and code == 0x01, (t, code)  # NON GET
    assert token == bytes.fromhex("c0ffee")
    assert (4, b"\x0a\x0b") in opts and (14, b"\x01\x2c") in opts
    assert (2049, b"hello") in opts and (258, bytes([8 | 16])) in opts
    assert (11, b"a") in opts and (15, b"q=1") in opts
    assert [n for n, _ in opts] == sorted(n for n, _ in opts)


def test_block_size_is_asked_of_the_server(coapd, peer):
    assert coapd.ctl("get", f"coap://{HOST}:5699/big", "--block-size", "64").returncode == 0
    _, _, _, opts, _ = peer.requests[-1]
    block2 = [v for n, v in opts if n == 23]
    assert block2 == [bytes([2])], opts  # NUM 0, M 0, SZX 2 (64 bytes)


def test_fetch_patch_ipatch_methods(coapd, peer):
    for cmd, code in (("fetch", 5), ("patch", 6), ("ipatch", 7)):
        r = coapd.ctl(cmd, f"coap://{HOST}:5699/r", "--payload", "{}", "--content-format", "50")
        assert r.returncode == 0, r.stdout + r.stderr
        _, got, _, opts, payload = peer.requests[-1]
        assert got == code and payload == b"{}" and (12, b"\x32") in opts, (got, opts)


def test_bad_option_is_exit_2_naming_it(coapd):
    r = coapd.ctl("get", f"coap://{HOST}/x", "-O", "70000,x")
    assert r.returncode == 2 and "-O" in r.stderr and "65535" in r.stderr, r.stderr


def test_own_block_options_are_refused(coapd):
    r = coapd.ctl("get", f"coap://{HOST}/x", "-O", "23,0x02")
    assert r.returncode == 1 and "block" in r.stderr, r.stderr


def test_non_get_against_coap_server_notls(ns, coapd):
    p = ns.popen(["coap-server-notls", "-A", HOST, "-p", "5683"])
    try:
        wait_for(lambda: ":5683" in ns.sh("ss -lnu").stdout, message="coap-server-notls")
        r = coapd.ctl("get", f"coap://{HOST}/time", "--non")
        assert r.returncode == 0 and r.stdout.startswith("2.05"), r.stdout + r.stderr
        r = coapd.ctl("get", f"coap://{HOST}/time", "--token", "")
        assert r.returncode == 0, r.stdout + r.stderr
    finally:
        p.kill()
        p.wait()


@pytest.mark.parametrize("flags", [[], ["--non"]], ids=["con", "non"])
def test_separate_response_from_coap_server_notls(ns, coapd, flags):
    """/async?2: coap-server-notls answers after 2 s in a separate response
    (a CON request is ACKed empty first; RFC 7252 5.2.2), which coapd
    matches by token and passes on."""
    p = ns.popen(["coap-server-notls", "-A", HOST, "-p", "5683"])
    try:
        wait_for(lambda: ":5683" in ns.sh("ss -lnu").stdout, message="coap-server-notls")
        t0 = time.monotonic()
        r = coapd.ctl("get", f"coap://{HOST}/async?2", "--timeout", "15", *flags)
        elapsed = time.monotonic() - t0
        assert r.returncode == 0 and r.stdout.startswith("2.05"), r.stdout + r.stderr
        assert elapsed >= 1.8, elapsed
    finally:
        p.kill()
        p.wait()
