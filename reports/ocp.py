"""The analysis of OCP submissions, shared at phase V: counts by stakeholder type and country.

The analysis is mailed to the whole community, so no submitter's free text may reach it: a
country is shown only when it is a country's name (CLDR's, in one of the portal's languages)
or its ISO 3166 code; anything else is counted as "Other" (a phishing line typed as a
country stays in the database).
"""

from __future__ import annotations

from functools import lru_cache

import sqlalchemy as sa
from babel import Locale
from pydantic import BaseModel
from sqlalchemy.engine import Engine

from models.tables import OcpSubmission
from reports.tables import Breakdown, breakdown

_s = OcpSubmission.__table__  # type: ignore[attr-defined]
OTHER = "Other"  # translated in the mail as the stakeholder type of that name
_LANGUAGES = ("en", "fr", "es", "pt", "ru", "zh", "ar")


@lru_cache(maxsize=1)
def _countries() -> dict[str, str]:
    """Every way of naming a country the analysis shows: folded name or code -> the name."""
    known: dict[str, str] = {}
    for language in _LANGUAGES:
        for code, name in Locale.parse(language).territories.items():
            if len(code) == 2 and code.isalpha() and code not in ("ZZ", "EU", "EZ", "UN"):
                known.setdefault(code.casefold(), Locale.parse("en").territories[code])
                known.setdefault(name.casefold(), name)
    return known


def shown_country(text: str) -> str:
    """``text`` as the analysis shows it: a country's name, or ``OTHER``."""
    return _countries().get(" ".join(text.split()).casefold(), OTHER)


class OcpAnalysis(BaseModel):
    total: int
    by_stakeholder_type: Breakdown
    by_country: Breakdown


def ocp_analysis(process_id: str, engine: Engine) -> OcpAnalysis:
    """Counts and percentages of the official submissions of ``process_id``."""
    with engine.connect() as conn:

        def count_by(column: sa.Column[str]) -> Breakdown:
            rows = conn.execute(
                sa.select(column, sa.func.count())
                .where(_s.c.process_id == process_id, _s.c.withdrawn_at.is_(None))
                .group_by(column)
            ).all()
            return breakdown((str(label), int(n)) for label, n in rows)

        by_type = count_by(_s.c.stakeholder_type)
        countries: dict[str, int] = {}
        for row in count_by(_s.c.country).rows:
            label = shown_country(row.label)
            countries[label] = countries.get(label, 0) + row.count
        by_country = breakdown(countries.items())
    return OcpAnalysis(total=by_type.total, by_stakeholder_type=by_type, by_country=by_country)
