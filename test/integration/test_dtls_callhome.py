"""Outgoing sessions over DTLS (coaps://), and call-home over DTLS: coapd is the
DTLS client and serves the peer's requests. The peer is a second coapd with a
PSK file, on its own TAP and subnet in the same namespace."""

from pathlib import Path

from netlab import Coapd, wait_for

PSK = ["--client-psk-identity", "device-1", "--client-psk-key", "secret-1"]


def names(d, sid):
    return [e["event"] for e in d.events() if e["session_id"] == sid]


def peer(ns, name="b"):
    psk = Path(f"/tmp/{ns.name}-{name}.psk")
    psk.write_text("# identity key\ndevice-1 secret-1\n")
    return Coapd(ns, name=name, tap="coap1", address="198.51.100.2/24", host="198.51.100.1/24",
                 args=["--gateway", "198.51.100.1", "--psk-file", str(psk)])


def dtls_session(d):
    return wait_for(lambda: [s for s in d.sessions() if s["protocol"] == "dtls"],
                    message="a DTLS session")[0]


def test_call_home_over_dtls_serves_and_reconnects(ns):
    a = Coapd(ns, name="a", args=["--gateway", "192.0.2.1", "--handshake-timeout", "3", *PSK])
    b = peer(ns)
    try:
        r = a.ctl("connect", "coaps://198.51.100.2", "--call-home", "--reconnect-interval", "0.2")
        assert r.returncode == 0, r.stderr
        sid = int(r.stdout.split()[1])
        wait_for(lambda: "server_session_connected" in names(a, sid), message="connected")
        assert names(a, sid) == ["handshake_done", "session_connected",
                                 "server_session_connected"]
        (mine,) = [s for s in a.sessions() if s["id"] == sid]
        assert mine["protocol"] == "dtls" and mine["role"] == "server" and mine["call_home"]
        assert mine["security"] == "psk"
        # B, the DTLS server, is the one that asks; A answers on its session.
        theirs = dtls_session(b)
        assert theirs["peer_identity"] == "device-1"
        r = b.ctl("get", "--session", theirs["id"], f"coaps://{theirs['peer']}/time")
        assert r.returncode == 0 and r.stdout.startswith("2.05"), r.stdout + r.stderr
        # B restarts: it says close_notify going down, A handshakes again
        # (retrying while B is away) and serves the new B.
        assert b.stop() == 0
        wait_for(lambda: "session_closed" in names(a, sid), message="session_closed")
        b = peer(ns, name="b2")
        wait_for(lambda: "reconnect_success" in names(a, sid), timeout=20,
                 message="reconnect_success")
        ev = names(a, sid)
        assert ev[3:5] == ["session_closed", "reconnecting"], ev
        assert ev[-3:] == ["session_connected", "server_session_connected",
                           "reconnect_success"], ev
        theirs = dtls_session(b)
        r = b.ctl("get", "--session", theirs["id"], f"coaps://{theirs['peer']}/time")
        assert r.returncode == 0 and r.stdout.startswith("2.05"), r.stdout + r.stderr
        # coapctl close ends it for good, with close_notify: B lets its side go.
        assert a.ctl("close", sid).returncode == 0
        wait_for(lambda: not [s for s in b.sessions() if s["protocol"] == "dtls"],
                 message="B's session gone")
        assert names(a, sid)[-1] == "session_closed"
        assert not [s for s in a.sessions() if s["id"] == sid]
    finally:
        assert b.stop() == 0
        assert a.stop() == 0


def test_dtls_session_from_the_config_with_a_wrong_key(ns):
    b = peer(ns)
    a = Coapd(ns, name="a", args=[
        "--gateway", "192.0.2.1", "--session",
        "coaps://198.51.100.2,psk-identity=device-1,psk-key=wrong,reconnect-interval=0.2,"
        "reconnect-attempts=2"])
    try:
        wait_for(lambda: [e for e in a.events() if e["event"] == "reconnect_no_more"],
                 message="reconnect_no_more")
        ev = [e for e in a.events() if e["event"] in
              ("session_failed", "reconnect_failed", "reconnect_no_more")]
        assert [e["event"] for e in ev] == ["session_failed", "reconnect_failed",
                                            "reconnect_failed", "reconnect_no_more"], ev
        assert all(e.get("reason") == "handshake" for e in ev[:3]), ev
        failed = [e for e in b.events() if e["event"] == "handshake_failed"]
        assert len(failed) == 3 and all(e["reason"] == "bad_psk" for e in failed), failed
        assert not a.sessions()
    finally:
        assert a.stop() == 0
        assert b.stop() == 0


def test_connect_refuses_plain_udp(ns, coapd):
    r = coapd.ctl("connect", "coap://192.0.2.1")
    assert r.returncode != 0
    assert "coaps://" in r.stderr, r.stderr
