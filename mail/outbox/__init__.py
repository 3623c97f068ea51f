"""The email outbox: a row per (campaign, participant), sent over a few reused SMTP connections.

The package: ``rows`` (the campaign and its rows: enqueue, pages, counts, recovery),
``pages`` (the pending rows handed to the connections), ``ledger`` (the group-committed state
changes), ``smtp`` (connecting, classifying replies, pacing), ``sender`` (``deliver``: one
pass, its connections and heartbeat in one task group), ``errors`` (how a pass ends early).

Exactly once, by business key:

* ``enqueue`` writes the campaign row and one outbox row per recipient in one transaction,
  under the unique key (campaign, participant). The audience is frozen at that moment: a retry,
  a Reset from the Web UI or a second shard finds the campaign and adds nobody twice.
* ``deliver`` sends the rows still pending, in outbox order, a page at a time (the next page is
  read while this one is sent). Before a message's content goes on the wire its row is
  durably *claimed* (``pending`` -> ``sending``, a conditional update, so two senders can never
  both claim a row); after the server's 250 it is marked ``sent``. Claims are queued as MAIL
  FROM goes out; the first connection whose RCPT TO is answered commits everything the
  connections queued by then (group commit: with 8 connections about 8 messages a commit), so
  the database costs well under a commit per message. The ``sent``
  mark of a connection's message is committed with that connection's next claim at the latest:
  each connection has at most ONE message in doubt. A crash leaves at most one ``sending`` row
  per connection; the next attempt flags those rows *ambiguous* and sends them again (with the
  same Message-ID, so a receiving system that deduplicates by Message-ID shows it once). A
  duplicate can only come from such a row (SMTP cannot be exactly-once, RFC 1047): we prefer a
  rare duplicate to a participant who misses a deadline. Ambiguous rows are counted and
  reported. A connection lost *before* the message content was sent is not ambiguous: that
  row simply goes back to ``pending``.
* Replies: 4xx is temporary: the row goes back to ``pending`` with the reply and the attempt
  ends with ``DeliveryDeferred``, so Temporal retries the activity with backoff and only the
  pending rows go out again (after ``MAX_ATTEMPTS`` tries a row is given up as failed). 421
  (closing) means reconnect. 5xx for an address (RCPT, or DATA for that one recipient) is
  permanent: the row is marked failed with the server's reply and sending goes on. 5xx for
  authentication (530, 534, 535, 538), for the sender (MAIL FROM), at the greeting, or with an
  enhanced status code of class 5.7 (security or policy) stops the campaign
  (``CampaignStopped``): nothing a retry could fix, and every other message would meet the same
  refusal. The rows not sent stay pending for when the cause is fixed.
"""

from mail.outbox.errors import CampaignStopped, DeliveryDeferred, DeliveryInterrupted
from mail.outbox.exchange import MAX_ATTEMPTS
from mail.outbox.rows import (
    PAGE_SIZE,
    STALE_AFTER,
    campaign_counts,
    enqueue,
    mark_completed,
    pending_campaigns,
)
from mail.outbox.sender import deliver

__all__ = [
    "MAX_ATTEMPTS",
    "PAGE_SIZE",
    "STALE_AFTER",
    "CampaignStopped",
    "DeliveryDeferred",
    "DeliveryInterrupted",
    "campaign_counts",
    "deliver",
    "enqueue",
    "mark_completed",
    "pending_campaigns",
]
