"""Custom search attributes: what an operator filters on in the Web UI or the CLI.

``temporal workflow list --query "WsisPhase='public-voting'"`` answers "which processes are in
public voting?". Registered by ``make demo`` (``--search-attribute`` on the dev server), by the
tests, and in the compose stack by ``temporal operator search-attribute create``.
Never put personal data here: search attributes are not encrypted.
"""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

WSIS_YEAR = SearchAttributeKey.for_int("WsisYear")
WSIS_PROCESS = SearchAttributeKey.for_keyword("WsisProcess")
WSIS_PHASE = SearchAttributeKey.for_keyword("WsisPhase")
WSIS_NEXT_DEADLINE = SearchAttributeKey.for_datetime("WsisNextDeadline")

ALL_KEYS = (WSIS_YEAR, WSIS_PROCESS, WSIS_PHASE, WSIS_NEXT_DEADLINE)

# As the Temporal CLI spells the types: `--search-attribute WsisYear=Int`.
CLI_TYPES = {
    WSIS_YEAR.name: "Int",
    WSIS_PROCESS.name: "Keyword",
    WSIS_PHASE.name: "Keyword",
    WSIS_NEXT_DEADLINE.name: "Datetime",
}
