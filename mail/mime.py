"""The MIME bodies of a message, written directly (``mail.compose`` says why): text parts in
7bit, or quoted-printable or base64 whichever is shorter; base64 attachments; multiparts.
Each part is bytes with CRLF line ends, ready for the wire."""

from __future__ import annotations

import base64
import binascii


def base64_lines(data: bytes) -> bytes:
    """``data`` in base64, lines of 76 characters, each ending with LF."""
    encoded = base64.b64encode(data)
    return b"\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76)) + b"\n"


def text_part(subtype: str, text: str, prefer: list[str]) -> bytes:
    """One ``text/*`` part (headers and body, CRLF line ends; the body ends with CRLF).

    7bit when the text is ASCII; otherwise quoted-printable or base64, whichever is shorter
    for the first message that needs one (remembered in ``prefer`` for the next ones).
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.endswith("\n"):
        text += "\n"
    data = text.encode("utf-8")
    if data.isascii() and max(map(len, text.split("\n"))) <= 998:
        cte, body = "7bit", data
    elif prefer == ["quoted-printable"]:
        cte, body = "quoted-printable", binascii.b2a_qp(data, istext=True)
    elif prefer == ["base64"]:
        cte, body = "base64", base64_lines(data)
    else:
        qp = binascii.b2a_qp(data, istext=True)
        b64 = base64_lines(data)
        cte, body = ("quoted-printable", qp) if len(qp) <= len(b64) else ("base64", b64)
        prefer[:] = [cte]
    head = (
        f'Content-Type: text/{subtype}; charset="utf-8"\r\nContent-Transfer-Encoding: {cte}\r\n\r\n'
    )
    return head.encode("ascii") + body.replace(b"\n", b"\r\n")


def attachment_part(data: bytes, content_type: str, filename: str) -> bytes:
    """An attached file as a base64 part (headers and body, CRLF line ends)."""
    head = (
        f"Content-Type: {content_type}\r\n"
        "Content-Transfer-Encoding: base64\r\n"
        f'Content-Disposition: attachment; filename="{filename}"\r\n\r\n'
    )
    return head.encode("ascii") + base64_lines(data).replace(b"\n", b"\r\n")


def multipart(boundary: str, parts: list[bytes]) -> bytes:
    """The body of a multipart entity: each part after its delimiter, then the close."""
    delimiter = f"--{boundary}\r\n".encode("ascii")
    body = b"".join(delimiter + part + b"\r\n" for part in parts)
    return body + f"--{boundary}--\r\n".encode("ascii")
