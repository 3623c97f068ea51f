"""A meeting of the Open Consultation Process as a calendar file (.ics), linked from the home
page: the same event (same UID) as the invitations' attachment, its fixed words in the
reader's language (mail/calendar.py)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from core import i18n
from mail.calendar import meeting_ics
from models.wire import Audience, CampaignRequest, MessageKind
from portal.deps import SettingsDep, States, Viewer
from portal.home import ocp_plan
from portal.pages import render, wanted_language

router = APIRouter()


@router.get("/meetings/{process_id}/{key}.ics")
async def meeting_calendar(
    request: Request, process_id: str, key: str, _: Viewer, states: States, settings: SettingsDep
) -> Response:
    plan = await ocp_plan(states, process_id)
    meeting = plan.ocp.meetings.get(key) if plan is not None else None
    if plan is None or meeting is None:
        return render(request, "error.html", status=404, problem="not-found")
    invitation = CampaignRequest(
        key=f"{process_id}:calendar:{key}", process_id=process_id,
        kind=MessageKind.MEETING_INVITATION, audience=Audience.EVERYONE,
        title=plan.display_title, titles=dict(plan.titles), timezone=meeting.timezone,
        when=meeting.starts,
        meeting_key=key, meeting=meeting,
    )  # fmt: skip
    lang = wanted_language(request)
    body = meeting_ics(
        invitation,
        organizer=settings.mail_from,
        language=lang if lang in i18n.LANGUAGES else i18n.SOURCE,
    )
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{key}.ics"'},
    )
