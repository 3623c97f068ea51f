"""Hostile cycle files: every one is a clear refusal (problem lines, exit status 2), never a
traceback, a hang or a memory blow-up; links, venues and titles are checked at the edge."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import tempfile
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from models.cycle import CycleConfig
from models.cycle_file import CYCLE_FILE_LIMIT, ConfigError, load_cycle, parse_cycle
from worker import SANDBOX, WORKFLOWS

ROOT = Path(__file__).resolve().parent.parent
CYCLE_2017 = (ROOT / "cycles" / "2017.toml").read_text(encoding="utf-8")
CONTEST = CYCLE_2017[CYCLE_2017.index("[[contests]]") :]


def problems_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as err:
        load_cycle(path)
    assert err.value.problems
    return err.value.problems


def _one_line(problem: str) -> bool:
    return bool(problem) and not any(ch < " " or "\x7f" <= ch < "\xa0" for ch in problem)


def check(path: Path | str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "starter.py", "check", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


@pytest.fixture
def hostile(tmp_path: Path) -> dict[str, Path]:
    """One file per class of bad cycle file."""
    files = {
        "latin-1": tmp_path / "latin.toml",
        "directory": tmp_path / "a-directory",
        "fifo": tmp_path / "fifo.toml",
        "device": Path("/dev/zero"),
        "too large": tmp_path / "huge.toml",
        "deep brackets": tmp_path / "deep.toml",
        "deep tables": tmp_path / "deep-tables.toml",
        "duplicate slug": tmp_path / "dupe.toml",
        "forum before the OCP ends": tmp_path / "forum.toml",
    }
    files["latin-1"].write_bytes(CYCLE_2017.replace("WSIS Forum", "Forum é").encode("latin-1"))
    files["directory"].mkdir()
    os.mkfifo(files["fifo"])
    with files["too large"].open("wb") as fh:  # sparse: the size alone refuses it
        fh.truncate(4 * CYCLE_FILE_LIMIT)
    files["deep brackets"].write_text("x = " + "[" * 5000 + "]" * 5000 + "\n")
    files["deep tables"].write_text("x = " + "{a = " * 200 + "1" + "}" * 200 + "\n")
    files["duplicate slug"].write_text(CYCLE_2017 + "\n" + CONTEST)
    files["forum before the OCP ends"].write_text(
        CYCLE_2017.replace(
            "starts = 2017-06-12T09:00:00+02:00", "starts = 2017-05-01T09:00:00+02:00"
        )
    )
    return files


EXPECTED = {
    "latin-1": r"not UTF-8 text: byte 0xe9 at line \d+, column \d+",
    "directory": r"is a directory, not a cycle file",
    "fifo": r"is a pipe \(FIFO\), not a cycle file",
    "device": r"is a device, not a cycle file",
    "too large": r"is 4 MiB; a cycle file may be at most 1 MiB",
    "deep brackets": r"nested too deeply|nested more than 16 levels",
    "deep tables": r"nested too deeply|nested more than 16 levels",
    "duplicate slug": r"^contest slugs are not unique: prizes$",
    "forum before the OCP ends": r"^the OCP's last phase must come before the Forum starts$",
}


def test_each_class_of_bad_file_is_one_problem(hostile: dict[str, Path]) -> None:
    for name, path in hostile.items():
        found = problems_of(path)
        assert len(found) == 1 and re.search(EXPECTED[name], found[0]), (name, found)


def test_top_level_problems_are_reported_apart(tmp_path: Path) -> None:
    path = tmp_path / "both.toml"
    path.write_text(
        CYCLE_2017.replace(
            "starts = 2017-06-12T09:00:00+02:00", "starts = 2017-05-01T09:00:00+02:00"
        )
        + "\n"
        + CONTEST
    )
    assert problems_of(path) == [
        "contest slugs are not unique: prizes",
        "the OCP's last phase must come before the Forum starts",
    ]


def test_check_refuses_each_class_in_one_line_with_status_2(hostile: dict[str, Path]) -> None:
    # Every class goes through the same printing; one file per kind of failure is enough
    # for the command itself (a subprocess start costs most of a second).
    for name in ("latin-1", "fifo", "too large", "deep brackets", "duplicate slug"):
        path = hostile[name]
        run = check(path)
        assert run.returncode == 2, (name, run.stderr)
        assert "Traceback" not in run.stderr and len(run.stderr.splitlines()) == 1, name
        assert re.search(EXPECTED[name].strip("^$"), run.stderr), (name, run.stderr)


@pytest.mark.parametrize(
    ("old", "new", "pattern"),
    [
        ('remote_url = "https://www.itu.int/net4/wsis/forum/2017/remote"',
         'remote_url = "javascript:alert(1)"', r"remote_url: must be an https:// link"),
        ('remote_url = "https://www.itu.int/net4/wsis/forum/2017/remote"',
         'remote_url = "https://a.example/x\\r\\nATTENDEE:x"', r"remote_url: must be one link"),
        ('venue = "ITU Headquarters, Geneva"\nremote_url',
         'venue = "ITU\\nBCC: x"\nremote_url', r"venue: must be a single line"),
        ('title = "First physical', 'title = "\\u001b[2JFirst physical',
         r"title: contains the control character U\+001B"),
        ('title = "First physical', 'title = "\\u202eFirst physical',
         r"title: contains the bidirectional override U\+202E"),
        ('name = "WSIS Prizes 2017"', f'name = "{"x" * 201}"', r"name: at most 200 characters"),
        ("shortlist_size = 5", 'shortlist_size = 5\nreminders = ["99999999999999999999d"]',
         r"reminders.0: the duration .* is too long"),
        ("ceremony = 2017-06-13T18:00:00+02:00", "ceremony = 9999-12-31T23:59:59-12:00",
         r"out of range"),
        ("opens = 2016-09-01T09:00:00+02:00", "opens = 0001-01-01T00:00:00+14:00",
         r"out of range"),
        ('timezone = "Europe/Zurich"', "timezone = [1, 2]", r"timezone: .*string"),
    ],
)  # fmt: skip
def test_links_texts_and_values_are_checked(
    tmp_path: Path, old: str, new: str, pattern: str
) -> None:
    assert old in CYCLE_2017, old
    path = tmp_path / "c.toml"
    path.write_text(CYCLE_2017.replace(old, new, 1))
    found = problems_of(path)
    assert any(re.search(pattern, p) for p in found), found
    assert all(_one_line(p) for p in found), found


def test_local_http_links_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(CYCLE_2017.replace("https://www.itu.int/net4", "http://localhost:8080/net4"))
    meetings = load_cycle(path).ocp.meetings
    assert meetings["first"].remote_url == "http://localhost:8080/net4/wsis/forum/2017/remote"


# Property: whatever the bytes or the TOML, a CycleConfig or a ConfigError with problem lines.


def _outcome(data: bytes) -> CycleConfig | list[str]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "cycle.toml"
        path.write_bytes(data)
        try:
            return load_cycle(path)
        except ConfigError as exc:
            assert exc.problems and all(_one_line(p) for p in exc.problems), exc.problems
            return exc.problems


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=2000))
def test_any_bytes_give_a_config_or_problem_lines(data: bytes) -> None:
    _outcome(data)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_cycle_files_give_a_config_or_problem_lines(data: st.DataObject) -> None:
    lines = CYCLE_2017.splitlines()
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(lines) - 1))
        key = lines[i].partition("=")[0]
        edit = data.draw(st.sampled_from(["drop", "value", "text", "duplicate"]))
        if edit == "drop":
            del lines[i]
        elif edit == "duplicate":
            lines.insert(i, lines[i])
        elif edit == "value" and "=" in lines[i]:
            value = data.draw(TOML_VALUES)
            lines[i] = f"{key}= {tomli_w.dumps({'v': value}).partition('=')[2].strip()}"
        else:
            lines[i] = data.draw(st.text(max_size=40))
    _outcome("\n".join(lines).encode("utf-8", "surrogatepass"))


SCALARS = (
    st.text(max_size=30)
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.booleans()
    | st.floats(allow_nan=False)
    | st.datetimes(timezones=st.timezones() | st.just(UTC) | st.none())
    | st.dates()
    | st.times()
    | st.sampled_from(["7d", "36h", "P7D", "II", "VI", "prizes", "Europe/Zurich", "Mars/Base"])
)
TOML_VALUES: st.SearchStrategy[Any] = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(["phase", "title", "starts", "code", "x"]), children)
    ),
    max_leaves=10,
)
FIELDS = [
    "year", "title", "id", "timezone", "forum", "ocp", "contests", "starts", "ends", "venue",
    "opens", "submission_deadline", "final_brief", "meetings", "reminders", "phase", "slug",
    "name", "categories", "remote_url", "virtual_only", "voting_opens", "voting_closes",
]  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(FIELDS), TOML_VALUES, max_size=8))
def test_any_table_gives_a_config_or_problem_lines(table: dict[str, Any]) -> None:
    try:
        parse_cycle(table)
    except ConfigError as exc:
        assert exc.problems and all(_one_line(p) for p in exc.problems), exc.problems


async def test_a_history_from_before_the_new_rules_still_replays() -> None:
    """A cycle started before links and venues were checked (a Teams link, a venue on two
    lines) replays: the parent decodes its input through the checked models, and the rules
    added since must not refuse what its history holds."""
    raw = json.loads((ROOT / "tests" / "histories" / "cycle_2024.json").read_text())
    payload = raw["events"][0]["workflowExecutionStartedEventAttributes"]["input"]["payloads"][0]
    data = json.loads(base64.b64decode(payload["data"]))
    for meeting in data["config"]["ocp"]["meetings"].values():
        meeting.update(remote_url="msteams:/l/meetup-join/19%3ameeting", venue="Room L\nGeneva")
    payload["data"] = base64.b64encode(json.dumps(data).encode()).decode()
    replayer = Replayer(
        workflows=list(WORKFLOWS),
        workflow_runner=SANDBOX,
        data_converter=pydantic_data_converter,
        workflow_failure_exception_types=[workflow.NondeterminismError],
    )
    history = WorkflowHistory.from_json("before-the-rules", json.dumps(raw))
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure
    # The same values from a person are refused.
    with pytest.raises(ConfigError, match="must be an https:// link"):
        parse_cycle(data["config"])
