"""The secrets of the portal's accounts and how they are kept.

Every secret (a sign-in link's token, the browser's pending value, a session id) is random,
handed to the person once (in an e-mail or a cookie) and stored only as a keyed hash:
HMAC-SHA-256 under the portal's secret of the secret's SHA-256, labelled with its use. A copy
of the database alone can neither match a token nor recompute a code; the SHA-256 inside lets
a migration re-key the hashes stored before they were keyed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from datetime import timedelta

LINK_LIFETIME = timedelta(minutes=20)
MAX_CODE_ATTEMPTS = 5
_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud, typed by hand


def digest(secret: str) -> str:
    """The SHA-256 of a random secret (hex)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def keyed(key: bytes, value: str) -> str:
    """A keyed hash (HMAC-SHA-256) of a guessable value: a code, an address in a log line."""
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()


def stored(key: bytes, use: str, secret: str) -> str:
    """What the database keeps of ``secret`` (``use``: ``signin``, ``pending``, ``session``)."""
    return rekeyed(key, use, digest(secret))


def rekeyed(key: bytes, use: str, sha256_hex: str) -> str:
    """The keyed form of a secret's SHA-256: what a migration makes of an unkeyed hash."""
    return keyed(key, f"{use}:{sha256_hex}")


# An unsubscribe link's token: ``<participant id>.<HMAC>``, computed, never stored.
UNSUBSCRIBE_LINK = re.compile(r"([0-9]{1,18})\.([A-Za-z0-9_-]{24})")


def unsubscribe_token(key: bytes, participant_id: int, generation: int) -> str:
    """The token of a participant's unsubscribe links (List-Unsubscribe, mailto subject):
    their id and an HMAC (144 bits) of it under the portal's key. Nothing of it is stored;
    raising ``generation`` (``participant.unsubscribe_generation``) retires every earlier one."""
    message = f"unsubscribe:{participant_id}:{generation}".encode()
    mac = hmac.new(key, message, hashlib.sha256).digest()[:18]
    return f"{participant_id}.{base64.urlsafe_b64encode(mac).decode('ascii')}"


def legacy_unsubscribe(key: bytes, token: str) -> str:
    """What the database keeps of an unsubscribe token issued before tokens were computed
    (migration 0011): its keyed hash, so that links in mail already sent keep working."""
    return keyed(key, f"unsubscribe-legacy:{token}")


def new_code() -> str:
    """A short code (40 bits) to type by hand: ``K7PX-3MQA``."""
    raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(8))
    return f"{raw[:4]}-{raw[4:]}"


def normalize_code(text: str) -> str:
    """``abcd efgh`` or ``ABCD-EFGH``: the code as issued."""
    raw = "".join(ch for ch in text.upper() if ch in _CODE_ALPHABET)
    return f"{raw[:4]}-{raw[4:]}" if len(raw) == 8 else ""


class SignInFailed(Exception):
    """A link or a code that cannot sign anyone in; ``reason`` is one of ``unknown``,
    ``used``, ``expired``, ``wrong-code``, ``too-many-tries``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
