"""Request-Tag (RFC 9175, issue 11): coapd keeps two concurrent Block1
uploads to one resource apart by their Request-Tags as a server, and gives
each of its own uploads a Request-Tag of its own as a client."""

import socket
import struct
import subprocess
import threading

from netlab import COAPCTL, wait_for
from test_request_shape import HOST, parse

REQUEST_TAG, BLOCK1 = 292, 27


def option(number, value, prev=0):
    delta = number - prev
    hdr, ext = [], b""
    for v in (delta, len(value)):
        if v < 13:
            hdr.append(v)
        elif v < 269:
            hdr.append(13)
            ext += bytes([v - 13])
        else:
            hdr.append(14)
            ext += struct.pack("!H", v - 269)
    return bytes([hdr[0] << 4 | hdr[1]]) + ext + value


def put_block(mid, token, tag, num, more, payload):
    """CON PUT /echo with Uri-Path, Block1 (SZX 6: 1024) and Request-Tag."""
    b1 = num << 4 | (8 if more else 0) | 6
    b1v = b1.to_bytes((b1.bit_length() + 7) // 8, "big")
    opts = option(11, b"echo") + option(BLOCK1, b1v, 11) + option(REQUEST_TAG, tag, BLOCK1)
    return bytes([0x40 | len(token), 0x03]) + struct.pack("!H", mid) + token + opts + b"\xff" + \
        payload


def test_server_keeps_interleaved_uploads_with_different_tags_apart(ns, coapd):
    s = ns.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(5)
    a, b = bytes(range(256)) * 8, bytes(reversed(range(256))) * 8  # 2048 bytes each
    mid = 100
    codes = []
    # Interleaved: A0 B0 A1 B1 (the last blocks end each upload).
    for num in (0, 1):
        for tag, body in ((b"A", a), (b"BB", b)):
            mid += 1
            s.sendto(put_block(mid, tag, tag, num, num == 0, body[num * 1024:(num + 1) * 1024]),
                     ("192.0.2.2", 5683))
            _, code, rmid, _, _, _ = parse(s.recv(2048))
            assert rmid == mid
            codes.append(code)
            if num == 1:
                # The upload just finished is what /echo holds now: whole,
                # and not mixed with the other one.
                r = subprocess.run([COAPCTL, "--socket", coapd.sock, "get",
                                    "coap://192.0.2.2/echo", "--block-size", "1024"],
                                   capture_output=True, timeout=30)
                assert r.returncode == 0, r.stderr
                assert r.stdout.endswith(body) or r.stdout.endswith(body + b"\n")
    s.close()
    assert codes == [0x5F, 0x5F, 0x44, 0x44], [f"{c >> 5}.{c & 31:02d}" for c in codes]  # 2.31 2.31 2.04 2.04


class UploadPeer:
    """A kernel-side UDP server for Block1 uploads: 2.31 Continue to every
    block with more to come, 2.04 to the last; records (tag, num, payload)."""

    def __init__(self, ns, port=5698):
        self.sock = ns.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.IPPROTO_IP, 15, 1)  # IP_FREEBIND
        self.sock.bind((HOST, port))
        self.sock.settimeout(0.2)
        self.blocks, self.stop = [], False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while not self.stop:
            try:
                data, addr = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            _, _, mid, token, opts, payload = parse(data)
            tags = [v for n, v in opts if n == REQUEST_TAG]
            b1 = [v for n, v in opts if n == BLOCK1]
            value = int.from_bytes(b1[0], "big") if b1 else 0
            more = bool(value & 8)
            self.blocks.append((tuple(tags), value >> 4, payload))
            code = 0x5F if more else 0x44
            self.sock.sendto(bytes([0x60 | len(token), code]) + struct.pack("!H", mid) + token +
                             (option(BLOCK1, b1[0]) if b1 else b""), addr)

    def close(self):
        self.stop = True
        self.thread.join()
        self.sock.close()


def test_client_gives_each_concurrent_upload_its_own_tag(ns, coapd):
    peer = UploadPeer(ns)
    try:
        bodies = {b"x" * 3000, b"y" * 3000}
        procs = [subprocess.Popen([COAPCTL, "--socket", coapd.sock, "put",
                                   "coap://192.0.2.1:5698/up", "--payload", body.decode(),
                                   "--block-size", "1024"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                 for body in bodies]
        for p in procs:
            _, err = p.communicate(timeout=30)
            assert p.returncode == 0, err
        wait_for(lambda: len(peer.blocks) >= 6, message="six blocks")
        by_tag = {}
        for tags, num, payload in peer.blocks:
            assert len(tags) == 1, tags  # exactly one Request-Tag on every block
            by_tag.setdefault(tags, []).append((num, payload))
        assert len(by_tag) == 2, by_tag.keys()  # two uploads, two tags
        got = {b"".join(p for _, p in sorted(blocks)) for blocks in by_tag.values()}
        assert got == bodies
    finally:
        peer.close()
