"""How a delivery pass ends when it cannot send everything."""

from __future__ import annotations


class CampaignStopped(Exception):
    """The SMTP server refused the sender, our credentials or our mail by policy: retrying
    cannot help until someone fixes the cause."""


class DeliveryDeferred(Exception):
    """Some messages got a temporary (4xx) reply or the server was unreachable; retry later."""
