"""The phase table of each process: one place that names the phases, in order.

Workflows, the status command, search attributes and emails all read these tables; the cycle
file gives each phase its date.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from models.vocab import N_


class PhaseCode(StrEnum):
    """A phase's Roman numeral (the same codes in both processes' tables)."""

    I = "I"  # noqa: E741 (the Roman numeral)
    II = "II"
    III = "III"
    IV = "IV"
    V = "V"
    VI = "VI"


class ProcessState(StrEnum):
    """Before the first phase and after the last, for search attributes and status."""

    NOT_STARTED = "not-started"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class PhaseDef:
    """One phase of a process: its Roman numeral, a stable slug and its public name."""

    code: PhaseCode
    slug: str
    name: str

    @property
    def label(self) -> str:
        """How people write it: "Phase III: Second physical meeting"."""
        return f"Phase {self.code}: {self.name}"


OCP_PHASES: tuple[PhaseDef, ...] = (
    PhaseDef(PhaseCode.I, "opening", N_("Opening of the open consultations")),
    PhaseDef(PhaseCode.II, "first-meeting", N_("First physical meeting")),
    PhaseDef(PhaseCode.III, "second-meeting", N_("Second physical meeting")),
    PhaseDef(PhaseCode.IV, "submissions-deadline", N_("Submissions deadline")),
    PhaseDef(PhaseCode.V, "final-review", N_("Final review meeting")),
    PhaseDef(PhaseCode.VI, "final-brief", N_("Final brief")),
)
# Phases that are held as a meeting (invitation, reminder, .ics); VI may be one too.
OCP_MEETING_PHASES = (PhaseCode.II, PhaseCode.III, PhaseCode.V)

PRIZE_PHASES: tuple[PhaseDef, ...] = (
    PhaseDef(PhaseCode.I, "submission", N_("Submission")),
    PhaseDef(PhaseCode.II, "nomination", N_("Nomination")),
    PhaseDef(PhaseCode.III, "public-voting", N_("Public online voting")),
    PhaseDef(PhaseCode.IV, "expert-selection", N_("Selection by the Expert Group")),
    PhaseDef(PhaseCode.V, "announcement", N_("Announcement at the WSIS Prize Ceremony")),
)

# The names the code has used for them.
NOT_STARTED = ProcessState.NOT_STARTED
COMPLETED = ProcessState.COMPLETED
CANCELLED = ProcessState.CANCELLED


def phase(table: tuple[PhaseDef, ...], code: str) -> PhaseDef:
    """The phase with Roman numeral ``code`` in ``table``."""
    for p in table:
        if p.code == code:
            return p
    raise KeyError(code)
