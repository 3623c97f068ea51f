"""The Expert Group's rules, at the service layer: an expert scores only the shortlisted
projects of the categories assigned to them, never one they are recused from; reads their
own sheets only; the decision's aggregate (mean, median, scores, recusals) is for the
secretariat and the lead, vote counts for the secretariat alone; a tie is named."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from models.cycle_file import ConfigError, load_cycle
from services import audit, decision, judging
from services.errors import Refused
from tests.judging_flow import PID, phase_four

ROOT = Path(__file__).resolve().parent.parent


def test_experts_score_their_categories_only_and_never_when_recused(
    engine: Engine, participants: list[dict[str, str]]
) -> None:
    c = phase_four(engine)
    a, b, x = c.experts
    c1, c2 = c.projects["C1"], c.projects["C2"]
    judging.assign(engine, a, PID, "C1", actor=c.secretariat.actor)
    judging.assign(engine, b, PID, "", actor=c.secretariat.actor)  # every category
    with pytest.raises(Refused, match="only an expert"):
        judging.assign(engine, c.secretariat, PID, "C1", actor=c.secretariat.actor)
    with pytest.raises(Refused, match="no shortlist"):
        judging.assign(engine, x, PID, "C9", actor=c.secretariat.actor)

    # A sees C1's three shortlisted projects (not the fourth, not C2); B sees all five.
    assert [s.project_id for s in judging.work(engine, a)] == c1[:3]
    assert len(judging.work(engine, b)) == 5 and judging.work(engine, x) == []
    for outside in (c2[0], c1[3]):
        with pytest.raises(Refused, match="not among the projects you judge"):
            judging.save(engine, a, outside, {"impact": "5", "reach": "3"}, "", submit=False)
    with pytest.raises(Refused, match="not among"):
        judging.recuse(engine, x, c1[0], "none of my business")

    # A draft keeps what is given; submitting needs every criterion within its scale.
    judging.save(engine, a, c1[0], {"impact": "8"}, "promising", submit=False)
    draft = judging.project(engine, a, c1[0])
    assert draft.scores == {"impact": 8} and not draft.submitted and draft.comment == "promising"
    with pytest.raises(Refused, match="Reach: give a score from 1 to 5"):
        judging.save(engine, a, c1[0], {"impact": "8"}, "", submit=True)
    for bad in ("6", "0", "-1", "x", "3.5"):
        with pytest.raises(Refused, match="Reach: a score from 1 to 5"):
            judging.save(engine, a, c1[0], {"impact": "8", "reach": bad}, "", submit=False)
    judging.save(engine, a, c1[0], {"impact": "8", "reach": "5"}, "strong", submit=True)
    with pytest.raises(Refused, match="submitted already"):
        judging.save(engine, a, c1[0], {"impact": "1", "reach": "1"}, "", submit=True)
    assert judging.progress(judging.work(engine, a)) == (1, 3)

    # A recuses from the second project: its draft goes, no score is taken, the log has it.
    judging.save(engine, a, c1[1], {"impact": "2"}, "", submit=False)
    judging.recuse(engine, a, c1[1], "I advised this project")
    sheet = judging.project(engine, a, c1[1])
    assert sheet.recused and sheet.scores == {}
    with pytest.raises(Refused, match="conflict of interest"):
        judging.save(engine, a, c1[1], {"impact": "9", "reach": "5"}, "", submit=True)
    logged = [e for e in audit.entries(engine) if e.action == "judging.recuse"]
    assert len(logged) == 1 and logged[0].actor == a.actor
    assert logged[0].target == f"project:{c1[1]}" and logged[0].reason == "I advised this project"
    assert judging.progress(judging.work(engine, a)) == (2, 3)

    # B scores the same project: A's work shows A's sheets only, and B's shows B's.
    judging.save(engine, b, c1[0], {"impact": "4", "reach": "2"}, "weak", submit=True)
    assert judging.project(engine, a, c1[0]).comment == "strong"
    assert judging.project(engine, b, c1[0]).scores == {"impact": 4, "reach": 2}


def test_the_decision_aggregates_and_names_a_tie(
    engine: Engine, participants: list[dict[str, str]]
) -> None:
    c = phase_four(engine)
    a, b, x = c.experts
    c1 = c.projects["C1"]
    for expert in (a, b, x):
        judging.assign(engine, expert, PID, "C1", actor=c.secretariat.actor)
    # Weighted: (impact * 2 + reach) / 3.
    judging.save(engine, a, c1[0], {"impact": "10", "reach": "5"}, "", submit=True)  # 8.33
    judging.save(engine, b, c1[0], {"impact": "7", "reach": "1"}, "", submit=True)  # 5.0
    judging.save(engine, x, c1[0], {"impact": "4", "reach": "4"}, "", submit=True)  # 4.0
    judging.recuse(engine, a, c1[1], "conflict")
    judging.save(engine, b, c1[1], {"impact": "9", "reach": "1"}, "", submit=False)  # a draft
    judging.save(engine, x, c1[2], {"impact": "1", "reach": "1"}, "", submit=True)

    for expert in c.experts:
        with pytest.raises(Refused, match="secretariat's or the Expert Group lead's"):
            decision.board(engine, expert, PID)
    lead = decision.board(engine, c.lead, PID)
    first = lead.categories[0]
    assert first.code == "C1" and [s.project_id for s in first.standings] == [c1[0], c1[2], c1[1]]
    top = first.standings[0]
    assert (top.mean, top.median, top.scored, top.recusals) == (5.78, 5.0, 3, 0)
    assert first.standings[2].recusals == 1 and first.standings[2].drafts == 1
    assert first.standings[2].mean is None
    # The lead reads no vote count; the secretariat does. The tally's hash is shown.
    assert all(s.votes is None for cat in lead.categories for s in cat.standings)
    sec = decision.board(engine, c.secretariat, PID)
    assert [s.votes for s in sec.categories[0].standings] == [30, 20, 20]
    assert sec.sha256 == "ab" * 32 and sec.ballots_counted == 90

    # Equal means at the top are named, and nothing is chosen.
    assert first.tied == [] and not first.has_winner
    judging.assign(engine, a, PID, "", actor=c.secretariat.actor)
    c2 = c.projects["C2"]
    judging.save(engine, a, c2[0], {"impact": "6", "reach": "3"}, "", submit=True)
    judging.save(engine, a, c2[1], {"impact": "6", "reach": "3"}, "", submit=True)
    tied = next(cat for cat in decision.board(engine, c.lead, PID).categories if cat.code == "C2")
    assert tied.tied == c2 and not tied.has_winner


def test_the_rubric_is_set_in_the_cycle_file(tmp_path: Path) -> None:
    text = (ROOT / "cycles" / "2024.toml").read_text(encoding="utf-8")
    assert "rubric" not in text
    default = load_cycle(ROOT / "cycles" / "2024.toml").contests[0].rubric
    assert [(c.code, c.low, c.high, c.weight) for c in default] == [("overall", 1, 10, 1.0)]
    rubric = (
        'rubric = [\n  { code = "impact", name = "Impact", weight = 2, low = 1, high = 10 },\n'
        '  { code = "reach", name = "Reach", weight = 1, low = 1, high = 5 },\n]\n'
    )
    path = tmp_path / "2024.toml"
    path.write_text(text.replace("[[contests]]\n", "[[contests]]\n" + rubric, 1), "utf-8")
    assert [c.code for c in load_cycle(path).contests[0].rubric] == ["impact", "reach"]
    for bad, why in (("low = 1, high = 5", "low must be below high"),
                     ('code = "reach"', "each code once")):  # fmt: skip
        wrong = rubric.replace(bad, "low = 5, high = 5" if "low" in bad else 'code = "impact"')
        path.write_text(text.replace("[[contests]]\n", "[[contests]]\n" + wrong, 1), "utf-8")
        with pytest.raises(ConfigError, match=why):
            load_cycle(path)


def test_the_experts_reminders_are_set_in_the_cycle_file(tmp_path: Path) -> None:
    text = (ROOT / "cycles" / "2024.toml").read_text(encoding="utf-8")
    default = load_cycle(ROOT / "cycles" / "2024.toml").contests[0].expert_reminders
    assert default == (timedelta(days=7), timedelta(days=2))
    path = tmp_path / "2024.toml"
    path.write_text(
        text.replace("[[contests]]\n", '[[contests]]\nexpert_reminders = ["5d", "36h"]\n', 1),
        "utf-8",
    )
    spans = load_cycle(path).contests[0].expert_reminders
    assert spans == (timedelta(days=5), timedelta(hours=36))
    path.write_text(
        text.replace("[[contests]]\n", '[[contests]]\nexpert_reminders = ["0d"]\n', 1), "utf-8"
    )
    with pytest.raises(ConfigError, match="expert_reminders: each must be a positive"):
        load_cycle(path)
