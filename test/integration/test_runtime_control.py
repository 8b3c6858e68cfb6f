"""Runtime control (issue 13, item 7): `coapctl log-level` changes the log
level at once; SIGHUP and `coapctl reload` re-read the config file and apply
the log level, session and resource entries, report keys that need a restart, and
change nothing when the file is bad."""

import signal

from netlab import COAP_CLIENT, COAP_SERVER, Coapd, coap_payload, wait_for


def audit_lines(d, needle):
    return [l for l in d.read_log().splitlines() if needle in l]


def test_log_level_changes_at_once(ns, coapd):
    r = coapd.ctl("log-level", "warn")
    assert r.returncode == 0 and r.stdout == "log level warn (was info)\n", r
    # The audit line of a state-changing command is logged at info.
    assert coapd.ctl("close", "9991").returncode == 1
    assert coapd.ctl("log-level", "info").stdout == "log level info (was warn)\n"
    assert coapd.ctl("close", "9992").returncode == 1
    assert not audit_lines(coapd, "session=9991")
    assert audit_lines(coapd, "session=9992")
    r = coapd.ctl("log-level", "loud")
    assert r.returncode == 1 and "'loud' is not a log level" in r.stderr, r


def peers(d):
    return sorted(s["peer"] for s in d.sessions() if s["outgoing"])


def write_conf(path, level, sessions, extra=""):
    quoted = ", ".join(f'"{s}"' for s in sessions)
    path.write_text(f'log-level = "{level}"\nsession = [{quoted}]\n{extra}')


def test_reload_applies_log_level_and_sessions_and_names_restart_keys(ns, tmp_path):
    for port in (5700, 5701, 5702):
        ns.popen([COAP_SERVER, "-A", "192.0.2.1", "-p", str(port)])
    conf = tmp_path / "coapd.conf"
    write_conf(conf, "info", ["coap+tcp://192.0.2.1:5700", "coap+tcp://192.0.2.1:5701"])
    d = Coapd(ns, args=["--config", conf], log_level=None)
    try:
        wait_for(lambda: peers(d) == ["192.0.2.1:5700", "192.0.2.1:5701"], message="sessions")
        kept = [s["id"] for s in d.sessions() if s["peer"] == "192.0.2.1:5700"]
        write_conf(conf, "warn", ["coap+tcp://192.0.2.1:5700", "coap+tcp://192.0.2.1:5702"],
                   "max-retransmit = 2\n")
        r = d.ctl("reload")
        assert r.returncode == 0, r.stderr
        assert r.stdout == ("log level: warn\n"
                            "sessions opened: coap+tcp://192.0.2.1:5702\n"
                            "sessions closed: coap+tcp://192.0.2.1:5701\n"
                            "resources added: none\n"
                            "resources removed: none\n"
                            "resources changed: none\n"
                            "changed, needs a restart: max-retransmit\n"), r.stdout
        wait_for(lambda: peers(d) == ["192.0.2.1:5700", "192.0.2.1:5702"], message="new sessions")
        # The unchanged entry's session is the same session.
        assert [s["id"] for s in d.sessions() if s["peer"] == "192.0.2.1:5700"] == kept
        assert d.ctl("close", "9993").returncode == 1
        assert not audit_lines(d, "session=9993")  # warn now
        assert "changed keys that need a restart: max-retransmit" in d.read_log()
    finally:
        assert d.stop() == 0, d.read_log()


def test_reload_of_a_bad_file_changes_nothing(ns, tmp_path):
    conf = tmp_path / "coapd.conf"
    write_conf(conf, "info", [])
    d = Coapd(ns, args=["--config", conf], log_level=None)
    try:
        conf.write_text('log-level = "warn"\nmax-retransmit = "lots"\n')
        r = d.ctl("reload")
        assert r.returncode == 1
        assert "max-retransmit" in r.stderr and "'lots'" in r.stderr, r.stderr
        assert d.ctl("close", "9994").returncode == 1
        assert audit_lines(d, "session=9994")  # still info
        payload, err = coap_payload(ns, "-B", "5", "coap://192.0.2.2/.well-known/core")
        assert b"</status>" in payload, err
    finally:
        assert d.stop() == 0, d.read_log()


def resource_conf(path, entries):
    quoted = ", ".join(f'"{e}"' for e in entries)
    path.write_text(f'resource = [{quoted}]\n')


def test_reload_adds_removes_and_changes_resource_entries(ns, tmp_path):
    conf = tmp_path / "coapd.conf"
    resource_conf(conf, ["/kept,value=k", "/gone,obs,value=g", "/temp,obs,value=21.5"])
    d = Coapd(ns, args=["--config", conf])
    observers = []
    try:
        # Observers of the resource that changes and of the one removed.
        for path in ("temp", "gone"):
            out = tmp_path / f"{path}.out"
            observers.append((ns.popen([COAP_CLIENT, "-s", "20", "-o", out,
                                        f"coap://192.0.2.2/{path}"]), out))
        wait_for(lambda: sum(r["observers"] for r in d.ctl_json("resource", "list")["resources"]
                             if r["path"] in ("/temp", "/gone")) == 2, message="observers")
        d.ctl("resource", "set", "/kept", "--value", "set-at-run-time", check=True)
        resource_conf(conf, ["/kept,value=k", "/temp,obs,value=22.0",
                             "/added,methods=get|put,value=new"])
        r = d.ctl("reload")
        assert r.returncode == 0, r.stderr
        assert "resources added: /added\nresources removed: /gone\nresources changed: /temp\n" \
            in r.stdout, r.stdout
        assert "needs a restart: none" in r.stdout
        # The observer of /temp gets the new value, the one of /gone 4.04.
        wait_for(lambda: b"22.0" in observers[0][1].read_bytes(), message="notification")
        # /gone's observation is removed (its observer got 4.04).
        wait_for(lambda: d.stats()["observations"] == 1, message="observation of /gone removed")
        payload, err = coap_payload(ns, "-B", "5", "coap://192.0.2.2/added")
        assert payload == b"new", err
        _, err = coap_payload(ns, "-B", "5", "coap://192.0.2.2/gone")
        assert "4.04" in err, err
        # The unchanged entry keeps what `resource set` gave it.
        payload, _ = coap_payload(ns, "-B", "5", "coap://192.0.2.2/kept")
        assert payload == b"set-at-run-time"
        listed = {r["path"]: r["source"] for r in d.ctl_json("resource", "list")["resources"]}
        assert listed["/added"] == "config" and "/gone" not in listed
    finally:
        for p, _ in observers:
            p.kill()
        assert d.stop() == 0, d.read_log()


def test_sighup_reloads_instead_of_killing_coapd(ns, tmp_path):
    conf = tmp_path / "coapd.conf"
    write_conf(conf, "info", [])
    d = Coapd(ns, args=["--config", conf], log_level=None)
    try:
        write_conf(conf, "info", [], "nonsense-key = 1\n")
        d.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "reload failed, nothing changed" in d.read_log(), message="failed reload")
        assert "nonsense-key" in d.read_log()
        write_conf(conf, "info", [], "udp-port = 5690\n")
        d.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "reloaded: log level info" in d.read_log(), message="reload")
        assert "changed keys that need a restart: udp-port" in d.read_log()
        assert d.proc.poll() is None and d.ctl("status").returncode == 0
    finally:
        assert d.stop() == 0, d.read_log()
