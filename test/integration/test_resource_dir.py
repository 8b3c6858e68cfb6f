"""--resource-dir against a real coapd in a namespace, with Debian's
coap-client-notls as the peer: files served at their relative paths with
the content-format their names say, PUT/POST/DELETE reaching the files, a
change made on disk notifying an observer, and every escape attempt ('..'
plain and percent-encoded, an absolute path, symbolic links out of the
directory) refused with 4.03 with nothing outside the directory touched."""
import hashlib
import os
import time
from pathlib import Path

import pytest

from netlab import Coapd, coap_client, coap_payload, wait_for

BASE = "coap://192.0.2.2"


def resources(d):
    return {r["path"]: r for r in d.ctl_json("resource", "list")["resources"]}


def snapshot(root):
    """Every entry below root (links not followed) with its content hash and mtime."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in dirnames + filenames:
            p = Path(dirpath, name)
            st = p.lstat()
            data = b"" if p.is_symlink() or p.is_dir() else p.read_bytes()
            out[str(p.relative_to(root))] = (st.st_mode, st.st_mtime_ns,
                                             hashlib.sha256(data).hexdigest(),
                                             os.readlink(p) if p.is_symlink() else None)
    return out


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "res"
    (root / "sensors").mkdir(parents=True)
    (root / "sensors" / "temp.txt").write_bytes(b"21.5")
    (root / "cfg.json").write_bytes(b'{"a":1,"b":2}')
    (root / "all.senml.json").write_bytes(b"[]")
    (root / "blob").write_bytes(b"\x00\x01")
    (root / "inbox").mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"secret")
    # Symbolic links out of the directory: to a directory and to a file.
    (root / "out").symlink_to(outside)
    (root / "pw.txt").symlink_to(outside / "secret.txt")
    return root, outside


@pytest.fixture
def device(ns, tree):
    root, _ = tree
    d = Coapd(ns, args=["--resource-dir", str(root), "--max-resource-size", "64"])
    try:
        yield d
    finally:
        assert d.stop() == 0, d.read_log()


def test_files_are_served_with_the_format_their_name_says(ns, device, tree):
    data, err = coap_payload(ns, "-B", "5", f"{BASE}/sensors/temp.txt")
    assert data == b"21.5", err
    listed = resources(device)
    expect = {"/sensors/temp.txt": 0, "/cfg.json": 50, "/all.senml.json": 110, "/blob": 42}
    for path, ct in expect.items():
        assert listed[path]["source"] == "dir" and listed[path]["ct"] == ct, listed[path]
        assert listed[path]["observable"] is True, listed[path]
    assert "/pw.txt" not in listed and "/out" not in listed, listed.keys()
    core = coap_client(ns, "-B", "5", f"{BASE}/.well-known/core").stdout.decode()
    assert "</sensors/temp.txt>;ct=0;obs" in core, core
    # FETCH on a JSON file, as on any JSON resource.
    data, err = coap_payload(ns, "-B", "5", "-m", "fetch", "-t", "50", "-e", '["/b"]',
                             f"{BASE}/cfg.json")
    assert data == b'{"b":2}', err


def test_put_post_delete_reach_the_files(ns, device, tree):
    root, _ = tree
    coap_client(ns, "-B", "5", "-m", "put", "-e", "22.0", f"{BASE}/sensors/temp.txt")
    assert (root / "sensors" / "temp.txt").read_bytes() == b"22.0"
    assert not [p for p in root.rglob(".coapd-tmp-*")], "temporary file left behind"
    assert coap_payload(ns, "-B", "5", f"{BASE}/sensors/temp.txt")[0] == b"22.0"

    r = coap_client(ns, "-v", "6", "-B", "5", "-m", "post", "-t", "0", "-e", "hello",
                    f"{BASE}/inbox")
    out = r.stdout.decode() + r.stderr.decode()
    assert "c:2.01" in out, out
    created = list((root / "inbox").iterdir())
    assert [p.name for p in created] == ["1.txt"], created
    assert created[0].read_bytes() == b"hello"
    assert coap_payload(ns, "-B", "5", f"{BASE}/inbox/1.txt")[0] == b"hello"

    coap_client(ns, "-B", "5", "-m", "put", "-e", "new", f"{BASE}/inbox/fresh.txt")
    assert (root / "inbox" / "fresh.txt").read_bytes() == b"new"
    assert resources(device)["/inbox/fresh.txt"]["source"] == "dir"

    coap_client(ns, "-B", "5", "-m", "delete", f"{BASE}/inbox/1.txt")
    assert not (root / "inbox" / "1.txt").exists()
    _, err = coap_payload(ns, "-B", "5", f"{BASE}/inbox/1.txt")
    assert "4.04" in err, err

    r = coap_client(ns, "-B", "5", "-m", "put", "-e", "x" * 65, f"{BASE}/sensors/temp.txt")
    assert b"4.13" in r.stderr, r
    assert (root / "sensors" / "temp.txt").read_bytes() == b"22.0"


def test_a_change_on_disk_notifies_an_observer(ns, device, tree):
    root, _ = tree
    obs = ns.popen(["coap-client-notls", "-B", "8", "-s", "8", f"{BASE}/sensors/temp.txt"])
    try:
        wait_for(lambda: resources(device)["/sensors/temp.txt"]["observers"] == 1,
                 message="an observer")
        # Written in place, then replaced by rename (as editors do).
        (root / "sensors" / "temp.txt").write_bytes(b"23.0")
        wait_for(lambda: resources(device)["/sensors/temp.txt"]["size"] == 4 and
                 coap_payload(ns, "-B", "3", f"{BASE}/sensors/temp.txt")[0] == b"23.0",
                 message="new value served")
        tmp = root / "sensors" / ".edit"
        tmp.write_bytes(b"24.5")
        os.rename(tmp, root / "sensors" / "temp.txt")
        wait_for(lambda: coap_payload(ns, "-B", "3", f"{BASE}/sensors/temp.txt")[0] == b"24.5",
                 message="renamed value served")
        out = obs.communicate(timeout=30)[0].decode()
    finally:
        if obs.poll() is None:
            obs.kill()
    assert out.strip().startswith("21.523.024.5"), out


def test_files_and_directories_made_or_removed_on_disk(ns, device, tree):
    root, _ = tree
    (root / "late").mkdir()
    (root / "late" / "v.txt").write_bytes(b"v")
    wait_for(lambda: "/late/v.txt" in resources(device), message="new directory's file")
    assert coap_payload(ns, "-B", "5", f"{BASE}/late/v.txt")[0] == b"v"
    # The new directory is watched too.
    (root / "late" / "w.json").write_bytes(b"{}")
    wait_for(lambda: "/late/w.json" in resources(device), message="file in new directory")
    (root / "blob").unlink()
    wait_for(lambda: "/blob" not in resources(device), message="removed file gone")
    (root / "late" / "v.txt").unlink()
    (root / "late" / "w.json").unlink()
    (root / "late").rmdir()
    wait_for(lambda: not [p for p in resources(device) if p.startswith("/late/")],
             message="removed directory's files gone")
    # Larger than --max-resource-size on disk: not served.
    (root / "huge.txt").write_bytes(b"y" * 65)
    (root / "small.txt").write_bytes(b"ok")
    wait_for(lambda: "/small.txt" in resources(device), message="small file")
    assert "/huge.txt" not in resources(device)


ESCAPES = [
    # (coap-client arguments naming the target, what it tries)
    (["-O", "11,..", "-O", "11,outside", "-O", "11,secret.txt", BASE], ".. segment"),
    ([f"{BASE}/%2E%2E/outside/secret.txt"], "percent-encoded .."),
    ([f"{BASE}/sensors/%2e%2e/%2e%2e/outside/secret.txt"], "percent-encoded .. deeper"),
    (["-O", "11,/etc/passwd", BASE], "absolute path in one segment"),
    ([f"{BASE}/%2Fetc%2Fpasswd"], "percent-encoded absolute path"),
    ([f"{BASE}/out/secret.txt"], "symlink to a directory outside"),
    ([f"{BASE}/out/new.txt"], "new file through the symlink"),
    ([f"{BASE}/pw.txt"], "symlink to a file outside"),
]


@pytest.mark.parametrize("target,what", ESCAPES, ids=[e[1] for e in ESCAPES])
def test_escapes_are_refused_and_nothing_outside_is_touched(ns, device, tree, target, what):
    root, outside = tree
    before_out, before_in = snapshot(outside), snapshot(root)
    for method in ("get", "put", "post", "delete"):
        payload = ["-e", "pwned"] if method in ("put", "post") else []
        r = coap_client(ns, "-B", "5", "-m", method, *payload, *target)
        assert b"4.03" in r.stderr, (what, method, r.stdout, r.stderr)
        assert b"secret" not in r.stdout, (what, method, r.stdout)
    assert snapshot(outside) == before_out, what
    assert snapshot(root) == before_in, what
    assert (root / "pw.txt").is_symlink() and (root / "out").is_symlink()
    assert (outside / "secret.txt").read_bytes() == b"secret"
    assert not (outside / "new.txt").exists()


def test_missing_resource_dir_exits_2(ns, tmp_path):
    d = Coapd(ns, args=["--resource-dir", str(tmp_path / "nope")], wait_ready=False)
    rc = d.proc.wait(timeout=10)
    log = d.read_log()
    d.stop()
    assert rc == 2, log
    assert "is not a directory" in log, log
