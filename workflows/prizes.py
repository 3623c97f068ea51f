"""A prize contest (the WSIS Prizes, a special prize, the photo contest): five phases."""

from __future__ import annotations

from datetime import datetime
from functools import partial

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.prizes import PrizeActivities
    from activities.windows import WindowActivities
    from models import ids
    from models.cycle import ContestConfig
    from models.phases import PRIZE_PHASES, PhaseCode
    from models.plan import ContestPlan
    from models.tables import WindowKind
    from models.window_rules import WindowRules
    from models.wire import (
        Audience,
        CeremonyChange,
        ContestInput,
        ForumShift,
        MessageKind,
        ProcessChanged,
        ProcessRef,
        ProcessStatus,
        Shortlist,
        TallyRequest,
        WindowRequest,
    )
    from workflows.machine import Step, duration_label
    from workflows.process import db_step, window
    from workflows.selection import ExpertGroupSelection
    from workflows.validators import refuse_plan


@workflow.defn
class PrizeContestWorkflow(ExpertGroupSelection):
    """One contest: the plan below, run by the shared ``PhaseMachine``."""

    TABLE = PRIZE_PHASES
    PROCESS_NAME = "contest"
    DEADLINES = {"submissions": "submission_deadline", "voting": "voting_closes"}
    RULES = ContestConfig
    snapshot: ContestPlan

    @workflow.init
    def __init__(self, input: ContestInput) -> None:
        contest = input.contest
        self._setup(
            process_id=ids.contest_id(input.cycle_id, contest.slug),
            process=contest.process_suffix,
            year=input.year,
            title=contest.name,
            mail_title=contest.name,
            snapshot=contest,
            campaign_shards=input.campaign_shards,
            mail_titles=contest.names,
        )
        self._setup_selection()

    @workflow.run
    async def run(self, input: ContestInput) -> ProcessStatus:
        self.choose_duties()
        return await self.run_process()

    @workflow.query
    def shortlists(self) -> dict[str, list[int]]:
        """Shortlisted project ids per category, once voting has closed."""
        return self.shortlist

    def windows(self) -> list[WindowRequest]:
        c = self.snapshot
        return [
            self._window(WindowKind.PROJECT_SUBMISSIONS, c.submission_opens, c.submission_deadline),
            self._window(WindowKind.NOMINATION, c.submission_deadline, c.voting_opens),
            self._window(WindowKind.VOTING, c.voting_opens, c.voting_closes),
        ]

    def _window(self, kind: WindowKind, opens: datetime, closes: datetime) -> WindowRequest:
        c = self.snapshot
        rules = WindowRules(
            categories=[cat.code for cat in c.categories],
            category_names={cat.code: cat.name for cat in c.categories},
            category_versions={cat.code: dict(cat.names) for cat in c.categories if cat.names},
            titles=dict(c.names),
        )
        if kind is WindowKind.PROJECT_SUBMISSIONS:
            rules = rules.model_copy(update={"description_words": tuple(c.description_words)})
        if kind is WindowKind.VOTING:  # what the portal's ballot needs to know
            # The ballot rule for the portal's ballot, and the rubric of the console's score
            # sheets in phase IV (services/judging.py). An activity's input only: a replay
            # does not compare it, so no patch is needed.
            rules = rules.model_copy(
                update={"ballot_rule": c.ballot_rule, "rubric": tuple(c.rubric)}
            )
        return WindowRequest(
            process_id=self.process_id,
            kind=kind.value,
            title=c.name,
            opens_at=opens,
            closes_at=closes,
            timezone=c.timezone,
            rules=rules,
        )

    def _window_of(self, kind: WindowKind) -> WindowRequest:
        return next(w for w in self.windows() if w.kind == kind.value)

    def changed(self) -> ProcessChanged:
        return ProcessChanged(process_id=self.process_id, contest=self.snapshot)

    def with_forum_dates(self, move: ForumShift) -> ContestPlan:
        ceremony = move.ceremony or self.snapshot.ceremony
        return self.snapshot.model_copy(update={"ceremony": ceremony})

    # -- Moving the ceremony (phase IV's handlers: workflows/selection.py) ---------------------

    @workflow.update
    async def move_ceremony(self, change: CeremonyChange) -> ProcessStatus:
        """Move the WSIS Prize Ceremony of this contest alone (``move_forum`` on the cycle
        moves every contest's ceremony with the Forum)."""
        async with self.turn("move of the ceremony", lambda: self._check_ceremony(change)):
            self.adopt(self.snapshot.model_copy(update={"ceremony": change.at}))
            await self.report_change()
        return self.status()

    @move_ceremony.validator
    def _check_ceremony(self, change: CeremonyChange) -> None:
        self.refuse_unless_open(change)
        if workflow.now() >= self.snapshot.ceremony:
            raise ValueError("the ceremony has taken place")
        moved = self.snapshot.model_copy(update={"ceremony": change.at})
        refuse_plan(self.RULES, moved, new=change.at, label="the new ceremony date")

    # -- The plan ------------------------------------------------------------------------------

    def plan(self) -> list[Step]:
        """Every dated step of the contest, from the current snapshot."""
        c = self.snapshot
        steps = [
            Step(
                "phase:I",
                c.submission_opens,
                "Open the submission of projects and announce the contest",
                self._open,
                phase=PhaseCode.I,
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
                phase=PhaseCode.II,
            ),
            # Same instant: the phase begins first; its window opened to the second anyway.
            Step(
                "phase:III",
                c.voting_opens,
                "Open public online voting and tell the community",
                self._voting,
                phase=PhaseCode.III,
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
                phase=PhaseCode.IV,
            ),
            *self.expert_reminder_steps(),
            Step(
                "champions",
                c.champions_announced,
                "Announce the WSIS Prizes Champions once every winner is selected",
                self._champions,
            ),
            Step(
                "phase:V",
                c.ceremony,
                "Announce the winners at the WSIS Prize Ceremony",
                self._ceremony,
                phase=PhaseCode.V,
            ),
        ]
        return steps

    async def _open(self) -> None:
        await window(
            WindowActivities.open_window,
            self._window_of(WindowKind.PROJECT_SUBMISSIONS),
            "Open the submission of projects",
        )
        await self.campaign(
            "opening",
            MessageKind.PRIZE_OPENING,
            Audience.EVERYONE,
            f"Announce {self.snapshot.name} to everyone",
            when=self.snapshot.submission_deadline,
        )

    async def _reminder(self, label: str) -> None:
        await self.campaign(
            f"submission-reminder:{label}",
            MessageKind.PRIZE_SUBMISSION_REMINDER,
            Audience.PROJECT_NON_SUBMITTERS,
            f"Remind the community of the submission deadline ({label} before)",
            when=self.snapshot.submission_deadline,
        )

    async def _nomination(self) -> None:
        await window(
            WindowActivities.close_window,
            self._window_of(WindowKind.PROJECT_SUBMISSIONS),
            "Close the submission of projects",
        )
        await self.flush()
        await db_step(
            PrizeActivities.check_eligibility,
            ProcessRef(process_id=self.process_id),
            "Run the automatic eligibility checks",
        )
        await window(
            WindowActivities.open_window,
            self._window_of(WindowKind.NOMINATION),
            "Open the nomination phase (the secretariat may mark projects ineligible)",
        )

    async def _freeze(self) -> None:
        await window(
            WindowActivities.close_window,
            self._window_of(WindowKind.NOMINATION),
            "Close the nomination phase",
        )
        await db_step(
            PrizeActivities.freeze_nominations,
            ProcessRef(process_id=self.process_id),
            "Freeze the list of nominated projects",
        )
        await self.campaign(
            "nominated",
            MessageKind.PRIZE_NOMINATION_OUTCOME,
            Audience.NOMINATED_OWNERS,
            "Tell the owners of nominated projects",
            when=self.snapshot.voting_opens,
        )
        await self.campaign(
            "not-nominated",
            MessageKind.PRIZE_NOMINATION_OUTCOME,
            Audience.NOT_NOMINATED_OWNERS,
            "Tell the owners of projects that were not nominated",
        )

    async def _voting(self) -> None:
        await window(
            WindowActivities.open_window,
            self._window_of(WindowKind.VOTING),
            "Open the public online voting",
        )
        await self.campaign(
            "voting-open",
            MessageKind.PRIZE_VOTING_OPEN,
            Audience.EVERYONE,
            "Tell the community that voting is open",
            when=self.snapshot.voting_closes,
        )

    async def _tally(self) -> None:
        c = self.snapshot
        await window(
            WindowActivities.close_window,
            self._window_of(WindowKind.VOTING),
            "Close the public online voting",
        )
        shortlist: Shortlist = await db_step(
            PrizeActivities.tally,
            TallyRequest(
                process_id=self.process_id,
                categories=[x.code for x in c.categories],
                shortlist_size=c.shortlist_size,
                ballot_rule=c.ballot_rule,
            ),
            "Tally the valid votes and freeze the shortlists",
        )
        self.shortlist = {k: v for k, v in shortlist.categories.items() if v}

    async def _champions(self) -> None:
        if self.phase_four_duties:
            # Never for a category without its winner: the announcement waits for them.
            await self.hold_for_winners()
            if self._ending():
                return
        await self.campaign(
            "champions",
            MessageKind.PRIZE_CHAMPIONS,
            Audience.EVERYONE,
            "Announce the WSIS Prizes Champions to everyone",
        )
        await self.campaign(
            "champions-owners",
            MessageKind.PRIZE_CHAMPIONS,
            Audience.SHORTLISTED_OWNERS,
            "Tell the owners of the Champion projects",
        )
        missing = self.missing_winners()
        if missing:  # runs started before the phase-four-duties patch only
            await self.campaign(
                "waiting-for-winners",
                MessageKind.SECRETARIAT_NOTICE,
                Audience.SECRETARIAT,
                "Tell the secretariat which categories still need a winner",
                note=f"The Expert Group has not selected the winner of: "
                f"{', '.join(missing)}. The contest waits for the selection "
                f"(starter.py select-winner).",
            )
            await self.machine.wait_for(
                f"the Expert Group's winner in {', '.join(missing)} (starter.py select-winner)",
                lambda: not self.missing_winners(),
            )

    async def _ceremony(self) -> None:
        await self.campaign(
            "winners",
            MessageKind.PRIZE_WINNERS,
            Audience.EVERYONE,
            "Announce the winners to everyone",
        )
        await self.campaign(
            "winners-owners",
            MessageKind.PRIZE_WINNERS,
            Audience.WINNER_OWNERS,
            "Tell the winners",
        )
