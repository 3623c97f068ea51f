"""The intake forms under hostile text: cleaned at the door, limited in length, counted in
words as a reader counts them, and recognised by Unicode identity for the eligibility checks."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from sqlalchemy.engine import Engine

from activities.prizes import PrizeActivities
from activities.windows import WindowActivities
from intake.fields import TITLE_LIMIT, reasons
from intake.ocp import OcpForm, record_submission
from intake.participants import import_participants
from intake.prizes import ProjectForm, Refused, record_project
from models.tables import OcpSubmission, Participant, Project, WindowKind
from models.text import line_problem
from models.wire import ProcessRef, WindowRequest

OPENS = datetime(2030, 1, 1, tzinfo=UTC)
DURING = OPENS + timedelta(days=1)
WORDS = " ".join(["word"] * 160)
_project = Project.__table__  # type: ignore[attr-defined]


def project(title: str = "Smart Villages", **changes: Any) -> ProjectForm:
    fields = {
        "owner_email": "amina@example.org",
        "owner_name": "Amina Diallo",
        "category": "C1",
        "title": title,
        "description": WORDS,
        "stakeholder_type": "Government",
        "country": "Senegal",
        **changes,
    }
    return ProjectForm.model_validate(fields)


@pytest.fixture
def contest(engine: Engine) -> str:
    for process_id, kind in [
        ("p-forms", WindowKind.PROJECT_SUBMISSIONS),
        ("o-forms", WindowKind.OCP_SUBMISSIONS),
    ]:
        WindowActivities(engine).open_window(
            WindowRequest(
                process_id=process_id,
                kind=kind.value,
                title="Test",
                opens_at=OPENS,
                closes_at=OPENS + timedelta(days=30),
                timezone="Europe/Zurich",
                rules_json='{"categories": ["C1", "C2"], "description_words": [150, 200]}',
            )
        )
    return "p-forms"


def stored(engine: Engine, pid: int) -> Any:
    with engine.connect() as conn:
        return conn.execute(sa.select(_project).where(_project.c.id == pid)).one()


def test_titles_have_a_limit_that_the_refusal_names() -> None:
    project("x" * TITLE_LIMIT)
    with pytest.raises(ValidationError) as refused:
        project("x" * (TITLE_LIMIT + 1))
    assert reasons(refused.value) == "title: at most 200 characters (this one has 201)"


def test_controls_escapes_and_overrides_are_stripped(engine: Engine, contest: str) -> None:
    form = project(
        "\x1b[2JSmart\u202e Villages\x00",
        description=WORDS + "\n\nSecond\tparagraph\x1b[31m\x00",
        organization="Min\nistry",
    )
    pid, _ = record_project(contest, form, engine, now=DURING)
    row = stored(engine, pid)
    assert (row.title, row.organization) == ("Smart Villages", "Min istry")
    assert row.description.endswith("\n\nSecond\tparagraph")


def test_a_nul_in_a_form_field_is_removed(engine: Engine, contest: str) -> None:
    form = OcpForm(
        full_name="Amina\x00 Diallo",
        email="amina@example.org",
        organization="Ministry\x00",
        country="Senegal",
        proposal="Remote\x00 participation",
    )
    sid, _ = record_submission("o-forms", form, engine, now=DURING)
    with engine.connect() as conn:
        row = conn.execute(sa.select(OcpSubmission.__table__).where(sa.column("id") == sid)).one()  # type: ignore[attr-defined]
    assert (row.full_name, row.organization, row.proposal) == (
        "Amina Diallo",
        "Ministry",
        "Remote participation",
    )


def test_invisible_characters_do_not_bypass_word_limits(engine: Engine, contest: str) -> None:
    for glue in ("\u200b", "\u2060", "\u00ad", "\ufeff"):
        with pytest.raises(Refused, match="has 6000 words; it must have 150 to 200"):
            record_project(
                contest, project(description=glue.join(["w"] * 6000)), engine, now=DURING
            )
    # Controls are stripped at intake: what is stored, and counted, is then one long word.
    with pytest.raises(Refused, match="has 1 word;"):
        record_project(contest, project(description="\x00".join(["w"] * 170)), engine, now=DURING)
    with pytest.raises(Refused, match="has 0 words"):
        record_project(contest, project(description=" ".join(["—"] * 170)), engine, now=DURING)


def test_titles_equal_by_unicode_identity_are_duplicates(engine: Engine, contest: str) -> None:
    # An earlier cycle's winner, typed in fullwidth letters.
    with engine.begin() as conn:
        conn.execute(
            sa.insert(Participant.__table__).values(  # type: ignore[attr-defined]
                email="o@example.org",
                name="O",
                unsubscribe_legacy="t",
                created_at=OPENS,
                updated_at=OPENS,
            )
        )
    old, _ = record_project(
        contest, project("\uff23\uff41\uff46\u00e9 Connect"), engine, now=DURING
    )
    with engine.begin() as conn:
        conn.execute(
            _project.update()
            .where(_project.c.id == old)
            .values(process_id="wsis-2016-prizes", winner=True, status="nominated")
        )
    first, _ = record_project(contest, project("Smart Villages"), engine, now=DURING)
    nfd = unicodedata.normalize("NFD", "SMART VILLAGES")
    dupe, _ = record_project(
        contest, project(nfd, owner_email="chen@example.org"), engine, now=DURING
    )
    again, _ = record_project(contest, project("Café connect"), engine, now=DURING)
    result = PrizeActivities(engine).check_eligibility(ProcessRef(process_id=contest))
    assert (result.duplicates, result.earlier_winners, result.eligible) == (1, 1, 1)
    assert stored(engine, dupe).reason == f"duplicate of project {first}"
    assert stored(engine, again).reason.startswith("won in an earlier cycle")


def test_an_owner_typed_in_nfd_is_the_registered_one(
    engine: Engine, contest: str, tmp_path: Path
) -> None:
    (tmp_path / "p.csv").write_text("name,email\nJosé,josé@example.org\n", encoding="utf-8")
    import_participants(tmp_path / "p.csv", engine)
    email = unicodedata.normalize("NFD", "José@Example.org")
    pid, _ = record_project(
        contest, project(owner_email=email, owner_name=None), engine, now=DURING
    )
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(Participant)).scalar_one() == 1
    assert stored(engine, pid).owner_id == 1


# Property: whatever text a form gets, it is refused (ValidationError) or clean.

TEXT = st.text(alphabet=st.characters(codec="utf-8") | st.sampled_from("\x00\x1b[\u202e\n\r\t"))


@settings(max_examples=300, deadline=None)
@given(st.fixed_dictionaries({}, optional={k: TEXT for k in (
    "owner_email", "owner_name", "category", "title", "description", "organization",
    "stakeholder_type", "country")}))  # fmt: skip
def test_any_project_form_is_clean_or_refused(fields: dict[str, str]) -> None:
    try:
        form = ProjectForm.model_validate(fields)
    except ValidationError as exc:
        assert exc.errors()
        return
    for one_line in (form.title, form.category, form.country, form.organization):
        assert line_problem(one_line) is None and len(one_line) <= 300
    assert "\x00" not in form.description and "\r" not in form.description


@settings(max_examples=300, deadline=None)
@given(st.fixed_dictionaries({"email": st.just("a@example.org") | TEXT}, optional={
    k: TEXT for k in ("full_name", "organization", "country", "telephone", "proposal",
                      "stakeholder_type", "language")}))  # fmt: skip
def test_any_ocp_form_is_clean_or_refused(fields: dict[str, str]) -> None:
    try:
        form = OcpForm.model_validate(fields)
    except ValidationError:
        return
    assert line_problem(form.full_name) is None and "\x00" not in form.proposal
