"""A contest's figures as charts show them: nominated projects by stakeholder type (the
table WSIS reports print, e.g. 2017: 41.7 / 22.4 / 16.1 / 13.5 / 6.3 %), and the projects
submitted per country and per category. Counts of projects only: no vote in them."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core import countries, i18n
from models.tables import Project
from reports.prizes import nominations
from reports.tables import Breakdown, breakdown

_p = Project.__table__  # type: ignore[attr-defined]

KINDS = ("stakeholder-types", "countries", "categories")


def submissions_by(process_id: str, engine: Engine, column: str) -> Breakdown:
    """Every project submitted to the contest (whatever became of it), by ``column``."""
    field = _p.c[column]
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(field, sa.func.count()).where(_p.c.process_id == process_id).group_by(field)
        ).all()
    return breakdown((str(label), int(n)) for label, n in rows)


@dataclass(frozen=True)
class Figures:
    """The three breakdowns of one contest."""

    nominated: Breakdown  # nominated projects by stakeholder type
    countries: Breakdown  # submitted projects per country
    categories: Breakdown  # submitted projects per category

    def of(self, kind: str) -> Breakdown:
        """The breakdown a chart's ``kind`` (one of ``KINDS``) shows."""
        return {
            "stakeholder-types": self.nominated,
            "countries": self.countries,
            "categories": self.categories,
        }[kind]


def contest_figures(process_id: str, engine: Engine) -> Figures:
    """The figures of ``process_id``."""
    return Figures(
        nominated=nominations(process_id, engine),
        countries=submissions_by(process_id, engine, "country"),
        categories=submissions_by(process_id, engine, "category"),
    )


def chart_labels(kind: str, found: Breakdown, language: str) -> dict[str, str]:
    """The rows' names in ``language`` for a chart's picture: a stakeholder type through the
    vocabulary catalog, a country by its name; a category keeps its code."""
    with i18n.speaking(language):
        if kind == "stakeholder-types":
            return {r.label: i18n.vocab(r.label) for r in found.rows}
        if kind == "countries":
            return {r.label: countries.name(r.label, language) for r in found.rows}
    return {}
