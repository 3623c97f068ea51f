"""Cycle files: the shipped ones are valid; a bad one gets every problem, one line each."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from models.cycle_file import ConfigError, load_cycle

ROOT = Path(__file__).resolve().parent.parent

BAD = """
year = 2017
timezone = "Europe/Zurich"

[forum]
starts = 2017-06-12T09:00:00+02:00
ends = 2017-06-16T18:00:00+02:00

[ocp]
opens = 2016-09-01T09:00:00                       # naive: no offset
submission_deadline = 2017-02-20T23:59:59+01:00
final_brief = 2017-01-10T09:00:00+01:00           # before the deadline: out of order

[ocp.meetings.first]
phase = "II"
title = "First"
starts = 2016-10-12T10:00:00+02:00
ends = 2016-10-12T13:00:00+02:00
timezone = "Europe/Geneva-Old"                    # unknown time zone
venue = "ITU"

[ocp.meetings.second]
phase = "III"
title = "Second"
starts = 2017-02-24T10:00:00+01:00                # after the deadline it precedes
ends = 2017-02-24T13:00:00+01:00
venue = "ITU"

[ocp.meetings.review]
phase = "V"
title = "Review"
starts = 2017-03-14T10:00:00+02:00                # wrong offset for Geneva in March
ends = 2017-03-14T13:00:00+01:00
venue = "ITU"

[[contests]]
slug = "prizes"
submission_opens = 2016-09-05T09:00:00+02:00      # name is missing
submission_deadline = 2017-02-15T23:59:59+01:00
voting_opens = 2017-03-16T00:00:00+01:00
voting_closes = 2017-03-01T23:59:59+01:00         # before voting opens
champions_announced = 2017-04-25T12:00:00+02:00
ceremony = 2017-06-13T18:00:00+02:00
categories = ["C1", "C2", "C1"]
"""


@pytest.mark.parametrize("name", ["2017.toml", "2024.toml"])
def test_shipped_cycles_are_valid(name: str) -> None:
    cycle = load_cycle(ROOT / "cycles" / name)
    assert cycle.ocp_id == f"wsis-{cycle.year}-ocp"
    assert cycle.contest_id(cycle.contests[0]) == f"wsis-{cycle.year}-prizes"


def test_2024_meetings_keep_their_local_time() -> None:
    cycle = load_cycle(ROOT / "cycles" / "2024.toml")
    kyoto = cycle.ocp.meetings["first"]
    assert (kyoto.timezone, kyoto.starts.hour, kyoto.starts.utcoffset().total_seconds()) == (  # type: ignore[union-attr]
        "Asia/Tokyo",
        11,
        9 * 3600,
    )
    geneva = cycle.ocp.meetings["second"]
    assert (geneva.starts.hour, geneva.starts.utcoffset().total_seconds()) == (14, 3600)  # type: ignore[union-attr]


def test_bad_cycle_reports_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(BAD)
    with pytest.raises(ConfigError) as err:
        load_cycle(path)
    text = "\n".join(err.value.problems)
    expected = [
        r"ocp\.opens: naive datetime 2016-09-01 09:00:00: add a UTC offset",
        r"ocp\.meetings\.first\.timezone: unknown time zone 'Europe/Geneva-Old'",
        r"contests\.0\.name: missing field",
        r"contests\.0.*voting_closes .* must come after voting_opens",
        r"contests\.0.*categories are not unique: C1",
    ]
    for pattern in expected:
        assert re.search(pattern, text), f"{pattern!r} not in:\n{text}"
    # The offset check and the order checks of the OCP run once its fields are valid:
    path.write_text(
        BAD.replace("2016-09-01T09:00:00 ", "2016-09-01T09:00:00+02:00 ").replace(
            "Europe/Geneva-Old", "Europe/Zurich"
        )
    )
    with pytest.raises(ConfigError) as err:
        load_cycle(path)
    text = "\n".join(err.value.problems)
    for pattern in [
        r"ocp\.meetings\.review.*starts: offset \+02:00 does not match Europe/Zurich on "
        r"2017-03-14 \(expected \+01:00\)",
        r"meeting 'second' .* ends after the submissions deadline",
        r"phase VI \(Final brief\) .* must come after phase V",
    ]:
        assert re.search(pattern, text), f"{pattern!r} not in:\n{text}"


def test_check_command_prints_phases_or_exits_2(tmp_path: Path) -> None:
    ok = subprocess.run(
        [sys.executable, "starter.py", "check", "cycles/2017.toml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert "Phase IV: Submissions deadline" in ok.stdout
    assert "2017-02-20T23:59:59+01:00" in ok.stdout and "2017-02-20T22:59:59Z" in ok.stdout

    bad = tmp_path / "bad.toml"
    bad.write_text(BAD)
    run = subprocess.run(
        [sys.executable, "starter.py", "check", str(bad)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 2
    assert "nothing was started" in run.stderr
    lines = [line for line in run.stderr.splitlines() if line.startswith("  ")]
    assert len(lines) >= 5
    missing = tmp_path / "missing.toml"
    run = subprocess.run(
        [sys.executable, "starter.py", "check", str(missing)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 2 and "file not found" in run.stderr
