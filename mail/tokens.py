"""Signed tokens in our own addresses: VERP return paths and per-recipient Reply-To.

A token names what it is about by numbers only (an outbox row, a participant), never by an
address, and carries an HMAC-SHA256 under the application's secret (``portal_key``): 80 bits,
so a token cannot be guessed or altered, and a forged bounce cannot suspend anyone. Tokens are
lowercase letters, digits and ``-`` only: some relays lowercase local parts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from core.settings import Settings

_TOKEN = re.compile(r"([a-z])([0-9a-z]{1,13})((?:-[0-9a-z]{1,16})*)-([a-z2-7]{16})")


def mail_key(settings: Settings) -> bytes:
    """The tokens' key, derived from the application's secret (read it once per use site)."""
    return hmac.new(settings.portal_key(), b"wsis-mail-token", hashlib.sha256).digest()


def _mac(key: bytes, purpose: str, fields: list[str]) -> str:
    digest = hmac.new(key, "|".join([purpose, *fields]).encode(), hashlib.sha256).digest()
    return base64.b32encode(digest[:10]).decode("ascii").lower()


def _b36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if not number:
            return out


def make_token(key: bytes, purpose: str, number: int, *extra: str) -> str:
    """``purpose`` (one letter) + ``number`` + ``extra`` fields, signed with ``key``."""
    fields = [_b36(number), *extra]
    return f"{purpose}{'-'.join(fields)}-{_mac(key, purpose, fields)}"


def read_token(key: bytes, purpose: str, token: str) -> tuple[int, list[str]] | None:
    """The number and extra fields of a valid ``purpose`` token, else None."""
    match = _TOKEN.fullmatch(token.lower())
    if match is None or match.group(1) != purpose:
        return None
    fields = [match.group(2), *[f for f in match.group(3).split("-") if f]]
    if not hmac.compare_digest(_mac(key, purpose, fields), match.group(4)):
        return None
    return int(fields[0], 36), fields[1:]


def campaign_tag(key: str) -> str:
    """A short, stable tag of a campaign key (which OCP opening a reply answers)."""
    return hashlib.sha256(key.encode()).hexdigest()[:10]


def split_address(address: str) -> tuple[str, str, str]:
    """``local+detail@domain`` as (local, detail, domain), local and domain lowercased."""
    local, _, domain = address.strip().strip("<>").rpartition("@")
    base, _, detail = local.partition("+")
    return base.lower(), detail, domain.lower()


class ReturnAddresses:
    """Our signed addresses, as the settings configure them (the key read once)."""

    def __init__(self, settings: Settings) -> None:
        self.key = mail_key(settings)
        self.bounce_localpart = settings.bounce_localpart.lower()
        self.bounce_domain = settings.bounce_domain.lower()
        self.ocp_local, _, self.ocp_domain = split_address(settings.ocp_address)

    def verp(self, outbox_id: int) -> str | None:
        """The return path of outbox row ``outbox_id`` (None when VERP is off)."""
        if not self.bounce_domain:
            return None
        token = make_token(self.key, "b", outbox_id)
        return f"{self.bounce_localpart}+{token}@{self.bounce_domain}"

    def reply(self, participant_id: int, campaign_key: str) -> str | None:
        """The per-recipient Reply-To of an OCP opening announcement (None when off)."""
        if not self.ocp_domain:
            return None
        token = make_token(self.key, "r", participant_id, campaign_tag(campaign_key))
        return f"{self.ocp_local}+{token}@{self.ocp_domain}"
