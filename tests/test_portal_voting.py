"""Submissions and votes through the portal, over real HTTP: the OCP form, a project with
its word limit, the ballot with its review and receipt, two tabs at once, the deadline to
the second, voiding before the tally, and the results' embargo."""

from __future__ import annotations

import asyncio
import contextlib
import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from activities.prizes import PrizeActivities, ballot_hash
from devstack.catcher import MailCatcher, Received
from intake.casting import BallotCast, Receipt, cast_ballots
from intake.votes import void_votes
from intake.windows import Refused
from models.plan import BallotRule
from models.tables import Campaign, Project, Vote, Window
from models.wire import TallyRequest
from reports.votes import suspicious_clusters, vote_counts
from tests.conftest import Portal
from tests.helpers import assert_eventually
from tests.portal_flow import (
    CATEGORIES,
    CONTEST,
    Contest,
    add_window,
    full_ballot,
    signed_in,
    token_of,
)


async def vote(
    browser: httpx.AsyncClient, contest: Contest, choices: dict[str, str]
) -> httpx.Response:
    """The ballot page, the review, the confirm: as a person does it."""
    page = await browser.get(f"/ballot/{contest.process_id}")
    assert page.status_code == 200, page.text
    review = await browser.post(
        f"/ballot/{contest.process_id}/review", data={**choices, "csrf": token_of(page.text)}
    )
    assert review.status_code == 200 and "A vote is final" in review.text
    done = await browser.post(
        f"/ballot/{contest.process_id}/confirm", data={**choices, "csrf": token_of(review.text)}
    )
    if done.status_code != 303:  # refused: the page says why
        return done
    # Post, redirect, get: the receipt is a page of its own, which a reload only shows again.
    assert done.headers["location"].startswith(f"/ballot/{contest.process_id}/receipt?code=")
    return await browser.get(done.headers["location"])


async def test_a_ballot_is_reviewed_confirmed_and_receipted(
    portal: Portal, mail: MailCatcher, engine: Engine, contest: Contest,
    participants: list[dict[str, str]],
) -> None:  # fmt: skip
    voter = participants[10]["email"]
    async with signed_in(portal.url, mail, voter) as browser:
        page = await browser.get(f"/ballot/{contest.process_id}")
        assert "each of the 3 categories" in page.text
        # Two of three categories: under the all-categories rule nothing can be confirmed.
        partial = {k: v for k, v in list(full_ballot(contest).items())[:2]}
        review = await browser.post(
            f"/ballot/{contest.process_id}/review", data={**partial, "csrf": token_of(page.text)}
        )
        assert "One category remains to choose" in review.text
        assert "Confirm my vote" not in review.text
        cast = await vote(browser, contest, full_ballot(contest))
        assert cast.status_code == 200 and "Your vote is recorded" in cast.text
        code = re.search(r'class="code">([A-Z2-9]{5}-[A-Z2-9]{5})<', cast.text)
        assert code, cast.text
        again = await browser.get(f"/ballot/{contest.process_id}")
        assert "You have voted in every category" in again.text
        check = await browser.post(
            "/receipt", data={"code": code.group(1).lower(), "csrf": token_of(again.text)}
        )
        assert "This ballot is recorded: 3 votes" in check.text and "Project C4-0" in check.text

    async def receipt_mail() -> list[Received]:  # the receipt e-mail, sent after the page
        receipts = [m for m in mail.received if m.campaign.startswith(f"{CONTEST}:receipt:")]
        assert receipts, "no receipt e-mail"
        return receipts

    receipts = await assert_eventually(receipt_mail)
    assert voter in receipts[0].recipients
    body = receipts[0].message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert code.group(1) in body and "Project C9-0" in body
    assert "List-Unsubscribe" not in receipts[0].message  # transactional
    with engine.connect() as conn:
        votes = conn.execute(sa.select(Vote.network, Vote.agent_hash)).all()  # type: ignore[call-overload]
    assert {v.network for v in votes} == {"127.0.0.0/24"}  # the network, not the address
    assert all(len(v.agent_hash) == 32 for v in votes)


async def test_two_tabs_confirming_at_once_cast_one_vote_per_category(
    portal: Portal, mail: MailCatcher, engine: Engine, contest: Contest,
    participants: list[dict[str, str]],
) -> None:  # fmt: skip
    # In Chinese: the categories refused are listed as the language lists them.
    async with signed_in(portal.url, mail, participants[11]["email"], "zh") as browser:
        page = await browser.get(f"/ballot/{contest.process_id}")
        tabs = [
            browser.post(
                f"/ballot/{contest.process_id}/confirm",
                data={**full_ballot(contest, pick=i % 3), "csrf": token_of(page.text)},
            )
            for i in range(8)
        ]
        answers = await asyncio.gather(*tabs)
    assert sorted(a.status_code for a in answers) == [303] + [409] * 7
    refused = next(a for a in answers if a.status_code == 409)
    assert "C1、C4和C9" in refused.text and "C1, C4" not in refused.text
    with engine.connect() as conn:
        per_category = conn.execute(
            sa.select(Vote.category, sa.func.count()).group_by(Vote.category)  # type: ignore[call-overload]
        ).all()
    assert dict(per_category) == dict.fromkeys(CATEGORIES, 1)


def participant_ids(engine: Engine, people: list[dict[str, str]]) -> list[int]:
    with engine.connect() as conn:
        return [
            conn.execute(
                sa.text("SELECT id FROM participant WHERE email = :e"), {"e": p["email"]}
            ).scalar_one()
            for p in people
        ]


def test_ballots_cast_together_are_each_judged_on_their_own(
    engine: Engine, contest: Contest, participants: list[dict[str, str]]
) -> None:
    """One group (what the portal's writer casts after a burst of confirms): the good
    ballots are recorded with a receipt each; every bad one is refused alone, with its own
    reason, and leaves no vote, receipt or e-mail behind."""
    a, b, c, d, e = participant_ids(engine, participants[12:17])
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE participant SET verified_at = NULL WHERE id = :i"), {"i": d})
    full = {code: ids[0] for code, ids in contest.projects.items()}
    other_pick = {code: ids[1] for code, ids in contest.projects.items()}
    wrong = {**full, "C1": contest.projects["C4"][0]}  # a C4 project offered for C1
    outcomes = cast_ballots(
        [
            BallotCast(contest.process_id, a, full),
            BallotCast(contest.process_id, a, other_pick),  # a's second tab, same group
            BallotCast(contest.process_id, b, {"C1": full["C1"]}),  # all-categories rule
            BallotCast(contest.process_id, c, wrong),
            BallotCast(contest.process_id, d, full),  # not verified
            BallotCast("wsis-2030-other", e, full),  # no such voting window
            BallotCast(contest.process_id, e, other_pick),
            BallotCast(contest.process_id, b, {}),
            # A forged form: more ids than PostgreSQL binds in one statement (65,535).
            BallotCast(contest.process_id, b, {f"X{i}": i for i in range(70_000)}),
        ],
        engine,
    )
    reasons = [o.reason if isinstance(o, Refused) else "recorded" for o in outcomes]
    assert reasons == ["recorded", "already-voted", "incomplete", "invalid", "unverified",
                       "not-open", "recorded", "empty", "invalid"]  # fmt: skip
    assert isinstance(outcomes[2], Refused) and outcomes[2].details["categories"] == ["C4", "C9"]
    receipts = [o for o in outcomes if isinstance(o, Receipt)]
    assert len({r.code for r in receipts}) == 2
    assert receipts[1].titles == {c: f"Project {c}-1" for c in CATEGORIES}
    with engine.connect() as conn:
        votes = conn.execute(sa.select(Vote.voter_id, Vote.project_id, Vote.ballot_id)).all()  # type: ignore[call-overload]
        mails = conn.execute(
            sa.text("SELECT key FROM campaign WHERE key LIKE :k"), {"k": f"{CONTEST}:receipt:%"}
        ).all()
    assert sorted((v.voter_id, v.project_id) for v in votes) == sorted(
        [(a, p) for p in full.values()] + [(e, p) for p in other_pick.values()]
    )
    assert len({v.ballot_id for v in votes}) == 2 and len(mails) == 2


async def test_many_voters_confirming_at_once_each_get_their_receipt(
    portal: Portal, mail: MailCatcher, engine: Engine, contest: Contest,
    participants: list[dict[str, str]],
) -> None:  # fmt: skip
    """Twelve voters confirm in the same instant (the portal casts them in groups): each
    gets their own receipt page and e-mail, and every vote is there once."""
    voters = [p["email"] for p in participants[18:30]]
    async with contextlib.AsyncExitStack() as stack:
        browsers = [await stack.enter_async_context(signed_in(portal.url, mail, v)) for v in voters]
        pages = await asyncio.gather(*(b.get(f"/ballot/{contest.process_id}") for b in browsers))
        answers = await asyncio.gather(
            *(
                b.post(
                    f"/ballot/{contest.process_id}/confirm",
                    data={**full_ballot(contest, pick=i % 3), "csrf": token_of(page.text)},
                )
                for i, (b, page) in enumerate(zip(browsers, pages, strict=True))
            )
        )
        assert [a.status_code for a in answers] == [303] * len(voters)
        pages = [await b.get(a.headers["location"]) for b, a in zip(browsers, answers, strict=True)]
    codes = [re.search(r'class="code">([A-Z2-9-]{11})<', p.text) for p in pages]
    assert all(codes) and len({m.group(1) for m in codes if m}) == len(voters)
    with engine.connect() as conn:
        votes = conn.execute(sa.select(sa.func.count()).select_from(Vote)).scalar_one()
    assert votes == len(voters) * len(CATEGORIES)

    async def every_receipt() -> None:
        receipts = [m for m in mail.received if m.campaign.startswith(f"{CONTEST}:receipt:")]
        assert sorted(r for m in receipts for r in m.recipients) == sorted(voters)

    await assert_eventually(every_receipt)


async def test_voting_one_second_after_the_close_is_refused_with_the_deadline(
    portal: Portal, mail: MailCatcher, engine: Engine, contest: Contest,
    participants: list[dict[str, str]],
) -> None:  # fmt: skip
    async with signed_in(portal.url, mail, participants[12]["email"]) as browser:
        page = await browser.get(f"/ballot/{contest.process_id}")
        closes = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)
        with engine.begin() as conn:
            conn.execute(sa.update(Window).values(closes_at=closes))
        await asyncio.sleep((closes + timedelta(seconds=1) - datetime.now(UTC)).total_seconds())
        late = await browser.post(
            f"/ballot/{contest.process_id}/confirm",
            data={**full_ballot(contest), "csrf": token_of(page.text)},
        )
    assert late.status_code == 409 and "This form is closed" in late.text
    assert "Central European" in late.text and "UTC" in late.text  # the deadline, named
    with engine.connect() as conn:
        assert not conn.execute(sa.select(sa.func.count()).select_from(Vote)).scalar()


async def test_a_description_padded_with_zero_width_spaces_is_over_the_limit(
    portal: Portal, mail: MailCatcher, engine: Engine, participants: list[dict[str, str]]
) -> None:
    now = datetime.now(UTC)
    rules = {"categories": ["C1"], "category_names": {"C1": "C1"}, "description_words": [150, 200]}
    add_window(engine, "wsis-2030-prizes", "project-submissions", rules, now - timedelta(days=1),
               now + timedelta(days=1))  # fmt: skip
    async with signed_in(portal.url, mail, participants[13]["email"]) as browser:
        page = await browser.get("/projects/wsis-2030-prizes/new")
        assert 'data-word-limit="200"' in page.text
        form = {"category": "C1", "title": "Smart Villages", "organization": "Org",
                "stakeholder_type": "Civil Society", "country": "Kenya",
                "csrf": token_of(page.text)}  # fmt: skip
        padded = "\u200b".join(["word"] * 6000)  # reads as 6,000 words, split() sees one
        refused = await browser.post(
            "/projects/wsis-2030-prizes/new", data={**form, "description": padded}
        )
        assert refused.status_code == 400
        assert "The description has 6,000 words; it must have 150 to 200." in refused.text
        fine = await browser.post(
            "/projects/wsis-2030-prizes/new", data={**form, "description": " ".join(["word"] * 160)}
        )
        assert fine.status_code == 303 and fine.headers["location"].startswith("/received/project/")
        fine = await browser.get(fine.headers["location"])
        assert fine.status_code == 200 and "Your project is submitted" in fine.text
        mine = await browser.get("/my")
        assert "Smart Villages" in mine.text and "Submitted: eligibility is checked" in mine.text


async def test_an_official_submission_is_acknowledged_and_closes_to_the_second(
    portal: Portal, mail: MailCatcher, engine: Engine, participants: list[dict[str, str]]
) -> None:
    now = datetime.now(UTC)
    add_window(engine, "wsis-2030-ocp", "ocp-submissions", {}, now - timedelta(days=1),
               now + timedelta(days=1))  # fmt: skip
    person = participants[14]
    async with signed_in(portal.url, mail, person["email"]) as browser:
        page = await browser.get("/ocp/wsis-2030-ocp")
        assert person["organization"] in page.text  # prefilled from the registry
        form = {"full_name": person["name"], "organization": person["organization"],
                "country": person["country"], "stakeholder_type": person["stakeholder_type"],
                "proposal": "More remote participation and a youth track.",
                "csrf": token_of(page.text)}  # fmt: skip
        sent = await browser.post("/ocp/wsis-2030-ocp", data=form)
        assert sent.status_code == 303
        sent = await browser.get(sent.headers["location"])
        assert sent.status_code == 200 and "Your official submission is received" in sent.text
        assert "Number" in (await browser.get("/my")).text
        with engine.begin() as conn:
            conn.execute(
                sa.update(Window).values(closes_at=datetime.now(UTC) - timedelta(seconds=1))
            )
        late = await browser.post("/ocp/wsis-2030-ocp", data=form)
        assert late.status_code == 409 and "It closed at the deadline" in late.text

    async def acknowledged() -> None:
        acks = [m for m in mail.received if m.campaign.startswith("wsis-2030-ocp:ack:")]
        assert acks, "no acknowledgement e-mail"

    await assert_eventually(acknowledged)


def test_voided_votes_leave_the_tally_and_change_its_hash(
    engine: Engine, contest: Contest, participants: list[dict[str, str]]
) -> None:
    """A cluster of new accounts from one network in minutes: found, voided with a reason
    before the tally; the tally counts the rest, and its hash covers exactly those."""
    from intake.casting import Evidence, cast_ballot

    start = datetime.now(UTC) - timedelta(minutes=30)
    for i, person in enumerate(participants[:25]):
        with engine.connect() as conn:
            pid = conn.execute(
                sa.text("SELECT id FROM participant WHERE email = :e"), {"e": person["email"]}
            ).scalar_one()
        suspect = i < 12  # twelve new accounts, one network, five minutes, the same projects
        cast_ballot(
            contest.process_id, pid,
            {c: ids[0 if suspect else (i % 3)] for c, ids in contest.projects.items()},
            Evidence(network="203.0.113.0/24" if suspect else f"198.51.{i}.0/24", agent_hash="a"),
            engine, now=start + timedelta(seconds=25 * i if suspect else 600 + 60 * i),
        )  # fmt: skip
    clusters = suspicious_clusters(contest.process_id, engine, min_voters=10)
    assert clusters and {c.network for c in clusters} == {"203.0.113.0/24"}
    assert vote_counts(contest.process_id, engine).total == 75
    with engine.connect() as conn:
        everything = conn.execute(sa.select(Vote.voter_id, Vote.category, Vote.project_id)).all()  # type: ignore[call-overload]
    voided = void_votes(contest.process_id, engine, network="203.0.113.0/24",
                        reason="a burst of new accounts from one network")  # fmt: skip
    assert voided == 36
    shortlist = PrizeActivities(engine).tally(
        TallyRequest(
            process_id=contest.process_id,
            categories=list(CATEGORIES),
            shortlist_size=5,
            ballot_rule=BallotRule.ALL_CATEGORIES,
        )
    )
    with engine.connect() as conn:
        tally = conn.execute(sa.text("SELECT * FROM prizetally")).one()
        counted = conn.execute(
            sa.select(Vote.voter_id, Vote.category, Vote.project_id).where(Vote.voided_at.is_(None))  # type: ignore[call-overload, union-attr]
        ).all()
    assert (tally.ballots_cast, tally.ballots_counted) == (75, 39)
    assert tally.sha256 == ballot_hash(counted) != ballot_hash(everything)
    assert all(shortlist.categories.values())
    with pytest.raises(Exception, match="the tally is frozen"):
        void_votes(contest.process_id, engine, network="198.51.1.0/24", reason="too late")


async def test_no_result_reaches_a_page_before_the_ceremony(
    portal: Portal, engine: Engine, contest: Contest
) -> None:
    async with httpx.AsyncClient(base_url=portal.url) as visitor:
        before = await visitor.get(f"/results/{contest.process_id}")
        assert "Until then no result is published" in before.text
        assert "Project C1-0" not in before.text
        with engine.begin() as conn:
            conn.execute(sa.update(Project).where(Project.id == contest.projects["C1"][0])  # type: ignore[arg-type]
                         .values(shortlisted=True, winner=True))  # fmt: skip
            conn.execute(sa.insert(Campaign).values(
                key=f"{contest.process_id}:winners", process_id=contest.process_id,
                kind="prize_winners", request_json="{}", created_at=datetime.now(UTC),
                completed_at=datetime.now(UTC)))  # fmt: skip
        after = await visitor.get(f"/results/{contest.process_id}")
    assert "Winner" in after.text and "Project C1-0" in after.text
