"""iCalendar (.ics) attachments for meeting invitations and their updates, and the sender's
name in the reader's language (the ``.ics`` organizer's and every message's ``From``).

The meeting's own title and venue are data from the cycle file and stay as they are; the
fixed words around them (remote participation, online only) are in the recipient's language,
from the ``mail`` catalog, and each text says which language it is in (``LANGUAGE``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parseaddr

from icalendar import Calendar, Event, vCalAddress

from core import i18n
from models.wire import CampaignRequest


def _(message: str) -> str:
    """``message`` from the ``mail`` catalog, in the language being spoken."""
    return i18n.gettext(message, "mail")


# The sender's name in the default settings (``Settings.mail_from``).
SECRETARIAT = "WSIS Secretariat"


def sender_name(name: str, language: str) -> str:
    """The sender's display name as the reader of ``language`` reads it: the default one
    from the mail catalog; a name the settings give otherwise, as given."""
    if name != SECRETARIAT:
        return name
    with i18n.speaking(language):
        return _("WSIS Secretariat")


def meeting_uid(process_id: str, meeting_key: str) -> str:
    """Stable per meeting: an update replaces the event in calendars instead of adding one."""
    return f"{process_id}.{meeting_key}@wsis.itu.int"


def meeting_ics(request: CampaignRequest, *, organizer: str, language: str = i18n.SOURCE) -> bytes:
    """A PUBLISH calendar with one event, its words in ``language``; ``request.sequence``
    grows with every update."""
    meeting = request.meeting
    assert meeting is not None and request.meeting_key is not None
    with i18n.speaking(language):
        online = _("Online only")
        process = _("Meeting of the %(title)s Open Consultation Process") % {
            "title": request.in_language(language).title
        }
        remote = (
            _("Remote participation: %(url)s") % {"url": meeting.remote_url}
            if meeting.remote_url
            else None
        )
    text = {"LANGUAGE": language}
    cal = Calendar()
    cal.add("prodid", "-//ITU//WSIS engine//EN")
    cal.add("version", "2.0")
    cal.add("method", "PUBLISH")
    event = Event()
    event.add("uid", meeting_uid(request.process_id, request.meeting_key))
    event.add("sequence", request.sequence)
    event.add("dtstamp", datetime.now(UTC))
    event.add("dtstart", meeting.starts.astimezone(UTC))
    event.add("dtend", meeting.ends.astimezone(UTC))
    event.add("summary", meeting.title_in(language), parameters=text)
    venue = meeting.venue_in(language)
    event.add("location", online if meeting.virtual_only else venue, parameters=text)
    description = [meeting.title_in(language), process]
    if meeting.virtual_only:
        description.append(online)
    if remote is not None:
        description.append(remote)
        event.add("url", meeting.remote_url)
    event.add("description", "\n".join(description), parameters=text)
    addr = vCalAddress(f"mailto:{parseaddr(organizer)[1]}")
    addr.params["cn"] = sender_name(parseaddr(organizer)[0] or SECRETARIAT, language)
    event.add("organizer", addr)
    event.add("status", "CONFIRMED")
    cal.add_component(event)
    return bytes(cal.to_ical())
