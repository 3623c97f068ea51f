"""What `make demo` promises a newcomer, checked without running it whole: the squeezed
calendar leaves minutes to act in the OCP window and in voting; the README's account is one
the demo never scripts; a second run never overwrites the first one's mail; the project's
metadata needs no deprecated license table."""

from __future__ import annotations

import csv
import smtplib
import tomllib
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

from devstack.catcher import MailCatcher
from devstack.demo import NEWCOMER, SAMPLES, personas
from devstack.squeeze import instants, squeezed
from models.cycle_file import load_cycle
from tests.conftest import ROOT, free_port


def test_the_demo_leaves_three_minutes_in_the_ocp_window_and_in_voting() -> None:
    cycle = load_cycle(ROOT / "cycles" / "2024.toml")
    start = datetime(2030, 1, 1, 9, tzinfo=UTC)
    demo = squeezed(cycle, start, timedelta(minutes=3))
    assert demo.ocp.opens == start
    assert demo.ocp.submission_deadline - demo.ocp.opens == timedelta(minutes=3)
    for contest in demo.contests:
        assert contest.voting_closes - contest.voting_opens >= timedelta(minutes=3)
        assert contest.submission_deadline <= demo.ocp.submission_deadline
    # Every date keeps its order, and the whole cycle ends within ten minutes.
    before, after = instants(cycle), instants(demo)
    order = sorted(range(len(before)), key=lambda i: before[i])
    assert [after[i] for i in order] == sorted(after)
    assert max(after) - start < timedelta(minutes=10)


def test_the_newcomer_is_in_the_registry_and_never_scripted() -> None:
    with SAMPLES.open(encoding="utf-8") as fh:
        assert NEWCOMER in {r["email"] for r in csv.DictReader(fh)}
    assert NEWCOMER not in {p.email for p in personas()}
    assert NEWCOMER in (ROOT / "README.md").read_text(encoding="utf-8")


def test_a_second_catcher_never_overwrites_the_first_ones_mail(tmp_path: Path) -> None:
    for run in ("first", "second"):
        with MailCatcher(port=free_port(), folder=tmp_path) as catcher:
            message = EmailMessage()
            message["From"], message["To"], message["Subject"] = (
                "a@example.org",
                "b@example.org",
                run,
            )
            message.set_content(run)
            with smtplib.SMTP(catcher.host, catcher.port) as smtp:
                smtp.send_message(message)
    saved = sorted(tmp_path.glob("*.eml"))
    assert [p.read_text().count("Subject: ") for p in saved] == [1, 1]
    assert "first" in saved[0].read_text() and "second" in saved[1].read_text()


def test_the_license_is_an_spdx_expression() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["license"] == "Apache-2.0"
