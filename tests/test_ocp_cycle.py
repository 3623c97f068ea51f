"""The whole 2017 Open Consultation Process, phase I to VI, on the time-skipping server.

Real parts only: Temporal's time-skipping test server, an aiosmtpd server on loopback (messages
counted where they arrive) and a SQLite file. The 2017 calendar is moved to the test server's
clock unchanged (same intervals), so nine months take seconds.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from icalendar import Calendar
from sqlalchemy.engine import Engine
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from core.settings import Settings
from devstack.catcher import MailCatcher
from intake.acks import AckOutcome
from intake.ocp import OcpForm, submit_ocp
from intake.windows import Refused
from mail.calendar import meeting_uid
from models.cycle_file import load_cycle
from models.moves import rebased
from models.phases import OCP_PHASES
from models.wire import OcpInput, ProcessStatus
from reports.ocp import ocp_analysis
from tests.conftest import history_text, record_history
from worker import SANDBOX, WORKFLOWS, build_worker
from workflows.ocp import OcpWorkflow
from workflows.search_attributes import WSIS_NEXT_DEADLINE, WSIS_PHASE, WSIS_PROCESS, WSIS_YEAR

ROOT = Path(__file__).resolve().parent.parent


def form(person: dict[str, str], text: str = "Proposal on thematic aspects") -> OcpForm:
    return OcpForm(
        full_name=person["name"],
        email=person["email"],
        organization=person["organization"],
        country=person["country"],
        stakeholder_type=person["stakeholder_type"],
        proposal=text,
    )


async def test_ocp_2017_end_to_end(
    skipping_env: WorkflowEnvironment,
    settings: Settings,
    engine: Engine,
    mail: MailCatcher,
    participants: list[dict[str, str]],
    tmp_path: Path,
) -> None:
    client = skipping_env.client
    now = await skipping_env.get_current_time()
    start = (now + timedelta(hours=1)).replace(microsecond=0)
    cycle = rebased(load_cycle(ROOT / "cycles" / "2017.toml"), start)
    cycle = cycle.model_copy(update={"id": "wsis-2017"})
    ocp = cycle.ocp
    deadline = ocp.submission_deadline
    process_id = cycle.ocp_id

    async with build_worker(client, settings, engine, max_cached_workflows=0):
        handle = await client.start_workflow(
            OcpWorkflow.run,
            OcpInput(cycle_id=cycle.cycle_id, year=2017, title=cycle.display_title, ocp=ocp),
            id=process_id,
            task_queue=settings.task_queue,
        )
        # Before phase I the form is not open.
        with pytest.raises(Refused, match="not open"):
            await submit_ocp(
                process_id,
                form(participants[0]),
                engine,
                settings,
                now=ocp.opens - timedelta(minutes=1),
            )

        # Into phase I: the window opens and the announcement goes to everyone.
        await skipping_env.sleep(ocp.opens - now + timedelta(minutes=5))
        status = await handle.query(OcpWorkflow.status)
        assert status.phase == "opening"
        sa = (await handle.describe()).typed_search_attributes
        assert (sa.get(WSIS_PHASE), sa.get(WSIS_PROCESS), sa.get(WSIS_YEAR)) == (
            "opening",
            "ocp",
            2017,
        )
        assert sa.get(WSIS_NEXT_DEADLINE) == status.upcoming[0].at
        # (After completion the next deadline is unset; the time-skipping server keeps an unset
        # datetime as null, which the SDK cannot decode, so the end state is checked on the
        # real dev server in test_dev_server.py.)

        # Ten participants submit during the window (their own time of submission).
        submitters = participants[:10]
        for i, person in enumerate(submitters):
            receipt = await submit_ocp(
                process_id, form(person), engine, settings, now=ocp.opens + timedelta(days=10 + i)
            )
            assert receipt.acknowledgement is AckOutcome.SENT
        # Skip to after the 1-day reminder, then try exactly at the edge of the deadline:
        # one second before is in, one second after is out.
        current = await skipping_env.get_current_time()
        await skipping_env.sleep(deadline - timedelta(hours=20) - current)
        await submit_ocp(
            process_id,
            form(participants[10], "last second"),
            engine,
            settings,
            now=deadline - timedelta(seconds=1),
        )
        with pytest.raises(Refused) as late:
            await submit_ocp(
                process_id,
                form(participants[11], "too late"),
                engine,
                settings,
                now=deadline + timedelta(seconds=1),
            )
        assert "closed at the deadline" in str(late.value)
        assert "Monday 20 February 2017" not in str(late.value)  # moved calendar, real dates
        assert "late submissions are not accepted" in str(late.value)

        result: ProcessStatus = await handle.result()
        history = await handle.fetch_history()

    # Each phase was entered at its date, in order.
    starts = ocp.phase_starts()
    entered = result.entered
    assert [slug for slug in entered if slug != "completed"] == [p.slug for p in OCP_PHASES]
    for p in OCP_PHASES:
        assert abs(entered[p.slug] - starts[p.code]) < timedelta(seconds=2), p.label
    assert result.phase == "completed" and not result.skipped

    # Every email exactly once per participant, counted at the SMTP server.
    # Everyone on the registry; the secretariat is no participant and gets no announcement.
    everyone = {p["email"] for p in participants}
    submitted = {p["email"] for p in [*submitters, participants[10]]}
    per = mail.per_recipient()
    assert set(per.values()) == {1}, [k for k, v in per.items() if v > 1]
    by_campaign: dict[str, set[str]] = {}
    for campaign, rcpt in per:
        by_campaign.setdefault(campaign.removeprefix(f"{process_id}:"), set()).add(rcpt)
    for key in (
        "opening",
        "invite:first",
        "meeting-reminder:first",
        "invite:second",
        "meeting-reminder:second",
        "invite:final-review",
        "meeting-reminder:final-review",
        "analysis",
        "final-brief",
    ):
        assert by_campaign.pop(key) == everyone, key
    # The deadline reminders went to those who had not submitted when they were sent: the ten
    # early submitters had; the last-second one had not yet.
    assert by_campaign.pop("deadline-reminder:7d") == everyone - {p["email"] for p in submitters}
    assert by_campaign.pop("deadline-reminder:1d") == everyone - {p["email"] for p in submitters}
    acks = {k: v for k, v in by_campaign.items() if k.startswith("ack:")}
    assert set().union(*acks.values()) == submitted and len(acks) == 11
    assert not set(by_campaign) - set(acks)

    # Invitations carry an .ics with the meeting's stable UID and local time.
    invites = [m.message for m in mail.received if m.campaign == f"{process_id}:invite:second"]
    assert len(invites) == len(everyone)
    attachment = next(
        part for part in invites[0].walk() if part.get_content_type() == "text/calendar"
    )
    event = Calendar.from_ical(str(attachment.get_content())).walk("VEVENT")[0]
    assert str(event["UID"]) == meeting_uid(process_id, "second")
    assert event.decoded("DTSTART") == ocp.meetings["second"].starts
    # A participant with a French preference got the French announcement.
    french = next(
        m.message
        for m in mail.received
        if m.campaign == f"{process_id}:opening" and "participant0@" in m.recipients[0]
    )
    assert "consultation ouverte" in str(french["Subject"])

    # The analysis counts match the submissions, and the email says so.
    analysis = ocp_analysis(process_id, engine)
    assert analysis.total == 11
    assert Counter({r.label: r.count for r in analysis.by_stakeholder_type.rows}) == Counter(
        p["stakeholder_type"] for p in [*submitters, participants[10]]
    )
    analyses = [m.message for m in mail.received if m.campaign == f"{process_id}:analysis"]
    sample = next(m for m in analyses if m["Content-Language"] == "en")
    body = sample.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "received 11 official submissions" in body
    assert "Government: 4 (36.4%)" in body

    # No personal data in the workflow history (payloads decoded).
    text = history_text(history)
    assert "wsis-2017-ocp:deadline-reminder:7d" in text  # the decoding works
    for person in participants:
        assert person["email"] not in text
        assert person["name"] not in text

    # The history replays against the current code; keep it for future replays.
    await Replayer(
        workflows=list(WORKFLOWS), workflow_runner=SANDBOX, data_converter=client.data_converter
    ).replay_workflow(history)
    record_history("ocp_2017", history)
