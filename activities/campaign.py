"""The one campaign activity: every email the engine sends goes through it."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from sqlalchemy.engine import Engine
from temporalio import activity
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

from core.settings import Settings
from mail.audience import audience_select
from mail.outbox import (
    CampaignStopped,
    DeliveryDeferred,
    deliver,
    enqueue,
    mark_completed,
    pending_campaigns,
)
from models.wire import CampaignRequest, CampaignResult, MessageKind
from reports.ocp import ocp_analysis

# A campaign to 300,000 runs for minutes: it heartbeats every second, and a worker that dies
# is noticed within the heartbeat timeout so that another one resumes the campaign.
CAMPAIGN_START_TO_CLOSE = timedelta(hours=6)
CAMPAIGN_HEARTBEAT = timedelta(seconds=30)
CAMPAIGN_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=10),
    non_retryable_error_types=["CampaignStopped"],
)


class CampaignActivities:
    """Holds the settings and database engine the campaign activity sends with."""

    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.settings = settings
        self.engine = engine

    def _extra(self, request: CampaignRequest) -> dict[str, Any]:
        if request.kind is MessageKind.OCP_ANALYSIS:
            analysis = ocp_analysis(request.process_id, self.engine)
            return {
                "analysis": {
                    "total": analysis.total,
                    "by_stakeholder_type": analysis.by_stakeholder_type.rows,
                    "by_country": analysis.by_country.rows,
                }
            }
        return {}

    @activity.defn
    async def send_campaign(self, request: CampaignRequest) -> CampaignResult:
        """Enqueue the campaign's audience once, then send what is pending; counts only back."""
        audience = audience_select(request, self.settings)
        created = await asyncio.to_thread(enqueue, request, audience, engine=self.engine)
        extra = await asyncio.to_thread(self._extra, request)
        activity.logger.info(
            "campaign %s: %s", request.key, "enqueued" if created else "resuming"
        )
        try:
            result = await deliver(
                request, self.settings, engine=self.engine, extra=extra, heartbeat=activity.heartbeat
            )
        except CampaignStopped as exc:
            raise ApplicationError(str(exc), type="CampaignStopped", non_retryable=True) from exc
        except DeliveryDeferred as exc:
            raise ApplicationError(str(exc), type="DeliveryDeferred") from exc
        await asyncio.to_thread(mark_completed, request.key, engine=self.engine)
        return result

    @activity.defn
    async def flush_outbox(self, process_id: str) -> int:
        """Send what is still pending in the process's campaigns (e.g. acknowledgements that
        intake could not send while the SMTP server was down). Returns how many were sent."""
        sent = 0
        for request in await asyncio.to_thread(pending_campaigns, process_id, self.engine):
            try:
                result = await deliver(
                    request, self.settings, engine=self.engine, heartbeat=activity.heartbeat
                )
            except CampaignStopped as exc:
                raise ApplicationError(str(exc), type="CampaignStopped", non_retryable=True) from exc
            except DeliveryDeferred as exc:
                raise ApplicationError(str(exc), type="DeliveryDeferred") from exc
            await asyncio.to_thread(mark_completed, request.key, engine=self.engine)
            sent += result.sent
        return sent
