"""Whether an e-mail address can be delivered over SMTP, and if not, why.

The sender asks before every message (a row that cannot be delivered fails alone, with the
reason); registry import can ask the same question before a participant is added. The reason
never quotes the address: it ends up in logs and reports where addresses have no place.
"""

from __future__ import annotations

import re

# RFC 5321 4.5.3.1: a local part of at most 64 octets, a path of at most 256 octets with its
# angle brackets, so an address of at most 254.
_MAX_LOCAL_OCTETS = 64
_MAX_ADDRESS_OCTETS = 254
# What cannot stand in an SMTP MAIL/RCPT command or a header: spaces, control characters
# (C0, DEL, C1's NEL), angle brackets, the Unicode line and paragraph separators.
_UNSAFE = re.compile(r"[\s<>\x00-\x1f\x7f\x85\u2028\u2029]")


def address_problem(address: str, *, smtputf8: bool) -> str | None:
    """Why ``address`` cannot be delivered, or None if it can.

    ``smtputf8``: whether the mail relay supports SMTPUTF8 (RFC 6531/6532). An address with
    non-ASCII characters anywhere (``user@bücher.example``, ``δοκιμή@παράδειγμα.δοκιμή``)
    can only be sent with it: the address goes raw, in UTF-8, in the envelope and in ``To``.
    """
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        return "not an e-mail address (it needs a local part, @ and a domain)"
    if _UNSAFE.search(address):
        return "the address contains a space, a control character or an angle bracket"
    if len(local.encode("utf-8")) > _MAX_LOCAL_OCTETS:
        return f"the local part is longer than {_MAX_LOCAL_OCTETS} octets (RFC 5321)"
    if len(address.encode("utf-8")) > _MAX_ADDRESS_OCTETS:
        return f"the address is longer than {_MAX_ADDRESS_OCTETS} octets (RFC 5321)"
    if not smtputf8 and not address.isascii():
        return (
            "the address has non-ASCII characters and the mail relay does not support "
            "SMTPUTF8 (RFC 6531), which such an address needs"
        )
    return None
