"""The secretariat's operations, written once: the CLI (``cli/``) and the staff console
(``portal/staff/``) are thin fronts over them.

One module per concern: ``temporal`` (the one place a Temporal client is made), ``database``
(sessions on a schema that is known to be current), ``calendar`` (every dated action of a
cycle file), ``cycles`` (check, start with its preview, status), ``changes`` (deadline,
meeting, ceremony, Forum, cancel: internal reason apart from the public notice),
``next_cycle`` (next year's file from this year's), ``staff`` and ``audit``. A refusal is a
``Refused`` with one line that says why; the fronts print or show it.
"""
