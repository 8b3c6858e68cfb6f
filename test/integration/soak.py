#!/usr/bin/python3
"""Call-home soak: the reported field failure, compressed.

coapd calls home (Actual-Server side) to a peer that is alternately absent
(its port refuses: RST), silent (SYNs dropped by nftables) and present. Each
cycle (about 300 ms by default, --cycle-ms) ends the session, alternately

  - from the peer's side: the peer closes the connection and is absent or
    silent for a moment; coapd's reconnect (at a third of the cycle: 100 ms)
    must bring the session back once the peer is present again;
  - by `coapctl close`: while the session may be reconnecting (its attempt
    still in SYN_SENT), then `coapctl connect` opens it again a third of a
    cycle later.

coapd's reconnect interval and connect timeout, and every pause here, scale
with --cycle-ms. Events are checked as they arrive (a long soak keeps no
history), against the documented order.

Pass: no crash, no sanitizer report, every session's events follow the
documented order, and at the end pcb counts, sessions, coapd's open fds and
RSS are back at baseline.

Usage: soak.py (--duration SECONDS [--min-cycles N] | --cycles N) [--cycle-ms MS] [--json]
"""

import argparse
import collections
import errno
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import coaptcp as ct  # noqa: E402
from netlab import COAPCTL, Coapd, Netns, wait_for  # noqa: E402

PORT = 5684
URI = f"coap+tcp://192.0.2.1:{PORT}"


class OrderError(AssertionError):
    pass


class SessionChecker:
    """The documented event order of one outgoing call-home session."""

    def __init__(self, sid):
        self.sid = sid
        self.state = "start"
        self.attempt = 0
        self.history = collections.deque(maxlen=12)

    def fail(self, ev):
        raise OrderError(f"session {self.sid}: unexpected {ev['event']} in state {self.state} "
                         f"(attempt {self.attempt}); history: {list(self.history)}")

    def feed(self, ev):
        name = ev["event"]
        self.history.append(name + (f"({ev['attempt']})" if "attempt" in ev else ""))
        s = self.state
        closed_by_request = ev.get("reason") == "closed by request"
        if s == "end":
            self.fail(ev)
        elif s in ("start", "attempting"):
            if name == "tcp_connected":
                self.state = "tcp_up"
            elif name == "tcp_failed":
                self.state = "attempt_failed"
            elif name == "session_closed" and closed_by_request:
                self.state = "end"
            else:
                self.fail(ev)
        elif s == "attempt_failed":
            if name == "session_failed" and self.attempt == 0:
                self.state = "wait"
            elif name == "reconnect_failed" and ev.get("attempt") == self.attempt > 0:
                self.state = "wait"
            else:
                self.fail(ev)
        elif s == "tcp_up":
            if name == "session_connected":
                self.state = "session_up"
            elif name in ("tcp_closed", "tcp_failed"):
                # Connected but no CSM: a failed attempt when reconnecting,
                # unless coapctl close ended it (then session_closed follows).
                self.state = "attempt_failed" if self.attempt and not closed_by_request \
                    else "tcp_down"
            else:
                self.fail(ev)
        elif s == "session_up":
            if name == "server_session_connected":
                self.state = "reconnected" if self.attempt else "established"
            else:
                self.fail(ev)
        elif s == "reconnected":
            if name == "reconnect_success" and ev.get("attempt") == self.attempt:
                self.attempt = 0
                self.state = "established"
            else:
                self.fail(ev)
        elif s == "established":
            if name in ("tcp_closed", "tcp_failed"):
                self.state = "tcp_down"
            else:
                self.fail(ev)
        elif s == "tcp_down":
            if name == "session_failed" and closed_by_request:
                self.fail(ev)  # a close asked for is never a failure
            elif name in ("session_closed", "session_failed"):
                self.state = "end" if closed_by_request else "wait"
                self.attempt = 0
            else:
                self.fail(ev)
        elif s == "wait":
            if name == "reconnecting" and ev.get("attempt") == self.attempt + 1:
                self.attempt += 1
                self.state = "attempting"
            elif name == "session_closed" and closed_by_request:
                self.state = "end"
            elif name == "reconnect_no_more":
                self.state = "end"
            else:
                self.fail(ev)


class ActualClient:
    """The peer coapd calls home to: listens on 192.0.2.1:PORT when present,
    answers CSM, sends one GET and expects coapd to answer it."""

    def __init__(self, ns):
        self.ns = ns
        self.lsock = None
        self.conns = []
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self.verified = 0  # sessions on which coapd answered our GET
        self.errors = []
        self.silent = False
        self.stop = False
        self.thread = threading.Thread(target=self._accept_loop, daemon=True)

    def start(self):
        self.listen()
        self.thread.start()

    def listen(self):
        with self.lock:
            if self.lsock is None:
                s = self.ns.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                # The accept thread may still be in poll() on the socket just
                # closed, which keeps it listening until that returns.
                for attempt in range(100):
                    try:
                        s.bind(("192.0.2.1", PORT))
                        break
                    except OSError as e:
                        if e.errno != errno.EADDRINUSE or attempt == 99:
                            raise
                        time.sleep(0.01)
                s.listen(16)
                s.settimeout(0.05)
                self.lsock = s

    def unlisten(self):
        with self.lock:
            if self.lsock is not None:
                try:  # wakes an accept() in progress at once
                    self.lsock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                self.lsock.close()
                self.lsock = None

    def set_silent(self, on):
        if on and not self.silent:
            self.ns.sh("nft add table inet soak && "
                       "nft add chain inet soak input '{ type filter hook input priority 0; }' && "
                       f"nft add rule inet soak input tcp dport {PORT} tcp flags syn drop")
        elif not on and self.silent:
            self.ns.sh("nft delete table inet soak")
        self.silent = on

    def wait_verified(self, more_than, timeout):
        """Until coapd answered on more than `more_than` sessions; no polling."""
        with self.lock:
            if not self.changed.wait_for(lambda: self.verified > more_than, timeout):
                raise AssertionError(f"no session verified after {timeout}s "
                                     f"(verified {self.verified})")

    def close_connections(self):
        with self.lock:
            conns, self.conns = self.conns, []
        for c in conns:
            c.close()

    def _accept_loop(self):
        while not self.stop:
            with self.lock:
                ls = self.lsock
            if ls is None:
                time.sleep(0.01)
                continue
            try:
                conn, _ = ls.accept()
            except (socket.timeout, OSError):
                continue
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        p = ct.Peer(conn, connect=False, timeout=5)
        try:
            p.handshake()
            p.send(ct.request(ct.GET, "/time", b"\x5a"))
            p.expect(ct.code(2, 5))
            with self.lock:
                self.conns.append(p)
                self.verified += 1
                self.changed.notify_all()
        except (EOFError, OSError, AssertionError) as e:
            # coapd may legitimately go away in the middle (coapctl close).
            p.close()
            if not isinstance(e, (EOFError, ConnectionResetError, socket.timeout)):
                self.errors.append(repr(e))


class EventStream:
    """`coapctl --json events --follow`, read as it comes. Keeps the events
    (`events`), or with on_event hands each to it and keeps only a count."""

    def __init__(self, sock_path, on_event=None):
        self.proc = subprocess.Popen([COAPCTL, "--socket", sock_path, "--json", "events", "--follow"],
                                     stdout=subprocess.PIPE, text=True)
        self.events = []
        self.count = 0
        self.on_event = on_event
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for line in self.proc.stdout:
            if line.strip():
                ev = json.loads(line)
                self.count += 1
                if self.on_event:
                    self.on_event(ev)
                else:
                    self.events.append(ev)

    def close(self):
        self.proc.terminate()
        self.proc.wait(timeout=5)
        self.thread.join(timeout=5)


class OrderCheck:
    """Feeds each event to its session's checker as it arrives; sessions that
    reached their end are forgotten (counted)."""

    def __init__(self):
        self.checkers = {}
        self.sessions = 0
        self.finished = 0
        self.error = None

    def __call__(self, ev):
        if self.error:
            return
        try:
            if ev["event"] in ("server_session_new", "server_session_del", "bad_packet"):
                raise OrderError(f"unexpected event for a call-home soak: {ev}")
            c = self.checkers.get(ev["session_id"])
            if c is None:
                c = self.checkers[ev["session_id"]] = SessionChecker(ev["session_id"])
                self.sessions += 1
            c.feed(ev)
            if c.state == "end":
                del self.checkers[ev["session_id"]]
                self.finished += 1
        except OrderError as e:
            self.error = e


def ctl(d, *args):
    r = d.ctl(*args, timeout=30)
    if r.returncode != 0:
        raise AssertionError(f"coapctl {' '.join(map(str, args))}: {r.returncode} {r.stderr}")
    return r.stdout


def connect(d, interval):
    out = ctl(d, "connect", URI, "--call-home", "--reconnect-interval", f"{interval:g}")
    return int(out.split()[1])


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def run(duration=None, min_cycles=0, cycles=None, cycle_ms=300, log=print):
    """Cycles for `duration` seconds (and at least min_cycles), or exactly
    `cycles` times. cycle_ms scales every pause and coapd's timings (300:
    the original 100 ms reconnect interval, 150 ms connect timeout)."""
    assert (duration is None) != (cycles is None), "give duration or cycles"
    k = cycle_ms / 300.0
    reconnect = 0.1 * k
    ns = Netns(prefix="coapd-soak")
    d = None
    peer = None
    stream = None
    order = OrderCheck()
    result = {"cycles": 0, "ok": False, "cycle_ms": cycle_ms}
    try:
        d = Coapd(ns, args=["--connect-timeout", f"{0.15 * k:g}"], log_level="warn")
        stream = EventStream(d.sock, on_event=order)
        peer = ActualClient(ns)
        peer.start()
        baseline = d.stats()["lwip"]
        sid = connect(d, reconnect)
        peer.wait_verified(0, timeout=10)
        rss_baseline = fds_baseline = None
        start = time.time()
        cycle = 0
        report_every = 1000 if cycles else 200

        def more():
            if cycles is not None:
                return cycle < cycles
            return time.time() - start < duration or cycle < min_cycles

        while more():
            disruption = ("absent", "silent", "none")[(cycle // 2) % 3]
            verified = peer.verified
            if disruption == "absent":
                peer.unlisten()
            elif disruption == "silent":
                peer.set_silent(True)
            if cycle % 2 == 0:
                # The peer ends the session; coapd must come back by itself.
                peer.close_connections()
                time.sleep(0.15 * k)
            else:
                # coapctl close, maybe while a reconnect attempt is in SYN_SENT.
                if disruption != "none":
                    peer.close_connections()
                    time.sleep(0.12 * k)
                ctl(d, "close", sid)
                time.sleep(0.1 * k)
                sid = connect(d, reconnect)
            peer.set_silent(False)
            peer.listen()
            try:
                peer.wait_verified(verified, timeout=10)
            except AssertionError as e:
                raise AssertionError(f"session not back in cycle {cycle} ({disruption}): {e}")
            if order.error:
                raise order.error
            cycle += 1
            if cycle == 30:
                rss_baseline = d.rss_kib()
                fds_baseline = fd_count(d.pid)
            if cycle % report_every == 0:
                el = time.time() - start
                log(f"soak: {cycle} cycles, {el:.0f}s ({1000 * el / cycle:.0f} ms/cycle), "
                    f"{order.sessions} sessions, {stream.count} events, rss {d.rss_kib()} KiB, "
                    f"fds {fd_count(d.pid)}")
        result["cycles"] = cycle
        result["seconds"] = round(time.time() - start, 1)
        result["ms_per_cycle"] = round(1000 * (time.time() - start) / max(cycle, 1), 1)

        # Wind down: close the last session, let lwIP finish its closes.
        ctl(d, "close", sid)
        peer.close_connections()
        wait_for(lambda: not [s for s in d.sessions() if s["protocol"] == "tcp"], timeout=10,
                 message="no sessions left")
        wait_for(lambda: d.stats()["lwip"]["tcp_active"] <= baseline["tcp_active"], timeout=10,
                 message="tcp_active back at baseline")
        end = d.stats()
        result["lwip_baseline"] = baseline
        result["lwip_end"] = end["lwip"]
        assert end["sessions"] == 0, f"{end['sessions']} sessions left"
        assert end["lwip"]["tcp_listen"] == baseline["tcp_listen"]
        assert end["lwip"]["udp"] == baseline["udp"]
        assert end["lwip"]["tcp_bound"] == baseline["tcp_bound"]
        rss_end = d.rss_kib()
        result["rss_baseline_kib"] = rss_baseline
        result["rss_end_kib"] = rss_end
        if rss_baseline:
            assert rss_end - rss_baseline < 8192, f"RSS grew from {rss_baseline} to {rss_end} KiB"
        if fds_baseline:
            # The coapctl calls of the wind-down are gone by now, or nearly.
            wait_for(lambda: fd_count(d.pid) <= fds_baseline, timeout=10,
                     message=f"coapd's fds back at {fds_baseline} (now {fd_count(d.pid)})")
        result["fds_baseline"] = fds_baseline
        result["fds_end"] = fd_count(d.pid)

        time.sleep(0.3)
        stream.close()
        if order.error:
            raise order.error
        unfinished = [c.sid for c in order.checkers.values() if c.state != "end"]
        assert not unfinished, f"sessions without a final event: {unfinished}"
        result["sessions"] = order.sessions
        result["events"] = stream.count
        assert not peer.errors, peer.errors[:5]
        rc = d.stop()
        d = None
        assert rc == 0, f"coapd exit code {rc}"
        result["ok"] = True
        return result
    finally:
        if peer:
            peer.stop = True
            peer.close_connections()
            peer.unlisten()
        if stream and stream.proc.poll() is None:
            stream.close()
        if d is not None:
            log(d.read_log()[-4000:])
            if d.proc.poll() is None:
                d.stop()
        ns.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    how = ap.add_mutually_exclusive_group(required=True)
    how.add_argument("--duration", type=float, help="seconds of cycling")
    how.add_argument("--cycles", type=int, help="exactly this many cycles")
    ap.add_argument("--min-cycles", type=int, default=0, help="with --duration: at least this many")
    ap.add_argument("--cycle-ms", type=float, default=300,
                    help="length of a cycle's pauses and coapd's timings (default 300)")
    ap.add_argument("--json", action="store_true", help="print the result as JSON")
    args = ap.parse_args()
    if args.cycles is not None and args.cycles < 1 or args.cycle_ms <= 0:
        ap.error("--cycles and --cycle-ms must be positive")
    try:
        result = run(args.duration, args.min_cycles, args.cycles, args.cycle_ms,
                     log=lambda m: print(m, file=sys.stderr, flush=True))
    except AssertionError as e:
        print(f"soak: FAILED: {e}", file=sys.stderr)
        return 1
    print(json.dumps(result) if args.json else
          f"soak: PASS: {result['cycles']} cycles in {result['seconds']} s "
          f"({result['ms_per_cycle']} ms/cycle), "
          f"{result['sessions']} sessions, {result['events']} events in order; "
          f"pcbs {result['lwip_end']} (baseline {result['lwip_baseline']}); "
          f"fds {result['fds_baseline']} -> {result['fds_end']}; "
          f"RSS {result['rss_baseline_kib']} -> {result['rss_end_kib']} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
