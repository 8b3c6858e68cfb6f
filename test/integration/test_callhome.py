"""Call-home (RFC 8323 role reversal) in both roles, and reconnect."""

import socket
import threading
import time

import coaptcp as ct
from netlab import Coapd, wait_for


def listener(ns, port):
    """An Actual-Client waiting for coapd to call home (kernel side)."""
    s = ns.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("192.0.2.1", port))
    s.listen(8)
    s.settimeout(15)
    return s


def accept_peer(lsock):
    conn, _ = lsock.accept()
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return ct.Peer(conn, connect=False)


def names(d, sid):
    return [e["event"] for e in d.events() if e["session_id"] == sid]


def connect_call_home(d, port, *extra):
    r = d.ctl("connect", f"coap+tcp://192.0.2.1:{port}", "--call-home", *extra)
    assert r.returncode == 0, r.stderr
    return int(r.stdout.split()[1])


def test_actual_server_side(ns, coapd):
    ls = listener(ns, 5684)
    sid = connect_call_home(coapd, 5684)
    p = accept_peer(ls)
    p.handshake()
    # The peer that accepted is the client: it asks, coapd answers.
    p.send(ct.request(ct.GET, "/time", b"\x01"))
    assert p.expect(ct.code(2, 5)).payload.endswith(b"Z")
    wait_for(lambda: "server_session_connected" in names(coapd, sid), message="event")
    assert names(coapd, sid) == ["tcp_connected", "session_connected", "server_session_connected"]
    (s,) = [s for s in coapd.sessions() if s["id"] == sid]
    assert s["role"] == "server" and s["call_home"] is True
    p.close()
    ls.close()


def test_peer_restarts_and_coapd_reconnects(ns, coapd):
    ls = listener(ns, 5684)
    sid = connect_call_home(coapd, 5684, "--reconnect-interval", "0.2")
    p = accept_peer(ls)
    p.handshake()
    p.close()  # the peer goes away (FIN)
    p2 = accept_peer(ls)  # ... and coapd comes back
    p2.handshake()
    p2.send(ct.request(ct.GET, "/time", b"\x02"))
    p2.expect(ct.code(2, 5))
    wait_for(lambda: "reconnect_success" in names(coapd, sid), message="reconnect_success")
    ev = names(coapd, sid)
    assert ev == ["tcp_connected", "session_connected", "server_session_connected",
                  "tcp_closed", "session_closed", "reconnecting", "tcp_connected",
                  "session_connected", "server_session_connected", "reconnect_success"], ev
    p2.close()
    ls.close()


def test_absent_peer_reset_and_reconnect_limit(ns, coapd):
    sid = connect_call_home(coapd, 5699, "--reconnect-interval", "0.1",
                            "--reconnect-attempts", "3")
    wait_for(lambda: "reconnect_no_more" in names(coapd, sid), message="reconnect_no_more")
    ev = [e for e in coapd.events() if e["session_id"] == sid]
    assert [e["event"] for e in ev] == [
        "tcp_failed", "session_failed",
        "reconnecting", "tcp_failed", "reconnect_failed",
        "reconnecting", "tcp_failed", "reconnect_failed",
        "reconnecting", "tcp_failed", "reconnect_failed",
        "reconnect_no_more"], ev
    failed = [e for e in ev if e["event"] == "reconnect_failed"]
    assert [e["attempt"] for e in failed] == [1, 2, 3]
    assert all(e["reason"] == "reset" for e in failed)
    assert not [s for s in coapd.sessions() if s["id"] == sid]


def test_silent_peer_times_out_one_syn_at_a_time(ns):
    d = Coapd(ns, args=["--connect-timeout", "0.3"])
    try:
        ns.sh("nft add table inet t && "
              "nft add chain inet t input '{ type filter hook input priority 0; }' && "
              "nft add rule inet t input tcp dport 5684 drop")
        ls = listener(ns, 5684)
        t0 = time.time()
        sid = connect_call_home(d, 5684, "--reconnect-interval", "0.1")
        assert time.time() - t0 < 1.0, "coapctl connect waited for the connection"
        # While attempts are pending the control socket and the engine answer.
        assert d.ctl("get", "coap://192.0.2.2/time").returncode == 0
        for _ in range(10):
            # Never two attempts at once for one peer.
            assert d.stats()["lwip"]["tcp_active"] <= 1
            time.sleep(0.1)
        wait_for(lambda: names(d, sid).count("reconnect_failed") >= 2, message="failed attempts")
        failed = [e for e in d.events() if e["event"] == "reconnect_failed"]
        assert all(e["reason"] == "timeout" for e in failed), failed
        ns.sh("nft delete table inet t")
        p = accept_peer(ls)
        p.handshake()
        wait_for(lambda: "reconnect_success" in names(d, sid), message="reconnect_success")
        p.close()
        ls.close()
    finally:
        ns.sh("nft delete table inet t", check=False)
        assert d.stop() == 0


def test_backoff_grows_to_cap(ns, coapd):
    sid = connect_call_home(coapd, 5698, "--reconnect-interval", "0.1",
                            "--reconnect-max-interval", "0.4")
    wait_for(lambda: names(coapd, sid).count("reconnecting") >= 5, timeout=10, message="attempts")
    coapd.ctl("close", sid)
    import datetime
    times = [datetime.datetime.fromisoformat(e["time"].replace("Z", "+00:00"))
             for e in coapd.events() if e["session_id"] == sid and e["event"] == "reconnecting"]
    gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:])]
    assert 0.15 < gaps[0] < 0.35, gaps   # 0.2 s before the 2nd attempt
    assert all(0.35 < g < 0.6 for g in gaps[2:]), gaps  # capped at 0.4 s


def test_actual_client_side_switches_role(ns):
    d = Coapd(ns, args=["--call-home-listen", "5685"])
    try:
        s = ns.socket(socket.AF_INET, socket.SOCK_STREAM)
        p = ct.Peer(s, ("192.0.2.2", 5685))
        p.handshake()
        dev = ct.Device(p, {"/sensor": b"21.5"})
        t = threading.Thread(target=dev.serve, daemon=True)
        t.start()
        sid = wait_for(lambda: [x["id"] for x in d.sessions() if x["role"] == "client"],
                       message="client session")[0]
        assert names(d, sid) == ["server_session_new", "tcp_connected", "session_connected",
                                 "role_changed"]
        # By URI (the device's address; its port is whatever it called from) ...
        r = d.ctl("get", "coap+tcp://192.0.2.1/sensor")
        assert r.returncode == 0 and r.stdout.endswith("21.5"), r.stdout + r.stderr
        # ... or by session id.
        r = d.ctl("get", "--session", sid, "coap+tcp://192.0.2.1/sensor")
        assert r.returncode == 0, r.stderr
        r = d.ctl("get", "coap+tcp://192.0.2.1/missing")
        assert r.returncode == 3
        assert dev.requests == [(1, "/sensor"), (1, "/sensor"), (1, "/missing")]
        dev.stop = True
        p.close()
        t.join(timeout=5)
    finally:
        assert d.stop() == 0


def test_coapd_calls_home_to_coapd(ns):
    # A listens for call-home; B calls home to it from another subnet.
    a = Coapd(ns, name="a", args=["--call-home-listen", "5685", "--gateway", "192.0.2.1"])
    b = Coapd(ns, name="b", tap="coap1", address="198.51.100.2/24", host="198.51.100.1/24",
              args=["--gateway", "198.51.100.1", "--session",
                    "coap+tcp://192.0.2.2:5685,call-home,reconnect-interval=0.2"])
    try:
        wait_for(lambda: [x for x in a.sessions() if x["role"] == "client"], message="call-home")
        r = a.ctl("get", "coap+tcp://198.51.100.2/time")
        assert r.returncode == 0 and r.stdout.startswith("2.05"), r.stdout + r.stderr
        bs = [x for x in b.sessions() if x["protocol"] == "tcp"]
        assert bs and bs[0]["role"] == "server" and bs[0]["call_home"]
        # A restarts: B reconnects by itself.
        assert a.stop() == 0
        a2 = Coapd(ns, name="a2", args=["--call-home-listen", "5685", "--gateway", "192.0.2.1"])
        try:
            wait_for(lambda: [x for x in a2.sessions() if x["role"] == "client"], timeout=15,
                     message="call-home again")
            assert a2.ctl("get", "coap+tcp://198.51.100.2/time").returncode == 0
            sid = bs[0]["id"]
            wait_for(lambda: "reconnect_success" in names(b, sid), message="reconnect_success")
        finally:
            assert a2.stop() == 0
    finally:
        assert b.stop() == 0
        if a.proc.poll() is None:
            a.stop()


def test_observation_survives_reconnect(ns, coapd):
    ls = listener(ns, 5684)
    sid = connect_call_home(coapd, 5684, "--reconnect-interval", "0.2")
    p = accept_peer(ls)
    p.handshake()
    p.send(ct.request(ct.GET, "/time", b"\x0b", extra=[(6, 0)]))  # Observe: register
    first = p.expect(ct.code(2, 5))
    assert first.option(6) is not None and first.token == b"\x0b"
    note = p.expect(ct.code(2, 5), timeout=3)  # /time notifies every second
    assert note.token == b"\x0b"
    seq = int.from_bytes(note.option(6), "big")
    p.close()  # the connection drops ...
    p2 = accept_peer(ls)  # ... coapd calls home again
    p2.handshake()
    # The observation belongs to the session: notifications resume on the new
    # connection without registering again.
    again = p2.expect(ct.code(2, 5), timeout=3)
    assert again.token == b"\x0b" and int.from_bytes(again.option(6), "big") > seq
    assert [s for s in coapd.sessions() if s["id"] == sid][0]["observers"] == 1
    p2.close()
    ls.close()


def cpu_ticks(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime, in clock ticks


def test_idle_engine_stays_idle_between_attempts(ns, coapd):
    # Nothing to do: the engine does not wake up at all.
    w0 = coapd.stats()["engine"]["wakeups"]
    time.sleep(1.5)
    w1 = coapd.stats()["engine"]["wakeups"]
    assert w1 - w0 <= 2, (w0, w1)  # the stats requests themselves
    # A session whose peer is absent: one wake-up per attempt, no CPU between.
    sid = connect_call_home(coapd, 5697, "--reconnect-interval", "1")
    time.sleep(0.5)
    t0, w0 = cpu_ticks(coapd.pid), coapd.stats()["engine"]["wakeups"]
    time.sleep(3)
    t1, w1 = cpu_ticks(coapd.pid), coapd.stats()["engine"]["wakeups"]
    attempts = names(coapd, sid).count("reconnecting")
    assert 2 <= attempts <= 5
    assert w1 - w0 <= 3 * 4, (w0, w1)  # per attempt: the timer, the RST, a stats call
    assert t1 - t0 <= 5, f"{t1 - t0} ticks of CPU in 3 s of waiting"  # < 50 ms


def test_unreachable_peer_reason(ns, coapd):
    # No gateway: 203.0.113.5 is off coapd's subnet, so there is no route.
    r = coapd.ctl("connect", "coap+tcp://203.0.113.5:5683", "--reconnect-interval", "0.1",
                  "--reconnect-attempts", "2")
    sid = int(r.stdout.split()[1])
    wait_for(lambda: "reconnect_no_more" in names(coapd, sid), message="reconnect_no_more")
    ev = [e for e in coapd.events() if e["session_id"] == sid]
    assert [e.get("reason") for e in ev if e["event"] in ("tcp_failed", "reconnect_failed")] == \
        ["unreachable"] * 5, ev
