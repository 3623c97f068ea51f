"""Header lines: injection-proof, folded to 78 characters where their content allows.

Header values are reduced to one line without control characters first, so a name or a
subject with CR/LF can never start a header of its own. Words that cannot stay as they are
(non-ASCII, too long to fold at spaces) become RFC 2047 encoded-words, which decode to the
exact value; an address or a URL is never split, and no line exceeds 998 octets.
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Callable
from email.utils import formatdate

_LINE_BREAKS = re.compile(r"[\r\n\x0b\x0c\x85\u2028\u2029]+")
# Everything that has no place in a header value: C0 controls (CR, LF, TAB...), DEL, and the
# Unicode line and paragraph separators.
_CONTROLS = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]+")


def one_line(text: str) -> str:
    """Collapse line breaks so a value can never start a new header (header injection)."""
    return _LINE_BREAKS.sub(" ", text).strip()


def header_value(text: str) -> str:
    """``text`` as one header-safe line: control characters (CR and LF first) become spaces."""
    return _CONTROLS.sub(" ", text).strip()


_MAX_LINE = 78  # RFC 5322: lines SHOULD be at most 78 characters (and MUST be at most 998)
_MAX_WORD = _MAX_LINE - 1  # the longest word that fits a line after its folding space
_WORD_BYTES = 42  # UTF-8 bytes per encoded-word: "=?utf-8?b?" + 56 + "?=" stays under 75


def _encoded(text: str) -> list[str]:
    """``text`` as RFC 2047 ``B`` encoded-words, split on character boundaries."""
    data = text.encode("utf-8")
    words = []
    i = 0
    while i < len(data):
        j = min(i + _WORD_BYTES, len(data))
        while j < len(data) and (data[j] & 0xC0) == 0x80:  # never split a UTF-8 sequence
            j -= 1
        words.append(f"=?utf-8?b?{base64.b64encode(data[i:j]).decode('ascii')}?=")
        i = j
    return words


def encoded_words(text: str) -> str:
    """``text`` as RFC 2047 ``B`` encoded-words, split on character boundaries and folded."""
    return "\r\n ".join(_encoded(text))


def _fold_tokens(name: str, tokens: list[str]) -> str:
    """``Name: token token ...``, folded between tokens so that lines are at most 78
    characters wherever the tokens allow. The first token stays on the first line (parsers
    keep the space of a fold right after the colon in the value); a token too long for a line
    gets one of its own. Tokens are never longer than 998."""
    line = f"{name}:"
    head = line
    lines: list[str] = []
    for token in tokens:
        if len(line) + 1 + len(token) <= _MAX_LINE or line == head:
            line += " " + token
        else:
            lines.append(line)
            line = " " + token
    lines.append(line)
    return "\r\n".join(lines)


def fold(name: str, value: str) -> str:
    """``Name: value`` folded at spaces to lines of at most 78 characters where possible."""
    line = f"{name}: {value}"
    if len(line) <= _MAX_LINE:
        return line
    return _fold_tokens(name, value.split(" "))


def _plain(word: str) -> bool:
    """Whether a word can stand in a header as it is: ASCII, not like an encoded-word, and
    short enough for a line (a longer one is encoded: encoded-words can be split anywhere)."""
    return word.isascii() and "=?" not in word and len(word) <= _MAX_WORD


def unstructured_header(name: str, value: str) -> str:
    """A Subject-like header (no trailing CRLF), injection-proof, every line at most 78
    characters: words that cannot stay as they are (non-ASCII, too long to fold) become
    encoded-words, runs of them together so that decoders give the spaces back."""
    value = header_value(value)
    words = value.split(" ")
    first_room = _MAX_LINE - len(name) - 2  # what fits after "Name: "
    if len(words[0]) <= first_room and all(_plain(word) for word in words):
        return fold(name, value)
    tokens = _runs(words, lambda i, word: _plain(word) and bool(i or len(word) <= first_room))
    return _fold_tokens(name, tokens)


def _runs(words: list[str], stays: Callable[[int, str], bool]) -> list[str]:
    """Header tokens: each word that ``stays`` (by position and text) as it is, each run of
    the others as encoded-words of the run, so that decoders give its spaces back."""
    tokens: list[str] = []
    run: list[str] = []
    for i, word in enumerate(words):
        if stays(i, word):
            if run:
                tokens += _encoded(" ".join(run))
                run = []
            tokens.append(word)
        else:
            run.append(word)
    if run:
        tokens += _encoded(" ".join(run))
    return tokens


# Words of a display name that may stay as they are (RFC 5322 atoms, never "=?").
_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+\-/?^_`{|}~]+")
# Display names with any of these are quoted (as ``email.utils.formataddr`` does).
_SPECIALS = re.compile(r'[][\\()<>@,:;".]')
_ESCAPES = re.compile(r'[\\"]')


def _phrase(display_name: str) -> list[str]:
    """A display name as header tokens: plain atoms stay, runs of other words (non-ASCII,
    specials, too long for a line) become encoded-words (as the ``email`` package itself
    does), so every RFC 2047 decoder gives the name back with its spaces."""
    return _runs(
        display_name.split(" "), lambda _, word: bool(_ATOM.fullmatch(word)) and _plain(word)
    )


def address_header(name: str, display_name: str, addr: str) -> str:
    """``To: Display Name <addr>``: the name quoted or encoded, never able to break the line.

    ``addr`` may be non-ASCII (an internationalised address, RFC 6532): it is written as it is,
    in UTF-8, and such a message must go out with SMTPUTF8."""
    display_name = " ".join(header_value(display_name).split())
    addr = header_value(addr)
    if not display_name:
        return fold(name, addr)
    fits = len(display_name) < _MAX_WORD - 1 or all(
        len(word) < _MAX_WORD - 1 for word in display_name.split()
    )  # a quoted word too long for a line is encoded instead
    if display_name.isascii() and fits:
        if _SPECIALS.search(display_name):
            display_name = '"' + _ESCAPES.sub(r"\\\g<0>", display_name) + '"'
        return fold(name, f"{display_name} <{addr}>")
    return _fold_tokens(name, [*_phrase(display_name), f"<{addr}>"])


class DateHeader:
    """``Date:`` in RFC 5322 form, formatted once per second."""

    def __init__(self) -> None:
        self._second = -1
        self._line = ""

    def __call__(self) -> str:
        now = int(time.time())
        if now != self._second:
            self._second = now
            self._line = f"Date: {formatdate(now, localtime=True)}"
        return self._line


date_header = DateHeader()
