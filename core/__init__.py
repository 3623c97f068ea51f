"""Plumbing shared by every part of the engine: settings, database, logging."""
