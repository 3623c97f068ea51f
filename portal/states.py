"""Where each process stands, as its own workflow holds it: the ``status`` query of the
process's workflow in Temporal (its phase, the phases still to come and their dates), not a
guess from the intake windows. Read through one client, each answer kept a few seconds, so
that a busy home page asks Temporal at most once per process every few seconds.

Where Temporal cannot be reached, or a process has no workflow, the answer is None and the
page says only what the intake windows say (open, closed, the deadline), never a phase.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from core.settings import Settings
from models.plan import CyclePlan
from models.wire import ProcessStatus

log = logging.getLogger(__name__)
FRESH_SECONDS = 5.0  # an answer is reused this long
RETRY_SECONDS = 30.0  # after Temporal could not be reached, how long before trying again
CONNECT_SECONDS = 2.0


class ProcessStates:
    """The status of each process's workflow, read through ``client`` (by default one
    connected on first use to the settings' Temporal)."""

    def __init__(
        self, settings: Settings, client: Client | None = None, *, fresh: float = FRESH_SECONDS
    ) -> None:
        self.settings = settings
        self.fresh = fresh
        self._client = client
        self._down_until = 0.0
        self._cache: dict[str, tuple[float, ProcessStatus | None]] = {}
        self._plans: dict[str, tuple[float, CyclePlan | None]] = {}
        self._connecting = asyncio.Lock()

    async def client(self) -> Client | None:
        if self._client is not None:
            return self._client
        if time.monotonic() < self._down_until:
            return None
        async with self._connecting:
            if self._client is None and time.monotonic() >= self._down_until:
                try:
                    self._client = await asyncio.wait_for(
                        Client.connect(
                            self.settings.temporal_address,
                            namespace=self.settings.temporal_namespace,
                            data_converter=pydantic_data_converter,
                        ),
                        CONNECT_SECONDS,
                    )
                except Exception as exc:  # any failure: the page goes on without phases
                    log.warning("portal.temporal_unreachable error=%s", type(exc).__name__)
                    self._down_until = time.monotonic() + RETRY_SECONDS
        return self._client

    async def status(self, process_id: str) -> ProcessStatus | None:
        """The process's status as its workflow answers it, or None when it cannot."""
        kept = self._cache.get(process_id)
        if kept and time.monotonic() - kept[0] < self.fresh:
            return kept[1]
        client = await self.client()
        found: ProcessStatus | None = None
        if client is not None:
            try:
                answer: Any = await asyncio.wait_for(
                    client.get_workflow_handle(process_id).query(
                        "status", result_type=ProcessStatus
                    ),
                    CONNECT_SECONDS * 2,
                )
                found = answer if isinstance(answer, ProcessStatus) else None
            except Exception as exc:  # no such workflow, no worker: no phase shown
                log.info("portal.status_unknown error=%s", type(exc).__name__)
        self._cache[process_id] = (time.monotonic(), found)
        return found

    async def plan(self, cycle_id: str) -> CyclePlan | None:
        """The cycle as its processes plan it now (the cycle workflow's ``plan`` query: the
        OCP's meetings with their moves), or None when it cannot be had."""
        kept = self._plans.get(cycle_id)
        if kept and time.monotonic() - kept[0] < self.fresh:
            return kept[1]
        client = await self.client()
        found: CyclePlan | None = None
        if client is not None:
            try:
                answer: Any = await asyncio.wait_for(
                    client.get_workflow_handle(cycle_id).query("plan", result_type=CyclePlan),
                    CONNECT_SECONDS * 2,
                )
                found = answer if isinstance(answer, CyclePlan) else None
            except Exception as exc:  # a process started alone has no cycle: no meetings
                log.info("portal.plan_unknown error=%s", type(exc).__name__)
        self._plans[cycle_id] = (time.monotonic(), found)
        return found
