"""A minimal CoAP-over-TCP (RFC 8323) codec for test peers on kernel sockets."""

import socket
import threading
import struct
import time

CSM, PING, PONG, RELEASE, ABORT = 0xE1, 0xE2, 0xE3, 0xE4, 0xE5
GET, POST, PUT, DELETE = 1, 2, 3, 4


def code(c, d):
    return (c << 5) | d


def code_str(c):
    return f"{c >> 5}.{c & 31:02d}"


def _ext(v):
    if v < 13:
        return v, b""
    if v < 269:
        return 13, bytes([v - 13])
    return 14, struct.pack("!H", v - 269)


def encode_options(options):
    out = b""
    prev = 0
    for number, value in sorted(options, key=lambda o: o[0]):
        if isinstance(value, str):
            value = value.encode()
        elif isinstance(value, int):
            value = value.to_bytes((value.bit_length() + 7) // 8, "big") if value else b""
        dn, dx = _ext(number - prev)
        ln, lx = _ext(len(value))
        out += bytes([(dn << 4) | ln]) + dx + lx + value
        prev = number
    return out


def frame(c, token=b"", options=(), payload=b""):
    body = encode_options(options) + ((b"\xff" + payload) if payload else b"")
    n = len(body)
    if n < 13:
        hdr = bytes([(n << 4) | len(token)])
    elif n < 269:
        hdr = bytes([(13 << 4) | len(token), n - 13])
    elif n < 65805:
        hdr = bytes([(14 << 4) | len(token)]) + struct.pack("!H", n - 269)
    else:
        hdr = bytes([(15 << 4) | len(token)]) + struct.pack("!I", n - 65805)
    return hdr + bytes([c]) + token + body


def csm(max_message_size=1152, bwt=True):
    opts = [(2, max_message_size)]
    if bwt:
        opts.append((4, b""))
    return frame(CSM, options=opts)


def request(method, path, token, payload=b"", extra=()):
    opts = [(11, seg) for seg in path.strip("/").split("/") if seg] + list(extra)
    return frame(method, token, opts, payload)


class Frame:
    def __init__(self, code, token, options, payload, size):
        self.code, self.token, self.options, self.payload, self.size = code, token, options, payload, size

    def option(self, number):
        for n, v in self.options:
            if n == number:
                return v
        return None

    def __repr__(self):
        return f"Frame({code_str(self.code)}, tok={self.token.hex()}, {len(self.payload)}B)"


def parse_options(rest):
    """Options and payload of a message body (the bytes after the token):
    returns ([(number, value)], payload). Shared with CoAP over UDP."""
    options, payload, number, i = [], b"", 0, 0
    while i < len(rest):
        if rest[i] == 0xFF:
            payload = rest[i + 1:]
            break
        d, l = rest[i] >> 4, rest[i] & 15
        i += 1
        if d == 13:
            d = rest[i] + 13
            i += 1
        elif d == 14:
            d = struct.unpack("!H", rest[i:i + 2])[0] + 269
            i += 2
        if l == 13:
            l = rest[i] + 13
            i += 1
        elif l == 14:
            l = struct.unpack("!H", rest[i:i + 2])[0] + 269
            i += 2
        number += d
        options.append((number, rest[i:i + l]))
        i += l
    return options, payload


def parse_frames(buf):
    """Returns (frames, rest)."""
    frames = []
    while buf:
        ln, tkl = buf[0] >> 4, buf[0] & 15
        ext = {13: 1, 14: 2, 15: 4}.get(ln, 0)
        if len(buf) < 1 + ext:
            break
        body = ln
        if ext == 1:
            body = buf[1] + 13
        elif ext == 2:
            body = struct.unpack("!H", buf[1:3])[0] + 269
        elif ext == 4:
            body = struct.unpack("!I", buf[1:5])[0] + 65805
        total = 1 + ext + 1 + tkl + body
        if len(buf) < total:
            break
        c = buf[1 + ext]
        token = buf[2 + ext:2 + ext + tkl]
        options, payload = parse_options(buf[2 + ext + tkl:total])
        frames.append(Frame(c, token, options, payload, total))
        buf = buf[total:]
    return frames, buf


class Peer:
    """A CoAP-over-TCP peer on a kernel socket."""

    def __init__(self, sock, addr=("192.0.2.2", 5683), connect=True, timeout=10):
        self.sock = sock
        self.sock.settimeout(timeout)
        self.buf = b""
        self.frames = []
        if connect:
            self.sock.connect(addr)

    def send(self, data):
        self.sock.sendall(data)

    def recv_frame(self, timeout=10):
        end = time.time() + timeout
        while not self.frames:
            self.sock.settimeout(max(0.01, end - time.time()))
            chunk = self.sock.recv(262144)
            if not chunk:
                raise EOFError(f"connection closed by coapd ({len(self.buf)} bytes pending)")
            self.buf += chunk
            got, self.buf = parse_frames(self.buf)
            self.frames.extend(got)
        return self.frames.pop(0)

    def expect(self, c, timeout=10):
        f = self.recv_frame(timeout)
        assert f.code == c, f"expected {code_str(c)}, got {f!r} payload={f.payload[:80]!r}"
        return f

    def handshake(self, max_message_size=1152 * 128, bwt=True):
        self.send(csm(max_message_size, bwt))
        theirs = self.expect(CSM)
        return theirs

    def wait_eof(self, timeout=10):
        """Reads until coapd's FIN, then closes our side (as a client would).
        Returns the frames seen; raises ConnectionResetError on RST."""
        end = time.time() + timeout
        seen = list(self.frames)
        self.frames = []
        while time.time() < end:
            self.sock.settimeout(max(0.01, end - time.time()))
            chunk = self.sock.recv(262144)
            if not chunk:
                got, self.buf = parse_frames(self.buf)
                self.sock.close()
                return seen + got
            self.buf += chunk
            got, self.buf = parse_frames(self.buf)
            seen.extend(got)
        raise AssertionError("no EOF from coapd")

    def close(self):
        self.sock.close()

    def reset(self):
        """Closes with RST (SO_LINGER 0)."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()


def option_paths(f):
    return "/" + "/".join(v.decode() for n, v in f.options if n == 11)


class Device:
    """A device on kernel sockets that answers requests on a connection: the
    CoAP server side of a call-home session. `serve()` runs in a thread."""

    def __init__(self, peer, resources=None):
        self.peer = peer
        self.resources = resources or {"/sensor": b"42"}
        self.requests = []
        self.stop = False

    def serve(self):
        try:
            while not self.stop:
                try:
                    f = self.peer.recv_frame(timeout=0.5)
                except socket.timeout:
                    continue
                if f.code == PING:
                    self.peer.send(frame(PONG, f.token))
                    continue
                if f.code >> 5 != 0 or f.code == 0:
                    continue  # signaling or responses: nothing to answer
                path = option_paths(f)
                self.requests.append((f.code, path))
                body = self.resources.get(path)
                if body is None:
                    self.peer.send(frame(code(4, 4), f.token, payload=b"no such resource"))
                else:
                    self.peer.send(frame(code(2, 5), f.token, [(12, 0)], body))
        except (EOFError, OSError):
            pass
