"""The daemon around the protocol: flags, exit codes, TAP lifecycle, control
socket, systemd integration."""

import json
import os
import signal
import socket
import stat
import subprocess
import time
from pathlib import Path

import pytest

from netlab import BUILD, COAPD, Coapd, coap_client, run, wait_for


def test_help_is_complete():
    r = subprocess.run([COAPD, "--help"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0
    for flag in ("--config", "--tap", "--address", "--gateway", "--host-address", "--ipv6",
                 "--udp-port", "--tcp-port", "--control-socket", "--log-level", "--session",
                 "--call-home-listen", "--max-tcp-sessions", "--csm-timeout"):
        assert flag in r.stdout, flag


@pytest.mark.parametrize("args,key", [
    (["--address", "300.1.2.3/24"], "--address"),
    (["--udp-port", "70000"], "--udp-port"),
    (["--log-level", "loud"], "--log-level"),
    (["--no-such-flag"], "--no-such-flag"),
    (["--session", "coap://192.0.2.1"], "--session"),
])
def test_bad_flag_exits_2_with_one_line(args, key):
    r = subprocess.run([COAPD, *args], capture_output=True, text=True, timeout=10)
    assert r.returncode == 2, r
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and key in lines[0], r.stderr


def test_bad_config_key_exits_2(tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text('tap = "coap9"\ntapp = "x"\n')
    r = subprocess.run([COAPD, "--config", str(conf)], capture_output=True, text=True, timeout=10)
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and "tapp" in r.stderr, r.stderr


def test_tap_name_in_use_fails_cleanly(ns, coapd):
    second = Coapd(ns, name="second", wait_ready=False)
    rc = second.proc.wait(timeout=15)
    assert rc != 0
    assert "in use" in second.read_log(), second.read_log()
    # The first one is unaffected.
    assert coap_client(ns, "-B", "5", "coap://192.0.2.2/time").stdout.decode().strip().endswith("Z")


def test_tap_without_cap_net_admin_fails(ns):
    sock = f"/tmp/{ns.name}-nocap.sock"
    r = ns.exec(["setpriv", "--bounding-set=-net_admin", "--inh-caps=-net_admin", str(COAPD),
                 "--control-socket", sock], timeout=15)
    assert r.returncode == 1, r
    assert b"CAP_NET_ADMIN" in r.stderr or b"permission" in r.stderr.lower(), r.stderr


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT"])
def test_signal_shuts_down_and_removes_tap(ns, sig):
    import signal
    d = Coapd(ns)
    assert "coap0" in ns.sh("ip link show").stdout
    d.proc.send_signal(getattr(signal, sig))
    assert d.proc.wait(timeout=15) == 0, d.read_log()
    assert "coap0" not in ns.sh("ip link show").stdout
    assert not Path(d.sock).exists(), "control socket left behind"


def test_stats_json_contract(ns, coapd):
    coap_client(ns, "-B", "5", "coap://192.0.2.2/time")
    st = coapd.stats()
    for k in ("tcp_active", "tcp_listen", "tcp_time_wait", "udp"):
        assert isinstance(st["lwip"][k], int), k
    for k in ("rx_frames", "tx_frames", "requests", "responses", "bad_packets"):
        assert isinstance(st["counters"][k], int), k
    assert st["lwip"]["udp"] == 1 and st["lwip"]["tcp_listen"] == 1
    assert st["counters"]["requests"] >= 1 and st["counters"]["responses"] >= 1
    assert st["counters"]["rx_frames"] > 0 and st["counters"]["tx_frames"] > 0


def test_control_socket_mode(ns, coapd):
    mode = stat.S_IMODE(os.stat(coapd.sock).st_mode)
    assert mode == 0o660, oct(mode)


def test_garbage_and_slow_control_clients_do_not_block(ns, coapd):
    garbage = socket.socket(socket.AF_UNIX)
    garbage.connect(coapd.sock)
    garbage.sendall(b"this is not json\n")
    reply = json.loads(garbage.makefile().readline())
    assert reply["ok"] is False and "JSON" in reply["error"]
    # A client that sends an endless line is cut off.
    endless = socket.socket(socket.AF_UNIX)
    endless.connect(coapd.sock)
    endless.settimeout(10)
    with pytest.raises((BrokenPipeError, ConnectionResetError)):
        for _ in range(64):
            endless.sendall(b"x" * 65536)
        endless.sendall(b"x" * (2 << 20))
    # A client that never reads its event stream.
    slow = socket.socket(socket.AF_UNIX)
    slow.connect(coapd.sock)
    slow.sendall(b'{"v":1,"id":1,"cmd":"events","follow":true}\n')
    # Meanwhile everything else keeps working.
    for _ in range(20):
        assert coap_client(ns, "-B", "5", "coap://192.0.2.2/time").stdout.decode().strip().endswith("Z")
    assert coapd.stats()["counters"]["requests"] >= 20


def unit_paths(unit_text):
    """The binary ExecStart runs and its --config file."""
    exec_line = [l for l in unit_text.splitlines() if l.startswith("ExecStart=")][0]
    words = exec_line.split("=", 1)[1].split()
    return words[0], words[words.index("--config") + 1]


def test_systemd_unit_verifies(tmp_path):
    prefix = tmp_path / "root"
    r = run(["cmake", "--install", str(BUILD), "--prefix", str(prefix)], check=False)
    assert r.returncode == 0, r.stderr
    from netlab import ROOT
    text = (ROOT / "systemd" / "coapd.service").read_text()
    assert "Type=notify" in text and "WatchdogSec=" in text
    assert "CapabilityBoundingSet=CAP_NET_ADMIN" in text and "DeviceAllow=/dev/net/tun" in text
    # The installed unit names the paths of this install (chosen at install
    # time, not at configure time).
    installed = prefix / "lib/systemd/system/coapd.service"
    binary, conf = unit_paths(installed.read_text())
    assert binary == str(prefix / "sbin" / "coapd") and Path(binary).exists()
    assert conf == str(prefix / "etc" / "coapd" / "coapd.conf") and Path(conf).exists()
    assert (prefix / "bin" / "coapctl").exists()
    r = run(["systemd-analyze", "verify", str(installed)], check=False)
    assert r.returncode == 0, r.stdout + r.stderr


def test_install_to_usr_names_usr_sbin_and_etc(tmp_path):
    # The README's `cmake --install build --prefix /usr`, staged under DESTDIR.
    stage = tmp_path / "stage"
    r = run(["cmake", "--install", str(BUILD), "--prefix", "/usr"], check=False,
            env=dict(os.environ, DESTDIR=str(stage)))
    assert r.returncode == 0, r.stderr
    binary, conf = unit_paths((stage / "usr/lib/systemd/system/coapd.service").read_text())
    assert (binary, conf) == ("/usr/sbin/coapd", "/etc/coapd/coapd.conf")
    assert (stage / binary.lstrip("/")).exists() and (stage / conf.lstrip("/")).exists()


def test_sd_notify_ready_and_engine_watchdog(ns, tmp_path):
    path = str(tmp_path / "notify.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(path)
    listener.settimeout(0.2)
    env = dict(os.environ, NOTIFY_SOCKET=path, WATCHDOG_USEC="400000")
    d = Coapd(ns, args=["--debug-commands"], env=env, wait_ready=False)
    messages = []

    def collect(seconds):
        end = time.time() + seconds
        got = []
        while time.time() < end:
            try:
                got.append(listener.recv(4096).decode())
            except socket.timeout:
                pass
        messages.extend(got)
        return got

    try:
        wait_for(lambda: collect(0.3) and any("READY=1" in m for m in messages), timeout=15,
                 message="READY=1")
        got = collect(1.5)
        assert sum("WATCHDOG=1" in m for m in got) >= 3, got
        # Stall the engine on purpose: keep-alives must stop while it is stuck.
        stall = subprocess.Popen([str(BUILD / "bin" / "coapctl"), "--socket", d.sock, "debug",
                                  "stall-engine", "2"])
        time.sleep(0.3)
        got = collect(1.4)
        assert not any("WATCHDOG=1" in m for m in got), got
        stall.wait(timeout=15)
        got = collect(1.0)
        assert any("WATCHDOG=1" in m for m in got), got
    finally:
        assert d.stop() == 0
        listener.close()


def _read_to_eof(sock, timeout=10):
    sock.settimeout(timeout)
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return [json.loads(line) for line in data.decode().splitlines() if line.strip()]


def test_control_client_that_half_closes_gets_its_answers(ns, coapd):
    # `echo '{...}' | nc -U SOCKET`: the request arrives, then EOF; the
    # answers still come, then coapd closes its side.
    c = socket.socket(socket.AF_UNIX)
    c.connect(coapd.sock)
    c.sendall(b'{"v":1,"id":1,"cmd":"status"}\n{"v":1,"id":2,"cmd":"stats"}\n')
    c.shutdown(socket.SHUT_WR)
    replies = _read_to_eof(c)
    assert [r["id"] for r in replies] == [1, 2] and all(r["ok"] for r in replies), replies
    # A last request without its newline counts too.
    c = socket.socket(socket.AF_UNIX)
    c.connect(coapd.sock)
    c.sendall(b'{"v":1,"id":"x","cmd":"sessions"}')
    c.shutdown(socket.SHUT_WR)
    replies = _read_to_eof(c)
    assert len(replies) == 1 and replies[0]["id"] == "x" and replies[0]["ok"], replies


def test_half_closed_follower_keeps_receiving_events(ns, coapd):
    c = socket.socket(socket.AF_UNIX)
    c.connect(coapd.sock)
    c.sendall(b'{"v":1,"id":1,"cmd":"events","follow":true}\n')
    c.shutdown(socket.SHUT_WR)
    f = c.makefile()
    c.settimeout(10)
    assert json.loads(f.readline())["ok"] is True
    peer = ns.socket()
    peer.settimeout(10)
    peer.connect(("192.0.2.2", 5683))
    seen = []
    while "server_session_new" not in seen:
        line = json.loads(f.readline())
        seen.append(line["event"]["event"])
    peer.close()


def test_sigterm_answers_requests_in_flight(ns):
    d = Coapd(ns)
    # Nothing listens on the kernel side: the CON would be retransmitted for
    # about 45 s. SIGTERM must end it at once, with an answer.
    get = subprocess.Popen([str(BUILD / "bin" / "coapctl"), "--socket", d.sock, "get",
                            "coap://192.0.2.1:5999/nothing", "--timeout", "60"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: d.stats()["counters"]["client_requests"] >= 1, message="request sent")
    assert d.stop() == 0
    out, err = get.communicate(timeout=10)
    assert get.returncode not in (0, None), (out, err)
    assert "shutting down" in err, err


def test_sigterm_with_a_control_client_that_never_reads(ns):
    # Replies pile up for a client that stops reading; shutdown still ends
    # promptly (its connection is closed after a short drain time).
    d = Coapd(ns)
    c = socket.socket(socket.AF_UNIX)
    c.connect(d.sock)
    c.setblocking(False)
    sent = 0
    for i in range(3000):
        try:
            c.send(b'{"v":1,"id":%d,"cmd":"stats"}\n' % i)
            sent += 1
        except BlockingIOError:
            break
    wait_for(lambda: d.stats()["counters"] is not None, message="coapd busy answering")
    time.sleep(0.5)
    t0 = time.time()
    assert d.stop(timeout=10) == 0
    assert time.time() - t0 < 5
    c.close()


def test_sigterm_with_a_stalled_engine_still_ends(ns):
    # An engine that does not come back cannot be stopped in order; coapd
    # still ends, within the linger plus the 10 s it gives the engine, and
    # says so with a non-zero status.
    d = Coapd(ns, ["--debug-commands"])
    stall = subprocess.Popen([str(BUILD / "bin" / "coapctl"), "--socket", d.sock, "debug",
                              "stall-engine", "120"], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.3)
        t0 = time.time()
        assert d.stop(timeout=25) == 1
        assert time.time() - t0 < 20
        assert "did not stop" in d.logpath.read_text()
    finally:
        stall.kill()
        stall.wait()


def test_second_signal_ends_shutdown_at_once(ns):
    d = Coapd(ns, ["--debug-commands"])
    stall = subprocess.Popen([str(BUILD / "bin" / "coapctl"), "--socket", d.sock, "debug",
                              "stall-engine", "120"], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.3)
        d.proc.send_signal(signal.SIGTERM)  # the orderly stop waits for the engine...
        time.sleep(0.5)
        assert d.proc.poll() is None
        t0 = time.time()
        d.proc.send_signal(signal.SIGTERM)  # ...a second signal does not
        assert d.proc.wait(timeout=5) == -signal.SIGTERM
        assert time.time() - t0 < 2
    finally:
        stall.kill()
        stall.wait()
        d.log.close()
