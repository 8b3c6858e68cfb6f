"""The Debian package (issue 13, item 3): scripts/package.sh builds it, and it
is only unpacked into scratch roots here, never installed on the machine."""

import gzip
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from netlab import BUILD, ROOT, SANITIZER, run


@pytest.fixture(scope="module")
def deb():
    if SANITIZER:
        pytest.skip("the package is built from the plain build")
    r = run([str(ROOT / "scripts" / "package.sh")], check=False, timeout=900,
            env=dict(os.environ, BUILD_DIR=str(BUILD)))
    assert r.returncode == 0, r.stdout + r.stderr
    path = Path(r.stdout.strip().splitlines()[-1])
    assert re.fullmatch(r"coapd_\d+\.\d+\.\d+_[a-z0-9]+\.deb", path.name), path
    return path if path.is_absolute() else ROOT / path


def test_deb_contents(deb):
    listing = run(["dpkg-deb", "-c", str(deb)]).stdout
    for path in ("./usr/sbin/coapd", "./usr/bin/coapctl", "./lib/systemd/system/coapd.service",
                 "./etc/coapd/coapd.conf", "./usr/share/man/man8/coapd.8.gz",
                 "./usr/share/man/man5/coapd.conf.5.gz", "./usr/share/man/man1/coapctl.1.gz",
                 "./usr/share/bash-completion/completions/coapctl",
                 "./usr/share/bash-completion/completions/coapd",
                 "./usr/share/doc/coapd/copyright"):
        assert re.search(rf" {re.escape(path)}$", listing, re.M), path
    assert "root/root" in listing and "/usr/lib/systemd" not in listing
    assert run(["dpkg-deb", "-f", str(deb), "Package"]).stdout.strip() == "coapd"
    depends = run(["dpkg-deb", "-f", str(deb), "Depends"]).stdout
    assert "libc6" in depends and "libuv1" in depends, depends


def test_deb_unpacked_unit_names_paths_that_exist_and_verifies(deb, tmp_path):
    root = tmp_path / "root"
    run(["dpkg-deb", "-x", str(deb), str(root)])
    ctrl = tmp_path / "ctrl"
    run(["dpkg-deb", "-e", str(deb), str(ctrl)])
    assert (ctrl / "conffiles").read_text().split() == ["/etc/coapd/coapd.conf"]
    assert "addgroup --quiet --system coapd" in (ctrl / "postinst").read_text()
    unit = (root / "lib/systemd/system/coapd.service").read_text()
    exec_line = [l for l in unit.splitlines() if l.startswith("ExecStart=")][0]
    words = exec_line.split("=", 1)[1].split()
    binary, conf = words[0], words[words.index("--config") + 1]
    assert (binary, conf) == ("/usr/sbin/coapd", "/etc/coapd/coapd.conf")
    assert (root / binary.lstrip("/")).is_file() and (root / conf.lstrip("/")).is_file()
    assert "Group=coapd" in unit
    # The unpacked coapd runs (its libraries are this machine's).
    assert run([str(root / "usr/sbin/coapd"), "--version"]).stdout.startswith("coapd ")
    # systemd checks the unit against the unpacked tree.
    copy = tmp_path / "coapd.service"
    copy.write_text(unit.replace(binary, str(root / binary.lstrip("/"))))
    r = run(["systemd-analyze", "verify", str(copy)], check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    with gzip.open(root / "usr/share/man/man8/coapd.8.gz") as f:
        assert f.read() == (BUILD / "man" / "coapd.8").read_bytes()


def test_lintian_reports_no_errors(deb):
    if not shutil.which("lintian"):
        pytest.skip("lintian is not installed (scripts/install-deps.sh installs it)")
    r = subprocess.run(["lintian", "--tag-display-limit", "0", str(deb)], capture_output=True,
                       text=True, timeout=600)
    errors = [l for l in r.stdout.splitlines() if l.startswith("E:")]
    assert not errors, r.stdout
