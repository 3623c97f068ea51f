"""The signal a process sends its cycle, typed: each process reports its current plan after a
secretariat change, so that the cycle checks a move of the Forum against all of them.

Apart from ``workflows/cycle.py`` so that a process can name the signal by its method
(``CycleReports.process_changed``) without importing the cycle, which imports the processes.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.plan import CyclePlan
    from models.wire import ProcessChanged

# The signal's name in histories (unchanged since it was sent by name).
PROCESS_CHANGED = "process_changed"


class CycleReports:
    """The cycle's side of the report: it keeps each process's current plan."""

    config: CyclePlan

    @workflow.signal(name=PROCESS_CHANGED)
    def process_changed(self, report: ProcessChanged) -> None:
        """A process's current plan, after a secretariat change it accepted."""
        if report.ocp is not None:
            self.config = self.config.model_copy(update={"ocp": report.ocp})
        if report.contest is not None:
            contests = tuple(
                report.contest if self.config.contest_id(c) == report.process_id else c
                for c in self.config.contests
            )
            self.config = self.config.model_copy(update={"contests": contests})
