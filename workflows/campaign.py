"""Calling the campaign activity from a workflow: a few history events, whatever the audience.

A campaign is one activity call (``shards`` > 1: that many calls, in parallel, one per shard
of the recipients). Heartbeats and retried attempts add no event to the history: a campaign to
300,000 people costs the same events as one to 10.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.campaign import (
        CAMPAIGN_HEARTBEAT,
        CAMPAIGN_RETRY,
        CAMPAIGN_START_TO_CLOSE,
        CampaignActivities,
    )
    from models.wire import CampaignRequest, CampaignResult, ProcessRef


async def send_campaign(
    request: CampaignRequest,
    summary: str,
    *,
    heartbeat_timeout: timedelta | None = None,
    retry_policy: RetryPolicy | None = None,
    running: set[Any] | None = None,
    whole: bool = True,
) -> CampaignResult:
    """Run the campaign activity for ``request`` and return its counts.

    ``running`` (the process's set of campaign calls under way) holds each call while it runs,
    so that a ``cancel`` can interrupt it at once: the activity learns of it at its next
    heartbeat, gives back what it had not sent, and settles what was on the wire; the call
    then raises an ``ActivityError`` caused by a ``CancelledError``. Waiting for the activity
    to confirm its cancellation means its rows are settled before the cancel notice is sent.

    With ``request.shards`` > 1 the recipients are split by participant id into that many
    shards, each sent by its own call (``whole=False``: one shard); the calls run in parallel
    on whichever workers poll the task queue, and their counts are summed.

    A request its message kind cannot be written from (an opening without its deadline) is
    refused here, before anything is scheduled: no retry of the activity could fix it.
    """
    if missing := request.missing():
        raise ApplicationError(
            f"campaign {request.key}: a {request.kind.value} message needs {', '.join(missing)}",
            type="IncompleteCampaign",
            non_retryable=True,
        )
    if whole and request.shards > 1:
        return await _sharded(request, summary, heartbeat_timeout, retry_policy, running)
    # The same ScheduleActivityTask command as execute_activity_method (replays unchanged);
    # the handle is kept so that a cancel can interrupt the call.
    handle = workflow.start_activity_method(
        CampaignActivities.send_campaign,
        request,
        start_to_close_timeout=CAMPAIGN_START_TO_CLOSE,
        heartbeat_timeout=heartbeat_timeout or CAMPAIGN_HEARTBEAT,
        retry_policy=retry_policy or CAMPAIGN_RETRY,
        cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        summary=summary,
    )
    if running is None:
        return await handle
    running.add(handle)
    try:
        return await handle
    finally:
        running.discard(handle)


async def _sharded(
    request: CampaignRequest,
    summary: str,
    heartbeat_timeout: timedelta | None,
    retry_policy: RetryPolicy | None,
    running: set[Any] | None,
) -> CampaignResult:
    """One call per shard, in parallel; every shard runs to its end even if another fails,
    then the first failure is raised."""
    shards = request.shards
    calls = [
        send_campaign(
            request.model_copy(update={"shard": shard}),
            f"{summary} (shard {shard + 1} of {shards})",
            heartbeat_timeout=heartbeat_timeout,
            retry_policy=retry_policy,
            running=running,
            whole=False,
        )
        for shard in range(shards)
    ]
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
    results = [o for o in outcomes if isinstance(o, CampaignResult)]
    return CampaignResult(
        key=request.key,
        recipients=sum(r.recipients for r in results),
        sent=sum(r.sent for r in results),
        failed=sum(r.failed for r in results),
        skipped=sum(r.skipped for r in results),
        ambiguous=sum(r.ambiguous for r in results),
    )


async def flush_outbox(process_id: str) -> int:
    """Send what is still pending in any campaign of the process (acknowledgements)."""
    return await workflow.execute_activity_method(
        CampaignActivities.flush_outbox,
        ProcessRef(process_id=process_id),
        start_to_close_timeout=CAMPAIGN_START_TO_CLOSE,
        heartbeat_timeout=CAMPAIGN_HEARTBEAT,
        retry_policy=CAMPAIGN_RETRY,
        summary="Send acknowledgements still pending",
    )
