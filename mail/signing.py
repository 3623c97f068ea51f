"""DKIM (RFC 6376) for outbound mail with dkimpy, and verification for inbound mail.

Outbound: with ``WSIS_DKIM_DOMAIN``, ``WSIS_DKIM_SELECTOR`` and ``WSIS_DKIM_KEY_FILE`` (a PEM
RSA private key) set, every message is signed (relaxed/relaxed canonicalisation, the headers
a receiver shows). The public key is published at ``<selector>._domainkey.<domain>``.

Inbound: ``aligned_signer`` says whether a message carries a valid DKIM signature of the
From domain's organisation (DMARC relaxed alignment, RFC 7489 3.1.1); ``dnsfunc`` is
injectable (the tests publish their keys without DNS).
"""

from __future__ import annotations

from collections.abc import Callable
from email.message import Message
from email.utils import parseaddr

import dkim
from publicsuffix2 import get_sld

from core.settings import Settings

_SIGNED = [
    b"from", b"to", b"subject", b"date", b"message-id", b"reply-to", b"mime-version",
    b"content-type", b"content-language", b"list-unsubscribe", b"list-unsubscribe-post",
]  # fmt: skip

DnsFunc = Callable[..., bytes | None]


class DkimSigner:
    """Signs message bytes with one key (read once)."""

    def __init__(self, domain: str, selector: str, key: bytes) -> None:
        self.domain = domain.encode("ascii")
        self.selector = selector.encode("ascii")
        self.key = key

    @classmethod
    def for_settings(cls, settings: Settings) -> DkimSigner | None:
        """The signer the settings configure, or None when DKIM is not configured."""
        if not (settings.dkim_domain and settings.dkim_selector and settings.dkim_key_file):
            return None
        return cls(
            settings.dkim_domain, settings.dkim_selector, settings.dkim_key_file.read_bytes()
        )

    def sign(self, data: bytes) -> bytes:
        """``data`` with a ``DKIM-Signature`` header in front."""
        signature = dkim.sign(
            data,
            self.selector,
            self.domain,
            self.key,
            canonicalize=(b"relaxed", b"relaxed"),
            include_headers=_SIGNED,
        )
        return bytes(signature) + data


def organisation(domain: str) -> str:
    """The organisational domain (the registrable one: ``mail.itu.int`` -> ``itu.int``)."""
    domain = domain.lower().rstrip(".")
    return get_sld(domain) or domain


def from_domain(msg: Message) -> str:
    """The domain of the message's From address ("" when there is none or several)."""
    values = msg.get_all("From") or []
    if len(values) != 1:
        return ""
    address = parseaddr(str(values[0]))[1]
    return address.rpartition("@")[2].lower() if "@" in address else ""


def aligned_signer(raw: bytes, msg: Message, dnsfunc: DnsFunc | None = None) -> bool:
    """Whether a valid DKIM signature's ``d=`` is aligned with the From domain."""
    domain = from_domain(msg)
    if not domain:
        return False
    checker = dkim.DKIM(raw)
    count = len(msg.get_all("DKIM-Signature") or [])
    for index in range(min(count, 5)):  # a few signatures at most: each may cost a lookup
        try:
            valid = (
                checker.verify(idx=index, dnsfunc=dnsfunc) if dnsfunc else checker.verify(idx=index)
            )
        except Exception:  # dkimpy raises on malformed signatures and failed lookups
            valid = False
        if valid and checker.domain:
            signer = checker.domain.decode("ascii", "replace").lower()
            if organisation(signer) == organisation(domain):
                return True
    return False
