"""The mail classes (design: the participants' portal): which message kinds are bulk, which
transactional, and which personal notices.

Bulk kinds go to a community list: they come from ``mail_from`` and carry
``List-Unsubscribe`` (the portal's one-click link and a ``mailto:`` whose subject names the
participant's token), ``List-Unsubscribe-Post`` and ``Precedence: bulk``, and a participant
who unsubscribed is skipped. Transactional kinds (acknowledgements, sign-in links) come from
``mail_from_transactional`` when it is set, carry none of these, and reach unsubscribed
participants too.
"""

from __future__ import annotations

from models.wire import MessageKind

# Kinds that go to a whole community list: they carry List-Unsubscribe (RFC 2369/8058).
BULK_KINDS = frozenset(
    {
        MessageKind.OCP_OPENING,
        MessageKind.MEETING_INVITATION,
        MessageKind.MEETING_REMINDER,
        MessageKind.MEETING_UPDATE,
        MessageKind.OCP_DEADLINE_REMINDER,
        MessageKind.OCP_ANALYSIS,
        MessageKind.OCP_FINAL_BRIEF,
        MessageKind.DEADLINE_CHANGED,
        MessageKind.FORUM_MOVED,
        MessageKind.PROCESS_CANCELLED,
        MessageKind.PRIZE_OPENING,
        MessageKind.PRIZE_SUBMISSION_REMINDER,
        MessageKind.PRIZE_VOTING_OPEN,
        MessageKind.PRIZE_CHAMPIONS,
        MessageKind.PRIZE_WINNERS,
    }
)
# What one person asked for or did (receipts among them): never blocked by unsubscription.
TRANSACTIONAL_KINDS = frozenset(
    {MessageKind.OCP_SUBMISSION_ACK, MessageKind.PRIZE_SUBMISSION_ACK, MessageKind.SIGN_IN_LINK}
)
# The rest (a nomination outcome to a project's owner, a notice to the secretariat) are
# personal notices: from mail_from, without List-Unsubscribe.
