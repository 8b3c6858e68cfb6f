"""Test harness: network namespaces, coapd processes, peers.

Network rule: every test runs inside a namespace it creates (unique name),
with the TAP and every peer inside; the namespace is removed afterwards, also
on failure. Only processes started here are stopped, by PID.
"""

import contextlib
import ctypes
import json
import os
import secrets
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("COAPD_BUILD_DIR", ROOT / "build"))
COAPD = Path(os.environ.get("COAPD_BIN", BUILD / "bin" / "coapd"))
COAPCTL = Path(os.environ.get("COAPCTL_BIN", BUILD / "bin" / "coapctl"))


def _sanitizer():
    cache = BUILD / "CMakeCache.txt"
    if cache.exists():
        for line in cache.read_text(errors="replace").splitlines():
            if line.startswith("COAPD_SANITIZE:"):
                value = line.split("=", 1)[1].strip()
                return "" if value.upper() in ("", "OFF", "NO", "FALSE", "0") else value
    return ""


# "address", "thread" or "": memory figures mean little under a sanitizer.
SANITIZER = _sanitizer()
COAP_CLIENT = "coap-client-notls"
COAP_SERVER = "coap-server-notls"

_libc = ctypes.CDLL("libc.so.6", use_errno=True)
CLONE_NEWNET = 0x40000000


def run(cmd, check=True, timeout=30, **kw):
    return subprocess.run(cmd, check=check, timeout=timeout, capture_output=True, text=True, **kw)


class Netns:
    """A network namespace owned by one test."""

    def __init__(self, prefix="coapd-t"):
        self.name = f"{prefix}-{os.getpid()}-{secrets.token_hex(3)}"
        self.procs = []
        run(["ip", "netns", "add", self.name])
        self.sh("ip link set lo up")
        # IPv6 addresses usable at once (no DAD wait), forwarding between TAPs.
        self.sh("sysctl -qw net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0")
        self.sh("sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1")

    def sh(self, command, check=True, timeout=30):
        return run(["ip", "netns", "exec", self.name, "sh", "-c", command], check=check, timeout=timeout)

    def popen(self, argv, **kw):
        kw.setdefault("stdout", subprocess.PIPE)
        kw.setdefault("stderr", subprocess.STDOUT)
        p = subprocess.Popen(["ip", "netns", "exec", self.name, *map(str, argv)], **kw)
        self.procs.append(p)
        return p

    def exec(self, argv, timeout=30, check=False, input=None):
        return subprocess.run(["ip", "netns", "exec", self.name, *map(str, argv)], timeout=timeout,
                              capture_output=True, check=check, input=input)

    def socket(self, family=socket.AF_INET, type=socket.SOCK_STREAM):
        """A kernel socket created inside the namespace (usable from any thread)."""
        result = {}

        def make():
            fd = os.open(f"/run/netns/{self.name}", os.O_RDONLY)
            try:
                if _libc.setns(fd, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), "setns failed")
                result["sock"] = socket.socket(family, type)
            except Exception as e:  # noqa: BLE001 - reported to the caller
                result["error"] = e
            finally:
                os.close(fd)

        t = threading.Thread(target=make)
        t.start()
        t.join()
        if "error" in result:
            raise result["error"]
        return result["sock"]

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                with contextlib.suppress(Exception):
                    p.wait(timeout=5)
        # Anything still running in the namespace was started by this test.
        pids = run(["ip", "netns", "pids", self.name], check=False).stdout.split()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid), signal.SIGKILL)
        run(["ip", "netns", "del", self.name], check=False)


class Coapd:
    """A coapd process inside a namespace."""

    def __init__(self, ns, args=(), tap="coap0", address="192.0.2.2/24", host="192.0.2.1/24",
                 name="coapd", env=None, wait_ready=True, log_level="info"):
        self.ns = ns
        self.tap = tap
        # address=None, host=None: coapd on its embedded defaults (it picks
        # the subnet; self.address is then None).
        self.address = address.split("/")[0] if address else None
        self.sock = f"/tmp/{ns.name}-{name}.sock"
        self.logpath = Path(f"/tmp/{ns.name}-{name}.log")
        addresses = [*(["--address", address] if address else []),
                     *(["--host-address", host] if host else [])]
        # log_level=None: none on the command line (a config file may set it).
        level = ["--log-level", log_level] if log_level else []
        self.argv = [COAPD, "--tap", tap, *addresses,
                     "--control-socket", self.sock, *level, *args]
        self.log = open(self.logpath, "wb")
        self.proc = ns.popen(self.argv, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        self.pid = self.proc.pid
        if wait_ready:
            self.wait_ready()

    def wait_ready(self, timeout=15):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"coapd exited with {self.proc.returncode}:\n{self.read_log()}")
            r = subprocess.run([COAPCTL, "--socket", self.sock, "--json", "status"],
                               capture_output=True, text=True, timeout=10)
            if r.returncode == 0:
                return json.loads(r.stdout)
            time.sleep(0.05)
        raise RuntimeError(f"coapd not ready after {timeout}s:\n{self.read_log()}")

    def read_log(self):
        self.log.flush()
        return self.logpath.read_text(errors="replace")

    def ctl(self, *args, timeout=60, check=False):
        return subprocess.run([COAPCTL, "--socket", self.sock, *map(str, args)],
                              capture_output=True, text=True, timeout=timeout, check=check)

    def ctl_json(self, *args, timeout=60):
        r = self.ctl("--json", *args, timeout=timeout)
        assert r.returncode == 0, f"coapctl {args} failed ({r.returncode}): {r.stderr}"
        return json.loads(r.stdout)

    def stats(self):
        return self.ctl_json("stats")

    def sessions(self):
        return self.ctl_json("sessions")["sessions"]

    def events(self):
        r = self.ctl("--json", "events")
        assert r.returncode == 0, r.stderr
        out = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
        assert all("event" in e for e in out), out[:3]
        return out

    def rss_kib(self):
        # The daemon is the child of `ip netns exec`, which execs: same PID.
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                         "WARNING: ThreadSanitizer", "runtime error:")

    def sanitizer_reports(self):
        log = self.read_log()
        return [m for m in self.SANITIZER_MARKERS if m in log]

    def stop(self, timeout=15):
        """SIGTERM, wait, and return the exit code. Fails the test on a
        sanitizer report in the log."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"coapd did not stop within {timeout}s on SIGTERM")
        reports = self.sanitizer_reports()
        assert not reports, f"sanitizer reported {reports}:\n{self.read_log()}"
        self.log.close()
        return self.proc.returncode


def coap_client(ns, *args, timeout=20):
    """Runs Debian's coap-client-notls inside the namespace; returns CompletedProcess (bytes)."""
    return ns.exec([COAP_CLIENT, *args], timeout=timeout)


def wait_for(predicate, timeout=10.0, interval=0.05, message="condition"):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message} (last: {last!r})")


def coap_payload(ns, *args, timeout=20):
    """Exact response payload from coap-client-notls (-o FILE), and its stderr."""
    out = Path(f"/tmp/{ns.name}-{secrets.token_hex(4)}.out")
    try:
        r = ns.exec([COAP_CLIENT, "-o", str(out), *args], timeout=timeout)
        data = out.read_bytes() if out.exists() else b""
        return data, r.stderr.decode(errors="replace")
    finally:
        out.unlink(missing_ok=True)
