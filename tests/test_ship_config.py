"""`cellsrun config --rsyslog-ship / --rsyslog-collect`: snippets that drop into a stock Debian
rsyslog (checked with the real `rsyslogd -N1`), and the guard against loading or setting twice
what the main configuration already has (rsyslog refuses that)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from conftest import REPO, run
from rsyslogd import RSYSLOGD, missing

STOCK = REPO / "tests" / "data" / "debian-rsyslog.conf"
VARIANTS = {
    "ship-tcp": ["--rsyslog-ship", "--to", "logs.example.net:2514"],
    "ship-relp": ["--rsyslog-ship", "--to", "[2001:db8::5]:2514", "--relp"],
    "collect-tcp": ["--rsyslog-collect", "--listen", "2514"],
    "collect-relp": ["--rsyslog-collect", "--listen", "127.0.0.1:2514", "--relp"],
}


def stock_main(tmp_path: Path, extra: str = "") -> Path:
    """Debian's /etc/rsyslog.conf as shipped, its work directory and include dir moved here."""
    (tmp_path / "rsyslog.d").mkdir()
    (tmp_path / "spool").mkdir()
    text = STOCK.read_text()
    assert "$WorkDirectory /var/spool/rsyslog" in text and "$IncludeConfig /etc/rsyslog.d/*.conf" in text
    text = text.replace("$WorkDirectory /var/spool/rsyslog", f"$WorkDirectory {tmp_path / 'spool'}")
    text = text.replace("$IncludeConfig /etc/rsyslog.d/*.conf", f"{extra}\n$IncludeConfig {tmp_path / 'rsyslog.d'}/*.conf")
    main = tmp_path / "rsyslog.conf"
    main.write_text(text)
    return main


def render(main: Path, *args: str, into: str = "cells.conf", home: Path | None = None) -> str:
    r = run("config", *args, "--rsyslog-conf", str(main), *(["--home", str(home)] if home else []))
    assert r.returncode == 0, r.stderr.decode()
    (main.parent / "rsyslog.d" / into).write_text(r.stdout.decode())
    return r.stdout.decode()


def validate(main: Path) -> subprocess.CompletedProcess:
    return subprocess.run([RSYSLOGD, "-N1", "-f", str(main)], capture_output=True, text=True, timeout=30)


@pytest.fixture(autouse=True)
def _needs_rsyslog():
    why = missing(relp=True)
    if why:
        pytest.skip(why)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_a_snippet_drops_into_a_stock_debian_rsyslog(tmp_path, variant):
    main = stock_main(tmp_path)
    text = render(main, *VARIANTS[variant], home=tmp_path / "home")
    check = validate(main)
    assert check.returncode == 0 and "error" not in check.stderr.lower(), check.stderr
    needed = {"ship-tcp": ["imfile"], "ship-relp": ["imfile", "omrelp"],
              "collect-tcp": ["imtcp"], "collect-relp": ["imrelp"]}[variant]
    for module in needed:
        assert f'module(load="{module}"' in text
    statements = "\n".join(line.split("#")[0] for line in text.splitlines()).lower()
    assert "workdirectory" not in statements, "a snippet must not set the work directory"
    if variant.startswith("ship"):
        assert str(tmp_path / "home" / "logs" / "cells.out") in text


def test_what_the_main_config_has_already_is_not_set_again(tmp_path):
    """rsyslog refuses a module loaded twice and a global set twice (rsyslogd -N1 fails, as the
    first half shows); the snippets leave those out."""
    extra = ('$ModLoad imfile\nmodule(load="imtcp")\nmodule(load="omrelp")\n'
             'global(maxMessageSize="4m" parser.escapeControlCharactersOnReceive="off")')
    main = stock_main(tmp_path, extra)
    naive = tmp_path / "rsyslog.d" / "naive.conf"
    naive.write_text('module(load="imfile")\nglobal(maxMessageSize="2m")\n')
    check = validate(main)
    assert check.returncode != 0 and "already in this config" in check.stderr, check.stderr
    naive.unlink()

    ship = render(main, "--rsyslog-ship", "--to", "h:1", "--relp", into="ship.conf")
    collect = render(main, "--rsyslog-collect", "--listen", "2", into="collect.conf")
    check = validate(main)
    assert check.returncode == 0 and "error" not in check.stderr.lower(), check.stderr
    assert 'module(load="imfile"' not in ship and 'module(load="omrelp"' not in ship
    assert "# imfile: loaded already (" in ship and "maxMessageSize=" not in ship
    assert 'module(load="imtcp"' not in collect and "escapeControlCharactersOnReceive=" not in collect


def test_a_host_that_sends_and_collects(tmp_path):
    main = stock_main(tmp_path)
    render(main, "--rsyslog-collect", "--listen", "2514", "--relp", into="cells-collect.conf")
    render(main, "--rsyslog-ship", "--to", "127.0.0.1:2514", "--relp", into="cells.conf")
    check = validate(main)
    assert check.returncode == 0 and "error" not in check.stderr.lower(), check.stderr
    # The other way round the collector's larger message size cannot be set: say what to do.
    (tmp_path / "rsyslog.d" / "cells-collect.conf").unlink()
    assert 'global(maxMessageSize="' in render(main, "--rsyslog-ship", "--to", "127.0.0.1:2514", "--relp")
    r = run("config", "--rsyslog-collect", "--listen", "2514", "--rsyslog-conf", str(main))
    assert r.returncode == 2 and r.stdout == b""
    lines = r.stderr.decode().splitlines()
    assert len(lines) == 1 and "maxMessageSize" in lines[0] and "collector's snippet in first" in lines[0]


@pytest.mark.parametrize("main_text, words", [
    ("module(load=\"imfile\")\n", "sets no work directory"),
    ("$WorkDirectory /tmp\n$MaxMessageSize 64k\n", "maxMessageSize to '64k'"),
    ("global(workDirectory=\"/tmp\" parser.escapeControlCharactersOnReceive=\"on\")\n", "#011"),
])
def test_a_main_config_that_cannot_work_is_refused(tmp_path, main_text, words):
    main = tmp_path / "rsyslog.conf"
    main.write_text(main_text)
    args = ["--rsyslog-collect", "--listen", "2514"] if "escape" in main_text else ["--rsyslog-ship", "--to", "h:1"]
    if "64k" in main_text:
        args = ["--rsyslog-collect", "--listen", "2514"]
    r = run("config", *args, "--rsyslog-conf", str(main))
    lines = r.stderr.decode().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and words in lines[0], r.stderr


@pytest.mark.parametrize("args", [
    ["--rsyslog-ship"],
    ["--rsyslog-ship", "--to", "logs.example.net"],
    ["--rsyslog-ship", "--to", "a b:1"],
    ["--rsyslog-ship", "--to", "h:70000"],
    ["--rsyslog-ship", "--to", "h:1", "--listen", "2"],
    ["--rsyslog-ship", "--to", "h:1", "--dir", '/tmp/it"s'],
    ["--rsyslog-ship", "--to", "h:1", "--dir", "/tmp/logs*"],
    ["--rsyslog-collect"],
    ["--rsyslog-collect", "--listen", "0"],
    ["--rsyslog-collect", "--listen", "2", "--dir", "/var/log/50%"],
    ["--rsyslog-collect", "--listen", "2", "--to", "h:1"],
    ["--rsyslog-collect", "--rsyslog-ship", "--listen", "2"],
    ["--rsyslog-collect", "--listen", "2", "--max-line", "1GiB"],
])
def test_bad_values_are_one_error_line(tmp_path, args):
    main = stock_main(tmp_path)
    r = run("config", *args, "--rsyslog-conf", str(main))
    lines = r.stderr.decode().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and lines[0].startswith("Error: "), r.stderr
    assert r.stdout == b""
