#!/usr/bin/env python3
"""The scale scenario of scripts/bench.sh (`--only scale`): one coapd holding
10,000 idle TCP sessions (each after a CSM exchange and one request), then
100,000 UDP peers (each after one request).

It measures, and prints with the goals (issue 12 item 5, issue 14):
  - coapd's RSS per idle TCP session and per UDP peer (goal: at most 4 KiB
    per idle TCP session; lwIP's own pcb is part of what is measured, so the
    figure is an upper bound of coapd's share);
  - how long a new client waits for its answer while they are held (p50,
    p99 over fresh connections / fresh sockets; goal: p99 within 10 ms);
  - UDP 1x32 and TCP 1x32 throughput (coap_load) without and with the 10,000
    idle sessions (goal: within 10%). The runs go A B A (without, with,
    without again: the idle sessions are opened once and released once) and
    the medians are compared.

Everything runs in a network namespace of its own (netlab.Netns), removed at
the end. Used by scripts/bench.sh; standalone:
  COAPD_BUILD_DIR=build-bench test/bench/scale.py --bin build-bench/bin [--json FILE]
"""

import argparse
import json
import os
import resource
import selectors
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
import coaptcp  # noqa: E402
from netlab import Coapd, Netns, wait_for  # noqa: E402

ADDR = "192.0.2.2"
PORT = 5683
# Source addresses on the kernel side of the TAP: 100,000 UDP peers need
# more than one address's ports.
SOURCES = ["192.0.2.1", "192.0.2.11", "192.0.2.12"]


def log(msg):
    print(f"scale: {msg}", file=sys.stderr, flush=True)


def udp_get(mid, token):
    # CON GET /time: ver 1, type 0, token length, code 0.01, message id.
    hdr = bytes([0x40 | len(token), 0x01, mid >> 8, mid & 0xFF]) + token
    return hdr + bytes([0xB4]) + b"time"


def coap_load(ns, binary, args, duration, warmup):
    argv = [binary, *args, "--target", f"{ADDR}:{PORT}", "--path", "/time",
            "--duration", str(duration), "--warmup", str(warmup), "--json"]
    r = ns.exec(["timeout", "-k", "5", str(int(duration + warmup + 30)), *argv], timeout=120)
    if r.returncode != 0:
        raise RuntimeError(f"coap_load {args} failed: {r.stderr.decode(errors='replace')}")
    return json.loads(r.stdout.decode().strip().splitlines()[-1])["req_per_s"]


class TcpHolder:
    """Opens n TCP sessions to coapd, each: CSM both ways and one GET
    answered; then keeps them open and idle."""

    def __init__(self, ns, n, batch=500):
        self.ns = ns
        self.socks = []
        t0 = time.time()
        while len(self.socks) < n:
            self._open_batch(min(batch, n - len(self.socks)))
        self.seconds = time.time() - t0

    def _open_batch(self, k):
        sel = selectors.DefaultSelector()
        pending = {}
        for i in range(k):
            s = self.ns.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            s.connect_ex((ADDR, PORT))
            token = (len(self.socks) + i).to_bytes(4, "big")
            pending[s] = [coaptcp.csm() + coaptcp.request(coaptcp.GET, "/time", token), b"",
                          False]
            sel.register(s, selectors.EVENT_WRITE | selectors.EVENT_READ)
        deadline = time.time() + 30
        while pending and time.time() < deadline:
            for key, events in sel.select(timeout=1):
                s = key.fileobj
                state = pending[s]
                if events & selectors.EVENT_WRITE and state[0]:
                    try:
                        state[0] = state[0][s.send(state[0]):]
                    except BlockingIOError:
                        pass
                    if not state[0]:
                        sel.modify(s, selectors.EVENT_READ)
                if events & selectors.EVENT_READ:
                    data = s.recv(65536)
                    if not data:
                        raise RuntimeError("coapd closed a held session")
                    state[1] += data
                    frames, _ = coaptcp.parse_frames(state[1])
                    if any(f.code == coaptcp.code(2, 5) for f in frames):
                        sel.unregister(s)
                        del pending[s]
                        self.socks.append(s)
        if pending:
            raise RuntimeError(f"{len(pending)} TCP sessions got no answer in 30 s")

    def close(self):
        for s in self.socks:
            s.close()
        self.socks = []


def new_tcp_client_ms(ns):
    s = ns.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(5)
    t0 = time.perf_counter()
    s.connect((ADDR, PORT))
    s.sendall(coaptcp.csm() + coaptcp.request(coaptcp.GET, "/time", b"\x01"))
    buf = b""
    while True:
        data = s.recv(65536)
        if not data:
            raise RuntimeError("coapd closed a new TCP client's connection")
        buf += data
        frames, _ = coaptcp.parse_frames(buf)
        if any(f.code == coaptcp.code(2, 5) for f in frames):
            break
    ms = (time.perf_counter() - t0) * 1000
    s.close()
    return ms


def new_udp_client_ms(ns, i):
    s = ns.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(5)
    t0 = time.perf_counter()
    s.sendto(udp_get(i & 0xFFFF, b"\x07"), (ADDR, PORT))
    s.recv(2048)
    ms = (time.perf_counter() - t0) * 1000
    s.close()
    return ms


def percentiles(samples):
    q = statistics.quantiles(samples, n=100, method="inclusive")
    return {"p50_ms": round(statistics.median(samples), 2), "p99_ms": round(q[98], 2)}


def udp_peers(ns, n, first_port=20000, batch=1000):
    """n distinct (address, port) peers, each sends one CON GET and waits for
    its answer; returns how many were answered."""
    per_source = -(-n // len(SOURCES))
    peers = [(a, first_port + i) for a in SOURCES for i in range(per_source)][:n]
    answered = 0
    for start in range(0, n, batch):
        sel = selectors.DefaultSelector()
        chunk = peers[start:start + batch]
        waiting = {}
        for idx, (addr, port) in enumerate(chunk):
            s = ns.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind((addr, port))
            s.setblocking(False)
            s.sendto(udp_get((start + idx) & 0xFFFF, b"\x05"), (ADDR, PORT))
            waiting[s] = 0
            sel.register(s, selectors.EVENT_READ)
        deadline = time.time() + 10
        resent = time.time() + 2
        while waiting and time.time() < deadline:
            for key, _ in sel.select(timeout=0.2):
                s = key.fileobj
                try:
                    s.recv(2048)
                except BlockingIOError:
                    continue
                sel.unregister(s)
                del waiting[s]
                s.close()
                answered += 1
            if waiting and time.time() > resent:  # CON retransmission, once
                for s in waiting:
                    s.sendto(udp_get(0, b"\x05"), (ADDR, PORT))
                resent = deadline
        for s in waiting:
            s.close()
        sel.close()
    return answered


def met(ok):
    return "MET" if ok else "NOT MET"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", required=True, help="directory with coapd, coapctl, coap_load")
    ap.add_argument("--tcp-sessions", type=int, default=10000)
    ap.add_argument("--udp-peers", type=int, default=100000)
    ap.add_argument("--duration", type=float, default=5)
    ap.add_argument("--warmup", type=float, default=1)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--clients", type=int, default=200, help="new clients timed per phase")
    ap.add_argument("--json", help="write the results as one JSON object to this file")
    args = ap.parse_args()
    load = str(Path(args.bin) / "coap_load")
    need = args.tcp_sessions + args.clients + 4096
    resource.setrlimit(resource.RLIMIT_NOFILE, (need, max(need, resource.getrlimit(
        resource.RLIMIT_NOFILE)[1])))
    out = {"tcp_sessions": args.tcp_sessions, "udp_peers": args.udp_peers}
    ns = Netns("coapd-scale")
    d = None
    try:
        d = Coapd(ns, log_level="warn",
                  args=["--max-tcp-sessions", args.tcp_sessions + args.clients + 100,
                        "--max-udp-sessions", args.udp_peers + args.clients + 100,
                        "--udp-session-timeout", 3600, "--tcp-idle-timeout", 3600])
        for a in SOURCES[1:]:
            ns.sh(f"ip addr add {a}/24 dev coap0")
        # Settle: the stack's first requests fill caches and pools.
        coap_load(ns, load, ["udp", "--sockets", "1", "--window", "32"], 1, 0.2)
        coap_load(ns, load, ["tcp", "--conns", "1", "--window", "32"], 1, 0.2)

        def figures(tag):
            res = {"udp": [], "tcp": []}
            for _ in range(args.runs):
                res["udp"].append(coap_load(ns, load, ["udp", "--sockets", "1", "--window", "32"],
                                            args.duration, args.warmup))
                res["tcp"].append(coap_load(ns, load, ["tcp", "--conns", "1", "--window", "32"],
                                            args.duration, args.warmup))
            log(f"{tag}: UDP 1x32 {res['udp']} req/s, TCP 1x32 {res['tcp']} req/s")
            return res

        before = figures("without idle sessions")
        rss0 = d.rss_kib()
        lat0 = percentiles([new_tcp_client_ms(ns) for _ in range(args.clients)])

        holder = TcpHolder(ns, args.tcp_sessions)
        time.sleep(1)
        rss1 = d.rss_kib()
        held = d.stats()["lwip"]["tcp_active"]
        log(f"{len(holder.socks)} TCP sessions opened in {holder.seconds:.1f} s; coapd lists {held}")
        per_tcp = (rss1 - rss0) * 1024 / args.tcp_sessions
        lat_tcp = percentiles([new_tcp_client_ms(ns) for _ in range(args.clients)])
        lat_udp = percentiles([new_udp_client_ms(ns, i) for i in range(args.clients)])
        with_idle = figures(f"with {args.tcp_sessions} idle TCP sessions")
        holder.close()
        wait_for(lambda: d.stats()["lwip"]["tcp_active"] == 0, timeout=60,
                 message="held sessions closed")
        after = figures("without idle sessions, again")

        rss2 = d.rss_kib()
        t0 = time.time()
        answered = udp_peers(ns, args.udp_peers)
        udp_s = time.time() - t0
        time.sleep(1)
        rss3 = d.rss_kib()
        udp_listed = d.stats()["sessions"]  # the TCP ones are gone by now
        per_udp = (rss3 - rss2) * 1024 / args.udp_peers
        lat_udp_peers = percentiles([new_udp_client_ms(ns, i) for i in range(args.clients)])

        def ratio(kind):
            base = statistics.median(before[kind] + after[kind])
            return round(statistics.median(with_idle[kind]) / base, 3) if base else 0.0

        out.update({
            "tcp_held": held, "rss_kib": {"start": rss0, "tcp_held": rss1, "udp_start": rss2,
                                          "udp_held": rss3},
            "bytes_per_tcp_session": round(per_tcp), "bytes_per_udp_peer": round(per_udp),
            "new_tcp_client_idle": lat0, "new_tcp_client_held": lat_tcp,
            "new_udp_client_held": lat_udp, "new_udp_client_udp_peers": lat_udp_peers,
            "udp_1x32": {"without": before["udp"] + after["udp"], "with": with_idle["udp"],
                         "ratio": ratio("udp")},
            "tcp_1x32": {"without": before["tcp"] + after["tcp"], "with": with_idle["tcp"],
                         "ratio": ratio("tcp")},
            "udp_peers_answered": answered, "udp_peers_seconds": round(udp_s, 1),
            "udp_sessions_listed": udp_listed,
        })
        rows = [
            (f"{args.tcp_sessions} idle TCP sessions held ({held} listed)",
             f"{per_tcp:.0f} B RSS/session", "<= 4096 B", per_tcp <= 4096 and
             held >= args.tcp_sessions),
            ("new TCP client while held, p99", f"{lat_tcp['p99_ms']} ms "
             f"(p50 {lat_tcp['p50_ms']}; idle p99 {lat0['p99_ms']})", "<= 10 ms",
             lat_tcp["p99_ms"] <= 10),
            ("new UDP client while held, p99", f"{lat_udp['p99_ms']} ms", "<= 10 ms",
             lat_udp["p99_ms"] <= 10),
            ("UDP 1x32 with/without idle sessions", f"{ratio('udp'):.2f}", ">= 0.90",
             ratio("udp") >= 0.90),
            ("TCP 1x32 with/without idle sessions", f"{ratio('tcp'):.2f}", ">= 0.90",
             ratio("tcp") >= 0.90),
            (f"{args.udp_peers} UDP peers answered", f"{answered} in {udp_s:.0f} s, "
             f"{per_udp:.0f} B RSS/peer", f"{args.udp_peers}", answered == args.udp_peers),
            ("new UDP client with the UDP peers held, p99", f"{lat_udp_peers['p99_ms']} ms",
             "<= 10 ms", lat_udp_peers["p99_ms"] <= 10),
        ]
        out["goals"] = {r[0]: met(r[3]) for r in rows}
        print(f"{'scale scenario':<48} {'measured':<44} {'goal':<10} result")
        for name, value, goal, ok in rows:
            print(f"{name:<48} {value:<44} {goal:<10} {met(ok)}")
        if args.json:
            Path(args.json).write_text(json.dumps(out) + "\n")
        return 0
    finally:
        if d is not None:
            rc = d.stop(timeout=60)
            if rc != 0:
                log(f"coapd exited with {rc}:\n{d.read_log()[-2000:]}")
        ns.close()


if __name__ == "__main__":
    sys.exit(main())
