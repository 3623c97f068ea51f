"""What an intake window carries beside its dates, and whether it is open: one model, one rule.

``WindowRules`` is written by the contest workflow (``workflows/prizes.py``) into the window
row it schedules, and read by intake (categories, word limits, the ballot rule), the reports
and the portal, all with the same defaults. ``window_status`` is the one answer to "is this
window open at this instant?": intake refuses by it, the portal's pages show it.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from models.plan import DEFAULT_RUBRIC, BallotRule, CriterionPlan
from models.tables.windows import WindowState
from models.vocab import Localized

# Word limits of a project's description when a contest names none.
DEFAULT_DESCRIPTION_WORDS = (1, 10_000)


class WindowRules(BaseModel):
    """The rules of one window (stored as JSON in ``window.rules_json``)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    categories: list[str] = Field(default_factory=list, description="category codes, in order")
    category_names: dict[str, str] = Field(default_factory=dict, description="code -> name")
    # A contest's own category names in other languages (code -> language -> name).
    category_versions: dict[str, dict[str, str]] = Field(default_factory=dict)
    description_words: tuple[int, int] = DEFAULT_DESCRIPTION_WORDS
    ballot_rule: BallotRule = BallotRule.ANY
    # The Expert Group's score sheet in phase IV (voting windows; services/judging.py).
    rubric: tuple[CriterionPlan, ...] = DEFAULT_RUBRIC
    # The window's title (the cycle's, the contest's name) in other languages than English.
    titles: dict[str, str] = Field(default_factory=dict)

    def title_in(self, title: str, language: str) -> str:
        """``title`` (the window row's, in English) as the reader of ``language`` reads it."""
        return self.titles.get(language) or title

    @classmethod
    def parse(cls, text: str | None) -> WindowRules:
        """The rules stored in a window row (an empty or missing text: the defaults)."""
        return cls.model_validate_json(text or "{}")

    def to_json(self) -> str:
        """The stored form."""
        return self.model_dump_json()

    def names(self) -> dict[str, str]:
        """Code -> name: the English text, ``Localized`` where the cycle file gave other
        languages (the ``vocab`` filter shows each reader theirs)."""
        versions = self.category_versions
        return {
            code: Localized(name, versions[code]) if versions.get(code) else name
            for code, name in self.category_names.items()
        }


def window_status(
    state: str, opens_at: datetime, closes_at: datetime, now: datetime
) -> WindowState:
    """Is the window open at ``now``? ``opens_at <= now < closes_at`` and neither closed nor
    cancelled by its process: the dates decide even while no worker runs."""
    if state == WindowState.CANCELLED.value:
        return WindowState.CANCELLED
    if state == WindowState.CLOSED.value or now >= closes_at:
        return WindowState.CLOSED
    return WindowState.OPEN if now >= opens_at else WindowState.SCHEDULED
