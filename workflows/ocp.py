"""The Open Consultation Process: six phases, from the opening to the final brief."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models import ids
    from models.phases import OCP_MEETING_PHASES, OCP_PHASES
    from models.plan import OcpPlan
    from models.tables import WindowKind
    from models.wire import (
        Audience,
        CampaignRequest,
        CampaignResult,
        Cancellation,
        DeadlineChange,
        MeetingChange,
        MessageKind,
        OcpInput,
        ProcessStatus,
        WindowRequest,
    )
    from workflows.campaign import flush_outbox, send_campaign
    from workflows.machine import PhaseMachine, Step
    from workflows.process import refuse_if_ended, refuse_past, revalidated, status_of, window


def duration_label(span: timedelta) -> str:
    """``7d``, ``36h``, ``90m``: the stable part of a reminder's step key."""
    seconds = int(span.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@workflow.defn
class OcpWorkflow:
    """One OCP: the plan below, run by the shared ``PhaseMachine``."""

    @workflow.init
    def __init__(self, input: OcpInput) -> None:
        self.input = input
        self.ocp = input.ocp
        self.process_id = ids.ocp_id(input.cycle_id)
        self.machine = PhaseMachine(
            process_id=self.process_id, process="ocp", title=input.title, table=OCP_PHASES
        )
        self.campaigns: list[CampaignResult] = []
        self.accepted = 0
        self.changes = 0  # accepted secretariat changes: part of each notice's business key
        self.sequences: dict[str, int] = {}  # iCalendar SEQUENCE per meeting

    @workflow.run
    async def run(self, input: OcpInput) -> ProcessStatus:
        self.machine.start(input.year)
        await window("move", self._window(), "Schedule the OCP submission window")
        await self.machine.run(self.plan)
        # Updates still running (a last notice) finish before the workflow completes.
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.status()

    @workflow.query
    def status(self) -> ProcessStatus:
        """Phase, scheduled actions still to come, and what is done."""
        return status_of(self.machine, self.ocp.timezone)

    # Secretariat changes: validated before anything is written (a refused change leaves no
    # trace in the history or the database); accepted ones carry who asked and why.

    @workflow.update
    async def change_deadline(self, change: DeadlineChange) -> ProcessStatus:
        """Extend or bring forward the submissions deadline; tell everyone once."""
        previous = self.ocp.submission_deadline
        self.ocp = revalidated(self.ocp, submission_deadline=change.new)
        self.machine.replan()  # before any await: the timer must not fire on the old date
        self.changes += 1
        await window(
            "move",
            self._window(),
            f"Move the submission deadline ({change.requested_by}: {change.reason})",
        )
        await self._campaign(
            self._request(
                f"deadline-change:{self.changes}",
                MessageKind.DEADLINE_CHANGED,
                Audience.EVERYONE,
                when=change.new,
                previous_when=previous,
                note=change.reason,
            ),
            "Tell everyone the new submission deadline",
        )
        return self.status()

    @change_deadline.validator
    def _check_deadline(self, change: DeadlineChange) -> None:
        refuse_if_ended(self.machine)
        if change.deadline != "submissions":
            raise ValueError("the OCP has one deadline: 'submissions'")
        if workflow.now() >= self.ocp.submission_deadline:
            raise ValueError("the submissions deadline has passed: phase IV is over")
        refuse_past(change.new, "the new deadline")
        revalidated(self.ocp, submission_deadline=change.new)

    @workflow.update
    async def move_meeting(self, change: MeetingChange) -> ProcessStatus:
        """Move a meeting or change its venue, link or format; an invited community gets an
        updated .ics (same UID, higher SEQUENCE) so calendars update the event."""
        self.ocp = self._moved(change)
        self.machine.replan()
        self.changes += 1
        if f"invite:{change.meeting}" in self.machine.done:
            sequence = self.sequences.get(change.meeting, 0) + 1
            self.sequences[change.meeting] = sequence
            meeting = self.ocp.meetings[change.meeting]
            await self._campaign(
                self._request(
                    f"meeting-update:{change.meeting}:{sequence}",
                    MessageKind.MEETING_UPDATE,
                    Audience.EVERYONE,
                    meeting_key=change.meeting,
                    meeting=meeting,
                    when=meeting.starts,
                    sequence=sequence,
                    note=change.reason,
                ),
                f"Send the updated invitation to the meeting '{change.meeting}'",
            )
        return self.status()

    @move_meeting.validator
    def _check_meeting(self, change: MeetingChange) -> None:
        refuse_if_ended(self.machine)
        meeting = self.ocp.meetings.get(change.meeting)
        if meeting is None:
            raise ValueError(
                f"unknown meeting {change.meeting!r} (meetings: {', '.join(self.ocp.meetings)})"
            )
        if workflow.now() >= meeting.starts:
            raise ValueError(f"the meeting {change.meeting!r} has already begun")
        if change.starts is not None:
            refuse_past(change.starts, "the new start")
        self._moved(change)

    def _moved(self, change: MeetingChange) -> OcpPlan:
        meeting = self.ocp.meetings[change.meeting]
        fields = {
            k: v
            for k, v in change.model_dump().items()
            if k in type(meeting).model_fields and v is not None
        }
        if change.starts is not None and change.ends is None:
            fields["ends"] = change.starts + (meeting.ends - meeting.starts)  # keep its length
        moved = {**meeting.model_dump(), **fields}
        meetings = {
            k: (moved if k == change.meeting else m.model_dump())
            for k, m in self.ocp.meetings.items()
        }
        return revalidated(self.ocp, meetings=meetings)

    @workflow.update
    async def cancel(self, cancellation: Cancellation) -> ProcessStatus:
        """Cancel the consultation: the form closes now, participants are told."""
        self.machine.cancel(cancellation.reason)
        await window(
            "cancel",
            self._window(),
            f"Cancel the OCP ({cancellation.requested_by}: {cancellation.reason})",
        )
        if cancellation.notify:
            await self._campaign(
                self._request(
                    "cancelled",
                    MessageKind.PROCESS_CANCELLED,
                    Audience.EVERYONE,
                    note=cancellation.reason,
                ),
                "Tell everyone the consultation is cancelled",
            )
        return self.status()

    @cancel.validator
    def _check_cancel(self, cancellation: Cancellation) -> None:
        refuse_if_ended(self.machine)

    def plan(self) -> list[Step]:
        """Every dated step of the OCP, from the current configuration."""
        o = self.ocp
        starts = o.phase_starts()
        deadline = o.submission_deadline
        steps = [
            Step(
                "phase:I",
                starts["I"],
                "Open the submission form and announce the consultation to everyone",
                self._open,
                phase="I",
            )
        ]
        for key, meeting in sorted(o.meetings.items(), key=lambda km: km[1].starts):
            invite_at = max(meeting.starts - o.reminders.invitation, starts["I"])
            steps.append(
                Step(
                    f"invite:{key}",
                    invite_at,
                    f"Send the invitation to the meeting '{key}'",
                    partial(self._meeting_mail, key, MessageKind.MEETING_INVITATION),
                    expires_at=meeting.starts,
                )
            )
            steps.append(
                Step(
                    f"meeting-reminder:{key}",
                    max(meeting.starts - o.reminders.meeting, invite_at),
                    f"Send the reminder of the meeting '{key}'",
                    partial(self._meeting_mail, key, MessageKind.MEETING_REMINDER),
                    expires_at=meeting.starts,
                )
            )
        for code in OCP_MEETING_PHASES:
            steps.append(
                Step(
                    f"phase:{code}",
                    starts[code],
                    f"Enter {self.machine.phase_label(code)}",
                    self._analysis if code == "V" else self._nothing,
                    phase=code,
                )
            )
        for span in sorted(o.reminders.deadline, reverse=True):
            label = duration_label(span)
            steps.append(
                Step(
                    f"deadline-reminder:{label}",
                    deadline - span,
                    f"Remind those who have not submitted ({label} before the deadline)",
                    partial(self._deadline_reminder, label),
                    expires_at=deadline,
                )
            )
        steps.append(
            Step(
                "phase:IV",
                deadline,
                "Close the submission form at the deadline",
                self._close,
                phase="IV",
            )
        )
        steps.append(
            Step(
                "phase:VI",
                starts["VI"],
                "Send the final brief to everyone",
                self._final_brief,
                phase="VI",
            )
        )
        return steps

    def _request(
        self, step: str, kind: MessageKind, audience: Audience, **kw: object
    ) -> CampaignRequest:
        return CampaignRequest(
            key=f"{self.process_id}:{step}",
            process_id=self.process_id,
            kind=kind,
            audience=audience,
            title=self.input.title,
            timezone=self.ocp.timezone,
            **kw,
        )

    def _window(self) -> WindowRequest:
        return WindowRequest(
            process_id=self.process_id,
            kind=WindowKind.OCP_SUBMISSIONS.value,
            title=self.input.title,
            opens_at=self.ocp.opens,
            closes_at=self.ocp.submission_deadline,
            timezone=self.ocp.timezone,
        )

    async def _campaign(self, request: CampaignRequest, summary: str) -> None:
        self.campaigns.append(await send_campaign(request, summary))

    async def _nothing(self) -> None:
        return None

    async def _open(self) -> None:
        await window("open", self._window(), "Open the OCP submission window")
        await self._campaign(
            self._request(
                "opening",
                MessageKind.OCP_OPENING,
                Audience.EVERYONE,
                when=self.ocp.submission_deadline,
            ),
            "Announce the opening of the consultation to everyone",
        )

    async def _meeting_mail(self, key: str, kind: MessageKind) -> None:
        meeting = self.ocp.meetings[key]
        step = "invite" if kind is MessageKind.MEETING_INVITATION else "meeting-reminder"
        await self._campaign(
            self._request(
                f"{step}:{key}",
                kind,
                Audience.EVERYONE,
                meeting_key=key,
                meeting=meeting,
                when=meeting.starts,
            ),
            f"{'Invite everyone to' if step == 'invite' else 'Remind everyone of'} "
            f"the meeting '{key}'",
        )

    async def _deadline_reminder(self, label: str) -> None:
        await self._campaign(
            self._request(
                f"deadline-reminder:{label}",
                MessageKind.OCP_DEADLINE_REMINDER,
                Audience.OCP_NON_SUBMITTERS,
                when=self.ocp.submission_deadline,
            ),
            f"Remind those who have not submitted, {label} before the deadline",
        )

    async def _close(self) -> None:
        result = await window("close", self._window(), "Close the OCP submission window")
        self.accepted = result.accepted
        await flush_outbox(self.process_id)

    async def _analysis(self) -> None:
        await self._campaign(
            self._request("analysis", MessageKind.OCP_ANALYSIS, Audience.EVERYONE),
            "Share the analysis of the submissions with everyone",
        )

    async def _final_brief(self) -> None:
        await self._campaign(
            self._request("final-brief", MessageKind.OCP_FINAL_BRIEF, Audience.EVERYONE),
            "Send the final brief to everyone",
        )
