"""The field types every intake form shares: cleaned text within a length, e-mail addresses.

Whatever a form or a CSV line carries, a field is cleaned the same way (``models.text``): a
single line loses its control characters, escape sequences and bidirectional overrides and
stays on one line; long text keeps its line breaks and tabs only. Each field has a length
limit, and a refusal says what the limit is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BeforeValidator, ValidationError, ValidationInfo

from core import countries
from core.settings import get_settings
from models.text import (
    clean_line,
    clean_text,
    looks_like_address,
    mixed_scripts,
    name_problem,
    normalize_address,
    visible_problem,
)

NAME_LIMIT = 200
TITLE_LIMIT = 200
ORGANIZATION_LIMIT = 300
COUNTRY_LIMIT = 100
CODE_LIMIT = 100  # a category code
TELEPHONE_LIMIT = 50
TEXT_LIMIT = 50_000  # a description, a proposal (word limits come on top)
REASON_LIMIT = 2_000
ADDRESS_LIMIT = 320  # RFC 3696; email_validator then applies the exact rules


def _cleaned(clean: Callable[[str], str]) -> Callable[[Any], Any]:
    def before(value: Any) -> Any:
        return clean(value) if isinstance(value, str) else value

    return before


def _within(limit: int, *, required: bool) -> Callable[[str], str]:
    def after(value: str) -> str:
        if required and not value:
            raise ValueError("is required (it is empty)")
        if len(value) > limit:
            raise ValueError(f"at most {limit:,} characters (this one has {len(value):,})")
        return value

    return after


def _not_an_address(value: str) -> str:
    if looks_like_address(value):
        raise ValueError("looks like an e-mail address; give the person's name")
    return value


def _visible(value: str) -> str:
    problem = visible_problem(value) if value else None
    if problem:
        raise ValueError(problem)
    return value


def _person(value: str) -> str:
    problem = name_problem(value)
    if problem:
        raise ValueError(problem)
    return value


_line = BeforeValidator(_cleaned(clean_line))
_text = BeforeValidator(_cleaned(clean_text))

# Single lines.
Name = Annotated[
    str, _line, AfterValidator(_within(NAME_LIMIT, required=True)),
    AfterValidator(_not_an_address), AfterValidator(_visible),
]  # fmt: skip
# A name typed on the portal, that e-mails may greet: letters and a little punctuation only.
PersonName = Annotated[Name, AfterValidator(_person)]
Title = Annotated[
    str, _line, AfterValidator(_within(TITLE_LIMIT, required=True)), AfterValidator(_visible)
]
Organization = Annotated[str, _line, AfterValidator(_within(ORGANIZATION_LIMIT, required=False))]
RequiredOrganization = Annotated[
    str, _line, AfterValidator(_within(ORGANIZATION_LIMIT, required=True))
]
# A country: its ISO 3166 code when the text names one in any of the seven languages (the
# portal's select sends the code itself); other text is kept as typed (core/countries.py).
_country = AfterValidator(lambda v: countries.code_for(v) or v)
Country = Annotated[str, _line, AfterValidator(_within(COUNTRY_LIMIT, required=True)), _country]
OptionalCountry = Annotated[
    str, _line, AfterValidator(_within(COUNTRY_LIMIT, required=False)), _country
]
Code = Annotated[str, _line, AfterValidator(_within(CODE_LIMIT, required=True))]
Telephone = Annotated[str, _line, AfterValidator(_within(TELEPHONE_LIMIT, required=False))]
# Long text: line breaks and tabs kept.
LongText = Annotated[str, _text, AfterValidator(_within(TEXT_LIMIT, required=True))]
Reason = Annotated[str, _text, AfterValidator(_within(REASON_LIMIT, required=True))]

# Kept for the forms written against the first field types.
RequiredText = Annotated[str, _text, AfterValidator(_within(TEXT_LIMIT, required=True))]


def _shown(value: str) -> str:
    return repr(value if len(value) <= 80 else value[:80] + "...")


def normalize_email(value: str, *, smtp_utf8: bool | None = None) -> str:
    """The registry's spelling of an address: validated, ``normalize_address``d, lower-cased
    (people are recognised whatever the case they type). ``ValueError`` with the reason
    otherwise, and for a non-ASCII address when the relay lacks SMTPUTF8 (``smtp_utf8``,
    by default the ``WSIS_SMTP_UTF8`` setting)."""
    text = normalize_address(value)
    if len(text) > ADDRESS_LIMIT:
        raise ValueError(f"an e-mail address has at most {ADDRESS_LIMIT} characters")
    utf8 = get_settings().smtp_utf8 if smtp_utf8 is None else smtp_utf8
    if not utf8 and not text.isascii():
        raise ValueError(
            f"{_shown(text)} is not an ASCII address, and the mail relay does not support "
            f"internationalised addresses (SMTPUTF8; WSIS_SMTP_UTF8=false)"
        )
    try:
        checked = validate_email(text, check_deliverability=False, allow_smtputf8=utf8)
    except EmailNotValidError as exc:
        raise ValueError(f"invalid e-mail address {_shown(text)}: {exc}") from None
    parts = [checked.local_part, *checked.domain.split(".")]
    if any(mixed_scripts(part) for part in parts):
        raise ValueError(
            f"{_shown(text)} mixes alphabets in one word (a look-alike of another address?); "
            f"write it in one alphabet"
        )
    return normalize_address(checked.normalized).lower()


def _email(value: str, info: ValidationInfo) -> str:
    context = info.context if isinstance(info.context, dict) else {}
    return normalize_email(value, smtp_utf8=context.get("smtp_utf8"))


EmailAddress = Annotated[str, AfterValidator(_email)]


def reasons(exc: ValidationError, labels: Mapping[str, str] | None = None) -> str:
    """A form's refusal on one line: ``field: why; field: why``, in the validators' words;
    ``labels`` names a field as its reader knows it (the CLI's ``--to`` for ``new``)."""
    parts = []
    for e in exc.errors():
        where = ".".join(str(x) for x in e["loc"])
        where = (labels or {}).get(where, where)
        why = str(e["ctx"]["error"]) if "error" in e.get("ctx", {}) else e["msg"]
        parts.append(f"{where}: {why}" if where else why)
    return "; ".join(parts)
