"""CoAP over TCP (RFC 8323) and the lwIP connection lifecycle."""

import socket
import threading
import time

import pytest

import coaptcp as ct
from netlab import Coapd, coap_client, coap_payload, wait_for


def peer(ns, family=socket.AF_INET, addr=("192.0.2.2", 5683), rcvbuf=None, **kw):
    s = ns.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    return ct.Peer(s, addr, **kw)


def tcp_sessions(coapd):
    return [s for s in coapd.sessions() if s["protocol"] == "tcp"]


def events_of(coapd, session_id):
    return [e["event"] for e in coapd.events() if e["session_id"] == session_id]


def wait_no_tcp_sessions(coapd, baseline_active=0, timeout=10):
    wait_for(lambda: not tcp_sessions(coapd), timeout=timeout, message="TCP sessions gone")
    wait_for(lambda: coapd.stats()["lwip"]["tcp_active"] <= baseline_active, timeout=timeout,
             message="tcp_active back to baseline")


# --- with Debian's coap-client-notls ---------------------------------------------------

def test_get_put_wellknown_over_tcp(ns, coapd):
    data, err = coap_payload(ns, "-B", "5", "coap+tcp://192.0.2.2/.well-known/core")
    assert b"</time>" in data, err
    data, err = coap_payload(ns, "-B", "5", "-m", "put", "-e", "over tcp", "coap+tcp://192.0.2.2/echo")
    assert data == b"over tcp", err
    data, err = coap_payload(ns, "-B", "5", "coap+tcp://192.0.2.2/echo")
    assert data == b"over tcp", err
    data, err = coap_payload(ns, "-B", "5", "coap+tcp://192.0.2.2/nothing-here")
    assert "4.04" in err
    wait_no_tcp_sessions(coapd)


def test_ipv6_over_tcp(ns):
    d = Coapd(ns, args=["--ipv6", "fd00:c0a9::2/64", "--host-ipv6", "fd00:c0a9::1/64"])
    try:
        data, err = coap_payload(ns, "-B", "5", "coap+tcp://[fd00:c0a9::2]/time")
        assert data.endswith(b"Z"), err
        p = peer(ns, socket.AF_INET6, ("fd00:c0a9::2", 5683))
        p.handshake()
        p.send(ct.request(ct.GET, "/time", b"\x01"))
        assert p.expect(ct.code(2, 5)).payload.endswith(b"Z")
        p.close()
    finally:
        assert d.stop() == 0


# --- framing ---------------------------------------------------------------------

def test_csm_first_with_mms_and_bwt(ns, coapd):
    p = peer(ns)
    theirs = p.expect(ct.CSM)  # sent before we say anything
    mms = int.from_bytes(theirs.option(2), "big")
    assert mms >= 65536 + 64
    assert theirs.option(4) is not None  # Block-Wise-Transfer
    p.close()


def test_one_byte_at_a_time(ns, coapd):
    p = peer(ns)
    data = ct.csm(65536) + ct.request(ct.PUT, "/echo", b"\x07\x08", b"slowly") + \
        ct.request(ct.GET, "/echo", b"\x09")
    for b in data:
        p.send(bytes([b]))
        time.sleep(0.002)
    p.expect(ct.CSM)
    r = p.expect(ct.code(2, 4))
    assert r.token == b"\x07\x08" and r.payload == b"slowly"
    assert p.expect(ct.code(2, 5)).payload == b"slowly"
    p.close()


def test_64k_message_each_direction(ns, coapd):
    p = peer(ns)
    p.handshake(max_message_size=200000)
    body = bytes((i * 7) % 251 for i in range(65536))
    p.send(ct.request(ct.PUT, "/echo", b"\x01", body))
    r = p.expect(ct.code(2, 4), timeout=20)
    assert r.payload == body and r.option(23) is None  # whole, no Block2
    p.send(ct.request(ct.GET, "/echo", b"\x02"))
    assert p.expect(ct.code(2, 5), timeout=20).payload == body
    p.close()


def test_respects_peer_max_message_size(ns, coapd):
    p = peer(ns)
    p.handshake(max_message_size=1152, bwt=True)
    body = b"x" * 5000
    # Sent in one frame: coapd accepts up to its own Max-Message-Size.
    p.send(ct.request(ct.PUT, "/echo", b"\x01", body))
    r = p.expect(ct.code(2, 4))
    assert r.size <= 1152 and r.option(23) is not None  # Block2 within our MMS
    p.close()


def test_len15_frame_announcing_4gib_is_refused(ns, coapd):
    rss_before = coapd.rss_kib()
    p = peer(ns)
    p.handshake()
    p.send(bytes([0xF1, 0xFF, 0xFF, 0xFF, 0xF0, 0x01, 0xAA]) + b"\x00" * 1000)
    frames = p.wait_eof()  # orderly EOF, not a reset
    assert any(f.code == ct.ABORT for f in frames), frames
    assert coapd.rss_kib() - rss_before < 20000
    assert coapd.stats()["counters"]["bad_packets"] >= 1
    wait_no_tcp_sessions(coapd)


def test_request_before_csm_is_aborted(ns, coapd):
    p = peer(ns)
    p.send(ct.request(ct.GET, "/time", b"\x01"))
    frames = p.wait_eof()
    assert [f.code for f in frames] == [ct.CSM, ct.ABORT], frames


# --- lifecycle ---------------------------------------------------------------------

def test_peer_reset_mid_session(ns, coapd):
    p = peer(ns)
    p.handshake()
    p.send(ct.request(ct.GET, "/time", b"\x01"))
    p.expect(ct.code(2, 5))
    sid = tcp_sessions(coapd)[0]["id"]
    p.reset()
    wait_no_tcp_sessions(coapd)
    assert events_of(coapd, sid) == ["server_session_new", "tcp_connected", "session_connected",
                                     "tcp_failed", "session_failed", "server_session_del"]


def test_peer_fin_mid_frame(ns, coapd):
    p = peer(ns)
    p.handshake()
    half = ct.request(ct.PUT, "/echo", b"\x01", b"y" * 500)[:200]
    p.send(half)
    sid = tcp_sessions(coapd)[0]["id"]
    p.sock.shutdown(socket.SHUT_WR)
    p.wait_eof()  # coapd answers our FIN with its own, no RST
    wait_no_tcp_sessions(coapd)
    ev = [e for e in coapd.events() if e["session_id"] == sid]
    assert "bad_packet" in [e["event"] for e in ev]
    assert [e["event"] for e in ev][-3:] == ["tcp_closed", "session_closed", "server_session_del"]


def test_peer_that_never_sends_csm(ns):
    d = Coapd(ns, args=["--csm-timeout", "0.5"])
    try:
        p = peer(ns)
        t0 = time.time()
        frames = p.wait_eof(timeout=10)
        assert 0.4 < time.time() - t0 < 5
        assert [f.code for f in frames] == [ct.CSM, ct.ABORT]
        wait_no_tcp_sessions(d)
        names = [e["event"] for e in d.events()]
        assert names[-3:] == ["tcp_closed", "session_failed", "server_session_del"], names
    finally:
        assert d.stop() == 0


def test_ping_pong_and_release(ns, coapd):
    p = peer(ns)
    p.handshake()
    p.send(ct.frame(ct.PING, b"\x42"))
    assert p.expect(ct.PONG).token == b"\x42"
    p.send(ct.frame(ct.RELEASE))
    assert p.wait_eof() == []
    wait_no_tcp_sessions(coapd)


def test_ping_answered_during_large_transfer(ns, coapd):
    p = peer(ns, rcvbuf=8192)
    p.handshake(max_message_size=200000)
    body = b"z" * 120000
    p.send(ct.request(ct.PUT, "/echo", b"\x01", body))
    p.expect(ct.code(2, 4), timeout=20)
    # Ask for several large responses, then ping before reading any of them.
    n = 6
    for i in range(n):
        p.send(ct.request(ct.GET, "/echo", bytes([0x10 + i])))
    time.sleep(0.3)
    p.send(ct.frame(ct.PING, b"\x99"))
    got = []
    while True:
        f = p.recv_frame(timeout=20)
        got.append(f.code)
        if f.code == ct.PONG:
            break
    responses_before_pong = got.count(ct.code(2, 5))
    assert responses_before_pong < n - 1, got  # the Pong overtook queued responses
    for _ in range(n - responses_before_pong):
        assert p.expect(ct.code(2, 5), timeout=20).payload == body
    p.close()


def test_close_with_unread_data_sends_fin(ns, coapd):
    p = peer(ns)
    p.handshake()
    # A bad frame followed by bytes coapd will never parse: it aborts and
    # closes with data unread, which must still end in FIN, not RST.
    p.send(bytes([0x0F, 0x01]) + ct.request(ct.GET, "/time", b"\x01") * 200)
    frames = p.wait_eof()
    assert frames and frames[-1].code == ct.ABORT
    wait_no_tcp_sessions(coapd)


def test_coapctl_close_server_session(ns, coapd):
    p = peer(ns)
    p.handshake()
    sid = tcp_sessions(coapd)[0]["id"]
    assert coapd.ctl("close", sid).returncode == 0
    frames = p.wait_eof()
    assert [f.code for f in frames] == [ct.RELEASE]
    wait_no_tcp_sessions(coapd)
    assert coapd.ctl("close", sid).returncode != 0  # gone


def test_slow_reader_is_bounded_and_closed(ns):
    d = Coapd(ns, args=["--max-queued-bytes", "300000", "--tcp-idle-timeout", "0"])
    try:
        p = peer(ns, rcvbuf=4096)
        p.handshake(max_message_size=200000)
        p.send(ct.request(ct.PUT, "/echo", b"\x01", b"q" * 60000))
        p.expect(ct.code(2, 4))
        sid = tcp_sessions(d)[0]["id"]
        # Keep asking, never read.
        for i in range(40):
            try:
                p.send(ct.request(ct.GET, "/echo", bytes([i])))
            except (BrokenPipeError, ConnectionResetError):
                break
        wait_for(lambda: "session_failed" in events_of(d, sid), timeout=15, message="session_failed")
        ev = [e for e in d.events() if e["session_id"] == sid and e["event"] == "session_failed"]
        assert "queue" in ev[0].get("reason", ""), ev
        wait_no_tcp_sessions(d)
        assert d.rss_kib() < 200000
    finally:
        assert d.stop() == 0


def test_max_tcp_sessions(ns):
    d = Coapd(ns, args=["--max-tcp-sessions", "2"])
    try:
        a, b = peer(ns), peer(ns)
        a.handshake()
        b.handshake()
        c = peer(ns)
        frames = c.wait_eof()
        assert [f.code for f in frames] == [ct.CSM, ct.ABORT]
        assert "session_rejected" in [e["event"] for e in d.events()]
        a.send(ct.request(ct.GET, "/time", b"\x01"))
        a.expect(ct.code(2, 5))
    finally:
        assert d.stop() == 0


def test_idle_timeout_releases(ns):
    d = Coapd(ns, args=["--tcp-idle-timeout", "0.5"])
    try:
        p = peer(ns)
        p.handshake()
        frames = p.wait_eof(timeout=5)
        assert [f.code for f in frames] == [ct.RELEASE]
        wait_no_tcp_sessions(d)
    finally:
        assert d.stop() == 0


def test_sessions_listing(ns, coapd):
    p = peer(ns)
    p.handshake()
    p.send(ct.request(ct.GET, "/time", b"\x01"))
    p.expect(ct.code(2, 5))
    (s,) = tcp_sessions(coapd)
    for k in ("id", "protocol", "role", "state", "peer", "local_address", "age", "bytes_in",
              "bytes_out", "messages_in", "messages_out"):
        assert k in s, k
    assert s["role"] == "server" and s["state"] == "established"
    assert s["local_address"] == "192.0.2.2:5683" and s["peer"].startswith("192.0.2.1:")
    assert s["messages_in"] == 2 and s["messages_out"] == 2
    table = coapd.ctl("sessions").stdout
    assert "tcp" in table and "established" in table
    p.close()


def test_events_follow_streams_in_order(ns, coapd):
    import json
    import subprocess
    from netlab import COAPCTL
    f = subprocess.Popen([COAPCTL, "--socket", coapd.sock, "--json", "events", "--follow"],
                         stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(0.3)
        p = peer(ns)
        p.handshake()
        p.close()
        seen = []
        deadline = time.time() + 10
        while time.time() < deadline and "server_session_del" not in seen:
            line = f.stdout.readline()
            if not line:
                break
            e = json.loads(line)
            assert {"time", "event", "session_id", "peer"} <= set(e), e
            seen.append(e["event"])
        assert seen[-6:] == ["server_session_new", "tcp_connected", "session_connected",
                            "tcp_closed", "session_closed", "server_session_del"], seen
    finally:
        f.terminate()
        f.wait(timeout=5)


@pytest.mark.slow
def test_churn_5000_cycles_leaves_nothing_behind(ns, coapd):
    baseline = coapd.stats()["lwip"]
    resets = 0
    req = ct.csm(65536) + ct.request(ct.GET, "/time", b"\x01")
    for i in range(5000):
        s = ns.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(10)
        try:
            s.connect(("192.0.2.2", 5683))
            s.sendall(req)
            buf = b""
            while True:
                frames, _ = ct.parse_frames(buf)
                if len(frames) >= 2:
                    break
                chunk = s.recv(4096)
                assert chunk, "EOF before the response"
                buf += chunk
            assert frames[1].code == ct.code(2, 5)
            s.shutdown(socket.SHUT_WR)
            while s.recv(4096):  # read to coapd's FIN
                pass
        except ConnectionResetError:
            resets += 1
        finally:
            s.close()
    assert resets == 0
    wait_no_tcp_sessions(coapd, baseline["tcp_active"], timeout=30)
    st = coapd.stats()
    # coapd never holds TIME_WAIT here (the peer closes first); bounded anyway.
    assert st["lwip"]["tcp_time_wait"] <= 5000
    assert st["lwip"]["tcp_listen"] == baseline["tcp_listen"]
    names = [e["event"] for e in coapd.events()]
    assert names.count("tcp_failed") == 0 and names.count("session_failed") == 0


def _closed_by_coapd(ns, port):
    """A session from 192.0.2.1:port that coapd closes first (Release), so
    that its pcb goes to TIME_WAIT; the GET before it proves it worked."""
    s = ns.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("192.0.2.1", port))
    p = ct.Peer(s)
    p.handshake()
    p.send(ct.request(ct.GET, "/time", b"\x01"))
    assert p.expect(ct.code(2, 5)).token == b"\x01"
    p.send(ct.frame(ct.RELEASE))
    assert p.wait_eof() == []


def test_port_reused_while_in_time_wait(ns, coapd):
    # A device with a fixed source port reconnects right after coapd closed
    # its session: lwIP alone would answer the SYN from TIME_WAIT with RST.
    for _ in range(3):
        _closed_by_coapd(ns, 40001)
        wait_for(lambda: coapd.stats()["lwip"]["tcp_time_wait"] >= 1, message="TIME_WAIT")
    assert coapd.stats()["lwip"]["tcp_time_wait"] == 1


def test_time_wait_pcbs_are_bounded(ns):
    d = Coapd(ns, ["--max-time-wait", "4"])
    for port in range(40100, 40110):
        _closed_by_coapd(ns, port)
    wait_no_tcp_sessions(d)
    lwip = d.stats()["lwip"]
    assert lwip["tcp_time_wait"] == 4, lwip
    assert d.stop() == 0


def test_sigterm_releases_sessions_and_waits_for_the_acks(ns):
    d = Coapd(ns)
    p = peer(ns)
    p.handshake()
    t0 = time.time()
    assert d.stop() == 0
    # Nothing was left to wait for: no linger to the limit.
    assert time.time() - t0 < 1.5
    frames = p.wait_eof()
    assert [f.code for f in frames] == [ct.RELEASE], frames


def test_sigterm_aborts_a_session_that_cannot_finish(ns):
    # The peer reads nothing: Release cannot get out. Shutdown waits a bounded
    # time, then aborts the connection while the TAP still exists, so the
    # peer learns of it (RST) instead of waiting on a dead link.
    d = Coapd(ns, args=["--tcp-idle-timeout", "0"])
    p = peer(ns, rcvbuf=4096)
    p.handshake(max_message_size=200000)
    p.send(ct.request(ct.PUT, "/echo", b"\x01", b"q" * 60000))
    p.expect(ct.code(2, 4))
    for i in range(8):
        p.send(ct.request(ct.GET, "/echo", bytes([i])))
    wait_for(lambda: tcp_sessions(d)[0]["queued_bytes"] > 0, message="coapd's queue backs up")
    t0 = time.time()
    assert d.stop() == 0
    assert time.time() - t0 < 5
    with pytest.raises(ConnectionResetError):
        while p.sock.recv(65536):
            pass
