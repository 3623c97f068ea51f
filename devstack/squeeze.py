"""A real cycle file squeezed for the demo, unevenly: the two stretches where a person acts
(the OCP's submission window, and public online voting) last ``act`` each; the stretches in
between pass quickly. The map from the file's calendar to the demo's is piecewise linear and
increasing, so every date keeps its order and the cycle stays valid; durations (reminders
before a deadline) shrink at the rate of the windows they fall in, the slower one.
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import UTC, datetime, timedelta
from itertools import pairwise

from models.cycle import CycleConfig
from models.moves import first_instant, map_times

BETWEEN = timedelta(seconds=20)  # from the OCP's deadline to the opening of voting
AFTER = timedelta(seconds=60)  # from the close of voting to the last date of the cycle


def instants(config: CycleConfig) -> list[datetime]:
    """Every date of the cycle (read by mapping each to itself)."""
    found: list[datetime] = []

    def keep(t: datetime) -> datetime:
        found.append(t)
        return t

    map_times(config, keep, lambda d: d)
    return found


def squeezed(config: CycleConfig, start: datetime, act: timedelta) -> CycleConfig:
    """``config`` beginning at ``start``: its OCP window and its voting last ``act`` each."""
    origin = first_instant(config)
    deadline = config.ocp.submission_deadline
    votes_open = min(c.voting_opens for c in config.contests)
    votes_close = max(c.voting_closes for c in config.contests)
    end = max(instants(config))
    if not origin < deadline <= votes_open < votes_close <= end:
        raise ValueError("the demo needs the OCP's deadline before public online voting")
    knots = [  # (a date in the file, how long after ``start`` it comes in the demo)
        (origin, timedelta(0)),
        (deadline, act),
        (votes_open, act + BETWEEN),
        (votes_close, act + BETWEEN + act),
        (end, act + BETWEEN + act + AFTER),
    ]
    slow = min((b[0] - a[0]) / (b[1] - a[1]) for a, b in pairwise(knots))

    def on_instant(t: datetime) -> datetime:
        return (start + _piecewise(knots, t)).astimezone(UTC)

    def on_span(d: timedelta) -> timedelta:
        return d / slow

    return map_times(config, on_instant, on_span)


def _piecewise(knots: list[tuple[datetime, timedelta]], t: datetime) -> timedelta:
    dates = [k[0] for k in knots]
    i = min(max(bisect_right(dates, t) - 1, 0), len(knots) - 2)
    (a, at), (b, bt) = knots[i], knots[i + 1]
    return at + (t - a) * ((bt - at) / (b - a))
