"""Staff TOTP secrets sealed at rest: AES-256-GCM (``cryptography``) under a key derived from
the portal's secret key.

The database keeps ``v1.<base64url(nonce | ciphertext | tag)>``, never the base32 secret an
authenticator app holds: a copy of the database (a backup, a dump handed to a contractor)
cannot be used to make a staff member's codes. The key is not stored anywhere: it is derived
with HKDF-SHA256 from the portal's secret (``Settings.portal_key``: ``WSIS_PORTAL_SECRET``, or
the key kept in ``var/portal-secret``), for this one use (its own ``info``), so it is never the
portal's key itself. The associated data names the staff row, so a sealed secret copied onto
another staff member's row does not open there.

Changing the portal's secret makes every sealed secret unreadable: staff enrol again (as
they sign in again: their sessions and links are keyed with it too).
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION = "v1."
_INFO = b"wsis-engine: staff TOTP secrets at rest, v1"
_NONCE = 12  # bytes: AES-GCM's standard nonce, random for each sealing


def _cipher(portal_key: bytes) -> AESGCM:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(portal_key)
    return AESGCM(derived)


def _bound(staff_id: int) -> bytes:
    return f"staff_member:{staff_id}".encode("ascii")


def seal(portal_key: bytes, staff_id: int, secret: str) -> str:
    """``secret`` (a base32 TOTP secret) as the database keeps it for staff ``staff_id``."""
    nonce = os.urandom(_NONCE)
    sealed = _cipher(portal_key).encrypt(nonce, secret.encode("ascii"), _bound(staff_id))
    return VERSION + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")


def unseal(portal_key: bytes, staff_id: int, kept: str) -> str | None:
    """The secret sealed in ``kept`` for ``staff_id``; None if it does not open (another key,
    another row, altered, or not sealed at all)."""
    if not kept.startswith(VERSION):
        return None
    try:
        raw = base64.urlsafe_b64decode(kept[len(VERSION) :].encode("ascii"))
        opened = _cipher(portal_key).decrypt(raw[:_NONCE], raw[_NONCE:], _bound(staff_id))
    except (InvalidTag, ValueError):
        return None
    return opened.decode("ascii")
