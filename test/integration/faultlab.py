"""Fault-injection helpers for test_faults.py: a coapd under test with the
checks every fault scenario ends with, CoAP over UDP on kernel sockets with
retransmission, a UDP proxy that duplicates or reorders, hand-made Ethernet
frames written on the TAP's kernel side (AF_PACKET), and the documented
event order of every session.

Everything runs inside the test's own namespace (netlab.Netns); only
processes started here are stopped, by PID.
"""

import contextlib
import errno
import json
import os
import random
import select
import socket
import struct
import threading
import time

import coaptcp as ct
from netlab import Coapd, wait_for

SERVER = ("192.0.2.2", 5683)
COAPD_MAC = "02:00:00:c0:a9:02"

# --- CoAP over UDP (RFC 7252) ----------------------------------------------------------

CON, NON, ACK, RST = 0, 1, 2, 3
OBSERVE, URI_PATH, CONTENT_FORMAT, BLOCK2, BLOCK1, SIZE2, SIZE1 = 6, 11, 12, 23, 27, 28, 60


def udp_message(mtype, code, mid, token=b"", options=(), payload=b""):
    head = bytes([0x40 | (mtype << 4) | len(token), code, (mid >> 8) & 0xFF, mid & 0xFF])
    return head + token + ct.encode_options(options) + ((b"\xff" + payload) if payload else b"")


def udp_request(method, path, mid, token, payload=b"", extra=(), mtype=CON):
    opts = [(URI_PATH, seg) for seg in path.strip("/").split("/") if seg] + list(extra)
    return udp_message(mtype, method, mid, token, opts, payload)


class UdpMsg:
    def __init__(self, data):
        if len(data) < 4 or data[0] >> 6 != 1:
            raise ValueError(f"not a CoAP message: {data[:8].hex()}")
        self.type = (data[0] >> 4) & 3
        tkl = data[0] & 15
        self.code = data[1]
        self.mid = struct.unpack("!H", data[2:4])[0]
        self.token = data[4:4 + tkl]
        self.options, self.payload = ct.parse_options(data[4 + tkl:])

    def option(self, number):
        for n, v in self.options:
            if n == number:
                return v
        return None

    def uint(self, number):
        v = self.option(number)
        return None if v is None else int.from_bytes(v, "big")

    def __repr__(self):
        return (f"UdpMsg({'CON NON ACK RST'.split()[self.type]} {ct.code_str(self.code)} "
                f"mid={self.mid} tok={self.token.hex()} {len(self.payload)}B)")


def block_value(num, more, szx):
    return (num << 4) | (8 if more else 0) | szx


def block_fields(value):
    """(num, more, size) of a Block1/Block2 option value (bytes or None)."""
    v = int.from_bytes(value or b"", "big")
    return v >> 4, bool(v & 8), 16 << (v & 7)


class UdpExchanges:
    """Runs many CON exchanges at once on one kernel socket, retransmitting
    like an RFC 7252 client (ack_timeout doubling, capped at max_wait). A
    request is (token, bytes-builder taking the MID). Responses are matched by
    token; a separate CON response is acknowledged."""

    def __init__(self, sock, server=SERVER, ack_timeout=0.1, max_wait=0.8, max_retransmit=20):
        self.sock = sock
        self.server = server
        self.ack_timeout = ack_timeout
        self.max_wait = max_wait
        self.max_retransmit = max_retransmit
        self.mid = random.randrange(0x10000)
        self.sent = 0
        self.retransmissions = 0
        self.extra_responses = 0  # responses for an exchange already complete
        self.completed = set()  # tokens of every exchange complete, in any run

    def next_mid(self):
        self.mid = (self.mid + 1) & 0xFFFF
        return self.mid

    def run(self, requests, window=32, timeout=60, pace=0.0):
        """Returns {token: UdpMsg}; raises AssertionError when an exchange
        ran out of retransmissions or time. With pace, a new exchange starts
        at most every pace seconds."""
        pending = list(requests)
        pending.reverse()
        inflight = {}  # token -> [wire, attempts, deadline, wait]
        done = {}
        failed = []
        self.sock.setblocking(False)
        end = time.time() + timeout
        next_start = 0.0
        while (pending or inflight) and time.time() < end:
            while pending and len(inflight) < window and time.time() >= next_start:
                next_start = time.time() + pace
                token, build = pending.pop()
                wire = build(self.next_mid())
                self._send(wire)
                inflight[token] = [wire, 0, time.time() + self.ack_timeout, self.ack_timeout]
            now = time.time()
            for token, x in list(inflight.items()):
                if x[2] <= now:
                    if x[1] >= self.max_retransmit:
                        failed.append(token)
                        del inflight[token]
                        continue
                    x[1] += 1
                    x[3] = min(x[3] * 2, self.max_wait)
                    x[2] = now + x[3]
                    self.retransmissions += 1
                    self._send(x[0])
            wake = min([x[2] for x in inflight.values()], default=now + 0.05)
            if pending and len(inflight) < window:
                wake = min(wake, next_start)
            wait = max(0.0, min(wake - time.time(), 0.05))
            ready, _, _ = select.select([self.sock], [], [], wait)
            if ready:
                self._receive(inflight, done)
        assert not failed, f"{len(failed)} exchanges got no answer in {self.max_retransmit} tries"
        assert not inflight and not pending, (
            f"{len(inflight) + len(pending)} exchanges unfinished after {timeout}s")
        return done

    def drain(self, until, timeout=5):
        """Counts late copies of responses until there are `until` of them
        (bounded wait; unknown datagrams are ignored)."""
        self.sock.setblocking(False)
        end = time.time() + timeout
        while self.extra_responses < until and time.time() < end:
            if select.select([self.sock], [], [], 0.05)[0]:
                self._receive({}, {})
        return self.extra_responses

    def _send(self, wire):
        self.sent += 1
        try:
            self.sock.sendto(wire, self.server)
        except OSError as e:  # dropped by nftables (EPERM), no route (link down): lost
            if e.errno not in (errno.EPERM, errno.ENETUNREACH, errno.EHOSTUNREACH):
                raise

    def _receive(self, inflight, done):
        while True:
            try:
                data, addr = self.sock.recvfrom(65536)
            except BlockingIOError:
                return
            m = UdpMsg(data)
            if m.type == CON:
                with contextlib.suppress(OSError):
                    self.sock.sendto(udp_message(ACK, 0, m.mid), addr)
            if m.code == 0:
                continue  # an empty ACK: the response comes separately
            if m.token in inflight:
                del inflight[m.token]
                done[m.token] = m
                self.completed.add(m.token)
            elif m.token in self.completed:
                self.extra_responses += 1


def udp_get_time(ns, tries=5):
    """A fresh GET /time over UDP from a new socket: the payload, or fails."""
    s = ns.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        token = os.urandom(4)
        mid = random.randrange(0x10000)
        for _ in range(tries):
            s.sendto(udp_request(ct.GET, "/time", mid, token), SERVER)
            s.settimeout(1.0)
            try:
                while True:
                    m = UdpMsg(s.recv(2048))
                    if m.token == token:
                        assert m.code == ct.code(2, 5), m
                        return m.payload
            except socket.timeout:
                continue
        raise AssertionError("GET /time over UDP got no answer")
    finally:
        s.close()


def tcp_peer(ns, addr=SERVER, rcvbuf=None, timeout=10, source=None):
    family = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
    s = ns.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    if source:
        s.bind((source, 0))
    return ct.Peer(s, addr, timeout=timeout)


def tcp_get_time(ns):
    """A fresh GET /time over TCP on a new connection, closed with FIN."""
    p = tcp_peer(ns)
    try:
        p.handshake()
        p.send(ct.request(ct.GET, "/time", b"\x71"))
        r = p.expect(ct.code(2, 5))
        assert r.payload.endswith(b"Z"), r.payload
        return r.payload
    finally:
        p.close()


# --- the documented event order of every session ---------------------------------------

class OrderError(AssertionError):
    pass


class Unfinished(AssertionError):
    """Sessions whose last event has not come (yet)."""


class SessionOrder:
    """README "Session events": accepted TCP, UDP peer, outgoing (with
    reconnects) and rejected sessions. bad_packet may come at any point of a
    session's life."""

    def __init__(self, sid):
        self.sid = sid
        self.state = "start"
        self.attempt = 0
        self.history = []

    def fail(self, ev):
        raise OrderError(f"session {self.sid}: unexpected {ev['event']} "
                         f"({ev.get('reason', '')}) in state {self.state}; "
                         f"history {self.history[-12:]}")

    def feed(self, ev):
        name = ev["event"]
        self.history.append(name)
        s = self.state
        if name == "bad_packet" and s != "end":
            return
        if name in ("tcp_closed", "tcp_failed"):
            # A close asked for (coapctl close) is never a failure.
            self.by_request = ev.get("reason") == "closed by request"
        if name == "session_failed" and getattr(self, "by_request", False):
            self.fail(ev)
        nxt = None
        if s == "start":
            nxt = {"server_session_new": "new", "session_rejected": "end",
                   "tcp_connected": "out_tcp", "tcp_failed": "out_failed"}.get(name)
            if name == "session_closed" and ev.get("reason") == "closed by request":
                nxt = "end"
        elif s == "new":  # accepted TCP or a UDP peer
            nxt = {"tcp_connected": "in_tcp", "server_session_del": "end"}.get(name)
        elif s == "in_tcp":
            nxt = {"session_connected": "in_up", "tcp_closed": "in_down",
                   "tcp_failed": "in_down"}.get(name)
        elif s == "in_up":
            nxt = {"role_changed": "in_up2", "tcp_closed": "in_down",
                   "tcp_failed": "in_down"}.get(name)
        elif s == "in_up2":
            nxt = {"tcp_closed": "in_down", "tcp_failed": "in_down"}.get(name)
        elif s == "in_down":
            nxt = {"session_closed": "in_gone", "session_failed": "in_gone"}.get(name)
        elif s == "in_gone":
            nxt = {"server_session_del": "end"}.get(name)
        # Outgoing sessions (soak.SessionChecker, with call-home optional).
        elif s == "out_tcp":
            if name == "session_connected":
                nxt = "out_up"
            elif name in ("tcp_closed", "tcp_failed"):
                by_request = ev.get("reason") == "closed by request"
                nxt = "out_failed" if self.attempt and not by_request else "out_down"
        elif s == "out_up":
            if name == "server_session_connected":
                nxt = "out_up2"
            elif name == "reconnect_success" and ev.get("attempt") == self.attempt:
                self.attempt = 0
                nxt = "out_est"
            elif name in ("tcp_closed", "tcp_failed") and not self.attempt:
                nxt = "out_down"
        elif s == "out_up2":
            if name == "reconnect_success" and ev.get("attempt") == self.attempt:
                self.attempt = 0
                nxt = "out_est"
            elif name in ("tcp_closed", "tcp_failed") and not self.attempt:
                nxt = "out_down"
        elif s == "out_est":
            nxt = {"tcp_closed": "out_down", "tcp_failed": "out_down"}.get(name)
        elif s == "out_failed":
            if name == "session_failed" and self.attempt == 0:
                nxt = "out_wait"
            elif name == "reconnect_failed" and ev.get("attempt") == self.attempt > 0:
                nxt = "out_wait"
        elif s == "out_down":
            if name in ("session_closed", "session_failed"):
                self.attempt = 0
                nxt = "end" if ev.get("reason") == "closed by request" else "out_wait"
        elif s == "out_wait":
            if name == "reconnecting" and ev.get("attempt") == self.attempt + 1:
                self.attempt += 1
                nxt = "out_tcp_try"
            elif name == "session_closed" and ev.get("reason") == "closed by request":
                nxt = "end"
            elif name == "reconnect_no_more":
                nxt = "end"
            elif name in ("session_closed", "session_failed"):
                nxt = "end"  # a session that does not reconnect ends here
        elif s == "out_tcp_try":
            if name == "tcp_connected":
                nxt = "out_tcp"
            elif name == "tcp_failed":
                nxt = "out_failed"
            elif name == "session_closed" and ev.get("reason") == "closed by request":
                nxt = "end"
        if nxt is None:
            self.fail(ev)
        self.state = nxt


def check_event_order(events, finished=True, kept=()):
    """Feeds every event to its session's order; with finished, every
    session but those in kept (still open by design) must have reached its
    last event. Returns {sid: SessionOrder}."""
    sessions = {}
    for ev in events:
        if ev["session_id"] == 0:
            assert ev["event"] == "bad_packet", ev  # input from no session
            continue
        sessions.setdefault(ev["session_id"], SessionOrder(ev["session_id"])).feed(ev)
    if finished:
        open_ = {sid: o.history for sid, o in sessions.items()
                 if o.state not in ("end", "out_wait") and sid not in kept}
        if open_:
            raise Unfinished(f"sessions without their last event: {dict(list(open_.items())[:5])}")
    return sessions


# --- coapd under test ------------------------------------------------------------------

def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


class Follower:
    """The session event stream read straight off the control socket
    (`events` with follow): a thread only receives bytes, lines are parsed
    when asked for, so it keeps up with 100,000 sessions' worth of events
    (coapd disconnects a follower that lets 4 MiB pile up)."""

    def __init__(self, sock_path):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.connect(sock_path)
        self.sock.sendall(b'{"v":1,"id":"follow","cmd":"events","follow":true}\n')
        self.lock = threading.Lock()
        self.buf = bytearray()
        self.eof = False
        self.parsed = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        # The answer (with the history) comes first; from then on every
        # event is streamed, none lost or repeated.
        wait_for(lambda: self.buf.find(b"\n") >= 0 or self.eof, timeout=10,
                 message="the answer to events --follow")
        assert not self.eof, "coapd closed the event stream at once"

    def _read(self):
        while True:
            try:
                chunk = self.sock.recv(1 << 20)
            except OSError:
                chunk = b""
            with self.lock:
                if not chunk:
                    self.eof = True
                    return
                self.buf += chunk

    @property
    def events(self):
        with self.lock:
            end = self.buf.rfind(b"\n") + 1
            lines, self.buf = bytes(self.buf[:end]), self.buf[end:]
            eof = self.eof
        for line in lines.splitlines():
            msg = json.loads(line)
            if "event" in msg:
                self.parsed.append(msg["event"])
            elif msg.get("id") == "follow":
                assert msg.get("ok"), msg
                self.parsed.extend(msg["result"]["events"])
        # coapd cuts off a follower that does not read; its events are lost.
        assert not eof or self.closing, "the event stream ended (did coapd drop it?)"
        return self.parsed

    closing = False

    def close(self):
        self.closing = True
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.thread.join(timeout=5)


class Lab:
    """A coapd with its event stream (Follower: the history keeps only 1000)
    and the baseline the scenario must return to. UDP peers are forgotten
    after 0.5 s of silence (unless the test says otherwise), so that
    "sessions 0 after the peers left" can be checked at once."""

    def __init__(self, ns, args=(), follow=True, **kw):
        self.ns = ns
        quick = [] if "--udp-session-timeout" in args else ["--udp-session-timeout", "0.5"]
        self.d = Coapd(ns, args=[*quick, "--mac", COAPD_MAC, *args], **kw)
        self.stream = Follower(self.d.sock) if follow else None
        self.lwip = self.d.stats()["lwip"]
        self.fds = fd_count(self.d.pid)
        self.rss = self.d.rss_kib()

    @property
    def events(self):
        assert self.stream, "no event stream"
        return list(self.stream.events)

    def names(self, sid):
        return [e["event"] for e in self.events if e["session_id"] == sid]

    def events_of(self, sid):
        return [e for e in self.events if e["session_id"] == sid]

    def wait_event(self, sid, name, timeout=10):
        return wait_for(lambda: name in self.names(sid), timeout=timeout,
                        message=f"{name} for session {sid} (so far {self.names(sid)})")

    def tcp_sessions(self):
        return [s for s in self.d.sessions() if s["protocol"] == "tcp"]

    def counters(self):
        return self.d.stats()["counters"]

    def serves(self):
        """coapd answers a fresh GET /time over UDP and over TCP."""
        assert udp_get_time(self.ns).endswith(b"Z")
        assert tcp_get_time(self.ns).endswith(b"Z")

    def live_sessions(self):
        """Sessions but the quiet UDP peers coapd keeps until EXCHANGE_LIFETIME
        after the last Message ID it sent them (RFC 7252 4.4: an ID is not
        used again within that time); they hold nothing and then expire."""
        n = self.d.stats()["sessions"]
        if n == 0:
            return []
        if n > 1500:  # still draining (a flood's peers): not worth listing yet
            return [n]
        return [s for s in self.d.sessions()
                if not (s["protocol"] == "udp" and s["observers"] == 0 and s["queued_bytes"] == 0
                        and s["state"] == "established")]

    def settle(self, timeout=15):
        """Every session gone, pcbs and fds back at the baseline."""
        try:
            wait_for(lambda: not self.live_sessions(), timeout=timeout,
                     message="no sessions left")
        except AssertionError as e:
            raise AssertionError(f"{e}; sessions: {self.d.sessions()[:4]}") from None
        wait_for(lambda: self.d.stats()["lwip"]["tcp_active"] <= self.lwip["tcp_active"],
                 timeout=timeout, message="tcp_active back at the baseline")
        lwip = self.d.stats()["lwip"]
        for k in ("tcp_listen", "tcp_bound", "udp"):
            assert lwip[k] == self.lwip[k], f"lwip {k}: {self.lwip[k]} -> {lwip[k]}"
        wait_for(lambda: fd_count(self.d.pid) <= self.fds, timeout=timeout,
                 message=f"coapd's fds back at {self.fds}")

    def finish(self, timeout=15, order=True):
        """The end of every scenario: coapd still serves, leaks nothing,
        every session's events are in the documented order, clean exit."""
        self.serves()
        self.settle(timeout)
        # Quiet UDP peers kept for their live Message IDs end later.
        kept = ({s["id"] for s in self.d.sessions() if s["protocol"] == "udp"}
                if self.d.stats()["sessions"] else set())
        if self.stream and order:
            # The last events may still be on their way down the stream.
            deadline = time.time() + 5
            while True:
                try:
                    check_event_order(self.events, kept=kept)
                    break
                except Unfinished:
                    if time.time() > deadline:
                        raise
                    time.sleep(0.05)
        rc = self.close()
        assert rc == 0, f"coapd exit code {rc}\n{self.d.read_log()[-3000:]}"

    def close(self):
        rc = None
        if self.d.proc.poll() is None:
            rc = self.d.stop()
        if self.stream and not self.stream.closing:
            self.stream.close()
        return rc


# --- frames on the wire (AF_PACKET on the TAP's kernel side) ---------------------------

def mac_bytes(mac):
    return bytes(int(x, 16) for x in mac.split(":"))


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def eth(dst, src, ethertype, payload):
    return mac_bytes(dst) + mac_bytes(src) + struct.pack("!H", ethertype) + payload


def ipv4(src, dst, proto, payload, ttl=64, ident=0, frag=0, options=b"", total=None, ihl=None):
    ihl = ihl if ihl is not None else 5 + len(options) // 4
    total = total if total is not None else 20 + len(options) + len(payload)
    head = struct.pack("!BBHHHBBH4s4s", 0x40 | (ihl & 15), 0, total & 0xFFFF, ident, frag, ttl,
                       proto, 0, socket.inet_aton(src), socket.inet_aton(dst)) + options
    head = head[:10] + struct.pack("!H", checksum(head)) + head[12:]
    return head + payload


def ipv6(src, dst, nh, payload, hlim=64, plen=None):
    plen = plen if plen is not None else len(payload)
    return struct.pack("!IHBB16s16s", 6 << 28, plen & 0xFFFF, nh, hlim,
                       socket.inet_pton(socket.AF_INET6, src),
                       socket.inet_pton(socket.AF_INET6, dst)) + payload


def _pseudo(src, dst, proto, length):
    if ":" in src:
        return (socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst) +
                struct.pack("!IxxxB", length, proto))
    return socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!xBH", proto, length)


def udp(src, dst, sport, dport, payload, length=None):
    length = length if length is not None else 8 + len(payload)
    head = struct.pack("!HHHH", sport, dport, length & 0xFFFF, 0)
    c = checksum(_pseudo(src, dst, 17, 8 + len(payload)) + head + payload) or 0xFFFF
    return head[:6] + struct.pack("!H", c) + payload


def tcp(src, dst, sport, dport, seq, ack, flags, payload=b"", window=65535, options=b"", doff=None):
    doff = doff if doff is not None else 5 + len(options) // 4
    head = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                       (doff & 15) << 4, flags, window, 0, 0) + options
    c = checksum(_pseudo(src, dst, 6, len(head) + len(payload)) + head + payload)
    return head[:16] + struct.pack("!H", c) + head[18:] + payload


def icmpv6(src, dst, mtype, code, body):
    msg = struct.pack("!BBH", mtype, code, 0) + body
    c = checksum(_pseudo(src, dst, 58, len(msg)) + msg)
    return msg[:2] + struct.pack("!H", c) + msg[4:]


def arp(op, sha, spa, tha, tpa):
    return struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, op, mac_bytes(sha), socket.inet_aton(spa),
                       mac_bytes(tha), socket.inet_aton(tpa))


SYN, ACK_FLAG, RST_FLAG, FIN, PSH = 0x02, 0x10, 0x04, 0x01, 0x08


class Wire:
    """Raw Ethernet frames written on the kernel side of the TAP: coapd reads
    each one as if it had arrived on its link."""

    def __init__(self, ns, ifname="coap0"):
        # The TAP's queue towards coapd holds txqueuelen frames; beyond it the
        # kernel drops silently. Room for a whole batch of paced().
        ns.sh(f"ip link set {ifname} txqueuelen 20000")
        self.sock = ns.socket(socket.AF_PACKET, socket.SOCK_RAW)
        self.sock.bind((ifname, 0))
        self.mac = json.loads(ns.sh(f"ip -j link show {ifname}").stdout)[0]["address"]
        self.sent = 0
        self.refused = 0

    def send(self, frame):
        for _ in range(200):
            try:
                self.sock.send(frame)
                self.sent += 1
                return True
            except BlockingIOError:
                time.sleep(0.001)
            except OSError as e:
                if e.errno == 105:  # ENOBUFS: the TAP's queue is full; coapd catches up
                    time.sleep(0.001)
                    continue
                self.refused += 1  # e.g. EMSGSIZE above the MTU
                return False
        return False

    def close(self):
        self.sock.close()


def paced(lab, wire, frames, batch=2000, timeout=30, counter="rx_frames"):
    """Writes frames in batches, each time waiting until coapd has taken in
    about as many as were written: the TAP's queue holds only txqueuelen
    frames, and the engine's mailbox 8 MiB. counter says where to look:
    rx_frames (read off the TAP), or datagrams_in (handled by the engine:
    a flood of UDP then never waits long in the mailbox, nor does a stats
    query behind it)."""
    start = lab.counters()[counter]
    sent = 0
    for i in range(0, len(frames), batch):
        for f in frames[i:i + batch]:
            sent += wire.send(f)
        target = start + sent - batch // 2
        wait_for(lambda: lab.counters()[counter] >= target, timeout=timeout,
                 message=f"coapd taking in the frames ({sent} written, {counter})")
    return sent


# --- a UDP proxy that duplicates or reorders -------------------------------------------

class UdpProxy:
    """Listens at `front` (inside the namespace); each client address gets a
    socket of its own towards `upstream`. Every datagram, either way, is
    passed through `shape`: duplicated (copies=2) or held back and released
    shuffled in groups (reorder=N, or after hold seconds)."""

    def __init__(self, ns, front, upstream, copies=1, reorder=0, hold=0.02, seed=1):
        self.ns = ns
        self.upstream = upstream
        self.copies = copies
        self.reorder = reorder
        self.hold = hold
        self.rng = random.Random(seed)
        self.front = ns.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.front.bind(front)
        self.front.setblocking(False)
        self.by_client = {}  # client addr -> upstream socket
        self.client_of = {}  # upstream socket -> client addr
        self.queue = []  # (sock, data, addr) held back for reordering
        self.held_since = None
        self.forwarded = 0
        self.moved = 0  # datagrams sent in another place than they came
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _out(self, sock, data, addr):
        if self.reorder:
            if not self.queue:
                self.held_since = time.time()
            self.queue.append((sock, data, addr))
            if len(self.queue) >= self.reorder:
                self._flush()
            return
        for _ in range(self.copies):
            sock.sendto(data, addr)
            self.forwarded += 1

    def _flush(self):
        q, self.queue = self.queue, []
        before = list(q)
        self.rng.shuffle(q)
        self.moved += sum(a is not b for a, b in zip(before, q))
        for sock, data, addr in q:
            for _ in range(self.copies):
                sock.sendto(data, addr)
                self.forwarded += 1

    def _run(self):
        while not self.stop:
            socks = [self.front, *self.client_of]
            ready, _, _ = select.select(socks, [], [], 0.005)
            for s in ready:
                with contextlib.suppress(BlockingIOError, ConnectionRefusedError):
                    data, addr = s.recvfrom(65536)
                    if s is self.front:
                        up = self.by_client.get(addr)
                        if up is None:
                            up = self.ns.socket(socket.AF_INET, socket.SOCK_DGRAM)
                            up.setblocking(False)
                            self.by_client[addr] = up
                            self.client_of[up] = addr
                        self._out(up, data, self.upstream)
                    else:
                        self._out(self.front, data, self.client_of[s])
            if self.queue and time.time() - self.held_since >= self.hold:
                self._flush()

    def close(self):
        self.stop = True
        self.thread.join(timeout=5)
        for s in [self.front, *self.client_of]:
            s.close()


# --- nftables in the namespace ---------------------------------------------------------

class Nft:
    """One nftables table of the test's own, removed by close()."""

    def __init__(self, ns, name="faults"):
        self.ns = ns
        self.name = name
        ns.sh(f"nft add table inet {name} && "
              f"nft add chain inet {name} input '{{ type filter hook input priority 0; }}' && "
              f"nft add chain inet {name} output '{{ type filter hook output priority 0; }}'")

    def rule(self, chain, rule):
        r = self.ns.exec(["nft", f"add rule inet {self.name} {chain} {rule}"])
        assert r.returncode == 0, f"nft {rule}: {r.stderr.decode()}"

    def counter(self, chain, rule):
        """Adds `rule counter` and returns a function reading its packet count."""
        self.rule(chain, f"{rule} counter")
        rules = json.loads(self.ns.sh(f"nft -j list chain inet {self.name} {chain}").stdout)
        handle = [r["rule"]["handle"] for r in rules["nftables"] if "rule" in r][-1]

        def packets():
            out = json.loads(self.ns.sh(f"nft -j list chain inet {self.name} {chain}").stdout)
            for r in out["nftables"]:
                if "rule" in r and r["rule"]["handle"] == handle:
                    for e in r["rule"]["expr"]:
                        if "counter" in e:
                            return e["counter"]["packets"]
            raise AssertionError("counter rule gone")
        return packets

    def close(self):
        self.ns.sh(f"nft delete table inet {self.name}", check=False)


# --- malformed frames ------------------------------------------------------------------

IP4_ME, IP4_COAPD = "192.0.2.1", "192.0.2.2"
IP6_ME, IP6_COAPD = "fd00:c0a9::1", "fd00:c0a9::2"


def garbage_frames(rng, src_mac, dst_mac=COAPD_MAC):
    """Frames that no correct stack sends, by kind: {kind: [frame, ...]}.
    Nothing here claims an address someone else uses (ARP spoofing of the
    kernel side would be a different test)."""
    e4 = lambda payload: eth(dst_mac, src_mac, 0x0800, payload)  # noqa: E731
    e6 = lambda payload: eth(dst_mac, src_mac, 0x86DD, payload)  # noqa: E731
    coap = udp_request(1, "/time", 1, b"\x01")
    u4 = udp(IP4_ME, IP4_COAPD, 40000, 5683, coap)
    u6 = udp(IP6_ME, IP6_COAPD, 40000, 5683, coap)
    t4 = tcp(IP4_ME, IP4_COAPD, 40001, 5683, 1000, 0, SYN)
    kinds = {}
    kinds["random bytes"] = [bytes(rng.randrange(256) for _ in range(rng.randrange(14, 1515)))
                             for _ in range(400)]
    kinds["random after our header"] = [
        eth(dst_mac, src_mac, rng.choice([0x0800, 0x86DD, 0x0806, 0x8100, 0x88A8]),
            bytes(rng.randrange(256) for _ in range(rng.randrange(0, 1500)))) for _ in range(600)]
    kinds["unknown ethertypes"] = [eth(dst_mac, src_mac, t, u4) for t in
                                   (0x0000, 0x0001, 0x05DC, 0x0600, 0x88B5, 0x88CC, 0x9000, 0xFFFF)]
    kinds["broadcast and multicast destinations"] = [
        eth(d, src_mac, 0x0800, ipv4(IP4_ME, dst, 17, udp(IP4_ME, dst, 40000, 5683, coap)))
        for d in ("ff:ff:ff:ff:ff:ff", "01:00:5e:00:00:fd")
        for dst in ("255.255.255.255", "192.0.2.255", "224.0.0.253", "0.0.0.0")]
    kinds["vlan tagged"] = [eth(dst_mac, src_mac, 0x8100, struct.pack("!HH", v, 0x0800) + ipv4(
        IP4_ME, IP4_COAPD, 17, u4)) for v in (0, 1, 4095)]
    ip4 = []
    for cut in range(0, 40):  # truncated IPv4 + UDP/TCP headers
        ip4.append(e4(ipv4(IP4_ME, IP4_COAPD, 17, u4)[:cut]))
        ip4.append(e4(ipv4(IP4_ME, IP4_COAPD, 6, t4)[:cut]))
    for ihl in (0, 1, 4, 6, 15):
        ip4.append(e4(ipv4(IP4_ME, IP4_COAPD, 17, u4, ihl=ihl)))
    for total in (0, 19, 20, 27, 28, 29, 1500, 65535):
        ip4.append(e4(ipv4(IP4_ME, IP4_COAPD, 17, u4, total=total)))
        ip4.append(e4(ipv4(IP4_ME, IP4_COAPD, 6, t4, total=total)))
    ip4.append(e4(b"\x60" + ipv4(IP4_ME, IP4_COAPD, 17, u4)[1:]))  # version 6 in IPv4
    bad = bytearray(ipv4(IP4_ME, IP4_COAPD, 17, u4))
    bad[10] ^= 0xFF  # header checksum
    ip4.append(e4(bytes(bad)))
    ip4.append(e4(ipv4(IP4_ME, IP4_COAPD, 17, u4, options=b"\x01" * 40)))  # 40 bytes of NOP
    ip4.append(e4(ipv4(IP4_ME, IP4_COAPD, 17, u4, options=b"\x07\x00\x00\x00" * 10)))  # len 0
    ip4.append(e4(ipv4(IP4_ME, IP4_COAPD, 17, u4, options=b"\x44\xff" + b"\x00" * 38)))
    ip4.append(e4(ipv4(IP4_ME, IP4_COAPD, 17, u4, ttl=0)))
    for proto in (0, 2, 4, 41, 47, 50, 58, 132, 136, 255):  # IGMP, IP-in-IP, ... UDP-Lite
        ip4.append(e4(ipv4(IP4_ME, IP4_COAPD, proto, bytes(rng.randrange(256) for _ in range(40)))))
    ip4.append(e4(ipv4("255.255.255.255", IP4_COAPD, 17, u4)))  # broadcast source
    ip4.append(e4(ipv4("224.0.0.1", IP4_COAPD, 17, u4)))       # multicast source
    ip4.append(e4(ipv4(IP4_COAPD, IP4_COAPD, 17, u4)))         # its own address as source
    kinds["IPv4 headers"] = ip4
    frag = []
    for ident in range(1, 40):  # reassembly: incomplete, overlapping, tiny, beyond 64 KiB
        payload = bytes(rng.randrange(256) for _ in range(rng.choice([8, 16, 256, 1400])))
        off = rng.choice([0, 1, 8, 100, 8000, 8189])
        frag.append(e4(ipv4(IP4_ME, IP4_COAPD, 17, payload, ident=ident,
                            frag=(0x2000 if rng.random() < 0.7 else 0) | off)))
        frag.append(e4(ipv4(IP4_ME, IP4_COAPD, 17, payload, ident=ident, frag=0x2000 | off)))
    for i in range(200):  # many distinct datagrams, first fragments only
        frag.append(e4(ipv4(IP4_ME, IP4_COAPD, 17, u4 + b"\0" * 8, ident=1000 + i, frag=0x2000)))
    kinds["IPv4 fragments"] = frag
    udps = []
    for length in (0, 1, 7, 8, 9, len(u4) - 1, len(u4) + 1, 1500, 65535):
        udps.append(e4(ipv4(IP4_ME, IP4_COAPD, 17, udp(IP4_ME, IP4_COAPD, 40000, 5683, coap,
                                                          length=length))))
    wrong = bytearray(u4)
    wrong[6] ^= 0x55
    udps.append(e4(ipv4(IP4_ME, IP4_COAPD, 17, bytes(wrong))))
    udps.append(e4(ipv4(IP4_ME, IP4_COAPD, 17, udp(IP4_ME, IP4_COAPD, 0, 5683, coap))))
    udps.append(e4(ipv4(IP4_ME, IP4_COAPD, 17, udp(IP4_ME, IP4_COAPD, 40000, 0, coap))))
    for n in range(0, 12):  # truncated CoAP
        udps.append(e4(ipv4(IP4_ME, IP4_COAPD, 17, udp(IP4_ME, IP4_COAPD, 40000, 5683, coap[:n]))))
    kinds["UDP headers"] = udps
    tcps = []
    for flags in (0, FIN, SYN | FIN, SYN | RST_FLAG, 0xFF, PSH, ACK_FLAG, RST_FLAG,
                  FIN | PSH | 0x20):
        tcps.append(e4(ipv4(IP4_ME, IP4_COAPD, 6, tcp(IP4_ME, IP4_COAPD, 40002, 5683, 77, 0, flags,
                                                        b"data"))))
    for doff in (0, 1, 4, 6, 15):
        tcps.append(e4(ipv4(IP4_ME, IP4_COAPD, 6, tcp(IP4_ME, IP4_COAPD, 40003, 5683, 77, 0, SYN,
                                                        doff=doff))))
    for opts in (b"\x02\x00\x00\x00", b"\x02\x04\x00\x00", b"\x03\x03\xff\x00", b"\x08\x01\x00\x00",
                 b"\x04\x00\x00\x00", b"\xfe\xff" + b"\x00" * 38, b"\x01" * 40, b"\x02\x03\x05"):
        opts = opts + b"\0" * (-len(opts) % 4)
        tcps.append(e4(ipv4(IP4_ME, IP4_COAPD, 6, tcp(IP4_ME, IP4_COAPD, 40004, 5683, 77, 0, SYN,
                                                        options=opts))))
    # A SYN to a closed port.
    tcps.append(e4(ipv4(IP4_ME, IP4_COAPD, 6, tcp(IP4_ME, IP4_COAPD, 40005, 9, 1, 0, SYN))))
    kinds["TCP headers"] = tcps
    ip6 = []
    for cut in range(0, 60, 3):
        ip6.append(e6(ipv6(IP6_ME, IP6_COAPD, 17, u6)[:cut]))
    for plen in (0, 1, 7, len(u6) + 1, 1500, 65535):
        ip6.append(e6(ipv6(IP6_ME, IP6_COAPD, 17, u6, plen=plen)))
    hop = b"\x11\x00" + b"\x01\x04\x00\x00\x00\x00"  # hop-by-hop, PadN, then UDP
    ip6.append(e6(ipv6(IP6_ME, IP6_COAPD, 0, hop + u6)))
    ip6.append(e6(ipv6(IP6_ME, IP6_COAPD, 0, b"\x11\xff" + b"\x00" * 6 + u6)))  # beyond the packet
    ip6.append(e6(ipv6(IP6_ME, IP6_COAPD, 0, b"\x00\x00" + b"\x01\x04\x00\x00\x00\x00" * 1 +
                       b"\x00\x00\x01\x04\x00\x00\x00\x00" * 100 + u6[:8])))  # a long chain
    ip6.append(e6(ipv6(IP6_ME, IP6_COAPD, 0, b"\x11\x00" + b"\xc2\x04\x00\x00\x00\x00" + u6)))
    ip6.append(e6(ipv6(IP6_ME, IP6_COAPD, 43, b"\x11\x02\x00\x01\x00\x00\x00\x00" +
                       socket.inet_pton(socket.AF_INET6, IP6_COAPD) + u6)))  # routing type 0
    ip6.append(e6(ipv6(IP6_ME, IP6_COAPD, 59, b"nothing follows")))
    for ident in range(1, 30):  # fragment headers
        off = rng.choice([0, 1, 100, 8000, 8191])
        more = rng.random() < 0.7
        ip6.append(e6(ipv6(IP6_ME, IP6_COAPD, 44, struct.pack("!BBHI", 17, 0, (off << 3) | more,
                                                               ident) + u6)))
    ip6.append(e6(ipv6(IP6_ME, IP6_COAPD, 44, struct.pack("!BBHI", 44, 0, 1, 9) +
                       struct.pack("!BBHI", 17, 0, 0, 9) + u6)))  # fragment of a fragment
    ip6.append(e6(ipv6("ff02::1", IP6_COAPD, 17, udp("ff02::1", IP6_COAPD, 40000, 5683, coap))))
    ip6.append(e6(ipv6("::", IP6_COAPD, 17, udp("::", IP6_COAPD, 40000, 5683, coap))))
    kinds["IPv6 headers"] = ip6
    icmp6 = []
    for mtype in (1, 2, 3, 4, 128, 129, 130, 131, 133, 134, 135, 136, 137, 143, 200):
        for body in (b"", b"\x00" * 4, bytes(rng.randrange(256) for _ in range(60))):
            icmp6.append(e6(ipv6(IP6_ME, IP6_COAPD, 58, icmpv6(IP6_ME, IP6_COAPD, mtype, 0, body),
                                 hlim=255)))
    target = socket.inet_pton(socket.AF_INET6, IP6_COAPD)
    # Neighbour solicitations with odd options (length 0, cut short, ...).
    for opt in (b"\x01\x00" + b"\x00" * 6, b"\x01\x01" + mac_bytes(src_mac), b"\x01\xff",
                b"\x05\x01\x00\x00\x00\x00\x05\xdc", b"\x03\x00"):
        body = b"\x00" * 4 + target + opt
        icmp6.append(e6(ipv6(IP6_ME, IP6_COAPD, 58, icmpv6(IP6_ME, IP6_COAPD, 135, 0, body),
                             hlim=255)))
    # Router advertisements: a prefix, a bad prefix, an MTU of 16, cut-short options.
    prefix = b"\x03\x04\x40\xc0" + b"\xff" * 8 + b"\x00" * 4 + socket.inet_pton(
        socket.AF_INET6, "2001:db8::")
    for opt in (prefix, b"\x03\x04\x81\xc0" + b"\x00" * 28, b"\x05\x01\x00\x00\x00\x00\x00\x10",
                b"\x03\x00", b"\x19\x03" + b"\x00" * 22):
        body = b"\x40\x00\x07\x08" + b"\x00" * 8 + opt
        icmp6.append(e6(ipv6("fe80::99", "ff02::1", 58, icmpv6("fe80::99", "ff02::1", 134, 0, body),
                             hlim=255)))
    kinds["ICMPv6 and NDP"] = icmp6
    arps = []
    good = arp(1, src_mac, "192.0.2.77", "00:00:00:00:00:00", IP4_COAPD)
    for cut in range(0, len(good)):
        arps.append(eth(dst_mac, src_mac, 0x0806, good[:cut]))
    for htype, ptype, hlen, plen, op in ((6, 0x0800, 6, 4, 1), (1, 0x86DD, 6, 4, 1),
                                         (1, 0x0800, 0, 4, 1), (1, 0x0800, 6, 16, 1),
                                         (1, 0x0800, 6, 4, 0), (1, 0x0800, 6, 4, 3),
                                         (1, 0x0800, 255, 255, 2)):
        head = struct.pack("!HHBBH", htype, ptype, hlen, plen, op)
        arps.append(eth(dst_mac, src_mac, 0x0806, head + good[8:]))
    arps.append(eth(dst_mac, src_mac, 0x0806, arp(1, "ff:ff:ff:ff:ff:ff", "192.0.2.78",
                                                  "00:00:00:00:00:00", IP4_COAPD)))
    arps.append(eth(dst_mac, src_mac, 0x0806, arp(1, "01:00:5e:00:00:01", "0.0.0.0",
                                                  "00:00:00:00:00:00", IP4_COAPD)))
    kinds["ARP"] = arps
    kinds.update(udp_lite_frames(src_mac, dst_mac))
    return kinds


def udp_lite_frames(src_mac, dst_mac=COAPD_MAC):
    """UDP-Lite whose checksum coverage (65535) is beyond the packet: lwIP
    2.1.3 asserts (and aborts) on it; coapd must refuse every one."""
    lite = struct.pack("!HHHH", 40000, 5683, 0xFFFF, 0) + b"x" * 12
    hop = b"\x88\x00" + b"\x01\x04\x00\x00\x00\x00"  # hop-by-hop, then UDP-Lite
    frag = struct.pack("!BBHI", 136, 0, 1, 99)  # first fragment of UDP-Lite
    return {"UDP-Lite": [
        eth(dst_mac, src_mac, 0x0800, ipv4(IP4_ME, IP4_COAPD, 136, lite)),
        eth(dst_mac, src_mac, 0x0800, ipv4(IP4_ME, IP4_COAPD, 136, lite, frag=0x2000, ident=5)),
        eth(dst_mac, src_mac, 0x86DD, ipv6(IP6_ME, IP6_COAPD, 136, lite)),
        eth(dst_mac, src_mac, 0x86DD, ipv6(IP6_ME, IP6_COAPD, 0, hop + lite)),
        eth(dst_mac, src_mac, 0x86DD, ipv6(IP6_ME, IP6_COAPD, 44, frag + lite)),
    ]}
