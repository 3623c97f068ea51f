"""Prize contest figures: nominations by stakeholder type, results, and email context.

Vote counts are embargoed until the ceremony: nothing here that feeds an email or the
workflow carries them; ``results`` does, and the CLI asks for an explicit flag before the
ceremony.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.engine import Engine

from models.tables import Campaign, PrizeTally, Project, ProjectStatus, Window
from models.window_rules import WindowRules
from models.wire import CampaignRequest, MessageKind
from reports.tables import Breakdown, breakdown
from reports.votes import category_names

_p = Project.__table__  # type: ignore[attr-defined]
_w = Window.__table__  # type: ignore[attr-defined]
_t = PrizeTally.__table__  # type: ignore[attr-defined]
_c = Campaign.__table__  # type: ignore[attr-defined]


def results_are_public(process_id: str, engine: Engine) -> bool:
    """Whether the winners have been announced (the ceremony campaign has gone out): until
    then vote counts are embargoed everywhere."""
    with engine.connect() as conn:
        held = conn.execute(
            sa.select(sa.func.count())
            .select_from(_c)
            .where(_c.c.key == f"{process_id}:winners", _c.c.completed_at.is_not(None))
        ).scalar_one()
    return bool(held)


def nominations(process_id: str, engine: Engine) -> Breakdown:
    """Nominated projects by stakeholder type, with percentages to one decimal."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(_p.c.stakeholder_type, sa.func.count())
            .where(_p.c.process_id == process_id, _p.c.status == ProjectStatus.NOMINATED.value)
            .group_by(_p.c.stakeholder_type)
        ).all()
    return breakdown((str(kind), int(n)) for kind, n in rows)


class ProjectLine(BaseModel):
    id: int
    title: str
    organization: str
    country: str
    description: str = ""
    votes: int | None
    shortlisted: bool
    winner: bool


class CategoryResult(BaseModel):
    code: str
    projects: list[ProjectLine]

    @property
    def winners(self) -> list[ProjectLine]:
        return [p for p in self.projects if p.winner]

    @property
    def champions(self) -> list[ProjectLine]:
        return [p for p in self.projects if p.shortlisted and not p.winner]


class Results(BaseModel):
    process_id: str
    ballots_cast: int | None
    ballots_counted: int | None
    sha256: str | None
    categories: list[CategoryResult]


def categories_of(process_id: str, engine: Engine) -> list[str]:
    """The contest's categories, in its order, from its windows' rules."""
    with engine.connect() as conn:
        for (rules,) in conn.execute(
            sa.select(_w.c.rules_json).where(_w.c.process_id == process_id)
        ):
            found = WindowRules.parse(rules).categories
            if found:
                return list(found)
        return [
            c
            for (c,) in conn.execute(
                sa.select(_p.c.category).where(_p.c.process_id == process_id).distinct()
            )
        ]


def results(process_id: str, engine: Engine, *, only_shortlisted: bool = False) -> Results:
    """Votes per nominated project, the shortlist, winners and Champions, per category."""
    with engine.connect() as conn:
        tally = conn.execute(sa.select(_t).where(_t.c.process_id == process_id)).first()
        query = sa.select(_p).where(
            _p.c.process_id == process_id, _p.c.status == ProjectStatus.NOMINATED.value
        )
        if only_shortlisted:
            query = query.where(_p.c.shortlisted.is_(sa.true()))
        rows = conn.execute(
            query.order_by(_p.c.category, sa.desc(sa.func.coalesce(_p.c.votes, 0)), _p.c.id)
        ).all()
    by_category: dict[str, list[ProjectLine]] = {}
    for r in rows:
        by_category.setdefault(r.category, []).append(
            ProjectLine(
                id=r.id,
                title=r.title,
                organization=r.organization,
                country=r.country,
                description=r.description,
                votes=r.votes,
                shortlisted=r.shortlisted,
                winner=r.winner,
            )
        )
    order = categories_of(process_id, engine)
    return Results(
        process_id=process_id,
        ballots_cast=tally.ballots_cast if tally else None,
        ballots_counted=tally.ballots_counted if tally else None,
        sha256=tally.sha256 if tally else None,
        categories=[
            CategoryResult(code=c, projects=by_category.get(c, []))
            for c in order
            if c in by_category
        ],
    )


def _groups(
    categories: list[CategoryResult], names: dict[str, str], pick: str
) -> list[dict[str, Any]]:
    return [
        {
            "code": c.code,
            "name": names.get(c.code),  # in the reader's language through the vocab filter
            "projects": [
                {"title": p.title, "organization": p.organization, "country": p.country}
                for p in (c.projects if pick == "shortlist" else c.winners)
            ],
        }
        for c in categories
    ]


def prize_context(request: CampaignRequest, engine: Engine) -> dict[str, Any]:
    """Template context of prize emails: shortlists without vote counts (embargo), by
    category (code, name, and each project's title, organization and country)."""
    found = results(request.process_id, engine, only_shortlisted=True)
    # The contest's own names, as its voting window carries them (a contest of its own
    # categories names them; the default ones are translated by the catalogs).
    names = category_names(request.process_id, engine)
    # Before the ceremony, nobody learns which Champion won.
    show_winners = request.kind is MessageKind.PRIZE_WINNERS
    return {
        "champions": _groups(found.categories, names, "shortlist"),
        "winners": _groups(found.categories, names, "winners") if show_winners else [],
    }
