"""Temporal workflows: they own time and phase state, and do no I/O of their own."""
