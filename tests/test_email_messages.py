"""What the composer writes: no control character in a body, header lines that fold.

RFC 5322: a line MUST be at most 998 octets and SHOULD be at most 78 characters; RFC 2045: a
7bit body has no NUL. Values that cannot be folded at spaces (a long title without any) become
RFC 2047 encoded-words, which can be split anywhere and decode to the exact value.
"""

from __future__ import annotations

import email
import re
from email import policy
from email.header import decode_header, make_header
from email.message import EmailMessage

import pytest

from intake.tokens import unsubscribe_token
from mail.compose import Composer, Recipient, header_value, render, unstructured_header

from .test_email_delivery import announcement

SENDER = "WSIS Secretariat <wsis-info@itu.int>"
# C0 controls but TAB, LF and CR (line ends), and DEL: none may appear in a body.
_FORBIDDEN = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def composer(**kw: object) -> Composer:
    request = announcement("a:messages", **kw)
    return Composer(
        request, SENDER, "https://example.org/u/{token}", "u@example.org", unsubscribe_key=b"k" * 32
    )


def head_lines(data: bytes) -> list[bytes]:
    """Every header line of the message and of its parts."""
    lines: list[bytes] = []
    for block in re.split(rb"\r\n--=_wsis_[a-z]+_[0-9a-f]+(?:--)?\r\n", data):
        head = block.split(b"\r\n\r\n", 1)[0]
        if re.match(rb"[A-Za-z-]+:", head):
            lines += head.split(b"\r\n")
    return lines


def assert_folded(data: bytes) -> None:
    """Every header line at most 998 octets, and at most 78 unless it is one unbreakable
    token (a header's first token, or a continuation that is a single word)."""
    for line in head_lines(data):
        assert len(line) <= 998, line[:80]
        if len(line) > 78:
            rest = line[1:] if line.startswith(b" ") else line.split(b": ", 1)[1]
            assert b" " not in rest, f"could have been folded: {line!r}"


def parsed(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=policy.default)
    assert isinstance(message, EmailMessage)
    assert not [d for part in message.walk() for d in part.defects]
    return message


def test_control_characters_never_reach_a_body() -> None:
    compose = composer(title="WSIS Forum\x00 2027\x07")
    names = ["Ann\x00a Smith\x1b", "Plain Name", "Bell\x07 Tab\tName", "Del\x7f Ete"]
    for i, name in enumerate(names * 3):
        recipient = Recipient(i, f"p{i}@example.org", name, "en")
        data = compose.message_bytes(recipient)
        assert not _FORBIDDEN.search(data), name
        message = parsed(data)
        text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        assert "WSIS Forum 2027" in text and "\x00" not in text
        assert name.replace("\x00", "").replace("\x1b", "").replace("\x07", "").replace(
            "\x7f", ""
        ) in text.replace("\n", " ")
    # Stripped before substitution, so the fast path still equals a full rendering.
    assert all(v.exact for v in compose._variants.values())


def test_a_long_subject_without_spaces_is_encoded_and_folded() -> None:
    title = "WSIS-Forum-2027-" + "x" * 1226  # 1,242 characters, nowhere to fold
    assert len(title) == 1242
    compose = composer(title=title)
    recipient = Recipient(1, "p1@example.org", "Amina Diallo", "en")
    data = compose.message_bytes(recipient)
    assert_folded(data)
    subject = header_value(render(compose.request.kind, "en", compose.context("en", "", ""))[0])
    assert title in subject
    assert parsed(data)["Subject"] == subject
    raw = email.message_from_bytes(data, policy=policy.compat32)["Subject"]
    assert str(make_header(decode_header(raw))) == subject


@pytest.mark.parametrize(
    "value",
    [
        "short",
        "word " * 40,
        "x" * 1242,
        "Δοκιμή " * 60,
        "中华人民共和国国务院新闻办公室" * 20,
        "mixed " + "y" * 200 + " then Ναυσικά and " + "z" * 90 + " end",
        "a =?utf-8?q?not-an-encoded-word?= b",
    ],
)
def test_unstructured_headers_fold_and_decode_exactly(value: str) -> None:
    line = unstructured_header("Subject", value)
    data = (line + "\r\n\r\nbody\r\n").encode("utf-8")
    for part in line.encode("utf-8").split(b"\r\n"):
        assert len(part) <= 78, part
    assert parsed(data)["Subject"] == header_value(value)


def test_long_display_names_fold_and_parse_back() -> None:
    compose = composer()
    for name in ["N" * 300, "Dr. " + "Q" * 120 + " Jr.", "Ναυσικά " * 30]:
        recipient = Recipient(1, "p1@example.org", name, "en")
        data = compose.message_bytes(recipient)
        assert_folded(data)
        to = parsed(data)["To"]
        assert to.addresses[0].addr_spec == "p1@example.org"
        raw = email.message_from_bytes(data, policy=policy.compat32)["To"]
        assert str(make_header(decode_header(raw))) == f"{name.strip()} <p1@example.org>"


def test_an_ordinary_bulk_message_keeps_every_line_within_78_where_possible() -> None:
    compose = composer()
    recipient = Recipient(7, "participant7@example.org", "Gustavo Pérez", "es")
    data = compose.message_bytes(recipient)
    assert_folded(data)
    message = parsed(data)
    assert message["Content-Type"].params["boundary"].startswith("=_wsis_alt_")
    token = unsubscribe_token(b"k" * 32, 7, 0)  # 7.<24 characters>
    assert message["List-Unsubscribe"] == (
        f"<https://example.org/u/{token}>, <mailto:u@example.org?subject=unsubscribe%20{token}>"
    )
