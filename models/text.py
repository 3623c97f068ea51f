"""Text as people type it: cleaned at intake, compared by identity, counted, shown safely.

One place for every rule about characters, so that the forms, the CSV imports, the cycle file
and the command line agree:

- ``clean_line`` and ``clean_text`` take what a person sent (a name, a title; a description,
  a proposal) and keep what a reader sees: NFC, no control characters, no terminal escape
  sequences, no bidirectional overrides; a single line stays on one line.
- ``line_problem`` says why a text is not a clean single line, for inputs that are refused
  rather than cleaned (the cycle file).
- ``title_key`` is the identity of a title: what looks the same is the same project.
- ``normalize_address`` is the one spelling of an e-mail address; ``looks_like_address``
  finds one even when disguised with look-alike characters (a fullwidth at sign).
- ``mixed_scripts`` says whether a word mixes alphabets the way look-alike spoofs do
  ("example" with a Cyrillic U+0430 for its "a"), for addresses.
- ``word_count`` counts words as a reader would.
- ``printable`` makes any stored text safe to print on a terminal, on one line.

Nothing here needs the database or the settings: these are plain functions of ``str``.
"""

from __future__ import annotations

import re
import unicodedata

# Bidirectional embeddings, overrides and isolates (LRE, RLE, PDF, LRO, RLO, LRI, RLI, FSI,
# PDI): they reorder what is displayed ("Trojan Source"). The marks LRM, RLM and ALM are
# kept: Arabic text needs them and they reorder nothing.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")

# Terminal escape sequences are removed whole, so that "\x1b[2J" leaves nothing behind (not
# "[2J"). String sequences (OSC, DCS...) only with their terminator: an unterminated one is
# not allowed to swallow the rest of a text; its ESC goes with the other controls.
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: cursor moves, colours, "clear screen"
    r"|\x9b[0-?]*[ -/]*[@-~]"  # the same, as a C1 control
    r"|(?:\x1b[\]PX^_]|[\x9d\x90\x98\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)"  # OSC...
    r"|\x1b[ -/]*[0-~]"  # two-character escapes (ESC c, ESC 7, ESC ( B)
)

_C0_C1 = [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)]
# Line breaks in all their spellings; in a single line they become spaces.
_BREAKS = "\n\r\v\f\x1c\x1d\x1e\x1f\x85\u2028\u2029"

_LINE_TABLE: dict[int, str | None] = {c: None for c in _C0_C1}
_LINE_TABLE.update({ord(c): " " for c in "\t" + _BREAKS})
_LINE_TABLE.update({ord(c): None for c in BIDI_CONTROLS})

_TEXT_TABLE: dict[int, str | None] = {c: None for c in _C0_C1}
_TEXT_TABLE.update({ord(c): "\n" for c in _BREAKS.replace("\r", "")})
_TEXT_TABLE.update({ord("\t"): "\t", ord("\r"): None})
_TEXT_TABLE.update({ord(c): None for c in BIDI_CONTROLS})


def clean_line(text: str) -> str:
    """A single line as a reader sees it: NFC; terminal escape sequences, C0/C1 control
    characters and bidirectional overrides removed; line breaks and tabs become spaces;
    runs of white space collapse to one space; no space at either end."""
    text = _ESCAPES.sub("", unicodedata.normalize("NFC", text))
    return " ".join(text.translate(_LINE_TABLE).split())


def clean_text(text: str) -> str:
    """Multi-line text (a description, a proposal) as a reader sees it: NFC; line breaks
    become ``\\n`` (CR LF, CR, U+2028... included) and tabs stay; terminal escape sequences,
    every other C0/C1 control character and bidirectional overrides are removed; no white
    space at either end."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    return _ESCAPES.sub("", text).translate(_TEXT_TABLE).strip()


def line_problem(text: str) -> str | None:
    """Why ``text`` is not a clean single line (a line break, a control character, a
    bidirectional override), or None if it is one."""
    for ch in text:
        if ch in _BREAKS:
            return "must be a single line (it contains a line break)"
        if ch in BIDI_CONTROLS:
            return f"contains the bidirectional override U+{ord(ch):04X}"
        if unicodedata.category(ch) == "Cc":
            return f"contains the control character U+{ord(ch):04X}"
    return None


# Hangul fillers: letters to Unicode, blank on screen.
_FILLERS = frozenset("\u115f\u1160\u3164\uffa0")
MAX_MARKS = 4  # combining marks on one character (Indic and Vietnamese need up to 3 or 4)


def visible_problem(text: str) -> str | None:
    """Why ``text`` would not show as text (no visible letter or digit, a pile of combining
    marks over its neighbours, a replacement character), or None."""
    if "\ufffd" in text:
        return "contains the replacement character U+FFFD (the text was garbled)"
    run = 0
    for ch in text:
        if unicodedata.category(ch).startswith("M"):
            run += 1
            if run > MAX_MARKS:
                return f"has more than {MAX_MARKS} accents or marks on one character"
        else:
            run = 0
    if not any(unicodedata.category(ch)[0] in "LN" and ch not in _FILLERS for ch in text):
        return "has no visible letter or digit"
    return None


_NAME_PUNCTUATION = frozenset(" .,'\u2019\u2018-\u2010\u2011\u2013()\u00b7\u30fb")


def name_problem(text: str) -> str | None:
    """Why ``text`` is not a person's name: letters, accents and marks, spaces and a few
    punctuation marks (. , ' - ( ) ·) only, so that nobody's name carries a link, an address
    or a message into an e-mail."""
    for ch in text:
        if unicodedata.category(ch)[0] not in "LM" and ch not in _NAME_PUNCTUATION:
            return f"may contain letters, spaces and . , ' - ( ) only (not {ch!r})"
    return visible_problem(text)


def title_key(title: str) -> str:
    """The identity of a title: "Café" (NFC or NFD), "CAFÉ", "Ｃａｆé" and "café " are one.

    The title as cleaned by ``clean_line``, NFKC (width and compatibility forms folded),
    case-folded, without invisible format characters (zero-width spaces...), white space
    collapsed. Duplicates and earlier winners are recognised by this key.
    """
    text = unicodedata.normalize("NFKC", clean_line(title))
    text = unicodedata.normalize("NFKC", text.casefold())
    return " ".join("".join(ch for ch in text if unicodedata.category(ch) != "Cf").split())


def normalize_address(address: str) -> str:
    """One spelling of an e-mail address: NFC (RFC 6532), no surrounding white space, the
    domain lower-cased. The local part keeps its case: only its owner's server may fold it."""
    text = unicodedata.normalize("NFC", address).strip()
    local, at, domain = text.rpartition("@")
    return f"{local}@{domain.lower()}" if at else text


# After NFKC, which folds the fullwidth at sign (U+FF20) and the small one (U+FE6B) into "@",
# an address is a local part, an at sign and a domain; with the at sign spelled out ("(at)",
# "[at]", " at "), the domain must be dotted ("." or "(dot)") to read as an address rather
# than as prose.
_LABEL = r"[^\W_](?:[\w-]*[^\W_])?"
_DOT = r"(?:\s*\.\s*|\s*[(\[{<]\s*dot\s*[)\]}>]\s*|\s+dot\s+)"
_WORDY_AT = r"(?:\s*[(\[{<]\s*at\s*[)\]}>]\s*|\s+at\s+)"
_ADDRESS = re.compile(
    rf"[\w.!#$%&'*+/=?^`{{|}}~-]+(?:\s*@\s*{_LABEL}|{_WORDY_AT}{_LABEL}(?:{_DOT}{_LABEL})+)",
    re.IGNORECASE,
)


def looks_like_address(text: str) -> bool:
    """Whether ``text`` contains something that reads as an e-mail address, even written
    with look-alikes: a fullwidth at sign (U+FF20), "name (at) example (dot) org",
    zero-width characters slipped in. For keeping addresses out of places that must not
    hold them (workflow history, a name field); it errs on the side of finding one."""
    text = unicodedata.normalize("NFKC", text)
    text = "".join(ch for ch in text if unicodedata.category(ch) not in ("Cf", "Cc"))
    return _ADDRESS.search(text) is not None


# Scripts that a word may combine (Unicode's "highly restrictive" profile, UTS #39): Japanese,
# Chinese and Korean writing mix with each other and with Latin; no other mix is allowed.
_MIXABLE = (
    frozenset({"LATIN", "CJK", "HIRAGANA", "KATAKANA"}),
    frozenset({"LATIN", "CJK", "BOPOMOFO"}),
    frozenset({"LATIN", "CJK", "HANGUL"}),
)


def _script(ch: str) -> str:
    """A letter's script, from its Unicode name (LATIN, CYRILLIC, GREEK, CJK...)."""
    words = unicodedata.name(ch, "").split()
    if words[:1] in (["FULLWIDTH"], ["HALFWIDTH"]):
        words = words[1:]
    return words[0] if words else "UNKNOWN"


def mixed_scripts(word: str) -> bool:
    """Whether ``word`` (a local part, a domain label) mixes scripts that no language mixes:
    the shape of a look-alike address ("paypal" with a Cyrillic U+0430 for an "a"). Digits,
    hyphens and marks belong to no script here."""
    # Modifier letters (Lm: the Japanese long-vowel mark) are shared between scripts.
    scripts = {_script(ch) for ch in word if unicodedata.category(ch) in ("Lu", "Ll", "Lt", "Lo")}
    return len(scripts) > 1 and not any(scripts <= allowed for allowed in _MIXABLE)


def _is_ideograph(code: int) -> bool:
    return (
        0x3400 <= code <= 0x4DBF  # CJK Unified Ideographs Extension A
        or 0x4E00 <= code <= 0x9FFF  # CJK Unified Ideographs
        or 0xF900 <= code <= 0xFAFF  # CJK Compatibility Ideographs
        or 0x20000 <= code <= 0x323AF  # Extensions B to H, compatibility supplement
        or code in (0x3005, 0x3007)  # the iteration mark and the ideographic zero
    )


def word_count(text: str) -> int:
    """Words as a reader counts them.

    White space, control characters and format characters (Unicode category Cf: zero-width
    spaces and joiners...) separate words and are not words themselves, so words glued by
    invisible characters still count one each. A token made only of punctuation or symbols
    ("-", "...", "→") is not a word. Each CJK ideograph counts as one word (Chinese and
    Japanese are written without spaces).
    """
    words = 0
    pending = False  # the current token has a letter or digit not yet counted
    for ch in text:
        category = unicodedata.category(ch)
        if _is_ideograph(ord(ch)):
            words += 1 + int(pending)
            pending = False
        elif ch.isspace() or category in ("Cc", "Cf", "Zs", "Zl", "Zp"):
            words += int(pending)
            pending = False
        elif category[0] in "LN":
            pending = True
    return words + int(pending)


def _escape(ch: str) -> str:
    code = ord(ch)
    if ch in "\n\t\r":
        return {"\n": "\\n", "\t": "\\t", "\r": "\\r"}[ch]
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def printable(text: str) -> str:
    """``text`` safe to print on a terminal, on one line: control characters (line breaks
    included), bidirectional overrides, line and paragraph separators and lone surrogates
    (undecodable bytes) are shown as escapes (``\\x1b``, ``\\u202e``); the rest as it is."""
    return "".join(
        _escape(ch)
        if ch in BIDI_CONTROLS or unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp")
        else ch
        for ch in text
    )
