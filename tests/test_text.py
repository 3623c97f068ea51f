"""Text as people type it (models/text.py): cleaning, identity, word counts, safe printing."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.text import (
    BIDI_CONTROLS,
    clean_line,
    clean_text,
    line_problem,
    looks_like_address,
    normalize_address,
    printable,
    title_key,
    word_count,
)

AT_FULLWIDTH, AT_SMALL = "\uff20", "\ufe6b"


def fullwidth(text: str) -> str:
    """``text`` in fullwidth forms (U+FF01 to U+FF5E), as typed with a CJK input method."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


NASTY = "\x00\x07\x1b[2J\x1b]0;title\x07\x9b31m\u202e\u2066\r\n\t\x85\u2028"


def _no_controls(text: str, *, keep: str = "") -> bool:
    return not any(
        (unicodedata.category(ch) == "Cc" and ch not in keep) or ch in BIDI_CONTROLS for ch in text
    )


# Word limits


def test_invisible_characters_do_not_glue_words() -> None:
    assert word_count("\u200b".join(["word"] * 6000)) == 6000
    assert word_count("\u2060".join(["word"] * 10)) == 10  # word joiner, also Cf
    assert word_count("one\x00two\x1fthree") == 3  # controls separate too
    assert word_count("a\u3000b\u00a0c") == 3  # ideographic and no-break spaces


def test_punctuation_alone_is_not_a_word() -> None:
    assert word_count("- ... — → !!! ,") == 0
    assert word_count("Don't re-use e-mail; ICT4D.") == 4
    assert word_count("") == word_count("   \n\t") == 0


def test_cjk_ideographs_count_one_word_each() -> None:
    assert word_count("数字包容") == 4
    assert word_count("数字包容ICT项目") == 7  # 4 + ICT + 2
    assert word_count(fullwidth("ICT") + "数字") == 3  # fullwidth letters are one word


# Cleaning


def test_clean_line_keeps_what_a_reader_sees() -> None:
    assert clean_line("Smart\x1b[2J  Villages\n\x00") == "Smart Villages"
    assert clean_line("\u202eevil\u202c title") == "evil title"
    assert clean_line("Cafe\u0301") == "Café"  # NFC
    assert clean_line(" a\tb\r\nc\u2028d ") == "a b c d"
    assert clean_line("مشروع\u200f رقمي") == "مشروع\u200f رقمي"  # RLM is a mark: kept


def test_clean_text_keeps_line_breaks_and_tabs_only() -> None:
    assert clean_text("one\r\ntwo\rthree\u2028four\tfive\x00\x1b[31m!\x1b[0m  ") == (
        "one\ntwo\nthree\nfour\tfive!"
    )


def test_line_problem_names_the_character() -> None:
    assert line_problem("Room A") is None
    assert "line break" in (line_problem("Room A\nBCC: x") or "")
    assert "U+001B" in (line_problem("\x1b[2J") or "")
    assert "U+202E" in (line_problem("\u202eA") or "")


@settings(deadline=None)  # a loaded CI machine must not turn a slow example into a failure
@given(st.text())
def test_clean_line_is_one_clean_line(text: str) -> None:
    line = clean_line(text)
    assert line_problem(line) is None
    assert line == line.strip() and "  " not in line
    assert clean_line(line) == line  # idempotent
    assert unicodedata.is_normalized("NFC", line)


@settings(deadline=None)
@given(st.text(alphabet=st.sampled_from("ab \n\t\r" + NASTY) | st.characters()))
def test_clean_text_has_no_controls_but_newline_and_tab(text: str) -> None:
    cleaned = clean_text(text)
    assert _no_controls(cleaned, keep="\n\t")
    assert "\r" not in cleaned
    assert clean_text(cleaned) == cleaned


# Identity


@pytest.mark.parametrize(
    "variant",
    ["Café Connect", "Cafe\u0301 Connect", "CAFÉ CONNECT", fullwidth("Caf") + "é " +
     fullwidth("Connect"), " café  connect ", "Caf\u200bé Connect", "Café\u00a0Connect",
     "Café\x1b[2J Connect"],
)  # fmt: skip
def test_title_key_folds_what_looks_the_same(variant: str) -> None:
    assert title_key(variant) == title_key("Café Connect") == "café connect"


def test_title_key_keeps_different_titles_apart() -> None:
    assert title_key("Smart Villages") != title_key("Smart Village")
    assert title_key("数字包容") != title_key("数字")


@settings(deadline=None)
@given(st.text())
def test_title_key_is_stable(text: str) -> None:
    key = title_key(text)
    assert title_key(key) == key
    assert title_key(unicodedata.normalize("NFD", text)) == key


def test_normalize_address() -> None:
    assert normalize_address(" Cafe\u0301@Example.ORG ") == "Café@example.org"
    assert normalize_address("Amina@EXAMPLE.org") == "Amina@example.org"  # local part kept
    assert normalize_address("no-at-sign") == "no-at-sign"


@pytest.mark.parametrize(
    "text",
    ["amina@example.org", f"amina{AT_FULLWIDTH}example.org", f"amina{AT_SMALL}example.org",
     "Contact: a@b", "amina (at) example (dot) org", "amina [at] example.org",
     "amina at example dot org", fullwidth("amina@example.org"), "amina@exa\u200bmple.org",
     "müller@bücher.de"],
)  # fmt: skip
def test_looks_like_address_sees_through_look_alikes(text: str) -> None:
    assert looks_like_address(text)


@pytest.mark.parametrize(
    "text", ["secretariat", "jdoe", "staff-42", "meet at the venue", "Amina Diallo", "C@"]
)
def test_looks_like_address_leaves_names_and_roles(text: str) -> None:
    assert not looks_like_address(text)


# Printing


def test_printable_escapes_what_a_terminal_would_act_on() -> None:
    assert printable("A\x1b[2J\nB\u202eC\udcff") == "A\\x1b[2J\\nB\\u202eC\\udcff"
    assert printable("Genève — 数字 مشروع") == "Genève — 数字 مشروع"


@settings(deadline=None)
@given(st.text())
def test_printable_is_one_safe_line(text: str) -> None:
    shown = printable(text)
    assert _no_controls(shown) and "\u2028" not in shown
    shown.encode("utf-8")  # no lone surrogate left to fail the terminal's encoder
