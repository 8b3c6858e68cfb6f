"""Keepalive: coapd pings a quiet peer (CoAP over TCP Ping signals), keeps a
peer that answers, declares a peer that stops answering dead after
--keepalive-misses pings (session_failed, reason keepalive) and reconnects."""

import time

import coaptcp as ct
from netlab import Coapd, wait_for
from test_callhome import accept_peer, connect_call_home, listener, names

PING, PONG = ct.code(7, 2), ct.code(7, 3)


def test_a_peer_that_answers_pings_stays_up(ns):
    d = Coapd(ns, args=["--keepalive", "0.5"])
    try:
        ls = listener(ns, 5690)
        sid = connect_call_home(d, 5690)
        p = accept_peer(ls)
        p.handshake()
        t0 = time.monotonic()
        for _ in range(3):
            ping = p.expect(PING, timeout=5)
            p.send(ct.frame(PONG, ping.token))
        assert time.monotonic() - t0 >= 1.4  # never early: one per quiet 0.5 s
        counters = d.stats()["counters"]
        assert counters["keepalive_pings"] >= 3 and counters["keepalive_misses"] == 0, counters
        assert "session_failed" not in names(d, sid)
        p.close()
        ls.close()
    finally:
        assert d.stop() == 0


def test_a_peer_that_stops_answering_is_dead_and_coapd_reconnects(ns):
    d = Coapd(ns, args=["--keepalive-misses", "2"])
    try:
        ls = listener(ns, 5691)
        sid = connect_call_home(d, 5691, "--keepalive", "0.4", "--reconnect-interval", "0.2")
        p = accept_peer(ls)
        p.handshake()
        pings = 0
        t0 = time.monotonic()
        while "session_failed" not in names(d, sid) and time.monotonic() - t0 < 10:
            try:
                f = p.recv_frame(timeout=0.2)
            except Exception:
                continue
            if f and f.code == PING:
                pings += 1  # ... never answered
        assert pings == 2, pings
        failed = [e for e in d.events() if e["session_id"] == sid and e["event"] == "session_failed"]
        assert failed and failed[0]["reason"] == "keepalive", failed
        p2 = accept_peer(ls)  # it reconnects
        p2.handshake()
        wait_for(lambda: "reconnect_success" in names(d, sid), message="reconnect_success")
        assert d.stats()["counters"]["keepalive_misses"] == 2
        p2.close()
        p.close()
        ls.close()
    finally:
        assert d.stop() == 0


def test_release_with_alternative_address_and_hold_off_is_honoured(ns, coapd):
    """RFC 8323 5.5: the next connection goes to the Alternative-Address,
    not before Hold-Off, and the event says both."""
    first, second = listener(ns, 5692), listener(ns, 5693)
    sid = connect_call_home(coapd, 5692, "--reconnect-interval", "0.1")
    p = accept_peer(first)
    p.handshake()
    alt = b"192.0.2.1:5693"
    p.send(ct.frame(ct.code(7, 4), b"", [(2, alt), (4, bytes([1]))]))  # Release, Hold-Off 1 s
    released = time.monotonic()
    p.wait_eof()
    p2 = accept_peer(second)
    assert time.monotonic() - released >= 0.9, "reconnected before the Hold-Off"
    p2.handshake()
    wait_for(lambda: "reconnect_success" in names(coapd, sid), message="reconnect_success")
    closed = [e for e in coapd.events() if e["session_id"] == sid and e["event"] == "session_closed"]
    assert closed[0]["reason"] == ("released by peer, alternative-address 192.0.2.1:5693, "
                                   "hold-off 1 s"), closed
    (s,) = [s for s in coapd.sessions() if s["id"] == sid]
    assert s["peer"] == "192.0.2.1:5693", s
    p2.close()
    p.close()
    first.close()
    second.close()
