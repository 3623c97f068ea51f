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
