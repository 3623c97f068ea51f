"""Workflow ids, built in one place: what operators type in the Web UI and the CLI.

``wsis-2017`` is the annual cycle, ``wsis-2017-ocp`` its consultation, ``wsis-2017-prizes`` the
WSIS Prizes and ``wsis-2017-prize-<slug>`` any other contest. Ids are never encrypted and are
kept for years: they carry no personal data.
"""

from __future__ import annotations

PRIZES_SLUG = "prizes"
# The largest id a database column holds (BIGINT): a larger "project id" names no project
# and must not reach the driver, which cannot even bind it.
MAX_ID = 2**63 - 1


def cycle_id(cycle: str | int) -> str:
    """``2017`` or ``"2017"`` -> ``wsis-2017``; an explicit id (``wsis-2024-demo``) stays."""
    text = str(cycle).strip()
    return f"wsis-{text}" if text.isdigit() else text


def process_suffix(slug: str) -> str:
    """``prizes`` for the WSIS Prizes, ``prize-<slug>`` for every other contest."""
    return PRIZES_SLUG if slug == PRIZES_SLUG else f"prize-{slug}"


def ocp_id(cycle: str | int) -> str:
    """The Open Consultation Process of ``cycle``."""
    return f"{cycle_id(cycle)}-ocp"


def contest_id(cycle: str | int, slug: str) -> str:
    """The contest ``slug`` of ``cycle``."""
    return f"{cycle_id(cycle)}-{process_suffix(slug)}"


def process_id(cycle: str | int, process: str) -> str:
    """``ocp``, ``prizes`` or a contest slug -> that process's workflow id."""
    return ocp_id(cycle) if process == "ocp" else contest_id(cycle, process)


def announcement_id(campaign_key: str) -> str:
    """An ad-hoc announcement: one workflow per campaign key."""
    return f"announcement-{campaign_key}"
