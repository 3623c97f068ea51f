"""Starting a process, asking its status, and the intake windows its steps open and close."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, model_validator

from models.plan import ContestPlan, CyclePlan, OcpPlan
from models.window_rules import WindowRules


class ProcessRef(BaseModel):
    """The one input of an activity that needs only its process (eligibility, nominations,
    the outbox flush)."""

    process_id: str

    @model_validator(mode="before")
    @classmethod
    def _plain_id(cls, data: Any) -> Any:
        """An activity scheduled before this model existed sent the bare id."""
        return {"process_id": data} if isinstance(data, str) else data


class StepView(BaseModel):
    """A scheduled action of a process, as the status command and the UI show it."""

    key: str
    at: datetime
    summary: str
    phase: str | None = None


class ProcessStatus(BaseModel):
    """What the ``status`` query returns: the phase, what comes next, what was done."""

    process_id: str
    process: str
    phase: str
    phase_name: str
    timezone: str
    upcoming: list[StepView]
    done: list[str]
    skipped: list[str]
    entered: dict[str, datetime] = Field(default_factory=dict, description="phase -> began at")
    waiting_for: str | None = None
    cancelled: str | None = None
    running: str | None = Field(default=None, description="the step under way, if any")
    pending_changes: list[str] = Field(
        default_factory=list, description="changes accepted, applied once the running step ends"
    )


class OcpInput(BaseModel):
    """Start an OCP workflow."""

    cycle_id: str
    year: int
    title: str
    ocp: OcpPlan
    campaign_shards: int = Field(default=1, description="Shards of a campaign to everyone")
    # The cycle's title in other languages (release 18; empty in earlier histories).
    titles: dict[str, str] = Field(default_factory=dict)


class ContestInput(BaseModel):
    """Start a prize contest workflow."""

    cycle_id: str
    year: int
    title: str
    contest: ContestPlan
    campaign_shards: int = Field(default=1, description="Shards of a campaign to everyone")


class CycleInput(BaseModel):
    """Start the parent ``AnnualCycle`` workflow."""

    config: CyclePlan
    campaign_shards: int = Field(default=1, description="Passed to every process")


class ProcessChanged(BaseModel):
    """A process tells its cycle its current plan after a secretariat change, so that a move
    of the Forum is checked against what each process really plans now."""

    process_id: str
    ocp: OcpPlan | None = None
    contest: ContestPlan | None = None


class WindowRequest(BaseModel):
    """Open, move or close an intake window.

    ``revision`` counts the process's accepted changes: a write carrying an older revision
    than the row's never lands over a newer one (a retried attempt can arrive late).
    """

    process_id: str
    kind: str
    title: str
    opens_at: datetime
    closes_at: datetime
    timezone: str
    rules: WindowRules = Field(default_factory=WindowRules)
    revision: int = 0

    @model_validator(mode="before")
    @classmethod
    def _stored_rules(cls, data: Any) -> Any:
        """A request scheduled before ``rules`` was typed carries them as ``rules_json``."""
        if isinstance(data, dict) and "rules_json" in data and "rules" not in data:
            stored = data["rules_json"]
            data = {k: v for k, v in data.items() if k != "rules_json"}
            data["rules"] = WindowRules.parse(stored or None)
        return data


class WindowResult(BaseModel):
    process_id: str
    kind: str
    state: str
    accepted: int
