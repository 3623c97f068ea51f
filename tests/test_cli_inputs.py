"""The secretariat's CLI under hostile and careless input: every refusal one line on stderr,
exit status 2 for invalid input (1 for a rule), never a traceback; a batch's good rows kept."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

import cli.intake
from activities.windows import WindowActivities
from cli.app import app
from core.settings import Settings
from devstack.catcher import MailCatcher
from intake.participants import import_participants
from models.tables import OcpSubmission, Project, Vote, WindowKind
from models.tables.staff import AuditEntry
from models.wire import WindowRequest
from tests.conftest import write_people

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime.now(UTC)
_project = Project.__table__  # type: ignore[attr-defined]
_audit = AuditEntry.__table__  # type: ignore[attr-defined]


def starter(*args: str, db_url: str = "sqlite://", **env: str) -> subprocess.CompletedProcess[str]:
    run = subprocess.run(
        [sys.executable, "starter.py", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={"WSIS_DATABASE_URL": db_url, "PATH": "/usr/bin:/bin", **env},
    )
    assert "Traceback" not in run.stderr, run.stderr
    return run


def refusal(run: subprocess.CompletedProcess[str], status: int = 2) -> str:
    """The one line a refused command printed."""
    assert run.returncode == status, (run.returncode, run.stderr)
    assert run.stderr.count("\n") == 1, run.stderr
    return run.stderr


def open_window(engine: Engine, process_id: str, kind: WindowKind, rules: str = "{}") -> None:
    WindowActivities(engine).open_window(
        WindowRequest(
            process_id=process_id,
            kind=kind.value,
            title="WSIS Forum 2017",
            opens_at=NOW - timedelta(days=1),
            closes_at=NOW + timedelta(days=30),
            timezone="Europe/Zurich",
            rules_json=rules,
        )
    )


def nominated_project(engine: Engine, title: str = "Smart Villages", **values: Any) -> int:
    with engine.begin() as conn:
        return int(
            conn.execute(
                sa.insert(_project).values(
                    process_id="wsis-2017-prizes",
                    category="C1",
                    title=title,
                    title_key=title.lower(),
                    description="x",
                    owner_id=1,
                    stakeholder_type="Academia",
                    country="Chile",
                    submitted_at=NOW,
                    status="nominated",
                    **values,
                )
            ).inserted_primary_key[0]  # type: ignore[index]
        )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["vote", "2017", "--project", "99999999999999999999"], "'--project'"),
        (["nominate", "2017", "--ineligible", "99999999999999999999"], "'--ineligible'"),
        (["select-winner", "2017", "--category", "C1", "--project", "-5"], "'--project'"),
        (["vote", "2017", "--project", "abc"], "'--project'"),
        (["check", "cycles/2017.toml", "--bogus"], "No such option: --bogus"),
        (["status", "2017' OR WorkflowId != '"], "is not a year, an id or a slug"),
        (["vote", "2017", "--contest", "A B", "--project", "1"], "'--contest'"),
        (["vote", "2017", "--csv", "missing.csv"], "missing.csv: file not found"),
        (["vote", "2017", "--csv", "/tmp"], "/tmp: is a directory, not a CSV file"),
        (["change-deadline", "2017", "--to", "2030-01-01T00:00:00Z", "--reason", "r",
          "--by", "jdoe\uff20example.org"], "not an e-mail address"),
        (["move-meeting", "2017", "--meeting", "first", "--by", "s", "--reason", "r",
          "--remote-url", "javascript:alert(1)"], "--remote-url: must be an https:// link"),
        (["move-meeting", "2017", "--meeting", "first", "--by", "s", "--reason", "r",
          "--venue", "Room A\r\nBCC: x"], "--venue: must be a single line"),
        # One reading of a date, for every option that sets one (models.wire.AwareInstant).
        (["change-deadline", "2017", "--to", "2030-01-01T00:00", "--by", "s", "--reason", "r"],
         "--to: '2030-01-01T00:00' has no UTC offset; add one, e.g. +01:00 or Z"),
        (["move-forum", "2017", "--starts", "1893456000", "--ends", "2030-01-02T00:00Z",
          "--by", "s", "--reason", "r"], "--starts: '1893456000' is not an ISO 8601 date"),
        (["move-selection", "2017", "--to", "", "--by", "s", "--reason", "r"],
         "--to: '' is not an ISO 8601 date and time"),
        (["votes", "void", "2017", "--reason", "r", "--network", "203.0.113.0/24", "--from",
          "yesterday"], "--from: 'yesterday' is not an ISO 8601"),
    ],
)  # fmt: skip
def test_invalid_options_are_one_line_and_status_2(
    args: list[str], expected: str, db_url: str
) -> None:
    assert expected in refusal(starter(*args, db_url=db_url))


@pytest.mark.parametrize(
    ("kind", "form", "expected"),
    [
        ("deadline", {"to": "2030-01-01T00:00"},
         "new deadline: '2030-01-01T00:00' has no UTC offset; add one, e.g. +01:00 or Z"),
        ("ceremony", {"to": "soon"}, "new date: 'soon' is not an ISO 8601 date and time"),
        ("forum", {"starts": "2030-01-01T00:00Z", "ends": ""},
         "Forum end: '' is not an ISO 8601 date and time"),
    ],
)  # fmt: skip
def test_the_console_reads_a_date_as_the_cli_does(
    kind: str, form: dict[str, str], expected: str
) -> None:
    """The console's change form and the CLI's options share one reading of a date
    (models.wire.AwareInstant): the same refusal, named by the form's own label."""
    from services.errors import INVALID, Refused
    from services.prepared import prepare

    with pytest.raises(Refused) as refused:
        prepare(kind, "wsis-2017", form, actor="secretariat", reason="r", notice={})
    assert (refused.value.message, refused.value.status) == (expected, INVALID)


def test_an_unexpected_failure_is_one_line_and_status_1() -> None:
    run = starter("status", "2017", WSIS_TEMPORAL_ADDRESS="127.0.0.1:1")
    assert "starter.py: failed: RuntimeError: Failed client connect" in refusal(run, 1)


def test_vote_csv_keeps_good_rows_and_names_bad_lines(
    tmp_path: Path, db_url: str, engine: Engine
) -> None:
    write_people(tmp_path / "people.csv", 3)
    import_participants(tmp_path / "people.csv", engine, verified=True)
    open_window(engine, "wsis-2017-prizes", WindowKind.VOTING, '{"categories": ["C1"]}')
    pid = nominated_project(engine)
    votes = tmp_path / "votes.csv"
    votes.write_bytes(
        f"voter,category,project\nparticipant0@example.org,C1,{pid}\n"
        "participant1@example.org,C1,abc\n"
        "participant1@example.org,C1,99999999999999999999\n"
        "participant1@example.org,C1\n".encode()
        + b"particip\xe4nt2@example.org,C1,1\n"
        + f"participant2@example.org,C1,{pid}\n".encode()
    )
    run = starter("vote", "2017", "--csv", str(votes), db_url=db_url)
    assert run.returncode == 2
    assert "line 2: accepted" in run.stdout and "line 7: accepted" in run.stdout
    err = run.stderr.splitlines()
    assert len(err) == 4
    assert "line 3: refused: project: 'abc' is not a project id" in err[0]
    assert "line 4: refused: project: 99999999999999999999 is not a project id" in err[1]
    assert "line 5: refused: 2 fields where the header has 3" in err[2]
    assert "line 6: refused: voter: not UTF-8 (byte 0xe4)" in err[3]
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(Vote)).scalar_one() == 2

    no_voter = tmp_path / "no-voter.csv"
    no_voter.write_text("category,project\nC1,1\n")
    line = refusal(starter("vote", "2017", "--csv", str(no_voter), db_url=db_url))
    assert "no column voter; the columns are: voter, category, project (required)" in line


def test_nominate_csv_names_each_bad_line(
    tmp_path: Path, db_url: str, engine: Engine, mail: MailCatcher
) -> None:
    write_people(tmp_path / "people.csv", 1)  # Amina Diallo, who reads French
    import_participants(tmp_path / "people.csv", engine, verified=True)
    open_window(engine, "wsis-2017-prizes", WindowKind.NOMINATION)
    pid = nominated_project(engine)
    marks = tmp_path / "marks.csv"
    marks.write_text(
        f'project_id,reason,note\n{pid},out-of-scope,"not an ICT\nproject (internal)"\n'
        f"abc,other,\n99999999999999999999,other,\n{pid},,\n{pid},not an ICT project,\n"
        f"{pid + 1},other,\n{pid},duplicate,\n",
        encoding="utf-8",
    )
    smtp = {"WSIS_SMTP_HOST": mail.host, "WSIS_SMTP_PORT": str(mail.port)}
    run = starter("nominate", "2017", "--csv", str(marks), db_url=db_url, **smtp)
    assert run.returncode == 2
    assert f"line 2 {pid}: marked ineligible; its owner was e-mailed" in run.stdout
    listed = "incomplete, out-of-scope, wrong-category, not-implemented, duplicate, "
    listed += "earlier-winner, other"
    assert run.stderr.splitlines() == [
        "line 4: refused: project_id: 'abc' is not a project id (a whole number)",
        f"line 5: refused: project_id: 99999999999999999999 is not a project id (1 to {2**63 - 1})",
        f"line 6: refused: reason: is required: one of {listed}",
        f"line 7: refused: reason: 'not an ICT project' is not one of {listed}",
        f"line 8: refused: project {pid + 1} is not a submission of wsis-2017-prizes",
        f"line 9: refused: project {pid} is already marked ineligible",
    ]
    with engine.connect() as conn:
        reason = conn.execute(sa.select(_project.c.reason).where(_project.c.id == pid)).scalar()
        note = conn.execute(sa.select(_audit.c.reason)).scalar()
    assert reason == "The project is outside the contest's scope"
    assert note == "not an ICT\nproject (internal)"
    # Its owner was told once, in French, with the listed reason and never the internal note.
    [told] = mail.received
    assert told.recipients == ["participant0@example.org"]
    assert told.message["Content-Language"] == "fr"
    body = told.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Le projet ne relève pas du champ du concours." in body and "Smart Villages" in body
    assert "ICT" not in str(told.message) and "internal" not in body


def test_submit_ocp_batch_goes_on_after_a_failing_row(
    tmp_path: Path, engine: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    open_window(engine, "wsis-2017-ocp", WindowKind.OCP_SUBMISSIONS)
    real = cli.intake.submit_ocp  # type: ignore[attr-defined]

    async def flaky(process_id: str, form: Any, *args: Any, **kw: Any) -> Any:
        if form.full_name == "Boom":
            raise RuntimeError("the database went away")
        return await real(process_id, form, *args, **kw)

    monkeypatch.setattr(cli.intake, "submit_ocp", flaky)
    monkeypatch.setattr(cli.intake, "get_engine", lambda: engine)
    monkeypatch.setattr(cli.intake, "get_settings", lambda: settings)
    monkeypatch.setattr(cli.intake, "migrate", lambda: None)
    batch = tmp_path / "ocp.csv"
    batch.write_text(
        "name,email,organization,country,proposal\n"
        "Amina,amina@example.org,Ministry of ICT,Senegal,Remote participation for all\n"
        "Boom,boom@example.org,Org,Chile,x\n"
        'Chen,chen@example.org,Tsinghua,China,"Two\nlines\x00"\n'
        ",nobody@example.org,Org,Chile,x\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["submit-ocp", "2017", "--csv", str(batch)])
    assert result.exit_code == 2, result.output
    assert "line 2: submission" in result.output and "line 4: submission" in result.output
    assert "line 3: refused: failed (RuntimeError: the database went away)" in result.output
    assert "line 6: refused: full_name: is required" in result.output
    with engine.connect() as conn:
        proposals = conn.execute(sa.select(OcpSubmission.proposal)).scalars().all()  # type: ignore[call-overload]
    assert sorted(proposals) == ["Remote participation for all", "Two\nlines"]


def test_reports_escape_stored_text(db_url: str, engine: Engine) -> None:
    write_people(Path(db_url.removeprefix("sqlite:///")).with_name("p.csv"), 1)
    import_participants(
        Path(db_url.removeprefix("sqlite:///")).with_name("p.csv"), engine, verified=True
    )
    nominated_project(engine, title="\x1b[2JEvil\u202e title", votes=3, shortlisted=True)
    run = starter("report", "results", "2017", "--before-ceremony", db_url=db_url)
    assert run.returncode == 0, run.stderr
    assert "\\x1b[2JEvil\\u202e title" in run.stdout and "\x1b" not in run.stdout
