"""The entry parser on real Cells lines (tests/data, from ../shared/samples), and the query's
time and level expressions. Pure functions: no processes."""

import datetime as dt
import json
from pathlib import Path

import pytest

from cellsrun.browse.entries import MAX_DEPTH, parse_line
from cellsrun.browse.query import Query, parse_day, parse_level, parse_moment

DATA = Path(__file__).resolve().parent / "data"


def lines(name):
    return (DATA / name).read_text(encoding="utf-8").splitlines()


def test_console_samples():
    entries = [parse_line(l) for l in lines("cells-console.log")]
    assert all(e.kind == "console" for e in entries)
    first = entries[2]
    assert (first.level, first.logger, first.service, first.msg) == ("info", "pydio.rest.jobs", "rest.jobs", "starting")
    assert first.fields == {"service": "pydio.rest.jobs", "hook router to": "/a/jobs"}
    assert first.ts == dt.datetime(2025, 3, 7, 18, 47, 50, 25000, dt.timezone.utc).timestamp()
    plus = entries[5]  # +0200 offset
    assert plus.ts == dt.datetime(2024, 6, 30, 20, 31, 6, 460000, dt.timezone.utc).timestamp()
    minus = entries[9]  # -0400 offset, an error inside the fields
    assert minus.level == "warn" and minus.fields["error"].startswith("no OCSP stapling")
    no_logger = entries[10:12]  # zap leaves the logger column out when it is empty
    assert [(e.logger, e.msg) for e in no_logger] == [("", "rewrite {"), ("", 'if {path} not_starts_with "/a/"')]
    coloured = entries[12]  # ANSI colours on level and logger
    assert (coloured.level, coloured.logger, coloured.msg) == ("error", "pydio.grpc.data.sync", "cannot reach peer")
    assert coloured.fields == {"error": "context deadline exceeded"}


def test_json_samples():
    entries = [parse_line(l) for l in lines("cells-json.log")]
    assert all(e.kind == "json" for e in entries)
    assert entries[0].logger == "pydio.grpc.tasks" and "flush-mailer-queue" in entries[0].msg
    assert entries[1].logger == "" and entries[1].msg == "[INFO] Scanning for stale OCSP staples"
    assert entries[2].msg.startswith('{"level":"info"')  # a msg holding JSON stays a message
    login = entries[3]
    assert (login.ip, login.user, login.msg, login.service) == ("::1", "jenny", "Login", "grpc.auth")
    assert login.ts == dt.datetime(2018, 3, 8, 12, 32, 18, tzinfo=dt.timezone.utc).timestamp()
    assert login.as_object() is login.obj and login.fields["UserAgent"] == "Mozilla/5.0"


@pytest.mark.parametrize("line", ["panic: runtime error", "\tgoroutine 1 [running]:", "", "{not json",
                                  "[1,2]", "2025-03-07 not a time\tINFO\tx\ty", "2025-03-07T18:47:50Z only"])
def test_other_lines_are_messages(line):
    e = parse_line(line)
    assert e.kind == "text" and e.msg == line and e.ts is None and e.as_object() == {"msg": line}


def test_time_expressions():
    now = dt.datetime(2026, 11, 28, 12, 0).timestamp()
    assert parse_moment("30m", now) == now - 1800
    assert parse_moment("2h", now) == now - 7200 and parse_moment("3d", now) == now - 3 * 86400
    assert parse_moment("2026-11-27", now) == dt.datetime(2026, 11, 27).timestamp()
    assert parse_moment("2026-11-27", now, end_of_day=True) == pytest.approx(dt.datetime(2026, 11, 28).timestamp(), abs=1e-5)
    assert parse_moment("2026-11-27T13:30", now) == dt.datetime(2026, 11, 27, 13, 30).timestamp()
    assert parse_moment("2026-11-27 13:30:00+01:00", now) == dt.datetime(2026, 11, 27, 12, 30, tzinfo=dt.timezone.utc).timestamp()
    assert parse_day("yesterday", now) == dt.date(2026, 11, 27)
    for bad in ("last tuesday", "2026-02-30", "5 minutes"):
        with pytest.raises(ValueError, match=repr(bad)):
            parse_moment(bad, now)


def test_levels():
    assert parse_level("error") == ("=", 3) and parse_level(">=WARN") == (">=", 2)
    with pytest.raises(ValueError, match="'loud'"):
        parse_level("loud")
    q = Query(level=parse_level(">=warn"))
    assert [q.matches(parse_line(l)) for l in lines("cells-console.log")].count(True) == 3


def _nested(depth: int) -> str:
    """A JSON value ``depth`` levels deep (the outer object counts as one)."""
    return '{"a":' * (depth - 1) + "{}" + "}" * (depth - 1)


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 1000, 100_000])
def test_json_line_nested_too_deep_is_a_message(depth):
    line = '{"level":"error","ts":"2026-11-27T10:00:00Z","msg":"deep","x":' + _nested(depth - 1) + "}"
    e = parse_line(line)
    assert (e.kind, e.msg, e.level, e.ts, e.as_object()) == ("text", line, "", None, {"msg": line})


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 1000, 100_000])
def test_console_fields_nested_too_deep_stay_in_the_message(depth):
    fields = _nested(depth)
    e = parse_line(f"2026-11-27T10:00:00.000Z\tWARN\tpydio.grpc.auth\tdeep\t{fields}")
    assert (e.kind, e.level, e.logger, e.msg, e.fields) == ("console", "warn", "pydio.grpc.auth", f"deep\t{fields}", {})
    assert e.ts == dt.datetime(2026, 11, 27, 10, tzinfo=dt.timezone.utc).timestamp()


def test_nesting_up_to_the_bound_is_parsed_and_prints_in_every_format():
    import io
    from cellsrun.browse import output
    line = '{"level":"info","ts":"2026-11-27T10:00:00Z","msg":"ok","x":' + _nested(MAX_DEPTH - 1) + "}"
    e = parse_line(line)
    assert e.kind == "json" and e.msg == "ok"
    c = parse_line(f"2026-11-27T10:00:00.000Z\tINFO\tpydio.x\tok\t{_nested(MAX_DEPTH)}")
    assert c.msg == "ok" and c.fields == {"a": json.loads(_nested(MAX_DEPTH - 1))}
    many = parse_line('{"msg":"' + "[{" * 5000 + '","level":"info"}')  # brackets in a string: depth 1
    assert many.kind == "json" and many.msg == "[{" * 5000
    for make in (lambda o: output.JsonWriter(o), lambda o: output.DetailWriter(o), lambda o: output.CsvWriter(o),
                 lambda o: output.TableWriter(o, False)):
        out = io.StringIO()
        writer = make(out)
        for entry in (e, c, many):
            writer.write(entry)
        writer.close()  # a writer is done at close (its contract)
        assert out.getvalue().count("ok") >= 2

