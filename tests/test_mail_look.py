"""The HTML e-mails' look: the main action is a button (a styled link to the same address
the sentence gives), and every message links to the privacy notice, in every language."""

from __future__ import annotations

import re

import pytest

from core import i18n
from models.wire import MessageKind
from tests.test_i18n_mail import PORTAL, composer, parts, recipient

ACTIONS = {
    MessageKind.PRIZE_VOTING_OPEN: "/ballot/wsis-2017-ocp",
    MessageKind.OCP_OPENING: "/ocp/wsis-2017-ocp",
    MessageKind.PRIZE_OPENING: "/projects/wsis-2017-ocp/new",
    MessageKind.PRIZE_WINNERS: "/results/wsis-2017-ocp",
}


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
@pytest.mark.parametrize("kind", list(ACTIONS))
def test_the_main_action_is_a_button_and_the_privacy_notice_is_linked(
    kind: MessageKind, lang: str
) -> None:
    text, html = parts(composer(kind).message(recipient(lang)))
    button = re.search(
        rf'<a href="{re.escape(PORTAL + ACTIONS[kind])}" style="display: inline-block;'
        r'[^"]*">([^<]+)</a>',
        html,
    )
    assert button, html
    assert button.group(1).strip() and PORTAL not in button.group(1)  # a label, not the URL
    assert f'href="{PORTAL}/privacy"' in html
    assert f"{PORTAL}/privacy" in text


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
def test_the_secretariats_filter_tag_stays_literal(lang: str) -> None:
    """The Secretariat may filter its mail on "[WSIS engine]": no language translates it."""
    message = composer(MessageKind.SECRETARIAT_NOTICE).message(recipient(lang))
    assert str(message["Subject"]).lstrip("\u200f").startswith("[WSIS engine] ")


def test_the_reviewed_translations_are_the_ones_used() -> None:
    """A few of the review's corrections (translations.md), read through the catalogs the
    pages and messages use."""
    with i18n.speaking("ru"):
        assert i18n.gettext("Your vote is recorded", "portal") == "Ваш голос зарегистрирован"
        assert i18n.vocab("First physical meeting") == "Первое очное совещание"
    with i18n.speaking("pt"):
        assert "inscrição" not in i18n.gettext("Unsubscribe", "portal")
    with i18n.speaking("fr"):
        assert i18n.vocab("Final brief") == "Point d'information final"
        assert "\u00a0:" in i18n.gettext("%(title)s: your vote is recorded", "mail")
        one = i18n.ngettext(
            "The description has %(words)s word; it must have %(low)s to %(high)s.",
            "The description has %(words)s words; it must have %(low)s to %(high)s.",
            1,
            "portal",
        )
        assert "1 mots" not in one % {"words": 1, "low": 150, "high": 200}
    with i18n.speaking("zh"):
        assert "荣获" not in i18n.gettext(
            "%(title)s: your project is a WSIS Prizes Champion", "mail"
        )


def test_a_meetings_title_and_venue_are_read_in_the_readers_language() -> None:
    """The cycle file may give a meeting's title and venue per language; a reader whose
    language is not given reads the English ones."""
    from mail.calendar import meeting_ics
    from models.plan import MeetingPlan
    from tests.test_i18n_mail import MEETING

    meeting = MeetingPlan.model_validate(
        {
            **MEETING.model_dump(),
            "titles": {"fr": "Deuxième réunion du Processus de consultation ouverte"},
            "venues": {"fr": "Siège de l'UIT, salle L, Genève"},
        }
    )
    invite = composer(MessageKind.MEETING_INVITATION, meeting=meeting)
    fr = invite.message(recipient("fr"))
    assert "Deuxième réunion du Processus" in str(fr["Subject"])
    assert "Siège de l'UIT, salle L, Genève" in parts(fr)[0]
    ar = invite.message(recipient("ar"))
    assert MEETING.title in str(ar["Subject"]) and MEETING.venue in parts(ar)[0]
    calendar = meeting_ics(invite.request, organizer="WSIS <wsis@itu.int>", language="fr")
    assert "Deuxième réunion".encode() in calendar and "Siège".encode() in calendar
    with pytest.raises(ValueError, match="unknown language"):
        MeetingPlan.model_validate({**MEETING.model_dump(), "titles": {"de": "Zweite"}})
