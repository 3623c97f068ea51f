"""How an operation refuses: one line that says why, and whether the input was invalid."""

from __future__ import annotations

REFUSED = 1  # refused by a rule, or failed (the Temporal server unreachable)
INVALID = 2  # invalid input


class Refused(Exception):
    """An operation refused, with the one line a person reads and the CLI's exit status."""

    def __init__(self, message: str, status: int = REFUSED) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
