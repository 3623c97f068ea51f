"""One message over one SMTP connection: claim, MAIL FROM, RCPT TO, DATA, and what each
reply (or failure) means for its outbox row. See the reply table in the package doc."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import aiosmtplib

from core.log import get_logger
from core.redact import redact_addresses
from mail.addresses import address_problem
from mail.compose import Composer
from mail.outbox.ledger import Claim, Ledger, LedgerError
from mail.outbox.rows import Row
from mail.outbox.smtp import RateLimiter, Refused, is_policy, refusal

log = get_logger(__name__)

# A row refused temporarily (4xx) or lost during DATA this many times is given up as failed.
MAX_ATTEMPTS = 10


@dataclass
class Progress:
    """The counts of a pass; numbers only, so heartbeat details never carry personal data."""

    sent: int = 0
    failed: int = 0
    skipped: int = 0
    deferred: int = 0
    ambiguous: int = 0
    last_id: int = 0

    def details(self) -> dict[str, Any]:
        """The heartbeat details: the counts and the last outbox row done."""
        return asdict(self)


class Exchange:
    """Sends the messages of one pass, one at a time per connection, and records each outcome
    in the ledger. ``stop(reason)`` is called for a refusal no retry can fix."""

    def __init__(
        self,
        key: str,
        composer: Composer,
        token: str,
        ledger: Ledger,
        limiter: RateLimiter,
        progress: Progress,
        stop: Callable[[str], None],
        *,
        smtputf8: bool,
    ) -> None:
        self.key = key
        self.composer = composer
        self.token = token
        self.ledger = ledger
        self.limiter = limiter
        self.progress = progress
        self._stop = stop
        self.smtputf8 = smtputf8  # the settings say the relay may take UTF-8 addresses
        # A UTF-8 address in the message (the recipient's, or ours) needs SMTPUTF8 (RFC 6531).
        self.sender_utf8 = not composer.sender_address.isascii()

    async def send(self, smtp: aiosmtplib.SMTP, row: Row) -> bool:
        """Send ``row``'s message over ``smtp`` and record what happened; False when the
        connection must be dropped."""
        message_id = f"<{self.token}.{row.recipient.participant_id}@{self.composer.domain}>"
        data = self._message(smtp, row, message_id)
        if data is None:
            return True
        utf8 = self.sender_utf8 or not row.recipient.email.isascii()
        options = [b"SMTPUTF8"] if utf8 else []
        if smtp.supports_extension("size"):
            options.append(b"SIZE=%d" % len(data))
        await self.limiter.wait()
        # Queued now, committed (with the other connections' marks) before the content is sent.
        claim = self.ledger.claim(row.outbox_id)
        stage = "MAIL FROM"
        try:
            sender = self.composer.return_path(row.outbox_id).encode("utf-8")  # VERP
            reply = await smtp.execute_command(b"MAIL", b"FROM:<" + sender + b">", *options)
            if reply.code != 250:
                raise Refused(stage, reply.code, reply.message)
            stage = "RCPT TO"
            rcpt = b"TO:<" + row.recipient.email.encode() + b">"
            reply = await smtp.execute_command(b"RCPT", rcpt)
            if reply.code not in (250, 251):
                raise Refused(stage, reply.code, reply.message)
            if not await self.ledger.granted(claim):  # another sender has it: leave it to them
                await smtp.execute_command(b"RSET")
                return True
            stage = "DATA"
            await smtp.data(data)
        except Refused as exc:
            return await self._refused_envelope(smtp, row, claim, exc)
        except aiosmtplib.SMTPResponseException as exc:  # the server answered DATA
            if await self.ledger.granted(claim):
                self._refused(row, stage, exc.code, exc.message)
            return exc.code != 421 and smtp.is_connected
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            if await self.ledger.granted(claim):
                self._lost(row, stage, exc)
            return False
        except LedgerError:
            raise
        except Exception as exc:  # not the server's doing: this message fails alone
            if await self.ledger.granted(claim):
                self._broken(row, stage, exc)
            return False
        except BaseException:  # cancelled: the row must not stay claimed by nobody
            op = "ambiguous" if stage == "DATA" else "released"
            self.ledger.abandon(claim, op, f"{stage}: the sender was stopped", row.outbox_id)
            raise
        self.ledger.record("sent", message_id, datetime.now(UTC), row.outbox_id)
        self.progress.sent += 1
        return True

    def _message(self, smtp: aiosmtplib.SMTP, row: Row, message_id: str) -> bytes | None:
        """The message for ``row``; None if it cannot be sent (the row is failed, with why)."""
        smtputf8 = self.smtputf8 and smtp.supports_extension("smtputf8")
        problem = address_problem(row.recipient.email, smtputf8=smtputf8)
        if problem is None:
            try:
                return self.composer.message_bytes(row.recipient, message_id=message_id)
            except Exception as exc:
                problem = f"the message could not be composed ({type(exc).__name__})"
                log.warning(
                    "campaign.message_not_composed",
                    campaign=self.key,
                    outbox_id=row.outbox_id,
                    error=type(exc).__name__,
                )
        self.ledger.record("failed", problem, row.outbox_id)
        self.progress.failed += 1
        return None

    async def _refused_envelope(
        self, smtp: aiosmtplib.SMTP, row: Row, claim: Claim, refusal: Refused
    ) -> bool:
        """MAIL FROM or RCPT TO refused: record it, and reset the connection for the next."""
        if await self.ledger.granted(claim):
            self._refused(row, refusal.stage, refusal.code, refusal.text)
        if refusal.code == 421 or not smtp.is_connected:
            return False
        try:
            reset = await smtp.execute_command(b"RSET")
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            return False
        return reset.code == 250

    def _refused(self, row: Row, stage: str, code: int, text: str) -> None:
        """What a refusal of this row means: see the reply table in the package doc."""
        reply = f"{stage}: {code} {text}"  # the full reply stays in the database only
        progress = self.progress
        if code >= 500 and (stage == "MAIL FROM" or is_policy(code, text)):
            self.ledger.record("released", reply, row.outbox_id)
            self._stop(refusal(stage, code, text))
        elif code >= 500:
            self.ledger.record("failed", reply, row.outbox_id)
            progress.failed += 1
        elif row.attempts + 1 >= MAX_ATTEMPTS:
            why = f"given up after {MAX_ATTEMPTS} temporary refusals; {reply}"
            self.ledger.record("failed", why, row.outbox_id)
            progress.failed += 1
        else:
            self.ledger.record("released", reply, row.outbox_id)
            progress.deferred += 1

    def _lost(self, row: Row, stage: str, error: BaseException) -> None:
        """The connection was lost or timed out. Before DATA the server cannot have the
        message; during DATA it may have it: the one place a duplicate can come from."""
        why = f"{stage}: {type(error).__name__}: {redact_addresses(str(error))}"
        progress = self.progress
        if stage != "DATA":
            self.ledger.record("released", why, row.outbox_id)
            progress.deferred += 1
        elif row.attempts + 1 >= MAX_ATTEMPTS:
            why = f"given up after {MAX_ATTEMPTS} attempts; {why}"
            self.ledger.record("ambiguous_failed", why, row.outbox_id)
            progress.ambiguous += 1
            progress.failed += 1
        else:
            self.ledger.record("ambiguous", why, row.outbox_id)
            progress.ambiguous += 1
            progress.deferred += 1

    def _broken(self, row: Row, stage: str, error: Exception) -> None:
        """An unexpected error during this message's exchange: it fails alone (flagged
        ambiguous if its content may have reached the server: it is not sent again)."""
        why = f"{stage}: unexpected {type(error).__name__}"
        if stage == "DATA":
            self.ledger.record("ambiguous_failed", why, row.outbox_id)
            self.progress.ambiguous += 1
        else:
            self.ledger.record("failed", why, row.outbox_id)
        self.progress.failed += 1
        log.warning(
            "campaign.message_failed",
            campaign=self.key,
            outbox_id=row.outbox_id,
            stage=stage,
            error=type(error).__name__,
        )
