"""The phase table of each process: one place that names the phases, in order.

Workflows, the status command, search attributes and emails all read these tables; the cycle
file gives each phase its date.
"""

from __future__ import annotations

from dataclasses import dataclass

from models.vocab import N_


@dataclass(frozen=True)
class PhaseDef:
    """One phase of a process: its Roman numeral, a stable slug and its public name."""

    code: str
    slug: str
    name: str

    @property
    def label(self) -> str:
        """How people write it: "Phase III: Second physical meeting"."""
        return f"Phase {self.code}: {self.name}"


OCP_PHASES: tuple[PhaseDef, ...] = (
    PhaseDef("I", "opening", N_("Opening of the open consultations")),
    PhaseDef("II", "first-meeting", N_("First physical meeting")),
    PhaseDef("III", "second-meeting", N_("Second physical meeting")),
    PhaseDef("IV", "submissions-deadline", N_("Submissions deadline")),
    PhaseDef("V", "final-review", N_("Final review meeting")),
    PhaseDef("VI", "final-brief", N_("Final brief")),
)
# Phases that are held as a meeting (invitation, reminder, .ics); VI may be one too.
OCP_MEETING_PHASES = ("II", "III", "V")

PRIZE_PHASES: tuple[PhaseDef, ...] = (
    PhaseDef("I", "submission", N_("Submission")),
    PhaseDef("II", "nomination", N_("Nomination")),
    PhaseDef("III", "public-voting", N_("Public online voting")),
    PhaseDef("IV", "expert-selection", N_("Selection by the Expert Group")),
    PhaseDef("V", "announcement", N_("Announcement at the WSIS Prize Ceremony")),
)

# Before the first phase and after the last, for search attributes and status.
NOT_STARTED = "not-started"
COMPLETED = "completed"
CANCELLED = "cancelled"


def phase(table: tuple[PhaseDef, ...], code: str) -> PhaseDef:
    """The phase with Roman numeral ``code`` in ``table``."""
    for p in table:
        if p.code == code:
            return p
    raise KeyError(code)
