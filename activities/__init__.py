"""Temporal activities: the engine's only I/O (database writes, SMTP, reports)."""
