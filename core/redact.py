"""Keep e-mail addresses out of what leaves the database: error messages, heartbeats, logs.

Workflow history is shown in the Web UI and kept for years, logs are shipped and kept too;
addresses belong only in the database. An SMTP server's reply often quotes the address
(``554 5.7.1 <anna@example.org>: Relay access denied``, Postfix's form): the full reply is
kept in the outbox row, and every text made from it for anywhere else goes through
``redact_addresses``.
"""

from __future__ import annotations

import re
import unicodedata

REDACTED = "[address]"

# What cannot be part of an address as it appears in running text: spaces, brackets, quotes
# and the punctuation around it ("RCPT TO:<a@b>", "(a@b)", "a@b, c@d", "mailto:a@b").
_EDGE = r"""[^\s<>()\[\]{},;:"'`|\\@]"""
# An at sign, or its percent-encoded form in a link.
_AT = r"(?:@|%40)"
_LOOKS_LIKE_ADDRESS = re.compile(
    rf"""(?:"[^"\r\n]*"|{_EDGE}+){_AT}{_EDGE}*|{_AT}{_EDGE}+""", re.IGNORECASE
)


def redact_addresses(text: str) -> str:
    """``text`` with everything that looks like an e-mail address replaced by ``[address]``.

    The text is compared in its NFKC form, so that look-alikes count too (an address written
    with the fullwidth at sign U+FF20 or the small one U+FE6B, or in fullwidth letters); where
    something was redacted, the NFKC form is what comes back. A text with nothing to redact
    comes back unchanged.
    """
    if text.isascii():
        if "@" not in text and "%40" not in text:
            return text
        folded = text
    else:
        folded = unicodedata.normalize("NFKC", text)
    redacted, count = _LOOKS_LIKE_ADDRESS.subn(REDACTED, folded)
    return redacted if count else text
