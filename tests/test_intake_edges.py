"""Intake's edges from the security review: invisible and combining-only titles and names
(D11), names that carry a message (D3), a country that carries a link (D3), and the word
count kept out of SQLite's write lock (D14)."""

from __future__ import annotations

import sqlite3

import pytest
from pydantic import ValidationError
from sqlalchemy.engine import Engine, make_url

import intake.prizes
from intake.accounts import SignUpForm
from intake.prizes import record_project
from reports.ocp import OTHER, shown_country
from tests.test_form_inputs import DURING, contest, project

__all__ = ["contest"]  # the fixture, used by name


@pytest.mark.parametrize(
    "title",
    [
        "\u2800\u2800\u2800",  # braille blanks
        "\u3164\u3164",  # Hangul filler
        "\u0301\u0302\u0303",  # combining marks alone
        "A" + "\u0301" * 199,  # one letter under a pile of marks
        "Smart \ufffd Villages",  # a replacement character: garbled text
    ],
)
def test_titles_and_names_that_do_not_show_are_refused(title: str) -> None:
    with pytest.raises(ValidationError):
        project(title)
    with pytest.raises(ValidationError):
        project(owner_name=title)


def test_real_titles_in_every_script_pass() -> None:
    for title in ("Smart Villages", "Tiếng Việt số", "डिजिटल गाँव", "القرى الذكية", "智慧村庄"):
        assert project(title).title == title


def sign_up_form(name: str) -> SignUpForm:
    return SignUpForm.model_validate({"name": name, "email": "a@example.org"})


@pytest.mark.parametrize(
    "name",
    [
        "Free WSIS grant: reply to claims@evil.example",
        "Visit https://wsis-verify.evil.example",
        "Call +41 22 730 5111",
        "Nadia/Rahman",
    ],
)
def test_a_sign_up_name_carries_no_message(name: str) -> None:
    with pytest.raises(ValidationError):
        sign_up_form(name)


def test_names_of_people_pass() -> None:
    for name in ("Nadia Rahman", "Jean-Luc O'Neill", "José Álvarez (Jr.)", "محمد علي", "王小明"):
        assert sign_up_form(name).name == name


def test_only_countries_reach_the_analysis() -> None:
    assert shown_country("Senegal") == "Senegal"
    assert shown_country("  suisse ") == "Suisse"
    assert shown_country("CH") == "Switzerland"
    assert shown_country("URGENT: re-confirm your WSIS account at https://x.example") == OTHER


def test_words_are_counted_outside_the_write_lock(
    engine: Engine, contest: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the description's words are counted, another writer can write: the count does
    not hold SQLite's only write lock."""
    path = make_url(str(engine.url)).database
    assert path
    free: list[bool] = []
    counting = intake.prizes.word_count

    def probing(text: str) -> int:
        other = sqlite3.connect(path, timeout=0)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.rollback()
            free.append(True)
        except sqlite3.OperationalError:  # database is locked
            free.append(False)
        finally:
            other.close()
        return counting(text)

    monkeypatch.setattr(intake.prizes, "word_count", probing)
    record_project(contest, project(), engine, now=DURING)
    assert free == [True]
