"""The prize contest's database steps: what the workflow asks and what it gets back.

Ids and counts of projects only; never vote counts per project (embargo until the ceremony).
"""

from __future__ import annotations

from pydantic import BaseModel

from models.plan import BallotRule


class EligibilityResult(BaseModel):
    eligible: int
    duplicates: int
    earlier_winners: int


class NominationResult(BaseModel):
    nominated: int
    not_nominated: int


class TallyRequest(BaseModel):
    process_id: str
    categories: list[str]
    shortlist_size: int
    ballot_rule: BallotRule


class Shortlist(BaseModel):
    """Shortlisted project ids per category: ids only, no counts (embargo)."""

    categories: dict[str, list[int]]


class WinnerRequest(BaseModel):
    """Record a category's winners; ``revision`` orders two selections for one category."""

    process_id: str
    category: str
    project_ids: list[int]
    revision: int = 0
