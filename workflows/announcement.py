"""A secretariat's ad-hoc announcement: one campaign to one audience, outside any process.

    client.start_workflow(AnnouncementWorkflow.run, AnnouncementInput(request=...),
                          id=f"announcement-{request.key}", task_queue=...)

The workflow id is readable and carries no personal data; the campaign key (the business key
of exactly-once) makes a second start, a retry or a Reset send nothing twice.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, Field
from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.campaign import CAMPAIGN_RETRY
    from models.wire import CampaignRequest, CampaignResult
    from workflows.campaign import send_campaign


class AnnouncementInput(BaseModel):
    """What to send, and optionally how patiently (tests and benchmarks shorten the waits)."""

    request: CampaignRequest
    summary: str | None = Field(
        default=None, description="Shown on the activity in the Web UI (no personal data)"
    )
    heartbeat_timeout: timedelta | None = Field(
        default=None, description="How soon a dead worker is noticed (default 30 s)"
    )
    retry_initial_interval: timedelta | None = Field(
        default=None, description="First wait before a retried attempt (default 5 s)"
    )


@workflow.defn
class AnnouncementWorkflow:
    """Runs one campaign and returns its counts."""

    @workflow.run
    async def run(self, input: AnnouncementInput) -> CampaignResult:
        request = input.request
        summary = input.summary or (
            f"Send '{request.kind.value}' to the audience '{request.audience.value}'"
        )
        shards = f" in {request.shards} shards" if request.shards > 1 else ""
        workflow.set_current_details(
            f"**Announcement** {request.key}: {summary}{shards}. Progress (sent, failed, "
            "skipped, ambiguous) is in the pending activity's heartbeat details."
        )
        retry: RetryPolicy | None = None
        if input.retry_initial_interval is not None:
            retry = RetryPolicy(
                initial_interval=input.retry_initial_interval,
                backoff_coefficient=CAMPAIGN_RETRY.backoff_coefficient,
                maximum_interval=CAMPAIGN_RETRY.maximum_interval,
                non_retryable_error_types=CAMPAIGN_RETRY.non_retryable_error_types,
            )
        result = await send_campaign(
            request, summary, heartbeat_timeout=input.heartbeat_timeout, retry_policy=retry
        )
        workflow.set_current_details(
            f"**Announcement** {request.key}: done. {result.sent} sent, {result.failed} failed, "
            f"{result.skipped} skipped, {result.ambiguous} ambiguous of {result.recipients}."
        )
        return result
