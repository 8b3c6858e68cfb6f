"""User resources against a real coapd in a namespace, with Debian's
coap-client-notls as the peer: config entries, coapctl resource
list/add/set/delete, observe notifications over UDP and TCP when coapctl
changes a value, 4.04 to observers on delete, ETags and conditional
requests, separate responses, and FETCH/PATCH/iPATCH on a JSON resource."""
import json
import os
import time

import pytest

from netlab import Coapd, coap_client, coap_payload, wait_for

BASE = "coap://192.0.2.2"
TEMP = "/sensors/temp,ct=0,rt=temperature-c,if=core.s,obs,methods=get|put,value=21.5"


def resources(d):
    return {r["path"]: r for r in d.ctl_json("resource", "list")["resources"]}


@pytest.fixture
def device(ns):
    d = Coapd(ns, args=["--resource", TEMP,
                        "--resource", "/slow,delay=800,value=late",
                        "--resource", '/cfg,ct=50,methods=get|fetch|patch|ipatch,'
                                      'value={"a":1,"b":{"c":2}}'])
    try:
        yield d
    finally:
        assert d.stop() == 0, d.read_log()


def test_config_resources_are_served_discovered_and_listed(ns, device):
    data, err = coap_payload(ns, "-B", "5", f"{BASE}/sensors/temp")
    assert data == b"21.5", err
    core = coap_client(ns, "-B", "5", f"{BASE}/.well-known/core?rt=temperature-c").stdout.decode()
    assert core.strip() == '</sensors/temp>;ct=0;rt="temperature-c";if="core.s";obs', core
    listed = resources(device)
    t = listed["/sensors/temp"]
    assert t["source"] == "config" and t["ct"] == 0 and t["observable"] is True, t
    assert t["methods"] == "get|put" and t["size"] == 4 and len(t["etag"]) == 16, t
    assert listed["/time"]["source"] == "builtin", listed["/time"]
    human = device.ctl("resource", "list")
    assert human.returncode == 0 and "/sensors/temp" in human.stdout, human
    assert human.stdout.splitlines()[0].split()[:3] == ["PATH", "SOURCE", "CT"], human.stdout


def test_observers_over_udp_and_tcp_see_every_set(ns, device):
    udp = ns.popen(["coap-client-notls", "-B", "8", "-s", "8", f"{BASE}/sensors/temp"])
    tcp = ns.popen(["coap-client-notls", "-B", "8", "-s", "8", "coap+tcp://192.0.2.2/sensors/temp"])
    try:
        wait_for(lambda: resources(device)["/sensors/temp"]["observers"] == 2,
                 message="two observers")
        for v in ("22.0", "22.5", "23.0"):
            r = device.ctl("resource", "set", "/sensors/temp", "--value", v)
            assert r.returncode == 0, r.stderr
            time.sleep(0.3)
        outs = [p.communicate(timeout=30)[0].decode() for p in (udp, tcp)]
    finally:
        for p in (udp, tcp):
            if p.poll() is None:
                p.kill()
    # coap-client prints each payload as it comes, with nothing between.
    for out in outs:
        assert out.strip().startswith("21.522.022.523.0"), out


def test_runtime_add_put_delete_and_builtins_refused(ns, device):
    r = device.ctl("resource", "add", "/led", "--methods", "get|put|delete", "--value", "off",
                   "--rt", "light")
    assert r.returncode == 0, r.stderr
    assert coap_payload(ns, "-B", "5", f"{BASE}/led")[0] == b"off"
    coap_client(ns, "-B", "5", "-m", "put", "-e", "on", f"{BASE}/led")
    assert coap_payload(ns, "-B", "5", f"{BASE}/led")[0] == b"on"
    assert resources(device)["/led"]["source"] == "runtime"

    taken = device.ctl("resource", "add", "/led")
    assert taken.returncode == 1 and "exists already" in taken.stderr, taken
    for args in (("delete", "/time"), ("set", "/echo", "--value", "x"), ("add", "/status")):
        r = device.ctl("resource", *args)
        assert r.returncode == 1 and "built in" in r.stderr, (args, r.stderr)
    bad = device.ctl("resource", "add", "/a//b")
    assert bad.returncode == 1 and "empty segment" in bad.stderr, bad
    usage = device.ctl("resource", "set", "/led")
    assert usage.returncode == 2, usage

    coap_client(ns, "-B", "5", "-m", "delete", f"{BASE}/led")
    _, err = coap_payload(ns, "-B", "5", f"{BASE}/led")
    assert "4.04" in err, err
    assert "/led" not in resources(device)
    gone = device.ctl("resource", "delete", "/led")
    assert gone.returncode == 1 and "no resource /led" in gone.stderr, gone


def test_delete_sends_404_to_observers(ns, device):
    r = device.ctl("resource", "add", "/tmp1", "--obs", "--value", "x")
    assert r.returncode == 0, r.stderr
    obs = ns.popen(["coap-client-notls", "-B", "6", "-s", "6", f"{BASE}/tmp1"])
    try:
        wait_for(lambda: resources(device)["/tmp1"]["observers"] == 1, message="observer")
        assert device.ctl("resource", "delete", "/tmp1").returncode == 0
        wait_for(lambda: device.stats()["observations"] == 0, message="observation removed")
        out = obs.communicate(timeout=30)[0].decode()
    finally:
        if obs.poll() is None:
            obs.kill()
    assert "4.04" in out, out


def test_etag_valid_and_preconditions(ns, device):
    etag = resources(device)["/sensors/temp"]["etag"]
    r = coap_client(ns, "-v", "6", "-B", "5", "-O", f"4,0x{etag}", f"{BASE}/sensors/temp")
    out = r.stdout.decode()
    assert "c:2.03" in out, out
    r = coap_client(ns, "-B", "5", "-m", "put", "-e", "30", "-O", "1,0x0102", f"{BASE}/sensors/temp")
    assert b"4.12" in r.stderr, r
    assert coap_payload(ns, "-B", "5", f"{BASE}/sensors/temp")[0] == b"21.5"
    r = coap_client(ns, "-B", "5", "-m", "put", "-e", "30", "-O", f"1,0x{etag}",
                    f"{BASE}/sensors/temp")
    assert b"4.12" not in r.stderr, r
    assert coap_payload(ns, "-B", "5", f"{BASE}/sensors/temp")[0] == b"30"
    assert resources(device)["/sensors/temp"]["etag"] != etag


def test_separate_response_is_empty_ack_then_con(ns, device):
    start = time.monotonic()
    r = coap_client(ns, "-v", "7", "-B", "5", f"{BASE}/slow")
    took = time.monotonic() - start
    out = r.stdout.decode() + r.stderr.decode()
    assert "late" in out, out
    assert took >= 0.8, took
    # The empty ACK came first, then the response as a CON of its own.
    assert "t:ACK c:0.00" in out and "t:CON c:2.05" in out, out


def test_fetch_patch_ipatch_on_json(ns, device):
    data, err = coap_payload(ns, "-B", "5", "-m", "fetch", "-t", "50", "-e", '["/b/c"]',
                             f"{BASE}/cfg")
    assert json.loads(data) == {"b": {"c": 2}}, err
    coap_client(ns, "-B", "5", "-m", "patch", "-t", "51", "-e",
                '[{"op":"replace","path":"/a","value":7}]', f"{BASE}/cfg")
    coap_client(ns, "-B", "5", "-m", "ipatch", "-t", "52", "-e", '{"b":null}', f"{BASE}/cfg")
    data, _ = coap_payload(ns, "-B", "5", f"{BASE}/cfg")
    assert json.loads(data) == {"a": 7}, data
    r = coap_client(ns, "-B", "5", "-m", "patch", "-t", "51", "-e",
                    '[{"op":"remove","path":"/zz"}]', f"{BASE}/cfg")
    assert b"4.22" in r.stderr, r
    r = coap_client(ns, "-B", "5", "-m", "fetch", "-t", "50", "-e", '{"x":1}', f"{BASE}/cfg")
    assert b"4.00" in r.stderr, r


def test_no_response_suppresses_2xx(ns, device):
    r = coap_client(ns, "-v", "7", "-B", "3", "-m", "put", "-e", "19.0", "-O", "258,0x02",
                    f"{BASE}/sensors/temp")
    out = r.stdout.decode() + r.stderr.decode()
    assert "c:2.04" not in out, out
    assert coap_payload(ns, "-B", "5", f"{BASE}/sensors/temp")[0] == b"19.0"
    assert device.stats()["counters"]["responses_suppressed"] == 1
    # Only 2.xx was suppressed: an error still comes.
    r = coap_client(ns, "-B", "3", "-O", "258,0x02", f"{BASE}/nothing-here")
    assert b"4.04" in r.stderr, r


def test_blockwise_large_value_both_directions(ns, device):
    body = bytes(ord("a") + (i * 7) % 26 for i in range(3000))
    src = f"/tmp/{ns.name}-big"
    with open(src, "wb") as f:
        f.write(body)
    try:
        r = device.ctl("resource", "add", "/big", "--methods", "get|put", "--ct", "42",
                       "--file", src)
        assert r.returncode == 0, r.stderr
        data, err = coap_payload(ns, "-B", "10", "-b", "64", f"{BASE}/big")
        assert data == body, err
        with open(src, "wb") as f:
            f.write(body[::-1])
        coap_client(ns, "-B", "10", "-b", "64", "-m", "put", "-f", src, f"{BASE}/big")
        data, err = coap_payload(ns, "-B", "10", f"{BASE}/big")
        assert data == body[::-1], err
        assert resources(device)["/big"]["size"] == 3000
    finally:
        os.unlink(src)


def test_bad_resource_entry_exits_2_naming_entry_and_key(ns):
    d = Coapd(ns, args=["--resource", "/x,colour=red"], wait_ready=False)
    rc = d.proc.wait(timeout=10)
    log = d.read_log()
    d.stop()
    assert rc == 2, log
    assert "'/x,colour=red'" in log and "key 'colour'" in log, log
