"""The listed reasons a secretariat gives when it marks a project ineligible: a code and the
English words kept in the project's row. Its owner reads them in their own language (the
e-mail ``prize_ineligible``, *My submissions*); the secretariat's internal note is audit-only."""

from __future__ import annotations

from collections.abc import Mapping

INELIGIBLE_REASONS: Mapping[str, str] = {
    "incomplete": "The entry is incomplete",
    "out-of-scope": "The project is outside the contest's scope",
    "wrong-category": "The project is in the wrong category",
    "not-implemented": "The project is not yet implemented",
    "duplicate": "A duplicate of another entry",
    "earlier-winner": "The project won in an earlier year",
    "other": "Another reason",
}
