#!/usr/bin/python3
"""Writes hand-made seed inputs for every fuzz target into OUTDIR/TARGET/.

  test/fuzz/make_seeds.py OUTDIR

The committed corpora (test/fuzz/corpus/TARGET) started from these, merged
with what the fuzzers found and minimized with -merge=1 (scripts/fuzz.sh
--merge). The endpoint seeds follow the input layout of endpoint_ops.h: a
32-byte set-up block, then operations, each an opcode and a length-prefixed
argument block; arguments left out read as zeros (the plainest choice).
"""
import os
import struct
import sys

# --- CoAP encoding (RFC 7252 3, RFC 8323 3.2) ------------------------------

CON, NON, ACK, RST = 0, 1, 2, 3
GET, POST, PUT, DELETE, FETCH = 1, 2, 3, 4, 5
CONTENT, CHANGED, CONTINUE, NOT_FOUND = 0x45, 0x44, 0x5F, 0x84
CSM, PING, PONG, RELEASE, ABORT = 0xE1, 0xE2, 0xE3, 0xE4, 0xE5
URI_PATH, URI_QUERY, OBSERVE, BLOCK2, BLOCK1 = 11, 15, 6, 23, 27
CONTENT_FORMAT, ETAG, SIZE1, SIZE2, NO_RESPONSE = 12, 4, 60, 28, 258


def uint(v):
    out = b""
    while v:
        out = bytes([v & 0xFF]) + out
        v >>= 8
    return out


def ext(v):
    if v < 13:
        return v, b""
    if v < 269:
        return 13, bytes([v - 13])
    return 14, struct.pack(">H", v - 269)


def options(opts, payload=b""):
    out, prev = b"", 0
    for number, value in sorted(opts, key=lambda o: o[0]):
        dn, dx = ext(number - prev)
        ln, lx = ext(len(value))
        out += bytes([dn << 4 | ln]) + dx + lx + value
        prev = number
    return out + (b"\xff" + payload if payload else b"")


def path(p):
    return [(URI_PATH, s.encode()) for s in p.strip("/").split("/") if s]


def block(num, more, szx):
    return uint(num << 4 | (8 if more else 0) | szx)


def udp(t, code, mid, token=b"", opts=(), payload=b""):
    head = bytes([0x40 | t << 4 | len(token), code]) + struct.pack(">H", mid)
    return head + token + options(list(opts), payload)


def tcp(code, token=b"", opts=(), payload=b""):
    body = options(list(opts), payload)
    n = len(body)
    if n < 13:
        head = bytes([n << 4 | len(token)])
    elif n < 269:
        head = bytes([13 << 4 | len(token), n - 13])
    elif n < 65805:
        head = bytes([14 << 4 | len(token)]) + struct.pack(">H", n - 269)
    else:
        head = bytes([15 << 4 | len(token)]) + struct.pack(">I", n - 65805)
    return head + bytes([code]) + token + body


# --- endpoint harness input (endpoint_ops.h) -------------------------------

def setup(dedup_max_response_64=False, **kw):
    """The set-up block; zero bytes pick coapd's defaults (endpoint_harness.cc)."""
    b = bytearray(32)
    b[0:8] = struct.pack(">Q", kw.get("seed", 42))
    order = ["ack", "factor", "retransmit", "dedup", "max_response", "udp_sessions",
             "udp_timeout", "body", "tcp_sessions", "idle", "csm", "mms", "queued",
             "connect", "linger", "echo"]
    for i, name in enumerate(order):
        b[8 + i] = kw.get(name, 0)
    return bytes(b)


def op(code, args=b""):
    if len(args) < 255:
        return bytes([code, len(args)]) + args
    return bytes([code, 255]) + struct.pack(">H", len(args)) + args


# Common opcodes (both targets).
ADVANCE_MS, ADVANCE_S, JUMP, NEXT_TIMER, CLOSE_SESSION, SHUTDOWN = range(6)
# endpoint_udp.
U_RAW, U_BUILT, U_REPEAT, U_ANSWER, U_BURST, U_REQUEST = range(6, 12)
# endpoint_tcp.
(T_ACCEPT, T_RAW, T_FRAMES, T_CSM_FRAMES, T_PEER_CLOSE, T_ERROR, T_WRITABLE, T_WRITE,
 T_CONNECTED, T_REQUEST, T_OPEN) = range(6, 17)


def u16(v):
    return struct.pack(">H", v)


def dgram(peer, data):
    return op(U_RAW, bytes([peer]) + data)


def write_all(conn=0):
    return op(T_WRITE, bytes([conn, 3]))


def seg(conn, data):
    return op(T_RAW, bytes([conn]) + data)


def run(*ops, **kw):
    """The set-up block (keyword arguments as for setup()) and the operations."""
    return setup(**kw) + b"".join(ops)


def udp_seeds():
    t = b"\x01\x02"
    get_time = udp(CON, GET, 0x100, t, path("time"))
    time = path("time")
    echo = path("echo")
    return {
        "get_time": run(dgram(0, get_time)),
        "duplicate_con": run(dgram(0, get_time), op(ADVANCE_MS, u16(1500)), dgram(0, get_time)),
        "same_mid_other_request": run(dgram(0, udp(CON, PUT, 7, b"\x01", echo, b"one")),
                                      dgram(0, udp(CON, PUT, 7, b"\x02", echo, b"two"))),
        "non_request": run(dgram(1, udp(NON, GET, 0x200, t, time)),
                           dgram(1, udp(NON, GET, 0x200, t, time))),
        "non_critical_then_con": run(dgram(0, udp(NON, GET, 0x1234, b"", time + [(9, b"")])),
                                     dgram(0, udp(CON, GET, 0x1234, b"", time))),
        "ping": run(dgram(2, udp(CON, 0, 0x55, b""))),
        "rst_and_empty_ack": run(dgram(0, udp(RST, 0, 1)), dgram(0, udp(ACK, 0, 2))),
        "observe_time": run(dgram(0, udp(CON, GET, 1, t, time + [(OBSERVE, b"")])),
                            op(ADVANCE_S, u16(45)), op(U_ANSWER, bytes([0, 0, 1])),
                            op(JUMP, u16(50000))),
        # 64 observers of /echo (a burst of GETs with Observe), then a PUT.
        "observe_echo_put_burst": run(op(U_BURST, bytes([0, 63, 0, 0, 0, 1, 1, 0, 0])),
                                      dgram(1, udp(CON, PUT, 9, b"\x09", echo, b"x" * 20))),
        "block2_status": run(
            dgram(0, udp(CON, GET, 3, t, path("status"))),
            dgram(0, udp(CON, GET, 4, t, path("status") + [(BLOCK2, block(1, False, 6))]))),
        "block1_echo": run(
            dgram(0, udp(CON, PUT, 5, t, echo + [(BLOCK1, block(0, True, 0)), (SIZE1, uint(40))],
                         b"a" * 16)),
            dgram(0, udp(CON, PUT, 6, t, echo + [(BLOCK1, block(1, True, 0))], b"b" * 16)),
            dgram(0, udp(CON, PUT, 7, t, echo + [(BLOCK1, block(2, False, 0))], b"c" * 8))),
        "well_known_core": run(
            dgram(3, udp(CON, GET, 8, t, path(".well-known/core") + [(URI_QUERY, b"rt=time")]))),
        "options_galore": run(dgram(0, udp(CON, GET, 9, t, echo + [
            (ETAG, b"\x01\x02"), (CONTENT_FORMAT, uint(40)), (17, uint(0)),
            (NO_RESPONSE, uint(26)), (2048, b"x"), (SIZE2, uint(0))]))),
        "client_get_answered": run(op(U_REQUEST), op(U_ANSWER, bytes([0, 0, 2]))),
        "client_separate_response": run(op(U_REQUEST), op(U_ANSWER, bytes([0, 0, 0])),
                                        op(U_ANSWER, bytes([0, 0, 3, 1]))),
        # PUT of 3000 bytes to peer 1: answered 2.31 Continue, then 2.04.
        "client_put_block1": run(op(U_REQUEST, bytes([2, 1, 1, 0, 5])),
                                 op(U_ANSWER, bytes([1, 0, 2, 3])), op(U_ANSWER, bytes([1, 1, 2]))),
        "client_timeout_then_shutdown": run(op(U_REQUEST), op(ADVANCE_S, u16(100)), op(U_REQUEST),
                                            op(SHUTDOWN)),
        "sessions_evicted": run(*[dgram(p, udp(NON, GET, 10 + p, b"", time)) for p in range(4)],
                                op(ADVANCE_S, u16(400)), udp_sessions=3),
        "malformed": run(dgram(0, bytes([0x40, 1, 0, 1, 0xF0])), dgram(0, bytes([0x49, 1, 0, 2])),
                         dgram(0, b"\x80\x01\x00\x03")),
    }


def tcp_seeds():
    csm = tcp(CSM, b"", [(2, uint(4096)), (4, b"")])
    get_time = tcp(GET, b"\x07", path("time"))
    echo = path("echo")
    accept = op(T_ACCEPT, bytes([0]))
    return {
        "csm_get_time": run(accept, seg(0, csm + get_time), write_all()),
        "csm_split": run(accept, seg(0, csm[:2]), seg(0, csm[2:] + get_time[:3]),
                         seg(0, get_time[3:]), write_all()),
        "ping_pong": run(accept, seg(0, csm + tcp(PING, b"\x01", [(2, b"")]) + tcp(PONG)),
                         write_all()),
        "ping_before_csm_written": run(accept, seg(0, csm + tcp(PING)),
                                       op(T_WRITE, bytes([0, 1, 3])), write_all()),
        "release": run(accept, seg(0, csm + tcp(RELEASE, b"", [(2, b"192.0.2.9"), (4, uint(5))])),
                       write_all()),
        "abort": run(accept, seg(0, csm + tcp(ABORT, b"", [(2, uint(4))], b"bye"))),
        "no_csm": run(accept, seg(0, get_time), write_all()),
        "bad_csm_option": run(accept, seg(0, tcp(CSM, b"", [(9, b"")])), write_all()),
        "too_large": run(accept, seg(0, csm + bytes([0xF0, 0xFF, 0xFF, 0xFF, 0xFF])), write_all()),
        # An /echo answer of 1151 bytes, just under the default Max-Message-Size.
        "put_fills_1152": run(accept, seg(0, tcp(CSM, b"", [(4, b"")])
                                          + tcp(PUT, b"\x01", echo, b"x" * 1148)),
                              write_all(), seg(0, tcp(GET, b"\x02", echo)), write_all()),
        "len13_len14": run(accept, seg(0, csm + tcp(PUT, b"\x01", echo, b"x" * 100)
                                       + tcp(PUT, b"\x02", echo, b"y" * 400)), write_all()),
        "observe_time": run(accept,
                            seg(0, csm + tcp(GET, b"\x03", path("time") + [(OBSERVE, b"")])),
                            write_all(), op(ADVANCE_S, u16(5)), write_all()),
        "block2_bert": run(accept, seg(0, tcp(CSM, b"", [(2, uint(8192)), (4, b"")])
                                       + tcp(GET, b"\x04", path("status")
                                             + [(BLOCK2, block(0, False, 7))])), write_all()),
        "peer_close": run(accept, seg(0, csm + get_time[:4]), op(T_PEER_CLOSE, bytes([0])),
                          write_all()),
        "slow_reader": run(accept, seg(0, csm + get_time * 40), op(T_WRITE, bytes([0, 1, 10])),
                           op(T_WRITABLE), queued=1),
        "error": run(accept, seg(0, csm), op(T_ERROR, bytes([0, 0]))),
        "over_limit": run(accept, op(T_ACCEPT, bytes([1])), op(T_ACCEPT, bytes([2])), write_all(2),
                          tcp_sessions=2),
        "csm_timeout": run(accept, op(ADVANCE_S, u16(6)), write_all()),
        "idle_timeout": run(accept, seg(0, csm), write_all(), op(ADVANCE_S, u16(10)), write_all(),
                            idle=2),
        "client_request": run(op(T_REQUEST, bytes([0])), op(T_CONNECTED, bytes([0])),
                              op(T_CSM_FRAMES, bytes([0, 0, 0, 0, 2])), write_all(),
                              op(T_FRAMES, bytes([0, 0, 1])), write_all()),
        "call_home_listener": run(op(T_ACCEPT, bytes([1, 1])), seg(0, csm), write_all(),
                                  op(T_REQUEST, bytes([0, 0, 1])), write_all(),
                                  op(T_FRAMES, bytes([0, 0, 1]))),
        "outgoing_reconnect": run(op(T_OPEN, bytes([0, 0, 1])), op(T_ERROR, bytes([0, 0])),
                                  op(ADVANCE_S, u16(2)), op(T_CONNECTED, bytes([0])), seg(0, csm),
                                  write_all(), op(T_PEER_CLOSE), write_all(),
                                  op(ADVANCE_S, u16(3))),
        "outgoing_call_home": run(op(T_OPEN, bytes([1, 1, 1])), op(T_CONNECTED),
                                  seg(0, csm + get_time), write_all(), op(CLOSE_SESSION),
                                  write_all()),
        "connect_timeout": run(op(T_OPEN, bytes([2, 0, 1])), op(ADVANCE_S, u16(30)), connect=1),
        "shutdown": run(accept, seg(0, csm + get_time), op(SHUTDOWN), write_all()),
    }


def message_seeds():
    t = b"\xab\xcd"
    return {
        "con_get": udp(CON, GET, 0x7D34, b"", path("temperature")),
        "non_post": udp(NON, POST, 1, t, path("echo"), b"hello"),
        "ack_piggybacked": udp(ACK, CONTENT, 2, t, [(CONTENT_FORMAT, uint(0)), (14, uint(60))],
                               b"22.3 C"),
        "rst": udp(RST, 0, 3),
        "ping": udp(CON, 0, 4),
        "block1": udp(CON, PUT, 5, t,
                      path("echo") + [(BLOCK1, block(3, True, 6)), (SIZE1, uint(5000))], b"x" * 64),
        "block2": udp(CON, GET, 6, t, path("status") + [(BLOCK2, block(2, False, 2))]),
        "observe": udp(CON, GET, 7, bytes(range(1, 9)),
                       path("time") + [(OBSERVE, b""), (ETAG, b"\x01")]),
        "notification": udp(NON, CONTENT, 8, t,
                            [(OBSERVE, uint(0x1234)), (CONTENT_FORMAT, uint(0))], b"t"),
        "ext_delta_13_14": udp(CON, GET, 9, t, path("a") + [(NO_RESPONSE, uint(26)), (2048, b"")]),
        "ext_length_13_14": udp(CON, PUT, 10, t, [(URI_PATH, b"p" * 20), (URI_QUERY, b"q" * 300)]),
        "queries": udp(CON, GET, 11, t,
                       path(".well-known/core") + [(URI_QUERY, b"rt=time"), (URI_QUERY, b"")]),
        "bad_lengths": udp(CON, GET, 12, t, [(5, b"x"), (OBSERVE, b"\x01\x02\x03\x04")]),
        "truncated_token": bytes([0x48, 1, 0, 13, 1, 2]),
        "payload_marker_only": bytes([0x40, 1, 0, 14, 0xFF]),
        "tkl_9": bytes([0x49, 1, 0, 15]) + b"\x00" * 9,
        "delta_15": bytes([0x40, 1, 0, 16, 0xF1, 0]),
        "number_past_65535": bytes([0x40, 1, 0, 17, 0xE0, 0xFE, 0xFF]),
        "signal_over_udp": udp(CON, CSM, 18, b"", [(2, uint(1152))]),
    }


def tcp_stream_seeds():
    csm = tcp(CSM, b"", [(2, uint(1152)), (4, b"")])
    frames = [csm, tcp(PING, b"\x01", [(2, b"")]), tcp(PONG, b"\x01"),
              tcp(RELEASE, b"", [(2, b"192.0.2.1"), (4, uint(30))]),
              tcp(ABORT, b"", [(2, uint(9))], b"diagnostic"),
              tcp(GET, b"\x01\x02", path("time")),
              tcp(CONTENT, b"\x01\x02", [(CONTENT_FORMAT, b"")], b"y" * 40),   # Len 13
              tcp(PUT, b"\x03", path("echo"), b"z" * 300)]                       # Len 14
    # limit index (tcp_stream.cc kLimits), piece spec, piece lengths, stream.
    s = {
        "signals_at_once": bytes([2, 0]) + b"".join(frames[:5]),
        "signals_in_pieces": bytes([2, 5, 1, 3, 7, 0, 20]) + b"".join(frames[:5]),
        "messages_bytewise": bytes([4, 0x80]) + b"".join(frames[5:]),
        "len15_header_only": bytes([4, 2, 3, 1, 0xF2, 0x00, 0x00, 0x00, 0x10, 0x45, 1, 2]),
        "len15_too_large": bytes([2, 1, 2]) + bytes([0xF0, 0x00, 0x01, 0x00, 0x00]),
        "len14_too_large": bytes([1, 0]) + csm + bytes([0xE0, 0x01, 0x00]),
        "bad_tkl": bytes([2, 0]) + csm + bytes([0x09, 0x01]),
        "bad_options": bytes([2, 1, 3]) + csm + bytes([0x20, 0x01, 0xF0, 0x00]),
    }
    return s


def uri_seeds():
    return {f"u{i}": u.encode() for i, u in enumerate([
        "coap://192.0.2.1/time", "coap+tcp://[2001:db8::1]:61616/a/b?x=1&rt=time",
        "coap://[fe80::1%25coap0]:5683/x", "coap://[fe80::1%252]/",
        "coap://192.0.2.1/a%2Fb/%41?k%3Dv=%26",
        "coap://192.0.2.1/a//b/?q&", "coap://192.0.2.1:65535", "coaps://192.0.2.1/",
        "coap://example.com/", "coap://[::ffff:192.0.2.1]/%2E%2E/..", "coap://2001:db8::1/"])}


def config_seeds():
    return {f"c{i}": c.encode() for i, c in enumerate([
        'tap = "coap0"\naddress = "192.0.2.2/24"\n',
        'session = ["coap+tcp://192.0.2.1:5684,call-home,reconnect-interval=1,'
        'reconnect-max-interval=30"]\n',
        "ack-timeout = 2\nack-random-factor = 1.5\nmax-retransmit = 4\nmax-udp-sessions = 4096\n",
        "udp_session_timeout = 300\nmax_tcp_sessions = 256\n"
        "tcp-idle-timeout = 0\ncsm-timeout = 5\n",
        "max-message-size = 1152\nmax-queued-bytes = 1048576\n"
        "connect-timeout = 10\nmax-time-wait = 0\n",
        'ipv6 = "fd00:c0a9::2/64"\nhost-ipv6 = "fd00:c0a9::1/64"\n'
        'mac = "02:00:00:00:00:01"\nhost-address = "none"\n',
        'control-socket = "/run/coapd/coapd.sock"\nlog-level = "debug"\n'
        'debug-commands = true\ncpu-placement = "shared"\n',
        "[section]\nkey = 1\n", "tap = \"a\"\ntap = \"b\"\n", "config = \"/etc/x\"\n",
        "session = coap+tcp://192.0.2.1,call-home\n", "max-retransmit = [1, 2]\n",
        "# comment\n\n gateway = 192.0.2.254\n",
        "udp-port = 0\ntcp-port = 65536\n", "call-home-listen = 5684\n"])}


def link_format_seeds():
    return {f"q{i}": q.encode() for i, q in enumerate(
        ["", "rt=time", "href=/e*", "href=/time", "obs", "obs=*", "ct=0", "if=sensor", "rt=*",
         "rt=temperature-c", "title=\"x=y\"", "href=/a*b*"])}


def control_seeds():
    """Lines for the control socket: every command, and answers coapctl decodes."""
    sec = '"security":{"psk_identity":"dev","psk_key_b64":"c2VjcmV0","insecure":true}'
    lines = [
        '{"v":1,"id":1,"cmd":"status"}', '{"v":1,"id":2,"cmd":"stats"}',
        '{"v":1,"id":3,"cmd":"sessions"}', '{"v":1,"id":4,"cmd":"events","follow":true}',
        '{"v":1,"id":5,"cmd":"request","method":"PUT","uri":"coap://192.0.2.1/echo",'
        '"payload_b64":"aGk=","content_format":0,"accept":50,"timeout":2.5,"session":3}',
        '{"v":1,"id":6,"cmd":"request","method":"GET","uri":"coaps://[fe80::1%25coap0]/x",'
        + sec + '}',
        '{"v":1,"id":7,"cmd":"connect","uri":"coap+tcp://192.0.2.1","call_home":true,'
        '"reconnect_interval":1,"reconnect_max_interval":30,"reconnect_attempts":3}',
        '{"v":1,"id":8,"cmd":"connect","uri":"coaps+tcp://192.0.2.1",' + sec + '}',
        '{"v":1,"id":9,"cmd":"close","session":4}',
        '{"v":1,"id":10,"cmd":"debug_stall","seconds":0.5}',
        '{"v":1,"id":11,"cmd":"debug_timer_probe","interval_ms":10,"count":5}',
        '{"v":1,"id":12,"ok":true,"result":{"status":"response","session":1,"code":"2.05",'
        '"code_name":"Content","options":[{"number":12,"name":"Content-Format","format":"uint",'
        '"value":0},{"number":4,"name":"ETag","format":"opaque","value":"0a0b"}],'
        '"payload_b64":"aGk="}}',
        '{"v":1,"id":13,"ok":true,"result":{"events":[{"time":"2026-11-29T01:31:18Z",'
        '"event":"session_failed","session_id":2,"peer":"192.0.2.1:5683","reason":"x",'
        '"attempt":1}]}}',
        '{"v":1,"id":14,"ok":true,"result":{"session":5,"existing":false}}',
        '{"v":1,"id":15,"ok":true,"result":{"interval_ms":10,"count":5,"early":0,'
        '"lateness_us":{"count":5,"p50":1.5,"p99":9,"max":12},"min_lateness_us":0.5}}',
        '{"v":2,"id":16,"cmd":"status"}', '{"v":1,"cmd":"nope"}', "[1,2]", "not json",
    ]
    seeds = {f"l{i}": b"\x00" + line.encode() + b"\n" for i, line in enumerate(lines)}
    seeds["many"] = b"\x10" + "\r\n".join(lines[:4]).encode() + b"\r\n"
    return seeds


def dtls_seeds():
    """dtls_record inputs: a mode byte (3: TLS), 4 set-up bytes, then operations."""
    DELIVER, CORRUPT, DUP, DROP, RAW, ANSWER, ADVANCE, WRITE, CLOSE, RESTART = range(10)

    def hs(rounds=4):
        return b"".join(op(DELIVER) + op(DELIVER) + op(DELIVER) + op(ANSWER)
                        for _ in range(rounds))
    talk = op(WRITE, b"\x00" + udp(CON, GET, 1, b"t", path("/time"))) + op(DELIVER) + \
        op(WRITE, b"\x01" + udp(ACK, CONTENT, 1, b"t", (), b"now")) + op(ANSWER)
    seeds = {}
    for mode, name in ((0, "dtls"), (3, "tls")):
        head = bytes([mode]) + bytes(4)
        seeds[f"{name}_handshake"] = head + hs()
        seeds[f"{name}_talk_close"] = head + hs() + talk + op(CLOSE) + op(DELIVER)
        seeds[f"{name}_server_close"] = head + hs() + talk + op(CLOSE, b"\x01") + op(ANSWER)
        seeds[f"{name}_corrupt"] = head + op(DELIVER) + op(ANSWER) + \
            op(CORRUPT, b"\x00\x00\x30\x01") + op(ANSWER) + hs()
        seeds[f"{name}_timers"] = head + op(DELIVER) + op(ANSWER) + op(DELIVER) + \
            op(ADVANCE, u16(1000)) + op(ADVANCE, u16(3000)) + op(ANSWER, b"\x01") + hs()
    seeds["dtls_dup_drop"] = bytes(5) + op(DELIVER) + op(DUP) + op(ANSWER) + op(DROP) + \
        op(RESTART) + hs() + op(DUP) + talk
    seeds["dtls_stranger"] = bytes(5) + op(RAW, b"\x01\x16\xfe\xfd" + bytes(20)) + \
        op(RAW, b"\x00\x17\xfe\xfd\x00\x01" + bytes(8)) + hs()
    seeds["dtls_no_room"] = bytes([0, 3, 0, 0, 0]) + hs()
    return seeds


def main():
    out = sys.argv[1]
    targets = {
        "udp_message": message_seeds(), "differential_udp": message_seeds(),
        "tcp_stream": tcp_stream_seeds(), "uri": uri_seeds(), "config_file": config_seeds(),
        "link_format_query": link_format_seeds(), "endpoint_udp": udp_seeds(),
        "endpoint_tcp": tcp_seeds(), "control_request": control_seeds(),
        "dtls_record": dtls_seeds(),
    }
    for target, seeds in targets.items():
        d = os.path.join(out, target)
        os.makedirs(d, exist_ok=True)
        for name, data in seeds.items():
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)


if __name__ == "__main__":
    main()
