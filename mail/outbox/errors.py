"""How a delivery pass ends when it cannot send everything."""

from __future__ import annotations


class CampaignStopped(Exception):
    """The SMTP server refused the sender, our credentials or our mail by policy: retrying
    cannot help until someone fixes the cause."""


class DeliveryDeferred(Exception):
    """Some messages got a temporary (4xx) reply or the server was unreachable; retry later."""


class DeliveryInterrupted(DeliveryDeferred):
    """The attempt was cut short by an error of the engine's own (the outbox database, the
    heartbeat, a bug), not by any message: the rows not done stay pending; retry later."""
