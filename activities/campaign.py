"""The one campaign activity: every email the engine sends goes through it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from datetime import timedelta

from sqlalchemy.engine import Engine
from temporalio import activity
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

from core.redact import redact_addresses
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
from models.wire import CampaignRequest, CampaignResult, ProcessRef

# A campaign to 300,000 runs for minutes: it heartbeats every second, and a worker that dies
# is noticed within the heartbeat timeout so that another one resumes the campaign. The
# workflow side (workflows/campaign.py) may pass a shorter heartbeat timeout and retry policy.
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

    @activity.defn
    async def send_campaign(self, request: CampaignRequest) -> CampaignResult:
        """Enqueue the campaign's audience once, then send what is pending (of the request's
        shard); counts only back.

        A retried attempt (a worker died, the SMTP server was down) resumes where the last one
        stopped: the outbox says which recipients are done, and the pending rows are read in
        outbox order from an index, so the recipients already done cost nothing. The heartbeat
        details (counts and the last outbox row done; no personal data) show the progress in
        the Web UI and are logged when an attempt resumes.
        """
        with _errors_without_addresses():
            info = activity.info()
            audience = audience_select(request, self.settings)
            created = await asyncio.to_thread(enqueue, request, audience, engine=self.engine)
            previous = info.heartbeat_details[0] if info.heartbeat_details else None
            activity.logger.info(
                "campaign %s (shard %d of %d): %s",
                request.key,
                request.shard + 1,
                request.shards,
                "enqueued" if created else f"resuming at attempt {info.attempt} after {previous}",
            )
            result = await deliver(
                request,
                self.settings,
                engine=self.engine,  # the kind's context (mail.context) is read by deliver
                heartbeat=activity.heartbeat,
                heartbeat_every=_heartbeat_every(info.heartbeat_timeout),
                # Temporal starts an attempt only once the previous one is over (failed, or
                # silent for the heartbeat timeout): what it left in flight is ambiguous now.
                recover_after=timedelta(0),
            )
            await asyncio.to_thread(mark_completed, request.key, engine=self.engine)
            return result

    @activity.defn
    async def flush_outbox(self, ref: ProcessRef) -> int:
        """Send what is still pending in the process's campaigns (e.g. acknowledgements that
        intake could not send while the SMTP server was down). Returns how many were sent."""
        process_id = ref.process_id
        with _errors_without_addresses():
            info = activity.info()
            sent = 0
            for request in await asyncio.to_thread(pending_campaigns, process_id, self.engine):
                result = await deliver(
                    request,
                    self.settings,
                    engine=self.engine,
                    heartbeat=activity.heartbeat,
                    heartbeat_every=_heartbeat_every(info.heartbeat_timeout),
                )
                await asyncio.to_thread(mark_completed, request.key, engine=self.engine)
                sent += result.sent
            return sent


@contextlib.contextmanager
def _errors_without_addresses() -> Iterator[None]:
    """Whatever fails in the activity reaches Temporal (its history, the Web UI, the worker's
    log) as an ``ApplicationError`` with the addresses redacted."""
    try:
        yield
    except Exception as exc:
        raise _application_error(exc) from None


def _application_error(exc: Exception) -> ApplicationError:
    """What Temporal records of a failed attempt: the error's type and its message with every
    e-mail address redacted, and no cause (a cause is recorded too, unredacted). CampaignStopped
    is non-retryable (a retry cannot fix it); everything else is retried with the backoff."""
    stopped = isinstance(exc, CampaignStopped)
    message = redact_addresses(str(exc))
    if not isinstance(exc, CampaignStopped | DeliveryDeferred):
        message = f"{type(exc).__name__}: {message}"
    return ApplicationError(message, type=type(exc).__name__, non_retryable=stopped)


def _heartbeat_every(timeout: timedelta | None) -> float:
    """Seconds between heartbeats: every second, or a third of a shorter heartbeat timeout."""
    if timeout is None or timeout <= timedelta(0):
        return 1.0
    return min(1.0, timeout.total_seconds() / 3)
