"""Every e-mail in the seven languages: complete catalogs, truthful headers, right to left.

A message is written in the participant's language only where the ``mail`` catalog
translates every string of its template and layout, else in English, and says which
(``Content-Language``, ``<html lang>``, ``dir``). Untranslated strings are caught where they
are looked up (a spy on the catalogs), not by guessing at the text.
"""

from __future__ import annotations

import email
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from email import policy
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.utils import parseaddr
from gettext import NullTranslations
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from babel.messages.pofile import read_po, write_po
from icalendar import Calendar
from pydantic import SecretStr
from sqlalchemy.engine import Engine

from core import i18n
from core.settings import Settings
from devstack import catalogs
from devstack.catcher import MailCatcher
from intake.tokens import unsubscribe_token
from mail.audience import audience_select
from mail.classes import BULK_KINDS, TRANSACTIONAL_KINDS
from mail.compose import Composer, Recipient, local_time
from mail.outbox import deliver, enqueue
from mail.render import render
from models.plan import MeetingPlan
from models.tables import Participant
from models.wire import Audience, CampaignRequest, MessageKind

from .test_email_delivery import add_people

_p = Participant.__table__  # type: ignore[attr-defined]
LANGUAGES = i18n.LANGUAGES
SENDER = "WSIS Secretariat <wsis-info@itu.int>"
PORTAL = "https://wsis.example.org"
DEADLINE = datetime(2017, 2, 20, 22, 59, tzinfo=UTC)
MEETING = MeetingPlan.model_validate(
    {
        "title": "Second physical meeting of the WSIS Forum 2017 Open Consultation Process",
        "phase": "III",
        "starts": datetime(2017, 2, 14, 13, tzinfo=UTC),
        "ends": datetime(2017, 2, 14, 14, tzinfo=UTC),
        "timezone": "Europe/Zurich",
        "venue": "ITU HQ, Room L, Geneva",
        "remote_url": "https://itu.example.org/join/1",
    }
)
PROJECTS = [{"title": "Smart Villages", "organization": "Org", "country": "Kenya"}]
EXTRA: dict[str, Any] = {
    "analysis": {
        "total": 11,
        "by_stakeholder_type": [{"label": "Government", "count": 4, "percent": "36.4"}],
        "by_country": [{"label": "Switzerland", "count": 11, "percent": "100.0"}],
    },
    "champions": [{"code": "C4", "name": "Capacity building", "projects": PROJECTS}],
    "winners": [{"code": "C4", "name": "Capacity building", "projects": PROJECTS}],
    "link": f"{PORTAL}/signin/abc123",
    "code": "K7PX-3MQA",
    "minutes": 20,
    "project_title": "Smart Villages",
    "receipt": {
        "code": "R4TW-9KQZ",
        "cast_at": datetime(2030, 3, 2, 10, 5, tzinfo=UTC),
        "votes": [
            {"category": "C4", "category_name": "Capacity building", "title": "Smart Villages"},
            {"category": "C9", "category_name": "C9", "title": "Radio Kenya"},
        ],
    },
}
# Every kind, and each audience a template words differently.
CASES = [(kind, Audience.EVERYONE) for kind in MessageKind] + [
    (MessageKind.PRIZE_NOMINATION_OUTCOME, Audience.NOMINATED_OWNERS),
    (MessageKind.PRIZE_NOMINATION_OUTCOME, Audience.NOT_NOMINATED_OWNERS),
    (MessageKind.PRIZE_CHAMPIONS, Audience.SHORTLISTED_OWNERS),
    (MessageKind.PRIZE_WINNERS, Audience.WINNER_OWNERS),
]
NAMES = {"en": "Hana Sato", "ar": "فرح حداد", "zh": "陈伟", "ru": "Дана Иванова"}


def request_for(
    kind: MessageKind, audience: Audience = Audience.EVERYONE, **kw: Any
) -> CampaignRequest:
    fields: dict[str, Any] = {
        "key": f"wsis-2017-ocp:{kind.value}:7d",
        "process_id": "wsis-2017-ocp",
        "kind": kind,
        "audience": audience,
        "title": "WSIS Forum 2017",
        "timezone": "Europe/Zurich",
        "when": DEADLINE,
        "previous_when": datetime(2017, 2, 10, 22, 59, tzinfo=UTC),
        "meeting_key": "second",
        "meeting": MEETING,
        "sequence": 1,
        "note": "Room L is closed for works.",
        "reason_code": "out-of-scope",
        # English only: every other language renders the fallback line (translated too).
        "notices": {"en": "Room L is closed for works."},
    }
    return CampaignRequest.model_validate({**fields, **kw})


def composer(kind: MessageKind, audience: Audience = Audience.EVERYONE, **kw: Any) -> Composer:
    settings = Settings(portal_url=PORTAL, mail_from=SENDER, portal_secret=SecretStr(KEY.decode()))
    return Composer.for_settings(request_for(kind, audience, **kw), settings, EXTRA)


KEY = b"i18n-test-portal-secret-0123456789"
TOKEN = unsubscribe_token(KEY, 1, 0)  # recipient()'s, computed by the composer


def recipient(lang: str, name: str | None = None, generation: int = 0) -> Recipient:
    return Recipient(1, "p1@example.org", name or NAMES.get(lang, "Amina Diallo"), lang, generation)


def parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    return str(text), str(html)


class _Spy:
    """Records every string a catalog is asked for, and answers as the real one."""

    def __init__(self, real: NullTranslations, domain: str, seen: list[tuple[str, str]]) -> None:
        self.real, self.domain, self.seen = real, domain, seen

    def gettext(self, message: str) -> str:
        self.seen.append((self.domain, message))
        return self.real.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        self.seen.append((self.domain, singular))
        return self.real.ngettext(singular, plural, n)

    def pgettext(self, context: str, message: str) -> str:
        self.seen.append((self.domain, message))
        return self.real.pgettext(context, message)


@pytest.fixture
def looked_up(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    seen: list[tuple[str, str]] = []
    real = i18n.translations
    monkeypatch.setattr(
        i18n, "translations", lambda lang, domain: _Spy(real(lang, domain), domain, seen)
    )
    return seen


# -- The catalogs ------------------------------------------------------------------------------


def test_mail_and_vocab_catalogs_are_complete() -> None:
    assert catalogs.problems(("mail", "vocab")) == []


def test_the_check_reports_a_missing_and_a_fuzzy_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    real = catalogs._read

    def changed(path: Path, lang: str, domain: str) -> Any:
        found = real(path, lang, domain)
        if (lang, domain) == ("ru", "mail"):
            del found["Late submissions cannot be accepted."]
            found["The ballot: %(url)s"].flags.add("fuzzy")
        return found

    monkeypatch.setattr(catalogs, "_read", changed)
    lines = catalogs.problems(("mail",))
    assert len(lines) == 2, lines
    where = "locales/ru/LC_MESSAGES/mail.po"
    assert f"{where}: missing: 'Late submissions cannot be accepted.'" in lines
    assert f"{where}: fuzzy: 'The ballot: %(url)s'" in lines


# -- Every kind in every language --------------------------------------------------------------


def test_one_template_per_message_kind_and_no_other() -> None:
    folder = Path(__file__).resolve().parent.parent / "mail" / "templates"
    names = {p.name for p in folder.iterdir()}
    assert names == {f"{kind.value}.j2" for kind in MessageKind} | {"_layout.j2"}


@pytest.mark.parametrize(("kind", "audience"), CASES, ids=lambda v: str(v))
def test_every_kind_renders_in_every_language_with_nothing_untranslated(
    kind: MessageKind, audience: Audience, looked_up: list[tuple[str, str]]
) -> None:
    compose = composer(kind, audience)
    for lang in LANGUAGES:
        looked_up.clear()
        message = compose.message(recipient(lang))
        assert message["Content-Language"] == lang
        text, html = parts(message)
        assert f'<html lang="{lang}" dir="{i18n.direction(lang)}">' in html
        assert text and message["Subject"]
        if lang == i18n.SOURCE:
            continue
        assert looked_up, "the template asked the catalog for nothing"
        for domain, msgid in looked_up:
            entry = i18n.catalog(lang, domain)
            assert entry is not None and i18n.translated(entry.get(msgid)), (lang, msgid)
        assert "WSIS Secretariat" not in text and "Dear " not in text


@pytest.mark.parametrize(("kind", "audience"), CASES, ids=lambda v: str(v))
def test_the_fast_path_equals_a_full_rendering_in_every_language(
    kind: MessageKind, audience: Audience
) -> None:
    compose = composer(kind, audience)
    names = ["Hana Sato", "فرح حداد", "陈伟", "Дана Иванова", "O'Brien <b>&amp;</b>"]
    for i, (lang, name) in enumerate((lang, name) for lang in LANGUAGES for name in names * 2):
        person = Recipient(i, f"p{i}@example.org", name, lang)
        written, subject, text, html = compose.content(person)
        token = unsubscribe_token(KEY, i, 0)
        context = compose.context(written, name, compose.unsubscribe_url.format(token=token))
        assert (subject, text, html) == render(kind, written, context)
    assert all(v.exact for v in compose._variants.values()), kind


# -- Right to left, UTF-8, plurals ---------------------------------------------------------------


def test_an_arabic_message_is_right_to_left_with_its_data_isolated() -> None:
    message = composer(MessageKind.OCP_OPENING).message(recipient("ar", "Farah Haddad"))
    assert message["Content-Language"] == "ar"
    text, html = parts(message)
    assert '<html lang="ar" dir="rtl">' in html
    assert '<body lang="ar" dir="rtl"' in html and '<div lang="ar" dir="rtl"' in html
    assert "<bdi>Farah Haddad</bdi>" in html and "<bdi>WSIS Forum 2017</bdi>" in html
    assert f'<a href="{PORTAL}/ocp/wsis-2017-ocp"><bdi>' in html
    # The subject begins with the Latin title: a right-to-left mark first, the title isolated.
    assert str(message["Subject"]).startswith("\u200f\u2068WSIS Forum 2017\u2069")
    assert "\u2068Farah Haddad\u2069" in text and f"\u2068{PORTAL}/signin\u2069" in text
    for line in text.splitlines():
        first = next((c for c in line if c.isalpha() or c in "\u2066\u2067\u2068"), None)
        if first is not None and not ("\u0600" <= first <= "\u06ff"):
            assert line.startswith("\u200f"), line


def test_a_chinese_message_is_valid_utf8_and_says_zh() -> None:
    data = composer(MessageKind.PRIZE_VOTING_OPEN).message_bytes(recipient("zh"))
    data.decode("utf-8")  # strict: raises on anything that is not UTF-8
    message = email.message_from_bytes(data, policy=policy.default)
    assert isinstance(message, EmailMessage)
    assert message["Content-Language"] == "zh"
    assert not [d for part in message.walk() for d in part.defects]
    assert str(message["Subject"]) == "WSIS Forum 2017：公开在线投票现已开始"  # noqa: RUF001
    text, html = parts(message)
    assert "尊敬的陈伟：" in text and "2017年2月20日星期一 23:59" in text  # noqa: RUF001
    assert f"{PORTAL}/ballot/wsis-2017-ocp" in text and 'lang="zh"' in html


@pytest.mark.parametrize(
    ("span", "expected"),
    [
        ("1d", "через 1 день,"),
        ("2d", "через 2 дня,"),
        ("5d", "через 5 дней,"),
        ("21d", "через 21 день,"),
        ("36h", "через 36 часов,"),
    ],
)
def test_a_russian_reminder_uses_the_right_plural(span: str, expected: str) -> None:
    for kind in (
        MessageKind.OCP_DEADLINE_REMINDER,
        MessageKind.PRIZE_SUBMISSION_REMINDER,
        MessageKind.EXPERT_REMINDER,
    ):
        compose = composer(kind, key=f"wsis-2017-ocp:reminder:{span}")
        text, html = parts(compose.message(recipient("ru")))
        assert expected in text and expected in html, kind


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        (1, "خلال يوم واحد"),
        (2, "خلال يومين"),
        (5, "خلال 5 أيام"),
        (11, "خلال 11 يومًا"),
        (100, "خلال 100 يوم"),
    ],
)
def test_an_arabic_reminder_has_its_six_forms(days: int, expected: str) -> None:
    compose = composer(MessageKind.OCP_DEADLINE_REMINDER, key=f"k:deadline-reminder:{days}d")
    assert expected in parts(compose.message(recipient("ar")))[0]


def test_plural_forms_come_from_cldr() -> None:
    assert i18n.catalog("ar", "mail").num_plurals == 6  # type: ignore[union-attr]
    assert i18n.catalog("ru", "mail").num_plurals == 3  # type: ignore[union-attr]
    assert i18n.catalog("zh", "mail").num_plurals == 1  # type: ignore[union-attr]


# -- Falling back to English -------------------------------------------------------------------


@pytest.fixture
def french_lacks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[str]:
    """The French mail catalog without (or with an empty, or a fuzzy) translation of one
    string of the OCP opening e-mail."""
    how = str(request.param)
    msgid = (
        "Physical meetings of the process offer remote participation; "
        "you will receive an invitation to each."
    )
    path = i18n.catalog_path("fr", "mail")
    with path.open("rb") as fh:
        found = read_po(fh, locale="fr", domain="mail")
    if how == "missing":
        del found[msgid]
    elif how == "empty":
        found[msgid].string = ""
    else:
        found[msgid].flags.add("fuzzy")
    changed = tmp_path / "mail.po"
    with changed.open("wb") as fh:
        write_po(fh, found)
    real = i18n.catalog_path
    monkeypatch.setattr(
        i18n,
        "catalog_path",
        lambda lang, dom: changed if (lang, dom) == ("fr", "mail") else real(lang, dom),
    )
    i18n.forget()
    yield how
    monkeypatch.undo()
    i18n.forget()


@pytest.mark.parametrize("french_lacks", ["missing", "empty", "fuzzy"], indirect=True)
def test_a_message_whose_catalog_lacks_a_string_is_english_and_says_so(french_lacks: str) -> None:
    message = composer(MessageKind.OCP_OPENING).message(recipient("fr"))
    assert message["Content-Language"] == "en"
    text, html = parts(message)
    assert '<html lang="en" dir="ltr">' in html
    assert text.startswith("Dear Amina Diallo,") and "Physical meetings of the process" in text
    # Another kind, whose strings are all there, is still French.
    other = composer(MessageKind.OCP_FINAL_BRIEF).message(recipient("fr"))
    assert other["Content-Language"] == "fr" and "Madame, Monsieur," in parts(other)[0]


def test_an_unknown_language_is_english() -> None:
    message = composer(MessageKind.OCP_OPENING).message(recipient("de"))
    assert message["Content-Language"] == "en"


# -- Dates, numbers, vocabulary, the .ics, links -----------------------------------------------


def test_dates_numbers_and_vocabulary_are_the_readers() -> None:
    french = composer(MessageKind.OCP_ANALYSIS).message(recipient("fr"))
    text, _ = parts(french)
    assert "Gouvernement\u00a0: 4 (36,4\u00a0%)" in text and "100,0\u00a0%" in text
    assert "Le Processus de consultation ouverte a reçu 11 contributions officielles." in text
    english = parts(composer(MessageKind.OCP_ANALYSIS).message(recipient("en")))[0]
    assert "Government: 4 (36.4%)" in english and "received 11 official submissions" in english
    reminder = parts(composer(MessageKind.OCP_DEADLINE_REMINDER).message(recipient("es")))[0]
    assert (
        "lunes, 20 de febrero de 2017, 23:59 hora estándar de Europa central (22:59 UTC)"
        in reminder
    )
    champions = parts(composer(MessageKind.PRIZE_CHAMPIONS).message(recipient("fr")))[0]
    assert "C4\u00a0: Renforcement des capacités" in champions
    assert "Smart Villages (Org, Kenya)" in champions
    winners = parts(composer(MessageKind.PRIZE_WINNERS).message(recipient("zh")))[0]
    assert "C4：能力建设" in winners  # noqa: RUF001
    assert "Smart Villages（Org，Kenya）" in winners  # noqa: RUF001


def test_local_time_is_the_english_form_of_when() -> None:
    assert local_time(DEADLINE, "Europe/Zurich") == (
        "Monday, 20 February 2017, 23:59 Central European Standard Time (22:59 UTC)"
    )
    assert local_time(DEADLINE, "Europe/Zurich") == i18n.when(DEADLINE, "Europe/Zurich", "en")


def _ics(message: EmailMessage) -> Any:
    part = next(p for p in message.walk() if p.get_content_type() == "text/calendar")
    return Calendar.from_ical(str(part.get_content())).walk("VEVENT")[0]


def test_the_calendar_entry_speaks_the_recipients_language() -> None:
    compose = composer(MessageKind.MEETING_INVITATION)
    french = _ics(compose.message(recipient("fr")))
    assert str(french["SUMMARY"]) == MEETING.title  # the meeting's own title, as it is
    assert french["SUMMARY"].params["LANGUAGE"] == "fr"
    assert "Participation à distance\u00a0: https://itu.example.org/join/1" in str(
        french["DESCRIPTION"]
    )
    assert "Réunion du Processus de consultation ouverte (WSIS Forum 2017)" in str(
        french["DESCRIPTION"]
    )
    online = composer(
        MessageKind.MEETING_UPDATE, meeting=MEETING.model_copy(update={"virtual_only": True})
    )
    arabic = _ics(online.message(recipient("ar")))
    assert (
        str(arabic["LOCATION"]) == "عبر الإنترنت فقط"
        and arabic["LOCATION"].params["LANGUAGE"] == "ar"
    )
    english = _ics(compose.message(recipient("en")))
    assert "Remote participation: https://itu.example.org/join/1" in str(english["DESCRIPTION"])
    assert str(english["UID"]) == str(french["UID"])  # one event, whatever the language
    assert french["ORGANIZER"].params["CN"] == "Le Secrétariat du SMSI"
    assert english["ORGANIZER"].params["CN"] == "WSIS Secretariat"


@pytest.mark.parametrize(
    ("lang", "sender"),
    [("en", "WSIS Secretariat"), ("fr", "Le Secrétariat du SMSI"), ("zh", None), ("ar", None)],
)
def test_the_default_sender_is_named_in_the_readers_language(lang: str, sender: str | None) -> None:
    """Every message's From names the Secretariat as the mail catalog does in the reader's
    language; a sender name the settings give otherwise is kept as given."""
    data = composer(MessageKind.OCP_OPENING).message_bytes(recipient(lang))
    # Decoded by RFC 2047's rule (no space between adjacent encoded-words); the email
    # package's default policy puts one in a long name, even in its own encoding's.
    raw = email.message_from_bytes(data, policy=policy.compat32)["From"]
    name, address = parseaddr(str(make_header(decode_header(raw))))
    with i18n.speaking(lang):
        expected = sender or i18n.gettext("WSIS Secretariat", "mail")
    assert (name, address) == (expected, "wsis-info@itu.int")
    assert lang == "en" or name != "WSIS Secretariat"
    settings = Settings(
        portal_url=PORTAL, mail_from="ITU Events <events@itu.int>",
        portal_secret=SecretStr(KEY.decode()),
    )  # fmt: skip
    own = Composer.for_settings(request_for(MessageKind.OCP_OPENING), settings, EXTRA)
    assert parseaddr(str(own.message(recipient(lang))["From"]))[0] == "ITU Events"


@pytest.mark.parametrize(
    ("kind", "path"),
    [
        (MessageKind.OCP_OPENING, "/ocp/wsis-2017-ocp"),
        (MessageKind.OCP_DEADLINE_REMINDER, "/ocp/wsis-2017-ocp"),
        (MessageKind.PRIZE_VOTING_OPEN, "/ballot/wsis-2017-ocp"),
        (MessageKind.PRIZE_OPENING, "/projects/wsis-2017-ocp/new"),
        (MessageKind.PRIZE_SUBMISSION_REMINDER, "/projects/wsis-2017-ocp/new"),
        (MessageKind.PRIZE_WINNERS, "/results/wsis-2017-ocp"),
    ],
)
def test_links_point_at_the_portal(kind: MessageKind, path: str) -> None:
    text, html = parts(composer(kind).message(recipient("en")))
    assert f"{PORTAL}{path}" in text and f'href="{PORTAL}{path}"' in html


def test_every_bulk_footer_links_the_sign_in_page_and_no_other_footer_does() -> None:
    for kind in MessageKind:
        text, html = parts(composer(kind).message(recipient("en")))
        signin = f"{PORTAL}/signin" in text and f'href="{PORTAL}/signin"' in html
        unsubscribe = f"{PORTAL}/unsubscribe/{TOKEN}" in text
        assert signin is unsubscribe is (kind in BULK_KINDS), kind


# -- Mail classes ------------------------------------------------------------------------------


def test_list_unsubscribe_mailto_carries_the_token() -> None:
    message = composer(MessageKind.OCP_OPENING).message(recipient("en", generation=3))
    token = unsubscribe_token(KEY, 1, 3)
    assert token.startswith("1.") and token != TOKEN  # a new generation, a new token
    assert message["List-Unsubscribe"] == (
        f"<{PORTAL}/unsubscribe/{token}>, "
        f"<mailto:wsis-unsubscribe@itu.int?subject=unsubscribe%20{token}>"
    )
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Precedence"] == "bulk"


def test_transactional_kinds_come_from_the_transactional_address() -> None:
    assert not BULK_KINDS & TRANSACTIONAL_KINDS
    settings = Settings(mail_from=SENDER, mail_from_transactional="WSIS Portal <no-reply@itu.int>")
    for kind in MessageKind:
        compose = Composer.for_settings(request_for(kind), settings, EXTRA)
        message = compose.message(recipient("en"))
        transactional = kind in TRANSACTIONAL_KINDS
        expected = "no-reply@itu.int" if transactional else "wsis-info@itu.int"
        assert message["From"].addresses[0].addr_spec == expected == compose.sender_address
        if transactional:
            assert message["List-Unsubscribe"] is None and message["Precedence"] is None
    # Unset, everything comes from mail_from.
    plain = Composer.for_settings(request_for(MessageKind.SIGN_IN_LINK), Settings(mail_from=SENDER))
    assert plain.sender_address == "wsis-info@itu.int"


async def test_a_sign_in_link_reaches_an_unsubscribed_participant_from_the_transactional_address(
    settings: Settings, engine: Engine, mail: MailCatcher
) -> None:
    add_people(engine, 2)
    with engine.begin() as conn:
        conn.execute(_p.update().values(unsubscribed=True, language="ar"))
        pid = conn.execute(
            sa.select(_p.c.id).where(_p.c.email == "participant1@example.org")
        ).scalar_one()
    settings = settings.model_copy(
        update={"mail_from_transactional": "WSIS Portal <no-reply@itu.int>"}
    )
    request = CampaignRequest(
        key="portal:signin:1",
        process_id="portal",
        kind=MessageKind.SIGN_IN_LINK,
        audience=Audience.ONE_PARTICIPANT,
        participant_id=pid,
        title="WSIS",
        timezone="Europe/Zurich",
    )
    enqueue(request, audience_select(request, settings), engine=engine)
    extra = {"link": f"{settings.portal_url}/signin/xyz", "code": "K7PX-3MQA", "minutes": 20}
    result = await deliver(request, settings, engine=engine, extra=extra)
    assert result.sent == 1 and result.skipped == 0
    (item,) = mail.received
    message = item.message
    assert message["From"].addresses[0].addr_spec == "no-reply@itu.int"
    assert message["List-Unsubscribe"] is None and message["Precedence"] is None
    assert message["Content-Language"] == "ar"
    text, html = parts(message)
    assert "K7PX-3MQA" in text and f"{settings.portal_url}/signin/xyz" in text
    assert "20 دقيقة" in text and '<html lang="ar" dir="rtl">' in html
    assert re.search("الاتحاد الدولي للاتصالات", text)
