"""coapctl observe: coapd observing from its own stack (RFC 7641) against
Debian's coap-server-notls (/time over UDP and TCP, NON notifications with
-N), coap-server-openssl (coaps://, coaps+tcp://) and kernel-socket peers
this file writes (reordered, duplicate and decreasing notifications,
resources that are not observable, a server that never answers, a
persistent session that reconnects). Also --count/--duration/--json,
Ctrl-C, `coapctl observations` and --cancel."""

import json
import signal
import socket
import struct
import subprocess
import threading
import time

import pytest

import coaptcp as ct
from netlab import COAPCTL, wait_for
from test_callhome import listener, accept_peer, names
from test_request_shape import Peer, parse
from test_security import OPENSSL_SERVER, SERVER_PSK_KEY, start_libcoap_server, stop_process

HOST = "192.0.2.1"
OBSERVE, MAX_AGE, BLOCK2 = 6, 14, 23
JSON_KEYS = {"seq", "code", "content_format", "payload", "time"}


def udp_msg(t, code, mid, token, opts=(), payload=b""):
    body = ct.encode_options(opts) + ((b"\xff" + payload) if payload else b"")
    return bytes([0x40 | t << 4 | len(token), code]) + struct.pack("!H", mid) + token + body


def option(opts, number):
    return [v for n, v in opts if n == number]


class ObserveStream:
    """A coapctl observe running in the background, its stdout read line by
    line as it comes."""

    def __init__(self, coapd, *args):
        self.proc = subprocess.Popen([str(COAPCTL), "--socket", coapd.sock, "observe", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_lines(self, n, timeout=15):
        wait_for(lambda: len(self.lines) >= n, timeout=timeout, message=f"{n} notification lines")
        return self.lines[:n]

    def finish(self, timeout=15):
        rc = self.proc.wait(timeout=timeout)
        self.thread.join(timeout=5)
        return rc, self.lines, self.proc.stderr.read()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def stream(coapd):
    started = []

    def start(*args):
        s = ObserveStream(coapd, *args)
        started.append(s)
        return s

    yield start
    for s in started:
        s.kill()


@pytest.fixture
def libcoap_server(ns):
    procs = []

    def start(*extra):
        p = ns.popen(["coap-server-notls", "-A", HOST, "-p", "5683", *extra])
        procs.append(p)
        wait_for(lambda: ":5683" in ns.sh("ss -lnu").stdout, message="coap-server-notls")
        return p

    yield start
    for p in procs:
        p.kill()
        p.wait()


def observations(coapd):
    return coapd.ctl_json("observations")["observations"]


class ObservePeer(Peer):
    """A UDP server on the kernel side. A GET with Observe 0 is answered
    2.05 with Observe `first` (paths in `plain` without Observe, `missing`
    with 4.04, `silent` not at all), followed by the scripted NON
    notifications [(seq, payload)]; a GET with Observe 1 is answered 2.05
    without Observe. Every request and every RST is recorded."""

    def __init__(self, ns, port=5697, first=10, script=()):
        self.first, self.script = first, list(script)
        self.rsts, self.addr, self.mid = [], None, 0x3000
        super().__init__(ns, port)

    def send(self, t, code, token, opts=(), payload=b"", mid=None):
        if mid is None:
            self.mid += 1
            mid = self.mid
        self.sock.sendto(udp_msg(t, code, mid, token, opts, payload), self.addr)
        return mid

    def serve(self):
        while not self.stop:
            try:
                data, self.addr = self.sock.recvfrom(2048)
            except socket.timeout:
                continue
            t, code, mid, token, opts, _ = parse(data)
            if t == 3:
                self.rsts.append(mid)
                continue
            if code == 0:
                continue
            self.requests.append((t, code, token, opts))
            path = b"/".join(option(opts, 11)).decode()
            obs = option(opts, OBSERVE)
            rtype = 2 if t == 0 else 1
            if path == "silent":
                continue
            if path == "missing":
                self.send(rtype, 0x84, token, mid=mid if t == 0 else None)
            elif path == "plain" or obs != [b""]:  # a plain GET, or Observe 1
                self.send(rtype, 0x45, token, [(12, 0)], b"plain", mid=mid if t == 0 else None)
            else:
                self.send(rtype, 0x45, token, [(OBSERVE, self.first), (12, 0)], b"r",
                          mid=mid if t == 0 else None)
                for seq, body in self.script:
                    time.sleep(0.02)
                    self.send(1, 0x45, token, [(OBSERVE, seq), (12, 0)], body)

    def registrations(self, observe_value):
        return [r for r in self.requests if option(r[3], OBSERVE) == [observe_value]]


@pytest.fixture
def peer(ns, coapd):
    peers = []

    def start(**kw):
        p = ObservePeer(ns, **kw)
        peers.append(p)
        return p

    yield start
    for p in peers:
        p.close()


def test_observe_time_over_udp_json_count(coapd, libcoap_server):
    libcoap_server()
    r = coapd.ctl("--json", "observe", f"coap://{HOST}/time", "--count", "3", timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(lines) == 3, r.stdout
    for n in lines:
        assert set(n) == JSON_KEYS, n
        # libcoap 4.3.1 sends /time without Content-Format.
        assert n["code"] == "2.05" and n["content_format"] in (0, None) and n["payload"], n
        assert n["time"].endswith("Z"), n
    seqs = [n["seq"] for n in lines]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3, seqs
    assert observations(coapd) == []


def test_observe_time_over_tcp(coapd, libcoap_server):
    libcoap_server()
    r = coapd.ctl("observe", f"coap+tcp://{HOST}/time", "--count", "2", timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 2, r.stdout
    for line in lines:
        assert line.startswith("seq=") and " code=2.05 content_format=" in line, line
        assert " payload=" in line, line


def test_non_notifications(coapd, libcoap_server):
    libcoap_server("-N")
    r = coapd.ctl("--json", "observe", f"coap://{HOST}/time", "--count", "3", timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    assert len(r.stdout.splitlines()) == 3, r.stdout


@pytest.mark.parametrize("scheme", ["coaps", "coaps+tcp"])
def test_observe_time_over_dtls_and_tls(ns, coapd, scheme):
    p = start_libcoap_server(ns, OPENSSL_SERVER, "-k", SERVER_PSK_KEY)
    try:
        r = coapd.ctl("--json", "observe", f"{scheme}://{HOST}/time", "--count", "2",
                      "--psk-identity", "coapd-client", "--psk-key", SERVER_PSK_KEY, timeout=30)
        assert r.returncode == 0, r.stdout + r.stderr
        lines = [json.loads(line) for line in r.stdout.splitlines()]
        assert len(lines) == 2 and all(n["code"] == "2.05" for n in lines), r.stdout
        assert lines[0]["seq"] < lines[1]["seq"], lines
        assert [s["security"] for s in coapd.sessions()] == ["psk"]
    finally:
        stop_process(p)


def test_reordered_duplicate_and_decreasing_notifications_are_dropped(coapd, peer):
    # After the registration's answer (10): 12, then 11 (reordered), 12 again
    # (duplicate), 5 (decreasing), then 13.
    p = peer(script=[(12, b"a"), (11, b"old"), (12, b"dup"), (5, b"back"), (13, b"b")])
    r = coapd.ctl("observe", f"coap://{HOST}:5697/obs", "--count", "3", timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.splitlines() == [
        "seq=10 code=2.05 content_format=0 payload=r",
        "seq=12 code=2.05 content_format=0 payload=a",
        "seq=13 code=2.05 content_format=0 payload=b",
    ], r.stdout
    # Deregistered: a GET with Observe 1 and the registration's token.
    wait_for(lambda: p.registrations(b"\x01"), message="deregistration")
    (reg,), (dereg,) = p.registrations(b""), p.registrations(b"\x01")
    assert dereg[1] == 1 and dereg[2] == reg[2], (reg, dereg)
    # A notification for the cancelled token, and one for a token coapd
    # never registered, are answered with RST.
    for token in (reg[2], b"\x99\x98\x97"):
        mid = p.send(1, 0x45, token, [(OBSERVE, 40)], b"late")
        wait_for(lambda: mid in p.rsts, message=f"RST for mid {mid}")


def test_duration_deregisters_and_exits_0(coapd, peer):
    p = peer()
    t0 = time.monotonic()
    r = coapd.ctl("--json", "observe", f"coap://{HOST}:5697/obs", "--duration", "1.5", timeout=30)
    elapsed = time.monotonic() - t0
    assert r.returncode == 0, r.stdout + r.stderr
    assert 1.5 <= elapsed < 10, elapsed
    assert [json.loads(line)["payload"] for line in r.stdout.splitlines()] == ["r"], r.stdout
    assert p.registrations(b"\x01"), p.requests


def test_not_observable_prints_the_response_with_its_exit_status(coapd, peer):
    peer()
    r = coapd.ctl("observe", f"coap://{HOST}:5697/plain", timeout=30)
    assert r.returncode == 0 and r.stdout.startswith("2.05 Content"), r.stdout + r.stderr
    assert r.stdout.endswith("plain"), r.stdout
    r = coapd.ctl("observe", f"coap://{HOST}:5697/missing", timeout=30)
    assert r.returncode == 3 and r.stdout.startswith("4.04"), r.stdout + r.stderr
    assert observations(coapd) == []


def test_a_server_that_never_answers_times_out(coapd, peer):
    peer()
    r = coapd.ctl("observe", f"coap://{HOST}:5697/silent", "--non", "--timeout", "2", timeout=30)
    assert r.returncode == 5 and "timeout" in r.stderr, r.stdout + r.stderr


def test_observations_list_and_cancel(coapd, libcoap_server, stream):
    libcoap_server()
    s = stream(f"coap://{HOST}/time", "--json", "--token", "0a0b0c")
    s.wait_lines(1)
    listed = observations(coapd)
    assert len(listed) == 1, listed
    o = listed[0]
    assert {"id", "uri", "session_id", "token", "notifications", "last_seq"} <= set(o), o
    assert o["uri"] == f"coap://{HOST}:5683/time" and o["token"] == "0a0b0c", o
    assert o["notifications"] >= 1 and o["session_id"] > 0, o
    human = coapd.ctl("observations")
    assert human.returncode == 0 and "coap://192.0.2.1:5683/time" in human.stdout, human.stdout
    r = coapd.ctl("observe", "--cancel", o["id"])
    assert r.returncode == 0, r.stderr
    rc, lines, err = s.finish()
    assert rc == 0, err
    assert all(set(json.loads(line)) == JSON_KEYS for line in lines), lines
    assert observations(coapd) == []
    r = coapd.ctl("observe", "--cancel", o["id"])
    assert r.returncode == 1 and "no observation" in r.stderr, r.stderr


def test_sigint_deregisters_and_exits_0(coapd, peer, stream):
    p = peer()
    s = stream(f"coap://{HOST}:5697/obs")
    s.wait_lines(1)
    s.proc.send_signal(signal.SIGINT)
    rc, lines, err = s.finish()
    assert rc == 0, err
    assert lines == ["seq=10 code=2.05 content_format=0 payload=r"], lines
    assert p.registrations(b"\x01"), p.requests
    assert observations(coapd) == []


@pytest.mark.parametrize("role", [[], ["--call-home"]], ids=["client", "call-home"])
def test_persistent_session_reregisters_after_every_reconnect(ns, coapd, stream, role):
    """Also on a session where coapd called home (and serves the device):
    RFC 8323 lets either end send requests, so coapd observes the device
    over the connection it keeps up."""
    ls = listener(ns, 5694)
    r = coapd.ctl("connect", f"coap+tcp://{HOST}:5694", "--reconnect-interval", "0.2", *role)
    assert r.returncode == 0, r.stderr
    sid = int(r.stdout.split()[1])
    p = accept_peer(ls)
    p.handshake()
    s = stream(f"coap+tcp://{HOST}:5694/obs", "--json")
    reg = p.expect(ct.GET)
    assert reg.option(OBSERVE) == b"", reg
    p.send(ct.frame(ct.code(2, 5), reg.token, [(OBSERVE, 1)], b"one"))
    s.wait_lines(1)
    for n, body in ((2, b"two"), (3, b"three")):
        p.reset()
        p = accept_peer(ls)
        p.handshake()
        again = p.expect(ct.GET)
        assert again.option(OBSERVE) == b"" and again.token == reg.token, again
        p.send(ct.frame(ct.code(2, 5), reg.token, [(OBSERVE, n)], body))
        s.wait_lines(n)
    assert [json.loads(line)["payload"] for line in s.lines] == ["one", "two", "three"]
    events = [e for e in coapd.events() if e["session_id"] == sid]
    rereg = [e for e in events if e["event"] == "observe_reregistered"]
    assert len(rereg) == 2, names(coapd, sid)
    assert "coap+tcp://192.0.2.1:5694/obs" in rereg[0]["detail"], rereg
    listed = observations(coapd)
    assert len(listed) == 1 and listed[0]["session_id"] == sid, listed
    s.proc.send_signal(signal.SIGINT)
    dereg = p.expect(ct.GET)
    assert dereg.option(OBSERVE) == b"\x01" and dereg.token == reg.token, dereg
    p.send(ct.frame(ct.code(2, 5), reg.token, [], b"bye"))
    rc, _, err = s.finish()
    assert rc == 0, err
    p.close()
    ls.close()
