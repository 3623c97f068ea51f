"""A prize contest (the WSIS Prizes, a special prize, the photo contest): five phases."""

from __future__ import annotations

import json
from datetime import datetime
from functools import partial
from typing import Any

from pydantic import BaseModel, Field
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.prizes import (
        PrizeActivities,
        Shortlist,
        TallyRequest,
        WinnerRequest,
    )
    from models import ids
    from models.phases import PRIZE_PHASES
    from models.tables import WindowKind
    from models.wire import (
        Audience,
        CampaignRequest,
        CampaignResult,
        Cancellation,
        CeremonyChange,
        ContestInput,
        DeadlineChange,
        MessageKind,
        ProcessStatus,
        WindowRequest,
    )
    from workflows.campaign import flush_outbox, send_campaign
    from workflows.machine import PhaseMachine, Step
    from workflows.ocp import duration_label
    from workflows.process import (
        DB_ACTIVITY_TIMEOUT,
        DB_RETRY,
        refuse_if_ended,
        refuse_past,
        revalidated,
        status_of,
        window,
    )


class WinnerSelection(BaseModel):
    """The Expert Group's choice in one category (ids only: history is public to operators)."""

    category: str
    project_ids: list[int] = Field(min_length=1)
    requested_by: str = Field(description="Who records it, e.g. 'expert-group' (no e-mail)")


@workflow.defn
class PrizeContestWorkflow:
    """One contest: the plan below, run by the shared ``PhaseMachine``."""

    @workflow.init
    def __init__(self, input: ContestInput) -> None:
        self.input = input
        self.contest = input.contest
        self.process_id = ids.contest_id(input.cycle_id, self.contest.slug)
        self.machine = PhaseMachine(
            process_id=self.process_id,
            process=self.contest.process_suffix,
            title=self.contest.name,
            table=PRIZE_PHASES,
        )
        self.shortlist: dict[str, list[int]] = {}
        self.winners: dict[str, list[int]] = {}
        self.campaigns: list[CampaignResult] = []
        self.changes = 0  # accepted secretariat changes: part of each notice's business key

    @workflow.run
    async def run(self, input: ContestInput) -> ProcessStatus:
        self.machine.start(input.year)
        for kind, opens, closes in self._windows():
            await window("move", self._window(kind, opens, closes), f"Schedule the {kind} window")
        await self.machine.run(self.plan)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.status()

    @workflow.query
    def status(self) -> ProcessStatus:
        """Phase, scheduled actions still to come, and what is done (never vote counts)."""
        return status_of(self.machine, self.contest.timezone)

    @workflow.query
    def shortlists(self) -> dict[str, list[int]]:
        """Shortlisted project ids per category, once voting has closed."""
        return self.shortlist

    # The Expert Group's selection: validated before anything is written.
    @workflow.update
    async def select_winner(self, selection: WinnerSelection) -> list[int]:
        """Record the winner(s) of a category, chosen from its shortlist."""
        await workflow.execute_activity_method(
            PrizeActivities.record_winners,
            WinnerRequest(
                process_id=self.process_id,
                category=selection.category,
                project_ids=selection.project_ids,
            ),
            start_to_close_timeout=DB_ACTIVITY_TIMEOUT,
            retry_policy=DB_RETRY,
            summary=f"Record the winner of {selection.category} ({selection.requested_by})",
        )
        self.winners[selection.category] = list(selection.project_ids)
        return self.winners[selection.category]

    @select_winner.validator
    def _check_selection(self, selection: WinnerSelection) -> None:
        if self.machine.phase != "IV":
            raise ValueError(
                f"winners are selected in phase IV (Selection by the Expert Group); "
                f"{self.process_id} is in {self.machine.phase_label()}"
            )
        if selection.category not in self.shortlist:
            raise ValueError(f"category {selection.category!r} has no shortlist in this contest")
        allowed = self.shortlist[selection.category]
        outside = [p for p in selection.project_ids if p not in allowed]
        if outside:
            raise ValueError(
                f"project(s) {', '.join(map(str, outside))} are not on the shortlist of "
                f"{selection.category} ({', '.join(map(str, allowed))})"
            )
        if len(set(selection.project_ids)) > self.contest.winners_per_category:
            raise ValueError(f"at most {self.contest.winners_per_category} winner(s) per category")

    # Secretariat changes, validated before anything is written.

    _DEADLINES = {"submissions": "submission_deadline", "voting": "voting_closes"}

    @workflow.update
    async def change_deadline(self, change: DeadlineChange) -> ProcessStatus:
        """Extend or bring forward the submission deadline or the close of voting."""
        field = self._DEADLINES[change.deadline]
        previous = getattr(self.contest, field)
        self.contest = revalidated(self.contest, **{field: change.new})
        self.machine.replan()  # before any await: the timer must not fire on the old date
        self.changes += 1
        for kind, opens, closes in self._windows():  # the windows follow in the same step
            await window(
                "move",
                self._window(kind, opens, closes),
                f"Move the {kind} window ({change.requested_by}: {change.reason})",
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
            f"Tell everyone the new {change.deadline} deadline",
        )
        return self.status()

    @change_deadline.validator
    def _check_deadline(self, change: DeadlineChange) -> None:
        refuse_if_ended(self.machine)
        field = self._DEADLINES.get(change.deadline)
        if field is None:
            raise ValueError(f"unknown deadline {change.deadline!r}: 'submissions' or 'voting'")
        if workflow.now() >= getattr(self.contest, field):
            raise ValueError(f"the {change.deadline} deadline has passed: that phase is over")
        refuse_past(change.new, "the new deadline")
        revalidated(self.contest, **{field: change.new})

    @workflow.update
    async def move_ceremony(self, change: CeremonyChange) -> ProcessStatus:
        """Move the WSIS Prize Ceremony (the Forum moved)."""
        self.contest = revalidated(self.contest, ceremony=change.at)
        self.machine.replan()
        self.changes += 1
        return self.status()

    @move_ceremony.validator
    def _check_ceremony(self, change: CeremonyChange) -> None:
        refuse_if_ended(self.machine)
        if workflow.now() >= self.contest.ceremony:
            raise ValueError("the ceremony has taken place")
        refuse_past(change.at, "the new ceremony date")
        revalidated(self.contest, ceremony=change.at)

    @workflow.update
    async def cancel(self, cancellation: Cancellation) -> ProcessStatus:
        """Cancel the contest: intake stops now, participants are told."""
        self.machine.cancel(cancellation.reason)
        for kind, opens, closes in self._windows():
            await window(
                "cancel",
                self._window(kind, opens, closes),
                f"Cancel the {kind} window ({cancellation.requested_by})",
            )
        if cancellation.notify:
            await self._campaign(
                self._request(
                    "cancelled",
                    MessageKind.PROCESS_CANCELLED,
                    Audience.EVERYONE,
                    note=cancellation.reason,
                ),
                "Tell everyone the contest is cancelled",
            )
        return self.status()

    @cancel.validator
    def _check_cancel(self, cancellation: Cancellation) -> None:
        refuse_if_ended(self.machine)

    def plan(self) -> list[Step]:
        """Every dated step of the contest, from the current configuration."""
        c = self.contest
        steps = [
            Step(
                "phase:I",
                c.submission_opens,
                "Open the submission of projects and announce the contest",
                self._open,
                phase="I",
            ),
        ]
        for span in sorted(c.reminders, reverse=True):
            label = duration_label(span)
            steps.append(
                Step(
                    f"submission-reminder:{label}",
                    c.submission_deadline - span,
                    f"Remind the community of the submission deadline ({label} before)",
                    partial(self._reminder, label),
                    expires_at=c.submission_deadline,
                )
            )
        steps += [
            Step(
                "phase:II",
                c.submission_deadline,
                "Close submissions at the deadline and run the eligibility checks",
                self._nomination,
                phase="II",
            ),
            # Same instant: the phase begins first; its window opened to the second anyway.
            Step(
                "phase:III",
                c.voting_opens,
                "Open public online voting and tell the community",
                self._voting,
                phase="III",
            ),
            Step(
                "nominations",
                c.voting_opens,
                "Freeze the nominated projects and tell every owner the outcome",
                self._freeze,
            ),
            Step(
                "phase:IV",
                c.voting_closes,
                "Close voting, tally the valid votes and freeze the shortlists",
                self._tally,
                phase="IV",
            ),
            Step(
                "champions",
                c.champions_announced,
                "Announce the WSIS Prizes Champions; wait for every winner to be selected",
                self._champions,
            ),
            Step(
                "phase:V",
                c.ceremony,
                "Announce the winners at the WSIS Prize Ceremony",
                self._ceremony,
                phase="V",
            ),
        ]
        return steps

    def _request(
        self, step: str, kind: MessageKind, audience: Audience, **kw: object
    ) -> CampaignRequest:
        return CampaignRequest(
            key=f"{self.process_id}:{step}",
            process_id=self.process_id,
            kind=kind,
            audience=audience,
            title=self.contest.name,
            timezone=self.contest.timezone,
            **kw,
        )

    async def _campaign(self, request: CampaignRequest, summary: str) -> None:
        self.campaigns.append(await send_campaign(request, summary))

    def _windows(self) -> list[tuple[WindowKind, Any, Any]]:
        """The contest's intake windows and their current dates."""
        c = self.contest
        return [
            (WindowKind.PROJECT_SUBMISSIONS, c.submission_opens, c.submission_deadline),
            (WindowKind.NOMINATION, c.submission_deadline, c.voting_opens),
            (WindowKind.VOTING, c.voting_opens, c.voting_closes),
        ]

    def _window(self, kind: WindowKind, opens: datetime, closes: datetime) -> WindowRequest:
        c = self.contest
        rules: dict[str, object] = {"categories": [cat.code for cat in c.categories]}
        if kind is WindowKind.PROJECT_SUBMISSIONS:
            rules["description_words"] = list(c.description_words)
        return WindowRequest(
            process_id=self.process_id,
            kind=kind.value,
            title=c.name,
            opens_at=opens,
            closes_at=closes,
            timezone=c.timezone,
            rules_json=json.dumps(rules),
        )

    async def _db(self, method: Any, arg: Any, summary: str) -> Any:
        return await workflow.execute_activity_method(
            method,
            arg,
            start_to_close_timeout=DB_ACTIVITY_TIMEOUT,
            retry_policy=DB_RETRY,
            summary=summary,
        )

    async def _open(self) -> None:
        c = self.contest
        await window(
            "open",
            self._window(WindowKind.PROJECT_SUBMISSIONS, c.submission_opens, c.submission_deadline),
            "Open the submission of projects",
        )
        await self._campaign(
            self._request(
                "opening", MessageKind.PRIZE_OPENING, Audience.EVERYONE, when=c.submission_deadline
            ),
            f"Announce {c.name} to everyone",
        )

    async def _reminder(self, label: str) -> None:
        await self._campaign(
            self._request(
                f"submission-reminder:{label}",
                MessageKind.PRIZE_SUBMISSION_REMINDER,
                Audience.PROJECT_NON_SUBMITTERS,
                when=self.contest.submission_deadline,
            ),
            f"Remind the community of the submission deadline ({label} before)",
        )

    async def _nomination(self) -> None:
        c = self.contest
        await window(
            "close",
            self._window(WindowKind.PROJECT_SUBMISSIONS, c.submission_opens, c.submission_deadline),
            "Close the submission of projects",
        )
        await flush_outbox(self.process_id)
        await self._db(
            PrizeActivities.check_eligibility,
            self.process_id,
            "Run the automatic eligibility checks",
        )
        await window(
            "open",
            self._window(WindowKind.NOMINATION, c.submission_deadline, c.voting_opens),
            "Open the nomination phase (the secretariat may mark projects ineligible)",
        )

    async def _freeze(self) -> None:
        c = self.contest
        await window(
            "close",
            self._window(WindowKind.NOMINATION, c.submission_deadline, c.voting_opens),
            "Close the nomination phase",
        )
        await self._db(
            PrizeActivities.freeze_nominations,
            self.process_id,
            "Freeze the list of nominated projects",
        )
        await self._campaign(
            self._request(
                "nominated",
                MessageKind.PRIZE_NOMINATION_OUTCOME,
                Audience.NOMINATED_OWNERS,
                when=c.voting_opens,
            ),
            "Tell the owners of nominated projects",
        )
        await self._campaign(
            self._request(
                "not-nominated", MessageKind.PRIZE_NOMINATION_OUTCOME, Audience.NOT_NOMINATED_OWNERS
            ),
            "Tell the owners of projects that were not nominated",
        )

    async def _voting(self) -> None:
        c = self.contest
        await window(
            "open",
            self._window(WindowKind.VOTING, c.voting_opens, c.voting_closes),
            "Open the public online voting",
        )
        await self._campaign(
            self._request(
                "voting-open",
                MessageKind.PRIZE_VOTING_OPEN,
                Audience.EVERYONE,
                when=c.voting_closes,
            ),
            "Tell the community that voting is open",
        )

    async def _tally(self) -> None:
        c = self.contest
        await window(
            "close",
            self._window(WindowKind.VOTING, c.voting_opens, c.voting_closes),
            "Close the public online voting",
        )
        shortlist = await self._db(
            PrizeActivities.tally,
            TallyRequest(
                process_id=self.process_id,
                categories=[x.code for x in c.categories],
                shortlist_size=c.shortlist_size,
                ballot_rule=c.ballot_rule,
            ),
            "Tally the valid votes and freeze the shortlists",
        )
        assert isinstance(shortlist, Shortlist)
        self.shortlist = {k: v for k, v in shortlist.categories.items() if v}

    def _missing_winners(self) -> list[str]:
        need = self.contest.winners_per_category
        return [
            c
            for c, ids in self.shortlist.items()
            if len(self.winners.get(c, [])) < min(need, len(ids))
        ]

    async def _champions(self) -> None:
        await self._campaign(
            self._request("champions", MessageKind.PRIZE_CHAMPIONS, Audience.EVERYONE),
            "Announce the WSIS Prizes Champions to everyone",
        )
        await self._campaign(
            self._request(
                "champions-owners", MessageKind.PRIZE_CHAMPIONS, Audience.SHORTLISTED_OWNERS
            ),
            "Tell the owners of the Champion projects",
        )
        missing = self._missing_winners()
        if missing:
            await self._campaign(
                self._request(
                    "waiting-for-winners",
                    MessageKind.SECRETARIAT_NOTICE,
                    Audience.SECRETARIAT,
                    note=f"The Expert Group has not selected the winner of: "
                    f"{', '.join(missing)}. The contest waits for the selection "
                    f"(starter.py select-winner).",
                ),
                "Tell the secretariat which categories still need a winner",
            )
            await self.machine.wait_for(
                f"the Expert Group's winner in {', '.join(missing)} (starter.py select-winner)",
                lambda: not self._missing_winners(),
            )

    async def _ceremony(self) -> None:
        await self._campaign(
            self._request("winners", MessageKind.PRIZE_WINNERS, Audience.EVERYONE),
            "Announce the winners to everyone",
        )
        await self._campaign(
            self._request("winners-owners", MessageKind.PRIZE_WINNERS, Audience.WINNER_OWNERS),
            "Tell the winners",
        )
