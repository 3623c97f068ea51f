"""Calling the campaign activity from a workflow: a few history events, whatever the audience."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.campaign import (
        CAMPAIGN_HEARTBEAT,
        CAMPAIGN_RETRY,
        CAMPAIGN_START_TO_CLOSE,
        CampaignActivities,
    )
    from models.wire import CampaignRequest, CampaignResult


async def send_campaign(request: CampaignRequest, summary: str) -> CampaignResult:
    """Run the campaign activity for ``request`` and return its counts."""
    return await workflow.execute_activity_method(
        CampaignActivities.send_campaign,
        request,
        start_to_close_timeout=CAMPAIGN_START_TO_CLOSE,
        heartbeat_timeout=CAMPAIGN_HEARTBEAT,
        retry_policy=CAMPAIGN_RETRY,
        summary=summary,
    )


async def flush_outbox(process_id: str) -> int:
    """Send what is still pending in any campaign of the process (acknowledgements)."""
    return await workflow.execute_activity_method(
        CampaignActivities.flush_outbox,
        process_id,
        start_to_close_timeout=CAMPAIGN_START_TO_CLOSE,
        heartbeat_timeout=CAMPAIGN_HEARTBEAT,
        retry_policy=CAMPAIGN_RETRY,
        summary="Send acknowledgements still pending",
    )
