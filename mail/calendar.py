"""iCalendar (.ics) attachments for meeting invitations and their updates."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parseaddr

from icalendar import Calendar, Event, vCalAddress

from models.wire import CampaignRequest


def meeting_uid(process_id: str, meeting_key: str) -> str:
    """Stable per meeting: an update replaces the event in calendars instead of adding one."""
    return f"{process_id}.{meeting_key}@wsis.itu.int"


def meeting_ics(request: CampaignRequest, *, organizer: str) -> bytes:
    """A PUBLISH calendar with one event; ``request.sequence`` grows with every update."""
    meeting = request.meeting
    assert meeting is not None and request.meeting_key is not None
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
    event.add("summary", meeting.title)
    location = "Online only" if meeting.virtual_only else meeting.venue
    event.add("location", location)
    description = [meeting.title]
    if meeting.remote_url:
        description.append(f"Remote participation: {meeting.remote_url}")
        event.add("url", meeting.remote_url)
    event.add("description", "\n".join(description))
    addr = vCalAddress(f"mailto:{parseaddr(organizer)[1]}")
    addr.params["cn"] = parseaddr(organizer)[0] or "WSIS Secretariat"
    event.add("organizer", addr)
    event.add("status", "CONFIRMED")
    cal.add_component(event)
    return bytes(cal.to_ical())
