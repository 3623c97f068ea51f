"""Mail that comes back, as the world writes it: fixtures for the inbound tests and bench.

DSNs: RFC 3464's own example (appendix), and the shapes Gmail, Outlook.com, Postfix and
Yahoo (a plain-text notice, not a DSN) and qmail send; ARF reports: RFC 5965's example and the
headers-only and token-only variants feedback loops send. ``{verp}`` is the return path the
bounced message had, ``{rcpt}`` the address that failed, ``{mid}`` a fresh Message-ID.
"""

from __future__ import annotations

import uuid


def mid() -> str:
    return f"<{uuid.uuid4().hex}@mx.example.net>"


def _crlf(text: str) -> bytes:
    return text.lstrip("\n").replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")


def _original(verp: str, rcpt: str) -> str:
    return f"""Return-Path: <{verp}>
From: WSIS Secretariat <wsis-info@itu.int>
To: {rcpt}
Subject: WSIS Forum 2027: the open consultation is open
Message-ID: <abc123.7@itu.int>
"""


def rfc3464(verp: str, rcpt: str) -> bytes:
    """RFC 3464 appendix B's "simple DSN" (status 5.0.0: permanent, not "no mailbox")."""
    return _crlf(f"""
Date: Thu, 7 Jul 1994 17:16:05 -0400
From: Mail Delivery Subsystem <MAILER-DAEMON@CS.UTK.EDU>
Message-Id: {mid()}
Subject: Returned mail: Cannot send message for 5 days
To: <{verp}>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
      boundary="RAA14128.773615765/CS.UTK.EDU"

--RAA14128.773615765/CS.UTK.EDU

   ----- The following addresses had delivery problems -----
<{rcpt}>  (unrecoverable error)

--RAA14128.773615765/CS.UTK.EDU
content-type: message/delivery-status

Reporting-MTA: dns; cs.utk.edu

Original-Recipient: rfc822;{rcpt}
Final-Recipient: rfc822;{rcpt}
Action: failed
Status: 5.0.0
Diagnostic-Code: smtp; 550 Host unknown

--RAA14128.773615765/CS.UTK.EDU
content-type: message/rfc822

{_original(verp, rcpt)}
The open consultation is open.

--RAA14128.773615765/CS.UTK.EDU--
""")


def _dsn(
    sender: str, subject: str, verp: str, rcpt: str, action: str, status: str, diag: str
) -> bytes:
    return _crlf(f"""
Return-Path: <>
From: {sender}
To: {verp}
Subject: {subject}
Message-ID: {mid()}
Date: Mon, 1 Mar 2027 10:00:00 +0000
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="000000000000b1"

--000000000000b1
Content-Type: text/plain; charset="UTF-8"

** Address not found **

Your message wasn't delivered to {rcpt}.

--000000000000b1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net
Arrival-Date: Mon, 01 Mar 2027 09:59:58 -0000

Final-Recipient: rfc822; {rcpt}
Action: {action}
Status: {status}
Remote-MTA: dns; mx.example.com. (192.0.2.1, the server for the domain.)
Diagnostic-Code: smtp; {diag}
Last-Attempt-Date: Mon, 01 Mar 2027 10:00:00 -0000

--000000000000b1
Content-Type: text/rfc822-headers

{_original(verp, rcpt)}
--000000000000b1--
""")


def gmail(verp: str, rcpt: str) -> bytes:
    """Gmail's "Address not found": a DSN with 5.1.1."""
    return _dsn(
        "Mail Delivery Subsystem <mailer-daemon@googlemail.com>",
        "Delivery Status Notification (Failure)",
        verp, rcpt, "failed", "5.1.1",
        "550-5.1.1 The email account that you tried to reach does not exist.",
    )  # fmt: skip


def outlook(verp: str, rcpt: str) -> bytes:
    """Outlook.com / Exchange Online's "Undeliverable": 5.1.10 RecipientNotFound."""
    return _dsn(
        "postmaster@outlook.com",
        "Undeliverable: WSIS Forum 2027: the open consultation is open",
        verp, rcpt, "failed", "5.1.10",
        "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup",
    )  # fmt: skip


def mailbox_full(verp: str, rcpt: str) -> bytes:
    """Postfix giving up on a full mailbox: a soft failure (5.2.2)."""
    return _dsn(
        "MAILER-DAEMON@mail.example.net (Mail Delivery System)",
        "Undelivered Mail Returned to Sender",
        verp, rcpt, "failed", "5.2.2",
        "552 5.2.2 Mailbox full: user is over quota",
    )  # fmt: skip


def delayed(verp: str, rcpt: str) -> bytes:
    """A warning (Action: delayed): no failure yet."""
    return _dsn(
        "MAILER-DAEMON@mail.example.net",
        "Delayed Mail (still being retried)",
        verp, rcpt, "delayed", "4.4.1",
        "connect to mx.example.com: Connection timed out",
    )  # fmt: skip


def yahoo(verp: str, rcpt: str) -> bytes:
    """Yahoo's "Failure Notice": plain text, no DSN."""
    return _crlf(f"""
From: MAILER-DAEMON@yahoo.com
To: {verp}
Subject: Failure Notice
Message-ID: {mid()}
Date: Mon, 1 Mar 2027 10:00:00 +0000

Sorry, we were unable to deliver your message to the following address.

<{rcpt}>:
554: delivery error: dd This user doesn't have a yahoo.com account ({rcpt}) [0] - mta1003

--- Below this line is a copy of the message.

{_original(verp, rcpt)}
""")


def qmail(verp: str, rcpt: str) -> bytes:
    """qmail-send's notice: plain text, permanent."""
    return _crlf(f"""
From: MAILER-DAEMON@mail.example.org
To: {verp}
Subject: failure notice
Message-ID: {mid()}
Date: Mon, 1 Mar 2027 10:00:00 +0000

Hi. This is the qmail-send program at mail.example.org.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

<{rcpt}>:
Sorry, no mailbox here by that name. (#5.1.1)

--- Below this line is a copy of the message.

{_original(verp, rcpt)}
""")


def vacation(verp: str, rcpt: str) -> bytes:
    """An out-of-office notice sent to the return path (RFC 3834 marks it)."""
    return _crlf(f"""
From: {rcpt}
To: {verp}
Subject: Out of Office: WSIS Forum 2027: the open consultation is open
Message-ID: {mid()}
Date: Mon, 1 Mar 2027 10:00:00 +0000
Auto-Submitted: auto-replied
X-Autoreply: yes

I am out of the office until 15 March with limited access to e-mail.
""")


def arf(original_headers: str, *, headers_only: bool = False, to: str = "fbl@itu.int") -> bytes:
    """RFC 5965's example report (appendix B.1); ``headers_only``: the original as
    ``text/rfc822-headers``, as some feedback loops send it."""
    kind = "text/rfc822-headers" if headers_only else "message/rfc822"
    body = "" if headers_only else "\r\nThe open consultation is open.\r\n"
    return _crlf(f"""
From: <abusedesk@example.com>
Date: Thu, 8 Mar 2005 17:40:36 EDT
Subject: FW: Earn money
To: <{to}>
MIME-Version: 1.0
Message-ID: {mid()}
Content-Type: multipart/report; report-type=feedback-report;
     boundary="part1_13d.2e68ed54_boundary"

--part1_13d.2e68ed54_boundary
Content-Type: text/plain; charset="US-ASCII"
Content-Transfer-Encoding: 7bit

This is an email abuse report for an email message received from IP
192.0.2.1 on Thu, 8 Mar 2005 14:00:00 EDT.  For more information
about this format please see http://www.mipassoc.org/arf/.

--part1_13d.2e68ed54_boundary
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: SomeGenerator/1.0
Version: 1

--part1_13d.2e68ed54_boundary
Content-Type: {kind}
Content-Disposition: inline

{original_headers.strip()}
{body}
--part1_13d.2e68ed54_boundary--
""")


def original_with(return_path: str = "", list_unsubscribe: str = "", rcpt: str = "") -> str:
    """The headers of one of our announcements as a feedback loop quotes them."""
    lines = []
    if return_path:
        lines.append(f"Return-Path: <{return_path}>")
    lines += [
        "From: WSIS Secretariat <wsis-info@itu.int>",
        f"To: {rcpt or 'redacted'}",
        "Subject: WSIS Forum 2027: the open consultation is open",
        "Message-ID: <abc123.7@itu.int>",
    ]
    if list_unsubscribe:
        lines.append(f"List-Unsubscribe: {list_unsubscribe}")
    return "\n".join(lines)


BOUNCES = {
    "rfc3464": rfc3464,
    "gmail": gmail,
    "outlook": outlook,
    "mailbox_full": mailbox_full,
    "delayed": delayed,
    "yahoo": yahoo,
    "qmail": qmail,
    "vacation": vacation,
}
