"""Cycle data given per language: the cycle's title, a contest's name, a meeting's title and
venue are written ``title = { en = "...", fr = "...", ar = "..." }`` in the cycle file, and
each reader reads theirs, English where none is given. A real cycle (AnnualCycle with its
OCP and contest) on the time-skipping test server, a real worker and SMTP catcher, the real
portal under uvicorn.
"""

from __future__ import annotations

import asyncio
import html
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from devstack.catcher import MailCatcher
from intake.prizes import submit_project
from mail.compose import Composer, Recipient
from mail.context import CONTEXT_READERS
from models.cycle import ContestConfig
from models.cycle_file import ConfigError, load_cycle
from models.moves import rebased
from models.tables import Project, Window, WindowKind
from models.wire import Audience, CampaignRequest, MeetingChange, MessageKind
from portal.pages import LANGUAGE_COOKIE
from services.errors import Refused
from services.next_cycle import next_cycle_text
from services.prepared import prepare
from tests.conftest import ROOT, serve_portal
from tests.portal_flow import signed_in
from tests.test_prizes import project_form
from worker import build_worker
from workflows.ocp import OcpWorkflow

EN, FR, AR = "WSIS Forum 2017", "Forum du SMSI 2017", "منتدى القمة العالمية 2017"
PRIZES_FR = "Prix du SMSI 2017"
MEETING = "First physical meeting of the WSIS Forum 2017 Open Consultation Process"
MEETING_FR = "Première réunion physique du Processus de consultation ouverte 2017"
VENUE_FR = "Siège de l'UIT, Genève"
OPEN_DATA, OPEN_DATA_FR = "Open data for development", "Données ouvertes pour le développement"
C1 = "The role of public governance authorities and all stakeholders"
_window = Window.__table__  # type: ignore[attr-defined]


def cycle_file(tmp_path: Path) -> Path:
    """The 2017 cycle file with its title, the Prizes' name, a category of the contest's own
    and the first meeting given in French (and the title in Arabic); Spanish is given
    nowhere."""
    text = (ROOT / "cycles" / "2017.toml").read_text(encoding="utf-8")
    text = text.replace(f'title = "{EN}"', f'title = {{ en = "{EN}", fr = "{FR}", ar = "{AR}" }}')
    text = text.replace(
        'name = "WSIS Prizes 2017"',
        f'name = {{ en = "WSIS Prizes 2017", fr = "{PRIZES_FR}" }}\n'
        f'categories = [{{ code = "C1", name = "{C1}" }},\n'
        f'  {{ code = "X-data", name = {{ en = "{OPEN_DATA}", fr = "{OPEN_DATA_FR}" }} }}]',
    )
    first = f'title = "{MEETING}"\nstarts = 2016-10-12T10:00:00+02:00'
    assert first in text
    text = text.replace(
        first,
        f'title = {{ en = "{MEETING}", fr = "{MEETING_FR}" }}\n'
        f'venues = {{ fr = "{VENUE_FR}" }}\nstarts = 2016-10-12T10:00:00+02:00',
    )
    path = tmp_path / "2017.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_cycle_file_gives_text_per_language(tmp_path: Path) -> None:
    cycle = load_cycle(cycle_file(tmp_path))
    assert (cycle.title, cycle.title_in("fr"), cycle.title_in("ar")) == (EN, FR, AR)
    assert cycle.title_in("es") == EN  # not given: English
    assert cycle.contests[0].name_in("fr") == PRIZES_FR
    own = cycle.contests[0].categories[1]
    assert (own.code, own.name, dict(own.names)) == ("X-data", OPEN_DATA, {"fr": OPEN_DATA_FR})
    first = cycle.ocp.meetings["first"]
    assert (first.title_in("fr"), first.venue_in("fr")) == (MEETING_FR, VENUE_FR)
    assert first.venue_in("es") == first.venue
    # Next year's file moves the year in every language.
    _, later = next_cycle_text(cycle_file(tmp_path), 2018)
    assert later.title_in("fr") == "Forum du SMSI 2018" and later.title == "WSIS Forum 2018"


@pytest.mark.parametrize(
    ("given", "problem"),
    [
        ('{ fr = "Forum" }', "title: the English text (en = ...) is required"),
        ('{ en = "Forum", xx = "Forum" }', "titles: unknown language(s) xx"),
        ('{ en = "Forum", fr = "Forum\\nbis" }', "titles.fr: must be a single line"),
    ],
)
def test_a_title_per_language_is_checked(tmp_path: Path, given: str, problem: str) -> None:
    path = tmp_path / "2017.toml"
    text = (ROOT / "cycles" / "2017.toml").read_text(encoding="utf-8")
    path.write_text(text.replace(f'title = "{EN}"', f"title = {given}"), encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        load_cycle(path)
    assert any(p.startswith(problem) for p in refused.value.problems), refused.value.problems


@pytest.fixture
async def visitor(
    skipping_env: WorkflowEnvironment, settings: Settings, engine: Engine
) -> AsyncIterator[httpx.AsyncClient]:
    """The portal reading plans through the test server's client, and a visitor."""
    with serve_portal(settings, engine, temporal=skipping_env.client) as served:
        async with httpx.AsyncClient(base_url=served.url) as client:
            yield client


def _subject(mail: MailCatcher, campaign: str, address: str) -> str:
    found = [m.message for m in mail.received if m.campaign == campaign and address in m.recipients]
    assert found, f"no {campaign} message to {address}"
    message: EmailMessage = found[0]
    return str(message["Subject"])


def _text(mail: MailCatcher, campaign: str, address: str) -> str:
    message = next(
        m.message for m in mail.received if m.campaign == campaign and address in m.recipients
    )
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


async def test_each_reader_reads_the_cycle_in_their_language(
    tmp_path: Path,
    skipping_env: WorkflowEnvironment,
    settings: Settings,
    engine: Engine,
    mail: MailCatcher,
    participants: list[dict[str, str]],
    visitor: httpx.AsyncClient,
) -> None:
    """French readers get the French title in mail subjects and bodies and on the home page,
    Arabic readers the Arabic one; Spanish, given nowhere, falls back to English."""
    from cli.cycle import start_cycle

    french, arabic, spanish = (participants[i]["email"] for i in (0, 5, 6))
    assert [participants[i]["language"] for i in (0, 5, 6)] == ["fr", "ar", "es"]
    now = await skipping_env.get_current_time()
    cycle = rebased(load_cycle(cycle_file(tmp_path)), now + timedelta(hours=1))
    prizes = cycle.contest_id(cycle.contests[0])
    async with build_worker(skipping_env.client, settings, engine, max_cached_workflows=0):
        await start_cycle(skipping_env.client, cycle, settings.task_queue, recipients=30)
        await skipping_env.sleep(cycle.contests[0].submission_opens - now + timedelta(minutes=5))
        for _ in range(200):  # the campaigns' activities finish on the worker's own time
            sent = {m.campaign for m in mail.received}
            if {f"{cycle.ocp_id}:opening", f"{prizes}:opening"} <= sent:
                break
            await asyncio.sleep(0.1)

        opening = f"{cycle.ocp_id}:opening"
        assert FR in _subject(mail, opening, french) and EN not in _subject(mail, opening, french)
        assert FR in _text(mail, opening, french)
        assert AR in _subject(mail, opening, arabic)
        assert EN in _subject(mail, opening, spanish) and FR not in _subject(mail, opening, spanish)
        assert PRIZES_FR in _subject(mail, f"{prizes}:opening", french)
        assert "WSIS Prizes 2017" in _subject(mail, f"{prizes}:opening", spanish)

        visitor.cookies.set(LANGUAGE_COOKIE, "fr")
        page = html.unescape((await visitor.get("/")).text)
        assert FR in page and PRIZES_FR in page and MEETING_FR in page and VENUE_FR in page
        # (The other meetings are given in English only, and read so.)
        assert f"<bdi>{EN}</bdi>" not in page and f"<bdi>{MEETING}</bdi>" not in page
        ics = (await visitor.get(f"/meetings/{cycle.ocp_id}/first.ics")).text
        assert "Première réunion physique" in ics and "Forum du SMSI" in ics.replace("\r\n ", "")
        # A project of the French participant: its receipt and My submissions, in French.
        opens = cycle.contests[0].submission_opens + timedelta(hours=1)
        form = project_form(participants[0], "C1", "Mesh for Villages")
        receipt = await submit_project(prizes, form, engine, settings, now=opens)
        assert PRIZES_FR in _subject(mail, f"{prizes}:ack:{receipt.project_id}", french)
        async with signed_in(str(visitor.base_url), mail, french, language=None) as browser:
            mine = html.unescape((await browser.get("/my")).text)
            assert PRIZES_FR in mine and "Mesh for Villages" in mine
            # The contest's own category in French on the project form; C1 in the catalog's.
            # (The form's window, as the workflow wrote it, opened by the portal's clock.)
            wall = datetime.now(UTC)
            with engine.begin() as conn:
                conn.execute(
                    sa.update(_window)
                    .where(_window.c.process_id == prizes)
                    .where(_window.c.kind == WindowKind.PROJECT_SUBMISSIONS.value)
                    .values(opens_at=wall - timedelta(hours=1), closes_at=wall + timedelta(days=1))
                )
            new = html.unescape((await browser.get(f"/projects/{prizes}/new")).text)
            assert f"X-data\u00a0: {OPEN_DATA_FR}" in new and OPEN_DATA not in new
            assert "C1\u00a0: " in new and C1 not in new
        await _champions_name_their_categories(
            prizes, cycle.contests[0], participants[1], engine, settings, wall
        )

        visitor.cookies.set(LANGUAGE_COOKIE, "es")
        page = html.unescape((await visitor.get("/")).text)
        assert EN in page and "WSIS Prizes 2017" in page and MEETING in page
        assert FR not in page and PRIZES_FR not in page

        # The console moves the meeting to a new venue, given in English and French.
        form_fields = {"meeting": "first", "venue": "CICG, Geneva", "venue_fr": "CICG, Genève"}
        move = prepare("meeting", cycle.cycle_id, form_fields, actor="t", reason="r", notice={})
        handle = skipping_env.client.get_workflow_handle(cycle.ocp_id)
        assert isinstance(move.change, MeetingChange) and move.change.venues == {
            "fr": "CICG, Genève"
        }
        await handle.execute_update(OcpWorkflow.move_meeting, move.change)
        visitor.cookies.set(LANGUAGE_COOKIE, "fr")
        page = html.unescape((await visitor.get("/")).text)
        assert "CICG, Genève" in page and VENUE_FR not in page
        visitor.cookies.set(LANGUAGE_COOKIE, "es")
        assert "CICG, Geneva" in (await visitor.get("/")).text


async def _champions_name_their_categories(
    prizes: str,
    contest: ContestConfig,
    owner: dict[str, str],
    engine: Engine,
    settings: Settings,
    now: datetime,
) -> None:
    """The Champions' e-mail names each category as its window carries it (the workflow wrote
    the cycle file's names there), in the reader's language: the contest's own category in
    French for a French reader and in English for a Spanish one."""
    receipt = await submit_project(
        prizes, project_form(owner, "X-data", "Open Budget"), engine, settings, now=now
    )
    with engine.begin() as conn:
        conn.execute(
            sa.update(Project.__table__)  # type: ignore[attr-defined]
            .where(Project.__table__.c.id == receipt.project_id)  # type: ignore[attr-defined]
            .values(status="nominated", shortlisted=True)
        )
    request = CampaignRequest(
        key=f"{prizes}:champions", process_id=prizes, kind=MessageKind.PRIZE_CHAMPIONS,
        audience=Audience.EVERYONE, title=contest.name, titles=dict(contest.names),
        timezone="Europe/Zurich",
    )  # fmt: skip
    assert [c.code for c in contest.categories] == ["C1", "X-data"]
    extra = CONTEXT_READERS[MessageKind.PRIZE_CHAMPIONS](request, engine)
    composer = Composer.for_settings(request, settings, extra)
    for lang, name in (("fr", f"X-data\u00a0: {OPEN_DATA_FR}"), ("es", f"X-data: {OPEN_DATA}")):
        reader = Recipient(1, "reader@example.org", "Reader", lang, 0)
        body = composer.message(reader).get_body(("plain",))
        assert body is not None
        assert name in body.get_content(), (lang, body.get_content())


def test_the_console_refuses_a_venue_without_its_english() -> None:
    with pytest.raises(Refused, match="give the new venue in English too"):
        fields = {"meeting": "first", "venue_fr": "CICG, Genève"}
        prepare("meeting", "wsis-2017", fields, actor="t", reason="r", notice={})
    fields = {"meeting": "first", "venue": "CICG", "venue_ar": "line\nbreak"}
    with pytest.raises(Refused, match="venue_ar"):
        prepare("meeting", "wsis-2017", fields, actor="t", reason="r", notice={})
