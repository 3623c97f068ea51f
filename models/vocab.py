"""The domain's closed vocabularies: stakeholder types and platform languages."""

from __future__ import annotations

from enum import StrEnum


class StakeholderType(StrEnum):
    """Stakeholder types used in WSIS reporting."""

    GOVERNMENT = "Government"
    PRIVATE_SECTOR = "Private Sector"
    CIVIL_SOCIETY = "Civil Society"
    ACADEMIA = "Academia"
    TECHNICAL_COMMUNITY = "Technical Community"
    INTERNATIONAL_ORGANIZATION = "International Organization"
    OTHER = "Other"

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
