"""Helpers for the DTLS/TLS tests: test certificates made with the openssl
CLI (once per test session, in a temporary directory), PSK files, a TLS peer
on kernel sockets with memory BIOs (so raw records can be injected), and a
hand-built DTLS 1.2 ClientHello.

Nothing here touches the network by itself: every socket is made by the
caller inside its own namespace (netlab.Netns.socket).
"""

import os
import secrets
import shutil
import socket
import ssl
import struct
import subprocess
import tempfile
import time
from pathlib import Path

COAPD_IP = "192.0.2.2"
HOST_IP = "192.0.2.1"

# PSK identities coapd accepts in these tests (text key and a hex key).
PSK_ID, PSK_KEY = "client1", "secretPSK"
PSK_HEX_ID, PSK_HEX_KEY = "hexclient", "0x68657873656372657421"  # "hexsecret!"


def _openssl(*args, cwd):
    r = subprocess.run(["openssl", *map(str, args)], cwd=cwd, capture_output=True, text=True,
                       timeout=60)
    if r.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(map(str, args))} failed:\n{r.stderr}")
    return r.stdout


class Certs:
    """Every certificate the suite needs, as file paths:

    ca            the trust anchor (ECDSA P-256)
    server        coapd's certificate, SAN IP:192.0.2.2 (ECDSA)
    server_rsa    coapd's certificate as RSA-2048, SAN IP:192.0.2.2
    peer          a kernel-side server, SAN IP:192.0.2.1 (RSA-2048)
    client        a client certificate, CN=client (ECDSA)
    selfsigned    self-signed, SAN IP:192.0.2.1 and IP:192.0.2.2 (not from ca)
    wronghost     from ca, SAN IP:192.0.2.99 only
    cn_ip         from ca, CN=192.0.2.1 and SAN DNS:192.0.2.1, no iPAddress entry
    expired       from ca, SAN IP:192.0.2.1 and 192.0.2.2, valid 2020-2021 only
    other_ca      a second CA, and other_client from it (a client coapd must refuse)

    Each NAME has NAME.pem and NAME.key in `dir`; `cert(NAME)`, `key(NAME)`.
    """

    def __init__(self, directory):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self._make()

    def cert(self, name):
        return str(self.dir / f"{name}.pem")

    def key(self, name):
        return str(self.dir / f"{name}.key")

    # --- generation -------------------------------------------------------

    def _key(self, name, kind):
        if kind == "rsa":
            _openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                     "-out", f"{name}.key", cwd=self.dir)
        else:
            _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                     "-out", f"{name}.key", cwd=self.dir)

    def _ca(self, name, cn):
        self._key(name, "ec")
        _openssl("req", "-x509", "-new", "-key", f"{name}.key", "-sha256", "-days", "3650",
                 "-subj", f"/CN={cn}", "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                 "-out", f"{name}.pem", cwd=self.dir)

    def _ext_file(self, name, san):
        ext = self.dir / f"{name}.ext"
        lines = ["basicConstraints=CA:FALSE",
                 "keyUsage=critical,digitalSignature,keyEncipherment",
                 "extendedKeyUsage=serverAuth,clientAuth"]
        if san:
            lines.append(f"subjectAltName={san}")
        ext.write_text("\n".join(lines) + "\n")
        return ext.name

    def _leaf(self, name, cn, san, kind="ec", ca="ca"):
        self._key(name, kind)
        _openssl("req", "-new", "-key", f"{name}.key", "-subj", f"/CN={cn}",
                 "-out", f"{name}.csr", cwd=self.dir)
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
                 "-CAcreateserial", "-sha256", "-days", "825",
                 "-extfile", self._ext_file(name, san), "-out", f"{name}.pem", cwd=self.dir)

    def _selfsigned(self, name, cn, san):
        self._key(name, "ec")
        _openssl("req", "-x509", "-new", "-key", f"{name}.key", "-sha256", "-days", "825",
                 "-subj", f"/CN={cn}", "-addext", f"subjectAltName={san}",
                 "-addext", "extendedKeyUsage=serverAuth,clientAuth",
                 "-out", f"{name}.pem", cwd=self.dir)

    def _expired(self, name, cn, san):
        # `openssl x509 -req` cannot backdate; `openssl ca` can (-startdate/-enddate).
        self._key(name, "ec")
        _openssl("req", "-new", "-key", f"{name}.key", "-subj", f"/CN={cn}",
                 "-out", f"{name}.csr", cwd=self.dir)
        db = self.dir / "ca-db"
        db.mkdir(exist_ok=True)
        (db / "index.txt").write_text("")
        (db / "serial").write_text(secrets.token_hex(8) + "\n")
        conf = self.dir / "ca.cnf"
        conf.write_text(f"""
[ ca ]
default_ca = testca
[ testca ]
dir = {db}
database = $dir/index.txt
serial = $dir/serial
new_certs_dir = $dir
certificate = {self.dir}/ca.pem
private_key = {self.dir}/ca.key
default_md = sha256
policy = anything
unique_subject = no
copy_extensions = none
[ anything ]
commonName = supplied
[ leaf ]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth,clientAuth
subjectAltName = {san}
""")
        _openssl("ca", "-batch", "-config", conf, "-extensions", "leaf", "-notext",
                 "-startdate", "20200101000000Z", "-enddate", "20210101000000Z",
                 "-in", f"{name}.csr", "-out", f"{name}.pem", cwd=self.dir)

    def _make(self):
        self._ca("ca", "coapd test CA")
        self._leaf("server", "coapd", f"IP:{COAPD_IP}")
        self._leaf("server_rsa", "coapd-rsa", f"IP:{COAPD_IP}", kind="rsa")
        self._leaf("peer", "peer", f"IP:{HOST_IP}", kind="rsa")
        self._leaf("client", "client", "")
        self._selfsigned("selfsigned", "selfsigned", f"IP:{HOST_IP},IP:{COAPD_IP}")
        self._leaf("wronghost", "wronghost", "IP:192.0.2.99")
        # The right address, but only as CN and as a DNS name: an IP literal in a
        # URI is matched against iPAddress entries only.
        self._leaf("cn_ip", HOST_IP, f"DNS:{HOST_IP}")
        self._expired("expired", "expired", f"IP:{HOST_IP},IP:{COAPD_IP}")
        self._ca("other_ca", "another CA")
        self._leaf("other_client", "intruder", "", ca="other_ca")

    def subject_cn(self, name):
        out = _openssl("x509", "-in", f"{name}.pem", "-noout", "-subject", "-nameopt", "RFC2253",
                       cwd=self.dir)
        return out.strip().split("=", 1)[1]

    def dates(self, name):
        return _openssl("x509", "-in", f"{name}.pem", "-noout", "-dates", cwd=self.dir)


def make_certs():
    d = tempfile.mkdtemp(prefix="coapd-certs-")
    try:
        return Certs(d)
    except Exception:
        shutil.rmtree(d, ignore_errors=True)
        raise


def write_psk_file(directory, lines):
    path = Path(directory) / f"psk-{secrets.token_hex(3)}.txt"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


# --- a TLS 1.2 peer on a kernel socket with memory BIOs --------------------------------

class TlsPeer:
    """TLS over a socket we own: ssl.SSLObject on memory BIOs, so that raw
    bytes (a bad record) can be written to the socket around it, and so that
    a close_notify from the other side (SSLZeroReturnError) is told apart from
    a bare EOF (SSLEOFError) and from a reset."""

    def __init__(self, sock, context, server_side=False, server_hostname=None, timeout=10):
        self.sock = sock
        if sock is not None:  # None: only client_hello() is used
            self.sock.settimeout(timeout)
        self.incoming = ssl.MemoryBIO()
        self.outgoing = ssl.MemoryBIO()
        self.obj = context.wrap_bio(self.incoming, self.outgoing, server_side=server_side,
                                    server_hostname=server_hostname)
        self.plain = b""
        self.eof = None  # "close_notify" | "eof" | "reset" once the peer ended

    trickle = False  # True: send every byte in a TCP segment of its own

    def _flush(self):
        data = self.outgoing.read()
        if data and self.trickle:
            for i in range(len(data)):
                self.sock.sendall(data[i:i + 1])
                time.sleep(0.001)
        elif data:
            self.sock.sendall(data)

    def _pump(self, timeout):
        """Reads one chunk from the socket into the BIO; False on EOF."""
        self.sock.settimeout(max(0.01, timeout))
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:
            self.eof = "reset"
            self.incoming.write_eof()
            return False
        if not chunk:
            self.incoming.write_eof()
            return False
        self.incoming.write(chunk)
        return True

    def client_hello(self):
        """Starts the handshake and returns the bytes of the ClientHello
        (not sent)."""
        try:
            self.obj.do_handshake()
        except ssl.SSLWantReadError:
            pass
        return self.outgoing.read()

    def handshake(self, timeout=10):
        end = time.time() + timeout
        while True:
            try:
                self.obj.do_handshake()
                self._flush()
                return
            except ssl.SSLWantReadError:
                self._flush()
                if time.time() > end:
                    raise TimeoutError("TLS handshake did not finish")
                if not self._pump(end - time.time()):
                    # One more round: the BIO now reports EOF or an alert.
                    self.obj.do_handshake()

    def send(self, data):
        self.obj.write(data)
        self._flush()

    def recv(self, timeout=10):
        """Plaintext bytes (at least one), b"" once the peer closed (see .eof)."""
        end = time.time() + timeout
        while True:
            try:
                data = self.obj.read(262144)
                if data:
                    return data
                # Python's read() returns b"" for a close_notify received
                # (SSL_ERROR_ZERO_RETURN); a bare EOF raises SSLEOFError.
                self.eof = "close_notify"
                return b""
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLZeroReturnError:
                self.eof = "close_notify"
                return b""
            except ssl.SSLEOFError:
                self.eof = self.eof or "eof"
                return b""
            if self.eof == "reset":
                return b""
            if time.time() > end:
                raise socket.timeout("no TLS data")
            if not self._pump(end - time.time()) and self.eof is None:
                continue

    def wait_close(self, timeout=10):
        """Reads until the peer ends; returns (how, socket_eof) where how is
        "close_notify", "eof" or "reset" and socket_eof says whether the
        kernel socket then saw a clean EOF (FIN)."""
        end = time.time() + timeout
        while self.eof is None:
            if time.time() > end:
                raise AssertionError("the TLS peer did not close")
            self.recv(timeout=end - time.time())
        fin = self.eof != "reset"
        if self.eof == "close_notify":
            # After close_notify the FIN must follow: a clean EOF, no RST.
            try:
                while True:
                    self.sock.settimeout(max(0.01, end - time.time()))
                    chunk = self.sock.recv(65536)
                    if not chunk:
                        break
            except ConnectionResetError:
                fin = False
        return self.eof, fin

    def send_close_notify(self):
        """Sends our close_notify (the other side should answer with its own
        and FIN)."""
        try:
            self.obj.unwrap()
        except (ssl.SSLWantReadError, ssl.SSLError):
            pass
        self._flush()

    def close(self):
        self.sock.close()


def client_context(ca=None, cert=None, key=None, verify=True):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.check_hostname = False  # IP literals: checked by the caller if at all
    if verify and ca:
        ctx.load_verify_locations(ca)
        ctx.verify_mode = ssl.CERT_REQUIRED
    else:
        ctx.verify_mode = ssl.CERT_NONE
    if cert:
        ctx.load_cert_chain(cert, key)
    return ctx


def server_context(cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    return ctx


# --- a DTLS 1.2 ClientHello built by hand -------------------------------------------

def _ext(kind, body):
    return struct.pack("!HH", kind, len(body)) + body


def dtls_client_hello(cookie=b"", seq=0, random=None):
    """One DTLS 1.2 ClientHello record (RFC 6347 4.2.2) offering PSK and
    ECDHE-ECDSA suites, as coap-client would."""
    random = random or secrets.token_bytes(32)
    suites = [0xC0A8, 0x00A8, 0xC0AE, 0xC02B, 0xC023]  # PSK-AES128-CCM8, PSK-AES128-GCM, ...
    exts = (_ext(0x000A, struct.pack("!HH", 2, 23))  # supported_groups: secp256r1
            + _ext(0x000B, bytes([1, 0]))  # ec_point_formats: uncompressed
            + _ext(0x000D, struct.pack("!HHH", 4, 0x0403, 0x0401))  # signature_algorithms
            + _ext(0x0016, b"") + _ext(0x0017, b""))  # encrypt_then_mac, extended_master_secret
    body = (b"\xfe\xfd" + random + b"\x00" + bytes([len(cookie)]) + cookie
            + struct.pack("!H", 2 * len(suites)) + b"".join(struct.pack("!H", s) for s in suites)
            + b"\x01\x00" + struct.pack("!H", len(exts)) + exts)
    n = len(body)
    hs = bytes([1]) + n.to_bytes(3, "big") + struct.pack("!H", 0) + (0).to_bytes(3, "big") \
        + n.to_bytes(3, "big") + body
    return bytes([22]) + b"\xfe\xfd" + struct.pack("!H", 0) + seq.to_bytes(6, "big") \
        + struct.pack("!H", len(hs)) + hs


def parse_dtls_records(datagram):
    """[(content_type, handshake_type or None, body)] of one datagram."""
    out = []
    i = 0
    while i + 13 <= len(datagram):
        ctype = datagram[i]
        length = struct.unpack("!H", datagram[i + 11:i + 13])[0]
        body = datagram[i + 13:i + 13 + length]
        out.append((ctype, body[0] if ctype == 22 and body else None, body))
        i += 13 + length
    return out


def hello_verify_cookie(datagram):
    """The cookie of a HelloVerifyRequest, or None."""
    for ctype, htype, body in parse_dtls_records(datagram):
        if ctype == 22 and htype == 3:
            # handshake header (12) + server_version (2) + cookie length (1)
            n = body[14]
            return body[15:15 + n]
    return None


def pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


# --- CoAP over TLS on a TlsPeer ------------------------------------------------

class CoapTls:
    """CoAP-over-TCP framing (coaptcp) over a TlsPeer."""

    def __init__(self, tls):
        self.tls = tls
        self.buf = b""
        self.frames = []

    def send(self, data):
        self.tls.send(data)

    def recv_frame(self, timeout=10):
        import coaptcp as ct
        end = time.time() + timeout
        while not self.frames:
            chunk = self.tls.recv(timeout=max(0.01, end - time.time()))
            if not chunk:
                raise EOFError(f"TLS session ended ({self.tls.eof})")
            self.buf += chunk
            got, self.buf = ct.parse_frames(self.buf)
            self.frames.extend(got)
        return self.frames.pop(0)

    def expect(self, c, timeout=10):
        import coaptcp as ct
        f = self.recv_frame(timeout)
        assert f.code == c, f"expected {ct.code_str(c)}, got {f!r} payload={f.payload[:80]!r}"
        return f

    def handshake(self, max_message_size=65536):
        import coaptcp as ct
        self.send(ct.csm(max_message_size))
        return self.expect(ct.CSM)
