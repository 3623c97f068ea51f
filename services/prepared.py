"""A change as a form describes it, checked and ready to send: the console's confirmation
step shows it, then sends exactly it (``services.changes.send``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from core.i18n import LANGUAGES, SOURCE
from intake.fields import reasons as field_reasons
from models import ids
from models.cycle_fields import Venue
from models.wire import Cancellation, CeremonyChange, DeadlineChange, ForumMove, MeetingChange
from services.errors import INVALID, Refused
from workflows.ocp import OcpWorkflow
from workflows.prizes import PrizeContestWorkflow
from workflows.process import ProcessWorkflow

KINDS = ("deadline", "meeting", "ceremony", "forum", "cancel")


@dataclass(frozen=True)
class Prepared:
    """The update, the processes it goes to (None: every process of the cycle), the change."""

    kind: str
    cycle: str
    update: Any
    targets: list[str] | None
    change: BaseModel


# What the form calls the dates a change sets (the models' ``AwareInstant`` reads them).
_LABELS = {
    "new": "new deadline",
    "starts": "new start",
    "at": "new date",
}


def _model(model: type[BaseModel], labels: Mapping[str, str] = _LABELS, **fields: Any) -> BaseModel:
    try:
        value = model(**fields)
    except ValidationError as exc:
        raise Refused(field_reasons(exc, labels), INVALID) from None
    if problems := value.problems():  # type: ignore[attr-defined]
        raise Refused("; ".join(problems), INVALID)
    return value


def _venue(text: str | None, label: str) -> str | None:
    """A venue by the cycle file's rules (one line, at most 300 characters), or ``Refused``."""
    if text is None:
        return None
    try:
        return str(TypeAdapter(Venue).validate_python(text))
    except ValidationError as exc:
        raise Refused(f"{label}: {field_reasons(exc)}", INVALID) from None


def prepare(
    kind: str, cycle: str, form: dict[str, str], *, actor: str, reason: str,
    notice: dict[str, str],
) -> Prepared:  # fmt: skip
    """The change ``kind`` of ``cycle`` from the form's fields, or ``Refused`` saying why."""
    if kind not in KINDS:
        raise Refused(f"{kind[:20]!r} is not a change", INVALID)
    if not cycle:
        raise Refused("choose the cycle", INVALID)
    who: dict[str, Any] = {"requested_by": actor, "reason": reason, "notice": notice}
    process = form.get("process", "") or "ocp"
    if kind == "deadline":
        change = _model(
            DeadlineChange, deadline=form.get("deadline") or "submissions",
            new=form.get("to", ""), **who,
        )  # fmt: skip
        return Prepared(
            kind, cycle, ProcessWorkflow.change_deadline, [ids.process_id(cycle, process)], change
        )
    if kind == "meeting":
        venue = _venue(form.get("venue") or None, "venue")
        venues = {
            lang: _venue(text, f"venue_{lang}")
            for lang in LANGUAGES
            if lang != SOURCE and (text := form.get(f"venue_{lang}", "").strip())
        }
        if venues and venue is None:
            raise Refused("venue: give the new venue in English too", INVALID)
        starts = form.get("starts", "")
        change = _model(
            MeetingChange, meeting=form.get("meeting", ""), venue=venue,
            venues=venues if venue is not None else None,
            starts=starts or None, **who,
        )  # fmt: skip
        return Prepared(kind, cycle, OcpWorkflow.move_meeting, [ids.ocp_id(cycle)], change)
    if kind == "ceremony":
        contest = form.get("process") or ids.PRIZES_SLUG
        change = _model(CeremonyChange, at=form.get("to", ""), **who)
        target = [ids.contest_id(cycle, contest)]
        return Prepared(kind, cycle, PrizeContestWorkflow.move_ceremony, target, change)
    if kind == "forum":
        change = _model(
            ForumMove, {"starts": "Forum start", "ends": "Forum end"},
            starts=form.get("starts", ""), ends=form.get("ends", ""), **who,
        )  # fmt: skip
        return Prepared(kind, cycle, None, None, change)
    change = _model(Cancellation, notify=form.get("notify", "") == "yes", **who)
    targets = [ids.process_id(cycle, form["process"])] if form.get("process") else None
    return Prepared(kind, cycle, ProcessWorkflow.cancel, targets, change)
