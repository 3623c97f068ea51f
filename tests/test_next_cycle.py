"""Next year's cycle from this year's: 52 weeks later, same weekday, same local time in each
instant's own zone (its offset following daylight saving), the year and titles moved."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from models.cycle import CycleConfig
from models.cycle_file import load_cycle
from services.next_cycle import moved

ROOT = Path(__file__).resolve().parent.parent


def starter(*args: str) -> subprocess.CompletedProcess[str]:
    run = subprocess.run(
        [sys.executable, "starter.py", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "WSIS_DATABASE_URL": "sqlite://"},
    )
    assert "Traceback" not in run.stderr, run.stderr
    return run


def instants(cycle: CycleConfig) -> list[tuple[datetime, str]]:
    """Every instant of the cycle with the zone it is kept in."""
    found = [(cycle.forum.starts, cycle.timezone), (cycle.forum.ends, cycle.timezone)]
    o = cycle.ocp
    found += [(o.opens, o.timezone), (o.submission_deadline, o.timezone)]
    for m in o.meetings.values():
        found += [(m.starts, m.timezone), (m.ends, m.timezone)]
    for c in cycle.contests:
        for name in ("submission_opens", "submission_deadline", "voting_opens"):
            found.append((getattr(c, name), c.timezone))
        found += [(c.voting_closes, c.timezone), (c.ceremony, c.timezone)]
    return found


def test_2024_rolls_forward_to_2025_and_passes_check(tmp_path: Path) -> None:
    out = tmp_path / "2025.toml"
    run = starter("next-cycle", "cycles/2024.toml", "--year", "2025", "-o", str(out))
    assert run.returncode == 0, run.stderr
    assert starter("check", str(out)).returncode == 0
    old, new = load_cycle(ROOT / "cycles" / "2024.toml"), load_cycle(out)
    assert new.year == 2025 and new.display_title == "WSIS+20 Forum High-Level Event 2025"
    assert new.contests[0].name == "WSIS Prizes 2025"
    for (before, zone), (after, _) in zip(instants(old), instants(new), strict=True):
        b, a = before.astimezone(ZoneInfo(zone)), after.astimezone(ZoneInfo(zone))
        assert a.date() - b.date() == timedelta(weeks=52)
        assert (a.weekday(), a.time()) == (b.weekday(), b.time())
        assert after.utcoffset() == a.utcoffset()  # the offset the zone has that day
    kyoto = new.ocp.meetings["first"]
    assert kyoto.starts.isoformat() == "2024-10-09T11:00:00+09:00"
    text = out.read_text(encoding="utf-8")
    assert "# assumption: not in the sources" in text  # comments kept


def test_an_offset_follows_daylight_saving() -> None:
    # Monday after the 2023 spring change (+02:00); 52 weeks on, the 2024 change is still
    # ahead (31 March): the same 14:00 in Geneva is +01:00.
    geneva = ZoneInfo("Europe/Zurich")
    when = datetime(2023, 3, 27, 14, 0, tzinfo=geneva)
    assert moved(when, "Europe/Zurich", 52).isoformat() == "2024-03-25T14:00:00+01:00"
    assert moved(when, "Asia/Tokyo", 52).isoformat() == "2024-03-25T21:00:00+09:00"


def test_refusals_are_one_line(tmp_path: Path) -> None:
    run = starter("next-cycle", "cycles/2024.toml", "--year", "2024", "-o", str(tmp_path / "x"))
    assert run.returncode == 2 and "give a year after 2024" in run.stderr
    taken = tmp_path / "taken.toml"
    taken.write_text("keep me", encoding="utf-8")
    run = starter("next-cycle", "cycles/2024.toml", "--year", "2025", "-o", str(taken))
    assert run.returncode == 2 and "exists; nothing was written" in run.stderr
    assert taken.read_text(encoding="utf-8") == "keep me"
