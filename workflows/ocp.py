"""The Open Consultation Process: six phases, from the opening to the final brief."""

from __future__ import annotations

from functools import partial

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.windows import WindowActivities
    from models import ids
    from models.cycle import OcpConfig
    from models.phases import OCP_MEETING_PHASES, OCP_PHASES, PhaseCode
    from models.plan import OcpPlan
    from models.tables import WindowKind
    from models.window_rules import WindowRules
    from models.wire import (
        Audience,
        ForumShift,
        MeetingChange,
        MessageKind,
        OcpInput,
        ProcessChanged,
        ProcessStatus,
        WindowRequest,
    )
    from workflows.database import window
    from workflows.machine import Step, duration_label
    from workflows.process import ProcessWorkflow
    from workflows.validators import refuse_plan


@workflow.defn
class OcpWorkflow(ProcessWorkflow):
    """One OCP: the plan below, run by the shared ``PhaseMachine``."""

    TABLE = OCP_PHASES
    PROCESS_NAME = "consultation"
    DEADLINES = {"submissions": "submission_deadline"}
    RULES = OcpConfig
    snapshot: OcpPlan

    @workflow.init
    def __init__(self, input: OcpInput) -> None:
        self._setup(
            process_id=ids.ocp_id(input.cycle_id),
            process="ocp",
            year=input.year,
            title=input.title,
            mail_title=input.title,
            snapshot=input.ocp,
            campaign_shards=input.campaign_shards,
            mail_titles=input.titles,
        )
        self.accepted = 0
        self.sequences: dict[str, int] = {}  # iCalendar SEQUENCE per meeting

    @workflow.run
    async def run(self, input: OcpInput) -> ProcessStatus:
        return await self.run_process()

    def windows(self) -> list[WindowRequest]:
        o = self.snapshot
        return [
            WindowRequest(
                process_id=self.process_id,
                kind=WindowKind.OCP_SUBMISSIONS.value,
                title=self.mail_title,
                opens_at=o.opens,
                closes_at=o.submission_deadline,
                timezone=o.timezone,
                rules=WindowRules(titles=self.mail_titles),
            )
        ]

    def changed(self) -> ProcessChanged:
        return ProcessChanged(process_id=self.process_id, ocp=self.snapshot)

    def with_forum_dates(self, move: ForumShift) -> OcpPlan:
        return self.snapshot.with_forum_dates(move.final_brief, move.meetings)

    # -- Moving a meeting ----------------------------------------------------------------------

    @workflow.update
    async def move_meeting(self, change: MeetingChange) -> ProcessStatus:
        """Move a meeting or change its venue, link or format; an invited community gets an
        updated .ics (same UID, higher SEQUENCE) so calendars update the event."""
        async with self.turn(
            f"move of the meeting {change.meeting!r}", lambda: self._check_meeting(change)
        ):
            # An invitation marked started is over, or queued or running (since the
            # campaigns-outside-lock patch): the update is queued after it, so the .ics with
            # the higher SEQUENCE always arrives second. Before the patch a move made while
            # the invitation ran waited for it here.
            self.adopt(self._moved(change))
            if f"invite:{change.meeting}" in self.machine.started:
                await self._meeting_update(change.meeting, change.notice)
            await self.report_change()
        return self.status()

    @move_meeting.validator
    def _check_meeting(self, change: MeetingChange) -> None:
        self.refuse_unless_open(change)
        meeting = self.snapshot.meetings.get(change.meeting)
        if meeting is None:
            known = ", ".join(self.snapshot.meetings)
            raise ValueError(f"unknown meeting {change.meeting!r} (meetings: {known})")
        if workflow.now() >= meeting.starts:
            raise ValueError(f"the meeting {change.meeting!r} has already begun")
        refuse_plan(self.RULES, self._moved(change), new=change.starts, label="the new start")

    def _moved(self, change: MeetingChange) -> OcpPlan:
        meeting = self.snapshot.meetings[change.meeting]
        fields = {
            k: v
            for k, v in change.model_dump().items()
            if k in type(meeting).model_fields and v is not None
        }
        if change.starts is not None and change.ends is None:
            fields["ends"] = change.starts + (meeting.ends - meeting.starts)  # keep its length
        meetings = dict(self.snapshot.meetings)
        meetings[change.meeting] = meeting.model_copy(update=fields)
        return self.snapshot.model_copy(update={"meetings": meetings})

    async def _meeting_update(self, key: str, notices: dict[str, str]) -> None:
        sequence = self.sequences.get(key, 0) + 1
        self.sequences[key] = sequence
        meeting = self.snapshot.meetings[key]
        await self.campaign(
            f"meeting-update:{key}:{sequence}",
            MessageKind.MEETING_UPDATE,
            Audience.EVERYONE,
            f"Send the updated invitation to the meeting '{key}'",
            meeting_key=key,
            meeting=meeting,
            when=meeting.starts,
            sequence=sequence,
            notices=notices,
        )

    async def announce_forum_move(self, move: ForumShift) -> None:
        """The Forum moved: phase VI moved with it. Its invited meetings get updated .ics."""
        await super().announce_forum_move(move)
        now = workflow.now()
        for key, meeting in self.snapshot.meetings.items():
            invited = f"invite:{key}" in self.machine.started
            if meeting.phase == PhaseCode.VI and invited and meeting.starts > now:
                await self._meeting_update(key, move.notice)

    # -- The plan ------------------------------------------------------------------------------

    def plan(self) -> list[Step]:
        """Every dated step of the OCP, from the current snapshot."""
        o = self.snapshot
        starts = o.phase_starts()
        deadline = o.submission_deadline
        steps = [
            Step(
                "phase:I",
                starts["I"],
                "Open the submission form and announce the consultation to everyone",
                self._open,
                phase=PhaseCode.I,
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
                    self._analysis if code == PhaseCode.V else self._nothing,
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
                phase=PhaseCode.IV,
            )
        )
        steps.append(
            Step(
                "phase:VI",
                starts["VI"],
                "Send the final brief to everyone",
                self._final_brief,
                phase=PhaseCode.VI,
            )
        )
        return steps

    async def _nothing(self) -> None:
        return None

    async def _open(self) -> None:
        await window(
            WindowActivities.open_window, self.windows()[0], "Open the OCP submission window"
        )
        await self.campaign(
            "opening",
            MessageKind.OCP_OPENING,
            Audience.EVERYONE,
            "Announce the opening of the consultation to everyone",
            when=self.snapshot.submission_deadline,
        )

    async def _meeting_mail(self, key: str, kind: MessageKind) -> None:
        meeting = self.snapshot.meetings[key]
        invite = kind is MessageKind.MEETING_INVITATION
        await self.campaign(
            f"{'invite' if invite else 'meeting-reminder'}:{key}",
            kind,
            Audience.EVERYONE,
            f"{'Invite everyone to' if invite else 'Remind everyone of'} the meeting '{key}'",
            meeting_key=key,
            meeting=meeting,
            when=meeting.starts,
        )

    async def _deadline_reminder(self, label: str) -> None:
        await self.campaign(
            f"deadline-reminder:{label}",
            MessageKind.OCP_DEADLINE_REMINDER,
            Audience.OCP_NON_SUBMITTERS,
            f"Remind those who have not submitted, {label} before the deadline",
            when=self.snapshot.submission_deadline,
        )

    async def _close(self) -> None:
        result = await window(
            WindowActivities.close_window, self.windows()[0], "Close the OCP submission window"
        )
        self.accepted = result.accepted
        await self.flush()

    async def _analysis(self) -> None:
        await self.campaign(
            "analysis",
            MessageKind.OCP_ANALYSIS,
            Audience.EVERYONE,
            "Share the analysis of the submissions with everyone",
        )

    async def _final_brief(self) -> None:
        await self.campaign(
            "final-brief",
            MessageKind.OCP_FINAL_BRIEF,
            Audience.EVERYONE,
            "Send the final brief to everyone",
        )
