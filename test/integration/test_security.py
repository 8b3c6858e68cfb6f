"""DTLS 1.2 (coaps://) and TLS 1.2 (coaps+tcp://): coapd against Debian's
libcoap tools built on OpenSSL and GnuTLS in both directions, call-home over
TLS with a Python peer, bad input on the secure ports, the control-socket
contract for security, and the Echo-based amplification limit on plain UDP.

Certificates are made once per test session with the openssl CLI (seclab).
Every test has its own namespace (the `ns` fixture) with coapd's TAP and all
peers in it.
"""

import re
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time
from pathlib import Path

import pytest

import coaptcp as ct
import seclab
from netlab import COAPD, SANITIZER, Coapd, coap_client, coap_payload, wait_for
from seclab import HOST_IP, PSK_HEX_ID, PSK_HEX_KEY, PSK_ID, PSK_KEY

OPENSSL_CLIENT, GNUTLS_CLIENT = "coap-client-openssl", "coap-client-gnutls"
OPENSSL_SERVER, GNUTLS_SERVER = "coap-server-openssl", "coap-server-gnutls"
TIME_RE = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


@pytest.fixture(scope="session")
def certs():
    c = seclab.make_certs()
    try:
        yield c
    finally:
        shutil.rmtree(c.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def psk_file(certs):
    # Comments, a blank line, a text key and a hex key ("0x" + "hexsecret!").
    return seclab.write_psk_file(certs.dir, [
        "# identities accepted by coapd in these tests",
        "",
        f"{PSK_ID}   {PSK_KEY}   # a text key",
        f"{PSK_HEX_ID}\t{PSK_HEX_KEY}",
    ])


def server_args(certs, psk_file, psk=True, x509=True, mutual=False, extra=()):
    args = []
    if psk:
        args += ["--psk-file", psk_file]
    if x509:
        args += ["--cert", certs.cert("server"), "--key", certs.key("server")]
    if mutual:
        args += ["--ca", certs.cert("ca")]
    return [*args, *extra]


@pytest.fixture
def secure_coapd(ns, certs, psk_file):
    """coapd with a PSK file and a certificate (no client certificates asked)."""
    d = Coapd(ns, args=server_args(certs, psk_file))
    try:
        yield d
    finally:
        assert d.stop() == 0, d.read_log()


@pytest.fixture
def make_coapd(ns):
    """Starts coapds whose stop (exit code 0, no sanitizer report) is checked at
    teardown: also for xfail tests, whose own failures would hide it."""
    started = []

    def make(args, **kw):
        d = Coapd(ns, args=args, **kw)
        started.append(d)
        return d

    yield make
    for d in started:
        assert d.stop() == 0, d.read_log()


def tool(ns, name, *args, timeout=30):
    """A libcoap tool in the namespace; CompletedProcess with bytes. (The tools
    always exit 0; their log lines go to stdout.)"""
    return ns.exec([name, *args], timeout=timeout)


def tool_payload(ns, name, *args, timeout=30):
    """The exact payload a libcoap client got (-o FILE), and its output."""
    out = Path(f"/tmp/{ns.name}-{time.monotonic_ns()}.out")
    try:
        r = ns.exec([name, "-o", str(out), *args], timeout=timeout)
        data = out.read_bytes() if out.exists() else b""
        return data, (r.stdout + r.stderr).decode(errors="replace")
    finally:
        out.unlink(missing_ok=True)


def psk_args():
    return ["-u", PSK_ID, "-k", PSK_KEY]


def events_since(d, n):
    return d.events()[n:]


def names(events, sid=None):
    return [e["event"] for e in events if sid is None or e["session_id"] == sid]


def secure_sessions(d):
    return [s for s in d.sessions() if s["protocol"] != "udp"]


def wait_baseline(d, timeout=10):
    """No DTLS, TLS or TCP session left (a plain UDP peer stays remembered for
    --udp-session-timeout) and no TCP pcb but the listeners."""
    wait_for(lambda: not secure_sessions(d), timeout=timeout, message="no sessions")
    wait_for(lambda: d.stats()["lwip"]["tcp_active"] == 0, timeout=timeout,
             message="tcp_active back to 0")


def assert_still_serves(ns, d, schemes=("coaps", "coaps+tcp")):
    """A plain GET and a fresh coaps GET (a new handshake) both work."""
    data, err = coap_payload(ns, "-B", "5", "coap://192.0.2.2/time")
    assert TIME_RE.fullmatch(data), err
    for scheme in schemes:
        data, out = tool_payload(ns, OPENSSL_CLIENT, "-B", "5", *psk_args(),
                                 f"{scheme}://192.0.2.2/time")
        assert TIME_RE.fullmatch(data), f"{scheme}: {out}"
    assert d.proc.poll() is None, d.read_log()


def handshake_failures(events, reason=None):
    return [e for e in events if e["event"] == "handshake_failed"
            and (reason is None or e["reason"] == reason)]


# --- 1. Debian's libcoap clients against coapd ----------------------------------------

CLIENT_CREDS = ["psk", "x509", "x509-mutual"]


def client_creds(certs, kind):
    if kind == "psk":
        return psk_args()
    if kind == "x509":
        return ["-R", certs.cert("ca")]
    return ["-c", certs.cert("client"), "-j", certs.key("client"), "-R", certs.cert("ca")]


@pytest.mark.parametrize("kind", CLIENT_CREDS)
@pytest.mark.parametrize("scheme", ["coaps", "coaps+tcp"])
@pytest.mark.parametrize("client", [OPENSSL_CLIENT, GNUTLS_CLIENT])
def test_libcoap_client_against_coapd(ns, certs, psk_file, client, scheme, kind):
    d = Coapd(ns, args=server_args(certs, psk_file, mutual=kind == "x509-mutual"))
    try:
        creds = client_creds(certs, kind)
        base = f"{scheme}://192.0.2.2"

        def run(*args, timeout=30):
            return tool_payload(ns, client, "-B", "5", *creds, *args, timeout=timeout)

        data, out = run(f"{base}/time")
        assert TIME_RE.fullmatch(data), out
        data, out = run("-m", "put", "-e", f"hello {scheme}", f"{base}/echo")
        assert data == f"hello {scheme}".encode(), out
        data, out = run(f"{base}/echo")
        assert data == f"hello {scheme}".encode(), out

        # Block-wise: 3000 bytes in 64-byte blocks each way.
        body = bytes(ord("a") + (i * 7) % 26 for i in range(3000))
        src = certs.dir / f"body-{ns.name}"
        src.write_bytes(body)
        before = d.stats()["counters"]["requests"]
        run("-b", "64", "-m", "put", "-f", str(src), f"{base}/echo")
        data, out = run("-b", "64", f"{base}/echo")
        src.unlink()
        assert data == body, out
        blocks = d.stats()["counters"]["requests"] - before
        assert blocks >= 2 * (3000 // 64), f"{blocks} requests: not block-wise"

        # Observe /time for 3 s: the first response and at least 2 notifications.
        obs = ns.popen([client, "-B", "6", "-s", "3", *creds, f"{base}/time"])
        try:
            sessions = wait_for(lambda: [s for s in d.sessions() if s["observers"] == 1],
                                message="observed session")
            out = obs.communicate(timeout=20)[0]
        finally:
            if obs.poll() is None:
                obs.kill()
        assert len(TIME_RE.findall(out)) >= 3, out

        # What the session and the handshake report.
        (s,) = sessions
        identity = {"psk": PSK_ID, "x509": "", "x509-mutual": "CN=client"}[kind]
        assert s["protocol"] == ("dtls" if scheme == "coaps" else "tls"), s
        assert s["security"] == ("psk" if kind == "psk" else "x509"), s
        assert s["peer_identity"] == identity, s
        assert s["cipher"].startswith("TLS-") and (kind != "psk") == ("PSK" not in s["cipher"]), s
        done = [e for e in d.events() if e["event"] == "handshake_done"]
        assert len(done) == 6, done  # one handshake per client run
        assert all(e["peer_identity"] == identity and e["cipher"] for e in done), done
        assert not handshake_failures(d.events())
        st = d.stats()["counters"]
        assert st["handshakes"] == 6 and st["handshake_failures"] == 0, st
        if scheme == "coaps":
            assert st["dtls_cookies_sent"] >= 6, st  # every new client did the cookie round
        wait_baseline(d)
        # Event order of one session.
        first = d.events()[0]["session_id"]
        seq = names(d.events(), first)
        if scheme == "coaps":
            assert seq == ["server_session_new", "handshake_done", "server_session_del"], seq
        else:
            assert seq[:4] == ["server_session_new", "tcp_connected", "handshake_done",
                               "session_connected"], seq
            assert seq[-1] == "server_session_del", seq
    finally:
        assert d.stop() == 0, d.read_log()


def test_psk_file_text_and_hex_keys(ns, certs, psk_file):
    """Both identities of the PSK file work; the hex key is decoded to its bytes
    (coap-client sends the text those bytes spell)."""
    d = Coapd(ns, args=server_args(certs, psk_file, x509=False))
    try:
        hex_text = bytes.fromhex(PSK_HEX_KEY[2:]).decode()
        for scheme in ("coaps", "coaps+tcp"):
            for ident, key in ((PSK_ID, PSK_KEY), (PSK_HEX_ID, hex_text)):
                data, out = tool_payload(ns, OPENSSL_CLIENT, "-B", "5", "-u", ident, "-k", key,
                                         f"{scheme}://192.0.2.2/time")
                assert TIME_RE.fullmatch(data), (scheme, ident, out)
        done = [e["peer_identity"] for e in d.events() if e["event"] == "handshake_done"]
        assert done == [PSK_ID, PSK_HEX_ID] * 2, done
        # A PSK-only coapd has no certificate to offer: X.509 clients fail.
        data, out = tool_payload(ns, OPENSSL_CLIENT, "-B", "3", "-R", certs.cert("ca"),
                                 "coaps+tcp://192.0.2.2/time")
        assert data == b"", out
        wait_for(lambda: handshake_failures(d.events()), message="handshake_failed")
    finally:
        assert d.stop() == 0, d.read_log()


def test_rsa_server_certificate(ns, certs, psk_file):
    d = Coapd(ns, args=["--cert", certs.cert("server_rsa"), "--key", certs.key("server_rsa")])
    try:
        for client in (OPENSSL_CLIENT, GNUTLS_CLIENT):
            for scheme in ("coaps", "coaps+tcp"):
                data, out = tool_payload(ns, client, "-B", "5", "-R", certs.cert("ca"),
                                         f"{scheme}://192.0.2.2/time")
                assert TIME_RE.fullmatch(data), (client, scheme, out)
        done = [e for e in d.events() if e["event"] == "handshake_done"]
        assert len(done) == 4 and all("RSA" in e["cipher"] for e in done), done
    finally:
        assert d.stop() == 0


# --- 2. coapd's client against Debian's libcoap servers --------------------------------

SERVER_PSK_KEY = "serverkey"


def start_libcoap_server(ns, name, *args):
    """A libcoap server on the kernel side (192.0.2.1): UDP/TCP 5683, and DTLS/TLS
    on 5684."""
    p = ns.popen([name, "-A", HOST_IP, "-v", "3", *args])

    def listening():
        out = ns.sh("ss -lnu; ss -lnt").stdout
        return out.count(f"{HOST_IP}:5684") >= 2

    wait_for(listening, message=f"{name} listening on 5684")
    return p


def stop_process(p):
    if p.poll() is None:
        p.kill()
    p.wait(timeout=5)


SERVER_MODES = {
    # mode: (server arguments, coapctl arguments, expected security, identity)
    "psk": (lambda c: ["-k", SERVER_PSK_KEY],
            lambda c: ["--psk-identity", "coapd-client", "--psk-key", SERVER_PSK_KEY],
            "psk", "coapd-client"),
    "x509": (lambda c: ["-c", c.cert("peer"), "-j", c.key("peer")],
             lambda c: ["--ca", c.cert("ca")], "x509", "CN=peer"),
    "x509-mutual": (lambda c: ["-c", c.cert("peer"), "-j", c.key("peer"), "-C", c.cert("ca")],
                    lambda c: ["--ca", c.cert("ca"), "--cert", c.cert("client"),
                               "--key", c.key("client")], "x509", "CN=peer"),
    "insecure": (lambda c: ["-c", c.cert("selfsigned"), "-j", c.key("selfsigned")],
                 lambda c: ["--insecure"], "x509", "CN=selfsigned"),
}


@pytest.mark.parametrize("mode", list(SERVER_MODES))
@pytest.mark.parametrize("server", [OPENSSL_SERVER, GNUTLS_SERVER])
def test_coapd_client_against_libcoap_server(ns, coapd, certs, server, mode):
    srv_args, ctl_args, security, identity = SERVER_MODES[mode]
    p = start_libcoap_server(ns, server, *srv_args(certs))
    try:
        status = coapd.ctl_json("status")
        assert status["dtls"] is False and status["tls"] is False  # no credentials: client only
        for scheme in ("coaps", "coaps+tcp"):
            base = f"{scheme}://{HOST_IP}"
            r = coapd.ctl("get", f"{base}/time", *ctl_args(certs), "--timeout", "10")
            assert r.returncode == 0 and r.stdout.startswith("2.05"), r.stdout + r.stderr
            if mode == "insecure":
                warn = [line for line in r.stderr.splitlines() if "not verified" in line]
                assert len(warn) == 1 and "--insecure" in warn[0], r.stderr
            else:
                assert r.stderr == "", r.stderr
            r = coapd.ctl("put", f"{base}/example_data", "--payload", f"via {scheme}",
                          "--content-format", "0", *ctl_args(certs))
            assert r.returncode == 0 and r.stdout.startswith("2.0"), r.stdout + r.stderr
            r = coapd.ctl("get", f"{base}/example_data", *ctl_args(certs))
            assert r.returncode == 0 and r.stdout.endswith(f"via {scheme}"), r.stdout + r.stderr
        sessions = coapd.sessions()
        assert sorted(s["protocol"] for s in sessions) == ["dtls", "tls"], sessions
        for s in sessions:  # one session per transport, reused by the three requests
            assert s["role"] == "client" and s["state"] == "established", s
            assert s["security"] == security and s["peer_identity"] == identity, s
            assert s["cipher"].startswith("TLS-"), s
            assert s["messages_out"] == (3 if s["protocol"] == "dtls" else 4), s  # + CSM
        done = [e for e in coapd.events() if e["event"] == "handshake_done"]
        assert len(done) == 2 and all(e["security"] == security for e in done), done
        if mode == "insecure":
            assert all("not verified" in e.get("reason", "") for e in done), done
        else:
            assert all("reason" not in e for e in done), done
    finally:
        stop_process(p)


def test_dtls_session_to_restarted_server_is_redone(ns, coapd):
    """A DTLS session whose server restarted (and forgot it) is dropped after a
    request times out with nothing heard back; the next request handshakes anew."""
    ctl = ["--psk-identity", "coapd-client", "--psk-key", SERVER_PSK_KEY]
    p = start_libcoap_server(ns, OPENSSL_SERVER, "-k", SERVER_PSK_KEY)
    try:
        assert coapd.ctl("get", f"coaps://{HOST_IP}/time", *ctl).returncode == 0
        stop_process(p)
        p = start_libcoap_server(ns, OPENSSL_SERVER, "-k", SERVER_PSK_KEY)
        r = coapd.ctl("get", f"coaps://{HOST_IP}/time", *ctl, "--timeout", "2")
        assert r.returncode == 5, r.stdout + r.stderr  # the old session's request: no answer
        wait_for(lambda: not coapd.sessions(), message="stale DTLS session dropped")
        r = coapd.ctl("get", f"coaps://{HOST_IP}/time", *ctl)
        assert r.returncode == 0 and r.stdout.startswith("2.05"), r.stdout + r.stderr
        assert [e["event"] for e in coapd.events()].count("handshake_done") == 2
    finally:
        stop_process(p)


def test_client_psk_defaults_and_hex_key(ns):
    """--client-psk-identity/--client-psk-key are used when a request names no
    PSK; a request's own --psk-key may be hex."""
    key_hex = "0x" + SERVER_PSK_KEY.encode().hex()
    d = Coapd(ns, args=["--client-psk-identity", "default-id", "--client-psk-key", key_hex])
    p = start_libcoap_server(ns, OPENSSL_SERVER, "-k", SERVER_PSK_KEY)
    try:
        for scheme in ("coaps", "coaps+tcp"):
            r = d.ctl("get", f"{scheme}://{HOST_IP}/time")
            assert r.returncode == 0, r.stdout + r.stderr
        assert {s["peer_identity"] for s in d.sessions()} == {"default-id"}
        for s in d.sessions():
            d.ctl("close", s["id"])
        wait_for(lambda: not d.sessions(), message="sessions closed")
        r = d.ctl("get", f"coaps+tcp://{HOST_IP}/time", "--psk-identity", "own-id",
                  "--psk-key", key_hex)
        assert r.returncode == 0, r.stdout + r.stderr
        assert [s["peer_identity"] for s in d.sessions()] == ["own-id"]
    finally:
        stop_process(p)
        assert d.stop() == 0


def test_uri_host_must_be_an_address(ns, coapd):
    r = coapd.ctl("get", "coaps://localhost/time", "--insecure")
    assert r.returncode == 1 and "IP address" in r.stderr, r
    r = coapd.ctl("connect", "coaps+tcp://peer.example/", "--insecure")
    assert r.returncode == 1 and "IP address" in r.stderr, r


def test_coapd_client_handshake_to_silent_address_times_out(ns):
    d = Coapd(ns, args=["--handshake-timeout", "1", "--connect-timeout", "1"])
    try:
        # 192.0.2.99 answers nothing, not even ARP: the DTLS handshake times out,
        # the TCP connection is never made; both requests fail before their timeout.
        for scheme in ("coaps", "coaps+tcp"):
            t0 = time.time()
            r = d.ctl("get", f"{scheme}://192.0.2.99/time", "--insecure", "--timeout", "5")
            assert r.returncode == 6 and time.time() - t0 < 3, r.stdout + r.stderr
        wait_baseline(d)
        assert d.sessions() == []
        ev = d.events()
        (f,) = handshake_failures(ev)
        assert f["reason"] == "timeout" and "1 s" in f["detail"], f
        assert [(e["event"], e.get("reason")) for e in ev[1:]] == [
            ("tcp_failed", "timeout"), ("session_failed", "timeout")], ev
    finally:
        assert d.stop() == 0


def background_ctl(d, *args):
    """A coapctl command left running (its request waits)."""
    return subprocess.Popen([str(d.argv[0].parent / "coapctl"), "--socket", d.sock,
                             *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def test_coapd_client_dtls_handshakes_are_limited(ns):
    d = Coapd(ns, args=["--max-handshakes", "1", "--handshake-timeout", "3"])
    try:
        # One handshake under way (to an address that answers nothing) ...
        first = background_ctl(d, "get", "coaps://192.0.2.99/time", "--insecure",
                               "--timeout", "5")
        wait_for(lambda: [s for s in d.sessions() if s["state"] == "handshaking"],
                 message="first handshake")
        # ... so a second one is refused at once.
        r = d.ctl("get", "coaps://192.0.2.98/time", "--insecure", "--timeout", "5")
        assert r.returncode == 6 and "too many" in r.stderr, r.stdout + r.stderr
        assert len(handshake_failures(d.events(), "limit")) == 1
        first.communicate(timeout=15)
        assert first.returncode == 6  # its handshake timed out after 3 s
    finally:
        assert d.stop() == 0


def test_coapd_client_tls_handshakes_are_limited(ns, make_coapd):
    d = make_coapd(["--max-handshakes", "1", "--handshake-timeout", "3"])
    # Two peers that accept and never answer the ClientHello.
    listeners = [tls_listener(ns, 5690), tls_listener(ns, 5691)]
    first = background_ctl(d, "get", f"coaps+tcp://{HOST_IP}:5690/x", "--insecure",
                           "--timeout", "5")
    conns = []
    try:
        conns.append(listeners[0].accept()[0])
        wait_for(lambda: [s for s in d.sessions() if s["state"] == "handshaking"],
                 message="first TLS handshake")
        r = d.ctl("get", f"coaps+tcp://{HOST_IP}:5691/x", "--insecure", "--timeout", "2")
        assert r.returncode == 6, r.stdout + r.stderr  # refused, not timed out
        assert handshake_failures(d.events(), "limit"), d.events()
    finally:
        first.communicate(timeout=15)
        for c in conns:
            c.close()
        for ls in listeners:
            ls.close()



# --- 3. Call-home over TLS, with a Python peer -------------------------------------------

def tls_listener(ns, port):
    s = ns.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IP, 15, 1)  # IP_FREEBIND: before coapd's TAP has the address
    s.bind((HOST_IP, port))
    s.listen(8)
    s.settimeout(15)
    return s


def accept_tls(lsock, certs, cert_name):
    """Accepts coapd's connection and runs the server side of the handshake with
    certificate `cert_name`. Returns the TlsPeer (handshake done) or raises
    ssl.SSLError when coapd refused it."""
    conn, _ = lsock.accept()
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    peer = seclab.TlsPeer(conn, seclab.server_context(certs.cert(cert_name), certs.key(cert_name)),
                          server_side=True)
    peer.handshake()
    return peer


def serve_one_request(tls, token):
    """As the Actual-Client of a call-home session: CSM both ways, then GET /time."""
    coap = seclab.CoapTls(tls)
    theirs = coap.handshake()
    assert int.from_bytes(theirs.option(2), "big") >= 1152  # Max-Message-Size
    coap.send(ct.request(ct.GET, "/time", token))
    r = coap.expect(ct.code(2, 5))
    assert r.token == token and TIME_RE.fullmatch(r.payload), r
    return coap


def test_call_home_over_tls_reconnects_and_refuses_wrong_host(ns, coapd, certs):
    import ssl
    ls = tls_listener(ns, 5685)
    r = coapd.ctl("connect", f"coaps+tcp://{HOST_IP}:5685", "--call-home",
                  "--reconnect-interval", "0.5", "--ca", certs.cert("ca"))
    assert r.returncode == 0, r.stderr
    sid = int(r.stdout.split()[1])

    def ev():
        return [e for e in coapd.events() if e["session_id"] == sid]

    # First attempt: the peer shows a certificate for another address.
    with pytest.raises(ssl.SSLError):
        accept_tls(ls, certs, "wronghost")
    wait_for(lambda: "session_failed" in names(ev()), message="session_failed")
    first = ev()
    assert names(first) == ["tcp_connected", "handshake_failed", "tcp_closed",
                            "session_failed"], first
    assert first[1]["reason"] == "bad_certificate" and first[1]["detail"], first
    assert first[3]["reason"] == "handshake", first

    # The next attempt reaches the right peer: CSM, a request, its answer.
    tls = accept_tls(ls, certs, "peer")
    serve_one_request(tls, b"\x01")
    wait_for(lambda: "reconnect_success" in names(ev()), message="reconnect_success")
    (s,) = [x for x in coapd.sessions() if x["id"] == sid]
    assert s["protocol"] == "tls" and s["role"] == "server" and s["call_home"], s
    assert s["security"] == "x509" and s["peer_identity"] == "CN=peer" and s["cipher"], s

    # The peer closes (close_notify, FIN): coapd answers in kind and calls home again.
    n = len(ev())
    tls.send_close_notify()
    assert tls.wait_close() == ("close_notify", True)
    tls.close()
    tls = accept_tls(ls, certs, "peer")
    serve_one_request(tls, b"\x02")
    wait_for(lambda: names(ev()).count("reconnect_success") == 2, message="second reconnect")
    again = names(ev()[n:])
    assert again == ["tcp_closed", "session_closed", "reconnecting", "tcp_connected",
                     "handshake_done", "session_connected", "server_session_connected",
                     "reconnect_success"], again

    # Dropped again; now a wrong-host certificate fails the reconnect attempt.
    n = len(ev())
    tls.send_close_notify()
    tls.wait_close()
    tls.close()
    with pytest.raises(ssl.SSLError):
        accept_tls(ls, certs, "wronghost")
    wait_for(lambda: "reconnect_failed" in names(ev()[n:]), message="reconnect_failed")
    late = ev()[n:]
    assert names(late)[:6] == ["tcp_closed", "session_closed", "reconnecting", "tcp_connected",
                               "handshake_failed", "tcp_closed"], late
    failed = [e for e in late if e["event"] == "reconnect_failed"]
    assert failed[0]["reason"] == "handshake" and failed[0]["attempt"] >= 1, failed
    assert [e["reason"] for e in late if e["event"] == "handshake_failed"] == ["bad_certificate"]
    coapd.ctl("close", sid)
    ls.close()
    wait_baseline(coapd)


def test_call_home_session_from_config_with_insecure(ns, certs):
    """A `session = [...]` entry with coaps+tcp://, call-home and insecure."""
    conf = certs.dir / f"{ns.name}.conf"
    conf.write_text(f'session = ["coaps+tcp://{HOST_IP}:5685,call-home,insecure,'
                    f'reconnect-interval=0.2"]\n')
    ls = tls_listener(ns, 5685)
    d = Coapd(ns, args=["--config", str(conf)])
    try:
        tls = accept_tls(ls, certs, "selfsigned")
        serve_one_request(tls, b"\x07")
        (s,) = d.sessions()
        assert s["call_home"] and s["peer_identity"] == "CN=selfsigned", s
        (done,) = [e for e in d.events() if e["event"] == "handshake_done"]
        assert "not verified" in done["reason"], done
        tls.close()
        ls.close()
    finally:
        assert d.stop() == 0
        conf.unlink()


def test_psk_session_from_config_to_libcoap_server(ns, certs):
    """`session = ["coaps+tcp://...,psk-identity=...,psk-key=..."]`: coapd keeps a
    TLS-PSK session to coap-server-openssl; requests to that peer use it."""
    conf = certs.dir / f"{ns.name}.conf"
    conf.write_text(f'session = ["coaps+tcp://{HOST_IP}:5684,psk-identity=from-config,'
                    f'psk-key={SERVER_PSK_KEY},reconnect-interval=0.2"]\n')
    d = Coapd(ns, args=["--config", str(conf)], wait_ready=False)
    try:
        d.wait_ready()
        p = start_libcoap_server(ns, OPENSSL_SERVER, "-k", SERVER_PSK_KEY)
        try:
            sess = wait_for(lambda: [s for s in d.sessions() if s["state"] == "established"],
                            timeout=15, message="configured session up")
            assert sess[0]["protocol"] == "tls" and sess[0]["peer_identity"] == "from-config"
            r = d.ctl("get", "--session", sess[0]["id"], f"coaps+tcp://{HOST_IP}/time")
            assert r.returncode == 0 and r.stdout.startswith("2.05"), r.stdout + r.stderr
            assert len(d.sessions()) == 1
        finally:
            stop_process(p)
    finally:
        assert d.stop() == 0
        conf.unlink()


# --- 4. Bad input ------------------------------------------------------------------

def udp_sock(ns, timeout=1.0):
    u = ns.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind((HOST_IP, 0))
    u.settimeout(timeout)
    return u


def recv_all(u, wait=0.3):
    out = []
    u.settimeout(wait)
    while True:
        try:
            out.append(u.recvfrom(65536)[0])
        except (socket.timeout, BlockingIOError):
            return out


def cookie_round(u, dst=("192.0.2.2", 5684), wait=0.3):
    """ClientHello, HelloVerifyRequest, ClientHello with the cookie: returns the
    datagrams of coapd's answer to the second ClientHello (those that came
    within `wait` of each other)."""
    u.sendto(seclab.dtls_client_hello(), dst)
    u.settimeout(3)
    cookie = seclab.hello_verify_cookie(u.recvfrom(4096)[0])
    assert cookie, "no HelloVerifyRequest"
    u.sendto(seclab.dtls_client_hello(cookie=cookie, seq=1), dst)
    return recv_all(u, wait)


def raw_tls_until_close(s, timeout=10):
    """Reads a raw TCP socket until EOF. Returns the bytes; fails on RST."""
    s.settimeout(timeout)
    data = b""
    end = time.time() + timeout
    while time.time() < end:
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            raise AssertionError(f"coapd reset the connection (after {data[:20].hex()})")
        if not chunk:
            return data
        data += chunk
    raise AssertionError("coapd did not close the connection")


def only_alerts(data):
    """Whether `data` is nothing or whole TLS alert records (content type 21)."""
    i = 0
    while i < len(data):
        if data[i] != 21 or i + 5 > len(data):
            return False
        i += 5 + struct.unpack("!H", data[i + 3:i + 5])[0]
    return i == len(data)


def test_dtls_garbage_and_truncated_records(ns, secure_coapd):
    d = secure_coapd
    bad0 = d.stats()["counters"]["bad_packets"]
    hello = seclab.dtls_client_hello()
    garbage = [
        bytes(range(256)) * 2,                        # not DTLS at all
        b"\x16\xfe\xfd",                              # a record header cut short
        hello[:30],                                   # a ClientHello cut inside the handshake header
        hello[:-10],                                  # shorter than its record length says
        bytes([22, 0xfe, 0xfd, 0, 0]) + bytes(6) + struct.pack("!H", 20000) + bytes(200),
        bytes([23, 0xfe, 0xfd, 0, 1]) + bytes(6) + struct.pack("!H", 32) + bytes(32),  # app data
        bytes([21, 0xfe, 0xfd, 0, 0]) + bytes(6) + struct.pack("!H", 2) + b"\x02\x28",  # alert
        seclab.dtls_client_hello(cookie=b"\x00" * 32, seq=1),  # a forged cookie
        b"\x00",
    ]
    u = udp_sock(ns)
    replies = []
    for g in garbage:
        u.sendto(g, ("192.0.2.2", 5684))
        replies += recv_all(u, 0.1)
    # At most a fresh HelloVerifyRequest (for the forged cookie); nothing else.
    assert all(seclab.hello_verify_cookie(r) for r in replies), replies
    ev = d.events()
    assert "server_session_new" not in names(ev), ev
    assert d.sessions() == []
    assert d.stats()["counters"]["bad_packets"] - bad0 >= len(garbage) - 2
    # Garbage into a handshake under way (after the cookie exchange).
    flight = cookie_round(u)
    assert [h for r in flight for _, h, _ in seclab.parse_dtls_records(r)][0] == 2  # ServerHello
    (s,) = d.sessions()
    assert s["state"] == "handshaking"
    for g in garbage:
        u.sendto(g, ("192.0.2.2", 5684))
    u.close()
    sid = s["id"]
    wait_for(lambda: "server_session_del" in names(d.events(), sid), timeout=15,
             message="the half-done session ends")
    seq = names(d.events(), sid)
    assert seq[0] == "server_session_new" and seq[-1] == "server_session_del", seq
    assert "handshake_failed" in seq and "handshake_done" not in seq, seq
    assert_still_serves(ns, d)
    wait_baseline(d)


def test_tls_garbage_truncated_and_oversized_records(ns, secure_coapd, certs):
    d = secure_coapd
    fails0 = d.stats()["counters"]["handshake_failures"]

    def conn():
        s = ns.socket()
        s.connect(("192.0.2.2", 5684))
        return s

    hello = seclab.TlsPeer(None, seclab.client_context(ca=certs.cert("ca"))).client_hello()
    cases = {
        "garbage": bytes(range(256)) * 4,
        "oversized header before the handshake": bytes([22, 3, 3]) + struct.pack("!H", 20000)
        + hello[5:],
        "not a handshake record first": bytes([23, 3, 3, 0, 16]) + bytes(16),
    }
    for what, data in cases.items():
        s = conn()
        s.sendall(data)
        got = raw_tls_until_close(s)
        assert only_alerts(got), (what, got[:40].hex())
        s.close()
    # A ClientHello cut inside its record, then FIN.
    s = conn()
    s.sendall(hello[:40])
    s.shutdown(socket.SHUT_WR)
    assert only_alerts(raw_tls_until_close(s))
    s.close()
    # A record announcing 20,000 bytes (beyond 16384 + 2048) after the handshake.
    s = conn()
    tls = seclab.TlsPeer(s, seclab.client_context(ca=certs.cert("ca")))
    tls.handshake()
    wait_for(lambda: [x for x in d.sessions() if x["state"] != "handshaking"], message="handshake")
    s.sendall(bytes([23, 3, 3]) + struct.pack("!H", 20000) + bytes(4000))
    how, fin = tls.wait_close()
    assert fin, "coapd reset the connection"
    s.close()
    wait_baseline(d)
    ev = d.events()
    failed = handshake_failures(ev)
    assert len(failed) == 4 and all(e["reason"] == "protocol" and e["detail"] for e in failed), ev
    assert d.stats()["counters"]["handshake_failures"] - fails0 == 4
    # The established one ends as a failed session, with a bad_packet for the record.
    last = ev[-1]["session_id"]
    seq = names(ev, last)
    assert seq[:4] == ["server_session_new", "tcp_connected", "handshake_done", "bad_packet"], seq
    assert seq[-3:] == ["tcp_closed", "session_failed", "server_session_del"], seq
    assert_still_serves(ns, d)


@pytest.mark.parametrize("scheme", ["coaps", "coaps+tcp"])
def test_wrong_psk_is_bad_psk(ns, secure_coapd, scheme):
    d = secure_coapd
    for ident, key in ((PSK_ID, "not-the-key"), ("nobody", PSK_KEY)):
        n = len(d.events())
        data, out = tool_payload(ns, OPENSSL_CLIENT, "-B", "3", "-u", ident, "-k", key,
                                 f"{scheme}://192.0.2.2/time")
        assert data == b"", out
        wait_for(lambda: handshake_failures(d.events()[n:]), message="handshake_failed")
        (f,) = handshake_failures(d.events()[n:])
        assert f["reason"] == "bad_psk" and f["detail"], f
    assert d.stats()["counters"]["handshake_failures"] == 2
    wait_baseline(d)
    assert_still_serves(ns, d)


@pytest.mark.parametrize("scheme", ["coaps", "coaps+tcp"])
def test_client_without_certificate_is_refused_with_ca(ns, certs, psk_file, scheme):
    d = Coapd(ns, args=server_args(certs, psk_file, mutual=True))
    try:
        tries = [(OPENSSL_CLIENT, ["-R", certs.cert("ca")]),     # no certificate at all
                 (GNUTLS_CLIENT, ["-R", certs.cert("ca")]),
                 (OPENSSL_CLIENT, ["-c", certs.cert("other_client"), "-j",  # another CA's
                                   certs.key("other_client"), "-R", certs.cert("ca")])]
        for client, creds in tries:
            n = len(d.events())
            data, out = tool_payload(ns, client, "-B", "3", *creds, f"{scheme}://192.0.2.2/time")
            assert data == b"", out
            wait_for(lambda: handshake_failures(d.events()[n:]), message="handshake_failed")
            (f,) = handshake_failures(d.events()[n:])
            assert f["reason"] == "bad_certificate" and f["detail"], (client, f)
        wait_baseline(d)
        assert_still_serves(ns, d)  # PSK still works with --ca
    finally:
        assert d.stop() == 0


@pytest.mark.parametrize("scheme", ["coaps", "coaps+tcp"])
@pytest.mark.parametrize("cert", ["expired", "selfsigned", "wronghost", "cn_ip"])
def test_coapd_client_refuses_bad_server_certificate(ns, certs, psk_file, cert, scheme):
    d = Coapd(ns, args=server_args(certs, psk_file, x509=False))
    p = start_libcoap_server(ns, OPENSSL_SERVER, "-c", certs.cert(cert), "-j", certs.key(cert))
    try:
        r = d.ctl("get", f"{scheme}://{HOST_IP}/time", "--ca", certs.cert("ca"), "--timeout", "5")
        assert r.returncode == 6, r.stdout + r.stderr  # failed, not a timeout
        (f,) = handshake_failures(d.events())
        assert f["reason"] == "bad_certificate" and f["detail"], f
        assert f["peer"] == f"{HOST_IP}:5684"
        if scheme == "coaps+tcp":
            assert names(d.events(), f["session_id"]) == ["tcp_connected", "handshake_failed",
                                                          "tcp_closed", "session_failed"]
        wait_baseline(d)
        assert_still_serves(ns, d)
    finally:
        stop_process(p)
        assert d.stop() == 0


@pytest.mark.parametrize("server", [OPENSSL_SERVER, GNUTLS_SERVER])
def test_coapd_client_with_wrong_psk(ns, server):
    """TLS: the server's alert makes it bad_psk at once. DTLS: servers discard the
    undecryptable Finished silently, so the handshake times out."""
    d = Coapd(ns, args=["--handshake-timeout", "1"])
    p = start_libcoap_server(ns, server, "-k", SERVER_PSK_KEY)
    try:
        ctl = ["--psk-identity", "coapd-client", "--psk-key", "wrong", "--timeout", "5"]
        r = d.ctl("get", f"coaps+tcp://{HOST_IP}/time", *ctl)
        assert r.returncode == 6, r.stdout + r.stderr
        t0 = time.time()
        r = d.ctl("get", f"coaps://{HOST_IP}/time", *ctl)
        assert r.returncode == 6 and time.time() - t0 < 4, r.stdout + r.stderr
        reasons = [(e["session_id"], e["reason"]) for e in handshake_failures(d.events())]
        assert [x[1] for x in reasons] in (["bad_psk", "timeout"], ["bad_psk", "bad_psk"]), reasons
        wait_baseline(d)
    finally:
        stop_process(p)
        assert d.stop() == 0


def test_client_hello_flood_creates_no_session(ns, secure_coapd):
    """2,000 ClientHellos from 100 source ports: each gets a stateless
    HelloVerifyRequest; no session, no handshake, little memory."""
    d = secure_coapd
    c0 = d.stats()["counters"]
    rss0 = d.rss_kib()
    socks = [udp_sock(ns) for _ in range(100)]
    for s in socks:
        s.setblocking(False)
    answered = 0

    def drain():
        n = 0
        for s in socks:
            while True:
                try:
                    if seclab.hello_verify_cookie(s.recvfrom(4096)[0]):
                        n += 1
                except BlockingIOError:
                    break
        return n

    for _ in range(20):
        for s in socks:
            s.sendto(seclab.dtls_client_hello(), ("192.0.2.2", 5684))
        time.sleep(0.02)
        answered += drain()
        assert not secure_sessions(d)
    deadline = time.time() + 5
    while answered < 2000 and time.time() < deadline:
        time.sleep(0.05)
        answered += drain()
    for s in socks:
        s.close()
    c1 = d.stats()["counters"]
    assert answered >= 1950, answered  # a datagram or two may be lost on the TAP
    assert c1["dtls_cookies_sent"] - c0["dtls_cookies_sent"] >= answered
    assert c1["handshakes"] == c0["handshakes"] and c1["handshake_failures"] == 0
    assert not d.sessions() and "server_session_new" not in names(d.events())
    growth = d.rss_kib() - rss0
    assert growth < (16384 if SANITIZER else 1024), f"RSS grew by {growth} KiB"
    assert_still_serves(ns, d)


@pytest.fixture
def quick_coapd(ns, certs, psk_file):
    """coapd with --handshake-timeout 2 and --max-handshakes 3."""
    d = Coapd(ns, args=server_args(certs, psk_file,
                                   extra=["--handshake-timeout", "2", "--max-handshakes", "3"]))
    try:
        yield d
    finally:
        assert d.stop() == 0, d.read_log()


def tls_client_hello(ns, certs):
    s = ns.socket()
    s.connect(("192.0.2.2", 5684))
    tls = seclab.TlsPeer(s, seclab.client_context(ca=certs.cert("ca")))
    s.sendall(tls.client_hello())
    return tls


def test_tls_peer_silent_after_client_hello_times_out(ns, quick_coapd, certs):
    d = quick_coapd
    t0 = time.time()
    tls = tls_client_hello(ns, certs)
    data = raw_tls_until_close(tls.sock, timeout=8)  # the server flight, then FIN
    took = time.time() - t0
    assert data[:1] == b"\x16" and 1.8 < took < 4, (took, data[:10].hex())
    tls.close()
    ev = d.events()
    (f,) = handshake_failures(ev)
    assert f["reason"] == "timeout" and "2 s" in f["detail"], f
    assert names(ev, f["session_id"]) == ["server_session_new", "tcp_connected",
                                          "handshake_failed", "tcp_closed", "session_failed",
                                          "server_session_del"], ev
    assert [e["reason"] for e in ev if e["event"] == "tcp_closed"] == ["handshake"]
    wait_baseline(d)
    assert_still_serves(ns, d)


def test_dtls_peer_silent_after_cookie_times_out(ns, quick_coapd):
    d = quick_coapd
    u = udp_sock(ns)
    flight = cookie_round(u)
    assert flight, "no server flight after the cookie exchange"
    (s,) = d.sessions()
    assert s["protocol"] == "dtls" and s["state"] == "handshaking", s
    # mbedTLS retransmits its flight meanwhile; after 2 s the session is gone.
    wait_for(lambda: not d.sessions(), timeout=6, message="session gone")
    u.close()
    ev = d.events()
    (f,) = handshake_failures(ev)
    assert f["reason"] == "timeout", f
    assert names(ev, s["id"]) == ["server_session_new", "handshake_failed", "server_session_del"]
    assert_still_serves(ns, d)


def test_dtls_handshakes_beyond_the_limit_are_refused(ns, quick_coapd):
    d = quick_coapd
    socks = [udp_sock(ns) for _ in range(5)]
    t0 = time.time()
    for u in socks:
        cookie_round(u, wait=0.1)
    assert time.time() - t0 < 1.5, "too slow: the first handshakes may have timed out"
    ev = d.events()
    limit = handshake_failures(ev, "limit")
    assert len(limit) == 2, ev
    assert all("3" in e["detail"] for e in limit), limit
    assert len([s for s in d.sessions() if s["state"] == "handshaking"]) == 3
    assert names(ev).count("server_session_new") == 3
    # Those under way time out; then handshakes are possible again.
    wait_for(lambda: not d.sessions(), timeout=6, message="handshakes timed out")
    for u in socks:
        u.close()
    assert_still_serves(ns, d)
    assert d.stats()["counters"]["handshake_failures"] == 5


def test_dtls_peer_over_the_limit_gets_no_server_flight(ns, quick_coapd):
    socks = [udp_sock(ns) for _ in range(4)]
    flights = [cookie_round(u, wait=0.15) for u in socks]
    assert all(flights[:3])
    assert handshake_failures(quick_coapd.events(), "limit")
    # The refused peer: no ServerHello (nothing, or an alert).
    types = [h for r in flights[3] for _, h, _ in seclab.parse_dtls_records(r)]
    assert 2 not in types, types


def test_tls_handshakes_beyond_the_limit_are_refused(ns, quick_coapd, certs):
    d = quick_coapd
    peers = [tls_client_hello(ns, certs) for _ in range(5)]
    try:
        wait_for(lambda: len(d.events()) >= 10, message="accepted")
        time.sleep(0.3)
        ev = d.events()
        assert len(handshake_failures(ev, "limit")) == 2, ev
        assert len([s for s in d.sessions() if s["state"] == "handshaking"]) <= 3
    finally:
        for p in peers:
            p.close()


def test_tls_connection_over_max_tcp_sessions_gets_no_plaintext(ns, certs, make_coapd):
    d = make_coapd(["--cert", certs.cert("server"), "--key", certs.key("server"),
                    "--max-tcp-sessions", "1"])
    s1 = ns.socket()
    s1.connect(("192.0.2.2", 5684))
    first = seclab.TlsPeer(s1, seclab.client_context(ca=certs.cert("ca")))
    first.handshake()
    second = tls_client_hello(ns, certs)
    got = raw_tls_until_close(second.sock)  # FIN, no RST
    wait_for(lambda: "session_rejected" in names(d.events()), message="session_rejected")
    first.close()
    second.close()
    assert only_alerts(got), f"plaintext on the TLS port: {got[:24].hex()}"


def test_dtls_client_restarting_on_the_same_port_gets_a_new_session(ns, secure_coapd):
    d = secure_coapd
    obs = ns.popen([OPENSSL_CLIENT, "-p", "40000", "-B", "20", "-s", "20", *psk_args(),
                    "coaps://192.0.2.2/time"])
    try:
        (old,) = wait_for(lambda: [s for s in d.sessions() if s["observers"]], message="observe")
    finally:
        obs.kill()  # gone without close_notify
        obs.wait()
    data, out = tool_payload(ns, OPENSSL_CLIENT, "-p", "40000", "-B", "8", *psk_args(),
                             "coaps://192.0.2.2/time", timeout=20)
    assert TIME_RE.fullmatch(data), out
    ev = d.events()
    assert names(ev, old["id"])[-1] == "server_session_del", ev
    assert names(ev).count("handshake_done") == 2, ev
    wait_baseline(d)


@pytest.mark.slow
def test_handshake_churn_leaves_nothing_behind(ns, certs, psk_file):
    """350 TLS sessions (handshake, CSM, GET, close_notify) and 60 DTLS ones:
    memory flat after a warm-up, no session or pcb left."""
    d = Coapd(ns, args=server_args(certs, psk_file, extra=["--max-time-wait", "0"]))
    ctx = seclab.client_context(ca=certs.cert("ca"))

    def tls_session(i):
        s = ns.socket()
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.connect(("192.0.2.2", 5684))
        tls = seclab.TlsPeer(s, ctx)
        tls.handshake()
        coap = seclab.CoapTls(tls)
        coap.handshake()
        coap.send(ct.request(ct.GET, "/time", i.to_bytes(2, "big")))
        coap.expect(ct.code(2, 5))
        tls.send_close_notify()
        assert tls.wait_close() == ("close_notify", True)
        tls.close()

    try:
        for i in range(50):
            tls_session(i)
        rss0 = d.rss_kib()
        for i in range(300):
            tls_session(i)
        for _ in range(60):
            data, out = tool_payload(ns, OPENSSL_CLIENT, "-B", "5", *psk_args(),
                                     "coaps://192.0.2.2/time")
            assert TIME_RE.fullmatch(data), out
        wait_baseline(d)
        growth = d.rss_kib() - rss0
        counters = d.stats()["counters"]
        assert counters["handshakes"] == 410 and counters["handshake_failures"] == 0, counters
        if not SANITIZER:  # memory figures mean little under a sanitizer
            assert growth < 1024, f"RSS grew by {growth} KiB"
    finally:
        assert d.stop() == 0


# --- 5. The control-socket contract, ports and configuration -------------------------

def test_status_stats_sessions_events_contract(ns, certs, psk_file):
    d = Coapd(ns, args=server_args(certs, psk_file,
                                   extra=["--dtls-port", "6684", "--tls-port", "6685",
                                          "--psk-hint", "a hint mbedTLS does not send"]))
    try:
        st = d.ctl_json("status")
        assert (st["dtls_port"], st["tls_port"], st["dtls"], st["tls"]) == (6684, 6685, True, True)
        counters = d.stats()["counters"]
        for k in ("handshakes", "handshake_failures", "dtls_cookies_sent", "echo_challenges"):
            assert counters[k] == 0, (k, counters)
        data, out = tool_payload(ns, OPENSSL_CLIENT, "-B", "5", *psk_args(),
                                 "coaps://192.0.2.2:6684/time")
        assert TIME_RE.fullmatch(data), out
        # Sessions of every protocol at once: udp, tcp, tls (held open) and dtls (observing).
        coap_client(ns, "-B", "5", "coap://192.0.2.2/time")
        tcp = ct.Peer(ns.socket(), ("192.0.2.2", 5683))
        tcp.handshake()
        s = ns.socket()
        s.connect(("192.0.2.2", 6685))
        tls = seclab.TlsPeer(s, seclab.client_context(ca=certs.cert("ca")))
        tls.handshake()
        seclab.CoapTls(tls).handshake()
        obs = ns.popen([OPENSSL_CLIENT, "-B", "4", "-s", "2", *psk_args(),
                        "coaps://192.0.2.2:6684/time"])
        try:
            wait_for(lambda: len({x["protocol"] for x in d.sessions()}) == 4,
                     message="udp, tcp, tls and dtls sessions")
            by_proto = {x["protocol"]: x for x in d.sessions()}
        finally:
            obs.wait(timeout=15)
        for proto, security, identity in (("udp", "none", ""), ("tcp", "none", ""),
                                          ("tls", "x509", ""), ("dtls", "psk", PSK_ID)):
            x = by_proto[proto]
            assert x["security"] == security and x["peer_identity"] == identity, x
            assert isinstance(x["cipher"], str) and bool(x["cipher"]) == (security != "none"), x
        done = [e for e in d.events() if e["event"] == "handshake_done"]
        assert {e["security"] for e in done} == {"psk", "x509"}
        assert all(isinstance(e["cipher"], str) and "peer_identity" in e for e in done), done
        counters = d.stats()["counters"]
        assert counters["handshakes"] == 3 and counters["dtls_cookies_sent"] >= 2, counters
        tcp.close()
        tls.close()
        # The text forms show the same.
        r = d.ctl("status")
        assert r.returncode == 0 and "6684" in r.stdout and "6685" in r.stdout, r.stdout
    finally:
        assert d.stop() == 0


def test_audit_log_names_uid_and_request_not_the_key(ns, coapd):
    p = start_libcoap_server(ns, OPENSSL_SERVER, "-k", SERVER_PSK_KEY)
    try:
        secret = SERVER_PSK_KEY
        r = coapd.ctl("get", f"coaps+tcp://{HOST_IP}/time", "--psk-identity", "auditor",
                      "--psk-key", secret)
        assert r.returncode == 0, r.stderr
        sid = coapd.sessions()[0]["id"]
        coapd.ctl("close", sid)
        r = coapd.ctl("connect", f"coaps+tcp://{HOST_IP}:5684", "--psk-identity", "auditor",
                      "--psk-key", secret, "--reconnect-interval", "0.5")
        assert r.returncode == 0, r.stderr
        coapd.ctl("close", r.stdout.split()[1])
        coapd.ctl("status")
        coapd.ctl("sessions")
        log = coapd.read_log()
        audit = [line for line in log.splitlines() if "control: uid " in line]
        assert len(audit) == 4, audit  # request, close, connect, close: not the queries
        assert all(re.search(r"\[info\] control: uid 0: ", line) for line in audit), audit
        assert f'uri="coaps+tcp://{HOST_IP}/time"' in audit[0] and "GET" in audit[0], audit
        assert "close" in audit[1] and f"session={sid}" in audit[1], audit
        assert "connect" in audit[2] and f"coaps+tcp://{HOST_IP}:5684" in audit[2], audit
        assert secret not in log, "the PSK appears in the log"
    finally:
        stop_process(p)


def test_ports_zero_disable_the_servers(ns, certs, psk_file):
    for dtls_port, tls_port in (("0", "0"), ("0", "5684"), ("5684", "0")):
        d = Coapd(ns, args=server_args(certs, psk_file,
                                       extra=["--dtls-port", dtls_port, "--tls-port", tls_port]))
        try:
            st = d.ctl_json("status")
            assert st["dtls"] is (dtls_port != "0") and st["tls"] is (tls_port != "0"), st
            assert st["dtls_port"] == int(dtls_port) and st["tls_port"] == int(tls_port), st
            u = udp_sock(ns)
            u.sendto(seclab.dtls_client_hello(), ("192.0.2.2", 5684))
            got = recv_all(u, 0.5)
            u.close()
            assert bool(got) == (dtls_port != "0"), got
            s = ns.socket()
            s.settimeout(3)
            if tls_port == "0":
                with pytest.raises(ConnectionRefusedError):
                    s.connect(("192.0.2.2", 5684))
            else:
                s.connect(("192.0.2.2", 5684))
            s.close()
            assert d.stats()["counters"]["dtls_cookies_sent"] == (0 if dtls_port == "0" else 1)
            data, err = coap_payload(ns, "-B", "5", "coap://192.0.2.2/time")
            assert TIME_RE.fullmatch(data), err
        finally:
            assert d.stop() == 0


def test_without_credentials_no_servers_but_client_works(ns, coapd):
    st = coapd.ctl_json("status")
    assert st["dtls"] is False and st["tls"] is False, st
    u = udp_sock(ns)
    u.sendto(seclab.dtls_client_hello(), ("192.0.2.2", 5684))
    assert recv_all(u, 0.5) == []
    s = ns.socket()
    s.settimeout(3)
    with pytest.raises(ConnectionRefusedError):
        s.connect(("192.0.2.2", 5684))
    data, out = tool_payload(ns, OPENSSL_CLIENT, "-B", "2", *psk_args(), "coaps://192.0.2.2/time")
    assert data == b""
    p = start_libcoap_server(ns, GNUTLS_SERVER, "-k", SERVER_PSK_KEY)
    try:
        for scheme in ("coaps", "coaps+tcp"):
            r = coapd.ctl("get", f"{scheme}://{HOST_IP}/time", "--psk-identity", "c",
                          "--psk-key", SERVER_PSK_KEY)
            assert r.returncode == 0 and r.stdout.startswith("2.05"), r.stdout + r.stderr
    finally:
        stop_process(p)


def bad_config_cases(certs, d):
    def f(name, text):
        p = Path(d) / name
        p.write_text(text)
        return str(p)

    return [
        (["--psk-file", "/nonexistent/psk"], "--psk-file"),
        (["--psk-file", f("nokey.txt", "lonely-identity\n")], "--psk-file"),
        (["--psk-file", f("badhex.txt", "id 0xzz\n")], "--psk-file"),
        (["--psk-file", f("dup.txt", "id a\nid b\n")], "--psk-file"),
        (["--psk-file", f("empty.txt", "# nothing\n\n")], "--psk-file"),
        (["--psk-file", f("three.txt", "id key extra\n")], "--psk-file"),
        (["--cert", "/nonexistent.pem", "--key", certs.key("server")], "--cert"),
        (["--cert", f("junk.pem", "not a certificate\n"), "--key", certs.key("server")], "--cert"),
        (["--cert", certs.cert("server"), "--key", f("junk.key", "not a key\n")], "--key"),
        (["--cert", certs.cert("server")], "--key"),
        (["--cert", certs.cert("server"), "--key", certs.key("server"),
          "--ca", f("junk-ca.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n"
                                   "-----END CERTIFICATE-----\n")], "--ca"),
        (["--client-psk-identity", "x"], "--client-psk-key"),
        (["--client-psk-identity", "x", "--client-psk-key", "0xz"], "--client-psk-key"),
    ]


def test_bad_credentials_exit_2_with_one_line(ns, certs, tmp_path):
    for args, option in bad_config_cases(certs, tmp_path):
        r = ns.exec([COAPD, "--tap", "bad0", "--control-socket", str(tmp_path / "c.sock"), *args],
                    timeout=10)
        err = r.stderr.decode()
        lines = err.strip().splitlines()
        assert r.returncode == 2, (args, r.returncode, err)
        assert len(lines) == 1 and option in lines[0], (args, err)


def test_key_not_matching_certificate_exits_2(ns, certs, tmp_path):
    p = ns.popen([COAPD, "--tap", "bad0", "--control-socket", str(tmp_path / "c.sock"),
                  "--cert", certs.cert("server"), "--key", certs.key("client")])
    try:
        out = p.communicate(timeout=3)[0]
    except subprocess.TimeoutExpired:
        p.kill()
        out = p.communicate()[0]
        raise AssertionError("coapd started with a key that is not its certificate's")
    assert p.returncode == 2 and b"--key" in out, out


def test_psk_file_key_too_long_names_psk_file(ns, tmp_path):
    psk = tmp_path / "long.txt"
    psk.write_text(f"longid {'k' * 33}\n")
    r = ns.exec([COAPD, "--tap", "bad0", "--control-socket", str(tmp_path / "c.sock"),
                 "--psk-file", str(psk)], timeout=10)
    lines = r.stderr.decode().strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1, r
    assert "--psk-file" in lines[0] and "--cert" not in lines[0], lines


def test_client_psk_key_too_long_exits_2(ns, tmp_path):
    p = ns.popen([COAPD, "--tap", "bad0", "--control-socket", str(tmp_path / "c.sock"),
                  "--client-psk-identity", "x", "--client-psk-key", "k" * 33])
    try:
        out = p.communicate(timeout=3)[0]
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        raise AssertionError("coapd started with a 33-byte --client-psk-key")
    assert p.returncode == 2 and b"--client-psk-key" in out, out


# --- TLS streams: close_notify then FIN, record boundaries ---------------------------

def test_tls_close_is_close_notify_then_fin(ns, secure_coapd, certs):
    d = secure_coapd
    # coapd closes an accepted session (coapctl close): Release, close_notify, FIN.
    s = ns.socket()
    s.connect(("192.0.2.2", 5684))
    tls = seclab.TlsPeer(s, seclab.client_context(ca=certs.cert("ca")))
    tls.handshake()
    coap = seclab.CoapTls(tls)
    coap.handshake()
    coap.send(ct.request(ct.GET, "/time", b"\x01"))
    coap.expect(ct.code(2, 5))
    (sess,) = secure_sessions(d)
    assert d.ctl("close", sess["id"]).returncode == 0
    coap.expect(ct.RELEASE)
    assert tls.wait_close() == ("close_notify", True)
    tls.close()
    # The peer closes first (close_notify): coapd answers with its own and FIN.
    s = ns.socket()
    s.connect(("192.0.2.2", 5684))
    tls = seclab.TlsPeer(s, seclab.client_context(ca=certs.cert("ca")))
    tls.handshake()
    seclab.CoapTls(tls).handshake()
    sid = secure_sessions(d)[0]["id"]
    tls.send_close_notify()
    assert tls.wait_close() == ("close_notify", True)
    tls.close()
    wait_baseline(d)
    ev = [e for e in d.events() if e["session_id"] == sid]
    assert names(ev)[-3:] == ["tcp_closed", "session_closed", "server_session_del"], ev

    # coapd as the TLS client: closing its session to a Python server.
    ls = tls_listener(ns, 5686)
    result = {}

    def serve():
        try:
            peer = accept_tls(ls, certs, "peer")
            c = seclab.CoapTls(peer)
            c.handshake()
            req = c.recv_frame()
            c.send(ct.frame(ct.code(2, 5), req.token, payload=b"from python"))
            result["close"] = peer.wait_close(timeout=15)
            peer.close()
        except Exception as e:  # noqa: BLE001 - reported below
            result["error"] = e

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    r = d.ctl("get", f"coaps+tcp://{HOST_IP}:5686/x", "--ca", certs.cert("ca"))
    assert r.returncode == 0 and r.stdout.endswith("from python"), r.stdout + r.stderr
    (client,) = secure_sessions(d)
    assert client["role"] == "client" and client["peer_identity"] == "CN=peer", client
    assert d.ctl("close", client["id"]).returncode == 0
    t.join(timeout=20)
    ls.close()
    assert result.get("close") == ("close_notify", True), result
    wait_baseline(d)


def test_shutdown_closes_tls_with_release_close_notify_and_fin(ns, certs, psk_file):
    d = Coapd(ns, args=server_args(certs, psk_file))
    s = ns.socket()
    s.connect(("192.0.2.2", 5684))
    tls = seclab.TlsPeer(s, seclab.client_context(ca=certs.cert("ca")))
    tls.handshake()
    coap = seclab.CoapTls(tls)
    coap.handshake()
    d.proc.send_signal(signal.SIGTERM)
    coap.expect(ct.RELEASE)
    assert tls.wait_close() == ("close_notify", True)
    tls.close()
    assert d.proc.wait(timeout=10) == 0  # (a second SIGTERM from stop() would end it at once)
    assert d.stop() == 0


def test_tls_byte_at_a_time_and_64k_messages(ns, secure_coapd, certs):
    """Records split into one-byte segments, then 64 KiB CoAP messages each way
    (several TLS records per message)."""
    d = secure_coapd
    s = ns.socket()
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.connect(("192.0.2.2", 5684))
    tls = seclab.TlsPeer(s, seclab.client_context(ca=certs.cert("ca")))
    tls.trickle = True
    tls.handshake()
    coap = seclab.CoapTls(tls)
    coap.handshake(max_message_size=200000)
    coap.send(ct.request(ct.PUT, "/echo", b"\x01", b"slowly"))
    assert coap.expect(ct.code(2, 4)).payload == b"slowly"
    tls.trickle = False
    body = bytes((i * 7) % 251 for i in range(65536))
    coap.send(ct.request(ct.PUT, "/echo", b"\x02", body))
    r = coap.expect(ct.code(2, 4), timeout=20)
    assert r.payload == body and r.option(23) is None  # whole, no Block2
    coap.send(ct.request(ct.GET, "/echo", b"\x03"))
    assert coap.expect(ct.code(2, 5), timeout=20).payload == body
    tls.send_close_notify()
    assert tls.wait_close() == ("close_notify", True)
    tls.close()
    wait_baseline(d)
    assert d.stats()["counters"]["bad_packets"] == 0


# --- 6. Amplification limit on plain UDP (RFC 9175 Echo) ---------------------------------

def udp_request(token, mid, path_segments, echo=None):
    opts = [(11, seg) for seg in path_segments]
    if echo is not None:
        opts.append((252, echo))
    return bytes([0x40 | len(token), ct.GET]) + struct.pack("!H", mid) + token + \
        ct.encode_options(opts)


def udp_options(datagram):
    """[(number, value)], payload of a CoAP-over-UDP message."""
    tkl = datagram[0] & 15
    rest = datagram[4 + tkl:]
    body = len(rest)
    if body < 13:
        hdr = bytes([(body << 4)])
    elif body < 269:
        hdr = bytes([(13 << 4), body - 13])
    else:
        hdr = bytes([(14 << 4)]) + struct.pack("!H", body - 269)
    (f,), _ = ct.parse_frames(hdr + bytes([datagram[1]]) + rest)
    return f.options, f.payload


def test_large_response_to_unverified_address_needs_echo(ns, coapd):
    u = udp_sock(ns, timeout=3)
    req = udp_request(b"\x01", 0x1001, [".well-known", "core"])
    u.sendto(req, ("192.0.2.2", 5683))
    resp = u.recvfrom(4096)[0]
    assert resp[1] == ct.code(4, 1) and resp[0] >> 4 == 6, resp.hex()  # ACK 4.01
    assert len(resp) <= 3 * len(req)
    options, payload = udp_options(resp)
    echo = dict(options).get(252)
    assert echo, options
    assert coapd.stats()["counters"]["echo_challenges"] == 1
    # With the Echo value: the whole answer.
    u.sendto(udp_request(b"\x02", 0x1002, [".well-known", "core"], echo), ("192.0.2.2", 5683))
    resp = u.recvfrom(4096)[0]
    assert resp[1] == ct.code(2, 5), resp.hex()
    assert b"</time>" in udp_options(resp)[1]
    # The address is verified now: no Echo needed any more.
    u.sendto(udp_request(b"\x03", 0x1003, [".well-known", "core"]), ("192.0.2.2", 5683))
    assert u.recvfrom(4096)[0][1] == ct.code(2, 5)
    assert coapd.stats()["counters"]["echo_challenges"] == 1
    u.close()
    # Another address (port) starts unverified; a wrong Echo does not verify it.
    v = udp_sock(ns, timeout=3)
    v.sendto(udp_request(b"\x04", 0x2001, [".well-known", "core"], b"\x00" * 8),
             ("192.0.2.2", 5683))
    assert v.recvfrom(4096)[0][1] == ct.code(4, 1)
    v.close()
    assert coapd.stats()["counters"]["echo_challenges"] == 2


def test_libcoap_client_retries_with_echo_transparently(ns, coapd, certs):
    # -v 7 shows every message (-v 6 only the request and the final response).
    r = coap_client(ns, "-B", "5", "-v", "7", "coap://192.0.2.2/.well-known/core")
    out = r.stdout.decode(errors="replace")
    msgs = [line for line in out.splitlines() if line.startswith("v:1 ")]
    assert len(msgs) == 4, out
    assert "c:GET" in msgs[0] and "Echo" not in msgs[0], msgs
    challenge = re.search(r"t:ACK c:4\.01 .*Echo:(0x[0-9a-f]+)", msgs[1])
    assert challenge, msgs
    assert "c:GET" in msgs[2] and f"Echo:{challenge.group(1)}" in msgs[2], msgs
    assert "t:ACK c:2.05" in msgs[3] and "</time>" in msgs[3], msgs
    assert coapd.stats()["counters"]["echo_challenges"] == 1


def test_dtls_is_not_echo_challenged(ns, secure_coapd):
    data, out = tool_payload(ns, OPENSSL_CLIENT, "-B", "5", *psk_args(),
                             "coaps://192.0.2.2/.well-known/core")
    assert b"</time>" in data, out
    assert secure_coapd.stats()["counters"]["echo_challenges"] == 0


def test_coapd_client_answers_echo_challenge(ns):
    """coapd's own client against a second coapd: the 4.01 + Echo is repeated
    with the Echo value, and coapctl sees only the 2.05."""
    a = Coapd(ns, name="a", args=["--gateway", "192.0.2.1"])
    b = Coapd(ns, name="b", tap="coap1", address="198.51.100.2/24", host="198.51.100.1/24",
              args=["--gateway", "198.51.100.1"])
    try:
        r = a.ctl("get", "coap://198.51.100.2/.well-known/core")
        assert r.returncode == 0 and r.stdout.startswith("2.05") and "</time>" in r.stdout, \
            r.stdout + r.stderr
        assert b.stats()["counters"]["echo_challenges"] == 1
        assert a.stats()["counters"]["client_responses"] == 2  # the 4.01 and the 2.05
    finally:
        assert a.stop() == 0
        assert b.stop() == 0
