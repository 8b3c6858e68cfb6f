"""Man pages (issue 13, item 4): generated from the tables that make --help,
rendering without warnings, installed by cmake --install (to a scratch root)."""

import os
import re

import pytest

from netlab import BUILD, COAPCTL, COAPD, run

PAGES = {"coapd.8": "man8", "coapd.conf.5": "man5", "coapctl.1": "man1"}


def render_warnings(path):
    """groff's warnings (all of them, -ww) and man's, for one page."""
    g = run(["groff", "-ww", "-man", "-Tutf8", "-z", str(path)], check=False)
    m = run(["man", "--warnings", "-l", str(path)], check=False,
            env={**{k: v for k, v in os.environ.items() if k != "MAN_KEEP_FORMATTING"},
                 "MANWIDTH": "80"})
    return g.returncode, g.stderr + m.stderr, m.stdout


@pytest.mark.parametrize("page", sorted(PAGES))
def test_man_page_renders_without_warnings(page):
    rc, warnings, text = render_warnings(BUILD / "man" / page)
    assert rc == 0 and warnings == "", warnings
    assert len(text) > 500


def test_man_pages_come_from_the_help_tables():
    # Every option --help names is in coapd(8), every key in coapd.conf(5),
    # every coapctl command and option in coapctl(1): one source.
    def rendered(page):
        return render_warnings(BUILD / "man" / page)[2].replace("\u2010", "-")
    coapd_help = run([str(COAPD), "--help"]).stdout
    options = set(re.findall(r"--[a-z0-9-]+", coapd_help))
    assert len(options) > 30
    for page in ("coapd.8", "coapd.conf.5"):
        text = rendered(page)
        missing = [o for o in options if o not in text and o not in ("--help", "--version",
                                                                     "--config")]
        assert not missing, (page, missing)
    ctl_help = run([str(COAPCTL), "--help"]).stdout
    text = rendered("coapctl.1")
    for word in set(re.findall(r"--[a-z0-9-]+", ctl_help.split("COMMANDS")[1])):
        assert word in text, word
    for command in ("status", "stats", "sessions", "events", "connect", "close"):
        assert re.search(rf"^\s+{command}\b", text, re.M), command


def test_cmake_install_puts_the_man_pages_in_place(tmp_path):
    r = run(["cmake", "--install", str(BUILD), "--prefix", str(tmp_path)], check=False)
    assert r.returncode == 0, r.stderr
    for page, section in PAGES.items():
        installed = tmp_path / "share" / "man" / section / page
        assert installed.read_bytes() == (BUILD / "man" / page).read_bytes()
