"""The domain's closed vocabularies: stakeholder types and platform languages."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum


def N_(term: str) -> str:
    """Marks a term for the ``vocab`` catalog (``devstack/catalogs.py``) without translating
    it here: it is translated where it is shown, in the reader's language."""
    return term


class Localized(str):
    """A term the cycle file names in other languages too (a contest's own category): its
    English text wherever it is used as text (lists, exports, the console), and the reader's
    version where a page or a message shows it through the ``vocab`` filter, which gives the
    catalog's translation to every term that has no version of its own."""

    versions: Mapping[str, str]

    def __new__(cls, text: str, versions: Mapping[str, str]) -> Localized:
        term = super().__new__(cls, text)
        term.versions = dict(versions)
        return term

    def __reduce__(self) -> tuple[type[Localized], tuple[str, dict[str, str]]]:
        # Copied and pickled with its versions (str's own reduction would drop them).
        return (Localized, (str(self), dict(self.versions)))


class StakeholderType(StrEnum):
    """Stakeholder types used in WSIS reporting."""

    GOVERNMENT = N_("Government")
    PRIVATE_SECTOR = N_("Private Sector")
    CIVIL_SOCIETY = N_("Civil Society")
    ACADEMIA = N_("Academia")
    TECHNICAL_COMMUNITY = N_("Technical Community")
    INTERNATIONAL_ORGANIZATION = N_("International Organization")
    OTHER = N_("Other")

    @classmethod
    def parse(cls, text: str) -> StakeholderType:
        """Accept the canonical name in any case, or a common alias ("business")."""
        key = " ".join(text.strip().replace("_", " ").replace("-", " ").split()).casefold()
        aliases = {
            "business": cls.PRIVATE_SECTOR,
            "private": cls.PRIVATE_SECTOR,
            "international organisation": cls.INTERNATIONAL_ORGANIZATION,
            "technical": cls.TECHNICAL_COMMUNITY,
        }
        for member in cls:
            if member.value.casefold() == key:
                return member
        if key in aliases:
            return aliases[key]
        allowed = ", ".join(m.value for m in cls)
        shown = text if len(text) <= 60 else text[:60] + "..."
        raise ValueError(f"unknown stakeholder type {shown!r} (one of: {allowed})")


class Language(StrEnum):
    """The seven languages of the WSIS community platform (ISO 639-1)."""

    EN = "en"
    FR = "fr"
    PT = "pt"
    ES = "es"
    ZH = "zh"
    AR = "ar"
    RU = "ru"

    @property
    def right_to_left(self) -> bool:
        return self is Language.AR
