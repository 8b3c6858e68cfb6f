"""BERT from coapd's client (RFC 8323 section 6, issue 11): coapctl
--block-size N (a multiple of 1024) or bert over coap+tcp:// makes coapd
upload several 1024-byte blocks per message and ask for them on downloads,
against a kernel-socket CoAP-over-TCP server the suite plays; over UDP it is
refused, and a block size that is neither is a usage error."""

import subprocess

import coaptcp as ct
from netlab import COAPCTL
from test_callhome import accept_peer, listener

BLOCK1, BLOCK2, SIZE1 = 27, 23, 60
CONTINUE, CHANGED, CONTENT = ct.code(2, 31), ct.code(2, 4), ct.code(2, 5)


def block(v):
    n = int.from_bytes(v, "big")
    return n >> 4, bool(n & 8), n & 7


def body_of(n):
    return bytes((i * 7 + 3) % 251 for i in range(n))


def serve(ls, handle, mms=65536):
    """Accepts coapd's connection, exchanges CSMs (block-wise offered) and
    calls handle(peer, frame) for each request until it returns True."""
    p = accept_peer(ls)
    p.handshake(max_message_size=mms, bwt=True)
    while not handle(p, p.recv_frame(timeout=15)):
        pass
    return p


def confirming(record):
    """A handle() for serve(): answers each Block1 message as a server does
    (2.31 with its Block1, 2.04 to the last), after record(frame, num, more,
    szx); done after the last."""

    def handle(p, f):
        num, more, szx = block(f.option(BLOCK1))
        record(f, num, more, szx)
        p.send(ct.frame(CONTINUE if more else CHANGED, f.token, [(BLOCK1, f.option(BLOCK1))]))
        return not more

    return handle


def run_ctl(coapd, *args):
    return subprocess.Popen([COAPCTL, "--socket", coapd.sock, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def test_an_upload_carries_several_blocks_per_message(ns, coapd, tmp_path):
    ls = listener(ns, 5695)
    body = body_of(10000)
    (tmp_path / "body").write_bytes(body)
    ctl = run_ctl(coapd, "put", "coap+tcp://192.0.2.1:5695/up", "--block-size", "4096",
                  "--payload-file", str(tmp_path / "body"))
    seen, parts = [], []

    def record(f, num, more, szx):
        seen.append((num, more, szx, len(f.payload), f.option(SIZE1) is not None))
        parts.append(f.payload)

    p = serve(ls, confirming(record))
    out, err = ctl.communicate(timeout=30)
    p.close()
    ls.close()
    assert ctl.returncode == 0, err
    assert b"".join(parts) == body
    assert seen == [(0, True, 7, 4096, True), (4, True, 7, 4096, False),
                    (8, False, 7, 10000 - 8192, False)], seen


def test_bert_fills_the_peer_max_message_size(ns, coapd, tmp_path):
    ls = listener(ns, 5696)
    body = body_of(9000)
    (tmp_path / "body").write_bytes(body)
    ctl = run_ctl(coapd, "post", "coap+tcp://192.0.2.1:5696/up", "--block-size", "bert",
                  "--payload-file", str(tmp_path / "body"))
    sizes, parts = [], []

    def record(f, num, more, szx):
        assert szx == 7 and f.size <= 3500, (szx, f.size)
        sizes.append(len(f.payload))
        parts.append(f.payload)

    p = serve(ls, confirming(record), mms=3500)
    _, err = ctl.communicate(timeout=30)
    p.close()
    ls.close()
    assert ctl.returncode == 0, err
    assert b"".join(parts) == body
    assert sizes[:-1] == [3072] * (len(sizes) - 1), sizes


def test_a_download_asks_for_bert_and_is_reassembled(ns, coapd):
    ls = listener(ns, 5697)
    big = body_of(7000)
    asked = []

    def handle(p, f):
        num, _, szx = block(f.option(BLOCK2))
        asked.append((num, szx))
        part = big[num * 1024:num * 1024 + 4096]
        more = num * 1024 + len(part) < len(big)
        b2 = num << 4 | (8 if more else 0) | 7
        p.send(ct.frame(CONTENT, f.token, [(BLOCK2, b2)], part))
        return not more

    ctl = run_ctl(coapd, "get", "coap+tcp://192.0.2.1:5697/big", "--block-size", "bert")
    p = serve(ls, handle)
    out, err = ctl.communicate(timeout=30)
    p.close()
    ls.close()
    assert ctl.returncode == 0, err
    assert asked == [(0, 7), (4, 7)], asked
    head, body = out.split(b"\n\n", 1)
    assert head.startswith(b"2.05"), head
    assert body == big


def test_bert_over_udp_is_refused_with_the_reason(coapd):
    r = coapd.ctl("get", "coap://192.0.2.1:5699/x", "--block-size", "2048")
    assert r.returncode != 0
    assert "BERT" in r.stderr and "TCP" in r.stderr, r.stderr


def test_a_block_size_that_is_none_is_a_usage_error(coapd):
    for bad in ("1500", "8", "2000", "bertie", "2097152"):
        r = coapd.ctl("get", "coap+tcp://192.0.2.1:5697/x", "--block-size", bad)
        assert r.returncode == 2, (bad, r.returncode, r.stderr)
        assert "--block-size" in r.stderr and bad in r.stderr, r.stderr


def test_without_block_wise_in_the_csm_blocks_are_1024(ns, coapd, tmp_path):
    ls = listener(ns, 5694)
    body = body_of(2500)
    (tmp_path / "body").write_bytes(body)
    ctl = run_ctl(coapd, "put", "coap+tcp://192.0.2.1:5694/up", "--block-size", "4096",
                  "--payload-file", str(tmp_path / "body"))
    p = accept_peer(ls)
    p.handshake(max_message_size=65536, bwt=False)
    got = b""
    while True:
        f = p.recv_frame(timeout=15)
        num, more, szx = block(f.option(BLOCK1))
        assert szx == 6 and (not more or len(f.payload) == 1024), (num, szx, len(f.payload))
        got += f.payload
        p.send(ct.frame(CONTINUE if more else CHANGED, f.token, [(BLOCK1, f.option(BLOCK1))]))
        if not more:
            break
    _, err = ctl.communicate(timeout=30)
    p.close()
    ls.close()
    assert ctl.returncode == 0, err
    assert got == body
